//! `update` driven by sequences of messages: navigation, views, filter, sort, commands, focus,
//! copy, read-only, and key bindings from the config.

use super::*;

#[test]
fn demo_fleet_is_what_the_snapshots_claim() {
    let m = demo();
    assert_eq!(m.now_ms, NOW_MS);
    assert_eq!(m.orchestras.len(), 6);
    assert_eq!(
        (
            m.counts.total(),
            m.counts.down,
            m.counts.degraded,
            m.counts.unknown
        ),
        (9, 1, 3, 1)
    );
    let graph = &m.fleet.databases[&key_of("aws-eu-west-1/analytics/graph")];
    assert!(graph.history.churning(NOW_MS));
    assert_eq!(m.worst[0], key_of("aws-eu-west-1/search/catalog"));
}

#[test]
fn navigation_stays_in_bounds() {
    let mut m = demo();
    send(&mut m, [code(KeyCode::Up), key('k')]);
    assert_eq!(m.orchestra_sel, 0);
    send(&mut m, [key('j'), code(KeyCode::Down)]);
    assert_eq!(m.orchestra_sel, 2);
    send(&mut m, [code(KeyCode::End)]);
    assert_eq!(m.orchestra_sel, 5);
    send(&mut m, [key('j'), code(KeyCode::PageDown)]);
    assert_eq!(m.orchestra_sel, 5);
    send(&mut m, [code(KeyCode::Home)]);
    assert_eq!(m.orchestra_sel, 0);

    // The fleet-wide list of 9 databases on a 12-row terminal: pages of 8 rows.
    send(&mut m, [Msg::Resize(80, 12), key('d')]);
    assert_eq!(m.page_rows(), 8);
    assert_eq!(m.rows.len(), 9);
    send(&mut m, [code(KeyCode::PageDown)]);
    assert_eq!((m.db_sel, m.db_offset), (8, 1));
    send(&mut m, [code(KeyCode::PageDown), key('j')]);
    assert_eq!(m.db_sel, 8);
    send(&mut m, [code(KeyCode::PageUp)]);
    assert_eq!((m.db_sel, m.db_offset), (0, 0));
    send(&mut m, [key('G')]);
    assert_eq!(m.db_sel, 8);
    send(&mut m, [key('g')]);
    assert_eq!(m.db_sel, 0);
}

#[test]
fn enter_and_esc_walk_fleet_databases_profile() {
    let mut m = demo();
    send(&mut m, [code(KeyCode::Enter)]);
    assert_eq!(
        m.view,
        View::Databases {
            orchestra: Some("aws-eu-west-1".into())
        }
    );
    assert_eq!(m.rows.len(), 5);
    // Sorted worst first: catalog is down.
    assert_eq!(
        m.row(0).unwrap().clone(),
        key_of("aws-eu-west-1/search/catalog")
    );
    send(&mut m, [key('j'), code(KeyCode::Enter)]);
    let opened = m.row(1).unwrap().clone();
    assert_eq!(
        m.view,
        View::Profile {
            key: opened.clone(),
            list: Some("aws-eu-west-1".into())
        }
    );
    send(&mut m, [code(KeyCode::Esc)]);
    assert!(matches!(m.view, View::Databases { .. }));
    assert_eq!(m.row(m.db_sel).unwrap().clone(), opened, "selection kept");
    send(&mut m, [code(KeyCode::Esc)]);
    assert_eq!(m.view, View::Fleet);
    send(&mut m, [code(KeyCode::Esc)]);
    assert_eq!(m.view, View::Fleet);
    // d and Tab open the fleet-wide list.
    send(&mut m, [code(KeyCode::Tab)]);
    assert_eq!(m.view, View::Databases { orchestra: None });
    assert_eq!(m.rows.len(), 9);
}

