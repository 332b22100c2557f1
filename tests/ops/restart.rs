//! Rolling restart end to end: under writes (leader last), a member breaking mid-operation,
//! racing operators, and resume after `kill -9`.
use crate::*;

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
    // No member restarted twice: one delete per pod that the API server carried out. A delete
    // the kill cut short (its body never arrived whole: 400) deleted nothing, and resume sends
    // it again; the uid precondition makes any repeat harmless, but none may succeed twice.
    let mut per_pod: BTreeMap<String, usize> = BTreeMap::new();
    let deletes: Vec<serde_json::Value> = t
        .mutating_requests()
        .into_iter()
        .filter(|r| r["verb"] == "delete")
        .collect();
    // Every delete with its time, status and identity, for a failure to say what happened.
    let seen: Vec<String> = deletes
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r["time"], r["status"], r["identity"], r["path"]
            )
        })
        .collect();
    let carried_out = deletes
        .iter()
        .filter(|r| r["status"].as_u64().is_some_and(|s| s < 300));
    for r in carried_out {
        *per_pod
            .entry(r["path"].as_str().unwrap_or("").to_string())
            .or_default() += 1;
    }
    assert_eq!(per_pod.len(), 4, "{per_pod:?} {seen:#?}");
    assert!(per_pod.values().all(|n| *n == 1), "{per_pod:?} {seen:#?}");
    let report = t.lab.consensus.report();
    assert_eq!(
        group(&report, "lab-a/team-a/orders")["quorum_lost_events"],
        0
    );
}
