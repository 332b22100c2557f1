//! Snapshots of the dialogs and the progress pane (review them in src/tui/snapshots/; their
//! names come from `snap_sizes` in `tui::tests`, so they do not depend on this module), and
//! the dialogs at tiny terminal sizes.

use super::*;

#[test]
fn snapshot_menu_and_form() {
    let mut m = demo();
    command(&mut m, &format!("db {ORDERS}"));
    send(&mut m, [key('j'), key('o')]);
    snap_sizes("ops_menu", &mut m);
    choose(&mut m, OperationName::Resize);
    let mut msgs = typed("8GB");
    msgs.push(code(KeyCode::Enter));
    send(&mut m, msgs);
    snap_sizes("ops_form_error", &mut m);
}

#[test]
fn snapshot_confirmations() {
    // Database-wide, allowed: the id half typed.
    let mut m = demo();
    preflight(
        &mut m,
        OperationName::RollingRestart,
        Ok(prepared(OperationName::RollingRestart, &[], passing())),
    );
    send(&mut m, typed("aws-eu-west-1/pay"));
    snap_sizes("ops_confirm_typed", &mut m);
    // Member-level: y/n.
    let mut m = demo();
    let mut p = prepared(
        OperationName::RestartMember,
        &[("member", "orders-0")],
        passing(),
    );
    p.plan = vec!["restart orders-0 (FOLLOWER), then wait until settled".into()];
    preflight(&mut m, OperationName::RestartMember, Ok(p));
    snap_sizes("ops_confirm_yes_no", &mut m);
    // Refused by a rule: the failing check, nothing to confirm.
    let mut m = demo();
    preflight(
        &mut m,
        OperationName::RollingRestart,
        Err(Refusal {
            outcome: Outcome::Refused(Check::fail(
                "majority",
                Some("orders-1"),
                "restarting it would leave 1 of 3 voters healthy (orders-2 is not Ready)",
            )),
            checks: vec![
                Check::pass("lock", "no other operation holds the database"),
                Check::fail("settled", Some("orders-2"), "pod not Ready (Pending)"),
            ],
        }),
    );
    snap_sizes("ops_confirm_refused", &mut m);
    // On prod, taking over a stale lock.
    let mut m = demo();
    command(&mut m, "db acme-prod/acme/graph");
    send(&mut m, [key('o')]);
    let id = prepare_id(&choose(&mut m, OperationName::Stop));
    let mut p = prepared(OperationName::Stop, &[], passing());
    p.plan = vec![
        "scale statefulset graph-1 1 → 0 (remember 1), wait until its pod is gone".into(),
        "scale statefulset graph-2 1 → 0 (remember 1), wait until its pod is gone".into(),
        "scale statefulset graph-0 1 → 0 (remember 1), wait until its pod is gone".into(),
    ];
    p.taking_over = Some("ann@bastion pid 42: rolling-restart step 2 (running)".into());
    update(
        &mut m,
        Msg::Op(OpMsg::Prepared {
            id,
            result: Ok(Box::new(p)),
        }),
    );
    snap_sizes("ops_confirm_prod_take_over", &mut m);
}

/// A rolling restart on orders, step 1 done and step 2 under way.
fn mid_run(m: &mut Model) -> u64 {
    let id = started(m);
    send(
        m,
        [
            event(
                id,
                0,
                OpEvent::Started {
                    operation: "rolling-restart".into(),
                    database: ORDERS.into(),
                    holder: "me@bastion pid 7".into(),
                    resumed: false,
                },
            ),
            event(
                id,
                200,
                OpEvent::Step {
                    step: 1,
                    action: "restart orders-rr-0 (delete its pod)".into(),
                    member: Some("orders-rr-0".into()),
                },
            ),
            event(
                id,
                400,
                OpEvent::Waiting {
                    reason: "orders-rr-0: pod not Ready (Pending)".into(),
                    elapsed_ms: 200,
                },
            ),
            event(
                id,
                8_400,
                OpEvent::StepDone {
                    step: 1,
                    elapsed_ms: 8_200,
                },
            ),
            event(
                id,
                8_400,
                OpEvent::Step {
                    step: 2,
                    action: "restart orders-0 (delete its pod)".into(),
                    member: Some("orders-0".into()),
                },
            ),
            Msg::Tick {
                now_ms: NOW_MS + 12_000,
            },
        ],
    );
    id
}