#[test]
fn filter_narrows_live_keeps_on_enter_clears_on_esc() {
    let mut m = demo();
    let mut msgs = vec![key('d'), key('/')];
    msgs.extend(typed("health:degraded"));
    send(&mut m, msgs);
    assert_eq!(m.mode, Mode::Filter);
    assert_eq!(m.rows.len(), 3);
    send(&mut m, [code(KeyCode::Enter)]);
    assert_eq!(m.mode, Mode::Normal);
    assert_eq!(m.rows.len(), 3);
    for k in &row_keys(&m) {
        assert_eq!(m.fleet.databases[k].state.health, Health::Degraded);
    }
    // AND with more terms; substring on orchestra and name.
    let mut msgs = vec![key('/')];
    msgs.extend(typed(" orchestra:aws led"));
    msgs.push(code(KeyCode::Enter));
    send(&mut m, msgs);
    assert_eq!(row_keys(&m), vec![key_of("aws-eu-west-1/payments/ledger")]);
    send(&mut m, [key('/'), code(KeyCode::Esc)]);
    assert_eq!(m.filter_input.value(), "");
    assert_eq!(m.rows.len(), 9);
    // profile: and display names (ACME dedicated).
    let mut msgs = vec![key('/')];
    msgs.extend(typed("profile:etcd"));
    send(&mut m, msgs);
    assert_eq!(row_keys(&m), vec![key_of("aws-eu-west-1/infra/etcd-main")]);
    send(&mut m, [code(KeyCode::Esc), key('/')]);
    send(&mut m, typed("dedicated"));
    assert_eq!(m.rows.len(), 2);
    // A bad term is reported on Enter and the line stays open.
    send(&mut m, [code(KeyCode::Esc), key('/')]);
    send(&mut m, typed("health:purple"));
    assert!(m.rows.is_empty());
    send(&mut m, [code(KeyCode::Enter)]);
    assert_eq!(m.mode, Mode::Filter);
    assert!(matches!(&m.note, Some(Note::Error(e)) if e.contains("health:purple")));
}

#[test]
fn q_quits_but_not_while_typing() {
    let mut m = demo();
    send(&mut m, [key('d'), key('/')]);
    let cmds = send(&mut m, typed("q"));
    assert!(!cmds.contains(&Cmd::Quit));
    assert_eq!(m.filter_input.value(), "q");
    send(&mut m, [code(KeyCode::Esc), key(':')]);
    let cmds = send(&mut m, typed("q"));
    assert!(!cmds.contains(&Cmd::Quit));
    // Esc leaves the command line without running it.
    assert_eq!(send(&mut m, [code(KeyCode::Esc)]), vec![]);
    assert_eq!((m.mode, m.command_input.value()), (Mode::Normal, ""));
    // An empty command line runs nothing.
    assert_eq!(command(&mut m, ""), vec![]);
    assert_eq!((m.mode, &m.note), (Mode::Normal, &None));
    let cmds = send(&mut m, [key('q')]);
    assert!(cmds.contains(&Cmd::Quit));
    let ctrl_c = Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    send(&mut m, [key('/')]);
    assert!(send(&mut m, [ctrl_c]).contains(&Cmd::Quit));
    // In help, q only closes the overlay.
    let mut m = demo();
    send(&mut m, [key('?')]);
    assert_eq!(m.mode, Mode::Help);
    assert!(!send(&mut m, [key('q')]).contains(&Cmd::Quit));
    assert_eq!(m.mode, Mode::Normal);
}

/// The demo at 80×24 with a `[keys]` table from a config file.
fn demo_with_keys(toml: &str) -> Model {
    let file = crate::config::Config::parse(toml, std::path::Path::new("baton.toml")).unwrap();
    let mut config = fixture::demo_config();
    config.keys = file.keys;
    let mut m = fixture::demo_model_with(config, theme());
    update(&mut m, Msg::Resize(80, 24));
    m
}

#[test]
fn an_overridden_key_dispatches_and_frees_the_default() {
    let mut m = demo_with_keys("[keys]\nquit = \"ctrl-q\"\nfilter = \"F\"\n");
    assert_eq!(m.note, None);
    assert!(!send(&mut m, [key('q')]).contains(&Cmd::Quit));
    let ctrl_q = Msg::Key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL));
    assert!(send(&mut m, [ctrl_q.clone()]).contains(&Cmd::Quit));
    // `/` is free now; `F` opens the filter line over the fleet-wide list.
    send(&mut m, [key('/')]);
    assert_eq!((m.mode, &m.view), (Mode::Normal, &View::Fleet));
    send(&mut m, [key('F')]);
    assert_eq!(
        (m.mode, &m.view),
        (Mode::Filter, &View::Databases { orchestra: None })
    );
    // While typing, `f` and Ctrl-Q are text keys; Ctrl-C still quits.
    send(&mut m, typed("ff"));
    assert_eq!(m.filter_input.value(), "ff");
    assert!(!send(&mut m, [ctrl_q]).contains(&Cmd::Quit));
    let ctrl_c = Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(send(&mut m, [ctrl_c]).contains(&Cmd::Quit));
}

