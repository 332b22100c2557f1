//! Unit tests of the plans, the safety rules and the runner's loop on the fake executor.

use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::Executor as _;
use super::audit::Audit;
use super::fake::{FakeExecutor, actions};
use super::runner::{Outcome, Request, Runner, Settings};
use super::safety::View;
use crate::config::OperationName;

fn settings() -> Settings {
    Settings {
        lag_gate: 100,
        step_timeout: Duration::from_millis(300),
        poll: Duration::from_millis(1),
        artifacts: "s3://test-bucket".into(),
        read_only: false,
        allowed: OperationName::ALL.to_vec(),
        role: "operator".into(),
        take_over: false,
        webhook_env: None,
        incident_webhook_env: None,
        allow_force: false,
        surge_orchestras: Vec::new(),
    }
}

async fn run_op(exec: &FakeExecutor, op: OperationName, req: Request, s: Settings) -> Outcome {
    let audit = Audit::new(None, "test", "fake", op.as_str(), "fake/ns/db");
    let (tx, _rx) = mpsc::unbounded_channel();
    let runner = Runner {
        exec,
        settings: s,
        events: tx,
        audit: &audit,
        holder: "tester@host pid 1".into(),
    };
    let prepared = match runner.prepare(op, &req).await {
        Ok(p) => p,
        Err(o) => return o,
    };
    let (_cancel_tx, cancel) = watch::channel(false);
    runner.run(prepared, cancel).await
}

fn member(m: &str) -> Request {
    Request {
        member: Some(m.into()),
        ..Request::default()
    }
}

#[tokio::test]
async fn rolling_restart_goes_secondaries_followers_leader_last() {
    let exec = FakeExecutor::new(3, 1);
    let out = run_op(
        &exec,
        OperationName::RollingRestart,
        Request::default(),
        settings(),
    )
    .await;
    assert!(matches!(out, Outcome::Done(_)), "{out:?}");
    assert_eq!(
        actions(&exec.calls()),
        [
            "delete pod/db-rr-1-0",
            "delete pod/db-2-0",
            "delete pod/db-3-0",
            "delete pod/db-1-0"
        ]
    );
    // The lock was taken first and released as done.
    let calls = exec.calls();
    assert_eq!(calls[0], "create lease");
    let s = exec.lock();
    let rec = &s.lease.as_ref().map(|l| l.2.clone()).unwrap();
    assert_eq!(rec.state, super::record::OpState::Done);
    assert_eq!(rec.step, 4);
}

#[tokio::test]
async fn a_down_member_goes_first_and_a_broken_one_pauses_the_operation() {
    let exec = FakeExecutor::new(3, 0);
    exec.lock().members[2].up = false;
    let out = run_op(
        &exec,
        OperationName::RollingRestart,
        Request::default(),
        settings(),
    )
    .await;
    assert!(matches!(out, Outcome::Done(_)), "{out:?}");
    assert_eq!(actions(&exec.calls())[0], "delete pod/db-3-0");

    // A member whose restart never settles: the operation waits, then pauses; never goes on.
    let exec = FakeExecutor::new(3, 0);
    exec.lock().broken.push("db-2-0".into());
    let out = run_op(
        &exec,
        OperationName::RollingRestart,
        Request::default(),
        settings(),
    )
    .await;
    assert!(
        matches!(&out, Outcome::Paused(why) if why.contains("db-2-0")),
        "{out:?}"
    );
    assert_eq!(actions(&exec.calls()), ["delete pod/db-2-0"]);
    let s = exec.lock();
    assert_eq!(
        s.lease.as_ref().map(|l| l.2.state),
        Some(super::record::OpState::Paused)
    );
}

