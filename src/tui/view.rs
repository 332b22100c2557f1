//! Drawing, read-only: `draw(&Model, &Theme, &mut Frame)` paints the open screen (fleet, database
//! list, database profile), the filter or command line, the help overlay and the status bar.
//! Lists are virtualised (only rows on screen are formatted) and columns are dropped by priority
//! when the terminal is narrow. Meaning never rests on colour alone: roles carry glyphs and words,
//! health carries words.

use std::borrow::Cow;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Widget};
use unicode_width::UnicodeWidthStr;

use super::model::{Mode, Model, Note, SortCol, View, age, clock_hm};
use crate::config::Theme;
use crate::fleet::store::clock;
use crate::fleet::{Connection, Database, Health, Probe, Role};

/// Draws the whole screen.
pub fn draw(model: &Model, theme: &Theme, frame: &mut Frame) {
    let area = frame.area();
    render(model, theme, area, frame.buffer_mut());
    if let Some(pos) = cursor(model, area) {
        frame.set_cursor_position(pos);
    }
}

/// Paints the screen into `buf` (what `draw` does, without a terminal).
pub fn render(model: &Model, theme: &Theme, area: Rect, buf: &mut Buffer) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    buf.set_style(area, theme.text);
    let input = u16::from(matches!(model.mode, Mode::Filter | Mode::Command));
    let main_h = area.height.saturating_sub(1 + input);
    let main = Rect {
        height: main_h,
        ..area
    };
    match &model.view {
        View::Fleet => fleet_view(model, theme, main, buf),
        View::Databases { orchestra } => {
            databases_view(model, theme, orchestra.as_deref(), main, buf)
        }
        View::Profile { key, .. } => match model.fleet.databases.get(key) {
            Some(d) => profile_view(model, theme, d, main, buf),
            None => {
                let inner = panel(theme, " Database ", "", true, main, buf);
                put(
                    buf,
                    inner.x + 1,
                    inner.y,
                    inner.width.saturating_sub(2),
                    &format!(
                        "{} is gone: no pods of it are seen any more. Esc goes back.",
                        key.id()
                    ),
                    theme.warning,
                );
            }
        },
    }
    if input == 1 && area.height >= 2 {
        input_line(
            model,
            theme,
            Rect::new(area.x, area.y + main_h, area.width, 1),
            buf,
        );
    }
    status_bar(
        model,
        theme,
        Rect::new(area.x, area.bottom() - 1, area.width, 1),
        buf,
    );
    if model.mode == Mode::Help {
        help(theme, main, buf);
    }
}

pub(crate) fn cursor(model: &Model, area: Rect) -> Option<Position> {
    let input = match model.mode {
        Mode::Filter => &model.filter_input,
        Mode::Command => &model.command_input,
        _ => return None,
    };
    let y = area.bottom().checked_sub(2)?;
    let width = usize::from(area.width.saturating_sub(2)).max(1);
    let scroll = input.visual_scroll(width);
    let x = 1 + input.visual_cursor().saturating_sub(scroll);
    Some(Position::new(
        area.x + x.min(usize::from(area.width.saturating_sub(1))) as u16,
        y,
    ))
}

// ---------------------------------------------------------------------------------------------
// Small painting helpers.

/// Outside text on one line: control characters (newlines in event messages…) become spaces.
fn one_line(s: &str) -> Cow<'_, str> {
    if s.chars().any(char::is_control) {
        Cow::Owned(
            s.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(s)
    }
}

/// Writes `text` at (x, y) in at most `w` columns, ending with `…` when cut.
fn put(buf: &mut Buffer, x: u16, y: u16, w: u16, text: &str, style: Style) -> u16 {
    if w == 0 {
        return x;
    }
    let text = one_line(text);
    if text.width() <= usize::from(w) {
        buf.set_stringn(x, y, &text, usize::from(w), style).0
    } else {
        let (nx, _) = buf.set_stringn(x, y, &text, usize::from(w - 1), style);
        buf.set_stringn(nx, y, "…", 1, style).0
    }
}

/// Writes `text` right-aligned in the `w` columns starting at x.
fn put_right(buf: &mut Buffer, x: u16, y: u16, w: u16, text: &str, style: Style) {
    let tw = text.width().min(usize::from(w)) as u16;
    put(buf, x + w - tw, y, tw, text, style);
}

/// A bordered panel with a title (and an optional bottom title of key hints); returns its inside.
fn panel(
    theme: &Theme,
    title: &str,
    hints: &str,
    focused: bool,
    area: Rect,
    buf: &mut Buffer,
) -> Rect {
    let border = if focused {
        theme.border_focus
    } else {
        theme.border
    };
    let mut block = Block::default()
        .borders(Borders::ALL)
        .border_style(border)
        .title(Span::styled(title.to_string(), theme.title));
    if !hints.is_empty() && area.width as usize > hints.width() + 4 {
        block = block
            .title_bottom(Line::from(Span::styled(hints.to_string(), theme.muted)).right_aligned());
    }
    let inner = block.inner(area);
    block.render(area, buf);
    inner
}

/// A table column: title, width wanted, priority (0 = kept longest), flexible (takes leftover).
struct Col {
    title: &'static str,
    width: u16,
    prio: u8,
    flex: bool,
    right: bool,
}

const fn col(title: &'static str, width: u16, prio: u8) -> Col {
    Col {
        title,
        width,
        prio,
        flex: false,
        right: false,
    }
}

const fn flex(title: &'static str, width: u16, prio: u8) -> Col {
    Col {
        title,
        width,
        prio,
        flex: true,
        right: false,
    }
}

