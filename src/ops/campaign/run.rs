//! The campaign's decision, one look at a time: from the recorded state of each database (as
//! the campaign's records hold it) and what the fleet shows of the databases that matter now
//! (health, leader churn), which databases start next, whether the canary still soaks, and
//! whether something was harmed (then the campaign halts fleet-wide: nothing new starts, and
//! what runs finishes its current member and settles on its own). Pure and idempotent: the
//! same state and sight give the same decision, so a coordinator that dies and one that takes
//! over decide alike, and a database is never started twice (only `Pending` ones start) nor
//! skipped (a wave ends only when each of its databases ended).

use std::collections::BTreeMap;

use crate::fleet::{DbKey, Health};

/// Where one database of a campaign stands, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum DbState {
    Pending,
    /// Its operation was launched (its Lease says how it goes): when, by which holder of its
    /// Lease (this coordinator's `user@host pid N`, or a runner Job's `job/<ns>/<job>`), and
    /// the runner Job when it runs in the orchestra. Recorded before the launch, so a
    /// coordinator that takes over can tell a launch that happened from one that did not.
    Running {
        started_ms: u64,
        #[serde(default)]
        holder: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        job: Option<String>,
    },
    /// Its operation ended done, or it was already at the goal (counted done, not restarted).
    Done {
        ended_ms: u64,
        at_goal: bool,
    },
    /// Its preflight refused it (`--on-refusal skip`): the rule.
    Skipped {
        rule: String,
    },
    /// Its operation failed, or it was harmed after it.
    Failed {
        why: String,
    },
}

impl DbState {
    pub fn ended(&self) -> bool {
        matches!(
            self,
            Self::Done { .. } | Self::Skipped { .. } | Self::Failed { .. }
        )
    }

    pub fn word(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running { .. } => "running",
            Self::Done { .. } => "done",
            Self::Skipped { .. } => "skipped",
            Self::Failed { .. } => "failed",
        }
    }
}

/// What the fleet shows of a database the decision looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub health: Health,
    /// Why it is not healthy (the fleet's reasons).
    pub reasons: Vec<String>,
    /// Its leader changed more often than churn allows lately.
    pub churn: bool,
}

impl Seen {
    /// Harmed: degraded or down (not yet probed is not harm), or churning leaders.
    fn harm(&self) -> Option<String> {
        match self.health {
            Health::Degraded | Health::Down => Some(format!(
                "{}: {}",
                self.health.word(),
                if self.reasons.is_empty() {
                    "no reason given".to_string()
                } else {
                    self.reasons.join("; ")
                }
            )),
            _ if self.churn => Some("its leader keeps changing (churn)".into()),
            _ => None,
        }
    }
}

/// The bounds on operations at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_parallel: usize,
    pub max_per_orchestra: usize,
}

/// The campaign as recorded: its waves (the canary first) and each database's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    pub waves: Vec<Vec<DbKey>>,
    pub states: BTreeMap<DbKey, DbState>,
    pub soak_ms: u64,
    pub limits: Limits,
    /// A human paused it, or a harm halted it: nothing new starts until `resume`.
    pub paused: bool,
}

/// What to do now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    /// Start these (pending, in the current wave, within the limits).
    pub start: Vec<DbKey>,
    /// Harm seen: halt fleet-wide, naming the database and why (the first harmed, in order).
    pub halt: Option<(DbKey, String)>,
    /// The canary soaks until then (Unix ms): nothing of the next waves starts before.
    pub soaking_until: Option<u64>,
    /// The wave that is current (0: the canary), if any is left.
    pub wave: Option<usize>,
    /// Every database ended.
    pub finished: bool,
}

/// Decides at `now_ms`, seeing databases through `seen` (None: not in sight, e.g. its orchestra
/// is unreachable — then it is not judged, and nothing of its wave ends through it).
pub fn decide(c: &Campaign, seen: impl Fn(&DbKey) -> Option<Seen>, now_ms: u64) -> Decision {
    let state = |k: &DbKey| c.states.get(k).cloned().unwrap_or(DbState::Pending);
    let mut d = Decision::default();
    // Harm first: a failed operation, or a database harmed after its operation (in the
    // current or an earlier wave), or the canary harmed while it soaks.
    for k in c.waves.iter().flatten() {
        let why = match state(k) {
            DbState::Failed { why } => Some(format!("its operation failed: {why}")),
            DbState::Done { .. } => seen(k)
                .and_then(|s| s.harm())
                .map(|h| format!("not healthy after its operation: {h}")),
            _ => None,
        };
        if let Some(why) = why {
            d.halt = Some((k.clone(), why));
            break;
        }
    }
    d.wave = c
        .waves
        .iter()
        .position(|w| w.iter().any(|k| !state(k).ended()));
    d.finished = d.wave.is_none();
    if d.halt.is_some() || c.paused || d.finished {
        return d;
    }
    let Some(wave) = d.wave else { return d };
    // The canary ended: it soaks before anything else starts.
    if wave > 0 {
        let canary_end = c.waves[0]
            .iter()
            .filter_map(|k| match state(k) {
                DbState::Done { ended_ms, .. } => Some(ended_ms),
                _ => None,
            })
            .max();
        match canary_end {
            Some(end) => {
                let until = end.saturating_add(c.soak_ms);
                if now_ms < until {
                    d.soaking_until = Some(until);
                    return d;
                }
            }
            // Every canary was refused (skipped): nothing was proven, so nothing widens.
            None => {
                d.halt = c.waves[0].first().map(|k| {
                    (
                        k.clone(),
                        "no canary finished its operation (each was refused): nothing to soak; choose another canary".to_string(),
                    )
                });
                return d;
            }
        }
    }
    // Within the limits, counting what runs anywhere in the campaign.
    let mut running = 0;
    let mut per: BTreeMap<&str, usize> = BTreeMap::new();
    for (k, s) in &c.states {
        if matches!(s, DbState::Running { .. }) {
            running += 1;
            *per.entry(k.orchestra.as_str()).or_default() += 1;
        }
    }
    for k in &c.waves[wave] {
        if running >= c.limits.max_parallel {
            break;
        }
        if state(k) != DbState::Pending {
            continue;
        }
        let here = per.entry(k.orchestra.as_str()).or_default();
        if *here >= c.limits.max_per_orchestra {
            continue;
        }
        *here += 1;
        running += 1;
        d.start.push(k.clone());
    }
    d
}

#[cfg(test)]
mod tests;
