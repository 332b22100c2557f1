//! Following someone else's operation from its Lease: the pane folds each new step, the
//! waiting reason the runner publishes, staleness and the end; the Job's log task starts and
//! stops with it; the cancel key asks whether to cancel it for its holder (a request on the
//! Lease, refused in read-only mode) or only stop following; once it ended it closes the pane.

use super::ops::{lease_event, op_cmds, record};
use super::*;
use crate::config::OperationName;
use crate::ops::record::OpState;
use crate::tui::ops::{StepState, step_lines};

const ORDERS: &str = "aws-eu-west-1/payments/orders";

/// The pane closed, and nothing was sent but stopping its log task.
fn assert_only_stops_following(m: &Model, cmds: &[Cmd]) {
    assert!(
        op_cmds(cmds)
            .iter()
            .all(|c| matches!(c, OpCmd::Cancel { .. })),
        "{cmds:?}"
    );
    assert!(m.ops.follows.is_empty());
}

#[test]
fn a_followed_operation_advances_waits_and_ends_from_its_lease() {
    let mut m = demo();
    let mut rec = record(OperationName::RollingRestart, &[]);
    rec.holder = "ann@bastion pid 42".into();
    rec.started_ms = NOW_MS - 60_000;
    rec.step = 2;
    rec.detail = "restart orders-1 (delete its pod)".into();
    rec.plan = vec![
        "restart orders-rr-0 (READ_REPLICA)".into(),
        "restart orders-1 (FOLLOWER)".into(),
        "restart orders-0 (FOLLOWER)".into(),
        "restart orders-2 (LEADER) — the leader, last".into(),
    ];
    send(&mut m, [lease_event(ORDERS, &rec, NOW_MS - 1_000)]);
    command(&mut m, &format!("db {ORDERS}"));
    let s = screen(&mut m, 80, 24);
    assert!(
        s.contains("f follow"),
        "the Lease line offers to follow:\n{s}"
    );
    // Nothing of ours runs: the cancel key says so and sends nothing.
    let cmds = send(&mut m, [key('f')]);
    assert!(op_cmds(&cmds).is_empty(), "no Job: no log task: {cmds:?}");
    let run = m.ops.follows.values().next().expect("a followed pane");
    assert_eq!(run.followed.as_deref(), Some("ann@bastion pid 42"));
    let lines = step_lines(run, NOW_MS);
    let states: Vec<&str> = lines.iter().map(|l| l.state.word()).collect();
    assert_eq!(states, ["done", "running", "pending", "pending"]);
    assert_eq!(lines[0].text, "restart orders-rr-0 (READ_REPLICA)");
    assert_eq!(lines[1].text, "restart orders-1 (delete its pod)");
    let s = screen(&mut m, 80, 24);
    assert!(
        s.contains("following rolling-restart of ann@bastion pid 42"),
        "{s}"
    );
    assert!(s.contains("x cancel it or close"), "{s}");

    // The runner publishes why it waits with its next renewal.
    rec.waiting = Some("orders-1: pod not Ready".into());
    send(&mut m, [lease_event(ORDERS, &rec, NOW_MS + 3_000)]);
    let run = &m.ops.follows[&key_of(ORDERS)];
    assert_eq!(
        step_lines(run, NOW_MS + 3_000)[1].state,
        StepState::Waiting("orders-1: pod not Ready".into())
    );
    // Next step.
    rec.waiting = None;
    rec.step = 3;
    rec.detail = "restart orders-0 (delete its pod)".into();
    send(&mut m, [lease_event(ORDERS, &rec, NOW_MS + 6_000)]);
    let run = &m.ops.follows[&key_of(ORDERS)];
    let states: Vec<String> = step_lines(run, NOW_MS + 6_000)
        .iter()
        .map(|l| l.state.word().to_string())
        .collect();
    assert_eq!(states, ["done", "done", "running", "pending"]);
    assert!(
        run.log
            .iter()
            .any(|l| l == "waiting: orders-1: pod not Ready")
    );
    snap_sizes("ops_follow_running", &mut m);
    // The holder stops renewing: it stands still, and the pane says why.
    update(
        &mut m,
        Msg::Tick {
            now_ms: NOW_MS + 30_000,
        },
    );
    let run = &m.ops.follows[&key_of(ORDERS)];
    match &step_lines(run, NOW_MS + 30_000)[2].state {
        StepState::Waiting(w) => assert!(w.contains("stopped renewing"), "{w}"),
        other => panic!("{other:?}"),
    }
    // The open profile offers to resume it (as to anyone); not now.
    assert!(matches!(
        m.ops.dialog,
        Some(crate::tui::ops::Dialog::Resume(_))
    ));
    send(&mut m, [code(KeyCode::Esc)]);
    // It resumed and finished.
    rec.step = 4;
    rec.detail = "every member restarted".into();
    rec.state = OpState::Done;
    send(&mut m, [lease_event(ORDERS, &rec, NOW_MS + 31_000)]);
    let run = &m.ops.follows[&key_of(ORDERS)];
    assert!(!run.running());
    let states: Vec<String> = step_lines(run, NOW_MS + 31_000)
        .iter()
        .map(|l| l.state.word().to_string())
        .collect();
    assert_eq!(states, ["done", "done", "done", "done"]);
    // The cancel key closes the pane and sends nothing that mutates.
    let cmds = send(&mut m, [key('x')]);
    assert_only_stops_following(&m, &cmds);
}

