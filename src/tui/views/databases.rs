//! The database list of one orchestra or of the whole fleet: filtered and sorted by the model
//! (a frame never sorts), only the rows on screen formatted, column widths following what is on
//! screen, the sort column marked with an arrow.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use unicode_width::UnicodeWidthStr;

use super::{connection_of, first_reason, health_word};
use crate::config::Theme;
use crate::config::keymap::{Action, Context};
use crate::fleet::{Connection, Database, Health, Role};
use crate::tui::model::{Mode, Model, SortCol};
use crate::tui::ops::lease;
use crate::tui::widgets::styles::{accent_style, health_style, lag_style};
use crate::tui::widgets::{
    Col, Table, accent_edge, clip_middle, col, flex, num, panel, put, scroll, select_row,
};

/// Columns of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Database,
    Orchestra,
    Profile,
    Version,
    Ready,
    Leader,
    Term,
    Lag,
    Health,
    Op,
    Reason,
}

/// The column a sort order is marked on.
fn sort_column(s: SortCol) -> Column {
    match s {
        SortCol::Health => Column::Health,
        SortCol::Database => Column::Database,
        SortCol::Orchestra => Column::Orchestra,
        SortCol::Profile => Column::Profile,
        SortCol::Version => Column::Version,
        SortCol::Members => Column::Ready,
        SortCol::Leader => Column::Leader,
        SortCol::Term => Column::Term,
        SortCol::Lag => Column::Lag,
    }
}

pub fn render(model: &Model, theme: &Theme, scope: Option<&str>, area: Rect, buf: &mut Buffer) {
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
    let hints = model.keymap.hints(Context::Databases);
    let inner = panel(theme, &title, &hints, true, area, buf);
    if let Some(o) = scope {
        // The orchestra's accent on the panel's left edge, so prod is hard to miss.
        accent_edge(buf, area, accent_style(model.accent(o), theme));
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
        .filter_map(|k| model.fleet.databases.get(k).map(|d| &**d))
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
    // At 80–119 columns the widths are fixed, so the columns do not come and go with what is
    // on screen (a filter, a long name): database, orchestra, health, leader, ready and lag
    // always fit in 76 cells. Wider, they follow what is on screen.
    let narrow_w = w < 120;
    let (db_w, orch_w, leader_w) = if narrow_w {
        (19, 13, 17)
    } else {
        (
            widest(
                &|d| d.key.namespace.width() + 1 + d.key.name.width(),
                12,
                40,
            ),
            widest(&|d| model.display_name(&d.key.orchestra).width() + 2, 9, 28),
            widest(
                &|d| d.state.leader.as_deref().map_or(4, |l| l.width() + 2),
                6,
                28,
            ),
        )
    };
    // Operations in flight on the rows shown (anyone's, from the Leases).
    let ops: Vec<Option<lease::InFlight>> = visible
        .iter()
        .map(|d| lease::in_flight(d, model.now_ms))
        .collect();
    let camps: Vec<Option<String>> = visible
        .iter()
        .map(|d| model.campaigns.cell(&d.key))
        .collect();
    let op_w = ops
        .iter()
        .flatten()
        .map(|i| i.cell().width())
        .chain(camps.iter().flatten().map(|c| c.width()))
        .max()
        .map_or(3, |w| w.clamp(3, 26)) as u16;
    let cols = columns(
        &visible,
        &ops,
        &camps,
        scope.is_some(),
        model.sort,
        [db_w, orch_w, leader_w, op_w],
    );
    let tbl = Table::new(&cols, w, x0);
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
                "no database matches '{}' (Esc in {} clears it)",
                model.filter_input.value(),
                model.keymap.label(Action::Filter)
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
        let c = |id: Column, text: &str, style: Style, buf: &mut Buffer| {
            tbl.cell(buf, id, y, text, st(style));
        };
        c(
            Column::Database,
            &db_cell(&k.namespace, &k.name, usize::from(db_w)),
            theme.text,
            buf,
        );
        if tbl.shown(Column::Orchestra) {
            let conn = connection_of(model, &k.orchestra);
            let name = model.display_name(&k.orchestra);
            if matches!(*conn, Connection::Live) {
                c(
                    Column::Orchestra,
                    name,
                    accent_style(model.accent(&k.orchestra), theme),
                    buf,
                );
            } else {
                // Not live: the row is what was last seen.
                c(Column::Orchestra, &format!("⚠ {name}"), theme.warning, buf);
            }
        }
        c(Column::Profile, &d.profile, theme.muted, buf);
        c(Column::Version, d.version(), theme.muted, buf);
        let ready = d.ready();
        let ready_style = if ready < d.members.len() {
            theme.warning
        } else {
            theme.text
        };
        c(
            Column::Ready,
            &format!("{ready}/{}", d.members.len()),
            ready_style,
            buf,
        );
        match &s.leader {
            Some(l) => c(
                Column::Leader,
                &format!(
                    "{} {}",
                    Role::Leader.glyph(),
                    clip_middle(l, usize::from(leader_w.saturating_sub(2)))
                ),
                theme.text,
                buf,
            ),
            // Not known before the probes answered: no false "none".
            None if s.health == Health::Unknown => c(Column::Leader, "?", theme.muted, buf),
            None => c(Column::Leader, "none", theme.down, buf),
        }
        c(
            Column::Term,
            &s.term.map_or("-".into(), |t| t.to_string()),
            theme.muted,
            buf,
        );
        c(
            Column::Lag,
            &s.worst_lag.map_or("-".into(), |l| l.to_string()),
            lag_style(model.config.operations.lag_gate, theme, s.worst_lag),
            buf,
        );
        c(
            Column::Health,
            health_word(d),
            health_style(theme, s.health),
            buf,
        );
        match &ops[i] {
            Some(op) => {
                let style = if op.stale { theme.warning } else { theme.title };
                c(Column::Op, &op.cell(), style, buf);
            }
            // Nothing in flight: the campaign it belongs to, while that goes on.
            None => match &camps[i] {
                Some(cell) => c(Column::Op, cell, theme.muted, buf),
                None => c(Column::Op, "-", theme.muted, buf),
            },
        }
        c(Column::Reason, first_reason(d), theme.text, buf);
    }
}

