//! The fleet as `baton status` prints it: one serialisable snapshot of a `Fleet` (orchestras with
//! their connection and counts, databases with leader, term, lag, health and members, and what
//! operations created), as JSON or as a fixed-width table. Pure.

use serde::Serialize;

use super::Probe;
use super::store::{Database, Fleet};
use super::workload::{JobInfo, LeaseInfo, StatefulSetInfo};

#[derive(Debug, Clone, Serialize)]
pub struct MemberSnapshot {
    pub pod: String,
    pub ready: bool,
    pub phase: String,
    pub restarts: u32,
    pub node: String,
    pub ip: String,
    pub image: String,
    pub role: String,
    pub lag: Option<u64>,
    pub applied_index: Option<u64>,
    pub probe_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DatabaseSnapshot {
    pub orchestra: String,
    pub namespace: String,
    pub name: String,
    pub profile: String,
    pub version: String,
    pub members_ready: usize,
    pub members: usize,
    pub leader: Option<String>,
    pub term: Option<u64>,
    pub worst_lag: Option<u64>,
    pub health: String,
    pub reasons: Vec<String>,
    pub member_details: Vec<MemberSnapshot>,
    pub statefulsets: Vec<StatefulSetInfo>,
    pub jobs: Vec<JobInfo>,
    pub op_lease: Option<LeaseInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrchestraSnapshot {
    pub name: String,
    /// `live`, `connecting`, `stale since …`, `unauthorized: …` or `unreachable: …`.
    pub connection: String,
    pub databases: usize,
    pub degraded: usize,
    pub down: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct FleetSnapshot {
    pub orchestras: Vec<OrchestraSnapshot>,
    pub databases: Vec<DatabaseSnapshot>,
}

impl FleetSnapshot {
    /// Every orchestra of `fleet`, and its databases that `keep` wants (the counts cover all).
    pub fn of(fleet: &Fleet, keep: impl Fn(&Database) -> bool) -> Self {
        let orchestras = fleet
            .orchestras
            .values()
            .map(|o| {
                let counts = fleet.counts(&o.name);
                OrchestraSnapshot {
                    name: o.name.clone(),
                    connection: o.connection.describe(),
                    databases: counts.total(),
                    degraded: counts.degraded,
                    down: counts.down,
                }
            })
            .collect();
        let databases = fleet
            .databases
            .values()
            .filter(|d| keep(d))
            .map(|d| database(d))
            .collect();
        Self {
            orchestras,
            databases,
        }
    }

    /// Every orchestra is live.
    pub fn all_live(&self) -> bool {
        self.orchestras.iter().all(|o| o.connection == "live")
    }

    /// The table `baton status` prints.
    pub fn table(&self) -> String {
        let mut out = String::new();
        for o in &self.orchestras {
            out.push_str(&format!(
                "{:<28} {:<10} databases {:<4} degraded {:<3} down {}\n",
                o.name, o.connection, o.databases, o.degraded, o.down
            ));
        }
        out.push('\n');
        out.push_str(&format!(
            "{:<24} {:<28} {:<16} {:<8} {:<7} {:<18} {:<5} {:<5} {:<9} {}\n",
            "ORCHESTRA",
            "DATABASE",
            "NAMESPACE",
            "PROFILE",
            "READY",
            "LEADER",
            "TERM",
            "LAG",
            "HEALTH",
            "REASON"
        ));
        let or_dash = |v: Option<u64>| v.map(|t| t.to_string()).unwrap_or_else(|| "-".into());
        for d in &self.databases {
            out.push_str(&format!(
                "{:<24} {:<28} {:<16} {:<8} {:<7} {:<18} {:<5} {:<5} {:<9} {}\n",
                d.orchestra,
                d.name,
                d.namespace,
                d.profile,
                format!("{}/{}", d.members_ready, d.members),
                d.leader.as_deref().unwrap_or("-"),
                or_dash(d.term),
                or_dash(d.worst_lag),
                d.health,
                d.reasons.first().map(String::as_str).unwrap_or("")
            ));
        }
        out
    }
}

fn database(d: &Database) -> DatabaseSnapshot {
    let member_details = d
        .members
        .iter()
        .zip(&d.state.members)
        .map(|(m, derived)| MemberSnapshot {
            pod: m.pod.name.clone(),
            ready: m.pod.ready,
            phase: m.pod.phase.to_string(),
            restarts: m.pod.restarts,
            node: m.pod.node.to_string(),
            ip: m.pod.ip.clone(),
            image: m.pod.image.to_string(),
            role: derived.role.word().into(),
            lag: derived.lag,
            applied_index: match &m.probe {
                Probe::Ok(r) => r.applied_index,
                _ => None,
            },
            probe_error: match &m.probe {
                Probe::Error(e) => Some(e.clone()),
                _ => None,
            },
        })
        .collect();
    DatabaseSnapshot {
        orchestra: d.key.orchestra.clone(),
        namespace: d.key.namespace.clone(),
        name: d.key.name.clone(),
        profile: d.profile.clone(),
        version: d.version().to_string(),
        members_ready: d.ready(),
        members: d.members.len(),
        leader: d.state.leader.clone(),
        term: d.state.term,
        worst_lag: d.state.worst_lag,
        health: d.state.health.word().into(),
        reasons: d.state.reasons.clone(),
        member_details,
        statefulsets: d.statefulsets.clone(),
        jobs: d.jobs.clone(),
        op_lease: d.op_lease.as_deref().cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::store::{Connection, DbRef, FleetEvent, PodInfo};
    use crate::fleet::{ProbeReport, Role};

    #[test]
    fn a_snapshot_of_a_probed_database() {
        let mut f = Fleet::new(100);
        let db = DbRef {
            namespace: "infra".into(),
            name: "config".into(),
        };
        f.apply(FleetEvent::Connection {
            orchestra: "onprem".into(),
            state: Connection::Live,
        });
        f.apply(FleetEvent::Pods {
            orchestra: "onprem".into(),
            profile: "etcd".into(),
            pods: ["e1", "e2", "e3"]
                .iter()
                .map(|n| {
                    (
                        db.clone(),
                        PodInfo {
                            name: n.to_string(),
                            ready: true,
                            ..PodInfo::default()
                        },
                    )
                })
                .collect(),
            complete: true,
        });
        f.apply(FleetEvent::Probed {
            orchestra: "onprem".into(),
            db: db.clone(),
            results: ["e1", "e2", "e3"]
                .iter()
                .map(|n| {
                    (
                        n.to_string(),
                        Probe::Ok(ProbeReport {
                            member_id: n.to_string(),
                            leader_id: Some("e2".into()),
                            is_leader: *n == "e2",
                            term: Some(7),
                            applied_index: Some(10),
                            voter: true,
                            healthy: true,
                            ..ProbeReport::default()
                        }),
                    )
                })
                .collect(),
            at_ms: 1,
        });
        let s = FleetSnapshot::of(&f, |_| true);
        assert!(s.all_live());
        assert_eq!(s.orchestras[0].databases, 1);
        let d = &s.databases[0];
        assert_eq!((d.leader.as_deref(), d.term), (Some("e2"), Some(7)));
        let role = d
            .member_details
            .iter()
            .find(|m| m.pod == "e2")
            .map(|m| m.role.as_str());
        assert_eq!(role, Some(Role::Leader.word()));
        assert_eq!(d.health, "healthy");
        let table = s.table();
        assert!(table.contains("onprem"), "{table}");
        assert!(
            table
                .lines()
                .any(|l| l.contains("config") && l.contains("e2") && l.contains(" 7 ")),
            "{table}"
        );
        assert!(
            FleetSnapshot::of(&f, |d| d.key.name == "x")
                .databases
                .is_empty()
        );
    }
}
