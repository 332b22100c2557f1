//! Kubernetes objects trimmed to the fleet's owned types, and the database each belongs to: pods
//! (by the profile's grouping label), StatefulSets (grouping label or `baton.io/database`),
//! baton's Jobs (`baton.io/database` or the Neo4j chart's label), operation Leases (by name,
//! `baton-op-<database>`), campaign records (ConfigMaps labelled `baton.io/campaign`), and
//! Events. A full Pod is ~10 KiB; what is kept is a few hundred bytes.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Event as KubeEvent, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::profiles::claims;
use crate::config::ProfileConfig;
use crate::fleet::{
    CampaignInfo, DbRef, EventLine, JobInfo, LeaseInfo, PodInfo, StatefulSetInfo, intern,
};

/// The label that names a database on the objects baton itself creates.
pub const DATABASE_LABEL: &str = "baton.io/database";
/// The Neo4j Helm charts' database label.
pub const NEO4J_LABEL: &str = "helm.neo4j.com/neo4j.name";
/// The operation Lease of database `<d>` is `baton-op-<d>`.
pub const OP_LEASE_PREFIX: &str = "baton-op-";
/// The selector of the Jobs baton starts.
pub const MANAGED_BY_BATON: &str = "app.kubernetes.io/managed-by=baton";

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
        phase: intern(status.and_then(|s| s.phase.as_deref()).unwrap_or_default()),
        restarts: status
            .and_then(|s| s.container_statuses.as_ref())
            .map(|cs| cs.iter().map(|c| count(Some(c.restart_count))).sum())
            .unwrap_or(0),
        node: intern(
            spec.and_then(|s| s.node_name.as_deref())
                .unwrap_or_default(),
        ),
        zone: intern(""),
        ip: status.and_then(|s| s.pod_ip.clone()).unwrap_or_default(),
        image: intern(
            spec.and_then(|s| s.containers.first())
                .and_then(|c| c.image.as_deref())
                .unwrap_or_default(),
        ),
        created_ms: p
            .metadata
            .creation_timestamp
            .as_ref()
            .and_then(|t| ms(&t.0)),
        terminating: p.metadata.deletion_timestamp.is_some(),
    }
}

fn memory(c: Option<&Container>, limits: bool) -> Option<Arc<str>> {
    let r = c?.resources.as_ref()?;
    let map = if limits { &r.limits } else { &r.requests };
    map.as_ref()?.get("memory").map(|q| intern(&q.0))
}

/// A StatefulSet of `profile`'s databases, trimmed, with its database.
pub fn statefulset(s: &StatefulSet, profile: &ProfileConfig) -> Option<(DbRef, StatefulSetInfo)> {
    let db = db_by_label(&s.metadata, &[&profile.grouping_label, DATABASE_LABEL])?;
    let container = s
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.first());
    let image = container.and_then(|c| c.image.clone()).unwrap_or_default();
    if !claims(profile, &image) {
        return None;
    }
    let status = s.status.as_ref();
    let update_revision: Option<Arc<str>> =
        status.and_then(|s| s.update_revision.as_deref().map(Arc::from));
    let info = StatefulSetInfo {
        name: s.metadata.name.clone()?,
        replicas: s
            .spec
            .as_ref()
            .and_then(|s| s.replicas)
            .map_or(1, |r| count(Some(r))),
        ready_replicas: count(status.and_then(|s| s.ready_replicas)),
        image: intern(&image),
        memory_request: memory(container, false),
        memory_limit: memory(container, true),
        update_revision: update_revision.clone(),
        // One copy when equal, as it is once a roll is done.
        current_revision: match status.and_then(|s| s.current_revision.as_deref()) {
            Some(c) if update_revision.as_deref() == Some(c) => update_revision,
            other => other.map(Arc::from),
        },
        annotations: s
            .metadata
            .annotations
            .iter()
            .flatten()
            .filter(|(k, _)| k.starts_with("baton.io/"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    Some((db, info))
}

/// A Job baton started, trimmed, with the database it works on.
pub fn job(j: &Job) -> Option<(DbRef, JobInfo)> {
    let db = db_by_label(&j.metadata, &[DATABASE_LABEL, NEO4J_LABEL])?;
    let status = j.status.as_ref();
    let info = JobInfo {
        name: j.metadata.name.clone()?,
        operation: j
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("baton.io/operation"))
            .cloned(),
        active: count(status.and_then(|s| s.active)),
        succeeded: count(status.and_then(|s| s.succeeded)),
        failed: count(status.and_then(|s| s.failed)),
        started_ms: status
            .and_then(|s| s.start_time.as_ref())
            .and_then(|t| ms(&t.0)),
        completed_ms: status
            .and_then(|s| s.completion_time.as_ref())
            .and_then(|t| ms(&t.0)),
    };
    Some((db, info))
}

/// An operation Lease (`baton-op-<database>`), trimmed, with its database; other Leases: None.
pub fn op_lease(l: &Lease) -> Option<(DbRef, LeaseInfo)> {
    let name = l.metadata.name.clone()?;
    let database = name
        .strip_prefix(OP_LEASE_PREFIX)
        .filter(|d| !d.is_empty())?;
    let db = DbRef {
        namespace: l.metadata.namespace.clone()?,
        name: database.to_string(),
    };
    let spec = l.spec.as_ref();
    let info = LeaseInfo {
        holder: spec.and_then(|s| s.holder_identity.clone()),
        renewed_ms: spec
            .and_then(|s| s.renew_time.as_ref())
            .and_then(|t| ms(&t.0)),
        duration_s: spec
            .and_then(|s| s.lease_duration_seconds)
            .and_then(|d| u32::try_from(d).ok()),
        operation: l
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("baton.io/operation"))
            .cloned(),
        name,
    };
    Some((db, info))
}

