//! The operations menu of a database: one row per operation (its blast radius, how it is
//! confirmed, what it does, or why it is greyed), the selection kept on screen, and a footer
//! saying in full words what the selected row acts on.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

use super::frame::frame;
use crate::config::Theme;
use crate::fleet::catalog;
use crate::tui::model::Model;
use crate::tui::ops::{Choice, Menu};
use crate::tui::widgets::{Table, col, flex, put, select_row};

/// Columns of the menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MenuCol {
    Name,
    Radius,
    Confirm,
    What,
}

pub(super) fn render_menu(model: &Model, theme: &Theme, menu: &Menu, area: Rect, buf: &mut Buffer) {
    let extra = u16::from(menu.in_flight.is_some());
    let h = menu.items.len() as u16 + 5 + extra;
    let w = if area.width >= 140 { 120 } else { 96 };
    let title = format!(" Operations · {} ", menu.key.id());
    let inner = frame(
        model,
        theme,
        &menu.key,
        &title,
        " ↵ choose · Esc close ",
        w,
        h,
        area,
        buf,
    );
    if inner.height < 2 {
        return;
    }
    let x0 = inner.x + 1;
    let w = inner.width.saturating_sub(2);
    let mut y = inner.y;
    if let Some(f) = &menu.in_flight {
        put(buf, x0, y, w, f, theme.warning);
        y += 1;
    }
    if menu.items.is_empty() {
        let profile = model
            .fleet
            .databases
            .get(&menu.key)
            .map_or("?", |d| d.profile.as_str());
        put(
            buf,
            x0,
            y,
            w,
            &format!("no operations for the profile '{profile}'"),
            theme.muted,
        );
        return;
    }
    let cols = [
        col(MenuCol::Name, "OPERATION", 16, 0),
        col(MenuCol::Radius, "RADIUS", 8, 2),
        col(MenuCol::Confirm, "CONFIRM", 8, 3),
        flex(MenuCol::What, "WHAT IT DOES", 20, 1),
    ];
    let tbl = Table::new(&cols, w, x0);
    tbl.header(buf, y, theme.header, None);
    y += 1;
    // Rows that fit, keeping the selection on screen (two lines stay for the footer).
    let rows = usize::from(inner.bottom().saturating_sub(y).saturating_sub(2)).max(1);
    let offset = crate::tui::widgets::scroll(0, menu.sel, rows, menu.items.len());
    for (i, item) in menu.items.iter().enumerate().skip(offset).take(rows) {
        let selected = i == menu.sel;
        if selected {
            select_row(buf, theme, inner.x, y, inner.width);
        }
        let greyed = item.why_not.is_some();
        let st = |s: Style| {
            if selected {
                theme.selected
            } else if greyed {
                theme.muted
            } else {
                s
            }
        };
        let (name, radius, confirm) = match (item.choice, item.spec()) {
            (Choice::Op(op), Some(spec)) => (
                op.as_str().to_string(),
                spec.radius.word(),
                if spec.typed_confirmation {
                    "typed id"
                } else {
                    "y/n"
                },
            ),
            _ => ("resume".to_string(), "", "preflight"),
        };
        tbl.cell(buf, MenuCol::Name, y, &name, st(theme.text));
        tbl.cell(buf, MenuCol::Radius, y, radius, st(theme.muted));
        tbl.cell(buf, MenuCol::Confirm, y, confirm, st(theme.muted));
        let what = match &item.why_not {
            Some(why) => format!("✗ {why} — {}", item.about),
            None => item.about.clone(),
        };
        tbl.cell(buf, MenuCol::What, y, &what, st(theme.text));
        y += 1;
    }
    // The footer: what the selected row acts on, in full words.
    let foot_y = inner.bottom().saturating_sub(1);
    if let Some(item) = menu.items.get(menu.sel)
        && foot_y > y.saturating_sub(1)
    {
        let text = match (&item.why_not, item.choice) {
            (Some(why), _) => format!("✗ greyed: {why}"),
            (None, Choice::Resume) => "continue it from its Lease (preflight first)".into(),
            (None, Choice::Op(op)) => {
                let spec = catalog::spec(op);
                let on = match (&menu.member, crate::tui::ops::member_level(op)) {
                    (Some(m), true) => format!("acts on {m} (the selected member)"),
                    (None, true) => "asks which member".into(),
                    _ => format!("acts on the whole database ({} radius)", spec.radius.word()),
                };
                let confirm = if spec.typed_confirmation {
                    "confirm by typing the database id"
                } else {
                    "confirm with y"
                };
                format!("{on} · preflight first, then {confirm}")
            }
        };
        let style = if item.why_not.is_some() {
            theme.warning
        } else {
            theme.muted
        };
        put(buf, x0, foot_y, w, &text, style);
    }
}
