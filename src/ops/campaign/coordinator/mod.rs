//! The campaign's coordinator: the loop that holds the campaign Lease and, every second, looks
//! (the fleet as the engine folds it, the home orchestra's control, what its launches
//! reported), decides (`run::decide`), records what it decides in the orchestras' ConfigMaps
//! *before* acting on it, and acts: each database's ordinary operation launched (`launch`), a
//! halt on the first harm (nothing new starts; operations in flight are asked to finish their
//! current member and settle), notices at the start of each wave, on halt and at the end.
//! Every decision is logged with its reason and audited. It stops when the campaign finished,
//! or it is paused, halted or cancelled and nothing of it runs any more, releasing its Lease.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

mod records;
mod tell;

pub use tell::Say;

use super::judge::{self, Look};
use super::launch::{self, How, Report};
use super::lock::{Lock, LockError};
use super::run::{self, Campaign, DbState, Limits};
use super::state::{Control, Definition, Entry, Phase};
use crate::Exit;
use crate::fleet::DbKey;
use crate::ops::progress::{OpEvent, Outcome};
use crate::source::{Engine, now_ms};

/// Between two looks.
const TICK: Duration = Duration::from_secs(1);

/// One orchestra's ConfigMap as this coordinator last wrote or read it.
struct Held {
    client: kube::Client,
    /// None: not created yet.
    rv: Option<String>,
}

pub struct Coordinator {
    pub env: Arc<launch::Env>,
    pub def: Definition,
    pub ns: String,
    pub control: Control,
    pub states: BTreeMap<DbKey, DbState>,
    pub lock: Lock,
    pub engine: Engine,
    pub output: Say,
    held: BTreeMap<String, Held>,
    tasks: BTreeMap<DbKey, (tokio::task::JoinHandle<()>, watch::Sender<bool>)>,
    tx: mpsc::UnboundedSender<Report>,
    rx: mpsc::UnboundedReceiver<Report>,
    dirty: BTreeSet<String>,
    /// Databases this coordinator asked to cancel (a halt): they start again on resume.
    interrupted: BTreeSet<DbKey>,
    /// Launches left without a task whose orchestra is not seen enough to judge them (told once).
    unseen: BTreeSet<DbKey>,
    wave_told: Option<usize>,
    said: String,
    /// Webhook notices, posted in order by `poster`.
    notices: Option<mpsc::UnboundedSender<(String, serde_json::Value)>>,
    poster: Option<tokio::task::JoinHandle<()>>,
}

