//! The faults the lab injects into its Raft groups (the lab's control API): a member cut off
//! from its peers, stalled for a while, or slowed by a delay on its messages, and a member given
//! an empty volume for its next start (`replace-member`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Consensus, Group};

impl Consensus {
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

    pub(super) fn locate(&self, pod_key: &str) -> Result<(Arc<Group>, u64), String> {
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
}

impl crate::control::MemberFaults for Consensus {
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
