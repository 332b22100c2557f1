//! The domain, with no I/O and no clock: members and what their probes said, the derived role of
//! each member, the leader, term, lag behind the leader, a health roll-up per database with its
//! reasons, and a leader-change history per database with a churn flag (`mod.rs`); the fleet
//! store folding source events (`store`); what operations create, per database (`workload`); the
//! fleet as `baton status` prints it (`snapshot`); the operations catalog's static facts
//! (`catalog`), which the sources (access reviews) and the operations both read. Everything
//! here is a pure function of its inputs, so it is unit-tested without a cluster.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

pub mod access;
pub mod catalog;
pub mod filter;
pub mod intern;
pub mod snapshot;
pub mod store;
pub mod workload;
pub use access::Access;
pub use intern::intern;
pub use store::{
    Connection, Database, DbKey, DbRef, EventLine, Fleet, FleetEvent, Member, Orchestra, PodInfo,
};
pub use workload::{CampaignInfo, JobInfo, LeaseInfo, StatefulSetInfo};

/// A member's Raft role. Shown as a word and a glyph, never by colour alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Leader,
    Follower,
    ReadReplica,
    Candidate,
    Unknown,
}

impl Role {
    pub fn word(self) -> &'static str {
        match self {
            Self::Leader => "LEADER",
            Self::Follower => "FOLLOWER",
            Self::ReadReplica => "READ_REPLICA",
            Self::Candidate => "CANDIDATE",
            Self::Unknown => "UNKNOWN",
        }
    }

    /// A one-character mark that survives monochrome terminals.
    pub fn glyph(self) -> char {
        match self {
            Self::Leader => '★',
            Self::Follower => '●',
            Self::ReadReplica => '○',
            Self::Candidate => '◐',
            Self::Unknown => '?',
        }
    }
}

/// What one probe of one member said, decoded (see `probe::decode`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProbeReport {
    pub member_id: String,
    pub leader_id: Option<String>,
    pub is_leader: bool,
    pub term: Option<u64>,
    pub applied_index: Option<u64>,
    /// A voting member (primary / core) rather than a learner (secondary / read replica).
    pub voter: bool,
    /// Ids of the voting members, where the profile reports them. Shared: the members of a
    /// database report the same set, and the store keeps one copy of it (`Fleet::apply`).
    pub voters: Arc<[String]>,
    pub healthy: bool,
    pub millis_since_leader_message: Option<u64>,
    pub errors: Vec<String>,
    /// The version the member says it runs, where its status tells (etcd); a static inventory
    /// member has no image to read it from.
    pub version: Option<String>,
}

/// The latest probe of a member.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Probe {
    /// Not probed yet.
    #[default]
    Pending,
    Ok(ProbeReport),
    /// Timed out, refused, or garbage: the text says which.
    Error(String),
}

impl Probe {
    /// The same answer for everything baton derives or shows: equal except for timing fields
    /// that move on every probe (`millis_since_leader_message`).
    pub fn same_answer(&self, other: &Probe) -> bool {
        match (self, other) {
            (Probe::Ok(a), Probe::Ok(b)) => {
                // Every field named, so a new one must be placed on one side or the other.
                let ProbeReport {
                    member_id,
                    leader_id,
                    is_leader,
                    term,
                    applied_index,
                    voter,
                    voters,
                    healthy,
                    millis_since_leader_message: _,
                    errors,
                    version,
                } = a;
                *member_id == b.member_id
                    && *leader_id == b.leader_id
                    && *is_leader == b.is_leader
                    && *term == b.term
                    && *applied_index == b.applied_index
                    && *voter == b.voter
                    && *voters == b.voters
                    && *healthy == b.healthy
                    && *errors == b.errors
                    && *version == b.version
            }
            _ => self == other,
        }
    }
}

/// How a probe error begins when the API server refused the probe (HTTP 403): the identity may
/// not ask, which says nothing about the member. Such a member is unknown, never counted as
/// failed: a database is not `down` or "quorum lost" because its probes were forbidden.
pub const FORBIDDEN_PROBE: &str = "forbidden:";

