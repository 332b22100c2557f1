//! Each operation as a goal: from the record (what it set out to do and saw at the start) and
//! one observation, `decide` says the next action toward the goal, or that it must wait (and
//! why), or that the goal holds. Pure, so the order of members, the majority arithmetic and
//! idempotence are unit-tested without a cluster; a step knows from what it sees whether it is
//! already done, so a retry or a resume never repeats or skips work.

use std::collections::BTreeSet;

use super::observe::Observed;
use super::record::Record;
use super::safety::{Check, SETTLED, View};
use crate::config::OperationName;
use crate::fleet::Role;

/// A change to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Delete the member's pod (graceful, with a UID precondition: never its replacement).
    DeletePod { pod: String, uid: String },
    /// Set a StatefulSet's replicas; `remember` writes the count to restore on start, `None`
    /// clears it.
    Scale {
        sts: String,
        replicas: i32,
        remember: Option<i32>,
    },
    /// Create the operation's Job.
    CreateJob(JobPlan),
}

/// A backup or diagnostics Job to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobPlan {
    pub name: String,
    /// `backup` or `diagnostics`.
    pub kind: &'static str,
    pub member: String,
    pub target: String,
}

impl Action {
    pub fn describe(&self) -> String {
        match self {
            Self::DeletePod { pod, .. } => format!("restart {pod} (delete its pod)"),
            Self::Scale {
                sts,
                replicas,
                remember: Some(before),
            } => format!("scale statefulset {sts} {before} → {replicas}"),
            Self::Scale { sts, replicas, .. } => format!("scale statefulset {sts} to {replicas}"),
            Self::CreateJob(j) => format!("create {} Job {} from {}", j.kind, j.name, j.member),
        }
    }

    /// The member it acts on, for the progress pane.
    pub fn member(&self) -> Option<&str> {
        match self {
            Self::DeletePod { pod, .. } => Some(pod),
            Self::CreateJob(j) => Some(&j.member),
            Self::Scale { .. } => None,
        }
    }
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Act(Action),
    /// Not yet: the database is moving (a member coming back, a Job running).
    Wait(String),
    /// A safety rule does not hold: refused before the first action, waited on after.
    Blocked(Check),
    /// The goal holds.
    Done(String),
    Fail(String),
}

/// The next step of the operation recorded in `rec`, given what `v` sees. `first`: nothing was
/// done yet (the preflight), where the expected leader is compared.
pub fn decide(rec: &Record, v: &View, first: bool) -> Next {
    if first
        && let Some(c) = v.expected_leader(rec.param("expect-leader"))
        && !c.ok
    {
        return Next::Blocked(c);
    }
    match rec.operation {
        OperationName::RollingRestart | OperationName::RestartMember => restart(rec, v),
        OperationName::Backup | OperationName::Diagnostics => job(rec, v),
        OperationName::Stop => stop(rec, v),
        OperationName::Start => start(v),
        other => Next::Fail(format!("{} is not in this version", other.as_str())),
    }
}

/// Order of restarts: down members first (restarting them costs no availability), then read
/// replicas, followers, the leader last.
fn rank(v: &View, pod: &str) -> u8 {
    if v.down(pod) {
        return 0;
    }
    match v.d.role(pod) {
        Role::ReadReplica => 1,
        Role::Follower | Role::Candidate | Role::Unknown => 2,
        Role::Leader => 3,
    }
}

fn voters_before(rec: &Record) -> BTreeSet<String> {
    rec.voters.iter().cloned().collect()
}

