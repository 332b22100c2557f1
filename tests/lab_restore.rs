//! Restore, as an operator tool drives it through kube-rs and kubectl: a backup Job
//! (`BATON_OPERATION=backup`), writes go on, every StatefulSet of the database scaled to 0, a
//! restore Job (`BATON_OPERATION=restore`, `BATON_SOURCE`), every StatefulSet back to 1. The
//! members start from the restored volumes at the backup's applied index and state digest, elect
//! a leader, and new writes chain on from there. A restore refuses while a member runs and
//! names a missing or malformed artifact. And a member reports the version of the image its pod
//! runs on `GET /`, also after `kubectl set image`.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{TestLab, small_spec, wait_for};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, LogParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const NS: &str = "team-a";
const GROUP: &str = "lab-a/team-a/orders";
const SELECTOR: &str = "helm.neo4j.com/neo4j.name=orders";

fn key(pod: &str) -> String {
    format!("lab-a/{NS}/{pod}")
}

/// A Job the way baton's operations image is run: `BATON_*` env, baton's labels.
fn op_job(name: &str, operation: &str, env: &[(&str, &str)]) -> Job {
    let mut vars = vec![
        json!({"name": "BATON_OPERATION", "value": operation}),
        json!({"name": "BATON_DATABASE", "value": "orders"}),
    ];
    vars.extend(env.iter().map(|(k, v)| json!({"name": k, "value": v})));
    let labels = json!({
        "app.kubernetes.io/managed-by": "baton",
        "baton.io/database": "orders",
        "baton.io/operation": operation,
    });
    serde_json::from_value(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": operation,
                        "image": "neo4j:5.26.0-enterprise",
                        "command": ["neo4j-admin", "database", operation],
                        "env": vars,
                    }],
                },
            },
        },
    }))
    .expect("a Job")
}

fn condition(j: &Job, ty: &str) -> bool {
    j.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == ty && c.status == "True"))
}

/// Runs an operation Job to its end; returns whether it succeeded and its pod's log.
async fn run_job(client: &kube::Client, job: Job) -> (bool, String) {
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let name = job.metadata.name.clone().expect("a named Job");
    jobs.create(&PostParams::default(), &job)
        .await
        .expect("create the Job");
    wait_for(
        &format!("Job {name} ends"),
        Duration::from_secs(30),
        || async {
            jobs.get(&name)
                .await
                .is_ok_and(|j| condition(&j, "Complete") || condition(&j, "Failed"))
        },
    )
    .await;
    let ok = condition(&jobs.get(&name).await.expect("get the Job"), "Complete");
    let pod = pods
        .list(&ListParams::default().labels(&format!("batch.kubernetes.io/job-name={name}")))
        .await
        .expect("list the Job's pods")
        .items
        .into_iter()
        .next()
        .and_then(|p| p.metadata.name)
        .expect("the Job's pod");
    let log = pods
        .logs(&pod, &LogParams::default())
        .await
        .expect("the Job's log");
    (ok, log)
}

fn db(t: &TestLab) -> Value {
    t.lab
        .consensus
        .report()
        .as_array()
        .and_then(|a| a.iter().find(|d| d["database"] == GROUP).cloned())
        .unwrap_or(Value::Null)
}

fn members(d: &Value) -> Vec<Value> {
    d["members"].as_array().cloned().unwrap_or_default()
}

fn applied(m: &Value) -> u64 {
    m["applied"].as_u64().unwrap_or(0)
}

/// Scales every StatefulSet of the database with kubectl (`-l`, as an operator would).
async fn scale_all(t: &TestLab, replicas: u32) {
    let (code, out, err) = t
        .kubectl(&[
            "scale",
            "statefulset",
            "-l",
            SELECTOR,
            "-n",
            NS,
            &format!("--replicas={replicas}"),
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("scaled"), "{out}");
}

async fn scale(sts: &Api<StatefulSet>, name: &str, replicas: i32) {
    sts.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": replicas}})),
    )
    .await
    .expect("scale");
}

fn ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

async fn pods_of_db(pods: &Api<Pod>) -> Vec<String> {
    pods.list(&ListParams::default().labels(SELECTOR))
        .await
        .map(|l| {
            l.items
                .into_iter()
                .filter_map(|p| p.metadata.name)
                .collect()
        })
        .unwrap_or_default()
}

