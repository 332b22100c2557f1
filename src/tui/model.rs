//! The dashboard's state: the fleet as folded from source events, which screen is open and what is
//! selected, the filter and sort of the database list, the text being typed, the last message, and
//! the caches derived from the fleet (sorted/filtered rows, per-orchestra counts, the worst
//! databases) that `update` refreshes only when their inputs change, so a frame never sorts.
//!
//! Submodules: `rows` (the derived list, counts and selection), `layout` (screen geometry and the
//! sources' focus), `time` (expiring notes, the clock-dependent marks, how times are written).

use std::collections::BTreeMap;

use ratatui::style::Color;
use tui_input::Input;

use super::ops::{Ops, lease};
use crate::config::keymap::{Context, Keymap};
use crate::config::{Config, OperationName, Theme};
pub use crate::fleet::filter::{Filter, Term};
use crate::fleet::{Database, DbKey, Fleet, HealthCounts};
use crate::source::Focus;

/// Which screen is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    /// Every orchestra, with the fleet-wide "degraded right now" panel.
    Fleet,
    /// Databases of one orchestra (`Some`) or of the whole fleet (`None`).
    Databases { orchestra: Option<String> },
    /// One database's profile; Esc returns to the database list `list` (an orchestra or the fleet).
    Profile { key: DbKey, list: Option<String> },
    /// `:ops`: the operations in flight fleet-wide, from the Leases (anyone's).
    Operations,
    /// `:campaigns`: every campaign the orchestras hold; `open`: one, with its databases.
    Campaigns { open: Option<String> },
}

impl View {
    /// Where its keys are looked up in the keymap.
    pub fn keys(&self) -> Context {
        match self {
            View::Fleet => Context::Fleet,
            View::Databases { .. } => Context::Databases,
            View::Profile { .. } => Context::Profile,
            View::Operations => Context::Operations,
            View::Campaigns { .. } => Context::Campaigns,
        }
    }
}

/// What keys go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Typing the `/` filter.
    Filter,
    /// Typing a `:` command.
    Command,
    /// The `?` overlay.
    Help,
}

/// The profile's panes that take j/k.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Members,
    Events,
}

/// Sortable columns of the database list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortCol {
    Health,
    Database,
    Orchestra,
    Profile,
    Version,
    Members,
    Leader,
    Term,
    Lag,
}

impl SortCol {
    /// The order `s` cycles through. Each column has a natural order, before `S` reverses it:
    /// worst first for health, members and lag, A→Z or low→high for the rest.
    pub const CYCLE: [SortCol; 9] = [
        Self::Health,
        Self::Database,
        Self::Orchestra,
        Self::Profile,
        Self::Version,
        Self::Members,
        Self::Leader,
        Self::Term,
        Self::Lag,
    ];

    pub fn next(self) -> Self {
        let i = Self::CYCLE.iter().position(|c| *c == self).unwrap_or(0);
        Self::CYCLE[(i + 1) % Self::CYCLE.len()]
    }

    pub fn word(self) -> &'static str {
        match self {
            Self::Health => "health",
            Self::Database => "database",
            Self::Orchestra => "orchestra",
            Self::Profile => "profile",
            Self::Version => "version",
            Self::Members => "members",
            Self::Leader => "leader",
            Self::Term => "term",
            Self::Lag => "lag",
        }
    }
}

mod campaigns;
mod layout;
mod rows;
mod time;

pub use campaigns::Campaigns;

pub use rows::severity;
pub use time::{age, clock_hm};

/// One line of the orchestra list, derived from the fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrchestraRow {
    pub name: String,
    pub counts: HealthCounts,
    pub members: usize,
    /// Operations in flight (unfinished on their Leases, anyone's).
    pub ops: usize,
}

/// How long an error stays on screen.
pub const ERROR_TTL_MS: u64 = 20_000;
/// How long a message ("copied …", "theme light") stays in the status bar.
pub const INFO_TTL_MS: u64 = 10_000;

/// A message for the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    Info(String),
    Error(String),
}

/// Caches keyed by what they were computed from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cache {
    pub fleet_generation: Option<u64>,
    pub rows_key: Option<(u64, Option<String>, String, SortCol, bool)>,
}