#[test]
fn the_cancel_key_on_a_followed_operation_asks_then_requests_on_the_lease() {
    let mut m = demo();
    let mut rec = record(OperationName::RollingRestart, &[]);
    rec.holder = "job/payments/baton-run-orders-abc".into();
    rec.step = 1;
    rec.detail = "restart orders-rr-0 (delete its pod)".into();
    send(&mut m, [lease_event(ORDERS, &rec, NOW_MS - 1_000)]);
    command(&mut m, &format!("db {ORDERS}"));
    send(&mut m, [key('f')]);
    // The cancel key asks; nothing is sent yet.
    let cmds = send(&mut m, [key('x')]);
    assert!(op_cmds(&cmds).is_empty(), "{cmds:?}");
    assert!(matches!(
        &m.ops.dialog,
        Some(crate::tui::ops::Dialog::Ask(crate::tui::ops::Ask::CancelFollowed { holder, .. }))
            if holder == "job/payments/baton-run-orders-abc"
    ));
    let s = screen(&mut m, 80, 24);
    assert!(s.contains("Cancel rolling-restart on"), "{s}");
    assert!(
        s.contains("It runs as job/payments/baton-run-orders-abc."),
        "{s}"
    );
    snap_sizes("ops_cancel_followed", &mut m);
    // n keeps following, nothing sent.
    let cmds = send(&mut m, [key('n')]);
    assert!(op_cmds(&cmds).is_empty(), "{cmds:?}");
    assert_eq!(m.ops.follows.len(), 1);
    // y: a request on the Lease, the pane stays and says so.
    send(&mut m, [key('x')]);
    let cmds = send(&mut m, [key('y')]);
    assert_eq!(
        op_cmds(&cmds),
        [&OpCmd::RequestCancel {
            key: key_of(ORDERS)
        }]
    );
    let run = &m.ops.follows[&key_of(ORDERS)];
    assert!(run.running() && run.cancelling);
    update(
        &mut m,
        Msg::Op(OpMsg::CancelRequested {
            key: key_of(ORDERS),
            result: Ok("rolling-restart of job/payments/baton-run-orders-abc".into()),
        }),
    );
    let s = screen(&mut m, 200, 60);
    assert!(s.contains("cancel requested on the Lease"), "{s}");
    assert!(
        s.contains("cancel requested ·"),
        "the pane's hint says so:\n{s}"
    );
    // The runner honours it: the pane ends cancelled from the Lease.
    rec.state = OpState::Cancelled;
    rec.detail = "cancelled after restart orders-rr-0".into();
    send(&mut m, [lease_event(ORDERS, &rec, NOW_MS + 2_000)]);
    assert!(!m.ops.follows[&key_of(ORDERS)].running());
    // A refusal is said, and the pane may be asked again.
    let mut rec2 = rec.clone();
    rec2.state = OpState::Running;
    rec2.started_ms += 10_000;
    send(&mut m, [lease_event(ORDERS, &rec2, NOW_MS + 3_000)]);
    send(&mut m, [key('f')]);
    send(&mut m, [key('x'), key('y')]);
    update(
        &mut m,
        Msg::Op(OpMsg::CancelRequested {
            key: key_of(ORDERS),
            result: Err("cannot ask x to cancel: forbidden".into()),
        }),
    );
    assert!(!m.ops.follows[&key_of(ORDERS)].cancelling);
    assert!(matches!(&m.note, Some(Note::Error(e)) if e.contains("not cancelled")));
    // c only stops following.
    let cmds = send(&mut m, [key('x'), key('c')]);
    assert_only_stops_following(&m, &cmds);
}

