//! A running operation: progress events, cancel, quitting while it runs, operations in flight
//! everywhere with the resume offer, and copying a finished backup's artifact.

use super::*;

#[test]
fn progress_events_move_the_steps_and_the_outcome_shows() {
    let mut m = demo();
    let id = started(&mut m);
    send(
        &mut m,
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
                100,
                OpEvent::Step {
                    step: 1,
                    action: "restart orders-rr-0 (delete its pod)".into(),
                    member: Some("orders-rr-0".into()),
                },
            ),
            event(
                id,
                300,
                OpEvent::Waiting {
                    reason: "orders-rr-0: pod not Ready (Pending)".into(),
                    elapsed_ms: 200,
                },
            ),
        ],
    );
    let run = m.ops.run_of(&key_of(ORDERS)).unwrap();
    assert_eq!(run.member.as_deref(), Some("orders-rr-0"));
    let lines = step_lines(run, NOW_MS + 2_000);
    assert!(matches!(&lines[0].state, StepState::Waiting(w) if w.contains("not Ready")));
    assert_eq!(lines[1].state, StepState::Pending);
    assert_eq!(m.ops.running(), 1);
    // An event of another id changes nothing.
    let before = m.ops.runs.clone();
    send(
        &mut m,
        [event(
            id + 100,
            400,
            OpEvent::Notice {
                message: "x".into(),
            },
        )],
    );
    assert_eq!(m.ops.runs, before);
    update(
        &mut m,
        Msg::Op(OpMsg::Finished {
            id,
            at_ms: NOW_MS + 5_000,
            outcome: Outcome::Done("every member restarted".into()),
        }),
    );
    let run = m.ops.run_of(&key_of(ORDERS)).unwrap();
    assert!(!run.running());
    assert!(
        step_lines(run, NOW_MS + 9_000)
            .iter()
            .all(|l| l.state == StepState::Done)
    );
    assert!(matches!(&m.note, Some(Note::Info(t)) if t.ends_with(": done")));
    assert_eq!(m.ops.running(), 0);
    // The cancel key closes the pane of a run that ended.
    send(&mut m, [key('x')]);
    assert!(m.ops.run_of(&key_of(ORDERS)).is_none());
}

#[test]
fn cancel_asks_then_flips_the_switch() {
    let mut m = demo();
    let id = started(&mut m);
    let cmds = send(&mut m, [key('x')]);
    assert!(matches!(
        m.ops.dialog,
        Some(Dialog::Ask(Ask::Cancel { .. }))
    ));
    assert!(op_cmds(&cmds).is_empty());
    let cmds = send(&mut m, [key('n')]);
    assert!(op_cmds(&cmds).is_empty());
    assert!(m.ops.dialog.is_none());
    assert!(!m.ops.run_of(&key_of(ORDERS)).unwrap().cancelling);
    let cmds = send(&mut m, [key('x'), key('y')]);
    assert_eq!(op_cmds(&cmds), [&OpCmd::Cancel { id }]);
    assert!(m.ops.run_of(&key_of(ORDERS)).unwrap().cancelling);
    // Asking again says it is on its way.
    let cmds = send(&mut m, [key('x')]);
    assert!(op_cmds(&cmds).is_empty() && m.ops.dialog.is_none());
    update(
        &mut m,
        Msg::Op(OpMsg::Finished {
            id,
            at_ms: NOW_MS + 1,
            outcome: Outcome::Cancelled("cancelled before step 2; the database is settled".into()),
        }),
    );
    assert!(matches!(&m.note, Some(Note::Error(t)) if t.ends_with("cancelled")));
}

#[test]
fn quitting_while_an_operation_runs_asks_first() {
    let mut m = demo();
    started(&mut m);
    for quit in [key('q'), ctrl('c')] {
        let cmds = send(&mut m, [quit]);
        assert!(!cmds.contains(&Cmd::Quit));
        let Some(Dialog::Ask(Ask::Quit { running, .. })) = &m.ops.dialog else {
            panic!("quit question")
        };
        assert_eq!(running, &[format!("rolling-restart on {ORDERS}")]);
        let cmds = send(&mut m, [key('n')]);
        assert!(!cmds.contains(&Cmd::Quit) && m.ops.dialog.is_none());
    }
    assert!(send(&mut m, [key('q'), key('y')]).contains(&Cmd::Quit));
    // Ctrl-C on the question quits; so does :q! at once.
    assert!(send(&mut m, [key('q'), ctrl('c')]).contains(&Cmd::Quit));
    m.ops.dialog = None;
    assert!(command(&mut m, "q!").contains(&Cmd::Quit));
    let cmds = command(&mut m, "q");
    assert!(!cmds.contains(&Cmd::Quit));
    // Nothing running: q quits at once.
    let mut idle = demo();
    assert!(send(&mut idle, [key('q')]).contains(&Cmd::Quit));
}

