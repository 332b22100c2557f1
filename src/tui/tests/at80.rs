//! Issue 13, "3 a.m. at 80×24": snapshots at 80×24 of the states an engineer paged at night
//! meets (startup before the probes answered, a long leader name, a static inventory database,
//! an error, the profile's events pane and member detail) and the rules behind them (columns
//! decided once, no false alarm before the first probe, a filter belongs to its list, errors
//! in full on their own line and expiring).

use super::*;
use crate::fleet::{Connection, PodInfo};
use crate::tui::model::{ERROR_TTL_MS, Pane, View};

fn pod(name: &str, image: &str) -> PodInfo {
    PodInfo {
        name: name.into(),
        ready: true,
        phase: "Running".into(),
        restarts: 0,
        node: "ip-10-0-1-1.internal".into(),
        zone: "eu-west-1a".into(),
        ip: "10.1.0.20".into(),
        image: image.into(),
        created_ms: Some(NOW_MS - 30 * 60_000),
        terminating: false,
    }
}

fn db(ns: &str, name: &str) -> DbRef {
    DbRef {
        namespace: ns.into(),
        name: name.into(),
    }
}

fn pods(orchestra: &str, profile: &str, dbs: &[(&DbRef, Vec<PodInfo>)]) -> FleetEvent {
    FleetEvent::Pods {
        orchestra: orchestra.into(),
        profile: profile.into(),
        pods: dbs
            .iter()
            .flat_map(|(d, ps)| ps.iter().map(|p| ((*d).clone(), p.clone())))
            .collect(),
        complete: true,
    }
}

fn answer(member: &str, leader: &str, term: u64, applied: u64) -> Probe {
    Probe::Ok(ProbeReport {
        member_id: member.into(),
        leader_id: Some(leader.into()),
        is_leader: member == leader,
        term: Some(term),
        applied_index: Some(applied),
        voter: true,
        healthy: true,
        ..ProbeReport::default()
    })
}

fn probed(orchestra: &str, d: &DbRef, results: Vec<(&str, Probe)>) -> FleetEvent {
    FleetEvent::Probed {
        orchestra: orchestra.into(),
        db: d.clone(),
        results: results
            .into_iter()
            .map(|(n, p)| (n.to_string(), p))
            .collect(),
        at_ms: NOW_MS - 1_000,
    }
}

fn live(orchestra: &str) -> FleetEvent {
    FleetEvent::Connection {
        orchestra: orchestra.into(),
        state: Connection::Live,
    }
}

fn fresh(orchestras: &[&str]) -> Model {
    let mut m = Model::new(
        fixture::demo_config(),
        theme(),
        "kubeconfig ~/.kube/config · role operator".into(),
        false,
        orchestras.iter().map(|o| o.to_string()).collect(),
        NOW_MS,
    );
    update(&mut m, Msg::Resize(80, 24));
    m
}

fn members(prefix: &str, n: usize, image: &str) -> Vec<PodInfo> {
    (0..n)
        .map(|i| pod(&format!("{prefix}-{i}"), image))
        .collect()
}

const NEO: &str = "neo4j:5.26.0-enterprise";

/// Two seconds after start: pods seen, probes partly answered.
fn startup() -> Model {
    let mut m = fresh(&["aws-eu-west-1", "acme-prod"]);
    let orders = db("payments", "orders");
    let ledger = db("payments", "ledger");
    let audit = db("acme", "audit");
    send(
        &mut m,
        [Msg::FleetBatch(vec![
            live("aws-eu-west-1"),
            live("acme-prod"),
            pods(
                "aws-eu-west-1",
                "neo4j",
                &[
                    (&orders, members("orders", 3, NEO)),
                    (&ledger, members("ledger", 3, NEO)),
                ],
            ),
            pods("acme-prod", "neo4j", &[(&audit, members("audit", 3, NEO))]),
            // orders: one follower answered, the leader's probe not yet.
            probed(
                "aws-eu-west-1",
                &orders,
                vec![("orders-0", answer("orders-0", "orders-1", 4, 100))],
            ),
            // ledger: every member answered.
            probed(
                "aws-eu-west-1",
                &ledger,
                vec![
                    ("ledger-0", answer("ledger-0", "ledger-0", 2, 50)),
                    ("ledger-1", answer("ledger-1", "ledger-0", 2, 50)),
                    ("ledger-2", answer("ledger-2", "ledger-0", 2, 48)),
                ],
            ),
        ])],
    );
    m
}

