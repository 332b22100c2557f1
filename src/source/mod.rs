//! Where the fleet comes from. One `Engine` (a supervisor per orchestra feeding the `Fleet`
//! store) sits behind the dashboard, `baton status` and `baton bench`. Sources emit owned
//! `fleet::FleetEvent`s over a channel and never touch the UI; the UI tells them what it shows
//! through a `Focus` so probes go where the eyes are. Modules, from the outside in:
//!
//! - `engine`: starts the supervisors; hands their events to the dashboard, or folds them into
//!   a `Fleet` until a condition holds (headless).
//! - `targets` (the function here): every orchestra to look at, from `targets` (kubeconfig
//!   contexts, read as kubectl does; what a target is) and `inventory` (static members from the
//!   config file).
//! - `supervisor`: one task per orchestra wiring the parts below together.
//! - `first_lists`: background probes wait until every orchestra answered its first list.
//! - `access`: SelfSubjectAccessReviews: what the orchestra's identity may do.
//! - `connection`: the connection state machine (connecting, live, stale, unauthorized,
//!   unreachable). Pure.
//! - `schedule`: probe intervals and due times per database (open, visible, background,
//!   unsettled; jitter injected). Pure.
//! - `route`: how probes reach members (direct, proxy, trying) and the credential gate. Pure.
//! - `probing`: probes one database's members over the route, bounded.
//! - `watch`: kube runtime watchers with a quick backoff turned into complete lists and
//!   changes; watch failures; the API server heartbeat.
//! - `pods`: pod watches per profile and the node → zone list.
//! - `workloads`: watches of what operations create: StatefulSets, baton's Jobs, operation
//!   Leases.
//! - `events`: the Kubernetes Events of the open database.
//! - `profiles`: which profiles are discovered and which pods a profile claims.
//! - `objects`: Kubernetes objects trimmed to the fleet's owned types.
//! - `slim`: pods and StatefulSets as the watches decode them (only the fields baton reads).

pub mod access;
pub mod connection;
pub mod engine;
pub mod events;
pub mod first_lists;
pub mod inventory;
pub mod objects;
pub mod pods;
pub mod probing;
pub mod profiles;
pub mod route;
pub mod schedule;
pub mod slim;
pub mod supervisor;
pub mod targets;
pub mod watch;
pub mod workloads;

pub use engine::{Engine, Parts, Supervisors};
pub use schedule::Intervals;
pub use targets::{SourceError, Target};

use std::path::Path;

use crate::config::Config;
use crate::fleet::DbKey;

/// What the dashboard shows right now: the open database is probed about every second, visible
/// rows every few seconds, the rest of the fleet slower.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Focus {
    pub open: Option<DbKey>,
    pub visible: Vec<DbKey>,
}

/// Every orchestra: the chosen kubeconfig contexts (see `kube_targets`), then the inventory's.
/// Without `--kubeconfig` and `--context`, a config with an inventory works without any
/// kubeconfig file.
pub async fn targets(
    kubeconfig: Option<&Path>,
    contexts: &[String],
    config: &Config,
) -> Result<Vec<Target>, SourceError> {
    let mut out = match targets::kube_targets(kubeconfig, contexts, config).await {
        Ok(t) => t,
        Err(SourceError::Kubeconfig(why))
            if kubeconfig.is_none() && contexts.is_empty() && !config.inventory.is_empty() =>
        {
            tracing::info!(%why, "no kubeconfig: the static inventory only");
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    out.extend(inventory::targets(config));
    if out.is_empty() {
        return Err(SourceError::NoOrchestras);
    }
    Ok(out)
}

/// Now, in milliseconds since the Unix epoch (the unit of every time in the fleet). Sources
/// stamp events with it; the fleet store reads no clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Member probes running at once across the fleet.
pub const PROBES_IN_FLIGHT: usize = 64;
/// Member probes running at once in one orchestra through its API server (the pod proxy): a
/// stream each on the one HTTP/2 connection (a connection each where the server speaks only
/// HTTP/1.1, which the client then keeps), so this bounds the load baton puts on it.
pub const PROBES_PER_ORCHESTRA: usize = 6;
