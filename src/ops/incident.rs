//! Raising an incident: the database's summary (health, reasons, each member's role, readiness
//! and lag, the leader changes seen) posted to the incident webhook. One path for `baton op
//! incident` and the dashboard: [`summary`] reads only; [`post`] checks the role, finds the
//! webhook URL in the environment (never printed), posts, and audits the post.

use crate::config::{Config, OperationName};

use super::audit::{self, Audit};
use super::executor::Executor;
use super::record;
use super::runner::Settings;

/// Why an incident was not posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The role may not raise incidents (exit 3).
    Role(String),
    /// No webhook is configured or its variable is empty (exit 2): what to set.
    NoWebhook(String),
    /// The post failed (exit 1).
    Failed(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Role(role) => write!(
                f,
                "refused (permission): role '{role}' may not run incident"
            ),
            Self::NoWebhook(what) => write!(f, "no incident webhook: {what}"),
            Self::Failed(e) => write!(f, "failed: {e}"),
        }
    }
}

/// The database's summary as the incident says it (reads only).
pub async fn summary<E: Executor>(exec: &E, config: &Config) -> Result<String, String> {
    let obs = exec
        .observe()
        .await
        .map_err(|e| format!("cannot observe {}: {e}", exec.database_id()))?;
    Ok(super::runner::incident_text(
        &exec.database_id(),
        &obs,
        config.operations.lag_gate,
        &[],
    ))
}

/// The role check alone (before anything is read), for the menu and the headless command.
pub fn allowed(settings: &Settings) -> Result<(), Refused> {
    if settings.allowed.contains(&OperationName::Incident) {
        Ok(())
    } else {
        Err(Refused::Role(settings.role.clone()))
    }
}

/// Posts `text` to the incident webhook (`operations.incident_webhook_env`, else
/// `webhook_url_env`), audited in `audit_path` as `holder`.
pub async fn post<E: Executor>(
    exec: &E,
    settings: &Settings,
    orchestra: &str,
    text: &str,
    audit_path: Option<std::path::PathBuf>,
) -> Result<(), Refused> {
    allowed(settings)?;
    let var = settings
        .incident_webhook_env
        .as_deref()
        .or(settings.webhook_env.as_deref());
    let Some(url) = audit::webhook_from_env(var) else {
        return Err(Refused::NoWebhook(format!(
            "set operations.incident_webhook_env (or webhook_url_env) in the config to the name of an environment variable holding the URL{}",
            var.map(|v| format!(", and export {v}")).unwrap_or_default()
        )));
    };
    let holder = record::holder_identity();
    let audit = Audit::new(
        audit_path,
        &holder,
        &exec.identity(),
        "incident",
        &exec.database_id(),
    );
    let fields = serde_json::json!({"caller": holder, "operation": "incident", "database": exec.database_id(), "orchestra": orchestra});
    match audit::post_webhook(&url, text, fields).await {
        Ok(()) => {
            audit.record("post", "incident webhook", "ok");
            Ok(())
        }
        Err(e) => {
            audit.record("post", "incident webhook", &e);
            Err(Refused::Failed(e))
        }
    }
}
