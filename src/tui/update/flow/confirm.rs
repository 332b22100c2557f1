//! The confirmation: a preflight's answer as the dialog shows it (its checks, plan, and why it
//! was refused), which failing rules `F` may force past, its keys (y / n, or the database id
//! typed for database-wide or destructive operations and for taking over a stale lock), and
//! starting the run once confirmed.

use crossterm::event::{Event, KeyCode, KeyEvent};
use tui_input::backend::crossterm::EventHandler;

use super::{info, prepare};
use crate::config::{OperationName, RunPlace};
use crate::fleet::DbKey;
use crate::ops::runner::Outcome;
use crate::tui::model::{Model, View};
use crate::tui::msg::{Cmd, OpCmd, OpStart, Refusal};
use crate::tui::nav;
use crate::tui::ops::progress::{outcome_detail, outcome_word};
use crate::tui::ops::{Dialog, Preflight, Run};

pub(super) fn preflight_key(
    m: &mut Model,
    mut pf: Box<Preflight>,
    k: KeyEvent,
    cmds: &mut Vec<Cmd>,
) -> Option<Dialog> {
    if k.code == KeyCode::Esc {
        info(m, "cancelled: nothing was sent".into());
        return None;
    }
    // Tab: here or in the orchestra (a new operation, where a runner image is configured).
    if k.code == KeyCode::Tab {
        if pf.can_confirm() && pf.runner_image.is_some() && matches!(pf.start, OpStart::New(..)) {
            pf.place = match pf.place {
                RunPlace::Local => RunPlace::InCluster,
                RunPlace::InCluster => RunPlace::Local,
            };
            m.dirty = true;
        }
        return Some(Dialog::Preflight(pf));
    }
    if !pf.can_confirm() {
        // Forced past the failing rules, if the config allows it: prepared again, then the id
        // must be typed.
        if k.code == KeyCode::Char('F')
            && !pf.forceable.is_empty()
            && let OpStart::New(op, mut req) = pf.start.clone()
        {
            for r in &pf.forceable {
                if !req.force.contains(r) {
                    req.force.push(r.clone());
                }
            }
            tracing::warn!(operation = op.as_str(), database = %pf.key.id(), rules = ?req.force, "operator asks to force safety rules");
            let key = pf.key.clone();
            return Some(prepare(m, key, OpStart::New(op, req), Some(op), cmds));
        }
        // Only a way out: fix the database first.
        return match k.code {
            KeyCode::Enter | KeyCode::Char('q' | 'n') => None,
            _ => Some(Dialog::Preflight(pf)),
        };
    }
    if pf.typed_confirmation() {
        match k.code {
            KeyCode::Enter if pf.id_matches() => run(m, *pf, cmds),
            // Enter does nothing until the id matches exactly.
            KeyCode::Enter => Some(Dialog::Preflight(pf)),
            _ => {
                pf.typed.handle_event(&Event::Key(k));
                Some(Dialog::Preflight(pf))
            }
        }
    } else {
        match k.code {
            KeyCode::Char('y' | 'Y') => run(m, *pf, cmds),
            KeyCode::Char('n' | 'N') => {
                info(m, "cancelled: nothing was sent".into());
                None
            }
            _ => Some(Dialog::Preflight(pf)),
        }
    }
}

/// Confirmed: start the run and show its progress in the database's profile.
fn run(m: &mut Model, pf: Preflight, cmds: &mut Vec<Cmd>) -> Option<Dialog> {
    let prepared = pf.prepared?;
    let op = prepared.record.operation;
    let artifact = matches!(op, OperationName::Backup | OperationName::Diagnostics)
        .then(|| prepared.record.params.get("target").cloned())
        .flatten();
    let mut run = Run::new(
        pf.id,
        pf.key.clone(),
        op,
        prepared.resumed,
        prepared.plan.clone(),
        artifact,
        m.now_ms,
    );
    run.record_started_ms = prepared.record.started_ms;
    m.ops.runs.insert(pf.key.clone(), run);
    match (pf.place, pf.runner_image, pf.start) {
        (RunPlace::InCluster, Some(image), OpStart::New(_, request)) => {
            cmds.push(Cmd::Op(OpCmd::Launch {
                id: pf.id,
                key: pf.key.clone(),
                prepared,
                request,
                image,
            }));
        }
        _ => cmds.push(Cmd::Op(OpCmd::Run {
            id: pf.id,
            key: pf.key.clone(),
            prepared,
        })),
    }
    let here = matches!(&m.view, View::Profile { key, .. } if *key == pf.key);
    if !here {
        nav::open_profile(m, pf.key);
    }
    m.note = None;
    None
}

/// The failing rules of a refused preflight that `F` may force past: only when the config
/// allows forcing, the operation is a new one (a resume keeps its record's), and every ✗ is of
/// a rule that can be forced (never the lock, the role, read-only, or bad input).
pub(super) fn forceable(m: &Model, pf: &Preflight) -> Vec<String> {
    use crate::ops::safety::FORCEABLE;
    if !m.config.operations.allow_force
        || pf.prepared.is_some()
        || !matches!(pf.start, OpStart::New(..))
        || !pf
            .blocked
            .as_deref()
            .is_some_and(|b| b.starts_with("refused by rule"))
    {
        return Vec::new();
    }
    let failing: Vec<&str> = pf.checks.iter().filter(|c| !c.ok).map(|c| c.rule).collect();
    if failing.is_empty() || !failing.iter().all(|r| FORCEABLE.contains(r)) {
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for r in failing {
        if !out.iter().any(|o| o == r) {
            out.push(r.to_string());
        }
    }
    out
}

/// The preflight's answer as the confirmation shows it.
pub(super) fn preflight(
    id: u64,
    key: DbKey,
    title: &str,
    start: OpStart,
    result: Result<Box<crate::ops::runner::Prepared>, Refusal>,
) -> Preflight {
    let named = OperationName::from_name(title);
    match result {
        Ok(p) => Preflight {
            id,
            key,
            title: p.record.operation.as_str().to_string(),
            operation: Some(p.record.operation),
            resumed: p.resumed,
            checks: p.checks.clone(),
            plan: p.plan.clone(),
            taking_over: p.taking_over.clone(),
            prepared: Some(p),
            blocked: None,
            typed: Default::default(),
            start,
            forceable: Vec::new(),
            place: RunPlace::Local,
            runner_image: None,
        },
        Err(Refusal {
            outcome,
            mut checks,
        }) => {
            let blocked = match &outcome {
                Outcome::Refused(c) => {
                    if !checks.contains(c) {
                        checks.push(c.clone());
                    }
                    format!("refused by rule '{}': nothing was sent", c.rule)
                }
                Outcome::Nothing(m) => format!("{m}: nothing was sent"),
                Outcome::Usage(m) => format!("cannot run: {m}"),
                other => format!("{}: {}", outcome_word(other), outcome_detail(other)),
            };
            Preflight {
                id,
                key,
                title: title.to_string(),
                operation: named,
                resumed: named.is_none(),
                checks,
                plan: Vec::new(),
                taking_over: None,
                prepared: None,
                blocked: Some(blocked),
                typed: Default::default(),
                start,
                forceable: Vec::new(),
                place: RunPlace::Local,
                runner_image: None,
            }
        }
    }
}