#[tokio::test]
async fn the_majority_rule_counts_the_unhealthy_first() {
    // (voters, down, the rule that refuses restarting a healthy follower, if any). With 5
    // voters and one down the majority holds, but the database has not settled.
    for (voters, down, refused_by) in [
        (3, 0, None),
        (3, 1, Some("majority")),
        (4, 1, Some("majority")),
        (5, 1, Some("settled")),
        (5, 2, Some("majority")),
    ] {
        let exec = FakeExecutor::new(voters, 2);
        for i in 0..down {
            exec.lock().members[voters - 1 - i].up = false;
        }
        let out = run_op(
            &exec,
            OperationName::RestartMember,
            member("db-2-0"),
            settings(),
        )
        .await;
        if let Some(rule) = refused_by {
            assert!(
                matches!(&out, Outcome::Refused(c) if c.rule == rule),
                "{voters} voters, {down} down: {out:?}"
            );
            assert!(
                exec.calls().is_empty(),
                "a refusal sends nothing: {:?}",
                exec.calls()
            );
        } else {
            assert!(matches!(out, Outcome::Done(_)), "{voters}/{down}: {out:?}");
        }
    }
    // Read replicas are not voters: restarting one never threatens the majority.
    let exec = FakeExecutor::new(3, 1);
    exec.lock().members[2].up = false;
    let obs = exec.lock().observed_for_tests();
    let d = obs.derive(100);
    let v = View {
        obs: &obs,
        d: &d,
        lag_gate: 100,
        forced: &[],
    };
    assert!(v.majority("db-rr-1-0").ok, "{:?}", v.majority("db-rr-1-0"));
    assert!(!v.majority("db-2-0").ok);
}

#[tokio::test]
async fn a_down_member_may_be_restarted_alone() {
    let exec = FakeExecutor::new(3, 0);
    exec.lock().members[1].up = false;
    let out = run_op(
        &exec,
        OperationName::RestartMember,
        member("db-2-0"),
        settings(),
    )
    .await;
    assert!(matches!(out, Outcome::Done(_)), "{out:?}");
}

#[tokio::test]
async fn refusals_name_the_rule_and_send_nothing() {
    let exec = FakeExecutor::new(3, 0);
    let req = Request {
        expect_leader: Some("db-2-0".into()),
        ..Request::default()
    };
    let out = run_op(&exec, OperationName::RollingRestart, req, settings()).await;
    assert!(
        matches!(&out, Outcome::Refused(c) if c.rule == "expected-leader" && c.detail.contains("db-1-0")),
        "{out:?}"
    );
    assert!(exec.calls().is_empty());

    let mut s = settings();
    s.read_only = true;
    let out = run_op(&exec, OperationName::RollingRestart, Request::default(), s).await;
    assert!(
        matches!(&out, Outcome::Refused(c) if c.rule == "read-only"),
        "{out:?}"
    );

    let mut s = settings();
    s.allowed = vec![OperationName::Backup];
    let out = run_op(&exec, OperationName::Stop, Request::default(), s).await;
    assert!(
        matches!(&out, Outcome::Refused(c) if c.rule == "permission"),
        "{out:?}"
    );

    exec.lock().jobs.push(super::observe::JobObs {
        name: "baton-backup-db-1".into(),
        operation: "backup".into(),
        active: true,
        ..Default::default()
    });
    let out = run_op(
        &exec,
        OperationName::RollingRestart,
        Request::default(),
        settings(),
    )
    .await;
    assert!(
        matches!(&out, Outcome::Refused(c) if c.rule == "no-other-operation"),
        "{out:?}"
    );
    assert!(exec.calls().is_empty());
}

#[tokio::test]
async fn a_held_lock_refuses_and_two_racers_never_both_run() {
    let exec = FakeExecutor::new(3, 0);
    let audit = Audit::new(None, "t", "fake", "rolling-restart", "fake/ns/db");
    let (tx, _rx) = mpsc::unbounded_channel();
    let a = Runner {
        exec: &exec,
        settings: settings(),
        events: tx.clone(),
        audit: &audit,
        holder: "a@h pid 1".into(),
    };
    let b = Runner {
        exec: &exec,
        settings: settings(),
        events: tx,
        audit: &audit,
        holder: "b@h pid 2".into(),
    };
    // Both prepare (both see a free lock), then race to take it.
    let pa = a
        .prepare(OperationName::RollingRestart, &Request::default())
        .await
        .unwrap();
    let pb = b
        .prepare(OperationName::RollingRestart, &Request::default())
        .await
        .unwrap();
    let (_c, cancel) = watch::channel(false);
    let ra = a.run(pa, cancel.clone()).await;
    let rb = b.run(pb, cancel).await;
    assert!(matches!(ra, Outcome::Done(_)), "{ra:?}");
    assert!(
        matches!(&rb, Outcome::Refused(c) if c.rule == "lock"),
        "{rb:?}"
    );
    // Exactly one set of restarts.
    assert_eq!(actions(&exec.calls()).len(), 3);
}