fn restart(rec: &Record, v: &View) -> Next {
    if v.d.state.leader.is_none() {
        return Next::Wait("no leader yet (an election is under way)".into());
    }
    let mut pending: Vec<&str> = Vec::new();
    for (name, uid) in &rec.original {
        match v.obs.pod(name) {
            // The same pod as at the start: still to restart.
            Some(p) if &p.uid == uid && !p.deleting => pending.push(name),
            // Deleted, terminating or replaced: restarted or on its way; settled says which.
            Some(p) if &p.uid == uid => {
                return Next::Wait(format!("{name} is terminating"));
            }
            None => return Next::Wait(format!("{name} has no pod yet")),
            Some(_) => {
                if let Some(why) = v.unhealthy(name) {
                    return Next::Wait(format!("{name} is back but not settled: {why}"));
                }
            }
        }
    }
    let before = voters_before(rec);
    if pending.is_empty() {
        let s = v.settled(&[], Some(&before));
        return if s.ok {
            Next::Done(format!(
                "{} restarted; {}",
                plural(rec.original.len(), "member"),
                s.detail
            ))
        } else {
            Next::Wait(s.line())
        };
    }
    pending.sort_by_key(|p| (rank(v, p), *p));
    let next = pending[0];
    // Between members the database must have settled; the member about to restart may be
    // unhealthy when it is down (that is why it goes first) or when it is the one member asked for.
    let exempt: Vec<&str> = match rec.operation {
        OperationName::RestartMember => vec![next],
        _ => pending
            .iter()
            .copied()
            .filter(|p| v.down(p) && rec.first.iter().any(|f| f == p))
            .collect(),
    };
    // The majority first: when both fail, it says more (what the restart would cost).
    let m = v.majority(next);
    if !m.ok {
        return Next::Blocked(m);
    }
    let s = v.settled(&exempt, Some(&before));
    if !s.ok {
        return Next::Blocked(s);
    }
    let w = v.no_other_work(None);
    if !w.ok {
        return Next::Blocked(w);
    }
    let uid = rec.original.get(next).cloned().unwrap_or_default();
    Next::Act(Action::DeletePod {
        pod: next.to_string(),
        uid,
    })
}

fn job(rec: &Record, v: &View) -> Next {
    let Some(name) = rec.job.as_deref() else {
        return Next::Fail("the record names no Job".into());
    };
    let kind = match rec.operation {
        OperationName::Backup => "backup",
        _ => "diagnostics",
    };
    let target = rec.param("target").unwrap_or_default().to_string();
    if let Some(j) = v.obs.jobs.iter().find(|j| j.name == name) {
        return if j.succeeded {
            Next::Done(format!("{kind} written to {target}"))
        } else if j.failed {
            Next::Fail(format!("{kind} Job {name} failed (see its log)"))
        } else {
            Next::Wait(format!("{kind} Job {name} is running"))
        };
    }
    if rec.step > 0 {
        return Next::Wait(format!("{kind} Job {name} created, not seen yet"));
    }
    let w = v.no_other_work(Some(name));
    if !w.ok {
        return Next::Blocked(w);
    }
    let Some(member) = rec.param("member") else {
        return Next::Fail("no member chosen".into());
    };
    match v.obs.pod(member) {
        None => {
            return Next::Blocked(Check::fail(SETTLED, Some(member), "no such member pod"));
        }
        Some(p) if !p.ready || p.deleting => {
            return Next::Blocked(Check::fail(
                SETTLED,
                Some(member),
                "its pod is not running Ready",
            ));
        }
        Some(_) => {}
    }
    // A backup must read a consistent, caught-up member; diagnostics of a sick member is the point.
    if kind == "backup"
        && let Some(why) = v.unhealthy(member)
    {
        return Next::Blocked(Check::fail(SETTLED, Some(member), why));
    }
    Next::Act(Action::CreateJob(JobPlan {
        name: name.to_string(),
        kind,
        member: member.to_string(),
        target,
    }))
}

/// The StatefulSet's member pod (`<sts>-<ordinal>`).
fn pods_of<'a>(v: &'a View, sts: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    v.obs.pods.iter().map(|p| p.name.as_str()).filter(move |p| {
        v.obs.pod(p).and_then(|x| x.owner.as_deref()) == Some(sts)
            || p.strip_prefix(sts)
                .and_then(|r| r.strip_prefix('-'))
                .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
    })
}

fn stop(rec: &Record, v: &View) -> Next {
    let _ = rec;
    let mut running: Vec<(&str, i32, u8)> = v
        .obs
        .statefulsets
        .iter()
        .filter(|s| s.replicas > 0)
        .map(|s| {
            let r = pods_of(v, &s.name).map(|p| rank(v, p)).max().unwrap_or(0);
            (s.name.as_str(), s.replicas, r)
        })
        .collect();
    if let Some(p) = v.obs.pods.iter().find(|p| p.deleting) {
        return Next::Wait(format!("{} is terminating", p.name));
    }
    // One StatefulSet at a time: the last one scaled must have lost its pod first.
    for s in v.obs.statefulsets.iter().filter(|s| s.replicas == 0) {
        if let Some(p) = pods_of(v, &s.name).next() {
            return Next::Wait(format!("{p} is stopping"));
        }
    }
    if running.is_empty() {
        return match v.obs.pods.first() {
            Some(p) => Next::Wait(format!("{} still has a pod", p.name)),
            None => Next::Done(format!(
                "stopped: {} at 0 replicas (remembered), data kept on the volumes",
                plural(v.obs.statefulsets.len(), "StatefulSet")
            )),
        };
    }
    if rec.step == 0 {
        let w = v.no_other_work(None);
        if !w.ok {
            return Next::Blocked(w);
        }
    }
    // Secondaries, followers, the leader last.
    running.sort_by_key(|(n, _, r)| (*r, *n));
    let (sts, replicas, _) = running[0];
    Next::Act(Action::Scale {
        sts: sts.to_string(),
        replicas: 0,
        remember: Some(replicas),
    })
}

