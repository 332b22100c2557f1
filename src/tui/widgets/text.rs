//! Text on one row of the buffer: outside data made single-line, cut to the room there is with
//! `…`, left or right aligned.

use std::borrow::Cow;

use ratatui::buffer::Buffer;
use ratatui::style::Style;
use unicode_width::UnicodeWidthStr;

/// Outside text on one line: control characters (newlines in event messages…) become spaces.
pub fn one_line(s: &str) -> Cow<'_, str> {
    if s.chars().any(char::is_control) {
        Cow::Owned(
            s.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(s)
    }
}

/// Writes `text` at (x, y) in at most `w` columns, ending with `…` when cut; returns the column
/// after the last one written.
pub fn put(buf: &mut Buffer, x: u16, y: u16, w: u16, text: &str, style: Style) -> u16 {
    if w == 0 {
        return x;
    }
    let text = one_line(text);
    if text.width() <= usize::from(w) {
        buf.set_stringn(x, y, &text, usize::from(w), style).0
    } else {
        let (nx, _) = buf.set_stringn(x, y, &text, usize::from(w - 1), style);
        buf.set_stringn(nx, y, "…", 1, style).0
    }
}

/// Writes `text` right-aligned in the `w` columns starting at x.
pub fn put_right(buf: &mut Buffer, x: u16, y: u16, w: u16, text: &str, style: Style) {
    let tw = text.width().min(usize::from(w)) as u16;
    put(buf, x + w - tw, y, tw, text, style);
}
