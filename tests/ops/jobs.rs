//! Dry runs, backups with their Job log and artifact, stop/start keeping data, restore, and
//! the incident and notice webhooks.
use crate::*;

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
