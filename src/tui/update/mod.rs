//! `update`: folds one [`Msg`] into the [`Model`] and says what the runtime must do. Pure: no I/O,
//! no await, no clock reads (time arrives in `Msg::Tick`). Key handling per mode (normal keys go
//! through the keymap to an [`Action`]; filter and command lines edit text; any key closes help),
//! selection moves, the `:` commands, and the focus sent to the sources (moving between views is
//! `tui::nav`). The operation dialogs' keys and transitions are `flow`; following someone
//! else's operation from its Lease is `follow`.

mod flow;
mod follow;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, MouseEvent, MouseEventKind};
use tui_input::backend::crossterm::EventHandler;

use super::model::{Filter, Mode, Model, Note, Pane, View};
use super::msg::{Cmd, Msg};
use super::nav;
use crate::config::keymap::Action;
use crate::fleet::{DbKey, FleetEvent};

/// Applies `msg` to `model`; returns the commands for the runtime.
pub fn update(model: &mut Model, msg: Msg) -> Vec<Cmd> {
    let mut cmds = Vec::new();
    match msg {
        Msg::Key(k) => on_key(model, k, &mut cmds),
        Msg::Mouse(me) => on_mouse(model, me),
        Msg::Resize(w, h) => {
            if model.size != (w, h) {
                model.size = (w, h);
                model.dirty = true;
            }
        }
        Msg::Fleet(ev) => apply(model, ev),
        Msg::FleetBatch(evs) => {
            for ev in evs {
                apply(model, ev);
            }
        }
        Msg::Tick { now_ms } => model.now_ms = now_ms,
        Msg::ThemeLoaded(Ok(theme)) => {
            model.note = Some(Note::Info(format!("theme {}", theme.name)));
            model.theme = theme;
            model.dirty = true;
        }
        Msg::ThemeLoaded(Err(e)) => error(model, e),
        Msg::InputEnded(None) => cmds.push(Cmd::Quit),
        Msg::InputEnded(Some(e)) => cmds.push(Cmd::Fail(format!("terminal input: {e}"))),
        Msg::Op(om) => flow::on_msg(model, om),
        Msg::Campaign(cm) => flow::on_campaign_msg(model, cm),
    }
    if model.expire_note() {
        model.dirty = true;
    }
    model.refresh();
    follow::refresh(model, &mut cmds);
    flow::offer_resume(model);
    let marks = model.compute_time_marks();
    if marks != model.time_marks {
        model.time_marks = marks;
        model.dirty = true;
    }
    let focus = model.focus();
    if model.last_focus.as_ref() != Some(&focus) {
        model.last_focus = Some(focus.clone());
        cmds.push(Cmd::SetFocus(focus));
    }
    cmds
}

/// Folds one fleet event in, noting whether the set of databases may have changed.
fn apply(m: &mut Model, ev: FleetEvent) {
    let membership = ev.may_change_databases();
    let access = matches!(ev, FleetEvent::Access { .. });
    let campaigns = matches!(
        ev,
        FleetEvent::Campaigns { .. } | FleetEvent::CampaignGone { .. }
    );
    if m.fleet.apply(ev) {
        m.dirty = true;
        m.keys_stale |= membership;
        if campaigns {
            m.campaigns.refresh(&m.fleet);
        }
        if access {
            m.role_follows_identity();
        }
    }
}

fn error(m: &mut Model, text: String) {
    m.note = Some(Note::Error(text));
    m.dirty = true;
}

fn on_mouse(m: &mut Model, me: MouseEvent) {
    match me.kind {
        MouseEventKind::ScrollDown => move_by(m, 3),
        MouseEventKind::ScrollUp => move_by(m, -3),
        _ => {}
    }
}

fn on_key(m: &mut Model, k: KeyEvent, cmds: &mut Vec<Cmd>) {
    if k.kind == KeyEventKind::Release {
        return;
    }
    m.key_pressed();
    if m.keymap.interrupts(&k) {
        flow::quit(m, cmds);
        return;
    }
    if m.ops.dialog.is_some() {
        flow::dialog_key(m, k, cmds);
        return;
    }
    match m.mode {
        Mode::Help => {
            m.mode = Mode::Normal;
            m.dirty = true;
        }
        Mode::Filter => filter_key(m, k),
        Mode::Command => command_key(m, k, cmds),
        Mode::Normal => normal_key(m, k, cmds),
    }
}

fn filter_key(m: &mut Model, k: KeyEvent) {
    m.dirty = true;
    match k.code {
        KeyCode::Esc => {
            m.filter_input.reset();
            m.mode = Mode::Normal;
            m.db_sel = 0;
        }
        KeyCode::Enter => match Filter::parse(m.filter_input.value()) {
            Ok(_) => {
                m.mode = Mode::Normal;
                if matches!(m.note, Some(Note::Error(_))) {
                    m.note = None;
                }
            }
            Err(e) => error(m, e),
        },
        _ => {
            let before = m.filter_input.value().to_string();
            m.filter_input.handle_event(&Event::Key(k));
            if m.filter_input.value() != before {
                m.db_sel = 0;
                m.db_offset = 0;
            }
        }
    }
}

