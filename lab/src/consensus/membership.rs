//! Membership of the lab's Raft groups as Neo4j 5's server management drives it: which
//! servers should host a group (from their states: Free, Enabled, Cordoned, Deallocating,
//! Deallocated, Dropped — see `crate::neo4j_system`), the one configuration change the leader
//! proposes next (a newcomer as a learner, a caught-up learner promoted, a deallocated or
//! retired member removed, the leader handing over first when it is the one to leave), the
//! servers as SHOW SERVERS lists them, and the server-management commands.

use std::collections::HashSet;
use std::time::Instant;

use raft::StateRole;
use raft::prelude::*;

use super::{Consensus, GroupState, LEARNER_SLACK, ServerState};

impl Consensus {
    /// The servers that should host the group (Neo4j's allocator, see
    /// `neo4j_system::requested`): members in the configuration and enabled members outside it,
    /// by their server state (a member without a recorded state counts as Enabled).
    pub(super) fn wanted(st: &GroupState) -> Vec<u64> {
        let mut ids: Vec<u64> = st.members.keys().copied().collect();
        ids.extend(st.voters.iter().chain(&st.learners).copied());
        ids.sort_unstable();
        ids.dedup();
        let rows: Vec<(u64, ServerState, bool)> = ids
            .into_iter()
            .filter(|id| !st.retired.contains(id))
            .map(|id| {
                let state = st.servers.get(&id).copied().unwrap_or(ServerState::Enabled);
                // Only a running server can be given a database.
                let state = if state == ServerState::Enabled
                    && !st.voters.contains(&id)
                    && !st.learners.contains(&id)
                    && st.members.get(&id).is_none_or(|m| m.node.is_none())
                {
                    ServerState::Free
                } else {
                    state
                };
                (
                    id,
                    state,
                    st.voters.contains(&id) || st.learners.contains(&id),
                )
            })
            .collect();
        crate::neo4j_system::requested(&rows, st.topology)
    }

    /// The steady state, checked without allocating: no configuration change to make.
    pub(super) fn membership_settled(st: &GroupState) -> bool {
        let in_group = |id: &u64| st.voters.contains(id) || st.learners.contains(id);
        let work = !st.retired.is_empty()
            || st.servers.iter().any(|(id, s)| {
                *s == ServerState::Deallocating && in_group(id)
                    || *s == ServerState::Enabled
                        && !in_group(id)
                        && st.members.get(id).is_some_and(|m| m.node.is_some())
            })
            || st
                .learners
                .iter()
                .any(|id| st.members.get(id).is_some_and(|m| m.voter));
        !work
    }

    pub(super) fn manage_membership(st: &mut GroupState, stalled: &HashSet<u64>) {
        if Self::membership_settled(st) {
            return;
        }
        let wanted = Self::wanted(st);
        let leader = st
            .members
            .iter()
            .filter(|(id, _)| !stalled.contains(id) && !st.partitioned.contains(id))
            .filter_map(|(id, m)| {
                m.node
                    .as_ref()
                    .filter(|n| n.raft.state == StateRole::Leader)
                    .map(|n| (n.raft.term, std::cmp::Reverse(*id)))
            })
            .max()
            .map(|(_, std::cmp::Reverse(id))| id);
        let Some(lid) = leader else { return };
        let Some(n) = st.members.get(&lid).and_then(|m| m.node.as_ref()) else {
            return;
        };
        if n.raft.has_pending_conf() {
            return;
        }
        let cs = n.raft.prs().conf().to_conf_state();
        let in_conf = |id: u64| cs.voters.contains(&id) || cs.learners.contains(&id);
        let caught_up = |id: u64| {
            n.raft.prs().get(id).is_some_and(|pr| {
                pr.recent_active
                    && pr.state == raft::ProgressState::Replicate
                    && pr.matched + LEARNER_SLACK >= n.raft.raft_log.committed
            })
        };
        // A server leaving by deallocation goes once every server meant to replace it hosts
        // the database in its mode (a primary's replacement votes): the voters never drop
        // below the topology's.
        let replaced = wanted.iter().all(|id| {
            cs.voters.contains(id)
                || cs.learners.contains(id) && !st.members.get(id).is_some_and(|m| m.voter)
        });
        let leaving = st
            .servers
            .iter()
            .find(|(id, s)| {
                **s == ServerState::Deallocating && in_conf(**id) && !wanted.contains(id)
            })
            .map(|(id, _)| *id)
            .filter(|_| replaced);
        if leaving == Some(lid) {
            // The leader itself leaves: it hands leadership to a caught-up voter first.
            let to = cs
                .voters
                .iter()
                .find(|v| **v != lid && wanted.contains(v) && caught_up(**v))
                .copied();
            if let (Some(to), Some(n)) =
                (to, st.members.get_mut(&lid).and_then(|m| m.node.as_mut()))
            {
                n.transfer_leader(to);
            }
            return;
        }
        let change = st
            .retired
            .iter()
            .find(|id| **id != lid && in_conf(**id))
            .map(|id| (*id, ConfChangeType::RemoveNode))
            .or_else(|| {
                st.members
                    .iter()
                    .find(|(id, m)| {
                        m.node.is_some()
                            && !st.retired.contains(id)
                            && !in_conf(**id)
                            && wanted.contains(id)
                    })
                    .map(|(id, _)| (*id, ConfChangeType::AddLearnerNode))
            })
            .or_else(|| {
                cs.learners
                    .iter()
                    .find(|id| {
                        st.members
                            .get(id)
                            .is_some_and(|m| m.voter && m.node.is_some())
                            && caught_up(**id)
                    })
                    .map(|id| (*id, ConfChangeType::AddNode))
            })
            .or_else(|| leaving.map(|id| (id, ConfChangeType::RemoveNode)));
        let Some((id, ty)) = change else { return };
        let mut single = ConfChangeSingle {
            node_id: id,
            ..Default::default()
        };
        single.set_change_type(ty);
        let mut cc = ConfChangeV2::default();
        cc.mut_changes().push(single);
        if let Some(n) = st.members.get_mut(&lid).and_then(|m| m.node.as_mut()) {
            // Refused only while another change is pending: the next round tries again.
            let _ = n.propose_conf_change(Vec::new(), cc);
        }
    }

