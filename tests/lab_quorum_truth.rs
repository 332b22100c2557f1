//! The lab's timeline tells elections from quorum loss. In a 3-voter database, one member's
//! fault at a time — killed, partitioned, stalled, the leader among them — costs at most an
//! election and never counts as quorum lost; two members cut off together do count, and the
//! report says for how long.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{TestLab, small_spec, wait_for};
use serde_json::Value;

const GROUP: &str = "lab-a/team-a/orders";
const PODS: [&str; 3] = ["orders-1-0", "orders-2-0", "orders-3-0"];

async fn fault(t: &TestLab, what: &[&str], pod: &str) {
    let mut args = what.to_vec();
    args.extend(["--orchestra", "lab-a", "-n", "team-a", "--pod", pod]);
    let (code, _, err) = t.fault(&args).await;
    assert_eq!(code, 0, "{what:?} {pod}: {err}");
}

fn db(t: &TestLab) -> Value {
    t.lab
        .consensus
        .report()
        .as_array()
        .and_then(|a| a.iter().find(|d| d["database"] == GROUP).cloned())
        .unwrap_or(Value::Null)
}

fn n(d: &Value, k: &str) -> u64 {
    d[k].as_u64().unwrap_or_else(|| panic!("no {k} in {d}"))
}

fn leader(t: &TestLab) -> String {
    db(t)["leader"].as_str().unwrap_or_default().to_string()
}

/// Every member runs, is reachable, and there is a leader with a majority.
async fn healthy(t: &TestLab, what: &str) {
    wait_for(what, Duration::from_secs(30), || async {
        let d = db(t);
        d["quorum"] == true
            && d["members"].as_array().is_some_and(|ms| {
                ms.len() == 3
                    && ms
                        .iter()
                        .all(|m| m["running"] == true && m["partitioned"] == false)
            })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_members_fault_is_never_quorum_lost_two_members_faults_are() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 0)])).await;
    t.all_ready().await;
    healthy(&t, "a leader with every member").await;
    let start = db(&t);
    assert_eq!(n(&start, "quorum_lost_events"), 0, "{start}");

    // One member at a time: the leader killed, the leader partitioned, a follower killed, a
    // follower stalled (longer than an election timeout).
    let old = leader(&t);
    fault(&t, &["kill-member"], &old).await;
    wait_for("a new leader", Duration::from_secs(20), || async {
        let d = db(&t);
        d["quorum"] == true && d["leader"] != old.as_str()
    })
    .await;
    healthy(&t, "the killed leader back").await;

    let old = leader(&t);
    fault(&t, &["partition"], &old).await;
    wait_for(
        "a new leader on the majority side",
        Duration::from_secs(20),
        || async {
            let d = db(&t);
            d["quorum"] == true && d["leader"] != old.as_str()
        },
    )
    .await;
    fault(&t, &["heal"], &old).await;
    healthy(&t, "the partition healed").await;

    let follower = PODS.iter().find(|p| **p != leader(&t)).unwrap();
    fault(&t, &["kill-member"], follower).await;
    healthy(&t, "the killed follower back").await;
    let follower = PODS.iter().find(|p| **p != leader(&t)).unwrap();
    fault(&t, &["stall", "--seconds", "2"], follower).await;
    healthy(&t, "the stalled follower back").await;

    let single = db(&t);
    assert!(
        n(&single, "elections") >= n(&start, "elections") + 2,
        "the leader's kill and partition are elections: {single}"
    );
    assert!(n(&single, "leaderless_ms") > 0, "{single}");
    assert_eq!(
        n(&single, "quorum_lost_events"),
        0,
        "one member's fault is never quorum lost: {single}"
    );
    assert_eq!(n(&single, "quorum_lost_ms"), 0, "{single}");

    // Two members cut off together: the one left has no majority — quorum lost, once.
    let alone = leader(&t);
    let others: Vec<&str> = PODS.iter().copied().filter(|p| *p != alone).collect();
    for p in &others {
        fault(&t, &["partition"], p).await;
    }
    wait_for("quorum lost", Duration::from_secs(20), || async {
        let d = db(&t);
        d["majority"] == false && n(&d, "quorum_lost_events") == 1
    })
    .await;
    for p in &others {
        fault(&t, &["heal"], p).await;
    }
    healthy(&t, "quorum back after the heal").await;
    let after = db(&t);
    assert_eq!(n(&after, "quorum_lost_events"), 1, "{after}");
    assert!(n(&after, "quorum_lost_ms") > 0, "{after}");
    let lost = after["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["majority"] == false)
        .count();
    assert!(lost >= 1, "the timeline shows the loss: {after}");

    // Two members stalled together (their pauses overlap) count too.
    let before = n(&after, "quorum_lost_events");
    let alone = leader(&t);
    for p in PODS.iter().filter(|p| **p != alone) {
        fault(&t, &["stall", "--seconds", "3"], p).await;
    }
    wait_for("quorum lost again", Duration::from_secs(20), || async {
        n(&db(&t), "quorum_lost_events") == before + 1
    })
    .await;
    healthy(&t, "both stalled members back").await;
    let end = db(&t);
    assert_eq!(
        n(&end, "quorum_lost_events"),
        before + 1,
        "two members stalled together lose quorum, once: {end}"
    );
    t.lab.shutdown().await;
}
