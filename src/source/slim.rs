//! The pod as the watches decode it: only the fields baton reads (`objects::trim_pod`), into a
//! k8s-openapi `Pod` so the trimming code is the one for full pods. A pod from an API server is
//! a few KiB of JSON (env, volumes, ports, probes, `managedFields`…); decoding all of it into
//! k8s-openapi's types allocated every field of 30 000 pods at start only to drop them, which
//! made the start slower and its peak larger. Unknown fields are skipped without allocating.

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::{
    Container, ContainerStatus, Pod, PodCondition, PodSpec, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde::{Deserialize, Deserializer};

/// A pod with only what baton reads of it (see the module's doc).
#[derive(Debug, Clone, Default)]
pub struct SlimPod(pub Pod);

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Meta {
    name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    resource_version: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    creation_timestamp: Option<Time>,
    deletion_timestamp: Option<Time>,
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

#[derive(Deserialize, Default)]
#[serde(default)]
struct Repr {
    metadata: Meta,
    spec: Option<Spec>,
    status: Option<Status>,
}

impl<'de> Deserialize<'de> for SlimPod {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Repr {
            metadata: m,
            spec,
            status,
        } = Repr::deserialize(d)?;
        Ok(SlimPod(Pod {
            metadata: ObjectMeta {
                name: m.name,
                namespace: m.namespace,
                uid: m.uid,
                resource_version: m.resource_version,
                labels: m.labels,
                creation_timestamp: m.creation_timestamp,
                deletion_timestamp: m.deletion_timestamp,
                ..ObjectMeta::default()
            },
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
        }))
    }
}

impl kube::Resource for SlimPod {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("Pod")
    }
    fn group(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("")
    }
    fn version(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("v1")
    }
    fn plural(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("pods")
    }
    fn meta(&self) -> &ObjectMeta {
        &self.0.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.0.metadata
    }
}

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

    #[test]
    fn a_pod_without_spec_or_status_is_still_a_pod() {
        let slim: SlimPod =
            serde_json::from_str(r#"{"metadata":{"name":"p","namespace":"n"}}"#).unwrap();
        assert_eq!(slim.0.metadata.name.as_deref(), Some("p"));
        assert!(serde_json::from_str::<SlimPod>(r#"{"metadata":{"name":7}}"#).is_err());
    }
}
