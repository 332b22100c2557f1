//! The operations menu (offered and greyed rows, by profile, role and identity; from the
//! database list and for a member) and the parameter form's validation.

use super::*;

#[test]
fn the_menu_lists_the_profiles_operations_greyed_with_reasons() {
    let mut m = demo();
    let cmds = open_menu(&mut m, ORDERS);
    assert!(op_cmds(&cmds).is_empty(), "opening the menu sends nothing");
    let Some(Dialog::Menu(menu)) = &m.ops.dialog else {
        panic!("menu")
    };
    let why = |op| {
        menu.items
            .iter()
            .find(|i| i.choice == Choice::Op(op))
            .map(|i| i.why_not.clone())
    };
    assert_eq!(why(OperationName::RollingRestart), Some(None));
    assert_eq!(why(OperationName::Backup), Some(None));
    assert_eq!(why(OperationName::ReplaceMember), Some(None));
    assert_eq!(why(OperationName::Incident), Some(None));
    // The selection starts on the first row that can run.
    assert!(menu.items[menu.sel].why_not.is_none());
    assert_eq!(menu.member.as_deref(), Some("orders-0"));

    // An etcd database: only what its profile supports (no backup, no restore).
    let mut m = demo();
    open_menu(&mut m, "aws-eu-west-1/infra/etcd-main");
    let Some(Dialog::Menu(menu)) = &m.ops.dialog else {
        panic!("menu")
    };
    let ops: Vec<Choice> = menu.items.iter().map(|i| i.choice).collect();
    assert!(ops.contains(&Choice::Op(OperationName::RollingRestart)));
    assert!(!ops.contains(&Choice::Op(OperationName::Backup)));
    assert!(!ops.contains(&Choice::Op(OperationName::Restore)));

    // Read-only: everything greyed, and choosing one sends nothing.
    let mut ro = demo();
    ro.read_only = true;
    open_menu(&mut ro, ORDERS);
    let Some(Dialog::Menu(menu)) = &ro.ops.dialog else {
        panic!("menu")
    };
    assert!(menu.items.iter().all(|i| i.why_not.is_some()));
    assert!(
        menu.items
            .iter()
            .filter(|i| i.spec().is_some_and(|s| s.available))
            .all(|i| i.why_not.as_deref() == Some("read-only: operations are off"))
    );
    let cmds = send(&mut ro, [code(KeyCode::Enter)]);
    assert!(op_cmds(&cmds).is_empty());
    assert!(matches!(&ro.note, Some(Note::Error(e)) if e.contains("read-only")));

    // A role that may only back up.
    let mut m = demo();
    m.config.roles.insert(
        "backup-only".into(),
        crate::config::RoleConfig {
            operations: vec![OperationName::Backup],
        },
    );
    m.config.general.role = "backup-only".into();
    open_menu(&mut m, ORDERS);
    let Some(Dialog::Menu(menu)) = &m.ops.dialog else {
        panic!("menu")
    };
    let rr = menu
        .items
        .iter()
        .find(|i| i.choice == Choice::Op(OperationName::RollingRestart))
        .unwrap();
    assert_eq!(
        rr.why_not.as_deref(),
        Some("role 'backup-only' may not run it")
    );
    assert_eq!(
        menu.items[menu.sel].choice,
        Choice::Op(OperationName::Backup)
    );
    // Esc closes it; nothing was sent.
    let cmds = send(&mut m, [code(KeyCode::Esc)]);
    assert!(m.ops.dialog.is_none());
    assert!(op_cmds(&cmds).is_empty());
}

/// The offered (not greyed) operations of the open menu, and each greyed one's reason.
fn offered(m: &Model) -> (Vec<OperationName>, BTreeMap<OperationName, String>) {
    let Some(Dialog::Menu(menu)) = &m.ops.dialog else {
        panic!("menu")
    };
    let mut yes = Vec::new();
    let mut no = BTreeMap::new();
    for i in &menu.items {
        if let Choice::Op(op) = i.choice {
            match &i.why_not {
                None => yes.push(op),
                Some(w) => {
                    no.insert(op, w.clone());
                }
            }
        }
    }
    (yes, no)
}

