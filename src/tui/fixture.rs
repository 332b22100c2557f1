//! Deterministic fleets for snapshot tests and the frame benchmark: a small demo fleet at a fixed
//! clock (live, stale, unreachable, unauthorized and connecting orchestras; healthy, degraded,
//! down and unprobed databases; leader changes, churn, probe errors, Kubernetes events), and a
//! large synthetic fleet of any size. Built only by folding `FleetEvent`s, like the real sources.

use crate::config::{Config, OrchestraConfig, Theme, theme::Colour};
use crate::fleet::{Connection, DbKey, DbRef, EventLine, FleetEvent, PodInfo, Probe, ProbeReport};

use super::{Model, Msg, update};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// The demo's wall clock: 2025-03-14 03:07:42 UTC (an on-call hour).
pub const NOW_MS: u64 = 1_741_921_662_000;

const MIN: u64 = 60_000;

/// Orchestras of the demo, in display order.
pub fn demo_orchestras() -> Vec<String> {
    [
        "aws-eu-west-1",
        "acme-prod",
        "gcp-us-central1",
        "azure-westeurope",
        "oci-eu-frankfurt-1",
        "aws-us-east-1",
    ]
    .map(String::from)
    .to_vec()
}

/// The demo config: display names and accents, the built-in operator role.
pub fn demo_config() -> Config {
    let mut c = Config::default();
    c.orchestras.insert(
        "acme-prod".into(),
        OrchestraConfig {
            display_name: Some("ACME dedicated (prod)".into()),
            accent: Some(Colour(ratatui::style::Color::Red)),
            ..OrchestraConfig::default()
        },
    );
    c.orchestras.insert(
        "aws-eu-west-1".into(),
        OrchestraConfig {
            accent: Some(Colour(ratatui::style::Color::Yellow)),
            ..OrchestraConfig::default()
        },
    );
    c
}

/// One member's probe answer.
fn report(member: &str, leader: Option<&str>, term: u64, applied: u64, voter: bool) -> Probe {
    Probe::Ok(ProbeReport {
        member_id: member.into(),
        leader_id: leader.map(str::to_string),
        is_leader: leader == Some(member),
        term: Some(term),
        applied_index: Some(applied),
        voter,
        voters: Default::default(),
        healthy: true,
        millis_since_leader_message: Some(12),
        errors: Vec::new(),
        version: None,
    })
}

/// A database's pods: `primaries` voting members then `secondaries` read replicas.
struct Db<'a> {
    orchestra: &'a str,
    namespace: &'a str,
    name: &'a str,
    profile: &'a str,
    image: &'a str,
    primaries: usize,
    secondaries: usize,
}

impl Db<'_> {
    fn db(&self) -> DbRef {
        DbRef {
            namespace: self.namespace.into(),
            name: self.name.into(),
        }
    }

    fn pod_names(&self) -> Vec<String> {
        (0..self.primaries + self.secondaries)
            .map(|i| {
                if i < self.primaries {
                    format!("{}-{i}", self.name)
                } else {
                    format!("{}-rr-{}", self.name, i - self.primaries)
                }
            })
            .collect()
    }

    fn pods(&self, created_ms: u64) -> Vec<(DbRef, PodInfo)> {
        self.pod_names()
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                (
                    self.db(),
                    PodInfo {
                        name,
                        ready: true,
                        phase: "Running".into(),
                        restarts: 0,
                        node: format!("ip-10-0-{}-{}.internal", 10 + i, 40 + i * 7).into(),
                        zone: format!("{}{}", zone_prefix(self.orchestra), ["a", "b", "c"][i % 3])
                            .into(),
                        ip: format!("10.1.{}.{}", i, 20 + i),
                        image: self.image.into(),
                        created_ms: Some(created_ms + i as u64 * 90_000),
                        terminating: false,
                    },
                )
            })
            .collect()
    }

    /// Probes where member `leader` leads at `term`; followers trail by `lag` entries.
    fn probed(&self, leader: usize, term: u64, lag: &[u64]) -> FleetEvent {
        let names = self.pod_names();
        let leader_name = names[leader].clone();
        FleetEvent::Probed {
            orchestra: self.orchestra.into(),
            db: self.db(),
            results: names
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let behind = lag.get(i).copied().unwrap_or(0);
                    (
                        n.clone(),
                        report(
                            n,
                            Some(&leader_name),
                            term,
                            100_000 - behind,
                            i < self.primaries,
                        ),
                    )
                })
                .collect(),
            at_ms: 0,
        }
    }
}

