//! The fleet as the dashboard holds it: orchestras with their connection state, databases keyed
//! by (orchestra, namespace, name) with their trimmed member pods and latest probes, the derived
//! state, the leader-change history and recent Kubernetes events of each database.
//! `Fleet::apply` folds one owned `FleetEvent` (sent by a source) into it; pure, no I/O.

use std::collections::{BTreeMap, HashMap};

use super::{DatabaseState, HealthCounts, LeaderHistory, MemberInput, Probe, derive};

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

/// Now, in milliseconds since the Unix epoch (the unit of every time in the fleet).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
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
    pub phase: String,
    pub restarts: u32,
    pub node: String,
    pub zone: String,
    /// Pod IP, or for a static inventory member its base URL.
    pub ip: String,
    pub image: String,
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

/// One Kubernetes Event about a database's objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLine {
    pub at_ms: u64,
    pub kind: String,
    pub reason: String,
    pub object: String,
    pub message: String,
}

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
}

impl Database {
    fn new(key: DbKey, profile: &str) -> Self {
        Self {
            key,
            profile: profile.into(),
            members: Vec::new(),
            state: derive(&[], 0),
            history: LeaderHistory::default(),
            events: Vec::new(),
            probed_ms: None,
        }
    }

    /// The version most members run (the first member's when they differ).
    pub fn version(&self) -> &str {
        self.members.first().map(|m| m.pod.version()).unwrap_or("")
    }

    pub fn ready(&self) -> usize {
        self.members.iter().filter(|m| m.pod.ready).count()
    }

    fn rederive(&mut self, lag_gate: u64) {
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
}

/// Something a source saw. Owned data, sent over a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FleetEvent {
    /// An orchestra's connection changed (also declares the orchestra).
    Connection {
        orchestra: String,
        state: Connection,
    },
    /// Pods of one profile in one orchestra. `complete`: this is every such pod (a fresh list or
    /// relist) and databases or members not in it are gone.
    Pods {
        orchestra: String,
        profile: String,
        pods: Vec<(DbRef, PodInfo)>,
        complete: bool,
    },
    /// A pod was deleted.
    PodGone {
        orchestra: String,
        db: DbRef,
        pod: String,
    },
    /// Probes of (some of) a database's members.
    Probed {
        orchestra: String,
        db: DbRef,
        results: Vec<(String, Probe)>,
        at_ms: u64,
    },
    /// Recent events of a database (replaces what was there).
    Events { key: DbKey, events: Vec<EventLine> },
    /// Node → zone of an orchestra (every node list; the same list again is no change).
    Zones {
        orchestra: String,
        zones: HashMap<String, String>,
    },
}

/// The whole fleet.
#[derive(Debug, Clone, Default)]
pub struct Fleet {
    pub orchestras: BTreeMap<String, Orchestra>,
    pub databases: BTreeMap<DbKey, Database>,
    /// Bumped on every change, so views can cache what they derive.
    pub generation: u64,
    lag_gate: u64,
    /// Node → zone per orchestra, stamped on members whenever either side arrives.
    zones: BTreeMap<String, HashMap<String, String>>,
}

impl Fleet {
    pub fn new(lag_gate: u64) -> Self {
        Self {
            lag_gate,
            ..Self::default()
        }
    }

