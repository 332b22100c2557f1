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

use std::collections::HashMap;
use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::{JoinError, JoinSet};

mod campaign;

use super::TuiError;
use super::msg::{Cmd, Msg, OpCmd, OpMsg, OpStart, Refusal, osc52};
use crate::cli::OpTarget;
use crate::config::theme::ThemeSet;
use crate::config::{Config, ThemeError};
use crate::fleet::DbKey;
use crate::ops::audit::Audit;
use crate::ops::connect;
use crate::ops::runner::{OpEvent, Outcome, Runner};
use crate::source::{Focus, now_ms};

/// What operation tasks need: how to reach an orchestra and who this is.
#[derive(Debug, Clone)]
pub struct OpsEnv {
    /// The kubeconfig (None: $KUBECONFIG or ~/.kube/config).
    pub kubeconfig: Option<PathBuf>,
    pub config: Config,
    /// `--read-only` (the config's and the role's are read from `config`).
    pub read_only: bool,
    /// `user@host pid N`, on the Lease and in the audit.
    pub holder: String,
    /// `--context`: the kubeconfig contexts the dashboard shows (all when empty).
    pub contexts: Vec<String>,
}

impl OpsEnv {
    /// Read-only for this orchestra: the flag, the config, the role, or the orchestra's entry.
    /// Enforced here, where requests are made, whatever the UI showed.
    fn read_only_for(&self, orchestra: &str) -> bool {
        connect::read_only(self.read_only, &self.config)
            || self
                .config
                .orchestras
                .get(orchestra)
                .is_some_and(|o| o.read_only)
    }
}

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
    /// None: operations are not wired (tests); their commands answer that they failed.
    ops: Option<Arc<OpsEnv>>,
    /// The cancel switch of each run, by id.
    cancels: HashMap<u64, watch::Sender<bool>>,
}

impl Effects {
    /// Answers go on `tx`, the runtime's channel.
    pub fn new(tx: mpsc::Sender<Msg>, themes: ThemeSet, focus: watch::Sender<Focus>) -> Self {
        Self {
            tx,
            themes: Arc::new(themes),
            focus,
            tasks: JoinSet::new(),
            ops: None,
            cancels: HashMap::new(),
        }
    }

