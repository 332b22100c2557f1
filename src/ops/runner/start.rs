//! The record an operation starts with: what later steps compare against (pod UIDs, the voting
//! set, members already down, the Job's name, the parameters checked), the strategy of a resize
//! or upgrade and the rules the operator forced.

use std::collections::BTreeMap;

use super::{Request, Runner, refuse};
use crate::config::OperationName;
use crate::fleet::Role;
use crate::fleet::catalog::valid_quantity;
use crate::ops::executor::Executor;
use crate::ops::observe::Observed;
use crate::ops::plan::{self};
use crate::ops::progress::Outcome;
use crate::ops::record::{OpState, Record};
use crate::ops::safety::{self, View};
use crate::source::now_ms;

/// Job names: `baton-<kind>-<database>-<start in base 36>`, at most 63 characters.
pub fn job_name(kind: &str, database: &str, started_ms: u64) -> String {
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
    /// The strategy of a resize or upgrade and why: `--set strategy=…`, else surge where the
    /// orchestra has room for an extra server (config), else in-place. Other operations: in-place.
    pub(super) fn strategy(&self, op: OperationName, asked: Option<&str>) -> (String, String) {
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

    pub(super) fn new_record(
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
                plan::replace::begin(&mut rec, obs)
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
    pub(super) fn forced(&self, force: &[String]) -> Result<Vec<String>, Outcome> {
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
