//! A campaign's plan, from the fleet as the engine sees it: which databases the selection
//! matched, which of those are left out and why (already at the goal, a profile that lacks the
//! operation, a read-only orchestra, another operation in flight), the canary and the waves
//! (interleaved across orchestras, so a wave spreads under `--max-per-orchestra`), counts per
//! wave and orchestra, and an estimate of the duration from the operation's measured times
//! (finished operations on the fleet's Leases). Pure: the fleet, the config and the clock are
//! passed in.

use std::collections::BTreeMap;
use std::time::Duration;

use super::spec::{Canary, Spec, Step};
use crate::config::{Config, OperationName};
use crate::fleet::filter::Filter;
use crate::fleet::{Database, DbKey, Fleet, catalog};
use crate::ops::record::{LeaseObs, Lock, OpState, classify};

/// Assumed time of one member's share of an operation, when no run of it is on the fleet's
/// Leases to measure (said so in the plan).
pub const ASSUMED_PER_MEMBER: Duration = Duration::from_secs(60);

/// Why a database the selection matched is not in the plan.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Excluded {
    /// Already at the goal (`5.26.0`, `8Gi`, `stopped`): counted as done without a restart.
    AtGoal(String),
    /// Its profile kind lacks the operation.
    ProfileLacks(String),
    ReadOnly,
    /// Another operation holds its Lease (its summary).
    InFlight(String),
}

impl Excluded {
    pub fn say(&self) -> String {
        match self {
            Self::AtGoal(g) => format!("already at the goal ({g})"),
            Self::ProfileLacks(p) => format!("its profile ({p}) lacks the operation"),
            Self::ReadOnly => "read-only orchestra".into(),
            Self::InFlight(s) => format!("another operation in flight: {s}"),
        }
    }

    /// The reason's short name, for counts.
    pub fn word(&self) -> &'static str {
        match self {
            Self::AtGoal(_) => "at the goal",
            Self::ProfileLacks(_) => "profile lacks the operation",
            Self::ReadOnly => "read-only orchestra",
            Self::InFlight(_) => "operation in flight",
        }
    }
}

/// One wave: its databases in the order they start.
#[derive(Debug, Clone, PartialEq)]
pub struct Wave {
    /// `canary`, `wave 1`, …
    pub name: String,
    pub databases: Vec<DbKey>,
}

impl Wave {
    /// Databases per orchestra.
    pub fn per_orchestra(&self) -> BTreeMap<&str, usize> {
        let mut m = BTreeMap::new();
        for k in &self.databases {
            *m.entry(k.orchestra.as_str()).or_default() += 1;
        }
        m
    }

    /// The rounds the limits allow: the larger of the fleet-wide and the busiest orchestra's.
    pub fn rounds(&self, max_parallel: usize, max_per_orchestra: usize) -> usize {
        let fleet = self.databases.len().div_ceil(max_parallel.max(1));
        let orchestra = self
            .per_orchestra()
            .values()
            .map(|n| n.div_ceil(max_per_orchestra.max(1)))
            .max()
            .unwrap_or(0);
        fleet.max(orchestra)
    }
}

/// How long one database's operation takes, and from what.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub per_database: Duration,
    /// Finished runs of the operation on the fleet's Leases it was measured from (0: assumed).
    pub measured_runs: usize,
    pub total: Duration,
}

/// A campaign's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub matched: usize,
    pub waves: Vec<Wave>,
    pub excluded: Vec<(DbKey, Excluded)>,
    /// Planned databases degraded or down now (not those not probed yet): their preflight will
    /// refuse them unless they recover.
    pub unhealthy: Vec<DbKey>,
    pub estimate: Estimate,
}

impl Plan {
    pub fn planned(&self) -> usize {
        self.waves.iter().map(|w| w.databases.len()).sum()
    }

    /// Excluded databases per reason.
    pub fn excluded_counts(&self) -> BTreeMap<&'static str, usize> {
        let mut m = BTreeMap::new();
        for (_, why) in &self.excluded {
            *m.entry(why.word()).or_default() += 1;
        }
        m
    }
}

