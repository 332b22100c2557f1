//! Operations through `update`: the menu and its greyed rows, the parameter form, the
//! preflight answers, confirmation only on the exact database id (or y for member-level ones),
//! Esc and refusals sending nothing, a ✗ disabling confirm, progress events, cancel, quitting
//! while operations run, the OP column and `:ops`, and the resume offer from a stale Lease.

use std::collections::BTreeMap;

use super::*;
use crate::config::OperationName;
use crate::fleet::LeaseInfo;
use crate::ops::record::{OpState, Record};
use crate::ops::runner::{OpEvent, Outcome, Prepared, Request};
use crate::ops::safety::Check;
use crate::tui::ops::{Ask, Choice, Dialog, StepState, step_lines};

const ORDERS: &str = "aws-eu-west-1/payments/orders";

fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

pub(super) fn op_cmds(cmds: &[Cmd]) -> Vec<&OpCmd> {
    cmds.iter()
        .filter_map(|c| match c {
            Cmd::Op(o) => Some(o),
            _ => None,
        })
        .collect()
}

pub(super) fn record(op: OperationName, params: &[(&str, &str)]) -> Record {
    Record {
        operation: op,
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        holder: "me@bastion pid 7".into(),
        started_ms: NOW_MS,
        state: OpState::Running,
        step: 0,
        detail: "preflight".into(),
        original: BTreeMap::new(),
        voters: Vec::new(),
        first: Vec::new(),
        job: None,
        waiting: None,
        plan: Vec::new(),
        forced: Vec::new(),
    }
}

pub(super) fn prepared(op: OperationName, params: &[(&str, &str)], checks: Vec<Check>) -> Prepared {
    Prepared {
        record: record(op, params),
        checks,
        plan: vec![
            "restart orders-rr-0 (READ_REPLICA), then wait until settled".into(),
            "restart orders-0 (FOLLOWER), then wait until settled".into(),
            "restart orders-1 (FOLLOWER), then wait until settled".into(),
            "restart orders-2 (LEADER), then wait until settled — the leader, last".into(),
        ],
        take_at: None,
        resumed: false,
        job_manifest: None,
        taking_over: None,
    }
}

fn passing() -> Vec<Check> {
    vec![
        Check::pass("lock", "no other operation holds the database"),
        Check::pass("settled", "every member Ready, one leader, lag within 100"),
        Check::pass("majority", "3 of 3 voters healthy; 2 stay up"),
    ]
}

/// Opens the profile of `id` and its menu.
fn open_menu(m: &mut Model, id: &str) -> Vec<Cmd> {
    command(m, &format!("db {id}"));
    send(m, [key('o')])
}

/// Moves the menu's selection to `op` and chooses it.
fn choose(m: &mut Model, op: OperationName) -> Vec<Cmd> {
    let Some(Dialog::Menu(menu)) = &m.ops.dialog else {
        panic!("no menu: {:?}", m.ops.dialog)
    };
    let at = menu
        .items
        .iter()
        .position(|i| i.choice == Choice::Op(op))
        .unwrap_or_else(|| panic!("{op:?} not in the menu"));
    let mut msgs = vec![key('g')];
    msgs.extend((0..at).map(|_| key('j')));
    msgs.push(code(KeyCode::Enter));
    send(m, msgs)
}

/// The id of the preflight asked for.
pub(super) fn prepare_id(cmds: &[Cmd]) -> u64 {
    match op_cmds(cmds).as_slice() {
        [OpCmd::Prepare { id, .. }] => *id,
        other => panic!("expected one Prepare, got {other:?}"),
    }
}

/// Launches `op` (no form) on orders and answers its preflight with `answer`.
pub(super) fn preflight(
    m: &mut Model,
    op: OperationName,
    answer: Result<Prepared, Refusal>,
) -> u64 {
    open_menu(m, ORDERS);
    let mut cmds = choose(m, op);
    if matches!(m.ops.dialog, Some(Dialog::Form(_))) {
        // Optional fields only (a backup's member): as they are.
        cmds = send(m, [code(KeyCode::Enter)]);
    }
    let id = prepare_id(&cmds);
    update(
        m,
        Msg::Op(OpMsg::Prepared {
            id,
            result: answer.map(Box::new),
        }),
    );
    id
}

pub(super) fn runs(cmds: &[Cmd]) -> usize {
    op_cmds(cmds)
        .iter()
        .filter(|c| matches!(c, OpCmd::Run { .. }))
        .count()
}

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

/// A confirmed rolling restart on orders; returns its id.
fn started(m: &mut Model) -> u64 {
    let id = preflight(
        m,
        OperationName::RollingRestart,
        Ok(prepared(OperationName::RollingRestart, &[], passing())),
    );
    let mut msgs = typed(ORDERS);
    msgs.push(code(KeyCode::Enter));
    assert_eq!(runs(&send(m, msgs)), 1);
    id
}

fn event(id: u64, at: u64, event: OpEvent) -> Msg {
    Msg::Op(OpMsg::Event {
        id,
        at_ms: NOW_MS + at,
        event,
    })
}

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
        let Some(Dialog::Ask(Ask::Quit { running })) = &m.ops.dialog else {
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

pub(super) fn lease_event(id: &str, rec: &Record, renewed_ms: u64) -> Msg {
    let k = key_of(id);
    Msg::FleetBatch(vec![FleetEvent::OpLeases {
        orchestra: k.orchestra.clone(),
        leases: vec![(
            k.db(),
            LeaseInfo {
                name: format!("baton-op-{}", k.name),
                holder: Some(rec.holder.clone()),
                renewed_ms: Some(renewed_ms),
                duration_s: Some(15),
                operation: Some(serde_json::to_string(rec).unwrap()),
            },
        )],
        complete: false,
    }])
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

// ---------------------------------------------------------------------------------------------
// Snapshots of the dialogs and the progress pane (review them in src/tui/snapshots/).

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
