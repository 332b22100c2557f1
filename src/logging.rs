//! Logging: tracing to a file in the data dir, never to the terminal. The level comes from
//! `BATON_LOG`, else `RUST_LOG`, else `info`. Every baton process appends to the same file, so
//! each line carries the process id after its time (`… pid=4242  INFO …`): an engineer finds
//! their own session's lines with `grep pid=<pid>`.

use std::path::Path;

use std::fmt;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};

/// The time of a log line, then this process's id.
struct TimeAndPid;

impl FormatTime for TimeAndPid {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        SystemTime.format_time(w)?;
        write!(w, " pid={}", std::process::id())
    }
}

/// The filter directive in force: `BATON_LOG`, else `RUST_LOG`, else `info`.
pub fn level_directive() -> String {
    ["BATON_LOG", "RUST_LOG"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
        .unwrap_or_else(|| "info".into())
}

/// Starts writing logs to `dir/baton.log`. Keep the guard alive for the life of the process:
/// dropping it flushes the file. Fails (with a reason) when the directory cannot be made or the
/// level directive is malformed; the caller decides whether that is fatal.
pub fn init(dir: &Path) -> Result<WorkerGuard, String> {
    let directive = level_directive();
    let filter = EnvFilter::try_new(&directive)
        .map_err(|e| format!("bad log level '{directive}' in BATON_LOG/RUST_LOG: {e}"))?;
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the log directory {}: {e}", dir.display()))?;
    let appender = tracing_appender::rolling::never(dir, "baton.log");
    // The writer's queue is allocated whole at start: 16 384 lines (½ MiB) rather than the
    // default 128 000 (4 MiB) — a burst beyond it is a storm the file could not keep up with.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(16_384)
        .finish(appender);
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .with_timer(TimeAndPid)
        .try_init()
        .map_err(|e| format!("logging already initialised: {e}"))?;
    Ok(guard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_says_its_process() {
        let mut line = String::new();
        TimeAndPid
            .format_time(&mut Writer::new(&mut line))
            .expect("formats");
        assert!(
            line.ends_with(&format!(" pid={}", std::process::id())),
            "{line}"
        );
        assert!(line.starts_with("20"), "a time first: {line}");
    }
}
