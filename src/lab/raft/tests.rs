//! Tests of the lab's Raft core: elections, re-election, partitions, restarts, wiped volumes,
//! learners, writes and the truth timeline — with real time, each within a few seconds — plus
//! unit tests of volumes and timelines, and an ignored fleet-scale cost measurement.

use std::time::{Duration, Instant};

use raft::Storage;
use raft::eraftpb::{ConfState, Entry};

use super::timeline::TimelineLog;
use super::volume::{AppliedWrite, MemberVolume, StateMachine, encode_write};
use super::*;

/// Faster than the defaults so each test stays well under 5 s (elections in 0.5–1 s).
fn fast() -> RaftSettings {
    RaftSettings {
        tick: Duration::from_millis(50),
        calm_tick: Duration::from_millis(400),
        calm_after: Duration::from_millis(800),
        election_ticks: 10,
        heartbeat_ticks: 2,
        writes_per_second: 0.0,
        write_timeout: Duration::from_millis(800),
        log_retain: 40,
    }
}

fn key(group: &str, id: u64) -> String {
    format!("lab/default/{group}-{id}")
}

/// Creates `group` with voters 1..=voters and learners 101.. and starts every member.
fn start_group(rg: &RaftGroups, group: &str, voters: u64, learners: u64) -> Vec<String> {
    let mut specs: Vec<MemberSpec> = (1..=voters)
        .map(|i| MemberSpec::voter(i, key(group, i)))
        .collect();
    specs.extend((101..101 + learners).map(|i| MemberSpec::learner(i, key(group, i))));
    rg.create_group(group, &specs).unwrap();
    for s in &specs {
        rg.start_member(&s.key).unwrap();
    }
    specs.into_iter().map(|s| s.key).collect()
}