    /// Folds one event in; returns whether anything changed. `now_ms` stamps leader changes.
    pub fn apply(&mut self, ev: FleetEvent, now_ms: u64) -> bool {
        let changed = match ev {
            FleetEvent::Connection { orchestra, state } => {
                let o = self
                    .orchestras
                    .entry(orchestra.clone())
                    .or_insert_with(|| Orchestra {
                        name: orchestra,
                        connection: Connection::Connecting,
                    });
                if o.connection == state {
                    false
                } else {
                    // Stale keeps the time it first went stale.
                    if let (Connection::Stale { .. }, Connection::Stale { .. }) =
                        (&o.connection, &state)
                    {
                        return false;
                    }
                    o.connection = state;
                    true
                }
            }
            FleetEvent::Pods {
                orchestra,
                profile,
                pods,
                complete,
            } => self.apply_pods(&orchestra, &profile, pods, complete),
            FleetEvent::PodGone { orchestra, db, pod } => {
                let key = DbKey::new(&orchestra, &db);
                let lag_gate = self.lag_gate;
                match self.databases.get_mut(&key) {
                    Some(d) => {
                        let before = d.members.len();
                        d.members.retain(|m| m.pod.name != pod);
                        if d.members.is_empty() {
                            self.databases.remove(&key);
                            true
                        } else if d.members.len() != before {
                            d.rederive(lag_gate);
                            true
                        } else {
                            false
                        }
                    }
                    None => false,
                }
            }
            FleetEvent::Probed {
                orchestra,
                db,
                results,
                at_ms,
            } => {
                let key = DbKey::new(&orchestra, &db);
                let lag_gate = self.lag_gate;
                let Some(d) = self.databases.get_mut(&key) else {
                    return false;
                };
                // Only a different answer is a change: the same answers again move the probe
                // times but not the generation, so an idle fleet costs the views nothing.
                let mut changed = d.probed_ms.is_none();
                for (pod, probe) in results {
                    if let Some(m) = d.members.iter_mut().find(|m| m.pod.name == pod) {
                        changed |= !m.probe.same_answer(&probe);
                        m.probe = probe;
                        m.probed_ms = Some(at_ms);
                    }
                }
                d.probed_ms = Some(at_ms);
                if changed {
                    d.rederive(lag_gate);
                }
                if let Some(leader) = d.state.leader.clone() {
                    changed |= d.history.observe(now_ms, Some(&leader), d.state.term);
                }
                changed
            }
            FleetEvent::Zones { orchestra, zones } => {
                if self.zones.get(&orchestra) == Some(&zones) {
                    return false;
                }
                let mut changed = false;
                for d in self
                    .databases
                    .range_mut(orchestra_range(&orchestra))
                    .map(|(_, d)| d)
                {
                    for m in &mut d.members {
                        if let Some(z) = zones.get(&m.pod.node)
                            && *z != m.pod.zone
                        {
                            m.pod.zone = z.clone();
                            changed = true;
                        }
                    }
                }
                self.zones.insert(orchestra, zones);
                changed
            }
            FleetEvent::Events { key, events } => match self.databases.get_mut(&key) {
                Some(d) if d.events != events => {
                    d.events = events;
                    true
                }
                _ => false,
            },
        };
        if changed {
            self.generation += 1;
        }
        changed
    }

    fn apply_pods(
        &mut self,
        orchestra: &str,
        profile: &str,
        pods: Vec<(DbRef, PodInfo)>,
        complete: bool,
    ) -> bool {
        let lag_gate = self.lag_gate;
        let mut touched: BTreeMap<DbKey, Vec<PodInfo>> = BTreeMap::new();
        let zones = self.zones.get(orchestra);
        for (db, mut pod) in pods {
            if let Some(z) = zones.and_then(|z| z.get(&pod.node)) {
                pod.zone = z.clone();
            }
            touched
                .entry(DbKey::new(orchestra, &db))
                .or_default()
                .push(pod);
        }
        let mut changed = false;
        if complete {
            // Databases of this orchestra and profile that are not in the list are gone.
            let gone: Vec<DbKey> = self
                .databases
                .range(orchestra_range(orchestra))
                .filter(|(k, d)| d.profile == profile && !touched.contains_key(*k))
                .map(|(k, _)| k.clone())
                .collect();
            for k in gone {
                self.databases.remove(&k);
                changed = true;
            }
        }
        for (key, pods) in touched {
            let d = self
                .databases
                .entry(key.clone())
                .or_insert_with(|| Database::new(key, profile));
            let mut db_changed = false;
            if complete {
                let before = d.members.len();
                d.members
                    .retain(|m| pods.iter().any(|p| p.name == m.pod.name));
                db_changed |= d.members.len() != before;
            }
            for pod in pods {
                match d.members.iter_mut().find(|m| m.pod.name == pod.name) {
                    Some(m) if m.pod == pod => {}
                    Some(m) => {
                        m.pod = pod;
                        db_changed = true;
                    }
                    None => {
                        d.members.push(Member {
                            pod,
                            probe: Probe::Pending,
                            probed_ms: None,
                        });
                        db_changed = true;
                    }
                }
            }
            if db_changed {
                d.members.sort_by(|a, b| a.pod.name.cmp(&b.pod.name));
                d.rederive(lag_gate);
                changed = true;
            }
        }
        changed
    }

