//! `:ops`: every operation in flight in the fleet, from the Leases (so other operators' appear
//! too): where, which operation, its state and step, who holds it, how long it has run, and what
//! it does or waits for. Enter opens the database, where its progress (if this dashboard runs
//! it) or its Lease (anyone's) shows.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use unicode_width::UnicodeWidthStr;

use crate::config::Theme;
use crate::config::keymap::Context;
use crate::tui::model::Model;
use crate::tui::ops::lease;
use crate::tui::widgets::styles::accent_style;
use crate::tui::widgets::{Table, col, flex, num, panel, put, scroll, select_row};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Orchestra,
    Database,
    Operation,
    State,
    Step,
    Holder,
    Age,
    Detail,
}

pub fn render(model: &Model, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let rows = model.op_rows();
    let title = format!(" Operations in flight ({}) · from the Leases ", rows.len());
    let hints = model.keymap.hints(Context::Operations);
    let inner = panel(theme, &title, &hints, true, area, buf);
    if inner.height < 2 {
        return;
    }
    let x0 = inner.x + 1;
    let w = inner.width.saturating_sub(2);
    let shown: Vec<_> = rows
        .iter()
        .filter_map(|k| model.fleet.databases.get(k))
        .map(|d| (d, lease::in_flight(d, model.now_ms)))
        .collect();
    let widest = |f: &dyn Fn(&crate::fleet::Database) -> usize, lo: usize, hi: usize| {
        shown
            .iter()
            .map(|(d, _)| f(d))
            .max()
            .unwrap_or(lo)
            .clamp(lo, hi) as u16
    };
    let orch_w = widest(&|d| model.display_name(&d.key.orchestra).width(), 9, 24);
    let db_w = widest(&|d| d.key.namespace.width() + 1 + d.key.name.width(), 8, 36);
    let holder_w = shown
        .iter()
        .filter_map(|(_, i)| i.as_ref().map(|i| i.holder.width()))
        .max()
        .unwrap_or(6)
        .clamp(6, 32) as u16;
    // At 80 columns: database, operation, holder, age and state.
    let cols = [
        col(Column::Orchestra, "ORCHESTRA", orch_w, 5),
        col(Column::Database, "DATABASE", db_w, 0),
        col(Column::Operation, "OPERATION", 15, 2),
        col(Column::State, "STATE", 7, 4),
        num(Column::Step, "STEP", 4, 6),
        col(Column::Holder, "HOLDER", holder_w, 1),
        num(Column::Age, "AGE", 6, 3),
        flex(Column::Detail, "DETAIL", 16, 7),
    ];
    let tbl = Table::new(&cols, w, x0);
    tbl.header(buf, inner.y, theme.header, None);
    if shown.is_empty() {
        put(
            buf,
            x0,
            inner.y + 1,
            w,
            "no operation in flight: no unfinished baton-op-* Lease in any orchestra",
            theme.muted,
        );
        return;
    }
    let n = usize::from(inner.height - 1);
    let offset = scroll(0, model.ops.list_sel, n, shown.len());
    for (i, (d, inf)) in shown.iter().enumerate().skip(offset).take(n) {
        let y = inner.y + 1 + (i - offset) as u16;
        let selected = i == model.ops.list_sel;
        if selected {
            select_row(buf, theme, inner.x, y, inner.width);
        }
        let st = |s: Style| if selected { theme.selected } else { s };
        let k = &d.key;
        tbl.cell(
            buf,
            Column::Orchestra,
            y,
            model.display_name(&k.orchestra),
            st(accent_style(model.accent(&k.orchestra), theme)),
        );
        tbl.cell(
            buf,
            Column::Database,
            y,
            &format!("{}/{}", k.namespace, k.name),
            st(theme.text),
        );
        let Some(inf) = inf else {
            // Unfinished on the Lease but held by a clock we cannot read: say so.
            tbl.cell(buf, Column::State, y, "?", st(theme.muted));
            continue;
        };
        tbl.cell(
            buf,
            Column::Operation,
            y,
            inf.record.operation.as_str(),
            st(theme.text),
        );
        let state_style = if inf.stale {
            theme.warning
        } else {
            theme.healthy
        };
        tbl.cell(buf, Column::State, y, inf.state_word(), st(state_style));
        tbl.cell(
            buf,
            Column::Step,
            y,
            &inf.record.step.to_string(),
            st(theme.text),
        );
        tbl.cell(buf, Column::Holder, y, &inf.holder, st(theme.muted));
        tbl.cell(buf, Column::Age, y, &lease::ago(inf.age_s), st(theme.muted));
        tbl.cell(buf, Column::Detail, y, &inf.record.detail, st(theme.text));
    }
}