/// The whole dashboard state.
#[derive(Debug, Clone)]
pub struct Model {
    pub fleet: Fleet,
    pub config: Config,
    pub theme: Theme,
    pub identity: String,
    /// The key bindings in force (defaults with the config's `[keys]` over them).
    pub keymap: Keymap,
    /// Global read-only (flag or config): operations are hidden everywhere.
    pub read_only: bool,
    /// Unix ms, from the latest [`super::Msg::Tick`].
    pub now_ms: u64,
    /// Terminal size (columns, rows).
    pub size: (u16, u16),
    pub view: View,
    pub mode: Mode,
    pub filter_input: Input,
    pub command_input: Input,
    pub sort: SortCol,
    /// `S` reversed the natural order.
    pub reverse: bool,
    /// Selected orchestra (fleet view).
    pub orchestra_sel: usize,
    /// Selected row and first visible row (databases view).
    pub db_sel: usize,
    pub db_offset: usize,
    /// Selected member (profile view).
    pub member_sel: usize,
    /// The profile's pane that j/k move in: the members or the events.
    pub pane: Pane,
    /// Events scrolled past, newest first (profile view).
    pub events_offset: usize,
    /// The profile shows the selected member's every field (Enter; Esc closes it).
    pub member_detail: bool,
    pub note: Option<Note>,
    /// The note as last seen by `update`, since when (Unix ms), and whether a key was pressed
    /// while it was on screen: notes expire, once someone was there to see them.
    pub(crate) note_seen: Option<(Note, u64, bool)>,
    /// Set when something on screen changed; the runtime draws and clears it.
    pub dirty: bool,
    /// Orchestras in display order: the ones given, then any a source declared.
    pub orchestras: Vec<OrchestraRow>,
    given_orchestras: Vec<String>,
    /// Every database key in fleet order (rebuilt only when the set of databases changes).
    pub keys: Vec<DbKey>,
    /// The list, filtered and sorted: indices into `keys`.
    pub rows: Vec<u32>,
    /// Unhealthy databases, worst first (the fleet view's top panel).
    pub worst: Vec<DbKey>,
    pub counts: HealthCounts,
    /// The filter in force (parsed from `filter_input`).
    pub filter: Filter,
    /// The list `filter_input` belongs to (an orchestra's, or `None` the fleet-wide one): a
    /// filter belongs to its list, never carried into another.
    pub filter_list: Option<String>,
    /// The filters of the other lists, kept for when they are opened again.
    pub saved_filters: BTreeMap<Option<String>, String>,
    pub(crate) cache: Cache,
    /// Databases may have come or gone (a Pods or PodGone event changed the fleet): rebuild `keys`.
    pub(crate) keys_stale: bool,
    pub(crate) last_focus: Option<Focus>,
    /// What the clock-dependent parts showed at the last tick (HH:MM, ages, churn).
    pub(crate) time_marks: Vec<String>,
    /// Operations: the dialog, this dashboard's runs, the `:ops` selection.
    pub ops: Ops,
    /// Campaigns, from their records in the orchestras.
    pub campaigns: Campaigns,
}

impl Model {
    /// A dashboard with no fleet data yet; the `orchestras` show as connecting.
    pub fn new(
        config: Config,
        theme: Theme,
        identity: String,
        read_only: bool,
        orchestras: Vec<String>,
        now_ms: u64,
    ) -> Self {
        let fleet = Fleet::new(config.operations.lag_gate);
        let read_only = read_only || config.general.read_only;
        // The config was checked when it was read; one built in code may still clash.
        let (keymap, note) = match Keymap::new(&config.keys) {
            Ok(k) => (k, None),
            Err(e) => (
                Keymap::default(),
                Some(Note::Error(format!("{e}; the default keys are in use"))),
            ),
        };
        let mut m = Self {
            fleet,
            config,
            theme,
            identity,
            keymap,
            read_only,
            now_ms,
            size: (80, 24),
            view: View::Fleet,
            mode: Mode::Normal,
            filter_input: Input::default(),
            command_input: Input::default(),
            sort: SortCol::Health,
            reverse: false,
            orchestra_sel: 0,
            db_sel: 0,
            db_offset: 0,
            member_sel: 0,
            pane: Pane::Members,
            events_offset: 0,
            member_detail: false,
            note,
            note_seen: None,
            dirty: true,
            orchestras: Vec::new(),
            given_orchestras: orchestras,
            keys: Vec::new(),
            rows: Vec::new(),
            worst: Vec::new(),
            counts: HealthCounts::default(),
            filter: Filter::default(),
            filter_list: None,
            saved_filters: BTreeMap::new(),
            cache: Cache::default(),
            keys_stale: true,
            last_focus: None,
            time_marks: Vec::new(),
            ops: Ops::default(),
            campaigns: Campaigns::default(),
        };
        m.refresh();
        m.time_marks = m.compute_time_marks();
        m
    }

