//! One Raft group and its driver. [`RaftGroup`] owns the group's members (a raft-rs `RawNode`
//! over the member's [`MemberVolume`] while it runs, nothing but the volume while it is down),
//! the pending writes and the truth. A single tokio task per group drives it: on each tick it
//! ticks every running, unstalled member and proposes the write load; then it pumps — handles
//! every member's `Ready` (persist, apply, compact), passes messages through the group's
//! [`Wire`] and steps the ones that are due — until the group is quiet; finally it settles
//! writes and records whether a leader has quorum.
//!
//! Pacing: a busy group ticks every `tick`; a calm one (leader with quorum, every running
//! member caught up, no faults, no messages in flight, nothing happened for `calm_after`)
//! every `calm_tick`, which makes its Raft clock (heartbeats, election timeouts) slower by the
//! same factor. Starting or stopping a member, a fault and a write wake the driver at once.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use raft::eraftpb::{ConfState, Message, MessageType};
use raft::{Config, RawNode, SnapshotStatus, StateRole};
use tokio::sync::oneshot;

use super::network::{Wire, WireState};
use super::timeline::{Timeline, TimelineLog};
use super::volume::{AppliedWrite, MemberVolume, VolumeRegistry, encode_write};
use super::{MemberSpec, MemberStatus, RaftError, RaftSettings, Role, WriteError};

/// Pump rounds per drive; a group still busy after them is driven again at once.
const MAX_ROUNDS: usize = 16;

struct Member {
    id: u64,
    key: String,
    voter: bool,
    node: Option<RawNode<MemberVolume>>,
    last_leader_message: Option<Instant>,
}

struct Pending {
    at: Instant,
    waiter: Option<oneshot::Sender<Result<u64, WriteError>>>,
}

struct State {
    members: Vec<Member>,
    next_tick: Instant,
    calm: bool,
    busy_until: Instant,
    write_rate: f64,
    credit: f64,
    last_load: Instant,
    seq: u64,
    pending: BTreeMap<u64, Pending>,
    timeline: TimelineLog,
    failed: bool,
}

/// One Raft group: fixed voters and learners, each member identified by its volume key.
pub struct RaftGroup {
    name: String,
    settings: RaftSettings,
    voters: Vec<u64>,
    learners: Vec<u64>,
    wire: Arc<Wire>,
    volumes: Arc<VolumeRegistry>,
    logger: slog::Logger,
    state: Mutex<State>,
    closed: AtomicBool,
}

impl std::fmt::Debug for RaftGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftGroup")
            .field("name", &self.name)
            .field("voters", &self.voters)
            .field("learners", &self.learners)
            .finish()
    }
}

