//! `baton bench`: runs the dashboard's engine headless against a kubeconfig (usually the fleet
//! lab) and prints figures next to DESIGN.md's budgets: time until every orchestra is listed
//! (what a first complete frame needs), time until every database was probed once (a complete
//! snapshot), RSS, idle CPU with the supervisors running, and the TUI's frame render time and idle
//! terminal output. Figures, not pass/fail: these machines are noisy.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::config::{Config, Theme};
use crate::fleet::{Connection, Fleet};
use crate::source::{Engine, Intervals, Parts, Target, now_ms};
use crate::tui::{self, Cmd, Model, Msg, View, update};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

/// The frame size the budgets are stated for.
const W: u16 = 200;
const H: u16 = 60;

/// Resident set size of this process, in MiB.
pub fn rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024)
}

/// CPU time (user + system) this process used so far.
pub fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // Linux reports clock ticks of 1/100 s on every platform baton runs on.
    Some(Duration::from_millis(ticks * 10))
}

/// What the engine part of the bench measured.
pub struct EngineFigures {
    pub orchestras: usize,
    pub databases: usize,
    pub members: usize,
    pub listed: Option<Duration>,
    /// When the first orchestra, and half of them, were listed.
    pub first_listed: Option<Duration>,
    pub half_listed: Option<Duration>,
    /// The process's CPU time when every orchestra was listed, and every member probed.
    pub listed_cpu: Option<Duration>,
    pub probed_cpu: Option<Duration>,
    pub probed: Option<Duration>,
    pub rss_mib: Option<u64>,
    pub idle_cpu_percent: Option<f64>,
    /// Member probes sent while idle was measured.
    pub idle_probes: u64,
    /// The orchestras' background intervals, shortest and longest.
    pub background: (Duration, Duration),
    pub idle_output: IdleOutput,
    /// How long the fleet view ran before idle was measured.
    pub settle: Duration,
}

