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

use raft::eraftpb::{Message, MessageType};
use raft::prelude::*;
use raft::storage::MemStorage;
use raft::{GetEntriesContext, RawNode, StateRole, StorageError};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

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

/// What a member has applied: the index and the state machine's digest at that index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Applied {
    index: u64,
    digest: [u8; 32],
}

impl Applied {
    /// The state of an empty member of `group` (before index 1).
    fn empty(group: &str) -> Self {
        Self {
            index: 0,
            digest: Sha256::digest(format!("baton-lab-state/{group}").as_bytes()).into(),
        }
    }

    /// Applies one committed entry (entries at or below the applied index are already in).
    fn apply(&mut self, e: &Entry) {
        if e.index <= self.index {
            return;
        }
        let mut h = Sha256::new();
        h.update(self.digest);
        h.update(e.index.to_le_bytes());
        h.update(e.term.to_le_bytes());
        h.update(e.get_data());
        self.digest = h.finalize().into();
        self.index = e.index;
    }

    fn hex(&self) -> String {
        let hex: String = self.digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }
}

/// How many applied indexes a member remembers the state digest of (for `digest_at`).
const RECENT_DIGESTS: usize = 1024;

/// Where every group's log starts: its founding members begin from a snapshot at this index
/// and term that carries the founding membership. No leader can then send anyone entries from
/// index 1, so a member that joins later with an empty volume (and an empty configuration, as
/// raft-rs wants of new members) always catches up by snapshot first and learns the membership
/// from it; replaying the log from index 1 with an empty configuration would apply the first
/// configuration change to nothing (raft-rs refuses: "removed all voters") or make the newcomer
/// a group of its own. (TiKV starts its groups the same way.)
const INIT_INDEX: u64 = 1;
const INIT_TERM: u64 = 1;

/// Member ids for servers that join with an empty volume (apart from the founding ids, which
/// come from the servers' names).
const FIRST_JOINER_ID: u64 = 1001;

/// A learner is promoted to voter once it is within this many entries of the leader's commit.
const LEARNER_SLACK: u64 = 16;

/// A member's state machine: what it has applied, and the digests at its last applied indexes
/// (since it last took its state whole, from a snapshot or a restore).
struct StateMachine {
    applied: Applied,
    recent: std::collections::VecDeque<Applied>,
}

impl StateMachine {
    fn at(a: Applied) -> Self {
        Self {
            applied: a,
            recent: std::collections::VecDeque::from([a]),
        }
    }

    /// Applies one committed entry (entries at or below the applied index are already in).
    fn apply(&mut self, e: &Entry) {
        if e.index <= self.applied.index {
            return;
        }
        self.applied.apply(e);
        if self.recent.len() >= RECENT_DIGESTS {
            self.recent.pop_front();
        }
        self.recent.push_back(self.applied);
    }

    /// The state digest at `index`, if it is one of the recent applied indexes.
    fn digest_at(&self, index: u64) -> Option<Applied> {
        let first = self.recent.front()?.index;
        let at = self
            .recent
            .get(usize::try_from(index.checked_sub(first)?).ok()?)?;
        (at.index == index).then_some(*at)
    }
}

/// A member's storage: the Raft log (raft-rs's `MemStorage`) and the applied state beside it.
/// Snapshots it serves carry the state digest at the applied index, so a member that catches up
/// from a snapshot has the same state as the one that sent it.
#[derive(Clone)]
struct LabStorage {
    log: MemStorage,
    state: Arc<Mutex<StateMachine>>,
}

impl LabStorage {
    fn new(log: MemStorage, applied: Applied) -> Self {
        Self {
            log,
            state: Arc::new(Mutex::new(StateMachine::at(applied))),
        }
    }

    fn machine(&self) -> MutexGuard<'_, StateMachine> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn applied(&self) -> Applied {
        self.machine().applied
    }

    /// The state is now `a`, taken whole (a snapshot or a restore): no history before it.
    fn set_applied(&self, a: Applied) {
        *self.machine() = StateMachine::at(a);
    }

    /// A founding member's empty volume: the group's start (see [`INIT_INDEX`]).
    fn founding(group: &str, voters: &[u64], learners: &[u64]) -> Self {
        let log = MemStorage::new();
        let empty = Applied::empty(group);
        let mut snap = Snapshot {
            data: empty.digest.to_vec().into(),
            ..Default::default()
        };
        let meta = snap.mut_metadata();
        meta.index = INIT_INDEX;
        meta.term = INIT_TERM;
        meta.mut_conf_state().voters = voters.to_vec();
        meta.mut_conf_state().learners = learners.to_vec();
        // An empty log always takes a snapshot past its first index.
        let _ = log.wl().apply_snapshot(snap);
        Self::new(
            log,
            Applied {
                index: INIT_INDEX,
                digest: empty.digest,
            },
        )
    }

    /// A joining member's empty volume: no log and no configuration; it learns both from the
    /// leader's snapshot once the group has taken it in as a learner.
    fn joining(group: &str) -> Self {
        Self::new(MemStorage::new(), Applied::empty(group))
    }

    /// A volume as `neo4j-admin database restore` leaves it: the state at `point` and a log
    /// that starts right after it (a snapshot at the point, with the group's membership).
    fn restored(point: &RestorePoint, voters: &[u64], learners: &[u64]) -> Result<Self, String> {
        let applied = Applied {
            index: point.index,
            digest: point.digest,
        };
        let log = MemStorage::new();
        let mut snap = Snapshot {
            data: point.digest.to_vec().into(),
            ..Default::default()
        };
        let meta = snap.mut_metadata();
        meta.index = point.index;
        meta.term = point.term;
        meta.mut_conf_state().voters = voters.to_vec();
        meta.mut_conf_state().learners = learners.to_vec();
        log.wl()
            .apply_snapshot(snap)
            .map_err(|e| format!("cannot write the restored log: {e}"))?;
        log.wl().mut_hard_state().term = point.term;
        Ok(Self::new(log, applied))
    }
}

