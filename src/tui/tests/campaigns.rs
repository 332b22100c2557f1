//! The campaigns in the dashboard: `:campaigns` lists the campaigns whose records the engine
//! watches (merged across orchestras), Enter opens one with its databases' states and the
//! reason it halted, Enter on a database opens its profile, Esc goes back; the OP column shows a
//! database's campaign while it goes on.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::config::OperationName;
use crate::fleet::CampaignInfo;
use crate::ops::campaign::run::DbState;
use crate::ops::campaign::spec::{Canary, OnRefusal, Spec};
use crate::ops::campaign::state::{self, Control, Definition, Entry, Phase};

fn entry(id: &str) -> Entry {
    Entry::of(&key_of(id))
}

/// The records of campaign `to-5-26` in aws-eu-west-1 (home) and gcp-us-central1: the canary
/// done, one running, one failed (a halt), one pending.
fn records(phase: Phase) -> Vec<FleetEvent> {
    let ledger = entry("aws-eu-west-1/payments/ledger");
    let graph = entry("aws-eu-west-1/analytics/graph");
    let inventory = entry("gcp-us-central1/shop/inventory");
    let cart = entry("gcp-us-central1/shop/cart");
    let def = Definition {
        spec: Spec {
            name: "to-5-26".into(),
            operation: OperationName::Upgrade,
            params: BTreeMap::from([("version".to_string(), "5.26.0".to_string())]),
            select: "profile:neo4j".into(),
            canary: Canary::Count(1),
            soak: Duration::from_secs(600),
            waves: Vec::new(),
            max_parallel: 10,
            max_per_orchestra: 1,
            on_refusal: OnRefusal::Skip,
        },
        waves: vec![
            vec![ledger.clone()],
            vec![inventory.clone(), graph.clone(), cart.clone()],
        ],
        created_ms: NOW_MS - 30 * 60_000,
        created_by: "ana@bastion pid 7".into(),
        home: "aws-eu-west-1".into(),
    };
    let mut control = Control::new(phase, "ana@bastion pid 7", "", NOW_MS - 60_000);
    if phase == Phase::Halted {
        control.why = "its operation failed: paused: waited 300 s".into();
        control.database = Some(graph.clone());
    }
    let aws = BTreeMap::from([
        (
            ledger,
            DbState::Done {
                ended_ms: NOW_MS - 20 * 60_000,
                at_goal: false,
            },
        ),
        (
            graph,
            DbState::Failed {
                why: "paused: waited 300 s for graph-2 to be Ready".into(),
            },
        ),
    ]);
    let gcp = BTreeMap::from([(
        inventory,
        DbState::Running {
            started_ms: NOW_MS - 120_000,
            holder: "job/shop/baton-run-inventory-1".into(),
            job: Some("baton-run-inventory-1".into()),
        },
    )]);
    [("aws-eu-west-1", aws), ("gcp-us-central1", gcp)]
        .into_iter()
        .map(|(o, states)| {
            let cm = state::to_configmap("default", &def, &control, &states, None).unwrap();
            FleetEvent::Campaigns {
                orchestra: o.into(),
                campaigns: vec![CampaignInfo {
                    name: "to-5-26".into(),
                    object: "default/baton-campaign-to-5-26".into(),
                    data: cm.data.unwrap(),
                }],
                complete: true,
            }
        })
        .collect()
}

fn with_campaign(phase: Phase) -> Model {
    let mut m = demo();
    send(&mut m, records(phase).into_iter().map(Msg::Fleet));
    m
}