const fn num(title: &'static str, width: u16, prio: u8) -> Col {
    Col {
        title,
        width,
        prio,
        flex: false,
        right: true,
    }
}

/// Fits columns into `avail` cells: the highest priorities that fit, in their own order, the
/// flexible ones sharing what is left. `None` for a dropped column; else (x offset, width).
fn fit(cols: &[Col], avail: u16) -> Vec<Option<(u16, u16)>> {
    const GAP: u16 = 2;
    let mut order: Vec<usize> = (0..cols.len()).collect();
    order.sort_by_key(|i| cols[*i].prio);
    let mut keep = vec![false; cols.len()];
    let mut used: u16 = 0;
    for i in order {
        let need = cols[i].width + if used == 0 { 0 } else { GAP };
        if used + need <= avail {
            keep[i] = true;
            used += need;
        }
    }
    let flexes = (0..cols.len())
        .filter(|i| keep[*i] && cols[*i].flex)
        .count() as u16;
    let spare = avail - used;
    let mut out = vec![None; cols.len()];
    let mut x = 0;
    let mut first_flex = true;
    for (i, c) in cols.iter().enumerate() {
        if !keep[i] {
            continue;
        }
        let mut w = c.width;
        if c.flex && flexes > 0 {
            w += spare / flexes;
            if first_flex {
                w += spare % flexes;
                first_flex = false;
            }
        }
        if x > 0 {
            x += GAP;
        }
        out[i] = Some((x, w));
        x += w;
    }
    out
}

/// Where a table's columns landed.
struct Tbl<'a> {
    cols: &'a [Col],
    fitted: Vec<Option<(u16, u16)>>,
    x0: u16,
}

impl<'a> Tbl<'a> {
    /// Lays `cols` out in `w` cells starting at `x0` (low-priority columns dropped first).
    fn new(cols: &'a [Col], w: u16, x0: u16) -> Self {
        Self {
            cols,
            fitted: fit(cols, w),
            x0,
        }
    }

    /// Column titles on row `y`; `marker` appends a sort arrow to one of them.
    fn header(&self, buf: &mut Buffer, y: u16, style: Style, marker: Option<(usize, &str)>) {
        for (i, c) in self.cols.iter().enumerate() {
            let title: Cow<str> = match marker {
                Some((m, s)) if m == i => Cow::Owned(format!("{}{s}", c.title)),
                _ => Cow::Borrowed(c.title),
            };
            cell(buf, self, i, y, &title, style);
        }
    }
}

/// Writes `text` in column `i` of row `y` (nothing when the column was dropped).
fn cell(buf: &mut Buffer, t: &Tbl, i: usize, y: u16, text: &str, style: Style) {
    if let Some((x, w)) = t.fitted[i] {
        if t.cols[i].right {
            put_right(buf, t.x0 + x, y, w, text, style);
        } else {
            put(buf, t.x0 + x, y, w, text, style);
        }
    }
}

pub(crate) fn health_style(theme: &Theme, h: Health) -> Style {
    match h {
        Health::Healthy => theme.healthy,
        Health::Degraded => theme.degraded,
        Health::Down => theme.down,
        Health::Unknown => theme.unknown,
    }
}

fn role_style(theme: &Theme, r: Role) -> Style {
    match r {
        Role::Leader => theme.leader,
        Role::Follower => theme.follower,
        Role::ReadReplica => theme.read_replica,
        Role::Candidate => theme.candidate,
        Role::Unknown => theme.unknown,
    }
}

/// Lag over the configured gate is a warning.
fn lag_style(model: &Model, theme: &Theme, lag: Option<u64>) -> Style {
    match lag {
        Some(l) if l > model.config.operations.lag_gate => theme.warning,
        _ => theme.text,
    }
}

fn connection_style(theme: &Theme, c: &Connection) -> Style {
    match c {
        Connection::Live => theme.healthy,
        Connection::Connecting => theme.muted,
        Connection::Stale { .. } => theme.warning,
        Connection::Unauthorized(_) | Connection::Unreachable(_) => theme.error,
    }
}

/// The accent style of an orchestra: its configured colour, unless the theme has no colours
/// (mono / NO_COLOR), where the theme's accent is used.
fn accent_style(model: &Model, theme: &Theme, orchestra: &str) -> Style {
    let themed_colour = matches!(theme.accent.fg, Some(c) if c != Color::Reset);
    match model.accent(orchestra) {
        Some(c) if themed_colour => Style::default().fg(c),
        _ => theme.accent,
    }
}

fn connection_of<'a>(model: &'a Model, orchestra: &str) -> Cow<'a, Connection> {
    match model.fleet.orchestras.get(orchestra) {
        Some(o) => Cow::Borrowed(&o.connection),
        None => Cow::Owned(Connection::Connecting),
    }
}

fn first_reason(d: &Database) -> &str {
    match d.state.health {
        Health::Healthy => "",
        _ => d.state.reasons.first().map_or("", String::as_str),
    }
}

/// Marks the selected row: selection style across it and a `▶` gutter (visible without colour).
fn select_row(buf: &mut Buffer, theme: &Theme, x: u16, y: u16, w: u16) {
    buf.set_style(Rect::new(x, y, w, 1), theme.selected);
    buf.set_stringn(x, y, "▶", 1, theme.selected);
}

/// First row to show so that `sel` is on screen, starting from the model's offset.
fn scroll(offset: usize, sel: usize, rows: usize, len: usize) -> usize {
    let mut o = offset;
    if sel < o {
        o = sel;
    } else if rows > 0 && sel >= o + rows {
        o = sel + 1 - rows;
    }
    o.min(len.saturating_sub(rows))
}

// ---------------------------------------------------------------------------------------------
// Fleet view.

