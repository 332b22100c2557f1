//! What operations rely on from the lab's databases: a graceful deletion of the leader's pod
//! hands leadership over before the member stops (no leaderless gap), a force deletion costs an
//! election; the report tells elections from quorum loss; every start of a member's process is
//! a new incarnation that matches the pod's container status.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{TestLab, small_spec, wait_for};
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use serde_json::Value;

const GROUP: &str = "lab-a/team-a/orders";
const PODS: [&str; 3] = ["orders-1-0", "orders-2-0", "orders-3-0"];

fn db(t: &TestLab) -> Value {
    t.lab
        .consensus
        .report()
        .as_array()
        .and_then(|a| a.iter().find(|d| d["database"] == GROUP).cloned())
        .unwrap_or(Value::Null)
}

fn member(db: &Value, pod: &str) -> Value {
    db["members"]
        .as_array()
        .and_then(|ms| ms.iter().find(|m| m["pod"] == pod).cloned())
        .unwrap_or(Value::Null)
}

fn num(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("no number {k} in {v}"))
}

/// Every member runs, one leader with quorum; returns the leader's pod.
async fn settled(t: &TestLab) -> String {
    wait_for("a settled database", Duration::from_secs(20), || async {
        let d = db(t);
        d["quorum"] == true && PODS.iter().all(|p| member(&d, p)["running"] == true)
    })
    .await;
    t.truth_leader(GROUP).unwrap_or_default()
}

async fn pod(t: &TestLab, name: &str) -> Option<Pod> {
    let pods: Api<Pod> = Api::namespaced(t.kube_client("lab-a").await, "team-a");
    pods.get_opt(name).await.ok().flatten()
}

/// (pod uid, containerID, startedAt, restartCount) of a pod's container, as Kubernetes shows it.
fn container(p: &Pod) -> (String, String, String, i32) {
    let cs = p
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.first());
    (
        p.metadata.uid.clone().unwrap_or_default(),
        cs.and_then(|c| c.container_id.clone()).unwrap_or_default(),
        cs.and_then(|c| c.state.as_ref())
            .and_then(|s| s.running.as_ref())
            .and_then(|r| r.started_at.as_ref())
            .map(|t| t.0.to_string())
            .unwrap_or_default(),
        cs.map_or(0, |c| c.restart_count),
    )
}

