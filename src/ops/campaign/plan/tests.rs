//! Unit tests of the campaign plan over a fleet folded from events.

use std::path::Path;

use super::*;
use crate::fleet::{DbRef, FleetEvent, LeaseInfo, PodInfo};
use crate::ops::campaign::spec::{self, OnRefusal};
use crate::ops::record::Record;

const NOW: u64 = 1_800_000_000_000;

/// `orchestra → [(database, version)]`, three members each, every profile `profile`.
fn fleet(profile: &str, dbs: &[(&str, &str, &str)]) -> Fleet {
    let mut f = Fleet::new(0);
    for (o, name, version) in dbs {
        f.apply(FleetEvent::Connection {
            orchestra: (*o).into(),
            state: crate::fleet::Connection::Live,
        });
        let db = DbRef {
            namespace: "ns".into(),
            name: (*name).into(),
        };
        let pods = (0..3)
            .map(|i| {
                (
                    db.clone(),
                    PodInfo {
                        name: format!("{name}-{i}"),
                        ready: true,
                        image: format!("neo4j:{version}-enterprise").into(),
                        ..PodInfo::default()
                    },
                )
            })
            .collect();
        f.apply(FleetEvent::Pods {
            orchestra: (*o).into(),
            profile: profile.into(),
            pods,
            complete: false,
        });
    }
    f
}

fn lease(f: &mut Fleet, orchestra: &str, db: &str, record: &Record, renewed_ms: u64) {
    f.apply(FleetEvent::OpLeases {
        orchestra: orchestra.into(),
        leases: vec![(
            DbRef {
                namespace: "ns".into(),
                name: db.into(),
            },
            LeaseInfo {
                name: format!("baton-op-{db}"),
                holder: Some(record.holder.clone()),
                renewed_ms: Some(renewed_ms),
                duration_s: Some(15),
                operation: serde_json::to_string(record).ok(),
            },
        )],
        complete: false,
    });
}

fn record(op: OperationName, state: OpState, started_ms: u64) -> Record {
    Record {
        operation: op,
        params: BTreeMap::new(),
        holder: "ana@bastion pid 7".into(),
        started_ms,
        state,
        step: 2,
        detail: String::new(),
        original: BTreeMap::new(),
        voters: Vec::new(),
        first: Vec::new(),
        job: None,
        waiting: None,
        plan: Vec::new(),
        forced: Vec::new(),
    }
}

fn upgrade(select: &str) -> Spec {
    Spec {
        name: "upgrade-5-26".into(),
        operation: OperationName::Upgrade,
        params: [("version".to_string(), "5.26.0".to_string())].into(),
        select: select.into(),
        canary: Canary::Count(1),
        soak: Duration::from_secs(600),
        waves: spec::parse_waves(spec::DEFAULT_WAVES).unwrap(),
        max_parallel: 50,
        max_per_orchestra: 1,
        on_refusal: OnRefusal::Skip,
    }
}

fn planned(spec: &Spec, f: &Fleet, config: &Config) -> Plan {
    let sel = spec.check().unwrap();
    plan(spec, &sel, f, config, NOW).unwrap()
}

fn id(k: &DbKey) -> String {
    k.id()
}

#[test]
fn what_matched_is_planned_or_excluded_with_its_reason() {
    let mut f = fleet(
        "neo4j",
        &[
            ("aws-eu", "orders", "5.24.1"),
            ("aws-eu", "dedicated-1", "5.24.1"),
            ("aws-eu", "done", "5.26.0"),
            ("aws-us", "billing", "5.24.1"),
            ("aws-us", "busy", "5.24.1"),
            ("prod", "ledger", "5.24.1"),
            ("gcp", "other", "5.24.1"),
        ],
    );
    lease(
        &mut f,
        "aws-us",
        "busy",
        &record(OperationName::Backup, OpState::Running, NOW - 5_000),
        NOW - 1_000,
    );
    let config =
        Config::parse("[orchestras.prod]\nread_only = true\n", Path::new("c.toml")).unwrap();
    let p = planned(&upgrade("profile:neo4j !dedicated !gcp"), &f, &config);
    assert_eq!(p.matched, 5);
    let all: Vec<String> = p
        .waves
        .iter()
        .flat_map(|w| w.databases.iter().map(id))
        .collect();
    assert_eq!(all, ["aws-eu/ns/orders", "aws-us/ns/billing"]);
    let why: Vec<(String, &str)> = p.excluded.iter().map(|(k, w)| (id(k), w.word())).collect();
    assert_eq!(
        why,
        [
            ("aws-eu/ns/done".to_string(), "at the goal"),
            ("aws-us/ns/busy".to_string(), "operation in flight"),
            ("prod/ns/ledger".to_string(), "read-only orchestra"),
        ]
    );
    assert!(
        p.excluded[1].1.say().contains("backup"),
        "{}",
        p.excluded[1].1.say()
    );
    // A backup is a Neo4j operation: an etcd database's profile lacks it.
    let e = fleet("etcd", &[("aws-eu", "config", "3.5.9")]);
    let mut backup = upgrade("");
    backup.operation = OperationName::Backup;
    backup.params.clear();
    let p = planned(&backup, &e, &Config::default());
    assert_eq!(p.excluded[0].1, Excluded::ProfileLacks("etcd".into()));
}

