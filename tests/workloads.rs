//! What operations create, as the engine sees it in the lab: the StatefulSets of a database
//! (replicas, image, memory, revisions, `baton.io/` annotations), baton's Jobs and the operation
//! Lease `baton-op-<database>` arrive on the database they name and go when deleted; the open
//! database's Events are its own (never those of `orders-archive` next door) and are read with a
//! field selector per object, never a whole namespace.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use baton::fleet::DbKey;
use baton::source::{Engine, Focus, Intervals, targets};
use common::{TestLab, small_spec};

fn key(name: &str) -> DbKey {
    DbKey {
        orchestra: "lab-a".into(),
        namespace: "team-a".into(),
        name: name.into(),
    }
}

async fn apply(t: &TestLab, manifest: &str) {
    let path = t.dir.path().join("manifest.json");
    std::fs::write(&path, manifest).unwrap();
    let (code, _, err) = t
        .kubectl(&["create", "--validate=false", "-f", path.to_str().unwrap()])
        .await;
    assert_eq!(code, 0, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn statefulsets_jobs_leases_and_events_of_a_database() {
    let t = TestLab::start(small_spec(&[
        ("team-a", "orders", 3, 0),
        ("team-a", "orders-archive", 3, 0),
    ]))
    .await;
    t.all_ready().await;
    let config = baton::config::Config::default();
    let targets = targets(Some(&t.kubeconfig()), &[], &config).await.unwrap();
    let mut engine = Engine::start(targets, &config, Intervals::default());
    let orders = key("orders");
    engine.set_focus(Focus {
        open: Some(orders.clone()),
        visible: vec![],
    });

    // The StatefulSets of the Helm layout: one per server.
    assert!(
        engine
            .until(Duration::from_secs(15), |f| {
                f.databases.get(&orders).is_some_and(|d| {
                    d.statefulsets.len() == 3
                        && d.statefulsets.iter().all(|s| {
                            s.replicas == 1
                                && s.ready_replicas == 1
                                && &*s.image == "neo4j:5.26.0-enterprise"
                                && s.memory_request.as_deref() == Some("4Gi")
                        })
                })
            })
            .await,
        "orders' StatefulSets: {:?}",
        engine
            .fleet()
            .databases
            .get(&orders)
            .map(|d| &d.statefulsets)
    );
    let names: Vec<String> = engine.fleet().databases[&orders]
        .statefulsets
        .iter()
        .map(|s| s.name.clone())
        .collect();
    assert_eq!(names, ["orders-1", "orders-2", "orders-3"]);
    assert_eq!(
        engine.fleet().databases[&key("orders-archive")]
            .statefulsets
            .len(),
        3
    );

    // The open database's events: its own pods' and StatefulSets' only.
    assert!(
        engine
            .until(Duration::from_secs(15), |f| {
                f.databases[&orders]
                    .events
                    .iter()
                    .any(|e| e.object.starts_with("statefulset/"))
            })
            .await,
        "orders' events"
    );
    let events = &engine.fleet().databases[&orders].events;
    assert!(
        events.iter().all(|e| !e.object.contains("orders-archive")),
        "{events:?}"
    );
    let event_lists: Vec<String> = t
        .request_log()
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("/namespaces/team-a/events"))
        })
        .map(|r| r["query"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(!event_lists.is_empty());
    assert!(
        event_lists
            .iter()
            .all(|q| q.contains("fieldSelector=involvedObject.name")),
        "{event_lists:?}"
    );

    // An annotation an operation sets on a StatefulSet.
    let (code, _, err) = t
        .kubectl(&[
            "annotate",
            "statefulset",
            "orders-1",
            "-n",
            "team-a",
            "baton.io/resize=8Gi",
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        engine
            .until(Duration::from_secs(10), |f| {
                f.databases[&orders].statefulsets[0]
                    .annotations
                    .get("baton.io/resize")
                    .map(String::as_str)
                    == Some("8Gi")
            })
            .await,
        "the baton.io/ annotation"
    );

    // A Job baton started for orders, and the operation Lease.
    apply(
        &t,
        r#"{"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "orders-backup-1", "namespace": "team-a", "labels": {
                "app.kubernetes.io/managed-by": "baton", "baton.io/operation": "backup",
                "baton.io/database": "orders"}},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "backup", "image": "busybox"}]}}}}"#,
    )
    .await;
    apply(
        &t,
        r#"{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "baton-op-orders", "namespace": "team-a",
                "labels": {"app.kubernetes.io/managed-by": "baton"}, "annotations": {
                "baton.io/operation": "{\"operation\":\"rolling-restart\",\"state\":\"running\"}"}},
            "spec": {"holderIdentity": "alice@bastion", "leaseDurationSeconds": 30}}"#,
    )
    .await;
    assert!(
        engine
            .until(Duration::from_secs(10), |f| {
                let d = &f.databases[&orders];
                d.jobs.iter().any(|j| {
                    j.name == "orders-backup-1" && j.operation.as_deref() == Some("backup")
                }) && d.op_lease.as_ref().is_some_and(|l| {
                    l.holder.as_deref() == Some("alice@bastion")
                        && l.duration_s == Some(30)
                        && l.operation
                            .as_deref()
                            .is_some_and(|o| o.contains("rolling-restart"))
                })
            })
            .await,
        "the Job and the Lease on orders: {:?} {:?}",
        engine.fleet().databases[&orders].jobs,
        engine.fleet().databases[&orders].op_lease
    );
    assert!(
        engine.fleet().databases[&key("orders-archive")]
            .jobs
            .is_empty()
    );

    // Released and cleaned up: gone from the fleet.
    for (kind, name) in [("lease", "baton-op-orders"), ("job", "orders-backup-1")] {
        let (code, _, err) = t
            .kubectl(&["delete", kind, name, "-n", "team-a", "--wait=false"])
            .await;
        assert_eq!(code, 0, "{err}");
    }
    assert!(
        engine
            .until(Duration::from_secs(10), |f| {
                let d = &f.databases[&orders];
                d.jobs.is_empty() && d.op_lease.is_none()
            })
            .await,
        "Job and Lease gone"
    );

    // A relist after watch expiry leaves the StatefulSets as they are, no duplicates.
    t.lab.orchestra("lab-a").unwrap().store.expire_watches();
    assert!(
        engine
            .until(Duration::from_secs(10), |f| {
                f.databases[&orders].statefulsets.len() == 3
            })
            .await
    );
    t.lab.shutdown().await;
}
