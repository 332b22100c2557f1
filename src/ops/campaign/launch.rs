//! One database's change in a campaign: the ordinary operation, with all its rules and its
//! Lease (no second path). In a task of its own: the executor built as for `baton op`, the
//! preflight run here (a refusal comes back with its rule), then either the run in this
//! process or the runner Job created in the orchestra (`operations.run = "in-cluster"`: it
//! outlives this coordinator; its end is read from its Lease). A resume continues the
//! operation an interrupted holder left on the Lease. Also: a finished runner Job's audit
//! entries copied from its log.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use crate::cli::OpTarget;
use crate::config::{Config, OperationName, RunPlace};
use crate::fleet::DbKey;
use crate::ops::Executor as _;
use crate::ops::audit::Audit;
use crate::ops::connect;
use crate::ops::in_cluster::{self, Launch};
use crate::ops::kube::KubeExecutor;
use crate::ops::progress::{OpEvent, Outcome};
use crate::ops::runner::{Request, Runner};

/// What every launch of one coordinator shares.
pub struct Env {
    pub kubeconfig: Option<PathBuf>,
    pub config: Arc<Config>,
    /// The coordinator's `user@host pid N`: the Lease holder of local runs.
    pub holder: String,
    /// `--read-only` on the command line.
    pub read_only: bool,
    /// For the audit and the runner Job's annotations.
    pub campaign: String,
}

impl Env {
    /// Where `orchestra`'s operations run.
    pub fn in_cluster(&self, orchestra: &str) -> bool {
        self.config.run_place(orchestra) == RunPlace::InCluster
    }
}

/// What to launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum How {
    /// A new operation, started at `started_ms` (a runner Job is named from it).
    Start {
        operation: OperationName,
        params: std::collections::BTreeMap<String, String>,
        started_ms: u64,
    },
    /// Continue the operation an interrupted holder left on the Lease, here.
    Resume,
}

/// What a launch tells the coordinator.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// A line of its progress.
    Event(DbKey, OpEvent),
    /// Its runner Job was created: the operation runs in the orchestra; its Lease tells the end.
    Launched(DbKey, String),
    /// It ended here, or never started (refused, could not reach it, could not create the Job).
    Ended(DbKey, Outcome),
}

fn target(k: &DbKey) -> OpTarget {
    OpTarget {
        orchestra: k.orchestra.clone(),
        database: k.name.clone(),
        namespace: Some(k.namespace.clone()),
    }
}

/// The runner Job a start at `started_ms` creates, and the Lease holder it runs as.
pub fn job_of(k: &DbKey, started_ms: u64) -> (String, String) {
    let job = crate::ops::runner::job_name("run", &k.name, started_ms);
    let holder = crate::ops::record::job_holder(&k.namespace, &job);
    (job, holder)
}

/// Launches `how` on `k` in a task; its reports go on `tx`. `cancel` turning true asks a local
/// run to finish its current action, let the database settle and stop.
pub fn spawn(
    env: Arc<Env>,
    k: DbKey,
    how: How,
    cancel: watch::Receiver<bool>,
    tx: mpsc::UnboundedSender<Report>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let outcome = launch(&env, &k, how, cancel, &tx).await;
        if let Some(o) = outcome {
            let _ = tx.send(Report::Ended(k, o));
        }
    })
}

