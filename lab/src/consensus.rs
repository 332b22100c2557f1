//! Raft for the lab's databases, with the `raft` crate (TiKV's raft-rs): one group per database,
//! one member per pod. A single driver task per group ticks its live members, carries their
//! messages through the lab's network (where partitions, delays and stalls are injected),
//! persists each member's log in its *volume* (which outlives the pod, like a PersistentVolume;
//! `wipe` gives a member an empty one), applies a steady write load, and records the truth:
//! when a leader existed, how many elections there were and how long the group was leaderless,
//! when a majority of voters was lost, and which writes failed.
//!
//! The state machine is a running SHA-256 over every applied entry (index, term, data), kept in
//! the volume with the applied index and carried in snapshots, so two members at the same applied
//! index have the same digest. Each start of a member's process is an *incarnation* (a lab-wide
//! counter) that carries the container's id and start time, so a restarted process is told apart
//! from the old one. A graceful stop of a leader hands leadership to a caught-up voter first.
//!
//! Membership changes the way raft-rs wants them: a member's id lives on its volume; an empty
//! volume where a member ran before is a new server with a fresh id, which starts with no log and
//! no configuration. The leader removes the member it replaced, takes the newcomer in as a
//! learner, which catches up by snapshot (every group's log starts at a snapshot past index 1, so
//! a newcomer can never replay the log from its start without the founding membership), and
//! promotes it to voter if its server is a primary. One change at a time; each member writes the
//! configuration to its volume as it applies the change, so snapshots always carry the
//! membership at their index. `restore` puts a stopped group back to a backup's state.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use raft::eraftpb::Message;
use raft::prelude::*;
use raft::{RawNode, StateRole};
use serde_json::Value;

use super::neo4j_system::ServerState;

/// How groups run.
#[derive(Debug, Clone, Copy)]
pub struct RaftSettings {
    pub tick: Duration,
    pub election_ticks: usize,
    pub heartbeat_ticks: usize,
    /// Writes per second proposed on each group's leader (0 = none).
    pub writes_per_second: f64,
}

impl Default for RaftSettings {
    fn default() -> Self {
        Self {
            tick: Duration::from_millis(100),
            election_ticks: 10,
            heartbeat_ticks: 2,
            writes_per_second: 5.0,
        }
    }
}

/// Member ids for servers that join with an empty volume (apart from the founding ids, which
/// come from the servers' names).
const FIRST_JOINER_ID: u64 = 1001;

/// A learner is promoted to voter once it is within this many entries of the leader's commit.
const LEARNER_SLACK: u64 = 16;

/// A member's persistent state (its PersistentVolume): the log and the applied state. The
/// running member writes through to it.
#[derive(Clone)]
struct Volume {
    /// The member id the server keeps on its volume (its server id).
    id: u64,
    storage: LabStorage,
    /// The uid of the PersistentVolumeClaim it belongs to, when the pod has one: a new claim
    /// (the old one deleted) is a new, empty volume.
    claim: Option<String>,
}

/// One start of a member's process, as the kubelet knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Process {
    /// The container's id (`containerd://…`), as in the pod's `status.containerStatuses`.
    pub container_id: String,
    /// When the container started (RFC 3339), as in `state.running.startedAt`.
    pub started_at: String,
    /// The uid of the PersistentVolumeClaim holding its volume, when its pod has one: a new
    /// claim (the old one deleted) is a new, empty volume.
    pub claim: Option<String>,
}

static INCARNATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// What a member is, as the status endpoints report it.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberStatus {
    pub id: u64,
    pub role: &'static str,
    pub term: u64,
    pub leader_id: u64,
    pub commit_index: u64,
    pub applied_index: u64,
    pub voters: Vec<u64>,
    pub learners: Vec<u64>,
    pub millis_since_leader_message: Option<u64>,
    pub commands_per_second: f64,
    pub live: bool,
    pub reachable: bool,
    /// (id, pod name, live and reachable, voter, leader) of every member of the group.
    pub peers: Vec<(u64, String, bool, bool, bool)>,
    /// `sha256:<hex>` of the state machine at `applied_index` (empty while down).
    pub state_digest: String,
    /// The running process: lab-wide incarnation number (0 while down) and the container.
    pub incarnation: u64,
    pub process: Process,
}

struct Member {
    pod: String,
    node: Option<RawNode<LabStorage>>,
    last_leader_message: Option<Instant>,
    applied_window: (Instant, u64, f64),
    /// The process that runs (or last ran) this member.
    incarnation: u64,
    process: Process,
    /// The member's server is meant to vote (a primary), not only follow (a secondary).
    voter: bool,
    /// (leader id or 0, term) as the member last saw them, for its process to wait on.
    seen: tokio::sync::watch::Sender<(u64, u64)>,
}

