//! Asking the operation in flight on a database to stop, wherever it runs (this bastion,
//! another engineer's, a runner Job in the orchestra): a cancel request written on its Lease
//! (an annotation), which the holder honours after its current action, the database settled.
//! The request is audited. `baton op cancel` and the dashboard's cancel of a followed operation
//! both come here; read-only mode and observer identities cannot (the guard and the API server
//! refuse the patch).

use crate::ops::audit::Audit;
use crate::ops::executor::{ExecError, Executor};
use crate::ops::record::{self, Lock};

/// A cancel request written: whose operation, and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requested {
    pub holder: String,
    pub summary: String,
}

/// Why no cancel request was written.
#[derive(Debug, Clone, PartialEq)]
pub enum NotRequested {
    /// The Lease could not be read.
    Unreadable(ExecError),
    /// The holder stopped renewing: nothing runs to stop (resume or leave it).
    Stale { holder: String, summary: String },
    /// No operation is in flight.
    Nothing,
    /// The patch was refused or failed.
    Patch { holder: String, error: ExecError },
}

impl NotRequested {
    /// Whether a guard or the API server refused it (exit code 3 headless), not a failure.
    pub fn refused(&self) -> bool {
        matches!(
            self,
            NotRequested::Patch {
                error: ExecError::Forbidden(_) | ExecError::ReadOnly(_),
                ..
            }
        )
    }

    /// Said to the engineer, naming the database `id`.
    pub fn say(&self, id: &str) -> String {
        match self {
            NotRequested::Unreadable(e) => {
                format!("cannot read the operation Lease of {id}: {e}")
            }
            NotRequested::Stale { holder, summary } => format!(
                "nothing runs to cancel on {id}: {summary} was interrupted ({holder} stopped renewing); resume it with baton op resume --take-over, or leave it"
            ),
            NotRequested::Nothing => format!("no operation is in flight on {id}"),
            NotRequested::Patch { holder, error } => {
                format!("cannot ask {holder} to cancel on {id}: {error}")
            }
        }
    }
}

/// Writes a cancel request on `exec`'s database's Lease, signed `who` (with the Kubernetes
/// identity and the time), audited in `audit_path`, when an operation is in flight there.
pub async fn request<E: Executor>(
    exec: &E,
    who: &str,
    audit_path: Option<std::path::PathBuf>,
    now_ms: u64,
) -> Result<Requested, NotRequested> {
    let id = exec.database_id();
    let lease = exec.get_lease().await.map_err(NotRequested::Unreadable)?;
    let (holder, summary) = match record::classify(lease.as_ref(), now_ms) {
        Lock::Held {
            holder, summary, ..
        } => (holder, summary),
        Lock::Stale {
            holder, summary, ..
        } => return Err(NotRequested::Stale { holder, summary }),
        Lock::Free | Lock::Finished { .. } => return Err(NotRequested::Nothing),
    };
    let by = format!(
        "{who} ({}) at {}",
        exec.identity(),
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let audit = Audit::new(audit_path, who, &exec.identity(), "cancel", &id);
    let object = format!(
        "lease/{}",
        crate::ops::kube::lease_name(id.rsplit('/').next().unwrap_or(&id))
    );
    match exec.request_cancel(&by).await {
        Ok(()) => {
            audit.record("patch", &object, "ok: cancel requested");
            Ok(Requested { holder, summary })
        }
        Err(error) => {
            audit.record("patch", &object, &error.to_string());
            Err(NotRequested::Patch { holder, error })
        }
    }
}
