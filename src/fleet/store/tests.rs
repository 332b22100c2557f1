//! Unit tests of the fleet store: folding pods, probes, workloads and connections.

use std::sync::Arc;

use super::*;
use crate::fleet::{Health, ProbeReport, Role};

fn pod(name: &str) -> PodInfo {
    PodInfo {
        name: name.into(),
        ready: true,
        phase: "Running".into(),
        node: "n1".into(),
        image: "neo4j:5.26.0-enterprise".into(),
        ..PodInfo::default()
    }
}

fn db(name: &str) -> DbRef {
    DbRef {
        namespace: "ns".into(),
        name: name.into(),
    }
}

fn pods(orchestra: &str, list: &[(&str, &str)], complete: bool) -> FleetEvent {
    FleetEvent::Pods {
        orchestra: orchestra.into(),
        profile: "neo4j".into(),
        pods: list.iter().map(|(d, p)| (db(d), pod(p))).collect(),
        complete,
    }
}

fn report(id: &str, leader: &str, applied: u64) -> Probe {
    Probe::Ok(ProbeReport {
        member_id: id.into(),
        leader_id: Some(leader.into()),
        is_leader: id == leader,
        applied_index: Some(applied),
        voter: true,
        healthy: true,
        ..ProbeReport::default()
    })
}

fn probed(d: &str, leader: &str) -> FleetEvent {
    FleetEvent::Probed {
        orchestra: "o1".into(),
        db: db(d),
        results: ["a-0", "a-1", "a-2"]
            .iter()
            .map(|p| (p.to_string(), report(p, leader, 10)))
            .collect(),
        at_ms: 1,
    }
}

#[test]
fn relist_replaces_without_ghosts_or_duplicates() {
    let mut f = Fleet::new(100);
    f.apply(FleetEvent::Connection {
        orchestra: "o1".into(),
        state: Connection::Live,
    });
    f.apply(pods(
        "o1",
        &[("a", "a-0"), ("a", "a-1"), ("b", "b-0")],
        true,
    ));
    f.apply(pods("o2", &[("a", "a-0")], true));
    assert_eq!(f.databases.len(), 3);
    // An update of one pod does not duplicate it.
    f.apply(pods("o1", &[("a", "a-1")], false));
    assert_eq!(f.databases_of("o1").count(), 2);
    assert_eq!(f.member_count(), 4);
    // A relist without b and a-1 removes them, in o1 only.
    f.apply(pods("o1", &[("a", "a-0"), ("c", "c-0")], true));
    let names: Vec<&str> = f.databases_of("o1").map(|d| d.key.name.as_str()).collect();
    assert_eq!(names, ["a", "c"]);
    assert_eq!(f.databases_of("o2").count(), 1);
    assert_eq!(f.member_count(), 3);
    // Deleting the last pod removes the database.
    f.apply(FleetEvent::PodGone {
        orchestra: "o1".into(),
        db: db("c"),
        pod: "c-0".into(),
    });
    assert_eq!(f.databases_of("o1").count(), 1);
}

