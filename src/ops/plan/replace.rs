//! replace-member (member blast radius): give one member a fresh volume and let it rejoin the
//! Raft group as a new server, the way an operator does it on Kubernetes with Neo4j 5:
//! delete the member's PersistentVolumeClaim and its pod (the StatefulSet makes a new, empty
//! claim and a new pod, which starts as a new, Free server), `ENABLE SERVER` the new one,
//! `DEALLOCATE DATABASES FROM SERVER` the old one (Neo4j adds the new server as a learner,
//! catches it up, promotes it to voter, then removes the old one from the group), wait until
//! the old server hosts nothing, `DROP SERVER` it, and wait until the database has settled.
//!
//! Every step is read from what is observed, never remembered: the claim's uid (old or new),
//! the servers' states in `SHOW SERVERS`, the two "settled" queries of Neo4j's upgrade guide —
//! so a resume after a crash anywhere lands on the right step. Refused while a backup runs,
//! for the last healthy voter (the majority rule), and for the leader of a 3-voter database
//! with another member down.

use super::{Action, Next};
use crate::fleet::{Probe, Role};
use crate::ops::neo4j_admin::{ServerObs, ServerTable, quote};
use crate::ops::observe::Observed;
use crate::ops::record::Record;
use crate::ops::safety::{Check, MAJORITY, SETTLED, View};

/// Record parameters set at the start: the member's server name (its id) and its claim.
pub const SERVER: &str = "server";
pub const CLAIM: &str = "claim";
pub const CLAIM_UID: &str = "claim-uid";

/// Records what the replacement starts from: the member's pod, claim and server. `Err`: why
/// it cannot start (said to the user, exit 2 or 3 by the caller).
pub fn begin(rec: &mut Record, obs: &Observed) -> Result<(), String> {
    let member = rec.param("member").unwrap_or_default().to_string();
    let pod = obs
        .pod(&member)
        .ok_or_else(|| format!("no member pod {member}"))?;
    let claim = obs.claim_of(&member).ok_or_else(|| {
        format!("{member} mounts no PersistentVolumeClaim: there is no volume to replace")
    })?;
    let table = match &obs.servers {
        Some(Ok(t)) => t,
        Some(Err(e)) => return Err(format!("server management does not answer: {e}")),
        None => return Err("this profile has no server management (Neo4j 5)".into()),
    };
    let id = match obs.probe(&member) {
        Some(Probe::Ok(r)) => Some(r.member_id.clone()),
        _ => None,
    };
    let server = table
        .servers
        .iter()
        .find(|s| Some(&s.name) == id.as_ref())
        .or_else(|| {
            table
                .servers
                .iter()
                .find(|s| s.in_pod(&member) && s.hosts("neo4j") && s.state != "Dropped")
        })
        .ok_or_else(|| format!("SHOW SERVERS lists no server in {member}"))?;
    rec.original.insert(member.clone(), pod.uid.clone());
    rec.params.insert(SERVER.into(), server.name.clone());
    rec.params.insert(CLAIM.into(), claim.name.clone());
    rec.params.insert(CLAIM_UID.into(), claim.uid.clone());
    Ok(())
}

/// The rules before the member goes down: nothing else running (a backup), the majority, the
/// leader of a 3-voter database with another member down, the database settled (the member
/// itself exempt) and server management answering with the member's server hosting.
fn preflight(rec: &Record, v: &View, pod: &str, table: &ServerTable) -> Option<Check> {
    let w = v.no_other_work(None);
    if !w.ok {
        return Some(w);
    }
    if v.d.role(pod) == Role::Leader && v.d.voters.len() == 3 {
        let down: Vec<&str> = v
            .obs
            .pods
            .iter()
            .map(|p| p.name.as_str())
            .filter(|p| *p != pod && v.d.is_voter(p) && v.unhealthy(p).is_some())
            .collect();
        if !down.is_empty() {
            return Some(Check::fail(
                MAJORITY,
                Some(pod),
                format!(
                    "{pod} leads a 3-voter database while {} is down: replacing it would leave one healthy voter",
                    down.join(", ")
                ),
            ));
        }
    }
    let m = v.majority(pod);
    if !m.ok {
        return Some(m);
    }
    let before = rec.voters.iter().cloned().collect();
    let s = v.settled(&[pod], Some(&before));
    if !s.ok {
        return Some(s);
    }
    let server = rec.param(SERVER).unwrap_or_default();
    match table.server(server) {
        Some(s) if s.hosts("neo4j") => None,
        Some(s) => Some(Check::fail(
            SETTLED,
            Some(pod),
            format!(
                "its server {server} is {} and hosts {:?}, not the database",
                s.state, s.hosting
            ),
        )),
        None => Some(Check::fail(
            SETTLED,
            Some(pod),
            format!("SHOW SERVERS no longer lists its server {server}"),
        )),
    }
}

