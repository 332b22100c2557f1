//! The campaign dialogs' keys and the campaign tasks' answers: the form opened from the
//! database list over its filter, its plan with the typed confirmation (the name and the number
//! of databases), and the `:campaigns` keys (pause: y/n; resume and cancel: the name typed).
//! Nothing is sent before a confirmation; read-only refuses here, and again where the requests
//! are made.

use crossterm::event::{Event, KeyCode, KeyEvent};
use tui_input::backend::crossterm::EventHandler;

use super::{error, info};
use crate::Exit;
use crate::ops::campaign::state::Phase;
use crate::tui::model::{Mode, Model, View};
use crate::tui::msg::{CampaignCmd, CampaignMsg, Cmd};
use crate::tui::ops::Dialog;
use crate::tui::ops::campaign::{self, CampaignAsk, CampaignForm, CampaignPlan};

/// The campaign key in the database list: the form over the list's filter.
pub fn open_form(m: &mut Model) {
    let View::Databases { orchestra } = &m.view else {
        return;
    };
    if m.read_only {
        error(
            m,
            "read-only: no campaign can start from this dashboard".into(),
        );
        return;
    }
    let f = campaign::form(m.filter_input.value(), orchestra.as_deref());
    m.mode = Mode::Normal;
    m.ops.dialog = Some(Dialog::CampaignForm(f));
    m.dirty = true;
}

pub(super) fn form_key(m: &mut Model, mut form: CampaignForm, k: KeyEvent) -> Option<Dialog> {
    let n = form.fields.len().max(1);
    match k.code {
        KeyCode::Esc => {
            info(m, "no campaign: nothing was sent".into());
            return None;
        }
        KeyCode::Tab | KeyCode::Down => form.focus = (form.focus + 1) % n,
        KeyCode::BackTab | KeyCode::Up => form.focus = (form.focus + n - 1) % n,
        KeyCode::Enter => {
            match campaign::plan_of(&form, &m.fleet, &m.config, m.read_only, m.now_ms) {
                Ok(p) => {
                    m.note = None;
                    return Some(Dialog::CampaignPlan(Box::new(p)));
                }
                Err((i, e)) => {
                    form.focus = i;
                    form.error = Some(e);
                }
            }
        }
        _ => {
            if let Some(f) = form.fields.get_mut(form.focus) {
                f.input.handle_event(&Event::Key(k));
                form.error = None;
            }
        }
    }
    Some(Dialog::CampaignForm(form))
}

pub(super) fn plan_key(
    m: &mut Model,
    mut p: Box<CampaignPlan>,
    k: KeyEvent,
    cmds: &mut Vec<Cmd>,
) -> Option<Dialog> {
    let page = usize::from(m.size.1.saturating_sub(12)).max(1);
    match k.code {
        KeyCode::Esc => return Some(Dialog::CampaignForm(p.form)),
        KeyCode::Down => p.scroll = (p.scroll + 1).min(p.lines.len().saturating_sub(1)),
        KeyCode::Up => p.scroll = p.scroll.saturating_sub(1),
        KeyCode::PageDown => p.scroll = (p.scroll + page).min(p.lines.len().saturating_sub(1)),
        KeyCode::PageUp => p.scroll = p.scroll.saturating_sub(page),
        KeyCode::Enter => {
            if let Some(why) = &p.blocked {
                error(m, format!("not started: {why}"));
            } else if !p.typed_matches() {
                error(
                    m,
                    format!(
                        "type the campaign's name and its number of databases ({}) to start it",
                        p.expected()
                    ),
                );
            } else {
                let name = p.name.clone();
                info(
                    m,
                    format!(
                        "campaign {name}: listing the fleet again, then it starts if the plan is the same…"
                    ),
                );
                m.campaigns.here.insert(name.clone(), Default::default());
                cmds.push(Cmd::Campaign(CampaignCmd::Start {
                    args: p.args,
                    databases: p.databases,
                }));
                crate::tui::nav::open_campaigns(m, None);
                return None;
            }
        }
        _ => {
            p.typed.handle_event(&Event::Key(k));
        }
    }
    Some(Dialog::CampaignPlan(p))
}

/// Which `:campaigns` key was pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Pause,
    Resume,
    Cancel,
}