impl RaftGroup {
    /// Checks the members, builds the group and spawns its driver on the current runtime.
    pub(crate) fn spawn(
        name: &str,
        members: &[MemberSpec],
        settings: RaftSettings,
        wire: Arc<Wire>,
        volumes: Arc<VolumeRegistry>,
        logger: slog::Logger,
    ) -> Result<Arc<Self>, RaftError> {
        let invalid = |why: String| RaftError::InvalidGroup {
            group: name.to_string(),
            why,
        };
        if !members.iter().any(|m| m.voter) {
            return Err(invalid("it has no voter".into()));
        }
        for (i, m) in members.iter().enumerate() {
            if m.id == 0 {
                return Err(invalid(format!("member {} has id 0", m.key)));
            }
            if members[..i].iter().any(|o| o.id == m.id) {
                return Err(invalid(format!("member id {} is used twice", m.id)));
            }
            if members[..i].iter().any(|o| o.key == m.key) {
                return Err(invalid(format!("volume {} is used twice", m.key)));
            }
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| RaftError::NoRuntime)?;
        let now = Instant::now();
        let mut sorted = members.to_vec();
        sorted.sort_by_key(|m| m.id);
        let group = Arc::new(Self {
            name: name.to_string(),
            settings,
            voters: sorted.iter().filter(|m| m.voter).map(|m| m.id).collect(),
            learners: sorted.iter().filter(|m| !m.voter).map(|m| m.id).collect(),
            wire: wire.clone(),
            volumes,
            logger,
            state: Mutex::new(State {
                members: sorted
                    .iter()
                    .map(|m| Member {
                        id: m.id,
                        key: m.key.clone(),
                        voter: m.voter,
                        node: None,
                        last_leader_message: None,
                    })
                    .collect(),
                next_tick: now + settings.tick,
                calm: false,
                busy_until: now + settings.calm_after,
                write_rate: settings.writes_per_second.max(0.0),
                credit: 0.0,
                last_load: now,
                seq: 0,
                pending: BTreeMap::new(),
                timeline: TimelineLog::new(now),
                failed: false,
            }),
            closed: AtomicBool::new(false),
        });
        runtime.spawn(run(Arc::downgrade(&group), wire));
        Ok(group)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn voters(&self) -> &[u64] {
        &self.voters
    }

    pub fn learners(&self) -> &[u64] {
        &self.learners
    }

    /// The members as they were created.
    pub fn members(&self) -> Vec<MemberSpec> {
        self.lock()
            .members
            .iter()
            .map(|m| MemberSpec {
                id: m.id,
                key: m.key.clone(),
                voter: m.voter,
            })
            .collect()
    }

    pub fn conf_state(&self) -> ConfState {
        ConfState::from((self.voters.clone(), self.learners.clone()))
    }

    fn unknown(&self, id: u64) -> RaftError {
        RaftError::UnknownMember(format!("{}#{id}", self.name))
    }

    fn check_open(&self, st: &State) -> Result<(), RaftError> {
        if st.failed || self.closed.load(Ordering::SeqCst) {
            return Err(RaftError::GroupFailed(self.name.clone()));
        }
        Ok(())
    }

    /// Something happened: drive now, and at the busy pace for a while.
    fn poke(&self, st: &mut State, now: Instant) {
        st.busy_until = now + self.settings.calm_after;
        st.next_tick = st.next_tick.min(now + self.settings.tick);
        st.calm = false;
        self.wire.wake();
    }

    /// Starts member `id` on its volume (an empty one if it has none or it was wiped).
    /// Starting a running member does nothing.
    pub fn start(&self, id: u64) -> Result<(), RaftError> {
        let now = Instant::now();
        let mut st = self.lock();
        self.check_open(&st)?;
        let conf = self.conf_state();
        let m = st
            .members
            .iter_mut()
            .find(|m| m.id == id)
            .ok_or_else(|| self.unknown(id))?;
        if m.node.is_some() {
            return Ok(());
        }
        let volume = self.volumes.open(&m.key, || conf);
        let fresh = volume.is_blank();
        let cfg = Config {
            id,
            election_tick: self.settings.election_ticks.max(2),
            heartbeat_tick: self.settings.heartbeat_ticks.max(1),
            applied: volume.applied_index(),
            check_quorum: true,
            pre_vote: true,
            max_size_per_msg: 1 << 20,
            max_inflight_msgs: 256,
            ..Default::default()
        };
        let node = RawNode::new(&cfg, volume, &self.logger).map_err(|source| RaftError::Start {
            group: self.name.clone(),
            id,
            source,
        })?;
        m.node = Some(node);
        m.last_leader_message = None;
        if fresh {
            // An empty volume: a leader must forget how far it believed this member was, or it
            // would count entries the member no longer has. Probing from the start makes it
            // send the log, or a snapshot once the log is compacted.
            for other in st.members.iter_mut().filter(|o| o.id != id) {
                if let Some(n) = other.node.as_mut()
                    && n.raft.state == StateRole::Leader
                    && let Some(pr) = n.raft.mut_prs().get_mut(id)
                {
                    pr.matched = 0;
                    pr.become_probe();
                }
            }
        }
        self.poke(&mut st, now);
        let w = self.wire.lock();
        self.evaluate(&mut st, &w, now);
        Ok(())
    }

    /// Stops member `id` (its process ends; its volume stays). Stopping a stopped one does nothing.
    pub fn stop(&self, id: u64) -> Result<(), RaftError> {
        let now = Instant::now();
        let mut st = self.lock();
        let m = st
            .members
            .iter_mut()
            .find(|m| m.id == id)
            .ok_or_else(|| self.unknown(id))?;
        if m.node.take().is_none() {
            return Ok(());
        }
        m.last_leader_message = None;
        self.poke(&mut st, now);
        let w = self.wire.lock();
        self.evaluate(&mut st, &w, now);
        Ok(())
    }

    /// The status of member `id`.
    pub fn status(&self, id: u64) -> Option<MemberStatus> {
        let now = Instant::now();
        let st = self.lock();
        let w = self.wire.lock();
        let m = st.members.iter().find(|m| m.id == id)?;
        Some(self.status_of(&w, m, now))
    }

    /// The status of every member, by id.
    pub fn statuses(&self) -> Vec<MemberStatus> {
        let now = Instant::now();
        let st = self.lock();
        let w = self.wire.lock();
        st.members
            .iter()
            .map(|m| self.status_of(&w, m, now))
            .collect()
    }

    /// The leader with quorum right now, as (id, term).
    pub fn leader(&self) -> Option<(u64, u64)> {
        self.lock().timeline.now
    }

    /// Whether the group is at the calm pace.
    pub fn is_calm(&self) -> bool {
        self.lock().calm
    }

    /// Proposes one write on the current leader and waits until it is applied (Ok: its log
    /// index) or fails: no leader at once, otherwise after `write_timeout` without a commit.
    pub async fn propose_write(&self) -> Result<u64, WriteError> {
        let rx = {
            let now = Instant::now();
            let mut st = self.lock();
            if st.failed || self.closed.load(Ordering::SeqCst) {
                return Err(WriteError::Closed);
            }
            let (tx, rx) = oneshot::channel();
            {
                let w = self.wire.lock();
                self.attempt(&mut st, &w, now, Some(tx));
            }
            st.next_tick = st.next_tick.min(now + self.settings.tick);
            self.wire.wake();
            rx
        };
        let limit = self.settings.write_timeout
            + self.settings.tick.max(self.settings.calm_tick)
            + Duration::from_secs(1);
        match tokio::time::timeout(limit, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(WriteError::Closed),
            Err(_) => Err(WriteError::Timeout),
        }
    }

    /// The steady write load: `per_second` writes on the leader (0 turns it off).
    pub fn set_write_rate(&self, per_second: f64) {
        let mut st = self.lock();
        st.write_rate = if per_second.is_finite() {
            per_second.max(0.0)
        } else {
            0.0
        };
    }

    /// The group's truth so far.
    pub fn timeline(&self) -> Timeline {
        self.lock().timeline.snapshot(&self.name, Instant::now())
    }

    /// Stops the driver and every member (volumes stay); pending writes fail as `Closed`.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let mut st = self.lock();
        for m in &mut st.members {
            m.node = None;
        }
        for (_, p) in std::mem::take(&mut st.pending) {
            if let Some(w) = p.waiter {
                let _ = w.send(Err(WriteError::Closed));
            }
        }
        st.timeline.set_quorum(Instant::now(), None);
        drop(st);
        self.wire.wake();
    }

