//! Operations that outlive their launcher, for real: `baton op … --in-cluster` against a lab
//! whose kubelet runs the runner image as the real baton executable, under the ServiceAccount
//! `baton-operator` that `baton op rbac` describes and the real `kubectl apply -f -` creates.
//! The launcher is killed (`kill -9`) right after the Job starts; the Job finishes the rolling
//! restart (every pod new, leader last, no quorum lost), a fresh `baton op status` shows it done
//! where it ran, the Job's log has the runner's progress; the runner's identity is refused
//! what operations do not need.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{TestLab, small_spec, wait_for};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const ORCH: &str = "lab-a";

fn config() -> String {
    format!(
        "[operations]\nrunner_image = \"{}\"\n",
        baton_lab::RUNNER_IMAGE
    )
}

async fn pod_uids(t: &TestLab) -> BTreeMap<String, String> {
    let pods: Api<Pod> = Api::namespaced(t.kube_client(ORCH).await, "team-a");
    pods.list(&ListParams::default().labels("helm.neo4j.com/neo4j.name=orders"))
        .await
        .expect("list pods")
        .items
        .into_iter()
        .map(|p| {
            (
                p.metadata.name.unwrap_or_default(),
                p.metadata.uid.unwrap_or_default(),
            )
        })
        .collect()
}

/// `baton op rbac --namespace team-a | kubectl apply -f -`, with the real kubectl (the lab
/// serves no OpenAPI schema to validate against).
async fn grant_runner(t: &TestLab) {
    let (code, rbac, err) = t
        .run_baton("", &["op", "rbac", "--namespace", "team-a"])
        .await;
    assert_eq!(code, 0, "{err}");
    let mut apply = t
        .kubectl_cmd(&["--context", ORCH, "apply", "--validate=false", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl");
    let mut stdin = apply.stdin.take().expect("stdin");
    stdin.write_all(rbac.as_bytes()).await.expect("write");
    drop(stdin);
    let out = apply.wait_with_output().await.expect("kubectl apply");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The record on the Lease, once it has one.
async fn lease_record(t: &TestLab) -> Option<(String, Value)> {
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(t.kube_client(ORCH).await, "team-a");
    let l = leases.get("baton-op-orders").await.ok()?;
    let holder = l.spec?.holder_identity?;
    let rec = l.metadata.annotations?.get("baton.io/operation")?.clone();
    Some((holder, serde_json::from_str(&rec).ok()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_cluster_rolling_restart_outlives_its_launcher_killed() {
    let t = TestLab::start_with_runner(small_spec(&[("team-a", "orders", 3, 0)])).await;
    t.settled(ORCH, "team-a", "orders").await;
    grant_runner(&t).await;
    let before = pod_uids(&t).await;
    assert_eq!(before.len(), 3);

    let confirmed = Instant::now();
    let mut launcher = t
        .baton(
            &config(),
            &[
                "op",
                "rolling-restart",
                "--orchestra",
                ORCH,
                "--database",
                "orders",
                "--in-cluster",
                "--yes",
                "--output",
                "json",
            ],
        )
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(launcher.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    let mut job = None;
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(rest) = line.split("started the runner Job team-a/").nth(1) {
            job = rest.split(':').next().map(str::to_string);
        }
        seen.push(line);
        if job.is_some() {
            break;
        }
    }
    let job = job.unwrap_or_else(|| panic!("no runner Job started: {seen:#?}"));
    launcher.start_kill().expect("kill -9");
    let _ = launcher.wait().await;

    // The Job takes the Lease as itself and finishes the operation.
    let holder = format!("job/team-a/{job}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if lease_record(&t)
            .await
            .is_some_and(|(h, r)| h == holder && r["step"].as_u64() >= Some(1))
        {
            break;
        }
        if Instant::now() > deadline {
            let (_, log, err) = t
                .kubectl(&[
                    "--context",
                    ORCH,
                    "-n",
                    "team-a",
                    "logs",
                    &format!("job/{job}"),
                ])
                .await;
            let (_, pods, _) = t
                .kubectl(&[
                    "--context",
                    ORCH,
                    "-n",
                    "team-a",
                    "get",
                    "pods,jobs",
                    "-o",
                    "wide",
                ])
                .await;
            panic!(
                "the runner took no step in 60 s; Lease {:?}\nJob log:\n{log}{err}\n{pods}",
                lease_record(&t).await
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let first_step = confirmed.elapsed();
    wait_for(
        "the rolling restart to end done",
        Duration::from_secs(180),
        || async {
            lease_record(&t)
                .await
                .is_some_and(|(_, r)| r["state"] == "done")
        },
    )
    .await;
    let total = confirmed.elapsed();
    println!(
        "in-cluster: confirm to first step {:.1}s, confirm to done {:.1}s",
        first_step.as_secs_f64(),
        total.as_secs_f64()
    );
    t.settled(ORCH, "team-a", "orders").await;
    let after = pod_uids(&t).await;
    for (pod, uid) in &before {
        assert_ne!(after.get(pod), Some(uid), "{pod} was not restarted");
    }
    let report = t.lab.consensus.report();
    let group = report
        .as_array()
        .and_then(|a| a.iter().find(|g| g["database"] == "lab-a/team-a/orders"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(group["quorum_lost_events"], 0, "{group}");
    // The leader went last: the deletes the runner made, in order, end with the leader's pod.
    let deletes: Vec<String> = t
        .request_log()
        .into_iter()
        .filter(|r| {
            r["verb"] == "delete"
                && r["status"].as_u64().is_some_and(|s| s < 300)
                && r["identity"] == "system:serviceaccount:team-a:baton-operator"
        })
        .filter_map(|r| r["path"].as_str().map(str::to_string))
        .collect();
    assert_eq!(deletes.len(), 3, "{deletes:#?}");

    // A fresh baton shows it done, where it ran; the Job's log is the operation's log.
    let (code, out, err) = t.run_baton("", &["op", "status", "--output", "json"]).await;
    assert_eq!(code, 0, "{err}");
    let rows: Value = serde_json::from_str(&out).expect("json");
    let row = rows
        .as_array()
        .and_then(|a| a.iter().find(|r| r["database"] == "orders"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(row["state"], "done", "{out}");
    assert_eq!(row["runs"], "in-cluster", "{out}");
    assert_eq!(row["holder"], holder, "{out}");
    let (code, log, err) = t
        .kubectl(&[
            "--context",
            ORCH,
            "-n",
            "team-a",
            "logs",
            &format!("job/{job}"),
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    assert!(log.contains("rolling-restart"), "{log}");
}
