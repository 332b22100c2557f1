//! One key as the config writes it (`q`, `G`, `ctrl-q`, `alt-enter`, `f5`) and as the terminal
//! sends it, in one canonical form so the two compare equal; its label in help and hints (`↵`,
//! `PgDn`, `Ctrl-Q`); and the `[keys]` value that lists an action's keys ([`KeyList`]).

use std::fmt;
use std::str::FromStr;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;

/// One key with its modifiers, as written in the config (`q`, `G`, `ctrl-q`, `alt-enter`, `f5`)
/// and as it arrives from the terminal. Shift is folded into the character (`shift-g` is `G`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

/// How keys are written, for the fix line of a config error.
pub const KEY_SYNTAX: &str = "write one character (q, G, ?, /) or a name (enter, esc, tab, \
                              backtab, backspace, space, left, right, up, down, home, end, \
                              pageup, pagedown, delete, insert, f1 … f12), after ctrl-, alt- or \
                              shift- if needed";

impl Key {
    /// The key in its one canonical form, whichever way the terminal or the config wrote it.
    pub fn new(code: KeyCode, modifiers: KeyModifiers) -> Self {
        let mut modifiers =
            modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let code = match code {
            KeyCode::Char(c) => {
                let shift = modifiers.contains(KeyModifiers::SHIFT);
                modifiers.remove(KeyModifiers::SHIFT);
                if modifiers.contains(KeyModifiers::CONTROL) {
                    // Terminals send Ctrl-Q and Ctrl-q alike.
                    KeyCode::Char(c.to_ascii_lowercase())
                } else if shift {
                    KeyCode::Char(c.to_ascii_uppercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            KeyCode::Tab if modifiers.contains(KeyModifiers::SHIFT) => {
                modifiers.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            KeyCode::BackTab => {
                modifiers.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            other => other,
        };
        Self { code, modifiers }
    }

    pub fn from_event(ev: &KeyEvent) -> Self {
        Self::new(ev.code, ev.modifiers)
    }

    /// How the key is shown in help and hint lines: `↵`, `Esc`, `PgDn`, `Ctrl-C`.
    pub fn label(&self) -> String {
        let mut s = String::new();
        for (m, word) in [
            (KeyModifiers::CONTROL, "Ctrl-"),
            (KeyModifiers::ALT, "Alt-"),
            (KeyModifiers::SHIFT, "Shift-"),
        ] {
            if self.modifiers.contains(m) {
                s.push_str(word);
            }
        }
        let ctrl = self.modifiers.contains(KeyModifiers::CONTROL);
        match self.code {
            KeyCode::Char(' ') => s.push_str("Space"),
            KeyCode::Char(c) if ctrl => s.push(c.to_ascii_uppercase()),
            KeyCode::Char(c) => s.push(c),
            KeyCode::Enter => s.push('↵'),
            KeyCode::Esc => s.push_str("Esc"),
            KeyCode::Tab => s.push_str("Tab"),
            KeyCode::BackTab => s.push_str("Shift-Tab"),
            KeyCode::Backspace => s.push_str("Bksp"),
            KeyCode::Left => s.push('←'),
            KeyCode::Right => s.push('→'),
            KeyCode::Up => s.push('↑'),
            KeyCode::Down => s.push('↓'),
            KeyCode::Home => s.push_str("Home"),
            KeyCode::End => s.push_str("End"),
            KeyCode::PageUp => s.push_str("PgUp"),
            KeyCode::PageDown => s.push_str("PgDn"),
            KeyCode::Delete => s.push_str("Del"),
            KeyCode::Insert => s.push_str("Ins"),
            KeyCode::F(n) => s.push_str(&format!("F{n}")),
            other => s.push_str(&format!("{other:?}")),
        }
        s
    }
}

impl FromStr for Key {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        const MODIFIERS: [(&str, KeyModifiers); 4] = [
            ("ctrl", KeyModifiers::CONTROL),
            ("control", KeyModifiers::CONTROL),
            ("alt", KeyModifiers::ALT),
            ("shift", KeyModifiers::SHIFT),
        ];
        let bad = || format!("'{}' is not a key", crate::clip(s, 40));
        let mut rest = s.trim();
        let mut modifiers = KeyModifiers::NONE;
        // Modifiers, each followed by `-` or `+`; what is left is the key itself (`ctrl--` is
        // Ctrl and the minus key).
        'modifiers: loop {
            for (word, m) in MODIFIERS {
                let n = word.len();
                if rest.len() > n + 1
                    && rest.is_char_boundary(n)
                    && rest[..n].eq_ignore_ascii_case(word)
                    && matches!(rest.as_bytes()[n], b'-' | b'+')
                {
                    modifiers |= m;
                    rest = &rest[n + 1..];
                    continue 'modifiers;
                }
            }
            break;
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (None, _) => return Err(bad()),
            (Some(c), None) => KeyCode::Char(c),
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCode::Enter,
                "esc" | "escape" => KeyCode::Esc,
                "tab" => KeyCode::Tab,
                "backtab" => KeyCode::BackTab,
                "backspace" | "bksp" => KeyCode::Backspace,
                "space" => KeyCode::Char(' '),
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "pageup" | "pgup" => KeyCode::PageUp,
                "pagedown" | "pgdn" => KeyCode::PageDown,
                "delete" | "del" => KeyCode::Delete,
                "insert" | "ins" => KeyCode::Insert,
                f => match f.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
                    Some(n @ 1..=12) => KeyCode::F(n),
                    _ => return Err(bad()),
                },
            },
        };
        if let KeyCode::Char(c) = code
            && c.is_control()
        {
            return Err(bad());
        }
        Ok(Self::new(code, modifiers))
    }
}

impl fmt::Display for Key {
    /// The key as the config writes it (`ctrl-q`, `G`, `pagedown`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (m, word) in [
            (KeyModifiers::CONTROL, "ctrl-"),
            (KeyModifiers::ALT, "alt-"),
            (KeyModifiers::SHIFT, "shift-"),
        ] {
            if self.modifiers.contains(m) {
                f.write_str(word)?;
            }
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::F(n) => write!(f, "f{n}"),
            KeyCode::PageUp => f.write_str("pageup"),
            KeyCode::PageDown => f.write_str("pagedown"),
            KeyCode::BackTab => f.write_str("backtab"),
            other => f.write_str(&format!("{other:?}").to_lowercase()),
        }
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The keys the config gives one action: `"ctrl-q"` or `["esc", "h"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyList(pub Vec<Key>);

impl<'de> Deserialize<'de> for KeyList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = KeyList;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key such as \"ctrl-q\" or a list of keys such as [\"esc\", \"h\"]")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<KeyList, E> {
                v.parse().map(|k| KeyList(vec![k])).map_err(E::custom)
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<KeyList, A::Error> {
                let mut keys = Vec::new();
                while let Some(k) = seq.next_element::<Key>()? {
                    keys.push(k);
                }
                if keys.is_empty() {
                    return Err(serde::de::Error::custom(
                        "an empty list leaves the action without a key",
                    ));
                }
                Ok(KeyList(keys))
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn keys_parse_and_print() {
        let k: Key = "ctrl-q".parse().unwrap();
        assert_eq!(k, Key::new(KeyCode::Char('q'), KeyModifiers::CONTROL));
        assert_eq!(k.to_string(), "ctrl-q");
        assert_eq!(k.label(), "Ctrl-Q");
        assert_eq!("Ctrl+Q".parse::<Key>().unwrap(), k);
        assert_eq!("shift-g".parse::<Key>().unwrap(), "G".parse().unwrap());
        assert_eq!("shift-tab".parse::<Key>().unwrap().code, KeyCode::BackTab);
        assert_eq!("ctrl--".parse::<Key>().unwrap().code, KeyCode::Char('-'));
        assert_eq!("-".parse::<Key>().unwrap().code, KeyCode::Char('-'));
        assert_eq!("PgDn".parse::<Key>().unwrap().label(), "PgDn");
        assert_eq!("f5".parse::<Key>().unwrap().to_string(), "f5");
        assert_eq!("enter".parse::<Key>().unwrap().label(), "↵");
        for bad in ["", "ctrl-", "ctrl-shoft-q", "f13", "hello", "\t"] {
            let e = bad.parse::<Key>().unwrap_err();
            assert!(e.contains("is not a key"), "{bad}: {e}");
        }
        // Events: shift is in the character, Ctrl-Q and Ctrl-q are one key.
        assert_eq!(
            Key::from_event(&ev(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            "G".parse().unwrap()
        );
        assert_eq!(
            Key::from_event(&ev(
                KeyCode::Char('Q'),
                KeyModifiers::CONTROL | KeyModifiers::SHIFT
            )),
            "ctrl-q".parse().unwrap()
        );
    }
}
