//! Rolling restart and restart-member: delete one member's pod at a time (down members first,
//! the leader last), each only once the database has settled and a majority holds without it.

use super::{Action, Next, plural, rank, voters_before};
use crate::config::OperationName;
use crate::ops::record::Record;
use crate::ops::safety::View;

pub(super) fn restart(rec: &Record, v: &View) -> Next {
    if v.d.state.leader.is_none() {
        return Next::Wait("no leader yet (an election is under way)".into());
    }
    let mut pending: Vec<&str> = Vec::new();
    for (name, uid) in &rec.original {
        match v.obs.pod(name) {
            // The same pod as at the start: still to restart.
            Some(p) if &p.uid == uid && !p.deleting => pending.push(name),
            // Deleted, terminating or replaced: restarted or on its way; settled says which.
            Some(p) if &p.uid == uid => {
                return Next::Wait(format!("{name} is terminating"));
            }
            None => return Next::Wait(format!("{name} has no pod yet")),
            Some(_) => {
                if let Some(why) = v.unhealthy(name) {
                    return Next::Wait(format!("{name} is back but not settled: {why}"));
                }
            }
        }
    }
    let before = voters_before(rec);
    if pending.is_empty() {
        let s = v.settled(&[], Some(&before));
        return if s.ok {
            Next::Done(format!(
                "{} restarted; {}",
                plural(rec.original.len(), "member"),
                s.detail
            ))
        } else {
            Next::Wait(s.line())
        };
    }
    pending.sort_by_key(|p| (rank(v, p), *p));
    let next = pending[0];
    // Between members the database must have settled; the member about to restart may be
    // unhealthy when it is down (that is why it goes first) or when it is the one member asked for.
    let exempt: Vec<&str> = match rec.operation {
        OperationName::RestartMember => vec![next],
        _ => pending
            .iter()
            .copied()
            .filter(|p| v.down(p) && rec.first.iter().any(|f| f == p))
            .collect(),
    };
    // The majority first: when both fail, it says more (what the restart would cost).
    let m = v.majority(next);
    if !m.ok {
        return Next::Blocked(m);
    }
    let s = v.settled(&exempt, Some(&before));
    if !s.ok {
        return Next::Blocked(s);
    }
    let w = v.no_other_work(None);
    if !w.ok {
        return Next::Blocked(w);
    }
    let uid = rec.original.get(next).cloned().unwrap_or_default();
    Next::Act(Action::DeletePod {
        pod: next.to_string(),
        uid,
    })
}
