//! The terminal dashboard. Data flows one way: sources send [`Msg`]s on one channel, the pure
//! [`update`] folds each into the [`Model`] and returns [`Cmd`]s, the effects executor runs them
//! (as tasks that answer with more `Msg`s), and the views draw the model.
//!
//! Modules:
//! - `msg` — [`Msg`] (everything that happens), [`Cmd`] (what `update` asks for), OSC52.
//! - `model` — the state: fleet, open view, selection, filter, sort, derived caches.
//! - (the `/` filter's syntax and match is `fleet::filter`, shared with campaigns)
//! - `ops` — the operations' state: dialogs, runs and their progress, what the Leases say.
//! - `update` — the pure fold: keys per mode, `:` commands, focus for the sources, the
//!   operation dialogs' transitions (the key bindings behind dispatch, help and hint lines are
//!   `config::keymap`).
//! - `nav` — navigation between views: opening a list, a profile, a member, the operations
//!   list, and going back (used by `update` and its operation flows).
//! - `runtime` — the event loop and its sources (keys, fleet batches, clock); [`run`].
//! - `effects` — runs each `Cmd`: in place, or as a task answering on the channel.
//! - `terminal` — raw mode and alternate screen, restored in one place; the [`Painter`].
//! - `views` — one module per view (fleet, databases, profile, help, input line, status bar).
//! - `widgets` — what views paint with (table, panel, text, styles).
//! - `fixture` — deterministic fleets for tests and benchmarks.

pub mod effects;
pub mod fixture;
pub mod model;
pub mod msg;
pub mod nav;
pub mod ops;
pub mod runtime;
pub mod terminal;
pub mod update;
pub mod views;
pub mod widgets;

use std::io;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use crate::config::Theme;

pub use model::{Mode, Model, View};
pub use msg::{Cmd, Msg, OpCmd, OpMsg, OpStart, Refusal, osc52};
pub use runtime::run;
pub use terminal::Painter;
pub use update::update;
pub use views::draw;

/// What `main` hands the dashboard.
pub struct Options {
    pub config: crate::config::Config,
    pub theme: crate::config::Theme,
    pub themes: crate::config::theme::ThemeSet,
    /// Shown in the status bar, e.g. "kubeconfig ~/.kube/config · role sre".
    pub identity: String,
    pub read_only: bool,
    /// Orchestras in the order to show them, before any event arrives (they show as connecting).
    pub orchestras: Vec<String>,
    /// The kubeconfig operations connect with (None: $KUBECONFIG or ~/.kube/config).
    pub kubeconfig: Option<std::path::PathBuf>,
    /// `--context`: the kubeconfig contexts shown (campaign commands list the same fleet).
    pub contexts: Vec<String>,
}

/// Why the dashboard stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("terminal: {0}")]
    Terminal(#[from] io::Error),
    /// Input failed or an effect task panicked.
    #[error("{0}")]
    Failed(String),
}

/// Paints the model into a fresh buffer of `w`×`h` cells, without a terminal (benchmarks, tests).
pub fn render_to_buffer(model: &Model, theme: &Theme, w: u16, h: u16) -> Buffer {
    let area = Rect::new(0, 0, w, h);
    let mut buf = Buffer::empty(area);
    views::render(model, theme, area, &mut buf);
    buf
}

/// A buffer as plain text, one line per row, trailing spaces trimmed (for snapshots).
pub fn buffer_text(buf: &Buffer) -> String {
    let area = buf.area;
    let mut out = String::with_capacity(usize::from(area.width + 1) * usize::from(area.height));
    for y in area.top()..area.bottom() {
        let mut line = String::new();
        for x in area.left()..area.right() {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests;
