//! What a member does with what Raft hands it: installs a snapshot, applies committed entries
//! to its state machine, and switches to each configuration a committed change makes (decoding
//! the change's protobuf itself).

use raft::RawNode;
use raft::prelude::*;

use super::LabStorage;

/// Installs a snapshot from the leader: the log restarts after it, and the state machine is the
/// one the snapshot carries (its digest at the snapshot's index).
pub(super) fn install_snapshot(store: &LabStorage, snap: &Snapshot) {
    let index = snap.get_metadata().index;
    if store.log.wl().apply_snapshot(snap.clone()).is_err() {
        return;
    }
    let mut state = store.applied();
    state.index = index;
    if let Ok(d) = <[u8; 32]>::try_from(snap.get_data()) {
        state.digest = d;
    }
    store.set_applied(state);
}

/// Applies committed entries to the member's state machine (a running digest over every entry)
/// and switches the member to each configuration change among them.
pub(super) fn apply_committed(
    n: &mut RawNode<LabStorage>,
    store: &LabStorage,
    entries: &[Entry],
    confs: &mut Vec<(u64, ConfState)>,
) {
    for e in entries {
        let before = store.applied().index;
        apply_entries(store, std::slice::from_ref(e));
        let conf_change = matches!(
            e.get_entry_type(),
            EntryType::EntryConfChange | EntryType::EntryConfChangeV2
        );
        if !conf_change || e.index <= before {
            continue;
        }
        match switch_configuration(n, store, e) {
            Ok(cs) => confs.push((e.index, cs)),
            Err(why) => tracing::warn!(
                member = n.raft.id,
                index = e.index,
                "lab: a configuration change was not applied: {why}"
            ),
        }
    }
}

/// Switches the member to the configuration a committed change entry makes. The new
/// configuration is written to the volume first: the leader probes a newly added member while it
/// switches, and a snapshot it sends then must already name that member (raft-rs drops a snapshot
/// whose configuration lacks its receiver, and the newcomer would wait forever).
pub(super) fn switch_configuration(
    n: &mut RawNode<LabStorage>,
    store: &LabStorage,
    e: &Entry,
) -> Result<ConfState, String> {
    let cc = decode_conf_change(e)?;
    if cc.enter_joint().is_none() && !cc.leave_joint() {
        let (next, _) = raft::Changer::new(n.raft.prs())
            .simple(&cc.changes)
            .map_err(|e| e.to_string())?;
        store.log.wl().set_conf_state(next.to_conf_state());
    }
    let cs = n.apply_conf_change(&cc).map_err(|e| e.to_string())?;
    store.log.wl().set_conf_state(cs.clone());
    Ok(cs)
}

/// Reads the configuration change an entry carries (protobuf: `ConfChange` for
/// `EntryConfChange`, `ConfChangeV2` for `EntryConfChangeV2`, as raft-rs encodes them).
pub(super) fn decode_conf_change(e: &Entry) -> Result<ConfChangeV2, String> {
    let change_type = |v: u64| match v {
        0 => Ok(ConfChangeType::AddNode),
        1 => Ok(ConfChangeType::RemoveNode),
        2 => Ok(ConfChangeType::AddLearnerNode),
        other => Err(format!("unknown change type {other}")),
    };
    let mut cc = ConfChangeV2::default();
    if e.get_entry_type() == EntryType::EntryConfChange {
        let mut single = ConfChangeSingle::default();
        for (field, value) in proto_fields(e.get_data())? {
            match (field, value) {
                (2, Proto::Varint(v)) => single.set_change_type(change_type(v)?),
                (3, Proto::Varint(v)) => single.node_id = v,
                _ => {}
            }
        }
        cc.mut_changes().push(single);
        return Ok(cc);
    }
    for (field, value) in proto_fields(e.get_data())? {
        match (field, value) {
            (1, Proto::Varint(v)) => cc.set_transition(match v {
                0 => ConfChangeTransition::Auto,
                1 => ConfChangeTransition::Implicit,
                2 => ConfChangeTransition::Explicit,
                other => return Err(format!("unknown transition {other}")),
            }),
            (2, Proto::Bytes(b)) => {
                let mut single = ConfChangeSingle::default();
                for (f, v) in proto_fields(b)? {
                    match (f, v) {
                        (1, Proto::Varint(v)) => single.set_change_type(change_type(v)?),
                        (2, Proto::Varint(v)) => single.node_id = v,
                        _ => {}
                    }
                }
                cc.mut_changes().push(single);
            }
            _ => {}
        }
    }
    Ok(cc)
}

/// A protobuf field's value (fixed-width ones are skipped).
pub(super) enum Proto<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// The (field number, value) pairs of a protobuf message.
pub(super) fn proto_fields(mut b: &[u8]) -> Result<Vec<(u64, Proto<'_>)>, String> {
    fn varint(b: &mut &[u8]) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = b.split_first().ok_or("truncated varint")?;
            *b = rest;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long".into())
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let tag = varint(&mut b)?;
        let value = match tag & 7 {
            0 => Proto::Varint(varint(&mut b)?),
            2 => {
                let len = usize::try_from(varint(&mut b)?).map_err(|e| e.to_string())?;
                if len > b.len() {
                    return Err("truncated field".into());
                }
                let (v, rest) = b.split_at(len);
                b = rest;
                Proto::Bytes(v)
            }
            w @ (1 | 5) => {
                let len = if w == 1 { 8 } else { 4 };
                b = b.get(len..).ok_or("truncated field")?;
                Proto::Fixed
            }
            w => return Err(format!("unknown wire type {w}")),
        };
        out.push((tag >> 3, value));
    }
    Ok(out)
}

/// Applies committed entries to the member's state machine (a running digest).
pub(super) fn apply_entries(store: &LabStorage, entries: &[Entry]) {
    if entries.is_empty() {
        return;
    }
    let mut state = store.machine();
    for e in entries {
        state.apply(e);
    }
}
