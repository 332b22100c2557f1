//! The event loop and the sources that feed it. Everything that happens reaches the loop as a
//! [`Msg`] on one bounded channel: keys from the terminal, fleet events from the engine (folded
//! into at most one batch every 250 ms), the clock tick, and the answers of effects. The loop
//! folds each message into the model with the pure `update`, hands the commands to [`Effects`],
//! and draws at most ~30 frames a second, only when something shown changed (an idle dashboard
//! writes nothing). SIGTERM, SIGHUP and SIGINT end it; the terminal guard restores the terminal.

use std::future::Future;
use std::io::Write;
use std::time::Duration;

use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::effects::{Effects, Flow, OpsEnv};
use super::model::Model;
use super::msg::Msg;
use super::terminal::{Screen, TerminalGuard};
use super::update::update;
use super::{Options, TuiError};
use crate::fleet::FleetEvent;
use crate::source::{Focus, now_ms};

/// Messages waiting for the loop at most; a source with more to say waits (fleet events wait
/// in their own channel and arrive in the next batch).
pub const QUEUE: usize = 1024;
/// At most this often a frame is drawn (~30 frames/s).
const FRAME: Duration = Duration::from_millis(33);
/// Fleet events are folded in at most this often (re-sorting 10 000 rows costs about a
/// millisecond; keys are answered at frame rate regardless).
const FLEET_FLUSH: Duration = Duration::from_millis(250);

/// Runs the dashboard until the user quits, the terminal goes away or a signal arrives. The
/// terminal is restored on every way out.
pub async fn run(
    opts: Options,
    events: mpsc::Receiver<FleetEvent>,
    focus: watch::Sender<Focus>,
) -> Result<(), TuiError> {
    // Signals first: if this fails, the terminal was never touched.
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let signalled = async move {
        tokio::select! {
            _ = sigterm.recv() => {}
            _ = sighup.recv() => {}
            _ = sigint.recv() => {}
        }
    };
    let mut guard = TerminalGuard::enter()?;
    let (tx, rx) = mpsc::channel(QUEUE);
    // Aborted when dropped, before the guard restores the terminal.
    let mut sources = JoinSet::new();
    sources.spawn(keys(tx.clone()));
    sources.spawn(fleet(events, tx.clone()));
    sources.spawn(clock(tx.clone()));
    let env = OpsEnv {
        kubeconfig: opts.kubeconfig.clone(),
        config: opts.config.clone(),
        read_only: opts.read_only,
        holder: crate::ops::record::holder_identity(),
        contexts: opts.contexts.clone(),
    };
    let mut effects = Effects::new(tx, opts.themes, focus).with_ops(env);
    let mut model = Model::new(
        opts.config,
        opts.theme,
        opts.identity,
        opts.read_only,
        opts.orchestras,
        now_ms(),
    );
    let size = guard.screen.terminal.size()?;
    event_loop(
        &mut model,
        Msg::Resize(size.width, size.height),
        rx,
        &mut effects,
        &mut guard.screen,
        signalled,
    )
    .await
}

/// Folds messages from `rx` (after `first`) into `model` until a command quits, `stop` completes
/// or every sender is gone; draws on `screen`.
pub(crate) async fn event_loop<W: Write>(
    model: &mut Model,
    first: Msg,
    mut rx: mpsc::Receiver<Msg>,
    effects: &mut Effects,
    screen: &mut Screen<W>,
    stop: impl Future<Output = ()>,
) -> Result<(), TuiError> {
    tokio::pin!(stop);
    if handle(model, first, effects, screen)? == Flow::Quit {
        return Ok(());
    }
    let mut last_frame = Instant::now() - FRAME;
    loop {
        let frame_at = model.dirty.then_some(last_frame + FRAME);
        tokio::select! {
            biased;
            () = &mut stop => return Ok(()),
            // Before messages, so a flood of them cannot hold frames back.
            () = tokio::time::sleep_until(frame_at.unwrap_or_else(Instant::now)),
                if frame_at.is_some() =>
            {
                model.take_dirty();
                screen.draw(model)?;
                last_frame = Instant::now();
            }
            msg = rx.recv() => match msg {
                Some(msg) => {
                    if handle(model, msg, effects, screen)? == Flow::Quit {
                        return Ok(());
                    }
                }
                None => return Ok(()),
            },
            done = effects.finished() => {
                if let Err(e) = done
                    && e.is_panic()
                {
                    // The panic hook has already restored the terminal: stop here.
                    return Err(TuiError::Failed(format!("an effect failed: {e}")));
                }
            }
        }
    }
}

/// Folds one message in and runs the commands it produced.
fn handle<W: Write>(
    model: &mut Model,
    msg: Msg,
    effects: &mut Effects,
    screen: &mut Screen<W>,
) -> Result<Flow, TuiError> {
    // A resize always repaints: ratatui resizes its buffers at the next draw, and frames drawn
    // while sizes were changing may match a size the model passes through again.
    let resized = matches!(msg, Msg::Resize(..));
    let cmds = update(model, msg);
    if resized {
        screen.painter.invalidate();
        model.dirty = true;
    }
    for cmd in cmds {
        if effects.execute(cmd, screen.out())? == Flow::Quit {
            return Ok(Flow::Quit);
        }
    }
    Ok(Flow::Continue)
}

