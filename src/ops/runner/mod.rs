//! The runner: takes a prepared operation (`prepare`, with `start` and `preflight`) and runs it as a loop — observe,
//! check the safety rules, take the next action toward the goal, wait until settled, record
//! progress on the Lease (taken first, renewed every few seconds), repeat until the goal holds.
//! A wait longer than the step timeout pauses the operation with its reason; it never proceeds
//! past an unsettled database. Progress goes out as owned `OpEvent`s; every mutating request is
//! audited; webhook notices at start and end.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::audit::{self, Audit};
use super::executor::{ExecError, Executor};
use super::plan::{self, Action, Next};
use super::record::{self, OpState, RENEW_EVERY_MS, Record};
use super::safety::{self, Check, View};
use crate::config::OperationName;

pub use super::progress::{OpEvent, Outcome, incident_text};

mod lease;
mod preflight;
mod prepare;
mod start;

pub use start::job_name;

/// The outcome of an operation refused by `rule` before or while it ran.
pub(super) fn refuse(
    rule: &'static str,
    member: Option<&str>,
    detail: impl Into<String>,
) -> Outcome {
    Outcome::Refused(Check::fail(rule, member, detail))
}

/// Knobs of one run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub lag_gate: u64,
    pub step_timeout: Duration,
    /// Between two observations while waiting.
    pub poll: Duration,
    /// Artifacts base (`s3://bucket[/prefix]`).
    pub artifacts: String,
    pub read_only: bool,
    /// The operations the role may run.
    pub allowed: Vec<OperationName>,
    pub role: String,
    pub take_over: bool,
    /// Env var names of the notice and incident webhooks.
    pub webhook_env: Option<String>,
    pub incident_webhook_env: Option<String>,
    /// `operations.allow_force`: `--force RULE` may be used.
    pub allow_force: bool,
    /// Orchestras whose config says they have room for an extra server (default surge).
    pub surge_orchestras: Vec<String>,
}

/// What was asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub member: Option<String>,
    pub expect_leader: Option<String>,
    pub params: BTreeMap<String, String>,
    /// Safety rules to force the operation past (the config must allow it).
    pub force: Vec<String>,
}

/// An operation ready to run: its record, the checks and the plan (shown before confirming).
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub record: Record,
    pub checks: Vec<Check>,
    pub plan: Vec<String>,
    /// The Lease to take: None = create, Some(rv) = replace at that version.
    pub take_at: Option<String>,
    pub resumed: bool,
    /// For `--dry-run`: the Job manifest, if the operation creates one.
    pub job_manifest: Option<serde_json::Value>,
    /// The previous holder, when a stale lock is taken over.
    pub taking_over: Option<String>,
}

pub struct Runner<'a, E: Executor> {
    pub exec: &'a E,
    pub settings: Settings,
    pub events: mpsc::UnboundedSender<OpEvent>,
    pub audit: &'a Audit,
    pub holder: String,
}

