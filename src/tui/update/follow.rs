//! Following someone else's operation (or one of ours started by another baton) from its Lease:
//! the progress pane folded from what the Lease's record says as it changes — each new step,
//! what the current step waits for (the runner publishes it with its renewals), whether the
//! holder still renews, and the end — plus the Job's pod log followed by a task. Following only
//! reads and works in read-only mode; the one request is a cancel, asked first and written on the
//! Lease for its holder to honour (`ops::cancel`). Pure: the Lease comes from the
//! fleet, the clock from the model.

use crate::fleet::DbKey;
use crate::ops::record::{self, Lock, OpState, Record};
use crate::ops::runner::Outcome;
use crate::tui::model::{Model, Note, View};
use crate::tui::msg::{Cmd, OpCmd};
use crate::tui::nav;

use crate::tui::ops::Ask;
use crate::tui::ops::lease::lease_obs;
use crate::tui::ops::progress::{Run, StepRow};

/// What a Lease's record says right now, as the fold reads it.
struct Seen {
    record: Record,
    holder: String,
    /// Seconds since the holder last renewed, when it stopped (stale).
    stale_s: Option<u64>,
}

fn seen(m: &Model, key: &DbKey) -> Option<Seen> {
    let info = m.fleet.databases.get(key)?.op_lease.as_ref()?;
    let obs = lease_obs(info);
    let record = obs.record.as_ref()?.as_ref().ok()?.clone();
    let stale_s = match record::classify(Some(&obs), m.now_ms) {
        Lock::Stale { age_s, .. } if record.state == OpState::Running => Some(age_s),
        _ => None,
    };
    Some(Seen {
        record,
        holder: obs.holder,
        stale_s,
    })
}

/// Whether the record on the Lease is the one this dashboard runs on `key`.
fn own(m: &Model, key: &DbKey, rec: &Record) -> bool {
    m.ops
        .runs
        .get(key)
        .is_some_and(|r| r.record_started_ms == rec.started_ms)
}

/// The follow key in a profile (or on a row of `:ops`): open the pane of the operation on the
/// Lease, or say why there is none.
pub fn start(m: &mut Model, key: DbKey, cmds: &mut Vec<Cmd>) {
    m.dirty = true;
    let Some(s) = seen(m, &key) else {
        m.note = Some(Note::Error(format!(
            "no operation recorded on {}'s Lease to follow",
            key.id()
        )));
        return;
    };
    if own(m, &key, &s.record) {
        m.note = Some(Note::Info(
            "that is this dashboard's own operation: its pane is open".into(),
        ));
        return;
    }
    if m.ops
        .follows
        .get(&key)
        .is_some_and(|r| r.record_started_ms == s.record.started_ms)
    {
        return;
    }
    let id = m.ops.take_id();
    let mut run = Run::new(
        id,
        key.clone(),
        s.record.operation,
        false,
        s.record.plan.clone(),
        None,
        s.record.started_ms,
    );
    run.followed = Some(s.holder.clone());
    run.record_started_ms = s.record.started_ms;
    run.log_line(format!(
        "following {} of {} (from its Lease)",
        s.record.operation.as_str(),
        s.holder
    ));
    fold(&mut run, &s, m.now_ms);
    if let Some(job) = &s.record.job
        && run.running()
    {
        cmds.push(Cmd::Op(OpCmd::FollowLog {
            id,
            key: key.clone(),
            job: job.clone(),
        }));
    }
    if let Some(old) = m.ops.follows.insert(key, run) {
        cmds.push(Cmd::Op(OpCmd::Cancel { id: old.id }));
    }
}

/// Folds the Leases' news into every followed pane; a pane whose operation ended stops its log
/// task. Called after every message (a handful of panes at most).
pub fn refresh(m: &mut Model, cmds: &mut Vec<Cmd>) {
    if m.ops.follows.is_empty() {
        return;
    }
    let keys: Vec<DbKey> = m.ops.follows.keys().cloned().collect();
    for key in keys {
        let Some(s) = seen(m, &key) else { continue };
        let now = m.now_ms;
        let Some(run) = m.ops.follows.get_mut(&key) else {
            continue;
        };
        if run.record_started_ms != s.record.started_ms {
            // Another operation took the Lease: the pane was of the last one, and stays ended.
            if run.running() {
                run.finish(
                    Outcome::Failed("its Lease now records another operation".into()),
                    now,
                );
                cmds.push(Cmd::Op(OpCmd::Cancel { id: run.id }));
                m.dirty = true;
            }
            continue;
        }
        let before = (run.steps.len(), run.waiting.clone(), run.outcome.is_some());
        fold(run, &s, now);
        if (run.steps.len(), run.waiting.clone(), run.outcome.is_some()) != before {
            m.dirty = true;
            if !run.running() {
                cmds.push(Cmd::Op(OpCmd::Cancel { id: run.id }));
            }
        }
    }
}

/// Why a stale operation stands still.
const STALE: &str = "its holder stopped renewing the lock (killed, or an SSH drop): resume it from the operations menu";

