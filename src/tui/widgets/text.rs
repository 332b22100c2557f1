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

/// `text` in at most `w` columns, cut in the middle (`warehouse-g…1a-2`) when longer: member
/// names share their StatefulSet's prefix and differ at the end.
pub fn clip_middle(text: &str, w: usize) -> Cow<'_, str> {
    if text.width() <= w || w < 5 {
        return Cow::Borrowed(text);
    }
    let chars: Vec<char> = text.chars().collect();
    let tail_w = (w - 1) / 2;
    let head_w = w - 1 - tail_w;
    let mut head = String::new();
    for c in &chars {
        if head.width() + c.to_string().width() > head_w {
            break;
        }
        head.push(*c);
    }
    let mut tail: Vec<char> = Vec::new();
    for c in chars.iter().rev() {
        if tail.iter().collect::<String>().width() + c.to_string().width() > tail_w {
            break;
        }
        tail.push(*c);
    }
    tail.reverse();
    Cow::Owned(format!("{head}…{}", tail.into_iter().collect::<String>()))
}

/// `text` on lines of at most `w` columns, broken at spaces (a word longer than a line is cut
/// across lines), at most `max` lines, the last ending with `…` when text is left over.
pub fn wrap(text: &str, w: usize, max: usize) -> Vec<String> {
    let w = w.max(1);
    let text = one_line(text);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let sep = usize::from(!line.is_empty());
        if line.width() + sep + word.width() <= w {
            if sep == 1 {
                line.push(' ');
            }
            line.push_str(word);
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        for c in word.chars() {
            if line.width() + c.to_string().width() > w {
                lines.push(std::mem::take(&mut line));
            }
            line.push(c);
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    if lines.len() > max {
        lines.truncate(max);
        if let Some(last) = lines.last_mut() {
            while last.width() + 1 > w {
                last.pop();
            }
            last.push('…');
        }
    }
    lines
}

/// Writes `text` right-aligned in the `w` columns starting at x.
pub fn put_right(buf: &mut Buffer, x: u16, y: u16, w: u16, text: &str, style: Style) {
    let tw = text.width().min(usize::from(w)) as u16;
    put(buf, x + w - tw, y, tw, text, style);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_middle_keeps_both_ends() {
        assert_eq!(clip_middle("warehouse-graph-core-2", 11), "wareh…ore-2");
        assert_eq!(clip_middle("short", 11), "short");
    }

    #[test]
    fn wrap_breaks_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("a bb ccc", 4, 3), vec!["a bb", "ccc"]);
        assert_eq!(wrap("abcdefgh", 3, 5), vec!["abc", "def", "gh"]);
        assert_eq!(wrap("a b c d e f", 3, 2), vec!["a b", "c …"]);
        assert_eq!(wrap("", 3, 2), vec![""]);
    }
}