#[test]
fn waves_widen_after_the_canary_and_interleave_the_orchestras() {
    let names: Vec<(String, String)> = (0..20)
        .map(|i| (format!("o{}", i % 4), format!("db{i:02}")))
        .collect();
    let dbs: Vec<(&str, &str, &str)> = names
        .iter()
        .map(|(o, n)| (o.as_str(), n.as_str(), "5.24.1"))
        .collect();
    let f = fleet("neo4j", &dbs);
    let p = planned(&upgrade(""), &f, &Config::default());
    let sizes: Vec<usize> = p.waves.iter().map(|w| w.databases.len()).collect();
    // 1 canary; 5 % of 20 is 1 (at least one more); 25 % is 5 in all; the rest.
    assert_eq!(sizes, [1, 1, 3, 15]);
    assert_eq!(p.waves[0].name, "canary");
    let first: Vec<&str> = p
        .waves
        .iter()
        .flat_map(|w| &w.databases)
        .take(4)
        .map(|k| k.orchestra.as_str())
        .collect();
    assert_eq!(
        first,
        ["o0", "o1", "o2", "o3"],
        "one of each orchestra in turn"
    );
    assert_eq!(p.waves[3].per_orchestra().values().sum::<usize>(), 15);
    // A canary chosen by filter; the waves take the rest.
    let mut s = upgrade("");
    s.canary = Canary::Filter("orchestra:o2".into());
    let p = planned(&s, &f, &Config::default());
    assert_eq!(p.waves[0].databases.len(), 5);
    assert!(p.waves[0].databases.iter().all(|k| k.orchestra == "o2"));
    assert_eq!(p.planned(), 20);
    s.canary = Canary::Filter("orchestra:nowhere".into());
    let sel = s.check().unwrap();
    assert!(plan(&s, &sel, &f, &Config::default(), NOW).is_err());
}

#[test]
fn the_estimate_comes_from_measured_runs_and_the_limits() {
    let dbs: Vec<(String, String)> = (0..12)
        .map(|i| (format!("o{}", i % 2), format!("db{i:02}")))
        .collect();
    let list: Vec<(&str, &str, &str)> = dbs
        .iter()
        .map(|(o, n)| (o.as_str(), n.as_str(), "5.24.1"))
        .collect();
    let mut f = fleet("neo4j", &list);
    // No run measured: assumed per member (three members).
    let mut s = upgrade("");
    s.waves = spec::parse_waves("100%").unwrap();
    s.max_per_orchestra = 2;
    let p = planned(&s, &f, &Config::default());
    assert_eq!(p.estimate.measured_runs, 0);
    assert_eq!(p.estimate.per_database, ASSUMED_PER_MEMBER * 3);
    // Two finished upgrades elsewhere, of 100 s and 300 s: 200 s each.
    for (db, secs) in [("x1", 100), ("x2", 300)] {
        f = {
            let mut g = f;
            g.apply(FleetEvent::Pods {
                orchestra: "o9".into(),
                profile: "neo4j".into(),
                pods: vec![(
                    DbRef {
                        namespace: "ns".into(),
                        name: db.into(),
                    },
                    PodInfo {
                        name: format!("{db}-0"),
                        image: "neo4j:5.26.0-enterprise".into(),
                        ..PodInfo::default()
                    },
                )],
                complete: false,
            });
            lease(
                &mut g,
                "o9",
                db,
                &record(OperationName::Upgrade, OpState::Done, NOW - 1_000_000),
                NOW - 1_000_000 + secs * 1000,
            );
            g
        };
    }
    let p = planned(&s, &f, &Config::default());
    assert_eq!(p.estimate.measured_runs, 2);
    assert_eq!(p.estimate.per_database, Duration::from_secs(200));
    // Canary (1 round) + soak + 11 databases, 6 and 5 on two orchestras at 2 each: 3 rounds.
    assert_eq!(p.waves[1].rounds(50, 2), 3);
    assert_eq!(
        p.estimate.total,
        Duration::from_secs(200) * 4 + Duration::from_secs(600)
    );
}
