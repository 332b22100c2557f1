//! The fleet as the dashboard and the headless commands hold it: orchestras with their
//! connection state, databases keyed by (orchestra, namespace, name) with their trimmed member
//! pods and latest probes, the derived state, the leader-change history, recent Kubernetes events,
//! and what operations create (StatefulSets, baton's Jobs, the operation Lease).
//! `Fleet::apply` folds one owned `FleetEvent` (sent by a source) into it; pure, no I/O, no clock:
//! every time comes in with an event.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::workload::{JobInfo, LeaseInfo, StatefulSetInfo};
use super::{HealthCounts, Probe};

mod objects;
mod parts;

use objects::share_voters;
pub use objects::{
    Connection, Database, DbKey, DbRef, EventLine, Member, Orchestra, PodInfo, STATIC_PHASE, clock,
};

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
    Events {
        key: DbKey,
        events: Vec<EventLine>,
    },
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
    /// Campaign records (ConfigMaps `baton-campaign-<name>`) in one orchestra; `complete`:
    /// every one of them.
    Campaigns {
        orchestra: String,
        campaigns: Vec<super::workload::CampaignInfo>,
        complete: bool,
    },
    CampaignGone {
        orchestra: String,
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
                        leases_listed: false,
                        jobs_listed: false,
                        sets_listed: BTreeSet::new(),
                        campaigns: BTreeMap::new(),
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
            } => {
                if complete
                    && let Some(o) = self.orchestras.get_mut(&orchestra)
                    && !o.sets_listed.contains(&profile)
                {
                    o.sets_listed.insert(profile.clone());
                }
                self.apply_parts(&orchestra, Some(&profile), sets, complete)
            }
            FleetEvent::Jobs {
                orchestra,
                jobs,
                complete,
            } => {
                if complete && let Some(o) = self.orchestras.get_mut(&orchestra) {
                    o.jobs_listed = true;
                }
                self.apply_parts(&orchestra, None, jobs, complete)
            }
            FleetEvent::OpLeases {
                orchestra,
                leases,
                complete,
            } => {
                if complete && let Some(o) = self.orchestras.get_mut(&orchestra) {
                    o.leases_listed = true;
                }
                self.apply_parts(&orchestra, None, leases, complete)
            }
            FleetEvent::Campaigns {
                orchestra,
                campaigns,
                complete,
            } => match self.orchestras.get_mut(&orchestra) {
                Some(o) => {
                    let before = o.campaigns.clone();
                    if complete {
                        o.campaigns.clear();
                    }
                    for c in campaigns {
                        o.campaigns.insert(c.name.clone(), c);
                    }
                    o.campaigns != before
                }
                None => false,
            },
            FleetEvent::CampaignGone { orchestra, name } => self
                .orchestras
                .get_mut(&orchestra)
                .is_some_and(|o| o.campaigns.remove(&name).is_some()),
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
