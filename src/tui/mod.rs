//! The terminal dashboard: owns the terminal (raw mode, alternate screen, restored in one place on
//! quit, error, panic, SIGTERM/SIGHUP/SIGINT), runs the event loop (keys, fleet events drained in
//! batches, a one-second clock tick, at most ~30 frames a second, drawn only when something shown
//! changed) and executes the [`Cmd`]s that the pure [`update`] returns.
//!
//! Modules: `msg` (Msg, Cmd, OSC52), `model` (state and derived caches), `filter` (the `/`
//! filter's syntax and match), `update` (keys, commands, navigation), `keymap` (the one table
//! of actions and keys behind dispatch, help and hints), `views` (drawing, one module per view),
//! `widgets` (what views paint with: table, panel, text, styles), `fixture` (deterministic
//! fleets for tests and benchmarks).

pub mod filter;
pub mod fixture;
pub mod keymap;
pub mod model;
pub mod msg;
pub mod update;
pub mod views;
pub mod widgets;

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossterm::event::{Event, EventStream};
use crossterm::terminal::{
    BeginSynchronizedUpdate, EndSynchronizedUpdate, EnterAlternateScreen, LeaveAlternateScreen,
    disable_raw_mode, enable_raw_mode,
};
use futures::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::config::Theme;
use crate::fleet::FleetEvent;
use crate::source::{Focus, now_ms};

pub use model::{Mode, Model, View};
pub use msg::{Cmd, Msg, osc52};
pub use update::update;
pub use views::draw;

/// What `main` hands the dashboard.
pub struct Options {
    pub config: crate::config::Config,
    pub theme: crate::config::Theme,
    pub themes: crate::config::theme::ThemeSet,
    /// Shown in the status bar, e.g. "kubeconfig ~/.kube/config · role sre".
    pub identity: String,
    pub read_only: bool,
    /// Orchestras in the order to show them, before any event arrives (they show as connecting).
    pub orchestras: Vec<String>,
}

/// Why the dashboard stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("terminal: {0}")]
    Terminal(#[from] io::Error),
}

/// At most this often a frame is drawn (~30 frames/s).
const FRAME: Duration = Duration::from_millis(33);
/// Fleet events are folded in at most this often (re-sorting 10 000 rows costs about a
/// millisecond; keys are answered at frame rate regardless).
const FLEET_FLUSH: Duration = Duration::from_millis(250);

