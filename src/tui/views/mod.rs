//! Drawing, read-only: [`draw`] / [`render`] lay the screen out (the open view above, then any
//! error in full, the filter or command line and the status bar below, the help overlay or an operation dialog on top)
//! and hand each part to its module: `fleet`, `databases`, `profile` (with `progress`, the
//! operation's pane), `operations` (`:ops`), `dialog`, `input_line`, `status_bar`, `help`. Lists are
//! virtualised (only rows on screen are formatted) and columns are dropped by priority when the
//! terminal is narrow. Meaning never rests on colour alone: roles carry glyphs and words, health
//! carries words.

mod campaigns;
mod databases;
mod dialog;
mod fleet;
mod help;
mod input_line;
mod operations;
mod profile;
pub mod progress;
mod status_bar;

use std::borrow::Cow;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};

use super::model::{Mode, Model, View};
use super::widgets::{panel, put};
use crate::config::Theme;
use crate::config::keymap::Action;
use crate::fleet::{Connection, Database, Health};

/// Draws the whole screen.
pub fn draw(model: &Model, theme: &Theme, frame: &mut Frame) {
    let area = frame.area();
    render(model, theme, area, frame.buffer_mut());
    if let Some(pos) = cursor(model, area) {
        frame.set_cursor_position(pos);
    }
}

/// Paints the screen into `buf` (what `draw` does, without a terminal).
pub fn render(model: &Model, theme: &Theme, area: Rect, buf: &mut Buffer) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    buf.set_style(area, theme.text);
    let input = u16::from(matches!(model.mode, Mode::Filter | Mode::Command));
    let errors = if area.height >= 8 {
        model.error_lines()
    } else {
        Vec::new()
    };
    let main_h = area.height.saturating_sub(1 + input + errors.len() as u16);
    let main = Rect {
        height: main_h,
        ..area
    };
    match &model.view {
        View::Fleet => fleet::render(model, theme, main, buf),
        View::Databases { orchestra } => {
            databases::render(model, theme, orchestra.as_deref(), main, buf)
        }
        View::Profile { key, .. } => match model.fleet.databases.get(key) {
            Some(d) => profile::render(model, theme, d, main, buf),
            None => {
                let inner = panel(theme, " Database ", "", true, main, buf);
                put(
                    buf,
                    inner.x + 1,
                    inner.y,
                    inner.width.saturating_sub(2),
                    &format!(
                        "{} is gone: no pods of it are seen any more. {} goes back.",
                        key.id(),
                        model.keymap.label(Action::Back)
                    ),
                    theme.warning,
                );
            }
        },
        View::Operations => operations::render(model, theme, main, buf),
        View::Campaigns { open } => campaigns::render(model, theme, open.as_deref(), main, buf),
    }
    // The error in full on its own lines, between the view and the status bar (which keeps the
    // fleet's health).
    for (i, line) in errors.iter().enumerate() {
        let y = area.y + main_h + i as u16;
        buf.set_style(Rect::new(area.x, y, area.width, 1), theme.error);
        put(buf, area.x, y, area.width, line, theme.error);
    }
    if input == 1 && area.height >= 2 {
        input_line::render(
            model,
            theme,
            Rect::new(area.x, area.y + main_h + errors.len() as u16, area.width, 1),
            buf,
        );
    }
    status_bar::render(
        model,
        theme,
        Rect::new(area.x, area.bottom() - 1, area.width, 1),
        buf,
    );
    if model.mode == Mode::Help {
        help::render(model, theme, main, buf);
    }
    if model.ops.dialog.is_some() {
        dialog::render(model, theme, main, buf);
    }
}

/// Where the terminal cursor goes: in the filter or command line while typing, else nowhere.
pub fn cursor(model: &Model, area: Rect) -> Option<Position> {
    let input = match model.mode {
        Mode::Filter => &model.filter_input,
        Mode::Command => &model.command_input,
        _ => return None,
    };
    let y = area.bottom().checked_sub(2)?;
    let width = usize::from(area.width.saturating_sub(2)).max(1);
    let scroll = input.visual_scroll(width);
    let x = 1 + input.visual_cursor().saturating_sub(scroll);
    Some(Position::new(
        area.x + x.min(usize::from(area.width.saturating_sub(1))) as u16,
        y,
    ))
}

/// An orchestra's connection; one no source has reported yet is connecting.
fn connection_of<'a>(model: &'a Model, orchestra: &str) -> Cow<'a, Connection> {
    match model.fleet.orchestras.get(orchestra) {
        Some(o) => Cow::Borrowed(&o.connection),
        None => Cow::Owned(Connection::Connecting),
    }
}

/// The reason shown on a database's row: the first one, unless it is healthy.
fn first_reason(d: &Database) -> &str {
    match d.state.health {
        Health::Healthy => "",
        _ => d.state.reasons.first().map_or("", String::as_str),
    }
}

/// A database's health as a word: `probing…` rather than `unknown` while its first probes are
/// still out (at startup, or a new member), so a fresh dashboard does not look broken.
fn health_word(d: &Database) -> &'static str {
    let probing = d
        .state
        .reasons
        .first()
        .is_some_and(|r| r.starts_with("probing") || r == "not probed yet");
    match d.state.health {
        Health::Unknown if probing => "probing…",
        h => h.word(),
    }
}
