//! Forcing an operation past a failing safety rule, end to end against the lab: refused by the
//! rule, refused to force without `operations.allow_force`, refused for a rule that can never
//! be forced, and — allowed by the config, each rule named — the restart goes ahead, the Lease
//! records what was forced and the audit log says so.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestLab, small_spec};
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;

const ORCH: &str = "lab-a";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_is_forced_only_as_the_config_allows_and_the_audit_says_so() {
    let t = TestLab::start(small_spec(&[("team-b", "catalog", 3, 0)])).await;
    t.settled(ORCH, "team-b", "catalog").await;
    let pods: Api<Pod> = Api::namespaced(t.kube_client(ORCH).await, "team-b");
    // One follower partitioned: restarting the other would leave 1 of 3 healthy. (Not the
    // leader: while the rest elect another, every operation waits for the election.)
    let (target, _) = t.partition_a_catalog_follower().await;
    let restart = |extra: &'static [&'static str]| {
        let mut v = vec![
            "op",
            "restart-member",
            "--orchestra",
            ORCH,
            "--database",
            "catalog",
            "--member",
            target,
            "--yes",
        ];
        v.extend_from_slice(extra);
        v
    };
    let before = t.mutating_requests().len();
    let (code, _, err) = t.run_baton("", &restart(&[])).await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("majority"), "{err}");
    // Forcing needs the config's consent.
    let (code, _, err) = t.run_baton("", &restart(&["--force", "majority"])).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("operations.allow_force"), "{err}");
    let allow = "[operations]\nallow_force = true\n";
    // The lock is never forced.
    let (code, _, err) = t.run_baton(allow, &restart(&["--force", "lock"])).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot be forced"), "{err}");
    assert_eq!(t.mutating_requests().len(), before, "refusals send nothing");

    // Allowed, both failing rules named: it goes ahead.
    let uid = pods.get(target).await.unwrap().metadata.uid.unwrap();
    let (code, out, err) = t
        .run_baton(
            allow,
            &restart(&["--force", "majority", "--force", "settled"]),
        )
        .await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("FORCED past"), "the checks say it:\n{out}");
    let now = pods.get(target).await.unwrap().metadata.uid.unwrap();
    assert_ne!(uid, now, "{target} was restarted");
    let audit = std::fs::read_to_string(t.baton_data().join("audit.jsonl")).unwrap();
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\"force\"") && l.contains("majority, settled")),
        "{audit}"
    );
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(t.kube_client(ORCH).await, "team-b");
    let lease = leases.get("baton-op-catalog").await.unwrap();
    let rec = &lease.metadata.annotations.unwrap()["baton.io/operation"];
    assert!(
        rec.contains("\"forced\":[\"majority\",\"settled\"]"),
        "{rec}"
    );
}