struct GroupState {
    /// The group's membership as the newest applied configuration has it.
    voters: Vec<u64>,
    learners: Vec<u64>,
    /// The index of the configuration change `voters` and `learners` come from.
    conf_index: u64,
    /// The membership the group was founded with (every founding volume starts from it).
    founding: (Vec<u64>, Vec<u64>),
    /// Members whose server was replaced (its pod now runs another member): they leave the
    /// group by a configuration change.
    retired: std::collections::BTreeSet<u64>,
    /// The next id for a member that joins with an empty volume.
    next_id: u64,
    /// Each server's state in the DBMS (Neo4j 5 server management), by member id; a server
    /// is known from its first start on.
    servers: BTreeMap<u64, ServerState>,
    /// How many servers the database's topology wants hosting it (primaries + secondaries).
    topology: usize,
    /// Boxed: a `Member` (its `RawNode`) is over a kilobyte, and a map node has room for
    /// eleven whatever the group's size.
    members: BTreeMap<u64, Box<Member>>,
    mailbox: Vec<(Instant, Message)>,
    partitioned: HashSet<u64>,
    stalled_until: HashMap<u64, Instant>,
    delay: HashMap<u64, Duration>,
    write_credit: f64,
    /// Ticks so far, and how many of them came at the calm pace.
    ticks: u64,
    calm_ticks: u64,
    /// When the write load was last credited.
    credited_at: Option<Instant>,
    seq: u64,
    // Truth.
    /// A live, reachable leader with a majority of voters up and connected: writes can commit.
    quorum: bool,
    /// A majority of voters is up and connected (the group can elect and commit).
    majority: bool,
    timeline: Vec<Value>,
    writes_ok: u64,
    writes_failed: u64,
    recent_failures: Vec<String>,
    last_leader: (u64, u64),
    /// The group has had a leader with quorum at least once (failures before that are start-up).
    ever_quorum: bool,
    /// Leader changes after the first leader, and leaderless time since the first leader.
    last_seen_leader: Option<(u64, u64)>,
    elections: u64,
    leaderless: Duration,
    leaderless_since: Option<Instant>,
    /// Losses of the voters' majority after it was first reached, and their time.
    ever_majority: bool,
    quorum_lost: u64,
    quorum_lost_time: Duration,
    quorum_lost_since: Option<Instant>,
}

struct Group {
    name: String,
    state: Mutex<GroupState>,
    /// Wakes the group's driver at once (a fault, a member starting or stopping, a command):
    /// a calm group that ticks slowly goes back to the full tick rate from this moment.
    wake: tokio::sync::Notify,
}

impl Group {
    fn lock(&self) -> MutexGuard<'_, GroupState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tells the driver that something changed that it must look at now.
    fn poke(&self) {
        self.wake.notify_one();
    }
}

/// What a step of a group's driver is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// A tick at the full rate.
    Tick,
    /// A tick at the calm pace.
    CalmTick,
    /// Woken by a change from outside: a step without a tick.
    Woken,
}

/// Every Raft group of the lab, the members' volumes, and the network between members.
pub struct Consensus {
    settings: RaftSettings,
    groups: Mutex<HashMap<String, Arc<Group>>>,
    volumes: Mutex<HashMap<String, Volume>>,
    /// pod key → (group, member id)
    pods: Mutex<HashMap<String, (String, u64)>>,
    /// Pods whose empty volume came from the lab's own `replace-member` control, which plays
    /// the operator: their new server is enabled and the old one deallocated and dropped
    /// without anyone asking (Aura's automation). Any other new server starts Free.
    automatic: Mutex<HashSet<String>>,
    started: Instant,
    logger: slog::Logger,
}

