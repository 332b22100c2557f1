//! The progress of an operation this dashboard runs, folded from the runner's events (the
//! shape of gitui's `AsyncSingleJob` seen from the UI: progress, last result, cancel): the steps
//! taken with their times, what it waits for and why, the member being worked on, the live log
//! (the runner's messages and the Job's pod log), the outcome and the artifact. [`step_lines`]
//! turns it into the rows the progress pane shows: the steps taken, then the plan's remaining
//! lines, each with its state.

use std::collections::VecDeque;

use crate::config::OperationName;
use crate::fleet::DbKey;
use crate::ops::runner::{OpEvent, Outcome};

/// Log lines kept per run (the pane shows the last ones).
pub const LOG_KEEP: usize = 500;

/// One action the runner took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRow {
    pub n: u32,
    pub action: String,
    pub member: Option<String>,
    /// When it started (Unix ms).
    pub started_ms: u64,
    /// How long it took, once the next one started or the goal held.
    pub took_ms: Option<u64>,
}

/// An operation started from this dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub id: u64,
    pub key: DbKey,
    pub operation: OperationName,
    pub resumed: bool,
    /// The plan as the confirmation showed it.
    pub plan: Vec<String>,
    pub steps: Vec<StepRow>,
    /// Unix ms when it was confirmed, then when the lock was taken.
    pub started_ms: u64,
    /// What it waits for, since when.
    pub waiting: Option<(String, u64)>,
    pub log: VecDeque<String>,
    /// The member the current step acts on.
    pub member: Option<String>,
    pub outcome: Option<Outcome>,
    pub finished_ms: Option<u64>,
    /// Where the artifact goes (backup, diagnostics).
    pub artifact: Option<String>,
    /// Cancel was asked for; the current action finishes first.
    pub cancelling: bool,
    /// The start recorded on the Lease (Unix ms): tells its Lease from another operation's.
    pub record_started_ms: u64,
    /// Someone else's operation followed from its Lease: its holder (it is theirs to cancel).
    pub followed: Option<String>,
}

/// Where a row of the progress pane stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepState {
    Done,
    Running,
    /// Waiting, and why.
    Waiting(String),
    /// The run ended here: failed, paused, cancelled, refused.
    Stopped(&'static str),
    Pending,
    Skipped,
}

impl StepState {
    /// The glyph before the row (meaning never rests on colour alone).
    pub fn glyph(&self) -> &'static str {
        match self {
            Self::Done => "✓",
            Self::Running => "▸",
            Self::Waiting(_) => "…",
            Self::Stopped(_) => "✗",
            Self::Pending => "·",
            Self::Skipped => "-",
        }
    }

    pub fn word(&self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Running => "running",
            Self::Waiting(_) => "waiting",
            Self::Stopped(w) => w,
            Self::Pending => "pending",
            Self::Skipped => "skipped",
        }
    }
}

/// One row of the progress pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepLine {
    /// 1-based position.
    pub n: usize,
    pub text: String,
    pub state: StepState,
    pub elapsed_ms: Option<u64>,
}

/// An event as a line of the pane's log.
fn log_text(ev: &OpEvent) -> String {
    match ev {
        OpEvent::Started {
            holder, resumed, ..
        } => format!(
            "{} as {holder}",
            if *resumed { "resumed" } else { "started" }
        ),
        OpEvent::Step { step, action, .. } => format!("step {step}: {action}"),
        OpEvent::Waiting { reason, .. } => format!("waiting: {reason}"),
        OpEvent::Log { pod, line } => format!("[{pod}] {line}"),
        OpEvent::Notice { message } => format!("note: {message}"),
        other => other.text(),
    }
}

/// The word of an outcome.
pub fn outcome_word(o: &Outcome) -> &'static str {
    match o {
        Outcome::Done(_) => "done",
        Outcome::Nothing(_) => "nothing to do",
        Outcome::Refused(_) => "refused",
        Outcome::Paused(_) => "paused",
        Outcome::Cancelled(_) => "cancelled",
        Outcome::Failed(_) => "failed",
        Outcome::Usage(_) => "cannot run",
    }
}