fn start(v: &View) -> Next {
    if let Some(s) = v
        .obs
        .statefulsets
        .iter()
        .find(|s| s.replicas == 0 && s.remembered_replicas.is_some())
    {
        return Next::Act(Action::Scale {
            sts: s.name.clone(),
            replicas: s.remembered_replicas.unwrap_or(1),
            remember: None,
        });
    }
    if let Some(s) = v.obs.statefulsets.iter().find(|s| s.replicas == 0) {
        return Next::Blocked(Check::fail(
            SETTLED,
            None,
            format!(
                "statefulset {} has 0 replicas and no remembered count (not stopped by baton): scale it yourself",
                s.name
            ),
        ));
    }
    if v.obs.statefulsets.is_empty() {
        return Next::Fail("the database has no StatefulSets".into());
    }
    let s = v.settled(&[], None);
    if s.ok {
        Next::Done(format!("started; {}", s.detail))
    } else {
        Next::Wait(s.line())
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The plan for `--dry-run` and the confirmation: the actions in the order the loop would take
/// them if every step settled as expected.
pub fn outline(rec: &Record, obs: &Observed, lag_gate: u64) -> Vec<String> {
    let d = obs.derive(lag_gate);
    let v = View {
        obs,
        d: &d,
        lag_gate,
    };
    match rec.operation {
        OperationName::RollingRestart | OperationName::RestartMember => {
            // Only members still to restart (a resumed operation has done some).
            let mut pods: Vec<&str> = rec
                .original
                .iter()
                .filter(|(name, uid)| obs.pod(name).is_some_and(|p| &p.uid == *uid))
                .map(|(name, _)| name.as_str())
                .collect();
            pods.sort_by_key(|p| (rank(&v, p), *p));
            let mut out: Vec<String> = pods
                .iter()
                .map(|p| {
                    let why = if v.down(p) {
                        "down: first".to_string()
                    } else {
                        d.role(p).word().to_string()
                    };
                    format!("restart {p} ({why}), then wait until settled")
                })
                .collect();
            if let Some(last) = out.last_mut()
                && pods.last().is_some_and(|p| d.role(p) == Role::Leader)
            {
                last.push_str(" — the leader, last");
            }
            out
        }
        OperationName::Backup | OperationName::Diagnostics => vec![
            format!(
                "create Job {} reading {} → {}",
                rec.job.as_deref().unwrap_or("?"),
                rec.param("member").unwrap_or("?"),
                rec.param("target").unwrap_or("?")
            ),
            "follow its log until it completes".into(),
        ],
        OperationName::Stop => {
            let mut sts: Vec<(&str, i32, u8)> = obs
                .statefulsets
                .iter()
                .map(|s| {
                    let r = pods_of(&v, &s.name).map(|p| rank(&v, p)).max().unwrap_or(0);
                    (s.name.as_str(), s.replicas, r)
                })
                .collect();
            sts.sort_by_key(|(n, _, r)| (*r, *n));
            sts.iter()
                .map(|(n, r, _)| {
                    format!(
                        "scale statefulset {n} {r} → 0 (remember {r}), wait until its pod is gone"
                    )
                })
                .collect()
        }
        OperationName::Start => obs
            .statefulsets
            .iter()
            .map(|s| match s.remembered_replicas {
                Some(r) if s.replicas == 0 => format!("scale statefulset {} 0 → {r}", s.name),
                _ => format!("statefulset {} runs {} (nothing to do)", s.name, s.replicas),
            })
            .chain(std::iter::once(
                "wait until every member is Ready and a leader is elected".into(),
            ))
            .collect(),
        OperationName::Incident => {
            vec!["post the database's summary to the incident webhook".into()]
        }
        _ => Vec::new(),
    }
}
