//! Launching an operation in the orchestra: check that the runner's ServiceAccount exists
//! (a preflight ✗ naming `baton op rbac` when not), create the runner Job, and follow it from
//! its pod's log until it ends — the launching process may go away at any time, the Job runs
//! on (Ctrl-C stops following, never the operation).

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};
use serde_json::Value;
use tokio::sync::mpsc;

use super::{SERVICE_ACCOUNT, rbac_fix};
use crate::ops::executor::{ExecError, Executor};
use crate::ops::kube::KubeExecutor;
use crate::ops::progress::{OpEvent, Outcome};
use crate::ops::safety::Check;

/// The preflight rule of an in-cluster run.
pub const RUNNER_IDENTITY: &str = "runner-identity";

/// How often a followed Job is looked at.
const FOLLOW_EVERY: Duration = Duration::from_millis(500);

fn kube_err(e: kube::Error) -> ExecError {
    match e {
        kube::Error::Api(s) if s.code == 401 || s.code == 403 => ExecError::Forbidden(s.message),
        kube::Error::Api(s) if s.code == 409 => ExecError::Conflict(s.message),
        kube::Error::Api(s) if s.code == 404 => ExecError::NotFound(s.message),
        e => ExecError::Other(e.to_string()),
    }
}

/// ✓ when the runner's ServiceAccount is in the database's namespace; ✗ naming the command
/// that grants it when not, or when this identity may not even look.
pub async fn identity_check(exec: &KubeExecutor) -> Check {
    let api: Api<ServiceAccount> = Api::namespaced(exec.client.clone(), &exec.namespace);
    match api.get_opt(SERVICE_ACCOUNT).await {
        Ok(Some(_)) => Check::pass(
            RUNNER_IDENTITY,
            format!(
                "the runner runs as ServiceAccount {}/{SERVICE_ACCOUNT}",
                exec.namespace
            ),
        ),
        Ok(None) => Check::fail(
            RUNNER_IDENTITY,
            None,
            format!(
                "ServiceAccount {SERVICE_ACCOUNT} is missing in namespace {}: {}",
                exec.namespace,
                rbac_fix(&exec.namespace)
            ),
        ),
        Err(e) => Check::fail(
            RUNNER_IDENTITY,
            None,
            format!(
                "cannot tell whether ServiceAccount {}/{SERVICE_ACCOUNT} exists: {}",
                exec.namespace,
                kube_err(e)
            ),
        ),
    }
}

/// Creates the runner Job `manifest`.
pub async fn create(exec: &KubeExecutor, manifest: &Value) -> Result<(), ExecError> {
    let api: Api<Job> = Api::namespaced(exec.client.clone(), &exec.namespace);
    let job: Job =
        serde_json::from_value(manifest.clone()).map_err(|e| ExecError::Other(e.to_string()))?;
    api.create(&PostParams::default(), &job)
        .await
        .map(|_| ())
        .map_err(kube_err)
}

/// Follows the runner Job `name`: its pod's log as `OpEvent::Log` lines (the runner's audit
/// entries among them appended to `audit`), until it succeeds or fails, or `stop` says to stop
/// following.
pub async fn follow(
    exec: &KubeExecutor,
    name: &str,
    audit: &crate::ops::audit::Audit,
    events: &mpsc::UnboundedSender<OpEvent>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Outcome {
    let api: Api<Job> = Api::namespaced(exec.client.clone(), &exec.namespace);
    let id = format!("{}/{name}", exec.namespace);
    let mut seen = 0usize;
    let mut last = String::new();
    loop {
        let status = api.get_opt(name).await;
        // Log lines first, so the end of the log is shown before the outcome.
        if let Ok(Some((pod, lines))) = exec.job_log(name, seen).await {
            seen += lines.len();
            for line in lines {
                if audit.copy_from_runner_log(&line, &id) {
                    continue;
                }
                last.clone_from(&line);
                let _ = events.send(OpEvent::Log {
                    pod: pod.clone(),
                    line,
                });
            }
        }
        match status {
            Ok(Some(job)) => {
                let s = job.status.unwrap_or_default();
                if s.succeeded.unwrap_or(0) > 0 {
                    return Outcome::Done(format!("the runner Job {id} finished the operation"));
                }
                if s.failed.unwrap_or(0) > 0 {
                    let why = s
                        .conditions
                        .unwrap_or_default()
                        .into_iter()
                        .find(|c| c.type_ == "Failed" && c.status == "True")
                        .and_then(|c| c.message.or(c.reason))
                        .unwrap_or_default();
                    return Outcome::Failed(format!(
                        "the runner Job {id} failed{}{}",
                        if why.is_empty() { "" } else { ": " },
                        if why.is_empty() { last.clone() } else { why }
                    ));
                }
            }
            Ok(None) => {
                return Outcome::Failed(format!(
                    "the runner Job {id} is gone (deleted); the Lease says where the operation stands: baton op status"
                ));
            }
            Err(e) => {
                let _ = events.send(OpEvent::Notice {
                    message: format!("cannot read the runner Job {id}: {}", kube_err(e)),
                });
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(FOLLOW_EVERY) => {}
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    return Outcome::Nothing(format!(
                        "stopped following: the operation runs on in the orchestra as Job {id} (baton op status shows it)"
                    ));
                }
            }
        }
    }
}

