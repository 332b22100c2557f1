//! The answers of operation tasks: a preflight's (it becomes the confirmation), a run's events,
//! log lines and end (the note says how it ended), an incident's summary and its posting; and
//! the artifact a run that is done leaves (what `y` copies).

use super::confirm::{forceable, preflight};
use super::{error, info};
use crate::ops::runner::Outcome;
use crate::tui::model::{Model, View};
use crate::tui::msg::{OpMsg, OpStart};
use crate::tui::ops::progress::outcome_word;
use crate::tui::ops::{Ask, Dialog};
use crate::tui::update::follow;

/// An answer of an operation task.
pub fn on_msg(m: &mut Model, msg: OpMsg) {
    match msg {
        OpMsg::Prepared { id, result } => {
            let Some(Dialog::Preparing {
                id: waiting,
                key,
                title,
                start,
            }) = &m.ops.dialog
            else {
                return;
            };
            if *waiting != id {
                return;
            }
            let (key, title, start) = (key.clone(), title.clone(), start.clone());
            let mut pf = preflight(id, key, &title, start, result);
            pf.forceable = forceable(m, &pf);
            if matches!(pf.start, OpStart::New(..))
                && let Some(image) = m.config.runner_image(&pf.key.orchestra)
            {
                pf.runner_image = Some(image.to_string());
                pf.place = m.config.run_place(&pf.key.orchestra);
            }
            m.ops.dialog = Some(Dialog::Preflight(Box::new(pf)));
            m.dirty = true;
        }
        OpMsg::Event { id, at_ms, event } => {
            if let Some(r) = m.ops.runs.values_mut().find(|r| r.id == id) {
                r.apply(event, at_ms);
                m.dirty = true;
            }
        }
        OpMsg::Log {
            id,
            pod,
            lines,
            error,
        } => follow::on_log(m, id, &pod, lines, error),
        OpMsg::IncidentSummary { id, result } => {
            let Some(Dialog::Ask(Ask::Incident { id: asked, key, .. })) = &m.ops.dialog else {
                return;
            };
            if *asked != id {
                return;
            }
            let key = key.clone();
            match result {
                Ok(text) => {
                    m.ops.dialog = Some(Dialog::Ask(Ask::Incident {
                        id,
                        key,
                        text: Some(text),
                    }));
                    m.dirty = true;
                }
                Err(e) => {
                    m.ops.dialog = None;
                    error(m, format!("incident: {e}"));
                }
            }
        }
        OpMsg::CancelRequested { key, result } => follow::cancel_requested(m, &key, result),
        OpMsg::IncidentPosted { key, result } => match result {
            Ok(()) => info(m, format!("incident posted for {}", key.id())),
            Err(e) => error(m, format!("incident of {} not posted: {e}", key.id())),
        },
        OpMsg::Finished { id, at_ms, outcome } => {
            let Some(r) = m.ops.runs.values_mut().find(|r| r.id == id) else {
                return;
            };
            let good = matches!(outcome, Outcome::Done(_) | Outcome::Nothing(_));
            let text = format!(
                "{} on {}: {}",
                r.operation.as_str(),
                r.key.id(),
                outcome_word(&outcome)
            );
            r.finish(outcome, at_ms);
            if good {
                info(m, text);
            } else {
                error(m, text);
            }
        }
    }
}

/// The artifact of the open database's run, once it is done (what `y` copies there).
pub fn artifact(m: &Model) -> Option<&str> {
    let View::Profile { key, .. } = &m.view else {
        return None;
    };
    let r = m.ops.runs.get(key)?;
    matches!(r.outcome, Some(Outcome::Done(_)))
        .then_some(r.artifact.as_deref())
        .flatten()
}