// ---------------------------------------------------------------------------------------------
// Sources.

/// Terminal input: keys, mouse, resizes; then why it ended.
async fn keys(tx: mpsc::Sender<Msg>) {
    let mut input = EventStream::new();
    loop {
        let msg = match input.next().await {
            Some(Ok(Event::Key(k))) => Msg::Key(k),
            Some(Ok(Event::Mouse(m))) => Msg::Mouse(m),
            Some(Ok(Event::Resize(w, h))) => Msg::Resize(w, h),
            Some(Ok(_)) => continue,
            Some(Err(e)) => Msg::InputEnded(Some(e.to_string())),
            // The terminal is gone (e.g. an SSH drop).
            None => Msg::InputEnded(None),
        };
        let ended = matches!(msg, Msg::InputEnded(_));
        if tx.send(msg).await.is_err() || ended {
            return;
        }
    }
}

/// Fleet events, folded into batches: the first after a quiet spell goes at once with whatever
/// is queued behind it; then at most one batch every [`FLEET_FLUSH`].
async fn fleet(mut events: mpsc::Receiver<FleetEvent>, tx: mpsc::Sender<Msg>) {
    let mut last = Instant::now() - FLEET_FLUSH;
    let mut open = true;
    while open {
        let Some(first) = events.recv().await else {
            return;
        };
        let mut batch = vec![first];
        // Everything already queued goes into the same batch.
        for _ in 0..events.len() {
            match events.try_recv() {
                Ok(ev) => batch.push(ev),
                Err(_) => break,
            }
        }
        let due = last + FLEET_FLUSH;
        while open && Instant::now() < due {
            tokio::select! {
                ev = events.recv() => match ev {
                    Some(ev) => batch.push(ev),
                    None => open = false,
                },
                () = tokio::time::sleep_until(due) => {}
            }
        }
        if tx.send(Msg::FleetBatch(batch)).await.is_err() {
            return;
        }
        last = Instant::now();
    }
}

