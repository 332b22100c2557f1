//! Themes: TOML files that give each screen element a style ("yellow bold", "black on cyan",
//! "reverse"). The built-in themes (`themes/*.toml`) are compiled in; user themes live in the
//! config dir's `themes/` and may `extends` another theme. `NO_COLOR` selects `mono`.
//!
//! Built-in themes use only the 16 ANSI colours, so they look right on any terminal.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

/// The themes compiled into the binary: (name, file contents).
pub const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../../themes/default.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("mono", include_str!("../../themes/mono.toml")),
];

/// A colour as written in config and theme files: an ANSI name, `#rrggbb`, an index 0–255 or `reset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colour(pub Color);

impl FromStr for Colour {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        let c = match lower.as_str() {
            "reset" | "default" => Color::Reset,
            "black" => Color::Black,
            "red" => Color::Red,
            "green" => Color::Green,
            "yellow" => Color::Yellow,
            "blue" => Color::Blue,
            "magenta" => Color::Magenta,
            "cyan" => Color::Cyan,
            "gray" | "grey" => Color::Gray,
            "dark_gray" | "dark_grey" => Color::DarkGray,
            "light_red" => Color::LightRed,
            "light_green" => Color::LightGreen,
            "light_yellow" => Color::LightYellow,
            "light_blue" => Color::LightBlue,
            "light_magenta" => Color::LightMagenta,
            "light_cyan" => Color::LightCyan,
            "white" => Color::White,
            hex if hex.starts_with('#') && hex.len() == 7 => {
                let v = u32::from_str_radix(&hex[1..], 16)
                    .map_err(|_| format!("'{s}' is not a #rrggbb colour"))?;
                Color::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8)
            }
            n if n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() => Color::Indexed(
                n.parse()
                    .map_err(|_| format!("colour index '{s}' is over 255"))?,
            ),
            _ => {
                return Err(format!(
                    "unknown colour '{s}': use black, red, green, yellow, blue, magenta, cyan, gray, \
                     dark_gray, light_red … white, reset, #rrggbb or 0–255"
                ));
            }
        };
        Ok(Self(c))
    }
}

impl<'de> Deserialize<'de> for Colour {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Parses a style spec: words separated by spaces — a foreground colour, `on <colour>` for the
/// background, and modifiers (bold, dim, italic, underline, reverse, crossed). Empty = plain.
pub fn parse_style(spec: &str) -> Result<Style, String> {
    let mut style = Style::default();
    let mut words = spec.split_whitespace();
    while let Some(w) = words.next() {
        let modifier = match w.to_ascii_lowercase().as_str() {
            "bold" => Some(Modifier::BOLD),
            "dim" => Some(Modifier::DIM),
            "italic" => Some(Modifier::ITALIC),
            "underline" | "underlined" => Some(Modifier::UNDERLINED),
            "reverse" | "reversed" => Some(Modifier::REVERSED),
            "crossed" => Some(Modifier::CROSSED_OUT),
            "plain" => Some(Modifier::empty()),
            _ => None,
        };
        if let Some(m) = modifier {
            style = style.add_modifier(m);
        } else if w.eq_ignore_ascii_case("on") {
            let bg = words
                .next()
                .ok_or_else(|| format!("'{spec}': 'on' must be followed by a colour"))?;
            style = style.bg(bg.parse::<Colour>()?.0);
        } else {
            style = style.fg(w.parse::<Colour>()?.0);
        }
    }
    Ok(style)
}

macro_rules! theme_slots {
    ($($slot:ident : $doc:literal),* $(,)?) => {
        /// A resolved theme: one style per screen element.
        #[derive(Debug, Clone, PartialEq)]
        pub struct Theme {
            pub name: String,
            $(#[doc = $doc] pub $slot: Style,)*
        }

        /// Every slot name a theme file may set.
        pub const SLOTS: &[&str] = &[$(stringify!($slot)),*];

        impl Theme {
            fn set(&mut self, slot: &str, style: Style) -> bool {
                match slot {
                    $(stringify!($slot) => { self.$slot = style; true })*
                    _ => false,
                }
            }

            fn blank(name: &str) -> Self {
                Self { name: name.to_string(), $($slot: Style::default(),)* }
            }
        }
    };
}

theme_slots! {
    text: "ordinary text",
    muted: "secondary text: ages, hints, ids",
    border: "panel borders",
    border_focus: "the focused panel's border",
    title: "panel titles",
    header: "table headers",
    selected: "the selected row",
    accent: "default orchestra accent",
    status_bar: "the status bar",
    key_hint: "key names in hints and help",
    badge_read_only: "the READ-ONLY badge",
    error: "errors",
    warning: "warnings",
    healthy: "healthy state",
    degraded: "degraded state",
    down: "down state",
    unknown: "unknown state",
    leader: "LEADER role",
    follower: "FOLLOWER role",
    read_replica: "READ_REPLICA role",
    candidate: "CANDIDATE role",
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    /// The theme this one starts from; `default` when absent.
    extends: Option<String>,
    #[serde(default)]
    styles: BTreeMap<String, toml::Spanned<String>>,
}

/// A theme that cannot be used; names the file (or built-in), line and slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeError {
    pub source_name: String,
    pub line: Option<usize>,
    pub message: String,
}

impl std::error::Error for ThemeError {}

impl fmt::Display for ThemeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "theme {}", self.source_name)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        write!(f, ": {}", self.message)
    }
}

fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Where themes are looked up: the built-ins and a directory of user themes.
#[derive(Debug, Clone)]
pub struct ThemeSet {
    pub user_dir: Option<PathBuf>,
}

impl ThemeSet {
    pub fn new(user_dir: Option<PathBuf>) -> Self {
        Self { user_dir }
    }

    /// Names of every theme available: built-ins, then user themes.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = BUILTIN.iter().map(|(n, _)| n.to_string()).collect();
        if let Some(dir) = &self.user_dir
            && let Ok(rd) = std::fs::read_dir(dir)
        {
            for e in rd.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "toml")
                    && let Some(stem) = p.file_stem().and_then(|s| s.to_str())
                    && !names.iter().any(|n| n == stem)
                {
                    names.push(stem.to_string());
                }
            }
        }
        names
    }

    /// Finds and resolves theme `name`: a user file `NAME.toml` wins over a built-in of that name.
    pub fn load(&self, name: &str) -> Result<Theme, ThemeError> {
        self.load_depth(name, 0)
    }

    fn load_depth(&self, name: &str, depth: usize) -> Result<Theme, ThemeError> {
        if depth > 8 {
            return Err(ThemeError {
                source_name: name.into(),
                line: None,
                message: "'extends' goes round in a circle".into(),
            });
        }
        if let Some(dir) = &self.user_dir {
            let path = dir.join(format!("{name}.toml"));
            if path.is_file() {
                let text = std::fs::read_to_string(&path).map_err(|e| ThemeError {
                    source_name: path.display().to_string(),
                    line: None,
                    message: format!("cannot read: {e}"),
                })?;
                return self.resolve(name, &path.display().to_string(), &text, depth);
            }
        }
        match BUILTIN.iter().find(|(n, _)| *n == name) {
            Some((n, text)) => self.resolve(n, &format!("themes/{n}.toml (built in)"), text, depth),
            None => Err(ThemeError {
                source_name: name.into(),
                line: None,
                message: format!(
                    "no such theme; available: {}{}",
                    self.names().join(", "),
                    self.user_dir
                        .as_ref()
                        .map(|d| format!(" (user themes go in {})", d.display()))
                        .unwrap_or_default()
                ),
            }),
        }
    }

    fn resolve(
        &self,
        name: &str,
        source: &str,
        text: &str,
        depth: usize,
    ) -> Result<Theme, ThemeError> {
        let file: ThemeFile = toml::from_str(text).map_err(|e| ThemeError {
            source_name: source.into(),
            line: e.span().map(|s| line_at(text, s.start)),
            message: e.message().trim().to_string(),
        })?;
        let mut theme = match file.extends.as_deref() {
            Some(base) if base != name => self.load_depth(base, depth + 1)?,
            Some(_) => {
                return Err(ThemeError {
                    source_name: source.into(),
                    line: None,
                    message: "a theme cannot extend itself".into(),
                });
            }
            None if name == "default" => Theme::blank(name),
            None => self.load_depth("default", depth + 1)?,
        };
        theme.name = name.to_string();
        for (slot, spec) in &file.styles {
            let line = Some(line_at(text, spec.span().start));
            let style = parse_style(spec.get_ref()).map_err(|m| ThemeError {
                source_name: source.into(),
                line,
                message: format!("styles.{slot}: {m}"),
            })?;
            if !theme.set(slot, style) {
                return Err(ThemeError {
                    source_name: source.into(),
                    line,
                    message: format!("unknown style '{slot}'; known: {}", SLOTS.join(", ")),
                });
            }
        }
        Ok(theme)
    }
}

