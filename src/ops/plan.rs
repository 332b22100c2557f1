//! Each operation as a goal: from the record (what it set out to do and saw at the start) and
//! one observation, `decide` says the next action toward the goal, or that it must wait (and
//! why), or that the goal holds. Pure, so the order of members, the majority arithmetic and
//! idempotence are unit-tested without a cluster; a step knows from what it sees whether it is
//! already done, so a retry or a resume never repeats or skips work.
//!
//! The goals live in submodules: `restart` (rolling restart, restart-member), `job` (backup,
//! diagnostics, restore), `stop_start`, `template` (resize and upgrade, in place or by
//! `template::surge`), `replace` (replace-member); `action` holds the changes they ask for and
//! `outline` the plan shown before confirming.

use std::collections::BTreeSet;

use super::record::Record;
use super::safety::{Check, View};
use crate::config::OperationName;
use crate::fleet::Role;

mod action;
mod job;
mod outline;
pub mod replace;
mod restart;
mod stop_start;
pub mod template;

pub use action::{Action, JobPlan, TemplateChange};
pub use outline::outline;
pub use template::{change_for, image_at};

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
        OperationName::RollingRestart | OperationName::RestartMember => restart::restart(rec, v),
        OperationName::Backup | OperationName::Diagnostics => job::job(rec, v),
        OperationName::Restore => job::restore(rec, v),
        OperationName::Stop => stop_start::stop(rec, v),
        OperationName::Start => stop_start::start(v),
        OperationName::Resize => template::template_roll(rec, v),
        OperationName::Upgrade => {
            let version = rec.param("version").unwrap_or_default();
            match super::upgrade_rules::judge(version, &v.obs.statefulsets) {
                Some(c) if !c.ok => Next::Blocked(c),
                _ => template::template_roll(rec, v),
            }
        }
        OperationName::ReplaceMember => replace::decide(rec, v),
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

/// The StatefulSet's member pod (`<sts>-<ordinal>`).
fn pods_of<'a>(v: &'a View, sts: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    v.obs.pods.iter().map(|p| p.name.as_str()).filter(move |p| {
        v.obs.pod(p).and_then(|x| x.owner.as_deref()) == Some(sts)
            || p.strip_prefix(sts)
                .and_then(|r| r.strip_prefix('-'))
                .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
    })
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}