fn fleet_view(model: &Model, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let (top_h, _) = model.fleet_split();
    let top_h = top_h.min(area.height);
    let top = Rect {
        height: top_h,
        ..area
    };
    let rest = Rect {
        y: area.y + top_h,
        height: area.height - top_h,
        ..area
    };
    degraded_panel(model, theme, top, buf);
    orchestra_list(model, theme, rest, buf);
}

fn degraded_panel(model: &Model, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let c = model.counts;
    let title = if c.down + c.degraded == 0 {
        " Degraded right now: none ".to_string()
    } else {
        let mut parts = Vec::new();
        if c.down > 0 {
            parts.push(format!("{} down", c.down));
        }
        if c.degraded > 0 {
            parts.push(format!("{} degraded", c.degraded));
        }
        format!(" Degraded right now · {} ", parts.join(" · "))
    };
    let inner = panel(theme, &title, "", false, area, buf);
    if inner.height == 0 {
        return;
    }
    let x0 = inner.x + 1;
    let w = inner.width.saturating_sub(2);
    if model.worst.is_empty() {
        let text = if model.fleet.databases.is_empty() {
            "no databases seen yet".to_string()
        } else {
            format!(
                "all {} databases are healthy{}",
                c.total() - c.unknown,
                if c.unknown > 0 {
                    format!(" ({} not probed or unknown)", c.unknown)
                } else {
                    String::new()
                }
            )
        };
        put(buf, x0, inner.y, w, &text, theme.healthy);
        return;
    }
    let shown = model.worst_shown();
    let more = model.worst.len() - shown.len();
    let shown_dbs = || shown.iter().filter_map(|k| model.fleet.databases.get(k));
    let orch_w = shown_dbs()
        .map(|d| model.display_name(&d.key.orchestra).width())
        .max()
        .unwrap_or(9)
        .clamp(9, if w < 120 { 16 } else { 28 }) as u16;
    let db_w = shown_dbs()
        .map(|d| d.key.namespace.width() + 1 + d.key.name.width())
        .max()
        .unwrap_or(8)
        .clamp(8, 40) as u16;
    let cols = [
        col("HEALTH", 8, 0),
        col("ORCHESTRA", orch_w, 2),
        col("DATABASE", db_w, 1),
        flex("REASON", 16, 0),
    ];
    let tbl = Tbl::new(&cols, w, x0);
    let lines = usize::from(inner.height);
    for (i, key) in shown.iter().enumerate() {
        let y = inner.y + i as u16;
        if more > 0 && i + 1 == lines {
            put(
                buf,
                x0,
                y,
                w,
                &format!(
                    "… and {} more: press d for every database, worst first",
                    more + 1
                ),
                theme.muted,
            );
            break;
        }
        let Some(d) = model.fleet.databases.get(key) else {
            continue;
        };
        let h = d.state.health;
        cell(buf, &tbl, 0, y, h.word(), health_style(theme, h));
        cell(
            buf,
            &tbl,
            1,
            y,
            model.display_name(&key.orchestra),
            accent_style(model, theme, &key.orchestra),
        );
        cell(
            buf,
            &tbl,
            2,
            y,
            &format!("{}/{}", key.namespace, key.name),
            theme.text,
        );
        cell(buf, &tbl, 3, y, first_reason(d), theme.text);
    }
}

