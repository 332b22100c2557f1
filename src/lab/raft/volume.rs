//! Members' persistent volumes: [`MemberVolume`] holds one member's Raft log (entries after
//! the last compaction), hard state, configuration, snapshot point, applied index and its
//! state machine, and implements [`raft::Storage`] over them; [`VolumeRegistry`] keeps volumes
//! by key (e.g. `orchestra/namespace/pod`) so they outlive the member, like PersistentVolumes.
//!
//! The state machine is deliberately tiny: every write carries a sequence number, and the
//! machine keeps how many writes it applied and the last few. Snapshots are made on demand
//! from it, at the applied index, so a member that fell behind the compacted log (or lost its
//! volume) catches up from one.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use raft::eraftpb::{ConfState, Entry, EntryType, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, RaftState, Storage, StorageError};

/// How many recent writes the state machine remembers.
pub const RECENT_WRITES: usize = 8;

/// A write the state machine applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppliedWrite {
    pub index: u64,
    pub seq: u64,
}

/// The replicated state: a counter of applied writes and the last few of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateMachine {
    pub writes: u64,
    pub recent: VecDeque<AppliedWrite>,
}

impl StateMachine {
    fn apply(&mut self, index: u64, seq: u64) {
        self.writes += 1;
        if self.recent.len() >= RECENT_WRITES {
            self.recent.pop_front();
        }
        self.recent.push_back(AppliedWrite { index, seq });
    }

    /// Snapshot data: `writes`, then (index, seq) pairs, all u64 little-endian.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 16 * self.recent.len());
        out.extend_from_slice(&self.writes.to_le_bytes());
        for w in &self.recent {
            out.extend_from_slice(&w.index.to_le_bytes());
            out.extend_from_slice(&w.seq.to_le_bytes());
        }
        out
    }

    pub fn decode(data: &[u8]) -> Result<Self, VolumeError> {
        if data.is_empty() {
            return Ok(Self::default());
        }
        if data.len() < 8 || (data.len() - 8) % 16 != 0 {
            return Err(VolumeError::BadSnapshot(data.len()));
        }
        let word = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&data[at..at + 8]);
            u64::from_le_bytes(b)
        };
        let mut m = Self {
            writes: word(0),
            recent: VecDeque::new(),
        };
        let mut at = 8;
        while at < data.len() {
            m.recent.push_back(AppliedWrite {
                index: word(at),
                seq: word(at + 8),
            });
            at += 16;
        }
        while m.recent.len() > RECENT_WRITES {
            m.recent.pop_front();
        }
        Ok(m)
    }
}

/// The payload of a write entry.
pub fn encode_write(seq: u64) -> Vec<u8> {
    seq.to_le_bytes().to_vec()
}

/// The sequence number of a write entry, if the entry is one.
pub fn decode_write(data: &[u8]) -> Option<u64> {
    let b: [u8; 8] = data.try_into().ok()?;
    Some(u64::from_le_bytes(b))
}

/// Why a volume refused an update (the driver logs these; raft-rs never asks for them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VolumeError {
    #[error("entries from {first} would leave a gap after the last index {last}")]
    Gap { first: u64, last: u64 },
    #[error("a snapshot at {snapshot} is older than the compacted log (first index {first})")]
    SnapshotOutOfDate { snapshot: u64, first: u64 },
    #[error("snapshot data of {0} bytes is not a state machine")]
    BadSnapshot(usize),
}

#[derive(Default)]
struct Core {
    hard_state: HardState,
    conf_state: ConfState,
    /// The point the log was compacted to (index, term); entries start right after it.
    snap_index: u64,
    snap_term: u64,
    entries: VecDeque<Entry>,
    applied: u64,
    applied_term: u64,
    machine: StateMachine,
}

impl Core {
    fn first_index(&self) -> u64 {
        self.entries
            .front()
            .map_or(self.snap_index + 1, |e| e.index)
    }

    fn last_index(&self) -> u64 {
        self.entries.back().map_or(self.snap_index, |e| e.index)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        if idx == self.snap_index {
            return Ok(self.snap_term);
        }
        let first = self.first_index();
        if idx < first {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if idx > self.last_index() {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        Ok(self.entries[(idx - first) as usize].term)
    }
}

/// One member's persistent state. Clones share it (the registry and the running member hold
/// the same volume).
#[derive(Clone, Default)]
pub struct MemberVolume {
    core: Arc<Mutex<Core>>,
}

impl std::fmt::Debug for MemberVolume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = self.lock();
        f.debug_struct("MemberVolume")
            .field("term", &c.hard_state.term)
            .field("commit", &c.hard_state.commit)
            .field("first_index", &c.first_index())
            .field("last_index", &c.last_index())
            .field("applied", &c.applied)
            .field("writes", &c.machine.writes)
            .finish()
    }
}

impl MemberVolume {
    /// An empty volume of a member of a group with this configuration.
    pub fn new(conf_state: ConfState) -> Self {
        let v = Self::default();
        v.lock().conf_state = conf_state;
        v
    }

