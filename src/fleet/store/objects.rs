//! What the store holds per orchestra and database: the connection state, trimmed member pods
//! with their latest probes, database keys, Kubernetes event lines, and `Database` itself.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::fleet::workload::{JobInfo, LeaseInfo, StatefulSetInfo};
use crate::fleet::{DatabaseState, LeaderHistory, MemberInput, Probe, derive};

/// Where one orchestra's connection stands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Connection {
    /// Never answered yet.
    #[default]
    Connecting,
    Live,
    /// Was live; the watch broke at `since_ms` (Unix ms) and has not recovered. The data shown is
    /// what was last seen.
    Stale {
        since_ms: u64,
        reason: String,
    },
    /// The API server refused the credentials (401/403).
    Unauthorized(String),
    /// Never reached.
    Unreachable(String),
}

impl Connection {
    /// `live`, `connecting`, `stale since 10:42:07: …`, `unauthorized: …`, `unreachable: …`.
    pub fn describe(&self) -> String {
        match self {
            Self::Connecting => "connecting".into(),
            Self::Live => "live".into(),
            Self::Stale { since_ms, reason } => {
                format!("stale since {}: {reason}", clock(*since_ms))
            }
            Self::Unauthorized(r) => format!("unauthorized: {r}"),
            Self::Unreachable(r) => format!("unreachable: {r}"),
        }
    }

    /// One word: `connecting`, `live`, `stale`, `unauthorized`, `unreachable`.
    pub fn word(&self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Live => "live",
            Self::Stale { .. } => "stale",
            Self::Unauthorized(_) => "unauthorized",
            Self::Unreachable(_) => "unreachable",
        }
    }
}

/// `HH:MM:SS` (UTC) of a Unix-ms time.
pub fn clock(ms: u64) -> String {
    let s = (ms / 1000) % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// A pod trimmed to what baton shows (a full Pod is ~10 KiB; this is a few hundred bytes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodInfo {
    pub name: String,
    pub ready: bool,
    /// Phase, node, zone and image: a few values fleet-wide, one copy of each (`intern`).
    pub phase: Arc<str>,
    pub restarts: u32,
    pub node: Arc<str>,
    pub zone: Arc<str>,
    /// Pod IP, or for a static inventory member its base URL.
    pub ip: String,
    pub image: Arc<str>,
    /// Creation time, Unix ms.
    pub created_ms: Option<u64>,
    /// Has a deletion timestamp.
    pub terminating: bool,
}

impl PodInfo {
    /// The image tag without an `-enterprise` suffix (`neo4j:5.26.0-enterprise` → `5.26.0`).
    pub fn version(&self) -> &str {
        match self.image.rsplit_once(':') {
            Some((_, tag)) => tag.trim_end_matches("-enterprise"),
            None => "",
        }
    }
}

/// A database inside one orchestra.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DbRef {
    pub namespace: String,
    pub name: String,
}

/// A database across the fleet.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DbKey {
    pub orchestra: String,
    pub namespace: String,
    pub name: String,
}

impl DbKey {
    pub fn new(orchestra: &str, db: &DbRef) -> Self {
        Self {
            orchestra: orchestra.into(),
            namespace: db.namespace.clone(),
            name: db.name.clone(),
        }
    }

    /// What operators type and copy: `orchestra/namespace/name`.
    pub fn id(&self) -> String {
        format!("{}/{}/{}", self.orchestra, self.namespace, self.name)
    }

