//! `baton lab fault replace-member` (an empty volume, the pod deleted) as Raft membership
//! changes: the pod comes back as a new server with a fresh member id, the group removes the
//! old member, takes the new one in as a learner that catches up by snapshot, and promotes it
//! to voter (a secondary stays a learner). The group keeps its quorum throughout, and the new
//! member ends with the same state as the others.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{TestLab, small_spec, wait_for};
use serde_json::Value;

const NS: &str = "team-a";
const GROUP: &str = "lab-a/team-a/orders";
const PODS: [&str; 4] = ["orders-1-0", "orders-2-0", "orders-3-0", "orders-rr-1-0"];

fn key(pod: &str) -> String {
    format!("lab-a/{NS}/{pod}")
}

fn db(t: &TestLab) -> Value {
    t.lab
        .consensus
        .report()
        .as_array()
        .and_then(|a| a.iter().find(|d| d["database"] == GROUP).cloned())
        .unwrap_or(Value::Null)
}

fn members(d: &Value) -> Vec<Value> {
    d["members"].as_array().cloned().unwrap_or_default()
}

/// The report's entries for `pod` (one per member id that ran there and is still in the group).
fn of_pod(d: &Value, pod: &str) -> Vec<Value> {
    members(d).into_iter().filter(|m| m["pod"] == pod).collect()
}

fn id(m: &Value) -> u64 {
    m["id"].as_u64().unwrap_or(0)
}

/// Every pod runs exactly one member of the group, the three primaries vote, there is a
/// leader, and every member is applying.
fn settled(d: &Value) -> bool {
    d["quorum"] == true
        && members(d).len() == 4
        && PODS.iter().all(|p| {
            let ms = of_pod(d, p);
            ms.len() == 1 && ms[0]["running"] == true && ms[0]["applied"].as_u64() > Some(0)
        })
        && members(d)
            .iter()
            .filter(|m| m["voter"] == true)
            .map(|m| m["pod"].as_str().unwrap_or(""))
            .filter(|p| p.starts_with("orders-") && !p.starts_with("orders-rr-"))
            .count()
            == 3
        && members(d).iter().filter(|m| m["voter"] == true).count() == 3
}

async fn replace(t: &TestLab, pod: &str) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("--kubeconfig")
        .arg(t.kubeconfig())
        .args([
            "lab",
            "fault",
            "replace-member",
            "--orchestra",
            "lab-a",
            "-n",
            NS,
            "--pod",
            pod,
        ])
        .output()
        .await
        .expect("run baton lab fault");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The status endpoint of a member through the pod proxy, as baton probes it.
async fn cluster_status(t: &TestLab, pod: &str) -> Option<Value> {
    let (code, out, _) = t
        .kubectl(&[
            "get",
            "--raw",
            &format!("/api/v1/namespaces/{NS}/pods/{pod}:7474/proxy/db/neo4j/cluster/status"),
        ])
        .await;
    (code == 0)
        .then(|| serde_json::from_str(&out).ok())
        .flatten()
}

/// Every member's state at the lowest applied index among them is the same.
fn same_state(t: &TestLab) -> bool {
    let d = db(t);
    let Some(top) = members(&d)
        .iter()
        .filter_map(|m| m["applied"].as_u64())
        .min()
    else {
        return false;
    };
    let digests: Vec<Option<String>> = PODS
        .iter()
        .map(|p| t.lab.consensus.digest_at(&key(p), top))
        .collect();
    digests[0].is_some() && digests.iter().all(|d| *d == digests[0])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replaced_member_rejoins_by_membership_change_and_the_group_keeps_quorum() {
    let t = TestLab::start(small_spec(&[(NS, "orders", 3, 1)])).await;
    t.all_ready().await;
    wait_for("a settled group", Duration::from_secs(20), || async {
        settled(&db(&t))
    })
    .await;
    let before = db(&t);
    let mut ids: Vec<u64> = members(&before).iter().map(id).collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![1, 2, 3, 101], "{before}");

    // The leader's server is replaced: it hands over, goes, and comes back empty.
    let leader = t.truth_leader(GROUP).expect("a leader");
    let old = id(&of_pod(&before, &leader)[0]);
    replace(&t, &leader).await;
    wait_for(
        "the leader's pod back as a new voting member",
        Duration::from_secs(30),
        || async {
            let d = db(&t);
            settled(&d) && of_pod(&d, &leader).first().is_some_and(|m| id(m) > 1000)
        },
    )
    .await;
    let d = db(&t);
    let new = of_pod(&d, &leader)[0].clone();
    assert_eq!(new["voter"], true, "{d}");
    assert!(
        members(&d).iter().all(|m| id(m) != old),
        "member {old} left the group: {d}"
    );
    // Operators see it: the pod's server has a new member id, among the three voting members.
    wait_for(
        "the endpoints show the new voting member",
        Duration::from_secs(15),
        || async {
            let Some(s) = cluster_status(&t, &leader).await else {
                return false;
            };
            let voting = s["votingMembers"].as_array().cloned().unwrap_or_default();
            voting.len() == 3 && voting.contains(&s["memberId"]) && s["core"] == true
        },
    )
    .await;
    let (code, log, err) = t.kubectl(&["logs", &leader, "-n", NS]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        log.contains(&format!("member {} of {GROUP}", id(&new)))
            && log.contains("Store recovered at applied index 0 "),
        "it started empty: {log}"
    );

    // The secondary's server is replaced: it comes back as a learner again.
    let rr = "orders-rr-1-0";
    replace(&t, rr).await;
    wait_for(
        "the secondary's pod back as a new learner",
        Duration::from_secs(30),
        || async {
            let d = db(&t);
            settled(&d)
                && of_pod(&d, rr)
                    .first()
                    .is_some_and(|m| id(m) > 1000 && m["voter"] == false)
        },
    )
    .await;
    assert!(members(&db(&t)).iter().all(|m| id(m) != 101));

    // Writes go on and every member, the new ones too, has the same state.
    let writes = db(&t)["writes_ok"].as_u64().unwrap_or(0);
    wait_for("writes go on", Duration::from_secs(15), || async {
        db(&t)["writes_ok"].as_u64().unwrap_or(0) > writes + 10
    })
    .await;
    wait_for(
        "the same state everywhere",
        Duration::from_secs(15),
        || async { same_state(&t) },
    )
    .await;
    let d = db(&t);
    assert_eq!(
        d["quorum_lost_events"], 0,
        "the group never lost its quorum: {d}"
    );
    t.lab.shutdown().await;
}