impl Coordinator {
    /// A coordinator of `def` holding `lock`, with each orchestra's client and the
    /// resourceVersion of its ConfigMap as read (None: to be created).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        env: Arc<launch::Env>,
        def: Definition,
        ns: String,
        control: Control,
        states: BTreeMap<DbKey, DbState>,
        lock: Lock,
        engine: Engine,
        output: Say,
        clients: BTreeMap<String, (kube::Client, Option<String>)>,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let (notices, poster) = match tell::poster(&env) {
            Some((n, p)) => (Some(n), Some(p)),
            None => (None, None),
        };
        let held: BTreeMap<String, Held> = clients
            .into_iter()
            .map(|(o, (client, rv))| (o, Held { client, rv }))
            .collect();
        let dirty = held.keys().cloned().collect();
        Self {
            env,
            def,
            ns,
            control,
            states,
            lock,
            engine,
            output,
            held,
            tasks: BTreeMap::new(),
            tx,
            rx,
            dirty,
            interrupted: BTreeSet::new(),
            unseen: BTreeSet::new(),
            wave_told: None,
            said: String::new(),
            notices,
            poster,
        }
    }

    fn campaign(&self) -> Campaign {
        Campaign {
            waves: self
                .def
                .waves
                .iter()
                .map(|w| w.iter().map(Entry::key).collect())
                .collect(),
            states: self.states.clone(),
            soak_ms: u64::try_from(self.def.spec.soak.as_millis()).unwrap_or(u64::MAX),
            limits: Limits {
                max_parallel: self.def.spec.max_parallel.max(1),
                max_per_orchestra: self.def.spec.max_per_orchestra.max(1),
            },
            paused: self.control.phase.stopped(),
        }
    }

    fn ended(&mut self, k: &DbKey, o: &Outcome) {
        let interrupted = self.interrupted.remove(k);
        let (s, halt) = judge::of_outcome(o, now_ms(), interrupted, self.def.spec.on_refusal);
        self.set(k, s);
        if let Some(why) = halt {
            self.halt(k, &why);
        }
    }

    fn on_report(&mut self, r: Report) {
        match r {
            Report::Event(k, ev) => {
                if matches!(ev, OpEvent::Check(_) | OpEvent::Plan { .. }) {
                    return;
                }
                let line = ev.text();
                self.say(
                    serde_json::json!({"event": "progress", "database": k.id(), "progress": ev}),
                    &format!("           {}: {}", k.id(), line.trim_end()),
                );
            }
            Report::Launched(k, job) => {
                self.tasks.remove(&k);
                self.audit(
                    &k.id(),
                    "launch",
                    &format!("job/{}/{job}", k.namespace),
                    "ok: the operation runs in the orchestra",
                );
            }
            Report::Ended(k, o) => {
                self.tasks.remove(&k);
                self.ended(&k, &o);
            }
        }
    }

    /// Launches running databases no task of this coordinator follows: in the orchestra, or
    /// left by a coordinator gone (resumed here when interrupted, launched again when never
    /// launched).
    fn observe_running(&mut self, now: u64) {
        let running: Vec<(DbKey, u64, String, Option<String>)> = self
            .states
            .iter()
            .filter(|(k, _)| !self.tasks.contains_key(*k))
            .filter_map(|(k, s)| match s {
                DbState::Running {
                    started_ms,
                    holder,
                    job,
                } => Some((k.clone(), *started_ms, holder.clone(), job.clone())),
                _ => None,
            })
            .collect();
        for (k, started_ms, holder, job) in running {
            let fleet = self.engine.fleet();
            if let Err(why) = judge::sees(fleet.orchestras.get(&k.orchestra), job.is_some()) {
                if self.unseen.insert(k.clone()) {
                    tracing::info!(database = %k.id(), why, "campaign: its launch is judged once the orchestra is seen");
                }
                continue;
            }
            self.unseen.remove(&k);
            let d = fleet.databases.get(&k).map(|b| &**b);
            match judge::running(d, started_ms, &holder, job.as_deref(), now) {
                Look::InFlight => {}
                Look::Ended(o) => {
                    if let Some(job) = job.clone() {
                        let env = Arc::clone(&self.env);
                        let k = k.clone();
                        tokio::spawn(
                            async move { launch::copy_runner_audit(&env, &k, &job).await },
                        );
                    }
                    self.ended(&k, &o);
                }
                Look::Resume => {
                    tracing::warn!(database = %k.id(), holder = %holder, "campaign: the operation's holder stopped renewing; resuming it here");
                    self.audit(
                        &k.id(),
                        "resume",
                        &format!("lease/baton-op-{}", k.name),
                        &format!("its holder {holder} stopped renewing"),
                    );
                    self.set(
                        &k,
                        DbState::Running {
                            started_ms,
                            holder: self.env.holder.clone(),
                            job: None,
                        },
                    );
                    self.spawn(&k, How::Resume);
                }
                Look::Relaunch => {
                    tracing::warn!(database = %k.id(), holder = %holder, "campaign: recorded as launched, but nothing shows it started; it starts again");
                    self.audit(
                        &k.id(),
                        "relaunch",
                        &k.id(),
                        &format!("nothing shows {holder}'s launch started"),
                    );
                    self.set(&k, DbState::Pending);
                }
            }
        }
    }

    fn spawn(&mut self, k: &DbKey, how: How) {
        let (cancel, cancel_rx) = watch::channel(false);
        let h = launch::spawn(
            Arc::clone(&self.env),
            k.clone(),
            how,
            cancel_rx,
            self.tx.clone(),
        );
        self.tasks.insert(k.clone(), (h, cancel));
    }

    /// Records each database as running (written before it is launched), then launches it.
    async fn start(&mut self, keys: Vec<DbKey>, now: u64) {
        let mut launches = Vec::new();
        for k in keys {
            let (holder, job) = if self.env.in_cluster(&k.orchestra) {
                let (job, holder) = launch::job_of(&k, now);
                (holder, Some(job))
            } else {
                (self.env.holder.clone(), None)
            };
            self.set(
                &k,
                DbState::Running {
                    started_ms: now,
                    holder,
                    job,
                },
            );
            launches.push(k);
        }
        self.save().await;
        for k in launches {
            // Not recorded (the orchestra did not take the write): not launched either.
            if self.dirty.contains(&k.orchestra) {
                self.set(&k, DbState::Pending);
                continue;
            }
            self.audit(
                &k.id(),
                "start",
                &k.id(),
                &format!(
                    "{} (wave rule: within --max-parallel {} and --max-per-orchestra {})",
                    self.def.spec.operation.as_str(),
                    self.def.spec.max_parallel,
                    self.def.spec.max_per_orchestra
                ),
            );
            self.spawn(
                &k,
                How::Start {
                    operation: self.def.spec.operation,
                    params: self.def.spec.params.clone(),
                    started_ms: now,
                },
            );
        }
    }

    /// Halts fleet-wide on harm to `k`: nothing new starts, and what runs is asked to finish
    /// its current member and settle.
    fn halt(&mut self, k: &DbKey, why: &str) {
        if self.control.phase != Phase::Running {
            return;
        }
        tracing::error!(campaign = %self.def.spec.name, database = %k.id(), why, "campaign halted");
        self.audit(
            &k.id(),
            "halt",
            &format!("campaign/{}", self.def.spec.name),
            why,
        );
        self.set_control(Phase::Halted, why, Some(k));
        let text = format!(
            "campaign {} HALTED on {}: {why}. Nothing new starts; operations in flight finish their current member and settle. `baton campaign resume {}` after a human looked.",
            self.def.spec.name,
            k.id(),
            self.def.spec.name
        );
        self.say(
            serde_json::json!({"event": "halt", "database": k.id(), "why": why}),
            &text,
        );
        self.notify(text);
        let in_flight: Vec<DbKey> = self
            .states
            .iter()
            .filter(|(_, s)| matches!(s, DbState::Running { .. }))
            .map(|(k, _)| k.clone())
            .collect();
        for r in in_flight {
            self.interrupted.insert(r.clone());
            match self.tasks.get(&r) {
                Some((_, cancel)) => {
                    let _ = cancel.send(true);
                }
                None => {
                    let env = Arc::clone(&self.env);
                    let by = format!(
                        "campaign {} halted by {}",
                        self.def.spec.name, self.env.holder
                    );
                    tokio::spawn(async move { launch::request_cancel(&env, &r, &by).await });
                }
            }
        }
    }

    /// Runs the campaign until it finished or stopped with nothing of it running; the exit
    /// code (`op`'s: 0 finished, paused or cancelled; 1 halted or the lock lost).
    pub async fn run(mut self) -> Exit {
        loop {
            self.focus();
            // A look every second, or at once when a launch ended (its slot is free); the fleet
            // is folded meanwhile, progress lines printed as they come.
            let wake = tokio::time::Instant::now() + TICK;
            loop {
                let left = wake.saturating_duration_since(tokio::time::Instant::now());
                tokio::select! {
                    _ = self.engine.until(left, |_| false) => break,
                    r = self.rx.recv() => match r {
                        Some(r @ Report::Event(..)) => self.on_report(r),
                        Some(r) => {
                            self.on_report(r);
                            break;
                        }
                        None => break,
                    },
                }
            }
            let now = now_ms();
            match self.lock.renew(now).await {
                Ok(()) => {}
                Err(LockError::Failed(e)) => {
                    tracing::warn!(error = %e, "campaign Lease not renewed; trying again")
                }
                Err(e) => {
                    let text = format!(
                        "campaign {}: lost its Lease ({e}): this coordinator stops; what it ran locally is cancelled and settles, for the new coordinator to resume",
                        self.def.spec.name
                    );
                    self.say(
                        serde_json::json!({"event": "lost", "why": e.to_string()}),
                        &text,
                    );
                    for (h, cancel) in std::mem::take(&mut self.tasks).into_values() {
                        let _ = cancel.send(true);
                        let _ = h.await;
                    }
                    return Exit::Failed;
                }
            }
            self.read_control().await;
            while let Ok(r) = self.rx.try_recv() {
                self.on_report(r);
            }
            self.observe_running(now);
            let c = self.campaign();
            let fleet = self.engine.fleet();
            let d = run::decide(
                &c,
                |k| match c.states.get(k) {
                    Some(DbState::Done { ended_ms, .. }) => judge::seen(fleet, k, *ended_ms, now),
                    _ => None,
                },
                now,
            );
            if let Some((k, why)) = &d.halt {
                self.halt(k, why);
            }
            if !self.control.phase.stopped() && d.wave.is_some() && d.wave != self.wave_told {
                self.wave_told = d.wave;
                if let Some(w) = d.wave {
                    let text = format!(
                        "campaign {}: wave {}/{} ({}) begins: {} database(s)",
                        self.def.spec.name,
                        w + 1,
                        self.def.waves.len(),
                        if w == 0 { "the canary" } else { "widening" },
                        self.def.waves[w].len()
                    );
                    self.audit(
                        "",
                        "wave",
                        &format!("campaign/{}", self.def.spec.name),
                        &text,
                    );
                    self.notify(text);
                }
            }
            if !d.start.is_empty() && !self.control.phase.stopped() {
                self.start(d.start.clone(), now).await;
            }
            if d.finished && self.control.phase != Phase::Finished {
                self.set_control(Phase::Finished, "every database ended", None);
            }
            self.save().await;
            self.summary(&d);
            let running = self
                .states
                .values()
                .any(|s| matches!(s, DbState::Running { .. }));
            if self.control.phase.stopped()
                && !running
                && self.tasks.is_empty()
                && self.dirty.is_empty()
            {
                return self.stop().await;
            }
        }
    }

    async fn stop(mut self) -> Exit {
        let phase = self.control.phase;
        let name = self.def.spec.name.clone();
        let text = match phase {
            Phase::Finished => {
                let n = |w: &str| self.states.values().filter(|s| s.word() == w).count();
                format!(
                    "campaign {name} finished: {} done, {} skipped, {} failed",
                    n("done"),
                    n("skipped"),
                    n("failed")
                )
            }
            p => format!(
                "campaign {name} {}{}: nothing of it runs now; this coordinator stops (`baton campaign resume {name}` goes on)",
                p.word(),
                if self.control.why.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", self.control.why)
                }
            ),
        };
        self.audit("", "stop", &format!("campaign/{name}"), &text);
        self.say(
            serde_json::json!({"event": "end", "phase": phase.word(), "why": self.control.why}),
            &text,
        );
        if phase == Phase::Finished {
            self.notify(text);
        }
        // Every notice told is posted before the process ends (each gives up after 5 s).
        self.notices = None;
        if let Some(p) = self.poster.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), p).await;
        }
        if let Err(e) = self.lock.release(now_ms()).await {
            tracing::warn!(error = %e, "campaign Lease not released; it goes stale in 15 s");
        }
        match phase {
            Phase::Halted => Exit::Failed,
            _ => Exit::Ok,
        }
    }
}