#[test]
fn snapshot_progress() {
    let mut m = demo();
    let id = mid_run(&mut m);
    snap_sizes("ops_progress_running", &mut m);
    send(
        &mut m,
        [event(
            id,
            9_000,
            OpEvent::Waiting {
                reason: "orders-0: not answering yet (probe error: connection refused)".into(),
                elapsed_ms: 600,
            },
        )],
    );
    snap_sizes("ops_progress_waiting", &mut m);
    let mut failed = m.clone();
    update(
        &mut failed,
        Msg::Op(OpMsg::Finished {
            id,
            at_ms: NOW_MS + 40_000,
            outcome: Outcome::Paused(
                "waited 30s at step 2: orders-0: not answering yet (probe error: connection refused)"
                    .into(),
            ),
        }),
    );
    snap_sizes("ops_progress_paused", &mut failed);
    let mut failed = m.clone();
    update(
        &mut failed,
        Msg::Op(OpMsg::Finished {
            id,
            at_ms: NOW_MS + 13_000,
            outcome: Outcome::Failed("lost the lock: ann@bastion pid 42 changed the Lease".into()),
        }),
    );
    snap_sizes("ops_progress_failed", &mut failed);

    // A backup, done: its Job's log and the artifact to copy.
    let mut m = demo();
    let target = "s3://baton-backups/aws-eu-west-1/payments/orders/20250314T030742Z.backup";
    let mut p = prepared(
        OperationName::Backup,
        &[("member", "orders-1"), ("target", target)],
        passing(),
    );
    p.plan = vec![
        format!("create Job baton-backup-orders-ss8w7i reading orders-1 → {target}"),
        "follow its log until it completes".into(),
    ];
    let id = preflight(&mut m, OperationName::Backup, Ok(p));
    let mut msgs = vec![key('y')];
    msgs.push(event(
        id,
        100,
        OpEvent::Step {
            step: 1,
            action: "create backup Job baton-backup-orders-ss8w7i from orders-1".into(),
            member: Some("orders-1".into()),
        },
    ));
    for (i, line) in [
        "backup of orders from orders-1 (5.26.0) starting",
        "consistent snapshot at transaction 100000",
        "copied 1.2 GiB in 6.1s",
        "artifact written",
    ]
    .iter()
    .enumerate()
    {
        msgs.push(event(
            id,
            2_000 + i as u64 * 1_000,
            OpEvent::Log {
                pod: "baton-backup-orders-ss8w7i-x2k4p".into(),
                line: (*line).into(),
            },
        ));
    }
    msgs.push(event(
        id,
        7_000,
        OpEvent::StepDone {
            step: 1,
            elapsed_ms: 6_900,
        },
    ));
    msgs.push(Msg::Op(OpMsg::Finished {
        id,
        at_ms: NOW_MS + 7_100,
        outcome: Outcome::Done(format!("backup written to {target}")),
    }));
    msgs.push(Msg::Tick {
        now_ms: NOW_MS + 20_000,
    });
    send(&mut m, msgs);
    snap_sizes("ops_progress_backup_done", &mut m);
}

#[test]
fn snapshot_in_flight_everywhere() {
    let mut m = demo();
    let mut rec = record(OperationName::RollingRestart, &[]);
    rec.holder = "ann@bastion pid 42".into();
    rec.step = 2;
    rec.detail = "restart orders-1 (delete its pod)".into();
    rec.started_ms = NOW_MS - 90_000;
    let mut backup = record(OperationName::Backup, &[]);
    backup.holder = "bob@ops-1 pid 7".into();
    backup.step = 1;
    backup.detail = "create backup Job baton-backup-graph-ss8w0a from graph-1".into();
    backup.started_ms = NOW_MS - 600_000;
    send(
        &mut m,
        [
            lease_event(ORDERS, &rec, NOW_MS - 2_000),
            lease_event("acme-prod/acme/graph", &backup, NOW_MS - 300_000),
        ],
    );
    snap_sizes("ops_fleet_counts", &mut m);
    send(&mut m, [key('d')]);
    snap_sizes("ops_databases_op_column", &mut m);
    command(&mut m, "ops");
    snap_sizes("ops_list", &mut m);
    command(&mut m, "db acme-prod/acme/graph");
    snap_sizes("ops_resume_offer", &mut m);
}

#[test]
fn dialogs_and_the_progress_pane_survive_tiny_terminals() {
    let mut states: Vec<Model> = Vec::new();
    let mut m = demo();
    open_menu(&mut m, ORDERS);
    states.push(m.clone());
    choose(&mut m, OperationName::Resize);
    states.push(m.clone());
    let mut m = demo();
    preflight(
        &mut m,
        OperationName::RollingRestart,
        Ok(prepared(OperationName::RollingRestart, &[], passing())),
    );
    send(
        &mut m,
        typed("aws-eu-west-1/payments/orders-and-then-some-more-text"),
    );
    states.push(m.clone());
    let mut m = demo();
    mid_run(&mut m);
    states.push(m.clone());
    send(&mut m, [key('x')]);
    states.push(m.clone());
    send(&mut m, [key('n'), key('q')]);
    states.push(m);
    for mut s in states {
        for (w, h) in [
            (0, 0),
            (1, 1),
            (10, 3),
            (20, 5),
            (40, 10),
            (79, 23),
            (80, 24),
        ] {
            screen(&mut s, w, h);
        }
    }
}
