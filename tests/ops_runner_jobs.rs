//! Operations that outlive their launcher, for real: `baton op … --in-cluster` against a lab
//! whose kubelet runs the runner image as the real baton executable, under the ServiceAccount
//! `baton-operator` that `baton op rbac` describes and the real `kubectl apply -f -` creates.
//! The launcher is killed (`kill -9`) right after the Job starts; the Job finishes the rolling
//! restart (every pod new, leader last, no quorum lost), a fresh `baton op status` shows it done
//! where it ran, the Job's log has the runner's progress; the runner's identity is refused
//! what operations do not need; a cancel from another baton stops the Job after the current
//! member; a runner pod deleted mid-operation (killed, or told to stop, when it pauses) leaves
//! a Lease that `resume --take-over` finishes without restarting a member twice; the webhook
//! URL the launcher's config names by environment variable reaches the runner from the runner
//! Secret (a reference in the Job, never the value), and its notices name the engineer and
//! the Job.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{TestLab, small_spec, wait_for, webhook_receiver};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const ORCH: &str = "lab-a";

fn config() -> String {
    format!(
        "[operations]\nrunner_image = \"{}\"\nlag_gate = 77\n",
        baton_lab::RUNNER_IMAGE
    )
}

async fn pod_uids(t: &TestLab) -> BTreeMap<String, String> {
    let pods: Api<Pod> = Api::namespaced(t.kube_client(ORCH).await, "team-a");
    pods.list(&ListParams::default().labels("helm.neo4j.com/neo4j.name=orders"))
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

/// `baton op rbac --namespace team-a | kubectl apply -f -`, with the real kubectl (the lab
/// serves no OpenAPI schema to validate against).
async fn grant_runner(t: &TestLab) {
    let (code, rbac, err) = t
        .run_baton("", &["op", "rbac", "--namespace", "team-a"])
        .await;
    assert_eq!(code, 0, "{err}");
    let mut apply = t
        .kubectl_cmd(&["--context", ORCH, "apply", "--validate=false", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl");
    let mut stdin = apply.stdin.take().expect("stdin");
    stdin.write_all(rbac.as_bytes()).await.expect("write");
    drop(stdin);
    let out = apply.wait_with_output().await.expect("kubectl apply");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The record on the Lease, once it has one.
async fn lease_record(t: &TestLab) -> Option<(String, Value)> {
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(t.kube_client(ORCH).await, "team-a");
    let l = leases.get("baton-op-orders").await.ok()?;
    let holder = l.spec?.holder_identity?;
    let rec = l.metadata.annotations?.get("baton.io/operation")?.clone();
    Some((holder, serde_json::from_str(&rec).ok()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_cluster_rolling_restart_outlives_its_launcher_killed() {
    let t = TestLab::start_with_runner(small_spec(&[("team-a", "orders", 3, 0)])).await;
    t.settled(ORCH, "team-a", "orders").await;
    grant_runner(&t).await;
    let before = pod_uids(&t).await;
    assert_eq!(before.len(), 3);
    let leader = t.truth_leader("lab-a/team-a/orders").expect("a leader");

    let confirmed = Instant::now();
    let (job, mut launcher) = launch(&t, "rolling-restart").await;
    launcher.start_kill().expect("kill -9");
    let _ = launcher.wait().await;

    // The Job takes the Lease as itself and finishes the operation.
    let holder = format!("job/team-a/{job}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if lease_record(&t)
            .await
            .is_some_and(|(h, r)| h == holder && r["step"].as_u64() >= Some(1))
        {
            break;
        }
        if Instant::now() > deadline {
            let (_, log, err) = t
                .kubectl(&[
                    "--context",
                    ORCH,
                    "-n",
                    "team-a",
                    "logs",
                    &format!("job/{job}"),
                ])
                .await;
            let (_, pods, _) = t
                .kubectl(&[
                    "--context",
                    ORCH,
                    "-n",
                    "team-a",
                    "get",
                    "pods,jobs",
                    "-o",
                    "wide",
                ])
                .await;
            panic!(
                "the runner took no step in 60 s; Lease {:?}\nJob log:\n{log}{err}\n{pods}",
                lease_record(&t).await
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let first_step = confirmed.elapsed();
    wait_for(
        "the rolling restart to end done",
        Duration::from_secs(180),
        || async {
            lease_record(&t)
                .await
                .is_some_and(|(_, r)| r["state"] == "done")
        },
    )
    .await;
    let total = confirmed.elapsed();
    println!(
        "in-cluster: confirm to first step {:.1}s, confirm to done {:.1}s",
        first_step.as_secs_f64(),
        total.as_secs_f64()
    );
    t.settled(ORCH, "team-a", "orders").await;
    let after = pod_uids(&t).await;
    for (pod, uid) in &before {
        assert_ne!(after.get(pod), Some(uid), "{pod} was not restarted");
    }
    let report = t.lab.consensus.report();
    let group = report
        .as_array()
        .and_then(|a| a.iter().find(|g| g["database"] == "lab-a/team-a/orders"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(group["quorum_lost_events"], 0, "{group}");
    // The leader went last: the deletes the runner made, in order, end with the leader's pod.
    let deletes: Vec<String> = t
        .request_log()
        .into_iter()
        .filter(|r| {
            r["verb"] == "delete"
                && r["status"].as_u64().is_some_and(|s| s < 300)
                && r["identity"] == "system:serviceaccount:team-a:baton-operator"
        })
        .filter_map(|r| r["path"].as_str().map(str::to_string))
        .collect();
    assert_eq!(deletes.len(), 3, "{deletes:#?}");
    assert!(
        deletes[2].ends_with(&format!("/pods/{leader}")),
        "the leader {leader} last: {deletes:#?}"
    );

    // A fresh baton shows it done, where it ran; the Job's log is the operation's log.
    let (code, out, err) = t.run_baton("", &["op", "status", "--output", "json"]).await;
    assert_eq!(code, 0, "{err}");
    let rows: Value = serde_json::from_str(&out).expect("json");
    let row = rows
        .as_array()
        .and_then(|a| a.iter().find(|r| r["database"] == "orders"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(row["state"], "done", "{out}");
    assert_eq!(row["runs"], "in-cluster", "{out}");
    assert_eq!(row["holder"], holder, "{out}");
    let (code, log, err) = t
        .kubectl(&[
            "--context",
            ORCH,
            "-n",
            "team-a",
            "logs",
            &format!("job/{job}"),
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    assert!(log.contains("rolling-restart"), "{log}");
    // The runner ran with the launching baton's config (its lag gate), not the image's defaults.
    assert!(log.contains("lag within 77"), "{log}");
}

/// Launches `op` on orders in the orchestra and returns (the runner Job's name, the launcher).
async fn launch(t: &TestLab, op: &str) -> (String, tokio::process::Child) {
    let mut launcher = t
        .baton(
            &config(),
            &[
                "op",
                op,
                "--orchestra",
                ORCH,
                "--database",
                "orders",
                "--in-cluster",
                "--yes",
            ],
        )
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(launcher.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(job) = line
            .split("started the runner Job team-a/")
            .nth(1)
            .and_then(|r| r.split(':').next())
        {
            return (job.to_string(), launcher);
        }
        seen.push(line);
    }
    panic!("no runner Job started: {seen:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_identity_may_do_what_operations_need_and_nothing_else() {
    let t = TestLab::start_with_runner(small_spec(&[
        ("team-a", "orders", 3, 0),
        ("team-b", "billing", 3, 0),
    ]))
    .await;
    grant_runner(&t).await;
    let (code, token, err) = t
        .kubectl(&[
            "--context",
            ORCH,
            "create",
            "token",
            "baton-operator",
            "-n",
            "team-a",
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    let token = format!("--token={}", token.trim());
    let as_runner = |args: &[&str]| {
        let mut v = vec!["--context", ORCH];
        v.push(token.as_str());
        v.extend_from_slice(args);
        v.iter().map(|a| a.to_string()).collect::<Vec<_>>()
    };
    let t = &t;
    let run = |args: Vec<String>| async move {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        t.kubectl(&refs).await
    };
    let (code, _, err) = run(as_runner(&["-n", "team-a", "get", "pods"])).await;
    assert_eq!(code, 0, "it reads its database's pods: {err}");
    let (code, _, err) = run(as_runner(&[
        "-n",
        "team-a",
        "delete",
        "secret",
        "orders-auth",
    ]))
    .await;
    assert_ne!(code, 0);
    assert!(
        err.contains("forbidden")
            && err.contains("system:serviceaccount:team-a:baton-operator")
            && err.contains("cannot delete resource \"secrets\""),
        "{err}"
    );
    let (code, _, err) = run(as_runner(&[
        "-n",
        "team-b",
        "patch",
        "statefulset",
        "billing-1",
        "--type=merge",
        "-p",
        "{\"spec\":{\"replicas\":0}}",
    ]))
    .await;
    assert_ne!(code, 0);
    // kubectl reads the object before it patches: refused at the read already.
    assert!(
        err.contains("forbidden")
            && err.contains("resource \"statefulsets\"")
            && err.contains("in the namespace \"team-b\""),
        "{err}"
    );
    // As kubectl auth can-i says, truthfully.
    for (verb, what, ns, yes) in [
        ("delete", "pods", "team-a", true),
        ("patch", "statefulsets", "team-a", true),
        ("create", "jobs", "team-a", true),
        ("delete", "secrets", "team-a", false),
        ("patch", "statefulsets", "team-b", false),
        ("create", "rolebindings", "team-a", false),
    ] {
        let (code, out, _) = t
            .kubectl(&[
                "--context",
                ORCH,
                "auth",
                "can-i",
                verb,
                what,
                "-n",
                ns,
                "--as",
                "system:serviceaccount:team-a:baton-operator",
            ])
            .await;
        assert_eq!(code == 0, yes, "can-i {verb} {what} -n {ns}: {out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_from_another_baton_stops_the_job_after_the_current_member() {
    let t = TestLab::start_with_runner(small_spec(&[("team-a", "orders", 3, 0)])).await;
    t.settled(ORCH, "team-a", "orders").await;
    grant_runner(&t).await;
    let (job, mut launcher) = launch(&t, "rolling-restart").await;
    let holder = format!("job/team-a/{job}");
    wait_for(
        "the runner's first step",
        Duration::from_secs(60),
        || async {
            lease_record(&t)
                .await
                .is_some_and(|(h, r)| h == holder && r["step"].as_u64() >= Some(1))
        },
    )
    .await;
    let (code, out, err) = t
        .run_baton(
            "",
            &["op", "cancel", "--orchestra", ORCH, "--database", "orders"],
        )
        .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&holder), "{out}");
    // The launcher follows the Job to its end: cancelled, so the Job failed (exit 1).
    let status = launcher.wait().await.expect("launcher");
    assert_eq!(status.code(), Some(1));
    let (_, rec) = lease_record(&t).await.expect("the Lease");
    assert_eq!(rec["state"], "cancelled", "{rec}");
    assert!(
        rec["detail"]
            .as_str()
            .is_some_and(|d| d.contains("cancelled by")),
        "{rec}"
    );
    t.settled(ORCH, "team-a", "orders").await;
    let deletes = t
        .request_log()
        .into_iter()
        .filter(|r| r["verb"] == "delete" && r["status"].as_u64().is_some_and(|s| s < 300))
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.contains("/pods/orders-"))
        })
        .count();
    assert!(
        (1..3).contains(&deletes),
        "stopped after the current member: {deletes}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_pod_deleted_mid_step_leaves_a_stale_lease_that_take_over_finishes() {
    let t = TestLab::start_with_runner(small_spec(&[("team-a", "orders", 3, 0)])).await;
    t.settled(ORCH, "team-a", "orders").await;
    grant_runner(&t).await;
    let before = pod_uids(&t).await;
    let (job, _launcher) = launch(&t, "rolling-restart").await;
    let holder = format!("job/team-a/{job}");
    wait_for(
        "the runner's first step",
        Duration::from_secs(60),
        || async {
            lease_record(&t)
                .await
                .is_some_and(|(h, r)| h == holder && r["step"].as_u64() >= Some(1))
        },
    )
    .await;
    // The runner's pod goes (a node drained, a pod evicted): its process is killed.
    let (code, _, err) = t
        .kubectl(&[
            "--context",
            ORCH,
            "-n",
            "team-a",
            "delete",
            "pod",
            "-l",
            &format!("job-name={job}"),
            "--grace-period=0",
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    // The Lease goes stale (nobody renews it), then a take-over finishes here.
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(t.kube_client(ORCH).await, "team-a");
    wait_for("the lock to go stale", Duration::from_secs(40), || async {
        leases
            .get("baton-op-orders")
            .await
            .ok()
            .and_then(|l| l.spec?.renew_time)
            .is_some_and(|r| chrono::Utc::now().timestamp_millis() - r.0.as_millisecond() > 16_000)
    })
    .await;
    // A fresh dashboard lists the interrupted operation, held by the Job (`:ops`).
    let cmd = format!(
        "BATON_DATA_DIR={data} XDG_CONFIG_HOME={cfg} {bin} --kubeconfig {kc}; echo baton-exited-$?; sleep 60",
        data = t.dir.path().join("dash-data").display(),
        cfg = t.dir.path().join("dash-config").display(),
        bin = env!("CARGO_BIN_EXE_baton"),
        kc = t.kubeconfig().display(),
    );
    let tm = common::tmux::Tmux::start("runner-ops", 200, 60, &cmd);
    tm.wait("the fleet", Duration::from_secs(30), |s| {
        s.contains("lab-a")
    })
    .await;
    tm.keys(&[":", "o", "p", "s", "Enter"]);
    tm.wait(
        "the interrupted operation, held by its Job",
        Duration::from_secs(30),
        |s| {
            s.lines().any(|l| {
                l.contains("orders")
                    && l.contains("rolling-restart")
                    && (l.contains("paused") || l.contains("stale"))
                    && l.contains("job/team-a/")
            })
        },
    )
    .await;
    let (code, out, err) = t
        .run_baton(
            "",
            &[
                "op",
                "resume",
                "--orchestra",
                ORCH,
                "--database",
                "orders",
                "--take-over",
                "--yes",
            ],
        )
        .await;
    assert_eq!(code, 0, "{out}{err}");
    let after = pod_uids(&t).await;
    for (pod, uid) in &before {
        assert_ne!(
            after.get(pod),
            Some(uid),
            "{pod} was not restarted: {out}{err}"
        );
    }
    // No member restarted twice: one carried-out delete per member pod.
    let mut per_pod: BTreeMap<String, usize> = BTreeMap::new();
    for r in t.request_log() {
        let path = r["path"].as_str().unwrap_or("");
        if r["verb"] == "delete"
            && r["status"].as_u64().is_some_and(|s| s < 300)
            && path.contains("/pods/orders-")
        {
            *per_pod.entry(path.to_string()).or_default() += 1;
        }
    }
    assert_eq!(per_pod.len(), 3, "{per_pod:?}");
    assert!(per_pod.values().all(|n| *n == 1), "{per_pod:?}");
    let (_, rec) = lease_record(&t).await.expect("the Lease");
    assert_eq!(rec["state"], "done", "{rec}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_cluster_run_posts_its_notices_with_the_webhook_from_the_runner_secret() {
    let t = TestLab::start_with_runner(small_spec(&[("team-a", "orders", 3, 0)])).await;
    t.settled(ORCH, "team-a", "orders").await;
    grant_runner(&t).await;
    let (url, mut bodies) = webhook_receiver().await;
    // An admin keeps the URL in the runner Secret (kubectl create secret generic baton-runner
    // --from-literal=BATON_TEST_HOOK=…; the lab speaks JSON, so it is created here by kube-rs).
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(t.kube_client(ORCH).await, "team-a");
    let secret = k8s_openapi::api::core::v1::Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("baton-runner".into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(
            "BATON_TEST_HOOK".to_string(),
            k8s_openapi::ByteString(url.clone().into_bytes()),
        )])),
        ..Default::default()
    };
    secrets
        .create(&kube::api::PostParams::default(), &secret)
        .await
        .expect("create the runner Secret");
    let config = format!("{}webhook_url_env = \"BATON_TEST_HOOK\"\n", config());
    // The launcher does not hold the URL: the runner takes it from the Secret.
    let (code, out, err) = t
        .run_baton(
            &config,
            &[
                "op",
                "restart-member",
                "--orchestra",
                ORCH,
                "--database",
                "orders",
                "--member",
                "orders-1-0",
                "--in-cluster",
                "--yes",
            ],
        )
        .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("the runner takes BATON_TEST_HOOK from Secret team-a/baton-runner"),
        "{out}"
    );
    let job = out
        .split("started the runner Job team-a/")
        .nth(1)
        .and_then(|r| r.split(':').next())
        .expect("the runner Job")
        .to_string();
    // The Job references the key; the URL is nowhere in its manifest.
    let (_, manifest, _) = t
        .kubectl(&[
            "--context",
            ORCH,
            "-n",
            "team-a",
            "get",
            "job",
            &job,
            "-o",
            "json",
        ])
        .await;
    assert!(!manifest.contains(&url), "{manifest}");
    assert!(manifest.contains("secretKeyRef"), "{manifest}");
    let mut notices = Vec::new();
    while notices.len() < 2 {
        let body = tokio::time::timeout(Duration::from_secs(30), bodies.recv())
            .await
            .expect("a webhook notice within 30 s")
            .expect("the receiver runs");
        let json = body.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
        notices.push(serde_json::from_str::<Value>(&json).expect("a JSON notice"));
    }
    for n in &notices {
        assert_eq!(n["runner"], format!("job/team-a/{job}"), "{n}");
        assert!(
            n["caller"].as_str().is_some_and(|c| c.contains("pid")),
            "the engineer who launched it: {n}"
        );
        assert_eq!(n["operation"], "restart-member", "{n}");
    }
    assert_eq!(notices[1]["result"], "done", "{:#?}", notices);
    // The runner's audit entries came home with its log: the launcher's audit file has the
    // runner's delete, naming the Job and the engineer.
    let audit = std::fs::read_to_string(t.baton_data().join("audit.jsonl")).expect("audit");
    let copied: Vec<Value> = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["from_job_log"] == format!("team-a/{job}"))
        .collect();
    assert!(
        copied.iter().any(|e| e["verb"] == "delete"
            && e["who"] == format!("job/team-a/{job}")
            && e["launched_by"].as_str().is_some_and(|b| b.contains("pid"))),
        "{audit}"
    );
}