    pub fn db(&self) -> DbRef {
        DbRef {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub pod: PodInfo,
    pub probe: Probe,
    /// When the latest probe answered or failed, Unix ms.
    pub probed_ms: Option<u64>,
}

impl Member {
    /// A member of the static inventory (a status URL, no pod behind it).
    pub fn is_static(&self) -> bool {
        *self.pod.phase == *STATIC_PHASE
    }

    /// The version its latest answer reported, if the profile's status says it.
    pub fn reported_version(&self) -> Option<&str> {
        match &self.probe {
            Probe::Ok(r) => r.version.as_deref(),
            _ => None,
        }
    }

    /// Ready: its pod says so; a static member (no pod, no readiness) when its probe answered.
    pub fn ready(&self) -> bool {
        if self.is_static() {
            matches!(self.probe, Probe::Ok(_))
        } else {
            self.pod.ready
        }
    }
}

/// One copy of a database's voting set: an answer takes the set a member already holds (its own
/// last answer, or another member's) when it is the same. Three members of 10 000 databases
/// each holding their own copy was 4 MiB of the fleet dashboard.
pub(super) fn share_voters(probe: &mut Probe, members: &[Member]) {
    let Probe::Ok(r) = probe else {
        return;
    };
    if r.voters.is_empty() {
        return;
    }
    let held = members.iter().find_map(|m| match &m.probe {
        Probe::Ok(o) if o.voters == r.voters => Some(o.voters.clone()),
        _ => None,
    });
    if let Some(held) = held {
        r.voters = held;
    }
}

/// The phase a static inventory member's stand-in pod carries.
pub const STATIC_PHASE: &str = "static";

/// One Kubernetes Event about a database's objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLine {
    pub at_ms: u64,
    pub kind: String,
    pub reason: String,
    pub object: String,
    pub message: String,
}

/// A database: listed while it has member pods or StatefulSets (a stopped database keeps its
/// StatefulSets at zero replicas).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Database {
    pub key: DbKey,
    pub profile: String,
    /// Members sorted by pod name.
    pub members: Vec<Member>,
    pub state: DatabaseState,
    pub history: LeaderHistory,
    /// Newest last; only fetched for the open database.
    pub events: Vec<EventLine>,
    pub probed_ms: Option<u64>,
    /// Sorted by name.
    pub statefulsets: Vec<StatefulSetInfo>,
    /// baton's Jobs for this database, sorted by name.
    pub jobs: Vec<JobInfo>,
    /// The Lease `baton-op-<database>`: an operation holds or held the database.
    /// (Boxed: most databases have none, and 10 000 held room for one inline.)
    pub op_lease: Option<Box<LeaseInfo>>,
}

impl Database {
    pub(super) fn new(key: DbKey, profile: &str) -> Self {
        Self {
            key,
            profile: profile.into(),
            members: Vec::new(),
            state: derive(&[], 0),
            history: LeaderHistory::default(),
            events: Vec::new(),
            probed_ms: None,
            statefulsets: Vec::new(),
            jobs: Vec::new(),
            op_lease: None,
        }
    }

    /// Shown in the fleet: it has pods or StatefulSets.
    pub(super) fn listed(&self) -> bool {
        !self.members.is_empty() || !self.statefulsets.is_empty()
    }

    /// Nothing is known about it any more.
    pub(super) fn empty(&self) -> bool {
        !self.listed() && self.jobs.is_empty() && self.op_lease.is_none()
    }

    /// The version most members run (the first member's when they differ): the image tag, or
    /// for a static inventory database (no image) what its members report.
    pub fn version(&self) -> &str {
        match self.members.first() {
            Some(m) if m.is_static() => self
                .members
                .iter()
                .find_map(Member::reported_version)
                .unwrap_or(""),
            Some(m) => m.pod.version(),
            None => "",
        }
    }

    pub fn ready(&self) -> usize {
        self.members.iter().filter(|m| m.ready()).count()
    }

    /// A database of the static inventory (probed directly; no Kubernetes objects).
    pub fn is_static(&self) -> bool {
        !self.members.is_empty() && self.members.iter().all(Member::is_static)
    }

    pub(super) fn rederive(&mut self, lag_gate: u64) {
        let inputs: Vec<MemberInput> = self
            .members
            .iter()
            .map(|m| MemberInput {
                name: m.pod.name.clone(),
                pod_ready: m.pod.ready,
                probe: m.probe.clone(),
            })
            .collect();
        self.state = derive(&inputs, lag_gate);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Orchestra {
    pub name: String,
    pub connection: Connection,
    /// What its identity may do (SelfSubjectAccessReviews), once the API server answered.
    pub access: Option<crate::fleet::Access>,
    /// Its operation Leases were listed once (every operation in flight there is known).
    pub leases_listed: bool,
    /// baton's Jobs there were listed once (every runner Job is known).
    pub jobs_listed: bool,
    /// The profiles whose StatefulSets it listed once (a stopped database, which has no pods,
    /// is known).
    pub sets_listed: BTreeSet<String>,
    /// The campaigns' records it holds, by campaign name.
    pub campaigns: BTreeMap<String, crate::fleet::workload::CampaignInfo>,
}
