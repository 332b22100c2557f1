//! The dashboard's state: the fleet as folded from source events, which screen is open and what is
//! selected, the filter and sort of the database list, the text being typed, the last message, and
//! the caches derived from the fleet (sorted/filtered rows, per-orchestra counts, the worst
//! databases) that `update` refreshes only when their inputs change, so a frame never sorts.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use ratatui::style::Color;
use tui_input::Input;

pub use super::filter::{Filter, Term};
use super::keymap::Keymap;
use super::ops::{Ops, lease};
use crate::config::{Config, OperationName, Theme};
use crate::fleet::{Database, DbKey, Fleet, Health, HealthCounts};
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
            View::Profile { key, .. } => self.fleet.databases.get(key),
            _ => None,
        }
    }

    pub fn selected_database(&self) -> Option<DbKey> {
        match &self.view {
            View::Databases { .. } => self.row(self.db_sel).cloned(),
            View::Profile { key, .. } => Some(key.clone()),
            View::Operations => self.op_rows().get(self.ops.list_sel).cloned(),
            View::Fleet => None,
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

    /// The key of row `i` of the list.
    pub fn row(&self, i: usize) -> Option<&DbKey> {
        self.rows.get(i).and_then(|k| self.keys.get(*k as usize))
    }

    /// Where `key` is in the list.
    pub fn row_of(&self, key: &DbKey) -> Option<usize> {
        let k = self.keys.binary_search(key).ok()? as u32;
        self.rows.iter().position(|r| *r == k)
    }

    pub fn selected_orchestra(&self) -> Option<&str> {
        self.orchestras
            .get(self.orchestra_sel)
            .map(|o| o.name.as_str())
    }

    /// The error on its own lines above the status bar, in full (up to three lines), while it
    /// lasts; none when there is no error.
    pub fn error_lines(&self) -> Vec<String> {
        match &self.note {
            Some(Note::Error(e)) if self.size.1 >= 8 => {
                super::widgets::wrap(&format!("✗ {e}"), usize::from(self.size.0), 3)
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

    /// Notes expire: an error after [`ERROR_TTL_MS`], a message after [`INFO_TTL_MS`] (counted
    /// from when `update` first saw them), once a key was pressed since they came: one that
    /// arrived while nobody was at the keyboard waits to be seen. Returns whether the note went.
    pub(crate) fn expire_note(&mut self) -> bool {
        let Some(note) = self.note.clone() else {
            self.note_seen = None;
            return false;
        };
        match &self.note_seen {
            Some((seen, since, keyed)) if *seen == note => {
                let ttl = match note {
                    Note::Error(_) => ERROR_TTL_MS,
                    Note::Info(_) => INFO_TTL_MS,
                };
                if *keyed && self.now_ms.saturating_sub(*since) >= ttl {
                    self.note = None;
                    self.note_seen = None;
                    return true;
                }
                false
            }
            _ => {
                self.note_seen = Some((note, self.now_ms, false));
                false
            }
        }
    }

    /// A key was pressed: the note on screen has been seen.
    pub(crate) fn key_pressed(&mut self) {
        if let Some((_, _, keyed)) = &mut self.note_seen {
            *keyed = true;
        }
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
        }
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
            self.filter = Filter::parse(&key.2).unwrap_or_else(|_| Filter {
                // While a term is half typed, match nothing rather than everything.
                terms: vec![Term::Health(Vec::new())],
            });
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
            .map(|(i, d)| (i as u32, d))
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

    /// The strings of everything on screen that depends on the clock.
    pub(crate) fn compute_time_marks(&self) -> Vec<String> {
        let mut marks = vec![clock_hm(self.now_ms)];
        if let Some(d) = self.open_database() {
            marks.push(d.history.churning(self.now_ms).to_string());
            // The profile shows when the open database was last probed.
            marks.push(
                d.probed_ms
                    .map_or_else(String::new, |p| (p / 1000).to_string()),
            );
            for m in &d.members {
                marks.push(age(self.now_ms, m.pod.created_ms));
            }
            // The progress pane's clocks (whole seconds) and the Lease's staleness.
            if let Some(r) = self.ops.run_of(&d.key).filter(|r| r.running()) {
                marks.push((r.elapsed_ms(self.now_ms) / 1000).to_string());
            }
            if let Some(i) = lease::in_flight(d, self.now_ms) {
                marks.push(format!("{} {}", i.stale, i.renewed_s));
            }
        }
        if self.view == View::Operations {
            for k in self.op_rows() {
                if let Some(i) = self
                    .fleet
                    .databases
                    .get(&k)
                    .and_then(|d| lease::in_flight(d, self.now_ms))
                {
                    marks.push(format!("{} {}", i.stale, lease::ago(i.age_s)));
                }
            }
        }
        marks
    }
}

/// `HH:MM` (UTC) of a Unix-ms time.
pub fn clock_hm(ms: u64) -> String {
    let s = (ms / 1000) % 86_400;
    format!("{:02}:{:02}", s / 3600, (s / 60) % 60)
}

/// A pod age at minute resolution (`<1m`, `42m`, `5h07m`, `3d04h`), so it changes at most once a
/// minute; `-` when unknown.
pub fn age(now_ms: u64, created_ms: Option<u64>) -> String {
    let Some(c) = created_ms else {
        return "-".into();
    };
    let mins = now_ms.saturating_sub(c) / 60_000;
    match mins {
        0 => "<1m".into(),
        1..60 => format!("{mins}m"),
        60..1440 => format!("{}h{:02}m", mins / 60, mins % 60),
        _ => format!("{}d{:02}h", mins / 1440, (mins % 1440) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_change_once_a_minute() {
        assert_eq!(age(59_999, Some(0)), "<1m");
        assert_eq!(age(60_000, Some(0)), "1m");
        assert_eq!(age(3_723_000, Some(0)), "1h02m");
        assert_eq!(age(90_000_000, Some(0)), "1d01h");
        assert_eq!(age(5, None), "-");
        assert_eq!(clock_hm(3_723_000), "01:02");
    }
}
