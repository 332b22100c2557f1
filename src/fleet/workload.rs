//! What operations create and change, per database, trimmed to what baton shows and decides on:
//! the database's StatefulSets, baton's Jobs, and the operation Lease `baton-op-<database>`;
//! and per orchestra, the campaigns' records (ConfigMaps `baton-campaign-<name>`).
//! Pure data, no I/O; how the store keeps each kind on a database is `store::parts`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

/// One StatefulSet of a database (Neo4j's Helm charts: one per server).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct StatefulSetInfo {
    pub name: String,
    /// `spec.replicas` (1 when unset, as Kubernetes defaults it).
    pub replicas: u32,
    pub ready_replicas: u32,
    /// The first container's image (shared: `intern`).
    pub image: Arc<str>,
    /// The first container's memory request and limit, as written (`4Gi`; shared).
    pub memory_request: Option<Arc<str>>,
    pub memory_limit: Option<Arc<str>>,
    /// The revision pods are rolled to, and the one they run; equal once a roll is done (one
    /// copy then).
    pub update_revision: Option<Arc<str>>,
    pub current_revision: Option<Arc<str>>,
    /// Annotations whose key starts with `baton.io/`.
    pub annotations: BTreeMap<String, String>,
}

/// One Job baton started (label `app.kubernetes.io/managed-by=baton`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct JobInfo {
    pub name: String,
    /// Label `baton.io/operation`.
    pub operation: Option<String>,
    pub active: u32,
    pub succeeded: u32,
    pub failed: u32,
    /// `status.startTime` and `status.completionTime`, Unix ms.
    pub started_ms: Option<u64>,
    pub completed_ms: Option<u64>,
}

/// The operation Lease of a database: the lock and the shared progress of an operation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct LeaseInfo {
    pub name: String,
    pub holder: Option<String>,
    /// `spec.renewTime`, Unix ms.
    pub renewed_ms: Option<u64>,
    pub duration_s: Option<u32>,
    /// Annotation `baton.io/operation`: the operation's record (JSON), kept as written.
    pub operation: Option<String>,
}

/// One orchestra's record of a campaign (ConfigMap `baton-campaign-<name>`): its keys as written
/// (JSON, read by `ops::campaign::state`), so any baton sees every campaign.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CampaignInfo {
    /// The campaign's name (label `baton.io/campaign`).
    pub name: String,
    /// `namespace/name` of the ConfigMap, for messages.
    pub object: String,
    /// The ConfigMap's data: `definition`, `control`, `states`.
    pub data: BTreeMap<String, String>,
}
