//! A bordered panel: a title on the top border, an optional hint line (key hints) right-aligned
//! on the bottom border, the focused panel's border styled apart.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Widget};
use unicode_width::UnicodeWidthStr;

use crate::config::Theme;

/// Draws the panel over `area`; returns its inside. `hints` is dropped when it does not fit.
pub fn panel(
    theme: &Theme,
    title: &str,
    hints: &str,
    focused: bool,
    area: Rect,
    buf: &mut Buffer,
) -> Rect {
    let border = if focused {
        theme.border_focus
    } else {
        theme.border
    };
    let mut block = Block::default()
        .borders(Borders::ALL)
        .border_style(border)
        .title(Span::styled(title.to_string(), theme.title));
    if !hints.is_empty() && area.width as usize > hints.width() + 4 {
        block = block
            .title_bottom(Line::from(Span::styled(hints.to_string(), theme.muted)).right_aligned());
    }
    let inner = block.inner(area);
    block.render(area, buf);
    inner
}

/// Paints a panel's left border (corner to corner) in `style`: an orchestra's accent, seen at a
/// glance (prod in red) without replacing the border's glyphs.
pub fn accent_edge(buf: &mut Buffer, area: Rect, style: ratatui::style::Style) {
    let area = area.intersection(buf.area);
    for y in area.top()..area.bottom() {
        if let Some(cell) = buf.cell_mut((area.x, y)) {
            cell.set_style(style);
        }
    }
}
