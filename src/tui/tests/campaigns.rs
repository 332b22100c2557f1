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
