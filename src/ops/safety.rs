//! The safety rules, as pure functions of one observation: the majority rule (never take a
//! member down when fewer than a majority of voters would stay healthy — counting the unhealthy
//! ones first), "settled" (pods Ready, members answering, exactly one leader, the voting set
//! unchanged, lag within the gate), no other baton Job running, and the expected leader
//! (compare-and-swap). Each answers a `Check` that names the rule and, where one is at fault, the
//! member; the runner logs every one with its reason.

use std::collections::BTreeSet;

use super::observe::{Derived, Observed};
use crate::fleet::{Probe, Role};

/// The outcome of one rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    pub rule: &'static str,
    pub ok: bool,
    /// Why it holds or not, in words.
    pub detail: String,
    /// The member at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
}

impl Check {
    pub fn pass(rule: &'static str, detail: impl Into<String>) -> Self {
        Self {
            rule,
            ok: true,
            detail: detail.into(),
            member: None,
        }
    }

    pub fn fail(rule: &'static str, member: Option<&str>, detail: impl Into<String>) -> Self {
        Self {
            rule,
            ok: false,
            detail: detail.into(),
            member: member.map(str::to_string),
        }
    }

    /// `✓ majority: …` / `✗ settled (orders-2-0): …`
    pub fn line(&self) -> String {
        let mark = if self.ok { '✓' } else { '✗' };
        match &self.member {
            Some(m) => format!("{mark} {} ({m}): {}", self.rule, self.detail),
            None => format!("{mark} {}: {}", self.rule, self.detail),
        }
    }
}

/// Names of the rules, as refusals and the TUI show them.
pub const MAJORITY: &str = "majority";
pub const SETTLED: &str = "settled";
pub const NO_OTHER_WORK: &str = "no-other-operation";
pub const EXPECTED_LEADER: &str = "expected-leader";
pub const LOCK: &str = "lock";
pub const PERMISSION: &str = "permission";

/// The rules an operator may force an operation past, when the config allows it.
pub const FORCEABLE: [&str; 4] = [MAJORITY, SETTLED, NO_OTHER_WORK, EXPECTED_LEADER];

/// What the rules look at.
pub struct View<'a> {
    pub obs: &'a Observed,
    pub d: &'a Derived,
    pub lag_gate: u64,
    /// Rules the operator forced (the record's `forced`): their failures pass, said so.
    pub forced: &'a [String],
}

