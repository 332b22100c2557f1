//! The operation's record, kept on its Lease (`baton-op-<database>`, annotation
//! `baton.io/operation`) so every baton sees what runs and `baton op resume` can continue: the
//! operation and its parameters, who holds it, when it started, its state and step, and what it
//! observed at the start that later steps compare against (pod UIDs, the voting set, its Job).
//! Also the lock's states as a pure function of the Lease and the clock.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::OperationName;

/// Where an operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpState {
    Running,
    /// Stopped waiting (a timeout, a safety rule); `baton op resume` continues it.
    Paused,
    Failed,
    Done,
    Cancelled,
}

impl OpState {
    pub fn word(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Failed => "failed",
            Self::Done => "done",
            Self::Cancelled => "cancelled",
        }
    }

    /// Finished: the Lease no longer locks the database.
    pub fn finished(self) -> bool {
        matches!(self, Self::Failed | Self::Done | Self::Cancelled)
    }
}

/// What the Lease records of one operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub operation: OperationName,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// `user@host pid N`.
    pub holder: String,
    pub started_ms: u64,
    pub state: OpState,
    /// Actions taken so far.
    pub step: u32,
    /// The current step or the reason it waits, paused or failed.
    #[serde(default)]
    pub detail: String,
    /// Restarts: member pods and their UIDs when the operation began. A member is restarted
    /// once its pod has another UID (the pod object cannot lag, unlike Ready).
    #[serde(default)]
    pub original: BTreeMap<String, String>,
    /// Member ids of the voting set when the operation began.
    #[serde(default)]
    pub voters: Vec<String>,
    /// Rolling restart: members already down when it began, restarted first. A member that
    /// breaks later is not among them: the operation waits for it instead of going on.
    #[serde(default)]
    pub first: Vec<String>,
    /// Backup, diagnostics: the Job's name (decided before it is created).
    #[serde(default)]
    pub job: Option<String>,
    /// What the current step waits for (published with the next renewal), so that another
    /// operator following the operation sees why it stands still.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
    /// The plan as the confirmation showed it, for those following from the Lease.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plan: Vec<String>,
    /// Safety rules the operator forced the operation past (`--force RULE`; the config must
    /// allow it). A forced rule's failures are logged and passed, every time it is judged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forced: Vec<String>,
}

impl Record {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }
}

/// The Lease as read (trimmed).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeaseObs {
    pub resource_version: String,
    pub holder: String,
    /// Last renewal, Unix ms.
    pub renew_ms: Option<u64>,
    pub duration_s: u64,
    /// The record, or why it could not be read.
    pub record: Option<Result<Record, String>>,
    /// Someone asked the holder to cancel (`baton op cancel`, the dashboard): who and when.
    pub cancel_requested: Option<String>,
}

impl LeaseObs {
    /// The Lease as the engine's watch keeps it (`fleet::LeaseInfo`), for the lock logic (the
    /// watch keeps no resourceVersion; none is needed to classify).
    pub fn of_info(info: &crate::fleet::LeaseInfo) -> Self {
        Self {
            cancel_requested: None,
            resource_version: String::new(),
            holder: info.holder.clone().unwrap_or_default(),
            renew_ms: info.renewed_ms,
            duration_s: info.duration_s.map_or(LEASE_SECONDS, u64::from),
            record: info
                .operation
                .as_ref()
                .map(|s| serde_json::from_str::<Record>(s).map_err(|e| e.to_string())),
        }
    }
}

/// Seconds a Lease stays live without renewal.
pub const LEASE_SECONDS: u64 = 15;
/// How often a running operation renews its Lease.
pub const RENEW_EVERY_MS: u64 = 3_000;

/// The lock as it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // read once per lock check and consumed at once; size is moot
pub enum Lock {
    /// No Lease: take it with create.
    Free,
    /// A finished operation's Lease: take it with a replace at this resourceVersion.
    Finished { resource_version: String },
    /// Someone's operation renewed it recently.
    Held {
        holder: String,
        summary: String,
        age_s: u64,
    },
    /// An unfinished operation whose holder stopped renewing (killed, SSH drop, paused).
    Stale {
        resource_version: String,
        holder: String,
        summary: String,
        record: Option<Box<Record>>,
        age_s: u64,
    },
}

/// `rolling-restart step 3 (running): restart orders-2-0`
pub fn summary(r: &Record) -> String {
    format!(
        "{} step {} ({}): {}",
        r.operation.as_str(),
        r.step,
        r.state.word(),
        r.detail
    )
}

