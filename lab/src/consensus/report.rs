//! What the lab's Raft groups report: one member's status (as the database's status endpoints
//! show it) and the truth per database for `baton lab report`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use raft::{RawNode, StateRole};
use serde_json::{Value, json};

use super::{Consensus, Group, LabStorage, MemberStatus};

impl Consensus {
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
