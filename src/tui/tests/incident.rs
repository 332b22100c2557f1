//! Raising an incident from the dashboard: the menu offers it, the summary is read (reads only)
//! and shown for a y/n, y posts it, Esc sends nothing; the answers land on the status line.

use super::ops::op_cmds;
use super::*;
use crate::tui::ops::{Ask, Choice, Dialog};

const ORDERS: &str = "aws-eu-west-1/payments/orders";

fn open_incident(m: &mut Model) -> u64 {
    command(m, &format!("db {ORDERS}"));
    send(m, [key('o')]);
    let Some(Dialog::Menu(menu)) = &m.ops.dialog else {
        panic!("menu: {:?}", m.ops.dialog)
    };
    let row = menu
        .items
        .iter()
        .position(|i| i.choice == Choice::Op(crate::config::OperationName::Incident))
        .expect("incident in the menu");
    assert_eq!(menu.items[row].why_not, None, "incident can be raised here");
    let down: Vec<Msg> = (0..row).map(|_| key('j')).collect();
    send(m, down);
    let cmds = send(m, [code(KeyCode::Enter)]);
    match op_cmds(&cmds).as_slice() {
        [OpCmd::IncidentSummary { id, key }] => {
            assert_eq!(key.id(), ORDERS);
            *id
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_incident_is_read_shown_confirmed_and_posted() {
    let mut m = demo();
    let id = open_incident(&mut m);
    let s = screen(&mut m, 80, 24);
    assert!(s.contains("reads only"), "{s}");
    // y before the summary is read does nothing.
    assert!(op_cmds(&send(&mut m, [key('y')])).is_empty());
    let text = "Incident: aws-eu-west-1/payments/orders is healthy — leader orders-2, term 7\n  ★ orders-2 LEADER ready=true lag=0\n";
    update(
        &mut m,
        Msg::Op(OpMsg::IncidentSummary {
            id,
            result: Ok(text.into()),
        }),
    );
    let s = screen(&mut m, 80, 24);
    assert!(s.contains("Post this to the incident webhook?"), "{s}");
    assert!(s.contains("★ orders-2 LEADER"), "{s}");
    snap_sizes("ops_incident", &mut m);
    let cmds = send(&mut m, [key('y')]);
    match op_cmds(&cmds).as_slice() {
        [OpCmd::PostIncident { key, text: sent }] => {
            assert_eq!(key.id(), ORDERS);
            assert_eq!(sent, text);
        }
        other => panic!("{other:?}"),
    }
    assert!(m.ops.dialog.is_none());
    update(
        &mut m,
        Msg::Op(OpMsg::IncidentPosted {
            key: key_of(ORDERS),
            result: Err("no incident webhook: set operations.incident_webhook_env".into()),
        }),
    );
    assert!(
        matches!(&m.note, Some(Note::Error(e)) if e.contains("not posted") && e.contains("incident_webhook_env"))
    );
}

#[test]
fn escape_or_a_failed_read_sends_nothing() {
    let mut m = demo();
    let id = open_incident(&mut m);
    update(
        &mut m,
        Msg::Op(OpMsg::IncidentSummary {
            id,
            result: Ok("Incident: …\n".into()),
        }),
    );
    assert!(matches!(
        m.ops.dialog,
        Some(Dialog::Ask(Ask::Incident { text: Some(_), .. }))
    ));
    assert!(op_cmds(&send(&mut m, [code(KeyCode::Esc)])).is_empty());
    assert!(m.ops.dialog.is_none());
    let id = open_incident(&mut m);
    update(
        &mut m,
        Msg::Op(OpMsg::IncidentSummary {
            id,
            result: Err("cannot observe: connection refused".into()),
        }),
    );
    assert!(m.ops.dialog.is_none());
    assert!(matches!(&m.note, Some(Note::Error(e)) if e.contains("connection refused")));
}