    fn fail(&self) {
        self.lock().failed = true;
        self.close();
    }

    /// One run of the driver; returns when it wants to run next.
    fn drive(&self, now: Instant) -> Instant {
        let mut guard = self.lock();
        let st = &mut *guard;
        let mut w = self.wire.lock();
        w.expire(now);
        let mut applied = Vec::new();
        if now >= st.next_tick {
            for m in &mut st.members {
                if let Some(n) = m.node.as_mut()
                    && !w.is_stalled(m.id, now)
                {
                    n.tick();
                }
            }
            self.load(st, &w, now);
            let pace = if st.calm {
                self.settings.calm_tick
            } else {
                self.settings.tick
            };
            st.next_tick = now + pace;
        }
        let more = self.pump(st, &mut w, now, &mut applied);
        self.settle(st, now, &applied);
        self.evaluate(st, &w, now);
        st.calm = self.calm(st, &w, now);
        if !st.calm {
            st.next_tick = st.next_tick.min(now + self.settings.tick);
        }
        let mut wake = st.next_tick;
        if let Some(t) = w.next_event(now) {
            wake = wake.min(t);
        }
        if let Some(p) = st.pending.values().next() {
            wake = wake.min(p.at + self.settings.write_timeout);
        }
        if more {
            wake = now + Duration::from_millis(1);
        }
        wake.max(now)
    }

