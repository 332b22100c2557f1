//! Unit tests of the lab's Raft groups: digests, snapshots, membership changes, restore,
//! leadership hand-over.

use super::apply::{apply_entries, decode_conf_change, install_snapshot};
use super::storage::{Applied, RECENT_DIGESTS, StateMachine};
use super::*;
use raft::GetEntriesContext;
use raft::Storage;
use raft::storage::MemStorage;

fn entry(index: u64, term: u64, data: &[u8]) -> Entry {
    Entry {
        index,
        term,
        data: data.to_vec().into(),
        ..Default::default()
    }
}

fn storage(group: &str) -> LabStorage {
    LabStorage {
        log: MemStorage::new_with_conf_state((vec![1, 2, 3], vec![])),
        state: Arc::new(Mutex::new(StateMachine::at(Applied::empty(group)))),
    }
}

#[test]
fn same_entries_give_the_same_digest_and_snapshots_carry_the_state() {
    let entries: Vec<Entry> = (1..=5)
        .map(|i| entry(i, 1 + i / 3, &i.to_le_bytes()))
        .collect();
    let (a, b) = (storage("o/ns/db"), storage("o/ns/db"));
    for s in [&a, &b] {
        s.log.wl().append(&entries).unwrap();
        apply_entries(s, &entries);
    }
    assert_eq!(a.applied().index, 5);
    assert_eq!(a.applied(), b.applied());
    assert!(a.applied().hex().starts_with("sha256:") && a.applied().hex().len() == 71);
    // Applying again changes nothing; other data or another database gives another digest.
    apply_entries(&a, &entries[..2]);
    assert_eq!(a.applied(), b.applied());
    let c = storage("o/ns/db");
    let mut other = entries.clone();
    other[3] = entry(4, 2, b"x");
    apply_entries(&c, &other);
    assert_ne!(c.applied().digest, a.applied().digest);
    let d = storage("o/ns/other");
    apply_entries(&d, &entries);
    assert_ne!(d.applied().digest, a.applied().digest);

    // A member that starts empty and gets a snapshot has the sender's state, and stays equal.
    let snap = a.snapshot(0, 2).unwrap();
    assert_eq!(snap.get_metadata().index, 5);
    let fresh = storage("o/ns/db");
    install_snapshot(&fresh, &snap);
    assert_eq!(fresh.applied(), a.applied());
    assert_eq!(fresh.first_index().unwrap(), 6);
    let next = [entry(6, 2, b"six")];
    for s in [&a, &fresh] {
        s.log.wl().append(&next).unwrap();
        apply_entries(s, &next);
    }
    assert_eq!(fresh.applied(), a.applied());
    // Nothing applied yet: no snapshot to give.
    assert!(storage("o/ns/db").snapshot(0, 2).is_err());
}

async fn until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < timeout, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn fast(writes_per_second: f64) -> Arc<Consensus> {
    Consensus::new(RaftSettings {
        tick: Duration::from_millis(10),
        writes_per_second,
        ..Default::default()
    })
}

const GROUP: &str = "lab/ns/db";

fn key(id: u64) -> String {
    format!("lab/ns/db-{id}-0")
}

fn start(c: &Arc<Consensus>, id: u64) -> u64 {
    c.start_member(GROUP, &key(id), id, &[1, 2, 3], &[], Process::default())
        .unwrap()
}

fn leader(c: &Consensus) -> Option<u64> {
    (1..=3).find(|i| c.status(&key(*i)).is_some_and(|s| s.role == "LEADER"))
}