/// Plans `spec` (checked: `selection` is its parsed `select`) over `fleet` at `now_ms`.
pub fn plan(
    spec: &Spec,
    selection: &Filter,
    fleet: &Fleet,
    config: &Config,
    now_ms: u64,
) -> Result<Plan, String> {
    // Display names as the filter matches them (lower case), once per orchestra.
    let names: BTreeMap<&str, String> = config
        .orchestras
        .iter()
        .filter_map(|(o, c)| Some((o.as_str(), c.display_name.as_ref()?.to_lowercase())))
        .collect();
    let display = |o: &str| names.get(o).cloned().unwrap_or_default();
    let op = catalog::spec(spec.operation);
    let mut matched = 0;
    let mut excluded = Vec::new();
    let mut planned: Vec<&Database> = Vec::new();
    for d in fleet.databases.values() {
        if !selection.matches(d, &display(&d.key.orchestra)) {
            continue;
        }
        matched += 1;
        let kind = config.profile_kind(&d.profile);
        let why = if !op.profiles.contains(&kind) {
            Some(Excluded::ProfileLacks(if kind.is_empty() {
                d.profile.clone()
            } else {
                kind.to_string()
            }))
        } else if crate::guard::read_only_for(config, &d.key.orchestra) {
            Some(Excluded::ReadOnly)
        } else if let Some(s) = in_flight(d, now_ms) {
            Some(Excluded::InFlight(s))
        } else {
            at_goal(spec, d).map(Excluded::AtGoal)
        };
        match why {
            Some(w) => excluded.push((d.key.clone(), w)),
            None => planned.push(d),
        }
    }
    let order = interleaved(&planned);
    let (canary, rest) = split_canary(spec, &order, &display)?;
    // Nothing planned, no waves (not an empty canary).
    let mut waves = Vec::new();
    if !canary.is_empty() {
        waves.push(Wave {
            name: "canary".into(),
            databases: canary,
        });
        waves.extend(split_waves(&spec.waves, rest, order.len()));
    }
    let unhealthy = planned
        .iter()
        .filter(|d| {
            matches!(
                d.state.health,
                crate::fleet::Health::Degraded | crate::fleet::Health::Down
            )
        })
        .map(|d| d.key.clone())
        .collect();
    let estimate = estimate(spec, &waves, fleet, &planned);
    Ok(Plan {
        matched,
        waves,
        excluded,
        unhealthy,
        estimate,
    })
}

/// The summary of an unfinished operation on `d`'s Lease, held or stale (a stale one waits for
/// a resume: a campaign must not run over it either).
fn in_flight(d: &Database, now_ms: u64) -> Option<String> {
    let lease = d.op_lease.as_ref()?;
    match classify(Some(&LeaseObs::of_info(lease)), now_ms) {
        Lock::Free | Lock::Finished { .. } => None,
        Lock::Held {
            holder, summary, ..
        } => Some(format!("{summary} by {holder}")),
        Lock::Stale {
            holder, summary, ..
        } => Some(format!(
            "{summary} by {holder} (stale: resume or settle it first)"
        )),
    }
}

/// What `d` already is, when it is what the operation would make it.
fn at_goal(spec: &Spec, d: &Database) -> Option<String> {
    match spec.operation {
        OperationName::Upgrade => {
            let v = spec.params.get("version")?;
            // An image at `v`: its tag is `v`, or reads as `v` once the profile's suffixes
            // are off (`5.26.0-enterprise`).
            let at_v = |image: &str| {
                let tag = crate::ops::upgrade_rules::tag(image);
                tag == v
                    || crate::ops::upgrade_rules::for_image(image)
                        .is_some_and(|r| crate::ops::upgrade_rules::version_of(r, tag) == v)
            };
            let at = !d.members.is_empty()
                && d.members.iter().all(|m| at_v(&m.pod.image))
                && d.statefulsets.iter().all(|s| at_v(&s.image));
            at.then(|| v.clone())
        }
        OperationName::Resize => {
            let m = spec.params.get("memory")?;
            let at = !d.statefulsets.is_empty()
                && d.statefulsets
                    .iter()
                    .all(|s| s.memory_request.as_deref() == Some(m.as_str()));
            at.then(|| m.clone())
        }
        OperationName::Stop => {
            let at = d.members.is_empty() && d.statefulsets.iter().all(|s| s.replicas == 0);
            at.then(|| "stopped".into())
        }
        OperationName::Start => {
            let at = !d.statefulsets.is_empty()
                && d.statefulsets.iter().all(|s| s.replicas > 0)
                && !d.members.is_empty()
                && d.members.iter().all(|m| m.pod.ready);
            at.then(|| "running".into())
        }
        _ => None,
    }
}

