//! The model's derived rows and selection: the database list filtered and sorted, the
//! per-orchestra counts and the worst databases, recomputed only when their inputs change, and
//! every selection kept inside its list and on screen.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use super::{Filter, Model, OrchestraRow, SortCol, View};
use crate::fleet::{Database, DbKey, Health, HealthCounts};
use crate::tui::ops::lease;

/// The indices of `items` ordered by `key` (reversed on request), ties in key order.
fn sorted<'a, K: Ord>(
    items: &[(u32, &'a Database)],
    key: impl Fn(&'a Database) -> K,
    reverse: bool,
) -> Vec<u32> {
    let mut keyed: Vec<(K, u32)> = items.iter().map(|(i, d)| (key(d), *i)).collect();
    keyed.sort_unstable_by(|a, b| {
        let o = a.0.cmp(&b.0);
        if reverse { o.reverse() } else { o }.then(a.1.cmp(&b.1))
    });
    keyed.into_iter().map(|(_, i)| i).collect()
}

fn missing(d: &Database) -> usize {
    d.members.len() - d.ready()
}

/// How bad a health is: down > degraded > unknown > healthy.
pub fn severity(h: Health) -> u8 {
    match h {
        Health::Down => 3,
        Health::Degraded => 2,
        Health::Unknown => 1,
        Health::Healthy => 0,
    }
}

impl Model {
    /// The key of row `i` of the list.
    pub fn row(&self, i: usize) -> Option<&DbKey> {
        self.rows.get(i).and_then(|k| self.keys.get(*k as usize))
    }

    /// Where `key` is in the list.
    pub fn row_of(&self, key: &DbKey) -> Option<usize> {
        let k = self.keys.binary_search(key).ok()? as u32;
        self.rows.iter().position(|r| *r == k)
    }

    /// Recomputes the caches whose inputs changed and keeps selections in range and on screen.
    pub(crate) fn refresh(&mut self) {
        // Remember the selected row by key: `keys` may be rebuilt below.
        let selected = self.row(self.db_sel).cloned();
        if self.cache.fleet_generation != Some(self.fleet.generation) {
            self.cache.fleet_generation = Some(self.fleet.generation);
            self.refresh_fleet();
        }
        let scope = match &self.view {
            View::Databases { orchestra } => orchestra.clone(),
            _ => None,
        };
        let key = (
            self.fleet.generation,
            scope,
            self.filter_input.value().to_string(),
            self.sort,
            self.reverse,
        );
        // Only the database list shows rows; the profile keeps the list it came from, so Esc
        // returns to it unchanged.
        if self.cache.rows_key.as_ref() != Some(&key) && matches!(self.view, View::Databases { .. })
        {
            self.filter = Filter::parse(&key.2).unwrap_or_else(|_| Filter::nothing());
            self.rows = self.compute_rows(key.1.as_deref());
            if let Some(s) = selected
                && let Some(i) = self.row_of(&s)
            {
                self.db_sel = i;
            }
            self.cache.rows_key = Some(key);
        }
        self.clamp();
    }

    /// Keeps every selection inside its list and the selected row on screen.
    pub(crate) fn clamp(&mut self) {
        self.orchestra_sel = self
            .orchestra_sel
            .min(self.orchestras.len().saturating_sub(1));
        self.db_sel = self.db_sel.min(self.rows.len().saturating_sub(1));
        let page = self.page_rows();
        if self.db_sel < self.db_offset {
            self.db_offset = self.db_sel;
        } else if self.db_sel >= self.db_offset + page {
            self.db_offset = self.db_sel + 1 - page;
        }
        // No empty space under the last row when there are enough rows to fill the page.
        self.db_offset = self.db_offset.min(self.rows.len().saturating_sub(page));
        let (members, events) = self
            .open_database()
            .map_or((0, 0), |d| (d.members.len(), d.events.len()));
        self.member_sel = self.member_sel.min(members.saturating_sub(1));
        self.events_offset = self.events_offset.min(events.saturating_sub(1));
        if members == 0 {
            self.member_detail = false;
        }
        if self.view == View::Operations {
            self.ops.list_sel = self
                .ops
                .list_sel
                .min(self.op_rows().len().saturating_sub(1));
        }
    }

    fn refresh_fleet(&mut self) {
        // One pass in key order: databases of an orchestra are adjacent.
        let mut per: Vec<(&str, HealthCounts, usize, usize)> = Vec::new();
        let mut counts = HealthCounts::default();
        let mut worst: Vec<&Database> = Vec::new();
        for (k, d) in &self.fleet.databases {
            let h = d.state.health;
            counts.add(h);
            let op = usize::from(d.op_lease.is_some() && lease::unfinished(d));
            match per.last_mut() {
                Some(p) if p.0 == k.orchestra => {
                    p.1.add(h);
                    p.2 += d.members.len();
                    p.3 += op;
                }
                _ => {
                    let mut c = HealthCounts::default();
                    c.add(h);
                    per.push((k.orchestra.as_str(), c, d.members.len(), op));
                }
            }
            if matches!(h, Health::Down | Health::Degraded) {
                worst.push(d);
            }
        }
        let per: BTreeMap<&str, (HealthCounts, usize, usize)> = per
            .into_iter()
            .map(|(o, c, n, ops)| (o, (c, n, ops)))
            .collect();
        let mut names: Vec<String> = self.given_orchestras.clone();
        let mut seen: std::collections::BTreeSet<String> = names.iter().cloned().collect();
        for o in self
            .fleet
            .orchestras
            .keys()
            .map(String::as_str)
            .chain(per.keys().copied())
        {
            if !seen.contains(o) {
                seen.insert(o.to_string());
                names.push(o.to_string());
            }
        }
        self.orchestras = names
            .into_iter()
            .map(|name| {
                let (counts, members, ops) = per.get(name.as_str()).copied().unwrap_or_default();
                OrchestraRow {
                    name,
                    counts,
                    members,
                    ops,
                }
            })
            .collect();
        worst.sort_by(|a, b| {
            severity(b.state.health)
                .cmp(&severity(a.state.health))
                .then(b.state.reasons.len().cmp(&a.state.reasons.len()))
                .then(a.key.cmp(&b.key))
        });
        self.worst = worst.into_iter().map(|d| d.key.clone()).collect();
        self.counts = counts;
        if self.keys_stale || self.keys.len() != self.fleet.databases.len() {
            self.keys_stale = false;
            self.keys = self.fleet.databases.keys().cloned().collect();
            // Row indices point into the old keys: recompute the list.
            self.rows.clear();
            self.cache.rows_key = None;
        }
    }

    fn compute_rows(&self, scope: Option<&str>) -> Vec<u32> {
        let displays: BTreeMap<&str, String> = self
            .fleet
            .orchestras
            .keys()
            .map(|o| (o.as_str(), self.display_name(o).to_lowercase()))
            .collect();
        // Indices follow key order, so ties break by key by comparing indices.
        let items: Vec<(u32, &Database)> = self
            .fleet
            .databases
            .values()
            .enumerate()
            .filter(|(_, d)| scope.is_none_or(|o| d.key.orchestra == o))
            .filter(|(_, d)| {
                self.filter.is_empty()
                    || self.filter.matches(
                        d,
                        displays
                            .get(d.key.orchestra.as_str())
                            .map_or("", String::as_str),
                    )
            })
            .map(|(i, d)| (i as u32, &**d))
            .collect();
        let r = self.reverse;
        match self.sort {
            SortCol::Health => sorted(&items, |d| Reverse(severity(d.state.health)), r),
            SortCol::Database => sorted(
                &items,
                |d| (d.key.namespace.as_str(), d.key.name.as_str()),
                r,
            ),
            SortCol::Orchestra => sorted(&items, |d| d.key.orchestra.as_str(), r),
            SortCol::Profile => sorted(&items, |d| d.profile.as_str(), r),
            SortCol::Version => sorted(&items, |d| d.version(), r),
            SortCol::Members => sorted(&items, |d| Reverse(missing(d)), r),
            SortCol::Leader => sorted(&items, |d| d.state.leader.as_deref(), r),
            SortCol::Term => sorted(&items, |d| d.state.term, r),
            SortCol::Lag => sorted(&items, |d| Reverse(d.state.worst_lag), r),
        }
    }
}
