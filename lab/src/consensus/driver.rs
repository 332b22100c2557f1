//! A group's driver: the task that steps the group (ticks at the busy or calm pace, or at once
//! when woken), and each step: ticking live members, the write load on the leader, processing
//! readies and delivering messages through the lab's network (partitions, stalls, delays),
//! membership bookkeeping, and the truth it records (leader, quorum, majority, elections).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use raft::eraftpb::{Message, MessageType};
use raft::prelude::*;
use raft::{RawNode, StateRole};
use serde_json::json;

use super::apply::{apply_committed, install_snapshot};
use super::calm::{CALM_SLOWDOWN, CALM_TICK_MAX};
use super::{
    Consensus, FIRST_JOINER_ID, Group, GroupState, LabStorage, ServerState, Step, now_str,
};

impl Consensus {
    /// The group `name` with its voters and learners, created (with its driver) on first use.
    pub(super) fn ensure_group(
        self: &Arc<Self>,
        name: &str,
        voters: &[u64],
        learners: &[u64],
    ) -> Arc<Group> {
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

    /// One step of a group: tick (unless `tick` is false: a step out of turn, when woken),
    /// deliver messages, persist, apply, propose the write load, and record the truth. Returns
    /// whether the group is calm afterwards.
    pub(super) fn drive(&self, g: &Group, step: Step) -> bool {
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
    pub(super) fn handle_ready(
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
}
