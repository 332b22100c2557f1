//! A member's storage: the Raft log (raft-rs's `MemStorage`) and, beside it, the state machine
//! (a running SHA-256 over every applied entry, with the digests at the last applied indexes),
//! the volumes a group starts from (founding, joining, restored), and the snapshots a member
//! serves, which carry the state digest at their index.

use std::sync::{Arc, Mutex, MutexGuard};

use raft::prelude::*;
use raft::storage::MemStorage;
use raft::{GetEntriesContext, StorageError};
use sha2::{Digest, Sha256};

/// What a member has applied: the index and the state machine's digest at that index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Applied {
    pub(super) index: u64,
    pub(super) digest: [u8; 32],
}

impl Applied {
    /// The state of an empty member of `group` (before index 1).
    pub(super) fn empty(group: &str) -> Self {
        Self {
            index: 0,
            digest: Sha256::digest(format!("baton-lab-state/{group}").as_bytes()).into(),
        }
    }

    /// Applies one committed entry (entries at or below the applied index are already in).
    pub(super) fn apply(&mut self, e: &Entry) {
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

    pub(super) fn hex(&self) -> String {
        let hex: String = self.digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }
}

/// How many applied indexes a member remembers the state digest of (for `digest_at`).
pub(super) const RECENT_DIGESTS: usize = 1024;

/// Where every group's log starts: its founding members begin from a snapshot at this index
/// and term that carries the founding membership. No leader can then send anyone entries from
/// index 1, so a member that joins later with an empty volume (and an empty configuration, as
/// raft-rs wants of new members) always catches up by snapshot first and learns the membership
/// from it; replaying the log from index 1 with an empty configuration would apply the first
/// configuration change to nothing (raft-rs refuses: "removed all voters") or make the newcomer
/// a group of its own. (TiKV starts its groups the same way.)
pub(super) const INIT_INDEX: u64 = 1;
pub(super) const INIT_TERM: u64 = 1;

/// A member's state machine: what it has applied, and the digests at its last applied indexes
/// (since it last took its state whole, from a snapshot or a restore).
pub(super) struct StateMachine {
    pub(super) applied: Applied,
    pub(super) recent: std::collections::VecDeque<Applied>,
}

impl StateMachine {
    pub(super) fn at(a: Applied) -> Self {
        Self {
            applied: a,
            recent: std::collections::VecDeque::from([a]),
        }
    }

    /// Applies one committed entry (entries at or below the applied index are already in).
    pub(super) fn apply(&mut self, e: &Entry) {
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
    pub(super) fn digest_at(&self, index: u64) -> Option<Applied> {
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
pub(super) struct LabStorage {
    pub(super) log: MemStorage,
    pub(super) state: Arc<Mutex<StateMachine>>,
}

impl LabStorage {
    pub(super) fn new(log: MemStorage, applied: Applied) -> Self {
        Self {
            log,
            state: Arc::new(Mutex::new(StateMachine::at(applied))),
        }
    }

    pub(super) fn machine(&self) -> MutexGuard<'_, StateMachine> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn applied(&self) -> Applied {
        self.machine().applied
    }

    /// The state is now `a`, taken whole (a snapshot or a restore): no history before it.
    pub(super) fn set_applied(&self, a: Applied) {
        *self.machine() = StateMachine::at(a);
    }

    /// A founding member's empty volume: the group's start (see [`INIT_INDEX`]).
    pub(super) fn founding(group: &str, voters: &[u64], learners: &[u64]) -> Self {
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
    pub(super) fn joining(group: &str) -> Self {
        Self::new(MemStorage::new(), Applied::empty(group))
    }

    /// A volume as `neo4j-admin database restore` leaves it: the state at `point` and a log
    /// that starts right after it (a snapshot at the point, with the group's membership).
    pub(super) fn restored(
        point: &RestorePoint,
        voters: &[u64],
        learners: &[u64],
    ) -> Result<Self, String> {
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
