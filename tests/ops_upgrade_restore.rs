//! Upgrade rules and restore from the object store's list, end to end: the real `baton op`
//! binary against the lab. An upgrade is refused with the rule named for a downgrade, for
//! 4.4 → 5 (a migration) and for 5.20 → 2025.01 (must go through 5.26 LTS), before anything is
//! sent; 5.20 → 5.26 rolls and the members report 5.26. A restore lists the database's backups
//! newest first (S3 ListObjectsV2 on the lab's object store), checks the chosen one before it
//! stops anything — another database's backup is refused and the database keeps running — and,
//! confirmed, brings the data back to the backup's digest, after which writes go on.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use baton_lab::profile::{DatabaseSpec, DbKind};
use common::{TestLab, small_spec, wait_for};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde_json::Value;

const ORCH: &str = "lab-a";
const NS: &str = "team-a";

fn config(t: &TestLab) -> String {
    format!(
        "[operations]\nobject_store_endpoint = \"{}\"\n",
        t.lab.object_store_url
    )
}

fn baton(t: &TestLab, args: &[&str]) -> tokio::process::Command {
    let cfg = t.dir.path().join("baton.toml");
    std::fs::write(&cfg, config(t)).expect("write config");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_baton"));
    cmd.arg("--kubeconfig")
        .arg(t.kubeconfig())
        .arg("--config")
        .arg(&cfg)
        .args(args)
        .env("BATON_DATA_DIR", t.dir.path().join("baton-data"))
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

async fn run(t: &TestLab, args: &[&str]) -> (i32, String, String) {
    let out = baton(t, args).output().await.expect("run baton");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn op<'a>(name: &'a str, db: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["op", name, "--orchestra", ORCH, "--database", db];
    v.extend_from_slice(extra);
    v
}

fn group(t: &TestLab, db: &str) -> Value {
    let name = format!("{ORCH}/{NS}/{db}");
    t.lab
        .consensus
        .report()
        .as_array()
        .and_then(|a| a.iter().find(|g| g["database"] == name.as_str()).cloned())
        .unwrap_or(Value::Null)
}

async fn images(t: &TestLab, db: &str) -> Vec<String> {
    let pods: Api<Pod> = Api::namespaced(t.kube_client(ORCH).await, NS);
    pods.list(&ListParams::default().labels(&format!("helm.neo4j.com/neo4j.name={db}")))
        .await
        .expect("list pods")
        .items
        .into_iter()
        .filter_map(|p| p.spec.and_then(|s| s.containers[0].image.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrades_are_refused_with_the_rule_named_and_5_20_to_5_26_rolls() {
    let mut spec = small_spec(&[("team-a", "orders", 3, 0)]);
    spec.orchestras[0].databases[0].version = Some("5.20.0".into());
    spec.orchestras[0].databases.push(DatabaseSpec {
        name: "legacy".into(),
        namespace: NS.into(),
        kind: DbKind::Neo4j44,
        primaries: 3,
        secondaries: 0,
        version: Some("4.4.41".into()),
    });
    let t = TestLab::start(spec).await;
    t.settled(ORCH, NS, "orders").await;
    t.settled(ORCH, NS, "legacy").await;
    let before = t.mutating_requests().len();
    for (db, version, rule, says) in [
        (
            "orders",
            "5.19.0",
            "upgrade-no-downgrade",
            "older than the running 5.20.0",
        ),
        ("legacy", "5.26.0", "upgrade-no-major-roll", "migration"),
        (
            "orders",
            "2025.01.0",
            "upgrade-checkpoint",
            "upgrade to 5.26 first",
        ),
    ] {
        let set = format!("version={version}");
        let (code, out, err) = run(&t, &op("upgrade", db, &["--set", &set, "--yes"])).await;
        assert_eq!(code, 3, "{db} → {version}: {out}{err}");
        let all = format!("{out}{err}");
        assert!(all.contains(&format!("rule '{rule}'")), "{all}");
        assert!(all.contains(says), "{all}");
    }
    assert_eq!(
        t.mutating_requests().len(),
        before,
        "a refused upgrade sends nothing"
    );

    let (code, out, err) = run(
        &t,
        &op("upgrade", "orders", &["--set", "version=5.26.0", "--yes"]),
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("✓ upgrade-rules"),
        "the rule shows as checked: {out}"
    );
    assert!(
        images(&t, "orders")
            .await
            .iter()
            .all(|i| i == "neo4j:5.26.0-enterprise"),
        "{:?}",
        images(&t, "orders").await
    );
    // The members report the version they run.
    for pod in ["orders-1-0", "orders-2-0", "orders-3-0"] {
        let (code, raw, err) = t
            .kubectl(&[
                "get",
                "--raw",
                &format!("/api/v1/namespaces/{NS}/pods/{pod}:7474/proxy/"),
            ])
            .await;
        assert_eq!(code, 0, "{err}");
        let v: Value = serde_json::from_str(&raw).expect("json");
        assert_eq!(v["neo4j_version"], "5.26.0", "{pod}: {raw}");
    }
    assert_eq!(group(&t, "orders")["quorum_lost_events"], 0);
    t.lab.shutdown().await;
}

fn artifact(t: &TestLab, url: &str) -> Value {
    let path = t.lab.object_store.join(url.trim_start_matches("s3://"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("artifact")).expect("json")
}

async fn backup(t: &TestLab, db: &str) -> String {
    t.settled(ORCH, NS, db).await;
    let (code, out, err) = run(t, &op("backup", db, &["--yes"])).await;
    assert_eq!(code, 0, "{out}{err}");
    out.lines()
        .find_map(|l| l.strip_prefix("done: backup written to "))
        .expect("artifact")
        .trim()
        .to_string()
}

async fn statefulsets_running(t: &TestLab, db: &str) -> bool {
    let (code, out, _) = t
        .kubectl(&[
            "get",
            "statefulsets",
            "-n",
            NS,
            "-l",
            &format!("helm.neo4j.com/neo4j.name={db}"),
            "-o",
            "jsonpath={.items[*].spec.replicas}",
        ])
        .await;
    code == 0 && !out.trim().is_empty() && out.split_whitespace().all(|r| r == "1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_chooses_from_the_list_checks_first_and_brings_the_backups_state_back() {
    let t = TestLab::start(small_spec(&[
        ("team-a", "orders", 3, 0),
        ("team-a", "catalog", 3, 0),
    ]))
    .await;
    let url = backup(&t, "orders").await;
    let saved = artifact(&t, &url);
    let index = saved["applied_index"].as_u64().expect("index");
    let digest = saved["state_digest"].as_str().expect("digest").to_string();
    let other = backup(&t, "catalog").await;
    // More writes after the backup.
    wait_for(
        "writes after the backup",
        Duration::from_secs(20),
        || async {
            group(&t, "orders")["members"]
                .as_array()
                .is_some_and(|ms| ms.iter().all(|m| m["applied"].as_u64() > Some(index + 5)))
        },
    )
    .await;
    let key = |pod: &str| format!("{ORCH}/{NS}/{pod}");
    let before = t.mutating_requests().len();

    // Without a backup: the list to choose from, this database's only.
    let (code, out, err) = run(&t, &op("restore", "orders", &["--yes"])).await;
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("newest first") && err.contains(&url), "{err}");
    assert!(!err.contains(&other), "only this database's backups: {err}");

    // Another database's backup: refused, nothing stopped.
    let set = format!("backup={other}");
    let (code, out, err) = run(&t, &op("restore", "orders", &["--set", &set, "--yes"])).await;
    assert_eq!(code, 3, "{out}{err}");
    let all = format!("{out}{err}");
    assert!(all.contains("rule 'backup-of-this-database'"), "{all}");
    assert!(all.contains("a backup of lab-a/team-a/catalog"), "{all}");
    // A backup that does not exist: refused too.
    let (code, out, err) = run(
        &t,
        &op(
            "restore",
            "orders",
            &[
                "--set",
                "backup=s3://lab-backups/lab-a/team-a/orders/none.backup",
                "--yes",
            ],
        ),
    )
    .await;
    assert_eq!(code, 3, "{out}{err}");
    assert!(format!("{out}{err}").contains("rule 'backup-exists'"));
    // Without the typed id (no --yes, no terminal to type it on): nothing sent, after the
    // checks were shown.
    let set = format!("backup={url}");
    let (code, out, err) = run(&t, &op("restore", "orders", &["--set", &set])).await;
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("pass --yes"), "{err}");
    assert!(
        out.contains("✓ backup-of-this-database"),
        "the checks shown: {out}"
    );
    assert!(out.contains("✓ backup-readable"), "{out}");
    assert_eq!(
        t.mutating_requests().len(),
        before,
        "nothing was sent: {:?}",
        &t.mutating_requests()[before..]
    );
    assert!(statefulsets_running(&t, "orders").await);
    assert_eq!(group(&t, "orders")["quorum"], true);

    // Confirmed: the data is the backup's again, and writes go on from it.
    let (code, out, err) = run(
        &t,
        &op(
            "restore",
            "orders",
            &["--set", &format!("from={url}"), "--yes"],
        ),
    )
    .await;
    assert_eq!(code, 0, "`from` is an alias: {out}{err}");
    t.settled(ORCH, NS, "orders").await;
    for pod in ["orders-1-0", "orders-2-0", "orders-3-0"] {
        assert_eq!(
            t.lab.consensus.digest_at(&key(pod), index).as_deref(),
            Some(digest.as_str()),
            "{pod} at the backup's index {index}"
        );
    }
    let ok = group(&t, "orders")["writes_ok"].as_u64().unwrap_or(0);
    wait_for("writes resume", Duration::from_secs(20), || async {
        let g = group(&t, "orders");
        g["writes_ok"].as_u64() > Some(ok + 5)
            && g["members"]
                .as_array()
                .is_some_and(|ms| ms.iter().all(|m| m["applied"].as_u64() > Some(index)))
    })
    .await;
    t.lab.shutdown().await;
}