fn db(c: &Consensus) -> Value {
    c.report()[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_member_rejoins_by_membership_change_and_catches_up_by_snapshot() {
    let c = fast(3000.0);
    let inc: Vec<u64> = (1..=3).map(|i| start(&c, i)).collect();
    until("the log is compacted", Duration::from_secs(20), || {
        c.status(&key(1)).is_some_and(|s| s.applied_index > 2500)
    })
    .await;
    // An empty volume where member 3 ran: a new server.
    c.stop_member(&key(3), inc[2]);
    c.wipe(&key(3));
    let again = start(&c, 3);
    assert!(again > inc[2], "a new process is a new incarnation");
    let new = c.status(&key(3)).unwrap();
    assert_eq!(new.incarnation, again);
    assert!(new.id >= FIRST_JOINER_ID, "a fresh id: {}", new.id);
    assert_eq!(new.role, "READ_REPLICA", "not a voter yet");
    let id = new.id;
    until(
        "member 3 removed, the new one a caught-up voter",
        Duration::from_secs(20),
        || {
            c.status(&key(3)).is_some_and(|s| {
                s.voters == vec![1, 2, id] && s.learners.is_empty() && s.applied_index > 2500
            })
        },
    )
    .await;
    // It caught up from a snapshot, not from the (compacted) start of the log.
    let first = {
        let g = c.group(GROUP).unwrap();
        let st = g.lock();
        assert!(
            !st.members.contains_key(&3),
            "the old member left the group"
        );
        let n = st.members[&id].node.as_ref().unwrap();
        n.raft.raft_log.store.first_index().unwrap()
    };
    assert!(first > 1000, "first index {first}");
    // The group never lost its quorum, and members at the same index have the same state.
    assert_eq!(db(&c)["quorum_lost_events"], 0, "{}", db(&c));
    let top = (1..=3)
        .map(|i| c.status(&key(i)).unwrap().applied_index)
        .min()
        .unwrap();
    for i in 1..=3 {
        assert_eq!(
            c.digest_at(&key(i), top),
            c.digest_at(&key(1), top),
            "member in db-{i}-0 at {top}"
        );
    }
    // The new member keeps its id across restarts (it is on its volume) and votes.
    c.stop_member(&key(3), again);
    start(&c, 3);
    let s = c.status(&key(3)).unwrap();
    assert_eq!((s.id, s.role == "READ_REPLICA"), (id, false));
}

/// The configuration change entries a single voter writes when `propose` proposes one.
fn proposed(propose: impl FnOnce(&mut RawNode<LabStorage>) -> raft::Result<()>) -> Vec<Entry> {
    let s = LabStorage::founding(GROUP, &[1], &[]);
    let cfg = Config {
        id: 1,
        applied: INIT_INDEX,
        ..Default::default()
    };
    let logger = slog::Logger::root(slog::Discard, slog::o!());
    let mut n = RawNode::new(&cfg, s.clone(), &logger).unwrap();
    n.campaign().unwrap();
    let c = fast(0.0);
    let mut out = Vec::new();
    let _ = c.handle_ready(&mut n, &mut out);
    propose(&mut n).unwrap();
    for _ in 0..3 {
        let _ = c.handle_ready(&mut n, &mut out);
    }
    let (first, last) = (s.first_index().unwrap(), s.last_index().unwrap());
    s.entries(first, last + 1, None, GetEntriesContext::empty(false))
        .unwrap()
        .into_iter()
        .filter(|e| e.get_entry_type() != EntryType::EntryNormal)
        .collect()
}

#[test]
fn conf_changes_decode_as_raft_rs_encodes_them() {
    let mut v2 = ConfChangeV2::default();
    for (id, ty) in [
        (7, ConfChangeType::AddLearnerNode),
        (9, ConfChangeType::RemoveNode),
    ] {
        let mut single = ConfChangeSingle {
            node_id: id,
            ..Default::default()
        };
        single.set_change_type(ty);
        v2.mut_changes().push(single);
    }
    v2.set_transition(ConfChangeTransition::Explicit);
    let entries = proposed(|n| n.propose_conf_change(vec![], v2.clone()));
    assert_eq!(entries.len(), 1);
    assert_eq!(decode_conf_change(&entries[0]).unwrap(), v2);

    let mut v1 = ConfChange {
        node_id: 5,
        ..Default::default()
    };
    v1.set_change_type(ConfChangeType::AddLearnerNode);
    let entries = proposed(|n| n.propose_conf_change(vec![], v1));
    assert_eq!(entries[0].get_entry_type(), EntryType::EntryConfChange);
    let d = decode_conf_change(&entries[0]).unwrap();
    assert_eq!(d.changes.len(), 1);
    assert_eq!(d.changes[0].node_id, 5);
    assert_eq!(
        d.changes[0].get_change_type(),
        ConfChangeType::AddLearnerNode
    );
    // Garbage is an error, never a panic.
    let mut bad = Entry::default();
    bad.set_entry_type(EntryType::EntryConfChangeV2);
    bad.data = vec![0x12, 0x7f].into();
    assert!(decode_conf_change(&bad).is_err());
}

#[test]
fn digests_parse_and_recent_indexes_are_remembered() {
    let a = storage("o/ns/db");
    assert_eq!(parse_digest(&a.applied().hex()), Some(a.applied().digest));
    assert_eq!(parse_digest("sha256:00"), None);
    assert_eq!(parse_digest(&format!("md5:{}", "0".repeat(64))), None);
    let entries: Vec<Entry> = (1..=(RECENT_DIGESTS as u64 + 10))
        .map(|i| entry(i, 1, &i.to_le_bytes()))
        .collect();
    apply_entries(&a, &entries[..5]);
    let at5 = a.applied();
    assert_eq!(a.machine().digest_at(5), Some(at5));
    assert_eq!(a.machine().digest_at(0).map(|x| x.index), Some(0));
    a.log.wl().append(&entries).unwrap();
    apply_entries(&a, &entries);
    let m = a.machine();
    assert_eq!(m.digest_at(5), None, "older than the window");
    assert_eq!(m.digest_at(m.applied.index), Some(m.applied));
    assert_eq!(m.digest_at(m.applied.index + 1), None);
    assert_eq!(m.recent.len(), RECENT_DIGESTS);
    let first = m.recent[0].index;
    assert_eq!(m.digest_at(first).map(|x| x.index), Some(first));
    drop(m);
    // Taken whole: no history before.
    install_snapshot(&a, &a.snapshot(0, 2).unwrap());
    assert_eq!(a.machine().recent.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_needs_every_member_stopped_and_the_group_goes_on_from_the_backup() {
    let c = fast(200.0);
    let inc: Vec<u64> = (1..=3).map(|i| start(&c, i)).collect();
    until("writes applied", Duration::from_secs(10), || {
        c.status(&key(1)).is_some_and(|s| s.applied_index > 50)
    })
    .await;
    // The backup: member 1's state now.
    let b = c.status(&key(1)).unwrap();
    let point = RestorePoint {
        index: b.applied_index,
        term: b.term,
        digest: parse_digest(&b.state_digest).unwrap(),
    };
    until("the state moved on", Duration::from_secs(10), || {
        (1..=3).all(|i| {
            c.status(&key(i))
                .is_some_and(|s| s.applied_index > point.index + 20)
        })
    })
    .await;
    let old_next = c.digest_at(&key(1), point.index + 1).unwrap();
    c.stop_member(&key(1), inc[0]);
    c.stop_member(&key(2), inc[1]);
    let err = c.restore(GROUP, &point).unwrap_err();
    assert!(
        err.starts_with("db-3-0 is running; stop every member"),
        "{err}"
    );
    assert_eq!(c.stopped_members(GROUP).unwrap_err(), err);
    c.stop_member(&key(3), inc[2]);
    assert_eq!(
        c.stopped_members(GROUP).unwrap(),
        vec![
            ("db-1-0".into(), 1),
            ("db-2-0".into(), 2),
            ("db-3-0".into(), 3)
        ]
    );
    let restored = c.restore(GROUP, &point).unwrap();
    assert_eq!(restored.len(), 3);
    assert!(restored.iter().all(|v| v.replaced));
    for i in 1..=3 {
        assert_eq!(
            c.digest_at(&key(i), point.index),
            Some(b.state_digest.clone())
        );
        assert_eq!(c.digest_at(&key(i), point.index + 1), None);
    }
    assert!(c.restore("lab/ns/nope", &point).is_err());
    let before_start = RestorePoint { index: 0, ..point };
    assert!(
        c.restore(GROUP, &before_start)
            .unwrap_err()
            .contains("before any database's start")
    );
    for i in 1..=3 {
        start(&c, i);
        let s = c.status(&key(i)).unwrap();
        assert!(s.applied_index >= point.index);
    }
    until("a leader and new writes", Duration::from_secs(10), || {
        (1..=3).all(|i| {
            c.status(&key(i))
                .is_some_and(|s| s.applied_index > point.index + 20)
        })
    })
    .await;
    let top = (1..=3)
        .map(|i| c.status(&key(i)).unwrap().applied_index)
        .min()
        .unwrap();
    let at = |i: u64, index: u64| c.digest_at(&key(i), index);
    for i in 1..=3 {
        assert_eq!(
            at(i, point.index),
            Some(b.state_digest.clone()),
            "member {i}"
        );
        assert_eq!(at(i, top), at(1, top), "member {i} at {top}");
        assert_ne!(
            at(i, point.index + 1),
            Some(old_next.clone()),
            "a new history"
        );
    }
    // Restoring into a running group is refused, and nothing changes.
    assert!(c.restore(GROUP, &point).is_err());
    assert!(c.status(&key(1)).unwrap().applied_index > point.index);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_hands_over_without_a_leaderless_gap_and_a_stale_stop_is_ignored() {
    let c = fast(100.0);
    let inc: Vec<u64> = (1..=3).map(|i| start(&c, i)).collect();
    until("a leader", Duration::from_secs(10), || {
        db(&c)["quorum"] == true
    })
    .await;
    let old = leader(&c).unwrap();
    let before = db(&c);
    let to = c.hand_over(&key(old), inc[old as usize - 1]).unwrap();
    assert_ne!(to, old);
    until("the transferee leads", Duration::from_secs(10), || {
        leader(&c) == Some(to)
    })
    .await;
    let after = db(&c);
    assert_eq!(
        after["elections"].as_u64().unwrap(),
        before["elections"].as_u64().unwrap() + 1,
        "{after}"
    );
    assert_eq!(after["leaderless_ms"], before["leaderless_ms"], "{after}");
    assert_eq!(after["quorum_lost_events"], 0);
    // Not the leader any more: nothing to hand over. An old incarnation cannot stop a new one.
    assert_eq!(c.hand_over(&key(old), inc[old as usize - 1]), None);
    c.stop_member(&key(to), inc[to as usize - 1] + 100);
    assert!(c.status(&key(to)).unwrap().live);
}

/// (ticks, ticks at the calm pace, calm now) of the test group.
fn pace(c: &Consensus) -> (u64, u64, bool) {
    let g = c.group(GROUP).unwrap();
    let st = g.lock();
    (st.ticks, st.calm_ticks, Consensus::is_calm(&st))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calm_group_ticks_slowly_and_a_fault_wakes_it_to_the_full_rate_at_once() {
    let c = fast(0.0);
    let inc: Vec<u64> = (1..=3).map(|i| start(&c, i)).collect();
    until("a calm group", Duration::from_secs(10), || pace(&c).2).await;
    // Calm: a tick every 100 ms instead of every 10 ms (a measuring window, not a wait: a
    // slow machine only ticks less).
    let (t0, s0, _) = pace(&c);
    let window = Instant::now();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (t1, s1, calm) = pace(&c);
    let most = window.elapsed().as_millis() as u64 / 100 + 3;
    assert!(calm, "the group stays calm with nothing happening");
    assert!(
        t1 - t0 <= most,
        "{} ticks in {:?}",
        t1 - t0,
        window.elapsed()
    );
    assert!(s1 > s0, "calm ticks came at the calm pace");
    let term = c.status(&key(1)).unwrap().term;

    // The leader's process dies: the group wakes at once and elects at the full rate (as many
    // ticks as ever: an election timeout of 10 to 20, more after a split vote).
    let old = leader(&c).unwrap();
    let (_, s2, _) = pace(&c);
    c.stop_member(&key(old), inc[old as usize - 1]);
    until("a new leader", Duration::from_secs(10), || {
        leader(&c).is_some_and(|l| l != old)
    })
    .await;
    let (_, s3, calm) = pace(&c);
    assert!(!calm, "a group with a member down is not calm");
    // (One calm tick may have been due at the very moment of the fault.)
    assert!(
        s3 - s2 <= 1,
        "{} ticks at the calm pace once woken",
        s3 - s2
    );
    assert!(c.status(&key(leader(&c).unwrap())).unwrap().term > term);

    // The member comes back: calm again.
    start(&c, old);
    until("calm again", Duration::from_secs(10), || pace(&c).2).await;
}

/// The Raft role of member `id` of the test group, if it runs.
fn role_of(c: &Consensus, id: u64) -> Option<StateRole> {
    let g = c.group(GROUP)?;
    let st = g.lock();
    st.members.get(&id)?.node.as_ref().map(|n| n.raft.state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_database_forms_once_a_majority_of_its_voters_runs() {
    // A slow clock: an election timeout (10 to 20 ticks of 1 s) cannot elect anyone in time.
    let c = Consensus::new(RaftSettings {
        tick: Duration::from_secs(1),
        writes_per_second: 0.0,
        ..Default::default()
    });
    // The first voter starts last. Alone, the third one does not stand for election.
    start(&c, 3);
    assert_eq!(role_of(&c, 3), Some(StateRole::Follower));
    // The second one makes a majority: it stands for election at once (the driver may have
    // taken the election further already)...
    start(&c, 2);
    assert_ne!(role_of(&c, 2), Some(StateRole::Follower));
    // ...and wins before any election timeout could have elected anyone (10 s at the earliest).
    until("a leader", Duration::from_secs(5), || leader(&c).is_some()).await;
    // Past the majority, a starting voter just follows.
    start(&c, 1);
    assert_ne!(role_of(&c, 1), Some(StateRole::PreCandidate));
    until(
        "all three in the leader's term",
        Duration::from_secs(5),
        || {
            let l = leader(&c).and_then(|l| c.status(&key(l)));
            l.is_some_and(|l| {
                (1..=3).all(|i| {
                    c.status(&key(i))
                        .is_some_and(|s| s.term == l.term && s.leader_id == l.id)
                })
            })
        },
    )
    .await;
}
