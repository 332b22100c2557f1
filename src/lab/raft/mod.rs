//! The lab's Raft core, built on TiKV's `raft` crate (raft-rs, a pure state machine that is
//! ticked and fed by its host): Raft groups of voters and learners whose members live in pods,
//! the in-process network between members (where partitions, delays and stalls are injected),
//! the members' persistent volumes (which outlive the members, like PersistentVolumes), a
//! steady write load, and the truth of each group (when a leader with quorum existed, and
//! which writes failed).
//!
//! Parts:
//! - [`network`]: [`RaftNetwork`], the message bus, keyed by (group, member id), with faults.
//! - [`volume`]: [`MemberVolume`] (log, hard state, snapshot, applied index and the state
//!   machine of one member, implementing [`raft::Storage`]) and [`VolumeRegistry`] (volumes by
//!   key, e.g. `orchestra/namespace/pod`; `wipe` gives a member an empty volume).
//! - [`group`]: [`RaftGroup`], one group and its driver task: a single tokio task per group
//!   ticks every live member, carries messages, persists and applies, and proposes the write
//!   load. A group that is calm (stable leader, everyone caught up, no faults, nothing asked
//!   of it lately) ticks at `calm_tick` instead of `tick`, so thousands of idle groups stay
//!   cheap; anything that happens to it (a member stops or starts, a fault, a write) wakes it.
//! - [`groups`]: [`RaftGroups`], every group of a lab with members addressed by volume key —
//!   the API a pod's workload uses (`start_member`, `stop_member`, `status`, faults, writes).
//! - [`timeline`]: [`Timeline`], a group's truth over time.
//!
//! Membership is fixed when a group is created (voters = primaries, learners = secondaries,
//! i.e. Neo4j READ_REPLICA members); learners never vote, never lead and are not counted in
//! any quorum.

pub mod group;
pub mod groups;
pub mod network;
pub mod timeline;
pub mod volume;

#[cfg(test)]
mod tests;

use std::time::Duration;

pub use group::RaftGroup;
pub use groups::RaftGroups;
pub use network::{Faults, RaftNetwork};
pub use timeline::{Happening, QuorumInterval, Timeline, TimelineEvent};
pub use volume::{AppliedWrite, MemberVolume, StateMachine, VolumeError, VolumeRegistry};

/// How groups run. The defaults suit a lab of a few hundred groups with a visible write load;
/// at fleet scale lower `writes_per_second` and `log_retain`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RaftSettings {
    /// One Raft tick while a group is busy (starting, electing, faulted, recently poked).
    pub tick: Duration,
    /// One Raft tick while a group is calm. Equal to `tick` (or zero) turns calm pacing off.
    pub calm_tick: Duration,
    /// How long a group stays at the busy pace after anything happened to it.
    pub calm_after: Duration,
    /// Ticks without a leader message before a follower campaigns (randomised up to twice).
    pub election_ticks: usize,
    /// Ticks between a leader's heartbeats.
    pub heartbeat_ticks: usize,
    /// Writes per second proposed on each group's leader once it first had quorum (0 = none).
    pub writes_per_second: f64,
    /// How long a write may take to commit before it counts as failed.
    pub write_timeout: Duration,
    /// Log entries each member keeps behind its applied index; older ones are compacted
    /// (a member that falls further behind catches up from a snapshot).
    pub log_retain: usize,
}

impl Default for RaftSettings {
    fn default() -> Self {
        Self {
            tick: Duration::from_millis(100),
            calm_tick: Duration::from_millis(1000),
            calm_after: Duration::from_secs(3),
            election_ticks: 10,
            heartbeat_ticks: 2,
            writes_per_second: 0.0,
            write_timeout: Duration::from_secs(2),
            log_retain: 1000,
        }
    }
}

/// One member of a group, as the group is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSpec {
    /// The Raft id (non-zero, unique in the group).
    pub id: u64,
    /// The volume key, e.g. `orchestra/namespace/pod`, unique across all groups.
    pub key: String,
    /// A voter (primary); otherwise a learner (secondary).
    pub voter: bool,
}

impl MemberSpec {
    pub fn voter(id: u64, key: impl Into<String>) -> Self {
        Self {
            id,
            key: key.into(),
            voter: true,
        }
    }

    pub fn learner(id: u64, key: impl Into<String>) -> Self {
        Self {
            id,
            key: key.into(),
            voter: false,
        }
    }
}

/// A member's role as it sees itself (`Down` when its process is not running).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Leader,
    Follower,
    Candidate,
    Learner,
    Down,
}

impl Role {
    /// The Neo4j spelling (`READ_REPLICA` for learners, `UNKNOWN` when down).
    pub fn neo4j(self) -> &'static str {
        match self {
            Role::Leader => "LEADER",
            Role::Follower => "FOLLOWER",
            Role::Candidate => "CANDIDATE",
            Role::Learner => "READ_REPLICA",
            Role::Down => "UNKNOWN",
        }
    }
}

/// What one member knows about itself (the Neo4j/etcd status endpoints are drawn from this).
/// A member that is down reports what its volume holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberStatus {
    pub group: String,
    pub key: String,
    pub member_id: u64,
    pub role: Role,
    pub term: u64,
    /// The leader this member follows (itself when it leads).
    pub leader_id: Option<u64>,
    pub commit_index: u64,
    pub applied_index: u64,
    /// The last index of the member's log.
    pub last_index: u64,
    pub voters: Vec<u64>,
    pub learners: Vec<u64>,
    /// 0 on the leader; `None` when no leader message arrived since the member started.
    pub millis_since_last_leader_message: Option<u64>,
    /// Running, not stalled, and either leading or hearing from its leader in time.
    pub healthy: bool,
    /// Writes the member's state machine has applied.
    pub writes_applied: u64,
    /// Fault state (a stalled member answers nothing; a partitioned one reaches no peer).
    pub partitioned: bool,
    pub stalled: bool,
}

/// Why the Raft core refused a request.
#[derive(Debug, thiserror::Error)]
pub enum RaftError {
    #[error("no Raft member uses the volume {0}")]
    UnknownMember(String),
    #[error("no Raft group is named {0}")]
    UnknownGroup(String),
    #[error("Raft group {0} already exists with other members")]
    GroupConflict(String),
    #[error("the volume {key} already belongs to a member of Raft group {group}")]
    KeyInUse { key: String, group: String },
    #[error("Raft group {group} is invalid: {why}")]
    InvalidGroup { group: String, why: String },
    #[error("Raft groups are driven by tokio tasks: call this inside a tokio runtime")]
    NoRuntime,
    #[error("member {id} of Raft group {group} could not start: {source}")]
    Start {
        group: String,
        id: u64,
        #[source]
        source: raft::Error,
    },
    #[error("Raft group {0} is stopped (closed, or failed after an internal error: see the log)")]
    GroupFailed(String),
    #[error("the write failed: {0}")]
    Write(#[from] WriteError),
}

/// Why a write failed (recorded in the group's timeline).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum WriteError {
    #[error("no leader")]
    NoLeader,
    #[error("no quorum: not committed in time and no leader had a quorum")]
    NoQuorum,
    #[error("not committed in time")]
    Timeout,
    #[error("the leader dropped the proposal")]
    Dropped,
    #[error("the group stopped")]
    Closed,
}