/// Where a restore puts a database: the state a backup recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestorePoint {
    /// The applied index the backup was taken at.
    pub index: u64,
    /// The term the backup recorded (the restored log's term; elections go on from it).
    pub term: u64,
    /// The state machine's digest at `index`.
    pub digest: [u8; 32],
}

/// Reads a `sha256:<64 hex digits>` state digest.
pub fn parse_digest(text: &str) -> Option<[u8; 32]> {
    let hex = text.strip_prefix("sha256:")?;
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// One member's volume that a restore replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredVolume {
    /// The pod whose volume it is (the pod name).
    pub pod: String,
    pub id: u64,
    /// Whether the member had a volume before (false: it never ran, or was given an empty one).
    pub replaced: bool,
}

impl raft::Storage for LabStorage {
    fn initial_state(&self) -> raft::Result<RaftState> {
        self.log.initial_state()
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        self.log.entries(low, high, max_size, context)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        self.log.term(idx)
    }

    fn first_index(&self) -> raft::Result<u64> {
        self.log.first_index()
    }

    fn last_index(&self) -> raft::Result<u64> {
        self.log.last_index()
    }

    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        let applied = self.applied();
        let unavailable = || raft::Error::Store(StorageError::SnapshotTemporarilyUnavailable);
        if applied.index < request_index || applied.index == 0 {
            return Err(unavailable());
        }
        let term = self.log.term(applied.index).map_err(|_| unavailable())?;
        let mut snap = Snapshot {
            data: applied.digest.to_vec().into(),
            ..Default::default()
        };
        let meta = snap.mut_metadata();
        meta.index = applied.index;
        meta.term = term;
        meta.set_conf_state(self.log.initial_state()?.conf_state);
        Ok(snap)
    }
}

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

    /// The group `name` with its voters and learners, created (with its driver) on first use.
    fn ensure_group(self: &Arc<Self>, name: &str, voters: &[u64], learners: &[u64]) -> Arc<Group> {
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(g) = groups.get(name) {
            return g.clone();
        }
        let g = Arc::new(Group {
            name: name.to_string(),
            wake: tokio::sync::Notify::new(),
            state: Mutex::new(GroupState {
                voters: voters.to_vec(),
                learners: learners.to_vec(),
                conf_index: 0,
                founding: (voters.to_vec(), learners.to_vec()),
                retired: Default::default(),
                next_id: FIRST_JOINER_ID,
                servers: BTreeMap::new(),
                topology: voters.len() + learners.len(),
                members: BTreeMap::new(),
                mailbox: Vec::new(),
                partitioned: HashSet::new(),
                stalled_until: HashMap::new(),
                delay: HashMap::new(),
                write_credit: 0.0,
                ticks: 0,
                calm_ticks: 0,
                credited_at: None,
                seq: 0,
                quorum: false,
                majority: false,
                timeline: vec![json!({"at": now_str(), "quorum": false, "why": "group created"})],
                writes_ok: 0,
                writes_failed: 0,
                recent_failures: Vec::new(),
                last_leader: (0, 0),
                ever_quorum: false,
                last_seen_leader: None,
                elections: 0,
                leaderless: Duration::ZERO,
                leaderless_since: None,
                ever_majority: false,
                quorum_lost: 0,
                quorum_lost_time: Duration::ZERO,
                quorum_lost_since: None,
            }),
        });
        groups.insert(name.to_string(), g.clone());
        let me = Arc::downgrade(self);
        let driver = g.clone();
        let tick = self.settings.tick;
        let calm_tick = (tick * CALM_SLOWDOWN).min(CALM_TICK_MAX).max(tick);
        tokio::spawn(async move {
            // Busy: one tick every `tick`, as a steady clock (missed ticks skipped). Calm: one
            // every `calm_tick`. Woken: a step without a tick at once, then the busy rate.
            let mut next = tokio::time::Instant::now() + tick;
            let mut step = Step::Tick;
            // The next tick comes at the calm pace.
            let mut calm_next = false;
            loop {
                let Some(c) = me.upgrade() else { return };
                let ticking = step != Step::Woken;
                // raft-rs panics on broken invariants; keep the rest of the lab running.
                let calm = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    c.drive(&driver, step)
                })) {
                    Ok(calm) => calm,
                    Err(_) => {
                        tracing::error!(group = %driver.name, "lab: a Raft member panicked; the group's driver stops");
                        return;
                    }
                };
                drop(c);
                let now = tokio::time::Instant::now();
                if ticking {
                    next += if calm { calm_tick } else { tick };
                    calm_next = calm;
                    if next <= now {
                        next = now + tick;
                    }
                } else if !calm && next > now + tick {
                    next = now + tick;
                    calm_next = false;
                }
                step = tokio::select! {
                    _ = tokio::time::sleep_until(next) => if calm_next { Step::CalmTick } else { Step::Tick },
                    _ = driver.wake.notified() => Step::Woken,
                };
            }
        });
        g
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
                let bootstrap =
                    founding && st.members.is_empty() && st.founding.0.first() == Some(&id);
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
        let mut node = RawNode::new(&cfg, volume.storage.clone(), &self.logger)
            .map_err(|e| format!("raft member {id} of {group}: {e}"))?;
        // A brand-new database: its first voter stands for election at once, as a bootstrapping
        // server does, instead of every group waiting out an election timeout.
        if bootstrap {
            let _ = node.campaign();
        }
        let incarnation = INCARNATION.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let pod = pod_key.rsplit('/').next().unwrap_or(pod_key).to_string();
        g.lock().members.insert(
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
        g.poke();
        self.pods
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(pod_key.to_string(), (group.to_string(), id));
        drop(vols);
        Ok(incarnation)
    }

    /// The pods (with member ids) that have run a member of `group`, and which of them run one
    /// now.
    fn group_pods(&self, group: &str) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = self
            .pods
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(_, (g, _))| g == group)
            .map(|(k, (_, id))| (k.clone(), *id))
            .collect();
        out.sort();
        out
    }

    /// The members of `group` whose process runs, as (pod name, member id).
    fn running_in(st: &GroupState) -> Vec<(String, u64)> {
        st.members
            .iter()
            .filter(|(_, m)| m.node.is_some())
            .map(|(id, m)| (m.pod.clone(), *id))
            .collect()
    }

    /// The pods that have a volume of `group`, provided no member of it runs; otherwise why not.
    pub fn stopped_members(&self, group: &str) -> Result<Vec<(String, u64)>, String> {
        let g = self.group(group).ok_or_else(|| {
            format!("no member of {group} has ever run here: nothing to restore into")
        })?;
        let running = Self::running_in(&g.lock());
        if !running.is_empty() {
            return Err(still_running(&running));
        }
        Ok(self
            .group_pods(group)
            .into_iter()
            .map(|(k, id)| (k.rsplit('/').next().unwrap_or(&k).to_string(), id))
            .collect())
    }

    /// Restores `group` to `point`, as `neo4j-admin database restore` does on a stopped
    /// database: refuses while any member's process runs, otherwise gives every member that has
    /// run in this lab a volume holding the state at `point` and a log that starts after it
    /// (a snapshot with the group's current membership, the servers that will host it). When the
    /// members start again they elect a leader from there and new writes chain on from the
    /// restored state. Messages still in flight from before are dropped.
    pub fn restore(
        &self,
        group: &str,
        point: &RestorePoint,
    ) -> Result<Vec<RestoredVolume>, String> {
        if point.index < INIT_INDEX || point.term < INIT_TERM {
            return Err(format!(
                "applied index {} (term {}) is before any database's start (index {INIT_INDEX}, term {INIT_TERM})",
                point.index, point.term
            ));
        }
        let pods = self.group_pods(group);
        let mut vols = self.volumes.lock().unwrap_or_else(|p| p.into_inner());
        let g = self.group(group).ok_or_else(|| {
            format!("no member of {group} has ever run here: nothing to restore into")
        })?;
        let mut st = g.lock();
        let running = Self::running_in(&st);
        if !running.is_empty() {
            return Err(still_running(&running));
        }
        if pods.is_empty() {
            return Err(format!(
                "no member of {group} has a volume here: nothing to restore into"
            ));
        }
        let mut restored = Vec::new();
        for (key, id) in pods {
            let storage = LabStorage::restored(point, &st.voters, &st.learners)?;
            let claim = vols.get(&key).and_then(|v| v.claim.clone());
            let replaced = vols
                .insert(key.clone(), Volume { id, storage, claim })
                .is_some();
            restored.push(RestoredVolume {
                pod: key.rsplit('/').next().unwrap_or(&key).to_string(),
                id,
                replaced,
            });
        }
        st.mailbox.clear();
        // The restored log starts at the restore point; configuration changes count from there.
        st.conf_index = 0;
        drop(st);
        g.poke();
        Ok(restored)
    }

    /// The state digest (`sha256:<hex>`) the member in `pod_key` had at applied index `index`,
    /// read from its volume (so also while it is stopped), if that index is among the last
    /// applied ones since it last took its state whole (a snapshot or a restore).
    pub fn digest_at(&self, pod_key: &str, index: u64) -> Option<String> {
        let vols = self.volumes.lock().unwrap_or_else(|p| p.into_inner());
        let v = vols.get(pod_key)?;
        let at = v.storage.machine().digest_at(index)?;
        Some(at.hex())
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

    /// Gives the member in `pod_key` an empty volume the next time it starts, and has the lab
    /// itself enable the new server and retire the old one (the lab's `replace-member` control).
    pub fn wipe(&self, pod_key: &str) {
        self.volumes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(pod_key);
        self.automatic
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(pod_key.to_string());
    }

    fn locate(&self, pod_key: &str) -> Result<(Arc<Group>, u64), String> {
        let (group, id) = self
            .pods
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(pod_key)
            .cloned()
            .ok_or_else(|| format!("no Raft member runs in {pod_key}"))?;
        let g = self
            .group(&group)
            .ok_or_else(|| format!("no Raft group {group}"))?;
        Ok((g, id))
    }

    pub fn set_partitioned(&self, pod_key: &str, on: bool) -> Result<(), String> {
        let (g, id) = self.locate(pod_key)?;
        let mut st = g.lock();
        if on {
            st.partitioned.insert(id);
        } else {
            st.partitioned.remove(&id);
        }
        drop(st);
        g.poke();
        Ok(())
    }

    pub fn stall_member(&self, pod_key: &str, d: Duration) -> Result<(), String> {
        let (g, id) = self.locate(pod_key)?;
        g.lock().stalled_until.insert(id, Instant::now() + d);
        g.poke();
        Ok(())
    }

    pub fn set_delay(&self, pod_key: &str, d: Duration) -> Result<(), String> {
        let (g, id) = self.locate(pod_key)?;
        g.lock().delay.insert(id, d);
        g.poke();
        Ok(())
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

    /// The status of the member in `pod_key`.
    pub fn status(&self, pod_key: &str) -> Option<MemberStatus> {
        let (g, id) = self.locate(pod_key).ok()?;
        let st = g.lock();
        let now = Instant::now();
        let reachable = |id: u64| {
            !st.partitioned.contains(&id) && st.stalled_until.get(&id).is_none_or(|t| *t <= now)
        };
        let m = st.members.get(&id)?;
        let leader_of = |n: &RawNode<LabStorage>| n.raft.leader_id;
        let peers = st
            .members
            .iter()
            .map(|(pid, pm)| {
                let is_leader = pm
                    .node
                    .as_ref()
                    .is_some_and(|n| n.raft.state == StateRole::Leader);
                (
                    *pid,
                    pm.pod.clone(),
                    pm.node.is_some() && reachable(*pid),
                    st.voters.contains(pid),
                    is_leader,
                )
            })
            .collect();
        let (role, term, leader, commit, applied) = match &m.node {
            Some(n) => {
                // A learner, or a member the group has not taken in yet, follows without a vote.
                let role = if !st.voters.contains(&id) {
                    "READ_REPLICA"
                } else {
                    match n.raft.state {
                        StateRole::Leader => "LEADER",
                        StateRole::Follower => "FOLLOWER",
                        StateRole::Candidate | StateRole::PreCandidate => "CANDIDATE",
                    }
                };
                (
                    role,
                    n.raft.term,
                    leader_of(n),
                    n.raft.raft_log.committed,
                    n.raft.raft_log.applied,
                )
            }
            None => ("DOWN", 0, 0, 0, 0),
        };
        let state_digest = m
            .node
            .as_ref()
            .map(|n| n.raft.raft_log.store.applied().hex())
            .unwrap_or_default();
        Some(MemberStatus {
            id,
            role,
            term,
            leader_id: leader,
            commit_index: commit,
            applied_index: applied,
            voters: st.voters.clone(),
            learners: st.learners.clone(),
            millis_since_leader_message: if role == "LEADER" {
                Some(0)
            } else {
                m.last_leader_message
                    .map(|t| now.duration_since(t).as_millis() as u64)
            },
            commands_per_second: m.applied_window.2,
            live: m.node.is_some(),
            reachable: reachable(id),
            peers,
            state_digest,
            incarnation: if m.node.is_some() { m.incarnation } else { 0 },
            process: m.process.clone(),
        })
    }

    /// One step of a group: tick (unless `tick` is false: a step out of turn, when woken),
    /// deliver messages, persist, apply, propose the write load, and record the truth. Returns
    /// whether the group is calm afterwards.
    fn drive(&self, g: &Group, step: Step) -> bool {
        let now = Instant::now();
        let mut st = g.lock();
        let st = &mut *st;
        let tick = step != Step::Woken;
        st.ticks += u64::from(tick);
        st.calm_ticks += u64::from(step == Step::CalmTick);
        let stalled: HashSet<u64> = if st.stalled_until.is_empty() {
            HashSet::new()
        } else {
            st.stalled_until.retain(|_, t| *t > now);
            st.stalled_until.keys().copied().collect()
        };
        if tick {
            for (id, m) in st.members.iter_mut() {
                if !stalled.contains(id)
                    && let Some(n) = m.node.as_mut()
                {
                    n.tick();
                }
            }
        }
        // The write load, on whoever is leader, at its rate in real time (a calm group ticks
        // less often but takes as many writes).
        let since = now.duration_since(st.credited_at.unwrap_or(now));
        st.credited_at = Some(now);
        st.write_credit += self.settings.writes_per_second * since.as_secs_f64();
        while st.write_credit >= 1.0 {
            st.write_credit -= 1.0;
            st.seq += 1;
            let seq = st.seq;
            // Clients write to the newest leader; one cut off from its peers cannot commit.
            let partitioned = &st.partitioned;
            let leader = st
                .members
                .iter_mut()
                .filter(|(id, _)| !stalled.contains(id))
                .filter_map(|(id, m)| {
                    m.node
                        .as_mut()
                        .filter(|n| n.raft.state == StateRole::Leader)
                        .map(|n| (*id, n))
                })
                .max_by_key(|(id, n)| (n.raft.term, std::cmp::Reverse(*id)));
            let ok = match leader {
                Some((id, n)) if !partitioned.contains(&id) => {
                    n.propose(vec![], seq.to_le_bytes().to_vec()).is_ok()
                }
                _ => false,
            };
            if !st.ever_quorum {
                // Start-up: nothing was promised yet.
            } else if !ok || !st.quorum {
                st.writes_failed += 1;
                if st.recent_failures.len() >= 20 {
                    st.recent_failures.remove(0);
                }
                st.recent_failures.push(now_str());
            } else {
                st.writes_ok += 1;
            }
        }
        // Process readies and deliver messages until quiet (bounded).
        let mut confs = Vec::new();
        for _ in 0..8 {
            let mut outbox = Vec::new();
            for (id, m) in st.members.iter_mut() {
                if stalled.contains(id) {
                    continue;
                }
                if let Some(n) = m.node.as_mut() {
                    confs.extend(self.handle_ready(n, &mut outbox));
                }
            }
            for msg in outbox {
                let delay = st.delay.get(&msg.from).copied().unwrap_or_default()
                    + st.delay.get(&msg.to).copied().unwrap_or_default();
                st.mailbox.push((now + delay, msg));
            }
            if st.mailbox.is_empty() {
                break;
            }
            let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut st.mailbox)
                .into_iter()
                .partition(|(t, _)| *t <= now);
            st.mailbox = later;
            if due.is_empty() {
                break;
            }
            for (_, msg) in due {
                let lost = st.partitioned.contains(&msg.from)
                    || st.partitioned.contains(&msg.to)
                    || stalled.contains(&msg.to)
                    || st.members.get(&msg.to).is_none_or(|m| m.node.is_none());
                if lost {
                    // The transport tells a sender whose snapshot did not arrive, so the leader
                    // sends another instead of waiting for it forever.
                    if msg.msg_type == MessageType::MsgSnapshot
                        && let Some(n) = st.members.get_mut(&msg.from).and_then(|m| m.node.as_mut())
                    {
                        n.report_snapshot(msg.to, raft::SnapshotStatus::Failure);
                    }
                    continue;
                }
                if let Some(m) = st.members.get_mut(&msg.to)
                    && let Some(n) = m.node.as_mut()
                {
                    if msg.from == n.raft.leader_id
                        || msg.msg_type == MessageType::MsgHeartbeat
                        || msg.msg_type == MessageType::MsgAppend
                    {
                        m.last_leader_message = Some(now);
                    }
                    let _ = n.step(msg);
                }
            }
        }
        // Membership: the newest applied configuration, members that have left, the next change.
        if let Some((index, cs)) = confs.into_iter().max_by_key(|(i, _)| *i)
            && index > st.conf_index
        {
            st.conf_index = index;
            st.voters = cs.voters.clone();
            st.voters.sort_unstable();
            st.learners = cs.learners.clone();
            st.learners.sort_unstable();
        }
        if !st.retired.is_empty() {
            let gone: Vec<u64> = st
                .retired
                .iter()
                .filter(|id| !st.voters.contains(id) && !st.learners.contains(id))
                .copied()
                .collect();
            for id in gone {
                st.retired.remove(&id);
                st.servers.insert(id, ServerState::Dropped);
                if st.members.get(&id).is_some_and(|m| m.node.is_none()) {
                    st.members.remove(&id);
                }
            }
        }
        // A deallocating server that left the configuration is deallocated.
        for (id, s) in st.servers.iter_mut() {
            if *s == ServerState::Deallocating
                && !st.voters.contains(id)
                && !st.learners.contains(id)
            {
                *s = ServerState::Deallocated;
            }
        }
        Self::manage_membership(st, &stalled);
        // Applied-rate windows, volume bookkeeping, and what each member's process sees.
        for m in st.members.values_mut() {
            if let Some(n) = &m.node {
                let seen = (n.raft.leader_id, n.raft.term);
                m.seen.send_if_modified(|v| {
                    let changed = *v != seen;
                    *v = seen;
                    changed
                });
                let (t0, a0, _) = m.applied_window;
                let secs = now.duration_since(t0).as_secs_f64();
                if secs >= 1.0 {
                    let applied = n.raft.raft_log.applied;
                    m.applied_window = (now, applied, (applied.saturating_sub(a0)) as f64 / secs);
                }
            }
        }
        // The truth. Majority: more than half of the voters are up (their process runs) and
        // connected (neither partitioned nor stalled). Leader: a live, reachable leader (the
        // newest term if an old one has not heard yet). Quorum: both, so writes can commit.
        let reachable = |id: &u64| !st.partitioned.contains(id) && !stalled.contains(id);
        let live_voters = st
            .voters
            .iter()
            .filter(|v| reachable(v) && st.members.get(v).is_some_and(|m| m.node.is_some()))
            .count();
        let majority = live_voters * 2 > st.voters.len();
        let leader = st
            .members
            .iter()
            .filter(|(id, _)| reachable(id))
            .filter_map(|(id, m)| {
                m.node
                    .as_ref()
                    .filter(|n| n.raft.state == StateRole::Leader)
                    .map(|n| (*id, n.raft.term))
            })
            .max_by_key(|(id, term)| (*term, std::cmp::Reverse(*id)));
        let quorum = leader.is_some() && majority;
        let leader_now = leader.unwrap_or((0, 0));
        // Elections: every change of leader (or of its term) after the first leader, and the
        // time without a leader since then.
        if let Some(l) = leader {
            if st.last_seen_leader.is_some_and(|seen| seen != l) {
                st.elections += 1;
            }
            st.last_seen_leader = Some(l);
            if let Some(since) = st.leaderless_since.take() {
                st.leaderless += now.duration_since(since);
            }
        } else if st.last_seen_leader.is_some() && st.leaderless_since.is_none() {
            st.leaderless_since = Some(now);
        }
        // Quorum loss: the majority of voters gone after it was first reached.
        if majority {
            st.ever_majority = true;
            if let Some(since) = st.quorum_lost_since.take() {
                st.quorum_lost_time += now.duration_since(since);
            }
        } else if st.ever_majority && st.quorum_lost_since.is_none() {
            st.quorum_lost += 1;
            st.quorum_lost_since = Some(now);
        }
        if quorum != st.quorum || majority != st.majority || leader_now != st.last_leader {
            let pod = st.members.get(&leader_now.0).map(|m| m.pod.clone());
            st.timeline.push(json!({
                "at": now_str(),
                "ms": self.started.elapsed().as_millis() as u64,
                "quorum": quorum,
                "majority": majority,
                "leader": pod,
                "term": leader_now.1,
            }));
            if st.timeline.len() > 200 {
                st.timeline.remove(1);
            }
            st.ever_quorum |= quorum;
            st.quorum = quorum;
            st.majority = majority;
            st.last_leader = leader_now;
        }
        Self::is_calm(st)
    }

    /// Persists, sends and applies what the member has ready. Returns the configurations it
    /// switched to, with the index of their change.
    fn handle_ready(
        &self,
        n: &mut RawNode<LabStorage>,
        outbox: &mut Vec<Message>,
    ) -> Vec<(u64, ConfState)> {
        let mut confs = Vec::new();
        if !n.has_ready() {
            return confs;
        }
        let store = n.raft.raft_log.store.clone();
        let mut ready = n.ready();
        outbox.extend(ready.take_messages());
        if !ready.snapshot().is_empty() {
            install_snapshot(&store, ready.snapshot());
        }
        apply_committed(n, &store, &ready.take_committed_entries(), &mut confs);
        if !ready.entries().is_empty() {
            let _ = store.log.wl().append(ready.entries());
        }
        if let Some(hs) = ready.hs() {
            store.log.wl().set_hardstate(hs.clone());
        }
        outbox.extend(ready.take_persisted_messages());
        let mut light = n.advance(ready);
        if let Some(commit) = light.commit_index() {
            store.log.wl().mut_hard_state().set_commit(commit);
        }
        outbox.extend(light.take_messages());
        apply_committed(n, &store, &light.take_committed_entries(), &mut confs);
        n.advance_apply();
        // Keep memory small: compact all but the last 1000 applied entries.
        let applied = n.raft.raft_log.applied;
        let first = raft::Storage::first_index(&store.log).unwrap_or(1);
        if applied > first + 2000 {
            let _ = store.log.wl().compact(applied - 1000);
        }
        confs
    }

    /// The group's side of membership, as a database's cluster management does it: the leader
    /// proposes one configuration change at a time (never while one is pending), in this order:
    /// remove a member whose server was replaced; take in a running member the configuration
    /// lacks, as a learner; promote a learner meant to vote once it has caught up. A removal
    /// only ever concerns a member without a process, so it is never the leader.
    /// The truth per database for `baton lab report`.
    pub fn report(&self) -> Value {
        let groups: Vec<Arc<Group>> = self
            .groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        let mut out: Vec<Value> = groups
            .iter()
            .map(|g| {
                let st = g.lock();
                let now = Instant::now();
                let members: Vec<Value> = st
                    .members
                    .iter()
                    .map(|(id, m)| {
                        let (role, term, applied, digest) = match &m.node {
                            Some(n) => (
                                format!("{:?}", n.raft.state),
                                n.raft.term,
                                n.raft.raft_log.applied,
                                json!(n.raft.raft_log.store.applied().hex()),
                            ),
                            None => ("Down".into(), 0, 0, Value::Null),
                        };
                        json!({
                            "id": id, "pod": m.pod, "state": role, "term": term, "applied": applied,
                            "state_digest": digest,
                            "voter": st.voters.contains(id), "partitioned": st.partitioned.contains(id),
                            "incarnation": m.incarnation, "running": m.node.is_some(),
                            "container_id": m.process.container_id, "process_started_at": m.process.started_at,
                        })
                    })
                    .collect();
                let ongoing = |since: Option<Instant>| since.map_or(Duration::ZERO, |t| now.duration_since(t));
                json!({
                    "database": g.name,
                    "quorum": st.quorum,
                    "majority": st.majority,
                    "leader": st.members.get(&st.last_leader.0).map(|m| m.pod.clone()),
                    "term": st.last_leader.1,
                    "members": members,
                    "writes_ok": st.writes_ok,
                    "writes_failed": st.writes_failed,
                    "recent_write_failures": st.recent_failures,
                    "elections": st.elections,
                    "leaderless_ms": (st.leaderless + ongoing(st.leaderless_since)).as_millis() as u64,
                    "quorum_lost_events": st.quorum_lost,
                    "quorum_lost_ms": (st.quorum_lost_time + ongoing(st.quorum_lost_since)).as_millis() as u64,
                    "timeline": st.timeline,
                })
            })
            .collect();
        out.sort_by(|a, b| a["database"].as_str().cmp(&b["database"].as_str()));
        Value::Array(out)
    }
}

