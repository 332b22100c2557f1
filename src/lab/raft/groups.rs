//! Every Raft group of a lab, with members addressed by their volume key (e.g.
//! `orchestra/namespace/pod`): [`RaftGroups`] is what a pod's workload talks to — it starts its
//! member when the pod's container starts, stops it when the container ends, reads its status
//! for the HTTP endpoints — and what faults and tests talk to (partition, stall, delay, wipe,
//! writes, timeline).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::group::RaftGroup;
use super::network::RaftNetwork;
use super::timeline::Timeline;
use super::volume::VolumeRegistry;
use super::{MemberSpec, MemberStatus, RaftError, RaftSettings};

/// The Raft groups of a lab, their network and the members' volumes.
pub struct RaftGroups {
    settings: RaftSettings,
    network: Arc<RaftNetwork>,
    volumes: Arc<VolumeRegistry>,
    logger: slog::Logger,
    groups: Mutex<HashMap<String, Arc<RaftGroup>>>,
    /// volume key → (group, member id)
    keys: Mutex<HashMap<String, (Arc<RaftGroup>, u64)>>,
}

impl RaftGroups {
    pub fn new(settings: RaftSettings) -> Self {
        Self::with_parts(
            settings,
            Arc::new(RaftNetwork::new()),
            Arc::new(VolumeRegistry::new()),
        )
    }

    /// Groups over an existing network and volume registry.
    pub fn with_parts(
        settings: RaftSettings,
        network: Arc<RaftNetwork>,
        volumes: Arc<VolumeRegistry>,
    ) -> Self {
        Self {
            settings,
            network,
            volumes,
            logger: slog::Logger::root(slog::Discard, slog::o!()),
            groups: Mutex::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
        }
    }

    pub fn settings(&self) -> &RaftSettings {
        &self.settings
    }

    pub fn network(&self) -> &Arc<RaftNetwork> {
        &self.network
    }

    pub fn volumes(&self) -> &Arc<VolumeRegistry> {
        &self.volumes
    }

    fn groups(&self) -> MutexGuard<'_, HashMap<String, Arc<RaftGroup>>> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn keys(&self) -> MutexGuard<'_, HashMap<String, (Arc<RaftGroup>, u64)>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Creates group `name` (and spawns its driver; needs a tokio runtime). Its members are
    /// down until started. Creating an existing group with the same members returns it.
    pub fn create_group(
        &self,
        name: &str,
        members: &[MemberSpec],
    ) -> Result<Arc<RaftGroup>, RaftError> {
        let mut groups = self.groups();
        if let Some(g) = groups.get(name) {
            let mut want = members.to_vec();
            want.sort_by_key(|m| m.id);
            return if g.members() == want {
                Ok(g.clone())
            } else {
                Err(RaftError::GroupConflict(name.to_string()))
            };
        }
        let mut keys = self.keys();
        if let Some(m) = members.iter().find(|m| keys.contains_key(&m.key)) {
            let group = keys
                .get(&m.key)
                .map(|(g, _)| g.name().to_string())
                .unwrap_or_default();
            return Err(RaftError::KeyInUse {
                key: m.key.clone(),
                group,
            });
        }
        let g = RaftGroup::spawn(
            name,
            members,
            self.settings,
            self.network.wire(name),
            self.volumes.clone(),
            self.logger.clone(),
        )?;
        for m in members {
            keys.insert(m.key.clone(), (g.clone(), m.id));
        }
        groups.insert(name.to_string(), g.clone());
        Ok(g)
    }

    pub fn group(&self, name: &str) -> Result<Arc<RaftGroup>, RaftError> {
        self.groups()
            .get(name)
            .cloned()
            .ok_or_else(|| RaftError::UnknownGroup(name.to_string()))
    }

