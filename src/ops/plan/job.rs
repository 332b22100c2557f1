//! The Job operations: backup and diagnostics (one Job from one member) and restore (stop,
//! the restore Job, start).

use super::stop_start::{start, stop};
use super::{Action, JobPlan, Next};
use crate::config::OperationName;
use crate::ops::record::Record;
use crate::ops::safety::{Check, SETTLED, View};

pub(super) fn job(rec: &Record, v: &View) -> Next {
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

/// Restore, as `neo4j-admin database restore` wants it: stop every member (replicas
/// remembered, volumes kept), run the restore Job on the stopped database, start it again and
/// wait until it has settled. Which phase it is in follows from what it sees: whether the
/// restore Job exists and how it ended.
pub(super) fn restore(rec: &Record, v: &View) -> Next {
    let Some(name) = rec.job.as_deref() else {
        return Next::Fail("the record names no Job".into());
    };
    let from = rec
        .param("backup")
        .or(rec.param("from"))
        .unwrap_or_default();
    match v.obs.jobs.iter().find(|j| j.name == name) {
        Some(j) if j.succeeded => match start(v) {
            Next::Done(m) => Next::Done(format!("restored from {from}; {m}")),
            other => other,
        },
        Some(j) if j.failed => Next::Fail(format!(
            "restore Job {name} failed (see its log); the database stays stopped with its data as it was: `baton op start` brings it back"
        )),
        Some(_) => Next::Wait(format!("restore Job {name} is running")),
        None => {
            if rec.step == 0 {
                let w = v.no_other_work(None);
                if !w.ok {
                    return Next::Blocked(w);
                }
            }
            // Stop first (secondaries, followers, the leader last), one at a time.
            match stop(rec, v) {
                Next::Done(_) => Next::Act(Action::CreateJob(JobPlan {
                    name: name.to_string(),
                    kind: "restore",
                    member: String::new(),
                    target: from.to_string(),
                })),
                other => other,
            }
        }
    }
}
