//! Kubernetes objects trimmed to the fleet's owned types, and the database each belongs to: pods
//! (by the profile's grouping label) and Events. A full Pod is ~10 KiB; what is kept is a few
//! hundred bytes.

use k8s_openapi::api::core::v1::{Event as KubeEvent, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::profiles::claims;
use crate::config::ProfileConfig;
use crate::fleet::{DbRef, EventLine, PodInfo};

fn ms(t: &k8s_openapi::jiff::Timestamp) -> Option<u64> {
    u64::try_from(t.as_millisecond()).ok()
}

fn count(n: Option<i32>) -> u32 {
    n.and_then(|n| u32::try_from(n).ok()).unwrap_or(0)
}

/// The database named by the first of `labels` present on the object.
fn db_by_label(meta: &ObjectMeta, labels: &[&str]) -> Option<DbRef> {
    let have = meta.labels.as_ref()?;
    let name = labels.iter().find_map(|l| have.get(*l))?;
    Some(DbRef {
        namespace: meta.namespace.clone()?,
        name: name.clone(),
    })
}

/// A pod of `profile`'s databases: its database and the trimmed pod (zone filled in later).
pub fn pod(p: &Pod, profile: &ProfileConfig) -> Option<(DbRef, PodInfo)> {
    let db = db_by_label(&p.metadata, &[&profile.grouping_label])?;
    let info = trim_pod(p);
    claims(profile, &info.image).then_some((db, info))
}

/// Trims a pod to what baton shows; the zone comes from its node, later.
pub fn trim_pod(p: &Pod) -> PodInfo {
    let status = p.status.as_ref();
    let spec = p.spec.as_ref();
    PodInfo {
        name: p.metadata.name.clone().unwrap_or_default(),
        ready: status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True")),
        phase: status.and_then(|s| s.phase.clone()).unwrap_or_default(),
        restarts: status
            .and_then(|s| s.container_statuses.as_ref())
            .map(|cs| cs.iter().map(|c| count(Some(c.restart_count))).sum())
            .unwrap_or(0),
        node: spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        zone: String::new(),
        ip: status.and_then(|s| s.pod_ip.clone()).unwrap_or_default(),
        image: spec
            .and_then(|s| s.containers.first())
            .and_then(|c| c.image.clone())
            .unwrap_or_default(),
        created_ms: p
            .metadata
            .creation_timestamp
            .as_ref()
            .and_then(|t| ms(&t.0)),
        terminating: p.metadata.deletion_timestamp.is_some(),
    }
}

/// One Kubernetes Event as a line: when (last seen, else first, else the event time, else
/// created), type, reason, `kind/name` of the object, message.
pub fn event_line(e: KubeEvent) -> EventLine {
    let at = e
        .last_timestamp
        .as_ref()
        .or(e.first_timestamp.as_ref())
        .map(|t| t.0)
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
        .and_then(|t| ms(&t))
        .unwrap_or(0);
    EventLine {
        at_ms: at,
        kind: e.type_.unwrap_or_default(),
        reason: e.reason.unwrap_or_default(),
        object: format!(
            "{}/{}",
            e.involved_object.kind.unwrap_or_default().to_lowercase(),
            e.involved_object.name.unwrap_or_default()
        ),
        message: crate::clip(&e.message.unwrap_or_default(), 200),
    }
}
