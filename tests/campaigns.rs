//! Campaigns against the lab, through the real binary: `baton campaign plan` lists the fleet
//! (real kube-rs watches of three orchestras), matches the selection in the filter language
//! (negation included), leaves out what is already at the goal, a read-only orchestra and a
//! database with an operation on its Lease (each with its reason), plans the canary and the waves
//! interleaved across orchestras, and sends nothing but reads. Bad flags are exit 2 naming the
//! flag.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use baton_lab::profile::{DatabaseSpec, DbKind, LabSpec, OrchestraSpec};
use common::TestLab;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

fn neo4j(ns: &str, name: &str, version: &str) -> DatabaseSpec {
    DatabaseSpec {
        name: name.into(),
        namespace: ns.into(),
        kind: DbKind::Neo4j,
        primaries: 3,
        secondaries: 0,
        version: Some(version.into()),
    }
}

/// lab-a: orders and ledger at 5.24.1, catalog at 5.26.0, a dedicated one, and etcd; lab-b:
/// billing at 5.24.1; lab-c (read-only in the config): audit at 5.24.1.
fn spec() -> LabSpec {
    let mut s = LabSpec::demo();
    s.orchestras = vec![
        OrchestraSpec {
            name: "lab-a".into(),
            databases: vec![
                neo4j("team-a", "orders", "5.24.1"),
                neo4j("team-a", "ledger", "5.24.1"),
                neo4j("team-b", "catalog", "5.26.0"),
                neo4j("team-d", "dedicated-acme", "5.24.1"),
                DatabaseSpec {
                    name: "config".into(),
                    namespace: "infra".into(),
                    kind: DbKind::Etcd,
                    primaries: 3,
                    secondaries: 0,
                    version: None,
                },
            ],
        },
        OrchestraSpec {
            name: "lab-b".into(),
            databases: vec![neo4j("team-c", "billing", "5.24.1")],
        },
        OrchestraSpec {
            name: "lab-c".into(),
            databases: vec![neo4j("team-e", "audit", "5.24.1")],
        },
    ];
    s
}

/// The orchestras the config lists are the contexts baton uses: all three, lab-c read-only.
const CONFIG: &str =
    "[orchestras.lab-a]\n\n[orchestras.lab-b]\n\n[orchestras.lab-c]\nread_only = true\n";