#[test]
fn a_read_only_dashboard_cannot_cancel_a_followed_operation() {
    let mut m = demo();
    m.read_only = true;
    let mut rec = record(OperationName::RollingRestart, &[]);
    rec.holder = "ann@bastion pid 42".into();
    rec.step = 1;
    send(&mut m, [lease_event(ORDERS, &rec, NOW_MS - 1_000)]);
    command(&mut m, &format!("db {ORDERS}"));
    send(&mut m, [key('f')]);
    send(&mut m, [key('x')]);
    let s = screen(&mut m, 80, 24);
    assert!(s.contains("read-only: c stop following"), "{s}");
    let cmds = send(&mut m, [key('y')]);
    assert!(
        op_cmds(&cmds).is_empty(),
        "read-only sends nothing: {cmds:?}"
    );
    assert!(matches!(&m.note, Some(Note::Error(e)) if e.starts_with("read-only")));
    assert!(!m.ops.follows[&key_of(ORDERS)].cancelling);
}

#[test]
fn a_job_log_is_followed_and_stopped_with_the_pane() {
    let mut m = demo();
    let mut rec = record(OperationName::Backup, &[]);
    rec.holder = "bob@bastion pid 9".into();
    rec.step = 1;
    rec.detail = "create backup Job baton-backup-orders-1".into();
    rec.job = Some("baton-backup-orders-1".into());
    send(&mut m, [lease_event(ORDERS, &rec, NOW_MS - 1_000)]);
    // From `:ops`, the follow key opens the database and its pane.
    command(&mut m, "ops");
    let cmds = send(&mut m, [key('f')]);
    assert!(matches!(&m.view, View::Profile { key, .. } if key.id() == ORDERS));
    let id = match op_cmds(&cmds).as_slice() {
        [OpCmd::FollowLog { id, job, .. }] => {
            assert_eq!(job, "baton-backup-orders-1");
            *id
        }
        other => panic!("{other:?}"),
    };
    update(
        &mut m,
        Msg::Op(OpMsg::Log {
            id,
            pod: "baton-backup-orders-1-x7k2p".into(),
            lines: vec!["backup: 1200 entries".into()],
            error: None,
        }),
    );
    let s = screen(&mut m, 200, 60);
    assert!(
        s.contains("[baton-backup-orders-1-x7k2p] backup: 1200 entries"),
        "{s}"
    );
    // It failed: the pane ends and its log task is stopped.
    rec.state = OpState::Failed;
    rec.detail = "Job baton-backup-orders-1 failed".into();
    let cmds = send(&mut m, [lease_event(ORDERS, &rec, NOW_MS + 1_000)]);
    assert_eq!(op_cmds(&cmds), [&OpCmd::Cancel { id }]);
    let s = screen(&mut m, 80, 24);
    assert!(s.contains("failed"), "{s}");
}

#[test]
fn there_is_nothing_to_follow_without_a_lease() {
    let mut m = demo();
    command(&mut m, &format!("db {ORDERS}"));
    let cmds = send(&mut m, [key('f')]);
    assert!(op_cmds(&cmds).is_empty());
    assert!(matches!(&m.note, Some(Note::Error(e)) if e.contains("no operation")));
}
