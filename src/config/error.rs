//! A config file that cannot be used ([`ConfigError`]), said so a person can fix it: the file,
//! the line (found from the TOML error's span or the key), the dotted key, and the fix.

use std::fmt;
use std::path::{Path, PathBuf};

/// A config file that cannot be used, said so a person can fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Dotted key path, e.g. `orchestras.prod.accent`; empty when the file as a whole is wrong.
    pub key: String,
    pub message: String,
    pub fix: String,
}

impl std::error::Error for ConfigError {}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": ")?;
        if !self.key.is_empty() && self.key != "." {
            write!(f, "key '{}': ", self.key)?;
        }
        write!(f, "{}", self.message)?;
        if !self.fix.is_empty() {
            write!(f, "\n  fix: {}", self.fix)?;
        }
        Ok(())
    }
}

impl ConfigError {
    pub(super) fn from_toml(
        file: &Path,
        text: &str,
        e: toml::de::Error,
        key: String,
        syntax: bool,
    ) -> Self {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
            .or_else(|| line_of_key(text, &key));
        let message = e.message().trim().to_string();
        let fix = if syntax {
            "correct the TOML syntax at this line (see https://toml.io)".into()
        } else {
            fix_for(&message)
        };
        // serde reports a missing field at its table; name the field itself.
        let key = match message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
        {
            Some(field) if key.is_empty() || key == "." => field.to_string(),
            Some(field) => format!("{key}.{field}"),
            None => key,
        };
        Self {
            file: file.to_path_buf(),
            line,
            key,
            message,
            fix,
        }
    }
}

fn fix_for(message: &str) -> String {
    if message.starts_with("unknown field") {
        "remove this key or correct its spelling (the message lists the keys allowed here)".into()
    } else if message.starts_with("unknown variant") {
        "use one of the values the message lists".into()
    } else if message.starts_with("missing field") {
        "add the missing key to this table".into()
    } else if message.starts_with("invalid type") {
        "give the value the type the message names (quote strings, no quotes around numbers and booleans)".into()
    } else if message.ends_with("is not a key") {
        crate::config::keymap::KEY_SYNTAX.into()
    } else if message.starts_with("an empty list leaves the action") {
        "give it at least one key, or remove the line to keep its default keys".into()
    } else if message.contains("duplicate key") {
        "keep only one of the two entries".into()
    } else {
        "correct the value on this line as the message says".into()
    }
}

/// The line that sets `key` in the table headed `[table]` (a name, not a dotted path).
pub(super) fn line_in_table(text: &str, table: &str, key: &str) -> Option<usize> {
    let header = format!("[{table}]");
    let start = text.lines().position(|l| l.trim() == header)?;
    text.lines()
        .enumerate()
        .skip(start + 1)
        .take_while(|(_, l)| !l.trim_start().starts_with('['))
        .find_map(|(i, l)| {
            let t = l.trim_start();
            let t = t.strip_prefix('"').unwrap_or(t);
            (t.starts_with(key) && t[key.len()..].trim_start().starts_with(['=', '"']))
                .then_some(i + 1)
        })
}

/// Best-effort line of a dotted key: the line that sets its last segment after its table header.
pub(super) fn line_of_key(text: &str, key: &str) -> Option<usize> {
    let last = key.rsplit('.').next()?;
    if last.is_empty() {
        return None;
    }
    text.lines().enumerate().find_map(|(i, l)| {
        let t = l.trim_start();
        let t = t.trim_start_matches('"');
        (t.starts_with(last) && t[last.len()..].trim_start().starts_with(['=', '"']))
            .then_some(i + 1)
    })
}
