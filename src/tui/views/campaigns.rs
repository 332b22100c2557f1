//! `:campaigns`: every campaign the orchestras hold (their ConfigMaps, watched by the engine, so
//! any baton sees them): its operation, phase, current wave, a progress bar, done · running ·
//! pending · skipped · failed, databases done per minute and the time left at that pace. Enter
//! opens one: who paused or halted it and why, what its coordinator said last when this
//! dashboard coordinates it, and each of its databases with its state. `p`, `r` and `x` pause,
//! resume and cancel (the questions are `dialog::campaign`).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use crate::config::Theme;
use crate::config::keymap::Context;
use crate::ops::campaign::run::DbState;
use crate::ops::campaign::view::Campaign;
use crate::tui::model::Model;
use crate::tui::widgets::{Table, col, flex, num, panel, put, scroll, select_row};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Name,
    Operation,
    Phase,
    Wave,
    Progress,
    Counts,
    Pace,
}

/// `[#####.....] 12/40`.
fn bar(c: &Campaign, width: usize) -> String {
    let total = c.states.len().max(1);
    let ended = c.ended();
    let filled = ended * width / total;
    format!(
        "[{}{}] {ended}/{}",
        "#".repeat(filled),
        ".".repeat(width - filled),
        c.states.len()
    )
}

fn phase_style(theme: &Theme, phase: &str) -> ratatui::style::Style {
    match phase {
        "halted" => theme.error,
        "paused" | "cancelled" | "unknown" => theme.warning,
        "finished" => theme.muted,
        _ => theme.healthy,
    }
}

pub fn render(model: &Model, theme: &Theme, open: Option<&str>, area: Rect, buf: &mut Buffer) {
    if let Some(name) = open {
        return render_one(model, theme, name, area, buf);
    }
    let all = &model.campaigns.all;
    let title = format!(" Campaigns ({}) · from the orchestras ", all.len());
    let hints = model.keymap.hints(Context::Campaigns);
    let inner = panel(theme, &title, &hints, true, area, buf);
    if inner.height < 2 {
        return;
    }
    let x0 = inner.x + 1;
    let w = inner.width.saturating_sub(2);
    let cols = [
        col(Column::Name, "CAMPAIGN", 20, 0),
        col(Column::Operation, "OPERATION", 15, 3),
        col(Column::Phase, "PHASE", 9, 1),
        col(Column::Wave, "WAVE", 5, 5),
        col(Column::Progress, "PROGRESS", 24, 2),
        flex(Column::Counts, "DONE·RUN·PEND·SKIP·FAIL", 23, 4),
        num(Column::Pace, "PACE", 16, 6),
    ];
    let tbl = Table::new(&cols, w, x0);
    tbl.header(buf, inner.y, theme.header, None);
    if all.is_empty() {
        let text = match model.campaigns.unread.first() {
            Some(e) => format!("no campaign read: {e}"),
            None => "no campaign in any orchestra (baton campaign start …)".to_string(),
        };
        put(buf, x0, inner.y + 1, w, &text, theme.muted);
        return;
    }
    let n = usize::from(inner.height - 1);
    let sel = model.campaigns.sel;
    let offset = scroll(0, sel, n, all.len());
    for (i, c) in all.values().enumerate().skip(offset).take(n) {
        let y = inner.y + 1 + (i - offset) as u16;
        let selected = i == sel;
        if selected {
            select_row(buf, theme, inner.x, y, inner.width);
        }
        let st = |s| if selected { theme.selected } else { s };
        let (wave, waves) = c.wave();
        let (per_min, eta) = c.pace(model.now_ms);
        tbl.cell(buf, Column::Name, y, c.name(), st(theme.text));
        tbl.cell(
            buf,
            Column::Operation,
            y,
            c.def.spec.operation.as_str(),
            st(theme.text),
        );
        tbl.cell(
            buf,
            Column::Phase,
            y,
            c.phase(),
            st(phase_style(theme, c.phase())),
        );
        tbl.cell(
            buf,
            Column::Wave,
            y,
            &format!("{}/{waves}", wave.map_or("-".into(), |w| w.to_string())),
            st(theme.text),
        );
        tbl.cell(buf, Column::Progress, y, &bar(c, 10), st(theme.text));
        tbl.cell(
            buf,
            Column::Counts,
            y,
            &format!(
                "{} · {} · {} · {} · {}",
                c.count("done"),
                c.count("running"),
                c.count("pending"),
                c.count("skipped"),
                c.count("failed")
            ),
            st(theme.text),
        );
        tbl.cell(
            buf,
            Column::Pace,
            y,
            &format!(
                "{per_min:.1}/min{}",
                eta.map(|m| format!(" ETA {m:.0}m")).unwrap_or_default()
            ),
            st(theme.muted),
        );
    }
}

