//! Operations run in the orchestra as Jobs of baton (`--in-cluster`), end to end with the real
//! `baton` binary against the lab: the runner Job's manifest on a dry run (nothing sent), the
//! RBAC `baton op rbac` prints, the preflight ✗ of a missing runner ServiceAccount (nothing
//! sent), a missing runner image as a usage error, `--local` over the config's default; and a
//! cancel asked from a second baton on the Lease, honoured after the current member.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{TestLab, small_spec, wait_for};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

const ORCH: &str = "lab-a";
const IN_CLUSTER: &str =
    "[operations]\nrun = \"in-cluster\"\nrunner_image = \"ghcr.io/baton-sre/baton:test\"\n";

fn op<'a>(name: &'a str, db: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["op", name, "--orchestra", ORCH, "--database", db];
    v.extend_from_slice(extra);
    v
}

/// The YAML documents of a manifest stream, as JSON values.
fn documents(yaml: &str) -> Vec<Value> {
    yaml.split("\n---\n")
        .map(|d| serde_norway::from_str(d).expect("a YAML document"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_cluster_runs_show_their_job_and_refuse_without_the_runner_identity() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 0)])).await;
    t.settled(ORCH, "team-a", "orders").await;
    let before = t.mutating_requests().len();

    // The dry run shows the runner Job it would create, and the missing ServiceAccount.
    let (code, out, err) = t
        .run_baton(IN_CLUSTER, &op("rolling-restart", "orders", &["--dry-run"]))
        .await;
    assert_eq!(code, 0, "{out}{err}");
    let manifest = out
        .split_once("runner Job manifest (it would run the operation in the orchestra):\n")
        .map(|(_, m)| m)
        .expect("the runner Job manifest");
    let manifest: String = manifest
        .lines()
        .take_while(|l| !l.starts_with("nothing:") && !l.starts_with("done"))
        .collect::<Vec<_>>()
        .join("\n");
    let job: Value = serde_norway::from_str(manifest.trim_end()).unwrap_or_else(|e| {
        panic!("{e}: {manifest}");
    });
    assert_eq!(job["kind"], "Job");
    assert_eq!(job["metadata"]["namespace"], "team-a");
    assert_eq!(job["spec"]["backoffLimit"], 0);
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "baton-operator");
    assert_eq!(
        pod["containers"][0]["image"],
        "ghcr.io/baton-sre/baton:test"
    );
    let args: Vec<&str> = pod["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(&args[..2], ["op", "rolling-restart"]);
    assert!(args.ends_with(&["--local", "--yes"]), "{args:?}");
    assert!(
        out.contains("ServiceAccount baton-operator is missing in namespace team-a")
            && out.contains("baton op rbac --namespace team-a | kubectl apply -f -"),
        "{out}"
    );

    // Without the ServiceAccount the run is refused before anything is sent.
    let (code, out, err) = t
        .run_baton(IN_CLUSTER, &op("rolling-restart", "orders", &["--yes"]))
        .await;
    assert_eq!(code, 3, "{out}{err}");
    assert!(out.contains("runner-identity"), "{out}{err}");
    assert_eq!(t.mutating_requests().len(), before, "nothing was sent");

    // Read-only mode and the observer identity cannot launch a runner Job.
    let (code, _, err) = t
        .run_baton(
            IN_CLUSTER,
            &[
                "--read-only",
                "op",
                "rolling-restart",
                "--orchestra",
                ORCH,
                "--database",
                "orders",
                "--in-cluster",
                "--yes",
            ],
        )
        .await;
    assert_eq!(code, 3, "{err}");
    let (code, out, err) = t
        .run_baton(
            IN_CLUSTER,
            &[
                "op",
                "rolling-restart",
                "--orchestra",
                "lab-a-observer",
                "--database",
                "orders",
                "--in-cluster",
                "--yes",
            ],
        )
        .await;
    assert_eq!(code, 3, "{out}{err}");
    assert_eq!(t.mutating_requests().len(), before, "nothing was sent");

    // No runner image: a usage error naming the key; --local over the config's default runs
    // here (its dry run shows no runner Job).
    let (code, _, err) = t
        .run_baton(
            "",
            &op("rolling-restart", "orders", &["--in-cluster", "--dry-run"]),
        )
        .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("operations.runner_image"), "{err}");
    let (code, out, err) = t
        .run_baton(
            IN_CLUSTER,
            &op("rolling-restart", "orders", &["--local", "--dry-run"]),
        )
        .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("runner Job manifest"), "{out}");
    assert!(!out.contains("runner-identity"), "{out}");
    assert_eq!(t.mutating_requests().len(), before, "dry runs send nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn op_rbac_prints_a_service_account_its_role_and_binding() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 0)])).await;
    let (code, out, err) = t
        .run_baton("", &["op", "rbac", "--namespace", "team-a"])
        .await;
    assert_eq!(code, 0, "{err}");
    let docs = documents(&out);
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    assert_eq!(kinds, ["ServiceAccount", "Role", "RoleBinding"]);
    for d in &docs {
        assert_eq!(d["metadata"]["name"], "baton-operator");
        assert_eq!(d["metadata"]["namespace"], "team-a");
    }
    let rules = docs[1]["rules"].as_array().unwrap();
    // Secrets: only `get` of the one the built-in neo4j profile reads its credentials from.
    for r in rules.iter().filter(|r| {
        r["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == "secrets")
    }) {
        assert_eq!(r["verbs"], serde_json::json!(["get"]), "{out}");
        assert_eq!(
            r["resourceNames"],
            serde_json::json!(["neo4j-auth"]),
            "{out}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_from_a_second_baton_stops_after_the_current_member() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 0)])).await;
    t.settled(ORCH, "team-a", "orders").await;
    let cancel = ["op", "cancel", "--orchestra", ORCH, "--database", "orders"];

    // Nothing in flight: nothing to cancel.
    let (code, _, err) = t.run_baton("", &cancel).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no operation is in flight"), "{err}");

    let mut a = t
        .baton(
            "",
            &op("rolling-restart", "orders", &["--yes", "--output", "json"]),
        )
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(a.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        let ev: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        seen.push(line);
        if ev["event"] == "step" && ev["step"] == 1 {
            break;
        }
    }
    assert!(!seen.is_empty(), "the operation started");

    // Read-only and the observer identity cannot ask.
    let before = t.mutating_requests().len();
    let mut ro = vec!["--read-only"];
    ro.extend_from_slice(&cancel);
    let (code, _, err) = t.run_baton("", &ro).await;
    assert_eq!(code, 3, "{err}");
    let (code, _, err) = t
        .run_baton(
            "",
            &[
                "op",
                "cancel",
                "--orchestra",
                "lab-a-observer",
                "--database",
                "orders",
            ],
        )
        .await;
    assert_eq!(code, 3, "{err}");
    assert!(
        t.mutating_requests()[before..]
            .iter()
            .all(|r| r["identity"] != "lab-observer" || r["status"] == 403),
        "the observer changed nothing"
    );

    let (code, out, err) = t.run_baton("", &cancel).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("cancel requested"), "{out}");

    // The runner stops before its next member, the database settled, the Lease cancelled.
    let mut rest = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        rest.push(line);
    }
    let status = a.wait().await.expect("wait");
    let text = rest.join("\n");
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(text.contains("cancelled by"), "{text}");
    assert!(text.contains("cancel requested by"), "{text}");
    let leases: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
        kube::Api::namespaced(t.kube_client(ORCH).await, "team-a");
    wait_for(
        "the Lease to say cancelled",
        Duration::from_secs(10),
        || async {
            leases
                .get("baton-op-orders")
                .await
                .ok()
                .and_then(|l| l.metadata.annotations)
                .and_then(|a| a.get("baton.io/operation").cloned())
                .is_some_and(|r| r.contains("\"cancelled\""))
        },
    )
    .await;
    t.settled(ORCH, "team-a", "orders").await;
    let deletes = t
        .mutating_requests()
        .into_iter()
        .filter(|r| r["verb"] == "delete" && r["status"].as_u64().is_some_and(|s| s < 300))
        .count();
    assert!(
        (1..3).contains(&deletes),
        "stopped after the current member, not all three: {deletes}"
    );
    // Once it ended there is nothing left to cancel.
    let (code, _, err) = t.run_baton("", &cancel).await;
    assert_eq!(code, 1, "{err}");
}