#[test]
fn the_role_and_the_identity_decide_what_the_menu_offers() {
    // A role of backup and diagnostics: exactly those.
    let mut m = demo();
    m.config.roles.insert(
        "backup-diag".into(),
        crate::config::RoleConfig {
            operations: vec![OperationName::Backup, OperationName::Diagnostics],
        },
    );
    m.config.general.role = "backup-diag".into();
    open_menu(&mut m, ORDERS);
    let (yes, no) = offered(&m);
    assert_eq!(yes, [OperationName::Backup, OperationName::Diagnostics]);
    assert_eq!(
        no.get(&OperationName::RollingRestart).map(String::as_str),
        Some("role 'backup-diag' may not run it")
    );

    // The identity: its API server's answers grey what it may not do, naming the permission.
    let mut m = demo();
    let answers = |allowed: &dyn Fn(&str) -> bool| crate::fleet::Access {
        answers: crate::source::access::asked()
            .into_iter()
            .map(|p| (p, allowed(p.0)))
            .collect(),
    };
    // May delete pods and hold the lock, not create Jobs or patch StatefulSets.
    send(
        &mut m,
        [Msg::Fleet(FleetEvent::Access {
            orchestra: "aws-eu-west-1".into(),
            access: crate::fleet::Access {
                answers: answers(&|verb| matches!(verb, "get" | "list" | "watch"))
                    .answers
                    .into_iter()
                    .map(|(p, a)| {
                        let ok = a
                            || matches!(
                                p,
                                ("delete", "pods", "")
                                    | (_, "leases", "")
                                    | ("create", "events", "")
                            );
                        (p, ok)
                    })
                    .collect(),
            },
        })],
    );
    assert!(!m.identity_observer("aws-eu-west-1"));
    open_menu(&mut m, ORDERS);
    let (yes, no) = offered(&m);
    assert!(yes.contains(&OperationName::RollingRestart), "{yes:?}");
    assert_eq!(
        no.get(&OperationName::Backup).map(String::as_str),
        Some("missing: create jobs")
    );
    assert_eq!(
        no.get(&OperationName::Resize).map(String::as_str),
        Some("missing: patch statefulsets")
    );
    let cmds = send(&mut m, [code(KeyCode::Esc)]);
    assert!(op_cmds(&cmds).is_empty());

    // An identity that may change nothing: an observer, every operation greyed.
    let mut m = demo();
    send(
        &mut m,
        [Msg::Fleet(FleetEvent::Access {
            orchestra: "aws-eu-west-1".into(),
            access: answers(&|verb| matches!(verb, "get" | "list" | "watch")),
        })],
    );
    assert!(m.identity_observer("aws-eu-west-1"));
    assert!(
        m.identity.contains("role observer") && !m.identity.contains("role operator"),
        "{}",
        m.identity
    );
    open_menu(&mut m, ORDERS);
    let (yes, no) = offered(&m);
    // Raising an incident asks nothing of Kubernetes (a webhook post): still offered.
    assert_eq!(yes, [OperationName::Incident], "{yes:?}");
    assert_eq!(
        no.get(&OperationName::RollingRestart).map(String::as_str),
        Some("missing: delete pods, create leases, update leases, create events")
    );
}

#[test]
fn the_databases_view_opens_the_menu_of_the_selected_row() {
    let mut m = demo();
    send(&mut m, [key('d')]);
    let row = m.row(m.db_sel).cloned().unwrap();
    send(&mut m, [key('o')]);
    let Some(Dialog::Menu(menu)) = &m.ops.dialog else {
        panic!("menu")
    };
    assert_eq!(menu.key, row);
    assert_eq!(menu.member, None, "no member is selected in a list");
}

