//! The audit trail and the notices: every mutating request an operation sends is appended to
//! `<data dir>/audit.jsonl` (who — OS user and Kubernetes identity, and for a runner Job the
//! engineer who launched it —, operation, database,
//! verb and object, result, time), and Slack-compatible webhook notices go out at an
//! operation's start and end. In a runner Job the pod's file system goes with the pod, so each
//! entry is also written to stderr as `audit {json}`: the Job's log keeps it, and the launching
//! baton, while it follows, appends those lines to its own audit file. A webhook that fails is reported, never blocks or fails the
//! operation; URLs come from environment variables and are never written anywhere.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;

use serde_json::json;

/// Appends audit entries for one operation.
pub struct Audit {
    path: Option<PathBuf>,
    /// `user@host pid N`.
    pub who: String,
    /// Kubernetes identity (context and user).
    pub identity: String,
    /// For a runner Job (`who` is `job/<namespace>/<job>`): the engineer who launched it.
    pub launched_by: Option<String>,
    pub operation: String,
    pub database: String,
    lock: Mutex<()>,
}

impl Audit {
    pub fn new(
        path: Option<PathBuf>,
        who: &str,
        identity: &str,
        operation: &str,
        database: &str,
    ) -> Self {
        Self {
            path,
            who: who.into(),
            identity: identity.into(),
            launched_by: super::record::launched_by(),
            operation: operation.into(),
            database: database.into(),
            lock: Mutex::new(()),
        }
    }

    /// The default file: `<data dir>/audit.jsonl`.
    pub fn default_path() -> Option<PathBuf> {
        crate::config::paths::data_dir().map(|d| d.join("audit.jsonl"))
    }

    /// Records one request and its result. A failure to write is logged, not fatal: the
    /// request already happened.
    pub fn record(&self, verb: &str, object: &str, result: &str) {
        let (orchestra, rest) = self
            .database
            .split_once('/')
            .unwrap_or(("", &self.database));
        let (namespace, name) = rest.split_once('/').unwrap_or(("", rest));
        let line = json!({
            "at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "who": self.who,
            "identity": self.identity,
            "launched_by": self.launched_by,
            "operation": self.operation,
            "orchestra": orchestra,
            "namespace": namespace,
            "database": name,
            "verb": verb,
            "object": object,
            "result": result,
        });
        tracing::info!(verb, object, result, operation = %self.operation, database = %self.database, "audit");
        if super::record::runner_job().is_some() {
            eprintln!("{RUNNER_PREFIX}{line}");
        }
        self.append(&line.to_string());
    }

    /// Appends the audit entry a runner Job wrote to its log (`audit {json}`), when `log_line`
    /// is one, marked as copied from the log of Job `job` (`ns/name`); whether it was.
    pub fn copy_from_runner_log(&self, log_line: &str, job: &str) -> bool {
        let Some(json) = log_line.strip_prefix(RUNNER_PREFIX) else {
            return false;
        };
        match serde_json::from_str::<serde_json::Value>(json) {
            Ok(mut v) if v.is_object() => {
                v["from_job_log"] = json!(job);
                self.append(&v.to_string());
                true
            }
            _ => false,
        }
    }

    fn append(&self, line: &str) {
        let Some(path) = &self.path else { return };
        let _held = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let written = (|| {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            writeln!(f, "{line}")
        })();
        if let Err(e) = written {
            tracing::warn!(error = %e, path = %path.display(), "cannot write the audit file");
        }
    }
}

/// How a runner Job's audit entries start in its log.
pub const RUNNER_PREFIX: &str = "audit ";

/// The webhook URL held by environment variable `var`, if set.
pub fn webhook_from_env(var: Option<&str>) -> Option<String> {
    let v = std::env::var(var?).ok()?;
    (!v.trim().is_empty()).then_some(v)
}

/// Posts a Slack-compatible message (`text` plus structured fields). Err says why, with the URL
/// left out (it may hold a token).
pub async fn post_webhook(url: &str, text: &str, fields: serde_json::Value) -> Result<(), String> {
    let client = crate::guard::webhook_client()?;
    let mut body = json!({ "text": text });
    if let (Some(b), Some(f)) = (body.as_object_mut(), fields.as_object()) {
        for (k, v) in f {
            b.insert(k.clone(), v.clone());
        }
    }
    match client.post(url).json(&body).send().await {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!("the webhook answered HTTP {}", r.status().as_u16())),
        Err(e) if e.is_timeout() => Err("the webhook did not answer within 5 s".into()),
        Err(e) if e.is_connect() => Err("cannot connect to the webhook".into()),
        Err(_) => Err("the webhook request failed".into()),
    }
}