#[test]
fn startup_before_probes_shows_no_false_alarm() {
    let mut m = startup();
    let orders = &m.fleet.databases[&key_of("aws-eu-west-1/payments/orders")];
    assert_eq!(
        orders.state.health,
        Health::Unknown,
        "{:?}",
        orders.state.reasons
    );
    assert_eq!(m.counts.down + m.counts.degraded, 0);
    assert!(m.worst.is_empty(), "nothing in 'degraded right now'");
    let fleet = screen(&mut m, 80, 24);
    assert!(!fleet.contains("down"), "{fleet}");
    assert!(!fleet.contains("all 0"), "{fleet}");
    insta::assert_snapshot!("startup_fleet_80x24", fleet);
    send(&mut m, [key('d')]);
    let list = screen(&mut m, 80, 24);
    assert!(list.contains("probing…"), "{list}");
    assert!(!list.contains("no leader"), "{list}");
    insta::assert_snapshot!("startup_databases_80x24", list);
}

/// The demo fleet plus a database whose members have long names.
fn long_leader() -> Model {
    let mut m = demo();
    let wh = db("analytics", "warehouse");
    let prefix = "warehouse-graph-core-eu-west-1a";
    let names: Vec<String> = (0..3).map(|i| format!("{prefix}-{i}")).collect();
    let mut ps = members(prefix, 3, NEO);
    ps[1].restarts = 2;
    send(
        &mut m,
        [Msg::FleetBatch(vec![
            FleetEvent::Pods {
                orchestra: "aws-eu-west-1".into(),
                profile: "neo4j".into(),
                pods: ps.into_iter().map(|p| (wh.clone(), p)).collect(),
                complete: false,
            },
            probed(
                "aws-eu-west-1",
                &wh,
                names
                    .iter()
                    .map(|n| (n.as_str(), answer(n, &names[2], 8, 7_000)))
                    .collect(),
            ),
        ])],
    );
    m
}

#[test]
fn the_databases_list_keeps_orchestra_and_leader_at_80_columns() {
    let mut m = long_leader();
    send(&mut m, [key('d')]);
    let text = screen(&mut m, 80, 24);
    let header = text.lines().nth(1).unwrap_or_default();
    for col in ["DATABASE", "ORCHESTRA", "HEALTH", "LEADER", "READY", "LAG"] {
        assert!(header.contains(col), "{col} missing: {header}");
    }
    // A long leader name is cut in the middle: the member's ordinal stays readable.
    assert!(text.contains("★ warehou…st-1a-2"), "{text}");
    insta::assert_snapshot!("databases_long_leader_80x24", text);
    // A filter does not change which columns there are (no TERM full of '-', no lost VERSION).
    let mut msgs = vec![key('/')];
    msgs.extend(typed("version:4.4"));
    msgs.push(code(KeyCode::Enter));
    send(&mut m, msgs);
    let filtered = screen(&mut m, 80, 24);
    assert_eq!(
        filtered
            .lines()
            .nth(1)
            .map(str::split_whitespace)
            .map(Iterator::count),
        Some(header.split_whitespace().count()),
        "{filtered}"
    );
    assert!(filtered.contains("acme/audit"), "{filtered}");
}

#[test]
fn sorting_by_a_column_keeps_it_on_screen() {
    let mut m = demo();
    send(&mut m, [key('d')]);
    // Cycle to the term (not shown at 80 columns by default).
    while m.sort != SortCol::Term {
        send(&mut m, [key('s')]);
    }
    let text = screen(&mut m, 80, 24);
    let header = text.lines().nth(1).unwrap_or_default();
    assert!(header.contains("TERM▾"), "{header}");
    assert!(
        text.lines().next().unwrap_or_default().contains("term▾"),
        "{text}"
    );
}

#[test]
fn snapshot_profile_long_leader_keeps_the_version() {
    let mut m = long_leader();
    command(&mut m, "db aws-eu-west-1/analytics/warehouse");
    let text = screen(&mut m, 80, 24);
    assert!(text.contains("neo4j 5.26.0"), "{text}");
    insta::assert_snapshot!("profile_long_leader_80x24", text);
}

/// An etcd member's answer says its version.
fn reports_version(p: Probe) -> Probe {
    match p {
        Probe::Ok(r) => Probe::Ok(ProbeReport {
            version: Some("3.5.17".into()),
            ..r
        }),
        other => other,
    }
}

/// A config-file inventory database: members are status URLs, one not answering.
fn with_static() -> Model {
    let mut m = demo();
    let cfg = db("static", "config");
    let urls = ["10.0.0.1:2379", "10.0.0.2:2379", "10.0.0.3:2379"];
    let ps: Vec<PodInfo> = urls
        .iter()
        .map(|u| PodInfo {
            name: (*u).into(),
            ready: true,
            phase: crate::fleet::store::STATIC_PHASE.into(),
            ip: format!("http://{u}"),
            ..PodInfo::default()
        })
        .collect();
    send(
        &mut m,
        [Msg::FleetBatch(vec![
            live("onprem"),
            pods("onprem", "etcd", &[(&cfg, ps)]),
            probed(
                "onprem",
                &cfg,
                vec![
                    (urls[0], reports_version(answer(urls[0], urls[0], 5, 900))),
                    (urls[1], reports_version(answer(urls[1], urls[0], 5, 900))),
                    (urls[2], Probe::Error("connection refused".into())),
                ],
            ),
        ])],
    );
    m
}

