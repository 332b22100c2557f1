//! The messages `update` folds into the model (everything that happens: keys, resizes, fleet
//! events, clock ticks, the answers of effects, an operation's progress) and the commands it hands back for the runtime to
//! execute. Both are plain owned data so `update` stays pure and unit-testable, and so any task
//! can send a `Msg` on the runtime's channel.

use std::collections::BTreeSet;

use crossterm::event::{KeyEvent, MouseEvent};

use crate::Exit;
use crate::cli::campaign::CampaignPlanArgs;
use crate::ops::campaign::state::Phase;

use crate::config::{OperationName, Theme};
use crate::fleet::{DbKey, FleetEvent};
use crate::ops::runner::{OpEvent, Outcome, Prepared, Request};
use crate::ops::safety::Check;
use crate::source::Focus;

/// Everything that can happen to the dashboard.
// A theme is a few hundred bytes and messages are few: not worth a Box in the contract.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    /// Mouse input (wheel scrolls the list); optional, the keyboard does everything.
    Mouse(MouseEvent),
    /// The terminal is now `w` columns by `h` rows.
    Resize(u16, u16),
    /// One event from a source.
    Fleet(FleetEvent),
    /// Everything that was queued on the fleet channel, folded in before one frame.
    FleetBatch(Vec<FleetEvent>),
    /// Wall-clock time, Unix ms. The model never reads the clock itself.
    Tick {
        now_ms: u64,
    },
    /// The answer to [`Cmd::LoadTheme`]: the theme, or why it could not be loaded.
    ThemeLoaded(Result<crate::config::Theme, String>),
    /// The terminal's input ended: closed (`None`, e.g. an SSH drop) or failed (the error).
    InputEnded(Option<String>),
    /// An operation's preflight, progress or end (answers to [`Cmd::Op`]).
    Op(OpMsg),
    /// A campaign's coordinator here, or a control written (answers to [`Cmd::Campaign`]).
    Campaign(CampaignMsg),
}

/// What a campaign task reports.
#[derive(Debug, Clone, PartialEq)]
pub enum CampaignMsg {
    /// A line of the coordinator `name` that runs here (or of its start or resume).
    Line { name: String, text: String },
    /// The start or resume ended: the coordinator's exit code when it stopped (or at once, when
    /// another coordinator goes on), or why it could not start or resume (nothing was sent).
    Ended {
        name: String,
        result: Result<Exit, String>,
    },
    /// A control (pause, cancel) was written: what was done, or why not.
    Controlled {
        name: String,
        result: Result<String, String>,
    },
}

/// Campaign effects; each runs with the same rules as `baton campaign`'s command.
#[derive(Debug, Clone, PartialEq)]
pub enum CampaignCmd {
    /// Plan again over a listing of its own, and start only when the plan is still the one
    /// confirmed (the same `databases`); coordinate here until it stops.
    Start {
        args: CampaignPlanArgs,
        databases: BTreeSet<DbKey>,
    },
    /// `baton campaign resume NAME --yes` (the dashboard asked for the name typed): un-pause a
    /// live coordinator, or take a stopped one over and coordinate here.
    Resume { name: String },
    /// Write `phase` (paused, cancelled) as the campaign's control.
    Control {
        name: String,
        phase: Phase,
        why: String,
    },
}

/// What an operation task reports; `id` names the preflight or run it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub enum OpMsg {
    /// The preflight of [`OpCmd::Prepare`]: ready to confirm, or why not (with the checks seen).
    Prepared {
        id: u64,
        result: Result<Box<Prepared>, Refusal>,
    },
    /// One event of a run, stamped with the wall clock when it happened (Unix ms).
    Event { id: u64, at_ms: u64, event: OpEvent },
    /// The run ended.
    Finished {
        id: u64,
        at_ms: u64,
        outcome: Outcome,
    },
    /// The incident summary of [`OpCmd::IncidentSummary`], or why it could not be read.
    IncidentSummary {
        id: u64,
        result: Result<String, String>,
    },
    /// The incident was posted, or why not.
    IncidentPosted {
        key: DbKey,
        result: Result<(), String>,
    },
    /// The cancel request of [`OpCmd::RequestCancel`] was written (whose operation, what it
    /// is), or why not.
    CancelRequested {
        key: DbKey,
        result: Result<String, String>,
    },
    /// New lines of a followed Job's pod log, or why it could not be read.
    Log {
        id: u64,
        pod: String,
        lines: Vec<String>,
        error: Option<String>,
    },
}