#[test]
fn help_and_hints_show_the_keys_in_force() {
    let mut m = demo_with_keys("[keys]\nquit = \"ctrl-q\"\nfilter = \"F\"\nhelp = \"f1\"\n");
    let s = screen(&mut m, 200, 60);
    assert!(
        s.contains("↵ databases · d all databases · F filter · : command · F1 help · Ctrl-Q quit"),
        "{s}"
    );
    assert!(s.contains("F1 help  03:07 UTC"), "{s}");
    send(&mut m, [code(KeyCode::F(1))]);
    assert_eq!(m.mode, Mode::Help);
    let s = screen(&mut m, 80, 24);
    // The key column is as wide as its widest keys.
    for line in [
        "F1              this help",
        "Ctrl-Q  Ctrl-C  quit",
        "F               filter the list",
        "F ↵  F Esc   keep / clear",
    ] {
        assert!(s.contains(line), "{line}:\n{s}");
    }
}

#[test]
fn a_clash_in_a_config_built_in_code_falls_back_to_the_defaults() {
    let mut config = fixture::demo_config();
    config.keys.insert(
        "filter".into(),
        crate::config::keymap::KeyList(vec!["d".parse().unwrap()]),
    );
    let mut m = fixture::demo_model_with(config, theme());
    assert!(matches!(&m.note, Some(Note::Error(e)) if e.contains("all_databases")));
    send(&mut m, [key('/')]);
    assert_eq!(m.mode, Mode::Filter);
}

#[test]
fn sort_cycles_and_reverses() {
    let mut m = demo();
    send(&mut m, [key('d')]);
    assert_eq!(m.sort, SortCol::Health);
    assert_eq!(
        m.row(0).unwrap().clone(),
        key_of("aws-eu-west-1/search/catalog")
    );
    send(&mut m, [key('s')]);
    assert_eq!(m.sort, SortCol::Database);
    assert_eq!(m.row(0).unwrap().clone(), key_of("acme-prod/acme/audit"));
    send(&mut m, [key('S')]);
    assert!(m.reverse);
    assert_eq!(
        m.row(0).unwrap().clone(),
        key_of("gcp-us-central1/shop/sessions")
    );
    // Through every column and back to health.
    for _ in 0..SortCol::CYCLE.len() - 1 {
        send(&mut m, [key('s')]);
    }
    assert_eq!(m.sort, SortCol::Health);
    assert!(!m.reverse);
    send(&mut m, (0..8).map(|_| key('s')));
    assert_eq!(m.sort, SortCol::Lag);
    assert_eq!(
        m.row(0).unwrap().clone(),
        key_of("aws-eu-west-1/analytics/graph")
    );
}

#[test]
fn db_and_ctx_commands() {
    let mut m = demo();
    command(&mut m, "db aws-eu-west-1/payments/ledger");
    assert_eq!(
        m.view,
        View::Profile {
            key: key_of("aws-eu-west-1/payments/ledger"),
            list: Some("aws-eu-west-1".into())
        }
    );
    // By unique name; Esc returns to its orchestra's list with it selected.
    let mut m = demo();
    command(&mut m, "db inventory");
    assert!(matches!(&m.view, View::Profile { key, .. } if key.name == "inventory"));
    send(&mut m, [code(KeyCode::Esc)]);
    assert_eq!(
        m.view,
        View::Databases {
            orchestra: Some("gcp-us-central1".into())
        }
    );
    assert_eq!(m.row(m.db_sel).unwrap().name, "inventory");
    // Ambiguous and unknown names are errors, and nothing moves.
    command(&mut m, "db graph");
    assert!(matches!(&m.note, Some(Note::Error(e)) if e.contains("names 2 databases")));
    assert!(matches!(m.view, View::Databases { .. }));
    command(&mut m, "db nope");
    assert!(matches!(&m.note, Some(Note::Error(e)) if e.contains("no database named 'nope'")));

    command(&mut m, "ctx acme");
    assert_eq!(
        m.view,
        View::Databases {
            orchestra: Some("acme-prod".into())
        }
    );
    assert_eq!(m.note, None);
    command(&mut m, "ctx aws-eu-west-1");
    assert_eq!(m.rows.len(), 5);
    command(&mut m, "ctx mars");
    assert!(matches!(&m.note, Some(Note::Error(e)) if e.starts_with("no orchestra 'mars'")));
    command(&mut m, "ctx aws");
    assert!(matches!(&m.note, Some(Note::Error(e)) if e.contains("matches 2 orchestras")));
}

