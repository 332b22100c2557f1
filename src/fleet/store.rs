//! The fleet as the dashboard and the headless commands hold it: orchestras with their
//! connection state, databases keyed by (orchestra, namespace, name) with their trimmed member
//! pods and latest probes, the derived state, the leader-change history, recent Kubernetes events,
//! and what operations create (StatefulSets, baton's Jobs, the operation Lease).
//! `Fleet::apply` folds one owned `FleetEvent` (sent by a source) into it; pure, no I/O, no clock:
//! every time comes in with an event.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::workload::{JobInfo, LeaseInfo, Part, StatefulSetInfo};
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
fn share_voters(probe: &mut Probe, members: &[Member]) {
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
    fn new(key: DbKey, profile: &str) -> Self {
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
    fn listed(&self) -> bool {
        !self.members.is_empty() || !self.statefulsets.is_empty()
    }

    /// Nothing is known about it any more.
    fn empty(&self) -> bool {
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
    /// What its identity may do (SelfSubjectAccessReviews), once the API server answered.
    pub access: Option<super::Access>,
}

/// Something a source saw. Owned data, sent over a channel; times are Unix ms.
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
    /// Probes of (some of) a database's members, answered or failed at `at_ms`.
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
    /// StatefulSets of one profile's databases in one orchestra; `complete` as for `Pods`.
    StatefulSets {
        orchestra: String,
        profile: String,
        sets: Vec<(DbRef, StatefulSetInfo)>,
        complete: bool,
    },
    StatefulSetGone {
        orchestra: String,
        db: DbRef,
        name: String,
    },
    /// baton's Jobs in one orchestra; `complete`: every one of them.
    Jobs {
        orchestra: String,
        jobs: Vec<(DbRef, JobInfo)>,
        complete: bool,
    },
    JobGone {
        orchestra: String,
        db: DbRef,
        name: String,
    },
    /// Operation Leases (`baton-op-<database>`) in one orchestra; `complete`: every one of them.
    OpLeases {
        orchestra: String,
        leases: Vec<(DbRef, LeaseInfo)>,
        complete: bool,
    },
    OpLeaseGone {
        orchestra: String,
        db: DbRef,
        name: String,
    },
    /// What the orchestra's identity may do, as its API server answered.
    Access {
        orchestra: String,
        access: super::Access,
    },
}

impl FleetEvent {
    /// May add or remove listed databases (views that index the database list rebuild it).
    pub fn may_change_databases(&self) -> bool {
        matches!(
            self,
            Self::Pods { .. }
                | Self::PodGone { .. }
                | Self::StatefulSets { .. }
                | Self::StatefulSetGone { .. }
        )
    }
}

/// The whole fleet.
#[derive(Debug, Clone, Default)]
pub struct Fleet {
    pub orchestras: BTreeMap<String, Orchestra>,
    /// The listed databases: those with pods or StatefulSets. Boxed: a map node has eleven
    /// slots, mostly half empty, and a `Database` inline is over 500 bytes.
    pub databases: BTreeMap<DbKey, Box<Database>>,
    /// Bumped on every change, so views can cache what they derive.
    pub generation: u64,
    lag_gate: u64,
    /// Node → zone per orchestra, stamped on members whenever either side arrives.
    zones: BTreeMap<String, HashMap<String, Arc<str>>>,
    /// Databases known only from baton's Jobs or an operation Lease (no pods, no StatefulSets):
    /// not listed; what is known waits here until the database shows up.
    unlisted: BTreeMap<DbKey, Box<Database>>,
}

impl Fleet {
    pub fn new(lag_gate: u64) -> Self {
        Self {
            lag_gate,
            ..Self::default()
        }
    }

    /// Folds one event in; returns whether anything changed.
    pub fn apply(&mut self, ev: FleetEvent) -> bool {
        let changed = match ev {
            FleetEvent::Connection { orchestra, state } => {
                let o = self
                    .orchestras
                    .entry(orchestra.clone())
                    .or_insert_with(|| Orchestra {
                        name: orchestra,
                        connection: Connection::Connecting,
                        access: None,
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
                let changed = match self.databases.get_mut(&key) {
                    Some(d) => {
                        let before = d.members.len();
                        d.members.retain(|m| m.pod.name != pod);
                        if d.members.len() != before {
                            d.rederive(lag_gate);
                            true
                        } else {
                            false
                        }
                    }
                    None => false,
                };
                self.settle(&key);
                changed
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
                for (pod, mut probe) in results {
                    share_voters(&mut probe, &d.members);
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
                    changed |= d.history.observe(at_ms, Some(&leader), d.state.term);
                }
                changed
            }
            FleetEvent::Access { orchestra, access } => match self.orchestras.get_mut(&orchestra) {
                Some(o) if o.access.as_ref() != Some(&access) => {
                    o.access = Some(access);
                    true
                }
                _ => false,
            },
            FleetEvent::Zones { orchestra, zones } => {
                // Interned once per node here; each member then takes a shared copy.
                let zones: HashMap<String, Arc<str>> = zones
                    .into_iter()
                    .map(|(node, zone)| (node, super::intern(&zone)))
                    .collect();
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
                        if let Some(z) = zones.get(&*m.pod.node)
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
            FleetEvent::StatefulSets {
                orchestra,
                profile,
                sets,
                complete,
            } => self.apply_parts(&orchestra, Some(&profile), sets, complete),
            FleetEvent::Jobs {
                orchestra,
                jobs,
                complete,
            } => self.apply_parts(&orchestra, None, jobs, complete),
            FleetEvent::OpLeases {
                orchestra,
                leases,
                complete,
            } => self.apply_parts(&orchestra, None, leases, complete),
            FleetEvent::StatefulSetGone {
                orchestra,
                db,
                name,
            } => self.remove_part::<StatefulSetInfo>(&DbKey::new(&orchestra, &db), &name),
            FleetEvent::JobGone {
                orchestra,
                db,
                name,
            } => self.remove_part::<JobInfo>(&DbKey::new(&orchestra, &db), &name),
            FleetEvent::OpLeaseGone {
                orchestra,
                db,
                name,
            } => self.remove_part::<LeaseInfo>(&DbKey::new(&orchestra, &db), &name),
        };
        if changed {
            self.generation += 1;
        }
        changed
    }

    /// The database `key`, listed or not; a new one starts unlisted (`settle` lists it).
    fn slot(&mut self, key: &DbKey) -> &mut Database {
        let map = if self.databases.contains_key(key) {
            &mut self.databases
        } else {
            &mut self.unlisted
        };
        map.entry(key.clone())
            .or_insert_with(|| Box::new(Database::new(key.clone(), "")))
    }

    fn find_mut(&mut self, key: &DbKey) -> Option<&mut Database> {
        match self.databases.get_mut(key) {
            Some(d) => Some(d),
            None => self.unlisted.get_mut(key).map(|d| &mut **d),
        }
    }

    /// Lists, unlists or forgets the database `key` after a change, as what is left says.
    fn settle(&mut self, key: &DbKey) {
        if let Some(d) = self.databases.get(key) {
            if d.empty() {
                self.databases.remove(key);
            } else if !d.listed()
                && let Some(d) = self.databases.remove(key)
            {
                self.unlisted.insert(key.clone(), d);
            }
        } else if let Some(d) = self.unlisted.get(key) {
            if d.empty() {
                self.unlisted.remove(key);
            } else if d.listed()
                && let Some(d) = self.unlisted.remove(key)
            {
                self.databases.insert(key.clone(), d);
            }
        }
    }

    /// Keys of every database of `orchestra`, listed or not.
    fn keys_of(&self, orchestra: &str) -> Vec<DbKey> {
        let range = orchestra_range(orchestra);
        self.databases
            .range(range.clone())
            .chain(self.unlisted.range(range))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Folds StatefulSets, Jobs or Leases of one orchestra. `profile`: the StatefulSets'
    /// profile, which a complete list covers (and names a database it brings); Jobs and Leases
    /// cover the whole orchestra.
    fn apply_parts<P: Part>(
        &mut self,
        orchestra: &str,
        profile: Option<&str>,
        items: Vec<(DbRef, P)>,
        complete: bool,
    ) -> bool {
        let mut touched: BTreeMap<DbKey, Vec<P>> = BTreeMap::new();
        for (db, item) in items {
            touched
                .entry(DbKey::new(orchestra, &db))
                .or_default()
                .push(item);
        }
        let mut changed = false;
        if complete {
            let none = BTreeSet::new();
            for key in self.keys_of(orchestra) {
                if touched.contains_key(&key) {
                    continue;
                }
                if let Some(d) = self.find_mut(&key)
                    && profile.is_none_or(|p| d.profile == p)
                {
                    changed |= P::keep(d, &none);
                }
                self.settle(&key);
            }
        }
        for (key, items) in touched {
            let d = self.slot(&key);
            if let Some(p) = profile
                && d.profile.is_empty()
            {
                d.profile = p.to_string();
            }
            if complete {
                let names: BTreeSet<&str> = items.iter().map(P::name).collect();
                changed |= P::keep(d, &names);
            }
            for item in items {
                changed |= item.put(d);
            }
            self.settle(&key);
        }
        changed
    }

    fn remove_part<P: Part>(&mut self, key: &DbKey, name: &str) -> bool {
        let changed = self.find_mut(key).is_some_and(|d| P::remove(d, name));
        self.settle(key);
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
            if let Some(z) = zones.and_then(|z| z.get(&*pod.node)) {
                pod.zone = z.clone();
            }
            touched
                .entry(DbKey::new(orchestra, &db))
                .or_default()
                .push(pod);
        }
        let mut changed = false;
        if complete {
            // Members of this orchestra and profile's databases that are not in the list are
            // gone (and so is a database left with nothing).
            let gone: Vec<DbKey> = self
                .databases
                .range(orchestra_range(orchestra))
                .filter(|(k, d)| {
                    d.profile == profile && !touched.contains_key(*k) && !d.members.is_empty()
                })
                .map(|(k, _)| k.clone())
                .collect();
            for k in gone {
                if let Some(d) = self.databases.get_mut(&k) {
                    d.members.clear();
                    d.rederive(lag_gate);
                }
                self.settle(&k);
                changed = true;
            }
        }
        for (key, pods) in touched {
            let d = self.slot(&key);
            if d.profile.is_empty() {
                d.profile = profile.to_string();
            }
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
                // Pushed one by one, three members would hold room for four (30 000 members:
                // ~3.5 MiB of slack).
                d.members.shrink_to_fit();
                d.rederive(lag_gate);
                changed = true;
            }
            self.settle(&key);
        }
        changed
    }

    /// Databases of one orchestra.
    pub fn databases_of<'a>(&'a self, orchestra: &str) -> impl Iterator<Item = &'a Database> {
        self.databases
            .range(orchestra_range(orchestra))
            .map(|(_, d)| &**d)
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

    /// A first complete picture: every orchestra answered (or failed), and every member of every
    /// live orchestra was probed (answered or failed) at least once.
    pub fn probed_once(&self) -> bool {
        self.orchestras.values().all(|o| {
            match o.connection {
                Connection::Connecting => false,
                Connection::Live => self
                    .databases_of(&o.name)
                    .all(|d| d.members.iter().all(|m| m.probed_ms.is_some())),
                // Answered, but nothing more will come in time.
                _ => true,
            }
        })
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
mod tests;
