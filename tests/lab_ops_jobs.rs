//! A backup Job created the way an operator tool creates it (kube-rs, batch/v1, labelled
//! `app.kubernetes.io/managed-by=baton`, `LAB_JOB=backup`): its log streams while it runs,
//! `kubectl logs -f job/<name>` follows it to the end, it succeeds, and the artifact in the
//! object store names the member's applied index and the digest of its state there — the same
//! digest for two members at the same index.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{TestLab, small_spec, wait_for};
use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, LogParams, PostParams};
use serde_json::{Value, json};

fn backup_job(name: &str, member: &str, target: &str) -> Job {
    serde_json::from_value(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": {
            "app.kubernetes.io/managed-by": "baton",
            "baton.io/operation": "backup",
        }},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/managed-by": "baton"}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "backup",
                        "image": "neo4j:5.26.0-enterprise",
                        "command": ["neo4j-admin", "database", "backup"],
                        "env": [
                            {"name": "LAB_JOB", "value": "backup"},
                            {"name": "LAB_DATABASE", "value": "orders"},
                            {"name": "LAB_MEMBER", "value": member},
                            {"name": "LAB_TARGET", "value": target},
                        ],
                    }],
                },
            },
        },
    }))
    .expect("a Job")
}

fn complete(j: &Job) -> bool {
    j.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_ == "Complete" && c.status == "True")
        })
}

async fn job_pod(pods: &Api<Pod>, job: &str) -> Option<Pod> {
    pods.list(&ListParams::default().labels(&format!("batch.kubernetes.io/job-name={job}")))
        .await
        .ok()?
        .items
        .into_iter()
        .next()
}