/// Runs the engine over `targets` until every database was probed once (or `limit` passed),
/// then lets the fleet view run `settle` seconds and measures `idle` seconds of steady state.
/// Returns the figures and the fleet.
pub async fn engine(
    targets: Vec<Target>,
    config: &Config,
    theme: Theme,
    limit: Duration,
    settle: Duration,
    idle: Duration,
) -> (EngineFigures, Fleet) {
    let started = Instant::now();
    let intervals: Vec<Duration> = targets
        .iter()
        .map(|t| config.background_interval(&t.name))
        .collect();
    let background = (
        intervals.iter().min().copied().unwrap_or_default(),
        intervals.iter().max().copied().unwrap_or_default(),
    );
    let mut engine = Engine::start(targets, config, Intervals::default());
    let probes = engine.probes_sent();
    let deadline = started + limit;
    let left = || deadline.saturating_duration_since(Instant::now());
    // When the first orchestra answered, and half of them: a slow tail and a slow whole
    // look the same in the last figure alone.
    let (mut first_listed, mut half_listed) = (None, None);
    let listed = engine
        .until(left(), |f| {
            let answered = f
                .orchestras
                .values()
                .filter(|o| o.connection != Connection::Connecting)
                .count();
            if answered > 0 && first_listed.is_none() {
                first_listed = Some(started.elapsed());
            }
            if answered * 2 >= f.orchestras.len() && half_listed.is_none() {
                half_listed = Some(started.elapsed());
            }
            answered == f.orchestras.len()
        })
        .await
        .then(|| started.elapsed());
    // CPU time is what load on a shared machine does not change much: A/B figures.
    let listed_cpu = cpu_time();
    let probed = engine
        .until_probed_once(left())
        .await
        .then(|| started.elapsed());
    let probed_cpu = cpu_time();
    let Parts {
        fleet,
        events: mut rx,
        focus: focus_tx,
        supervisors: _running,
    } = engine.into_parts();
    let orchestras = fleet.orchestras.len();
    let databases = fleet.databases.len();
    let members = fleet.member_count();

    // Steady state, as the dashboard runs it: the fleet view of a 200×60 terminal, fed by the
    // supervisors, focus sent back to them, events folded every 250 ms, the clock ticking, a
    // frame drawn only when the model says something shown changed. CPU and terminal bytes.
    let mut model = Model::new(
        config.clone(),
        theme,
        "bench".into(),
        true,
        fleet.orchestras.keys().cloned().collect(),
        now_ms(),
    );
    model.fleet = fleet;
    let focus = |cmds: Vec<Cmd>| {
        for c in cmds {
            if let Cmd::SetFocus(f) = c {
                focus_tx.send_replace(f);
            }
        }
    };
    focus(update(&mut model, Msg::Resize(W, H)));
    let written = Arc::new(AtomicU64::new(0));
    let mut terminal = fixed_terminal(Counter(Arc::clone(&written)));
    let mut output = IdleOutput::default();
    let mut painter = tui::Painter::default();
    if let Some(t) = terminal.as_mut() {
        model.take_dirty();
        let _ = painter.paint(t, &model);
        output.first_frame_bytes = written.swap(0, Ordering::SeqCst);
    }
    // What the screen showed at the last frame, to tell what each idle frame changed.
    let mut shown = tui::buffer_text(&tui::render_to_buffer(&model, &model.theme, W, H));
    let mut flush = tokio::time::interval(Duration::from_millis(250));
    let mut pending = Vec::new();
    let (mut cpu0, mut t0, mut probes0) = (None, Instant::now(), 0);
    // First the settling cycle (every database moves onto its orchestra's beat: one extra round
    // each), measured from its end: the steady state is what the figures are about.
    for (measured, length) in [(false, settle), (true, idle)] {
        if measured {
            probes0 = probes.load(Ordering::Relaxed);
            cpu0 = cpu_time();
            t0 = Instant::now();
            written.store(0, Ordering::SeqCst);
            output.frames = 0;
            output.changes.clear();
        }
        let until = tokio::time::Instant::now() + length;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => break,
                ev = rx.recv() => match ev {
                    Some(ev) => pending.push(ev),
                    None => break,
                },
                _ = flush.tick() => {
                    if !pending.is_empty() {
                        focus(update(&mut model, Msg::FleetBatch(std::mem::take(&mut pending))));
                    }
                    focus(update(&mut model, Msg::Tick { now_ms: now_ms() }));
                    if model.take_dirty()
                        && let Some(t) = terminal.as_mut()
                        && painter.paint(t, &model).unwrap_or(false)
                    {
                        output.frames += 1;
                        let now = tui::buffer_text(&tui::render_to_buffer(&model, &model.theme, W, H));
                        if output.changes.len() < MAX_CHANGES {
                            output.changes.push(FrameChange::between(t0.elapsed(), &shown, &now));
                        }
                        shown = now;
                    }
                }
            }
        }
    }
    output.seconds = t0.elapsed().as_secs_f64();
    output.bytes = written.load(Ordering::SeqCst);
    let idle_probes = probes.load(Ordering::Relaxed).saturating_sub(probes0);
    let idle_cpu_percent = match (cpu0, cpu_time()) {
        (Some(a), Some(b)) => Some((b - a).as_secs_f64() * 100.0 / output.seconds.max(0.001)),
        _ => None,
    };
    let figures = EngineFigures {
        orchestras,
        databases,
        members,
        listed,
        first_listed,
        half_listed,
        listed_cpu,
        probed_cpu,
        probed,
        rss_mib: rss_mib(),
        idle_cpu_percent,
        idle_probes,
        background,
        idle_output: output,
        settle,
    };
    (figures, model.fleet)
}

/// Counts what the terminal backend writes, and throws it away.
struct Counter(Arc<AtomicU64>);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.fetch_add(buf.len() as u64, Ordering::SeqCst);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A real crossterm backend of a fixed 200×60 viewport (no terminal to ask for its size).
fn fixed_terminal<W: Write>(out: W) -> Option<Terminal<CrosstermBackend<W>>> {
    Terminal::with_options(
        CrosstermBackend::new(out),
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, W, H)),
        },
    )
    .ok()
}

/// Idle frames whose changed lines the report shows, at most.
const MAX_CHANGES: usize = 5;

