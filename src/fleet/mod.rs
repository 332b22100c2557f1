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
pub mod intern;
pub mod snapshot;
pub mod store;
pub mod workload;
pub use access::Access;
pub use intern::intern;
pub use store::{
    Connection, Database, DbKey, DbRef, EventLine, Fleet, FleetEvent, Member, Orchestra, PodInfo,
};
pub use workload::{JobInfo, LeaseInfo, StatefulSetInfo};

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
mod tests {
    use super::*;

    fn ok(id: &str, leader: Option<&str>, applied: u64, voter: bool) -> Probe {
        Probe::Ok(ProbeReport {
            member_id: id.into(),
            leader_id: leader.map(str::to_string),
            is_leader: leader == Some(id),
            term: Some(4),
            applied_index: Some(applied),
            voter,
            voters: ["a".into(), "b".into(), "c".into()].into(),
            healthy: true,
            millis_since_leader_message: Some(20),
            errors: vec![],
            version: None,
        })
    }

    fn m(name: &str, probe: Probe) -> MemberInput {
        MemberInput {
            name: name.into(),
            pod_ready: true,
            probe,
        }
    }

    fn cluster() -> Vec<MemberInput> {
        vec![
            m("a-0", ok("a", Some("a"), 100, true)),
            m("b-0", ok("b", Some("a"), 98, true)),
            m("c-0", ok("c", Some("a"), 100, true)),
            m("rr-0", ok("r", Some("a"), 90, false)),
        ]
    }

    #[test]
    fn a_forbidden_probe_is_unknown_not_dead() {
        let no = || Probe::Error(format!("{FORBIDDEN_PROBE} get pods/proxy (403)"));
        // Every probe forbidden: nothing known, nothing down.
        let all = vec![m("a-0", no()), m("b-0", no()), m("c-0", no())];
        let d = derive(&all, 100);
        assert_eq!(d.health, Health::Unknown, "{:?}", d.reasons);
        assert!(
            !d.reasons
                .iter()
                .any(|r| r.contains("quorum lost") || r == "no leader"),
            "{:?}",
            d.reasons
        );
        assert!(d.members.iter().all(|s| s.role == Role::Unknown));
        assert!(
            d.reasons
                .iter()
                .any(|r| r.contains("forbidden: get pods/proxy"))
        );
        // Two of three forbidden, the third a follower: still not down.
        let some = vec![
            m("a-0", no()),
            m("b-0", ok("b", Some("a"), 98, true)),
            m("c-0", no()),
        ];
        let d = derive(&some, 100);
        assert_eq!(d.health, Health::Unknown, "{:?}", d.reasons);
        // A real failure seen beside a forbidden one stays what it is.
        let mut real = cluster();
        real[1].probe = Probe::Error("timed out".into());
        real[2].probe = no();
        let d = derive(&real, 100);
        assert_eq!(d.health, Health::Degraded, "{:?}", d.reasons);
        // Unlike a probe that failed: three timeouts are down.
        let dead = vec![
            m("a-0", Probe::Error("timed out".into())),
            m("b-0", Probe::Error("timed out".into())),
            m("c-0", Probe::Error("timed out".into())),
        ];
        assert_eq!(derive(&dead, 100).health, Health::Down);
    }

