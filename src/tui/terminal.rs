//! The terminal, set up once and restored in one place: raw mode and the alternate screen are
//! undone when the guard drops (quit, error, signal) and by the panic hook before the panic
//! message is printed. The [`Painter`] draws frames and skips one identical to the last.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::terminal::{
    BeginSynchronizedUpdate, EndSynchronizedUpdate, EnterAlternateScreen, LeaveAlternateScreen,
    disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::model::Model;
use super::views;

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

/// Where frames go: a terminal and the painter that remembers the last frame.
pub struct Screen<W: Write> {
    pub terminal: Terminal<CrosstermBackend<W>>,
    pub painter: Painter,
}

impl<W: Write> Screen<W> {
    pub fn new(terminal: Terminal<CrosstermBackend<W>>) -> Self {
        Self {
            terminal,
            painter: Painter::default(),
        }
    }

    /// Draws `model` unless the screen already shows exactly that.
    pub fn draw(&mut self, model: &Model) -> io::Result<()> {
        self.painter.paint(&mut self.terminal, model)?;
        Ok(())
    }

    /// The byte stream to the terminal, for escape sequences that are not frames (OSC52).
    pub fn out(&mut self) -> &mut CrosstermBackend<W> {
        self.terminal.backend_mut()
    }
}

/// The real terminal in raw mode on the alternate screen, until dropped.
pub struct TerminalGuard {
    pub screen: Screen<io::Stdout>,
    previous_hook: Option<Arc<PanicHook>>,
}

impl TerminalGuard {
    pub fn enter() -> io::Result<Self> {
        let previous: Arc<PanicHook> = Arc::new(std::panic::take_hook());
        let chained = Arc::clone(&previous);
        std::panic::set_hook(Box::new(move |info| {
            restore();
            chained(info);
        }));
        // From here on, dropping the guard restores whatever was done.
        let guard = Self {
            screen: Screen::new(Terminal::new(CrosstermBackend::new(io::stdout()))?),
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
                views::draw(model, &model.theme, f);
            }
        })?;
        crossterm::execute!(terminal.backend_mut(), EndSynchronizedUpdate)?;
        self.last = Some(frame);
        Ok(true)
    }
}