/// Wall-clock time once a second (the model never reads the clock).
async fn clock(tx: mpsc::Sender<Msg>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        if tx.send(Msg::Tick { now_ms: now_ms() }).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::theme::ThemeSet;
    use crate::tui::fixture::{self, NOW_MS};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::backend::CrosstermBackend;
    use ratatui::layout::Rect;
    use ratatui::{Terminal, TerminalOptions, Viewport};
    use std::sync::{Arc, Mutex};

    fn theme() -> crate::config::Theme {
        ThemeSet::new(None).load("default").unwrap()
    }

    /// Terminal output that the test can read while the loop writes it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    fn screen(out: Shared) -> Screen<Shared> {
        let terminal = Terminal::with_options(
            CrosstermBackend::new(out),
            TerminalOptions {
                viewport: Viewport::Fixed(Rect::new(0, 0, 80, 24)),
            },
        )
        .unwrap();
        Screen::new(terminal)
    }

    fn key(c: char) -> Msg {
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
    }

    async fn wait_for(what: &str, cond: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The real loop on a fixed 80×24 terminal: `:theme light` goes out as a command, runs as a
    /// task, its answer comes back on the channel and is drawn; `q` ends the loop.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_effect_answers_on_the_channel_and_is_drawn() {
        let out = Shared::default();
        let mut scr = screen(out.clone());
        let (tx, rx) = mpsc::channel(QUEUE);
        let (focus, _) = watch::channel(Focus::default());
        let mut fx = Effects::new(tx.clone(), ThemeSet::new(None), focus);
        let mut model = fixture::demo_model(theme());
        let driver = {
            let out = out.clone();
            async move {
                wait_for("the first frame", || out.text().contains("Orchestras (6)")).await;
                for c in ":theme light".chars() {
                    tx.send(key(c)).await.unwrap();
                }
                tx.send(Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)))
                    .await
                    .unwrap();
                wait_for("the theme's note", || out.text().contains("theme light")).await;
                tx.send(key('q')).await.unwrap();
            }
        };
        let run = event_loop(
            &mut model,
            Msg::Resize(80, 24),
            rx,
            &mut fx,
            &mut scr,
            std::future::pending(),
        );
        let (result, ()) = tokio::join!(run, driver);
        result.unwrap();
        assert_eq!(model.theme.name, "light");
    }

    /// Ticks that change nothing shown leave the model clean, so no frame is even scheduled;
    /// one that moves the clock to the next minute does. The loop ends when every sender is gone.
    #[tokio::test(flavor = "current_thread")]
    async fn idle_ticks_schedule_no_frame() {
        for (seconds, dirty) in [(2, false), (20, true)] {
            let out = Shared::default();
            let mut scr = screen(out.clone());
            let (tx, rx) = mpsc::channel(QUEUE);
            // Effects answer elsewhere: dropping `tx` closes the loop's channel.
            let (fx_tx, _fx_rx) = mpsc::channel(1);
            let (focus, _) = watch::channel(Focus::default());
            let mut fx = Effects::new(fx_tx, ThemeSet::new(None), focus);
            let mut model = fixture::demo_model(theme());
            model.dirty = false;
            for s in [1, seconds] {
                tx.send(Msg::Tick {
                    now_ms: NOW_MS + s * 1000,
                })
                .await
                .unwrap();
            }
            drop(tx);
            // Not a resize: the first message must not repaint by itself.
            let first = Msg::Tick { now_ms: NOW_MS };
            event_loop(
                &mut model,
                first,
                rx,
                &mut fx,
                &mut scr,
                std::future::pending(),
            )
            .await
            .unwrap();
            assert_eq!(model.dirty, dirty, "after {seconds} s");
            assert!(out.text().is_empty());
        }
    }

    /// The idle fleet as the background probes see it: every member answers again, the
    /// leaders' and followers' applied indexes moved on (the store takes that as a change, the
    /// profile would show it), the clock ticks within the minute. The fleet view shows none of
    /// it: each batch is folded and a frame drawn, and not a byte reaches the terminal.
    /// A probe round of database `d` at `at_ms`: each member answers `answer(member)`.
    fn answers(
        d: &crate::fleet::Database,
        at_ms: u64,
        answer: impl Fn(&crate::fleet::Member) -> crate::fleet::Probe,
    ) -> FleetEvent {
        FleetEvent::Probed {
            orchestra: d.key.orchestra.clone(),
            db: d.key.db(),
            results: d
                .members
                .iter()
                .map(|m| (m.pod.name.clone(), answer(m)))
                .collect(),
            at_ms,
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn background_answers_that_change_nothing_shown_write_nothing() {
        let out = Shared::default();
        let mut scr = screen(out.clone());
        let (fx_tx, _fx_rx) = mpsc::channel(1);
        let (focus, _) = watch::channel(Focus::default());
        let mut fx = Effects::new(fx_tx, ThemeSet::new(None), focus);
        let mut model = fixture::demo_model(theme());
        assert_eq!(model.view, crate::tui::View::Fleet);
        handle(&mut model, Msg::Resize(80, 24), &mut fx, &mut scr).unwrap();
        scr.draw(&model).unwrap();
        assert!(out.text().contains("Orchestras (6)"), "the first frame");
        out.0.lock().unwrap().clear();
        let generation = model.fleet.generation;
        for round in 1..=3u64 {
            let batch: Vec<FleetEvent> = model
                .fleet
                .databases
                .values()
                .map(|d| {
                    answers(d, NOW_MS + round * 1000, |m| {
                        let mut p = m.probe.clone();
                        if let crate::fleet::Probe::Ok(r) = &mut p {
                            r.applied_index = r.applied_index.map(|i| i + 10 * round);
                        }
                        p
                    })
                })
                .collect();
            let now_ms = NOW_MS + round * 1000;
            for msg in [Msg::FleetBatch(batch), Msg::Tick { now_ms }] {
                handle(&mut model, msg, &mut fx, &mut scr).unwrap();
                scr.draw(&model).unwrap();
            }
        }
        assert!(
            model.fleet.generation > generation,
            "the answers were folded"
        );
        assert_eq!(out.text(), "", "nothing shown changed");
        // The same path does write when something shown changes: a database's leader is lost.
        let d = model.fleet.databases.values().next().unwrap();
        let lost = answers(d, NOW_MS + 4000, |_| {
            crate::fleet::Probe::Error("timed out".into())
        });
        handle(&mut model, Msg::FleetBatch(vec![lost]), &mut fx, &mut scr).unwrap();
        scr.draw(&model).unwrap();
        assert!(!out.text().is_empty(), "a database went down on screen");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn fleet_events_arrive_in_batches_at_most_every_250_ms() {
        let (ev_tx, ev_rx) = mpsc::channel(100);
        let (tx, mut rx) = mpsc::channel(QUEUE);
        let event = || FleetEvent::Connection {
            orchestra: "aws".into(),
            state: crate::fleet::Connection::Live,
        };
        let before = Instant::now();
        // After a quiet spell the first event goes at once, with what is queued behind it.
        ev_tx.send(event()).await.unwrap();
        ev_tx.send(event()).await.unwrap();
        let source = tokio::spawn(fleet(ev_rx, tx));
        let Some(Msg::FleetBatch(b)) = rx.recv().await else {
            panic!("a batch")
        };
        assert_eq!(b.len(), 2);
        // The next batch waits for the rest of the 250 ms and takes everything that came.
        for _ in 0..3 {
            ev_tx.send(event()).await.unwrap();
        }
        let Some(Msg::FleetBatch(b)) = rx.recv().await else {
            panic!("a batch")
        };
        assert_eq!(b.len(), 3);
        assert!(before.elapsed() >= FLEET_FLUSH, "{:?}", before.elapsed());
        // The engine's channel closing ends the source.
        drop(ev_tx);
        source.await.unwrap();
        assert!(rx.recv().await.is_none());
    }
}
