//! A database's profile: the header (health, leader, term, lag, reasons, churn and stale
//! warnings, the operation in flight on its Lease), its members (role, readiness, lag, probe
//! status; the member an operation works on marked), then either the progress pane of the
//! operation this dashboard runs on it, or the leader changes seen, its Kubernetes events and,
//! unless read-only, the operations its role may run.

use std::borrow::Cow;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use super::{connection_of, progress};
use crate::config::Theme;
use crate::fleet::store::clock;
use crate::fleet::{Connection, Database, Member, Probe, Role};
use crate::tui::keymap::{Action, Context};
use crate::tui::model::{Model, age};
use crate::tui::ops::lease;
use crate::tui::widgets::styles::{accent_style, health_style, lag_style, role_style};
use crate::tui::widgets::{Table, col, flex, num, panel, put, put_right, scroll, select_row};

pub fn render(model: &Model, theme: &Theme, d: &Database, area: Rect, buf: &mut Buffer) {
    let s = &d.state;
    let now = model.now_ms;
    let ops = model.operations(&d.key.orchestra);
    let show_ops = !model.read_only_for(&d.key.orchestra);
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
    let hints = if show_ops {
        model.keymap.hints(Context::Profile)
    } else {
        model
            .keymap
            .hints_except(Context::Profile, &[Action::Operations])
    };
    let inner = panel(theme, &title, &hints, true, header_area, buf);
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
    let cols = [
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
    ];
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
        if worked_on {
            c(
                Column::Member,
                &format!("{} ⚙", m.pod.name),
                theme.warning,
                buf,
            );
        } else {
            c(Column::Member, &m.pod.name, theme.text, buf);
        }
        let (ready, ready_style) = if m.pod.ready {
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
            lag_style(model, theme, lag),
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
        c(Column::Status, &status, style, buf);
        c(Column::Image, &m.pod.image, theme.muted, buf);
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