async fn wait_for(limit: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if ok() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The settled leader: one member leads, every running voter follows it in its term.
fn settled_leader(rg: &RaftGroups, group: &str) -> Option<(u64, u64)> {
    let sts = rg.group(group).ok()?.statuses();
    let leaders: Vec<&MemberStatus> = sts.iter().filter(|s| s.role == Role::Leader).collect();
    let [l] = leaders.as_slice() else {
        return None;
    };
    let all_follow = sts
        .iter()
        .filter(|s| s.role != Role::Down)
        .all(|s| s.leader_id == Some(l.member_id) && s.term == l.term);
    all_follow.then_some((l.member_id, l.term))
}

fn leader_key(group: &str, id: u64) -> String {
    key(group, id)
}

#[tokio::test]
async fn one_leader_in_a_3_and_a_5_member_group() {
    let rg = RaftGroups::new(fast());
    start_group(&rg, "three", 3, 0);
    start_group(&rg, "five", 5, 0);
    assert!(
        wait_for(Duration::from_secs(4), || settled_leader(&rg, "three")
            .is_some()
            && settled_leader(&rg, "five").is_some())
        .await,
        "no settled leader: {:?} {:?}",
        rg.group("three").unwrap().statuses(),
        rg.group("five").unwrap().statuses()
    );
    for g in ["three", "five"] {
        let sts = rg.group(g).unwrap().statuses();
        assert_eq!(sts.iter().filter(|s| s.role == Role::Leader).count(), 1);
        assert!(sts.iter().all(|s| s.healthy || s.role == Role::Leader));
        let t = rg.timeline(g).unwrap();
        assert_eq!(t.quorum_now, settled_leader(&rg, g));
        assert_eq!(sts[0].voters.len(), if g == "three" { 3 } else { 5 });
    }
    // Stays so: no spurious elections while idle (and the group goes calm).
    let (l3, t3) = settled_leader(&rg, "three").unwrap();
    assert!(
        wait_for(Duration::from_secs(3), || rg
            .group("three")
            .unwrap()
            .is_calm())
        .await
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(settled_leader(&rg, "three"), Some((l3, t3)));
}

#[tokio::test]
async fn stopping_the_leader_elects_a_new_one_with_a_higher_term() {
    let rg = RaftGroups::new(fast());
    start_group(&rg, "db", 3, 0);
    assert!(
        wait_for(Duration::from_secs(3), || settled_leader(&rg, "db")
            .is_some())
        .await
    );
    let (old, term) = settled_leader(&rg, "db").unwrap();
    let t0 = Instant::now();
    rg.stop_member(&leader_key("db", old)).unwrap();
    assert_eq!(rg.status(&key("db", old)).unwrap().role, Role::Down);
    assert!(
        wait_for(Duration::from_secs(3), || settled_leader(&rg, "db")
            .is_some_and(|(l, t)| l != old && t > term))
        .await,
        "no new leader: {:?}",
        rg.group("db").unwrap().statuses()
    );
    let elapsed = t0.elapsed();
    let t = rg.timeline("db").unwrap();
    let lost = t.quorum_lost_ms_between(t0, Instant::now());
    assert!(
        lost > 0 && lost <= elapsed.as_millis() as u64 + 1,
        "lost {lost} ms"
    );
    assert_eq!(t.quorum_losses_between(t0, Instant::now()), 1);
    assert_eq!(t.quorum_losses, 1);
    // The old leader rejoins as a follower of the new term.
    rg.start_member(&key("db", old)).unwrap();
    assert!(
        wait_for(Duration::from_secs(3), || {
            let s = rg.status(&key("db", old)).unwrap();
            s.role == Role::Follower && s.term > term && s.healthy
        })
        .await
    );
}

#[tokio::test]
async fn a_partitioned_follower_lags_while_writes_go_on_and_catches_up_after_heal() {
    let rg = RaftGroups::new(fast());
    start_group(&rg, "db", 3, 0);
    assert!(
        wait_for(Duration::from_secs(3), || settled_leader(&rg, "db")
            .is_some())
        .await
    );
    let (lead, _) = settled_leader(&rg, "db").unwrap();
    let follower = key("db", if lead == 1 { 2 } else { 1 });
    rg.set_write_rate("db", 40.0).unwrap();
    let t0 = Instant::now();
    rg.partition(&follower).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let lagging_at = rg.status(&follower).unwrap().applied_index;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let cut = rg.status(&follower).unwrap();
    let leader = rg.status(&leader_key("db", lead)).unwrap();
    assert_eq!(
        cut.applied_index, lagging_at,
        "a partitioned member applies nothing"
    );
    assert!(cut.partitioned && !cut.healthy, "{cut:?}");
    assert!(
        leader.applied_index >= lagging_at + 30,
        "writes went on: leader at {}, follower at {lagging_at}",
        leader.applied_index
    );
    rg.heal(&follower).unwrap();
    let target = rg.status(&leader_key("db", lead)).unwrap().applied_index;
    assert!(
        wait_for(Duration::from_secs(3), || rg
            .status(&follower)
            .unwrap()
            .applied_index
            >= target)
        .await
    );
    let t1 = Instant::now();
    let t = rg.timeline("db").unwrap();
    assert_eq!(t.quorum_lost_ms_between(t0, t1), 0, "{t:?}");
    assert!(t.failed_writes_between(t0, t1).is_empty(), "{t:?}");
    assert!(t.writes_ok >= 40);
    // The follower did not disrupt the leader (pre-vote): same leader throughout.
    assert_eq!(t.leaders_between(t0, t1).len(), 1);
    // Its state machine matches the leader's once both are at the same index.
    rg.set_write_rate("db", 0.0).unwrap();
    assert!(
        wait_for(Duration::from_secs(2), || {
            let a = rg.status(&follower).unwrap();
            let b = rg.status(&leader_key("db", lead)).unwrap();
            a.applied_index == b.applied_index && a.writes_applied == b.writes_applied
        })
        .await
    );
}

#[tokio::test]
async fn a_restarted_member_keeps_its_log() {
    let rg = RaftGroups::new(fast());
    let keys = start_group(&rg, "db", 3, 0);
    assert!(
        wait_for(Duration::from_secs(3), || settled_leader(&rg, "db")
            .is_some())
        .await
    );
    for _ in 0..20 {
        rg.propose_write("db").await.unwrap();
    }
    let (lead, _) = settled_leader(&rg, "db").unwrap();
    let member = keys
        .iter()
        .find(|k| **k != leader_key("db", lead))
        .unwrap()
        .clone();
    assert!(
        wait_for(Duration::from_secs(2), || rg
            .status(&member)
            .unwrap()
            .writes_applied
            >= 20)
        .await
    );
    let before = rg.status(&member).unwrap();
    rg.stop_member(&member).unwrap();
    let down = rg.status(&member).unwrap();
    assert_eq!(down.role, Role::Down);
    assert!(down.applied_index >= before.applied_index && down.writes_applied >= 20);
    // Writes go on without it (2 of 3 voters).
    for _ in 0..10 {
        rg.propose_write("db").await.unwrap();
    }
    rg.start_member(&member).unwrap();
    let after = rg.status(&member).unwrap();
    assert!(
        after.applied_index >= before.applied_index,
        "{after:?} vs {before:?}"
    );
    assert!(after.writes_applied >= 20);
    assert!(
        wait_for(Duration::from_secs(3), || rg
            .status(&member)
            .unwrap()
            .writes_applied
            >= 30)
        .await
    );
}

#[tokio::test]
async fn a_wiped_member_catches_up_from_a_snapshot() {
    let rg = RaftGroups::new(fast());
    let keys = start_group(&rg, "db", 3, 0);
    assert!(
        wait_for(Duration::from_secs(3), || settled_leader(&rg, "db")
            .is_some())
        .await
    );
    let (lead, _) = settled_leader(&rg, "db").unwrap();
    let member = keys
        .iter()
        .find(|k| **k != leader_key("db", lead))
        .unwrap()
        .clone();
    rg.stop_member(&member).unwrap();
    assert!(rg.wipe(&member));
    // More writes than the log keeps: the leader compacts past where the member was.
    for _ in 0..120 {
        rg.propose_write("db").await.unwrap();
    }
    let leader_volume = rg.volumes().get(&leader_key("db", lead)).unwrap();
    assert!(leader_volume.first_index() > 1, "{leader_volume:?}");
    assert!(leader_volume.entry_count() <= 60, "{leader_volume:?}");
    rg.start_member(&member).unwrap();
    assert_eq!(rg.status(&member).unwrap().applied_index, 0);
    let target = rg.status(&leader_key("db", lead)).unwrap();
    assert!(
        wait_for(Duration::from_secs(3), || {
            let s = rg.status(&member).unwrap();
            s.applied_index >= target.applied_index && s.writes_applied >= 120
        })
        .await,
        "{:?}",
        rg.status(&member)
    );
    let mine = rg.volumes().get(&member).unwrap();
    assert!(
        mine.first_index() > 1,
        "caught up from a snapshot: {mine:?}"
    );
    assert_eq!(mine.machine(), leader_volume.machine());
    // And it keeps replicating afterwards.
    let index = rg.propose_write("db").await.unwrap();
    assert!(
        wait_for(Duration::from_secs(2), || rg
            .status(&member)
            .unwrap()
            .applied_index
            >= index)
        .await
    );
}

#[tokio::test]
async fn learners_never_lead_and_do_not_count_for_quorum() {
    let rg = RaftGroups::new(fast());
    start_group(&rg, "db", 3, 2);
    assert!(
        wait_for(Duration::from_secs(3), || settled_leader(&rg, "db")
            .is_some())
        .await
    );
    let g = rg.group("db").unwrap();
    assert_eq!(g.voters(), &[1, 2, 3]);
    assert_eq!(g.learners(), &[101, 102]);
    let index = rg.propose_write("db").await.unwrap();
    assert!(
        wait_for(Duration::from_secs(2), || [101, 102].iter().all(|i| {
            let s = rg.status(&key("db", *i)).unwrap();
            s.role == Role::Learner && s.applied_index >= index && s.healthy
        }))
        .await
    );
    // Two voters down: three members run (one voter, two learners), but there is no quorum.
    let (lead, _) = settled_leader(&rg, "db").unwrap();
    let survivor = (1..=3).find(|i| *i != lead).unwrap();
    for i in (1..=3).filter(|i| *i != survivor) {
        rg.stop_member(&key("db", i)).unwrap();
    }
    let t0 = Instant::now();
    assert_eq!(rg.timeline("db").unwrap().quorum_now, None);
    let mut learner_led = false;
    let no_leader = wait_for(Duration::from_secs(3), || {
        let sts = g.statuses();
        learner_led |= sts
            .iter()
            .any(|s| s.member_id > 100 && s.role == Role::Leader);
        sts.iter().all(|s| s.role != Role::Leader)
    })
    .await;
    assert!(no_leader, "{:?}", g.statuses());
    let err = rg.propose_write("db").await.unwrap_err();
    assert!(
        matches!(
            err,
            RaftError::Write(WriteError::NoLeader | WriteError::NoQuorum)
        ),
        "{err}"
    );
    // One voter back: quorum again, and the leader is a voter.
    rg.start_member(&key("db", lead)).unwrap();
    assert!(
        wait_for(Duration::from_secs(3), || {
            let sts = g.statuses();
            learner_led |= sts
                .iter()
                .any(|s| s.member_id > 100 && s.role == Role::Leader);
            rg.timeline("db").unwrap().quorum_now.is_some()
        })
        .await
    );
    assert!(!learner_led);
    let (l, _) = rg.timeline("db").unwrap().quorum_now.unwrap();
    assert!(l <= 3);
    let t = rg.timeline("db").unwrap();
    assert!(t.quorum_lost_ms_between(t0, Instant::now()) > 0);
    assert!(!t.failed_writes_between(t0, Instant::now()).is_empty());
}

#[tokio::test]
async fn a_stalled_leader_is_replaced_and_steps_down_when_it_resumes() {
    let rg = RaftGroups::new(fast());
    start_group(&rg, "db", 3, 0);
    assert!(
        wait_for(Duration::from_secs(3), || settled_leader(&rg, "db")
            .is_some())
        .await
    );
    let (old, term) = settled_leader(&rg, "db").unwrap();
    rg.stall(&key("db", old), Duration::from_millis(2000))
        .unwrap();
    let s = rg.status(&key("db", old)).unwrap();
    assert!(s.stalled && !s.healthy);
    // The truth sees no quorum at once (the leader answers nothing), then a new leader.
    assert!(
        wait_for(Duration::from_millis(1800), || rg
            .timeline("db")
            .unwrap()
            .quorum_now
            .is_some_and(|(l, t)| l != old && t > term))
        .await
    );
    assert!(
        wait_for(Duration::from_secs(2), || {
            let s = rg.status(&key("db", old)).unwrap();
            !s.stalled && s.role == Role::Follower && s.term > term
        })
        .await
    );
}

#[tokio::test]
async fn a_delayed_follower_does_not_cost_quorum() {
    let rg = RaftGroups::new(fast());
    start_group(&rg, "db", 3, 0);
    assert!(
        wait_for(Duration::from_secs(3), || settled_leader(&rg, "db")
            .is_some())
        .await
    );
    let (lead, _) = settled_leader(&rg, "db").unwrap();
    let slow = key("db", if lead == 1 { 2 } else { 1 });
    rg.set_delay(&slow, Duration::from_millis(150)).unwrap();
    let t0 = Instant::now();
    let index = rg.propose_write("db").await.unwrap();
    assert!(
        t0.elapsed() < Duration::from_millis(150),
        "the fast follower made quorum"
    );
    assert!(
        wait_for(Duration::from_secs(2), || rg
            .status(&slow)
            .unwrap()
            .applied_index
            >= index)
        .await
    );
    assert_eq!(
        rg.quorum_lost_ms_between("db", t0, Instant::now()).unwrap(),
        0
    );
}

#[tokio::test]
async fn api_errors() {
    let rg = RaftGroups::new(fast());
    assert!(matches!(
        rg.start_member("nope"),
        Err(RaftError::UnknownMember(_))
    ));
    assert!(matches!(
        rg.create_group("g", &[MemberSpec::learner(1, "a")]),
        Err(RaftError::InvalidGroup { .. })
    ));
    assert!(matches!(
        rg.create_group("g", &[MemberSpec::voter(1, "a"), MemberSpec::voter(1, "b")]),
        Err(RaftError::InvalidGroup { .. })
    ));
    rg.create_group("g", &[MemberSpec::voter(1, "a")]).unwrap();
    // Same members: the same group; others: a conflict; a volume in use elsewhere: refused.
    rg.create_group("g", &[MemberSpec::voter(1, "a")]).unwrap();
    assert!(matches!(
        rg.create_group("g", &[MemberSpec::voter(2, "a")]),
        Err(RaftError::GroupConflict(_))
    ));
    assert!(matches!(
        rg.create_group("h", &[MemberSpec::voter(1, "a")]),
        Err(RaftError::KeyInUse { .. })
    ));
    assert!(matches!(
        rg.propose_write("none").await,
        Err(RaftError::UnknownGroup(_))
    ));
    // A single voter elects itself.
    rg.start_member("a").unwrap();
    assert!(
        wait_for(Duration::from_secs(3), || settled_leader(&rg, "g")
            .is_some())
        .await
    );
    assert!(rg.remove_group("g"));
    assert!(matches!(rg.status("a"), Err(RaftError::UnknownMember(_))));
    assert!(rg.volumes().get("a").is_some(), "volumes outlive groups");
}

#[test]
fn outside_a_runtime_groups_cannot_start() {
    let rg = RaftGroups::new(fast());
    assert!(matches!(
        rg.create_group("g", &[MemberSpec::voter(1, "a")]),
        Err(RaftError::NoRuntime)
    ));
}

fn entry(index: u64, term: u64, seq: Option<u64>) -> Entry {
    let mut e = Entry::default();
    e.index = index;
    e.term = term;
    if let Some(s) = seq {
        e.data = encode_write(s).into();
    }
    e
}

#[test]
fn volume_log_compaction_and_snapshots() {
    let v = MemberVolume::new(ConfState::from((vec![1, 2, 3], vec![4])));
    assert!(v.is_blank());
    let ents: Vec<Entry> = (1..=100)
        .map(|i| entry(i, 1 + i / 50, (i > 1).then_some(i)))
        .collect();
    v.append(&ents).unwrap();
    assert_eq!((v.first_index(), v.last_index()), (1, 100));
    // Overwrite a conflicting suffix.
    v.append(&[entry(99, 7, Some(990)), entry(100, 7, Some(1000))])
        .unwrap();
    assert_eq!(v.term(100).unwrap(), 7);
    assert!(v.append(&[entry(105, 7, None)]).is_err(), "a gap");
    let mut applied = Vec::new();
    v.apply_committed(&ents[..90], &mut applied);
    assert_eq!(applied.len(), 89);
    assert_eq!(v.applied_index(), 90);
    v.compact(20);
    assert_eq!(
        v.first_index(),
        71,
        "keeps 20 entries behind the applied index"
    );
    assert_eq!(
        v.term(70).unwrap(),
        2,
        "the compaction point keeps its term"
    );
    assert!(v.term(69).is_err());
    assert!(
        v.entries(50, 80, None, raft::GetEntriesContext::empty(false))
            .is_err()
    );
    assert_eq!(
        v.entries(71, 81, None, raft::GetEntriesContext::empty(false))
            .unwrap()
            .len(),
        10
    );
    // The snapshot is the state machine at the applied index.
    let snap = v.snapshot(0, 2).unwrap();
    assert_eq!(snap.get_metadata().index, 90);
    assert_eq!(snap.get_metadata().get_conf_state().learners, vec![4]);
    let m = StateMachine::decode(&snap.data).unwrap();
    assert_eq!(m, v.machine());
    assert_eq!(m.writes, 89);
    assert_eq!(m.recent.back(), Some(&AppliedWrite { index: 90, seq: 90 }));
    // Another volume restored from it.
    let w = MemberVolume::new(ConfState::default());
    w.apply_snapshot(&snap).unwrap();
    assert_eq!(
        (w.applied_index(), w.first_index(), w.last_index()),
        (90, 91, 90)
    );
    assert_eq!(w.machine(), v.machine());
    assert_eq!(w.initial_state().unwrap().conf_state.voters, vec![1, 2, 3]);
    assert!(StateMachine::decode(&[1, 2, 3]).is_err());
}

#[test]
fn volume_registry_keeps_and_wipes() {
    let reg = VolumeRegistry::new();
    let conf = || ConfState::from((vec![1], vec![]));
    let v = reg.open("o/ns/p", conf);
    v.append(&[entry(1, 1, Some(1))]).unwrap();
    assert_eq!(reg.open("o/ns/p", conf).last_index(), 1, "the same volume");
    assert!(reg.wipe("o/ns/p"));
    assert!(!reg.wipe("o/ns/p"));
    assert!(reg.open("o/ns/p", conf).is_blank());
    assert_eq!(v.last_index(), 1, "a holder keeps the old volume");
    assert_eq!(reg.len(), 1);
}

#[test]
fn timeline_sums_quorum_loss_within_a_window() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let mut log = TimelineLog::new(t0);
    log.set_quorum(ms(100), Some((1, 2)));
    log.set_quorum(ms(100), Some((1, 2)));
    log.set_quorum(ms(500), None);
    log.write_failed(ms(550), 7, WriteError::NoLeader);
    log.set_quorum(ms(800), Some((2, 3)));
    let t = log.snapshot("g", ms(1000));
    assert_eq!(t.quorum_intervals().len(), 4);
    assert_eq!(t.quorum_lost_ms_between(t0, ms(1000)), 100 + 300);
    assert_eq!(t.quorum_lost_ms_between(ms(600), ms(700)), 100);
    assert_eq!(t.quorum_lost_ms_between(ms(800), ms(1000)), 0);
    assert_eq!(t.quorum_losses_between(t0, ms(1000)), 1);
    assert_eq!(t.quorum_losses, 1);
    assert_eq!(
        t.failed_writes_between(t0, ms(1000)),
        vec![(ms(550), 7, WriteError::NoLeader)]
    );
    assert_eq!(t.leaders_between(t0, ms(1000)), vec![(1, 2), (2, 3)]);
    assert_eq!(t.writes_failed, 1);
    log.set_quorum(ms(1200), None);
    let t = log.snapshot("g", ms(1500));
    assert_eq!(
        t.quorum_lost_ms_between(ms(1000), ms(2000)),
        300,
        "open interval"
    );
}

fn proc_field(path: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// utime + stime of this process, in clock ticks (100 per second on Linux).
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Fleet-scale cost: `BATON_RAFT_GROUPS` (default 10 000) idle 3-member groups at the default
/// settings, then CPU over 10 s and RSS. Run:
/// `cargo test --release --lib lab::raft::tests::fleet_idle_cost -- --ignored --nocapture`
#[test]
#[ignore]
fn fleet_idle_cost() {
    let n: u64 = std::env::var("BATON_RAFT_GROUPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let rate: f64 = std::env::var("BATON_RAFT_WRITES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let rss0 = proc_field("/proc/self/status", "VmRSS:").unwrap_or(0);
        let rg = RaftGroups::new(RaftSettings {
            writes_per_second: rate,
            ..RaftSettings::default()
        });
        let started = Instant::now();
        for g in 0..n {
            let name = format!("db-{g}");
            start_group(&rg, &name, 3, 0);
        }
        let groups: Vec<_> = (0..n)
            .map(|g| rg.group(&format!("db-{g}")).unwrap())
            .collect();
        let all = wait_for(Duration::from_secs(60), || {
            groups.iter().all(|g| g.leader().is_some())
        })
        .await;
        println!(
            "{n} groups: all have a leader: {all} after {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let calm = wait_for(Duration::from_secs(60), || groups.iter().all(|g| g.is_calm())).await;
        println!(
            "all calm: {calm} after {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let c0 = cpu_ticks().unwrap_or(0);
        let w0 = Instant::now();
        tokio::time::sleep(Duration::from_secs(10)).await;
        let cpu = (cpu_ticks().unwrap_or(0) - c0) as f64 / 100.0;
        let wall = w0.elapsed().as_secs_f64();
        let rss = proc_field("/proc/self/status", "VmRSS:").unwrap_or(0);
        let leaders_changed = groups
            .iter()
            .filter(|g| g.timeline().quorum_losses > 0)
            .count();
        println!(
            "idle {n} x 3 members, {rate} writes/s per group: CPU {:.1} % of a core over {wall:.1} s; \
             RSS {} MB (+{} MB for the groups, {:.1} KB per member); groups that lost quorum: {leaders_changed}",
            100.0 * cpu / wall,
            rss / 1024,
            rss.saturating_sub(rss0) / 1024,
            rss.saturating_sub(rss0) as f64 / (3 * n) as f64,
        );
        rg.shutdown();
    });
}