#[tokio::test]
async fn a_resume_continues_where_the_record_stands() {
    let exec = FakeExecutor::new(3, 1);
    // An operation that restarted two members, then its process died.
    let obs = exec.lock().observed_for_tests();
    let d = obs.derive(100);
    let mut rec = super::record::Record {
        operation: OperationName::RollingRestart,
        params: Default::default(),
        holder: "tester@host pid 9".into(),
        started_ms: 1,
        state: super::record::OpState::Running,
        step: 2,
        detail: "restart db-2-0".into(),
        original: obs
            .pods
            .iter()
            .map(|p| (p.name.clone(), p.uid.clone()))
            .collect(),
        voters: d.voters.iter().cloned().collect(),
        first: vec![],
        job: None,
        waiting: None,
        plan: Vec::new(),
        forced: Vec::new(),
    };
    {
        let mut s = exec.lock();
        for m in s
            .members
            .iter_mut()
            .filter(|m| m.pod == "db-rr-1-0" || m.pod == "db-2-0")
        {
            m.uid_gen += 1;
        }
        rec.holder = "tester@host pid 9".into();
        s.rv = 5;
        s.lease = Some((5, rec.holder.clone(), rec.clone(), 0));
    }
    let audit = Audit::new(None, "t", "fake", "resume", "fake/ns/db");
    let (tx, _rx) = mpsc::unbounded_channel();
    let r = Runner {
        exec: &exec,
        settings: settings(),
        events: tx,
        audit: &audit,
        holder: "tester@host pid 10".into(),
    };
    let p = r.prepare_resume().await.unwrap();
    let (_c, cancel) = watch::channel(false);
    let out = r.run(p, cancel).await;
    assert!(matches!(out, Outcome::Done(_)), "{out:?}");
    assert_eq!(
        actions(&exec.calls()),
        ["delete pod/db-3-0", "delete pod/db-1-0"]
    );

    // A stale lock of someone else's needs --take-over.
    let exec = FakeExecutor::new(3, 0);
    exec.lock().lease = Some((1, "other@elsewhere pid 3".into(), rec.clone(), 0));
    let audit = Audit::new(None, "t", "fake", "resume", "fake/ns/db");
    let (tx, _rx) = mpsc::unbounded_channel();
    let r = Runner {
        exec: &exec,
        settings: settings(),
        events: tx,
        audit: &audit,
        holder: "tester@host pid 10".into(),
    };
    assert!(
        matches!(r.prepare_resume().await, Err(Outcome::Refused(c)) if c.rule == "lock" && c.detail.contains("other@elsewhere"))
    );
    // And a new operation is refused while it stands.
    let out = run_op(
        &exec,
        OperationName::RestartMember,
        member("db-2-0"),
        settings(),
    )
    .await;
    assert!(
        matches!(&out, Outcome::Refused(c) if c.rule == "lock" && c.detail.contains("resume")),
        "{out:?}"
    );
}

#[tokio::test]
async fn stop_remembers_replicas_and_start_restores_them() {
    let exec = FakeExecutor::new(3, 1);
    let out = run_op(&exec, OperationName::Stop, Request::default(), settings()).await;
    assert!(matches!(out, Outcome::Done(_)), "{out:?}");
    let acts = actions(&exec.calls());
    assert_eq!(acts.len(), 4);
    assert_eq!(acts[0], "patch statefulset/db-rr-1", "secondaries first");
    assert_eq!(acts[3], "patch statefulset/db-1", "the leader last");
    assert!(
        exec.lock()
            .statefulsets
            .iter()
            .all(|s| s.replicas == 0 && s.remembered_replicas == Some(1))
    );
    // Stopping again: nothing to do.
    let again = run_op(&exec, OperationName::Stop, Request::default(), settings()).await;
    assert!(matches!(again, Outcome::Nothing(_)), "{again:?}");

    let out = run_op(&exec, OperationName::Start, Request::default(), settings()).await;
    assert!(matches!(out, Outcome::Done(_)), "{out:?}");
    assert!(
        exec.lock()
            .statefulsets
            .iter()
            .all(|s| s.replicas == 1 && s.remembered_replicas.is_none())
    );
}

