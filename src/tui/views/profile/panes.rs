//! The profile's lower panes: the leader changes seen, the Kubernetes events (focusable with the
//! pane key, scrolled with j/k, each event on its own lines so none is cut to look like another),
//! and the member detail (Enter on a member: every field the table has no room for), plus the
//! one-word status of a member the table and the detail share.

use std::borrow::Cow;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use crate::config::Theme;
use crate::config::keymap::Action;
use crate::fleet::store::clock;
use crate::fleet::{Database, Member, Probe, Role};
use crate::tui::model::{Model, Pane, age};
use crate::tui::widgets::styles::{lag_style, role_style};
use crate::tui::widgets::{panel, put, wrap};

/// What a member's state comes down to, in words, and its style.
pub fn member_status(theme: &Theme, m: &Member) -> (Cow<'static, str>, Style) {
    if m.pod.terminating {
        ("terminating".into(), theme.warning)
    } else if &*m.pod.phase != "Running" && !m.pod.phase.is_empty() && !m.is_static() {
        (format!("pod {}", m.pod.phase).into(), theme.warning)
    } else {
        match &m.probe {
            Probe::Pending => ("not probed yet".into(), theme.muted),
            Probe::Error(e) => (format!("probe error: {e}").into(), theme.error),
            Probe::Ok(r) if !r.errors.is_empty() => (r.errors.join("; ").into(), theme.error),
            Probe::Ok(r) if !r.healthy => ("reports unhealthy".into(), theme.degraded),
            Probe::Ok(_) => ("ok".into(), theme.healthy),
        }
    }
}