    fn lock(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Nothing was ever written to it (no entry, no snapshot, no term).
    pub fn is_blank(&self) -> bool {
        let c = self.lock();
        c.hard_state.term == 0 && c.entries.is_empty() && c.snap_index == 0
    }

    pub fn applied_index(&self) -> u64 {
        self.lock().applied
    }

    pub fn hard_state(&self) -> HardState {
        self.lock().hard_state.clone()
    }

    pub fn first_index(&self) -> u64 {
        self.lock().first_index()
    }

    pub fn last_index(&self) -> u64 {
        self.lock().last_index()
    }

    /// Log entries held (after compaction).
    pub fn entry_count(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn machine(&self) -> StateMachine {
        self.lock().machine.clone()
    }

    pub fn writes_applied(&self) -> u64 {
        self.lock().machine.writes
    }

    /// Persists new log entries (overwriting any conflicting suffix).
    pub(crate) fn append(&self, ents: &[Entry]) -> Result<(), VolumeError> {
        let Some(head) = ents.first() else {
            return Ok(());
        };
        let mut c = self.lock();
        let first = c.first_index();
        // Entries at or before the compaction point are committed and already held.
        let skip = first.saturating_sub(head.index) as usize;
        let ents = ents.get(skip..).unwrap_or(&[]);
        let Some(head) = ents.first() else {
            return Ok(());
        };
        let last = c.last_index();
        if head.index > last + 1 {
            return Err(VolumeError::Gap {
                first: head.index,
                last,
            });
        }
        let keep = (head.index - c.first_index()) as usize;
        c.entries.truncate(keep);
        c.entries.extend(ents.iter().cloned());
        Ok(())
    }

    pub(crate) fn set_hard_state(&self, hs: HardState) {
        self.lock().hard_state = hs;
    }

    pub(crate) fn set_commit(&self, commit: u64) {
        self.lock().hard_state.commit = commit;
    }

    /// Replaces log and state machine with a snapshot received from the leader.
    pub(crate) fn apply_snapshot(&self, snap: &Snapshot) -> Result<(), VolumeError> {
        let machine = StateMachine::decode(&snap.data)?;
        let meta = snap.get_metadata();
        let mut c = self.lock();
        let first = c.first_index();
        if meta.index < first.saturating_sub(1) {
            return Err(VolumeError::SnapshotOutOfDate {
                snapshot: meta.index,
                first,
            });
        }
        c.snap_index = meta.index;
        c.snap_term = meta.term;
        c.entries.clear();
        c.hard_state.term = c.hard_state.term.max(meta.term);
        c.hard_state.commit = c.hard_state.commit.max(meta.index);
        c.conf_state = meta.get_conf_state().clone();
        c.applied = meta.index;
        c.applied_term = meta.term;
        c.machine = machine;
        Ok(())
    }

    /// Applies committed entries to the state machine; pushes (index, seq) of every write.
    pub(crate) fn apply_committed(&self, entries: &[Entry], writes: &mut Vec<AppliedWrite>) {
        if entries.is_empty() {
            return;
        }
        let mut c = self.lock();
        for e in entries {
            if e.index <= c.applied {
                continue;
            }
            c.applied = e.index;
            c.applied_term = e.term;
            if e.get_entry_type() == EntryType::EntryNormal
                && let Some(seq) = decode_write(&e.data)
            {
                c.machine.apply(e.index, seq);
                writes.push(AppliedWrite {
                    index: e.index,
                    seq,
                });
            }
        }
    }

    /// Drops applied entries beyond the last `retain` once the log is a quarter longer.
    pub(crate) fn compact(&self, retain: usize) {
        let mut c = self.lock();
        let retain = retain.max(1);
        if c.entries.len() <= retain + (retain / 4).max(8) {
            return;
        }
        // Keep entries from `keep_from` on; only applied entries may go.
        let keep_from = (c.applied + 1).saturating_sub(retain as u64).min(c.applied);
        let first = c.first_index();
        if keep_from <= first {
            return;
        }
        let Ok(term) = c.term(keep_from - 1) else {
            return;
        };
        let n = (keep_from - first) as usize;
        let n = n.min(c.entries.len());
        c.entries.drain(..n);
        c.snap_index = keep_from - 1;
        c.snap_term = term;
    }
}

impl Storage for MemberVolume {
    fn initial_state(&self) -> raft::Result<RaftState> {
        let c = self.lock();
        Ok(RaftState::new(c.hard_state.clone(), c.conf_state.clone()))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        let c = self.lock();
        let first = c.first_index();
        if low < first {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if high > c.last_index() + 1 || low > high {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        let mut ents: Vec<Entry> = c
            .entries
            .range((low - first) as usize..(high - first) as usize)
            .cloned()
            .collect();
        raft::util::limit_size(&mut ents, max_size.into());
        Ok(ents)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        self.lock().term(idx)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.lock().first_index())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.lock().last_index())
    }

    /// A snapshot of the state machine at the applied index (made on demand: it is small).
    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        let c = self.lock();
        if c.applied < request_index || c.applied < c.snap_index {
            return Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable,
            ));
        }
        let mut snap = Snapshot::default();
        snap.data = c.machine.encode().into();
        let mut meta = SnapshotMetadata::default();
        meta.index = c.applied;
        meta.term = c.applied_term;
        meta.set_conf_state(c.conf_state.clone());
        snap.set_metadata(meta);
        Ok(snap)
    }
}

/// Every member's volume, by key. Volumes outlive members; `wipe` replaces one with an empty
/// volume at the member's next start (a running member keeps the one it opened, as a pod keeps
/// a deleted PersistentVolumeClaim until it stops).
#[derive(Default)]
pub struct VolumeRegistry {
    volumes: Mutex<HashMap<String, MemberVolume>>,
}

impl VolumeRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, MemberVolume>> {
        self.volumes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The volume `key`, created empty with `conf_state` when there is none.
    pub fn open(&self, key: &str, conf_state: impl FnOnce() -> ConfState) -> MemberVolume {
        self.lock()
            .entry(key.to_string())
            .or_insert_with(|| MemberVolume::new(conf_state()))
            .clone()
    }

    pub fn get(&self, key: &str) -> Option<MemberVolume> {
        self.lock().get(key).cloned()
    }

    /// Forgets the volume `key`: the member starts on an empty one next time. True if it existed.
    pub fn wipe(&self, key: &str) -> bool {
        self.lock().remove(key).is_some()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}