    /// Every server of the group `pod_key`'s member belongs to, with its state and what it
    /// hosts (names are the member ids in decimal; the caller names them as its kind does).
    pub fn servers(&self, pod_key: &str) -> Option<Vec<crate::neo4j_system::ServerInfo>> {
        let (g, _) = self.locate(pod_key).ok()?;
        let st = g.lock();
        let now = Instant::now();
        let wanted = Self::wanted(&st);
        let mut ids: Vec<u64> = st.members.keys().copied().collect();
        ids.extend(st.voters.iter().chain(&st.learners).copied());
        ids.sort_unstable();
        ids.dedup();
        Some(
            ids.into_iter()
                .map(|id| {
                    let m = st.members.get(&id);
                    let node = m.and_then(|m| m.node.as_ref());
                    let reachable = !st.partitioned.contains(&id)
                        && st.stalled_until.get(&id).is_none_or(|t| *t <= now);
                    let state = st.servers.get(&id).copied().unwrap_or(ServerState::Enabled);
                    crate::neo4j_system::ServerInfo {
                        name: id.to_string(),
                        pod: m.map(|m| m.pod.clone()).unwrap_or_default(),
                        state,
                        available: node.is_some() && reachable,
                        hosting: st.voters.contains(&id) || st.learners.contains(&id),
                        requested: wanted.contains(&id),
                        primary: st.voters.contains(&id),
                        leader: node.is_some_and(|n| n.raft.state == StateRole::Leader),
                        copying: node.is_some_and(|n| n.raft.raft_log.applied == 0),
                    }
                })
                .collect(),
        )
    }

    /// Runs a server-management command on the member in `pod_key`, which must lead the group
    /// (the system database's writes go to its leader). `name_of` names a member id as the
    /// member's kind does (Neo4j: a UUID).
    pub fn server_command(
        &self,
        pod_key: &str,
        cmd: &crate::neo4j_system::Command,
        name_of: &dyn Fn(u64) -> String,
    ) -> Result<(), crate::neo4j_system::AdminError> {
        use crate::neo4j_system::{AdminError, NOT_A_LEADER, apply};
        let not_leader = || {
            AdminError::new(
                NOT_A_LEADER,
                "No write operations are allowed on this database. This is a read only replica of the system database: send the command to its leader.",
            )
        };
        let (g, me) = self.locate(pod_key).map_err(|_| not_leader())?;
        let mut st = g.lock();
        let leads = st
            .members
            .get(&me)
            .and_then(|m| m.node.as_ref())
            .is_some_and(|n| n.raft.state == StateRole::Leader);
        if !leads {
            return Err(not_leader());
        }
        let mut ids: Vec<u64> = st.members.keys().copied().collect();
        ids.extend(st.voters.iter().chain(&st.learners).copied());
        ids.sort_unstable();
        ids.dedup();
        let rows: Vec<(u64, String, ServerState, bool)> = ids
            .into_iter()
            .map(|id| {
                (
                    id,
                    name_of(id),
                    st.servers.get(&id).copied().unwrap_or(ServerState::Enabled),
                    st.voters.contains(&id) || st.learners.contains(&id),
                )
            })
            .collect();
        for (id, state) in apply(cmd, &rows, st.topology)? {
            st.servers.insert(id, state);
            if state == ServerState::Dropped
                && st.members.get(&id).is_some_and(|m| m.node.is_none())
            {
                st.members.remove(&id);
            }
        }
        drop(st);
        g.poke();
        Ok(())
    }
}