#[test]
fn snapshot_campaigns_list_and_one_open() {
    let mut m = with_campaign(Phase::Halted);
    command(&mut m, "campaigns");
    assert_eq!(m.view, View::Campaigns { open: None });
    let c = &m.campaigns.all["to-5-26"];
    assert_eq!(
        (
            c.count("done"),
            c.count("running"),
            c.count("failed"),
            c.count("pending")
        ),
        (1, 1, 1, 1),
        "merged from both orchestras, the unrecorded one pending"
    );
    snap_sizes("campaigns_list", &mut m);
    send(&mut m, [code(KeyCode::Enter)]);
    assert_eq!(
        m.view,
        View::Campaigns {
            open: Some("to-5-26".into())
        }
    );
    let text = screen(&mut m, 200, 60);
    assert!(
        text.contains("halted by ana@bastion pid 7 on aws-eu-west-1/analytics/graph"),
        "{text}"
    );
    snap_sizes("campaign_open", &mut m);
    // A database of it opens its profile; Esc goes back up.
    send(&mut m, [code(KeyCode::Enter)]);
    assert!(
        matches!(&m.view, View::Profile { key, .. } if key.name == "graph"),
        "{:?}",
        m.view
    );
    send(&mut m, [code(KeyCode::Esc)]);
    let mut m = with_campaign(Phase::Halted);
    command(&mut m, "campaign to-5-26");
    send(&mut m, [code(KeyCode::Esc)]);
    assert_eq!(m.view, View::Campaigns { open: None });
    send(&mut m, [code(KeyCode::Esc)]);
    assert_eq!(m.view, View::Fleet);
    command(&mut m, "campaign nosuch");
    assert!(matches!(&m.note, Some(Note::Error(e)) if e.contains("no campaign 'nosuch'")));
}

#[test]
fn the_op_column_shows_a_databases_campaign_while_it_goes_on() {
    let mut m = with_campaign(Phase::Running);
    send(&mut m, [key('d')]);
    let text = screen(&mut m, 200, 60);
    assert!(text.contains("to-5-26: failed"), "{text}");
    let mut m = with_campaign(Phase::Finished);
    send(&mut m, [key('d')]);
    assert!(!screen(&mut m, 200, 60).contains("to-5-26:"));
    // A record gone from the orchestra is gone from the list.
    send(
        &mut m,
        ["aws-eu-west-1", "gcp-us-central1"].map(|o| {
            Msg::Fleet(FleetEvent::CampaignGone {
                orchestra: o.into(),
                name: "to-5-26".into(),
            })
        }),
    );
    assert!(m.campaigns.all.is_empty());
}

/// The demo fleet with every orchestra answering and its StatefulSets (each watched profile's,
/// as the fleet already holds them) and Leases listed (a fleet seen whole).
fn listed() -> Model {
    let mut m = demo();
    let config = crate::config::Config::default();
    let profiles = crate::ops::campaign::headless::watched_profiles(&config);
    let fleet = m.fleet.clone();
    let events = crate::tui::fixture::demo_orchestras()
        .into_iter()
        .flat_map(|o| {
            let sets = profiles.iter().map(|p| {
                let sets = fleet
                    .databases
                    .values()
                    .filter(|d| d.key.orchestra == o && d.profile == *p)
                    .flat_map(|d| d.statefulsets.iter().map(|s| (d.key.db(), s.clone())))
                    .collect();
                Msg::Fleet(FleetEvent::StatefulSets {
                    orchestra: o.clone(),
                    profile: p.clone(),
                    sets,
                    complete: true,
                })
            });
            sets.collect::<Vec<_>>().into_iter().chain([
                Msg::Fleet(FleetEvent::Connection {
                    orchestra: o.clone(),
                    state: crate::fleet::Connection::Live,
                }),
                Msg::Fleet(FleetEvent::OpLeases {
                    orchestra: o,
                    leases: Vec::new(),
                    complete: true,
                }),
            ])
        })
        .collect::<Vec<_>>();
    send(&mut m, events);
    m
}

fn campaign_cmds(cmds: &[Cmd]) -> Vec<&crate::tui::msg::CampaignCmd> {
    cmds.iter()
        .filter_map(|c| match c {
            Cmd::Campaign(c) => Some(c),
            _ => None,
        })
        .collect()
}

