//! The questions: posting an incident's summary (while it is read, then the text to post),
//! cancelling a run (ours, or a followed one through its Lease), quitting while runs go on; and the offer to resume an interrupted
//! operation.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Widget};

use super::frame::simple_box;
use crate::config::Theme;
use crate::tui::model::Model;
use crate::tui::ops::{Ask, ResumeOffer, lease};

pub(super) fn render_ask(model: &Model, theme: &Theme, ask: &Ask, area: Rect, buf: &mut Buffer) {
    match ask {
        Ask::Incident { key, text, .. } => {
            let mut lines: Vec<Line> = Vec::new();
            let hints = match text {
                None => {
                    lines.push(Line::from(Span::styled(
                        format!(
                            "reading {}'s state for the incident (reads only)…",
                            key.id()
                        ),
                        theme.muted,
                    )));
                    " Esc cancel "
                }
                Some(t) => {
                    lines.push(Line::from(Span::styled(
                        "Post this to the incident webhook?",
                        theme.warning,
                    )));
                    let room = usize::from(area.height.saturating_sub(5)).max(1);
                    for l in t.lines().take(room) {
                        lines.push(Line::from(Span::styled(l.to_string(), theme.text)));
                    }
                    " y post it · n / Esc nothing is sent "
                }
            };
            simple_box(model, theme, key, " incident ", hints, lines, area, buf);
        }
        Ask::Cancel { key, operation, .. } => {
            let lines = vec![
                Line::from(Span::styled(
                    format!("Cancel {} on {}?", operation.as_str(), key.id()),
                    theme.text,
                )),
                Line::from(Span::styled(
                    "The current action finishes and the database settles first;",
                    theme.muted,
                )),
                Line::from(Span::styled(
                    "the Lease records where it stopped, and then it is released.",
                    theme.muted,
                )),
            ];
            simple_box(
                model,
                theme,
                key,
                " cancel ",
                " y cancel it · n / Esc keep it running ",
                lines,
                area,
                buf,
            );
        }
        Ask::CancelFollowed {
            key,
            operation,
            holder,
        } => {
            let read_only = model.read_only_for(&key.orchestra);
            let lines = vec![
                Line::from(Span::styled(
                    format!("Cancel {} on {}?", operation.as_str(), key.id()),
                    theme.text,
                )),
                Line::from(Span::styled(format!("It runs as {holder}."), theme.muted)),
                Line::from(Span::styled(
                    "A cancel request goes on its Lease: the holder finishes the",
                    theme.muted,
                )),
                Line::from(Span::styled(
                    "current action, the database settles, and then it stops.",
                    theme.muted,
                )),
            ];
            let hints = if read_only {
                " read-only: c stop following · n / Esc keep following "
            } else {
                " y cancel it · c only stop following · n / Esc keep following "
            };
            simple_box(model, theme, key, " cancel ", hints, lines, area, buf);
        }
        Ask::Quit { running, campaigns } => {
            let mut lines: Vec<Line> = Vec::new();
            if !running.is_empty() {
                lines.push(Line::from(Span::styled(
                    format!(
                        "{} operation{} of this dashboard still run{}:",
                        running.len(),
                        if running.len() == 1 { "" } else { "s" },
                        if running.len() == 1 { "s" } else { "" }
                    ),
                    theme.warning,
                )));
                for r in running.iter().take(5) {
                    lines.push(Line::from(Span::styled(format!("  · {r}"), theme.text)));
                }
                lines.push(Line::from(Span::styled(
                    "Quitting stops them where they are: their Leases keep the state,",
                    theme.muted,
                )));
                lines.push(Line::from(Span::styled(
                    "and opening the database again offers to resume.",
                    theme.muted,
                )));
            }
            if !campaigns.is_empty() {
                lines.push(Line::from(Span::styled(
                    format!("This dashboard coordinates {}:", campaigns.join(", ")),
                    theme.warning,
                )));
                for l in [
                    "quitting stops coordinating: nothing new starts; its runner Jobs finish in",
                    "the orchestras, what it runs here stops where it is (its Lease keeps it);",
                    "r in :campaigns (or `baton campaign resume`) goes on from the records.",
                ] {
                    lines.push(Line::from(Span::styled(l, theme.muted)));
                }
            }
            lines.push(Line::from(Span::styled("Quit now?", theme.text)));
            let w = lines.iter().map(Line::width).max().unwrap_or(40) as u16 + 4;
            let h = lines.len() as u16 + 2;
            let r = Rect::new(
                area.x + area.width.saturating_sub(w) / 2,
                area.y + area.height.saturating_sub(h) / 2,
                w.min(area.width),
                h.min(area.height),
            );
            Clear.render(r, buf);
            buf.set_style(r, theme.text);
            let inner = crate::tui::widgets::panel(
                theme,
                " quit? ",
                " y quit · n / Esc stay ",
                true,
                r,
                buf,
            );
            for (i, l) in lines.iter().enumerate().take(usize::from(inner.height)) {
                buf.set_line(
                    inner.x + 1,
                    inner.y + i as u16,
                    l,
                    inner.width.saturating_sub(2),
                );
            }
        }
    }
}

pub(super) fn render_resume(
    model: &Model,
    theme: &Theme,
    o: &ResumeOffer,
    area: Rect,
    buf: &mut Buffer,
) {
    let lines = vec![
        Line::from(Span::styled(
            format!("An interrupted operation holds {}:", o.key.id()),
            theme.warning,
        )),
        Line::from(Span::styled(format!("  {}", o.summary), theme.text)),
        Line::from(Span::styled(
            format!(
                "  by {} · stopped at step {} · last renewed {} ago",
                o.holder,
                o.step,
                lease::ago(o.renewed_s)
            ),
            theme.muted,
        )),
        Line::from(Span::styled(
            "Resume it? A preflight runs first; nothing is sent before you confirm.",
            theme.text,
        )),
    ];
    simple_box(
        model,
        theme,
        &o.key,
        &format!(" resume {}? ", o.operation.as_str()),
        " ↵ / r resume · Esc leave it ",
        lines,
        area,
        buf,
    );
}