fn zone_prefix(orchestra: &str) -> &'static str {
    match orchestra {
        o if o.starts_with("gcp") => "us-central1-",
        o if o.starts_with("azure") => "westeurope-",
        _ => "eu-west-1",
    }
}

fn pods_event(dbs: &[&Db], created_ms: u64) -> FleetEvent {
    FleetEvent::Pods {
        orchestra: dbs[0].orchestra.into(),
        profile: dbs[0].profile.into(),
        pods: dbs.iter().flat_map(|d| d.pods(created_ms)).collect(),
        complete: true,
    }
}

fn connection(orchestra: &str, state: Connection) -> FleetEvent {
    FleetEvent::Connection {
        orchestra: orchestra.into(),
        state,
    }
}

/// Sets the clock and folds events, as the runtime would.
fn at(m: &mut Model, t: u64, mut events: Vec<FleetEvent>) {
    for ev in &mut events {
        if let FleetEvent::Probed { at_ms, .. } = ev
            && *at_ms == 0
        {
            *at_ms = t;
        }
    }
    update(m, Msg::Tick { now_ms: t });
    update(m, Msg::FleetBatch(events));
}

/// The demo model at [`NOW_MS`], on the fleet view, sized 80×24, with `theme`.
pub fn demo_model(theme: Theme) -> Model {
    demo_model_with(demo_config(), theme)
}