/// Creates the runner Job of `l` (audited) and says so; its name, or why not.
pub async fn create_runner(
    exec: &KubeExecutor,
    l: &super::Launch,
    audit: &crate::ops::audit::Audit,
    events: &mpsc::UnboundedSender<OpEvent>,
) -> Result<String, Outcome> {
    let manifest = super::job(l);
    let name = super::job_name(l);
    let object = format!("job/{}/{name}", l.namespace);
    match create(exec, &manifest).await {
        Ok(()) => audit.record("create", &object, "ok"),
        Err(e) => {
            audit.record("create", &object, &e.to_string());
            return Err(match e {
                ExecError::Forbidden(m) => Outcome::Refused(Check::fail(
                    crate::ops::safety::PERMISSION,
                    None,
                    format!("cannot create the runner Job: {m}"),
                )),
                ExecError::ReadOnly(m) => Outcome::Refused(Check::fail("read-only", None, m)),
                e => Outcome::Failed(format!("cannot create the runner Job {object}: {e}")),
            });
        }
    }
    if let Some(m) = l.secrets.say(&l.namespace) {
        let _ = events.send(OpEvent::Notice { message: m });
    }
    let _ = events.send(OpEvent::Notice {
        message: format!(
            "started the runner Job {}/{name}: the operation runs in the orchestra and holds the Lease as {}; this baton may disconnect",
            l.namespace,
            crate::ops::record::job_holder(&l.namespace, &name)
        ),
    });
    Ok(name)
}

/// `baton op … --in-cluster`: creates the runner Job and follows it until it ends, or until
/// `stop` (Ctrl-C) stops following (the operation runs on).
pub async fn start(
    exec: &KubeExecutor,
    l: &super::Launch,
    audit: &crate::ops::audit::Audit,
    events: &mpsc::UnboundedSender<OpEvent>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Outcome {
    let name = match create_runner(exec, l, audit, events).await {
        Ok(n) => n,
        Err(o) => return o,
    };
    let _ = events.send(OpEvent::Notice {
        message: "Ctrl-C stops following, not the operation (baton op cancel stops it)".into(),
    });
    follow(exec, &name, audit, events, stop).await
}

/// The dashboard's in-cluster run: the ServiceAccount checked, the runner Job created and
/// followed; `cancel` turning true asks the runner on the Lease to cancel (it finishes the
/// current action first) and the Job is followed to its end.
pub async fn run_from_dashboard(
    exec: &KubeExecutor,
    l: &super::Launch,
    audit: &crate::ops::audit::Audit,
    events: &mpsc::UnboundedSender<OpEvent>,
    cancel: tokio::sync::watch::Receiver<bool>,
) -> Outcome {
    let check = identity_check(exec).await;
    let _ = events.send(OpEvent::Check(check.clone()));
    if !check.ok {
        return Outcome::Refused(check);
    }
    let name = match create_runner(exec, l, audit, events).await {
        Ok(n) => n,
        Err(o) => return o,
    };
    match follow(exec, &name, audit, events, cancel).await {
        Outcome::Nothing(_) => {
            let by = format!(
                "{} at {}",
                l.launched_by,
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
            let object = format!("lease/{}", crate::ops::kube::lease_name(&l.database));
            match exec.request_cancel(&by).await {
                Ok(()) => {
                    audit.record("patch", &object, "ok: cancel requested");
                    let _ = events.send(OpEvent::Notice {
                        message: "cancel requested on the Lease: the runner finishes the current action and the database settles first".into(),
                    });
                }
                Err(e) => {
                    audit.record("patch", &object, &e.to_string());
                    let _ = events.send(OpEvent::Notice {
                        message: format!("cannot ask the runner to cancel: {e}"),
                    });
                }
            }
            let (_keep, never) = tokio::sync::watch::channel(false);
            follow(exec, &name, audit, events, never).await
        }
        o => o,
    }
}
