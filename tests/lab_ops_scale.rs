//! Stop and start a database the way an operator does: scale each server's StatefulSet to 0
//! (`kubectl scale` and a kube-rs patch of `spec.replicas`), then back to 1. The pods go
//! gracefully, come back on the same volumes, resume from their applied index, and elect a
//! leader again; the StatefulSet status follows every step.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{TestLab, small_spec, wait_for};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

const GROUP: &str = "lab-a/team-a/orders";

fn key(i: u32) -> String {
    format!("lab-a/team-a/orders-{i}-0")
}

fn db(t: &TestLab) -> Value {
    t.lab
        .consensus
        .report()
        .as_array()
        .and_then(|a| a.iter().find(|d| d["database"] == GROUP).cloned())
        .unwrap_or(Value::Null)
}

/// The StatefulSet's status agrees with `replicas` pods, all Ready, at its latest generation.
fn settled(s: &StatefulSet, replicas: i32) -> bool {
    let Some(st) = &s.status else { return false };
    s.spec.as_ref().and_then(|sp| sp.replicas) == Some(replicas)
        && st.observed_generation.is_some()
        && st.observed_generation == s.metadata.generation
        && st.replicas == replicas
        && st.ready_replicas.unwrap_or(0) == replicas
        && st.available_replicas.unwrap_or(0) == replicas
        && st.current_revision.is_some()
        && st.current_revision == st.update_revision
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scale_to_zero_and_back_keeps_every_members_data_and_elects_again() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 0)])).await;
    t.all_ready().await;
    let client = t.kube_client("lab-a").await;
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), "team-a");
    let pods: Api<Pod> = Api::namespaced(client, "team-a");
    wait_for("a leader", Duration::from_secs(20), || async {
        db(&t)["quorum"] == true
    })
    .await;
    for i in 1..=3 {
        let name = format!("orders-{i}");
        wait_for(
            "StatefulSet status settled",
            Duration::from_secs(10),
            || async { sts.get(&name).await.is_ok_and(|s| settled(&s, 1)) },
        )
        .await;
    }
    let revisions: BTreeMap<u32, Option<String>> = {
        let mut m = BTreeMap::new();
        for i in 1..=3 {
            let s = sts.get(&format!("orders-{i}")).await.expect("sts");
            m.insert(i, s.status.and_then(|st| st.update_revision));
        }
        m
    };
    let writes_before = db(&t)["writes_ok"].as_u64().unwrap_or(0);

    // Stop: one server after the other, the leader's first (with kubectl); its pod hands
    // leadership over before it goes, so the others go on without a leaderless gap.
    let leader = t.truth_leader(GROUP).expect("a leader");
    let first: u32 = leader
        .trim_start_matches("orders-")
        .trim_end_matches("-0")
        .parse()
        .expect("leader ordinal");
    let order: Vec<u32> = std::iter::once(first)
        .chain((1..=3).filter(|i| *i != first))
        .collect();
    let mut before = BTreeMap::new();
    for (step, i) in order.iter().copied().enumerate() {
        let name = format!("orders-{i}");
        let report_before = db(&t);
        let generation = sts
            .get(&name)
            .await
            .expect("sts")
            .metadata
            .generation
            .unwrap_or(0);
        before.insert(
            i,
            t.lab
                .consensus
                .status(&key(i))
                .expect("member")
                .applied_index,
        );
        if step == 0 {
            let (code, out, err) = t
                .kubectl(&[
                    "scale",
                    "statefulset",
                    &name,
                    "-n",
                    "team-a",
                    "--replicas=0",
                ])
                .await;
            assert_eq!(code, 0, "{err}");
            assert!(out.contains("scaled"), "{out}");
        } else {
            sts.patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": 0}})),
            )
            .await
            .expect("scale to 0");
        }
        wait_for("the pod gone", Duration::from_secs(20), || async {
            pods.get_opt(&format!("{name}-0"))
                .await
                .is_ok_and(|p| p.is_none())
        })
        .await;
        wait_for("StatefulSet at 0", Duration::from_secs(10), || async {
            sts.get(&name)
                .await
                .is_ok_and(|s| settled(&s, 0) && s.metadata.generation.unwrap_or(0) > generation)
        })
        .await;
        assert!(!t.lab.consensus.status(&key(i)).expect("member").live);
        // The volume kept what the member had applied when it stopped.
        let at_stop = db(&t)["members"]
            .as_array()
            .and_then(|ms| {
                ms.iter()
                    .find(|m| m["pod"] == format!("{name}-0").as_str())
                    .cloned()
            })
            .expect("member in the report");
        assert_eq!(at_stop["running"], false, "{at_stop}");
        if step == 0 {
            let now = db(&t);
            assert_eq!(now["quorum"], true, "two of three go on: {now}");
            assert_ne!(now["leader"], leader.as_str());
            let n = |d: &Value, k: &str| d[k].as_u64().unwrap_or(0);
            assert_eq!(n(&now, "elections"), n(&report_before, "elections") + 1);
            assert!(
                n(&now, "leaderless_ms") - n(&report_before, "leaderless_ms") < 500,
                "the leader handed over: {now}"
            );
        }
    }
    let (code, out, err) = t.kubectl(&["get", "sts", "orders-1", "-n", "team-a"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines()
            .nth(1)
            .is_some_and(|l| l.split_whitespace().nth(1) == Some("0/0")),
        "{out}"
    );
    let stopped = db(&t);
    assert_eq!(stopped["quorum"], false);
    assert_eq!(stopped["majority"], false);

    // Start: back to one replica each, on the same volumes.
    for i in 1..=3u32 {
        let name = format!("orders-{i}");
        if i == 1 {
            let (code, _, err) = t
                .kubectl(&[
                    "scale",
                    "statefulset",
                    &name,
                    "-n",
                    "team-a",
                    "--replicas=1",
                ])
                .await;
            assert_eq!(code, 0, "{err}");
        } else {
            sts.patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": 1}})),
            )
            .await
            .expect("scale to 1");
        }
    }
    t.all_ready().await;
    wait_for("a leader again", Duration::from_secs(20), || async {
        db(&t)["quorum"] == true
    })
    .await;
    for i in 1..=3u32 {
        let st = t.lab.consensus.status(&key(i)).expect("member");
        assert!(st.live);
        assert!(
            st.applied_index >= before[&i],
            "orders-{i} lost data: {} → {}",
            before[&i],
            st.applied_index
        );
        let name = format!("orders-{i}");
        wait_for("StatefulSet at 1", Duration::from_secs(10), || async {
            sts.get(&name).await.is_ok_and(|s| settled(&s, 1))
        })
        .await;
        let s = sts.get(&name).await.expect("sts");
        assert_eq!(
            s.status.and_then(|st| st.update_revision),
            revisions[&i].clone(),
            "scaling is not a template change"
        );
    }
    // Writes commit again.
    let writes_now = db(&t)["writes_ok"].as_u64().unwrap_or(0);
    wait_for("writes commit again", Duration::from_secs(10), || async {
        db(&t)["writes_ok"].as_u64().unwrap_or(0) > writes_now
    })
    .await;
    assert!(writes_now >= writes_before);
    t.lab.shutdown().await;
}