/// A `:campaigns` key on the selected (or open) campaign: its question, or why not.
pub fn control_key(m: &mut Model, which: Control) {
    let name = match &m.view {
        View::Campaigns { open: Some(n) } => Some(n.clone()),
        View::Campaigns { open: None } => m.campaigns.selected().map(str::to_string),
        _ => None,
    };
    let Some(name) = name else {
        return;
    };
    if m.read_only {
        error(m, "read-only: a campaign's control is a change".into());
        return;
    }
    let phase = m
        .campaigns
        .all
        .get(&name)
        .and_then(|c| c.control.as_ref())
        .map(|c| c.phase);
    let refused = match (which, phase) {
        (_, None) => Some("its home orchestra's record is not read".to_string()),
        (_, Some(Phase::Finished)) => Some("it finished".into()),
        (_, Some(Phase::Cancelled)) => {
            Some("it was cancelled (a cancelled campaign stays so)".into())
        }
        (Control::Pause, Some(p)) if p != Phase::Running => {
            Some(format!("it is {} already", p.word()))
        }
        _ => None,
    };
    if let Some(why) = refused {
        error(m, format!("campaign {name}: {why}"));
        return;
    }
    let typed = tui_input::Input::default();
    m.ops.dialog = Some(Dialog::CampaignAsk(match which {
        Control::Pause => CampaignAsk::Pause { name },
        Control::Resume => CampaignAsk::Resume { name, typed },
        Control::Cancel => CampaignAsk::Cancel { name, typed },
    }));
    m.dirty = true;
}

pub(super) fn ask_key(
    m: &mut Model,
    ask: CampaignAsk,
    k: KeyEvent,
    cmds: &mut Vec<Cmd>,
) -> Option<Dialog> {
    if k.code == KeyCode::Esc {
        info(m, "left as it is: nothing was sent".into());
        return None;
    }
    match ask {
        CampaignAsk::Pause { name } => match k.code {
            KeyCode::Char('y' | 'Y') => {
                info(m, format!("pausing campaign {name}…"));
                cmds.push(Cmd::Campaign(CampaignCmd::Control {
                    name,
                    phase: Phase::Paused,
                    why: format!("paused from the dashboard of {}", m.identity),
                }));
                None
            }
            KeyCode::Char('n' | 'N') => None,
            _ => Some(Dialog::CampaignAsk(CampaignAsk::Pause { name })),
        },
        CampaignAsk::Resume { name, mut typed } if k.code != KeyCode::Enter => {
            typed.handle_event(&Event::Key(k));
            Some(Dialog::CampaignAsk(CampaignAsk::Resume { name, typed }))
        }
        CampaignAsk::Cancel { name, mut typed } if k.code != KeyCode::Enter => {
            typed.handle_event(&Event::Key(k));
            Some(Dialog::CampaignAsk(CampaignAsk::Cancel { name, typed }))
        }
        CampaignAsk::Resume { name, typed } => {
            if typed.value().trim() != name {
                error(m, format!("type the campaign's name ({name}) to resume it"));
                return Some(Dialog::CampaignAsk(CampaignAsk::Resume { name, typed }));
            }
            info(m, format!("resuming campaign {name}…"));
            m.campaigns.here.insert(name.clone(), Default::default());
            cmds.push(Cmd::Campaign(CampaignCmd::Resume { name }));
            None
        }
        CampaignAsk::Cancel { name, typed } => {
            if typed.value().trim() != name {
                error(m, format!("type the campaign's name ({name}) to cancel it"));
                return Some(Dialog::CampaignAsk(CampaignAsk::Cancel { name, typed }));
            }
            info(m, format!("cancelling campaign {name}…"));
            cmds.push(Cmd::Campaign(CampaignCmd::Control {
                name,
                phase: Phase::Cancelled,
                why: format!("cancelled from the dashboard of {}", m.identity),
            }));
            None
        }
    }
}

/// A campaign task's answer.
pub fn on_msg(m: &mut Model, msg: CampaignMsg) {
    m.dirty = true;
    match msg {
        CampaignMsg::Line { name, text } => {
            let here = m.campaigns.here.entry(name).or_default();
            // Its first line (started, resumed, or why not) replaces "listing the fleet again…".
            if here.lines.is_empty() {
                m.note = Some(crate::tui::model::Note::Info(text.clone()));
            }
            here.push(text);
        }
        CampaignMsg::Ended { name, result } => {
            let here = m.campaigns.here.entry(name.clone()).or_default();
            let last = here.lines.back().cloned().unwrap_or_default();
            match result {
                Ok(code) => {
                    here.ended = Some(format!("stopped here (exit {})", code as u8));
                    let text = if last.is_empty() {
                        format!("campaign {name}: its coordinator here stopped")
                    } else {
                        last
                    };
                    if code == Exit::Ok {
                        info(m, text);
                    } else {
                        error(m, text);
                    }
                }
                Err(e) => {
                    here.ended = Some(e.clone());
                    error(m, format!("campaign {name}: {e}"));
                }
            }
        }
        CampaignMsg::Controlled { name, result } => match result {
            Ok(text) => info(m, text),
            Err(e) => error(m, format!("campaign {name}: {e}")),
        },
    }
}