fn command_key(m: &mut Model, k: KeyEvent, cmds: &mut Vec<Cmd>) {
    m.dirty = true;
    match k.code {
        KeyCode::Esc => {
            m.command_input.reset();
            m.mode = Mode::Normal;
        }
        KeyCode::Enter => {
            let line = m.command_input.value_and_reset();
            m.mode = Mode::Normal;
            run_command(m, line.trim(), cmds);
        }
        _ => {
            m.command_input.handle_event(&Event::Key(k));
        }
    }
}

fn normal_key(m: &mut Model, k: KeyEvent, cmds: &mut Vec<Cmd>) {
    if matches!(m.note, Some(Note::Info(_))) {
        m.note = None;
        m.dirty = true;
    }
    let Some(action) = m.keymap.action(m.view.keys(), &k) else {
        return;
    };
    let page = m.page_rows() as isize;
    match action {
        Action::Quit => flow::quit(m, cmds),
        Action::Help => set_mode(m, Mode::Help),
        Action::Command => {
            m.command_input.reset();
            set_mode(m, Mode::Command);
        }
        Action::Filter => {
            if !matches!(m.view, View::Databases { .. }) {
                let scope = match &m.view {
                    View::Profile { list, .. } => list.clone(),
                    _ => None,
                };
                nav::open_list(m, scope);
            }
            set_mode(m, Mode::Filter);
        }
        Action::Back => nav::back(m),
        Action::Open => nav::open(m),
        Action::AllDatabases => nav::open_list(m, None),
        Action::Down => move_by(m, 1),
        Action::Up => move_by(m, -1),
        Action::PageDown => move_by(m, page),
        Action::PageUp => move_by(m, -page),
        Action::First => move_by(m, isize::MIN),
        Action::Last => move_by(m, isize::MAX),
        Action::Sort => {
            m.sort = m.sort.next();
            m.reverse = false;
            m.dirty = true;
        }
        Action::Reverse => {
            m.reverse = !m.reverse;
            m.dirty = true;
        }
        Action::Copy => copy(m, cmds),
        Action::Operations => {
            let member = match &m.view {
                View::Profile { .. } => m
                    .open_database()
                    .and_then(|d| d.members.get(m.member_sel))
                    .map(|mb| mb.pod.name.clone()),
                _ => None,
            };
            let is_static = m
                .selected_database()
                .and_then(|k| m.fleet.databases.get(&k))
                .is_some_and(|d| d.is_static());
            if is_static {
                // Every operation acts through Kubernetes (pods, StatefulSets, Jobs, Leases).
                m.note = Some(Note::Info(
                    "a static inventory database: no operations (they need Kubernetes)".into(),
                ));
                m.dirty = true;
            } else if let Some(key) = m.selected_database() {
                flow::open_menu(m, key, member);
            }
        }
        Action::CancelOperation if matches!(m.view, View::Campaigns { .. }) => {
            flow::control_key(m, flow::Control::Cancel)
        }
        Action::CancelOperation => flow::cancel_or_close(m, cmds),
        Action::Follow => follow::on_key(m, cmds),
        Action::OperationsList => nav::open_operations(m),
        Action::Campaign => flow::open_campaign_form(m),
        Action::PauseCampaign => flow::control_key(m, flow::Control::Pause),
        Action::ResumeCampaign => flow::control_key(m, flow::Control::Resume),
        Action::Pane => {
            // A static inventory database has no events pane (no Kubernetes).
            if m.open_database().is_some_and(|d| !d.is_static()) {
                m.pane = match m.pane {
                    Pane::Members => Pane::Events,
                    Pane::Events => Pane::Members,
                };
                m.dirty = true;
            }
        }
    }
}

fn set_mode(m: &mut Model, mode: Mode) {
    m.mode = mode;
    m.dirty = true;
}

fn copy(m: &mut Model, cmds: &mut Vec<Cmd>) {
    let text = match &m.view {
        View::Fleet => m.selected_orchestra().map(str::to_string),
        View::Campaigns { open: None } => m.campaigns.selected().map(str::to_string),
        // A finished backup's or diagnostics' artifact is what is worth copying there.
        View::Profile { .. } if flow::artifact(m).is_some() => {
            flow::artifact(m).map(str::to_string)
        }
        // The member detail is open: the member is what is looked at.
        View::Profile { .. } if m.member_detail => m
            .open_database()
            .and_then(|d| d.members.get(m.member_sel))
            .map(|mb| mb.pod.name.clone()),
        _ => m.selected_database().as_ref().map(DbKey::id),
    };
    if let Some(t) = text {
        m.note = Some(Note::Info(format!("copied {t}")));
        m.dirty = true;
        cmds.push(Cmd::Copy(t));
    }
}

