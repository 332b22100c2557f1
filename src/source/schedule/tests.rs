//! Unit tests of the probe schedule: intervals by focus and health, sentinel rounds, bounds.

use super::*;
use crate::config::ProbeKind;

fn db(name: &str) -> DbRef {
    DbRef {
        namespace: "ns".into(),
        name: name.into(),
    }
}

fn ep(db: &str, pod: &str, ip: &str) -> (DbRef, Endpoint) {
    (
        self::db(db),
        Endpoint {
            namespace: "ns".into(),
            pod: pod.into(),
            address: ip.into(),
            port: 7474,
            kind: ProbeKind::Neo4j,
        },
    )
}

fn key(name: &str) -> DbKey {
    DbKey::new("o1", &db(name))
}

/// The tests' intervals: the defaults with a 25 s background (a prod orchestra's).
fn intervals() -> Intervals {
    Intervals {
        background: 25 * S,
        ..Intervals::default()
    }
}

fn schedule(jitter: f64) -> Schedule {
    Schedule::new("o1", intervals(), Box::new(move || jitter))
}

const S: Duration = Duration::from_secs(1);

#[test]
fn intervals_follow_the_eyes_and_health() {
    let t0 = Instant::now();
    let mut s = schedule(0.0);
    s.members(0, &[ep("a", "a-0", "1"), ep("b", "b-0", "2")], true, t0);
    assert_eq!(s.take_due(t0).len(), 2, "new databases are due at once");
    assert_eq!(s.next_due(), None, "both in flight");
    let open = Focus {
        open: Some(key("a")),
        visible: vec![key("b")],
    };
    s.probed(&db("a"), true, &open, t0);
    s.probed(&db("b"), true, &open, t0);
    assert_eq!(s.next_due(), Some(t0 + S), "the open database every second");
    assert_eq!(s.take_due(t0 + S).len(), 1);
    // Unhealthy: the open one twice as often; visible at most every 2 s; background 4 s.
    s.probed(&db("a"), false, &open, t0);
    assert_eq!(s.next_due(), Some(t0 + S / 2));
    let none = Focus::default();
    s.take_due(t0 + 4 * S);
    s.probed(&db("a"), false, &none, t0);
    s.probed(&db("b"), true, &none, t0);
    let mut dues = vec![s.take_due(t0 + 4 * S), s.take_due(t0 + 25 * S)];
    assert_eq!(dues[0][0].db, db("a"), "unsettled after 4 s");
    assert_eq!(
        dues.pop().map(|d| d[0].db.clone()),
        Some(db("b")),
        "healthy after 25 s"
    );
    // Jitter adds up to 10 %.
    let mut s = schedule(1.0);
    s.members(0, &[ep("a", "a-0", "1")], true, t0);
    s.take_due(t0);
    s.probed(&db("a"), true, &open, t0);
    assert_eq!(s.next_due(), Some(t0 + S + S / 10));
}

#[test]
fn changed_pods_are_due_at_once_and_relists_forget() {
    let t0 = Instant::now();
    let mut s = schedule(0.0);
    s.members(0, &[ep("a", "a-0", "1"), ep("a", "a-1", "2")], true, t0);
    s.take_due(t0);
    s.probed(&db("a"), true, &Focus::default(), t0);
    let later = t0 + 3 * S;
    // The same pods again: no change.
    s.members(0, &[ep("a", "a-0", "1")], false, later);
    assert_eq!(s.next_due(), Some(t0 + 25 * S));
    // A new IP: due now.
    s.members(0, &[ep("a", "a-0", "9")], false, later);
    assert_eq!(s.next_due(), Some(later));
    s.gone(&db("a"), "a-1", later);
    assert_eq!(s.member_names(&db("a")), ["a-0"]);
    // A relist of profile 0 without a, but with b: a is forgotten; profile 1 untouched.
    s.members(1, &[ep("c", "c-0", "3")], true, later);
    s.members(0, &[ep("b", "b-0", "4")], true, later);
    assert!(s.member_names(&db("a")).is_empty());
    let due: Vec<String> = s.take_due(later).into_iter().map(|d| d.db.name).collect();
    assert_eq!(due, ["b", "c"]);
    s.gone(&db("b"), "b-0", later);
    assert!(s.member_names(&db("b")).is_empty());
}

