//! Where the fleet comes from. `kube`: orchestras from the kubeconfig, one-shot snapshots for
//! `baton status` and long-running supervisors (watchers with backoff, connection state, probe
//! scheduling) for the dashboard. `inventory`: static members from the config file. Sources emit
//! owned `fleet::FleetEvent`s over a channel and never touch the UI; the UI tells them what it
//! shows through a `Focus` so probes go where the eyes are.

pub mod kube;
pub mod supervisor;

use crate::fleet::DbKey;

/// What the dashboard shows right now: the open database is probed about every second, visible
/// rows every few seconds, the rest of the fleet slower.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Focus {
    pub open: Option<DbKey>,
    pub visible: Vec<DbKey>,
}

/// Now, in milliseconds since the Unix epoch (the unit of every time in the fleet). Sources
/// stamp events with it; the fleet store reads no clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