    /// Handles readies and delivers messages until the group is quiet; true if it is not yet.
    fn pump(
        &self,
        st: &mut State,
        w: &mut WireState,
        now: Instant,
        applied: &mut Vec<AppliedWrite>,
    ) -> bool {
        let mut out = Vec::new();
        let mut deliver = Vec::new();
        let mut dropped = Vec::new();
        for _ in 0..MAX_ROUNDS {
            for m in &mut st.members {
                if w.is_stalled(m.id, now) {
                    continue;
                }
                if let Some(n) = m.node.as_mut() {
                    handle_ready(&self.name, n, &mut out, applied, self.settings.log_retain);
                }
            }
            for msg in out.drain(..) {
                if let Err(msg) = w.send(msg, now) {
                    dropped.push(msg);
                }
            }
            w.take_due(now, &mut deliver, &mut dropped);
            if deliver.is_empty() && dropped.is_empty() {
                return false;
            }
            for msg in dropped.drain(..) {
                report_drop(&mut st.members, &msg);
            }
            for msg in deliver.drain(..) {
                let to = msg.to;
                let running = st.members.iter().any(|m| m.id == to && m.node.is_some());
                if !running {
                    report_drop(&mut st.members, &msg);
                    continue;
                }
                if let Some(m) = st.members.iter_mut().find(|m| m.id == to)
                    && let Some(n) = m.node.as_mut()
                {
                    let from = msg.from;
                    let from_leader = matches!(
                        msg.msg_type,
                        MessageType::MsgAppend
                            | MessageType::MsgHeartbeat
                            | MessageType::MsgSnapshot
                    );
                    // Errors here are stale or foreign messages; Raft ignores them too.
                    let _ = n.step(msg);
                    if from_leader && n.raft.leader_id == from {
                        m.last_leader_message = Some(now);
                    }
                }
            }
        }
        true
    }

    /// Proposes the steady write load that is due.
    fn load(&self, st: &mut State, w: &WireState, now: Instant) {
        let dt = now.saturating_duration_since(st.last_load).as_secs_f64();
        st.last_load = now;
        if st.write_rate <= 0.0 || !st.timeline.ever {
            st.credit = 0.0;
            return;
        }
        st.credit = (st.credit + st.write_rate * dt).min(st.write_rate * 2.0 + 1.0);
        while st.credit >= 1.0 {
            st.credit -= 1.0;
            self.attempt(st, w, now, None);
        }
    }

    /// Proposes one write on the leader a client would reach (not stalled; not partitioned if
    /// possible; the highest term), or records why it failed at once.
    fn attempt(
        &self,
        st: &mut State,
        w: &WireState,
        now: Instant,
        waiter: Option<oneshot::Sender<Result<u64, WriteError>>>,
    ) {
        st.seq += 1;
        let seq = st.seq;
        let leader = st
            .members
            .iter_mut()
            .filter(|m| !w.is_stalled(m.id, now))
            .filter_map(|m| {
                let cut = w.is_partitioned(m.id);
                m.node
                    .as_mut()
                    .filter(|n| n.raft.state == StateRole::Leader)
                    .map(|n| (cut, n))
            })
            .min_by_key(|(cut, n)| (*cut, Reverse(n.raft.term)));
        let result = match leader {
            None => Err(WriteError::NoLeader),
            Some((_, n)) => n
                .propose(vec![], encode_write(seq))
                .map_err(|_| WriteError::Dropped),
        };
        match result {
            Ok(()) => {
                st.pending.insert(seq, Pending { at: now, waiter });
            }
            Err(e) => {
                st.timeline.write_failed(now, seq, e);
                if let Some(tx) = waiter {
                    let _ = tx.send(Err(e));
                }
            }
        }
    }