/// Moves the selection of the current view by `delta` rows (saturating at both ends).
fn move_by(m: &mut Model, delta: isize) {
    let (sel, len) = match &m.view {
        View::Fleet => (&mut m.orchestra_sel, m.orchestras.len()),
        View::Databases { .. } => (&mut m.db_sel, m.rows.len()),
        View::Profile { key, .. } if m.pane == Pane::Events && !m.member_detail => {
            let n = m.fleet.databases.get(key).map_or(0, |d| d.events.len());
            (&mut m.events_offset, n)
        }
        View::Profile { key, .. } => {
            let n = m.fleet.databases.get(key).map_or(0, |d| d.members.len());
            (&mut m.member_sel, n)
        }
        View::Operations => {
            let n = m.op_rows().len();
            (&mut m.ops.list_sel, n)
        }
        View::Campaigns { open: None } => (&mut m.campaigns.sel, m.campaigns.all.len()),
        View::Campaigns { open: Some(name) } => {
            let n = m.campaigns.all.get(name).map_or(0, |c| c.states.len());
            (&mut m.campaigns.db_sel, n)
        }
    };
    let max = len.saturating_sub(1) as isize;
    let new = (*sel as isize).saturating_add(delta).clamp(0, max) as usize;
    if new != *sel {
        *sel = new;
        m.dirty = true;
    }
}

fn run_command(m: &mut Model, line: &str, cmds: &mut Vec<Cmd>) {
    let (cmd, arg) = match line.split_once(char::is_whitespace) {
        Some((c, a)) => (c, a.trim()),
        None => (line, ""),
    };
    match (cmd, arg) {
        ("", _) => {}
        // `:q!` quits even while operations run (they stay resumable on their Leases).
        ("q!", _) => cmds.push(Cmd::Quit),
        ("q" | "quit" | "qa", _) => flow::quit(m, cmds),
        ("ops" | "operations", _) => nav::open_operations(m),
        ("campaigns", _) | ("campaign", "") => nav::open_campaigns(m, None),
        ("campaign", name) => {
            if m.campaigns.all.contains_key(name) {
                nav::open_campaigns(m, Some(name.to_string()));
            } else {
                error(
                    m,
                    format!("no campaign '{name}' in the orchestras (:campaigns lists them)"),
                );
            }
        }
        ("help", _) => m.mode = Mode::Help,
        ("ctx" | "context" | "orchestra", "") => error(
            m,
            ":ctx needs an orchestra name, e.g. :ctx aws-eu-west-1".into(),
        ),
        ("ctx" | "context" | "orchestra", name) => match find_orchestra(m, name) {
            Ok(o) => {
                let was = m.view.clone();
                nav::open_list(m, Some(o));
                if was == m.view {
                    m.dirty = true;
                }
                m.note = None;
            }
            Err(e) => error(m, e),
        },
        ("db" | "database", "") => error(
            m,
            ":db needs a database id (orchestra/namespace/name) or name".into(),
        ),
        ("db" | "database", id) => match find_database(m, id) {
            Ok(key) => {
                m.note = None;
                nav::open_profile(m, key);
            }
            Err(e) => error(m, e),
        },
        ("theme", "") => error(m, ":theme needs a name, e.g. :theme light".into()),
        ("theme", name) => cmds.push(Cmd::LoadTheme(name.to_string())),
        (other, _) => error(
            m,
            format!(
                "unknown command ':{}' — try :ctx NAME, :db ID, :ops, :theme NAME, :q",
                crate::clip(other, 40)
            ),
        ),
    }
}

fn find_orchestra(m: &Model, name: &str) -> Result<String, String> {
    let lower = name.to_lowercase();
    let names: Vec<&str> = m.orchestras.iter().map(|o| o.name.as_str()).collect();
    if let Some(o) = names
        .iter()
        .find(|o| **o == name || m.display_name(o).to_lowercase() == lower)
    {
        return Ok(o.to_string());
    }
    let partial: Vec<&&str> = names
        .iter()
        .filter(|o| o.contains(&lower) || m.display_name(o).to_lowercase().contains(&lower))
        .collect();
    match partial.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(format!(
            "no orchestra '{}' (known: {})",
            crate::clip(name, 40),
            crate::clip(&names.join(", "), 120)
        )),
        many => Err(format!(
            "'{}' matches {} orchestras: {}",
            crate::clip(name, 40),
            many.len(),
            crate::clip(
                &many.iter().map(|s| **s).collect::<Vec<_>>().join(", "),
                120
            )
        )),
    }
}

fn find_database(m: &Model, id: &str) -> Result<DbKey, String> {
    let parts: Vec<&str> = id.split('/').collect();
    if let [o, ns, name] = parts.as_slice() {
        let key = DbKey {
            orchestra: o.to_string(),
            namespace: ns.to_string(),
            name: name.to_string(),
        };
        return if m.fleet.databases.contains_key(&key) {
            Ok(key)
        } else {
            Err(format!("no database {}", crate::clip(id, 80)))
        };
    }
    let found: Vec<&DbKey> = m
        .fleet
        .databases
        .keys()
        .filter(|k| match parts.as_slice() {
            [ns, name] => k.namespace == *ns && k.name == *name,
            _ => k.name == id,
        })
        .collect();
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(format!("no database named '{}'", crate::clip(id, 80))),
        many => Err(format!(
            "'{}' names {} databases; type the id, e.g. :db {}",
            crate::clip(id, 80),
            many.len(),
            many[0].id()
        )),
    }
}