#[test]
fn probes_derive_roles_and_leader_history() {
    let mut f = Fleet::new(100);
    f.apply(pods(
        "o1",
        &[("a", "a-0"), ("a", "a-1"), ("a", "a-2")],
        true,
    ));
    let k = DbKey::new("o1", &db("a"));
    assert_eq!(f.databases[&k].state.health, Health::Unknown);
    f.apply(probed("a", "a-0"));
    let d = &f.databases[&k];
    assert_eq!(d.state.leader.as_deref(), Some("a-0"));
    assert_eq!(d.state.members[0].role, Role::Leader);
    assert_eq!(d.state.health, Health::Healthy);
    assert!(d.history.changes.is_empty());
    // The leader's pod goes; a fresh pod comes back pending; the next probe finds a-2 leading.
    f.apply(FleetEvent::PodGone {
        orchestra: "o1".into(),
        db: db("a"),
        pod: "a-0".into(),
    });
    assert_eq!(f.databases[&k].state.leader, None);
    f.apply(probed("a", "a-2"));
    let d = &f.databases[&k];
    assert_eq!(d.state.leader.as_deref(), Some("a-2"));
    assert_eq!(d.history.changes.len(), 1);
    assert_eq!(d.history.changes[0].from.as_deref(), Some("a-0"));
    assert_eq!(d.history.changes[0].to.as_deref(), Some("a-2"));
    assert_eq!(
        d.history.changes[0].at_ms, 1,
        "a leader change is stamped with the probe's time"
    );
    assert_eq!(f.counts("o1").total(), 1);
    // The same answers again are not a change (nor is a timing field that moves on every
    // probe): the generation stays.
    let g = f.generation;
    assert!(!f.apply(probed("a", "a-2")));
    let FleetEvent::Probed { mut results, .. } = probed("a", "a-2") else {
        unreachable!()
    };
    if let Probe::Ok(r) = &mut results[0].1 {
        r.millis_since_leader_message = Some(123);
    }
    let again = FleetEvent::Probed {
        orchestra: "o1".into(),
        db: db("a"),
        results,
        at_ms: 5,
    };
    assert!(!f.apply(again));
    assert_eq!(f.generation, g);
    assert!(f.apply(probed("a", "a-1")), "a new leader is a change");
}

#[test]
fn a_databases_members_share_one_copy_of_their_voting_set() {
    let mut f = Fleet::new(100);
    f.apply(pods(
        "o1",
        &[("a", "a-0"), ("a", "a-1"), ("a", "a-2")],
        true,
    ));
    let with_voters = |p: &str, voters: &[&str]| {
        let Probe::Ok(mut r) = report(p, "a-0", 10) else {
            unreachable!()
        };
        r.voters = voters.iter().map(|v| v.to_string()).collect();
        (p.to_string(), Probe::Ok(r))
    };
    let round = |voters_of_a2: &[&str]| FleetEvent::Probed {
        orchestra: "o1".into(),
        db: db("a"),
        results: vec![
            with_voters("a-0", &["a-0", "a-1", "a-2"]),
            with_voters("a-1", &["a-0", "a-1", "a-2"]),
            with_voters("a-2", voters_of_a2),
        ],
        at_ms: 1,
    };
    let voters = |f: &Fleet| -> Vec<Arc<[String]>> {
        f.databases[&DbKey::new("o1", &db("a"))]
            .members
            .iter()
            .map(|m| match &m.probe {
                Probe::Ok(r) => r.voters.clone(),
                _ => panic!("probed"),
            })
            .collect()
    };
    f.apply(round(&["a-0", "a-1", "a-2"]));
    let v = voters(&f);
    assert!(Arc::ptr_eq(&v[0], &v[1]) && Arc::ptr_eq(&v[1], &v[2]));
    // The next round's equal sets are the held copy too.
    f.apply(round(&["a-0", "a-1", "a-2"]));
    let again = voters(&f);
    assert!(Arc::ptr_eq(&v[0], &again[0]) && Arc::ptr_eq(&v[0], &again[2]));
    // A member that reports another set keeps its own.
    f.apply(round(&["a-0", "a-1", "a-3"]));
    let split = voters(&f);
    assert!(Arc::ptr_eq(&split[0], &split[1]));
    assert_eq!(&*split[2], ["a-0", "a-1", "a-3"]);
}

#[test]
fn zones_reach_members_listed_before_the_nodes() {
    let mut f = Fleet::new(100);
    f.apply(pods("o1", &[("a", "a-0")], true));
    let k = DbKey::new("o1", &db("a"));
    let node = f.databases[&k].members[0].pod.node.clone();
    let zones = std::collections::HashMap::from([(node.to_string(), "zone-a".to_string())]);
    let ev = |o: &str| FleetEvent::Zones {
        orchestra: o.into(),
        zones: zones.clone(),
    };
    assert!(!f.apply(ev("o2")), "another orchestra's nodes");
    assert!(f.apply(ev("o1")));
    assert_eq!(&*f.databases[&k].members[0].pod.zone, "zone-a");
    assert!(!f.apply(ev("o1")), "same zones again");
    // Pods listed after the nodes get their zone too.
    f.apply(pods("o1", &[("a", "a-0"), ("a", "a-1")], true));
    assert!(
        f.databases[&k]
            .members
            .iter()
            .all(|m| &*m.pod.zone == "zone-a")
    );
}