/// The member's process in the lab report matches the pod's running container.
async fn process_matches_pod(t: &TestLab, name: &str) -> bool {
    let m = member(&db(t), name);
    let Some(p) = pod(t, name).await else {
        return false;
    };
    let (_, id, started, _) = container(&p);
    m["running"] == true
        && !id.is_empty()
        && m["container_id"] == id.as_str()
        && m["process_started_at"]
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .zip(chrono::DateTime::parse_from_rfc3339(&started).ok())
            .is_some_and(|(a, b)| a.timestamp() == b.timestamp())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn graceful_deletion_of_the_leader_hands_over_and_force_deletion_costs_an_election() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 0)])).await;
    t.all_ready().await;
    let leader = settled(&t).await;
    let before = db(&t);
    let old = member(&before, &leader);
    let (old_uid, ..) = container(&pod(&t, &leader).await.expect("leader pod"));

    // Graceful (the default 30 s grace period): leadership moves before the member stops.
    let (code, _, err) = t
        .kubectl(&["delete", "pod", &leader, "-n", "team-a", "--wait=false"])
        .await;
    assert_eq!(code, 0, "{err}");
    wait_for("another leader", Duration::from_secs(10), || async {
        t.truth_leader(GROUP).is_some_and(|l| l != leader)
    })
    .await;
    wait_for(
        "the old leader's pod back with a new process",
        Duration::from_secs(20),
        || async {
            let d = db(&t);
            let m = member(&d, &leader);
            d["quorum"] == true
                && m["running"] == true
                && num(&m, "incarnation") > num(&old, "incarnation")
                && process_matches_pod(&t, &leader).await
        },
    )
    .await;
    let after = db(&t);
    assert_eq!(
        num(&after, "elections"),
        num(&before, "elections") + 1,
        "one leader change: {after}"
    );
    let gap = num(&after, "leaderless_ms") - num(&before, "leaderless_ms");
    assert!(
        gap < 500,
        "a handed-over leadership leaves no leaderless gap, saw {gap} ms: {after}"
    );
    let failed = num(&after, "writes_failed") - num(&before, "writes_failed");
    assert!(
        failed <= 2,
        "a hand-over costs at most a tick of writes, {failed} failed: {after}"
    );
    assert_eq!(after["quorum_lost_events"], 0, "{after}");
    let (new_uid, ..) = container(&pod(&t, &leader).await.expect("recreated pod"));
    assert_ne!(new_uid, old_uid, "the StatefulSet made a new pod");

    // Force deletion: the process dies at once, the others must wait out an election timeout.
    let leader = t.truth_leader(GROUP).expect("a leader");
    let before = after;
    let (code, _, err) = t
        .kubectl(&[
            "delete",
            "pod",
            &leader,
            "-n",
            "team-a",
            "--grace-period=0",
            "--force",
            "--wait=false",
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    // The recreated pod may win the election itself: count leader changes, not names.
    wait_for("a new leader elected", Duration::from_secs(10), || async {
        let d = db(&t);
        d["quorum"] == true && num(&d, "elections") > num(&before, "elections")
    })
    .await;
    let after = db(&t);
    assert_eq!(num(&after, "elections"), num(&before, "elections") + 1);
    let gap = num(&after, "leaderless_ms") - num(&before, "leaderless_ms");
    assert!(
        gap >= 500,
        "an election follows an election timeout, saw {gap} ms: {after}"
    );
    assert!(
        num(&after, "writes_failed") > num(&before, "writes_failed"),
        "{after}"
    );
    assert_eq!(
        after["quorum_lost_events"], 0,
        "one member down is not quorum lost"
    );
    settled(&t).await;

    // A killed container restarts in the same pod: same pod uid, a new process.
    let follower = PODS
        .into_iter()
        .find(|p| t.truth_leader(GROUP).as_deref() != Some(*p))
        .expect("a follower");
    let (uid, cid, _, restarts) = container(&pod(&t, follower).await.expect("follower pod"));
    let inc = num(&member(&db(&t), follower), "incarnation");
    t.lab
        .orchestra("lab-a")
        .and_then(|o| o.kubelet.pod("team-a", follower))
        .expect("follower runs")
        .kill();
    wait_for(
        "the follower's process restarted",
        Duration::from_secs(15),
        || async {
            num(&member(&db(&t), follower), "incarnation") > inc
                && process_matches_pod(&t, follower).await
        },
    )
    .await;
    let (uid2, cid2, _, restarts2) = container(&pod(&t, follower).await.expect("follower pod"));
    assert_eq!(uid2, uid, "the same pod");
    assert_ne!(cid2, cid, "a new container");
    assert_eq!(restarts2, restarts + 1);
    t.lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_member_down_is_an_election_two_members_down_lose_quorum() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 0)])).await;
    t.all_ready().await;
    let leader = settled(&t).await;
    let base = db(&t);
    let inc = num(&member(&base, &leader), "incarnation");

    // One fault: the leader's process is killed (no hand-over); it restarts and rejoins.
    t.lab
        .orchestra("lab-a")
        .and_then(|o| o.kubelet.pod("team-a", &leader))
        .expect("leader runs")
        .kill();
    wait_for(
        "a new leader and the old one back",
        Duration::from_secs(20),
        || async {
            // The restarted member may win the election itself: count leader changes.
            let d = db(&t);
            let m = member(&d, &leader);
            d["quorum"] == true
                && num(&d, "elections") > num(&base, "elections")
                && m["running"] == true
                && num(&m, "incarnation") > inc
        },
    )
    .await;
    let d = db(&t);
    assert_eq!(num(&d, "elections"), num(&base, "elections") + 1, "{d}");
    assert!(
        num(&d, "leaderless_ms") > num(&base, "leaderless_ms"),
        "{d}"
    );
    assert_eq!(d["quorum_lost_events"], 0, "one member down: {d}");
    assert_eq!(d["quorum_lost_ms"], 0, "{d}");
    let text = baton_lab::report_text(&serde_json::json!({"orchestras": [], "databases": [d]}));
    assert!(
        text.contains("elections 1") && text.contains("quorum lost 0x"),
        "{text}"
    );

    // Two faults: two members cut off; the majority is gone until they heal.
    let keys: Vec<String> = PODS
        .iter()
        .filter(|p| t.truth_leader(GROUP).as_deref() != Some(**p))
        .map(|p| format!("lab-a/team-a/{p}"))
        .collect();
    assert_eq!(keys.len(), 2);
    for k in &keys {
        t.lab.consensus.set_partitioned(k, true).expect("partition");
    }
    wait_for("quorum lost", Duration::from_secs(10), || async {
        let d = db(&t);
        d["quorum_lost_events"] == 1 && d["majority"] == false && d["quorum"] == false
    })
    .await;
    // The lab's truth follows a fault at once: heal only after a write has failed for it, so
    // the loss lasted a while.
    let lost = num(&db(&t), "writes_failed");
    wait_for(
        "a write fails without quorum",
        Duration::from_secs(10),
        || async { num(&db(&t), "writes_failed") > lost },
    )
    .await;
    for k in &keys {
        t.lab.consensus.set_partitioned(k, false).expect("heal");
    }
    wait_for("quorum back", Duration::from_secs(20), || async {
        db(&t)["quorum"] == true
    })
    .await;
    let d = db(&t);
    assert_eq!(d["quorum_lost_events"], 1, "{d}");
    assert!(num(&d, "quorum_lost_ms") > 0, "{d}");
    assert!(
        num(&d, "writes_failed") > num(&base, "writes_failed"),
        "{d}"
    );
    let text = baton_lab::report_text(&serde_json::json!({"orchestras": [], "databases": [d]}));
    assert!(text.contains("quorum lost 1x"), "{text}");
    t.lab.shutdown().await;
}
