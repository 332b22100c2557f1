//! The lab against the real kubectl: real columns, watches that see deletes and re-creation,
//! describe, logs -f of a Job, rollout restart, the pod proxy, label selectors, and the
//! observer identity refused on mutation, `--sort-by` (Table rows carrying the whole object).

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{TestLab, small_spec, wait_for};
use tokio::io::AsyncBufReadExt;

fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn get_pods_all_namespaces_has_real_columns_and_selectors_work() {
    let t = TestLab::start(small_spec(&[
        ("team-a", "orders", 3, 1),
        ("team-b", "catalog", 3, 0),
    ]))
    .await;
    t.all_ready().await;
    let (code, out, err) = t.kubectl(&["get", "pods", "-A"]).await;
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        words(lines[0]),
        ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{out}"
    );
    assert_eq!(lines.len(), 1 + 7, "{out}");
    assert!(
        lines[1..]
            .iter()
            .all(|l| words(l)[2] == "1/1" && words(l)[3] == "Running"),
        "{out}"
    );

    let (code, out, _) = t
        .kubectl(&[
            "get",
            "pods",
            "-n",
            "team-a",
            "-l",
            "helm.neo4j.com/neo4j.name=orders,helm.neo4j.com/instance!=orders-rr-1",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["pod/orders-1-0", "pod/orders-2-0", "pod/orders-3-0"]
    );

    let (code, out, _) = t.kubectl(&["get", "pods", "-A", "-o", "wide"]).await;
    assert_eq!(code, 0);
    assert!(
        words(out.lines().next().unwrap()).contains(&"NODE"),
        "{out}"
    );

    let (code, out, err) = t.kubectl(&["get", "sts", "-n", "team-b"]).await;
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(words(lines[0]), ["NAME", "READY", "AGE"]);
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[1..].iter().all(|l| words(l)[1] == "1/1"), "{out}");

    let (code, _, err) = t.kubectl(&["get", "pod", "nope", "-n", "team-a"]).await;
    assert_eq!(code, 1);
    assert!(
        err.contains("Error from server (NotFound): pods \"nope\" not found"),
        "{err}"
    );
    t.lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn watch_sees_delete_and_recreation_with_a_new_uid() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 0)])).await;
    t.all_ready().await;
    let (_, old_uid, _) = t
        .kubectl(&[
            "get",
            "pod",
            "orders-2-0",
            "-n",
            "team-a",
            "-o",
            "jsonpath={.metadata.uid}",
        ])
        .await;

    let mut watch = t
        .kubectl_cmd(&["get", "pods", "-n", "team-a", "-w"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl -w");
    let mut lines = tokio::io::BufReader::new(watch.stdout.take().unwrap()).lines();
    // The initial listing: header + 3 pods.
    for _ in 0..4 {
        tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .unwrap()
            .unwrap();
    }
    let (code, out, err) = t
        .kubectl(&["delete", "pod", "orders-2-0", "-n", "team-a"])
        .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("pod \"orders-2-0\" deleted"), "{out}");

    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let line = tokio::time::timeout_at(deadline, lines.next_line())
            .await
            .expect("watch lines")
            .unwrap()
            .unwrap();
        let w: Vec<String> = words(&line).into_iter().map(String::from).collect();
        if w[0] == "orders-2-0" {
            seen.push(w[2].clone());
            let terminated = seen.iter().any(|s| s == "Terminating");
            if terminated && w[2] == "Running" && w[1] == "1/1" {
                break;
            }
        }
    }
    let first_terminating = seen
        .iter()
        .position(|s| s == "Terminating")
        .expect("saw Terminating");
    assert!(
        seen[first_terminating..]
            .iter()
            .any(|s| s == "Pending" || s == "ContainerCreating"),
        "{seen:?}"
    );
    let _ = watch.kill().await;

    let (_, new_uid, _) = t
        .kubectl(&[
            "get",
            "pod",
            "orders-2-0",
            "-n",
            "team-a",
            "-o",
            "jsonpath={.metadata.uid}",
        ])
        .await;
    assert!(
        !new_uid.is_empty() && new_uid != old_uid,
        "old {old_uid} new {new_uid}"
    );
    t.lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn describe_rollout_restart_and_proxy() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 0)])).await;
    t.all_ready().await;
    let (code, out, err) = t
        .kubectl(&["describe", "pod", "orders-1-0", "-n", "team-a"])
        .await;
    assert_eq!(code, 0, "{err}");
    // kubectl aligns the values to the longest field name: compare with spaces collapsed.
    let collapsed = out.split_whitespace().collect::<Vec<_>>().join(" ");
    for want in [
        "Name: orders-1-0",
        "Status: Running",
        "Service Account: default",
        "helm.neo4j.com/neo4j.name=orders",
        "Events:",
        "Scheduled",
        "Started container neo4j",
    ] {
        assert!(collapsed.contains(want), "describe lacks {want:?}:\n{out}");
    }
    let (code, out, _) = t
        .kubectl(&["describe", "sts", "orders-1", "-n", "team-a"])
        .await;
    assert_eq!(code, 0);
    assert!(
        out.contains("Pods Status:") && out.contains("SuccessfulCreate"),
        "{out}"
    );

    let (code, raw, err) = t
        .kubectl(&[
            "get",
            "--raw",
            "/api/v1/namespaces/team-a/pods/orders-1-0:7474/proxy/",
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&raw).expect("proxy answers JSON");
    assert_eq!(v["neo4j_version"], "5.26.0");
    let (code, _, err) = t
        .kubectl(&[
            "get",
            "--raw",
            "/api/v1/namespaces/team-a/pods/orders-1-0:9999/proxy/",
        ])
        .await;
    assert_eq!(code, 1);
    assert!(
        err.contains("ServiceUnavailable")
            || err.contains("connection refused")
            || err.contains("503"),
        "{err}"
    );

    let uid = |o: String| o;
    let (_, before, _) = t
        .kubectl(&[
            "get",
            "pods",
            "-n",
            "team-a",
            "-o",
            "jsonpath={.items[*].metadata.uid}",
        ])
        .await;
    let (code, out, err) = t
        .kubectl(&["rollout", "restart", "sts/orders-3", "-n", "team-a"])
        .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("statefulset.apps/orders-3 restarted"), "{out}");
    let (code, out, err) = t
        .kubectl(&[
            "rollout",
            "status",
            "sts/orders-3",
            "-n",
            "team-a",
            "--timeout=30s",
        ])
        .await;
    assert_eq!(code, 0, "{out}{err}");
    let (_, after, _) = t
        .kubectl(&[
            "get",
            "pod",
            "orders-3-0",
            "-n",
            "team-a",
            "-o",
            "jsonpath={.metadata.uid}",
        ])
        .await;
    assert!(
        !uid(before.clone()).contains(&after),
        "orders-3-0 was not replaced: {before} vs {after}"
    );
    let (_, ann, _) = t
        .kubectl(&[
            "get",
            "pod",
            "orders-3-0",
            "-n",
            "team-a",
            "-o",
            "jsonpath={.metadata.annotations}",
        ])
        .await;
    assert!(ann.contains("kubectl.kubernetes.io/restartedAt"), "{ann}");
    t.lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logs_follow_a_job_pod_until_it_ends() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 1, 0)])).await;
    let job = serde_json::json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "backup-orders", "namespace": "team-a"},
        "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [{
            "name": "backup", "image": "neo4j:5.26.0-enterprise",
            "env": [{"name": "LAB_SCRIPT", "value": "log backup started; sleep 700; log copying store files; sleep 700; log backup done; exit 0"}]
        }]}}}
    });
    let path = t.dir.path().join("job.json");
    std::fs::write(&path, job.to_string()).unwrap();
    let (code, _, err) = t
        .kubectl(&["create", "--validate=false", "-f", path.to_str().unwrap()])
        .await;
    assert_eq!(code, 0, "{err}");
    wait_for("job pod running", Duration::from_secs(10), || async {
        let (_, out, _) = t
            .kubectl(&[
                "get",
                "pods",
                "-n",
                "team-a",
                "-l",
                "job-name=backup-orders",
                "-o",
                "jsonpath={.items[*].status.phase}",
            ])
            .await;
        out.contains("Running") || out.contains("Succeeded")
    })
    .await;
    // `logs -f` follows until the job's container ends, then returns (a generous bound: a hang
    // fails, a slow machine does not).
    let (code, out, err) = tokio::time::timeout(
        Duration::from_secs(60),
        t.kubectl(&["logs", "-f", "job/backup-orders", "-n", "team-a"]),
    )
    .await
    .expect("logs -f returns once the job's container ends");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["backup started", "copying store files", "backup done"]
    );
    wait_for("job complete", Duration::from_secs(10), || async {
        let (_, out, _) = t
            .kubectl(&["get", "job", "backup-orders", "-n", "team-a"])
            .await;
        out.lines()
            .nth(1)
            .is_some_and(|l| words(l)[1] == "Complete" && words(l)[2] == "1/1")
    })
    .await;
    let (_, out, _) = t
        .kubectl(&[
            "get",
            "pods",
            "-n",
            "team-a",
            "-l",
            "job-name=backup-orders",
        ])
        .await;
    assert!(out.contains("Completed"), "{out}");
    let (code, out, _) = t
        .kubectl(&[
            "logs",
            "job/backup-orders",
            "-n",
            "team-a",
            "--tail=1",
            "--timestamps",
        ])
        .await;
    assert_eq!(code, 0);
    assert!(
        out.trim_end().ends_with(" backup done") && out.starts_with("20"),
        "{out}"
    );
    t.lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn observer_is_refused_mutations_and_the_request_log_shows_it() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 1, 0)])).await;
    t.all_ready().await;
    let (code, _, err) = t
        .kubectl(&[
            "--context",
            "lab-a-observer",
            "delete",
            "pod",
            "orders-1-0",
            "-n",
            "team-a",
        ])
        .await;
    assert_eq!(code, 1);
    assert!(err.contains("Error from server (Forbidden)"), "{err}");
    let (code, _, err) = t
        .kubectl(&[
            "--context",
            "lab-a-observer",
            "scale",
            "sts/orders-1",
            "-n",
            "team-a",
            "--replicas=0",
        ])
        .await;
    assert_eq!(code, 1, "{err}");
    let (code, out, _) = t
        .kubectl(&["--context", "lab-a-observer", "get", "pods", "-n", "team-a"])
        .await;
    assert_eq!(code, 0);
    assert!(out.contains("orders-1-0"));

    let log = t.request_log();
    let refused: Vec<_> = log
        .iter()
        .filter(|r| r["identity"] == "lab-observer" && r["status"] == 403)
        .collect();
    assert!(
        refused
            .iter()
            .any(|r| r["verb"] == "delete"
                && r["path"] == "/api/v1/namespaces/team-a/pods/orders-1-0"),
        "{refused:?}"
    );
    assert!(
        log.iter()
            .all(|r| r["orchestra"] == "lab-a" && r["time"].is_string())
    );
    // The pod is still there.
    assert_eq!(t.lab.ready_pods(), (1, 1));
    t.lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sort_by_reads_the_object_of_each_table_row() {
    // kubectl asks for a Table with includeObject=Object to sort: each row must carry the
    // object, or kubectl prints nothing.
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 1)])).await;
    t.all_ready().await;
    let (code, out, err) = t
        .kubectl(&["get", "pods", "-n", "team-a", "--sort-by=.status.startTime"])
        .await;
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(words(lines[0])[0], "NAME", "{out}");
    assert_eq!(lines.len(), 1 + 4, "{out}");
    let (code, out, err) = t
        .kubectl(&[
            "get",
            "pods",
            "-n",
            "team-a",
            "--sort-by=.metadata.name",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    let names: Vec<&str> = out.lines().collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names.len(), 4, "{out}");
    assert_eq!(names, sorted);
    // Through the Table (not -o name): the rows come in the order of their objects.
    let (code, out, err) = t
        .kubectl(&["get", "pods", "-n", "team-a", "--sort-by=.metadata.name"])
        .await;
    assert_eq!(code, 0, "{err}");
    let first: Vec<&str> = out.lines().skip(1).map(|l| words(l)[0]).collect();
    assert_eq!(
        first,
        sorted
            .iter()
            .map(|n| n.trim_start_matches("pod/"))
            .collect::<Vec<_>>(),
        "{out}"
    );
    t.lab.shutdown().await;
}