    /// Resolves pending writes that were applied, and fails those that took too long.
    fn settle(&self, st: &mut State, now: Instant, applied: &[AppliedWrite]) {
        for a in applied {
            if let Some(p) = st.pending.remove(&a.seq) {
                st.timeline.writes_ok += 1;
                if let Some(tx) = p.waiter {
                    let _ = tx.send(Ok(a.index));
                }
            }
        }
        let timeout = self.settings.write_timeout;
        while let Some(entry) = st.pending.first_entry() {
            if entry.get().at + timeout > now {
                break;
            }
            let (seq, p) = entry.remove_entry();
            let reason = if st.timeline.now.is_none() {
                WriteError::NoQuorum
            } else {
                WriteError::Timeout
            };
            st.timeline.write_failed(now, seq, reason);
            if let Some(tx) = p.waiter {
                let _ = tx.send(Err(reason));
            }
        }
    }

    /// The truth: the highest-term running, reachable leader has quorum if a majority of the
    /// voters (running, reachable, in its term) acknowledge it.
    fn evaluate(&self, st: &mut State, w: &WireState, now: Instant) {
        let reachable = |id: u64| !w.is_partitioned(id) && !w.is_stalled(id, now);
        let leader = st
            .members
            .iter()
            .filter(|m| reachable(m.id))
            .filter_map(|m| {
                m.node
                    .as_ref()
                    .filter(|n| n.raft.state == StateRole::Leader)
                    .map(|n| (m.id, n.raft.term))
            })
            .max_by_key(|(_, term)| *term);
        let quorum = leader.filter(|&(lead, term)| {
            let acks = st
                .members
                .iter()
                .filter(|m| m.voter && reachable(m.id))
                .filter(|m| {
                    m.node.as_ref().is_some_and(|n| {
                        n.raft.term == term && (m.id == lead || n.raft.leader_id == lead)
                    })
                })
                .count();
            acks * 2 > self.voters.len()
        });
        st.timeline.set_quorum(now, quorum);
    }

    /// Whether the group may tick at the calm pace.
    fn calm(&self, st: &State, w: &WireState, now: Instant) -> bool {
        let s = &self.settings;
        if s.calm_tick <= s.tick
            || w.has_faults()
            || !w.is_idle()
            || w.changed_at.is_some_and(|t| now < t + s.calm_after)
            || now < st.busy_until
            || !st.pending.is_empty()
        {
            return false;
        }
        let Some((lead, _)) = st.timeline.now else {
            return false;
        };
        let Some(commit) = st
            .members
            .iter()
            .find(|m| m.id == lead)
            .and_then(|m| m.node.as_ref())
            .filter(|n| n.raft.raft_log.committed == n.raft.raft_log.last_index())
            .map(|n| n.raft.raft_log.committed)
        else {
            return false;
        };
        st.members
            .iter()
            .filter_map(|m| m.node.as_ref())
            .all(|n| n.raft.raft_log.applied == commit)
    }

