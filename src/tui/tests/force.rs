//! Forcing past a failing safety rule from the confirmation: only when the config allows it,
//! only for rules that may be forced, prepared again with the rule named, and then only with
//! the database id typed; a forced check never looks like one that holds.

use super::ops::{op_cmds, preflight, prepare_id, prepared, runs};
use super::*;
use crate::config::OperationName;
use crate::ops::safety::Check;
use crate::tui::msg::Refusal;
use crate::tui::ops::Dialog;

const ORDERS: &str = "aws-eu-west-1/payments/orders";

fn allowing() -> Model {
    let mut config = fixture::demo_config();
    config.operations.allow_force = true;
    let mut m = fixture::demo_model_with(config, theme());
    update(&mut m, Msg::Resize(80, 24));
    m
}

fn refused_by(rule: &'static str) -> Refusal {
    let c = Check::fail(
        rule,
        Some("orders-1"),
        "taking orders-1 down would leave 1/3 voters healthy (need 2)",
    );
    Refusal {
        outcome: crate::ops::runner::Outcome::Refused(c.clone()),
        checks: vec![
            Check::pass("lock", "no other operation holds the database"),
            c,
        ],
    }
}

#[test]
fn f_prepares_again_forced_and_the_id_must_be_typed() {
    let mut m = allowing();
    preflight(
        &mut m,
        OperationName::RollingRestart,
        Err(refused_by("majority")),
    );
    let s = screen(&mut m, 200, 60);
    assert!(s.contains("F force past majority"), "{s}");
    snap_sizes("ops_force_offered", &mut m);
    let cmds = send(&mut m, [key('F')]);
    match op_cmds(&cmds).as_slice() {
        [
            OpCmd::Prepare {
                start: OpStart::New(OperationName::RollingRestart, req),
                ..
            },
        ] => assert_eq!(req.force, ["majority"]),
        other => panic!("{other:?}"),
    }
    let id = prepare_id(&cmds);
    let mut p = prepared(
        OperationName::RollingRestart,
        &[],
        vec![
            Check::pass("lock", "no other operation holds the database"),
            Check::pass(
                "majority",
                "FORCED past: taking orders-1 down would leave 1/3",
            ),
        ],
    );
    p.record.forced = vec!["majority".into()];
    update(
        &mut m,
        Msg::Op(OpMsg::Prepared {
            id,
            result: Ok(Box::new(p)),
        }),
    );
    let s = screen(&mut m, 200, 60);
    assert!(s.contains("! majority: FORCED past"), "{s}");
    assert!(s.contains("type the database id to confirm"), "{s}");
    snap_sizes("ops_forced_confirmation", &mut m);
    // y does not run a forced operation; the exact id does.
    assert_eq!(runs(&send(&mut m, [key('y')])), 0);
    send(&mut m, [code(KeyCode::Backspace)]);
    let mut keys = typed(ORDERS);
    keys.push(code(KeyCode::Enter));
    assert_eq!(runs(&send(&mut m, keys)), 1);
}

#[test]
fn without_the_config_or_for_the_lock_f_does_nothing() {
    let mut m = demo();
    preflight(
        &mut m,
        OperationName::RollingRestart,
        Err(refused_by("majority")),
    );
    let s = screen(&mut m, 200, 60);
    assert!(!s.contains("F force"), "{s}");
    assert!(op_cmds(&send(&mut m, [key('F')])).is_empty());
    assert!(matches!(m.ops.dialog, Some(Dialog::Preflight(_))));
    for rule in ["lock", "permission", "read-only"] {
        let mut m = allowing();
        preflight(&mut m, OperationName::RollingRestart, Err(refused_by(rule)));
        assert!(op_cmds(&send(&mut m, [key('F')])).is_empty(), "{rule}");
    }
}
