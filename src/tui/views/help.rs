//! The `?` overlay: the keys, the filter syntax and the `:` commands, in two columns when the
//! terminal is wide enough, else one.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Clear, Widget};

use crate::config::Theme;
use crate::tui::widgets::{panel, put};

const HELP: &[(&str, &[(&str, &str)])] = &[
    (
        "Everywhere",
        &[
            ("?", "this help"),
            ("q  Ctrl-C", "quit"),
            ("Esc  h  ←", "back"),
            ("j k  ↓ ↑", "move"),
            ("PgDn PgUp", "page"),
            ("g G Home End", "first / last"),
            ("y", "copy id (OSC52)"),
            (":", "command line"),
        ],
    ),
    (
        "Fleet and lists",
        &[
            ("↵  l  →", "open"),
            ("d  Tab", "all databases"),
            ("/", "filter the list"),
            ("s  S", "sort / reverse"),
        ],
    ),
    (
        "Filter terms, ANDed",
        &[
            ("text", "in orch/ns/name"),
            ("health:degraded", "down unhealthy …"),
            ("profile:etcd", "neo4j dynomite …"),
            ("orchestra:aws", "ns:  version:"),
            ("/ ↵  / Esc", "keep / clear"),
        ],
    ),
    (
        "Commands",
        &[
            (":ctx NAME", "an orchestra"),
            (":db ID", "o/ns/name or name"),
            (":theme NAME", "switch theme"),
            (":q", "quit"),
        ],
    ),
];

pub fn render(theme: &Theme, area: Rect, buf: &mut Buffer) {
    let two = area.width >= 74;
    let height = |sections: &[(&str, &[(&str, &str)])]| -> usize {
        sections.iter().map(|(_, keys)| keys.len() + 1).sum()
    };
    let (left, right) = if two {
        HELP.split_at(2)
    } else {
        (HELP, &HELP[..0])
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
        let mut y = inner.y;
        for (section, keys) in part {
            if y >= inner.bottom() {
                break;
            }
            put(buf, x0, y, w, section, theme.title);
            y += 1;
            for (k, what) in *keys {
                if y >= inner.bottom() {
                    break;
                }
                put(
                    buf,
                    x0 + 1,
                    y,
                    16.min(w.saturating_sub(1)),
                    k,
                    theme.key_hint,
                );
                put(buf, x0 + 18, y, w.saturating_sub(18), what, theme.text);
                y += 1;
            }
        }
    }
}
