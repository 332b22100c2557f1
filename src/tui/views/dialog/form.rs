//! The parameter form of an operation: one labelled input per field (needed ones starred), the
//! focused one with its drawn cursor, each field's help under it, and the check's error.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use unicode_width::UnicodeWidthStr;

use super::frame::{frame, input_line};
use crate::config::Theme;
use crate::fleet::catalog;
use crate::tui::model::Model;
use crate::tui::ops::Form;
use crate::tui::widgets::put;

pub(super) fn render_form(model: &Model, theme: &Theme, form: &Form, area: Rect, buf: &mut Buffer) {
    let spec = catalog::spec(form.op);
    let h = form.fields.len() as u16 * 3 + 6;
    let title = format!(" {} · {} ", form.op.as_str(), form.key.id());
    let inner = frame(
        model,
        theme,
        &form.key,
        &title,
        " ↵ check and preflight · Tab next · Esc back ",
        if area.width >= 140 { 110 } else { 90 },
        h,
        area,
        buf,
    );
    if inner.height == 0 {
        return;
    }
    let x0 = inner.x + 1;
    let w = inner.width.saturating_sub(2);
    let mut y = inner.y;
    put(buf, x0, y, w, spec.description, theme.muted);
    y += 1;
    if let Some(m) = &form.member {
        put(buf, x0, y, w, &format!("member: {m}"), theme.text);
    }
    y += 1;
    let label_w = form
        .fields
        .iter()
        .map(|f| f.key.width() + 1)
        .max()
        .unwrap_or(6) as u16
        + 2;
    for (i, f) in form.fields.iter().enumerate() {
        if y + 1 >= inner.bottom() {
            break;
        }
        let focused = i == form.focus;
        let label = if f.required {
            format!("{}*", f.key)
        } else {
            f.key.to_string()
        };
        put(
            buf,
            x0,
            y,
            label_w,
            &label,
            if focused { theme.title } else { theme.text },
        );
        let box_w = w.saturating_sub(label_w).min(60);
        let field_style = if focused {
            theme.selected
        } else {
            theme.border
        };
        let bx = x0 + label_w;
        input_line(buf, bx, y, box_w, &f.input, field_style, focused);
        put(
            buf,
            bx,
            y + 1,
            w.saturating_sub(label_w),
            f.help,
            theme.muted,
        );
        y += 3;
    }
    if let Some(e) = &form.error {
        put(
            buf,
            x0,
            inner.bottom().saturating_sub(1),
            w,
            &format!("✗ {e}"),
            theme.error,
        );
    } else {
        put(
            buf,
            x0,
            inner.bottom().saturating_sub(1),
            w,
            "* needed · checked before anything runs",
            theme.muted,
        );
    }
}