#[test]
fn a_static_inventory_database_shows_what_is_true() {
    let mut m = with_static();
    let d = &m.fleet.databases[&key_of("onprem/static/config")];
    assert!(d.is_static());
    assert_eq!(d.ready(), 2, "a member that does not answer is not ready");
    command(&mut m, "db onprem/static/config");
    let text = screen(&mut m, 80, 24);
    assert!(text.contains("answering 2/3"), "{text}");
    assert!(
        text.contains("etcd 3.5.17"),
        "the version the members report: {text}"
    );
    assert!(!text.contains("pod static"), "{text}");
    assert!(!text.contains("Kubernetes events"), "{text}");
    assert!(!text.contains("operations:"), "{text}");
    insta::assert_snapshot!("profile_static_80x24", text);
    // No events pane to move to.
    send(&mut m, [key('e')]);
    assert_eq!(m.pane, Pane::Members);
    // No Kubernetes, no operations: `o` says so instead of offering them.
    let cmds = send(&mut m, [key('o')]);
    assert!(m.ops.dialog.is_none(), "no operations menu");
    assert!(cmds.is_empty(), "{cmds:?}");
    assert!(matches!(&m.note, Some(Note::Info(t)) if t.contains("no operations")));
    send(&mut m, [code(KeyCode::Esc)]);
    let list = screen(&mut m, 80, 24);
    assert!(list.contains("2/3"), "{list}");
}

#[test]
fn snapshot_databases_with_an_error() {
    let mut m = demo();
    send(&mut m, [key('d')]);
    command(&mut m, "db no-such-orchestra/nothing/here");
    let text = screen(&mut m, 80, 24);
    // Health stays on the status bar; the error has its own line, in full.
    let last = text.lines().last().unwrap_or_default();
    assert!(last.contains("1 down · 3 degraded"), "{last}");
    assert!(!last.contains('✗'), "{last}");
    let error_line = text.lines().rev().nth(1).unwrap_or_default();
    assert!(error_line.starts_with("✗ "), "{error_line}");
    insta::assert_snapshot!("databases_error_80x24", text);
}

#[test]
fn errors_expire() {
    let mut m = demo();
    command(&mut m, "nonsense");
    assert!(matches!(m.note, Some(Note::Error(_))));
    // Nobody at the keyboard since: it stays until someone has seen it.
    let later = NOW_MS + 10 * ERROR_TTL_MS;
    send(&mut m, [Msg::Tick { now_ms: later }]);
    assert!(matches!(m.note, Some(Note::Error(_))), "unseen errors stay");
    // A new error; a key pressed since: it goes once it has been there long enough.
    command(&mut m, "nonsense again");
    send(&mut m, [key('j')]);
    send(
        &mut m,
        [Msg::Tick {
            now_ms: later + ERROR_TTL_MS - 1,
        }],
    );
    assert!(matches!(m.note, Some(Note::Error(_))), "not yet");
    assert!(m.main_height() < 23);
    send(
        &mut m,
        [Msg::Tick {
            now_ms: later + ERROR_TTL_MS,
        }],
    );
    assert_eq!(m.note, None);
    assert_eq!(
        m.main_height(),
        23,
        "the error's line is given back to the view"
    );
}

#[test]
fn a_filter_belongs_to_its_list() {
    let mut m = demo();
    let mut msgs = vec![key('d'), key('/')];
    msgs.extend(typed("profile:etcd"));
    msgs.push(code(KeyCode::Enter));
    send(&mut m, msgs);
    assert_eq!(m.rows.len(), 1);
    // Open an orchestra's list: not filtered by the other list's filter.
    send(&mut m, [code(KeyCode::Esc), key('j'), code(KeyCode::Enter)]);
    assert_eq!(
        m.view,
        View::Databases {
            orchestra: Some("acme-prod".into())
        }
    );
    assert_eq!(m.filter_input.value(), "");
    assert_eq!(m.rows.len(), 2);
    // Its own filter, then back to the fleet-wide list: that one's filter is still there.
    let mut msgs = vec![key('/')];
    msgs.extend(typed("audit"));
    msgs.push(code(KeyCode::Enter));
    send(&mut m, msgs);
    assert_eq!(m.rows.len(), 1);
    send(&mut m, [code(KeyCode::Esc), key('d')]);
    assert_eq!(m.filter_input.value(), "profile:etcd");
    assert_eq!(m.rows.len(), 1);
    let text = screen(&mut m, 80, 24);
    assert!(
        text.lines()
            .next()
            .unwrap_or_default()
            .contains("/profile:etcd"),
        "{text}"
    );
    // And the orchestra's own comes back with it.
    send(&mut m, [code(KeyCode::Esc), code(KeyCode::Enter)]);
    assert_eq!(m.filter_input.value(), "audit");
}

