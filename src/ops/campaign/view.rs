//! Campaigns as any baton sees them: each orchestra's record of a campaign merged into one (the
//! definition, the home orchestra's control, every orchestra's database states), with what a
//! person follows it by: counts, the current wave, databases done per minute and the time
//! left at that pace. Pure; `baton campaign status` feeds it from lists, the dashboard from the
//! fleet's watches.

use std::collections::BTreeMap;

use super::run::DbState;
use super::state::{self, Control, Definition, Phase, Stored};
use crate::fleet::{DbKey, Fleet};

/// One campaign, merged from its records.
#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    pub def: Definition,
    /// The home orchestra's control (None: its record was not read).
    pub control: Option<Control>,
    /// Every database of the campaign (those no record names yet: pending).
    pub states: BTreeMap<DbKey, DbState>,
}

/// The state words in the order they are shown.
pub const WORDS: [&str; 5] = ["done", "running", "pending", "skipped", "failed"];

impl Campaign {
    pub fn name(&self) -> &str {
        &self.def.spec.name
    }

    pub fn count(&self, word: &str) -> usize {
        self.states.values().filter(|s| s.word() == word).count()
    }

    /// Databases whose state is final.
    pub fn ended(&self) -> usize {
        self.states.values().filter(|s| s.ended()).count()
    }

    pub fn phase(&self) -> &'static str {
        self.control.as_ref().map_or("unknown", |c| c.phase.word())
    }

    /// The first wave with a database not ended (1-based), of how many.
    pub fn wave(&self) -> (Option<usize>, usize) {
        let w = self.def.waves.iter().position(|w| {
            w.iter()
                .any(|e| !self.states.get(&e.key()).is_some_and(DbState::ended))
        });
        (w.map(|w| w + 1), self.def.waves.len())
    }

    /// Databases whose operation ended done, per minute since the start (to the end, for one
    /// that finished); and the minutes left at that pace, while some are left.
    pub fn pace(&self, now_ms: u64) -> (f64, Option<f64>) {
        let ran = self
            .states
            .values()
            .filter(|s| matches!(s, DbState::Done { at_goal: false, .. }))
            .count();
        let end = match &self.control {
            Some(c) if c.phase == Phase::Finished => c.at_ms,
            _ => now_ms,
        };
        let minutes = end.saturating_sub(self.def.created_ms) as f64 / 60_000.0;
        let per_min = if minutes > 0.0 {
            ran as f64 / minutes
        } else {
            0.0
        };
        let left = self.count("pending") + self.count("running");
        (
            per_min,
            (per_min > 0.0 && left > 0).then(|| left as f64 / per_min),
        )
    }
}

/// Merges each orchestra's record (orchestra, record) into one campaign per name.
pub fn merge(records: impl IntoIterator<Item = (String, Stored)>) -> BTreeMap<String, Campaign> {
    let mut out: BTreeMap<String, Campaign> = BTreeMap::new();
    for (orchestra, s) in records {
        let c = out
            .entry(s.definition.spec.name.clone())
            .or_insert_with(|| Campaign {
                def: s.definition.clone(),
                control: None,
                states: BTreeMap::new(),
            });
        if orchestra == s.definition.home {
            c.control = Some(s.control.clone());
        }
        for (e, st) in s.states {
            c.states.insert(e.key(), st);
        }
    }
    for c in out.values_mut() {
        for e in c.def.waves.iter().flatten() {
            c.states.entry(e.key()).or_insert(DbState::Pending);
        }
    }
    out
}

/// The campaigns the fleet's watches hold, and the records that could not be read (naming
/// the orchestra and object).
pub fn of_fleet(fleet: &Fleet) -> (BTreeMap<String, Campaign>, Vec<String>) {
    let mut records = Vec::new();
    let mut unread = Vec::new();
    for o in fleet.orchestras.values() {
        for info in o.campaigns.values() {
            let what = format!("orchestra {}: configmap {}", o.name, info.object);
            match state::of_data(&what, &info.data, String::new()) {
                Ok(s) => records.push((o.name.clone(), s)),
                Err(e) => unread.push(e),
            }
        }
    }
    (merge(records), unread)
}

/// The campaign and the state of each database in one (the first, by name, when several).
pub fn by_database(campaigns: &BTreeMap<String, Campaign>) -> BTreeMap<DbKey, (String, DbState)> {
    let mut out = BTreeMap::new();
    for (name, c) in campaigns {
        for (k, s) in &c.states {
            out.entry(k.clone())
                .or_insert_with(|| (name.clone(), s.clone()));
        }
    }
    out
}