#[test]
fn member_level_operations_act_on_the_selected_member() {
    let mut m = demo();
    command(&mut m, &format!("db {ORDERS}"));
    send(&mut m, [key('j')]);
    send(&mut m, [key('o')]);
    let cmds = choose(&mut m, OperationName::RestartMember);
    match op_cmds(&cmds).as_slice() {
        [
            OpCmd::Prepare {
                key,
                start: OpStart::New(OperationName::RestartMember, req),
                ..
            },
        ] => {
            assert_eq!(key.id(), ORDERS);
            assert_eq!(req.member.as_deref(), Some("orders-1"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(m.ops.dialog, Some(Dialog::Preparing { .. })));

    // From the list there is no selected member: the form asks which, and checks it.
    let mut m = demo();
    send(&mut m, [key('d')]);
    let i = m.row_of(&key_of(ORDERS)).unwrap();
    m.db_sel = i;
    send(&mut m, [key('o')]);
    let cmds = choose(&mut m, OperationName::RestartMember);
    assert!(op_cmds(&cmds).is_empty());
    let mut msgs = typed("orders-9");
    msgs.push(code(KeyCode::Enter));
    let cmds = send(&mut m, msgs);
    assert!(op_cmds(&cmds).is_empty(), "an unknown member runs nothing");
    let Some(Dialog::Form(f)) = &m.ops.dialog else {
        panic!("form")
    };
    assert!(f.error.as_deref().unwrap().contains("no member 'orders-9'"));
    let cmds = send(
        &mut m,
        [code(KeyCode::Backspace), key('1'), code(KeyCode::Enter)],
    );
    match op_cmds(&cmds).as_slice() {
        [
            OpCmd::Prepare {
                start: OpStart::New(_, req),
                ..
            },
        ] => {
            assert_eq!(req.member.as_deref(), Some("orders-1"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_form_validates_before_anything_runs() {
    let mut m = demo();
    open_menu(&mut m, ORDERS);
    let cmds = choose(&mut m, OperationName::Resize);
    assert!(op_cmds(&cmds).is_empty());
    let Some(Dialog::Form(f)) = &m.ops.dialog else {
        panic!("form")
    };
    assert_eq!(
        f.fields.iter().map(|f| f.key).collect::<Vec<_>>(),
        ["memory", "strategy"]
    );
    // Empty, then not a quantity: nothing is sent, the error says why.
    let cmds = send(&mut m, [code(KeyCode::Enter)]);
    assert!(op_cmds(&cmds).is_empty());
    let Some(Dialog::Form(f)) = &m.ops.dialog else {
        panic!("form")
    };
    assert!(f.error.as_deref().unwrap().contains("memory is needed"));
    let mut msgs = typed("8GB");
    msgs.push(code(KeyCode::Enter));
    let cmds = send(&mut m, msgs);
    assert!(op_cmds(&cmds).is_empty());
    let Some(Dialog::Form(f)) = &m.ops.dialog else {
        panic!("form")
    };
    assert!(
        f.error
            .as_deref()
            .unwrap()
            .contains("not a Kubernetes quantity")
    );
    // Fixed: the preflight is asked for with the value.
    let cmds = send(
        &mut m,
        [code(KeyCode::Backspace), key('i'), code(KeyCode::Enter)],
    );
    match op_cmds(&cmds).as_slice() {
        [
            OpCmd::Prepare {
                start: OpStart::New(OperationName::Resize, req),
                ..
            },
        ] => {
            assert_eq!(req.params.get("memory").map(String::as_str), Some("8Gi"));
        }
        other => panic!("{other:?}"),
    }

    // Esc in the form goes back to the menu, Esc there closes; nothing was sent.
    let mut m = demo();
    open_menu(&mut m, ORDERS);
    choose(&mut m, OperationName::Upgrade);
    let mut msgs = typed("5.27 0");
    msgs.push(code(KeyCode::Enter));
    let mut cmds = send(&mut m, msgs);
    let Some(Dialog::Form(f)) = &m.ops.dialog else {
        panic!("form")
    };
    assert!(f.error.as_deref().unwrap().contains("not an image tag"));
    cmds.extend(send(&mut m, [code(KeyCode::Esc)]));
    assert!(matches!(m.ops.dialog, Some(Dialog::Menu(_))));
    cmds.extend(send(&mut m, [code(KeyCode::Esc)]));
    assert!(m.ops.dialog.is_none());
    assert!(op_cmds(&cmds).is_empty());

    // Restore needs an artifact address; backup's member is optional.
    let mut m = demo();
    open_menu(&mut m, ORDERS);
    choose(&mut m, OperationName::Restore);
    let mut msgs = typed("latest.backup");
    msgs.push(code(KeyCode::Enter));
    assert!(op_cmds(&send(&mut m, msgs)).is_empty());
    let mut m = demo();
    open_menu(&mut m, ORDERS);
    choose(&mut m, OperationName::Backup);
    let cmds = send(&mut m, [code(KeyCode::Enter)]);
    match op_cmds(&cmds).as_slice() {
        [
            OpCmd::Prepare {
                start: OpStart::New(OperationName::Backup, req),
                ..
            },
        ] => {
            assert_eq!(req, &Request::default());
        }
        other => panic!("{other:?}"),
    }
}