/// Picks the theme name: `--theme` wins, then `NO_COLOR` (⇒ `mono`), then the config, then `default`.
pub fn choose(flag: Option<&str>, no_color: bool, config: Option<&str>) -> String {
    match (flag, no_color, config) {
        (Some(f), _, _) => f.to_string(),
        (None, true, _) => "mono".into(),
        (None, false, Some(c)) => c.to_string(),
        (None, false, None) => "default".into(),
    }
}

/// True when `NO_COLOR` is set to a non-empty value (no-color.org).
pub fn no_color_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Reads a theme file at `path` directly (for `config check`).
pub fn load_file(path: &Path) -> Result<Theme, ThemeError> {
    let set = ThemeSet::new(path.parent().map(Path::to_path_buf));
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("theme");
    set.load(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_theme_parses_and_default_sets_every_slot() {
        let set = ThemeSet::new(None);
        for (name, text) in BUILTIN {
            let t = set.load(name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(&t.name, name);
            if *name == "default" {
                let file: ThemeFile = toml::from_str(text).unwrap();
                for slot in SLOTS {
                    assert!(
                        file.styles.contains_key(*slot),
                        "default theme lacks '{slot}'"
                    );
                }
            }
        }
    }

    #[test]
    fn builtin_themes_are_16_colour_safe() {
        let set = ThemeSet::new(None);
        for (name, _) in BUILTIN {
            let t = set.load(name).unwrap();
            for s in [
                t.text,
                t.selected,
                t.leader,
                t.healthy,
                t.down,
                t.status_bar,
            ] {
                for c in [s.fg, s.bg].into_iter().flatten() {
                    assert!(
                        !matches!(c, Color::Rgb(..) | Color::Indexed(..)),
                        "{name} uses {c:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn light_sets_its_background() {
        // `:theme light` on a dark terminal: black text needs the light background with it.
        let t = ThemeSet::new(None).load("light").unwrap();
        assert_eq!(t.text.fg, Some(Color::Black));
        assert_eq!(t.text.bg, Some(Color::White));
    }

    #[test]
    fn mono_has_no_colour() {
        let t = ThemeSet::new(None).load("mono").unwrap();
        for s in [
            t.text, t.selected, t.leader, t.healthy, t.down, t.error, t.border,
        ] {
            assert!(matches!(s.fg, None | Some(Color::Reset)), "{s:?}");
            assert!(matches!(s.bg, None | Some(Color::Reset)), "{s:?}");
        }
    }

    #[test]
    fn style_specs() {
        let s = parse_style("black on cyan bold").unwrap();
        assert_eq!(s.fg, Some(Color::Black));
        assert_eq!(s.bg, Some(Color::Cyan));
        assert!(s.add_modifier.contains(Modifier::BOLD));
        assert!(parse_style("on").is_err());
        assert!(parse_style("purple").is_err());
        assert_eq!(
            parse_style("#ff0000").unwrap().fg,
            Some(Color::Rgb(255, 0, 0))
        );
    }

    #[test]
    fn choice_order() {
        assert_eq!(choose(Some("light"), true, Some("x")), "light");
        assert_eq!(choose(None, true, Some("x")), "mono");
        assert_eq!(choose(None, false, Some("x")), "x");
        assert_eq!(choose(None, false, None), "default");
    }

    #[test]
    fn user_theme_extends_and_errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("ocean.toml"),
            "extends = \"light\"\n[styles]\nleader = \"blue bold\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("bad.toml"),
            "[styles]\ntext = \"white\"\nleadr = \"red\"\n",
        )
        .unwrap();
        let set = ThemeSet::new(Some(dir.path().to_path_buf()));
        let t = set.load("ocean").unwrap();
        assert_eq!(t.leader.fg, Some(Color::Blue));
        assert!(set.names().contains(&"ocean".to_string()));
        let e = set.load("bad").unwrap_err();
        assert!(e.source_name.ends_with("bad.toml"), "{e}");
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("leadr"));
        let e = set.load("nope").unwrap_err();
        assert!(e.message.contains("available: default, light"), "{e}");
    }
}