#[test]
fn unknown_command_theme_and_quit() {
    let mut m = demo();
    let cmds = command(&mut m, "frobnicate now");
    assert!(cmds.iter().all(|c| matches!(c, Cmd::SetFocus(_))));
    assert!(
        matches!(&m.note, Some(Note::Error(e)) if e.starts_with("unknown command ':frobnicate'"))
    );
    assert!(screen(&mut m, 80, 24).contains("✗ unknown command ':frobnicate'"));
    // Esc clears the error.
    send(&mut m, [code(KeyCode::Esc)]);
    assert_eq!(m.note, None);

    assert_eq!(
        command(&mut m, "theme light"),
        vec![Cmd::LoadTheme("light".into())]
    );
    let light = ThemeSet::new(None).load("light").unwrap();
    update(&mut m, Msg::ThemeLoaded(Ok(light)));
    assert_eq!(m.theme.name, "light");
    update(
        &mut m,
        Msg::ThemeLoaded(Err("cannot load theme 'x'".into())),
    );
    assert!(matches!(&m.note, Some(Note::Error(_))));
    assert!(command(&mut m, "q").contains(&Cmd::Quit));
}

#[test]
fn focus_is_sent_on_change_only() {
    let mut m = fixture::demo_model(theme());
    m.last_focus = None;
    let first = update(&mut m, Msg::Resize(80, 24));
    // The fleet view: the degraded panel's databases are visible.
    let f = focus_cmds(&first);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].open, None);
    assert_eq!(f[0].visible[0], key_of("aws-eu-west-1/search/catalog"));
    // Moving among orchestras changes nothing the sources care about.
    assert!(focus_cmds(&send(&mut m, [key('j'), key('k')])).is_empty());
    let cmds = send(&mut m, [key('d')]);
    let f = focus_cmds(&cmds);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].visible.len(), 9);
    // Same rows on screen: nothing sent.
    assert!(focus_cmds(&send(&mut m, [key('j'), key('j')])).is_empty());
    let cmds = send(&mut m, [code(KeyCode::Enter)]);
    let f = focus_cmds(&cmds);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].open, Some(m.row(2).unwrap().clone()));
    assert!(f[0].visible.is_empty());
    assert!(focus_cmds(&send(&mut m, [Msg::Tick { now_ms: NOW_MS + 1 }])).is_empty());
    let cmds = send(&mut m, [code(KeyCode::Esc)]);
    assert_eq!(focus_cmds(&cmds)[0].open, None);
    // Scrolling a short terminal changes the visible rows.
    send(&mut m, [Msg::Resize(80, 8)]);
    let cmds = send(&mut m, [key('G')]);
    assert_eq!(focus_cmds(&cmds)[0].visible.last(), m.row(m.rows.len() - 1));
}

