//! Restoring a stopped group to a backup, as `neo4j-admin database restore` does: which pods
//! hold its volumes, the refusal while any member runs, and the digests a restore is checked by.

use super::{
    Consensus, GroupState, INIT_INDEX, INIT_TERM, LabStorage, RestorePoint, RestoredVolume, Volume,
};

impl Consensus {
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