#[test]
fn stale_keeps_its_first_time() {
    let mut f = Fleet::new(100);
    let stale = |t| FleetEvent::Connection {
        orchestra: "o1".into(),
        state: Connection::Stale {
            since_ms: t,
            reason: "x".into(),
        },
    };
    assert!(f.apply(stale(5_000)));
    assert!(!f.apply(stale(9_000)));
    assert_eq!(
        f.orchestras["o1"].connection.describe(),
        "stale since 00:00:05: x"
    );
}

fn sts(name: &str, ready: u32) -> StatefulSetInfo {
    StatefulSetInfo {
        name: name.into(),
        replicas: 1,
        ready_replicas: ready,
        image: "neo4j:5.26.0-enterprise".into(),
        ..StatefulSetInfo::default()
    }
}

fn sets(list: &[(&str, StatefulSetInfo)], complete: bool) -> FleetEvent {
    FleetEvent::StatefulSets {
        orchestra: "o1".into(),
        profile: "neo4j".into(),
        sets: list.iter().map(|(d, s)| (db(d), s.clone())).collect(),
        complete,
    }
}

fn job(name: &str, active: u32) -> JobInfo {
    JobInfo {
        name: name.into(),
        operation: Some("backup".into()),
        active,
        ..JobInfo::default()
    }
}

fn jobs(list: &[(&str, JobInfo)], complete: bool) -> FleetEvent {
    FleetEvent::Jobs {
        orchestra: "o1".into(),
        jobs: list.iter().map(|(d, j)| (db(d), j.clone())).collect(),
        complete,
    }
}

fn lease(d: &str, holder: &str) -> FleetEvent {
    FleetEvent::OpLeases {
        orchestra: "o1".into(),
        leases: vec![(
            db(d),
            LeaseInfo {
                name: format!("baton-op-{d}"),
                holder: Some(holder.into()),
                operation: Some(r#"{"operation":"rolling-restart"}"#.into()),
                ..LeaseInfo::default()
            },
        )],
        complete: false,
    }
}

#[test]
fn statefulsets_belong_to_their_database_and_relists_leave_no_ghosts() {
    let mut f = Fleet::new(100);
    f.apply(pods("o1", &[("a", "a-0")], true));
    let a = DbKey::new("o1", &db("a"));
    assert!(f.apply(sets(&[("a", sts("a-1", 0)), ("a", sts("a-2", 1))], true)));
    let names: Vec<&str> = f.databases[&a]
        .statefulsets
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["a-1", "a-2"]);
    // An update replaces, never duplicates; the same again is no change.
    assert!(f.apply(sets(&[("a", sts("a-1", 1))], false)));
    assert!(!f.apply(sets(&[("a", sts("a-1", 1))], false)));
    assert_eq!(f.databases[&a].statefulsets.len(), 2);
    assert_eq!(f.databases[&a].statefulsets[0].ready_replicas, 1);
    // A stopped database (StatefulSets, no pods) stays listed.
    f.apply(sets(&[("a", sts("a-1", 1)), ("b", sts("b-1", 0))], true));
    let b = DbKey::new("o1", &db("b"));
    assert!(f.databases[&b].members.is_empty());
    assert_eq!(f.databases[&b].profile, "neo4j");
    assert_eq!(
        f.databases[&a].statefulsets.len(),
        1,
        "a-2 gone in the relist"
    );
    // Its last StatefulSet deleted, b is gone; a keeps its pod after its sets went.
    assert!(f.apply(FleetEvent::StatefulSetGone {
        orchestra: "o1".into(),
        db: db("b"),
        name: "b-1".into(),
    }));
    assert!(!f.databases.contains_key(&b));
    f.apply(sets(&[], true));
    assert!(f.databases[&a].statefulsets.is_empty());
    assert_eq!(f.databases[&a].members.len(), 1);
    // Pods gone as well: nothing left.
    f.apply(pods("o1", &[], true));
    assert!(f.databases.is_empty());
}

