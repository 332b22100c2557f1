//! Which theme style a piece of fleet state is drawn in. Colour is never the only carrier of
//! meaning: the views also write the word or glyph these styles colour.

use ratatui::style::{Color, Style};

use crate::config::Theme;
use crate::fleet::{Connection, Health, Role};

pub fn health_style(theme: &Theme, h: Health) -> Style {
    match h {
        Health::Healthy => theme.healthy,
        Health::Degraded => theme.degraded,
        Health::Down => theme.down,
        Health::Unknown => theme.unknown,
    }
}

pub fn role_style(theme: &Theme, r: Role) -> Style {
    match r {
        Role::Leader => theme.leader,
        Role::Follower => theme.follower,
        Role::ReadReplica => theme.read_replica,
        Role::Candidate => theme.candidate,
        Role::Unknown => theme.unknown,
    }
}

/// Lag over the configured gate (`operations.lag_gate`) is a warning.
pub fn lag_style(gate: u64, theme: &Theme, lag: Option<u64>) -> Style {
    match lag {
        Some(l) if l > gate => theme.warning,
        _ => theme.text,
    }
}

pub fn connection_style(theme: &Theme, c: &Connection) -> Style {
    match c {
        Connection::Live => theme.healthy,
        Connection::Connecting => theme.muted,
        Connection::Stale { .. } => theme.warning,
        Connection::Unauthorized(_) | Connection::Unreachable(_) => theme.error,
    }
}

/// The accent style of an orchestra: its configured colour (`accent`), unless the theme has no
/// colours (mono / NO_COLOR), where the theme's accent is used.
pub fn accent_style(accent: Option<Color>, theme: &Theme) -> Style {
    let themed_colour = matches!(theme.accent.fg, Some(c) if c != Color::Reset);
    match accent {
        Some(c) if themed_colour => Style::default().fg(c),
        _ => theme.accent,
    }
}