#[test]
fn a_campaign_is_launched_over_the_lists_filter_after_its_plan_is_typed() {
    use crate::tui::msg::CampaignCmd;
    use crate::tui::ops::Dialog;
    let mut m = listed();
    send(&mut m, [key('d'), key('/')]);
    send(&mut m, typed("profile:neo4j"));
    send(&mut m, [code(KeyCode::Enter), key('C')]);
    let Some(Dialog::CampaignForm(f)) = &m.ops.dialog else {
        panic!("no form: {:?}", m.ops.dialog);
    };
    assert_eq!(f.select, "profile:neo4j");
    snap_sizes("campaign_form", &mut m);
    // The operation is needed; a bad number names its field.
    send(&mut m, [code(KeyCode::Enter)]);
    assert!(
        matches!(&m.ops.dialog, Some(Dialog::CampaignForm(f)) if f.error.as_deref() == Some("operation is needed"))
    );
    send(&mut m, typed("upgrade"));
    send(&mut m, [code(KeyCode::Tab)]);
    send(&mut m, typed("version=5.26.0"));
    send(&mut m, [code(KeyCode::Tab)]);
    send(&mut m, typed("up-5-26"));
    send(&mut m, [code(KeyCode::Enter)]);
    let Some(Dialog::CampaignPlan(p)) = &m.ops.dialog else {
        panic!("no plan: {:?} {:?}", m.ops.dialog, m.note);
    };
    assert_eq!(p.blocked, None, "{:?}", p.lines);
    assert!(
        p.lines[0].starts_with("campaign up-5-26: upgrade version=5.26.0 over 'profile:neo4j'"),
        "{:?}",
        p.lines
    );
    let n = p.databases.len();
    assert!(
        n > 0
            && p.databases
                .iter()
                .all(|k| m.fleet.databases[k].profile == "neo4j")
    );
    snap_sizes("campaign_plan", &mut m);
    // Enter does nothing until the name and the number are typed exactly.
    send(&mut m, typed("up-5-26"));
    assert!(campaign_cmds(&send(&mut m, [code(KeyCode::Enter)])).is_empty());
    assert!(matches!(&m.note, Some(Note::Error(e)) if e.contains(&format!("(up-5-26 {n})"))));
    send(&mut m, typed(&format!(" {n}")));
    let cmds = send(&mut m, [code(KeyCode::Enter)]);
    let [CampaignCmd::Start { args, databases }] = campaign_cmds(&cmds)[..] else {
        panic!("{cmds:?}");
    };
    assert_eq!(args.name.as_deref(), Some("up-5-26"));
    assert_eq!(
        (args.operation.as_str(), args.select.as_str(), &args.set[..]),
        (
            "upgrade",
            "profile:neo4j",
            &["version=5.26.0".to_string()][..]
        )
    );
    assert_eq!(databases.len(), n);
    assert!(m.ops.dialog.is_none());
    assert_eq!(m.view, View::Campaigns { open: None });
    // Its coordinator runs here: the quit asks first, and says so.
    let cmds = send(&mut m, [key('q')]);
    assert!(!cmds.contains(&Cmd::Quit));
    assert!(
        matches!(&m.ops.dialog, Some(Dialog::Ask(crate::tui::ops::Ask::Quit { campaigns, .. })) if campaigns == &["up-5-26".to_string()])
    );
    assert!(screen(&mut m, 200, 60).contains("This dashboard coordinates up-5-26"));
    send(&mut m, [key('n')]);
    // Its lines show on the open campaign; once it stopped, quitting asks nothing.
    send(
        &mut m,
        [
            Msg::Campaign(crate::tui::msg::CampaignMsg::Line {
                name: "up-5-26".into(),
                text: "campaign up-5-26 finished: 3 done, 0 skipped, 0 failed".into(),
            }),
            Msg::Campaign(crate::tui::msg::CampaignMsg::Ended {
                name: "up-5-26".into(),
                result: Ok(crate::Exit::Ok),
            }),
        ],
    );
    assert!(matches!(&m.note, Some(Note::Info(t)) if t.contains("finished: 3 done")));
    assert!(send(&mut m, [key('q')]).contains(&Cmd::Quit));
}