impl<E: Executor> Runner<'_, E> {
    pub(super) fn emit(&self, ev: OpEvent) {
        let _ = self.events.send(ev);
    }

    /// Take the lock and run the loop until the goal holds, a timeout pauses it, it fails, or
    /// `cancel` turns true (then the current action finishes and the database settles first).
    pub async fn run(&self, prepared: Prepared, mut cancel: watch::Receiver<bool>) -> Outcome {
        let Prepared {
            mut record,
            take_at,
            resumed,
            plan,
            ..
        } = prepared;
        // A resume keeps the plan of the start (the outline of a resume only has what is left).
        if record.plan.is_empty() {
            record.plan = plan.into_iter().map(|l| crate::clip(&l, 200)).collect();
        }
        let db = self.exec.database_id();
        let op = record.operation.as_str();
        record.detail = if resumed {
            "resumed".into()
        } else {
            "started".into()
        };
        // The lock: create, or replace the version read (a finished or stale one).
        let taken = match &take_at {
            None => self.exec.create_lease(&self.holder, &record).await,
            Some(rv) => self.exec.replace_lease(rv, &self.holder, &record).await,
        };
        let lease_name = format!(
            "lease/{}",
            super::kube::lease_name(db.rsplit('/').next().unwrap_or(""))
        );
        let mut rv = match taken {
            Ok(l) => {
                self.audit.record(
                    if take_at.is_none() {
                        "create"
                    } else {
                        "update"
                    },
                    &lease_name,
                    "ok",
                );
                l.resource_version
            }
            Err(ExecError::Conflict(_)) => {
                self.audit.record("create", &lease_name, "conflict: held");
                let who = match self.exec.get_lease().await {
                    Ok(Some(l)) => format!(
                        "{}: {}",
                        l.holder,
                        match &l.record {
                            Some(Ok(r)) => record::summary(r),
                            _ => "?".into(),
                        }
                    ),
                    _ => "another operator".into(),
                };
                return refuse(
                    safety::LOCK,
                    None,
                    format!("held by {who} (taken a moment ago)"),
                );
            }
            Err(ExecError::Forbidden(m)) | Err(ExecError::ReadOnly(m)) => {
                self.audit
                    .record("create", &lease_name, &format!("forbidden: {m}"));
                return refuse(
                    safety::PERMISSION,
                    None,
                    format!("cannot take the lock: {m}"),
                );
            }
            Err(e) => {
                self.audit
                    .record("create", &lease_name, &format!("failed: {e}"));
                return Outcome::Failed(format!("cannot take the lock: {e}"));
            }
        };
        let started = Instant::now();
        self.emit(OpEvent::Started {
            operation: op.into(),
            database: db.clone(),
            holder: self.holder.clone(),
            resumed,
        });
        self.audited_event(
            if resumed {
                "OperationResumed"
            } else {
                "OperationStarted"
            },
            &format!(
                "baton {op} {} by {}",
                if resumed { "resumed" } else { "started" },
                self.holder
            ),
            false,
        )
        .await;
        self.notify(
            &format!(
                ":arrow_forward: {} {op} on {db}",
                if resumed { "resumed" } else { "started" }
            ),
            &record,
            None,
            None,
        );

        if !record.forced.is_empty() {
            let rules = record.forced.join(", ");
            self.audit
                .record("force", &rules, "allowed by operations.allow_force");
            tracing::warn!(operation = op, database = %db, rules = %rules, "operation forced past safety rules");
            self.emit(OpEvent::Notice {
                message: format!(
                    "forced past: {rules} (operations.allow_force); each forced failure is logged"
                ),
            });
        }
        let mut last_renew = Instant::now();
        let mut progress_at = Instant::now();
        let mut step_started: Option<(u32, Instant)> = None;
        let mut last_wait = String::new();
        let mut log_seen = 0usize;
        // A cancel asked on the Lease by another baton (`baton op cancel`, any dashboard).
        let mut cancel_by: Option<String> = None;
        let cancelled =
            |c: &watch::Receiver<bool>, by: &Option<String>| *c.borrow() || by.is_some();
        let end = loop {
            // Renew (and publish progress) every few seconds.
            if last_renew.elapsed() >= Duration::from_millis(RENEW_EVERY_MS) {
                match self.write_lease(&rv, &record, &mut cancel_by).await {
                    Ok(new_rv) => rv = new_rv,
                    Err(o) => break o,
                }
                last_renew = Instant::now();
            }
            let obs = match self.exec.observe().await {
                Ok(o) => Some(o),
                Err(e) => {
                    let why = format!("cannot observe: {e}");
                    if why != last_wait {
                        self.emit(OpEvent::Waiting {
                            reason: why.clone(),
                            elapsed_ms: 0,
                        });
                        last_wait = why;
                    }
                    None
                }
            };
            if let (Some(job), Some(_)) = (&record.job, &obs)
                && record.step > 0
                && let Ok(Some((pod, lines))) = self.exec.job_log(job, log_seen).await
            {
                log_seen += lines.len();
                for line in lines {
                    self.emit(OpEvent::Log {
                        pod: pod.clone(),
                        line,
                    });
                }
            }
            let next = match &obs {
                Some(obs) => {
                    let d = obs.derive(self.settings.lag_gate);
                    let v = View {
                        obs,
                        d: &d,
                        lag_gate: self.settings.lag_gate,
                        forced: &record.forced,
                    };
                    plan::decide(&record, &v, false)
                }
                None => Next::Wait(last_wait.clone()),
            };
            match next {
                Next::Act(action) => {
                    if let Some((n, at)) = step_started.take() {
                        self.emit(OpEvent::StepDone {
                            step: n,
                            elapsed_ms: ms(at.elapsed()),
                        });
                    }
                    // Before the next action: has anyone asked on the Lease to cancel?
                    if cancel_by.is_none()
                        && let Ok(Some(l)) = self.exec.get_lease().await
                    {
                        self.take_cancel(&l, &mut cancel_by);
                    }
                    // A runner Job told to stop by Kubernetes (its pod deleted, evicted, drained)
                    // did not decide to cancel: it leaves the operation paused, to resume.
                    if cancel_by.is_none() && *cancel.borrow() && record::runner_job().is_some() {
                        break Outcome::Paused(format!(
                            "the runner Job's pod was stopped before step {}; the database is settled: baton op resume --take-over continues it",
                            record.step + 1
                        ));
                    }
                    if cancelled(&cancel, &cancel_by) {
                        break Outcome::Cancelled(format!(
                            "cancelled{} before step {}; the database is settled",
                            cancel_by
                                .as_deref()
                                .map(|b| format!(" by {b}"))
                                .unwrap_or_default(),
                            record.step + 1
                        ));
                    }
                    record.step += 1;
                    record.detail = action.describe();
                    record.waiting = None;
                    // Record the step before taking it: a resume re-observes and sees whether it happened.
                    match self.write_lease(&rv, &record, &mut cancel_by).await {
                        Ok(new_rv) => rv = new_rv,
                        Err(o) => break o,
                    }
                    last_renew = Instant::now();
                    self.emit(OpEvent::Step {
                        step: record.step,
                        action: action.describe(),
                        member: action.member().map(str::to_string),
                    });
                    tracing::info!(operation = op, database = %db, step = record.step, action = %action.describe(), "operation step");
                    if let Err(e) = self.apply(&action).await {
                        match e {
                            ExecError::Forbidden(m) | ExecError::ReadOnly(m) => {
                                break Outcome::Failed(format!(
                                    "{} was refused: {m}",
                                    action.describe()
                                ));
                            }
                            e => self.emit(OpEvent::Notice {
                                message: format!("{} failed ({e}); retrying", action.describe()),
                            }),
                        }
                    }
                    step_started = Some((record.step, Instant::now()));
                    progress_at = Instant::now();
                    last_wait.clear();
                }
                Next::Wait(_) | Next::Blocked(_) => {
                    let reason = match next {
                        Next::Blocked(c) => match &c.member {
                            Some(m) => format!("{} ({m}): {}", c.rule, c.detail),
                            None => format!("{}: {}", c.rule, c.detail),
                        },
                        Next::Wait(r) => r,
                        _ => String::new(),
                    };
                    if reason != last_wait {
                        tracing::info!(operation = op, database = %db, reason = %reason, "operation waits");
                        self.emit(OpEvent::Waiting {
                            reason: reason.clone(),
                            elapsed_ms: ms(progress_at.elapsed()),
                        });
                        last_wait = reason.clone();
                        // Published with the next renewal, for those following from the Lease.
                        record.waiting = Some(crate::clip(&reason, 300));
                    }
                    if progress_at.elapsed() > self.settings.step_timeout {
                        break Outcome::Paused(format!(
                            "waited {}s at step {}: {reason}",
                            self.settings.step_timeout.as_secs(),
                            record.step
                        ));
                    }
                }
                Next::Done(m) => {
                    if let Some((n, at)) = step_started.take() {
                        self.emit(OpEvent::StepDone {
                            step: n,
                            elapsed_ms: ms(at.elapsed()),
                        });
                    }
                    break Outcome::Done(m);
                }
                Next::Fail(m) => break Outcome::Failed(m),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.settings.poll) => {}
                _ = cancel.changed() => {}
            }
        };
        let (state, detail) = match &end {
            Outcome::Done(m) | Outcome::Nothing(m) => (OpState::Done, m.clone()),
            Outcome::Paused(m) => (OpState::Paused, m.clone()),
            Outcome::Cancelled(m) => (OpState::Cancelled, m.clone()),
            Outcome::Refused(c) => (OpState::Failed, c.line()),
            Outcome::Failed(m) | Outcome::Usage(m) => (OpState::Failed, m.clone()),
        };
        record.state = state;
        record.detail = detail.clone();
        record.waiting = None;
        let lost = matches!(&end, Outcome::Failed(m) if m.starts_with("lost the lock"));
        if !lost && let Err(o) = self.write_lease(&rv, &record, &mut cancel_by).await {
            self.emit(OpEvent::Notice {
                message: format!("could not record the end on the lock: {o:?}"),
            });
        }
        let elapsed = started.elapsed();
        self.emit(OpEvent::Finished {
            state,
            detail: detail.clone(),
            elapsed_ms: ms(elapsed),
        });
        self.audited_event(
            &format!("Operation{}", capitalised(state.word())),
            &format!("baton {op} {}: {detail}", state.word()),
            state != OpState::Done,
        )
        .await;
        let icon = if state == OpState::Done {
            ":white_check_mark:"
        } else {
            ":warning:"
        };
        if let Some(h) = self.notify(
            &format!("{icon} {op} on {db} {}: {detail}", state.word()),
            &record,
            Some(state),
            Some(elapsed),
        ) {
            let _ = tokio::time::timeout(Duration::from_secs(6), h).await;
        }
        end
    }

    async fn apply(&self, action: &Action) -> Result<(), ExecError> {
        let (verb, object, result) = match action {
            Action::DeletePod { pod, uid } => (
                "delete",
                format!("pod/{pod}"),
                self.exec.delete_pod(pod, uid).await,
            ),
            Action::Scale {
                sts,
                replicas,
                remember,
            } => (
                "patch",
                format!("statefulset/{sts} replicas={replicas}"),
                self.exec.scale(sts, *replicas, *remember).await,
            ),
            Action::CreateJob(j) => (
                "create",
                format!("job/{}", j.name),
                self.exec.create_job(j).await,
            ),
            Action::PatchTemplate { sts, change } => (
                "patch",
                format!("statefulset/{sts} template"),
                self.exec.patch_template(sts, change).await,
            ),
            Action::ReplaceVolume {
                pod,
                pod_uid,
                claim,
            } => {
                // The claim first: pvc-protection holds it until the pod is gone, and the
                // StatefulSet then makes the new pod with a new, empty claim.
                if let Some((name, uid)) = claim {
                    let r = self.exec.delete_claim(name, uid).await;
                    let res = r.as_ref().map_or_else(|e| e.to_string(), |()| "ok".into());
                    self.audit
                        .record("delete", &format!("persistentvolumeclaim/{name}"), &res);
                    r?;
                }
                (
                    "delete",
                    format!("pod/{pod}"),
                    self.exec.delete_pod(pod, pod_uid).await,
                )
            }
            Action::CreateStatefulSet { like, name, change } => (
                "create",
                format!("statefulset/{name} (like {like}: {})", change.describe()),
                self.exec.create_statefulset_like(like, name, change).await,
            ),
            Action::DeleteStatefulSet { sts } => (
                "delete",
                format!("statefulset/{sts}"),
                self.exec.delete_statefulset(sts).await,
            ),
            Action::Cypher { pod, statement } => (
                "cypher",
                format!("{statement} on {pod}"),
                self.exec.cypher(pod, statement).await,
            ),
        };
        let res = match &result {
            Ok(()) => "ok".to_string(),
            Err(e) => e.to_string(),
        };
        self.audit.record(verb, &object, &res);
        result
    }

    async fn audited_event(&self, reason: &str, message: &str, warning: bool) {
        let r = self.exec.event(reason, message, warning).await;
        let res = match &r {
            Ok(()) => "ok".to_string(),
            Err(e) => e.to_string(),
        };
        self.audit
            .record("create", &format!("event/{reason}"), &res);
        if let Err(e) = r {
            self.emit(OpEvent::Notice {
                message: format!("could not record the Kubernetes Event: {e}"),
            });
        }
    }

    /// Posts a notice in the background; a failure is reported, never fatal.
    fn notify(
        &self,
        text: &str,
        record: &Record,
        state: Option<OpState>,
        elapsed: Option<Duration>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let url = audit::webhook_from_env(self.settings.webhook_env.as_deref())?;
        let fields = serde_json::json!({
            "caller": crate::ops::record::launched_by().unwrap_or_else(|| self.holder.clone()),
            "runner": self.holder,
            "operation": record.operation.as_str(),
            "database": self.exec.database_id(),
            "orchestra": self.exec.database_id().split('/').next().unwrap_or(""),
            "started_at": chrono::DateTime::from_timestamp_millis(i64::try_from(record.started_ms).unwrap_or(0)).map(|t| t.to_rfc3339()),
            "result": state.map(|s| s.word()),
            "duration_s": elapsed.map(|d| d.as_secs_f64()),
        });
        let text = text.to_string();
        let events = self.events.clone();
        Some(tokio::spawn(async move {
            if let Err(e) = audit::post_webhook(&url, &text, fields).await {
                tracing::warn!(error = %e, "webhook notice");
                let _ = events.send(OpEvent::Notice {
                    message: format!("webhook notice not sent: {e}"),
                });
            }
        }))
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn capitalised(w: &str) -> String {
    let mut c = w.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
