//! Operations through `update`: the menu and its greyed rows, the parameter form, the
//! preflight answers, confirmation only on the exact database id (or y for member-level ones),
//! Esc and refusals sending nothing, a ✗ disabling confirm, progress events, cancel, quitting
//! while operations run, the OP column and `:ops`, and the resume offer from a stale Lease.
//!
//! Shared helpers here; the tests by theme in `menu`, `confirm`, `progress` and `snapshots`.

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

mod confirm;
mod menu;
mod progress;
mod snapshots;