/// What the Lease means at `now_ms`.
pub fn classify(lease: Option<&LeaseObs>, now_ms: u64) -> Lock {
    let Some(l) = lease else { return Lock::Free };
    let record = l.record.as_ref().and_then(|r| r.as_ref().ok()).cloned();
    let summary_text = match &l.record {
        Some(Ok(r)) => summary(r),
        Some(Err(e)) => format!("unreadable record: {e}"),
        None => "no operation record".into(),
    };
    if record.as_ref().is_some_and(|r| r.state.finished()) {
        return Lock::Finished {
            resource_version: l.resource_version.clone(),
        };
    }
    let age_ms = l.renew_ms.map_or(u64::MAX, |r| now_ms.saturating_sub(r));
    let age_s = age_ms / 1000;
    let paused = record.as_ref().is_some_and(|r| r.state == OpState::Paused);
    if !paused && age_ms <= l.duration_s.max(1) * 1000 {
        Lock::Held {
            holder: l.holder.clone(),
            summary: summary_text,
            age_s,
        }
    } else {
        Lock::Stale {
            resource_version: l.resource_version.clone(),
            holder: l.holder.clone(),
            summary: summary_text,
            record: record.map(Box::new),
            age_s,
        }
    }
}

/// In a runner Job's environment (`ops::in_cluster`): `<namespace>/<job>`, the Job it is.
pub const ENV_RUNNER_JOB: &str = "BATON_RUNNER_JOB";
/// In a runner Job's environment: who launched it (`user@host pid N (kube identity)`).
pub const ENV_LAUNCHED_BY: &str = "BATON_LAUNCHED_BY";

/// The Lease holder of the runner Job `job` in `namespace`: `job/<namespace>/<job>`.
pub fn job_holder(namespace: &str, job: &str) -> String {
    format!("job/{namespace}/{job}")
}

/// The runner Job this process is, when its environment says so: (namespace, job).
pub fn runner_job() -> Option<(String, String)> {
    let v = std::env::var(ENV_RUNNER_JOB).ok()?;
    let (ns, job) = v.split_once('/')?;
    (!ns.is_empty() && !job.is_empty()).then(|| (ns.to_string(), job.to_string()))
}

/// Who launched this process, when it is a runner Job.
pub fn launched_by() -> Option<String> {
    std::env::var(ENV_LAUNCHED_BY)
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// Who this process is, for the Lease and the audit: `user@host pid N`, or a runner Job's
/// `job/<namespace>/<job>`.
pub fn holder_identity() -> String {
    if let Some((ns, job)) = runner_job() {
        return job_holder(&ns, &job);
    }
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{user}@{host} pid {}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(state: OpState) -> Record {
        Record {
            operation: OperationName::RollingRestart,
            params: BTreeMap::new(),
            holder: "ann@bastion pid 1".into(),
            started_ms: 1_000,
            state,
            step: 2,
            detail: "restart orders-2-0".into(),
            original: BTreeMap::new(),
            voters: vec![],
            first: vec![],
            job: None,
            waiting: None,
            plan: Vec::new(),
            forced: Vec::new(),
        }
    }

    fn lease(state: OpState, renew_ms: u64) -> LeaseObs {
        LeaseObs {
            cancel_requested: None,
            resource_version: "7".into(),
            holder: "ann@bastion pid 1".into(),
            renew_ms: Some(renew_ms),
            duration_s: 15,
            record: Some(Ok(rec(state))),
        }
    }

    #[test]
    fn the_lock_follows_the_lease_and_the_clock() {
        assert_eq!(classify(None, 0), Lock::Free);
        assert!(matches!(
            classify(Some(&lease(OpState::Running, 100_000)), 110_000),
            Lock::Held { age_s: 10, .. }
        ));
        assert!(matches!(
            classify(Some(&lease(OpState::Running, 100_000)), 116_000),
            Lock::Stale { .. }
        ));
        // A paused operation waits for `resume`, renewed or not.
        assert!(matches!(
            classify(Some(&lease(OpState::Paused, 100_000)), 100_001),
            Lock::Stale { .. }
        ));
        for s in [OpState::Done, OpState::Failed, OpState::Cancelled] {
            assert_eq!(
                classify(Some(&lease(s, 100_000)), 100_001),
                Lock::Finished {
                    resource_version: "7".into()
                }
            );
        }
    }

    #[test]
    fn a_record_survives_its_json() {
        let r = rec(OpState::Paused);
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.contains("\"operation\":\"rolling-restart\""));
        assert_eq!(serde_json::from_str::<Record>(&text).unwrap(), r);
    }
}