#[test]
fn focus_pulls_probes_earlier_never_later() {
    let t0 = Instant::now();
    let mut s = schedule(0.0);
    s.members(0, &[ep("a", "a-0", "1")], true, t0);
    s.take_due(t0);
    s.probed(&db("a"), true, &Focus::default(), t0);
    assert_eq!(s.next_due(), Some(t0 + 25 * S));
    let open = Focus {
        open: Some(key("a")),
        visible: vec![],
    };
    s.refocus(&open, t0 + S);
    assert_eq!(s.next_due(), Some(t0 + 2 * S));
    s.refocus(&Focus::default(), t0 + S);
    assert_eq!(s.next_due(), Some(t0 + 2 * S), "not pushed back");
}

fn answer(pod: &str, leader: bool, term: u64) -> (String, Probe) {
    (
        pod.into(),
        Probe::Ok(crate::fleet::ProbeReport {
            is_leader: leader,
            term: Some(term),
            healthy: true,
            ..Default::default()
        }),
    )
}

#[test]
fn off_screen_the_leader_alone_is_probed_until_its_answer_changes() {
    let t0 = Instant::now();
    let mut s = schedule(0.0);
    let none = Focus::default();
    s.members(
        0,
        &[
            ep("a", "a-0", "1"),
            ep("a", "a-1", "2"),
            ep("a", "a-2", "3"),
        ],
        true,
        t0,
    );
    let first = s.take_due(t0);
    assert_eq!((first[0].members.len(), first[0].sentinel), (3, false));
    let full = [
        answer("a-0", false, 4),
        answer("a-1", true, 4),
        answer("a-2", false, 4),
    ];
    s.answered(&db("a"), &full, true, &none, t0);
    // Healthy, off screen: the next round asks the leader only.
    let due = s.take_due(t0 + 25 * S);
    assert!(due[0].sentinel);
    let pods: Vec<&str> = due[0].members.iter().map(|e| e.pod.as_str()).collect();
    assert_eq!(pods, ["a-1"]);
    // Same leader, same term: nothing changed; it waits its interval.
    s.answered(
        &db("a"),
        &[answer("a-1", true, 4)],
        false,
        &none,
        t0 + 25 * S,
    );
    assert_eq!(s.next_due(), Some(t0 + 50 * S));
    // A new term: every member at once.
    s.take_due(t0 + 50 * S);
    s.answered(
        &db("a"),
        &[answer("a-1", true, 5)],
        true,
        &none,
        t0 + 50 * S,
    );
    assert_eq!(s.next_due(), Some(t0 + 50 * S));
    let due = s.take_due(t0 + 50 * S);
    assert_eq!((due[0].members.len(), due[0].sentinel), (3, false));
    // Every FULL_EVERY-th background round is a full one anyway.
    s.answered(&db("a"), &full, true, &none, t0 + 50 * S);
    let kinds = full_rounds(&mut s, t0 + 50 * S, FULL_EVERY, |_, sentinel| {
        if sentinel {
            vec![answer("a-1", true, 4)]
        } else {
            full.to_vec()
        }
    });
    assert_eq!(kinds.len(), 1, "{kinds:?}");
    let t = t0 + 50 * S + 25 * S * FULL_EVERY;
    // On screen: every member, every round.
    let shown = Focus {
        open: None,
        visible: vec![key("a")],
    };
    s.refocus(&shown, t);
    let due = s.take_due(t + 25 * S);
    assert_eq!((due[0].members.len(), due[0].sentinel), (3, false));
    // A leader that stopped answering as leader: every member at once.
    s.answered(&db("a"), &full, true, &none, t + 25 * S);
    let due = s.take_due(t + 50 * S);
    assert!(due[0].sentinel);
    s.answered(
        &db("a"),
        &[("a-1".into(), Probe::Error("timed out".into()))],
        false,
        &none,
        t + 50 * S,
    );
    assert_eq!(s.next_due(), Some(t + 50 * S));
}