    /// Wires operations: their commands connect with `env`.
    pub fn with_ops(mut self, env: OpsEnv) -> Self {
        self.ops = Some(Arc::new(env));
        self
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
            Cmd::Op(c) => self.operation(c),
            Cmd::Campaign(c) => self.campaign(c),
        }
        Ok(Flow::Continue)
    }

    /// Prepare, run or cancel an operation. Preparing reads only; the runner sends (and audits)
    /// the mutating requests of a confirmed run; a cancel flips the run's switch.
    fn operation(&mut self, cmd: OpCmd) {
        let env = self.ops.clone();
        match cmd {
            OpCmd::Prepare { id, key, start } => self.spawn(move |_| async move {
                let result = match env {
                    Some(env) => prepare(&env, &key, start).await,
                    None => Err(Refusal {
                        outcome: Outcome::Failed(NOT_WIRED.into()),
                        checks: Vec::new(),
                    }),
                };
                Msg::Op(OpMsg::Prepared { id, result })
            }),
            OpCmd::Run { id, key, prepared } => {
                let (cancel, cancelled) = watch::channel(false);
                self.cancels.insert(id, cancel);
                self.spawn(move |progress| async move {
                    let outcome = match env {
                        Some(env) => run(&env, id, &key, *prepared, cancelled, progress).await,
                        None => Outcome::Failed(NOT_WIRED.into()),
                    };
                    Msg::Op(OpMsg::Finished {
                        id,
                        at_ms: now_ms(),
                        outcome,
                    })
                });
            }
            OpCmd::Launch {
                id,
                key,
                prepared,
                request,
                image,
            } => {
                let (cancel, cancelled) = watch::channel(false);
                self.cancels.insert(id, cancel);
                self.spawn(move |progress| async move {
                    let outcome = match env {
                        Some(env) => {
                            let l = (*prepared, request, image);
                            launch(&env, id, &key, l, cancelled, progress).await
                        }
                        None => Outcome::Failed(NOT_WIRED.into()),
                    };
                    Msg::Op(OpMsg::Finished {
                        id,
                        at_ms: now_ms(),
                        outcome,
                    })
                });
            }
            OpCmd::Cancel { id } => {
                if let Some(c) = self.cancels.remove(&id) {
                    c.send_replace(true);
                }
            }
            OpCmd::IncidentSummary { id, key } => self.spawn(move |_| async move {
                let result = match env {
                    Some(env) => match connect_to(&env, &key).await {
                        Ok((exec, _)) => crate::ops::incident::summary(&exec, &env.config).await,
                        Err(m) => Err(m),
                    },
                    None => Err(NOT_WIRED.to_string()),
                };
                Msg::Op(OpMsg::IncidentSummary { id, result })
            }),
            OpCmd::PostIncident { key, text } => self.spawn(move |_| async move {
                let result = match env {
                    Some(env) => match connect_to(&env, &key).await {
                        Ok((exec, settings)) => crate::ops::incident::post(
                            &exec,
                            &settings,
                            &key.orchestra,
                            &text,
                            Audit::default_path(),
                        )
                        .await
                        .map_err(|e| e.to_string()),
                        Err(m) => Err(m),
                    },
                    None => Err(NOT_WIRED.to_string()),
                };
                Msg::Op(OpMsg::IncidentPosted { key, result })
            }),
            OpCmd::RequestCancel { key } => self.spawn(move |_| async move {
                let result = match env {
                    Some(env) => match connect_to(&env, &key).await {
                        Ok((exec, _)) => crate::ops::cancel::request(
                            &exec,
                            &env.holder,
                            Audit::default_path(),
                            now_ms(),
                        )
                        .await
                        .map(|r| format!("{} of {}", r.summary, r.holder))
                        .map_err(|e| e.say(&key.id())),
                        Err(m) => Err(m),
                    },
                    None => Err(NOT_WIRED.to_string()),
                };
                Msg::Op(OpMsg::CancelRequested { key, result })
            }),
            OpCmd::FollowLog { id, key, job } => {
                let (stop, stopped) = watch::channel(false);
                self.cancels.insert(id, stop);
                self.spawn(move |progress| async move {
                    let error = match env {
                        Some(env) => follow_log(&env, id, &key, &job, stopped, progress).await,
                        None => Some(NOT_WIRED.to_string()),
                    };
                    Msg::Op(OpMsg::Log {
                        id,
                        pod: String::new(),
                        lines: Vec::new(),
                        error,
                    })
                });
            }
        }
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

const NOT_WIRED: &str = "operations are not wired in this dashboard";

/// The executor of `key`, and the runner's settings (taking over a stale lock is allowed: the
/// confirmation then needs the database id typed).
async fn connect_to(
    env: &OpsEnv,
    key: &DbKey,
) -> Result<(crate::ops::kube::KubeExecutor, crate::ops::runner::Settings), String> {
    let read_only = env.read_only_for(&key.orchestra);
    let settings = connect::settings(&env.config, read_only, true);
    let target = OpTarget {
        orchestra: key.orchestra.clone(),
        database: key.name.clone(),
        namespace: Some(key.namespace.clone()),
    };
    connect::executor(env.kubeconfig.as_deref(), &env.config, read_only, &target)
        .await
        .map(|e| (e, settings))
        .map_err(|(_, m)| m)
}

fn audit(env: &OpsEnv, exec: &crate::ops::kube::KubeExecutor, operation: &str) -> Audit {
    use crate::ops::Executor as _;
    Audit::new(
        Audit::default_path(),
        &env.holder,
        &exec.identity(),
        operation,
        &exec.database_id(),
    )
}

/// The preflight: observe, read the lock, check. Sends no mutating request.
async fn prepare(
    env: &OpsEnv,
    key: &DbKey,
    start: OpStart,
) -> Result<Box<crate::ops::runner::Prepared>, Refusal> {
    let refusal = |outcome, checks| Refusal { outcome, checks };
    let (exec, settings) = connect_to(env, key)
        .await
        .map_err(|m| refusal(Outcome::Failed(m), Vec::new()))?;
    let name = match &start {
        OpStart::New(op, _) => op.as_str(),
        OpStart::Resume => "resume",
    };
    let audit = audit(env, &exec, name);
    let (events, mut seen) = mpsc::unbounded_channel();
    let runner = Runner {
        exec: &exec,
        settings,
        events,
        audit: &audit,
        holder: env.holder.clone(),
    };
    let prepared = match start {
        OpStart::New(op, req) => runner.prepare(op, &req).await,
        OpStart::Resume => runner.prepare_resume().await,
    };
    drop(runner);
    // The checks a refused preflight showed on its way out.
    let mut checks = Vec::new();
    while let Ok(ev) = seen.try_recv() {
        if let OpEvent::Check(c) = ev {
            checks.push(c);
        }
    }
    prepared
        .map(Box::new)
        .map_err(|outcome| refusal(outcome, checks))
}

/// Follows the pod log of someone else's operation Job (reads only) every second until `stop`
/// turns true; new lines go on `progress`. Ends with why it stopped early, if it did.
async fn follow_log(
    env: &OpsEnv,
    id: u64,
    key: &DbKey,
    job: &str,
    mut stop: watch::Receiver<bool>,
    progress: mpsc::Sender<Msg>,
) -> Option<String> {
    use crate::ops::Executor as _;
    let (exec, _) = match connect_to(env, key).await {
        Ok(c) => c,
        Err(m) => return Some(m),
    };
    let mut seen = 0usize;
    let mut last_error = String::new();
    loop {
        if *stop.borrow() {
            return None;
        }
        match exec.job_log(job, seen).await {
            Ok(Some((pod, lines))) if !lines.is_empty() => {
                seen += lines.len();
                let msg = Msg::Op(OpMsg::Log {
                    id,
                    pod,
                    lines,
                    error: None,
                });
                if progress.send(msg).await.is_err() {
                    return None;
                }
                last_error.clear();
            }
            Ok(_) => {}
            // Said once per kind of failure, not every second.
            Err(e) if e.to_string() != last_error => {
                last_error = e.to_string();
                let msg = Msg::Op(OpMsg::Log {
                    id,
                    pod: String::new(),
                    lines: Vec::new(),
                    error: Some(last_error.clone()),
                });
                if progress.send(msg).await.is_err() {
                    return None;
                }
            }
            Err(_) => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Runs a confirmed operation; its events go on `progress` as they happen.
async fn run(
    env: &OpsEnv,
    id: u64,
    key: &DbKey,
    prepared: crate::ops::runner::Prepared,
    cancel: watch::Receiver<bool>,
    progress: mpsc::Sender<Msg>,
) -> Outcome {
    let (exec, settings) = match connect_to(env, key).await {
        Ok(c) => c,
        Err(m) => return Outcome::Failed(m),
    };
    let audit = audit(env, &exec, prepared.record.operation.as_str());
    let (events, mut rx) = mpsc::unbounded_channel::<OpEvent>();
    let forward = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            let msg = Msg::Op(OpMsg::Event {
                id,
                at_ms: now_ms(),
                event,
            });
            if progress.send(msg).await.is_err() {
                return;
            }
        }
    });
    let runner = Runner {
        exec: &exec,
        settings,
        events,
        audit: &audit,
        holder: env.holder.clone(),
    };
    let outcome = runner.run(prepared, cancel).await;
    drop(runner);
    // Every event before the end (a webhook notice still posting may hold its sender: not long).
    let _ = tokio::time::timeout(Duration::from_secs(2), forward).await;
    outcome
}

/// Runs a confirmed operation in the orchestra: the runner Job created and followed, its
/// progress forwarded as `OpMsg::Event`s.
async fn launch(
    env: &OpsEnv,
    id: u64,
    key: &DbKey,
    (prepared, request, image): (
        crate::ops::runner::Prepared,
        crate::ops::runner::Request,
        String,
    ),
    cancel: watch::Receiver<bool>,
    progress: mpsc::Sender<Msg>,
) -> Outcome {
    use crate::ops::Executor as _;
    use crate::ops::in_cluster::{self, Launch};
    let (exec, settings) = match connect_to(env, key).await {
        Ok(c) => c,
        Err(m) => return Outcome::Failed(m),
    };
    let op = prepared.record.operation;
    let audit = audit(env, &exec, op.as_str());
    let config_text = match crate::config::runner::config_text(&env.config, &key.orchestra) {
        Ok(t) => t,
        Err(m) => return Outcome::Failed(m),
    };
    let l = Launch {
        config_text,
        operation: op,
        orchestra: key.orchestra.clone(),
        namespace: key.namespace.clone(),
        database: key.name.clone(),
        member: request.member,
        params: request.params,
        expect_leader: request.expect_leader,
        force: request.force,
        take_over: prepared.taking_over.is_some(),
        image,
        launched_by: format!("{} ({})", env.holder, exec.identity()),
        command_line: format!("baton dashboard: {} on {}", op.as_str(), key.id()),
        started_ms: now_ms(),
        deadline_s: in_cluster::deadline_s(prepared.plan.len(), settings.step_timeout.as_secs()),
        secrets: in_cluster::SecretEnv::of(&env.config),
    };
    let (events, mut rx) = mpsc::unbounded_channel::<OpEvent>();
    let forward = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            let msg = Msg::Op(OpMsg::Event {
                id,
                at_ms: now_ms(),
                event,
            });
            if progress.send(msg).await.is_err() {
                return;
            }
        }
    });
    let outcome = in_cluster::launch::run_from_dashboard(&exec, &l, &audit, &events, cancel).await;
    drop(events);
    let _ = tokio::time::timeout(Duration::from_secs(2), forward).await;
    outcome
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
