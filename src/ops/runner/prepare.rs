//! Preparing an operation: check it is allowed (read-only, role, the identity's permissions),
//! read the lock, observe the database, build the record (`start`) and run the preflight
//! (`preflight`). Sends nothing mutating; `Runner::run` takes it from there.

use super::{Prepared, Request, Runner, refuse};
use crate::config::OperationName;
use crate::ops::executor::{ExecError, Executor};
use crate::ops::observe::Observed;
use crate::ops::progress::{OpEvent, Outcome};
use crate::ops::record::{self, Lock, OpState};
use crate::ops::safety::{self};
use crate::source::now_ms;

impl<E: Executor> Runner<'_, E> {
    /// Observe, read the lock, build the record and run the preflight. Sends nothing mutating.
    pub async fn prepare(&self, op: OperationName, req: &Request) -> Result<Prepared, Outcome> {
        let spec = crate::fleet::catalog::spec(op);
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
        let strategy = self.strategy(op, req.params.get("strategy").map(String::as_str));
        self.identity_may(op, &strategy.0).await?;
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
        // A restore's backup is read and checked before anything is stopped.
        let mut req = req.clone();
        let backup_checks = if op == OperationName::Restore {
            match crate::ops::backups::restore_preflight(
                self.exec,
                &self.settings.artifacts,
                &mut req.params,
            )
            .await
            {
                Ok(checks) => checks,
                Err(Outcome::Refused(c)) => {
                    // Shown like the preflight's checks (the TUI's confirmation lists them).
                    self.emit(OpEvent::Check(c.clone()));
                    return Err(Outcome::Refused(c));
                }
                Err(other) => return Err(other),
            }
        } else {
            Vec::new()
        };
        let record = self.new_record(op, &req, &obs)?;
        let mut prepared = self.preflight(record, &obs, take_at, false, taking_over)?;
        prepared.checks.extend(backup_checks);
        Ok(prepared)
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
                let strategy = self.strategy(rec.operation, rec.param("strategy"));
                self.identity_may(rec.operation, &strategy.0).await?;
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

    /// The `permission` rule for the identity: the API server's answer (SelfSubjectAccessReviews)
    /// for every permission `op` needs, before anything is read or written. A review that cannot
    /// be asked does not refuse (the calls themselves would then be refused and said so).
    async fn identity_may(&self, op: OperationName, strategy: &str) -> Result<(), Outcome> {
        let needed = crate::fleet::catalog::permissions(op, strategy);
        match self.exec.missing_permissions(needed).await {
            Ok(missing) if !missing.is_empty() => Err(refuse(
                safety::PERMISSION,
                None,
                format!(
                    "{} may not run {}: missing {}",
                    self.exec.identity(),
                    op.as_str(),
                    missing.join(", ")
                ),
            )),
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, "access reviews unanswered; the calls will tell");
                Ok(())
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
}
