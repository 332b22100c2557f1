//! The runner: prepares an operation (observe, lock state, the record with what later steps
//! compare against, the preflight and the plan) and then runs it as a loop — observe, check the
//! safety rules, take the next action toward the goal, wait until settled, record progress on
//! the Lease, repeat until the goal holds. A wait longer than the step timeout pauses the
//! operation with its reason; it never proceeds past an unsettled database. Progress goes out as
//! owned `OpEvent`s; every mutating request is audited.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{mpsc, watch};

use super::audit::{self, Audit};
use super::executor::{ExecError, Executor};
use super::observe::Observed;
use super::plan::{self, Action, Next};
use super::record::{self, Lock, OpState, RENEW_EVERY_MS, Record};
use super::safety::{self, Check, View};
use crate::config::OperationName;
use crate::fleet::Role;
use crate::source::now_ms;

/// What happens, as it happens (text lines or JSON objects headless; the progress pane later).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum OpEvent {
    Check(Check),
    Plan {
        steps: Vec<String>,
    },
    Started {
        operation: String,
        database: String,
        holder: String,
        resumed: bool,
    },
    Step {
        step: u32,
        action: String,
        member: Option<String>,
    },
    StepDone {
        step: u32,
        elapsed_ms: u64,
    },
    Waiting {
        reason: String,
        elapsed_ms: u64,
    },
    Log {
        pod: String,
        line: String,
    },
    Notice {
        message: String,
    },
    Finished {
        state: OpState,
        detail: String,
        elapsed_ms: u64,
    },
}

impl OpEvent {
    /// One line of headless text.
    pub fn text(&self) -> String {
        let secs = |ms: &u64| format!("{:.1}s", *ms as f64 / 1000.0);
        match self {
            Self::Check(c) => format!("check  {}", c.line()),
            Self::Plan { steps } => {
                let mut s = String::from("plan");
                for (i, step) in steps.iter().enumerate() {
                    s.push_str(&format!("\n  {}. {step}", i + 1));
                }
                s
            }
            Self::Started {
                operation,
                database,
                holder,
                resumed,
            } => format!(
                "{} {operation} on {database} as {holder}",
                if *resumed { "resume" } else { "start " }
            ),
            Self::Step { step, action, .. } => format!("step {step} {action}"),
            Self::StepDone { step, elapsed_ms } => {
                format!("step {step} done in {}", secs(elapsed_ms))
            }
            Self::Waiting { reason, elapsed_ms } => {
                format!("wait   {reason} ({} so far)", secs(elapsed_ms))
            }
            Self::Log { pod, line } => format!("log    [{pod}] {line}"),
            Self::Notice { message } => format!("note   {message}"),
            Self::Finished {
                state,
                detail,
                elapsed_ms,
            } => {
                format!("{:<6} {detail} ({})", state.word(), secs(elapsed_ms))
            }
        }
    }
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done(String),
    /// Nothing was done: `--dry-run`, or the goal already held.
    Nothing(String),
    /// A safety rule, the lock, the role or read-only mode said no. Exit 3.
    Refused(Check),
    /// Waited longer than the step timeout, or cancelled; the Lease keeps the state.
    Paused(String),
    Cancelled(String),
    Failed(String),
    /// Bad input (an unknown member, a missing parameter). Exit 2.
    Usage(String),
}

impl Outcome {
    pub fn exit(&self) -> crate::Exit {
        match self {
            Self::Done(_) | Self::Nothing(_) => crate::Exit::Ok,
            Self::Refused(_) => crate::Exit::Refused,
            Self::Usage(_) => crate::Exit::Usage,
            Self::Paused(_) | Self::Cancelled(_) | Self::Failed(_) => crate::Exit::Failed,
        }
    }
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
}

/// What was asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub member: Option<String>,
    pub expect_leader: Option<String>,
    pub params: BTreeMap<String, String>,
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

fn refuse(rule: &'static str, member: Option<&str>, detail: impl Into<String>) -> Outcome {
    Outcome::Refused(Check::fail(rule, member, detail))
}

/// Job names: `baton-<kind>-<database>-<start in base 36>`, at most 63 characters.
fn job_name(kind: &str, database: &str, started_ms: u64) -> String {
    let mut n = started_ms / 1000;
    let mut stamp = String::new();
    while n > 0 {
        let d = u32::try_from(n % 36).unwrap_or(0);
        stamp.insert(0, char::from_digit(d, 36).unwrap_or('0'));
        n /= 36;
    }
    let mut db: String = database
        .chars()
        .take(63 - 8 - kind.len() - stamp.len())
        .collect();
    while db.ends_with('-') {
        db.pop();
    }
    format!("baton-{kind}-{db}-{stamp}")
}

