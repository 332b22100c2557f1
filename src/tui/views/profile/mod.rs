//! A database's profile: the header (health, leader, term, lag, reasons, churn and stale
//! warnings, the operation in flight on its Lease), its members (role, readiness, lag, probe
//! status; the member an operation works on marked), then either the progress pane of the
//! operation this dashboard runs on it, or the leader changes seen, its Kubernetes events and,
//! unless read-only, the operations its role may run.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

mod panes;

use super::{connection_of, progress};
use crate::config::Theme;
use crate::config::keymap::{Action, Context};
use crate::fleet::store::clock;
use crate::fleet::{Connection, Database, Member, Probe, Role};
use crate::tui::model::{Model, Pane, age};
use crate::tui::ops::lease;
use crate::tui::widgets::styles::{accent_style, health_style, lag_style, role_style};
use crate::tui::widgets::{
    Table, accent_edge, clip_middle, col, flex, num, panel, put, put_right, scroll, select_row,
};

pub fn render(model: &Model, theme: &Theme, d: &Database, area: Rect, buf: &mut Buffer) {
    let s = &d.state;
    let now = model.now_ms;
    let ops = model.operations(&d.key.orchestra);
    let is_static = d.is_static();
    // Operations act through Kubernetes: none for a static inventory database.
    let show_ops = !model.read_only_for(&d.key.orchestra) && !is_static;
    let wide = area.width >= 120;
    let churning = d.history.churning(now);
    let reasons_shown = s.reasons.len().min(if area.height >= 40 { 6 } else { 3 });
    let conn = connection_of(model, &d.key.orchestra);
    let live = matches!(*conn, Connection::Live);
    let run = model.ops.run_of(&d.key);
    let in_flight = lease::in_flight(d, now);
    // The Lease's line: another operator's operation, or ours once stale after it ended (the
    // pane shows ours; the Lease may say "running" a moment after the end).
    let lease_line = in_flight.as_ref().filter(|i| {
        let ours = run.is_some_and(|r| r.record_started_ms == i.record.started_ms);
        !ours || (i.stale && run.is_some_and(|r| !r.running()))
    });
    let ops_line = (show_ops && !wide) || lease_line.is_some();
    let header_lines =
        1 + reasons_shown as u16 + u16::from(churning) + u16::from(!live) + u16::from(ops_line);
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
    // No operations menu when none may run; no events pane without Kubernetes.
    let mut hidden = Vec::new();
    if !show_ops {
        hidden.push(Action::Operations);
    }
    if is_static {
        hidden.push(Action::Pane);
    }
    let hints = model.keymap.hints_except(Context::Profile, &hidden);
    let inner = panel(theme, &title, &hints, true, header_area, buf);
    accent_edge(
        buf,
        header_area,
        accent_style(model.accent(&d.key.orchestra), theme),
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
        // The leader's name gives way (cut with …) before the version does.
        let kind_w = (d.profile.width() + 1 + d.version().width()) as u16;
        let fixed_w = 40 + s.health.word().width() as u16;
        let leader_room = usize::from(w.saturating_sub(fixed_w + kind_w)).max(8);
        match &s.leader {
            Some(l) => spans.push(Span::styled(
                format!(
                    "{} {}",
                    Role::Leader.glyph(),
                    clip_middle(l, leader_room.saturating_sub(2))
                ),
                theme.leader,
            )),
            None => spans.push(Span::styled("none", theme.down)),
        }
        spans.push(Span::styled("  term ", theme.muted));
        spans.push(Span::styled(
            s.term.map_or("-".into(), |t| t.to_string()),
            theme.text,
        ));
        // A static member has no readiness of its own: say how many answered their probe.
        let ready_word = if is_static {
            "  answering "
        } else {
            "  ready "
        };
        spans.push(Span::styled(ready_word, theme.muted));
        spans.push(Span::styled(
            format!("{}/{}", d.ready(), d.members.len()),
            theme.text,
        ));
        spans.push(Span::styled("  lag ", theme.muted));
        spans.push(Span::styled(
            s.worst_lag.map_or("-".into(), |l| l.to_string()),
            lag_style(model.config.operations.lag_gate, theme, s.worst_lag),
        ));
        let line = Line::from(spans);
        let used = line.width() as u16;
        buf.set_line(x0, y, &line, w);
        // Profile, version and probe time on the right, as much as fits.
        let kind = format!("{} {}", d.profile, d.version())
            .trim_end()
            .to_string();
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
    if let Some(i) = lease_line
        && y < bottom
    {
        // What to do about it first: the line is cut at 80 columns.
        let what = if i.stale {
            format!("{} resume", model.keymap.label(Action::Operations))
        } else {
            format!("{} follow", model.keymap.label(Action::Follow))
        };
        let text = format!(
            "⚙ {} step {} ({}) · {what} · {} — {}, renewed {} ago",
            i.record.operation.as_str(),
            i.record.step,
            i.state_word(),
            i.record.detail,
            i.holder,
            lease::ago(i.renewed_s),
        );
        let style = if i.stale { theme.warning } else { theme.text };
        put(buf, x0, y, w, &text, style);
    } else if show_ops && !wide && y < bottom {
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
            // The names as far as they fit, and always the key that opens the menu.
            let note = format!(" · {} menu", model.keymap.label(Action::Operations));
            let names: Vec<&str> = ops.iter().map(|o| o.as_str()).collect();
            let room = w.saturating_sub(x - x0).saturating_sub(note.width() as u16);
            let end = put(buf, x, y, room, &names.join(" "), theme.text);
            put(buf, end, y, note.width() as u16, &note, theme.key_hint);
        }
    }

    // The member detail (Enter on a member) takes everything under the header.
    if model.member_detail && run.is_none() {
        let detail = Rect {
            y: area.y + header_h,
            height: area.height - header_h,
            ..area
        };
        panes::member_detail(model, theme, d, detail, buf);
        return;
    }

    // Members.
    let member_area = Rect {
        y: area.y + header_h,
        height: member_h,
        ..area
    };
    members_table(model, theme, d, member_area, buf);

    // The operation's progress, or leader changes, events, operations.
    if bottom_h < 3 {
        return;
    }
    let bottom_area = Rect {
        y: area.y + header_h + member_h,
        height: bottom_h,
        ..area
    };
    if let Some(r) = run {
        progress::render(model, theme, r, bottom_area, buf);
        return;
    }
    let ops_w = if show_ops && wide { 34 } else { 0 };
    let rest_w = bottom_area.width - ops_w;
    let events_focused = model.pane == Pane::Events;
    let timeline_w = if is_static {
        // No Kubernetes, no events: the leader changes take the width.
        rest_w
    } else if events_focused && !wide {
        // Scrolling the events at 80 columns: they take the width.
        0
    } else if d.history.changes.is_empty() {
        28.max(rest_w.min(30))
    } else if wide {
        (rest_w * 2 / 5).max(30)
    } else {
        (rest_w / 2).max(30)
    }
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
    if timeline.width > 0 {
        panes::leader_timeline(theme, d, timeline, buf);
    }
    if events.width >= 10 && !is_static {
        panes::events_panel(model, theme, d, events, buf);
    }
    if ops_w > 0 {
        let ops_area = Rect {
            x: bottom_area.x + rest_w,
            width: ops_w,
            ..bottom_area
        };
        operations_panel(model, theme, &d.key.orchestra, &ops, ops_area, buf);
    }
}

