//! When a Raft group may tick slowly: a *calm* group (stable leader, every member caught up,
//! no fault, nothing pending) has nothing happening in it but heartbeats, so its driver ticks it
//! [`CALM_SLOWDOWN`] times less often (its Raft clock runs slower: heartbeats and election
//! timeouts stretch alike, so nothing times out). Whatever changes a group from outside (a
//! fault, a member starting or stopping, a leadership transfer, a server command) wakes its
//! driver at once, and a group that is not calm ticks at the full rate.

use std::time::Duration;

use raft::StateRole;

use super::{Consensus, GroupState};

/// A calm group (see [`Consensus::is_calm`]) ticks this many times less often, up to
/// [`CALM_TICK_MAX`] between ticks: its Raft clock runs slower (heartbeats and election timeouts
/// stretch alike, so nothing times out), and any change wakes it to the full rate at once.
pub(super) const CALM_SLOWDOWN: u32 = 10;
pub(super) const CALM_TICK_MAX: Duration = Duration::from_secs(10);

impl Consensus {
    /// A calm group: no fault (nobody partitioned, stalled or delayed, no message in flight),
    /// every member of the configuration running and nothing else running, one leader with
    /// quorum that every member follows in its term, no leadership transfer, no configuration
    /// change pending or due, every member's log caught up with the leader's, committed and
    /// applied, and nothing left to process. Such a group may tick slowly: nothing in it
    /// happens but heartbeats until something from outside changes (which wakes it).
    pub(super) fn is_calm(st: &GroupState) -> bool {
        if !st.quorum
            || !st.stalled_until.is_empty()
            || !st.partitioned.is_empty()
            || st.delay.values().any(|d| !d.is_zero())
            || !st.mailbox.is_empty()
            || !st.retired.is_empty()
            || st.members.len() != st.voters.len() + st.learners.len()
            || !Self::membership_settled(st)
        {
            return false;
        }
        let Some(leader) = st
            .members
            .get(&st.last_leader.0)
            .and_then(|m| m.node.as_ref())
            .filter(|n| n.raft.state == StateRole::Leader)
        else {
            return false;
        };
        let (lid, term) = (leader.raft.id, leader.raft.term);
        let last = leader.raft.raft_log.last_index();
        if leader.raft.lead_transferee.is_some() || leader.raft.has_pending_conf() {
            return false;
        }
        st.members.iter().all(|(id, m)| {
            (st.voters.contains(id) || st.learners.contains(id))
                && m.node.as_ref().is_some_and(|n| {
                    !n.has_ready()
                        && n.raft.leader_id == lid
                        && n.raft.term == term
                        && n.raft.raft_log.last_index() == last
                        && n.raft.raft_log.committed == last
                        && n.raft.raft_log.applied == last
                })
        })
    }
}
