//! `baton status` against the lab: the snapshot matches the lab's truth (pods, one leader per
//! healthy database), garbage from a member is a probe error on that member only, and a down
//! API server makes its orchestra unreachable (exit 1) while the others stay live. A config with
//! only a static inventory needs no kubeconfig: an etcd cluster listed by member URL shows its
//! leader and term.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

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

/// Runs baton with no kubeconfig anywhere (no `--kubeconfig`, no `KUBECONFIG`, an empty home).
async fn baton_without_kubeconfig(t: &TestLab, args: &[&str]) -> (i32, String, String) {
    let home = t.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .env_remove("KUBECONFIG")
        .env("HOME", &home)
        .env("BATON_DATA_DIR", t.dir.path().join("data"))
        .env("XDG_CONFIG_HOME", t.dir.path().join("config"))
        .output()
        .await
        .expect("run baton");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn status_of_a_static_inventory_needs_no_kubeconfig() {
    // Only lab-b: the etcd cluster "config" in namespace infra.
    let mut spec = two_orchestras_spec();
    spec.orchestras.retain(|o| o.name == "lab-b");
    let t = TestLab::start(spec).await;
    t.all_ready().await;
    let group = "lab-b/infra/config";
    wait_for(
        "the etcd cluster has a leader",
        Duration::from_secs(10),
        || async { t.truth_leader(group).is_some() },
    )
    .await;
    // The members' pod IPs, where each etcd member answers directly.
    let (code, ips, err) = t
        .kubectl(&[
            "--context",
            "lab-b",
            "get",
            "pods",
            "-n",
            "infra",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name} {.status.podIP}{\"\\n\"}{end}",
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    let ips: Vec<(String, String)> = ips
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(pod, ip)| (pod.to_string(), ip.to_string()))
        .collect();
    assert_eq!(ips.len(), 3, "{ips:?}");
    let urls: Vec<String> = ips
        .iter()
        .map(|(_, ip)| format!("\"http://{ip}:2379\""))
        .collect();
    let config = t.dir.path().join("inventory.toml");
    std::fs::write(
        &config,
        format!(
            "[inventory.onprem.config]\nprofile = \"etcd\"\nmembers = [{}]\n",
            urls.join(", ")
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();

    let (code, out, err) =
        baton_without_kubeconfig(&t, &["--config", config, "status", "--output", "json"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let s: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    assert_eq!(s["orchestras"].as_array().unwrap().len(), 1, "{s}");
    assert_eq!(s["orchestras"][0]["name"], "onprem");
    assert_eq!(s["orchestras"][0]["connection"], "live");
    let d = &s["databases"][0];
    assert_eq!(
        (d["name"].as_str(), d["profile"].as_str()),
        (Some("config"), Some("etcd"))
    );
    assert_eq!(d["health"], "healthy", "{d}");
    // The lab's leader, named by its URL's host and port.
    let truth = t.truth_leader(group).unwrap();
    let leader_ip = &ips.iter().find(|(pod, _)| *pod == truth).unwrap().1;
    assert_eq!(d["leader"], format!("{leader_ip}:2379").as_str(), "{d}");
    let term = d["term"].as_u64().unwrap_or(0);
    assert!(term > 0, "{d}");

    // The table, for the one inventory orchestra.
    let (code, table, err) =
        baton_without_kubeconfig(&t, &["--config", config, "status", "--orchestra", "onprem"])
            .await;
    assert_eq!(code, 0, "{table}{err}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("onprem ") && l.contains("config") && l.contains(leader_ip)),
        "{table}"
    );
    // An orchestra that is not there is bad usage.
    let (code, _, err) = baton_without_kubeconfig(
        &t,
        &["--config", config, "status", "--orchestra", "nowhere"],
    )
    .await;
    assert_eq!(code, 2, "{err}");
    t.lab.shutdown().await;
}