/// A Neo4j member's answer: no term, the voting members' ids.
fn neo4j(pod: &str, leader: bool, voters: &[&str]) -> (String, Probe) {
    (
        pod.into(),
        Probe::Ok(crate::fleet::ProbeReport {
            member_id: format!("id-{pod}"),
            is_leader: leader,
            term: None,
            voters: voters.iter().map(|v| v.to_string()).collect(),
            healthy: true,
            ..Default::default()
        }),
    )
}

/// Neo4j's cluster status tells no term: the leader still leading with the same voting
/// members is the sentinel's "nothing changed"; other voters make the database due at once.
#[test]
fn a_neo4j_leader_without_a_term_is_a_sentinel_too() {
    let t0 = Instant::now();
    let mut s = schedule(0.0);
    let none = Focus::default();
    s.members(0, &[ep("a", "a-0", "1"), ep("a", "a-1", "2")], true, t0);
    s.take_due(t0);
    let voters = ["id-a-0", "id-a-1"];
    let full = [neo4j("a-0", true, &voters), neo4j("a-1", false, &voters)];
    s.answered(&db("a"), &full, true, &none, t0);
    let due = s.take_due(t0 + 25 * S);
    assert!(due[0].sentinel, "the leader alone");
    let shown = s.answered(
        &db("a"),
        &[neo4j("a-0", true, &voters)],
        true,
        &none,
        t0 + 25 * S,
    );
    assert!(!shown, "a leader-only round's answers are not shown");
    assert_eq!(s.next_due(), Some(t0 + 50 * S), "nothing changed");
    let due = s.take_due(t0 + 50 * S);
    assert!(due[0].sentinel);
    s.answered(
        &db("a"),
        &[neo4j("a-0", true, &["id-a-0", "id-a-2"])],
        true,
        &none,
        t0 + 50 * S,
    );
    let due = s.take_due(t0 + 50 * S);
    assert_eq!((due.len(), due[0].sentinel), (1, false), "voters changed");
    assert_eq!(due[0].members.len(), 2);
    assert!(
        s.answered(&db("a"), &full, true, &none, t0 + 50 * S),
        "a full round's answers are shown"
    );
}

#[test]
fn rounds_off_screen_are_bounded_and_the_screen_goes_first() {
    let t0 = Instant::now();
    let mut s = schedule(0.0);
    let eps: Vec<(DbRef, Endpoint)> = (0..10)
        .map(|i| ep(&format!("d{i}"), &format!("d{i}-0"), &i.to_string()))
        .collect();
    s.members(0, &eps, true, t0);
    let shown = Focus {
        open: Some(key("d7")),
        visible: vec![key("d8")],
    };
    s.refocus(&shown, t0);
    // Room for 2 off screen: the two on screen come too.
    let names: Vec<String> = s
        .take_due_at_most(t0, 2)
        .into_iter()
        .map(|d| d.db.name)
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names.contains(&"d7".to_string()) && names.contains(&"d8".to_string()));
    assert_eq!(s.in_flight(), 4);
    // No room: only a database on screen wakes the loop; the others wait, still due.
    assert_eq!(
        s.next_due_split(0),
        (None, None),
        "both on screen are in flight"
    );
    assert_eq!(s.next_due_split(1), (None, Some(t0)));
    let mut again = schedule(0.0);
    again.members(0, &eps, true, t0);
    again.refocus(&shown, t0);
    assert_eq!(
        again.next_due_split(0),
        (Some(t0), None),
        "on screen wakes without room"
    );
    assert_eq!(s.take_due_at_most(t0, 0).len(), 0);
    assert_eq!(s.take_due(t0).len(), 6, "the rest are still due");
}