/// Why a restore cannot go ahead: the members whose process runs.
fn still_running(running: &[(String, u64)]) -> String {
    let names: Vec<&str> = running.iter().map(|(p, _)| p.as_str()).collect();
    format!(
        "{} {} running; stop every member of the database first (scale each StatefulSet to 0) and wait until its pods are gone",
        names.join(", "),
        if names.len() == 1 { "is" } else { "are" }
    )
}

/// Installs a snapshot from the leader: the log restarts after it, and the state machine is the
/// one the snapshot carries (its digest at the snapshot's index).
fn install_snapshot(store: &LabStorage, snap: &Snapshot) {
    let index = snap.get_metadata().index;
    if store.log.wl().apply_snapshot(snap.clone()).is_err() {
        return;
    }
    let mut state = store.applied();
    state.index = index;
    if let Ok(d) = <[u8; 32]>::try_from(snap.get_data()) {
        state.digest = d;
    }
    store.set_applied(state);
}

/// Applies committed entries to the member's state machine (a running digest over every entry)
/// and switches the member to each configuration change among them.
fn apply_committed(
    n: &mut RawNode<LabStorage>,
    store: &LabStorage,
    entries: &[Entry],
    confs: &mut Vec<(u64, ConfState)>,
) {
    for e in entries {
        let before = store.applied().index;
        apply_entries(store, std::slice::from_ref(e));
        let conf_change = matches!(
            e.get_entry_type(),
            EntryType::EntryConfChange | EntryType::EntryConfChangeV2
        );
        if !conf_change || e.index <= before {
            continue;
        }
        match switch_configuration(n, store, e) {
            Ok(cs) => confs.push((e.index, cs)),
            Err(why) => tracing::warn!(
                member = n.raft.id,
                index = e.index,
                "lab: a configuration change was not applied: {why}"
            ),
        }
    }
}

