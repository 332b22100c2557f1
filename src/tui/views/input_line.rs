//! The filter (`/`) or command (`:`) line above the status bar while one is being typed: the
//! text, scrolled to keep the cursor in view, and a reminder of the syntax when there is room.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use unicode_width::UnicodeWidthStr;

use crate::config::Theme;
use crate::tui::model::{Mode, Model};
use crate::tui::widgets::{put, put_right};

pub fn render(model: &Model, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let (prefix, input, hint) = match model.mode {
        Mode::Filter => (
            "/",
            &model.filter_input,
            "  ↵ keep · Esc clear · health:degraded profile:etcd orchestra:aws ns:x version:5",
        ),
        _ => (
            ":",
            &model.command_input,
            "  ctx NAME · db ID · theme NAME · q",
        ),
    };
    buf.set_style(area, theme.text);
    put(buf, area.x, area.y, 1, prefix, theme.key_hint);
    let width = usize::from(area.width.saturating_sub(2)).max(1);
    let scroll = input.visual_scroll(width);
    let value: String = input.value().chars().skip(scroll).collect();
    let x = put(
        buf,
        area.x + 1,
        area.y,
        area.width.saturating_sub(1),
        &value,
        theme.text,
    );
    let room = area.right().saturating_sub(x + 1);
    if usize::from(room) > hint.width() {
        put_right(buf, x, area.y, room, hint, theme.muted);
    }
}