/// Columns of the member table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Role,
    Member,
    Ready,
    Restarts,
    Applied,
    Lag,
    Node,
    Zone,
    Age,
    Status,
    Image,
}

fn members_table(model: &Model, theme: &Theme, d: &Database, area: Rect, buf: &mut Buffer) {
    let title = format!(" Members ({}) ", d.members.len());
    let inner = panel(theme, &title, "", false, area, buf);
    if inner.height < 2 {
        return;
    }
    let x0 = inner.x + 1;
    let w = inner.width.saturating_sub(2);
    // The member the running operation works on.
    let working = model
        .ops
        .run_of(&d.key)
        .filter(|r| r.running())
        .and_then(|r| r.member.as_deref());
    let name_w = d
        .members
        .iter()
        .map(|m| m.pod.name.width())
        .max()
        .unwrap_or(6)
        .clamp(6, 32) as u16
        + if working.is_some() { 2 } else { 0 };
    let widest = |f: &dyn Fn(&Member) -> usize, lo: usize, hi: usize| {
        d.members.iter().map(f).max().unwrap_or(lo).clamp(lo, hi) as u16
    };
    let node_w = widest(&|m| m.pod.node.width(), 4, 40);
    let zone_w = widest(&|m| m.pod.zone.width(), 4, 20);
    let image_w = widest(&|m| m.pod.image.width(), 5, 48);
    // A static member has no pod: no restarts, node, zone, age or image to show.
    let kube = !d.is_static();
    let cols: Vec<_> = [
        col(Column::Role, "ROLE", 14, 0),
        col(Column::Member, "MEMBER", name_w, 0),
        col(Column::Ready, "READY", 5, 1),
        num(Column::Restarts, "RESTARTS", 8, 5),
        num(Column::Applied, "APPLIED", 10, 6),
        num(Column::Lag, "LAG", 6, 2),
        col(Column::Node, "NODE", node_w, 8),
        col(Column::Zone, "ZONE", zone_w, 7),
        num(Column::Age, "AGE", 6, 4),
        flex(Column::Status, "STATUS", 16, 3),
        col(Column::Image, "IMAGE", image_w, 9),
    ]
    .into_iter()
    .filter(|c| {
        kube || !matches!(
            c.id,
            Column::Restarts | Column::Node | Column::Zone | Column::Age | Column::Image
        )
    })
    .collect();
    let tbl = Table::new(&cols, w, x0);
    tbl.header(buf, inner.y, theme.header, None);
    let rows = usize::from(inner.height - 1);
    let offset = scroll(0, model.member_sel, rows, d.members.len());
    for (i, m) in d.members.iter().enumerate().skip(offset).take(rows) {
        let y = inner.y + 1 + (i - offset) as u16;
        let selected = i == model.member_sel;
        if selected {
            select_row(buf, theme, inner.x, y, inner.width);
        }
        let worked_on = working == Some(m.pod.name.as_str());
        if worked_on {
            let gutter = if selected { "▶" } else { "»" };
            buf.set_stringn(inner.x, y, gutter, 1, theme.warning);
        }
        let st = |s: Style| if selected { theme.selected } else { s };
        let state = d.state.members.iter().find(|s| s.name == m.pod.name);
        let role = state.map_or(Role::Unknown, |s| s.role);
        let c = |id: Column, text: &str, style: Style, buf: &mut Buffer| {
            tbl.cell(buf, id, y, text, st(style));
        };
        c(
            Column::Role,
            &format!("{} {}", role.glyph(), role.word()),
            role_style(theme, role),
            buf,
        );
        // Cut in the middle: members of one StatefulSet differ at the end of their names.
        if worked_on {
            let name = clip_middle(&m.pod.name, usize::from(name_w.saturating_sub(2)));
            c(Column::Member, &format!("{name} ⚙"), theme.warning, buf);
        } else {
            let name = clip_middle(&m.pod.name, usize::from(name_w));
            c(Column::Member, &name, theme.text, buf);
        }
        let (ready, ready_style) = if m.ready() {
            ("yes", theme.text)
        } else {
            ("NO", theme.warning)
        };
        c(Column::Ready, ready, ready_style, buf);
        let restarts_style = if m.pod.restarts > 0 {
            theme.warning
        } else {
            theme.muted
        };
        c(
            Column::Restarts,
            &m.pod.restarts.to_string(),
            restarts_style,
            buf,
        );
        let applied = match &m.probe {
            Probe::Ok(r) => r.applied_index.map_or("-".into(), |a| a.to_string()),
            _ => "-".into(),
        };
        c(Column::Applied, &applied, theme.muted, buf);
        let lag = state.and_then(|s| s.lag);
        c(
            Column::Lag,
            &lag.map_or("-".into(), |l| l.to_string()),
            lag_style(model.config.operations.lag_gate, theme, lag),
            buf,
        );
        c(Column::Node, &m.pod.node, theme.muted, buf);
        c(Column::Zone, &m.pod.zone, theme.muted, buf);
        c(
            Column::Age,
            &age(model.now_ms, m.pod.created_ms),
            theme.muted,
            buf,
        );
        let (status, style) = panes::member_status(theme, m);
        c(Column::Status, &status, style, buf);
        c(Column::Image, &m.pod.image, theme.muted, buf);
    }
}

fn operations_panel(
    model: &Model,
    theme: &Theme,
    orchestra: &str,
    ops: &[crate::config::OperationName],
    area: Rect,
    buf: &mut Buffer,
) {
    let title = format!(" Operations · role {} ", model.role_shown(orchestra));
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
            &format!("{} opens the menu", model.keymap.label(Action::Operations)),
            theme.key_hint,
        );
    }
}