/// Switches the member to the configuration a committed change entry makes. The new
/// configuration is written to the volume first: the leader probes a newly added member while it
/// switches, and a snapshot it sends then must already name that member (raft-rs drops a snapshot
/// whose configuration lacks its receiver, and the newcomer would wait forever).
fn switch_configuration(
    n: &mut RawNode<LabStorage>,
    store: &LabStorage,
    e: &Entry,
) -> Result<ConfState, String> {
    let cc = decode_conf_change(e)?;
    if cc.enter_joint().is_none() && !cc.leave_joint() {
        let (next, _) = raft::Changer::new(n.raft.prs())
            .simple(&cc.changes)
            .map_err(|e| e.to_string())?;
        store.log.wl().set_conf_state(next.to_conf_state());
    }
    let cs = n.apply_conf_change(&cc).map_err(|e| e.to_string())?;
    store.log.wl().set_conf_state(cs.clone());
    Ok(cs)
}

/// Reads the configuration change an entry carries (protobuf: `ConfChange` for
/// `EntryConfChange`, `ConfChangeV2` for `EntryConfChangeV2`, as raft-rs encodes them).
fn decode_conf_change(e: &Entry) -> Result<ConfChangeV2, String> {
    let change_type = |v: u64| match v {
        0 => Ok(ConfChangeType::AddNode),
        1 => Ok(ConfChangeType::RemoveNode),
        2 => Ok(ConfChangeType::AddLearnerNode),
        other => Err(format!("unknown change type {other}")),
    };
    let mut cc = ConfChangeV2::default();
    if e.get_entry_type() == EntryType::EntryConfChange {
        let mut single = ConfChangeSingle::default();
        for (field, value) in proto_fields(e.get_data())? {
            match (field, value) {
                (2, Proto::Varint(v)) => single.set_change_type(change_type(v)?),
                (3, Proto::Varint(v)) => single.node_id = v,
                _ => {}
            }
        }
        cc.mut_changes().push(single);
        return Ok(cc);
    }
    for (field, value) in proto_fields(e.get_data())? {
        match (field, value) {
            (1, Proto::Varint(v)) => cc.set_transition(match v {
                0 => ConfChangeTransition::Auto,
                1 => ConfChangeTransition::Implicit,
                2 => ConfChangeTransition::Explicit,
                other => return Err(format!("unknown transition {other}")),
            }),
            (2, Proto::Bytes(b)) => {
                let mut single = ConfChangeSingle::default();
                for (f, v) in proto_fields(b)? {
                    match (f, v) {
                        (1, Proto::Varint(v)) => single.set_change_type(change_type(v)?),
                        (2, Proto::Varint(v)) => single.node_id = v,
                        _ => {}
                    }
                }
                cc.mut_changes().push(single);
            }
            _ => {}
        }
    }
    Ok(cc)
}

