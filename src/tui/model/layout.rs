//! The model's screen geometry: the rows the main area, the database table and the fleet
//! view's panels get, the error lines over the status bar, and the focus the sources get for
//! what is on screen.

use super::{Mode, Model, Note, View};
use crate::fleet::DbKey;
use crate::source::Focus;

impl Model {
    /// The error on its own lines above the status bar, in full (up to three lines), while it
    /// lasts; none when there is no error.
    pub fn error_lines(&self) -> Vec<String> {
        match &self.note {
            Some(Note::Error(e)) if self.size.1 >= 8 => {
                crate::tui::widgets::wrap(&format!("✗ {e}"), usize::from(self.size.0), 3)
            }
            _ => Vec::new(),
        }
    }

    /// Rows of the main area (the screen minus the status bar, any error and any input line).
    pub(crate) fn main_height(&self) -> u16 {
        let input = u16::from(matches!(self.mode, Mode::Filter | Mode::Command));
        let error = self.error_lines().len() as u16;
        self.size.1.saturating_sub(1 + input + error)
    }

    /// Data rows the database table shows (inside its border, under its header).
    pub fn page_rows(&self) -> usize {
        usize::from(self.main_height().saturating_sub(3)).max(1)
    }

    /// Heights of the fleet view's two panels: (degraded panel, orchestra list), borders included.
    pub(crate) fn fleet_split(&self) -> (u16, u16) {
        let h = self.main_height();
        let want = (self.worst.len().max(1) as u16).saturating_add(2);
        let cap = (h / 3).max(3);
        let top = want.min(cap).min(h);
        (top, h - top)
    }

    /// Database keys the degraded panel shows.
    pub(crate) fn worst_shown(&self) -> &[DbKey] {
        let (top, _) = self.fleet_split();
        let n = usize::from(top.saturating_sub(2)).min(self.worst.len());
        &self.worst[..n]
    }

    /// The focus the sources should get for what is on screen now.
    pub fn focus(&self) -> Focus {
        match &self.view {
            View::Fleet => Focus {
                open: None,
                visible: self.worst_shown().to_vec(),
            },
            View::Databases { .. } => {
                let end = (self.db_offset + self.page_rows()).min(self.rows.len());
                let start = self.db_offset.min(end);
                Focus {
                    open: None,
                    visible: (start..end).filter_map(|i| self.row(i).cloned()).collect(),
                }
            }
            View::Profile { key, .. } => Focus {
                open: Some(key.clone()),
                visible: Vec::new(),
            },
            View::Operations => Focus {
                open: None,
                visible: self.op_rows(),
            },
            // The campaign's databases that run now are probed often.
            View::Campaigns { open } => Focus {
                open: None,
                visible: open
                    .as_ref()
                    .and_then(|n| self.campaigns.all.get(n))
                    .map(|c| {
                        c.states
                            .iter()
                            .filter(|(_, s)| {
                                matches!(s, crate::ops::campaign::run::DbState::Running { .. })
                            })
                            .map(|(k, _)| k.clone())
                            .collect()
                    })
                    .unwrap_or_default(),
            },
        }
    }
}