async fn plan(t: &TestLab, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["campaign", "plan"];
    all.extend_from_slice(args);
    t.run_baton(CONFIG, &all).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_plan_selects_excludes_with_reasons_and_sends_nothing() {
    let t = TestLab::start(spec()).await;
    t.all_ready().await;
    // Another baton's upgrade of ledger, interrupted (its holder stopped renewing): a campaign
    // must not run over it.
    let leases: Api<Lease> = Api::namespaced(t.kube_client("lab-a").await, "team-a");
    let record = json!({"operation": "upgrade", "params": {"version": "5.26.0"}, "holder": "bob@bastion pid 9",
        "started_ms": 1_767_225_600_000u64, "state": "running", "step": 1});
    let lease: Lease = serde_json::from_value(json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "baton-op-ledger", "labels": {"app.kubernetes.io/managed-by": "baton"},
            "annotations": {"baton.io/operation": record.to_string()}},
        "spec": {"holderIdentity": "bob@bastion pid 9", "leaseDurationSeconds": 15,
            "renewTime": "2026-01-01T00:00:00.000000Z"},
    }))
    .unwrap();
    leases.create(&PostParams::default(), &lease).await.unwrap();
    let before = t.mutating_requests().len();

    let (code, out, err) = plan(
        &t,
        &[
            "upgrade",
            "--set",
            "version=5.26.0",
            "--select",
            "profile:neo4j !dedicated",
            "--name",
            "to-5-26",
            "--max-per-orchestra",
            "1",
            "--output",
            "json",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let p: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(p["name"], "to-5-26");
    // Five Neo4j databases not dedicated: orders, ledger, catalog, billing, audit.
    assert_eq!(p["matched"], 5, "{p:#}");
    let planned: Vec<&str> = p["waves"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|w| w["databases"].as_array().unwrap())
        .map(|d| d.as_str().unwrap())
        .collect();
    // One of each orchestra in turn: the canary on lab-a, then lab-b.
    assert_eq!(planned, ["lab-a/team-a/orders", "lab-b/team-c/billing"]);
    assert_eq!(p["waves"][0]["name"], "canary");
    let excluded: Vec<(&str, &str)> = p["excluded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["database"].as_str().unwrap(),
                e["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        excluded,
        [
            ("lab-a/team-a/ledger", "operation in flight"),
            ("lab-a/team-b/catalog", "at the goal"),
            ("lab-c/team-e/audit", "read-only orchestra"),
        ]
    );
    assert!(
        p["excluded"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("bob@bastion"),
        "{p:#}"
    );
    assert_eq!(p["missing_orchestras"], json!([]));

    // The same as text: the counts, the waves, the reasons, the estimate.
    let (code, out, err) = plan(
        &t,
        &[
            "upgrade",
            "--set",
            "version=5.26.0",
            "--select",
            "profile:neo4j !dedicated",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    for want in [
        "matched 5 · planned 2 · excluded 3",
        "canary",
        "then a soak of 10 m",
        "already at the goal (5.26.0)",
        "read-only orchestra",
        "estimate:",
        "nothing was sent",
    ] {
        assert!(out.contains(want), "{want:?} in:\n{out}");
    }
    assert_eq!(
        t.mutating_requests().len(),
        before,
        "a plan sends no mutating request"
    );

    // Bad flags: exit 2, naming the flag.
    for (args, says) in [
        (vec!["upgrade"], "--set version"),
        (
            vec![
                "upgrade",
                "--set",
                "version=5.26.0",
                "--select",
                "colour:red",
            ],
            "--select",
        ),
        (vec!["restart-member"], "acts on one member"),
        (vec!["fly"], "unknown operation 'fly'"),
        (vec!["rolling-restart", "--waves", "5%,x"], "--waves"),
        (vec!["rolling-restart", "--soak", "ten"], "--soak"),
    ] {
        let (code, out, err) = plan(&t, &args).await;
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(says), "{args:?}: {says:?} in {err}");
    }
    t.lab.shutdown().await;
}

/// The campaign's state in an orchestra: a ConfigMap created once (a second create is a
/// conflict), read back as written, changed only at the resourceVersion read (a writer holding
/// an older one gets a conflict and must read again); kubectl lists it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn campaign_state_is_a_configmap_changed_only_at_the_resource_version_read() {
    use baton::ops::campaign::run::DbState;
    use baton::ops::campaign::spec::{Canary, OnRefusal, Spec};
    use baton::ops::campaign::state::{self, Control, Definition, Entry, Phase, SaveError};
    use std::collections::BTreeMap;
    use std::time::Duration;

    let t = TestLab::start(common::small_spec(&[("team-a", "orders", 1, 0)])).await;
    let client = t.kube_client("lab-a").await;
    let orders = Entry {
        orchestra: "lab-a".into(),
        namespace: "team-a".into(),
        name: "orders".into(),
    };
    let definition = Definition {
        spec: Spec {
            name: "restart-all".into(),
            operation: baton::config::OperationName::RollingRestart,
            params: BTreeMap::new(),
            select: "profile:neo4j !dedicated".into(),
            canary: Canary::Count(1),
            soak: Duration::from_secs(600),
            waves: Vec::new(),
            max_parallel: 10,
            max_per_orchestra: 1,
            on_refusal: OnRefusal::Skip,
        },
        waves: vec![vec![orders.clone()]],
        created_ms: 1,
        created_by: "ana@bastion pid 7".into(),
        home: "lab-a".into(),
    };
    let control = Control::new(Phase::Running, "ana@bastion pid 7", "started", 1);
    let mut states = BTreeMap::from([(orders.clone(), DbState::Pending)]);
    assert_eq!(
        state::load(&client, "default", "restart-all").await,
        Ok(None)
    );
    let rv = state::save(&client, "default", &definition, &control, &states, None)
        .await
        .unwrap();
    assert!(matches!(
        state::save(&client, "default", &definition, &control, &states, None).await,
        Err(SaveError::Conflict(_))
    ));
    let read = state::load(&client, "default", "restart-all")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (read.definition, read.states.clone()),
        (definition.clone(), states.clone())
    );
    let running = DbState::Running {
        started_ms: 5,
        holder: "ana@bastion pid 7".into(),
        job: None,
    };
    states.insert(orders.clone(), running.clone());
    let rv2 = state::save(
        &client,
        "default",
        &definition,
        &control,
        &states,
        Some(&rv),
    )
    .await
    .unwrap();
    assert_ne!(rv, rv2);
    // A writer that read before that change cannot overwrite it.
    states.insert(
        orders.clone(),
        DbState::Done {
            ended_ms: 9,
            at_goal: false,
        },
    );
    assert!(matches!(
        state::save(
            &client,
            "default",
            &definition,
            &control,
            &states,
            Some(&rv)
        )
        .await,
        Err(SaveError::Conflict(_))
    ));
    let read = state::load(&client, "default", "restart-all")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (read.states[&orders].clone(), read.control),
        (running, control),
        "the stale write did not land"
    );
    let (code, out, err) = t
        .kubectl(&["--context", "lab-a", "get", "configmaps", "-n", "default"])
        .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("baton-campaign-restart-all")
                && l.split_whitespace().nth(1) == Some("3")),
        "{out}"
    );
    t.lab.shutdown().await;
}
