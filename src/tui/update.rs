//! `update`: folds one [`Msg`] into the [`Model`] and says what the runtime must do. Pure: no I/O,
//! no await, no clock reads (time arrives in `Msg::Tick`). Key handling per mode (normal, filter,
//! command, help), navigation, the `:` commands, and the focus sent to the sources.

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind,
};
use tui_input::backend::crossterm::EventHandler;

use super::model::{Filter, Mode, Model, Note, View};
use super::msg::{Cmd, Msg};
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
    }
    model.refresh();
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
    if m.fleet.apply(ev) {
        m.dirty = true;
        m.keys_stale |= membership;
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
    if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
        cmds.push(Cmd::Quit);
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
    let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
    let page = m.page_rows() as isize;
    match k.code {
        KeyCode::Char('f' | 'd') if ctrl => move_by(m, page),
        KeyCode::Char('b' | 'u') if ctrl => move_by(m, -page),
        KeyCode::Char('q') => cmds.push(Cmd::Quit),
        KeyCode::Char('?') => set_mode(m, Mode::Help),
        KeyCode::Char(':') => {
            m.command_input.reset();
            set_mode(m, Mode::Command);
        }
        KeyCode::Char('/') => {
            if !matches!(m.view, View::Databases { .. }) {
                let scope = match &m.view {
                    View::Profile { list, .. } => list.clone(),
                    _ => None,
                };
                open_list(m, scope);
            }
            set_mode(m, Mode::Filter);
        }
        KeyCode::Esc | KeyCode::Left | KeyCode::Char('h') | KeyCode::Backspace => back(m),
        KeyCode::Enter | KeyCode::Right | KeyCode::Char('l') => open(m),
        KeyCode::Char('d') | KeyCode::Tab => open_list(m, None),
        KeyCode::Down | KeyCode::Char('j') => move_by(m, 1),
        KeyCode::Up | KeyCode::Char('k') => move_by(m, -1),
        KeyCode::PageDown => move_by(m, page),
        KeyCode::PageUp => move_by(m, -page),
        KeyCode::Home | KeyCode::Char('g') => move_by(m, isize::MIN),
        KeyCode::End | KeyCode::Char('G') => move_by(m, isize::MAX),
        KeyCode::Char('s') if matches!(m.view, View::Databases { .. }) => {
            m.sort = m.sort.next();
            m.reverse = false;
            m.dirty = true;
        }
        KeyCode::Char('S') if matches!(m.view, View::Databases { .. }) => {
            m.reverse = !m.reverse;
            m.dirty = true;
        }
        KeyCode::Char('y') => copy(m, cmds),
        _ => {}
    }
}

fn set_mode(m: &mut Model, mode: Mode) {
    m.mode = mode;
    m.dirty = true;
}

fn copy(m: &mut Model, cmds: &mut Vec<Cmd>) {
    let text = match &m.view {
        View::Fleet => m.selected_orchestra().map(str::to_string),
        _ => m.selected_database().map(DbKey::id),
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
        View::Profile { key, .. } => {
            let n = m.fleet.databases.get(key).map_or(0, |d| d.members.len());
            (&mut m.member_sel, n)
        }
    };
    let max = len.saturating_sub(1) as isize;
    let new = (*sel as isize).saturating_add(delta).clamp(0, max) as usize;
    if new != *sel {
        *sel = new;
        m.dirty = true;
    }
}

/// Opens the database list of `orchestra` (or of the fleet), at its top.
fn open_list(m: &mut Model, orchestra: Option<String>) {
    let target = View::Databases { orchestra };
    if m.view != target {
        m.view = target;
        m.rows.clear();
        m.db_sel = 0;
        m.db_offset = 0;
        m.dirty = true;
    }
}

fn open_profile(m: &mut Model, key: DbKey) {
    let list = match &m.view {
        View::Fleet => Some(key.orchestra.clone()),
        View::Databases { orchestra } => orchestra.clone(),
        View::Profile { list, .. } => list.clone(),
    };
    m.view = View::Profile { key, list };
    m.member_sel = 0;
    m.dirty = true;
}

fn open(m: &mut Model) {
    match &m.view {
        View::Fleet => {
            if let Some(o) = m.selected_orchestra().map(str::to_string) {
                open_list(m, Some(o));
            }
        }
        View::Databases { .. } => {
            if let Some(k) = m.row(m.db_sel).cloned() {
                open_profile(m, k);
            }
        }
        View::Profile { .. } => {}
    }
}

/// Esc: profile → its database list (with the database selected) → fleet.
fn back(m: &mut Model) {
    match &m.view {
        View::Profile { key, list } => {
            let key = key.clone();
            m.view = View::Databases {
                orchestra: list.clone(),
            };
            m.refresh();
            if let Some(i) = m.row_of(&key) {
                m.db_sel = i;
            }
        }
        View::Databases { .. } => m.view = View::Fleet,
        View::Fleet => {}
    }
    if matches!(m.note, Some(Note::Error(_))) {
        m.note = None;
    }
    m.dirty = true;
}

fn run_command(m: &mut Model, line: &str, cmds: &mut Vec<Cmd>) {
    let (cmd, arg) = match line.split_once(char::is_whitespace) {
        Some((c, a)) => (c, a.trim()),
        None => (line, ""),
    };
    match (cmd, arg) {
        ("", _) => {}
        ("q" | "q!" | "quit" | "qa", _) => cmds.push(Cmd::Quit),
        ("help", _) => m.mode = Mode::Help,
        ("ctx" | "context" | "orchestra", "") => error(
            m,
            ":ctx needs an orchestra name, e.g. :ctx aws-eu-west-1".into(),
        ),
        ("ctx" | "context" | "orchestra", name) => match find_orchestra(m, name) {
            Ok(o) => {
                let was = m.view.clone();
                open_list(m, Some(o));
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
                open_profile(m, key);
            }
            Err(e) => error(m, e),
        },
        ("theme", "") => error(m, ":theme needs a name, e.g. :theme light".into()),
        ("theme", name) => cmds.push(Cmd::LoadTheme(name.to_string())),
        (other, _) => error(
            m,
            format!(
                "unknown command ':{}' — try :ctx NAME, :db ID, :theme NAME, :q",
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
