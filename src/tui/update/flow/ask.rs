//! The questions a dialog asks before acting: cancelling a run, quitting while runs go on,
//! posting an incident's summary, and resuming an interrupted operation (offered once per
//! operation when its Lease goes stale); asking them and their answers.

use crossterm::event::{KeyCode, KeyEvent};

use super::{error, info, prepare};
use crate::config::keymap::Action;
use crate::tui::model::{Mode, Model, View};
use crate::tui::msg::{Cmd, OpCmd, OpStart};
use crate::tui::ops::{Ask, Dialog, ResumeOffer, Run, lease};
use crate::tui::update::follow;

pub(super) fn ask_key(m: &mut Model, ask: Ask, k: KeyEvent, cmds: &mut Vec<Cmd>) -> Option<Dialog> {
    let yes = matches!(k.code, KeyCode::Char('y' | 'Y'));
    let no = matches!(k.code, KeyCode::Char('n' | 'N') | KeyCode::Esc);
    match (ask, yes, no) {
        (
            Ask::Cancel {
                id, key, operation, ..
            },
            true,
            _,
        ) => {
            if let Some(r) = m.ops.runs.get_mut(&key).filter(|r| r.id == id) {
                r.cancelling = true;
            }
            cmds.push(Cmd::Op(OpCmd::Cancel { id }));
            info(
                m,
                format!(
                    "cancelling {}: the current action finishes and the database settles first",
                    operation.as_str()
                ),
            );
            None
        }
        (Ask::CancelFollowed { key, .. }, true, _) => {
            follow::request_cancel(m, key, cmds);
            None
        }
        (Ask::CancelFollowed { key, .. }, false, false) if k.code == KeyCode::Char('c') => {
            follow::close(m, &key, cmds);
            None
        }
        (Ask::Quit { .. }, true, _) => {
            cmds.push(Cmd::Quit);
            None
        }
        (
            Ask::Incident {
                key,
                text: Some(text),
                ..
            },
            true,
            _,
        ) => {
            info(m, format!("posting the incident of {}…", key.id()));
            cmds.push(Cmd::Op(OpCmd::PostIncident { key, text }));
            None
        }
        (_, _, true) => None,
        (ask, _, _) => Some(Dialog::Ask(ask)),
    }
}

pub(super) fn resume_key(
    m: &mut Model,
    offer: ResumeOffer,
    k: KeyEvent,
    cmds: &mut Vec<Cmd>,
) -> Option<Dialog> {
    match k.code {
        KeyCode::Enter | KeyCode::Char('r') => Some(prepare(
            m,
            offer.key,
            OpStart::Resume,
            Some(offer.operation),
            cmds,
        )),
        KeyCode::Esc | KeyCode::Char('n') => {
            info(
                m,
                format!(
                    "left as it is; {} opens the menu that offers it again",
                    m.keymap.label(Action::Operations)
                ),
            );
            None
        }
        _ => Some(Dialog::Resume(offer)),
    }
}

/// Quit, unless operations of this dashboard run, or campaigns it coordinates: then ask first.
pub fn quit(m: &mut Model, cmds: &mut Vec<Cmd>) {
    let running: Vec<String> = m
        .ops
        .runs
        .values()
        .filter(|r| r.running())
        .map(|r| format!("{} on {}", r.operation.as_str(), r.key.id()))
        .collect();
    let campaigns = m.campaigns.coordinated_here();
    if (running.is_empty() && campaigns.is_empty())
        || matches!(m.ops.dialog, Some(Dialog::Ask(Ask::Quit { .. })))
    {
        cmds.push(Cmd::Quit);
        return;
    }
    m.mode = Mode::Normal;
    m.ops.dialog = Some(Dialog::Ask(Ask::Quit { running, campaigns }));
    m.dirty = true;
}

/// The cancel key in a profile: cancel this database's run (asking first), or close the pane
/// of one that ended.
pub fn cancel_or_close(m: &mut Model, cmds: &mut Vec<Cmd>) {
    let View::Profile { key, .. } = &m.view else {
        return;
    };
    let key = key.clone();
    let own_running = m.ops.runs.get(&key).is_some_and(Run::running);
    if !own_running {
        if let Some(ask) = follow::ask_cancel(m, &key) {
            m.ops.dialog = Some(Dialog::Ask(ask));
            m.dirty = true;
            return;
        }
        if follow::close(m, &key, cmds) {
            return;
        }
    }
    match m.ops.runs.get(&key) {
        Some(r) if r.running() && r.cancelling => {
            info(
                m,
                "already cancelling: the current action finishes first".into(),
            );
        }
        Some(r) if r.running() => {
            let ask = Ask::Cancel {
                id: r.id,
                key,
                operation: r.operation,
            };
            m.ops.dialog = Some(Dialog::Ask(ask));
            m.dirty = true;
        }
        Some(_) => {
            m.ops.runs.remove(&key);
            m.dirty = true;
        }
        None => error(
            m,
            "no operation of this dashboard on this database".to_string(),
        ),
    }
}

/// Offers to resume the interrupted operation of the open database, once per operation: when
/// its Lease is stale (the holder stopped renewing, or it paused) and nothing else is asked.
pub fn offer_resume(m: &mut Model) {
    if m.ops.dialog.is_some() || m.mode != Mode::Normal {
        return;
    }
    let View::Profile { key, .. } = &m.view else {
        return;
    };
    if m.read_only_for(&key.orchestra) || m.ops.runs.get(key).is_some_and(Run::running) {
        return;
    }
    let Some(i) = m
        .fleet
        .databases
        .get(key)
        .and_then(|d| lease::in_flight(d, m.now_ms))
        .filter(|i| i.stale)
    else {
        return;
    };
    if !m.operations(&key.orchestra).contains(&i.record.operation) {
        return;
    }
    if !m.ops.offered.insert((key.clone(), i.record.started_ms)) {
        return;
    }
    let offer = ResumeOffer {
        key: key.clone(),
        operation: i.record.operation,
        summary: i.summary(),
        holder: i.holder.clone(),
        renewed_s: i.renewed_s,
        step: i.record.step,
    };
    m.ops.dialog = Some(Dialog::Resume(offer));
    m.dirty = true;
}