fn now_str() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Consensus {
    pub fn new(settings: RaftSettings) -> Arc<Self> {
        Arc::new(Self {
            settings,
            groups: Mutex::new(HashMap::new()),
            volumes: Mutex::new(HashMap::new()),
            pods: Mutex::new(HashMap::new()),
            automatic: Mutex::new(HashSet::new()),
            started: Instant::now(),
            logger: slog::Logger::root(slog::Discard, slog::o!()),
        })
    }

    fn group(&self, name: &str) -> Option<Arc<Group>> {
        self.groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// Brings a member of group `group` up in pod `pod_key` (orchestra/namespace/pod) with its
    /// volume, as one new process. Returns the process's incarnation (for `stop_member`).
    ///
    /// `id` is the member id the pod's server has by its name, `voters` and `learners` the
    /// membership its database is founded with (by the servers' names); `id` votes if it is
    /// among `voters`. The volume decides who the member is: one that has run keeps its id; an
    /// empty one of a founding member that never ran starts the group (see [`INIT_INDEX`]); any
    /// other empty volume is a new server: it gets a fresh id (unless its own was never used),
    /// starts with no log and no configuration, and the group's leader takes it in by
    /// configuration changes (a learner first, caught up by snapshot, then promoted to voter if
    /// it is meant to vote) and removes the member it replaced (see `manage_membership`).
    pub fn start_member(
        self: &Arc<Self>,
        group: &str,
        pod_key: &str,
        id: u64,
        voters: &[u64],
        learners: &[u64],
        process: Process,
    ) -> Result<u64, String> {
        let claim = process.claim.clone();
        let g = self.ensure_group(group, voters, learners);
        // The volumes stay locked until the member runs, so a restore (which needs every member
        // stopped) either sees it running or has finished replacing its volume before it starts.
        let mut vols = self.volumes.lock().unwrap_or_else(|p| p.into_inner());
        let previous = self
            .pods
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(pod_key)
            .filter(|(of, _)| of == group)
            .map(|(_, id)| *id);
        let automatic = self
            .automatic
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(pod_key);
        let (volume, bootstrap) = match vols.get(pod_key) {
            // A volume from before the pod had a claim is adopted by it.
            Some(v) if claim.is_none() || v.claim.is_none() || v.claim == claim => {
                let mut v = v.clone();
                if v.claim.is_none() {
                    v.claim = claim.clone();
                    vols.insert(pod_key.to_string(), v.clone());
                }
                (v, false)
            }
            _ => {
                let mut st = g.lock();
                let used = |st: &GroupState, i: u64| {
                    st.members.contains_key(&i)
                        || st.servers.contains_key(&i)
                        || st.retired.contains(&i)
                        || st.voters.contains(&i)
                        || st.learners.contains(&i)
                };
                let founding = (st.founding.0.contains(&id) || st.founding.1.contains(&id))
                    && !st.members.contains_key(&id)
                    && !st.servers.contains_key(&id)
                    && !st.retired.contains(&id);
                let v = if founding {
                    Volume {
                        id,
                        storage: LabStorage::founding(group, &st.founding.0, &st.founding.1),
                        claim: claim.clone(),
                    }
                } else {
                    let mut new_id = id;
                    while used(&st, new_id) {
                        new_id = st.next_id.max(FIRST_JOINER_ID);
                        st.next_id = new_id + 1;
                    }
                    Volume {
                        id: new_id,
                        storage: LabStorage::joining(group),
                        claim: claim.clone(),
                    }
                };
                // A founding server is enabled from the start; a new one is Free until someone
                // enables it (ENABLE SERVER), unless the lab's own control replaces the member:
                // then it is enabled and the member this pod ran before leaves the group.
                let state = if founding || automatic {
                    ServerState::Enabled
                } else {
                    ServerState::Free
                };
                st.servers.insert(v.id, state);
                if automatic && let Some(old) = previous.filter(|old| *old != v.id) {
                    st.retired.insert(old);
                    st.servers.insert(old, ServerState::Deallocating);
                }
                // A founding voter's first start (see `forms_now` below).
                let bootstrap = founding && st.founding.0.contains(&id);
                vols.insert(pod_key.to_string(), v.clone());
                (v, bootstrap)
            }
        };
        // A primary's server votes, whatever id its volume gave it.
        let wants_vote = voters.contains(&id);
        let id = volume.id;
        let applied = volume.storage.applied().index;
        let cfg = Config {
            id,
            election_tick: self.settings.election_ticks,
            heartbeat_tick: self.settings.heartbeat_ticks,
            applied,
            check_quorum: true,
            pre_vote: true,
            max_size_per_msg: 1 << 20,
            max_inflight_msgs: 256,
            ..Default::default()
        };
        let node = RawNode::new(&cfg, volume.storage.clone(), &self.logger)
            .map_err(|e| format!("raft member {id} of {group}: {e}"))?;
        let incarnation = INCARNATION.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let pod = pod_key.rsplit('/').next().unwrap_or(pod_key).to_string();
        let mut st = g.lock();
        st.members.insert(
            id,
            Box::new(Member {
                pod,
                node: Some(node),
                last_leader_message: None,
                applied_window: (Instant::now(), applied, 0.0),
                incarnation,
                process,
                voter: wants_vote,
                seen: tokio::sync::watch::Sender::new((0, 0)),
            }),
        );
        // A brand-new database forms once a majority of its founding voters runs, as a Neo4j
        // cluster forms once enough primaries have found each other: the voter whose start makes
        // that majority stands for election at once (its peers are there to answer), instead of
        // the group waiting out an election timeout (a candidate alone gets no answer).
        if bootstrap
            && !st.ever_quorum
            && Self::forms_now(&st)
            && let Some(n) = st.members.get_mut(&id).and_then(|m| m.node.as_mut())
        {
            let _ = n.campaign();
        }
        drop(st);
        g.poke();
        self.pods
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(pod_key.to_string(), (group.to_string(), id));
        drop(vols);
        Ok(incarnation)
    }

    /// Whether the founding voters running now are a majority that the last one to start made.
    fn forms_now(st: &GroupState) -> bool {
        let voters = &st.founding.0;
        let up = voters
            .iter()
            .filter(|v| st.members.get(v).is_some_and(|m| m.node.is_some()))
            .count();
        up * 2 > voters.len() && (up - 1) * 2 <= voters.len()
    }

    /// Takes the member in `pod_key` down if incarnation `incarnation` still runs it (a newer
    /// process of the same pod is left alone); its volume stays.
    pub fn stop_member(&self, pod_key: &str, incarnation: u64) {
        let Ok((g, _)) = self.locate(pod_key) else {
            return;
        };
        let mut st = g.lock();
        // By incarnation: the pod may run another member by now (a replacement).
        if let Some(m) = st
            .members
            .values_mut()
            .find(|m| m.incarnation == incarnation)
        {
            // The volume already holds the log and the applied state (written through).
            m.node = None;
            m.last_leader_message = None;
        }
        drop(st);
        g.poke();
    }

    /// Before a graceful stop: if incarnation `incarnation` of the member in `pod_key` leads its
    /// group, asks Raft to hand leadership to the voter it knows to be most caught up among
    /// those that answered recently (raft-rs `transfer_leader`: the leader stops taking writes,
    /// brings the transferee up to date and tells it to start an election at once). Returns the
    /// transferee, or `None` when there is nothing to hand over.
    pub fn hand_over(&self, pod_key: &str, incarnation: u64) -> Option<u64> {
        let (g, id) = self.locate(pod_key).ok()?;
        let mut st = g.lock();
        let voters = st.voters.clone();
        let m = st.members.get_mut(&id)?;
        if m.incarnation != incarnation {
            return None;
        }
        let n = m.node.as_mut()?;
        if n.raft.state != StateRole::Leader {
            return None;
        }
        let (_, to) = voters
            .iter()
            .filter(|v| **v != id)
            .filter_map(|v| {
                let pr = n.raft.prs().get(*v)?;
                pr.recent_active
                    .then_some((pr.matched, std::cmp::Reverse(*v)))
            })
            .max()?;
        n.transfer_leader(to.0);
        drop(st);
        g.poke();
        Some(to.0)
    }

    /// How long an election takes to start when a leader goes silent.
    pub fn election_timeout(&self) -> Duration {
        self.settings.tick * self.settings.election_ticks as u32
    }

    /// How often a member's process looks at its own state (readiness, log lines).
    pub fn poll_interval(&self) -> Duration {
        self.settings.tick.max(Duration::from_millis(200))
    }

    /// (member id, leader id or 0, term) of the member in `pod_key`: the cheap part of `status`.
    pub fn leader_seen(&self, pod_key: &str) -> Option<(u64, u64, u64)> {
        let (g, id) = self.locate(pod_key).ok()?;
        let st = g.lock();
        let n = st.members.get(&id)?.node.as_ref()?;
        Some((id, n.raft.leader_id, n.raft.term))
    }

    /// Changes of (leader id or 0, term) as incarnation `incarnation` of the member in `pod_key`
    /// sees them, so its process reacts when they change instead of polling; the channel
    /// closes when another process takes the member's place.
    pub fn watch_leader(
        &self,
        pod_key: &str,
        incarnation: u64,
    ) -> Option<tokio::sync::watch::Receiver<(u64, u64)>> {
        let (g, id) = self.locate(pod_key).ok()?;
        let st = g.lock();
        let m = st
            .members
            .get(&id)
            .filter(|m| m.incarnation == incarnation)?;
        let mut rx = m.seen.subscribe();
        // The process looks at once, then on every change.
        rx.mark_changed();
        Some(rx)
    }
}

mod apply;
mod calm;
mod driver;
mod faults;
mod membership;
mod report;
mod restore;
mod storage;
use storage::{INIT_INDEX, INIT_TERM, LabStorage};
pub use storage::{RestorePoint, RestoredVolume, parse_digest};
#[cfg(test)]
mod tests;