/// The next step of the replacement.
pub fn decide(rec: &Record, v: &View) -> Next {
    let (Some(pod), Some(old), Some(old_claim)) =
        (rec.param("member"), rec.param(SERVER), rec.param(CLAIM_UID))
    else {
        return Next::Fail("the record lacks the member, its server or its claim".into());
    };
    let table = match &v.obs.servers {
        Some(Ok(t)) => t,
        Some(Err(e)) => return Next::Wait(format!("server management does not answer: {e}")),
        None => return Next::Fail("this profile has no server management (Neo4j 5)".into()),
    };
    let claim = v.obs.claim_of(pod);
    let p = v.obs.pod(pod);
    // 1. The old volume: delete its claim, then its pod.
    if claim.is_some_and(|c| c.uid == old_claim) || (claim.is_none() && p.is_some()) {
        let Some(p) = p else {
            return Next::Wait(format!("{pod} has no pod yet"));
        };
        if p.deleting {
            return Next::Wait(format!("{pod} is going away; its claim goes with it"));
        }
        let c = claim.filter(|c| c.uid == old_claim);
        // Nothing done yet (the claim is not even marked): the rules first.
        if c.is_some_and(|c| !c.deleting)
            && let Some(check) = preflight(rec, v, pod, table)
        {
            return Next::Blocked(check);
        }
        return Next::Act(Action::ReplaceVolume {
            pod: pod.to_string(),
            pod_uid: p.uid.clone(),
            claim: c.map(|c| (c.name.clone(), c.uid.clone())),
        });
    }
    let Some(claim) = claim else {
        return Next::Wait(format!("{pod} is getting a new, empty claim"));
    };
    if claim.deleting {
        return Next::Wait(format!("{pod}'s claim {} is being deleted", claim.name));
    }
    // 2. The new server: enable it, deallocate the old one, drop it.
    let Some(new) = table
        .servers
        .iter()
        .find(|s| s.in_pod(pod) && s.name != old && s.state != "Dropped")
    else {
        return Next::Wait(format!(
            "{pod} starts with an empty volume; SHOW SERVERS does not list its new server yet"
        ));
    };
    let Some(leader) = v.d.state.leader.clone() else {
        return Next::Wait("no leader to send server management to (an election)".into());
    };
    let cypher = |statement: String| {
        Next::Act(Action::Cypher {
            pod: leader.clone(),
            statement,
        })
    };
    if matches!(new.state.as_str(), "Free" | "Cordoned") {
        return cypher(format!("ENABLE SERVER {}", quote(&new.name)));
    }
    match table.server(old).map(|s| s.state.as_str()) {
        Some("Enabled" | "Cordoned") => {
            return cypher(format!("DEALLOCATE DATABASES FROM SERVER {}", quote(old)));
        }
        Some("Deallocating") => return Next::Wait(moving(table, new, old)),
        Some("Deallocated") => return cypher(format!("DROP SERVER {}", quote(old))),
        _ => {}
    }
    // 3. Settled: the new server hosts the database, nothing moves, every member caught up.
    if !new.hosts("neo4j") {
        return Next::Wait(moving(table, new, old));
    }
    if !table.moving.is_empty() || !table.unsettled.is_empty() {
        return Next::Wait(format!(
            "Neo4j has not settled: servers moving {:?}, databases {:?}",
            table.moving, table.unsettled
        ));
    }
    let s = v.settled(&[], None);
    if !s.ok {
        return Next::Wait(s.line());
    }
    Next::Done(format!(
        "{pod} replaced: server {old} dropped, new server {} hosts the database; {}",
        new.name, s.detail
    ))
}

fn moving(table: &ServerTable, new: &ServerObs, old: &str) -> String {
    let old_hosting = table
        .server(old)
        .map(|s| format!("{:?}", s.hosting))
        .unwrap_or_default();
    format!(
        "{} joins (hosting {:?}, requested {:?}) while {old} leaves (hosting {old_hosting})",
        new.name, new.hosting, new.requested_hosting
    )
}

