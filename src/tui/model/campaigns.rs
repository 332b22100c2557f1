//! The campaigns part of the model: every campaign merged from the records the engine watches
//! (rebuilt only when a record changed), each database's campaign for the OP column, what could
//! not be read, the `:campaigns` selections, and the coordinators that run in this dashboard.

use std::collections::BTreeMap;

use crate::fleet::{DbKey, Fleet};
use crate::ops::campaign::run::DbState;
use crate::ops::campaign::view::{self, Campaign};

#[derive(Debug, Clone, Default)]
pub struct Campaigns {
    pub all: BTreeMap<String, Campaign>,
    /// Each database's campaign and its state there.
    pub by_db: BTreeMap<DbKey, (String, DbState)>,
    /// Records that could not be read (orchestra, object, key).
    pub unread: Vec<String>,
    /// The selected campaign, and the selected database of the open one.
    pub sel: usize,
    pub db_sel: usize,
    /// Campaigns this dashboard started or resumed: their coordinator's lines, and its end.
    pub here: BTreeMap<String, crate::tui::ops::campaign::Here>,
}

impl Campaigns {
    /// Rebuilds from the fleet's records.
    pub fn refresh(&mut self, fleet: &Fleet) {
        let (all, unread) = view::of_fleet(fleet);
        self.by_db = view::by_database(&all);
        self.all = all;
        self.unread = unread;
        self.sel = self.sel.min(self.all.len().saturating_sub(1));
    }

    /// Campaigns whose coordinator runs in this dashboard now.
    pub fn coordinated_here(&self) -> Vec<String> {
        self.here
            .iter()
            .filter(|(_, h)| h.ended.is_none())
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// The selected campaign's name.
    pub fn selected(&self) -> Option<&str> {
        self.all.keys().nth(self.sel).map(String::as_str)
    }

    /// The OP column's word for a database in a campaign not over: `to-5-26: pending`.
    pub fn cell(&self, k: &DbKey) -> Option<String> {
        let (name, s) = self.by_db.get(k)?;
        let over = self
            .all
            .get(name)
            .and_then(|c| c.control.as_ref())
            .is_some_and(|c| {
                matches!(
                    c.phase,
                    crate::ops::campaign::state::Phase::Finished
                        | crate::ops::campaign::state::Phase::Cancelled
                )
            });
        (!over).then(|| format!("{name}: {}", s.word()))
    }
}