/// What reached the terminal while the fleet was idle.
#[derive(Debug, Default, Clone)]
pub struct IdleOutput {
    pub seconds: f64,
    pub frames: u64,
    pub bytes: u64,
    /// The first, full frame (for scale).
    pub first_frame_bytes: u64,
    /// What the first few idle frames changed on screen (why they were drawn).
    pub changes: Vec<FrameChange>,
}

/// One idle frame: when it was drawn and the screen lines it changed (before → after).
#[derive(Debug, Clone)]
pub struct FrameChange {
    pub at: Duration,
    pub lines: Vec<(usize, String, String)>,
}

impl FrameChange {
    /// The lines that differ between two screens (as `tui::buffer_text` writes them).
    pub fn between(at: Duration, before: &str, after: &str) -> Self {
        let lines = before
            .lines()
            .zip(after.lines())
            .enumerate()
            .filter(|(_, (b, a))| b != a)
            .map(|(i, (b, a))| (i, b.trim().to_string(), a.trim().to_string()))
            .collect();
        Self { at, lines }
    }
}

/// The view's figures: per-frame render time of each main view at 200×60 over a synthetic fleet
/// of `databases` databases, and a full repaint through the real crossterm backend.
#[derive(Debug, Clone)]
pub struct RenderFigures {
    pub databases: usize,
    pub views: Vec<(&'static str, Duration)>,
    /// Re-filtering and re-sorting every row after a fleet change (at most every 250 ms).
    pub resort: Duration,
    /// Clearing and repainting the whole screen, escape sequences included.
    pub full_repaint: Duration,
    pub full_repaint_bytes: u64,
}

/// Renders each main view `n` times over a synthetic fleet of `databases` databases.
pub fn render(theme: Theme, databases: usize, n: u32) -> RenderFigures {
    let mut m = tui::fixture::large_model(theme.clone(), databases, W, H);
    let key = |c: KeyCode| Msg::Key(KeyEvent::new(c, KeyModifiers::NONE));
    let mut fleet = m.clone();
    fleet.view = View::Fleet;
    let mut profile = m.clone();
    update(&mut profile, key(KeyCode::Enter));
    let mut views = Vec::new();
    for (name, model) in [("databases", &m), ("fleet", &fleet), ("profile", &profile)] {
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(tui::render_to_buffer(model, &theme, W, H));
        }
        views.push((name, t.elapsed() / n));
    }
    // Every row re-derived, filtered and sorted, as after a batch of fleet changes.
    let t = Instant::now();
    let rounds = 20;
    for i in 0..rounds {
        m.fleet.generation += 1;
        update(
            &mut m,
            Msg::Tick {
                now_ms: now_ms() + i,
            },
        );
    }
    let resort = t.elapsed() / rounds as u32;
    let written = Arc::new(AtomicU64::new(0));
    // A fresh terminal has nothing on screen, so every cell is written (`Terminal::clear` would
    // ask a real terminal for its cursor).
    let t = Instant::now();
    for _ in 0..n {
        if let Some(mut term) = fixed_terminal(Counter(Arc::clone(&written))) {
            let _ = term.draw(|f| tui::draw(&m, &theme, f));
        }
    }
    let (full_repaint, full_repaint_bytes) = (
        t.elapsed() / n,
        written.load(Ordering::SeqCst) / u64::from(n),
    );
    RenderFigures {
        databases: m.fleet.databases.len(),
        views,
        resort,
        full_repaint,
        full_repaint_bytes,
    }
}

impl RenderFigures {
    pub fn report(&self) -> String {
        let mut out = String::new();
        for (name, per) in &self.views {
            out.push_str(&format!(
                "render {name:<9} 200x60 over {} databases: {:.2} ms   budget 2 ms\n",
                self.databases,
                per.as_secs_f64() * 1000.0
            ));
        }
        out.push_str(&format!(
            "re-filter and re-sort {} rows after a fleet change: {:.2} ms (at most every 250 ms)\n\
             full repaint through crossterm: {:.2} ms, {} bytes\n",
            self.databases,
            self.resort.as_secs_f64() * 1000.0,
            self.full_repaint.as_secs_f64() * 1000.0,
            self.full_repaint_bytes,
        ));
        out
    }
}