fn running(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

fn artifact(t: &TestLab, key: &str) -> Value {
    let path = t.lab.object_store.join(key);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("the artifact is JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backup_job_streams_its_log_succeeds_and_writes_the_state_digest() {
    // No write load: every member settles at the same applied index.
    let mut spec = small_spec(&[("team-a", "orders", 3, 0)]);
    spec.writes_per_second = 0.0;
    let t = TestLab::start(spec).await;
    t.all_ready().await;
    let key = |p: &str| format!("lab-a/team-a/{p}");
    wait_for("members at one index", Duration::from_secs(20), || async {
        let s: Vec<_> = ["orders-1-0", "orders-2-0"]
            .iter()
            .filter_map(|p| t.lab.consensus.status(&key(p)))
            .collect();
        s.len() == 2
            && s[0].leader_id != 0
            && s[0].applied_index > 0
            && s[0].applied_index == s[1].applied_index
            && s[0].applied_index == s[0].commit_index
    })
    .await;

    let client = t.kube_client("lab-a").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "team-a");
    let pods: Api<Pod> = Api::namespaced(client, "team-a");
    jobs.create(
        &PostParams::default(),
        &backup_job("backup-a", "orders-1-0", "s3://lab-backups/orders/a.backup"),
    )
    .await
    .expect("create the backup Job");

    wait_for("the Job's pod runs", Duration::from_secs(15), || async {
        job_pod(&pods, "backup-a")
            .await
            .is_some_and(|p| running(&p))
    })
    .await;
    let pod = job_pod(&pods, "backup-a")
        .await
        .and_then(|p| p.metadata.name)
        .expect("pod name");
    // kubectl follows the Job (it finds the pod from the Job's selector) until the container ends.
    let mut kubectl = t.kubectl_cmd(&["logs", "-f", "job/backup-a", "-n", "team-a"]);
    let kubectl = kubectl
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kubectl");
    // kube-rs follows the pod: the first lines arrive while the Job is still running.
    let mut lines = pods
        .log_stream(
            &pod,
            &LogParams {
                follow: true,
                ..LogParams::default()
            },
        )
        .await
        .expect("follow the log")
        .lines();
    let mut seen = Vec::new();
    let mut while_running = 0;
    while let Some(line) = lines.next().await {
        let line = line.expect("a log line");
        if !complete(&jobs.get("backup-a").await.expect("get the Job")) {
            while_running += 1;
        }
        seen.push(line);
    }
    assert!(
        while_running >= 2,
        "lines streamed while the Job ran: {while_running} of {seen:?}"
    );
    assert!(seen[0].starts_with("Backing up database 'orders' from orders-1-0"));
    assert!(
        seen.last()
            .is_some_and(|l| l.starts_with("Backup complete: s3://lab-backups/orders/a.backup")),
        "{seen:?}"
    );
    let out = kubectl.wait_with_output().await.expect("kubectl ends");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        seen,
        "kubectl logs -f job/… shows the same lines"
    );

    wait_for("the Job succeeded", Duration::from_secs(15), || async {
        jobs.get("backup-a")
            .await
            .is_ok_and(|j| complete(&j) && j.status.as_ref().and_then(|s| s.succeeded) == Some(1))
    })
    .await;

    let a = artifact(&t, "lab-backups/orders/a.backup");
    assert_eq!(a["kind"], "baton-lab-backup");
    assert_eq!(a["database"], "orders");
    assert_eq!(a["namespace"], "team-a");
    assert_eq!(a["orchestra"], "lab-a");
    assert_eq!(a["member"], "orders-1-0");
    let st = t.lab.consensus.status(&key("orders-1-0")).expect("member");
    assert_eq!(a["applied_index"], st.applied_index, "{a}");
    assert_eq!(a["term"], st.term, "{a}");
    assert_eq!(a["state_digest"], st.state_digest.as_str(), "{a}");
    let digest = a["state_digest"].as_str().unwrap_or("");
    assert!(
        digest.len() == 71
            && digest.starts_with("sha256:")
            && digest[7..].chars().all(|c| c.is_ascii_hexdigit()),
        "{digest}"
    );
    assert!(a["taken_at"].is_string());
    assert!(seen.iter().any(|l| l.contains(digest)), "{seen:?}");

    // Another member at the same index has the same state.
    jobs.create(
        &PostParams::default(),
        &backup_job("backup-b", "orders-2-0", "s3://lab-backups/orders/b.backup"),
    )
    .await
    .expect("create the second backup Job");
    wait_for(
        "the second Job succeeded",
        Duration::from_secs(15),
        || async { jobs.get("backup-b").await.is_ok_and(|j| complete(&j)) },
    )
    .await;
    let b = artifact(&t, "lab-backups/orders/b.backup");
    assert_eq!(b["member"], "orders-2-0");
    assert_eq!(b["applied_index"], a["applied_index"], "{a} {b}");
    assert_eq!(b["state_digest"], a["state_digest"], "{a} {b}");

    // The tool can find its Jobs by label, and the Job's pod carries the Job's labels.
    let mine = jobs
        .list(&ListParams::default().labels("app.kubernetes.io/managed-by=baton"))
        .await
        .expect("list Jobs");
    assert_eq!(mine.items.len(), 2);
    let p = job_pod(&pods, "backup-a")
        .await
        .expect("the Job's pod stays");
    let labels = p.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels.get("job-name").map(String::as_str),
        Some("backup-a"),
        "{labels:?}"
    );
    t.lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backup_of_a_member_that_is_not_running_fails_with_a_reason() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 0)])).await;
    t.all_ready().await;
    let client = t.kube_client("lab-a").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "team-a");
    let pods: Api<Pod> = Api::namespaced(client, "team-a");
    jobs.create(
        &PostParams::default(),
        &backup_job("backup-x", "orders-9-0", "s3://lab-backups/orders/x.backup"),
    )
    .await
    .expect("create");
    wait_for("the Job failed", Duration::from_secs(15), || async {
        jobs.get("backup-x").await.is_ok_and(|j| {
            j.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Failed" && c.status == "True"))
        })
    })
    .await;
    let pod = job_pod(&pods, "backup-x")
        .await
        .and_then(|p| p.metadata.name)
        .expect("pod");
    let log = pods.logs(&pod, &LogParams::default()).await.expect("logs");
    assert!(
        log.contains("ERROR orders-9-0 runs no member of 'orders'"),
        "{log}"
    );
    assert!(
        !t.lab
            .object_store
            .join("lab-backups/orders/x.backup")
            .exists()
    );
    t.lab.shutdown().await;
}