/// What an outcome says, in words.
pub fn outcome_detail(o: &Outcome) -> String {
    match o {
        Outcome::Refused(c) => c.line(),
        Outcome::Done(m)
        | Outcome::Nothing(m)
        | Outcome::Paused(m)
        | Outcome::Cancelled(m)
        | Outcome::Failed(m)
        | Outcome::Usage(m) => m.clone(),
    }
}

impl Run {
    pub fn new(
        id: u64,
        key: DbKey,
        operation: OperationName,
        resumed: bool,
        plan: Vec<String>,
        artifact: Option<String>,
        now_ms: u64,
    ) -> Self {
        Self {
            id,
            key,
            operation,
            resumed,
            plan,
            steps: Vec::new(),
            started_ms: now_ms,
            waiting: None,
            log: VecDeque::new(),
            member: None,
            outcome: None,
            finished_ms: None,
            artifact,
            cancelling: false,
            record_started_ms: 0,
            followed: None,
        }
    }

    pub fn running(&self) -> bool {
        self.outcome.is_none()
    }

    pub(crate) fn log_line(&mut self, line: String) {
        if self.log.len() == LOG_KEEP {
            self.log.pop_front();
        }
        self.log.push_back(line);
    }

    /// Folds one event in (`at_ms`: when it happened).
    pub fn apply(&mut self, event: OpEvent, at_ms: u64) {
        match &event {
            OpEvent::Check(_) | OpEvent::Plan { .. } => return,
            OpEvent::Started { .. } => self.started_ms = at_ms,
            OpEvent::Step {
                step,
                action,
                member,
            } => {
                if let Some(last) = self.steps.last_mut()
                    && last.took_ms.is_none()
                {
                    last.took_ms = Some(at_ms.saturating_sub(last.started_ms));
                }
                self.steps.push(StepRow {
                    n: *step,
                    action: action.clone(),
                    member: member.clone(),
                    started_ms: at_ms,
                    took_ms: None,
                });
                self.member = member.clone();
                self.waiting = None;
            }
            OpEvent::StepDone { step, elapsed_ms } => {
                if let Some(s) = self.steps.iter_mut().find(|s| s.n == *step) {
                    s.took_ms = Some(*elapsed_ms);
                }
                self.waiting = None;
            }
            OpEvent::Waiting { reason, .. } => {
                self.waiting = Some((reason.clone(), at_ms));
            }
            OpEvent::Finished { .. } => return,
            OpEvent::Log { .. } | OpEvent::Notice { .. } => {}
        }
        self.log_line(log_text(&event));
    }

    /// The run ended.
    pub fn finish(&mut self, outcome: Outcome, at_ms: u64) {
        let word = outcome_word(&outcome);
        let detail = outcome_detail(&outcome);
        self.outcome = Some(outcome);
        self.finished_ms = Some(at_ms);
        self.waiting = None;
        self.member = None;
        self.log_line(format!("{word}: {detail}"));
    }

    /// The step the run is on (or ended on): its 1-based number among the rows.
    pub fn current(&self) -> usize {
        self.steps.len().max(1)
    }

    /// Rows of the plan: the steps taken, then what is left of the plan.
    pub fn total(&self) -> usize {
        self.steps.len().max(self.plan.len())
    }

    /// Milliseconds since it started (to the end, once it ended).
    pub fn elapsed_ms(&self, now_ms: u64) -> u64 {
        self.finished_ms
            .unwrap_or(now_ms)
            .saturating_sub(self.started_ms)
    }
}

