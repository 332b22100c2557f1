//! The box every operation dialog is drawn in: centred over the view, cleared, bordered in the
//! orchestra's accent and titled with what and where (the orchestra's name on the right), its
//! key hints on the bottom border; a box of plain lines in it; and a line of typed input.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Widget};
use tui_input::Input;
use unicode_width::UnicodeWidthStr;

use crate::config::Theme;
use crate::fleet::DbKey;
use crate::tui::model::Model;
use crate::tui::widgets::put;
use crate::tui::widgets::styles::accent_style;

/// A centred box of at most `w`×`h` inside `area`: cleared, bordered in the orchestra's accent,
/// titled with what and where. Returns its inside.
#[allow(clippy::too_many_arguments)]
pub(super) fn frame(
    model: &Model,
    theme: &Theme,
    key: &DbKey,
    title: &str,
    hints: &str,
    w: u16,
    h: u16,
    area: Rect,
    buf: &mut Buffer,
) -> Rect {
    frame_at(model, theme, &key.orchestra, title, hints, w, h, area, buf)
}

/// [`frame`] for what acts on `orchestra`, or on the fleet (`""`: no accent, `fleet`).
#[allow(clippy::too_many_arguments)]
pub(super) fn frame_at(
    model: &Model,
    theme: &Theme,
    orchestra: &str,
    title: &str,
    hints: &str,
    w: u16,
    h: u16,
    area: Rect,
    buf: &mut Buffer,
) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    let r = Rect::new(
        area.x + (area.width.saturating_sub(w)) / 2,
        area.y + (area.height.saturating_sub(h)) / 2,
        w,
        h,
    );
    Clear.render(r, buf);
    buf.set_style(r, theme.text);
    let border = if model.accent(orchestra).is_some() {
        accent_style(model.accent(orchestra), theme)
    } else {
        theme.border_focus
    };
    let place = if orchestra.is_empty() {
        " fleet ".to_string()
    } else {
        format!(" {} ", model.display_name(orchestra))
    };
    let mut block = Block::default()
        .borders(Borders::ALL)
        .border_style(border)
        .title(Span::styled(title.to_string(), theme.title))
        .title(
            Line::from(Span::styled(
                place,
                accent_style(model.accent(orchestra), theme).add_modifier(Modifier::BOLD),
            ))
            .right_aligned(),
        );
    if !hints.is_empty() && usize::from(w) > hints.width() + 4 {
        block = block
            .title_bottom(Line::from(Span::styled(hints.to_string(), theme.muted)).right_aligned());
    }
    let inner = block.inner(r);
    block.render(r, buf);
    // The accent is the border's colour and the orchestra's name in the title (readable without
    // colour); no glyph replaces the corner.
    inner
}

/// A box of plain lines.
#[allow(clippy::too_many_arguments)]
pub(super) fn simple_box(
    model: &Model,
    theme: &Theme,
    key: &DbKey,
    title: &str,
    hints: &str,
    lines: Vec<Line>,
    area: Rect,
    buf: &mut Buffer,
) {
    let want = lines.iter().map(Line::width).max().unwrap_or(20) as u16 + 4;
    let w = want
        .max(title.width() as u16 + 24)
        .max(hints.width() as u16 + 6);
    let inner = frame(
        model,
        theme,
        key,
        title,
        hints,
        w,
        lines.len() as u16 + 2,
        area,
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

/// One line of typed input in a box of `w`, scrolled to its cursor, and the cursor drawn when
/// `cursor` (the terminal cursor stays hidden in dialogs).
pub(super) fn input_line(
    buf: &mut Buffer,
    x: u16,
    y: u16,
    w: u16,
    input: &Input,
    style: Style,
    cursor: bool,
) {
    buf.set_style(Rect::new(x, y, w, 1), style);
    let room = usize::from(w.saturating_sub(1)).max(1);
    let scroll = input.visual_scroll(room);
    let shown: String = input.value().chars().skip(scroll).collect();
    let end = put(buf, x, y, w.saturating_sub(1), &shown, style);
    if !cursor {
        return;
    }
    let cx = (x + (input.visual_cursor().saturating_sub(scroll)) as u16).min(end);
    buf.set_style(
        Rect::new(cx, y, 1, 1),
        style.add_modifier(Modifier::REVERSED),
    );
}
