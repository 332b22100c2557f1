//! The operations' transitions, called by `update` (pure): opening the menu, keys in each
//! dialog, the answers of preflights and runs, cancel and quit questions, and the resume offer.
//! Every way out of a dialog before the run (Esc, n, a refusal) sends nothing: a preflight only
//! reads, and only confirming sends [`OpCmd::Run`].
//!
//! Keys in dialogs are fixed (like the filter line's): Enter chooses or confirms, Esc cancels,
//! y / n answer; moving in the menu follows the keymap's up / down / first / last.
//!
//! This module sends each dialog's keys to its own and asks for preflights; the parts:
//! - `menu` — the operations menu and the parameter form: choosing what to run.
//! - `confirm` — the preflight as the confirmation shows it, its keys (y/n, the typed id,
//!   forcing), and starting the run once confirmed.
//! - `ask` — the questions (cancel, quit, posting an incident, resuming an interrupted
//!   operation): asking them and their answers.
//! - `campaign` — a campaign launched over the list's filter (form, plan, typed confirmation),
//!   the `:campaigns` keys and their questions, and the campaign tasks' answers.
//! - `answers` — the answers of operation tasks (preflights, run events, logs, ends, incident
//!   texts) and the artifact of a run that is done.

mod answers;
mod ask;
mod campaign;
mod confirm;
mod menu;

use crossterm::event::{KeyCode, KeyEvent};

use crate::config::OperationName;
use crate::fleet::DbKey;
use crate::tui::model::{Model, Note};
use crate::tui::msg::{Cmd, OpCmd, OpStart};
use crate::tui::ops::Dialog;

pub use answers::{artifact, on_msg};
pub use ask::{cancel_or_close, offer_resume, quit};
pub use campaign::{
    Control, control_key, on_msg as on_campaign_msg, open_form as open_campaign_form,
};
pub use menu::open_menu;

fn info(m: &mut Model, text: String) {
    m.note = Some(Note::Info(text));
    m.dirty = true;
}

fn error(m: &mut Model, text: String) {
    m.note = Some(Note::Error(text));
    m.dirty = true;
}

/// A key while a dialog is open.
pub fn dialog_key(m: &mut Model, k: KeyEvent, cmds: &mut Vec<Cmd>) {
    let Some(dialog) = m.ops.dialog.take() else {
        return;
    };
    m.dirty = true;
    m.ops.dialog = match dialog {
        Dialog::Menu(menu) => menu::menu_key(m, menu, k, cmds),
        Dialog::Form(form) => menu::form_key(m, form, k, cmds),
        Dialog::Preparing { .. } if k.code == KeyCode::Esc => {
            info(m, "cancelled: nothing was sent".into());
            None
        }
        d @ Dialog::Preparing { .. } => Some(d),
        Dialog::Preflight(pf) => confirm::preflight_key(m, pf, k, cmds),
        Dialog::Ask(ask) => ask::ask_key(m, ask, k, cmds),
        Dialog::Resume(offer) => ask::resume_key(m, offer, k, cmds),
        Dialog::CampaignForm(f) => campaign::form_key(m, f, k),
        Dialog::CampaignPlan(p) => campaign::plan_key(m, p, k, cmds),
        Dialog::CampaignAsk(a) => campaign::ask_key(m, a, k, cmds),
    };
}

/// Asks for the preflight; the dialog waits for its answer.
fn prepare(
    m: &mut Model,
    key: DbKey,
    start: OpStart,
    op: Option<OperationName>,
    cmds: &mut Vec<Cmd>,
) -> Dialog {
    let id = m.ops.take_id();
    cmds.push(Cmd::Op(OpCmd::Prepare {
        id,
        key: key.clone(),
        start: start.clone(),
    }));
    Dialog::Preparing {
        id,
        key,
        title: op.map_or("resume", OperationName::as_str).to_string(),
        start,
    }
}