fn orchestra_list(model: &Model, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let title = format!(" Orchestras ({}) ", model.orchestras.len());
    let hints = " ↵ databases · d all databases · / filter · : command · ? help · q quit ";
    let inner = panel(theme, &title, hints, true, area, buf);
    if inner.height < 2 {
        return;
    }
    let x0 = inner.x + 2;
    let w = inner.width.saturating_sub(3);
    let name_w = model
        .orchestras
        .iter()
        .map(|o| model.display_name(&o.name).width())
        .max()
        .unwrap_or(4)
        .clamp(4, 28) as u16;
    let ctx_w = model
        .orchestras
        .iter()
        .map(|o| o.name.width())
        .max()
        .unwrap_or(7)
        .clamp(7, 28) as u16;
    let cols = [
        col("ORCHESTRA", name_w.max(9), 0),
        col("CONTEXT", ctx_w, 6),
        num("DBS", 5, 2),
        num("DOWN", 5, 3),
        num("DEGRADED", 8, 4),
        num("MEMBERS", 7, 5),
        flex("CONNECTION", 12, 1),
    ];
    let tbl = Tbl::new(&cols, w, x0);
    tbl.header(buf, inner.y, theme.header, None);
    if model.orchestras.is_empty() {
        put(
            buf,
            x0,
            inner.y + 1,
            w,
            "no orchestras: check the kubeconfig contexts or the config file",
            theme.muted,
        );
        return;
    }
    let rows = usize::from(inner.height - 1);
    let offset = scroll(0, model.orchestra_sel, rows, model.orchestras.len());
    for (i, o) in model.orchestras.iter().enumerate().skip(offset).take(rows) {
        let y = inner.y + 1 + (i - offset) as u16;
        let selected = i == model.orchestra_sel;
        let conn = connection_of(model, &o.name);
        let st = |s: Style| if selected { theme.selected } else { s };
        if selected {
            select_row(buf, theme, inner.x, y, inner.width);
        }
        buf.set_stringn(inner.x + 1, y, "▌", 1, accent_style(model, theme, &o.name));
        let name = model.display_name(&o.name);
        cell(buf, &tbl, 0, y, name, st(theme.text));
        if name != o.name {
            cell(buf, &tbl, 1, y, &o.name, st(theme.muted));
        }
        let counts_known = o.counts.total() > 0 || matches!(*conn, Connection::Live);
        let n = |v: usize| {
            if counts_known {
                v.to_string()
            } else {
                "-".into()
            }
        };
        cell(buf, &tbl, 2, y, &n(o.counts.total()), st(theme.text));
        let down = if o.counts.down > 0 {
            theme.down
        } else {
            theme.muted
        };
        cell(buf, &tbl, 3, y, &n(o.counts.down), st(down));
        let degr = if o.counts.degraded > 0 {
            theme.degraded
        } else {
            theme.muted
        };
        cell(buf, &tbl, 4, y, &n(o.counts.degraded), st(degr));
        cell(buf, &tbl, 5, y, &n(o.members), st(theme.muted));
        cell(
            buf,
            &tbl,
            6,
            y,
            &conn.describe(),
            st(connection_style(theme, &conn)),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Databases view.

const DB_DATABASE: usize = 0;
const DB_ORCHESTRA: usize = 1;
const DB_PROFILE: usize = 2;
const DB_VERSION: usize = 3;
const DB_READY: usize = 4;
const DB_LEADER: usize = 5;
const DB_TERM: usize = 6;
const DB_LAG: usize = 7;
const DB_HEALTH: usize = 8;
const DB_OP: usize = 9;
const DB_REASON: usize = 10;

fn sort_column(s: SortCol) -> usize {
    match s {
        SortCol::Health => DB_HEALTH,
        SortCol::Database => DB_DATABASE,
        SortCol::Orchestra => DB_ORCHESTRA,
        SortCol::Profile => DB_PROFILE,
        SortCol::Version => DB_VERSION,
        SortCol::Members => DB_READY,
        SortCol::Leader => DB_LEADER,
        SortCol::Term => DB_TERM,
        SortCol::Lag => DB_LAG,
    }
}

fn databases_view(model: &Model, theme: &Theme, scope: Option<&str>, area: Rect, buf: &mut Buffer) {
    let total = match scope {
        Some(o) => model.fleet.databases_of(o).count(),
        None => model.fleet.databases.len(),
    };
    let where_ = match scope {
        Some(o) => {
            let conn = connection_of(model, o);
            if matches!(*conn, Connection::Live) {
                model.display_name(o).to_string()
            } else {
                format!("{} ({})", model.display_name(o), conn.describe())
            }
        }
        None => "all orchestras".into(),
    };
    let arrow = if model.reverse { "▴" } else { "▾" };
    let narrow = area.width < 100;
    let mut title = if narrow {
        let where_ = if scope.is_none() { "all" } else { &where_ };
        format!(" Databases · {where_} · {}/{total}", model.rows.len())
    } else {
        format!(" Databases · {where_} · {} of {total}", model.rows.len())
    };
    if !model.filter_input.value().is_empty() && model.mode != Mode::Filter {
        let label = if narrow { "/" } else { "filter: " };
        title.push_str(&format!(" · {label}{}", model.filter_input.value()));
    }
    if narrow {
        title.push_str(&format!(" · {}{arrow} ", model.sort.word()));
    } else {
        title.push_str(&format!(" · sort: {} {arrow} ", model.sort.word()));
    }
    let hints = " ↵ open · / filter · s sort · S reverse · y copy id · Esc back · ? help ";
    let inner = panel(theme, &title, hints, true, area, buf);
    if let Some(o) = scope {
        // The orchestra's accent on the panel's corner, so prod is hard to miss.
        buf.set_stringn(area.x, area.y, "█", 1, accent_style(model, theme, o));
    }
    if inner.height < 2 {
        return;
    }
    let x0 = inner.x + 1;
    let w = inner.width.saturating_sub(2);
    let rows = usize::from(inner.height - 1);
    let offset = scroll(model.db_offset, model.db_sel, rows, model.rows.len());
    let visible: Vec<&Database> = model
        .rows
        .iter()
        .skip(offset)
        .take(rows)
        .filter_map(|k| model.keys.get(*k as usize))
        .filter_map(|k| model.fleet.databases.get(k))
        .collect();
    // Column widths follow what is on screen (bounded), not the whole fleet.
    let widest = |f: &dyn Fn(&Database) -> usize, lo: usize, hi: usize| {
        visible
            .iter()
            .map(|d| f(d))
            .max()
            .unwrap_or(lo)
            .clamp(lo, hi) as u16
    };
    let db_w = widest(
        &|d| d.key.namespace.width() + 1 + d.key.name.width(),
        12,
        40,
    );
    let orch_cap = if w < 120 { 16 } else { 28 };
    let orch_w = widest(
        &|d| model.display_name(&d.key.orchestra).width() + 2,
        9,
        orch_cap,
    );
    let leader_w = widest(
        &|d| d.state.leader.as_deref().map_or(1, |l| l.width() + 2),
        6,
        24,
    );
    let cols = [
        col("DATABASE", db_w, 0),
        col("ORCHESTRA", orch_w, if scope.is_some() { 20 } else { 4 }),
        col("PROFILE", 8, 9),
        col("VERSION", 8, 8),
        num("READY", 6, 2),
        col("LEADER", leader_w, 5),
        num("TERM", 5, 7),
        num("LAG", 6, 6),
        col("HEALTH", 8, 1),
        col("OP", 3, 10),
        flex("REASON", 20, 3),
    ];
    let tbl = Tbl::new(&cols, w, x0);
    tbl.header(
        buf,
        inner.y,
        theme.header,
        Some((sort_column(model.sort), arrow)),
    );
    if visible.is_empty() {
        let text = if total == 0 {
            match scope {
                Some(o) => format!("no databases seen in {} yet", model.display_name(o)),
                None => "no databases seen yet".into(),
            }
        } else {
            format!(
                "no database matches '{}' (Esc in / clears it)",
                model.filter_input.value()
            )
        };
        put(buf, x0, inner.y + 1, w, &text, theme.muted);
        return;
    }
    for (i, d) in visible.iter().enumerate() {
        let y = inner.y + 1 + i as u16;
        let selected = offset + i == model.db_sel;
        if selected {
            select_row(buf, theme, inner.x, y, inner.width);
        }
        let st = |s: Style| if selected { theme.selected } else { s };
        let k = &d.key;
        let s = &d.state;
        let c = |i: usize, text: &str, style: Style, buf: &mut Buffer| {
            cell(buf, &tbl, i, y, text, st(style));
        };
        c(
            DB_DATABASE,
            &format!("{}/{}", k.namespace, k.name),
            theme.text,
            buf,
        );
        if tbl.fitted[DB_ORCHESTRA].is_some() {
            let conn = connection_of(model, &k.orchestra);
            let name = model.display_name(&k.orchestra);
            if matches!(*conn, Connection::Live) {
                c(
                    DB_ORCHESTRA,
                    name,
                    accent_style(model, theme, &k.orchestra),
                    buf,
                );
            } else {
                // Not live: the row is what was last seen.
                c(DB_ORCHESTRA, &format!("{name} ⚠"), theme.warning, buf);
            }
        }
        c(DB_PROFILE, &d.profile, theme.muted, buf);
        c(DB_VERSION, d.version(), theme.muted, buf);
        let ready = d.ready();
        let ready_style = if ready < d.members.len() {
            theme.warning
        } else {
            theme.text
        };
        c(
            DB_READY,
            &format!("{ready}/{}", d.members.len()),
            ready_style,
            buf,
        );
        match &s.leader {
            Some(l) => c(
                DB_LEADER,
                &format!("{} {l}", Role::Leader.glyph()),
                theme.text,
                buf,
            ),
            None => c(DB_LEADER, "none", theme.down, buf),
        }
        c(
            DB_TERM,
            &s.term.map_or("-".into(), |t| t.to_string()),
            theme.muted,
            buf,
        );
        c(
            DB_LAG,
            &s.worst_lag.map_or("-".into(), |l| l.to_string()),
            lag_style(model, theme, s.worst_lag),
            buf,
        );
        c(
            DB_HEALTH,
            s.health.word(),
            health_style(theme, s.health),
            buf,
        );
        c(DB_OP, "-", theme.muted, buf);
        c(DB_REASON, first_reason(d), theme.text, buf);
    }
}

// ---------------------------------------------------------------------------------------------
// Database profile.

fn profile_view(model: &Model, theme: &Theme, d: &Database, area: Rect, buf: &mut Buffer) {
    let s = &d.state;
    let now = model.now_ms;
    let ops = model.operations(&d.key.orchestra);
    let show_ops = !model.read_only_for(&d.key.orchestra);
    let wide = area.width >= 120;
    let churning = d.history.churning(now);
    let reasons_shown = s.reasons.len().min(if area.height >= 40 { 6 } else { 3 });
    let conn = connection_of(model, &d.key.orchestra);
    let live = matches!(*conn, Connection::Live);
    let header_lines = 1
        + reasons_shown as u16
        + u16::from(churning)
        + u16::from(!live)
        + u16::from(show_ops && !wide);
    let header_h = (header_lines + 2).min(area.height);
    let member_h = (d.members.len().max(1) as u16 + 3)
        .min(
            area.height
                .saturating_sub(header_h)
                .saturating_sub(6)
                .max(4),
        )
        .min(area.height - header_h);
    let bottom_h = area.height - header_h - member_h;

    // Header.
    let header_area = Rect {
        height: header_h,
        ..area
    };
    let title = format!(" {} ", d.key.id());
    let hints = " j/k member · y copy id · Esc back · ? help ";
    let inner = panel(theme, &title, hints, true, header_area, buf);
    buf.set_stringn(
        area.x,
        area.y,
        "█",
        1,
        accent_style(model, theme, &d.key.orchestra),
    );
    let x0 = inner.x + 1;
    let w = inner.width.saturating_sub(2);
    let mut y = inner.y;
    let bottom = inner.bottom();
    if y < bottom {
        let mut spans = vec![
            Span::styled(
                s.health.word().to_uppercase(),
                health_style(theme, s.health),
            ),
            Span::styled("  leader ", theme.muted),
        ];
        match &s.leader {
            Some(l) => spans.push(Span::styled(
                format!("{} {l}", Role::Leader.glyph()),
                theme.leader,
            )),
            None => spans.push(Span::styled("none", theme.down)),
        }
        spans.push(Span::styled("  term ", theme.muted));
        spans.push(Span::styled(
            s.term.map_or("-".into(), |t| t.to_string()),
            theme.text,
        ));
        spans.push(Span::styled("  ready ", theme.muted));
        spans.push(Span::styled(
            format!("{}/{}", d.ready(), d.members.len()),
            theme.text,
        ));
        spans.push(Span::styled("  lag ", theme.muted));
        spans.push(Span::styled(
            s.worst_lag.map_or("-".into(), |l| l.to_string()),
            lag_style(model, theme, s.worst_lag),
        ));
        let line = Line::from(spans);
        let used = line.width() as u16;
        buf.set_line(x0, y, &line, w);
        // Profile, version and probe time on the right, as much as fits.
        let kind = format!("{} {}", d.profile, d.version());
        let full = match d.probed_ms {
            Some(p) => format!("{kind} · probed {}", clock(p)),
            None => format!("{kind} · not probed yet"),
        };
        for right in [full, kind] {
            if used + 2 + right.width() as u16 <= w {
                put_right(buf, x0, y, w, &right, theme.muted);
                break;
            }
        }
        y += 1;
    }
    let mut written = 0;
    for r in s.reasons.iter().take(reasons_shown) {
        if y >= bottom {
            break;
        }
        let x = put(buf, x0, y, w, "▸ ", health_style(theme, s.health));
        put(buf, x, y, w.saturating_sub(2), r, theme.text);
        y += 1;
        written += 1;
    }
    if s.reasons.len() > written && written > 0 {
        // Say that more reasons exist at the end of the last reason line.
        let more = format!(" (+{} more)", s.reasons.len() - written);
        put_right(buf, x0, y - 1, w, &more, theme.muted);
    }
    if churning && y < bottom {
        let recent = d
            .history
            .changes
            .iter()
            .filter(|c| now.saturating_sub(c.at_ms) <= 10 * 60 * 1000)
            .count();
        put(
            buf,
            x0,
            y,
            w,
            &format!("⚠ LEADER CHURN: {recent} leader changes in the last 10 minutes"),
            theme.warning,
        );
        y += 1;
    }
    if !live && y < bottom {
        put(
            buf,
            x0,
            y,
            w,
            &format!(
                "⚠ orchestra {}: {}: data shown may be old",
                model.display_name(&d.key.orchestra),
                conn.describe()
            ),
            theme.warning,
        );
        y += 1;
    }
    if show_ops && !wide && y < bottom {
        let x = put(buf, x0, y, w, "operations: ", theme.muted);
        if ops.is_empty() {
            put(
                buf,
                x,
                y,
                w.saturating_sub(x - x0),
                "none for this role",
                theme.muted,
            );
        } else {
            // The names as far as they fit, and always the note that launching comes later.
            let note = " · launched in a later version";
            let names: Vec<&str> = ops.iter().map(|o| o.as_str()).collect();
            let room = w.saturating_sub(x - x0).saturating_sub(note.width() as u16);
            let end = put(buf, x, y, room, &names.join(" "), theme.text);
            put(buf, end, y, note.width() as u16, note, theme.muted);
        }
    }

    // Members.
    let member_area = Rect {
        y: area.y + header_h,
        height: member_h,
        ..area
    };
    members_table(model, theme, d, member_area, buf);

    // Leader changes, events, operations.
    if bottom_h < 3 {
        return;
    }
    let bottom_area = Rect {
        y: area.y + header_h + member_h,
        height: bottom_h,
        ..area
    };
    let ops_w = if show_ops && wide { 34 } else { 0 };
    let rest_w = bottom_area.width - ops_w;
    let timeline_w = if d.history.changes.is_empty() {
        28
    } else if wide {
        rest_w * 2 / 5
    } else {
        rest_w / 2
    }
    .max(30)
    .min(rest_w);
    let timeline = Rect {
        width: timeline_w,
        ..bottom_area
    };
    let events = Rect {
        x: bottom_area.x + timeline_w,
        width: rest_w - timeline_w,
        ..bottom_area
    };
    leader_timeline(theme, d, timeline, buf);
    if events.width >= 10 {
        events_panel(theme, d, events, buf);
    }
    if ops_w > 0 {
        let ops_area = Rect {
            x: bottom_area.x + rest_w,
            width: ops_w,
            ..bottom_area
        };
        operations_panel(model, theme, &ops, ops_area, buf);
    }
}

fn members_table(model: &Model, theme: &Theme, d: &Database, area: Rect, buf: &mut Buffer) {
    let title = format!(" Members ({}) ", d.members.len());
    let inner = panel(theme, &title, "", false, area, buf);
    if inner.height < 2 {
        return;
    }
    let x0 = inner.x + 1;
    let w = inner.width.saturating_sub(2);
    let name_w = d
        .members
        .iter()
        .map(|m| m.pod.name.width())
        .max()
        .unwrap_or(6)
        .clamp(6, 32) as u16;
    let widest = |f: &dyn Fn(&crate::fleet::Member) -> usize, lo: usize, hi: usize| {
        d.members.iter().map(f).max().unwrap_or(lo).clamp(lo, hi) as u16
    };
    let node_w = widest(&|m| m.pod.node.width(), 4, 40);
    let zone_w = widest(&|m| m.pod.zone.width(), 4, 20);
    let image_w = widest(&|m| m.pod.image.width(), 5, 48);
    let cols = [
        col("ROLE", 14, 0),
        col("MEMBER", name_w, 0),
        col("READY", 5, 1),
        num("RESTARTS", 8, 5),
        num("APPLIED", 10, 6),
        num("LAG", 6, 2),
        col("NODE", node_w, 8),
        col("ZONE", zone_w, 7),
        num("AGE", 6, 4),
        flex("STATUS", 16, 3),
        col("IMAGE", image_w, 9),
    ];
    let tbl = Tbl::new(&cols, w, x0);
    tbl.header(buf, inner.y, theme.header, None);
    let rows = usize::from(inner.height - 1);
    let offset = scroll(0, model.member_sel, rows, d.members.len());
    for (i, m) in d.members.iter().enumerate().skip(offset).take(rows) {
        let y = inner.y + 1 + (i - offset) as u16;
        let selected = i == model.member_sel;
        if selected {
            select_row(buf, theme, inner.x, y, inner.width);
        }
        let st = |s: Style| if selected { theme.selected } else { s };
        let state = d.state.members.iter().find(|s| s.name == m.pod.name);
        let role = state.map_or(Role::Unknown, |s| s.role);
        let c = |i: usize, text: &str, style: Style, buf: &mut Buffer| {
            cell(buf, &tbl, i, y, text, st(style));
        };
        c(
            0,
            &format!("{} {}", role.glyph(), role.word()),
            role_style(theme, role),
            buf,
        );
        c(1, &m.pod.name, theme.text, buf);
        let (ready, ready_style) = if m.pod.ready {
            ("yes", theme.text)
        } else {
            ("NO", theme.warning)
        };
        c(2, ready, ready_style, buf);
        let restarts_style = if m.pod.restarts > 0 {
            theme.warning
        } else {
            theme.muted
        };
        c(3, &m.pod.restarts.to_string(), restarts_style, buf);
        let applied = match &m.probe {
            Probe::Ok(r) => r.applied_index.map_or("-".into(), |a| a.to_string()),
            _ => "-".into(),
        };
        c(4, &applied, theme.muted, buf);
        let lag = state.and_then(|s| s.lag);
        c(
            5,
            &lag.map_or("-".into(), |l| l.to_string()),
            lag_style(model, theme, lag),
            buf,
        );
        c(6, &m.pod.node, theme.muted, buf);
        c(7, &m.pod.zone, theme.muted, buf);
        c(8, &age(model.now_ms, m.pod.created_ms), theme.muted, buf);
        let (status, style): (Cow<str>, Style) = if m.pod.terminating {
            ("terminating".into(), theme.warning)
        } else if m.pod.phase != "Running" && !m.pod.phase.is_empty() {
            (format!("pod {}", m.pod.phase).into(), theme.warning)
        } else {
            match &m.probe {
                Probe::Pending => ("not probed yet".into(), theme.muted),
                Probe::Error(e) => (format!("probe error: {e}").into(), theme.error),
                Probe::Ok(r) if !r.errors.is_empty() => (r.errors.join("; ").into(), theme.error),
                Probe::Ok(r) if !r.healthy => ("reports unhealthy".into(), theme.degraded),
                Probe::Ok(_) => ("ok".into(), theme.healthy),
            }
        };
        c(9, &status, style, buf);
        c(10, &m.pod.image, theme.muted, buf);
    }
}

fn leader_timeline(theme: &Theme, d: &Database, area: Rect, buf: &mut Buffer) {
    let title = format!(" Leader changes ({}) ", d.history.changes.len());
    let inner = panel(theme, &title, "", false, area, buf);
    let x0 = inner.x + 1;
    let w = inner.width.saturating_sub(1);
    if inner.height == 0 {
        return;
    }
    if d.history.changes.is_empty() {
        put(buf, x0, inner.y, w, "none since baton started", theme.muted);
        return;
    }
    for (i, c) in d
        .history
        .changes
        .iter()
        .rev()
        .take(usize::from(inner.height))
        .enumerate()
    {
        let y = inner.y + i as u16;
        let from = c.from.as_deref().unwrap_or("none");
        let to = c.to.as_deref().unwrap_or("none");
        let line = Line::from(vec![
            Span::styled(clock(c.at_ms), theme.muted),
            Span::styled(format!(" {from} → "), theme.text),
            Span::styled(format!("{} {to}", Role::Leader.glyph()), theme.leader),
            Span::styled(
                c.term.map_or(String::new(), |t| format!(" term {t}")),
                theme.muted,
            ),
        ]);
        buf.set_line(x0, y, &line, w);
    }
}

fn events_panel(theme: &Theme, d: &Database, area: Rect, buf: &mut Buffer) {
    let title = format!(" Kubernetes events ({}) ", d.events.len());
    let inner = panel(theme, &title, "", false, area, buf);
    let x0 = inner.x + 1;
    let w = inner.width.saturating_sub(1);
    if inner.height == 0 {
        return;
    }
    if d.events.is_empty() {
        put(buf, x0, inner.y, w, "no recent events", theme.muted);
        return;
    }
    for (i, e) in d
        .events
        .iter()
        .rev()
        .take(usize::from(inner.height))
        .enumerate()
    {
        let y = inner.y + i as u16;
        let kind_style = if e.kind == "Normal" {
            theme.muted
        } else {
            theme.warning
        };
        let mut x = put(buf, x0, y, w, &clock(e.at_ms), theme.muted);
        let end = x0 + w;
        x = put(
            buf,
            x + 1,
            y,
            end.saturating_sub(x + 1),
            &e.reason,
            kind_style,
        );
        x = put(
            buf,
            x + 1,
            y,
            end.saturating_sub(x + 1),
            &e.object,
            theme.muted,
        );
        put(
            buf,
            x + 1,
            y,
            end.saturating_sub(x + 1),
            &e.message,
            theme.text,
        );
    }
}

fn operations_panel(
    model: &Model,
    theme: &Theme,
    ops: &[crate::config::OperationName],
    area: Rect,
    buf: &mut Buffer,
) {
    let title = format!(" Operations · role {} ", model.config.general.role);
    let inner = panel(theme, &title, "", false, area, buf);
    let x0 = inner.x + 1;
    let w = inner.width.saturating_sub(2);
    let mut y = inner.y;
    if ops.is_empty() && inner.height > 0 {
        put(
            buf,
            x0,
            y,
            w,
            "this role may run no operations",
            theme.muted,
        );
        return;
    }
    let rows = usize::from(inner.height.saturating_sub(2));
    for o in ops.iter().take(rows) {
        put(buf, x0, y, w, &format!("· {}", o.as_str()), theme.text);
        y += 1;
    }
    if y + 1 < inner.bottom() {
        put(
            buf,
            x0,
            y + 1,
            w,
            "launching arrives in a later",
            theme.muted,
        );
        if y + 2 < inner.bottom() {
            put(buf, x0, y + 2, w, "version of baton", theme.muted);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Input line, status bar, help.

fn input_line(model: &Model, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let (prefix, input, hint) = match model.mode {
        Mode::Filter => (
            "/",
            &model.filter_input,
            "  ↵ keep · Esc clear · health:degraded profile:etcd orchestra:aws ns:x version:5",
        ),
        _ => (
            ":",
            &model.command_input,
            "  ctx NAME · db ID · theme NAME · q",
        ),
    };
    buf.set_style(area, theme.text);
    put(buf, area.x, area.y, 1, prefix, theme.key_hint);
    let width = usize::from(area.width.saturating_sub(2)).max(1);
    let scroll = input.visual_scroll(width);
    let value: String = input.value().chars().skip(scroll).collect();
    let x = put(
        buf,
        area.x + 1,
        area.y,
        area.width.saturating_sub(1),
        &value,
        theme.text,
    );
    let room = area.right().saturating_sub(x + 1);
    if usize::from(room) > hint.width() {
        put_right(buf, x, area.y, room, hint, theme.muted);
    }
}

fn status_bar(model: &Model, theme: &Theme, area: Rect, buf: &mut Buffer) {
    buf.set_style(area, theme.status_bar);
    let right = format!(" ? help  {} UTC ", clock_hm(model.now_ms));
    let right_w = right.width() as u16;
    let mut x = area.x;
    let end = area.right().saturating_sub(right_w);
    if model.read_only {
        x = put(
            buf,
            x,
            area.y,
            end.saturating_sub(x),
            " READ-ONLY ",
            theme.badge_read_only,
        );
    }
    let c = model.counts;
    let mut counts = format!(" {} db", c.total());
    if c.down > 0 {
        counts.push_str(&format!(" · {} down", c.down));
    }
    if c.degraded > 0 {
        counts.push_str(&format!(" · {} degraded", c.degraded));
    }
    if c.unknown > 0 {
        counts.push_str(&format!(" · {} unknown", c.unknown));
    }
    if c.total() > 0 && c.total() == c.healthy {
        counts.push_str(" · all healthy");
    }
    counts.push(' ');
    let counts_style = if c.down > 0 {
        theme.status_bar.patch(theme.down)
    } else {
        theme.status_bar
    };
    // An error comes first (it is why the user looks down here), then the counts, then who I am.
    if let Some(Note::Error(e)) = &model.note {
        x = put(
            buf,
            x,
            area.y,
            end.saturating_sub(x),
            &format!(" ✗ {e} "),
            theme.error,
        );
    }
    x = put(buf, x, area.y, end.saturating_sub(x), &counts, counts_style);
    let room = end.saturating_sub(x);
    match &model.note {
        Some(Note::Error(_)) => {}
        Some(Note::Info(i)) => {
            put(buf, x, area.y, room, &format!("│ {i} "), theme.status_bar);
        }
        None => {
            put(
                buf,
                x,
                area.y,
                room,
                &format!("│ {} ", model.identity),
                theme.status_bar,
            );
        }
    }
    put(buf, end, area.y, right_w, &right, theme.status_bar);
}

const HELP: &[(&str, &[(&str, &str)])] = &[
    (
        "Everywhere",
        &[
            ("?", "this help"),
            ("q  Ctrl-C", "quit"),
            ("Esc  h  ←", "back"),
            ("j k  ↓ ↑", "move"),
            ("PgDn PgUp", "page"),
            ("g G Home End", "first / last"),
            ("y", "copy id (OSC52)"),
            (":", "command line"),
        ],
    ),
    (
        "Fleet and lists",
        &[
            ("↵  l  →", "open"),
            ("d  Tab", "all databases"),
            ("/", "filter the list"),
            ("s  S", "sort / reverse"),
        ],
    ),
    (
        "Filter terms, ANDed",
        &[
            ("text", "in orch/ns/name"),
            ("health:degraded", "down unhealthy …"),
            ("profile:etcd", "neo4j dynomite …"),
            ("orchestra:aws", "ns:  version:"),
            ("/ ↵  / Esc", "keep / clear"),
        ],
    ),
    (
        "Commands",
        &[
            (":ctx NAME", "an orchestra"),
            (":db ID", "o/ns/name or name"),
            (":theme NAME", "switch theme"),
            (":q", "quit"),
        ],
    ),
];

fn help(theme: &Theme, area: Rect, buf: &mut Buffer) {
    let two = area.width >= 74;
    let height = |sections: &[(&str, &[(&str, &str)])]| -> usize {
        sections.iter().map(|(_, keys)| keys.len() + 1).sum()
    };
    let (left, right) = if two {
        HELP.split_at(2)
    } else {
        (HELP, &HELP[..0])
    };
    let lines = height(left).max(height(right));
    let w = area.width.saturating_sub(2).min(if two { 84 } else { 44 });
    let h = (lines as u16 + 2).min(area.height);
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    Clear.render(r, buf);
    buf.set_style(r, theme.text);
    let inner = panel(theme, " Keys ", " any key closes ", true, r, buf);
    let col_w = if two { inner.width / 2 } else { inner.width };
    for (i, part) in [left, right].into_iter().enumerate() {
        let x0 = inner.x + 1 + i as u16 * col_w;
        let w = col_w.saturating_sub(2);
        let mut y = inner.y;
        for (section, keys) in part {
            if y >= inner.bottom() {
                break;
            }
            put(buf, x0, y, w, section, theme.title);
            y += 1;
            for (k, what) in *keys {
                if y >= inner.bottom() {
                    break;
                }
                put(
                    buf,
                    x0 + 1,
                    y,
                    16.min(w.saturating_sub(1)),
                    k,
                    theme.key_hint,
                );
                put(buf, x0 + 18, y, w.saturating_sub(18), what, theme.text);
                y += 1;
            }
        }
    }
}
