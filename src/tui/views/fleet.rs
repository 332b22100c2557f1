//! The fleet view: the "degraded right now" panel (the worst databases of the whole fleet, with
//! their first reason) above the list of orchestras (health counts, members, operations in
//! flight, connection state; the selected one's connection trouble in full under the list).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use unicode_width::UnicodeWidthStr;

use super::connection_of;
use super::first_reason;
use crate::config::Theme;
use crate::config::keymap::{Action, Context};
use crate::fleet::Connection;
use crate::tui::model::Model;
use crate::tui::widgets::styles::{accent_style, connection_style, health_style};
use crate::tui::widgets::{Table, col, flex, num, panel, put, scroll, select_row, wrap};

pub fn render(model: &Model, theme: &Theme, area: Rect, buf: &mut Buffer) {
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

/// Columns of the degraded panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Worst {
    Health,
    Orchestra,
    Database,
    Reason,
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
        } else if c.unknown == 0 {
            format!("all {} databases are healthy", c.total())
        } else {
            // Not "all 0 are healthy": say what is known and what is not yet.
            format!(
                "none seen degraded · {} healthy · {} not probed yet or unknown",
                c.healthy, c.unknown
            )
        };
        let style = if c.unknown == 0 {
            theme.healthy
        } else {
            theme.unknown
        };
        put(buf, x0, inner.y, w, &text, style);
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
        col(Worst::Health, "HEALTH", 8, 0),
        col(Worst::Orchestra, "ORCHESTRA", orch_w, 2),
        col(Worst::Database, "DATABASE", db_w, 1),
        flex(Worst::Reason, "REASON", 16, 0),
    ];
    let tbl = Table::new(&cols, w, x0);
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
                    "… and {} more: press {} for every database, worst first",
                    more + 1,
                    model.keymap.label(Action::AllDatabases)
                ),
                theme.muted,
            );
            break;
        }
        let Some(d) = model.fleet.databases.get(key) else {
            continue;
        };
        let h = d.state.health;
        tbl.cell(buf, Worst::Health, y, h.word(), health_style(theme, h));
        tbl.cell(
            buf,
            Worst::Orchestra,
            y,
            model.display_name(&key.orchestra),
            accent_style(model.accent(&key.orchestra), theme),
        );
        tbl.cell(
            buf,
            Worst::Database,
            y,
            &format!("{}/{}", key.namespace, key.name),
            theme.text,
        );
        tbl.cell(buf, Worst::Reason, y, first_reason(d), theme.text);
    }
}

/// Columns of the orchestra list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Orch {
    Orchestra,
    Context,
    Databases,
    Down,
    Degraded,
    Members,
    Ops,
    Connection,
}

fn orchestra_list(model: &Model, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let title = format!(" Orchestras ({}) ", model.orchestras.len());
    let hints = model.keymap.hints(Context::Fleet);
    let inner = panel(theme, &title, &hints, true, area, buf);
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
    let mut cols = vec![col(Orch::Orchestra, "ORCHESTRA", name_w.max(9), 0)];
    // The context only where a display name hides it (never an empty column).
    if model
        .orchestras
        .iter()
        .any(|o| model.display_name(&o.name) != o.name)
    {
        cols.push(col(Orch::Context, "CONTEXT", ctx_w, 6));
    }
    cols.extend([
        num(Orch::Databases, "DBS", 5, 2),
        num(Orch::Down, "DOWN", 5, 3),
        num(Orch::Degraded, "DEGRADED", 8, 4),
        num(Orch::Members, "MEMBERS", 7, 5),
    ]);
    // Operations in flight: always once there is one, else only where there is room.
    if w >= 120 || model.orchestras.iter().any(|o| o.ops > 0) {
        cols.push(num(Orch::Ops, "OPS", 4, 3));
    }
    cols.push(flex(Orch::Connection, "CONNECTION", 12, 1));
    let tbl = Table::new(&cols, w, x0);
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
        buf.set_stringn(
            inner.x + 1,
            y,
            "▌",
            1,
            accent_style(model.accent(&o.name), theme),
        );
        let name = model.display_name(&o.name);
        tbl.cell(buf, Orch::Orchestra, y, name, st(theme.text));
        if name != o.name {
            tbl.cell(buf, Orch::Context, y, &o.name, st(theme.muted));
        }
        let counts_known = o.counts.total() > 0 || matches!(*conn, Connection::Live);
        let n = |v: usize| {
            if counts_known {
                v.to_string()
            } else {
                "-".into()
            }
        };
        tbl.cell(
            buf,
            Orch::Databases,
            y,
            &n(o.counts.total()),
            st(theme.text),
        );
        let down = if o.counts.down > 0 {
            theme.down
        } else {
            theme.muted
        };
        tbl.cell(buf, Orch::Down, y, &n(o.counts.down), st(down));
        let degr = if o.counts.degraded > 0 {
            theme.degraded
        } else {
            theme.muted
        };
        tbl.cell(buf, Orch::Degraded, y, &n(o.counts.degraded), st(degr));
        tbl.cell(buf, Orch::Members, y, &n(o.members), st(theme.muted));
        let ops_style = if o.ops > 0 { theme.title } else { theme.muted };
        tbl.cell(buf, Orch::Ops, y, &n(o.ops), st(ops_style));
        tbl.cell(
            buf,
            Orch::Connection,
            y,
            &conn.describe(),
            st(connection_style(theme, &conn)),
        );
    }
    // The selected orchestra's connection trouble in full under the list (the column cuts it):
    // which server, and why it cannot be reached.
    let Some(o) = model.orchestras.get(model.orchestra_sel) else {
        return;
    };
    let conn = connection_of(model, &o.name);
    if matches!(*conn, Connection::Live | Connection::Connecting) {
        return;
    }
    let shown = model.orchestras.len().saturating_sub(offset).min(rows);
    let free = rows.saturating_sub(shown);
    if free < 2 {
        return;
    }
    let text = format!("{}: {}", model.display_name(&o.name), conn.describe());
    let lines = wrap(&text, usize::from(w), (free - 1).min(3));
    let top = inner.bottom() - lines.len() as u16;
    for (i, line) in lines.iter().enumerate() {
        put(
            buf,
            x0,
            top + i as u16,
            w,
            line,
            connection_style(theme, &conn),
        );
    }
}
