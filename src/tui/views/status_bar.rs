//! The status bar, the bottom line: READ-ONLY badge, how many operations of this dashboard run,
//! the fleet's health counts (always: an error is shown in full on its own line above), then a
//! note or who is looking (kubeconfig, role), and the clock on the right.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use unicode_width::UnicodeWidthStr;

use crate::config::Theme;
use crate::config::keymap::Action;
use crate::tui::model::{Model, Note, clock_hm};
use crate::tui::widgets::put;

pub fn render(model: &Model, theme: &Theme, area: Rect, buf: &mut Buffer) {
    buf.set_style(area, theme.status_bar);
    let right = format!(
        " {} help  {} UTC ",
        model.keymap.label(Action::Help),
        clock_hm(model.now_ms)
    );
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
    let running = model.ops.running();
    if running > 0 {
        x = put(
            buf,
            x,
            area.y,
            end.saturating_sub(x),
            &format!(" ⚙ {running} running "),
            theme
                .warning
                .add_modifier(ratatui::style::Modifier::REVERSED),
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
    // The fleet's health always (an error has its own line above), then a note or who I am.
    if matches!(model.note, Some(Note::Error(_))) && model.size.1 < 8 {
        // No room for the error's line: a mark, so it is not missed.
        x = put(buf, x, area.y, end.saturating_sub(x), " ✗ ", theme.error);
    }
    x = put(buf, x, area.y, end.saturating_sub(x), &counts, counts_style);
    let room = end.saturating_sub(x);
    match &model.note {
        Some(Note::Info(i)) => {
            put(buf, x, area.y, room, &format!("│ {i} "), theme.status_bar);
        }
        // An error is on its own line above: who is looking stays here.
        Some(Note::Error(_)) | None => {
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
