//! Operations run in the orchestra as Jobs of baton (`--in-cluster`), end to end with the real
//! `baton` binary against the lab: the runner Job's manifest on a dry run (nothing sent), the
//! RBAC `baton op rbac` prints, the preflight ✗ of a missing runner ServiceAccount (nothing
//! sent), a missing runner image as a usage error, and `--local` over the config's default.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestLab, small_spec};
use serde_json::Value;

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
    assert!(
        rules.iter().all(|r| r["resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x != "secrets")),
        "no Secrets: {out}"
    );
}