/// Folds what the Lease says into `run` at `now_ms`.
fn fold(run: &mut Run, s: &Seen, now_ms: u64) {
    if !run.running() {
        return;
    }
    let rec = &s.record;
    let had = run.steps.len() as u32;
    if rec.step > had {
        if let Some(last) = run.steps.last_mut()
            && last.took_ms.is_none()
            && last.started_ms > 0
        {
            last.took_ms = Some(now_ms.saturating_sub(last.started_ms));
        }
        for n in had + 1..=rec.step {
            let current = n == rec.step;
            // Steps taken before the pane opened are known by the plan's words only.
            let action = if current {
                rec.detail.clone()
            } else {
                rec.plan
                    .get(n as usize - 1)
                    .cloned()
                    .unwrap_or_else(|| format!("step {n}"))
            };
            if current {
                run.log_line(format!("step {n}: {action}"));
            }
            run.steps.push(StepRow {
                n,
                action,
                member: None,
                started_ms: if current { now_ms } else { 0 },
                took_ms: None,
            });
        }
        run.waiting = None;
    }
    let waiting = match (&rec.waiting, s.stale_s) {
        (_, Some(_)) => Some(STALE.to_string()),
        (Some(w), None) => Some(w.clone()),
        (None, None) => None,
    };
    if waiting.as_deref() != run.waiting.as_ref().map(|(w, _)| w.as_str()) {
        if let Some(w) = &waiting {
            run.log_line(format!("waiting: {w}"));
        }
        run.waiting = waiting.map(|w| (w, now_ms));
    }
    let end = match rec.state {
        OpState::Running => None,
        OpState::Paused => Some(Outcome::Paused(rec.detail.clone())),
        OpState::Done => Some(Outcome::Done(rec.detail.clone())),
        OpState::Failed => Some(Outcome::Failed(rec.detail.clone())),
        OpState::Cancelled => Some(Outcome::Cancelled(rec.detail.clone())),
    };
    if let Some(o) = end {
        run.finish(o, now_ms);
    }
}

/// The cancel key on a followed pane whose operation runs: ask whether to cancel it for whoever
/// runs it (a request on its Lease) or only stop following. `None` when nothing followed runs.
pub fn ask_cancel(m: &Model, key: &DbKey) -> Option<Ask> {
    let run = m.ops.follows.get(key).filter(|r| r.running())?;
    Some(Ask::CancelFollowed {
        key: key.clone(),
        operation: run.operation,
        holder: run.followed.clone().unwrap_or_default(),
    })
}

/// Yes to cancelling a followed operation: a cancel request on its Lease, unless this baton is
/// read-only there (the guard would refuse it anyway; said here, before any request).
pub fn request_cancel(m: &mut Model, key: DbKey, cmds: &mut Vec<Cmd>) {
    m.dirty = true;
    if m.read_only_for(&key.orchestra) {
        m.note = Some(Note::Error(format!(
            "read-only: this baton cannot cancel on {} (its pane stays; the cancel key again, then c, stops following)",
            key.orchestra
        )));
        return;
    }
    if let Some(run) = m.ops.follows.get_mut(&key) {
        run.cancelling = true;
        run.log_line("asking its holder to cancel (a request on the Lease)…".into());
    }
    m.note = Some(Note::Info(format!(
        "asking the operation on {} to cancel…",
        key.id()
    )));
    cmds.push(Cmd::Op(OpCmd::RequestCancel { key }));
}

/// The answer to a cancel request: said, and written in the followed pane (which then shows the
/// operation settle and end from its Lease).
pub fn cancel_requested(m: &mut Model, key: &DbKey, result: Result<String, String>) {
    m.dirty = true;
    let run = m.ops.follows.get_mut(key);
    match result {
        Ok(what) => {
            let text = format!(
                "cancel requested on the Lease: {what} stops after its current action, the database settled"
            );
            if let Some(run) = run {
                run.log_line(text.clone());
            }
            m.note = Some(Note::Info(text));
        }
        Err(why) => {
            if let Some(run) = run {
                run.cancelling = false;
                run.log_line(format!("not cancelled: {why}"));
            }
            m.note = Some(Note::Error(format!("not cancelled: {why}")));
        }
    }
}

/// Closing a followed pane (`c` in the cancel question, or the cancel key once it ended): it
/// stops following; the operation goes on.
pub fn close(m: &mut Model, key: &DbKey, cmds: &mut Vec<Cmd>) -> bool {
    let Some(run) = m.ops.follows.remove(key) else {
        return false;
    };
    cmds.push(Cmd::Op(OpCmd::Cancel { id: run.id }));
    m.note = Some(Note::Info(format!(
        "stopped following {}; it goes on",
        run.operation.as_str()
    )));
    m.dirty = true;
    true
}

/// New lines of the followed Job's pod log, or why it could not be read.
pub fn on_log(m: &mut Model, id: u64, pod: &str, lines: Vec<String>, error: Option<String>) {
    let Some(run) = m.ops.follows.values_mut().find(|r| r.id == id) else {
        return;
    };
    for line in lines {
        run.log_line(format!("[{pod}] {line}"));
    }
    if let Some(e) = error {
        run.log_line(format!("job log: {e}"));
    }
    m.dirty = true;
}

/// The follow key, wherever it was pressed.
pub fn on_key(m: &mut Model, cmds: &mut Vec<Cmd>) {
    let key = match &m.view {
        View::Profile { key, .. } => key.clone(),
        View::Operations => match m.selected_database() {
            Some(k) => {
                nav::open_profile(m, k.clone());
                k
            }
            None => return,
        },
        _ => return,
    };
    start(m, key, cmds);
}