impl Probe {
    /// The API server refused this probe (see [`FORBIDDEN_PROBE`]).
    pub fn forbidden(&self) -> bool {
        matches!(self, Probe::Error(e) if e.starts_with(FORBIDDEN_PROBE))
    }
}

/// One member (pod) as the sources see it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberInput {
    pub name: String,
    pub pod_ready: bool,
    pub probe: Probe,
}

/// A member with what was derived for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberState {
    pub name: String,
    pub role: Role,
    /// Entries behind the leader's applied index.
    pub lag: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Health {
    Healthy,
    Degraded,
    Down,
    Unknown,
}

impl Health {
    pub fn word(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Down => "down",
            Self::Unknown => "unknown",
        }
    }
}

/// Everything derived for one database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseState {
    pub members: Vec<MemberState>,
    /// The leader's member name, when exactly one member leads.
    pub leader: Option<String>,
    pub term: Option<u64>,
    pub worst_lag: Option<u64>,
    pub health: Health,
    /// Why it is not healthy, most serious first.
    pub reasons: Vec<String>,
}

/// Derives roles, leader, lag and health. `lag_gate`: a member more than this many entries
/// behind the leader is lagging.
pub fn derive(members: &[MemberInput], lag_gate: u64) -> DatabaseState {
    let roles: Vec<Role> = members
        .iter()
        .map(|m| match &m.probe {
            Probe::Ok(r) if r.is_leader => Role::Leader,
            Probe::Ok(r) if !r.voter => Role::ReadReplica,
            Probe::Ok(r) if r.leader_id.is_none() => Role::Candidate,
            Probe::Ok(_) => Role::Follower,
            _ => Role::Unknown,
        })
        .collect();
    let leaders: Vec<usize> = (0..members.len())
        .filter(|i| roles[*i] == Role::Leader)
        .collect();
    let report = |i: usize| match &members[i].probe {
        Probe::Ok(r) => Some(r),
        _ => None,
    };
    // When no member says it leads, the followers may still agree on a leader whose own probe
    // failed: if exactly one member could not be read and the agreed leader id is none of the
    // members that could, that member leads (unseen).
    let inferred_leader = if leaders.is_empty() {
        let known: BTreeSet<&str> = (0..members.len())
            .filter_map(report)
            .map(|r| r.member_id.as_str())
            .collect();
        let claimed: BTreeSet<&str> = (0..members.len())
            .filter_map(report)
            .filter_map(|r| r.leader_id.as_deref())
            .collect();
        let unread: Vec<usize> = (0..members.len())
            .filter(|i| report(*i).is_none())
            .collect();
        match (claimed.len(), unread.as_slice()) {
            (1, [only]) if claimed.iter().all(|l| !known.contains(l)) => Some(*only),
            _ => None,
        }
    } else {
        None
    };
    let leader_idx = if leaders.len() == 1 {
        Some(leaders[0])
    } else {
        inferred_leader
    };
    let leader_applied = leader_idx.and_then(|i| report(i)?.applied_index);
    let term = leader_idx
        .and_then(|i| report(i)?.term)
        .or_else(|| (0..members.len()).filter_map(|i| report(i)?.term).max());
    let states: Vec<MemberState> = members
        .iter()
        .enumerate()
        .map(|(i, m)| MemberState {
            name: m.name.clone(),
            role: roles[i],
            lag: match (leader_applied, report(i).and_then(|r| r.applied_index)) {
                (Some(l), Some(a)) => Some(l.saturating_sub(a)),
                _ => None,
            },
        })
        .collect();
    let worst_lag = states.iter().filter_map(|s| s.lag).max();

    let mut reasons = Vec::new();
    let mut health = Health::Healthy;
    // Only Degraded and Down are passed here; the worst one wins.
    let mut worsen = |h: Health, why: String, reasons: &mut Vec<String>| {
        health = health.max(h);
        reasons.push(why);
    };
    if members.is_empty() {
        return DatabaseState {
            members: states,
            leader: None,
            term: None,
            worst_lag: None,
            health: Health::Unknown,
            reasons: vec!["no members".into()],
        };
    }
    if members.iter().all(|m| m.probe == Probe::Pending) {
        return DatabaseState {
            members: states,
            leader: None,
            term,
            worst_lag,
            health: Health::Unknown,
            reasons: vec!["not probed yet".into()],
        };
    }
    // Voters: the largest voting set any member reports, else the members that say they vote.
    let reported: BTreeSet<&String> = (0..members.len())
        .filter_map(report)
        .flat_map(|r| r.voters.iter())
        .collect();
    let voter_count = if reported.is_empty() {
        (0..members.len())
            .filter(|i| {
                report(*i).is_some_and(|r| r.voter)
                    || report(*i).is_none() && roles[*i] == Role::Unknown
            })
            .count()
    } else {
        reported.len()
    };
    let healthy_voters = (0..members.len())
        .filter(|i| members[*i].pod_ready && report(*i).is_some_and(|r| r.voter && r.healthy))
        .count();
    // Members whose probe the API server refused: not known to be anything.
    let forbidden = members.iter().filter(|m| m.probe.forbidden()).count();
    let mut unknown_because: Vec<String> = Vec::new();
    // Members whose first probe has not answered yet (at startup, or a new pod): they may turn
    // out healthy voters or the leader, so what only their silence suggests is not concluded —
    // the database is "probing", not down (no false alarm in the first seconds).
    let pending = members.iter().filter(|m| m.probe == Probe::Pending).count();
    // Voters that may be healthy for all baton could see: the healthy, the not yet answered and
    // the forbidden.
    let maybe_voters = healthy_voters
        + forbidden
        + members
            .iter()
            .filter(|m| m.pod_ready && m.probe == Probe::Pending)
            .count();
    let mut probing = false;
    if leaders.len() > 1 {
        let names: Vec<&str> = leaders.iter().map(|i| members[*i].name.as_str()).collect();
        worsen(
            Health::Degraded,
            format!("two leaders: {}", names.join(", ")),
            &mut reasons,
        );
    }
    if leaders.is_empty() {
        match inferred_leader {
            Some(i) => worsen(
                Health::Degraded,
                format!("leader {} not readable", members[i].name),
                &mut reasons,
            ),
            None if forbidden > 0 => unknown_because.push(format!(
                "leader not known: the probes of {forbidden} member(s) are forbidden"
            )),
            None if pending > 0 => probing = true,
            None => worsen(Health::Down, "no leader".into(), &mut reasons),
        }
    }
    let lost = |healthy: usize| voter_count > 0 && healthy * 2 <= voter_count;
    let at_risk = |healthy: usize| {
        voter_count > 0 && healthy < voter_count && healthy.saturating_sub(1) * 2 <= voter_count
    };
    if lost(maybe_voters) {
        worsen(
            Health::Down,
            format!("quorum lost: {healthy_voters}/{voter_count} voters healthy"),
            &mut reasons,
        );
    } else if lost(healthy_voters) {
        // Lost only if the unseen members are down: not known yet.
        if forbidden > 0 {
            unknown_because.push(format!(
                "quorum not known: {healthy_voters}/{voter_count} voters seen healthy, {forbidden} not probed (forbidden)"
            ));
        }
        probing |= pending > 0;
    } else if at_risk(maybe_voters) {
        worsen(
            Health::Degraded,
            format!("quorum at risk: {healthy_voters}/{voter_count} voters healthy"),
            &mut reasons,
        );
    } else if at_risk(healthy_voters) {
        probing |= pending > 0;
    }
    let not_ready = members.iter().filter(|m| !m.pod_ready).count();
    if not_ready > 0 {
        worsen(
            Health::Degraded,
            format!(
                "pods not ready: {}/{}",
                members.len() - not_ready,
                members.len()
            ),
            &mut reasons,
        );
    }
    for (m, s) in members.iter().zip(&states) {
        match &m.probe {
            Probe::Error(e) if m.probe.forbidden() => {
                unknown_because.push(format!("{}: {e}", m.name));
            }
            Probe::Error(e) => worsen(
                Health::Degraded,
                format!("{}: probe error: {e}", m.name),
                &mut reasons,
            ),
            Probe::Ok(r) if !r.errors.is_empty() => worsen(
                Health::Degraded,
                format!("{}: {}", m.name, r.errors.join("; ")),
                &mut reasons,
            ),
            _ => {}
        }
        if let Some(lag) = s.lag.filter(|l| *l > lag_gate) {
            worsen(
                Health::Degraded,
                format!("{} lagging {lag} entries", m.name),
                &mut reasons,
            );
        }
    }
    if probing {
        // Healthy so far but not known yet: unknown (never counted as degraded).
        let answered = members.len() - pending;
        let why = format!("probing: {answered}/{} members answered", members.len());
        if health == Health::Healthy {
            health = Health::Unknown;
            reasons.insert(0, why);
        } else {
            reasons.push(why);
        }
    }
    // What could not be seen makes a database that looked healthy unknown; a problem that was
    // seen stays (it is true whatever the unseen members do).
    if !unknown_because.is_empty() && health == Health::Healthy {
        health = Health::Unknown;
    }
    reasons.extend(unknown_because);
    DatabaseState {
        members: states,
        leader: leader_idx.map(|i| members[i].name.clone()),
        term,
        worst_lag,
        health,
        reasons,
    }
}

