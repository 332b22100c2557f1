//! `baton status` against the lab: the snapshot matches the lab's truth (pods, one leader per
//! healthy database), garbage from a member is a probe error on that member only, and a down
//! API server makes its orchestra unreachable (exit 1) while the others stay live.

mod common;

use std::time::Duration;

use common::{TestLab, two_orchestras_spec, wait_for};
use serde_json::Value;

async fn status(t: &TestLab, extra: &[&str]) -> (i32, Value) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("--kubeconfig")
        .arg(t.kubeconfig())
        .args(["status", "--output", "json", "--timeout", "5"])
        .args(extra)
        .env("BATON_DATA_DIR", t.dir.path().join("data"))
        .env("XDG_CONFIG_HOME", t.dir.path().join("config"))
        .output()
        .await
        .expect("run baton status");
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn status_matches_the_lab_and_isolates_faults() {
    let t = TestLab::start(two_orchestras_spec()).await;
    t.all_ready().await;
    wait_for(
        "every group has quorum",
        Duration::from_secs(10),
        || async {
            t.lab
                .consensus
                .report()
                .as_array()
                .unwrap()
                .iter()
                .all(|d| d["quorum"] == true)
        },
    )
    .await;
    let (code, s) = status(&t, &[]).await;
    assert_eq!(code, 0, "{s}");
    let orchestras = s["orchestras"].as_array().unwrap();
    assert_eq!(
        orchestras.len(),
        2,
        "observer contexts are the same clusters: {s}"
    );
    assert!(orchestras.iter().all(|o| o["connection"] == "live"));
    let dbs = s["databases"].as_array().unwrap();
    assert_eq!(dbs.len(), 3);
    let (_, pods, _) = t.kubectl(&["get", "pods", "-A", "--no-headers"]).await;
    let members: u64 = dbs
        .iter()
        .filter(|d| d["orchestra"] == "lab-a")
        .map(|d| d["members"].as_u64().unwrap())
        .sum();
    assert_eq!(
        members as usize,
        pods.lines().count(),
        "pod count equals kubectl's"
    );
    let truth = t.lab.consensus.report();
    for d in dbs {
        assert_eq!(d["health"], "healthy", "{d}");
        let group = format!(
            "{}/{}/{}",
            d["orchestra"].as_str().unwrap(),
            d["namespace"].as_str().unwrap(),
            d["name"].as_str().unwrap()
        );
        let lab = truth
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["database"] == group.as_str())
            .unwrap();
        assert_eq!(d["leader"], lab["leader"], "{group}");
        let leaders = d["member_details"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "LEADER")
            .count();
        assert_eq!(leaders, 1, "{d}");
    }
    let orders = dbs.iter().find(|d| d["name"] == "orders").unwrap();
    let rr = orders["member_details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["pod"] == "orders-rr-1-0")
        .unwrap();
    assert_eq!(rr["role"], "READ_REPLICA");

    // Garbage from one member: a probe error there, nothing else.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("--kubeconfig")
        .arg(t.kubeconfig())
        .args([
            "lab",
            "fault",
            "garbage-status",
            "--orchestra",
            "lab-a",
            "-n",
            "team-b",
            "--pod",
            "catalog-2-0",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let (code, s) = status(&t, &["--database", "catalog"]).await;
    assert_eq!(code, 0);
    let cat = &s["databases"][0];
    assert_eq!(cat["health"], "degraded", "{cat}");
    let bad = cat["member_details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["pod"] == "catalog-2-0")
        .unwrap();
    assert!(
        bad["probe_error"]
            .as_str()
            .unwrap()
            .starts_with("bad Neo4j status"),
        "{bad}"
    );
    assert!(
        cat["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains("catalog-2-0: probe error"))
    );

    // One API server down: that orchestra is unreachable, the other is live, exit 1.
    t.lab.orchestra("lab-b").unwrap().set_down(true);
    let started = std::time::Instant::now();
    let (code, s) = status(&t, &[]).await;
    assert_eq!(code, 1);
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "a dead orchestra is bounded by its timeout"
    );
    let b = s["orchestras"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "lab-b")
        .unwrap();
    assert!(
        b["connection"].as_str().unwrap().starts_with("unreachable"),
        "{b}"
    );
    let a = s["orchestras"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "lab-a")
        .unwrap();
    assert_eq!(a["connection"], "live");
    t.lab.orchestra("lab-b").unwrap().set_down(false);
    let (code, _) = status(&t, &[]).await;
    assert_eq!(code, 0);
    t.lab.shutdown().await;
}