    /// Takes the dirty flag (for the runtime: draw when this returns true).
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    /// The orchestra's name as shown: its configured display name, else its context name.
    pub fn display_name<'a>(&'a self, orchestra: &'a str) -> &'a str {
        self.config
            .orchestras
            .get(orchestra)
            .and_then(|o| o.display_name.as_deref())
            .unwrap_or(orchestra)
    }

    /// The orchestra's accent colour: configured, else red for anything named prod, else none.
    pub fn accent(&self, orchestra: &str) -> Option<Color> {
        match self.config.orchestras.get(orchestra).and_then(|o| o.accent) {
            Some(c) => Some(c.0),
            None if orchestra.contains("prod")
                || self.display_name(orchestra).to_lowercase().contains("prod") =>
            {
                Some(Color::Red)
            }
            None => None,
        }
    }

    /// Whether operations are hidden for this orchestra.
    pub fn read_only_for(&self, orchestra: &str) -> bool {
        self.read_only
            || self
                .config
                .orchestras
                .get(orchestra)
                .is_some_and(|o| o.read_only)
    }

    /// The permissions of `needed` the orchestra's identity was refused (its API server's
    /// answers to SelfSubjectAccessReviews), as said: `create jobs`. Empty until it answered.
    pub fn missing_permissions(
        &self,
        orchestra: &str,
        needed: &[crate::fleet::access::Permission],
    ) -> Vec<String> {
        self.fleet
            .orchestras
            .get(orchestra)
            .and_then(|o| o.access.as_ref())
            .map(|a| a.missing(needed))
            .unwrap_or_default()
    }

    /// The role shown follows the identity: once every orchestra whose API server answered says
    /// its identity may change nothing, the status line says observer, not the config's role.
    pub fn role_follows_identity(&mut self) {
        let mut answered = self
            .fleet
            .orchestras
            .values()
            .filter_map(|o| o.access.as_ref())
            .peekable();
        let observer = answered.peek().is_some() && answered.all(crate::fleet::Access::observer);
        if observer && !self.identity.contains("role observer") {
            let base = self
                .identity
                .split(" · role ")
                .next()
                .unwrap_or_default()
                .to_string();
            self.identity = format!("{base} · role observer (the identity may change nothing)");
            self.dirty = true;
        }
    }

    /// The role to show for `orchestra`: the config's, or observer when its identity may change
    /// nothing (the role follows the identity).
    pub fn role_shown(&self, orchestra: &str) -> String {
        if self.identity_observer(orchestra) {
            "observer (the identity may change nothing)".into()
        } else {
            self.config.general.role.clone()
        }
    }

    /// The orchestra's identity may change nothing: an observer, whatever the config's role.
    pub fn identity_observer(&self, orchestra: &str) -> bool {
        self.fleet
            .orchestras
            .get(orchestra)
            .and_then(|o| o.access.as_ref())
            .is_some_and(crate::fleet::Access::observer)
    }

    /// Operations this user's role may run on `orchestra`; empty when read-only.
    pub fn operations(&self, orchestra: &str) -> Vec<OperationName> {
        if self.read_only_for(orchestra) {
            return Vec::new();
        }
        let allowed = self
            .config
            .role_operations(&self.config.general.role)
            .unwrap_or_default();
        OperationName::ALL
            .into_iter()
            .filter(|o| allowed.contains(o))
            .collect()
    }

    /// The database whose profile is open.
    pub fn open_database(&self) -> Option<&Database> {
        match &self.view {
            View::Profile { key, .. } => self.fleet.databases.get(key).map(|d| &**d),
            _ => None,
        }
    }

    pub fn selected_database(&self) -> Option<DbKey> {
        match &self.view {
            View::Databases { .. } => self.row(self.db_sel).cloned(),
            View::Profile { key, .. } => Some(key.clone()),
            View::Operations => self.op_rows().get(self.ops.list_sel).cloned(),
            View::Campaigns { open: Some(name) } => self
                .campaigns
                .all
                .get(name)
                .and_then(|c| c.states.keys().nth(self.campaigns.db_sel))
                .cloned(),
            View::Fleet | View::Campaigns { .. } => None,
        }
    }

    /// Databases with an operation in flight (unfinished on their Lease), fleet order: the
    /// rows of `:ops`.
    pub fn op_rows(&self) -> Vec<DbKey> {
        self.fleet
            .databases
            .values()
            .filter(|d| d.op_lease.is_some() && lease::unfinished(d))
            .map(|d| d.key.clone())
            .collect()
    }

    pub fn selected_orchestra(&self) -> Option<&str> {
        self.orchestras
            .get(self.orchestra_sel)
            .map(|o| o.name.as_str())
    }
}