    pub fn group_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.groups().keys().cloned().collect();
        names.sort();
        names
    }

    pub fn len(&self) -> usize {
        self.groups().len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups().is_empty()
    }

    /// Stops group `name` and forgets it (its members' volumes stay). True if it existed.
    pub fn remove_group(&self, name: &str) -> bool {
        let Some(g) = self.groups().remove(name) else {
            return false;
        };
        g.close();
        self.keys().retain(|_, (owner, _)| !Arc::ptr_eq(owner, &g));
        self.network.remove(name);
        true
    }

    /// The group and member id that use the volume `key`.
    pub fn locate(&self, key: &str) -> Result<(Arc<RaftGroup>, u64), RaftError> {
        self.keys()
            .get(key)
            .cloned()
            .ok_or_else(|| RaftError::UnknownMember(key.to_string()))
    }

    /// Starts the member of volume `key` (it joins its group with what its volume holds).
    pub fn start_member(&self, key: &str) -> Result<(), RaftError> {
        let (g, id) = self.locate(key)?;
        g.start(id)
    }

    /// Stops the member of volume `key`; the volume stays.
    pub fn stop_member(&self, key: &str) -> Result<(), RaftError> {
        let (g, id) = self.locate(key)?;
        g.stop(id)
    }

    /// Gives the member of volume `key` an empty volume from its next start (replace-member).
    /// True if there was a volume to forget.
    pub fn wipe(&self, key: &str) -> bool {
        self.volumes.wipe(key)
    }

    pub fn status(&self, key: &str) -> Result<MemberStatus, RaftError> {
        let (g, id) = self.locate(key)?;
        g.status(id)
            .ok_or_else(|| RaftError::UnknownMember(key.to_string()))
    }

    /// Proposes one write on the leader of `group`; Ok is the write's log index once applied.
    pub async fn propose_write(&self, group: &str) -> Result<u64, RaftError> {
        let g = self.group(group)?;
        Ok(g.propose_write().await?)
    }

    /// The steady write load of `group` (writes per second; 0 turns it off).
    pub fn set_write_rate(&self, group: &str, per_second: f64) -> Result<(), RaftError> {
        self.group(group)?.set_write_rate(per_second);
        Ok(())
    }

    /// The steady write load of every group.
    pub fn set_write_rate_all(&self, per_second: f64) {
        let groups: Vec<Arc<RaftGroup>> = self.groups().values().cloned().collect();
        for g in groups {
            g.set_write_rate(per_second);
        }
    }

    pub fn timeline(&self, group: &str) -> Result<Timeline, RaftError> {
        Ok(self.group(group)?.timeline())
    }

    /// Milliseconds within [t0, t1] during which `group` had no leader with quorum.
    pub fn quorum_lost_ms_between(
        &self,
        group: &str,
        t0: Instant,
        t1: Instant,
    ) -> Result<u64, RaftError> {
        Ok(self.timeline(group)?.quorum_lost_ms_between(t0, t1))
    }

    /// Cuts the member of volume `key` off the network (until `heal`).
    pub fn partition(&self, key: &str) -> Result<(), RaftError> {
        let (g, id) = self.locate(key)?;
        self.network.partition(g.name(), id);
        Ok(())
    }

    pub fn heal(&self, key: &str) -> Result<(), RaftError> {
        let (g, id) = self.locate(key)?;
        self.network.heal(g.name(), id);
        Ok(())
    }

    /// Pauses the member of volume `key` for `duration` (GC pause).
    pub fn stall(&self, key: &str, duration: Duration) -> Result<(), RaftError> {
        let (g, id) = self.locate(key)?;
        self.network.stall(g.name(), id, duration);
        Ok(())
    }

    /// Delays every message to and from the member of volume `key` (zero removes the delay).
    pub fn set_delay(&self, key: &str, delay: Duration) -> Result<(), RaftError> {
        let (g, id) = self.locate(key)?;
        self.network.set_delay(g.name(), id, delay);
        Ok(())
    }

    /// Stops every group's driver and member (volumes stay).
    pub fn shutdown(&self) {
        let groups: Vec<Arc<RaftGroup>> = self.groups().drain().map(|(_, g)| g).collect();
        self.keys().clear();
        for g in groups {
            g.close();
        }
    }
}

impl Drop for RaftGroups {
    fn drop(&mut self) {
        self.shutdown();
    }
}