/// Runs the dashboard until the user quits, the terminal goes away or a signal arrives. The
/// terminal is restored on every way out.
pub async fn run(
    opts: Options,
    mut events: mpsc::Receiver<FleetEvent>,
    focus: watch::Sender<Focus>,
) -> Result<(), TuiError> {
    // Signals first: if this fails, the terminal was never touched.
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut guard = TerminalGuard::enter()?;
    let mut model = Model::new(
        opts.config,
        opts.theme,
        opts.identity,
        opts.read_only,
        opts.orchestras,
        now_ms(),
    );
    let size = guard.terminal.size()?;
    let mut queue: VecDeque<Cmd> = update(&mut model, Msg::Resize(size.width, size.height)).into();
    if execute(&mut model, &opts.themes, &focus, &mut guard, &mut queue)? {
        return Ok(());
    }

    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut pending: Vec<FleetEvent> = Vec::new();
    let mut fleet_open = true;
    let mut last_frame = Instant::now() - FRAME;
    let mut last_flush = Instant::now() - FLEET_FLUSH;
    loop {
        let frame_at = model.dirty.then_some(last_frame + FRAME);
        let flush_at = (!pending.is_empty()).then_some(last_flush + FLEET_FLUSH);
        let wake = match (frame_at, flush_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let msg = tokio::select! {
            _ = sigterm.recv() => break,
            _ = sighup.recv() => break,
            _ = sigint.recv() => break,
            ev = keys.next() => match ev {
                Some(Ok(ev)) => match to_msg(ev) {
                    Some(m) => m,
                    None => continue,
                },
                Some(Err(e)) => return Err(e.into()),
                // The terminal is gone (e.g. an SSH drop).
                None => break,
            },
            ev = events.recv(), if fleet_open => {
                match ev {
                    Some(ev) => {
                        pending.push(ev);
                        // Everything already queued goes into the same frame.
                        while let Ok(ev) = events.try_recv() {
                            pending.push(ev);
                        }
                    }
                    None => fleet_open = false,
                }
                continue;
            }
            _ = tick.tick() => Msg::Tick { now_ms: now_ms() },
            _ = tokio::time::sleep_until(wake.unwrap_or_else(Instant::now)), if wake.is_some() => {
                let now = Instant::now();
                if !pending.is_empty() && now >= last_flush + FLEET_FLUSH {
                    let batch = Msg::FleetBatch(std::mem::take(&mut pending));
                    last_flush = now;
                    queue.extend(update(&mut model, batch));
                    if execute(&mut model, &opts.themes, &focus, &mut guard, &mut queue)? {
                        break;
                    }
                }
                if model.dirty && now >= last_frame + FRAME {
                    model.take_dirty();
                    guard.draw(&model)?;
                    last_frame = now;
                }
                continue;
            }
        };
        // A resize always repaints: ratatui resizes its buffers at the next draw, and frames
        // drawn while sizes were changing may match a size the model passes through again.
        let resized = matches!(msg, Msg::Resize(..));
        queue.extend(update(&mut model, msg));
        if resized {
            guard.painter.invalidate();
            model.dirty = true;
        }
        if execute(&mut model, &opts.themes, &focus, &mut guard, &mut queue)? {
            break;
        }
    }
    Ok(())
}

/// Runs queued commands (and those their answers produce); returns true to quit.
fn execute(
    model: &mut Model,
    themes: &crate::config::theme::ThemeSet,
    focus: &watch::Sender<Focus>,
    guard: &mut TerminalGuard,
    queue: &mut VecDeque<Cmd>,
) -> io::Result<bool> {
    while let Some(cmd) = queue.pop_front() {
        match cmd {
            Cmd::Quit => return Ok(true),
            Cmd::SetFocus(f) => {
                focus.send_replace(f);
            }
            Cmd::Copy(text) => {
                let out = guard.terminal.backend_mut();
                out.write_all(osc52(&text).as_bytes())?;
                out.flush()?;
            }
            Cmd::LoadTheme(name) => {
                let answer = Msg::theme_loaded(&name, themes.load(&name));
                queue.extend(update(model, answer));
            }
        }
    }
    Ok(false)
}

fn to_msg(ev: Event) -> Option<Msg> {
    match ev {
        Event::Key(k) => Some(Msg::Key(k)),
        Event::Mouse(m) => Some(Msg::Mouse(m)),
        Event::Resize(w, h) => Some(Msg::Resize(w, h)),
        _ => None,
    }
}

/// Paints the model into a fresh buffer of `w`×`h` cells, without a terminal (benchmarks, tests).
pub fn render_to_buffer(model: &Model, theme: &Theme, w: u16, h: u16) -> Buffer {
    let area = Rect::new(0, 0, w, h);
    let mut buf = Buffer::empty(area);
    views::render(model, theme, area, &mut buf);
    buf
}

/// A buffer as plain text, one line per row, trailing spaces trimmed (for snapshots).
pub fn buffer_text(buf: &Buffer) -> String {
    let area = buf.area;
    let mut out = String::with_capacity(usize::from(area.width + 1) * usize::from(area.height));
    for y in area.top()..area.bottom() {
        let mut line = String::new();
        for x in area.left()..area.right() {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The terminal: set up once, restored in one place.

/// Whether the terminal is in raw mode on the alternate screen (so restoring twice is harmless).
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Puts the terminal back as it was. The one place that does: called on drop of the guard (quit,
/// error, signal) and by the panic hook before the panic message is printed.
fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = disable_raw_mode();
        let _ = crossterm::execute!(
            io::stdout(),
            EndSynchronizedUpdate,
            LeaveAlternateScreen,
            crossterm::cursor::Show
        );
    }
}

type PanicHook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static>;

struct TerminalGuard {
    terminal: Terminal<CrosstermBackend<io::Stdout>>,
    painter: Painter,
    previous_hook: Option<Arc<PanicHook>>,
}

impl TerminalGuard {
    fn enter() -> io::Result<Self> {
        let previous: Arc<PanicHook> = Arc::new(std::panic::take_hook());
        let chained = Arc::clone(&previous);
        std::panic::set_hook(Box::new(move |info| {
            restore();
            chained(info);
        }));
        // From here on, dropping the guard restores whatever was done.
        let guard = Self {
            terminal: Terminal::new(CrosstermBackend::new(io::stdout()))?,
            painter: Painter::default(),
            previous_hook: Some(previous),
        };
        ACTIVE.store(true, Ordering::SeqCst);
        enable_raw_mode()?;
        // Cleared directly: `Terminal::clear` would ask the terminal where its cursor is, and a
        // terminal that does not answer (or a slow SSH link) would stall the start.
        crossterm::execute!(
            io::stdout(),
            EnterAlternateScreen,
            crossterm::terminal::Clear(crossterm::terminal::ClearType::All)
        )?;
        Ok(guard)
    }

    fn draw(&mut self, model: &Model) -> io::Result<()> {
        self.painter.paint(&mut self.terminal, model)?;
        Ok(())
    }
}

/// Draws frames on a crossterm terminal and skips a frame identical to the last one drawn (same
/// cells, same cursor): a model marked dirty by a change nobody sees (a probe's timing field)
/// writes nothing, so an idle dashboard is silent on the wire.
#[derive(Default)]
pub struct Painter {
    last: Option<(Buffer, Option<ratatui::layout::Position>)>,
}

impl Painter {
    /// Forgets the last frame: the next `paint` draws.
    pub fn invalidate(&mut self) {
        self.last = None;
    }

    /// Draws `model` unless it looks exactly like the last frame; returns whether it wrote.
    pub fn paint<W: Write>(
        &mut self,
        terminal: &mut Terminal<CrosstermBackend<W>>,
        model: &Model,
    ) -> io::Result<bool> {
        let area = Rect::new(0, 0, model.size.0, model.size.1);
        let mut buf = Buffer::empty(area);
        views::render(model, &model.theme, area, &mut buf);
        let frame = (buf, views::cursor(model, area));
        if self.last.as_ref() == Some(&frame) {
            return Ok(false);
        }
        crossterm::queue!(terminal.backend_mut(), BeginSynchronizedUpdate)?;
        terminal.draw(|f| {
            // The frame just painted, unless the terminal's size moved under the model.
            if f.area() == area {
                f.buffer_mut().clone_from(&frame.0);
                if let Some(pos) = frame.1 {
                    f.set_cursor_position(pos);
                }
            } else {
                draw(model, &model.theme, f);
            }
        })?;
        crossterm::execute!(terminal.backend_mut(), EndSynchronizedUpdate)?;
        self.last = Some(frame);
        Ok(true)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
        // Put the previous panic hook back (not while panicking: take_hook would abort).
        if !std::thread::panicking()
            && let Some(previous) = self.previous_hook.take()
        {
            drop(std::panic::take_hook());
            if let Ok(hook) = Arc::try_unwrap(previous) {
                std::panic::set_hook(hook);
            }
        }
    }
}

#[cfg(test)]
mod tests;