/// A preflight that cannot go on: the outcome (refused, nothing to do, bad input, failed) and
/// the checks it showed on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub outcome: Outcome,
    pub checks: Vec<Check>,
}

/// What to prepare: a new operation, or the one interrupted on the database's Lease.
#[derive(Debug, Clone, PartialEq)]
pub enum OpStart {
    New(OperationName, Request),
    Resume,
}

/// Operation effects. Preparing sends no mutating request; running does (the runner audits it).
#[derive(Debug, Clone, PartialEq)]
pub enum OpCmd {
    /// Observe, read the lock, run the preflight; answer [`OpMsg::Prepared`].
    Prepare { id: u64, key: DbKey, start: OpStart },
    /// Take the lock and run; answer [`OpMsg::Event`]s then [`OpMsg::Finished`].
    Run {
        id: u64,
        key: DbKey,
        prepared: Box<Prepared>,
    },
    /// Run it in the orchestra: create the runner Job of `image` (after its ServiceAccount is
    /// checked) and follow it; answer like `Run`. Cancel asks on the Lease.
    Launch {
        id: u64,
        key: DbKey,
        prepared: Box<Prepared>,
        request: Request,
        image: String,
    },
    /// Ask the run to stop: the current action finishes and the database settles first. Also
    /// stops the log task of a followed pane.
    Cancel { id: u64 },
    /// Write a cancel request on `key`'s Lease for whoever holds it (a followed operation);
    /// answer [`OpMsg::CancelRequested`].
    RequestCancel { key: DbKey },
    /// Follow the pod log of `job` (someone else's operation, followed from its Lease): answer
    /// [`OpMsg::Log`]s until cancelled. Reads only.
    FollowLog { id: u64, key: DbKey, job: String },
    /// Read the database's incident summary (reads only); answer [`OpMsg::IncidentSummary`].
    IncidentSummary { id: u64, key: DbKey },
    /// Post the confirmed incident text to the incident webhook; answer
    /// [`OpMsg::IncidentPosted`].
    PostIncident { key: DbKey, text: String },
}

/// What the runtime does on `update`'s behalf.
#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    Quit,
    /// Stop the dashboard with this error (exit code 1).
    Fail(String),
    /// Tell the sources what is on screen (sent only when it changed).
    SetFocus(Focus),
    /// Copy this text to the clipboard with OSC52.
    Copy(String),
    /// Load the theme of this name (a file read, so a task) and answer with [`Msg::ThemeLoaded`].
    LoadTheme(String),
    /// Prepare, run or cancel an operation (tasks answering with [`Msg::Op`]).
    Op(OpCmd),
    /// Start, resume or control a campaign (tasks answering with [`Msg::Campaign`]).
    Campaign(CampaignCmd),
}

impl Msg {
    /// A theme load answer, for the runtime.
    pub fn theme_loaded(name: &str, r: Result<Theme, crate::config::ThemeError>) -> Self {
        Self::ThemeLoaded(r.map_err(|e| format!("cannot load theme '{name}': {e}")))
    }
}

/// The OSC52 escape sequence that puts `text` on the terminal's clipboard (works over SSH).
pub fn osc52(text: &str) -> String {
    use base64::Engine;
    format!(
        "\x1b]52;c;{}\x07",
        base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn osc52_is_base64_between_the_markers() {
        assert_eq!(
            super::osc52("aws/ns/orders"),
            "\x1b]52;c;YXdzL25zL29yZGVycw==\x07"
        );
    }
}
