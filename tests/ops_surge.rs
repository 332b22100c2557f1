//! Resize and upgrade with `--set strategy=surge` end to end on a 3+1 database under writes: every old
//! server is replaced by a new StatefulSet with the new memory (a new server enabled, the old
//! one deallocated, deleted and dropped), the pods end with the new memory or image (kubectl jsonpath),
//! the voters never fall below three, and the lab's truth shows no quorum loss.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{TestLab, small_spec};
use serde_json::Value;

const GROUP: &str = "lab-a/team-a/orders";

fn db(t: &TestLab) -> Value {
    t.lab
        .consensus
        .report()
        .as_array()
        .and_then(|a| a.iter().find(|d| d["database"] == GROUP).cloned())
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn surge_resize_replaces_every_server_without_ever_fewer_voters() {
    surge(
        "resize",
        &["--set", "memory=3Gi", "--set", "strategy=surge"],
        "",
        "{.items[*].spec.containers[0].resources.limits.memory}",
        "3Gi",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn surge_upgrade_replaces_every_server_without_ever_fewer_voters() {
    // No strategy asked: the orchestra's config says it has room, so surge is the default.
    let stdout = surge(
        "upgrade",
        &["--set", "version=5.26.1"],
        "[orchestras.lab-a]\nsurge = true\n",
        "{.items[*].spec.containers[0].image}",
        "neo4j:5.26.1-enterprise",
    )
    .await;
    assert!(
        stdout.contains("strategy surge (the default: orchestra lab-a has room"),
        "{stdout}"
    );
}

/// Runs `op` with `args` (and `config`) on a 3+1 database under writes, expecting the surge
/// strategy, then checks every pod's `jsonpath` reads `want`. Returns baton's output.
async fn surge(op: &str, args: &[&str], config: &str, jsonpath: &str, want: &str) -> String {
    let t = Arc::new(TestLab::start(small_spec(&[("team-a", "orders", 3, 1)])).await);
    t.settled("lab-a", "team-a", "orders").await;
    let writes_before = db(&t)["writes_ok"].as_u64().unwrap();
    let min_voters = Arc::new(Mutex::new(usize::MAX));
    let sampler = {
        let (t, min_voters) = (t.clone(), min_voters.clone());
        tokio::spawn(async move {
            loop {
                let d = db(&t);
                let voters = d["members"]
                    .as_array()
                    .map(|ms| ms.iter().filter(|m| m["voter"] == true).count())
                    .unwrap_or(0);
                {
                    let mut m = min_voters.lock().unwrap();
                    *m = (*m).min(voters);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let cfg = t.dir.path().join("baton.toml");
    std::fs::write(&cfg, config).expect("write config");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("--kubeconfig")
        .arg(t.kubeconfig())
        .arg("--config")
        .arg(&cfg)
        .args([
            "op",
            op,
            "--orchestra",
            "lab-a",
            "--database",
            "orders",
            "--yes",
        ])
        .args(args)
        .env("BATON_DATA_DIR", t.dir.path().join("baton-data"))
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("run baton");
    sampler.abort();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // Four new servers in, four old ones out.
    for w in [
        "create statefulset",
        "ENABLE SERVER",
        "DEALLOCATE",
        "delete statefulset",
        "DROP SERVER",
    ] {
        let steps = stdout
            .lines()
            .filter(|l| l.starts_with("step") && l.contains(w))
            .count();
        assert_eq!(steps, 4, "{w}: {stdout}");
    }
    let (code, sts, err) = t
        .kubectl(&[
            "get",
            "sts",
            "-n",
            "team-a",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    let mut names: Vec<&str> = sts.split_whitespace().collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["orders-4", "orders-5", "orders-6", "orders-rr-2"],
        "{sts}"
    );
    let (code, mem, err) = t
        .kubectl(&[
            "get",
            "pods",
            "-n",
            "team-a",
            "-l",
            "helm.neo4j.com/neo4j.name=orders",
            "-o",
            &format!("jsonpath={jsonpath}"),
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    let mems: Vec<&str> = mem.split_whitespace().collect();
    assert_eq!(mems, [want; 4], "{mem}");
    let min = *min_voters.lock().unwrap();
    assert!(min >= 3, "the voters fell to {min}");
    let d = db(&t);
    assert_eq!(d["quorum_lost_events"], 0, "{}", d["timeline"]);
    assert!(d["writes_ok"].as_u64().unwrap() > writes_before);
    stdout.into_owned()
}