#[test]
fn the_beat_is_the_first_after_now_within_one_period() {
    let at = Instant::now() + 100 * S;
    let p = 25 * S;
    assert_eq!(next_beat(at, p, at), at + p, "on the beat: the next one");
    assert_eq!(next_beat(at, p, at + S), at + p);
    assert_eq!(next_beat(at, p, at + 60 * S), at + 75 * S);
    assert_eq!(next_beat(at, p, at - S), at, "the beat ahead");
    assert_eq!(next_beat(at, p, at - p), at, "a period ahead: that beat");
    assert_eq!(next_beat(at, p, at - 30 * S), at - p);
}

#[test]
fn healthy_databases_off_screen_answer_on_their_orchestras_beat() {
    let t0 = Instant::now();
    let beat = t0 + 7 * S;
    let mut s = schedule(1.0).with_beat(beat);
    s.members(
        0,
        &[
            ep("a", "a-0", "1"),
            ep("b", "b-0", "2"),
            ep("c", "c-0", "3"),
        ],
        true,
        t0,
    );
    assert_eq!(s.take_due(t0).len(), 3);
    let none = Focus::default();
    // Answers at different moments all wait for the same beat, without jitter.
    s.probed(&db("a"), true, &none, t0 + S);
    s.probed(&db("b"), true, &none, t0 + 3 * S);
    // Not healthy: its own interval (4 s and jitter), as without a beat.
    s.probed(&db("c"), false, &none, t0 + 3 * S);
    let due = s.take_due(beat);
    assert_eq!(
        due.iter().map(|d| d.db.name.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(s.next_due(), Some(t0 + 3 * S + 4 * S + 4 * S / 10));
    assert_eq!(s.take_due(beat + S).len(), 1);
    // On the beat, a database is next due one background interval later: never longer.
    s.probed(&db("a"), true, &none, beat + S / 10);
    s.probed(&db("b"), true, &none, beat + S / 10);
    s.probed(&db("c"), true, &none, beat + S / 10);
    let next = beat + intervals().background;
    assert!(s.take_due(next - S / 100).is_empty());
    assert_eq!(s.take_due(next).len(), 3, "all three on the next beat");
    // Shown: the database's own interval again.
    let shown = Focus {
        open: None,
        visible: vec![key("a")],
    };
    s.probed(&db("a"), true, &shown, next + S);
    assert_eq!(s.next_due(), Some(next + S + 4 * S + 4 * S / 10));
}

/// The answer of a healthy member that has applied `applied` entries.
fn at_index(pod: &str, leader: bool, applied: u64) -> (String, Probe) {
    let (pod, probe) = answer(pod, leader, 4);
    let probe = match probe {
        Probe::Ok(r) => Probe::Ok(crate::fleet::ProbeReport {
            applied_index: Some(applied),
            ..r
        }),
        other => other,
    };
    (pod, probe)
}

/// Which of `rounds` background rounds, 25 s apart after `start`, were full ones (counted from
/// 0); `answers(round, leader_only)` is what the round's members answer.
fn full_rounds(
    s: &mut Schedule,
    start: Instant,
    rounds: u32,
    answers: impl Fn(u32, bool) -> Vec<(String, Probe)>,
) -> Vec<u32> {
    let none = Focus::default();
    let mut full = Vec::new();
    for i in 0..rounds {
        let t = start + 25 * S * (i + 1);
        let sentinel = s.take_due(t)[0].sentinel;
        if !sentinel {
            full.push(i);
        }
        s.answered(&db("a"), &answers(i, sentinel), true, &none, t);
    }
    full
}

/// A healthy three-member database whose members have all applied `applied`, `a-1` leading.
fn at(applied: u64) -> impl Fn(bool) -> Vec<(String, Probe)> {
    move |leader_only| {
        let leader = at_index("a-1", true, applied);
        if leader_only {
            vec![leader]
        } else {
            vec![
                at_index("a-0", false, applied),
                leader,
                at_index("a-2", false, applied),
            ]
        }
    }
}

#[test]
fn a_quiet_database_gets_its_full_round_four_times_less_often() {
    let t0 = Instant::now();
    let mut s = schedule(0.0);
    let none = Focus::default();
    let members = [
        ep("a", "a-0", "1"),
        ep("a", "a-1", "2"),
        ep("a", "a-2", "3"),
    ];
    s.members(0, &members, true, t0);
    s.take_due(t0);
    s.answered(&db("a"), &at(40)(false), true, &none, t0);
    // Nothing applied since the followers were seen caught up: a full round every 24th.
    let quiet = full_rounds(&mut s, t0, 2 * QUIET_FULL_EVERY, |_, l| at(40)(l));
    assert_eq!(
        quiet,
        [QUIET_FULL_EVERY - 1, 2 * QUIET_FULL_EVERY - 1],
        "quiet"
    );
    // Writes: the leader's index moves, so followers may fall behind: every 6th again.
    let t = t0 + 25 * S * (2 * QUIET_FULL_EVERY);
    let busy = full_rounds(&mut s, t, 2 * FULL_EVERY, |i, l| at(41 + u64::from(i))(l));
    assert_eq!(busy, [FULL_EVERY - 1, 2 * FULL_EVERY - 1], "writing");
    // A leader whose answer has no index cannot tell: every 6th.
    let mut s = schedule(0.0);
    s.members(0, &members, true, t0);
    s.take_due(t0);
    let full = [
        answer("a-0", false, 4),
        answer("a-1", true, 4),
        answer("a-2", false, 4),
    ];
    s.answered(&db("a"), &full, true, &none, t0);
    let kinds = full_rounds(&mut s, t0, FULL_EVERY, |_, sentinel| {
        if sentinel {
            vec![answer("a-1", true, 4)]
        } else {
            full.to_vec()
        }
    });
    assert_eq!(kinds.len(), 1, "{kinds:?}");
}

/// On the beat, quiet databases that found their leaders together do not all probe every member
/// on the same beat: each takes its own phase of the cycle, once per cycle each.
#[test]
fn on_the_beat_full_rounds_are_spread_over_the_cycle() {
    let t0 = Instant::now();
    let mut s = schedule(0.0).with_beat(t0);
    let none = Focus::default();
    let names: Vec<String> = (0..48).map(|i| format!("d{i}")).collect();
    let members: Vec<(DbRef, Endpoint)> = names
        .iter()
        .flat_map(|n| (0..3).map(move |m| ep(n, &format!("{n}-{m}"), &m.to_string())))
        .collect();
    s.members(0, &members, true, t0);
    let answers = |n: &str, leader_only: bool| -> Vec<(String, Probe)> {
        let all = (0..3).map(|m| at_index(&format!("{n}-{m}"), m == 1, 40));
        if leader_only {
            all.filter(|(p, _)| p.ends_with("-1")).collect()
        } else {
            all.collect()
        }
    };
    for due in s.take_due(t0) {
        s.answered(&due.db, &answers(&due.db.name, false), true, &none, t0);
    }
    // One quiet cycle: how many full rounds each beat carried.
    let p = intervals().background;
    let mut per_beat = Vec::new();
    for i in 1..=QUIET_FULL_EVERY {
        let t = t0 + p * i;
        let due = s.take_due(t);
        assert_eq!(due.len(), names.len(), "every database on every beat");
        per_beat.push(due.iter().filter(|d| !d.sentinel).count());
        for d in due {
            let a = answers(&d.db.name, d.sentinel);
            s.answered(&d.db, &a, true, &none, t);
        }
    }
    assert_eq!(
        per_beat.iter().sum::<usize>(),
        names.len(),
        "one full round each per cycle: {per_beat:?}"
    );
    assert!(
        per_beat.iter().all(|&n| n <= names.len() / 4),
        "no beat carries the whole orchestra's full rounds: {per_beat:?}"
    );
    assert!(
        per_beat.iter().filter(|&&n| n > 0).count() >= QUIET_FULL_EVERY as usize / 2,
        "spread over the cycle: {per_beat:?}"
    );
}