/// The demo fleet under another config (e.g. with key bindings).
pub fn demo_model_with(config: Config, theme: Theme) -> Model {
    let start = NOW_MS - 3 * 60 * MIN;
    let mut m = Model::new(
        config,
        theme,
        "kubeconfig ~/.kube/config · role operator".into(),
        false,
        demo_orchestras(),
        start,
    );
    let neo = "neo4j:5.26.0-enterprise";
    let orders = Db {
        orchestra: "aws-eu-west-1",
        namespace: "payments",
        name: "orders",
        profile: "neo4j",
        image: neo,
        primaries: 3,
        secondaries: 1,
    };
    let ledger = Db {
        name: "ledger",
        primaries: 3,
        secondaries: 0,
        ..orders
    };
    let catalog = Db {
        namespace: "search",
        name: "catalog",
        image: "neo4j:5.24.1-enterprise",
        ..ledger
    };
    let graph = Db {
        namespace: "analytics",
        name: "graph",
        primaries: 5,
        ..ledger
    };
    let etcd = Db {
        namespace: "infra",
        name: "etcd-main",
        profile: "etcd",
        image: "quay.io/coreos/etcd:v3.5.17",
        ..ledger
    };
    let inventory = Db {
        orchestra: "gcp-us-central1",
        namespace: "shop",
        name: "inventory",
        ..orders
    };
    let sessions = Db {
        orchestra: "gcp-us-central1",
        namespace: "shop",
        name: "sessions",
        profile: "dynomite",
        image: "dynomitedb/dynomite:v0.7.0",
        primaries: 3,
        secondaries: 0,
    };
    let acme_graph = Db {
        orchestra: "acme-prod",
        namespace: "acme",
        name: "graph",
        ..ledger
    };
    let acme_audit = Db {
        orchestra: "acme-prod",
        namespace: "acme",
        name: "audit",
        image: "neo4j:4.4.40-enterprise",
        ..ledger
    };

    at(
        &mut m,
        start,
        vec![
            connection("aws-eu-west-1", Connection::Live),
            connection("gcp-us-central1", Connection::Live),
            connection("acme-prod", Connection::Live),
            connection(
                "azure-westeurope",
                Connection::Unreachable("dial tcp 10.20.0.1:443: i/o timeout".into()),
            ),
            connection(
                "oci-eu-frankfurt-1",
                Connection::Unauthorized("401 Unauthorized: the token has expired".into()),
            ),
            pods_event(
                &[&orders, &ledger, &catalog, &graph],
                start - 40 * 24 * 60 * MIN,
            ),
            pods_event(&[&etcd], start - 90 * 24 * 60 * MIN),
            pods_event(&[&inventory], start - 5 * 60 * MIN),
            pods_event(&[&sessions], start - 5 * 60 * MIN),
            pods_event(&[&acme_graph, &acme_audit], start - 7 * 24 * 60 * MIN),
            orders.probed(0, 6, &[0, 2, 1, 40]),
            ledger.probed(0, 3, &[0, 0, 0]),
            catalog.probed(1, 9, &[0, 0, 0]),
            graph.probed(0, 11, &[0, 3, 5, 2, 1]),
            etcd.probed(2, 2, &[0, 0, 0]),
            inventory.probed(0, 4, &[0, 1, 1, 7]),
            acme_graph.probed(1, 2, &[0, 0, 0]),
            acme_audit.probed(0, 5, &[0, 0, 0]),
        ],
    );
    // orders: the leader moved from orders-0 to orders-2 an hour ago.
    at(
        &mut m,
        NOW_MS - 64 * MIN,
        vec![orders.probed(2, 7, &[3, 1, 0, 35])],
    );
    // graph: leadership bouncing for the last ten minutes (churn) and one member far behind.
    for (i, leader) in [1, 3, 1, 4, 2].into_iter().enumerate() {
        at(
            &mut m,
            NOW_MS - (9 - i as u64 * 2) * MIN - 17_000,
            vec![graph.probed(leader, 12 + i as u64, &[0, 0, 0, 4_200, 0])],
        );
    }
    // gcp went stale twenty minutes ago (its data is what was last seen).
    at(
        &mut m,
        NOW_MS - 20 * MIN,
        vec![connection(
            "gcp-us-central1",
            Connection::Stale {
                since_ms: NOW_MS - 20 * MIN + 4_000,
                reason: "watch: connection reset by peer".into(),
            },
        )],
    );
    // ledger: one member's probe times out and its pod restarted; Kubernetes says why.
    let mut ledger_pods = ledger.pods(start - 40 * 24 * 60 * MIN);
    ledger_pods[1].1.restarts = 4;
    ledger_pods[1].1.created_ms = Some(NOW_MS - 6 * MIN);
    let ledger_key = DbKey::new("aws-eu-west-1", &ledger.db());
    at(
        &mut m,
        NOW_MS - 3 * MIN,
        vec![
            FleetEvent::Pods {
                orchestra: "aws-eu-west-1".into(),
                profile: "neo4j".into(),
                pods: ledger_pods,
                complete: false,
            },
            FleetEvent::Probed {
                orchestra: "aws-eu-west-1".into(),
                db: ledger.db(),
                results: vec![(
                    "ledger-1".into(),
                    Probe::Error("GET /dbms/cluster/status: timed out after 2s".into()),
                )],
                at_ms: NOW_MS - 3 * MIN,
            },
            FleetEvent::Events {
                key: ledger_key,
                events: vec![
                    EventLine {
                        at_ms: NOW_MS - 7 * MIN,
                        kind: "Warning".into(),
                        reason: "Unhealthy".into(),
                        object: "pod/ledger-1".into(),
                        message: "Readiness probe failed: HTTP probe failed with statuscode: 503"
                            .into(),
                    },
                    EventLine {
                        at_ms: NOW_MS - 6 * MIN,
                        kind: "Normal".into(),
                        reason: "Killing".into(),
                        object: "pod/ledger-1".into(),
                        message: "Container neo4j failed liveness probe, will be restarted".into(),
                    },
                    EventLine {
                        at_ms: NOW_MS - 5 * MIN,
                        kind: "Warning".into(),
                        reason: "BackOff".into(),
                        object: "pod/ledger-1".into(),
                        message: "Back-off restarting failed container neo4j in pod ledger-1\n"
                            .into(),
                    },
                ],
            },
        ],
    );
    // catalog: two primaries gone quiet, no leader: down.
    at(
        &mut m,
        NOW_MS - 2 * MIN,
        vec![FleetEvent::Probed {
            orchestra: "aws-eu-west-1".into(),
            db: catalog.db(),
            results: vec![
                (
                    "catalog-0".into(),
                    Probe::Error("connection refused".into()),
                ),
                (
                    "catalog-1".into(),
                    Probe::Error("connection refused".into()),
                ),
                (
                    "catalog-2".into(),
                    report("catalog-2", None, 10, 99_000, true),
                ),
            ],
            at_ms: NOW_MS - 2 * MIN,
        }],
    );
    // acme audit: one pod not ready.
    let mut audit_pods = acme_audit.pods(start - 7 * 24 * 60 * MIN);
    audit_pods[2].1.ready = false;
    at(
        &mut m,
        NOW_MS - MIN,
        vec![FleetEvent::Pods {
            orchestra: "acme-prod".into(),
            profile: "neo4j".into(),
            pods: audit_pods,
            complete: false,
        }],
    );
    update(&mut m, Msg::Tick { now_ms: NOW_MS });
    m.dirty = false;
    m
}

