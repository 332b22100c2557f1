//! Pods and StatefulSets as the watches decode them: only the fields baton reads
//! (`objects::trim_pod`, `objects::statefulset`), into k8s-openapi's types so the trimming code
//! is the one for full objects. A pod from an API server is a few KiB of JSON (env, volumes,
//! ports, probes, `managedFields`…); decoding all of it into k8s-openapi's types allocated every
//! field of 30 000 pods and 10 000 StatefulSets at start only to drop them, which made the start
//! slower and its peak larger. Unknown fields are skipped without allocating.

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec, StatefulSetStatus};
use k8s_openapi::api::core::v1::{
    Container, ContainerStatus, Pod, PodCondition, PodSpec, PodStatus, PodTemplateSpec,
    ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde::{Deserialize, Deserializer};

/// A pod with only what baton reads of it (see the module's doc). Boxed: a k8s-openapi `Pod`
/// is ~2.5 KiB inline, and a list's `Vec` of them was copied whole at every growth.
#[derive(Debug, Clone, Default)]
pub struct SlimPod(pub Box<Pod>);

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Meta {
    name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    resource_version: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
    creation_timestamp: Option<Time>,
    deletion_timestamp: Option<Time>,
}

impl Meta {
    /// The metadata baton reads; annotations only where `annotations` (a pod's are not read).
    fn into_meta(self, annotations: bool) -> ObjectMeta {
        ObjectMeta {
            name: self.name,
            namespace: self.namespace,
            uid: self.uid,
            resource_version: self.resource_version,
            labels: self.labels,
            annotations: self.annotations.filter(|_| annotations),
            creation_timestamp: self.creation_timestamp,
            deletion_timestamp: self.deletion_timestamp,
            ..ObjectMeta::default()
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Spec {
    node_name: Option<String>,
    containers: Vec<SpecContainer>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SpecContainer {
    name: String,
    image: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Status {
    phase: Option<String>,
    #[serde(rename = "podIP")]
    pod_ip: Option<String>,
    conditions: Option<Vec<Condition>>,
    container_statuses: Option<Vec<Restarts>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Condition {
    #[serde(rename = "type")]
    type_: String,
    status: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Restarts {
    name: String,
    restart_count: i32,
}

/// An object's three parts, each decoded as the slim kind says.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Repr<S, T> {
    metadata: Meta,
    spec: Option<S>,
    status: Option<T>,
}

impl<'de> Deserialize<'de> for SlimPod {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Repr {
            metadata: m,
            spec,
            status,
        } = Repr::<Spec, Status>::deserialize(d)?;
        Ok(SlimPod(Box::new(Pod {
            metadata: m.into_meta(false),
            spec: spec.map(|s| PodSpec {
                node_name: s.node_name,
                containers: s
                    .containers
                    .into_iter()
                    .map(|c| Container {
                        name: c.name,
                        image: c.image,
                        ..Container::default()
                    })
                    .collect(),
                ..PodSpec::default()
            }),
            status: status.map(|s| PodStatus {
                phase: s.phase,
                pod_ip: s.pod_ip,
                conditions: s.conditions.map(|cs| {
                    cs.into_iter()
                        .map(|c| PodCondition {
                            type_: c.type_,
                            status: c.status,
                            ..PodCondition::default()
                        })
                        .collect()
                }),
                container_statuses: s.container_statuses.map(|cs| {
                    cs.into_iter()
                        .map(|c| ContainerStatus {
                            name: c.name,
                            restart_count: c.restart_count,
                            ..ContainerStatus::default()
                        })
                        .collect()
                }),
                ..PodStatus::default()
            }),
        })))
    }
}

/// A StatefulSet with only what baton reads of it (see the module's doc).
#[derive(Debug, Clone, Default)]
pub struct SlimStatefulSet(pub Box<StatefulSet>);

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct SetSpec {
    replicas: Option<i32>,
    template: SetTemplate,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SetTemplate {
    spec: Option<SetPodSpec>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SetPodSpec {
    containers: Vec<SetContainer>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SetContainer {
    name: String,
    image: Option<String>,
    resources: Option<Resources>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Resources {
    requests: Option<BTreeMap<String, Quantity>>,
    limits: Option<BTreeMap<String, Quantity>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct SetStatus {
    ready_replicas: Option<i32>,
    update_revision: Option<String>,
    current_revision: Option<String>,
}

impl<'de> Deserialize<'de> for SlimStatefulSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Repr {
            metadata,
            spec,
            status,
        } = Repr::<SetSpec, SetStatus>::deserialize(d)?;
        Ok(SlimStatefulSet(Box::new(StatefulSet {
            metadata: metadata.into_meta(true),
            spec: spec.map(|s| StatefulSetSpec {
                replicas: s.replicas,
                template: PodTemplateSpec {
                    spec: s.template.spec.map(|p| PodSpec {
                        containers: p
                            .containers
                            .into_iter()
                            .map(|c| Container {
                                name: c.name,
                                image: c.image,
                                resources: c.resources.map(|r| ResourceRequirements {
                                    requests: r.requests,
                                    limits: r.limits,
                                    ..ResourceRequirements::default()
                                }),
                                ..Container::default()
                            })
                            .collect(),
                        ..PodSpec::default()
                    }),
                    ..PodTemplateSpec::default()
                },
                ..StatefulSetSpec::default()
            }),
            status: status.map(|s| StatefulSetStatus {
                ready_replicas: s.ready_replicas,
                update_revision: s.update_revision,
                current_revision: s.current_revision,
                ..StatefulSetStatus::default()
            }),
        })))
    }
}

/// `kube::Resource` for a slim wrapper of a k8s-openapi object (a `Box` of it in `.0`), so
/// kube-runtime's watcher lists and watches it like the full type: kind, group, version and
/// plural are the full type's.
macro_rules! slim_resource {
    ($slim:ident, $full:ty) => {
        impl kube::Resource for $slim {
            type DynamicType = ();
            type Scope = <$full as k8s_openapi::Resource>::Scope;

            fn kind(_: &()) -> Cow<'_, str> {
                Cow::Borrowed(<$full as k8s_openapi::Resource>::KIND)
            }
            fn group(_: &()) -> Cow<'_, str> {
                Cow::Borrowed(<$full as k8s_openapi::Resource>::GROUP)
            }
            fn version(_: &()) -> Cow<'_, str> {
                Cow::Borrowed(<$full as k8s_openapi::Resource>::VERSION)
            }
            fn plural(_: &()) -> Cow<'_, str> {
                Cow::Borrowed(<$full as k8s_openapi::Resource>::URL_PATH_SEGMENT)
            }
            fn meta(&self) -> &ObjectMeta {
                &self.0.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.0.metadata
            }
        }
    };
}

slim_resource!(SlimPod, Pod);
slim_resource!(SlimStatefulSet, StatefulSet);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]
    use super::*;
    use crate::source::objects::trim_pod;

    /// A pod as an API server sends it, with what baton does not read.
    const POD: &str = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"creationTimestamp":"2026-11-30T17:00:48Z",
      "labels":{"app":"db-0","helm.neo4j.com/neo4j.name":"db-0"},"name":"db-0-1-0","namespace":"tenant-00",
      "managedFields":[{"manager":"kubelet","operation":"Update","fieldsV1":{"f:status":{}}}],
      "resourceVersion":"29","uid":"u-1"},
      "spec":{"containers":[{"env":[{"name":"A","value":"b"}],"image":"neo4j:5.26.0-enterprise","name":"neo4j",
      "ports":[{"containerPort":7474}]}],"nodeName":"node-a","volumes":[{"name":"data"}]},
      "status":{"conditions":[{"lastProbeTime":null,"status":"True","type":"Ready"}],
      "containerStatuses":[{"name":"neo4j","ready":true,"restartCount":3,"image":"x","imageID":""}],
      "phase":"Running","podIP":"10.0.0.7","podIPs":[{"ip":"10.0.0.7"}]}}"#;

    #[test]
    fn a_slim_pod_trims_as_the_full_pod_does() {
        let slim: SlimPod = serde_json::from_str(POD).unwrap();
        let full: Pod = serde_json::from_str(POD).unwrap();
        assert_eq!(trim_pod(&slim.0), trim_pod(&full));
        let trimmed = trim_pod(&slim.0);
        assert_eq!(
            (trimmed.restarts, trimmed.ip.as_str(), trimmed.ready),
            (3, "10.0.0.7", true)
        );
        assert_eq!(slim.0.metadata.resource_version.as_deref(), Some("29"));
        assert!(slim.0.metadata.managed_fields.is_none(), "not decoded");
    }

    /// A StatefulSet as an API server sends it, with what baton does not read.
    const SET: &str = r#"{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db-0-1",
      "namespace":"tenant-00","labels":{"helm.neo4j.com/neo4j.name":"db-0"},"resourceVersion":"7",
      "annotations":{"baton.io/op":"x","other":"y"},"managedFields":[{"manager":"helm"}]},
      "spec":{"replicas":1,"selector":{"matchLabels":{"app":"db-0"}},"serviceName":"db-0",
      "template":{"metadata":{"labels":{"app":"db-0"}},"spec":{"containers":[{"name":"neo4j",
      "image":"neo4j:5.26.0-enterprise","env":[{"name":"A","value":"b"}],
      "resources":{"requests":{"memory":"4Gi","cpu":"1"},"limits":{"memory":"4Gi"}}}]}},
      "volumeClaimTemplates":[{"metadata":{"name":"data"}}]},
      "status":{"replicas":1,"readyReplicas":1,"currentRevision":"db-0-1-a","updateRevision":"db-0-1-b"}}"#;

    #[test]
    fn a_slim_statefulset_trims_as_the_full_one_does() {
        let profile = crate::config::builtin_profile("neo4j").unwrap();
        let slim: SlimStatefulSet = serde_json::from_str(SET).unwrap();
        let full: StatefulSet = serde_json::from_str(SET).unwrap();
        let trimmed = crate::source::objects::statefulset(&slim.0, &profile);
        assert_eq!(
            trimmed,
            crate::source::objects::statefulset(&full, &profile)
        );
        let (_, info) = trimmed.unwrap();
        assert_eq!(info.memory_limit.as_deref(), Some("4Gi"));
        assert_eq!(info.update_revision.as_deref(), Some("db-0-1-b"));
        assert_eq!(info.annotations.len(), 1, "baton's annotations only");
    }

    #[test]
    fn a_pod_without_spec_or_status_is_still_a_pod() {
        let slim: SlimPod =
            serde_json::from_str(r#"{"metadata":{"name":"p","namespace":"n"}}"#).unwrap();
        assert_eq!(slim.0.metadata.name.as_deref(), Some("p"));
        assert!(serde_json::from_str::<SlimPod>(r#"{"metadata":{"name":7}}"#).is_err());
    }
}
