//! The confirmation of an operation, once its preflight answered: the blast radius, the checks
//! (✓, ✗, or ! for a forced rule; a failing one wraps to show the member at fault), the plan in
//! order, and the way on (y / n, the database id to type with its own cursor, or only Esc when a
//! check fails, with F when the config allows forcing), and where it runs (Tab: here or in the
//! orchestra, where a runner image is configured).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use super::frame::frame;
use crate::config::{RunPlace, Theme};
use crate::tui::model::Model;
use crate::tui::msg::OpStart;
use crate::tui::ops::Preflight;
use crate::tui::widgets::put;

pub(super) fn render_preflight(
    model: &Model,
    theme: &Theme,
    pf: &Preflight,
    area: Rect,
    buf: &mut Buffer,
) {
    let typed = pf.typed_confirmation();
    let can = pf.can_confirm();
    let id = pf.key.id();
    // The bottom lines: the verdict and how to go on.
    let mut tail: Vec<Line> = Vec::new();
    if let Some(prev) = &pf.taking_over {
        // Whose it was and where it stopped, on a line of its own.
        tail.push(Line::from(Span::styled(
            "⚠ takes over a stale lock (its holder stopped renewing it):",
            theme.warning,
        )));
        tail.push(Line::from(Span::styled(format!("  {prev}"), theme.warning)));
    }
    if !can {
        let why = pf.blocked.clone().unwrap_or_else(|| {
            "a check fails (✗): fix the database first; nothing was sent".to_string()
        });
        tail.push(Line::from(Span::styled(format!("✗ {why}"), theme.error)));
        if !pf.forceable.is_empty() {
            tail.push(Line::from(vec![
                Span::styled("F", theme.key_hint),
                Span::styled(
                    format!(
                        " force past {}: the config allows it; logged; the id typed",
                        pf.forceable.join(", ")
                    ),
                    theme.warning,
                ),
            ]));
        }
    }
    if can && pf.runner_image.is_some() && matches!(pf.start, OpStart::New(..)) {
        // Where it runs, and the key that switches it.
        let (here, other) = match pf.place {
            RunPlace::Local => ("runs here, in this baton", "in the orchestra"),
            RunPlace::InCluster => (
                "runs in the orchestra: a Job of baton that outlives this session",
                "here",
            ),
        };
        tail.push(Line::from(vec![
            Span::styled(here, theme.title),
            Span::styled(format!("  Tab {other}"), theme.key_hint),
        ]));
    }
    if can && typed {
        tail.push(Line::from(vec![
            Span::styled("type the database id to confirm: ", theme.text),
            Span::styled(id.clone(), theme.title),
        ]));
        tail.push(Line::from(Span::raw(""))); // the input, drawn below
    } else if can {
        let what = match pf.prepared.as_ref().and_then(|p| p.record.param("member")) {
            Some(m) => format!("run {} on member {m}?", pf.title),
            None => format!("run {} on {id}?", pf.title),
        };
        tail.push(Line::from(vec![
            Span::styled(what, theme.text),
            Span::styled("  y run · n cancel", theme.key_hint),
        ]));
    }
    let hints = if !can && !pf.forceable.is_empty() {
        " F force · Esc close "
    } else if !can {
        " Esc close "
    } else if typed {
        " ↵ run (when the id matches) · Esc cancel "
    } else {
        " y run · n / Esc cancel "
    };
    // A failing check wraps onto up to three lines: its reason names the member at fault, and
    // at 80 columns that is often past the edge.
    let box_w: u16 = if area.width >= 140 { 130 } else { 100 };
    let text_w = usize::from(box_w.min(area.width).saturating_sub(2 + 2 + 3)).max(10);
    let check_lines: Vec<Vec<String>> = pf
        .checks
        .iter()
        .map(|c| {
            let text = match &c.member {
                Some(m) => format!("{} ({m}): {}", c.rule, c.detail),
                None => format!("{}: {}", c.rule, c.detail),
            };
            crate::tui::widgets::text::wrap(&text, text_w, if c.ok { 1 } else { 3 })
        })
        .collect();
    let head = 2
        + check_lines.iter().map(Vec::len).sum::<usize>()
        + usize::from(!pf.plan.is_empty())
        + pf.plan.len();
    let want_h = (head + 1 + tail.len()) as u16 + 2;
    let radius = pf.radius().map_or("", |r| r.word());
    let title = format!(
        " {}{} · {} ",
        if pf.resumed { "resume " } else { "" },
        pf.title,
        id
    );
    let inner = frame(
        model, theme, &pf.key, &title, hints, box_w, want_h, area, buf,
    );
    if inner.height == 0 {
        return;
    }
    let x0 = inner.x + 1;
    let w = inner.width.saturating_sub(2);
    let tail_top = inner.bottom().saturating_sub(tail.len() as u16);
    let mut y = inner.y;
    let radius_line = if radius.is_empty() {
        "preflight (reads only; nothing was sent)".to_string()
    } else {
        format!(
            "blast radius: {radius} · on {} · nothing sent yet",
            model.display_name(&pf.key.orchestra)
        )
    };
    put(buf, x0, y, w, &radius_line, theme.muted);
    y += 1;
    if y < tail_top {
        put(buf, x0, y, w, "Checks", theme.header);
        y += 1;
    }
    for (c, lines) in pf.checks.iter().zip(&check_lines) {
        if y >= tail_top {
            break;
        }
        // A forced rule passes, but never looks like one that holds.
        let forced = c.ok && c.detail.starts_with("FORCED");
        let (glyph, style) = match (c.ok, forced) {
            (true, false) => ("✓", theme.healthy),
            (true, true) => ("!", theme.warning),
            (false, _) => ("✗", theme.error),
        };
        let x = put(buf, x0 + 1, y, 2, glyph, style);
        for line in lines {
            if y >= tail_top {
                break;
            }
            put(
                buf,
                x + 1,
                y,
                w.saturating_sub(x + 1 - x0),
                line,
                theme.text,
            );
            y += 1;
        }
    }
    if !pf.plan.is_empty() && y < tail_top {
        put(buf, x0, y, w, "Plan (in order)", theme.header);
        y += 1;
        let room = usize::from(tail_top.saturating_sub(y));
        let n = pf.plan.len();
        for (i, step) in pf.plan.iter().enumerate() {
            if y >= tail_top {
                break;
            }
            let text = if n > room && i + 1 == room {
                format!("… and {} more", n - i)
            } else {
                format!("{}. {step}", i + 1)
            };
            put(buf, x0 + 1, y, w.saturating_sub(1), &text, theme.text);
            y += 1;
        }
    }
    for (i, l) in tail.iter().enumerate() {
        buf.set_line(x0, tail_top + i as u16, l, w);
    }
    if can && typed {
        // The typed id, with its own cursor; it says when it matches.
        let iy = inner.bottom().saturating_sub(1);
        let matches = pf.id_matches();
        let prompt = "> ";
        let x = put(buf, x0, iy, 2, prompt, theme.key_hint);
        let box_w = (id.width() as u16 + 2).min(w.saturating_sub(2));
        let style = if matches {
            theme.healthy
        } else {
            theme.selected
        };
        super::frame::input_line(buf, x, iy, box_w, &pf.typed, style, true);
        let note = if matches {
            "  ✓ matches: ↵ runs it"
        } else {
            "  ↵ does nothing until it matches exactly"
        };
        let nx = x + box_w;
        put(
            buf,
            nx,
            iy,
            (x0 + w).saturating_sub(nx),
            note,
            if matches { theme.healthy } else { theme.muted },
        );
    }
}