fn secs(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.2} s", d.as_secs_f64()))
        .unwrap_or_else(|| "not reached".into())
}

impl EngineFigures {
    pub fn report(&self) -> String {
        let seconds = self.idle_output.seconds.max(0.001);
        let per_probe = match self.idle_cpu_percent {
            Some(c) if self.idle_probes > 0 => format!(
                "{:.0} µs of CPU per probe",
                c / 100.0 * seconds * 1e6 / self.idle_probes as f64
            ),
            _ => "? µs of CPU per probe".into(),
        };
        let (lo, hi) = self.background;
        let background = if lo == hi {
            format!("{} s", lo.as_secs())
        } else {
            format!("{} to {} s", lo.as_secs(), hi.as_secs())
        };
        format!(
            "fleet: {} orchestras, {} databases, {} members\n\
             every orchestra listed (first complete frame) after {}   budget 1.5 s (first {}, half {}; CPU {})\n\
             every member probed once (complete snapshot) after {}   budget 8 s (CPU {})\n\
             RSS {} MiB   budget 100 MiB\n\
             idle CPU {} of one core at background_interval {} (supervisors and fleet view running; {:.0} probes/s, {}; {:.0} s measured after {:.0} s of settling)   budget 1 % at the default 60 s\n\
             idle terminal output: {} frames, {} bytes in {:.0} s on the fleet view (first frame {} bytes)   budget 0 while nothing changes\n",
            self.orchestras,
            self.databases,
            self.members,
            secs(self.listed),
            secs(self.first_listed),
            secs(self.half_listed),
            secs(self.listed_cpu),
            secs(self.probed),
            secs(self.probed_cpu),
            self.rss_mib.map(|r| r.to_string()).unwrap_or("?".into()),
            self.idle_cpu_percent
                .map(|c| format!("{c:.1} %"))
                .unwrap_or("?".into()),
            background,
            self.idle_probes as f64 / seconds,
            per_probe,
            self.idle_output.seconds,
            self.settle.as_secs_f64(),
            self.idle_output.frames,
            self.idle_output.bytes,
            self.idle_output.seconds,
            self.idle_output.first_frame_bytes,
        ) + &self.idle_changes()
    }

    /// Why each idle frame was drawn: the lines it changed (a few frames, a few lines each).
    fn idle_changes(&self) -> String {
        let mut out = String::new();
        for c in &self.idle_output.changes {
            out.push_str(&format!(
                "  idle frame at {:.1} s changed {} line(s):\n",
                c.at.as_secs_f64(),
                c.lines.len()
            ));
            for (row, before, after) in c.lines.iter().take(4) {
                out.push_str(&format!(
                    "    row {row}: {before:?}\n         → {after:?}\n"
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::theme::ThemeSet;

    #[test]
    fn an_unchanged_screen_writes_nothing() {
        let theme = ThemeSet::new(None).load("default").expect("built-in theme");
        let mut model = tui::fixture::demo_model(theme);
        update(&mut model, Msg::Resize(W, H));
        let written = Arc::new(AtomicU64::new(0));
        let mut term = fixed_terminal(Counter(Arc::clone(&written))).expect("fixed viewport");
        let mut painter = tui::Painter::default();
        assert!(painter.paint(&mut term, &model).expect("paint"));
        assert!(written.swap(0, Ordering::SeqCst) > 1000, "the first frame");
        // Dirty but looking the same (e.g. a probe's timing field moved): not a byte.
        model.dirty = true;
        assert!(!painter.paint(&mut term, &model).expect("paint"));
        assert_eq!(written.load(Ordering::SeqCst), 0);
        // Something shown changes: only the difference goes out.
        update(
            &mut model,
            Msg::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::NONE)),
        );
        assert!(painter.paint(&mut term, &model).expect("paint"));
        let diff = written.load(Ordering::SeqCst);
        assert!(diff > 0 && diff < 1000, "{diff} bytes");
    }
}