#[test]
fn a_campaign_cannot_start_read_only_nor_over_a_fleet_not_seen_whole() {
    use crate::tui::ops::Dialog;
    let mut m = listed();
    m.read_only = true;
    send(&mut m, [key('d'), key('C')]);
    assert!(m.ops.dialog.is_none());
    assert!(matches!(&m.note, Some(Note::Error(e)) if e.starts_with("read-only")));
    // Leases not listed: the plan shows, and it cannot start.
    let mut m = demo();
    send(&mut m, [key('d'), key('C')]);
    send(&mut m, typed("rolling-restart"));
    send(&mut m, [code(KeyCode::Enter)]);
    let Some(Dialog::CampaignPlan(p)) = &m.ops.dialog else {
        panic!("{:?}", m.note);
    };
    assert!(
        p.blocked
            .as_deref()
            .is_some_and(|b| b.contains("not all known")),
        "{:?}",
        p.blocked
    );
    let expected = p.expected();
    send(&mut m, typed(&expected));
    assert!(campaign_cmds(&send(&mut m, [code(KeyCode::Enter)])).is_empty());
    // Esc goes back to the form, Esc again closes it: nothing was sent.
    send(&mut m, [code(KeyCode::Esc)]);
    assert!(matches!(&m.ops.dialog, Some(Dialog::CampaignForm(_))));
    assert!(campaign_cmds(&send(&mut m, [code(KeyCode::Esc)])).is_empty());
    assert!(m.ops.dialog.is_none());
}

#[test]
fn the_campaigns_keys_pause_resume_and_cancel_after_their_questions() {
    use crate::tui::msg::CampaignCmd;
    let mut m = with_campaign(Phase::Running);
    command(&mut m, "campaigns");
    // Pause: y/n.
    send(&mut m, [key('p')]);
    snap_sizes("campaign_pause", &mut m);
    let cmds = send(&mut m, [key('y')]);
    assert!(matches!(
        campaign_cmds(&cmds)[..],
        [CampaignCmd::Control { name, phase: Phase::Paused, .. }] if name == "to-5-26"
    ));
    // Resume and cancel: the name typed.
    send(&mut m, [key('r')]);
    send(&mut m, typed("to-5"));
    assert!(campaign_cmds(&send(&mut m, [code(KeyCode::Enter)])).is_empty());
    send(&mut m, typed("-26"));
    let cmds = send(&mut m, [code(KeyCode::Enter)]);
    assert!(matches!(
        campaign_cmds(&cmds)[..],
        [CampaignCmd::Resume { name }] if name == "to-5-26"
    ));
    send(&mut m, [code(KeyCode::Enter), key('x')]);
    assert_eq!(
        m.view,
        View::Campaigns {
            open: Some("to-5-26".into())
        },
        "the keys work on the open campaign too"
    );
    send(&mut m, typed("to-5-26"));
    let cmds = send(&mut m, [code(KeyCode::Enter)]);
    assert!(matches!(
        campaign_cmds(&cmds)[..],
        [CampaignCmd::Control {
            phase: Phase::Cancelled,
            ..
        }]
    ));
    // Esc asks nothing more.
    send(&mut m, [key('x'), code(KeyCode::Esc)]);
    assert!(m.ops.dialog.is_none());
    // A finished campaign takes none of them; read-only refuses them.
    let mut m = with_campaign(Phase::Finished);
    command(&mut m, "campaigns");
    for k in ['p', 'r', 'x'] {
        send(&mut m, [key(k)]);
        assert!(m.ops.dialog.is_none());
        assert!(matches!(&m.note, Some(Note::Error(e)) if e.contains("it finished")));
    }
    let mut m = with_campaign(Phase::Paused);
    m.read_only = true;
    command(&mut m, "campaigns");
    send(&mut m, [key('r')]);
    assert!(m.ops.dialog.is_none());
    assert!(matches!(&m.note, Some(Note::Error(e)) if e.starts_with("read-only")));
}