fn read_artifact(t: &TestLab, key: &str) -> Value {
    let path = t.lab.object_store.join(key);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("the artifact is JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restore_puts_every_member_back_at_the_backup_and_writes_chain_on() {
    let t = TestLab::start(small_spec(&[(NS, "orders", 3, 1)])).await;
    t.all_ready().await;
    let client = t.kube_client("lab-a").await;
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), NS);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let servers: Vec<String> = sts
        .list(&ListParams::default().labels(SELECTOR))
        .await
        .expect("list StatefulSets")
        .items
        .into_iter()
        .filter_map(|s| s.metadata.name)
        .collect();
    assert_eq!(servers.len(), 4, "{servers:?}");
    let member_pods: Vec<String> = servers.iter().map(|s| format!("{s}-0")).collect();
    wait_for("a leader and writes", Duration::from_secs(20), || async {
        let d = db(&t);
        d["quorum"] == true && members(&d).iter().all(|m| applied(m) > 5)
    })
    .await;

    // Backup from a follower.
    let leader = t.truth_leader(GROUP).expect("a leader");
    let from = ["orders-1-0", "orders-2-0"]
        .into_iter()
        .find(|p| *p != leader)
        .expect("a follower");
    let target = "s3://lab-backups/orders/restore-me.backup";
    let (ok, log) = run_job(
        &client,
        op_job(
            "backup-1",
            "backup",
            &[("BATON_MEMBER", from), ("BATON_TARGET", target)],
        ),
    )
    .await;
    assert!(ok, "{log}");
    let artifact = read_artifact(&t, "lab-backups/orders/restore-me.backup");
    let index = artifact["applied_index"].as_u64().expect("applied_index");
    let digest = artifact["state_digest"]
        .as_str()
        .expect("state_digest")
        .to_string();
    let mut group: Vec<u64> = ["voters", "learners"]
        .iter()
        .flat_map(|k| artifact[*k].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_u64())
        .collect();
    group.sort_unstable();
    assert_eq!(group, vec![1, 2, 3, 101], "{artifact}");

    // Writes go on: every member moves past the backup, to another state.
    wait_for("the state moves on", Duration::from_secs(20), || async {
        members(&db(&t)).iter().all(|m| applied(m) > index + 10)
    })
    .await;
    let old_next = t
        .lab
        .consensus
        .digest_at(&key(from), index + 1)
        .expect("the digest after the backup");

    // Stop the database: every server to 0, until its pods are gone.
    scale_all(&t, 0).await;
    wait_for("every pod gone", Duration::from_secs(30), || async {
        pods_of_db(&pods).await.is_empty()
    })
    .await;
    wait_for("every member stopped", Duration::from_secs(10), || async {
        members(&db(&t)).iter().all(|m| m["running"] == false)
    })
    .await;
    let writes_stopped = db(&t)["writes_ok"].as_u64().unwrap_or(0);

    // Restore.
    let (ok, log) = run_job(
        &client,
        op_job("restore-1", "restore", &[("BATON_SOURCE", target)]),
    )
    .await;
    assert!(ok, "{log}");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(format!("Restoring database 'orders' from {target}").as_str()),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "Verified backup of 'orders' taken from lab-a/team-a/{from}"
        )),
        "{log}"
    );
    assert!(log.contains("Every member of 'orders' is stopped"), "{log}");
    for (pod, id) in member_pods.iter().zip([1, 2, 3, 101]) {
        assert!(
            log.contains(&format!(
                "Replaced the volume of {pod} (member {id}): applied index {index}, state {digest}"
            )),
            "{log}"
        );
        // The volume holds the backup's state and nothing after it.
        let c = &t.lab.consensus;
        assert_eq!(c.digest_at(&key(pod), index), Some(digest.clone()), "{pod}");
        assert_eq!(c.digest_at(&key(pod), index + 1), None, "{pod}");
    }
    assert!(
        lines.last().is_some_and(|l| l.starts_with(&format!(
            "Restore complete: 'orders' at applied index {index} on 4 member(s)"
        ))),
        "{log}"
    );

    // Start: every server back to 1.
    for s in &servers {
        scale(&sts, s, 1).await;
    }
    wait_for(
        "every pod back and Ready",
        Duration::from_secs(30),
        || async {
            pods.list(&ListParams::default().labels(SELECTOR))
                .await
                .is_ok_and(|l| l.items.len() == 4 && l.items.iter().all(ready))
        },
    )
    .await;
    wait_for("a leader again", Duration::from_secs(20), || async {
        db(&t)["quorum"] == true
    })
    .await;
    // Each member's process started from the restored store (its log says where it was).
    for pod in &member_pods {
        let (code, out, err) = t.kubectl(&["logs", pod, "-n", NS]).await;
        assert_eq!(code, 0, "{err}");
        let recovered = format!("Store recovered at applied index {index} ");
        assert!(
            out.lines()
                .any(|l| l.starts_with(&recovered) && l.ends_with(&format!("state {digest}"))),
            "{pod}: {out}"
        );
    }
    // Writes chain on from the restored state: every member has the backup's digest at its
    // index, a new history after it, and the same digest as the others at a later index.
    wait_for("writes go on", Duration::from_secs(20), || async {
        let d = db(&t);
        d["writes_ok"].as_u64().unwrap_or(0) > writes_stopped + 10
            && members(&d).iter().all(|m| applied(m) > index + 10)
    })
    .await;
    let d = db(&t);
    let top = members(&d).iter().map(applied).min().unwrap_or(0);
    let c = &t.lab.consensus;
    let at_top = c.digest_at(&key(&member_pods[0]), top).expect("a digest");
    for pod in &member_pods {
        assert_eq!(
            c.digest_at(&key(pod), index),
            Some(digest.clone()),
            "{pod}: {d}"
        );
        let next = c.digest_at(&key(pod), index + 1).expect("a next digest");
        assert_ne!(next, old_next, "{pod} took the old history back");
        assert_eq!(c.digest_at(&key(pod), top), Some(at_top.clone()), "{pod}");
    }
    t.lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restore_refuses_while_a_member_runs_and_names_a_bad_artifact() {
    let t = TestLab::start(small_spec(&[(NS, "orders", 3, 0)])).await;
    t.all_ready().await;
    let client = t.kube_client("lab-a").await;
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), NS);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    wait_for("a leader and writes", Duration::from_secs(20), || async {
        let d = db(&t);
        d["quorum"] == true && members(&d).iter().all(|m| applied(m) > 5)
    })
    .await;
    let target = "s3://lab-backups/orders/good.backup";
    let (ok, log) = run_job(
        &client,
        op_job(
            "backup-1",
            "backup",
            &[("BATON_MEMBER", "orders-1-0"), ("BATON_TARGET", target)],
        ),
    )
    .await;
    assert!(ok, "{log}");
    let artifact = read_artifact(&t, "lab-backups/orders/good.backup");
    let index = artifact["applied_index"].as_u64().expect("applied_index");
    wait_for("the state moves on", Duration::from_secs(20), || async {
        members(&db(&t)).iter().all(|m| applied(m) > index + 5)
    })
    .await;

    // Two of three servers stopped; orders-3 still runs.
    scale(&sts, "orders-1", 0).await;
    scale(&sts, "orders-2", 0).await;
    wait_for("two pods gone", Duration::from_secs(30), || async {
        pods_of_db(&pods).await == vec!["orders-3-0".to_string()]
    })
    .await;
    let (ok, log) = run_job(
        &client,
        op_job("restore-running", "restore", &[("BATON_SOURCE", target)]),
    )
    .await;
    assert!(!ok, "{log}");
    assert!(
        log.contains("ERROR orders-3-0 is running; stop every member of the database first"),
        "{log}"
    );
    // Nothing was restored: the stopped members' volumes still hold what came after the backup.
    for pod in ["orders-1-0", "orders-2-0"] {
        assert!(
            t.lab.consensus.digest_at(&key(pod), index + 1).is_some(),
            "{pod}"
        );
    }
    assert!(
        t.lab
            .consensus
            .status(&key("orders-3-0"))
            .is_some_and(|s| s.live && s.applied_index > index)
    );

    // Every server stopped now, but the artifact is missing, not JSON, incomplete, or of another
    // database: each restore fails and says why.
    scale(&sts, "orders-3", 0).await;
    wait_for("every pod gone", Duration::from_secs(30), || async {
        pods_of_db(&pods).await.is_empty()
    })
    .await;
    let dir = t.lab.object_store.join("lab-backups/orders");
    std::fs::write(dir.join("garbage.backup"), "PK\u{3}\u{4} not json").expect("write");
    std::fs::write(
        dir.join("partial.backup"),
        json!({"kind": "baton-lab-backup", "database": "orders", "term": 2}).to_string(),
    )
    .expect("write");
    let mut other = artifact.clone();
    other["database"] = json!("catalog");
    std::fs::write(dir.join("catalog.backup"), other.to_string()).expect("write");
    let s3 = |name: &str| format!("s3://lab-backups/orders/{name}");
    for (job, source, why) in [
        (
            "restore-missing",
            s3("missing.backup"),
            format!(
                "ERROR cannot read {}: it does not exist",
                s3("missing.backup")
            ),
        ),
        (
            "restore-garbage",
            s3("garbage.backup"),
            format!(
                "ERROR {} is not a backup artifact (not JSON",
                s3("garbage.backup")
            ),
        ),
        (
            "restore-partial",
            s3("partial.backup"),
            format!(
                "ERROR {} is not a valid backup artifact: no applied_index",
                s3("partial.backup")
            ),
        ),
        (
            "restore-other",
            s3("catalog.backup"),
            format!(
                "ERROR {} is a backup of 'catalog', not of 'orders'",
                s3("catalog.backup")
            ),
        ),
    ] {
        let (ok, log) = run_job(
            &client,
            op_job(job, "restore", &[("BATON_SOURCE", &source)]),
        )
        .await;
        assert!(!ok, "{job}: {log}");
        assert!(log.contains(&why), "{job}: {log}");
    }
    for pod in ["orders-1-0", "orders-2-0", "orders-3-0"] {
        assert!(
            t.lab.consensus.digest_at(&key(pod), index + 1).is_some(),
            "{pod}: its volume was left alone"
        );
    }
    t.lab.shutdown().await;
}

