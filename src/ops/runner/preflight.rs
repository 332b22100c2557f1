//! The preflight: the rules the first action is judged by, from one observation and the record,
//! and the plan shown before confirming.

use super::{Prepared, Runner, refuse};
use crate::ops::executor::Executor;
use crate::ops::observe::Observed;
use crate::ops::plan::{self, Action, Next};
use crate::ops::progress::{OpEvent, Outcome};
use crate::ops::record::Record;
use crate::ops::safety::{self, Check, View};

impl<E: Executor> Runner<'_, E> {
    pub(super) fn preflight(
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
                    .and_then(|to| crate::ops::upgrade_rules::judge(to, &obs.statefulsets))
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
