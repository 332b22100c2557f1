//! Confirmation: only on the exact database id (or y/n for member-level operations); Esc and
//! refusals send nothing; a failing check disables confirm.

use super::*;

#[test]
fn a_typed_confirmation_runs_only_on_the_exact_id() {
    let mut m = demo();
    let id = preflight(
        &mut m,
        OperationName::RollingRestart,
        Ok(prepared(OperationName::RollingRestart, &[], passing())),
    );
    let Some(Dialog::Preflight(pf)) = &m.ops.dialog else {
        panic!("preflight: {:?}", m.ops.dialog)
    };
    assert!(pf.typed_confirmation() && pf.can_confirm());
    // Enter does nothing until the id matches exactly: not on nothing, a prefix, another case.
    let mut cmds = send(&mut m, [code(KeyCode::Enter)]);
    cmds.extend(send(&mut m, typed("aws-eu-west-1/payments/order")));
    cmds.extend(send(&mut m, [code(KeyCode::Enter)]));
    cmds.extend(send(&mut m, [key('S'), code(KeyCode::Enter)]));
    assert_eq!(runs(&cmds), 0);
    assert!(matches!(m.ops.dialog, Some(Dialog::Preflight(_))));
    // y is text here, not a yes.
    cmds.extend(send(&mut m, [code(KeyCode::Backspace), key('y')]));
    assert_eq!(runs(&cmds), 0);
    let cmds = send(
        &mut m,
        [code(KeyCode::Backspace), key('s'), code(KeyCode::Enter)],
    );
    match op_cmds(&cmds).as_slice() {
        [
            OpCmd::Run {
                id: run_id,
                key,
                prepared,
            },
        ] => {
            assert_eq!(*run_id, id);
            assert_eq!(key.id(), ORDERS);
            assert_eq!(prepared.record.operation, OperationName::RollingRestart);
        }
        other => panic!("{other:?}"),
    }
    assert!(m.ops.dialog.is_none());
    let run = m.ops.run_of(&key_of(ORDERS)).unwrap();
    assert!(run.running());
    assert_eq!(run.plan.len(), 4);
    assert!(matches!(&m.view, View::Profile { key, .. } if key.id() == ORDERS));
    // Running: the menu greys everything new on this database but raising an incident.
    send(&mut m, [key('o')]);
    let Some(Dialog::Menu(menu)) = &m.ops.dialog else {
        panic!("menu")
    };
    assert!(
        menu.items
            .iter()
            .all(|i| i.why_not.is_some() || i.choice == Choice::Op(OperationName::Incident))
    );
}

#[test]
fn esc_and_refusals_send_nothing_and_a_failing_check_disables_confirm() {
    // Esc while the preflight runs, then its late answer: ignored.
    let mut m = demo();
    open_menu(&mut m, ORDERS);
    let id = prepare_id(&choose(&mut m, OperationName::Stop));
    send(&mut m, [code(KeyCode::Esc)]);
    assert!(m.ops.dialog.is_none());
    update(
        &mut m,
        Msg::Op(OpMsg::Prepared {
            id,
            result: Ok(Box::new(prepared(OperationName::Stop, &[], passing()))),
        }),
    );
    assert!(m.ops.dialog.is_none(), "a late answer opens nothing");

    // Esc on the confirmation.
    let mut m = demo();
    preflight(
        &mut m,
        OperationName::Stop,
        Ok(prepared(OperationName::Stop, &[], passing())),
    );
    let mut cmds = send(&mut m, typed(ORDERS));
    cmds.extend(send(&mut m, [code(KeyCode::Esc)]));
    assert_eq!(runs(&cmds), 0);
    assert!(m.ops.dialog.is_none() && m.ops.runs.is_empty());
    assert!(matches!(&m.note, Some(Note::Info(t)) if t.contains("nothing was sent")));

    // A ✗ in the checks: the exact id and Enter, or y, run nothing.
    let mut checks = passing();
    checks.push(Check::fail(
        "majority",
        Some("orders-1"),
        "only 1 of 3 voters would stay healthy",
    ));
    let mut m = demo();
    preflight(
        &mut m,
        OperationName::RollingRestart,
        Ok(prepared(OperationName::RollingRestart, &[], checks)),
    );
    let Some(Dialog::Preflight(pf)) = &m.ops.dialog else {
        panic!("preflight")
    };
    assert!(!pf.can_confirm());
    let mut cmds = send(&mut m, typed(ORDERS));
    cmds.extend(send(&mut m, [key('y')]));
    assert_eq!(runs(&cmds), 0);
    let cmds = send(&mut m, [code(KeyCode::Enter)]);
    assert_eq!(runs(&cmds), 0);
    assert!(m.ops.dialog.is_none(), "Enter closes a refused preflight");

    // A refusal from the runner: the rule is shown, nothing can run.
    let mut m = demo();
    let refused = Check::fail("majority", Some("orders-2"), "2 of 3 voters healthy");
    preflight(
        &mut m,
        OperationName::RollingRestart,
        Err(Refusal {
            outcome: Outcome::Refused(refused.clone()),
            checks: vec![Check::pass("lock", "no other operation holds the database")],
        }),
    );
    let Some(Dialog::Preflight(pf)) = &m.ops.dialog else {
        panic!("preflight")
    };
    assert!(!pf.can_confirm());
    assert!(pf.checks.contains(&refused));
    assert!(pf.blocked.as_deref().unwrap().contains("rule 'majority'"));
    let mut cmds = send(&mut m, typed(ORDERS));
    cmds.extend(send(&mut m, [code(KeyCode::Enter)]));
    assert_eq!(runs(&cmds), 0);
}