#[test]
fn jobs_and_the_operation_lease_wait_for_their_database() {
    let mut f = Fleet::new(100);
    let a = DbKey::new("o1", &db("a"));
    // Known before the database's pods: not listed, but kept.
    assert!(f.apply(jobs(&[("a", job("a-backup-1", 1))], true)));
    assert!(f.apply(lease("a", "alice@bastion")));
    assert!(f.databases.is_empty(), "a Job alone lists no database");
    f.apply(pods("o1", &[("a", "a-0")], true));
    let d = &f.databases[&a];
    assert_eq!(d.profile, "neo4j");
    assert_eq!(d.jobs, [job("a-backup-1", 1)]);
    let l = d
        .op_lease
        .as_ref()
        .map(|l| (l.name.as_str(), l.holder.as_deref()));
    assert_eq!(l, Some(("baton-op-a", Some("alice@bastion"))));
    // The Job finishes; another starts; a relist without the first drops it.
    f.apply(jobs(&[("a", job("a-backup-1", 0))], false));
    f.apply(jobs(&[("a", job("a-backup-2", 1))], false));
    assert_eq!(f.databases[&a].jobs.len(), 2);
    f.apply(jobs(&[("a", job("a-backup-2", 1))], true));
    assert_eq!(f.databases[&a].jobs, [job("a-backup-2", 1)]);
    // The pods go: the database is no longer listed, its Job and Lease are still known and
    // come back with it.
    f.apply(pods("o1", &[], true));
    assert!(f.databases.is_empty());
    f.apply(pods("o1", &[("a", "a-0")], true));
    assert_eq!(f.databases[&a].jobs.len(), 1);
    assert!(f.databases[&a].op_lease.is_some());
    // The Lease released, the Jobs relisted empty.
    assert!(f.apply(FleetEvent::OpLeaseGone {
        orchestra: "o1".into(),
        db: db("a"),
        name: "baton-op-a".into(),
    }));
    assert!(f.apply(jobs(&[], true)));
    let d = &f.databases[&a];
    assert!(d.jobs.is_empty() && d.op_lease.is_none());
    // Another orchestra's relist leaves o1 alone.
    f.apply(lease("a", "bob"));
    f.apply(FleetEvent::OpLeases {
        orchestra: "o2".into(),
        leases: vec![],
        complete: true,
    });
    assert!(f.databases[&a].op_lease.is_some());
    // Forgotten entirely once nothing is left.
    f.apply(pods("o1", &[], true));
    f.apply(FleetEvent::OpLeases {
        orchestra: "o1".into(),
        leases: vec![],
        complete: true,
    });
    assert!(f.unlisted.is_empty() && f.databases.is_empty());
}

#[test]
fn probed_once_waits_for_every_orchestra_and_member() {
    let mut f = Fleet::new(100);
    let conn = |o: &str, state: Connection| FleetEvent::Connection {
        orchestra: o.into(),
        state,
    };
    f.apply(conn("o1", Connection::Connecting));
    f.apply(conn("o2", Connection::Connecting));
    assert!(!f.probed_once());
    f.apply(pods(
        "o1",
        &[("a", "a-0"), ("a", "a-1"), ("a", "a-2")],
        true,
    ));
    f.apply(conn("o1", Connection::Live));
    f.apply(conn("o2", Connection::Unreachable("503".into())));
    assert!(!f.probed_once(), "a-* not probed yet");
    f.apply(probed("a", "a-0"));
    assert!(f.probed_once());
    // A new member is not probed yet.
    f.apply(pods("o1", &[("a", "a-3")], false));
    assert!(!f.probed_once());
}