fn render_one(model: &Model, theme: &Theme, name: &str, area: Rect, buf: &mut Buffer) {
    let Some(c) = model.campaigns.all.get(name) else {
        let inner = panel(theme, " Campaign ", "", true, area, buf);
        put(
            buf,
            inner.x + 1,
            inner.y,
            inner.width.saturating_sub(2),
            &format!("campaign {name} is not in any orchestra any more"),
            theme.warning,
        );
        return;
    };
    let (wave, waves) = c.wave();
    let title = format!(
        " Campaign {} · {} · {} · wave {}/{waves} ",
        c.name(),
        c.def.spec.operation.as_str(),
        c.phase(),
        wave.map_or("-".into(), |w| w.to_string())
    );
    let hints = model.keymap.hints(Context::Campaigns);
    let inner = panel(theme, &title, &hints, true, area, buf);
    if inner.height < 3 {
        return;
    }
    let x0 = inner.x + 1;
    let w = inner.width.saturating_sub(2);
    let (per_min, eta) = c.pace(model.now_ms);
    let mut head = format!(
        "{} · done {} · running {} · pending {} · skipped {} · failed {} · {per_min:.1}/min{}",
        bar(c, 20),
        c.count("done"),
        c.count("running"),
        c.count("pending"),
        c.count("skipped"),
        c.count("failed"),
        eta.map(|m| format!(" · ETA {m:.0} min"))
            .unwrap_or_default()
    );
    let mut style = theme.text;
    if let Some(ctl) = c.control.as_ref().filter(|c| c.phase.stopped()) {
        head = format!(
            "{} by {}{}{}",
            ctl.phase.word(),
            ctl.by,
            ctl.database
                .as_ref()
                .map(|e| format!(" on {}", e.key().id()))
                .unwrap_or_default(),
            if ctl.why.is_empty() {
                String::new()
            } else {
                format!(": {}", ctl.why)
            }
        );
        style = phase_style(theme, ctl.phase.word());
    }
    put(buf, x0, inner.y, w, &head, style);
    // A coordinator of this dashboard: its last line, or how it ended.
    let here = model.campaigns.here.get(name).map(|h| match &h.ended {
        None => (
            format!(
                "coordinated here · {}",
                h.lines.back().map_or("starting…", String::as_str)
            ),
            theme.healthy,
        ),
        Some(e) => (format!("its coordinator here: {e}"), theme.muted),
    });
    let top = inner.y + 1 + u16::from(here.is_some());
    if let Some((line, style)) = &here {
        put(buf, x0, inner.y + 1, w, line, *style);
    }
    if top + 1 >= inner.bottom() {
        return;
    }
    let cols = [
        col(Column::Name, "DATABASE", 40, 0),
        col(Column::Phase, "STATE", 8, 1),
        flex(Column::Counts, "DETAIL", 20, 2),
    ];
    let tbl = Table::new(&cols, w, x0);
    tbl.header(buf, top, theme.header, None);
    let n = usize::from(inner.bottom() - top - 1);
    let sel = model.campaigns.db_sel;
    let offset = scroll(0, sel, n, c.states.len());
    for (i, (k, s)) in c.states.iter().enumerate().skip(offset).take(n) {
        let y = top + 1 + (i - offset) as u16;
        let selected = i == sel;
        if selected {
            select_row(buf, theme, inner.x, y, inner.width);
        }
        let st = |s| if selected { theme.selected } else { s };
        let (detail, style) = match s {
            DbState::Skipped { rule } => (rule.clone(), theme.warning),
            DbState::Failed { why } => (why.clone(), theme.error),
            DbState::Running { holder, .. } => (format!("held by {holder}"), theme.healthy),
            DbState::Done { at_goal: true, .. } => ("already at the goal".into(), theme.muted),
            DbState::Done { .. } => (String::new(), theme.muted),
            DbState::Pending => (String::new(), theme.text),
        };
        tbl.cell(buf, Column::Name, y, &k.id(), st(theme.text));
        tbl.cell(buf, Column::Phase, y, s.word(), st(style));
        tbl.cell(buf, Column::Counts, y, &detail, st(theme.muted));
    }
}