/// The plan, for `--dry-run` and the confirmation.
pub fn outline(rec: &Record) -> Vec<String> {
    let pod = rec.param("member").unwrap_or("?");
    let old = rec.param(SERVER).unwrap_or("?");
    let claim = rec.param(CLAIM).unwrap_or("?");
    vec![
        format!(
            "delete claim {claim} and pod {pod}: the StatefulSet makes an empty claim and a new pod (a new, Free server)"
        ),
        "ENABLE SERVER <the new server> (on the leader)".into(),
        format!(
            "DEALLOCATE DATABASES FROM SERVER '{old}': the new server joins as a learner, catches up, is promoted; {old} leaves the Raft group"
        ),
        format!("DROP SERVER '{old}' once it hosts nothing"),
        "wait until SHOW SERVERS/SHOW DATABASES show nothing moving and every member has caught up"
            .into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OperationName;
    use crate::fleet::{Probe, ProbeReport};
    use crate::ops::neo4j_admin::ServerObs;
    use crate::ops::observe::{ClaimObs, PodObs};
    use crate::ops::record::OpState;

    fn server(name: &str, pod: &str, state: &str, hosting: bool) -> ServerObs {
        let h: Vec<String> = if hosting {
            vec!["neo4j".into(), "system".into()]
        } else {
            vec!["system".into()]
        };
        ServerObs {
            name: name.into(),
            address: format!("{pod}.ns.svc.cluster.local:7687"),
            state: state.into(),
            health: "Available".into(),
            hosting: h.clone(),
            requested_hosting: h,
        }
    }

    /// Three primaries orders-{1,2,3}-0 (ids s1..s3), orders-1-0 leads.
    fn world(servers: Vec<ServerObs>, claim_uid: &str, pod_uid: &str) -> Observed {
        let pods: Vec<PodObs> = (1..=3)
            .map(|i| PodObs {
                name: format!("orders-{i}-0"),
                uid: if i == 2 {
                    pod_uid.into()
                } else {
                    format!("u{i}")
                },
                ready: true,
                phase: "Running".into(),
                ip: format!("10.0.0.{i}"),
                claims: vec![format!("data-orders-{i}-0")],
                ..Default::default()
            })
            .collect();
        let probes = (1..=3)
            .map(|i| {
                Probe::Ok(ProbeReport {
                    member_id: format!("s{i}"),
                    leader_id: Some("s1".into()),
                    is_leader: i == 1,
                    applied_index: Some(100),
                    voter: true,
                    healthy: true,
                    voters: ["s1".into(), "s2".into(), "s3".into()].into(),
                    ..Default::default()
                })
            })
            .collect();
        Observed {
            pods,
            probes,
            claims: (1..=3)
                .map(|i| ClaimObs {
                    name: format!("data-orders-{i}-0"),
                    uid: if i == 2 {
                        claim_uid.into()
                    } else {
                        format!("c{i}")
                    },
                    deleting: false,
                })
                .collect(),
            servers: Some(Ok(ServerTable {
                servers,
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    fn rec(obs: &Observed) -> Record {
        let mut r = Record {
            operation: OperationName::ReplaceMember,
            params: [("member".to_string(), "orders-2-0".to_string())].into(),
            holder: "t".into(),
            started_ms: 0,
            state: OpState::Running,
            step: 0,
            detail: String::new(),
            original: Default::default(),
            voters: vec!["s1".into(), "s2".into(), "s3".into()],
            first: vec![],
            job: None,
            waiting: None,
            plan: Vec::new(),
            forced: Vec::new(),
        };
        begin(&mut r, obs).unwrap();
        r
    }

    fn next(r: &Record, obs: &Observed) -> Next {
        let d = obs.derive(1000);
        decide(
            r,
            &View {
                obs,
                d: &d,
                lag_gate: 1000,
                forced: &[],
            },
        )
    }

    fn three(s2: ServerObs) -> Vec<ServerObs> {
        vec![
            server("s1", "orders-1-0", "Enabled", true),
            s2,
            server("s3", "orders-3-0", "Enabled", true),
        ]
    }

    #[test]
    fn every_step_follows_from_what_is_seen() {
        let start = world(
            three(server("s2", "orders-2-0", "Enabled", true)),
            "old",
            "p1",
        );
        let r = rec(&start);
        assert_eq!(r.param(SERVER), Some("s2"));
        match next(&r, &start) {
            Next::Act(Action::ReplaceVolume { pod, claim, .. }) => {
                assert_eq!(pod, "orders-2-0");
                assert_eq!(claim, Some(("data-orders-2-0".into(), "old".into())));
            }
            other => panic!("{other:?}"),
        }
        // A new claim, the new server Free: enable it on the leader.
        let mut servers = three(server("s2", "orders-2-0", "Enabled", true));
        servers.push(server("n2", "orders-2-0", "Free", false));
        let w = world(servers.clone(), "new", "p2");
        assert_eq!(
            next(&r, &w),
            Next::Act(Action::Cypher {
                pod: "orders-1-0".into(),
                statement: "ENABLE SERVER 'n2'".into()
            })
        );
        servers[3].state = "Enabled".into();
        let w = world(servers.clone(), "new", "p2");
        assert!(
            matches!(next(&r, &w), Next::Act(Action::Cypher { statement, .. }) if statement == "DEALLOCATE DATABASES FROM SERVER 's2'")
        );
        servers[1].state = "Deallocating".into();
        assert!(matches!(
            next(&r, &world(servers.clone(), "new", "p2")),
            Next::Wait(_)
        ));
        servers[1].state = "Deallocated".into();
        servers[1].hosting = vec!["system".into()];
        assert!(
            matches!(next(&r, &world(servers.clone(), "new", "p2")), Next::Act(Action::Cypher { statement, .. }) if statement == "DROP SERVER 's2'")
        );
        servers.remove(1);
        servers[2].hosting = vec!["neo4j".into(), "system".into()];
        let mut done = world(servers, "new", "p2");
        if let Some(Probe::Ok(r2)) = done.probes.get_mut(1) {
            r2.member_id = "n2".into();
        }
        for p in done.probes.iter_mut() {
            if let Probe::Ok(r) = p {
                r.voters = ["s1".into(), "n2".into(), "s3".into()].into();
            }
        }
        assert!(
            matches!(next(&r, &done), Next::Done(_)),
            "{:?}",
            next(&r, &done)
        );
    }

    #[test]
    fn settled_for_neo4j_5_needs_both_show_queries_empty() {
        let mut w = world(three(server("s2", "orders-2-0", "Enabled", true)), "c", "p");
        let d = w.derive(1000);
        let v = View {
            obs: &w,
            d: &d,
            lag_gate: 1000,
            forced: &[],
        };
        assert!(v.settled(&[], None).ok);
        if let Some(Ok(t)) = &mut w.servers {
            t.unsettled
                .push("neo4j@(unavailable): unknown ≠ online".into());
        }
        let d = w.derive(1000);
        let v = View {
            obs: &w,
            d: &d,
            lag_gate: 1000,
            forced: &[],
        };
        let c = v.settled(&[], None);
        assert!(!c.ok && c.detail.contains("SHOW DATABASES"), "{c:?}");
        if let Some(Ok(t)) = &mut w.servers {
            t.unsettled.clear();
            t.moving.push("s2".into());
        }
        let d = w.derive(1000);
        let v = View {
            obs: &w,
            d: &d,
            lag_gate: 1000,
            forced: &[],
        };
        assert!(v.settled(&[], None).detail.contains("SHOW SERVERS"));
    }

    #[test]
    fn refused_for_the_leader_with_another_voter_down_and_while_a_backup_runs() {
        let mut w = world(
            three(server("s2", "orders-2-0", "Enabled", true)),
            "old",
            "p1",
        );
        let mut r = rec(&w);
        r.params.insert("member".into(), "orders-1-0".into());
        r.params.insert(CLAIM_UID.into(), "c1".into());
        r.params.insert(SERVER.into(), "s1".into());
        w.pods[2].ready = false;
        match next(&r, &w) {
            Next::Blocked(c) => assert_eq!(c.rule, MAJORITY, "{c:?}"),
            other => panic!("{other:?}"),
        }
        let mut w = world(
            three(server("s2", "orders-2-0", "Enabled", true)),
            "old",
            "p1",
        );
        w.jobs.push(crate::ops::observe::JobObs {
            name: "backup-orders-1".into(),
            operation: "backup".into(),
            active: true,
            ..Default::default()
        });
        let r = rec(&w);
        assert!(
            matches!(next(&r, &w), Next::Blocked(c) if c.rule == crate::ops::safety::NO_OTHER_WORK)
        );
    }
}
