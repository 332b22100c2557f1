//! What a database's operation Lease says, as the dashboard shows it: the operation in flight
//! (anyone's: the Leases are shared), whether its holder still renews it, and the short form the
//! databases view's OP column and the `:ops` list use. Pure: the clock comes from the model.

use crate::fleet::{Database, LeaseInfo};
use crate::ops::record::{self, LeaseObs, Lock, OpState, Record};

/// The Lease as the lock logic reads it (see `ops::record::LeaseObs::of_info`).
pub fn lease_obs(info: &LeaseInfo) -> LeaseObs {
    LeaseObs::of_info(info)
}

/// An unfinished operation on a database's Lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    pub record: Record,
    pub holder: String,
    /// Its holder stopped renewing it (killed, an SSH drop) or it paused: it waits for a resume.
    pub stale: bool,
    /// Seconds since the last renewal.
    pub renewed_s: u64,
    /// Seconds since it started.
    pub age_s: u64,
}

impl InFlight {
    /// `rolling-restart 3`, `backup 1 stale`, `resize 2 paused`: the OP column.
    pub fn cell(&self) -> String {
        let mut s = format!("{} {}", self.record.operation.as_str(), self.record.step);
        if self.record.state == OpState::Paused {
            s.push_str(" paused");
        } else if self.stale {
            s.push_str(" stale");
        }
        s
    }

    /// `running`, `paused`, `stale` (running on the Lease, but no longer renewed).
    pub fn state_word(&self) -> &'static str {
        if self.stale && self.record.state == OpState::Running {
            "stale"
        } else {
            self.record.state.word()
        }
    }

    /// `rolling-restart step 3 (running): restart orders-2-0`
    pub fn summary(&self) -> String {
        record::summary(&self.record)
    }
}

/// The unfinished operation on `d`'s Lease at `now_ms`, if there is one.
pub fn in_flight(d: &Database, now_ms: u64) -> Option<InFlight> {
    let info = d.op_lease.as_ref()?;
    let obs = lease_obs(info);
    let rec = obs.record.as_ref()?.as_ref().ok()?.clone();
    if rec.state.finished() {
        return None;
    }
    let (stale, renewed_s) = match record::classify(Some(&obs), now_ms) {
        Lock::Stale { age_s, .. } => (true, age_s),
        Lock::Held { age_s, .. } => (false, age_s),
        Lock::Free | Lock::Finished { .. } => return None,
    };
    Some(InFlight {
        holder: obs.holder,
        stale,
        renewed_s,
        age_s: now_ms.saturating_sub(rec.started_ms) / 1000,
        record: rec,
    })
}

/// Whether `d`'s Lease records an unfinished operation (running or stale), whatever the clock.
pub fn unfinished(d: &Database) -> bool {
    d.op_lease
        .as_ref()
        .and_then(|l| l.operation.as_deref())
        .and_then(|s| serde_json::from_str::<Record>(s).ok())
        .is_some_and(|r| !r.state.finished())
}

/// `42s`, `5m`, `3h07m`, `2d04h`: how long ago, for the lists.
pub fn ago(s: u64) -> String {
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, (s / 60) % 60),
        _ => format!("{}d{:02}h", s / 86_400, (s / 3600) % 24),
    }
}
