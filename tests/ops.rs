//! Operations end to end: the real `baton op` binary against the lab (real HTTP, kube-rs, the
//! lab's Raft members and request log). Rolling restart under writes, refusals that send
//! nothing, waiting on a member that breaks mid-operation, racing operators, resume after
//! `kill -9`, dry runs, backups with their Job log and artifact, stop/start keeping data, and
//! incidents posted to a webhook.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use common::{TestLab, small_spec, wait_for};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

const ORCH: &str = "lab-a";
const RESUME_ORDERS: &[&str] = &[
    "op",
    "resume",
    "--orchestra",
    ORCH,
    "--database",
    "orders",
    "--yes",
];

fn data_dir(t: &TestLab) -> PathBuf {
    t.baton_data()
}

fn baton(t: &TestLab, config: &str, args: &[&str]) -> tokio::process::Command {
    t.baton(config, args)
}

async fn run(t: &TestLab, config: &str, args: &[&str]) -> (i32, String, String) {
    t.run_baton(config, args).await
}

fn op<'a>(name: &'a str, db: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["op", name, "--orchestra", ORCH, "--database", db];
    v.extend_from_slice(extra);
    v
}

async fn pod_uids(t: &TestLab, ns: &str, db: &str) -> BTreeMap<String, String> {
    let pods: Api<Pod> = Api::namespaced(t.kube_client(ORCH).await, ns);
    pods.list(&ListParams::default().labels(&format!("helm.neo4j.com/neo4j.name={db}")))
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

fn group<'a>(report: &'a Value, db: &str) -> &'a Value {
    report
        .as_array()
        .and_then(|a| a.iter().find(|g| g["database"] == db))
        .unwrap_or(&Value::Null)
}

