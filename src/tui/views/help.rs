//! The `?` overlay: the key sections come from the keymap (so they show the keys in force,
//! overrides included), beside the filter syntax and the `:` commands. Two columns when the
//! terminal is wide enough, else one.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Clear, Widget};
use unicode_width::UnicodeWidthStr;

use crate::config::Theme;
use crate::config::keymap::{self, Action};
use crate::tui::model::Model;
use crate::tui::widgets::{panel, put};

/// A titled group of (keys, what they do) lines.
type Section = (String, Vec<(String, String)>);

/// Filter syntax and commands: not key bindings, so not in the keymap. `filter` is the label of
/// the key that opens the filter line.
fn syntax_sections(filter: &str) -> Vec<Section> {
    let lines = |rows: &[(&str, &str)]| -> Vec<(String, String)> {
        rows.iter()
            .map(|(k, what)| (k.to_string(), what.to_string()))
            .collect()
    };
    // Every term and value in full (nothing cut at 80 columns: a 3 a.m. reader types them).
    let mut terms = lines(&[
        ("word", "part of orch/ns/name"),
        ("health:H", "healthy degraded down"),
        ("", "unknown unhealthy"),
        ("profile:P", "e.g. neo4j, etcd"),
        ("orchestra:O", "name or display name"),
        ("ns:N", "namespace part"),
        ("version:V", "e.g. version:5.26"),
    ]);
    // Enter and Esc in the filter line are fixed.
    terms.push((
        format!("{filter} ↵  {filter} Esc"),
        "keep / clear".to_string(),
    ));
    vec![
        ("Filter terms, ANDed".to_string(), terms),
        (
            "Commands".to_string(),
            lines(&[
                (":ctx NAME", "an orchestra"),
                (":db ID", "o/ns/name or name"),
                (":ops", "ops in flight"),
                (":theme NAME", "switch theme"),
                (":q  :q!", "quit / force"),
            ]),
        ),
        (
            "In operation dialogs".to_string(),
            lines(&[
                ("↵", "choose / confirm"),
                ("Esc", "cancel"),
                ("y  n", "yes / no"),
                ("Tab  ⇧Tab", "next / prev field"),
            ]),
        ),
    ]
}

/// The key sections, as the keymap in force says.
fn key_sections(model: &Model) -> Vec<Section> {
    keymap::HELP
        .iter()
        .map(|(title, rows)| {
            let lines = rows
                .iter()
                .map(|row| {
                    let about = match row.about {
                        Some(a) => a.to_string(),
                        None => row
                            .actions
                            .iter()
                            .map(|a| a.spec().about)
                            .collect::<Vec<_>>()
                            .join(" / "),
                    };
                    (model.keymap.help_keys(row), about)
                })
                .collect();
            (title.to_string(), lines)
        })
        .collect()
}

pub fn render(model: &Model, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let filter = model.keymap.label(Action::Filter);
    let mut sections = key_sections(model);
    let split = sections.len();
    sections.extend(syntax_sections(&filter));
    let two = area.width >= 74;
    let height =
        |sections: &[Section]| -> usize { sections.iter().map(|(_, keys)| keys.len() + 1).sum() };
    let (left, right) = if two {
        sections.split_at(split)
    } else {
        (&sections[..], &sections[..0])
    };
    let lines = height(left).max(height(right));
    let w = area.width.saturating_sub(2).min(if two { 84 } else { 44 });
    let h = (lines as u16 + 2).min(area.height);
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    Clear.render(r, buf);
    buf.set_style(r, theme.text);
    let inner = panel(theme, " Keys ", " any key closes ", true, r, buf);
    let col_w = if two { inner.width / 2 } else { inner.width };
    for (i, part) in [left, right].into_iter().enumerate() {
        let x0 = inner.x + 1 + i as u16 * col_w;
        let w = col_w.saturating_sub(2);
        // The key column as wide as this column's widest keys, the rest for what they do.
        let key_w = part
            .iter()
            .flat_map(|(_, keys)| keys.iter().map(|(k, _)| k.width() as u16))
            .max()
            .unwrap_or(8)
            .clamp(8, 16);
        let mut y = inner.y;
        for (section, keys) in part {
            if y >= inner.bottom() {
                break;
            }
            put(buf, x0, y, w, section, theme.title);
            y += 1;
            for (k, what) in keys {
                if y >= inner.bottom() {
                    break;
                }
                put(
                    buf,
                    x0 + 1,
                    y,
                    key_w.min(w.saturating_sub(1)),
                    k,
                    theme.key_hint,
                );
                let at = key_w + 3;
                put(buf, x0 + at, y, w.saturating_sub(at), what, theme.text);
                y += 1;
            }
        }
    }
}