/// One leadership change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderChange {
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub from: Option<String>,
    pub to: Option<String>,
    pub term: Option<u64>,
}

/// Leader changes of one database, bounded, with a churn flag.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaderHistory {
    pub changes: VecDeque<LeaderChange>,
    current: Option<String>,
    seen: bool,
}

impl LeaderHistory {
    const KEEP: usize = 50;
    /// More than this many changes inside `CHURN_WINDOW_MS` is churn.
    const CHURN_CHANGES: usize = 3;
    const CHURN_WINDOW_MS: u64 = 10 * 60 * 1000;

    /// Records the leader seen at `at_ms`; returns true when it changed. The first observation
    /// is not a change.
    pub fn observe(&mut self, at_ms: u64, leader: Option<&str>, term: Option<u64>) -> bool {
        let leader = leader.map(str::to_string);
        if !self.seen {
            self.seen = true;
            self.current = leader;
            return false;
        }
        if leader == self.current {
            return false;
        }
        self.changes.push_back(LeaderChange {
            at_ms,
            from: self.current.take(),
            to: leader.clone(),
            term,
        });
        while self.changes.len() > Self::KEEP {
            self.changes.pop_front();
        }
        self.current = leader;
        true
    }

    /// Leadership changed too often lately.
    pub fn churning(&self, now_ms: u64) -> bool {
        self.changes
            .iter()
            .filter(|c| now_ms.saturating_sub(c.at_ms) <= Self::CHURN_WINDOW_MS)
            .count()
            > Self::CHURN_CHANGES
    }
}

/// Counts of databases by health, for an orchestra or the fleet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HealthCounts {
    pub healthy: usize,
    pub degraded: usize,
    pub down: usize,
    pub unknown: usize,
}

impl HealthCounts {
    pub fn add(&mut self, h: Health) {
        match h {
            Health::Healthy => self.healthy += 1,
            Health::Degraded => self.degraded += 1,
            Health::Down => self.down += 1,
            Health::Unknown => self.unknown += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.healthy + self.degraded + self.down + self.unknown
    }
}

impl FromIterator<Health> for HealthCounts {
    fn from_iter<I: IntoIterator<Item = Health>>(iter: I) -> Self {
        let mut c = Self::default();
        iter.into_iter().for_each(|h| c.add(h));
        c
    }
}

#[cfg(test)]
mod tests;