/// `GET /` on a member's HTTP port through the API server's pod proxy, as kube-rs sends it.
async fn discovery(client: &kube::Client, pod: &str) -> Option<Value> {
    let req = http::Request::get(format!("/api/v1/namespaces/{NS}/pods/{pod}:7474/proxy/"))
        .body(Vec::new())
        .ok()?;
    let text = client.request_text(req).await.ok()?;
    serde_json::from_str(&text).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_reports_the_version_of_the_image_it_runs() {
    let t = TestLab::start(small_spec(&[(NS, "orders", 3, 0)])).await;
    t.all_ready().await;
    let client = t.kube_client("lab-a").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    for pod in ["orders-1-0", "orders-2-0", "orders-3-0"] {
        let v = discovery(&client, pod).await.expect("GET / answers JSON");
        assert_eq!(v["neo4j_version"], "5.26.0", "{pod}: {v}");
        assert_eq!(v["neo4j_edition"], "enterprise", "{pod}: {v}");
    }
    let old_uid = pods
        .get("orders-2-0")
        .await
        .expect("pod")
        .metadata
        .uid
        .expect("uid");
    let (code, _, err) = t
        .kubectl(&[
            "set",
            "image",
            "sts/orders-2",
            "neo4j=neo4j:5.27.0-enterprise",
            "-n",
            NS,
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    wait_for(
        "orders-2-0 runs the new image and reports it",
        Duration::from_secs(30),
        || async {
            let Ok(p) = pods.get("orders-2-0").await else {
                return false;
            };
            let image = p
                .spec
                .as_ref()
                .and_then(|s| s.containers.first())
                .and_then(|c| c.image.clone());
            p.metadata.uid.as_deref() != Some(old_uid.as_str())
                && image.as_deref() == Some("neo4j:5.27.0-enterprise")
                && discovery(&client, "orders-2-0")
                    .await
                    .is_some_and(|v| v["neo4j_version"] == "5.27.0")
        },
    )
    .await;
    for pod in ["orders-1-0", "orders-3-0"] {
        let v = discovery(&client, pod).await.expect("GET / answers JSON");
        assert_eq!(v["neo4j_version"], "5.26.0", "{pod}: {v}");
    }
    // The member's log names the version it started as.
    let (code, out, err) = t.kubectl(&["logs", "orders-2-0", "-n", NS]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines()
            .next()
            .is_some_and(|l| l.starts_with("Starting Neo4j 5.27.0 member 2 of")),
        "{out}"
    );
    t.lab.shutdown().await;
}
