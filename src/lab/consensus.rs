//! Raft for the lab's databases, with the `raft` crate (TiKV's raft-rs): one group per database,
//! one member per pod. A single driver task per group ticks its live members, carries their
//! messages through the lab's network (where partitions, delays and stalls are injected),
//! persists each member's log in its *volume* (which outlives the pod, like a PersistentVolume;
//! `wipe` gives a member an empty one), applies a steady write load, and records the truth:
//! when a leader with quorum existed and which writes failed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use raft::eraftpb::{Message, MessageType};
use raft::prelude::*;
use raft::storage::MemStorage;
use raft::{RawNode, StateRole};
use serde_json::{Value, json};

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

/// A member's persistent state.
#[derive(Clone)]
struct Volume {
    storage: MemStorage,
    applied: u64,
}

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
}

struct Member {
    pod: String,
    node: Option<RawNode<MemStorage>>,
    last_leader_message: Option<Instant>,
    applied_window: (Instant, u64, f64),
}

struct GroupState {
    voters: Vec<u64>,
    learners: Vec<u64>,
    members: BTreeMap<u64, Member>,
    mailbox: Vec<(Instant, Message)>,
    partitioned: HashSet<u64>,
    stalled_until: HashMap<u64, Instant>,
    delay: HashMap<u64, Duration>,
    write_credit: f64,
    seq: u64,
    // Truth.
    quorum: bool,
    timeline: Vec<Value>,
    writes_ok: u64,
    writes_failed: u64,
    recent_failures: Vec<String>,
    last_leader: (u64, u64),
    /// The group has had a leader with quorum at least once (failures before that are start-up).
    ever_quorum: bool,
    quorum_lost: u64,
}

struct Group {
    name: String,
    state: Mutex<GroupState>,
}