#[test]
fn operations_in_flight_show_everywhere_and_a_stale_one_is_offered_for_resume() {
    let mut m = demo();
    let mut rec = record(OperationName::RollingRestart, &[]);
    rec.holder = "ann@bastion pid 42".into();
    rec.step = 2;
    rec.detail = "restart orders-1 (delete its pod)".into();
    rec.started_ms = NOW_MS - 90_000;
    // Renewed 2 s ago: someone else's operation, running.
    send(&mut m, [lease_event(ORDERS, &rec, NOW_MS - 2_000)]);
    assert_eq!(m.orchestras[0].ops, 1, "counted per orchestra");
    let s = screen(&mut m, 200, 60);
    assert!(s.contains("OPS"), "{s}");
    send(&mut m, [key('d')]);
    let s = screen(&mut m, 200, 60);
    assert!(s.contains("rolling-restart 2"), "the OP column:\n{s}");
    command(&mut m, "ops");
    assert_eq!(m.view, View::Operations);
    let s = screen(&mut m, 200, 60);
    assert!(
        s.contains("ann@bastion pid 42") && s.contains("1m") && s.contains("payments/orders"),
        "{s}"
    );
    // Enter opens it: held, so no offer.
    send(&mut m, [code(KeyCode::Enter)]);
    assert!(matches!(&m.view, View::Profile { key, .. } if key.id() == ORDERS));
    assert!(m.ops.dialog.is_none());
    let s = screen(&mut m, 80, 24);
    assert!(s.contains("⚙ rolling-restart step 2"), "{s}");
    // Twenty seconds later it went stale: the open profile offers to resume it, once.
    update(
        &mut m,
        Msg::Tick {
            now_ms: NOW_MS + 20_000,
        },
    );
    let Some(Dialog::Resume(offer)) = &m.ops.dialog else {
        panic!("resume offer: {:?}", m.ops.dialog)
    };
    assert_eq!(offer.holder, "ann@bastion pid 42");
    assert_eq!(offer.step, 2);
    let cmds = send(&mut m, [code(KeyCode::Esc)]);
    assert!(op_cmds(&cmds).is_empty());
    send(&mut m, [code(KeyCode::Esc), code(KeyCode::Enter)]);
    assert!(m.ops.dialog.is_none(), "offered once");
    // The menu still offers it first.
    send(&mut m, [key('o')]);
    let Some(Dialog::Menu(menu)) = &m.ops.dialog else {
        panic!("menu")
    };
    assert_eq!(menu.items[0].choice, Choice::Resume);
    let cmds = send(&mut m, [key('g'), code(KeyCode::Enter)]);
    match op_cmds(&cmds).as_slice() {
        [
            OpCmd::Prepare {
                start: OpStart::Resume,
                key,
                ..
            },
        ] => assert_eq!(key.id(), ORDERS),
        other => panic!("{other:?}"),
    }

    // Reopening a database whose Lease is already stale offers at once; Enter prepares.
    let mut m = demo();
    send(&mut m, [lease_event(ORDERS, &rec, NOW_MS - 60_000)]);
    command(&mut m, &format!("db {ORDERS}"));
    assert!(matches!(m.ops.dialog, Some(Dialog::Resume(_))));
    let cmds = send(&mut m, [code(KeyCode::Enter)]);
    let id = prepare_id(&cmds);
    let mut p = prepared(OperationName::RollingRestart, &[], passing());
    p.resumed = true;
    p.taking_over = Some("ann@bastion pid 42: rolling-restart step 2 (running)".into());
    update(
        &mut m,
        Msg::Op(OpMsg::Prepared {
            id,
            result: Ok(Box::new(p)),
        }),
    );
    let Some(Dialog::Preflight(pf)) = &m.ops.dialog else {
        panic!("preflight")
    };
    assert!(pf.typed_confirmation(), "taking over needs the id typed");
    // Read-only: no offer.
    let mut ro = demo();
    ro.read_only = true;
    send(&mut ro, [lease_event(ORDERS, &rec, NOW_MS - 60_000)]);
    command(&mut ro, &format!("db {ORDERS}"));
    assert!(ro.ops.dialog.is_none());
}

#[test]
fn y_copies_the_artifact_of_a_finished_backup() {
    let mut m = demo();
    let target = "s3://baton/aws-eu-west-1/payments/orders/20250314T030742Z.backup";
    let id = preflight(
        &mut m,
        OperationName::Backup,
        Ok(prepared(
            OperationName::Backup,
            &[("member", "orders-0"), ("target", target)],
            passing(),
        )),
    );
    let mut msgs = typed("y");
    msgs.extend([Msg::Op(OpMsg::Finished {
        id,
        at_ms: NOW_MS + 9_000,
        outcome: Outcome::Done("backup written".into()),
    })]);
    send(&mut m, msgs);
    let cmds = send(&mut m, [key('y')]);
    assert!(cmds.contains(&Cmd::Copy(target.into())), "{cmds:?}");
}
