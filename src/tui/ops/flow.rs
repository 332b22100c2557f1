//! The operations' transitions, called by `update` (pure): opening the menu, keys in each
//! dialog, the answers of preflights and runs, cancel and quit questions, and the resume offer.
//! Every way out of a dialog before the run (Esc, n, a refusal) sends nothing: a preflight only
//! reads, and only confirming sends [`OpCmd::Run`].
//!
//! Keys in dialogs are fixed (like the filter line's): Enter chooses or confirms, Esc cancels,
//! y / n answer; moving in the menu follows the keymap's up / down / first / last.

use crossterm::event::{Event, KeyCode, KeyEvent};
use tui_input::backend::crossterm::EventHandler;

use super::progress::outcome_word;
use super::{
    Ask, Choice, Dialog, Form, Menu, MenuItem, Preflight, ResumeOffer, Run, fields_for, kind_of,
    lease, member_level, validate,
};
use crate::config::OperationName;
use crate::config::keymap::{Action, Context};
use crate::fleet::DbKey;
use crate::fleet::catalog;
use crate::ops::runner::{Outcome, Request};
use crate::tui::model::{Mode, Model, Note, View};
use crate::tui::msg::{Cmd, OpCmd, OpMsg, OpStart, Refusal};
use crate::tui::nav;

fn info(m: &mut Model, text: String) {
    m.note = Some(Note::Info(text));
    m.dirty = true;
}

fn error(m: &mut Model, text: String) {
    m.note = Some(Note::Error(text));
    m.dirty = true;
}

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

/// A key while a dialog is open.
pub fn dialog_key(m: &mut Model, k: KeyEvent, cmds: &mut Vec<Cmd>) {
    let Some(dialog) = m.ops.dialog.take() else {
        return;
    };
    m.dirty = true;
    m.ops.dialog = match dialog {
        Dialog::Menu(menu) => menu_key(m, menu, k, cmds),
        Dialog::Form(form) => form_key(m, form, k, cmds),
        Dialog::Preparing { .. } if k.code == KeyCode::Esc => {
            info(m, "cancelled: nothing was sent".into());
            None
        }
        d @ Dialog::Preparing { .. } => Some(d),
        Dialog::Preflight(pf) => preflight_key(m, pf, k, cmds),
        Dialog::Ask(ask) => ask_key(m, ask, k, cmds),
        Dialog::Resume(offer) => resume_key(m, offer, k, cmds),
    };
}

fn menu_key(m: &mut Model, mut menu: Menu, k: KeyEvent, cmds: &mut Vec<Cmd>) -> Option<Dialog> {
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

fn form_key(m: &mut Model, mut form: Form, k: KeyEvent, cmds: &mut Vec<Cmd>) -> Option<Dialog> {
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

fn preflight_key(
    m: &mut Model,
    mut pf: Box<Preflight>,
    k: KeyEvent,
    cmds: &mut Vec<Cmd>,
) -> Option<Dialog> {
    if k.code == KeyCode::Esc {
        info(m, "cancelled: nothing was sent".into());
        return None;
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
    cmds.push(Cmd::Op(OpCmd::Run {
        id: pf.id,
        key: pf.key.clone(),
        prepared,
    }));
    let here = matches!(&m.view, View::Profile { key, .. } if *key == pf.key);
    if !here {
        nav::open_profile(m, pf.key);
    }
    m.note = None;
    None
}

fn ask_key(m: &mut Model, ask: Ask, k: KeyEvent, cmds: &mut Vec<Cmd>) -> Option<Dialog> {
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

fn resume_key(
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
        } => super::follow::on_log(m, id, &pod, lines, error),
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

/// The failing rules of a refused preflight that `F` may force past: only when the config
/// allows forcing, the operation is a new one (a resume keeps its record's), and every ✗ is of
/// a rule that can be forced (never the lock, the role, read-only, or bad input).
fn forceable(m: &Model, pf: &Preflight) -> Vec<String> {
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
fn preflight(
    id: u64,
    key: DbKey,
    title: &str,
    start: OpStart,
    result: Result<Box<crate::ops::runner::Prepared>, Refusal>,
) -> Preflight {
    let named = OperationName::ALL.into_iter().find(|o| o.as_str() == title);
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
                other => format!(
                    "{}: {}",
                    outcome_word(other),
                    super::progress::outcome_detail(other)
                ),
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
            }
        }
    }
}

/// Quit, unless operations of this dashboard run: then ask first.
pub fn quit(m: &mut Model, cmds: &mut Vec<Cmd>) {
    let running: Vec<String> = m
        .ops
        .runs
        .values()
        .filter(|r| r.running())
        .map(|r| format!("{} on {}", r.operation.as_str(), r.key.id()))
        .collect();
    if running.is_empty() || matches!(m.ops.dialog, Some(Dialog::Ask(Ask::Quit { .. }))) {
        cmds.push(Cmd::Quit);
        return;
    }
    m.mode = Mode::Normal;
    m.ops.dialog = Some(Dialog::Ask(Ask::Quit { running }));
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
    if !own_running && super::follow::close(m, &key, cmds) {
        return;
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