#[test]
fn y_copies_the_selected_id_with_osc52() {
    let mut m = demo();
    let cmds = send(&mut m, [key('y')]);
    assert!(cmds.contains(&Cmd::Copy("aws-eu-west-1".into())));
    send(&mut m, [key('d')]);
    let cmds = send(&mut m, [key('y')]);
    let copied: Vec<&String> = cmds
        .iter()
        .filter_map(|c| match c {
            Cmd::Copy(t) => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(copied, vec!["aws-eu-west-1/search/catalog"]);
    assert_eq!(
        osc52(copied[0]),
        "\x1b]52;c;YXdzLWV1LXdlc3QtMS9zZWFyY2gvY2F0YWxvZw==\x07"
    );
    assert!(matches!(&m.note, Some(Note::Info(t)) if t == "copied aws-eu-west-1/search/catalog"));
    // The info note goes away on the next key.
    send(&mut m, [key('j')]);
    assert_eq!(m.note, None);
}

#[test]
fn read_only_hides_operations() {
    let mut m = demo();
    command(&mut m, "db aws-eu-west-1/payments/orders");
    assert_eq!(m.operations("aws-eu-west-1").len(), 11);
    let s = screen(&mut m, 80, 24);
    assert!(s.contains("operations: backup restore"), "{s}");
    assert!(screen(&mut m, 200, 60).contains("Operations · role operator"));

    let mut ro = fixture::demo_model(theme());
    ro.read_only = true;
    command(&mut ro, "db aws-eu-west-1/payments/orders");
    assert!(ro.operations("aws-eu-west-1").is_empty());
    for (w, h) in [(80, 24), (200, 60)] {
        let s = screen(&mut ro, w, h);
        assert!(!s.to_lowercase().contains("operations"), "{s}");
        assert!(!s.contains("backup"), "{s}");
        assert!(s.contains("READ-ONLY"), "{s}");
    }
    // An orchestra marked read-only in the config hides them there only.
    let mut cfg = fixture::demo_config();
    cfg.orchestras
        .entry("acme-prod".into())
        .or_default()
        .read_only = true;
    let mut m = demo();
    m.config = cfg;
    assert!(m.operations("acme-prod").is_empty());
    assert_eq!(m.operations("aws-eu-west-1").len(), 11);
    // A role's list limits them.
    m.config.general.role = "observer".into();
    assert!(m.operations("aws-eu-west-1").is_empty());
}

#[test]
fn leader_change_is_on_screen_at_the_next_probe() {
    let mut m = demo();
    command(&mut m, "db aws-eu-west-1/payments/orders");
    m.dirty = false;
    assert!(screen(&mut m, 80, 24).contains("★ orders-2"));
    let names = ["orders-0", "orders-1", "orders-2", "orders-rr-0"];
    let results = names
        .iter()
        .map(|n| {
            (
                n.to_string(),
                Probe::Ok(ProbeReport {
                    member_id: n.to_string(),
                    leader_id: Some("orders-1".into()),
                    is_leader: *n == "orders-1",
                    term: Some(8),
                    applied_index: Some(200_000),
                    voter: !n.contains("rr"),
                    healthy: true,
                    ..ProbeReport::default()
                }),
            )
        })
        .collect();
    update(
        &mut m,
        Msg::Fleet(FleetEvent::Probed {
            orchestra: "aws-eu-west-1".into(),
            db: DbRef {
                namespace: "payments".into(),
                name: "orders".into(),
            },
            results,
            at_ms: NOW_MS,
        }),
    );
    assert!(m.dirty);
    let s = screen(&mut m, 80, 24);
    assert!(s.contains("leader ★ orders-1  term 8"), "{s}");
    assert!(s.contains("03:07:42 orders-2 → ★ orders-1 term 8"), "{s}");
}

#[test]
fn idle_ticks_do_not_redraw() {
    let mut m = demo();
    m.dirty = false;
    update(
        &mut m,
        Msg::Tick {
            now_ms: NOW_MS + 10_000,
        },
    );
    assert!(!m.dirty, "same minute on the clock");
    update(
        &mut m,
        Msg::Tick {
            now_ms: NOW_MS + 20_000,
        },
    );
    assert!(m.dirty, "03:07 → 03:08");
    // A fleet event that changes nothing draws nothing.
    m.dirty = false;
    update(
        &mut m,
        Msg::Fleet(FleetEvent::Connection {
            orchestra: "aws-eu-west-1".into(),
            state: crate::fleet::Connection::Live,
        }),
    );
    assert!(!m.dirty);
}

#[test]
fn run_is_a_send_future() {
    fn assert_send<T: Send>(_: &T) {}
    let (_tx, rx) = tokio::sync::mpsc::channel(1);
    let (focus, _) = tokio::sync::watch::channel(crate::source::Focus::default());
    let opts = Options {
        config: crate::config::Config::default(),
        theme: theme(),
        themes: ThemeSet::new(None),
        identity: String::new(),
        read_only: false,
        orchestras: Vec::new(),
        kubeconfig: None,
        contexts: Vec::new(),
    };
    // Not polled: only proves main can spawn it.
    let fut = run(opts, rx, focus);
    assert_send(&fut);
}