/// The label that names a campaign on its records.
pub const CAMPAIGN_LABEL: &str = "baton.io/campaign";

/// A campaign's record (a ConfigMap labelled `baton.io/campaign`), its data kept as written.
pub fn campaign(cm: &ConfigMap) -> Option<CampaignInfo> {
    let name = cm.metadata.labels.as_ref()?.get(CAMPAIGN_LABEL)?.clone();
    Some(CampaignInfo {
        name,
        object: format!(
            "{}/{}",
            cm.metadata.namespace.as_deref().unwrap_or(""),
            cm.metadata.name.as_deref().unwrap_or("")
        ),
        data: cm.data.clone().unwrap_or_default(),
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::builtin_profile;

    fn from_json<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
        serde_json::from_value(v).expect("a valid object")
    }

    #[test]
    fn statefulsets_jobs_and_leases_name_their_database() {
        let neo4j = builtin_profile("neo4j").expect("built in");
        let etcd = builtin_profile("etcd").expect("built in");
        let sts: StatefulSet = from_json(serde_json::json!({
            "metadata": {"name": "orders-1", "namespace": "team-a",
                "labels": {"helm.neo4j.com/neo4j.name": "orders"},
                "annotations": {"baton.io/resize": "8Gi", "meta.helm.sh/release-name": "orders-1"}},
            "spec": {"selector": {}, "serviceName": "orders-1", "template": {"spec": {"containers": [{
                "name": "neo4j", "image": "neo4j:5.26.0-enterprise",
                "resources": {"requests": {"memory": "4Gi"}, "limits": {"memory": "6Gi"}}}]}}},
            "status": {"replicas": 1, "readyReplicas": 1, "updateRevision": "orders-1-2", "currentRevision": "orders-1-1"}
        }));
        let (db, s) = statefulset(&sts, &neo4j).expect("a neo4j StatefulSet");
        assert_eq!(
            (db.namespace.as_str(), db.name.as_str()),
            ("team-a", "orders")
        );
        assert_eq!((s.replicas, s.ready_replicas), (1, 1));
        assert_eq!(s.memory_request.as_deref(), Some("4Gi"));
        assert_eq!(s.memory_limit.as_deref(), Some("6Gi"));
        assert_eq!(s.update_revision.as_deref(), Some("orders-1-2"));
        assert_eq!(s.current_revision.as_deref(), Some("orders-1-1"));
        assert_eq!(
            s.annotations.keys().collect::<Vec<_>>(),
            ["baton.io/resize"]
        );
        assert!(
            statefulset(&sts, &etcd).is_none(),
            "etcd claims only etcd images"
        );

        let j: Job = from_json(serde_json::json!({
            "metadata": {"name": "orders-backup-1", "namespace": "team-a",
                "labels": {"app.kubernetes.io/managed-by": "baton", "baton.io/operation": "backup", "baton.io/database": "orders"}},
            "status": {"active": 1, "startTime": "2025-01-02T03:04:05Z"}
        }));
        let (db, j) = job(&j).expect("a baton Job");
        assert_eq!(db.name, "orders");
        assert_eq!(j.operation.as_deref(), Some("backup"));
        assert_eq!((j.active, j.succeeded, j.failed), (1, 0, 0));
        assert_eq!(j.started_ms, Some(1_735_787_045_000));
        assert_eq!(j.completed_ms, None);

        let l: Lease = from_json(serde_json::json!({
            "metadata": {"name": "baton-op-orders", "namespace": "team-a",
                "annotations": {"baton.io/operation": "{\"operation\":\"rolling-restart\",\"state\":\"running\"}"}},
            "spec": {"holderIdentity": "alice@bastion", "leaseDurationSeconds": 30, "renewTime": "2025-01-02T03:04:05.500000Z"}
        }));
        let (db, l) = op_lease(&l).expect("an operation Lease");
        assert_eq!(db.name, "orders");
        assert_eq!(l.holder.as_deref(), Some("alice@bastion"));
        assert_eq!(l.duration_s, Some(30));
        assert_eq!(l.renewed_ms, Some(1_735_787_045_500));
        assert!(
            l.operation
                .as_deref()
                .is_some_and(|o| o.contains("rolling-restart"))
        );
        let other: Lease = from_json(
            serde_json::json!({"metadata": {"name": "kube-scheduler", "namespace": "kube-system"}}),
        );
        assert!(op_lease(&other).is_none());
    }
}