    fn status_of(&self, w: &WireState, m: &Member, now: Instant) -> MemberStatus {
        let partitioned = w.is_partitioned(m.id);
        let stalled = w.is_stalled(m.id, now);
        let base = MemberStatus {
            group: self.name.clone(),
            key: m.key.clone(),
            member_id: m.id,
            role: Role::Down,
            term: 0,
            leader_id: None,
            commit_index: 0,
            applied_index: 0,
            last_index: 0,
            voters: self.voters.clone(),
            learners: self.learners.clone(),
            millis_since_last_leader_message: None,
            healthy: false,
            writes_applied: 0,
            partitioned,
            stalled,
        };
        let Some(n) = &m.node else {
            // Down: what the volume holds.
            return match self.volumes.get(&m.key) {
                Some(v) => {
                    let hs = v.hard_state();
                    MemberStatus {
                        term: hs.term,
                        commit_index: hs.commit,
                        applied_index: v.applied_index(),
                        last_index: v.last_index(),
                        writes_applied: v.writes_applied(),
                        ..base
                    }
                }
                None => base,
            };
        };
        let role = match n.raft.state {
            StateRole::Leader => Role::Leader,
            _ if !m.voter => Role::Learner,
            StateRole::Follower => Role::Follower,
            StateRole::Candidate | StateRole::PreCandidate => Role::Candidate,
        };
        let leader_id = (n.raft.leader_id != 0).then_some(n.raft.leader_id);
        let millis = if role == Role::Leader {
            Some(0)
        } else {
            m.last_leader_message
                .map(|t| now.saturating_duration_since(t).as_millis() as u64)
        };
        // Heard from the leader within an election timeout at the slowest pace.
        let limit = self.settings.tick.max(self.settings.calm_tick).as_millis() as u64
            * self.settings.election_ticks as u64;
        let healthy = !stalled
            && (role == Role::Leader
                || (leader_id.is_some() && millis.is_some_and(|ms| ms <= limit)));
        MemberStatus {
            role,
            term: n.raft.term,
            leader_id,
            commit_index: n.raft.raft_log.committed,
            applied_index: n.raft.raft_log.applied,
            last_index: n.raft.raft_log.last_index(),
            millis_since_last_leader_message: millis,
            healthy,
            writes_applied: n.store().writes_applied(),
            ..base
        }
    }
}

/// The driver task of one group: runs until the group is closed or dropped.
async fn run(group: Weak<RaftGroup>, wire: Arc<Wire>) {
    let mut wake = Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(wake.into()) => {}
            _ = wire.woken() => {}
        }
        let Some(g) = group.upgrade() else { return };
        if g.closed.load(Ordering::SeqCst) {
            return;
        }
        let now = Instant::now();
        // raft-rs panics on broken invariants; one group failing must not take the lab down.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.drive(now))) {
            Ok(next) => wake = next,
            Err(_) => {
                tracing::error!(group = %g.name, "lab: a Raft member panicked; the group stops");
                g.fail();
                return;
            }
        }
    }
}

/// Tells the sender that the network lost a message it cares about.
fn report_drop(members: &mut [Member], msg: &Message) {
    let Some(n) = members
        .iter_mut()
        .find(|m| m.id == msg.from)
        .and_then(|m| m.node.as_mut())
    else {
        return;
    };
    match msg.msg_type {
        MessageType::MsgSnapshot => n.report_snapshot(msg.to, SnapshotStatus::Failure),
        MessageType::MsgAppend => n.report_unreachable(msg.to),
        _ => {}
    }
}

/// Persists, applies and sends what one member's Raft node has ready.
fn handle_ready(
    group: &str,
    n: &mut RawNode<MemberVolume>,
    out: &mut Vec<Message>,
    applied: &mut Vec<AppliedWrite>,
    retain: usize,
) {
    if !n.has_ready() {
        return;
    }
    let volume = n.store().clone();
    let mut rd = n.ready();
    out.extend(rd.take_messages());
    if !rd.snapshot().is_empty()
        && let Err(e) = volume.apply_snapshot(rd.snapshot())
    {
        tracing::warn!(
            group,
            member = n.raft.id,
            "lab raft: snapshot not applied: {e}"
        );
    }
    volume.apply_committed(rd.committed_entries(), applied);
    if !rd.entries().is_empty()
        && let Err(e) = volume.append(rd.entries())
    {
        tracing::warn!(
            group,
            member = n.raft.id,
            "lab raft: entries not persisted: {e}"
        );
    }
    if let Some(hs) = rd.hs() {
        volume.set_hard_state(hs.clone());
    }
    out.extend(rd.take_persisted_messages());
    let mut light = n.advance(rd);
    if let Some(commit) = light.commit_index() {
        volume.set_commit(commit);
    }
    out.extend(light.take_messages());
    volume.apply_committed(light.committed_entries(), applied);
    n.advance_apply();
    volume.compact(retain);
}
