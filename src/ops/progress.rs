//! What an operation says while it runs and how it ended: the `OpEvent`s the runner sends
//! (checks, plan, steps, waits, Job log lines, notices, the end) with their one-line text for
//! headless output, the `Outcome` and its exit code, and the incident summary text.

use serde::Serialize;

use super::observe::Observed;
use super::record::OpState;
use super::safety::Check;

/// What happens, as it happens (text lines or JSON objects headless; the progress pane later).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum OpEvent {
    Check(Check),
    Plan {
        steps: Vec<String>,
    },
    Started {
        operation: String,
        database: String,
        holder: String,
        resumed: bool,
    },
    Step {
        step: u32,
        action: String,
        member: Option<String>,
    },
    StepDone {
        step: u32,
        elapsed_ms: u64,
    },
    Waiting {
        reason: String,
        elapsed_ms: u64,
    },
    Log {
        pod: String,
        line: String,
    },
    Notice {
        message: String,
    },
    Finished {
        state: OpState,
        detail: String,
        elapsed_ms: u64,
    },
}

impl OpEvent {
    /// One line of headless text.
    pub fn text(&self) -> String {
        let secs = |ms: &u64| format!("{:.1}s", *ms as f64 / 1000.0);
        match self {
            Self::Check(c) => format!("check  {}", c.line()),
            Self::Plan { steps } => {
                let mut s = String::from("plan");
                for (i, step) in steps.iter().enumerate() {
                    s.push_str(&format!("\n  {}. {step}", i + 1));
                }
                s
            }
            Self::Started {
                operation,
                database,
                holder,
                resumed,
            } => format!(
                "{} {operation} on {database} as {holder}",
                if *resumed { "resume" } else { "start " }
            ),
            Self::Step { step, action, .. } => format!("step {step} {action}"),
            Self::StepDone { step, elapsed_ms } => {
                format!("step {step} done in {}", secs(elapsed_ms))
            }
            Self::Waiting { reason, elapsed_ms } => {
                format!("wait   {reason} ({} so far)", secs(elapsed_ms))
            }
            Self::Log { pod, line } => format!("log    [{pod}] {line}"),
            Self::Notice { message } => format!("note   {message}"),
            Self::Finished {
                state,
                detail,
                elapsed_ms,
            } => {
                format!("{:<6} {detail} ({})", state.word(), secs(elapsed_ms))
            }
        }
    }
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done(String),
    /// Nothing was done: `--dry-run`, or the goal already held.
    Nothing(String),
    /// A safety rule, the lock, the role or read-only mode said no. Exit 3.
    Refused(Check),
    /// Waited longer than the step timeout, or cancelled; the Lease keeps the state.
    Paused(String),
    Cancelled(String),
    Failed(String),
    /// Bad input (an unknown member, a missing parameter). Exit 2.
    Usage(String),
}

impl Outcome {
    pub fn exit(&self) -> crate::Exit {
        match self {
            Self::Done(_) | Self::Nothing(_) => crate::Exit::Ok,
            Self::Refused(_) => crate::Exit::Refused,
            Self::Usage(_) => crate::Exit::Usage,
            Self::Paused(_) | Self::Cancelled(_) | Self::Failed(_) => crate::Exit::Failed,
        }
    }
}

/// The incident summary of one observation: health and reasons, each member's role, readiness
/// and lag, plus what the caller knows of recent leader changes.
pub fn incident_text(database: &str, obs: &Observed, lag_gate: u64, history: &[String]) -> String {
    let d = obs.derive(lag_gate);
    let mut s = format!(
        "Incident: {database} is {} — leader {}, term {}\n",
        d.state.health.word(),
        d.state.leader.as_deref().unwrap_or("none"),
        d.state.term.map_or("-".into(), |t| t.to_string())
    );
    for r in &d.state.reasons {
        s.push_str(&format!("  reason: {r}\n"));
    }
    for (p, m) in obs.pods.iter().zip(&d.state.members) {
        s.push_str(&format!(
            "  {} {} {} ready={} lag={}\n",
            m.role.glyph(),
            p.name,
            m.role.word(),
            p.ready,
            m.lag.map_or("-".into(), |l| l.to_string())
        ));
    }
    for h in history {
        s.push_str(&format!("  leader change: {h}\n"));
    }
    s
}