/// A protobuf field's value (fixed-width ones are skipped).
enum Proto<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// The (field number, value) pairs of a protobuf message.
fn proto_fields(mut b: &[u8]) -> Result<Vec<(u64, Proto<'_>)>, String> {
    fn varint(b: &mut &[u8]) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = b.split_first().ok_or("truncated varint")?;
            *b = rest;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long".into())
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let tag = varint(&mut b)?;
        let value = match tag & 7 {
            0 => Proto::Varint(varint(&mut b)?),
            2 => {
                let len = usize::try_from(varint(&mut b)?).map_err(|e| e.to_string())?;
                if len > b.len() {
                    return Err("truncated field".into());
                }
                let (v, rest) = b.split_at(len);
                b = rest;
                Proto::Bytes(v)
            }
            w @ (1 | 5) => {
                let len = if w == 1 { 8 } else { 4 };
                b = b.get(len..).ok_or("truncated field")?;
                Proto::Fixed
            }
            w => return Err(format!("unknown wire type {w}")),
        };
        out.push((tag >> 3, value));
    }
    Ok(out)
}

/// Applies committed entries to the member's state machine (a running digest).
fn apply_entries(store: &LabStorage, entries: &[Entry]) {
    if entries.is_empty() {
        return;
    }
    let mut state = store.machine();
    for e in entries {
        state.apply(e);
    }
}

impl super::control::MemberFaults for Consensus {
    fn partition(&self, pod_key: &str, on: bool) -> Result<(), String> {
        self.set_partitioned(pod_key, on)
    }
    fn stall(&self, pod_key: &str, duration: Duration) -> Result<(), String> {
        self.stall_member(pod_key, duration)
    }
    fn wipe(&self, pod_key: &str) {
        Consensus::wipe(self, pod_key)
    }
    fn report(&self) -> Value {
        Consensus::report(self)
    }
}

mod calm;
mod membership;
use calm::{CALM_SLOWDOWN, CALM_TICK_MAX};
#[cfg(test)]
mod tests;
