//! The operations menu of a database (what may run there, and why not, given the role, the
//! read-only switch, the permissions and what is in flight) and the parameter form: choosing
//! what to run, up to asking for its preflight.

use crossterm::event::{Event, KeyCode, KeyEvent};
use tui_input::backend::crossterm::EventHandler;

use super::{error, prepare};
use crate::config::OperationName;
use crate::config::keymap::{Action, Context};
use crate::fleet::DbKey;
use crate::fleet::catalog;
use crate::ops::runner::Request;
use crate::tui::model::Model;
use crate::tui::msg::{Cmd, OpCmd, OpStart};
use crate::tui::ops::{
    Ask, Choice, Dialog, Form, Menu, MenuItem, Run, fields_for, kind_of, lease, member_level,
    validate,
};

/// Opens the operations menu of `key`; `member` is the profile's selected member.
pub fn open_menu(m: &mut Model, key: DbKey, member: Option<String>) {
    let Some(d) = m.fleet.databases.get(&key) else {
        return;
    };
    let kind = kind_of(&m.config, d);
    let read_only = m.read_only_for(&key.orchestra);
    let allowed = m.operations(&key.orchestra);
    let role = m.config.general.role.clone();
    let own_running = m.ops.runs.get(&key).is_some_and(Run::running);
    let in_flight = lease::in_flight(d, m.now_ms);
    let mut items = Vec::new();
    if let Some(i) = in_flight.as_ref().filter(|i| i.stale)
        && !own_running
    {
        items.push(MenuItem {
            choice: Choice::Resume,
            why_not: if read_only {
                Some("read-only: operations are off".into())
            } else if !allowed.contains(&i.record.operation) {
                Some(format!(
                    "role '{role}' may not run {}",
                    i.record.operation.as_str()
                ))
            } else if let missing = m.missing_permissions(
                &key.orchestra,
                catalog::permissions(
                    i.record.operation,
                    i.record.param("strategy").unwrap_or("in-place"),
                ),
            ) && !missing.is_empty()
            {
                Some(format!("missing: {}", missing.join(", ")))
            } else {
                None
            },
            about: format!("{} — {}", i.summary(), i.holder),
        });
    }
    for spec in catalog::CATALOG
        .iter()
        .filter(|s| s.profiles.contains(&kind))
    {
        let why_not = if !spec.available {
            Some("not in this version".to_string())
        } else if read_only {
            Some("read-only: operations are off".into())
        } else if !allowed.contains(&spec.name) {
            Some(format!("role '{role}' may not run it"))
        } else if let missing = m.missing_permissions(&key.orchestra, spec.permissions)
            && !missing.is_empty()
        {
            Some(format!("missing: {}", missing.join(", ")))
        } else if own_running && spec.name != OperationName::Incident {
            Some("an operation of yours runs here".into())
        } else {
            None
        };
        items.push(MenuItem {
            choice: Choice::Op(spec.name),
            why_not,
            about: spec.description.to_string(),
        });
    }
    let sel = items.iter().position(|i| i.why_not.is_none()).unwrap_or(0);
    let in_flight = in_flight.map(|i| {
        format!(
            "in flight: {} — {}, renewed {} ago{}",
            i.summary(),
            i.holder,
            lease::ago(i.renewed_s),
            if i.stale { " (stale)" } else { "" }
        )
    });
    m.ops.dialog = Some(Dialog::Menu(Menu {
        key,
        member,
        items,
        sel,
        in_flight,
    }));
    m.dirty = true;
}

pub(super) fn menu_key(
    m: &mut Model,
    mut menu: Menu,
    k: KeyEvent,
    cmds: &mut Vec<Cmd>,
) -> Option<Dialog> {
    let last = menu.items.len().saturating_sub(1);
    match (k.code, m.keymap.action(Context::Profile, &k)) {
        (KeyCode::Esc, _) | (_, Some(Action::Back)) => return None,
        (KeyCode::Enter, _) => return choose(m, menu, cmds),
        (KeyCode::Down, _) | (_, Some(Action::Down)) => menu.sel = (menu.sel + 1).min(last),
        (KeyCode::Up, _) | (_, Some(Action::Up)) => menu.sel = menu.sel.saturating_sub(1),
        (_, Some(Action::First)) => menu.sel = 0,
        (_, Some(Action::Last)) => menu.sel = last,
        _ => {}
    }
    Some(Dialog::Menu(menu))
}

/// Enter on a menu row: the form, or straight to the preflight.
fn choose(m: &mut Model, menu: Menu, cmds: &mut Vec<Cmd>) -> Option<Dialog> {
    let item = menu.items.get(menu.sel)?.clone();
    if let Some(why) = &item.why_not {
        let name = match item.choice {
            Choice::Op(op) => op.as_str(),
            Choice::Resume => "resume",
        };
        error(m, format!("{name}: {why}"));
        return Some(Dialog::Menu(menu));
    }
    m.note = None;
    let key = menu.key.clone();
    match item.choice {
        Choice::Resume => Some(prepare(m, key, OpStart::Resume, None, cmds)),
        Choice::Op(OperationName::Incident) => {
            let id = m.ops.take_id();
            cmds.push(Cmd::Op(OpCmd::IncidentSummary {
                id,
                key: key.clone(),
            }));
            Some(Dialog::Ask(Ask::Incident {
                id,
                key,
                text: None,
            }))
        }
        Choice::Op(op) => {
            let member = if member_level(op) {
                menu.member.clone()
            } else {
                None
            };
            let fields = fields_for(op, member.as_deref());
            if fields.is_empty() {
                let req = Request {
                    member,
                    ..Request::default()
                };
                Some(prepare(m, key, OpStart::New(op, req), Some(op), cmds))
            } else {
                Some(Dialog::Form(Form {
                    key,
                    op,
                    member,
                    fields,
                    focus: 0,
                    error: None,
                    back: Some(Box::new(menu)),
                }))
            }
        }
    }
}

pub(super) fn form_key(
    m: &mut Model,
    mut form: Form,
    k: KeyEvent,
    cmds: &mut Vec<Cmd>,
) -> Option<Dialog> {
    let n = form.fields.len().max(1);
    match k.code {
        KeyCode::Esc => return form.back.map(|b| Dialog::Menu(*b)),
        KeyCode::Tab | KeyCode::Down => form.focus = (form.focus + 1) % n,
        KeyCode::BackTab | KeyCode::Up => form.focus = (form.focus + n - 1) % n,
        KeyCode::Enter => {
            let checked = match m.fleet.databases.get(&form.key) {
                Some(d) => validate(&form, d),
                None => Err((form.focus, "the database is gone".into())),
            };
            match checked {
                Ok(req) => {
                    let (key, op) = (form.key.clone(), form.op);
                    return Some(prepare(m, key, OpStart::New(op, req), Some(op), cmds));
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
    Some(Dialog::Form(form))
}
