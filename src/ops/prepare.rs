//! Preparing an operation: read the lock, observe the database, build the record (what later
//! steps compare against: pod UIDs, the voting set, members already down, the Job's name, the
//! parameters checked), and run the preflight — the rules the first action is judged by and
//! the plan. Sends nothing mutating; `Runner::run` takes it from there.

use std::collections::BTreeMap;

use super::executor::{ExecError, Executor};
use super::observe::Observed;
use super::plan::{self, Action, Next};
use super::progress::{OpEvent, Outcome};
use super::record::{self, Lock, OpState, Record};
use super::runner::{Prepared, Request, Runner};
use super::safety::{self, Check, View};
use crate::config::OperationName;
use crate::fleet::Role;
use crate::fleet::catalog::valid_quantity;
use crate::source::now_ms;

pub(super) fn refuse(
    rule: &'static str,
    member: Option<&str>,
    detail: impl Into<String>,
) -> Outcome {
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
            match super::backups::restore_preflight(
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

    /// The strategy of a resize or upgrade and why: `--set strategy=…`, else surge where the
    /// orchestra has room for an extra server (config), else in-place. Other operations: in-place.
    fn strategy(&self, op: OperationName, asked: Option<&str>) -> (String, String) {
        if !matches!(op, OperationName::Resize | OperationName::Upgrade) {
            return ("in-place".into(), String::new());
        }
        let id = self.exec.database_id();
        let orchestra = id.split('/').next().unwrap_or_default();
        let room = self
            .settings
            .surge_orchestras
            .iter()
            .any(|o| o == orchestra);
        match asked {
            Some(s) => (s.to_string(), "asked with --set strategy".to_string()),
            None if room => (
                "surge".into(),
                format!(
                    "the default: orchestra {orchestra} has room for an extra server (config: surge = true)"
                ),
            ),
            None => (
                "in-place".into(),
                format!(
                    "the default: orchestra {orchestra} declares no room for an extra server (config: [orchestras.\"{orchestra}\"] surge = true)"
                ),
            ),
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
        for p in crate::fleet::catalog::spec(op)
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
        let forced = self.forced(&req.force)?;
        let member_required = matches!(
            op,
            OperationName::RestartMember
                | OperationName::Diagnostics
                | OperationName::ReplaceMember
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
            waiting: None,
            plan: Vec::new(),
            forced,
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
                    forced: &[],
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
            OperationName::Resize | OperationName::Upgrade => {
                let (strategy, why) = self.strategy(rec.operation, rec.param("strategy"));
                if strategy != "in-place" && strategy != "surge" {
                    return Err(Outcome::Usage(format!(
                        "strategy '{strategy}' is neither in-place nor surge"
                    )));
                }
                rec.params.insert("strategy".into(), strategy);
                rec.params.insert("strategy-why".into(), why);
            }
            OperationName::ReplaceMember => {
                super::replace::begin(&mut rec, obs)
                    .map_err(|why| refuse(safety::SETTLED, rec.param("member"), why))?;
            }
            OperationName::Restore => {
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
                        forced: &[],
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

    /// The rules `force` names, if the config allows forcing and each may be forced.
    fn forced(&self, force: &[String]) -> Result<Vec<String>, Outcome> {
        if force.is_empty() {
            return Ok(Vec::new());
        }
        if !self.settings.allow_force {
            return Err(Outcome::Usage(format!(
                "forcing {} needs operations.allow_force = true in the config (off by default: a forced rule is a risk taken knowingly)",
                force.join(", ")
            )));
        }
        let mut out: Vec<String> = Vec::new();
        for r in force {
            if !safety::FORCEABLE.contains(&r.as_str()) {
                return Err(Outcome::Usage(format!(
                    "rule '{r}' cannot be forced; these can: {} (never the lock, the role or read-only)",
                    safety::FORCEABLE.join(", ")
                )));
            }
            if !out.contains(r) {
                out.push(r.clone());
            }
        }
        tracing::warn!(rules = ?out, "operation forced past safety rules by the operator");
        Ok(out)
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
        let forced = record.forced.clone();
        let v = View {
            obs,
            d: &d,
            lag_gate: self.settings.lag_gate,
            forced: &forced,
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
            Next::Act(Action::DeletePod { pod, .. } | Action::ReplaceVolume { pod, .. }) => {
                checks.push(v.settled(&[], Some(&record.voters.iter().cloned().collect())));
                checks.push(v.majority(pod));
                checks.push(v.no_other_work(None));
            }
            Next::Act(Action::PatchTemplate { sts, .. }) => {
                if let Some(c) = record
                    .param("version")
                    .and_then(|to| super::upgrade_rules::judge(to, &obs.statefulsets))
                {
                    checks.push(c);
                }
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
}

#[cfg(test)]
mod tests {
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
