//! Unit tests of what the coordinator reads from the fleet.

use super::*;
use crate::config::OperationName;
use crate::fleet::{DbRef, FleetEvent, JobInfo, LeaseInfo, PodInfo, Probe, ProbeReport};
use crate::ops::safety::Check;

const NOW: u64 = 1_800_000_000_000;
const HOLDER: &str = "ana@bastion pid 7";

fn db() -> DbRef {
    DbRef {
        namespace: "ns".into(),
        name: "orders".into(),
    }
}

fn key() -> DbKey {
    DbKey::new("o1", &db())
}

/// One Neo4j database of three members on a live orchestra.
fn fleet() -> Fleet {
    let mut f = Fleet::new(100);
    f.apply(FleetEvent::Connection {
        orchestra: "o1".into(),
        state: Connection::Live,
    });
    let pods = (0..3)
        .map(|i| {
            (
                db(),
                PodInfo {
                    name: format!("orders-{i}"),
                    ready: true,
                    ..PodInfo::default()
                },
            )
        })
        .collect();
    f.apply(FleetEvent::Pods {
        orchestra: "o1".into(),
        profile: "neo4j".into(),
        pods,
        complete: false,
    });
    f
}

fn probe(f: &mut Fleet, members: &[usize], leader: usize, at_ms: u64, healthy: bool) {
    let results = members
        .iter()
        .map(|i| {
            (
                format!("orders-{i}"),
                Probe::Ok(ProbeReport {
                    member_id: format!("m{i}"),
                    leader_id: Some(format!("m{leader}")),
                    is_leader: *i == leader,
                    term: Some(1),
                    applied_index: Some(10),
                    voter: true,
                    healthy,
                    ..ProbeReport::default()
                }),
            )
        })
        .collect();
    f.apply(FleetEvent::Probed {
        orchestra: "o1".into(),
        db: db(),
        results,
        at_ms,
    });
}

fn record(state: OpState, started_ms: u64, holder: &str) -> Record {
    Record {
        operation: OperationName::Upgrade,
        params: Default::default(),
        holder: holder.into(),
        started_ms,
        state,
        step: 3,
        detail: "upgraded orders-2".into(),
        original: Default::default(),
        voters: Vec::new(),
        first: Vec::new(),
        job: None,
        waiting: None,
        plan: Vec::new(),
        forced: Vec::new(),
    }
}

fn lease(f: &mut Fleet, r: &Record, renewed_ms: u64) {
    f.apply(FleetEvent::OpLeases {
        orchestra: "o1".into(),
        leases: vec![(
            db(),
            LeaseInfo {
                name: "baton-op-orders".into(),
                holder: Some(r.holder.clone()),
                renewed_ms: Some(renewed_ms),
                duration_s: Some(15),
                operation: serde_json::to_string(r).ok(),
            },
        )],
        complete: false,
    });
}

#[test]
fn outcomes_become_states_and_a_refusal_halts_only_when_asked() {
    let (s, halt) = of_outcome(&Outcome::Done("ok".into()), NOW, false, OnRefusal::Skip);
    assert_eq!(
        (s, halt),
        (
            DbState::Done {
                ended_ms: NOW,
                at_goal: false
            },
            None
        )
    );
    let refused = Outcome::Refused(Check::fail("majority", None, "2 of 3 voters".to_string()));
    let (s, halt) = of_outcome(&refused, NOW, false, OnRefusal::Skip);
    assert_eq!(
        s,
        DbState::Skipped {
            rule: "majority: 2 of 3 voters".into()
        }
    );
    assert_eq!(halt, None);
    let (_, halt) = of_outcome(&refused, NOW, false, OnRefusal::Halt);
    assert!(halt.is_some_and(|h| h.contains("majority")));
    // A cancel this coordinator asked (a halt) starts again on resume; anyone else's is harm.
    let cancelled = Outcome::Cancelled("after orders-1".into());
    assert_eq!(
        of_outcome(&cancelled, NOW, true, OnRefusal::Skip).0,
        DbState::Pending
    );
    assert!(matches!(
        of_outcome(&cancelled, NOW, false, OnRefusal::Skip).0,
        DbState::Failed { why } if why.contains("outside the campaign")
    ));
    assert!(matches!(
        of_outcome(&Outcome::Paused("waited 300 s".into()), NOW, false, OnRefusal::Skip).0,
        DbState::Failed { why } if why.contains("baton op resume")
    ));
}

#[test]
fn a_launch_is_read_from_its_own_record_on_the_lease() {
    let mut f = fleet();
    let d = || f.databases.get(&key()).map(|b| &**b);
    // Nothing on the Lease: a local launch of a coordinator gone never started.
    assert_eq!(running(d(), NOW, HOLDER, None, NOW), Look::Relaunch);
    // Someone else's record, or an older one of ours, is not this launch.
    lease(
        &mut f,
        &record(OpState::Done, NOW - 60_000, HOLDER),
        NOW - 50_000,
    );
    let d = || f.databases.get(&key()).map(|b| &**b);
    assert_eq!(running(d(), NOW, HOLDER, None, NOW + 1_000), Look::Relaunch);
    lease(
        &mut f,
        &record(OpState::Running, NOW + 100, HOLDER),
        NOW + 9_000,
    );
    let d = || f.databases.get(&key()).map(|b| &**b);
    assert_eq!(
        running(d(), NOW, HOLDER, None, NOW + 10_000),
        Look::InFlight
    );
    // Its holder stopped renewing: continue it here.
    assert_eq!(running(d(), NOW, HOLDER, None, NOW + 30_000), Look::Resume);
    assert_eq!(
        running(d(), NOW, "bob@elsewhere pid 1", None, NOW + 30_000),
        Look::Relaunch
    );
    lease(
        &mut f,
        &record(OpState::Done, NOW + 100, HOLDER),
        NOW + 40_000,
    );
    let d = || f.databases.get(&key()).map(|b| &**b);
    assert!(matches!(
        running(d(), NOW, HOLDER, None, NOW + 41_000),
        Look::Ended(Outcome::Done(_))
    ));
    lease(
        &mut f,
        &record(OpState::Paused, NOW + 100, HOLDER),
        NOW + 40_000,
    );
    let d = || f.databases.get(&key()).map(|b| &**b);
    assert!(matches!(
        running(d(), NOW, HOLDER, None, NOW + 41_000),
        Look::Ended(Outcome::Paused(_))
    ));
}

