//! The runner's Lease: writing it at the version it holds (a conflict is a lost lock), and a
//! cancel request another baton left on it (`baton op cancel`), taken before the next action.

use super::Runner;
use crate::ops::executor::{ExecError, Executor};
use crate::ops::progress::{OpEvent, Outcome};
use crate::ops::record::{LeaseObs, Record};

impl<E: Executor> Runner<'_, E> {
    /// Whether the Lease `l` is still ours and asks us to cancel; the first time, the request is
    /// taken into `cancel_by`, logged, audited and told.
    pub(super) fn take_cancel(&self, l: &LeaseObs, cancel_by: &mut Option<String>) -> bool {
        let Some(by) = l
            .cancel_requested
            .as_ref()
            .filter(|_| l.holder == self.holder)
        else {
            return false;
        };
        if cancel_by.is_none() {
            let object = format!(
                "lease/{}",
                crate::ops::kube::lease_name(
                    self.exec.database_id().rsplit('/').next().unwrap_or("")
                )
            );
            tracing::warn!(database = %self.exec.database_id(), by = %by, "cancel requested on the Lease");
            self.audit
                .record("cancel", &object, &format!("requested by {by}"));
            self.emit(OpEvent::Notice {
                message: format!(
                    "cancel requested by {by}: the current action finishes and the database settles first"
                ),
            });
        }
        *cancel_by = Some(by.clone());
        true
    }

    /// Writes the Lease at `rv`; the new version. A conflict is a lost lock — unless the Lease is
    /// still ours and only carries a cancel request, which is taken (`cancel_by`) and the write
    /// made again at the new version.
    pub(super) async fn write_lease(
        &self,
        rv: &str,
        record: &Record,
        cancel_by: &mut Option<String>,
    ) -> Result<String, Outcome> {
        let object = format!(
            "lease/{}",
            crate::ops::kube::lease_name(self.exec.database_id().rsplit('/').next().unwrap_or(""))
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
                    Ok(Some(l)) if self.take_cancel(&l, cancel_by) => {
                        return match self
                            .exec
                            .replace_lease(&l.resource_version, &self.holder, record)
                            .await
                        {
                            Ok(l) => {
                                self.audit.record("update", &object, "ok");
                                Ok(l.resource_version)
                            }
                            Err(e) => {
                                self.audit
                                    .record("update", &object, &format!("failed: {e}"));
                                Err(Outcome::Failed(format!(
                                    "lost the lock: the Lease changed again ({e})"
                                )))
                            }
                        };
                    }
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
}
