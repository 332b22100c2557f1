//! The API objects of one database read into observations: pods, StatefulSets and baton's Jobs
//! (trimmed to what the plans look at).

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;

use super::REPLICAS_ANNOTATION;
use crate::ops::observe::{JobObs, PodObs, StsObs};

pub(super) fn pod_obs(p: &Pod) -> PodObs {
    let status = p.status.as_ref();
    PodObs {
        name: p.metadata.name.clone().unwrap_or_default(),
        uid: p.metadata.uid.clone().unwrap_or_default(),
        ready: status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True")),
        phase: status.and_then(|s| s.phase.clone()).unwrap_or_default(),
        deleting: p.metadata.deletion_timestamp.is_some(),
        ip: status.and_then(|s| s.pod_ip.clone()).unwrap_or_default(),
        owner: p
            .metadata
            .owner_references
            .as_ref()
            .and_then(|o| o.iter().find(|o| o.kind == "StatefulSet"))
            .map(|o| o.name.clone()),
        revision: p
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("controller-revision-hash"))
            .cloned()
            .unwrap_or_default(),
        image: p
            .spec
            .as_ref()
            .and_then(|s| s.containers.first())
            .and_then(|c| c.image.clone())
            .unwrap_or_default(),
        memory: p
            .spec
            .as_ref()
            .and_then(|s| s.containers.first())
            .and_then(|c| memory_of(c.resources.as_ref())),
        claims: p
            .spec
            .as_ref()
            .and_then(|s| s.volumes.as_ref())
            .map(|vs| {
                vs.iter()
                    .filter_map(|v| v.persistent_volume_claim.as_ref())
                    .map(|c| c.claim_name.clone())
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// A container's memory limit, else its request.
fn memory_of(r: Option<&k8s_openapi::api::core::v1::ResourceRequirements>) -> Option<String> {
    let get = |m: Option<
        &std::collections::BTreeMap<
            String,
            k8s_openapi::apimachinery::pkg::api::resource::Quantity,
        >,
    >| { m.and_then(|m| m.get("memory")).map(|q| q.0.clone()) };
    r.and_then(|r| get(r.limits.as_ref()).or_else(|| get(r.requests.as_ref())))
}

pub(super) fn sts_obs(s: &StatefulSet) -> StsObs {
    let container = s
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.first());
    let memory = container.and_then(|c| memory_of(c.resources.as_ref()));
    StsObs {
        container: container.map(|c| c.name.clone()).unwrap_or_default(),
        image: container.and_then(|c| c.image.clone()).unwrap_or_default(),
        memory,
        update_revision: s
            .status
            .as_ref()
            .and_then(|s| s.update_revision.clone())
            .unwrap_or_default(),
        name: s.metadata.name.clone().unwrap_or_default(),
        replicas: s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
        ready_replicas: s
            .status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0),
        remembered_replicas: s
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(REPLICAS_ANNOTATION))
            .and_then(|v| v.parse().ok()),
    }
}

pub(super) fn job_obs(j: &Job) -> JobObs {
    let status = j.status.as_ref();
    let labels = j.metadata.labels.clone().unwrap_or_default();
    let cond = |t: &str| {
        status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == t && c.status == "True"))
    };
    let succeeded = cond("Complete") || status.and_then(|s| s.succeeded).unwrap_or(0) > 0;
    let failed = cond("Failed");
    JobObs {
        name: j.metadata.name.clone().unwrap_or_default(),
        operation: labels
            .get("baton.io/operation")
            .cloned()
            .unwrap_or_default(),
        active: !succeeded && !failed,
        succeeded,
        failed,
        artifact: j
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("baton.io/artifact"))
            .cloned(),
    }
}
