//! A table of columns named by an enum (no column indices): each column has a title, the width
//! it wants, a priority and whether it is numeric (right-aligned) or flexible (takes what is left).
//! When the width runs short the lowest priorities are dropped; the rest keep their order. Also
//! the selected-row marker and the scrolling rule shared by every list.

use std::borrow::Cow;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

use super::text::{put, put_right};
use crate::config::Theme;

/// One column: `id` names it, `prio` 0 is kept longest.
#[derive(Debug, Clone, Copy)]
pub struct Col<C> {
    pub id: C,
    pub title: &'static str,
    pub width: u16,
    pub prio: u8,
    /// Takes a share of the width left over.
    pub flex: bool,
    /// Right-aligned (numbers).
    pub right: bool,
}

/// A left-aligned column of fixed width.
pub const fn col<C>(id: C, title: &'static str, width: u16, prio: u8) -> Col<C> {
    Col {
        id,
        title,
        width,
        prio,
        flex: false,
        right: false,
    }
}

/// A left-aligned column that grows into the spare width.
pub const fn flex<C>(id: C, title: &'static str, width: u16, prio: u8) -> Col<C> {
    Col {
        id,
        title,
        width,
        prio,
        flex: true,
        right: false,
    }
}

/// A right-aligned column (numbers).
pub const fn num<C>(id: C, title: &'static str, width: u16, prio: u8) -> Col<C> {
    Col {
        id,
        title,
        width,
        prio,
        flex: false,
        right: true,
    }
}

/// Fits columns into `avail` cells: the highest priorities that fit, in their own order, the
/// flexible ones sharing what is left. `None` for a dropped column; else (x offset, width).
fn fit<C>(cols: &[Col<C>], avail: u16) -> Vec<Option<(u16, u16)>> {
    const GAP: u16 = 2;
    let mut order: Vec<usize> = (0..cols.len()).collect();
    order.sort_by_key(|i| cols[*i].prio);
    let mut keep = vec![false; cols.len()];
    let mut used: u16 = 0;
    for i in order {
        let need = cols[i].width + if used == 0 { 0 } else { GAP };
        if used + need <= avail {
            keep[i] = true;
            used += need;
        }
    }
    let flexes = (0..cols.len())
        .filter(|i| keep[*i] && cols[*i].flex)
        .count() as u16;
    let spare = avail - used;
    let mut out = vec![None; cols.len()];
    let mut x = 0;
    let mut first_flex = true;
    for (i, c) in cols.iter().enumerate() {
        if !keep[i] {
            continue;
        }
        let mut w = c.width;
        if c.flex && flexes > 0 {
            w += spare / flexes;
            if first_flex {
                w += spare % flexes;
                first_flex = false;
            }
        }
        if x > 0 {
            x += GAP;
        }
        out[i] = Some((x, w));
        x += w;
    }
    out
}

/// Where a table's columns landed.
pub struct Table<'a, C> {
    cols: &'a [Col<C>],
    fitted: Vec<Option<(u16, u16)>>,
    x0: u16,
}

impl<'a, C: Copy + PartialEq> Table<'a, C> {
    /// Lays `cols` out in `w` cells starting at `x0` (low-priority columns dropped first).
    pub fn new(cols: &'a [Col<C>], w: u16, x0: u16) -> Self {
        Self {
            cols,
            fitted: fit(cols, w),
            x0,
        }
    }

    /// The column `id` and where it landed, unless it was dropped.
    fn place(&self, id: C) -> Option<(&Col<C>, (u16, u16))> {
        let i = self.cols.iter().position(|c| c.id == id)?;
        Some((&self.cols[i], self.fitted[i]?))
    }

    /// Whether column `id` fits on screen.
    pub fn shown(&self, id: C) -> bool {
        self.place(id).is_some()
    }

    /// Column titles on row `y`; `marker` appends a sort arrow to one of them.
    pub fn header(&self, buf: &mut Buffer, y: u16, style: Style, marker: Option<(C, &str)>) {
        for c in self.cols {
            let title: Cow<str> = match marker {
                Some((m, s)) if m == c.id => Cow::Owned(format!("{}{s}", c.title)),
                _ => Cow::Borrowed(c.title),
            };
            self.cell(buf, c.id, y, &title, style);
        }
    }

    /// Writes `text` in column `id` of row `y` (nothing when the column was dropped).
    pub fn cell(&self, buf: &mut Buffer, id: C, y: u16, text: &str, style: Style) {
        if let Some((c, (x, w))) = self.place(id) {
            if c.right {
                put_right(buf, self.x0 + x, y, w, text, style);
            } else {
                put(buf, self.x0 + x, y, w, text, style);
            }
        }
    }
}

/// Marks the selected row: selection style across it and a `▶` gutter (visible without colour).
pub fn select_row(buf: &mut Buffer, theme: &Theme, x: u16, y: u16, w: u16) {
    buf.set_style(Rect::new(x, y, w, 1), theme.selected);
    buf.set_stringn(x, y, "▶", 1, theme.selected);
}

/// First row to show so that `sel` is on screen, starting from `offset`.
pub fn scroll(offset: usize, sel: usize, rows: usize, len: usize) -> usize {
    let mut o = offset;
    if sel < o {
        o = sel;
    } else if rows > 0 && sel >= o + rows {
        o = sel + 1 - rows;
    }
    o.min(len.saturating_sub(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum C {
        Name,
        Count,
        Note,
    }

    #[test]
    fn low_priorities_drop_first_and_flex_takes_the_rest() {
        let cols = [
            col(C::Name, "NAME", 10, 0),
            num(C::Count, "N", 5, 2),
            flex(C::Note, "NOTE", 8, 1),
        ];
        let t = Table::new(&cols, 30, 0);
        assert_eq!(t.fitted, vec![Some((0, 10)), Some((12, 5)), Some((19, 11))]);
        let t = Table::new(&cols, 20, 0);
        assert!(!t.shown(C::Count));
        assert_eq!(t.fitted, vec![Some((0, 10)), None, Some((12, 8))]);
    }
}