#[tokio::test]
async fn backup_reads_a_caught_up_follower_and_names_the_artifact() {
    let exec = FakeExecutor::new(3, 1);
    exec.lock().members[1].applied = 90;
    let out = run_op(&exec, OperationName::Backup, Request::default(), settings()).await;
    let Outcome::Done(m) = out else {
        panic!("{out:?}")
    };
    assert!(m.contains("s3://test-bucket/fake/ns/db/"), "{m}");
    let calls = actions(&exec.calls());
    assert_eq!(calls.len(), 1);
    assert!(
        calls[0].starts_with("create job/baton-backup-db-"),
        "{calls:?}"
    );
    // The follower with the least lag: db-3-0 (db-2-0 lags 10).
    let s = exec.lock();
    assert_eq!(
        s.lease
            .as_ref()
            .and_then(|l| l.2.params.get("member").cloned())
            .as_deref(),
        Some("db-3-0")
    );
}

#[test]
fn the_plan_outline_puts_the_leader_last() {
    let exec = FakeExecutor::new(3, 1);
    let obs = exec.lock().observed_for_tests();
    let d = obs.derive(100);
    let v = View {
        obs: &obs,
        d: &d,
        lag_gate: 100,
        forced: &[],
    };
    assert!(v.majority("db-1-0").ok);
    let rec = super::record::Record {
        operation: OperationName::RollingRestart,
        params: Default::default(),
        holder: String::new(),
        started_ms: 0,
        state: super::record::OpState::Running,
        step: 0,
        detail: String::new(),
        original: obs
            .pods
            .iter()
            .map(|p| (p.name.clone(), p.uid.clone()))
            .collect(),
        voters: vec![],
        first: vec![],
        job: None,
        waiting: None,
        plan: Vec::new(),
        forced: Vec::new(),
    };
    let plan = super::plan::outline(&rec, &obs, 100);
    assert_eq!(plan.len(), 4);
    assert!(plan[0].contains("db-rr-1-0 (READ_REPLICA)"), "{plan:?}");
    assert!(
        plan[3].contains("db-1-0 (LEADER)") && plan[3].contains("last"),
        "{plan:?}"
    );
}

#[tokio::test]
async fn a_member_lagging_over_the_gate_refuses_naming_it() {
    let exec = FakeExecutor::new(3, 1);
    for (i, m) in exec.lock().members.iter_mut().enumerate() {
        m.applied = if i == 3 { 100 } else { 250 };
    }
    let out = run_op(
        &exec,
        OperationName::RollingRestart,
        Request::default(),
        settings(),
    )
    .await;
    assert!(
        matches!(&out, Outcome::Refused(c) if c.rule == "settled"
            && c.member.as_deref() == Some("db-rr-1-0")
            && c.detail.contains("lagging")),
        "{out:?}"
    );
    assert!(exec.calls().is_empty());
}

#[tokio::test]
async fn upgrade_rolls_one_statefulset_at_a_time_leader_last_and_is_idempotent() {
    let exec = FakeExecutor::new(3, 1);
    let mut req = Request::default();
    req.params.insert("version".into(), "5.27.0".into());
    let out = run_op(&exec, OperationName::Upgrade, req.clone(), settings()).await;
    assert!(
        matches!(&out, Outcome::Done(m) if m.contains("neo4j:5.27.0-enterprise")),
        "{out:?}"
    );
    assert_eq!(
        actions(&exec.calls()),
        [
            "patch statefulset/db-rr-1 template",
            "patch statefulset/db-2 template",
            "patch statefulset/db-3 template",
            "patch statefulset/db-1 template"
        ]
    );
    assert!(
        exec.lock()
            .members
            .iter()
            .all(|m| m.image == "neo4j:5.27.0-enterprise")
    );
    // Again: the goal holds, nothing to do.
    let again = run_op(&exec, OperationName::Upgrade, req, settings()).await;
    assert!(matches!(again, Outcome::Nothing(_)), "{again:?}");

    let mut req = Request::default();
    req.params.insert("memory".into(), "8Gi".into());
    let out = run_op(&exec, OperationName::Resize, req, settings()).await;
    assert!(matches!(out, Outcome::Done(_)), "{out:?}");
    assert!(exec.lock().members.iter().all(|m| m.memory == "8Gi"));
}