/// `namespace/name` in `w` cells: the namespace gives way first (`team-comp…/audit-trail`), the
/// name only when it alone does not fit (cut in the middle).
fn db_cell(namespace: &str, name: &str, w: usize) -> String {
    let full = format!("{namespace}/{name}");
    if full.width() <= w {
        return full;
    }
    let ns_room = w.saturating_sub(name.width() + 2);
    if ns_room >= 3 {
        let mut ns = String::new();
        for c in namespace.chars() {
            if ns.width() + c.to_string().width() > ns_room {
                break;
            }
            ns.push(c);
        }
        format!("{ns}…/{name}")
    } else {
        clip_middle(&full, w).into_owned()
    }
}

/// The columns and their priorities, decided once (an engineer at 80 columns needs the orchestra,
/// database, health, leader, ready/desired and lag; reasons, operations, version and term when
/// there is room). Two adjustments, both visible: the sort column is kept on screen (rows never
/// re-order by something hidden), and a column with nothing to say on the rows shown (all `-`,
/// or the orchestra in one orchestra's list: the title names it) is not shown. `widths` are the database, orchestra, leader and operation widths.
fn columns(
    visible: &[&Database],
    ops: &[Option<lease::InFlight>],
    camps: &[Option<String>],
    scoped: bool,
    sort: SortCol,
    widths: [u16; 4],
) -> Vec<Col<Column>> {
    let [db_w, orch_w, leader_w, op_w] = widths;
    const EMPTY: u8 = 40;
    let all = |f: &dyn Fn(&Database) -> bool| visible.iter().all(|d| f(d));
    let term_empty = all(&|d| d.state.term.is_none());
    let lag_empty = all(&|d| d.state.worst_lag.is_none());
    let version_empty = all(&|d| d.version().is_empty());
    let reason_empty = all(&|d| first_reason(d).is_empty());
    let op_empty = ops.iter().all(Option::is_none) && camps.iter().all(Option::is_none);
    let prio = |p: u8, empty: bool| if empty { EMPTY + p } else { p };
    let mut cols = [
        // In one orchestra's list the title names it.
        col(
            Column::Orchestra,
            "ORCHESTRA",
            orch_w,
            if scoped { EMPTY } else { 2 },
        ),
        col(Column::Database, "DATABASE", db_w, 0),
        col(Column::Health, "HEALTH", 8, 1),
        col(Column::Leader, "LEADER", leader_w, 3),
        num(Column::Ready, "READY", 5, 4),
        num(Column::Lag, "LAG", 4, prio(5, lag_empty)),
        // An operation in flight matters more than the reasons' text.
        col(Column::Op, "OP", op_w, prio(6, op_empty)),
        flex(Column::Reason, "REASON", 12, prio(7, reason_empty)),
        col(Column::Version, "VERSION", 8, prio(10, version_empty)),
        num(Column::Term, "TERM", 5, prio(11, term_empty)),
        col(Column::Profile, "PROFILE", 8, 12),
    ];
    let sorted = sort_column(sort);
    if let Some(c) = cols.iter_mut().find(|c| c.id == sorted) {
        c.prio = c.prio.min(1);
    }
    // A column with nothing to say is not shown at all (unless it is the sort column).
    cols.into_iter().filter(|c| c.prio < EMPTY).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_namespace_gives_way_before_the_name() {
        assert_eq!(db_cell("team-a", "orders", 19), "team-a/orders");
        assert_eq!(
            db_cell("team-compliance", "audit-trail", 19),
            "team-c…/audit-trail"
        );
        assert_eq!(db_cell("ns", "a-very-long-database-name", 19).width(), 19);
    }
}
