//! Tests of the dashboard on the deterministic demo fleet: insta snapshots of every view at 80×24
//! and 200×60 here, sequences of messages through `update` in `update` (navigation, views,
//! filter, sort, commands, focus, copy, read-only, key bindings) and in `ops` (operation
//! dialogs, confirmation, progress, cancel, quit, resume).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::fixture::{self, NOW_MS};
use super::model::{Note, SortCol};
use super::*;
use crate::config::theme::ThemeSet;
use crate::fleet::Health;
use crate::fleet::{DbKey, DbRef, FleetEvent, Probe, ProbeReport};

fn theme() -> Theme {
    ThemeSet::new(None).load("default").unwrap()
}

fn demo() -> Model {
    let mut m = fixture::demo_model(theme());
    update(&mut m, Msg::Resize(80, 24));
    m
}

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn code(c: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
}

/// Sends every message; returns all commands.
fn send(m: &mut Model, msgs: impl IntoIterator<Item = Msg>) -> Vec<Cmd> {
    msgs.into_iter().flat_map(|msg| update(m, msg)).collect()
}

fn typed(s: &str) -> Vec<Msg> {
    s.chars().map(key).collect()
}

fn command(m: &mut Model, line: &str) -> Vec<Cmd> {
    let mut msgs = vec![key(':')];
    msgs.extend(typed(line));
    msgs.push(code(KeyCode::Enter));
    send(m, msgs)
}

fn key_of(id: &str) -> DbKey {
    let p: Vec<&str> = id.split('/').collect();
    DbKey {
        orchestra: p[0].into(),
        namespace: p[1].into(),
        name: p[2].into(),
    }
}

fn row_keys(m: &Model) -> Vec<DbKey> {
    (0..m.rows.len())
        .filter_map(|i| m.row(i).cloned())
        .collect()
}

fn screen(m: &mut Model, w: u16, h: u16) -> String {
    update(m, Msg::Resize(w, h));
    buffer_text(&render_to_buffer(m, &m.theme, w, h))
}

fn focus_cmds(cmds: &[Cmd]) -> Vec<&crate::source::Focus> {
    cmds.iter()
        .filter_map(|c| match c {
            Cmd::SetFocus(f) => Some(f),
            _ => None,
        })
        .collect()
}

mod at80;
mod campaigns;
mod follow;
mod force;
mod incident;
mod ops;
mod update;

// ---------------------------------------------------------------------------------------------
// Snapshots (text of the screen; review them in src/tui/snapshots/).

fn snap_sizes(name: &str, m: &mut Model) {
    for (w, h) in [(80, 24), (200, 60)] {
        let text = screen(m, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), text);
    }
}

#[test]
fn snapshot_fleet() {
    snap_sizes("fleet", &mut demo());
}

#[test]
fn snapshot_databases_fleet_wide() {
    let mut m = demo();
    send(&mut m, [key('d')]);
    snap_sizes("databases_all", &mut m);
}

#[test]
fn snapshot_databases_of_an_orchestra() {
    let mut m = demo();
    send(&mut m, [code(KeyCode::Enter), key('j')]);
    snap_sizes("databases_aws", &mut m);
}

#[test]
fn snapshot_databases_filtered() {
    let mut m = demo();
    let mut msgs = vec![key('d'), key('/')];
    msgs.extend(typed("health:degraded"));
    msgs.push(code(KeyCode::Enter));
    send(&mut m, msgs);
    snap_sizes("databases_filtered", &mut m);
}

#[test]
fn snapshot_filter_line_while_typing() {
    let mut m = demo();
    let mut msgs = vec![key('d'), key('/')];
    msgs.extend(typed("orchestra:aws pay"));
    send(&mut m, msgs);
    snap_sizes("filter_typing", &mut m);
}

#[test]
fn snapshot_profile() {
    let mut m = demo();
    command(&mut m, "db aws-eu-west-1/payments/ledger");
    snap_sizes("profile_ledger", &mut m);
    let mut m = demo();
    command(&mut m, "db aws-eu-west-1/analytics/graph");
    snap_sizes("profile_graph_churn", &mut m);
    let mut m = demo();
    command(&mut m, "db gcp-us-central1/shop/inventory");
    snap_sizes("profile_stale_orchestra", &mut m);
}

#[test]
fn snapshot_profile_read_only() {
    let mut m = fixture::demo_model(theme());
    m.read_only = true;
    command(&mut m, "db aws-eu-west-1/payments/ledger");
    snap_sizes("profile_read_only", &mut m);
}

#[test]
fn snapshot_help() {
    let mut m = demo();
    send(&mut m, [key('d'), key('?')]);
    snap_sizes("help", &mut m);
}

#[test]
fn snapshot_command_line() {
    let mut m = demo();
    let mut msgs = vec![key(':')];
    msgs.extend(typed("db aws-eu-west-1/pay"));
    send(&mut m, msgs);
    snap_sizes("command_line", &mut m);
    let mut m = demo();
    command(&mut m, "ctx mars");
    snap_sizes("command_error", &mut m);
}

#[test]
fn tiny_terminals_do_not_panic() {
    let mut m = demo();
    for view in [
        vec![],
        vec![key('d')],
        vec![key('d'), code(KeyCode::Enter)],
        vec![key('?')],
        vec![key(':')],
    ] {
        let mut m2 = m.clone();
        send(&mut m2, view);
        for (w, h) in [(0, 0), (1, 1), (10, 3), (20, 5), (40, 10), (79, 23)] {
            screen(&mut m2, w, h);
        }
    }
    screen(&mut m, 80, 24);
}