#[test]
fn images_keep_their_repository_and_edition() {
    use super::plan::image_at;
    assert_eq!(
        image_at("neo4j:5.26.0-enterprise", "5.27.0"),
        "neo4j:5.27.0-enterprise"
    );
    assert_eq!(
        image_at("registry:5000/neo4j:5.26.0", "5.27.0"),
        "registry:5000/neo4j:5.27.0"
    );
    assert_eq!(
        image_at("registry.k8s.io/etcd:3.5.9-0", "3.5.12-0"),
        "registry.k8s.io/etcd:3.5.12-0"
    );
}

#[tokio::test]
async fn restore_stops_restores_and_starts_in_that_order() {
    let exec = FakeExecutor::new(3, 1);
    let artifact = |db: &str| {
        format!(r#"{{"kind":"baton-lab-backup","database":"{db}","applied_index":5,"state_digest":"sha256:00"}}"#)
            .into_bytes()
    };
    let db = exec.database_id();
    let name = db.rsplit('/').next().unwrap_or_default().to_string();
    let base = format!("s3://b/{db}");
    {
        let mut s = exec.lock();
        s.objects.insert(
            "s3://b/db.backup".into(),
            ("2026-01-01T00:00:00Z".into(), artifact(&name)),
        );
        s.objects.insert(
            format!("{base}/1.backup"),
            ("2026-01-01T00:00:00Z".into(), artifact(&name)),
        );
        s.objects.insert(
            format!("{base}/2.backup"),
            ("2026-01-02T00:00:00Z".into(), artifact(&name)),
        );
        s.objects.insert(
            "s3://b/other.backup".into(),
            ("2026-01-02T00:00:00Z".into(), artifact("other")),
        );
    }
    // Another database's backup, or one that is not there: refused before anything is sent.
    for (url, rule) in [
        ("s3://b/other.backup", "backup-of-this-database"),
        ("s3://b/none.backup", "backup-exists"),
    ] {
        let mut req = Request::default();
        req.params.insert("backup".into(), url.into());
        let out = run_op(&exec, OperationName::Restore, req, settings()).await;
        assert!(
            matches!(&out, Outcome::Refused(c) if c.rule == rule),
            "{out:?}"
        );
        assert!(actions(&exec.calls()).is_empty());
    }
    let mut req = Request::default();
    req.params.insert("from".into(), "s3://b/db.backup".into());
    let out = run_op(&exec, OperationName::Restore, req, settings()).await;
    assert!(
        matches!(&out, Outcome::Done(m) if m.contains("restored from s3://b/db.backup")),
        "{out:?}"
    );
    let acts = actions(&exec.calls());
    assert_eq!(acts.len(), 9, "{acts:?}");
    assert!(
        acts[..4]
            .iter()
            .all(|a| a.starts_with("patch statefulset/")),
        "{acts:?}"
    );
    assert_eq!(acts[3], "patch statefulset/db-1", "the leader stops last");
    assert!(
        acts[4].starts_with("create job/baton-restore-db-"),
        "{acts:?}"
    );
    assert!(
        acts[5..]
            .iter()
            .all(|a| a.starts_with("patch statefulset/")),
        "{acts:?}"
    );
    assert!(exec.lock().statefulsets.iter().all(|s| s.replicas == 1));

    // Without a backup: the database's backups to choose from, newest first.
    let mut s = settings();
    s.artifacts = "s3://b".into();
    let out = run_op(&exec, OperationName::Restore, Request::default(), s).await;
    let Outcome::Usage(m) = &out else {
        panic!("{out:?}")
    };
    assert!(m.contains("--set backup="), "{m}");
    let (two, one) = (m.find("2.backup"), m.find("1.backup"));
    assert!(two.is_some() && two < one, "newest first: {m}");
    assert!(!m.contains("other.backup"), "{m}");
}

#[tokio::test]
async fn an_upgrade_the_rules_forbid_is_refused_with_the_check_the_confirmation_shows() {
    let exec = FakeExecutor::new(3, 0);
    {
        let mut s = exec.lock();
        for m in &mut s.members {
            m.image = "neo4j:5.20.0-enterprise".into();
        }
        for sts in &mut s.statefulsets {
            sts.image = "neo4j:5.20.0-enterprise".into();
        }
    }
    let prepare = |version: &str| {
        let mut req = Request::default();
        req.params.insert("version".into(), version.into());
        let exec = &exec;
        async move {
            let audit = Audit::new(None, "test", "fake", "upgrade", "fake/ns/db");
            let (tx, mut rx) = mpsc::unbounded_channel();
            let runner = Runner {
                exec,
                settings: settings(),
                events: tx,
                audit: &audit,
                holder: "tester@host pid 1".into(),
            };
            let out = runner.prepare(OperationName::Upgrade, &req).await;
            drop(runner);
            let mut checks = Vec::new();
            while let Ok(ev) = rx.try_recv() {
                if let super::OpEvent::Check(c) = ev {
                    checks.push(c);
                }
            }
            (out, checks)
        }
    };
    // What the dashboard's confirmation lists: the failing rule, with why.
    let (out, checks) = prepare("2025.01.0").await;
    assert!(
        matches!(&out, Err(Outcome::Refused(c)) if c.rule == "upgrade-checkpoint"),
        "{out:?}"
    );
    let shown: Vec<String> = checks.iter().map(super::safety::Check::line).collect();
    assert!(
        shown.iter().any(|l| l.starts_with(
            "✗ upgrade-checkpoint: 5.20.0 → 2025.01.0 skips the checkpoint release 5.26 LTS"
        )),
        "{shown:?}"
    );
    let (out, _) = prepare("5.19.9").await;
    assert!(
        matches!(&out, Err(Outcome::Refused(c)) if c.rule == "upgrade-no-downgrade"),
        "{out:?}"
    );
    // Allowed: the check passes and shows among the preflight's.
    let (out, _) = prepare("5.26.0").await;
    let p = out.expect("allowed");
    assert!(
        p.checks.iter().any(|c| c.rule == "upgrade-rules" && c.ok),
        "{:?}",
        p.checks
    );
    assert!(
        actions(&exec.calls()).is_empty(),
        "a preflight sends nothing"
    );
}

#[tokio::test]
async fn a_rule_is_forced_only_when_the_config_allows_it_and_only_that_rule() {
    // 3 voters, db-2-0 down: restarting db-1-0 would leave 1/3 healthy.
    let fresh = || {
        let exec = FakeExecutor::new(3, 0);
        exec.lock().members[2].up = false;
        exec
    };
    let forcing = |rules: &[&str]| Request {
        member: Some("db-1-0".into()),
        force: rules.iter().map(|r| r.to_string()).collect(),
        ..Request::default()
    };
    // A fresh database, restart-member forcing `rules` with `s`: the outcome, and whether
    // anything was sent.
    let attempt = async |rules: &[&str], s: Settings| {
        let exec = fresh();
        let out = run_op(&exec, OperationName::RestartMember, forcing(rules), s).await;
        (out, exec.calls().is_empty())
    };
    // The config does not allow forcing: a usage error, nothing sent.
    let (out, nothing_sent) = attempt(&["majority"], settings()).await;
    assert!(
        matches!(&out, Outcome::Usage(m) if m.contains("operations.allow_force")),
        "{out:?}"
    );
    assert!(nothing_sent);
    let allowing = Settings {
        allow_force: true,
        ..settings()
    };
    // The lock, the role and read-only are never forceable; unknown names neither.
    for rule in ["lock", "permission", "read-only", "quorum"] {
        let (out, nothing_sent) = attempt(&[rule], allowing.clone()).await;
        assert!(
            matches!(&out, Outcome::Usage(m) if m.contains("cannot be forced")),
            "{rule}: {out:?}"
        );
        assert!(nothing_sent);
    }
    // Forcing another rule does not get past the majority.
    let (out, nothing_sent) = attempt(&["expected-leader"], allowing.clone()).await;
    assert!(
        matches!(&out, Outcome::Refused(c) if c.rule == "majority"),
        "{out:?}"
    );
    assert!(nothing_sent);
    // Forcing the majority alone: the database has not settled either.
    let (out, _) = attempt(&["majority"], allowing.clone()).await;
    assert!(
        matches!(&out, Outcome::Refused(c) if c.rule == "settled"),
        "{out:?}"
    );
    // Forcing both: the restart goes ahead and the record says what was forced.
    let exec = fresh();
    let audit = Audit::new(None, "test", "fake", "restart-member", "fake/ns/db");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let runner = Runner {
        exec: &exec,
        settings: allowing,
        events: tx,
        audit: &audit,
        holder: "tester@host pid 1".into(),
    };
    let prepared = runner
        .prepare(
            OperationName::RestartMember,
            &forcing(&["majority", "settled"]),
        )
        .await
        .expect("forced past the majority");
    assert_eq!(prepared.record.forced, ["majority", "settled"]);
    let majority = prepared
        .checks
        .iter()
        .find(|c| c.rule == "majority")
        .expect("the majority check is shown");
    assert!(
        majority.ok && majority.detail.starts_with("FORCED past:"),
        "{majority:?}"
    );
    let (_c, cancel) = watch::channel(false);
    let out = runner.run(prepared, cancel).await;
    drop(runner);
    assert!(matches!(out, Outcome::Done(_)), "{out:?}");
    assert!(!exec.calls().is_empty(), "the forced restart was sent");
    let mut saw = false;
    while let Ok(ev) = rx.try_recv() {
        saw |= matches!(&ev, super::runner::OpEvent::Notice { message } if message.contains("forced past"));
    }
    assert!(saw, "the run says which rules it was forced past");
}

#[tokio::test]
async fn a_surge_needs_statefulsets_created_and_deleted_and_says_so_before_anything() {
    // An identity that may patch StatefulSets but not create them: in place it may resize,
    // by surge it is refused at once, naming what is missing, with nothing sent.
    let exec = FakeExecutor::new(3, 0);
    exec.lock().denied = vec!["create statefulsets".into()];
    let mut req = Request::default();
    req.params.insert("memory".into(), "8Gi".into());
    req.params.insert("strategy".into(), "surge".into());
    let out = run_op(&exec, OperationName::Resize, req.clone(), settings()).await;
    assert!(
        matches!(&out, Outcome::Refused(c) if c.rule == super::safety::PERMISSION && c.detail.contains("create statefulsets")),
        "{out:?}"
    );
    assert!(exec.lock().calls.is_empty(), "{:?}", exec.lock().calls);
    // The orchestra's default (surge = true in the config) asks the same.
    req.params.remove("strategy");
    let mut s = settings();
    s.surge_orchestras = vec![
        exec.database_id()
            .split('/')
            .next()
            .unwrap_or_default()
            .into(),
    ];
    let out = run_op(&exec, OperationName::Resize, req.clone(), s).await;
    assert!(
        matches!(&out, Outcome::Refused(c) if c.rule == super::safety::PERMISSION),
        "{out:?}"
    );
    // In place: only the patch, which it may do.
    let out = run_op(&exec, OperationName::Resize, req, settings()).await;
    assert!(matches!(out, Outcome::Done(_)), "{out:?}");
}

#[tokio::test]
async fn a_cancel_asked_on_the_lease_stops_after_the_current_member() {
    let exec = FakeExecutor::new(3, 0);
    let asker = async {
        while !exec.calls().iter().any(|c| c.starts_with("delete pod")) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        exec.request_cancel("ann@elsewhere pid 9 (lab-operator)")
            .await
            .unwrap();
    };
    let (out, ()) = tokio::join!(
        run_op(
            &exec,
            OperationName::RollingRestart,
            Request::default(),
            settings()
        ),
        asker
    );
    match &out {
        Outcome::Cancelled(m) => assert!(m.contains("by ann@elsewhere"), "{m}"),
        o => panic!("{o:?}"),
    }
    let deletes = exec
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("delete pod"))
        .count();
    assert_eq!(
        deletes,
        1,
        "one member restarted, then it stopped: {:?}",
        exec.calls()
    );
    let s = exec.lock();
    let (_, holder, rec, _) = s.lease.as_ref().unwrap();
    assert_eq!(holder, "tester@host pid 1", "the lock stays the runner's");
    assert_eq!(rec.state, crate::ops::record::OpState::Cancelled);
}