/// The rows of the progress pane at `now_ms`.
pub fn step_lines(run: &Run, now_ms: u64) -> Vec<StepLine> {
    let end = run.finished_ms.unwrap_or(now_ms);
    let ended_well = matches!(run.outcome, Some(Outcome::Done(_) | Outcome::Nothing(_)));
    let mut out: Vec<StepLine> = Vec::new();
    let last = run.steps.len().saturating_sub(1);
    for (i, s) in run.steps.iter().enumerate() {
        let (state, elapsed) = match (s.took_ms, &run.outcome) {
            (Some(t), _) => (StepState::Done, Some(t)),
            (None, Some(_)) if ended_well => {
                (StepState::Done, Some(end.saturating_sub(s.started_ms)))
            }
            (None, Some(o)) => (
                StepState::Stopped(outcome_word(o)),
                Some(end.saturating_sub(s.started_ms)),
            ),
            (None, None) if i == last => match &run.waiting {
                Some((why, since)) if *since >= s.started_ms => (
                    StepState::Waiting(why.clone()),
                    Some(now_ms.saturating_sub(s.started_ms)),
                ),
                _ => (
                    StepState::Running,
                    Some(now_ms.saturating_sub(s.started_ms)),
                ),
            },
            // An earlier step the runner never closed (it always does; keep it honest).
            (None, None) => (StepState::Done, None),
        };
        out.push(StepLine {
            n: i + 1,
            text: s.action.clone(),
            state,
            elapsed_ms: elapsed,
        });
    }
    for (i, p) in run.plan.iter().enumerate().skip(run.steps.len()) {
        let state = match &run.outcome {
            None if out.is_empty() => match &run.waiting {
                Some((why, _)) => StepState::Waiting(why.clone()),
                None => StepState::Pending,
            },
            None => StepState::Pending,
            Some(_) if ended_well => StepState::Done,
            Some(_) if out.is_empty() && i == 0 => {
                StepState::Stopped(run.outcome.as_ref().map_or("failed", outcome_word))
            }
            Some(_) => StepState::Skipped,
        };
        out.push(StepLine {
            n: i + 1,
            text: p.clone(),
            state,
            elapsed_ms: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> Run {
        Run::new(
            1,
            DbKey {
                orchestra: "lab-a".into(),
                namespace: "team-a".into(),
                name: "orders".into(),
            },
            OperationName::RollingRestart,
            false,
            vec![
                "restart orders-2-0 (FOLLOWER)".into(),
                "restart orders-3-0 (FOLLOWER)".into(),
                "restart orders-1-0 (LEADER) — the leader, last".into(),
            ],
            None,
            1_000,
        )
    }

    fn states(r: &Run, now: u64) -> Vec<String> {
        step_lines(r, now)
            .iter()
            .map(|l| l.state.word().to_string())
            .collect()
    }

    #[test]
    fn steps_advance_wait_and_finish() {
        let mut r = run();
        assert_eq!(states(&r, 1_000), ["pending", "pending", "pending"]);
        r.apply(
            OpEvent::Step {
                step: 1,
                action: "restart orders-2-0 (delete its pod)".into(),
                member: Some("orders-2-0".into()),
            },
            2_000,
        );
        assert_eq!(r.member.as_deref(), Some("orders-2-0"));
        assert_eq!(states(&r, 2_500), ["running", "pending", "pending"]);
        r.apply(
            OpEvent::Waiting {
                reason: "orders-2-0: pod not Ready".into(),
                elapsed_ms: 0,
            },
            2_600,
        );
        let lines = step_lines(&r, 5_000);
        assert_eq!(
            lines[0].state,
            StepState::Waiting("orders-2-0: pod not Ready".into())
        );
        assert_eq!(lines[0].elapsed_ms, Some(3_000));
        assert_eq!(lines[0].text, "restart orders-2-0 (delete its pod)");
        r.apply(
            OpEvent::StepDone {
                step: 1,
                elapsed_ms: 4_000,
            },
            6_000,
        );
        r.apply(
            OpEvent::Step {
                step: 2,
                action: "restart orders-3-0 (delete its pod)".into(),
                member: Some("orders-3-0".into()),
            },
            6_000,
        );
        assert_eq!(states(&r, 7_000), ["done", "running", "pending"]);
        r.finish(Outcome::Failed("lost the lock".into()), 8_000);
        assert_eq!(states(&r, 9_000), ["done", "failed", "skipped"]);
        assert_eq!(r.member, None);
        assert_eq!(r.log.back().unwrap(), "failed: lost the lock");
        let mut ok = run();
        ok.finish(Outcome::Done("every member restarted".into()), 3_000);
        assert_eq!(states(&ok, 9_000), ["done", "done", "done"]);
        assert_eq!(ok.elapsed_ms(99_000), 2_000);
    }

    #[test]
    fn the_log_keeps_the_last_lines() {
        let mut r = run();
        for i in 0..(LOG_KEEP + 5) {
            r.apply(
                OpEvent::Log {
                    pod: "job-pod".into(),
                    line: format!("line {i}"),
                },
                1,
            );
        }
        assert_eq!(r.log.len(), LOG_KEEP);
        assert_eq!(r.log.front().unwrap(), "[job-pod] line 5");
    }
}