#[test]
fn profile_events_pane_scrolls_and_member_detail_opens() {
    let mut m = demo();
    command(&mut m, "db aws-eu-west-1/payments/ledger");
    // Twenty events: the pane scrolls through all of them.
    let ledger = key_of("aws-eu-west-1/payments/ledger");
    let events: Vec<crate::fleet::EventLine> = (0..20)
        .map(|i| crate::fleet::EventLine {
            at_ms: NOW_MS - (20 - i) * 30_000,
            kind: if i % 2 == 0 { "Warning" } else { "Normal" }.into(),
            reason: "BackOff".into(),
            object: "pod/ledger-1".into(),
            message: format!("Back-off restarting failed container neo4j in pod ledger-1 (#{i})"),
        })
        .collect();
    send(
        &mut m,
        [Msg::Fleet(FleetEvent::Events {
            key: ledger,
            events,
        })],
    );
    send(&mut m, [key_e()]);
    assert_eq!(m.pane, Pane::Events);
    let top = screen(&mut m, 80, 24);
    assert!(top.contains("(#19)"), "newest first: {top}");
    send(&mut m, [key('G')]);
    assert_eq!(m.events_offset, 19);
    let bottom = screen(&mut m, 80, 24);
    assert!(bottom.contains("(#0)"), "the oldest is reachable: {bottom}");
    assert!(bottom.contains("20 of 20"), "{bottom}");
    send(&mut m, [key('g')]);
    insta::assert_snapshot!("profile_events_focused_80x24", screen(&mut m, 80, 24));
    // Back to the members; Enter on one shows every field.
    send(&mut m, [key_e(), key('j'), code(KeyCode::Enter)]);
    assert!(m.member_detail);
    let detail = screen(&mut m, 80, 24);
    for field in [
        "restarts",
        "node",
        "zone",
        "image",
        "applied",
        "probe error",
    ] {
        assert!(detail.contains(field), "{field}: {detail}");
    }
    insta::assert_snapshot!("profile_member_detail_80x24", detail);
    // `y` there copies the member it shows.
    let cmds = send(&mut m, [key('y')]);
    assert!(
        cmds.iter()
            .any(|c| matches!(c, Cmd::Copy(t) if t == "ledger-1")),
        "{cmds:?}"
    );
    // Esc closes the detail, then leaves the profile.
    send(&mut m, [code(KeyCode::Esc)]);
    assert!(!m.member_detail);
    assert!(matches!(m.view, View::Profile { .. }));
}

fn key_e() -> Msg {
    key('e')
}

#[test]
fn new_panes_survive_tiny_terminals() {
    for keys in [vec![key('e')], vec![code(KeyCode::Enter)]] {
        let mut m = with_static();
        command(&mut m, "db aws-eu-west-1/payments/ledger");
        send(&mut m, keys.clone());
        for (w, h) in [(0, 0), (1, 1), (10, 3), (20, 5), (40, 10), (79, 23)] {
            screen(&mut m, w, h);
        }
        let mut m = with_static();
        command(&mut m, "db onprem/static/config");
        send(&mut m, keys);
        for (w, h) in [(1, 1), (20, 5), (40, 10)] {
            screen(&mut m, w, h);
        }
    }
    // An error at every size, including too small for its own line.
    let mut m = demo();
    command(
        &mut m,
        "nonsense with a long tail to wrap over several lines of a narrow terminal",
    );
    for (w, h) in [(1, 1), (10, 3), (20, 7), (20, 8), (40, 10)] {
        screen(&mut m, w, h);
    }
}

#[test]
fn snapshot_fleet_unreachable_orchestra_in_full() {
    // The connection column cuts the reason; the selected orchestra's shows in full below.
    let mut m = demo();
    send(&mut m, [key('j'), key('j'), key('j')]);
    assert_eq!(m.selected_orchestra(), Some("azure-westeurope"));
    let text = screen(&mut m, 80, 24);
    assert!(
        text.contains("azure-westeurope: unreachable: dial tcp 10.20.0.1:443: i/o timeout"),
        "{text}"
    );
    insta::assert_snapshot!("fleet_unreachable_80x24", text);
}