/// The JSON events of a `--output json` run.
fn events(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_restart_under_writes_restarts_everyone_leader_last() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 1)])).await;
    t.settled(ORCH, "team-a", "orders").await;
    let before = pod_uids(&t, "team-a", "orders").await;
    let leader = t.truth_leader("lab-a/team-a/orders").expect("leader");
    let report0 = t.lab.consensus.report();
    let (code, out, err) = run(
        &t,
        "",
        &op("rolling-restart", "orders", &["--yes", "--output", "json"]),
    )
    .await;
    assert_eq!(code, 0, "{out}\n{err}");
    let evs = events(&out);
    let steps: Vec<String> = evs
        .iter()
        .filter(|e| e["event"] == "step")
        .filter_map(|e| e["member"].as_str().map(str::to_string))
        .collect();
    assert_eq!(steps.len(), 4, "{out}");
    assert_eq!(steps[0], "orders-rr-1-0", "the secondary first: {steps:?}");
    assert_eq!(steps[3], leader, "the leader last: {steps:?}");
    let after = pod_uids(&t, "team-a", "orders").await;
    for (pod, uid) in &before {
        assert_ne!(after.get(pod), Some(uid), "{pod} was not restarted");
    }
    // Each pod was deleted exactly once.
    let deletes: Vec<String> = t
        .mutating_requests()
        .iter()
        .filter(|r| r["verb"] == "delete")
        .filter_map(|r| r["path"].as_str().map(str::to_string))
        .collect();
    assert_eq!(deletes.len(), 4, "{deletes:?}");
    let report = t.lab.consensus.report();
    let g0 = group(&report0, "lab-a/team-a/orders");
    let g = group(&report, "lab-a/team-a/orders");
    assert_eq!(
        g["quorum_lost_events"], g0["quorum_lost_events"],
        "no quorum loss: {g}"
    );
    // Each member runs a new process, not just a new pod object.
    let incarnations = |g: &Value| -> BTreeMap<String, u64> {
        g["members"]
            .as_array()
            .map(|ms| {
                ms.iter()
                    .filter_map(|m| {
                        Some((m["pod"].as_str()?.to_string(), m["incarnation"].as_u64()?))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (inc0, inc1) = (incarnations(g0), incarnations(g));
    assert_eq!(inc0.len(), 4, "{g0}");
    for (pod, i) in &inc0 {
        assert_ne!(inc1.get(pod), Some(i), "{pod} runs the same process");
    }
    // The leader handed over as it stopped: at most one election's worth of failed writes
    // (a forced election costs about 6 at the lab's 5 writes/s).
    let n = |g: &Value, k: &str| g[k].as_u64().unwrap_or(0);
    assert!(n(g, "elections") - n(g0, "elections") <= 1, "{g}");
    assert!(n(g, "writes_failed") - n(g0, "writes_failed") <= 6, "{g}");
    // The record on the Lease says done; the audit has every request.
    let (code, out, _) = run(&t, "", &["op", "status", "--output", "json"]).await;
    assert_eq!(code, 0);
    let rows: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(rows[0]["database"], "orders");
    assert_eq!(rows[0]["state"], "done");
    let audit = std::fs::read_to_string(data_dir(&t).join("audit.jsonl")).expect("audit");
    assert_eq!(
        audit
            .lines()
            .filter(|l| l.contains("\"verb\":\"delete\""))
            .count(),
        4
    );
    assert!(
        audit.contains("\"identity\":\"context lab-a user"),
        "{audit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_the_rule_and_send_no_mutating_request() {
    let t = TestLab::start(small_spec(&[
        ("team-a", "orders", 3, 1),
        ("team-b", "catalog", 3, 0),
    ]))
    .await;
    t.settled(ORCH, "team-a", "orders").await;
    t.settled(ORCH, "team-b", "catalog").await;
    let kc = t.kubeconfig();
    let kc = kc.to_str().expect("path");
    let fault = |args: Vec<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_baton"));
        cmd.args(["--kubeconfig", kc, "lab", "fault"]).args(args);
        cmd
    };
    // Wrong expected leader.
    let (code, _, err) = run(
        &t,
        "",
        &op(
            "rolling-restart",
            "orders",
            &["--yes", "--expect-leader", "orders-rr-1-0"],
        ),
    )
    .await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("expected-leader"), "{err}");

    // Read-only, by flag and by config.
    let mut args = vec!["--read-only"];
    args.extend(op(
        "restart-member",
        "orders",
        &["--member", "orders-1-0", "--yes"],
    ));
    let (code, _, err) = run(&t, "", &args).await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("read-only"), "{err}");
    let (code, _, err) = run(
        &t,
        "[general]\nread_only = true\n",
        &op("stop", "orders", &["--yes"]),
    )
    .await;
    assert_eq!(code, 3, "{err}");

    // A backup Job runs on the database.
    let jobs: Api<k8s_openapi::api::batch::v1::Job> =
        Api::namespaced(t.kube_client(ORCH).await, "team-a");
    let job: k8s_openapi::api::batch::v1::Job = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "someone-elses-backup", "labels": {"app.kubernetes.io/managed-by": "baton", "baton.io/database": "orders", "baton.io/operation": "backup"}},
        "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "b", "image": "busybox", "env": [{"name": "LAB_SCRIPT", "value": "log backing up; sleep 60000"}]}]}}}
    }))
    .expect("job");
    jobs.create(&Default::default(), &job)
        .await
        .expect("create job");
    let (code, _, err) = run(&t, "", &op("rolling-restart", "orders", &["--yes"])).await;
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("no-other-operation") && err.contains("someone-elses-backup"),
        "{err}"
    );
    jobs.delete("someone-elses-backup", &Default::default())
        .await
        .expect("delete job");

    // A partitioned member: a restart would not mend it, and the majority would not survive
    // restarting another.
    let status = fault(vec![
        "partition",
        "--orchestra",
        ORCH,
        "-n",
        "team-b",
        "--pod",
        "catalog-3-0",
    ])
    .status()
    .expect("fault");
    assert!(status.success());
    wait_for(
        "the partitioned member unready",
        Duration::from_secs(20),
        || async {
            let pods: Api<Pod> = Api::namespaced(t.kube_client(ORCH).await, "team-b");
            pods.get("catalog-3-0")
                .await
                .ok()
                .and_then(|p| p.status?.conditions)
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "False"))
        },
    )
    .await;
    let before_partition = t.mutating_requests().len();
    let (code, _, err) = run(&t, "", &op("rolling-restart", "catalog", &["--yes"])).await;
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("majority") && err.contains("catalog-3-0"),
        "{err}"
    );
    assert_eq!(
        t.mutating_requests().len(),
        before_partition,
        "a refusal sends nothing"
    );

    // A held lock: an operation in flight (fresh Lease) refuses a second one, naming it.
    let (code, _, _) = run(
        &t,
        "",
        &op(
            "restart-member",
            "orders",
            &["--member", "orders-rr-1-0", "--yes"],
        ),
    )
    .await;
    assert_eq!(code, 0);
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(t.kube_client(ORCH).await, "team-a");
    let mut lease = leases
        .get("baton-op-orders")
        .await
        .expect("the lease stays, done");
    let ann = lease
        .metadata
        .annotations
        .get_or_insert_with(Default::default);
    let rec = ann.get("baton.io/operation").cloned().expect("record");
    ann.insert(
        "baton.io/operation".into(),
        rec.replace("\"state\":\"done\"", "\"state\":\"running\""),
    );
    if let Some(spec) = lease.spec.as_mut() {
        spec.holder_identity = Some("alice@bastion pid 42".into());
        spec.renew_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
            serde_json::from_value(serde_json::json!(chrono::Utc::now().to_rfc3339()))
                .expect("time"),
        ));
    }
    leases
        .replace("baton-op-orders", &Default::default(), &lease)
        .await
        .expect("replace");
    let before = t.mutating_requests().len();
    let (code, _, err) = run(&t, "", &op("rolling-restart", "orders", &["--yes"])).await;
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("lock") && err.contains("alice@bastion"),
        "{err}"
    );
    assert_eq!(
        t.mutating_requests().len(),
        before,
        "a refusal sends nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_breaks_mid_operation_makes_it_wait_and_healing_lets_it_finish() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 1)])).await;
    t.settled(ORCH, "team-a", "orders").await;
    let mut child = baton(
        &t,
        "[operations]\nstep_timeout = 60\n",
        &op("rolling-restart", "orders", &["--yes", "--output", "json"]),
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    // After the first step (the secondary), break the follower that restarts last of the
    // followers (they go by name), so it is still to restart when it breaks.
    let leader = t.truth_leader("lab-a/team-a/orders").expect("leader");
    let victim = ["orders-1-0", "orders-2-0", "orders-3-0"]
        .into_iter()
        .rfind(|p| *p != leader)
        .expect("a follower");
    let kc = t.kubeconfig();
    let fault = |off: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_baton"));
        cmd.arg("--kubeconfig").arg(&kc).args([
            "lab",
            "fault",
            "crash-loop",
            "--orchestra",
            ORCH,
            "-n",
            "team-a",
            "--pod",
            victim,
        ]);
        if off {
            cmd.arg("--off");
        }
        cmd.status().expect("fault").success()
    };
    let mut seen = Vec::new();
    let mut broke = false;
    let mut waited_on_victim = false;
    while let Ok(Some(line)) = lines.next_line().await {
        let ev: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        seen.push(line.clone());
        if !broke && ev["event"] == "step-done" && ev["step"] == 1 {
            assert!(fault(false));
            broke = true;
        }
        if broke
            && !waited_on_victim
            && ev["event"] == "waiting"
            && ev["reason"].as_str().is_some_and(|r| r.contains(victim))
        {
            waited_on_victim = true;
            // It waits rather than going on: neither the victim nor the leader was touched.
            let deleted: Vec<String> = t
                .mutating_requests()
                .iter()
                .filter(|r| r["verb"] == "delete")
                .filter_map(|r| r["path"].as_str().map(str::to_string))
                .collect();
            assert!(deleted.len() <= 2, "{deleted:?}");
            assert!(
                !deleted
                    .iter()
                    .any(|d| d.ends_with(victim) || d.ends_with(&leader)),
                "it must not proceed past an unsettled database: {deleted:?}"
            );
            assert!(fault(true));
        }
        if ev["event"] == "finished" {
            break;
        }
    }
    let status = child.wait().await.expect("wait");
    assert!(waited_on_victim, "never waited on {victim}: {seen:#?}");
    assert_eq!(status.code(), Some(0), "{seen:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_racing_operators_exactly_one_runs() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 1)])).await;
    t.settled(ORCH, "team-a", "orders").await;
    let mut true_races = 0;
    let mut audit_seen = 0;
    for race in 0..20 {
        let args = op(
            "restart-member",
            "orders",
            &["--member", "orders-rr-1-0", "--yes"],
        );
        let a = baton(&t, "", &args).output();
        let b = baton(&t, "", &args).output();
        let (a, b) = tokio::join!(a, b);
        let mut codes = [a.expect("a").status.code(), b.expect("b").status.code()];
        codes.sort();
        // Under load one process may start after the other finished: then both run, one after
        // the other. What must never happen is that both hold the lock at once: the audit
        // (one line per request, with the process and the time) says when each held it.
        let audit = std::fs::read_to_string(data_dir(&t).join("audit.jsonl")).unwrap_or_default();
        let lines: Vec<Value> = audit
            .lines()
            .skip(audit_seen)
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        audit_seen = audit.lines().count();
        let mut held: BTreeMap<String, (String, String)> = BTreeMap::new();
        for l in lines
            .iter()
            .filter(|l| l["object"] == "lease/baton-op-orders" && l["result"] == "ok")
        {
            let who = l["who"].as_str().unwrap_or("").to_string();
            let at = l["at"].as_str().unwrap_or("").to_string();
            let e = held.entry(who).or_insert((at.clone(), at.clone()));
            e.1 = at;
        }
        match codes {
            [Some(0), Some(3)] => {
                true_races += 1;
                assert_eq!(
                    held.len(),
                    1,
                    "race {race}: only the winner wrote the lock: {held:?}"
                );
            }
            [Some(0), Some(0)] => {
                let spans: Vec<&(String, String)> = held.values().collect();
                assert_eq!(spans.len(), 2, "race {race}: {held:?}");
                assert!(
                    spans[0].1 < spans[1].0 || spans[1].1 < spans[0].0,
                    "race {race}: both held the lock at once: {held:?}"
                );
            }
            other => panic!("race {race}: exit codes {other:?}"),
        }
        t.settled(ORCH, "team-a", "orders").await;
    }
    assert!(true_races >= 10, "only {true_races} of 20 were real races");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_rolling_restart_then_resume_finishes_without_repeating() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 1)])).await;
    t.settled(ORCH, "team-a", "orders").await;
    let before = pod_uids(&t, "team-a", "orders").await;
    let mut child = baton(
        &t,
        "",
        &op("rolling-restart", "orders", &["--yes", "--output", "json"]),
    )
    .stdout(Stdio::piped())
    .spawn()
    .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let ev: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if ev["event"] == "step" && ev["step"] == 2 {
            break;
        }
    }
    child.start_kill().expect("kill -9");
    let _ = child.wait().await;
    // The lock is the dead process's until it goes stale; resume refuses until then.
    let (code, _, err) = run(&t, "", RESUME_ORDERS).await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("still running"), "{err}");
    // Wait for the lock to go stale (its holder renews no more), then resume.
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(t.kube_client(ORCH).await, "team-a");
    wait_for("the lock to go stale", Duration::from_secs(40), || async {
        leases
            .get("baton-op-orders")
            .await
            .ok()
            .and_then(|l| l.spec?.renew_time)
            .is_some_and(|r| {
                let renewed = r.0.as_millisecond();
                chrono::Utc::now().timestamp_millis() - renewed > 16_000
            })
    })
    .await;
    let (code, out, err) = run(&t, "", RESUME_ORDERS).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("resume rolling-restart"), "{out}");
    let after = pod_uids(&t, "team-a", "orders").await;
    for (pod, uid) in &before {
        assert_ne!(after.get(pod), Some(uid), "{pod} was not restarted");
    }
    // No member restarted twice: one delete per pod.
    let mut per_pod: BTreeMap<String, usize> = BTreeMap::new();
    for r in t
        .mutating_requests()
        .iter()
        .filter(|r| r["verb"] == "delete")
    {
        *per_pod
            .entry(r["path"].as_str().unwrap_or("").to_string())
            .or_default() += 1;
    }
    assert_eq!(per_pod.len(), 4, "{per_pod:?}");
    assert!(per_pod.values().all(|n| *n == 1), "{per_pod:?}");
    let report = t.lab.consensus.report();
    assert_eq!(
        group(&report, "lab-a/team-a/orders")["quorum_lost_events"],
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_backup_stop_start_and_incident() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 1)])).await;
    t.settled(ORCH, "team-a", "orders").await;

    // A dry run sends nothing and shows the Job it would create.
    let before = t.mutating_requests().len();
    let (code, out, err) = run(&t, "", &op("backup", "orders", &["--dry-run"])).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("\"kind\": \"Job\"") && out.contains("BATON_TARGET"),
        "{out}"
    );
    let (code, out, _) = run(&t, "", &op("rolling-restart", "orders", &["--dry-run"])).await;
    assert_eq!(code, 0);
    assert!(out.contains("the leader, last"), "{out}");
    assert_eq!(
        t.mutating_requests().len(),
        before,
        "a dry run sends nothing"
    );

    // Backup: its Job's log through kubectl, its artifact in the lab's object store.
    let (code, out, err) = run(&t, "", &op("backup", "orders", &["--yes"])).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("Backup complete"),
        "the Job's log is followed: {out}"
    );
    let target = out
        .lines()
        .find_map(|l| l.strip_prefix("done: backup written to "))
        .expect("artifact location")
        .trim()
        .to_string();
    let path = t
        .dir
        .path()
        .join("lab-data/object-store")
        .join(target.trim_start_matches("s3://"));
    let artifact: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("artifact")).expect("json");
    assert_eq!(artifact["database"], "orders");
    let job = out
        .lines()
        .find_map(|l| l.split("create backup Job ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .expect("job name")
        .to_string();
    let (code, logs, err) = t
        .kubectl(&[
            "--context",
            ORCH,
            "logs",
            &format!("job/{job}"),
            "-n",
            "team-a",
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    assert!(logs.contains("Backup complete"), "{logs}");

    // Stop keeps the data: after start, every member's applied index is at least what it was.
    let applied = |r: &Value| -> BTreeMap<String, u64> {
        group(r, "lab-a/team-a/orders")["members"]
            .as_array()
            .map(|ms| {
                ms.iter()
                    .filter_map(|m| Some((m["pod"].as_str()?.to_string(), m["applied"].as_u64()?)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let before = applied(&t.lab.consensus.report());
    let (code, out, err) = run(&t, "", &op("stop", "orders", &["--yes"])).await;
    assert_eq!(code, 0, "{out}{err}");
    let pods: Api<Pod> = Api::namespaced(t.kube_client(ORCH).await, "team-a");
    assert!(
        pods.list(&ListParams::default())
            .await
            .expect("list")
            .items
            .iter()
            .all(|p| {
                !p.metadata
                    .labels
                    .as_ref()
                    .is_some_and(|l| l.contains_key("helm.neo4j.com/neo4j.name"))
            })
    );
    let (code, out, err) = run(&t, "", &op("start", "orders", &["--yes"])).await;
    assert_eq!(code, 0, "{out}{err}");
    t.settled(ORCH, "team-a", "orders").await;
    let after = applied(&t.lab.consensus.report());
    for (pod, idx) in &before {
        assert!(
            after.get(pod).is_some_and(|a| a >= idx),
            "{pod}: {idx} before, {:?} after",
            after.get(pod)
        );
    }

    // Incident: the summary goes to the webhook the config names.
    let (url, mut bodies) = webhook_receiver().await;
    let mut cmd = baton(
        &t,
        "[operations]\nincident_webhook_env = \"TEST_INCIDENT_HOOK\"\n",
        &op("incident", "orders", &[]),
    );
    cmd.env("TEST_INCIDENT_HOOK", &url);
    let out = cmd.output().await.expect("incident");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body = tokio::time::timeout(Duration::from_secs(10), bodies.recv())
        .await
        .expect("posted")
        .expect("a body");
    assert!(body.contains("Incident: lab-a/team-a/orders"), "{body}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(&url),
        "the URL is never printed"
    );
}

/// A local webhook: answers 200 to every POST and hands over each request (headers and body).
async fn webhook_receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf);
                    if n == 0 || (text.contains("\r\n\r\n") && text.trim_end().ends_with('}')) {
                        break;
                    }
                }
                let _ = sock
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
                let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
            });
        }
    });
    (url, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_notices_at_start_and_end_and_a_dead_webhook_blocks_nothing() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 1)])).await;
    t.settled(ORCH, "team-a", "orders").await;
    let config = "[operations]\nwebhook_url_env = \"TEST_NOTICE_HOOK\"\n";
    let (url, mut bodies) = webhook_receiver().await;
    let mut cmd = baton(
        &t,
        config,
        &op(
            "restart-member",
            "orders",
            &["--member", "orders-rr-1-0", "--yes"],
        ),
    );
    cmd.env("TEST_NOTICE_HOOK", &url);
    let out = cmd.output().await.expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut got = Vec::new();
    for _ in 0..2 {
        let b = tokio::time::timeout(Duration::from_secs(10), bodies.recv())
            .await
            .expect("a notice")
            .expect("a body");
        got.push(b);
    }
    assert!(
        got.iter()
            .any(|b| b.contains("started restart-member on lab-a/team-a/orders")),
        "{got:#?}"
    );
    assert!(
        got.iter()
            .any(|b| b.contains("\"result\":\"done\"") && b.contains("duration_s")),
        "{got:#?}"
    );
    assert!(got.iter().all(|b| b.contains("\"caller\"")), "{got:#?}");

    // Nobody listens there: the operation still runs to the end and says the notice failed.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}/hook", l.local_addr().expect("addr"))
    };
    t.settled(ORCH, "team-a", "orders").await;
    let mut cmd = baton(
        &t,
        config,
        &op(
            "restart-member",
            "orders",
            &["--member", "orders-rr-1-0", "--yes"],
        ),
    );
    cmd.env("TEST_NOTICE_HOOK", &dead);
    let out = cmd.output().await.expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("webhook notice not sent"), "{stdout}");
    assert!(
        !stdout.contains(&dead),
        "the URL is never printed: {stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_and_resize_roll_one_member_at_a_time_and_keep_quorum() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 0)])).await;
    t.settled(ORCH, "team-a", "orders").await;
    let images = || async {
        let pods: Api<Pod> = Api::namespaced(t.kube_client(ORCH).await, "team-a");
        pods.list(&ListParams::default().labels("helm.neo4j.com/neo4j.name=orders"))
            .await
            .expect("list")
            .items
            .into_iter()
            .map(|p| {
                let c = p.spec.map(|s| s.containers[0].clone()).expect("spec");
                let mem = c
                    .resources
                    .and_then(|r| r.limits)
                    .and_then(|l| l.get("memory").map(|q| q.0.clone()));
                (c.image.unwrap_or_default(), mem.unwrap_or_default())
            })
            .collect::<Vec<_>>()
    };
    let leader = t.truth_leader("lab-a/team-a/orders").expect("leader");
    let (code, out, err) = run(
        &t,
        "",
        &op(
            "upgrade",
            "orders",
            &["--set", "version=5.27.0", "--yes", "--output", "json"],
        ),
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let patched: Vec<String> = events(&out)
        .iter()
        .filter(|e| e["event"] == "step")
        .filter_map(|e| e["action"].as_str().map(str::to_string))
        .collect();
    assert_eq!(patched.len(), 3, "{patched:?}");
    let leader_sts = leader.trim_end_matches("-0");
    assert!(
        patched[2].contains(&format!("statefulset {leader_sts} ")),
        "the leader last: {patched:?}"
    );
    assert!(
        images()
            .await
            .iter()
            .all(|(i, _)| i == "neo4j:5.27.0-enterprise"),
        "{:?}",
        images().await
    );
    let report = t.lab.consensus.report();
    assert_eq!(
        group(&report, "lab-a/team-a/orders")["quorum_lost_events"],
        0
    );

    t.settled(ORCH, "team-a", "orders").await;
    let (code, out, err) = run(
        &t,
        "",
        &op("resize", "orders", &["--set", "memory=8Gi", "--yes"]),
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        images().await.iter().all(|(_, m)| m == "8Gi"),
        "{:?}",
        images().await
    );
    // Bad values are usage errors, before anything is sent.
    let before = t.mutating_requests().len();
    let (code, _, err) = run(
        &t,
        "",
        &op("resize", "orders", &["--set", "memory=8GB", "--yes"]),
    )
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("8GB"), "{err}");
    let (code, _, err) = run(&t, "", &op("upgrade", "orders", &["--yes"])).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("version"), "{err}");
    assert_eq!(t.mutating_requests().len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_stops_runs_the_restore_job_and_starts_again() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 0)])).await;
    t.settled(ORCH, "team-a", "orders").await;
    // A restore reads the chosen backup from the object store before it stops anything.
    let cfg = format!(
        "[operations]\nobject_store_endpoint = \"{}\"\n",
        t.lab.object_store_url
    );
    let (code, out, err) = run(&t, "", &op("backup", "orders", &["--yes"])).await;
    assert_eq!(code, 0, "{out}{err}");
    let from = out
        .lines()
        .find_map(|l| l.strip_prefix("done: backup written to "))
        .expect("artifact")
        .trim()
        .to_string();
    t.settled(ORCH, "team-a", "orders").await;
    let (code, out, err) = run(
        &t,
        &cfg,
        &op(
            "restore",
            "orders",
            &[
                "--set",
                &format!("from={from}"),
                "--yes",
                "--output",
                "json",
            ],
        ),
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let evs = events(&out);
    let actions: Vec<&str> = evs
        .iter()
        .filter(|e| e["event"] == "step")
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions.len(), 7, "{actions:?}");
    assert!(
        actions[3].starts_with("create restore Job"),
        "stopped first: {actions:?}"
    );
    assert!(
        evs.iter().any(
            |e| e["event"] == "log" && e["line"].as_str().is_some_and(|l| l.contains("Restor"))
        ),
        "the restore Job's log is followed: {out}"
    );
    t.settled(ORCH, "team-a", "orders").await;
    // Every member's state at the backup's index is the artifact's: the data really came back.
    let path = t
        .dir
        .path()
        .join("lab-data/object-store")
        .join(from.trim_start_matches("s3://"));
    let artifact: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("artifact")).expect("json");
    let index = artifact["applied_index"].as_u64().expect("index");
    let digest = artifact["state_digest"].as_str().expect("digest");
    for pod in ["orders-1-0", "orders-2-0", "orders-3-0"] {
        let at = t
            .lab
            .consensus
            .digest_at(&format!("{ORCH}/team-a/{pod}"), index);
        assert_eq!(at.as_deref(), Some(digest), "{pod} at index {index}");
    }
    // A missing artifact: refused before anything is stopped (the rule named).
    let before = t.mutating_requests().len();
    let (code, out, err) = run(
        &t,
        &cfg,
        &op(
            "restore",
            "orders",
            &["--set", "from=s3://lab-backups/nothing-here", "--yes"],
        ),
    )
    .await;
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        format!("{out}{err}").contains("rule 'backup-exists'"),
        "{out}{err}"
    );
    assert_eq!(t.mutating_requests().len(), before);
}