pub fn leader_timeline(theme: &Theme, d: &Database, area: Rect, buf: &mut Buffer) {
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

/// The Kubernetes events, newest first from `model.events_offset`: a line with the time, reason
/// and object, then the message on up to three lines of its own.
pub fn events_panel(model: &Model, theme: &Theme, d: &Database, area: Rect, buf: &mut Buffer) {
    let focused = model.pane == Pane::Events;
    let n = d.events.len();
    let offset = model.events_offset.min(n.saturating_sub(1));
    let title = if n == 0 || (offset == 0 && !focused) {
        format!(" Kubernetes events ({n}) ")
    } else {
        format!(" Kubernetes events · {} of {n} ", offset + 1)
    };
    let pane = model.keymap.label(Action::Pane);
    let hints = if focused {
        format!(" j/k scroll · {pane} members ")
    } else {
        format!(" {pane} scroll ")
    };
    let hints = if n > 1 { hints } else { String::new() };
    let inner = panel(theme, &title, &hints, focused, area, buf);
    let x0 = inner.x + 1;
    let w = inner.width.saturating_sub(1);
    if inner.height == 0 {
        return;
    }
    if d.events.is_empty() {
        put(buf, x0, inner.y, w, "no recent events", theme.muted);
        return;
    }
    let mut y = inner.y;
    let bottom = inner.bottom();
    for e in d.events.iter().rev().skip(offset) {
        if y >= bottom {
            break;
        }
        let kind_style = if e.kind == "Normal" {
            theme.muted
        } else {
            theme.warning
        };
        let line = Line::from(vec![
            Span::styled(clock(e.at_ms), theme.muted),
            Span::styled(format!(" {}", e.reason), kind_style),
            Span::styled(format!(" {}", e.object), theme.muted),
        ]);
        buf.set_line(x0, y, &line, w);
        y += 1;
        let indent = 2;
        for text in wrap(e.message.trim(), usize::from(w.saturating_sub(indent)), 3) {
            if y >= bottom {
                break;
            }
            put(
                buf,
                x0 + indent,
                y,
                w.saturating_sub(indent),
                &text,
                theme.text,
            );
            y += 1;
        }
    }
}

/// Every field of the selected member, two columns of `label value` where there is room, its
/// status and probe errors in full below.
pub fn member_detail(model: &Model, theme: &Theme, d: &Database, area: Rect, buf: &mut Buffer) {
    let Some(m) = d.members.get(model.member_sel) else {
        return;
    };
    let state = d.state.members.iter().find(|s| s.name == m.pod.name);
    let role = state.map_or(Role::Unknown, |s| s.role);
    let back = model.keymap.label(Action::Back);
    let title = format!(
        " Member {} · {}/{} ",
        m.pod.name,
        model.member_sel + 1,
        d.members.len()
    );
    let hints = format!(" j/k member · {back} close ");
    let inner = panel(theme, &title, &hints, true, area, buf);
    if inner.height == 0 {
        return;
    }
    let x0 = inner.x + 1;
    let w = inner.width.saturating_sub(2);
    let report = match &m.probe {
        Probe::Ok(r) => Some(r),
        _ => None,
    };
    let dash = || Cow::Borrowed("-");
    let lag = state.and_then(|s| s.lag);
    let stat = m.is_static();
    let mut fields: Vec<(&str, Cow<str>, Style)> = vec![
        (
            "role",
            format!("{} {}", role.glyph(), role.word()).into(),
            role_style(theme, role),
        ),
        (
            if stat { "answers" } else { "ready" },
            if m.ready() { "yes" } else { "NO" }.into(),
            if m.ready() { theme.text } else { theme.warning },
        ),
        (
            "term",
            report
                .and_then(|r| r.term)
                .map_or_else(dash, |t| t.to_string().into()),
            theme.text,
        ),
        (
            "applied",
            report
                .and_then(|r| r.applied_index)
                .map_or_else(dash, |a| a.to_string().into()),
            theme.text,
        ),
        (
            "lag",
            lag.map_or_else(dash, |l| l.to_string().into()),
            lag_style(model.config.operations.lag_gate, theme, lag),
        ),
        (
            "sees leader",
            report
                .and_then(|r| r.leader_id.clone())
                .map_or_else(dash, Cow::Owned),
            theme.text,
        ),
        (
            "voter",
            report.map_or_else(dash, |r| if r.voter { "yes" } else { "no" }.into()),
            theme.text,
        ),
        (
            "probed",
            m.probed_ms
                .map_or_else(|| "not yet".into(), |p| clock(p).into()),
            theme.muted,
        ),
    ];
    let version = m
        .reported_version()
        .map(str::to_string)
        .or_else(|| (!stat).then(|| m.pod.version().to_string()))
        .filter(|v| !v.is_empty());
    fields.push(("version", version.map_or_else(dash, Cow::Owned), theme.text));
    if stat {
        fields.push(("url", m.pod.ip.clone().into(), theme.text));
    } else {
        fields.extend([
            (
                "restarts",
                m.pod.restarts.to_string().into(),
                if m.pod.restarts > 0 {
                    theme.warning
                } else {
                    theme.text
                },
            ),
            (
                "age",
                age(model.now_ms, m.pod.created_ms).into(),
                theme.text,
            ),
            ("phase", m.pod.phase.to_string().into(), theme.text),
            ("node", m.pod.node.to_string().into(), theme.text),
            ("zone", m.pod.zone.to_string().into(), theme.text),
            ("pod ip", m.pod.ip.clone().into(), theme.text),
            ("image", m.pod.image.to_string().into(), theme.text),
        ]);
    }
    let label_w = 12u16;
    let cols: u16 = if w >= 70 { 2 } else { 1 };
    let col_w = (w + 2) / cols;
    let mut y = inner.y;
    let bottom = inner.bottom();
    // The image is long: on a line of its own, last.
    let (short, long): (Vec<_>, Vec<_>) = fields.into_iter().partition(|(l, v, _)| {
        *l != "image" && v.width() + usize::from(label_w) < usize::from(col_w)
    });
    for pair in short.chunks(usize::from(cols)) {
        if y >= bottom {
            return;
        }
        for (i, (label, value, style)) in pair.iter().enumerate() {
            let x = x0 + i as u16 * col_w;
            let cw = col_w.saturating_sub(2).min(w.saturating_sub(x - x0));
            put(buf, x, y, label_w.min(cw), label, theme.muted);
            put(
                buf,
                x + label_w,
                y,
                cw.saturating_sub(label_w),
                value,
                *style,
            );
        }
        y += 1;
    }
    for (label, value, style) in &long {
        if y >= bottom {
            return;
        }
        put(buf, x0, y, label_w, label, theme.muted);
        put(
            buf,
            x0 + label_w,
            y,
            w.saturating_sub(label_w),
            value,
            *style,
        );
        y += 1;
    }
    // The status in full: what is wrong with it, if anything.
    let (status, style) = member_status(theme, m);
    let lines = wrap(&status, usize::from(w.saturating_sub(label_w)).max(1), 4);
    for (i, text) in lines.iter().enumerate() {
        if y >= bottom {
            return;
        }
        if i == 0 {
            put(buf, x0, y, label_w, "status", theme.muted);
        }
        put(buf, x0 + label_w, y, w.saturating_sub(label_w), text, style);
        y += 1;
    }
}