    /// Databases of one orchestra.
    pub fn databases_of<'a>(&'a self, orchestra: &str) -> impl Iterator<Item = &'a Database> {
        self.databases
            .range(orchestra_range(orchestra))
            .map(|(_, d)| d)
    }

    /// Health counts of one orchestra's databases.
    pub fn counts(&self, orchestra: &str) -> HealthCounts {
        self.databases_of(orchestra)
            .map(|d| d.state.health)
            .collect()
    }

    /// Health counts of the whole fleet.
    pub fn fleet_counts(&self) -> HealthCounts {
        self.databases.values().map(|d| d.state.health).collect()
    }

    pub fn member_count(&self) -> usize {
        self.databases.values().map(|d| d.members.len()).sum()
    }
}

fn orchestra_range(orchestra: &str) -> std::ops::RangeInclusive<DbKey> {
    let lo = DbKey {
        orchestra: orchestra.into(),
        namespace: String::new(),
        name: String::new(),
    };
    // Namespaces and names are DNS labels: '\u{10FFFF}' sorts after all of them.
    let hi = DbKey {
        orchestra: orchestra.into(),
        namespace: "\u{10FFFF}".into(),
        name: String::new(),
    };
    lo..=hi
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::{Health, ProbeReport, Role};

    fn pod(name: &str) -> PodInfo {
        PodInfo {
            name: name.into(),
            ready: true,
            phase: "Running".into(),
            node: "n1".into(),
            image: "neo4j:5.26.0-enterprise".into(),
            ..PodInfo::default()
        }
    }

    fn db(name: &str) -> DbRef {
        DbRef {
            namespace: "ns".into(),
            name: name.into(),
        }
    }

    fn pods(orchestra: &str, list: &[(&str, &str)], complete: bool) -> FleetEvent {
        FleetEvent::Pods {
            orchestra: orchestra.into(),
            profile: "neo4j".into(),
            pods: list.iter().map(|(d, p)| (db(d), pod(p))).collect(),
            complete,
        }
    }

    fn report(id: &str, leader: &str, applied: u64) -> Probe {
        Probe::Ok(ProbeReport {
            member_id: id.into(),
            leader_id: Some(leader.into()),
            is_leader: id == leader,
            applied_index: Some(applied),
            voter: true,
            healthy: true,
            ..ProbeReport::default()
        })
    }

    fn probed(d: &str, leader: &str) -> FleetEvent {
        FleetEvent::Probed {
            orchestra: "o1".into(),
            db: db(d),
            results: ["a-0", "a-1", "a-2"]
                .iter()
                .map(|p| (p.to_string(), report(p, leader, 10)))
                .collect(),
            at_ms: 1,
        }
    }

    #[test]
    fn relist_replaces_without_ghosts_or_duplicates() {
        let mut f = Fleet::new(100);
        f.apply(
            FleetEvent::Connection {
                orchestra: "o1".into(),
                state: Connection::Live,
            },
            0,
        );
        f.apply(
            pods("o1", &[("a", "a-0"), ("a", "a-1"), ("b", "b-0")], true),
            0,
        );
        f.apply(pods("o2", &[("a", "a-0")], true), 0);
        assert_eq!(f.databases.len(), 3);
        // An update of one pod does not duplicate it.
        f.apply(pods("o1", &[("a", "a-1")], false), 0);
        assert_eq!(f.databases_of("o1").count(), 2);
        assert_eq!(f.member_count(), 4);
        // A relist without b and a-1 removes them, in o1 only.
        f.apply(pods("o1", &[("a", "a-0"), ("c", "c-0")], true), 0);
        let names: Vec<&str> = f.databases_of("o1").map(|d| d.key.name.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        assert_eq!(f.databases_of("o2").count(), 1);
        assert_eq!(f.member_count(), 3);
        // Deleting the last pod removes the database.
        f.apply(
            FleetEvent::PodGone {
                orchestra: "o1".into(),
                db: db("c"),
                pod: "c-0".into(),
            },
            0,
        );
        assert_eq!(f.databases_of("o1").count(), 1);
    }

    #[test]
    fn probes_derive_roles_and_leader_history() {
        let mut f = Fleet::new(100);
        f.apply(
            pods("o1", &[("a", "a-0"), ("a", "a-1"), ("a", "a-2")], true),
            0,
        );
        let k = DbKey::new("o1", &db("a"));
        assert_eq!(f.databases[&k].state.health, Health::Unknown);
        f.apply(probed("a", "a-0"), 1_000);
        let d = &f.databases[&k];
        assert_eq!(d.state.leader.as_deref(), Some("a-0"));
        assert_eq!(d.state.members[0].role, Role::Leader);
        assert_eq!(d.state.health, Health::Healthy);
        assert!(d.history.changes.is_empty());
        // The leader's pod goes; a fresh pod comes back pending; the next probe finds a-2 leading.
        f.apply(
            FleetEvent::PodGone {
                orchestra: "o1".into(),
                db: db("a"),
                pod: "a-0".into(),
            },
            2_000,
        );
        assert_eq!(f.databases[&k].state.leader, None);
        f.apply(probed("a", "a-2"), 3_000);
        let d = &f.databases[&k];
        assert_eq!(d.state.leader.as_deref(), Some("a-2"));
        assert_eq!(d.history.changes.len(), 1);
        assert_eq!(d.history.changes[0].from.as_deref(), Some("a-0"));
        assert_eq!(d.history.changes[0].to.as_deref(), Some("a-2"));
        assert_eq!(f.counts("o1").total(), 1);
        // The same answers again are not a change (nor is a timing field that moves on every
        // probe): the generation stays.
        let g = f.generation;
        assert!(!f.apply(probed("a", "a-2"), 4_000));
        let FleetEvent::Probed { mut results, .. } = probed("a", "a-2") else {
            unreachable!()
        };
        if let Probe::Ok(r) = &mut results[0].1 {
            r.millis_since_leader_message = Some(123);
        }
        let again = FleetEvent::Probed {
            orchestra: "o1".into(),
            db: db("a"),
            results,
            at_ms: 5,
        };
        assert!(!f.apply(again, 5_000));
        assert_eq!(f.generation, g);
        assert!(
            f.apply(probed("a", "a-1"), 6_000),
            "a new leader is a change"
        );
    }

    #[test]
    fn zones_reach_members_listed_before_the_nodes() {
        let mut f = Fleet::new(100);
        f.apply(pods("o1", &[("a", "a-0")], true), 0);
        let k = DbKey::new("o1", &db("a"));
        let node = f.databases[&k].members[0].pod.node.clone();
        let zones = std::collections::HashMap::from([(node, "zone-a".to_string())]);
        let ev = |o: &str| FleetEvent::Zones {
            orchestra: o.into(),
            zones: zones.clone(),
        };
        assert!(!f.apply(ev("o2"), 0), "another orchestra's nodes");
        assert!(f.apply(ev("o1"), 0));
        assert_eq!(f.databases[&k].members[0].pod.zone, "zone-a");
        assert!(!f.apply(ev("o1"), 0), "same zones again");
        // Pods listed after the nodes get their zone too.
        f.apply(pods("o1", &[("a", "a-0"), ("a", "a-1")], true), 0);
        assert!(
            f.databases[&k]
                .members
                .iter()
                .all(|m| m.pod.zone == "zone-a")
        );
    }

    #[test]
    fn stale_keeps_its_first_time() {
        let mut f = Fleet::new(100);
        let stale = |t| FleetEvent::Connection {
            orchestra: "o1".into(),
            state: Connection::Stale {
                since_ms: t,
                reason: "x".into(),
            },
        };
        assert!(f.apply(stale(5_000), 0));
        assert!(!f.apply(stale(9_000), 0));
        assert_eq!(
            f.orchestras["o1"].connection.describe(),
            "stale since 00:00:05: x"
        );
    }
}