    #[test]
    fn healthy_cluster() {
        let d = derive(&cluster(), 100);
        assert_eq!(d.health, Health::Healthy, "{:?}", d.reasons);
        assert_eq!(d.leader.as_deref(), Some("a-0"));
        assert_eq!(d.term, Some(4));
        let roles: Vec<Role> = d.members.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [
                Role::Leader,
                Role::Follower,
                Role::Follower,
                Role::ReadReplica
            ]
        );
        assert_eq!(d.members[1].lag, Some(2));
        assert_eq!(d.worst_lag, Some(10));
    }

    #[test]
    fn no_leader_two_leaders_lag_probe_errors() {
        let mut c = cluster();
        c[0].probe = Probe::Error("timed out after 2s".into());
        c[1].probe = ok("b", None, 98, true);
        c[2].probe = ok("c", None, 100, true);
        c[3].probe = ok("r", None, 90, false);
        let d = derive(&c, 100);
        assert_eq!(d.health, Health::Down);
        assert!(
            d.reasons.iter().any(|r| r == "no leader"),
            "{:?}",
            d.reasons
        );
        assert!(
            d.reasons
                .iter()
                .any(|r| r.contains("a-0: probe error: timed out")),
            "{:?}",
            d.reasons
        );
        assert_eq!(d.members[1].role, Role::Candidate);

        let mut c = cluster();
        c[1].probe = ok("b", Some("b"), 98, true);
        let d = derive(&c, 100);
        assert_eq!(d.health, Health::Degraded);
        assert!(
            d.reasons[0].starts_with("two leaders: a-0, b-0"),
            "{:?}",
            d.reasons
        );
        assert_eq!(d.leader, None);

        let mut c = cluster();
        c[3].probe = ok("r", Some("a"), 10, false);
        let d = derive(&c, 50);
        assert_eq!(d.health, Health::Degraded);
        assert!(
            d.reasons.iter().any(|r| r == "rr-0 lagging 90 entries"),
            "{:?}",
            d.reasons
        );
    }

    #[test]
    fn a_leader_that_cannot_be_read_is_inferred_from_its_followers() {
        let mut c = cluster();
        c[0].probe = Probe::Error("bad Neo4j status".into());
        let d = derive(&c, 100);
        assert_eq!(d.leader.as_deref(), Some("a-0"));
        assert_eq!(d.health, Health::Degraded, "{:?}", d.reasons);
        assert!(
            d.reasons.iter().any(|r| r == "leader a-0 not readable"),
            "{:?}",
            d.reasons
        );
    }

    #[test]
    fn quorum_at_risk_and_lost() {
        let mut c = cluster();
        c[1].pod_ready = false;
        let d = derive(&c, 100);
        assert_eq!(d.health, Health::Degraded);
        assert!(
            d.reasons
                .iter()
                .any(|r| r.starts_with("quorum at risk: 2/3")),
            "{:?}",
            d.reasons
        );
        assert!(
            d.reasons.iter().any(|r| r == "pods not ready: 3/4"),
            "{:?}",
            d.reasons
        );
        c[2].probe = Probe::Error("connection refused".into());
        let d = derive(&c, 100);
        assert_eq!(d.health, Health::Down);
        assert!(
            d.reasons.iter().any(|r| r.starts_with("quorum lost: 1/3")),
            "{:?}",
            d.reasons
        );
    }

    #[test]
    fn unknown_until_probed() {
        let c = vec![m("a-0", Probe::Pending), m("b-0", Probe::Pending)];
        let d = derive(&c, 100);
        assert_eq!(
            (d.health, d.reasons[0].as_str()),
            (Health::Unknown, "not probed yet")
        );
        assert_eq!(derive(&[], 100).health, Health::Unknown);
    }

    #[test]
    fn probing_members_are_no_false_alarm() {
        // At startup one follower has answered, the leader and another have not yet: unknown,
        // not "down / no leader / quorum lost".
        let follower = |id: &str| {
            Probe::Ok(ProbeReport {
                member_id: id.into(),
                leader_id: Some("a-1".into()),
                term: Some(3),
                applied_index: Some(10),
                voter: true,
                healthy: true,
                ..ProbeReport::default()
            })
        };
        let c = vec![
            m("a-0", follower("a-0")),
            m("a-1", Probe::Pending),
            m("a-2", Probe::Pending),
        ];
        let d = derive(&c, 100);
        assert_eq!(d.health, Health::Unknown, "{:?}", d.reasons);
        assert_eq!(d.reasons, vec!["probing: 1/3 members answered".to_string()]);
        // What is known to be wrong still counts: two members answered with errors.
        let c = vec![
            m("a-0", Probe::Error("connection refused".into())),
            m("a-1", Probe::Error("connection refused".into())),
            m("a-2", Probe::Pending),
        ];
        let d = derive(&c, 100);
        assert_eq!(d.health, Health::Down, "{:?}", d.reasons);
        // Once every member answered, no leader is down.
        let c = vec![
            m("a-0", follower("a-0")),
            m("a-1", Probe::Error("connection refused".into())),
            m("a-2", Probe::Error("connection refused".into())),
        ];
        assert_eq!(derive(&c, 100).health, Health::Down);
    }

    #[test]
    fn leader_history_and_churn() {
        let mut h = LeaderHistory::default();
        assert!(!h.observe(0, Some("a"), Some(1)));
        assert!(!h.observe(1000, Some("a"), Some(1)));
        assert!(h.observe(2000, Some("b"), Some(2)));
        assert_eq!(
            h.changes[0],
            LeaderChange {
                at_ms: 2000,
                from: Some("a".into()),
                to: Some("b".into()),
                term: Some(2)
            }
        );
        assert!(h.observe(3000, None, None));
        assert!(h.observe(4000, Some("c"), Some(3)));
        assert!(!h.churning(5000));
        assert!(h.observe(6000, Some("a"), Some(4)));
        assert!(h.churning(7000));
        assert!(!h.churning(6000 + 11 * 60 * 1000));
    }

    #[test]
    fn counts() {
        let c: HealthCounts = [
            Health::Healthy,
            Health::Down,
            Health::Degraded,
            Health::Healthy,
        ]
        .into_iter()
        .collect();
        assert_eq!((c.healthy, c.degraded, c.down, c.total()), (2, 1, 1, 4));
        for r in [
            Role::Leader,
            Role::Follower,
            Role::ReadReplica,
            Role::Candidate,
            Role::Unknown,
        ] {
            assert!(!r.word().is_empty() && r.glyph() != ' ');
        }
    }
}