/// A model at [`NOW_MS`] over [`large_fleet_events`] (200 orchestras sharing `databases`
/// databases), on the fleet-wide database list one page down, sized `w`×`h`.
pub fn large_model(theme: Theme, databases: usize, w: u16, h: u16) -> Model {
    let mut m = Model::new(
        demo_config(),
        theme,
        "bench".into(),
        false,
        Vec::new(),
        NOW_MS,
    );
    let key = |c: KeyCode| Msg::Key(KeyEvent::new(c, KeyModifiers::NONE));
    for msg in [
        Msg::FleetBatch(large_fleet_events(200, databases)),
        Msg::Resize(w, h),
        key(KeyCode::Char('d')),
        key(KeyCode::PageDown),
    ] {
        update(&mut m, msg);
    }
    m
}

/// A synthetic fleet: `orchestras` live orchestras sharing `databases` neo4j databases of three
/// members each, all probed; about 5 % degraded (lag) and 1 % down (no leader).
pub fn large_fleet_events(orchestras: usize, databases: usize) -> Vec<FleetEvent> {
    let orchestras = orchestras.max(1);
    let mut out = Vec::new();
    let names: Vec<String> = (0..orchestras)
        .map(|i| format!("region-{:03}", i))
        .collect();
    for n in &names {
        out.push(connection(n, Connection::Live));
    }
    let mut pods_per: Vec<Vec<(DbRef, PodInfo)>> = vec![Vec::new(); orchestras];
    let mut probes = Vec::new();
    for i in 0..databases {
        let o = i % orchestras;
        let db = DbRef {
            namespace: format!("tenant-{:04}", i / 7),
            name: format!("graph-{i:05}"),
        };
        let members: Vec<String> = (0..3).map(|k| format!("graph-{i:05}-{k}")).collect();
        for (k, name) in members.iter().enumerate() {
            pods_per[o].push((
                db.clone(),
                PodInfo {
                    name: name.clone(),
                    ready: true,
                    phase: "Running".into(),
                    restarts: 0,
                    node: format!("node-{}", (i + k) % 97).into(),
                    zone: format!("zone-{}", ["a", "b", "c"][k]).into(),
                    ip: format!("10.{}.{}.{}", o % 250, (i / 250) % 250, i % 250),
                    image: "neo4j:5.26.0-enterprise".into(),
                    created_ms: Some(NOW_MS - 86_400_000),
                    terminating: false,
                },
            ));
        }
        let down = i % 100 == 42;
        let lagging = i % 20 == 7;
        let leader = if down {
            None
        } else {
            Some(members[i % 3].as_str())
        };
        probes.push(FleetEvent::Probed {
            orchestra: names[o].clone(),
            db,
            results: members
                .iter()
                .enumerate()
                .map(|(k, n)| {
                    let behind = if lagging && k != i % 3 {
                        5_000
                    } else {
                        k as u64
                    };
                    (n.clone(), report(n, leader, 3, 1_000_000 - behind, true))
                })
                .collect(),
            at_ms: NOW_MS,
        });
    }
    for (o, pods) in pods_per.into_iter().enumerate() {
        out.push(FleetEvent::Pods {
            orchestra: names[o].clone(),
            profile: "neo4j".into(),
            pods,
            complete: true,
        });
    }
    out.extend(probes);
    out
}