impl<E: Executor> Runner<'_, E> {
    fn emit(&self, ev: OpEvent) {
        let _ = self.events.send(ev);
    }

    /// Observe, read the lock, build the record and run the preflight. Sends nothing mutating.
    pub async fn prepare(&self, op: OperationName, req: &Request) -> Result<Prepared, Outcome> {
        let spec = super::catalog::spec(op);
        if self.settings.read_only {
            return Err(refuse(
                "read-only",
                None,
                "baton runs read-only (--read-only or the config): operations are off",
            ));
        }
        if !self.settings.allowed.contains(&op) {
            return Err(refuse(
                safety::PERMISSION,
                None,
                format!("role '{}' may not run {}", self.settings.role, op.as_str()),
            ));
        }
        if !spec.available {
            return Err(Outcome::Usage(format!(
                "{} is not in this version of baton",
                op.as_str()
            )));
        }
        // The lock before the database: the lock is then taken at the version read here, so
        // any operation that ran after this look (and may have changed what the look saw)
        // changed the Lease too, and taking it fails.
        let lease = self
            .exec
            .get_lease()
            .await
            .map_err(|e| Outcome::Failed(format!("cannot read the lock: {e}")))?;
        let obs = self.observe().await?;
        if obs.pods.is_empty() && obs.statefulsets.is_empty() {
            return Err(Outcome::Usage(format!(
                "no database '{}' (no pods or StatefulSets with its label)",
                self.exec.database_id()
            )));
        }
        let (take_at, taking_over) = match record::classify(lease.as_ref(), now_ms()) {
            Lock::Free => (None, None),
            Lock::Finished { resource_version } => (Some(resource_version), None),
            Lock::Held {
                holder,
                summary,
                age_s,
            } => {
                return Err(refuse(
                    safety::LOCK,
                    None,
                    format!("held by {holder}: {summary} (renewed {age_s}s ago)"),
                ));
            }
            Lock::Stale {
                resource_version,
                holder,
                summary,
                ..
            } => {
                if !self.settings.take_over {
                    return Err(refuse(
                        safety::LOCK,
                        None,
                        format!(
                            "an interrupted operation holds the lock: {holder}: {summary}; `baton op resume` continues it, --take-over abandons it for this one"
                        ),
                    ));
                }
                (Some(resource_version), Some(format!("{holder}: {summary}")))
            }
        };
        let record = self.new_record(op, req, &obs)?;
        self.preflight(record, &obs, take_at, false, taking_over)
    }

    /// Continue the operation recorded on the Lease.
    pub async fn prepare_resume(&self) -> Result<Prepared, Outcome> {
        if self.settings.read_only {
            return Err(refuse(
                "read-only",
                None,
                "baton runs read-only: operations are off",
            ));
        }
        let lease = self
            .exec
            .get_lease()
            .await
            .map_err(|e| Outcome::Failed(format!("cannot read the lock: {e}")))?;
        match record::classify(lease.as_ref(), now_ms()) {
            Lock::Free | Lock::Finished { .. } => Err(Outcome::Nothing(format!(
                "no interrupted operation on {}",
                self.exec.database_id()
            ))),
            Lock::Held {
                holder,
                summary,
                age_s,
            } => Err(refuse(
                safety::LOCK,
                None,
                format!("still running: {holder}: {summary} (renewed {age_s}s ago)"),
            )),
            Lock::Stale {
                resource_version,
                holder,
                summary,
                record,
                ..
            } => {
                let Some(mut rec) = record else {
                    return Err(Outcome::Failed(format!(
                        "the lock's record cannot be read: {summary}"
                    )));
                };
                if !self.settings.allowed.contains(&rec.operation) {
                    return Err(refuse(
                        safety::PERMISSION,
                        None,
                        format!(
                            "role '{}' may not run {}",
                            self.settings.role,
                            rec.operation.as_str()
                        ),
                    ));
                }
                let same_person = holder.split(" pid ").next() == self.holder.split(" pid ").next();
                if !same_person && !self.settings.take_over {
                    return Err(refuse(
                        safety::LOCK,
                        None,
                        format!(
                            "the interrupted operation is {holder}'s ({summary}); --take-over to continue it as yours"
                        ),
                    ));
                }
                let taking_over = (!same_person).then(|| format!("{holder}: {summary}"));
                let obs = self.observe().await?;
                rec.holder = self.holder.clone();
                rec.state = OpState::Running;
                self.preflight(*rec, &obs, Some(resource_version), true, taking_over)
            }
        }
    }

    async fn observe(&self) -> Result<Observed, Outcome> {
        self.exec.observe().await.map_err(|e| match e {
            ExecError::Forbidden(m) => refuse(
                safety::PERMISSION,
                None,
                format!("cannot read the database: {m}"),
            ),
            e => Outcome::Failed(format!("cannot observe {}: {e}", self.exec.database_id())),
        })
    }

    fn new_record(
        &self,
        op: OperationName,
        req: &Request,
        obs: &Observed,
    ) -> Result<Record, Outcome> {
        let d = obs.derive(self.settings.lag_gate);
        let started_ms = now_ms();
        let mut params = req.params.clone();
        if let Some(l) = &req.expect_leader {
            params.insert("expect-leader".into(), l.clone());
        }
        for p in super::catalog::spec(op)
            .params
            .iter()
            .filter(|p| p.required && p.key != "member")
        {
            if !req.params.contains_key(p.key) {
                return Err(Outcome::Usage(format!(
                    "{} needs --set {}=… ({})",
                    op.as_str(),
                    p.key,
                    p.help
                )));
            }
        }
        if let Some(m) = req.params.get("memory")
            && !valid_quantity(m)
        {
            return Err(Outcome::Usage(format!(
                "memory '{m}' is not a Kubernetes quantity: write e.g. 8Gi, 512Mi or 8G"
            )));
        }
        if let Some(v) = req.params.get("version")
            && (v.is_empty()
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)))
        {
            return Err(Outcome::Usage(format!(
                "version '{v}' is not an image tag: letters, digits, '.', '_' and '-' only"
            )));
        }
        let member_required = matches!(
            op,
            OperationName::RestartMember | OperationName::Diagnostics
        );
        if let Some(m) = &req.member {
            if obs.pod(m).is_none() {
                let names: Vec<&str> = obs.pods.iter().map(|p| p.name.as_str()).collect();
                return Err(Outcome::Usage(format!(
                    "no member '{m}' in {}; its members: {}",
                    self.exec.database_id(),
                    names.join(", ")
                )));
            }
            params.insert("member".into(), m.clone());
        } else if member_required {
            return Err(Outcome::Usage(format!(
                "{} needs --member POD",
                op.as_str()
            )));
        }
        let mut rec = Record {
            operation: op,
            params,
            holder: self.holder.clone(),
            started_ms,
            state: OpState::Running,
            step: 0,
            detail: "preflight".into(),
            original: BTreeMap::new(),
            voters: d.voters.iter().cloned().collect(),
            first: Vec::new(),
            job: None,
        };
        match op {
            OperationName::RollingRestart => {
                rec.original = obs
                    .pods
                    .iter()
                    .map(|p| (p.name.clone(), p.uid.clone()))
                    .collect();
                let v = View {
                    obs,
                    d: &d,
                    lag_gate: self.settings.lag_gate,
                };
                rec.first = obs
                    .pods
                    .iter()
                    .map(|p| p.name.clone())
                    .filter(|p| v.down(p))
                    .collect();
            }
            OperationName::RestartMember => {
                let m = rec.param("member").unwrap_or_default().to_string();
                let uid = obs.pod(&m).map(|p| p.uid.clone()).unwrap_or_default();
                rec.original.insert(m, uid);
            }
            OperationName::Restore => {
                let from = rec.param("from").unwrap_or_default();
                if !from.contains("://") {
                    return Err(Outcome::Usage(format!(
                        "from '{from}' is not an artifact address: write --set from=s3://bucket/path (as printed by `baton op backup`)"
                    )));
                }
                rec.job = Some(job_name(
                    "restore",
                    self.exec.database_id().rsplit('/').next().unwrap_or("db"),
                    started_ms,
                ));
            }
            OperationName::Backup | OperationName::Diagnostics => {
                let kind = if op == OperationName::Backup {
                    "backup"
                } else {
                    "diagnostics"
                };
                if rec.param("member").is_none() {
                    // A caught-up follower, else the leader.
                    let v = View {
                        obs,
                        d: &d,
                        lag_gate: self.settings.lag_gate,
                    };
                    let pick = obs
                        .pods
                        .iter()
                        .map(|p| p.name.as_str())
                        .filter(|p| d.role(p) == Role::Follower && v.unhealthy(p).is_none())
                        .min_by_key(|p| (d.lag(p).unwrap_or(u64::MAX), *p))
                        .or(d.state.leader.as_deref());
                    match pick {
                        Some(p) => {
                            rec.params.insert("member".into(), p.to_string());
                        }
                        None => {
                            return Err(refuse(
                                safety::SETTLED,
                                None,
                                "no caught-up follower or leader to back up from",
                            ));
                        }
                    }
                }
                let name = job_name(
                    kind,
                    self.exec.database_id().rsplit('/').next().unwrap_or("db"),
                    started_ms,
                );
                if !rec.params.contains_key("target") {
                    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
                    let base = self.settings.artifacts.trim_end_matches('/');
                    let target = if kind == "backup" {
                        format!("{base}/{}/{stamp}.backup", self.exec.database_id())
                    } else {
                        format!(
                            "{base}/{}/diagnostics/{stamp}-{}/",
                            self.exec.database_id(),
                            rec.param("member").unwrap_or("member")
                        )
                    };
                    rec.params.insert("target".into(), target);
                }
                rec.job = Some(name);
            }
            _ => {}
        }
        Ok(rec)
    }

    fn preflight(
        &self,
        record: Record,
        obs: &Observed,
        take_at: Option<String>,
        resumed: bool,
        taking_over: Option<String>,
    ) -> Result<Prepared, Outcome> {
        let d = obs.derive(self.settings.lag_gate);
        let v = View {
            obs,
            d: &d,
            lag_gate: self.settings.lag_gate,
        };
        let mut checks = vec![match &taking_over {
            Some(prev) => Check::pass(
                safety::LOCK,
                format!("taking over the stale lock of {prev}"),
            ),
            None => Check::pass(safety::LOCK, "no other operation holds the database"),
        }];
        let next = plan::decide(&record, &v, !resumed && record.step == 0);
        // Show every rule the next action is judged by.
        if let Some(c) = v.expected_leader(record.param("expect-leader")) {
            checks.push(c);
        }
        match &next {
            Next::Act(Action::DeletePod { pod, .. }) => {
                checks.push(v.settled(&[], Some(&record.voters.iter().cloned().collect())));
                checks.push(v.majority(pod));
                checks.push(v.no_other_work(None));
            }
            Next::Act(Action::PatchTemplate { sts, .. }) => {
                checks.push(v.settled(&[], Some(&record.voters.iter().cloned().collect())));
                if let Some(p) = obs.pods.iter().find(|p| p.owner.as_deref() == Some(sts)) {
                    checks.push(v.majority(&p.name));
                }
                checks.push(v.no_other_work(None));
            }
            Next::Act(_) => checks.push(v.no_other_work(record.job.as_deref())),
            Next::Blocked(c) => checks.push(c.clone()),
            _ => {}
        }
        // A failing "settled" for a member the rolling restart takes first is not a refusal.
        if let Next::Act(_) = next {
            for c in checks
                .iter_mut()
                .filter(|c| c.rule == safety::SETTLED && !c.ok)
            {
                c.ok = true;
                c.detail = format!(
                    "not yet, but {} restarts first: {}",
                    c.member.clone().unwrap_or_default(),
                    c.detail
                );
            }
        }
        let plan = plan::outline(&record, obs, self.settings.lag_gate);
        let job_manifest = match (&next, &record.job) {
            (Next::Act(Action::CreateJob(j)), _) => Some(self.exec.job_manifest(j)),
            _ => None,
        };
        let prepared = Prepared {
            record,
            checks,
            plan,
            take_at,
            resumed,
            job_manifest,
            taking_over,
        };
        match next {
            Next::Act(_) => Ok(prepared),
            // Resuming mid-wait is fine: the loop waits.
            Next::Wait(_) if resumed => Ok(prepared),
            Next::Wait(r) => {
                for c in &prepared.checks {
                    self.emit(OpEvent::Check(c.clone()));
                }
                Err(refuse(safety::SETTLED, None, r))
            }
            Next::Blocked(c) => {
                for c in &prepared.checks {
                    self.emit(OpEvent::Check(c.clone()));
                }
                Err(Outcome::Refused(c))
            }
            Next::Done(m) if resumed => Ok(Prepared {
                plan: vec![format!("nothing left: {m}")],
                ..prepared
            }),
            Next::Done(m) => Err(Outcome::Nothing(format!("nothing to do: {m}"))),
            Next::Fail(m) => Err(Outcome::Failed(m)),
        }
    }

    /// Take the lock and run the loop until the goal holds, a timeout pauses it, it fails, or
    /// `cancel` turns true (then the current action finishes and the database settles first).
    pub async fn run(&self, prepared: Prepared, mut cancel: watch::Receiver<bool>) -> Outcome {
        let Prepared {
            mut record,
            take_at,
            resumed,
            ..
        } = prepared;
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

        let mut last_renew = Instant::now();
        let mut progress_at = Instant::now();
        let mut step_started: Option<(u32, Instant)> = None;
        let mut last_wait = String::new();
        let mut log_seen = 0usize;
        let cancelled = |c: &watch::Receiver<bool>| *c.borrow();
        let end = loop {
            // Renew (and publish progress) every few seconds.
            if last_renew.elapsed() >= Duration::from_millis(RENEW_EVERY_MS) {
                match self.write_lease(&rv, &record).await {
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
                    if cancelled(&cancel) {
                        break Outcome::Cancelled(format!(
                            "cancelled before step {}; the database is settled",
                            record.step + 1
                        ));
                    }
                    record.step += 1;
                    record.detail = action.describe();
                    // Record the step before taking it: a resume re-observes and sees whether it happened.
                    match self.write_lease(&rv, &record).await {
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
        let lost = matches!(&end, Outcome::Failed(m) if m.starts_with("lost the lock"));
        if !lost && let Err(o) = self.write_lease(&rv, &record).await {
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

    async fn write_lease(&self, rv: &str, record: &Record) -> Result<String, Outcome> {
        let object = format!(
            "lease/{}",
            super::kube::lease_name(self.exec.database_id().rsplit('/').next().unwrap_or(""))
        );
        match self.exec.replace_lease(rv, &self.holder, record).await {
            Ok(l) => {
                self.audit.record("update", &object, "ok");
                Ok(l.resource_version)
            }
            Err(ExecError::Conflict(m)) => {
                self.audit
                    .record("update", &object, &format!("conflict: {m}"));
                let who = match self.exec.get_lease().await {
                    Ok(Some(l)) => l.holder,
                    _ => "someone else".into(),
                };
                Err(Outcome::Failed(format!(
                    "lost the lock: {who} changed the Lease"
                )))
            }
            Err(e) => {
                // A blip: keep the version, try again at the next renewal.
                self.audit
                    .record("update", &object, &format!("failed: {e}"));
                self.emit(OpEvent::Notice {
                    message: format!("could not renew the lock: {e}"),
                });
                Ok(rv.to_string())
            }
        }
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
            "caller": self.holder,
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

/// `8Gi`, `512Mi`, `8G`, `1e9`, `1073741824`: digits (with at most one point) and an optional
/// Kubernetes unit. The dashboard's parameter form checks with it too.
pub fn valid_quantity(q: &str) -> bool {
    let digits_end = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(q.len());
    let (num, unit) = q.split_at(digits_end);
    !num.is_empty()
        && num.matches('.').count() <= 1
        && num != "."
        && [
            "", "Ki", "Mi", "Gi", "Ti", "Pi", "k", "K", "M", "G", "T", "P",
        ]
        .contains(&unit)
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

/// The incident summary of one observation: health and reasons, each member's role, readiness
/// and lag, plus what the caller knows of recent leader changes.
pub fn incident_text(database: &str, obs: &Observed, lag_gate: u64, history: &[String]) -> String {
    let d = obs.derive(lag_gate);
    let mut s = format!(
        "Incident: {database} is {} — leader {}, term {}\n",
        d.state.health.word(),
        d.state.leader.as_deref().unwrap_or("none"),
        d.state.term.map_or("-".into(), |t| t.to_string())
    );
    for r in &d.state.reasons {
        s.push_str(&format!("  reason: {r}\n"));
    }
    for (p, m) in obs.pods.iter().zip(&d.state.members) {
        s.push_str(&format!(
            "  {} {} {} ready={} lag={}\n",
            m.role.glyph(),
            p.name,
            m.role.word(),
            p.ready,
            m.lag.map_or("-".into(), |l| l.to_string())
        ));
    }
    for h in history {
        s.push_str(&format!("  leader change: {h}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn memory_quantities() {
        for ok in ["8Gi", "512Mi", "8G", "1073741824", "1.5Gi"] {
            assert!(super::valid_quantity(ok), "{ok}");
        }
        for bad in ["", "Gi", "8 Gi", "8GB", "eight", "1.2.3Gi", "-1Gi"] {
            assert!(!super::valid_quantity(bad), "{bad}");
        }
    }

    #[test]
    fn job_names_fit_kubernetes() {
        let n = super::job_name("diagnostics", &"x".repeat(80), 1_764_000_000_000);
        assert!(n.len() <= 63, "{n}");
        assert!(n.starts_with("baton-diagnostics-xxx"));
        assert_eq!(
            super::job_name("backup", "orders", 36_000),
            "baton-backup-orders-10"
        );
    }
}