async fn launch(
    env: &Env,
    k: &DbKey,
    how: How,
    cancel: watch::Receiver<bool>,
    tx: &mpsc::UnboundedSender<Report>,
) -> Option<Outcome> {
    let config = &env.config;
    let read_only = connect::read_only(env.read_only, config)
        || connect::orchestra_read_only(config, &k.orchestra);
    // A start never takes over someone's interrupted operation (its preflight refuses: the
    // lock); a resume continues the one this campaign left, whoever's process ran it.
    let settings = connect::settings(config, read_only, how == How::Resume);
    let exec =
        match connect::executor(env.kubeconfig.as_deref(), config, read_only, &target(k)).await {
            Ok(e) => e,
            Err((_, m)) => return Some(Outcome::Failed(m)),
        };
    let op_word = match &how {
        How::Start { operation, .. } => operation.as_str().to_string(),
        How::Resume => "resume".into(),
    };
    let audit = Audit::new(
        Audit::default_path(),
        &env.holder,
        &exec.identity(),
        &format!("{op_word} (campaign {})", env.campaign),
        &exec.database_id(),
    );
    let (events, mut rx) = mpsc::unbounded_channel::<OpEvent>();
    let forward = {
        let tx = tx.clone();
        let k = k.clone();
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                let _ = tx.send(Report::Event(k.clone(), ev));
            }
        })
    };
    let runner = Runner {
        exec: &exec,
        settings,
        events: events.clone(),
        audit: &audit,
        holder: env.holder.clone(),
    };
    let request = match &how {
        How::Start { params, .. } => Request {
            params: params.clone(),
            ..Request::default()
        },
        How::Resume => Request::default(),
    };
    let prepared = match &how {
        How::Start { operation, .. } => runner.prepare(*operation, &request).await,
        How::Resume => runner.prepare_resume().await,
    };
    let prepared = match prepared {
        Ok(p) => p,
        Err(o) => return Some(o),
    };
    let outcome = match (&how, env.in_cluster(&k.orchestra)) {
        (
            How::Start {
                operation,
                started_ms,
                ..
            },
            true,
        ) => {
            let Some(image) = config.runner_image(&k.orchestra) else {
                return Some(Outcome::Usage(format!(
                    "orchestra {} runs operations in-cluster but names no runner image (operations.runner_image)",
                    k.orchestra
                )));
            };
            let check = in_cluster::launch::identity_check(&exec).await;
            if !check.ok {
                return Some(Outcome::Refused(check));
            }
            let config_text = match crate::config::runner::config_text(config, &k.orchestra) {
                Ok(t) => t,
                Err(m) => return Some(Outcome::Usage(m)),
            };
            let l = Launch {
                operation: *operation,
                orchestra: k.orchestra.clone(),
                namespace: k.namespace.clone(),
                database: k.name.clone(),
                member: None,
                params: request.params.clone(),
                expect_leader: None,
                force: Vec::new(),
                take_over: prepared.taking_over.is_some(),
                image: image.to_string(),
                launched_by: format!("{} ({})", env.holder, exec.identity()),
                command_line: format!(
                    "baton campaign {}: {} on {}",
                    env.campaign,
                    operation.as_str(),
                    k.id()
                ),
                started_ms: *started_ms,
                deadline_s: in_cluster::deadline_s(
                    prepared.plan.len(),
                    config.operations.step_timeout,
                ),
                config_text,
                secrets: in_cluster::SecretEnv::of(config),
            };
            match in_cluster::launch::create_runner(&exec, &l, &audit, &events).await {
                Ok(job) => {
                    let _ = tx.send(Report::Launched(k.clone(), job));
                    None
                }
                Err(o) => Some(o),
            }
        }
        _ => Some(runner.run(prepared, cancel).await),
    };
    drop(runner);
    drop(events);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), forward).await;
    outcome
}

/// `k`'s executor, and an audit of this campaign's entries on it.
async fn reach(env: &Env, k: &DbKey, read_only: bool) -> Result<(KubeExecutor, Audit), String> {
    let exec = connect::executor(
        env.kubeconfig.as_deref(),
        &env.config,
        read_only,
        &target(k),
    )
    .await
    .map_err(|(_, m)| m)?;
    let audit = Audit::new(
        Audit::default_path(),
        &env.holder,
        &exec.identity(),
        &format!("campaign {}", env.campaign),
        &exec.database_id(),
    );
    Ok((exec, audit))
}

/// Copies the audit entries of the finished runner Job `job` of `k` from its log into this
/// baton's audit file (where the coordinator's own entries are).
pub async fn copy_runner_audit(env: &Env, k: &DbKey, job: &str) {
    let Ok((exec, audit)) = reach(env, k, true).await else {
        return;
    };
    if let Ok(Some((_, lines))) = exec.job_log(job, 0).await {
        let id = format!("{}/{job}", k.namespace);
        for line in lines {
            audit.copy_from_runner_log(&line, &id);
        }
    }
}

/// Asks the holder of `k`'s operation (a runner Job, or a coordinator gone) to cancel, on its
/// Lease: it finishes its current action and lets the database settle. Audited.
pub async fn request_cancel(env: &Env, k: &DbKey, by: &str) {
    let (exec, audit) = match reach(env, k, false).await {
        Ok(r) => r,
        Err(m) => {
            tracing::warn!(database = %k.id(), error = %m, "cannot ask the operation to cancel");
            return;
        }
    };
    let object = format!("lease/{}", crate::ops::kube::lease_name(&k.name));
    match exec.request_cancel(by).await {
        Ok(()) => audit.record("patch", &object, "ok: cancel requested (campaign halted)"),
        Err(e) => audit.record("patch", &object, &e.to_string()),
    }
}
