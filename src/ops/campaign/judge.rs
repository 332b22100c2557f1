//! What the coordinator reads from what it sees, pure: a database's recorded state from how its
//! operation ended; where a launched operation stands from its Lease and its runner Job as the
//! fleet shows them (in flight, ended, interrupted and to be resumed, or never launched); and a
//! finished database's health as the decision judges it (only a look taken after its
//! operation ended counts, and only leader changes since).

use super::run::{DbState, Seen};
use super::spec::OnRefusal;
use crate::fleet::{Connection, Database, DbKey, Fleet, Orchestra};
use crate::ops::progress::Outcome;
use crate::ops::record::{LeaseObs, OpState, Record};

/// A runner's clock and ours may differ a little: its record may start this much "before" the
/// launch we recorded.
const SKEW_MS: u64 = 5_000;
/// A runner Job recorded as launched but never seen after this long was not created.
pub const LAUNCH_GRACE_MS: u64 = 60_000;
/// More leader changes than this since the operation ended, within the window, is churn.
const CHURN_CHANGES: usize = 3;
const CHURN_WINDOW_MS: u64 = 10 * 60 * 1000;

/// The state a database's operation leaves, and the reason to halt the campaign when it is a
/// refusal and `--on-refusal halt` was asked. `interrupted`: this coordinator asked it to
/// cancel (a halt): it starts again on resume.
pub fn of_outcome(
    o: &Outcome,
    now_ms: u64,
    interrupted: bool,
    on_refusal: OnRefusal,
) -> (DbState, Option<String>) {
    match o {
        Outcome::Done(_) => (
            DbState::Done {
                ended_ms: now_ms,
                at_goal: false,
            },
            None,
        ),
        Outcome::Nothing(_) => (
            DbState::Done {
                ended_ms: now_ms,
                at_goal: true,
            },
            None,
        ),
        Outcome::Refused(c) => {
            let rule = format!("{}: {}", c.rule, c.detail);
            let halt = (on_refusal == OnRefusal::Halt)
                .then(|| format!("its preflight refused it ({rule}) and --on-refusal is halt"));
            (DbState::Skipped { rule }, halt)
        }
        Outcome::Cancelled(_) if interrupted => (DbState::Pending, None),
        Outcome::Cancelled(m) => (
            DbState::Failed {
                why: format!("cancelled outside the campaign: {m}"),
            },
            None,
        ),
        Outcome::Paused(m) => (
            DbState::Failed {
                why: format!("paused: {m} (`baton op resume` continues it)"),
            },
            None,
        ),
        Outcome::Failed(m) | Outcome::Usage(m) => (DbState::Failed { why: m.clone() }, None),
    }
}

/// Where a launched operation stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Look {
    InFlight,
    Ended(Outcome),
    /// Its holder stopped renewing mid-way: continue it here.
    Resume,
    /// Nothing shows it was ever launched: launch it again.
    Relaunch,
}

/// The record on `d`'s Lease when it is the one this launch made (its holder, since it began).
fn ours(d: Option<&Database>, started_ms: u64, holder: &str) -> Option<(Record, LeaseObs)> {
    let obs = LeaseObs::of_info(d?.op_lease.as_deref()?);
    let rec = obs.record.clone()?.ok()?;
    (rec.holder == holder && rec.started_ms.saturating_add(SKEW_MS) >= started_ms)
        .then_some((rec, obs))
}

/// Whether the fleet shows enough of orchestra `o` to judge a launch left there without a task
/// behind it (`job`: it was launched as a runner Job): it is live, its operation Leases were
/// listed and, for a runner Job, its Jobs too. Before that a launch that shows nothing may only
/// not be listed yet, and would be launched a second time. Err: what is not seen yet.
pub fn sees(o: Option<&Orchestra>, job: bool) -> Result<(), &'static str> {
    match o {
        Some(o) if o.connection != Connection::Live => Err("the orchestra is not live"),
        None => Err("the orchestra is not known"),
        Some(o) if !o.leases_listed => Err("its operation Leases are not listed yet"),
        Some(o) if job && !o.jobs_listed => Err("its Jobs are not listed yet"),
        Some(_) => Ok(()),
    }
}

/// Where the operation launched at `started_ms` as `holder` (its runner Job `job`, when in the
/// orchestra) stands, from database `d` as the fleet shows it. Only asked of launches with no
/// task of this coordinator behind them (in the orchestra, or left by a coordinator gone).
pub fn running(
    d: Option<&Database>,
    started_ms: u64,
    holder: &str,
    job: Option<&str>,
    now_ms: u64,
) -> Look {
    if let Some((rec, lease)) = ours(d, started_ms, holder) {
        return match rec.state {
            OpState::Done => Look::Ended(Outcome::Done(rec.detail)),
            OpState::Failed => Look::Ended(Outcome::Failed(rec.detail)),
            OpState::Cancelled => Look::Ended(Outcome::Cancelled(rec.detail)),
            OpState::Paused => Look::Ended(Outcome::Paused(rec.detail)),
            OpState::Running => {
                let fresh = lease
                    .renew_ms
                    .is_some_and(|r| now_ms.saturating_sub(r) <= lease.duration_s.max(1) * 1000);
                if fresh { Look::InFlight } else { Look::Resume }
            }
        };
    }
    let Some(job) = job else {
        // A local run of a coordinator gone, that never took the Lease.
        return Look::Relaunch;
    };
    match d.and_then(|d| d.jobs.iter().find(|j| j.name == job)) {
        Some(j) if j.failed > 0 => Look::Ended(Outcome::Failed(format!(
            "the runner Job {}/{job} failed before it took the Lease (its log says why)",
            d.map_or("", |d| d.key.namespace.as_str())
        ))),
        // Finished without ever taking the Lease: there was nothing to do.
        Some(j) if j.succeeded > 0 => Look::Ended(Outcome::Nothing(format!(
            "the runner Job {job} found nothing to do"
        ))),
        Some(_) => Look::InFlight,
        None if now_ms.saturating_sub(started_ms) > LAUNCH_GRACE_MS => Look::Relaunch,
        None => Look::InFlight,
    }
}

/// Database `k`, whose operation ended at `ended_ms`, as the decision judges it at `now_ms`:
/// None until every member was probed after the end (a probe of before, or an orchestra out of
/// sight, proves nothing).
pub fn seen(fleet: &Fleet, k: &DbKey, ended_ms: u64, now_ms: u64) -> Option<Seen> {
    let o = fleet.orchestras.get(&k.orchestra)?;
    if o.connection != Connection::Live {
        return None;
    }
    let d = fleet.databases.get(k)?;
    // Every member looked at since: a member's probe from during the operation says nothing
    // of after it.
    let after = !d.members.is_empty()
        && d.members
            .iter()
            .all(|m| m.probed_ms.is_some_and(|p| p > ended_ms));
    if !after {
        return None;
    }
    let changes = d
        .history
        .changes
        .iter()
        .filter(|c| c.at_ms > ended_ms && now_ms.saturating_sub(c.at_ms) <= CHURN_WINDOW_MS)
        .count();
    Some(Seen {
        health: d.state.health,
        reasons: d.state.reasons.clone(),
        churn: changes > CHURN_CHANGES,
    })
}

#[cfg(test)]
mod tests;