/// The planned databases, one of each orchestra in turn (each orchestra's in name order): the
/// first waves touch many orchestras a little rather than one a lot.
fn interleaved<'a>(planned: &[&'a Database]) -> Vec<&'a Database> {
    let mut by: BTreeMap<&str, Vec<&Database>> = BTreeMap::new();
    for d in planned {
        by.entry(d.key.orchestra.as_str()).or_default().push(d);
    }
    let mut queues: Vec<std::vec::IntoIter<&Database>> =
        by.into_values().map(Vec::into_iter).collect();
    let mut out = Vec::with_capacity(planned.len());
    while out.len() < planned.len() {
        for q in &mut queues {
            if let Some(d) = q.next() {
                out.push(d);
            }
        }
    }
    out
}

type Display<'a> = dyn Fn(&str) -> String + 'a;

/// The canary (the first N, or those `--canary FILTER` matches) and the rest in order.
fn split_canary(
    spec: &Spec,
    order: &[&Database],
    display: &Display<'_>,
) -> Result<(Vec<DbKey>, Vec<DbKey>), String> {
    if order.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    match &spec.canary {
        Canary::Count(n) => {
            let n = (*n).min(order.len());
            Ok((
                order[..n].iter().map(|d| d.key.clone()).collect(),
                order[n..].iter().map(|d| d.key.clone()).collect(),
            ))
        }
        Canary::Filter(f) => {
            let f = Filter::parse(f).map_err(|e| format!("--canary: {e}"))?;
            let (c, r): (Vec<&&Database>, Vec<&&Database>) = order
                .iter()
                .partition(|d| f.matches(d, &display(&d.key.orchestra)));
            if c.is_empty() {
                return Err("--canary: the filter matches none of the planned databases".into());
            }
            Ok((
                c.iter().map(|d| d.key.clone()).collect(),
                r.iter().map(|d| d.key.clone()).collect(),
            ))
        }
    }
}

/// The waves after the canary: each step is the databases done by its end (canary included),
/// at least one more each; the last wave takes the rest.
fn split_waves(steps: &[Step], rest: Vec<DbKey>, total: usize) -> Vec<Wave> {
    let canary = total - rest.len();
    let mut waves = Vec::new();
    let mut rest = rest.into_iter();
    let mut done = canary;
    for (i, step) in steps.iter().enumerate() {
        if done >= total {
            break;
        }
        let goal = match *step {
            Step::Count(n) => n,
            Step::Percent(p) => ((total as f64) * p / 100.0).ceil() as usize,
        };
        let last = i + 1 == steps.len();
        let goal = if last {
            total
        } else {
            goal.clamp(done + 1, total)
        };
        let take = goal - done;
        waves.push(Wave {
            name: format!("wave {}", i + 1),
            databases: rest.by_ref().take(take).collect(),
        });
        done = goal;
    }
    waves
}

/// One database's time from the operation's finished runs on the fleet's Leases (start to the
/// last renewal), else assumed per member; the total runs the waves one after the other, each
/// in the rounds its limits allow, the soak after the canary.
fn estimate(spec: &Spec, waves: &[Wave], fleet: &Fleet, planned: &[&Database]) -> Estimate {
    let runs: Vec<u64> = fleet
        .databases
        .values()
        .filter_map(|d| d.op_lease.as_ref())
        .filter_map(|l| {
            let obs = LeaseObs::of_info(l);
            let r = obs.record?.ok()?;
            (r.operation == spec.operation && r.state == OpState::Done)
                .then(|| obs.renew_ms?.checked_sub(r.started_ms))
                .flatten()
        })
        .collect();
    let per_database = if runs.is_empty() {
        let members = planned
            .iter()
            .map(|d| d.members.len().max(1))
            .sum::<usize>()
            / planned.len().max(1);
        ASSUMED_PER_MEMBER * u32::try_from(members.max(1)).unwrap_or(1)
    } else {
        Duration::from_millis(runs.iter().sum::<u64>() / runs.len() as u64)
    };
    let rounds: usize = waves
        .iter()
        .map(|w| w.rounds(spec.max_parallel, spec.max_per_orchestra))
        .sum();
    let total = per_database * u32::try_from(rounds).unwrap_or(u32::MAX)
        + if waves.first().is_some_and(|w| !w.databases.is_empty()) {
            spec.soak
        } else {
            Duration::ZERO
        };
    Estimate {
        per_database,
        measured_runs: runs.len(),
        total,
    }
}

#[cfg(test)]
mod tests;