impl View<'_> {
    /// A failing check of a forced rule passes, saying it was forced; logged every time.
    fn judged(&self, c: Check) -> Check {
        if c.ok || !self.forced.iter().any(|r| r == c.rule) {
            return c;
        }
        tracing::warn!(rule = c.rule, member = ?c.member, detail = %c.detail, "safety rule forced by the operator");
        Check {
            ok: true,
            detail: format!("FORCED past: {}", c.detail),
            ..c
        }
    }

    /// Taking `pod` down must leave a majority of the voters healthy.
    pub fn majority(&self, pod: &str) -> Check {
        self.judged(self.majority_rule(pod))
    }

    /// Every member but `exempt` healthy, exactly one leader, the voting set as `voters_before`.
    pub fn settled(&self, exempt: &[&str], voters_before: Option<&BTreeSet<String>>) -> Check {
        self.judged(self.settled_rule(exempt, voters_before))
    }

    /// No other work (a baton Job other than `own_job`, a StatefulSet rolling) on the database.
    pub fn no_other_work(&self, own_job: Option<&str>) -> Check {
        self.judged(self.no_other_work_rule(own_job))
    }

    /// The leader is `expected` (when one is named).
    pub fn expected_leader(&self, expected: Option<&str>) -> Option<Check> {
        self.expected_leader_rule(expected).map(|c| self.judged(c))
    }

    /// Why this member is not healthy (None when it is): pod Ready, answering, a member of the
    /// group with a known role, caught up.
    pub fn unhealthy(&self, pod: &str) -> Option<String> {
        let Some(p) = self.obs.pod(pod) else {
            return Some("no pod".into());
        };
        if p.deleting {
            return Some("pod terminating".into());
        }
        if !p.ready {
            return Some(format!("pod not Ready ({})", p.phase));
        }
        match self.obs.probe(pod) {
            None | Some(Probe::Pending) => return Some("not probed".into()),
            Some(Probe::Error(e)) => return Some(format!("probe error: {e}")),
            Some(Probe::Ok(r)) if !r.healthy => return Some("reports itself unhealthy".into()),
            Some(Probe::Ok(r)) if !r.errors.is_empty() => return Some(r.errors.join("; ")),
            Some(Probe::Ok(_)) => {}
        }
        match self.d.role(pod) {
            Role::Candidate => return Some("has no leader (candidate)".into()),
            Role::Unknown => return Some("role unknown".into()),
            _ => {}
        }
        match self.d.lag(pod) {
            Some(l) if l > self.lag_gate => Some(format!(
                "lagging {l} entries behind the leader (gate {})",
                self.lag_gate
            )),
            None if self.d.state.leader.is_some() && self.d.role(pod) != Role::Leader => {
                Some("lag unknown".into())
            }
            _ => None,
        }
    }

    /// Down: no running pod, or the member's process does not answer. Restarting such a member
    /// costs no availability and may well mend it, so a rolling restart takes them first. A
    /// member that answers but is not healthy (cut off from its peers, lagging, leaderless) is
    /// not down: a restart does not mend what ails it, and the database has not settled.
    pub fn down(&self, pod: &str) -> bool {
        match self.obs.pod(pod) {
            None => true,
            Some(p) if p.deleting || p.phase != "Running" => true,
            Some(_) => !matches!(self.obs.probe(pod), Some(Probe::Ok(_))),
        }
    }

    fn voter_pods(&self) -> Vec<&str> {
        self.obs
            .pods
            .iter()
            .map(|p| p.name.as_str())
            .filter(|p| self.d.is_voter(p))
            .collect()
    }

    /// Taking `pod` down must leave a majority of the voters healthy.
    fn majority_rule(&self, pod: &str) -> Check {
        let voters = self.voter_pods();
        let count = voters.len().max(self.d.voters.len());
        if count == 0 {
            return Check::fail(MAJORITY, None, "no voting members seen");
        }
        let need = count / 2 + 1;
        let healthy: Vec<&str> = voters
            .iter()
            .copied()
            .filter(|p| self.unhealthy(p).is_none())
            .collect();
        let after = healthy.iter().filter(|p| **p != pod).count();
        let unhealthy: Vec<String> = voters
            .iter()
            .filter_map(|p| self.unhealthy(p).map(|why| format!("{p}: {why}")))
            .collect();
        if after >= need {
            let cost = if healthy.contains(&pod) {
                format!("{after}/{count} voters stay healthy while {pod} restarts (need {need})")
            } else if voters.contains(&pod) {
                format!(
                    "{pod} is already unhealthy; {after}/{count} voters stay healthy (need {need})"
                )
            } else {
                format!("{pod} does not vote; {after}/{count} voters stay healthy (need {need})")
            };
            Check::pass(MAJORITY, cost)
        } else if healthy.len() < need {
            Check::fail(
                MAJORITY,
                unhealthy.first().map(|u| u.split(':').next().unwrap_or("")),
                format!(
                    "already below a majority: {}/{count} voters healthy (need {need}); {}",
                    healthy.len(),
                    unhealthy.join(", ")
                ),
            )
        } else {
            let mut detail = format!(
                "taking {pod} down would leave {after}/{count} voters healthy (need {need})"
            );
            if !unhealthy.is_empty() {
                detail.push_str(&format!("; already unhealthy: {}", unhealthy.join(", ")));
            }
            Check::fail(MAJORITY, Some(pod), detail)
        }
    }

    /// Every member but `exempt` healthy, exactly one leader, the voting set as `voters_before`.
    fn settled_rule(&self, exempt: &[&str], voters_before: Option<&BTreeSet<String>>) -> Check {
        let leaders: Vec<&str> = self
            .d
            .state
            .members
            .iter()
            .filter(|m| m.role == Role::Leader)
            .map(|m| m.name.as_str())
            .collect();
        if leaders.len() > 1 {
            return Check::fail(
                SETTLED,
                None,
                format!("more than one leader: {}", leaders.join(", ")),
            );
        }
        if leaders.is_empty() && self.d.state.leader.is_none() {
            return Check::fail(SETTLED, None, "no leader");
        }
        for p in &self.obs.pods {
            if exempt.contains(&p.name.as_str()) {
                continue;
            }
            if let Some(why) = self.unhealthy(&p.name) {
                return Check::fail(SETTLED, Some(&p.name), why);
            }
        }
        if let Some(before) = voters_before
            && !before.is_empty()
            && !self.d.voters.is_empty()
            && *before != self.d.voters
        {
            return Check::fail(
                SETTLED,
                None,
                format!(
                    "the voting set changed: {} before, {} now",
                    join(before),
                    join(&self.d.voters)
                ),
            );
        }
        // Neo4j 5: what the upgrade guide checks between servers — no server whose allocation
        // moves, no database whose current status differs from the requested one. (With a
        // member exempt, its own rows are expected; an unreadable table is not held against it.)
        if exempt.is_empty()
            && let Some(Ok(t)) = &self.obs.servers
        {
            if !t.moving.is_empty() {
                return Check::fail(
                    SETTLED,
                    None,
                    format!("SHOW SERVERS: allocation moving on {}", t.moving.join(", ")),
                );
            }
            if !t.unsettled.is_empty() {
                return Check::fail(
                    SETTLED,
                    None,
                    format!("SHOW DATABASES: {}", t.unsettled.join("; ")),
                );
            }
        }
        let leader = self.d.state.leader.as_deref().unwrap_or("?");
        Check::pass(
            SETTLED,
            format!(
                "{} members healthy, leader {leader}, lag within {}",
                self.obs.pods.len() - exempt.len().min(self.obs.pods.len()),
                self.lag_gate
            ),
        )
    }

    /// No other baton Job (a backup, diagnostics) runs on the database.
    fn no_other_work_rule(&self, own_job: Option<&str>) -> Check {
        match self.obs.running_jobs(own_job).next() {
            Some(j) => Check::fail(
                NO_OTHER_WORK,
                None,
                format!("{} Job {} is running", j.operation, j.name),
            ),
            None => Check::pass(NO_OTHER_WORK, "no other baton Job runs on the database"),
        }
    }

    /// `--expect-leader`: the leader must be the one the operator saw.
    fn expected_leader_rule(&self, expected: Option<&str>) -> Option<Check> {
        let expected = expected?;
        let leader = self.d.state.leader.as_deref();
        Some(if leader == Some(expected) {
            Check::pass(EXPECTED_LEADER, format!("{expected} leads, as expected"))
        } else {
            Check::fail(
                EXPECTED_LEADER,
                Some(expected),
                format!(
                    "expected {expected} to lead, but the leader is {}",
                    leader.unwrap_or("nobody")
                ),
            )
        })
    }
}

fn join(s: &BTreeSet<String>) -> String {
    let v: Vec<&str> = s.iter().map(String::as_str).collect();
    format!("[{}]", v.join(","))
}