#[test]
fn a_runner_job_that_never_took_the_lease_is_judged_by_the_job() {
    let mut f = fleet();
    let job = "baton-run-orders-1";
    let holder = "job/ns/baton-run-orders-1";
    let d = |f: &Fleet| f.databases.get(&key()).map(|b| (**b).clone());
    // Not listed yet: in flight for a grace, then it was never created.
    assert_eq!(
        running(d(&f).as_ref(), NOW, holder, Some(job), NOW + 1_000),
        Look::InFlight
    );
    assert_eq!(
        running(
            d(&f).as_ref(),
            NOW,
            holder,
            Some(job),
            NOW + LAUNCH_GRACE_MS + 1
        ),
        Look::Relaunch
    );
    let info = |failed, succeeded| JobInfo {
        name: job.into(),
        operation: Some("upgrade".into()),
        active: 0,
        succeeded,
        failed,
        started_ms: Some(NOW),
        completed_ms: None,
    };
    for (failed, succeeded, want) in [(0, 0, "in flight"), (1, 0, "failed"), (0, 1, "nothing")] {
        f.apply(FleetEvent::Jobs {
            orchestra: "o1".into(),
            jobs: vec![(db(), info(failed, succeeded))],
            complete: false,
        });
        let look = running(
            d(&f).as_ref(),
            NOW,
            holder,
            Some(job),
            NOW + LAUNCH_GRACE_MS + 1,
        );
        let got = match look {
            Look::InFlight => "in flight",
            Look::Ended(Outcome::Failed(_)) => "failed",
            Look::Ended(Outcome::Nothing(_)) => "nothing",
            other => panic!("{other:?}"),
        };
        assert_eq!(got, want);
    }
}

#[test]
fn a_launch_is_judged_only_once_its_orchestra_shows_its_leases_and_jobs() {
    let mut f = fleet();
    let o = |f: &Fleet| f.orchestras.get("o1").cloned();
    // Live, but nothing of its Leases or Jobs listed: a runner Job not seen proves nothing.
    assert_eq!(
        sees(o(&f).as_ref(), true),
        Err("its operation Leases are not listed yet")
    );
    f.apply(FleetEvent::OpLeases {
        orchestra: "o1".into(),
        leases: Vec::new(),
        complete: true,
    });
    assert_eq!(sees(o(&f).as_ref(), false), Ok(()));
    assert_eq!(
        sees(o(&f).as_ref(), true),
        Err("its Jobs are not listed yet")
    );
    // A Job applied by a watch event is not the whole list.
    f.apply(FleetEvent::Jobs {
        orchestra: "o1".into(),
        jobs: Vec::new(),
        complete: false,
    });
    assert_eq!(
        sees(o(&f).as_ref(), true),
        Err("its Jobs are not listed yet")
    );
    f.apply(FleetEvent::Jobs {
        orchestra: "o1".into(),
        jobs: Vec::new(),
        complete: true,
    });
    assert_eq!(sees(o(&f).as_ref(), true), Ok(()));
    f.apply(FleetEvent::Connection {
        orchestra: "o1".into(),
        state: Connection::Stale {
            since_ms: NOW,
            reason: "watch broke".into(),
        },
    });
    assert_eq!(sees(o(&f).as_ref(), true), Err("the orchestra is not live"));
    assert_eq!(sees(None, false), Err("the orchestra is not known"));
}

#[test]
fn health_after_an_operation_counts_only_from_looks_after_its_end() {
    let mut f = fleet();
    // Mid-operation: unhealthy, and leaders changed while it ran.
    probe(&mut f, &[0, 1, 2], 0, NOW - 5_000, false);
    probe(&mut f, &[0, 1, 2], 1, NOW - 4_000, true);
    probe(&mut f, &[0, 1, 2], 2, NOW - 3_000, true);
    assert_eq!(
        seen(&f, &key(), NOW, NOW + 1_000),
        None,
        "no look since the end"
    );
    // Only the leader looked at since: the others' probes are from during the operation.
    probe(&mut f, &[2], 2, NOW + 1_000, true);
    assert_eq!(seen(&f, &key(), NOW, NOW + 1_000), None);
    probe(&mut f, &[0, 1, 2], 2, NOW + 2_000, true);
    let s = seen(&f, &key(), NOW, NOW + 2_000).unwrap();
    assert_eq!((s.health, s.churn), (crate::fleet::Health::Healthy, false));
    // Leaders changing again and again after it: churn.
    for (i, leader) in [0, 1, 2, 0].into_iter().enumerate() {
        probe(
            &mut f,
            &[0, 1, 2],
            leader,
            NOW + 3_000 + i as u64 * 1_000,
            true,
        );
    }
    assert!(seen(&f, &key(), NOW, NOW + 8_000).unwrap().churn);
    f.apply(FleetEvent::Connection {
        orchestra: "o1".into(),
        state: Connection::Unreachable("gone".into()),
    });
    assert_eq!(
        seen(&f, &key(), NOW, NOW + 9_000),
        None,
        "out of sight: not judged"
    );
}