impl Group {
    fn lock(&self) -> MutexGuard<'_, GroupState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Every Raft group of the lab, the members' volumes, and the network between members.
pub struct Consensus {
    settings: RaftSettings,
    groups: Mutex<HashMap<String, Arc<Group>>>,
    volumes: Mutex<HashMap<String, Volume>>,
    /// pod key → (group, member id)
    pods: Mutex<HashMap<String, (String, u64)>>,
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
            state: Mutex::new(GroupState {
                voters: voters.to_vec(),
                learners: learners.to_vec(),
                members: BTreeMap::new(),
                mailbox: Vec::new(),
                partitioned: HashSet::new(),
                stalled_until: HashMap::new(),
                delay: HashMap::new(),
                write_credit: 0.0,
                seq: 0,
                quorum: false,
                timeline: vec![json!({"at": now_str(), "quorum": false, "why": "group created"})],
                writes_ok: 0,
                writes_failed: 0,
                recent_failures: Vec::new(),
                last_leader: (0, 0),
                ever_quorum: false,
                quorum_lost: 0,
            }),
        });
        groups.insert(name.to_string(), g.clone());
        let me = Arc::downgrade(self);
        let driver = g.clone();
        let tick = self.settings.tick;
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                interval.tick().await;
                let Some(c) = me.upgrade() else { return };
                // raft-rs panics on broken invariants; keep the rest of the lab running.
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.drive(&driver)))
                    .is_err()
                {
                    tracing::error!(group = %driver.name, "lab: a Raft member panicked; the group's driver stops");
                    return;
                }
            }
        });
        g
    }

    /// Brings member `id` of group `group` up in pod `pod_key` (orchestra/namespace/pod) with its volume.
    pub fn start_member(
        self: &Arc<Self>,
        group: &str,
        pod_key: &str,
        id: u64,
        voters: &[u64],
        learners: &[u64],
    ) -> Result<(), String> {
        let g = self.ensure_group(group, voters, learners);
        let (volume, fresh) = {
            let mut vols = self.volumes.lock().unwrap_or_else(|p| p.into_inner());
            let fresh = !vols.contains_key(pod_key);
            let v = vols
                .entry(pod_key.to_string())
                .or_insert_with(|| Volume {
                    storage: MemStorage::new_with_conf_state((voters.to_vec(), learners.to_vec())),
                    applied: 0,
                })
                .clone();
            (v, fresh)
        };
        let cfg = Config {
            id,
            election_tick: self.settings.election_ticks,
            heartbeat_tick: self.settings.heartbeat_ticks,
            applied: volume.applied,
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
        if fresh
            && volume.applied == 0
            && voters.first() == Some(&id)
            && g.lock().members.is_empty()
        {
            let _ = node.campaign();
        }
        let pod = pod_key.rsplit('/').next().unwrap_or(pod_key).to_string();
        let mut st = g.lock();
        st.members.insert(
            id,
            Member {
                pod,
                node: Some(node),
                last_leader_message: None,
                applied_window: (Instant::now(), volume.applied, 0.0),
            },
        );
        if fresh {
            // An empty volume: the leader must forget what it knew this member had and probe it
            // from the start (it will get a snapshot), or it would commit past the empty log.
            for (other, m) in st.members.iter_mut() {
                if *other != id
                    && let Some(n) = m.node.as_mut()
                    && n.raft.state == StateRole::Leader
                    && let Some(pr) = n.raft.mut_prs().get_mut(id)
                {
                    pr.matched = 0;
                    pr.become_probe();
                }
            }
        }
        drop(st);
        self.pods
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(pod_key.to_string(), (group.to_string(), id));
        Ok(())
    }

    /// Takes the member in `pod_key` down; its volume stays.
    pub fn stop_member(&self, pod_key: &str) {
        let Some((group, id)) = self
            .pods
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(pod_key)
            .cloned()
        else {
            return;
        };
        if let Some(g) = self.group(&group) {
            let mut st = g.lock();
            if let Some(m) = st.members.get_mut(&id) {
                if let Some(node) = m.node.take() {
                    let applied = node.raft.raft_log.applied;
                    if let Some(v) = self
                        .volumes
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_mut(pod_key)
                    {
                        v.applied = applied;
                    }
                }
                m.last_leader_message = None;
            }
        }
    }

    /// Gives the member in `pod_key` an empty volume the next time it starts.
    pub fn wipe(&self, pod_key: &str) {
        self.volumes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(pod_key);
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
        Ok(())
    }

    pub fn stall_member(&self, pod_key: &str, d: Duration) -> Result<(), String> {
        let (g, id) = self.locate(pod_key)?;
        g.lock().stalled_until.insert(id, Instant::now() + d);
        Ok(())
    }

    pub fn set_delay(&self, pod_key: &str, d: Duration) -> Result<(), String> {
        let (g, id) = self.locate(pod_key)?;
        g.lock().delay.insert(id, d);
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

    /// The status of the member in `pod_key`.
    pub fn status(&self, pod_key: &str) -> Option<MemberStatus> {
        let (g, id) = self.locate(pod_key).ok()?;
        let st = g.lock();
        let now = Instant::now();
        let reachable = |id: u64| {
            !st.partitioned.contains(&id) && st.stalled_until.get(&id).is_none_or(|t| *t <= now)
        };
        let m = st.members.get(&id)?;
        let leader_of = |n: &RawNode<MemStorage>| n.raft.leader_id;
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
                let role = if st.learners.contains(&id) {
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
        })
    }

    /// One step of a group: tick, deliver messages, persist, apply, propose the write load,
    /// and record the truth.
    fn drive(&self, g: &Group) {
        let now = Instant::now();
        let mut st = g.lock();
        let st = &mut *st;
        let stalled: HashSet<u64> = if st.stalled_until.is_empty() {
            HashSet::new()
        } else {
            st.stalled_until.retain(|_, t| *t > now);
            st.stalled_until.keys().copied().collect()
        };
        for (id, m) in st.members.iter_mut() {
            if !stalled.contains(id)
                && let Some(n) = m.node.as_mut()
            {
                n.tick();
            }
        }
        // The write load, on whoever is leader.
        st.write_credit += self.settings.writes_per_second * self.settings.tick.as_secs_f64();
        while st.write_credit >= 1.0 {
            st.write_credit -= 1.0;
            st.seq += 1;
            let seq = st.seq;
            let leader = st
                .members
                .iter_mut()
                .filter(|(id, _)| !stalled.contains(id))
                .find_map(|(_, m)| {
                    m.node
                        .as_mut()
                        .filter(|n| n.raft.state == StateRole::Leader)
                });
            let ok = match leader {
                Some(n) => n.propose(vec![], seq.to_le_bytes().to_vec()).is_ok(),
                None => false,
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
        for _ in 0..8 {
            let mut outbox = Vec::new();
            for (id, m) in st.members.iter_mut() {
                if stalled.contains(id) {
                    continue;
                }
                if let Some(n) = m.node.as_mut() {
                    self.handle_ready(n, &mut outbox);
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
                if st.partitioned.contains(&msg.from)
                    || st.partitioned.contains(&msg.to)
                    || stalled.contains(&msg.to)
                {
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
        // Applied-rate windows and volume bookkeeping.
        for m in st.members.values_mut() {
            if let Some(n) = &m.node {
                let (t0, a0, _) = m.applied_window;
                let secs = now.duration_since(t0).as_secs_f64();
                if secs >= 1.0 {
                    let applied = n.raft.raft_log.applied;
                    m.applied_window = (now, applied, (applied.saturating_sub(a0)) as f64 / secs);
                }
            }
        }
        // The truth: a live, reachable leader with a reachable majority of live voters.
        let reachable = |id: &u64| !st.partitioned.contains(id) && !stalled.contains(id);
        let live_voters = st
            .voters
            .iter()
            .filter(|v| reachable(v) && st.members.get(v).is_some_and(|m| m.node.is_some()))
            .count();
        let leader = st
            .members
            .iter()
            .find(|(id, m)| {
                reachable(id)
                    && m.node
                        .as_ref()
                        .is_some_and(|n| n.raft.state == StateRole::Leader)
            })
            .map(|(id, m)| (*id, m.node.as_ref().map_or(0, |n| n.raft.term)));
        let quorum = leader.is_some() && live_voters * 2 > st.voters.len();
        let leader_now = leader.unwrap_or((0, 0));
        if quorum != st.quorum || leader_now != st.last_leader {
            let pod = st.members.get(&leader_now.0).map(|m| m.pod.clone());
            st.timeline.push(json!({
                "at": now_str(),
                "ms": self.started.elapsed().as_millis() as u64,
                "quorum": quorum,
                "leader": pod,
                "term": leader_now.1,
            }));
            if st.timeline.len() > 200 {
                st.timeline.remove(1);
            }
            if st.quorum && !quorum {
                st.quorum_lost += 1;
            }
            st.ever_quorum |= quorum;
            st.quorum = quorum;
            st.last_leader = leader_now;
        }
    }

    fn handle_ready(&self, n: &mut RawNode<MemStorage>, outbox: &mut Vec<Message>) {
        if !n.has_ready() {
            return;
        }
        let store = n.raft.raft_log.store.clone();
        let mut ready = n.ready();
        outbox.extend(ready.take_messages());
        if !ready.snapshot().is_empty() {
            let _ = store.wl().apply_snapshot(ready.snapshot().clone());
        }
        apply_entries(n, ready.take_committed_entries());
        if !ready.entries().is_empty() {
            let _ = store.wl().append(ready.entries());
        }
        if let Some(hs) = ready.hs() {
            store.wl().set_hardstate(hs.clone());
        }
        outbox.extend(ready.take_persisted_messages());
        let mut light = n.advance(ready);
        if let Some(commit) = light.commit_index() {
            store.wl().mut_hard_state().set_commit(commit);
        }
        outbox.extend(light.take_messages());
        apply_entries(n, light.take_committed_entries());
        n.advance_apply();
        // Keep memory small: compact all but the last 1000 applied entries.
        let applied = n.raft.raft_log.applied;
        let first = raft::Storage::first_index(&store).unwrap_or(1);
        if applied > first + 2000 {
            let _ = store.wl().compact(applied - 1000);
        }
    }

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
                let members: Vec<Value> = st
                    .members
                    .iter()
                    .map(|(id, m)| {
                        let (role, term, applied) = match &m.node {
                            Some(n) => (format!("{:?}", n.raft.state), n.raft.term, n.raft.raft_log.applied),
                            None => ("Down".into(), 0, 0),
                        };
                        json!({"id": id, "pod": m.pod, "state": role, "term": term, "applied": applied, "voter": st.voters.contains(id), "partitioned": st.partitioned.contains(id)})
                    })
                    .collect();
                json!({
                    "database": g.name,
                    "quorum": st.quorum,
                    "leader": st.members.get(&st.last_leader.0).map(|m| m.pod.clone()),
                    "term": st.last_leader.1,
                    "members": members,
                    "writes_ok": st.writes_ok,
                    "writes_failed": st.writes_failed,
                    "recent_write_failures": st.recent_failures,
                    "quorum_lost_events": st.quorum_lost,
                    "timeline": st.timeline,
                })
            })
            .collect();
        out.sort_by(|a, b| a["database"].as_str().cmp(&b["database"].as_str()));
        Value::Array(out)
    }
}

/// Membership is fixed per database (no configuration changes are proposed), and the state
/// machine is the applied index itself, so applying an entry is advancing past it.
fn apply_entries(_n: &mut RawNode<MemStorage>, _entries: Vec<Entry>) {}

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
