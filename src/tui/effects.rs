//! The effects executor: runs each [`Cmd`] that `update` returns. Commands about the terminal or
//! the loop itself (quit, fail, focus, OSC52 copy) are done in place; anything that does I/O or
//! takes time runs as a tokio task that answers with a [`Msg`] on the runtime's channel, and may
//! send progress messages on the way (the sender it is given).
//!
//! Adding an effect: a `Cmd` variant, a `Msg` variant for its answer, and one arm in
//! [`Effects::execute`]:
//!
//! ```ignore
//! Cmd::Backup(target) => self.spawn(move |progress| async move {
//!     let _ = progress.send(Msg::OpProgress(..)).await;
//!     Msg::OpDone(run_backup(target).await)
//! }),
//! ```

use std::future::Future;
use std::io::Write;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::{JoinError, JoinSet};

use super::TuiError;
use super::msg::{Cmd, Msg, osc52};
use crate::config::ThemeError;
use crate::config::theme::ThemeSet;
use crate::source::Focus;

/// What the loop does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

/// Runs commands; owns the tasks it started (aborted when it drops).
pub struct Effects {
    tx: mpsc::Sender<Msg>,
    themes: Arc<ThemeSet>,
    focus: watch::Sender<Focus>,
    tasks: JoinSet<()>,
}

impl Effects {
    /// Answers go on `tx`, the runtime's channel.
    pub fn new(tx: mpsc::Sender<Msg>, themes: ThemeSet, focus: watch::Sender<Focus>) -> Self {
        Self {
            tx,
            themes: Arc::new(themes),
            focus,
            tasks: JoinSet::new(),
        }
    }

    /// Runs one command: in place when it is about the terminal or the loop, else as a task.
    /// `out` is the terminal's byte stream.
    pub fn execute(&mut self, cmd: Cmd, out: &mut impl Write) -> Result<Flow, TuiError> {
        match cmd {
            Cmd::Quit => return Ok(Flow::Quit),
            Cmd::Fail(e) => return Err(TuiError::Failed(e)),
            Cmd::SetFocus(f) => {
                self.focus.send_replace(f);
            }
            Cmd::Copy(text) => {
                out.write_all(osc52(&text).as_bytes())?;
                out.flush()?;
            }
            Cmd::LoadTheme(name) => {
                let themes = Arc::clone(&self.themes);
                self.spawn(move |_| async move {
                    let loaded = {
                        let name = name.clone();
                        // A file read: on the blocking pool.
                        tokio::task::spawn_blocking(move || themes.load(&name)).await
                    };
                    Msg::theme_loaded(&name, loaded.unwrap_or_else(|e| Err(lost(&name, e))))
                });
            }
        }
        Ok(Flow::Continue)
    }

    /// Runs `work` as a task. It gets a sender for progress messages; the message it ends with
    /// is its answer. Both go on the runtime's channel (a full channel makes the task wait).
    fn spawn<F, Fut>(&mut self, work: F)
    where
        F: FnOnce(mpsc::Sender<Msg>) -> Fut,
        Fut: Future<Output = Msg> + Send + 'static,
    {
        let tx = self.tx.clone();
        let task = work(tx.clone());
        self.tasks.spawn(async move {
            let answer = task.await;
            // An error means the loop is gone: nobody is left to tell.
            let _ = tx.send(answer).await;
        });
    }

    /// Waits for the next task to end (pending forever when none runs); for the loop's select.
    pub async fn finished(&mut self) -> Result<(), JoinError> {
        match self.tasks.join_next().await {
            Some(r) => r,
            None => std::future::pending().await,
        }
    }
}

/// A theme load whose task died (it panicked or was cancelled).
fn lost(name: &str, e: JoinError) -> ThemeError {
    ThemeError {
        source_name: name.to_string(),
        line: None,
        message: format!("the loading task failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn effects() -> (Effects, mpsc::Receiver<Msg>, watch::Receiver<Focus>) {
        let (tx, rx) = mpsc::channel(8);
        let (focus, focus_rx) = watch::channel(Focus::default());
        (Effects::new(tx, ThemeSet::new(None), focus), rx, focus_rx)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_theme_loads_in_a_task_and_answers_on_the_channel() {
        let (mut fx, mut rx, _) = effects();
        let mut out = Vec::new();
        let flow = fx
            .execute(Cmd::LoadTheme("light".into()), &mut out)
            .unwrap();
        assert_eq!(flow, Flow::Continue);
        match rx.recv().await {
            Some(Msg::ThemeLoaded(Ok(t))) => assert_eq!(t.name, "light"),
            other => panic!("{other:?}"),
        }
        fx.execute(Cmd::LoadTheme("nosuch".into()), &mut out)
            .unwrap();
        match rx.recv().await {
            Some(Msg::ThemeLoaded(Err(e))) => assert!(e.contains("cannot load theme 'nosuch'")),
            other => panic!("{other:?}"),
        }
        assert!(out.is_empty());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn terminal_and_loop_commands_are_done_in_place() {
        let (mut fx, _rx, focus) = effects();
        let mut out = Vec::new();
        assert_eq!(fx.execute(Cmd::Quit, &mut out).unwrap(), Flow::Quit);
        assert!(matches!(
            fx.execute(Cmd::Fail("gone".into()), &mut out),
            Err(TuiError::Failed(e)) if e == "gone"
        ));
        fx.execute(Cmd::Copy("a/b/c".into()), &mut out).unwrap();
        assert_eq!(out, osc52("a/b/c").into_bytes());
        let f = Focus {
            open: Some(crate::fleet::DbKey {
                orchestra: "a".into(),
                namespace: "b".into(),
                name: "c".into(),
            }),
            visible: Vec::new(),
        };
        fx.execute(Cmd::SetFocus(f.clone()), &mut out).unwrap();
        assert_eq!(*focus.borrow(), f);
    }
}