#[test]
fn member_level_operations_confirm_with_y_or_not_with_n() {
    for (answer, run) in [('n', false), ('y', true)] {
        let mut m = demo();
        let id = preflight(
            &mut m,
            OperationName::RestartMember,
            Ok(prepared(
                OperationName::RestartMember,
                &[("member", "orders-0")],
                passing(),
            )),
        );
        let Some(Dialog::Preflight(pf)) = &m.ops.dialog else {
            panic!("preflight")
        };
        assert!(!pf.typed_confirmation());
        // Enter is not a yes.
        let mut cmds = send(&mut m, [code(KeyCode::Enter)]);
        assert_eq!(runs(&cmds), 0);
        cmds.extend(send(&mut m, [key(answer)]));
        assert_eq!(runs(&cmds), usize::from(run), "{answer}");
        assert!(m.ops.dialog.is_none());
        assert_eq!(
            m.ops.run_of(&key_of(ORDERS)).map(|r| r.id),
            run.then_some(id)
        );
    }
    // Taking over a stale lock needs the id typed even for a member-level operation.
    let mut m = demo();
    let mut p = prepared(
        OperationName::RestartMember,
        &[("member", "orders-0")],
        passing(),
    );
    p.taking_over = Some("ann@bastion pid 9: rolling-restart step 2 (running)".into());
    preflight(&mut m, OperationName::RestartMember, Ok(p));
    let cmds = send(&mut m, [key('y')]);
    assert_eq!(runs(&cmds), 0);
    let Some(Dialog::Preflight(pf)) = &m.ops.dialog else {
        panic!("preflight")
    };
    assert!(pf.typed_confirmation());
}

#[test]
fn the_confirmation_says_where_it_runs_and_tab_switches_it() {
    // No runner image configured: no choice shown, a run here.
    let mut m = demo();
    preflight(
        &mut m,
        OperationName::RollingRestart,
        Ok(prepared(OperationName::RollingRestart, &[], passing())),
    );
    assert!(!screen(&mut m, 200, 60).contains("runs here"));

    // In the orchestra by default (the config), Tab brings it here and back.
    let mut m = demo();
    m.config.operations.run = crate::config::RunPlace::InCluster;
    m.config.operations.runner_image = Some("ghcr.io/baton-sre/baton:test".into());
    let id = preflight(
        &mut m,
        OperationName::RollingRestart,
        Ok(prepared(OperationName::RollingRestart, &[], passing())),
    );
    let shown = screen(&mut m, 200, 60);
    assert!(
        shown.contains("runs in the orchestra: a Job of baton that outlives this session")
            && shown.contains("Tab here"),
        "{shown}"
    );
    snap_sizes("ops_confirm_in_cluster", &mut m);
    send(&mut m, [code(KeyCode::Tab)]);
    assert!(screen(&mut m, 200, 60).contains("runs here, in this baton"));
    send(&mut m, [code(KeyCode::Tab)]);
    let mut msgs = typed(ORDERS);
    msgs.push(code(KeyCode::Enter));
    let cmds = send(&mut m, msgs);
    match op_cmds(&cmds).as_slice() {
        [
            OpCmd::Launch {
                id: run_id,
                key,
                image,
                request,
                ..
            },
        ] => {
            assert_eq!(*run_id, id);
            assert_eq!(key.id(), ORDERS);
            assert_eq!(image, "ghcr.io/baton-sre/baton:test");
            assert_eq!(*request, Request::default());
        }
        other => panic!("{other:?}"),
    }
    assert!(m.ops.run_of(&key_of(ORDERS)).unwrap().running());

    // Switched to here: an ordinary run.
    let mut m = demo();
    m.config.operations.run = crate::config::RunPlace::InCluster;
    m.config.operations.runner_image = Some("ghcr.io/baton-sre/baton:test".into());
    preflight(
        &mut m,
        OperationName::RollingRestart,
        Ok(prepared(OperationName::RollingRestart, &[], passing())),
    );
    send(&mut m, [code(KeyCode::Tab)]);
    let mut msgs = typed(ORDERS);
    msgs.push(code(KeyCode::Enter));
    assert_eq!(runs(&send(&mut m, msgs)), 1);
}
