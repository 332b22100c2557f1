//! How fresh the fleet off screen is kept: each orchestra's background interval (the
//! `[general]` default, an `[orchestras.X]` override) and the bounds a config must keep.

use std::path::Path;
use std::time::Duration;

use super::error::{line_in_table, line_of_key};
use super::{Config, ConfigError};

/// The default background interval, in seconds: a leader change off screen is information, not
/// harm (pod events reach the screen at once), and a slower beat is what keeps a fleet's idle
/// cost near 1 % of a core.
pub const DEFAULT_BACKGROUND_SECS: u64 = 60;
/// The shortest background interval accepted: visible rows are probed every 4 s; a background
/// faster than that would probe the fleet off screen more often than the screen.
const MIN_SECS: u64 = 5;
/// The longest: an hour without looking at a database is no longer watching it.
const MAX_SECS: u64 = 3600;

impl Config {
    /// How often `orchestra`'s healthy databases off screen are probed.
    pub fn background_interval(&self, orchestra: &str) -> Duration {
        let secs = self
            .orchestras
            .get(orchestra)
            .and_then(|o| o.background_interval)
            .unwrap_or(self.general.background_interval);
        Duration::from_secs(secs)
    }
}

/// The first background interval out of bounds, named by its key and line.
pub(super) fn validate(config: &Config, file: &Path, text: &str) -> Result<(), ConfigError> {
    let all = std::iter::once(("general".to_string(), config.general.background_interval)).chain(
        config.orchestras.iter().filter_map(|(name, o)| {
            o.background_interval
                .map(|s| (format!("orchestras.{name}"), s))
        }),
    );
    for (table, secs) in all {
        if !(MIN_SECS..=MAX_SECS).contains(&secs) {
            let key = format!("{table}.background_interval");
            return Err(ConfigError {
                line: line_in_table(text, &table, "background_interval")
                    .or_else(|| line_of_key(text, &key)),
                file: file.to_path_buf(),
                key,
                message: format!("a background interval of {secs} s is out of bounds"),
                fix: format!(
                    "give the seconds between probes of a healthy database off screen, {MIN_SECS} to {MAX_SECS} (default {DEFAULT_BACKGROUND_SECS}; e.g. 25 for a prod orchestra)"
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::config::Config;

    #[test]
    fn an_orchestra_overrides_the_general_background_interval() {
        let text = "[general]\nbackground_interval = 90\n\n[orchestras.prod]\nbackground_interval = 25\n\n[orchestras.dev]\n";
        let c = Config::parse(text, Path::new("c.toml")).unwrap();
        assert_eq!(c.background_interval("prod"), Duration::from_secs(25));
        assert_eq!(c.background_interval("dev"), Duration::from_secs(90));
        assert_eq!(c.background_interval("unlisted"), Duration::from_secs(90));
        let d = Config::parse("", Path::new("c.toml")).unwrap();
        assert_eq!(d.background_interval("any"), Duration::from_secs(60));
    }

    #[test]
    fn a_background_interval_out_of_bounds_names_its_key_and_line() {
        let text =
            "[general]\nbackground_interval = 60\n\n[orchestras.prod]\nbackground_interval = 0\n";
        let e = Config::parse(text, Path::new("c.toml")).unwrap_err();
        assert_eq!(e.key, "orchestras.prod.background_interval");
        assert_eq!(e.line, Some(5));
        assert!(e.message.contains("0 s"), "{}", e.message);
        let e = Config::parse(
            "[general]\nbackground_interval = 7200\n",
            Path::new("c.toml"),
        )
        .unwrap_err();
        assert_eq!(e.key, "general.background_interval");
        assert_eq!(e.line, Some(2));
    }
}
