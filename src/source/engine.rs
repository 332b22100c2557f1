//! The one engine behind the dashboard, `baton status`, `baton bench` (and `baton op`): a
//! supervisor per orchestra (see `supervisor`) started from the targets and the config, and the
//! `Fleet` store their events fold into. The dashboard takes the event channel and the focus
//! sender (`into_parts`) and folds events into its own model; headless users let the engine
//! fold them until a condition holds (`until`, `until_probed_once`).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;

use super::first_lists::{FIRST_LISTS, FirstLists};
use super::schedule::Intervals;
use super::supervisor::{Shared, Supervisor, beat_of};
use super::targets::{Origin, Target};
use super::{Focus, PROBES_IN_FLIGHT, profiles};
use crate::config::{Config, Transport};
use crate::fleet::{Connection, Fleet, FleetEvent};

/// Fleet events waiting to be folded, at most.
const QUEUE: usize = 4096;

/// The running supervisors; dropping this stops them (and every task they started).
pub struct Supervisors(Vec<JoinHandle<()>>);

impl Drop for Supervisors {
    fn drop(&mut self) {
        self.0.iter().for_each(JoinHandle::abort);
    }
}

/// What the dashboard needs of a started engine.
pub struct Parts {
    /// What was folded so far (every orchestra connecting, unless `until` ran).
    pub fleet: Fleet,
    pub events: mpsc::Receiver<FleetEvent>,
    pub focus: watch::Sender<Focus>,
    pub supervisors: Supervisors,
}

pub struct Engine {
    fleet: Fleet,
    events: mpsc::Receiver<FleetEvent>,
    focus: watch::Sender<Focus>,
    supervisors: Supervisors,
    probes: Arc<AtomicU64>,
}

impl Engine {
    /// Starts one supervisor per target; they run until the engine (or its parts) is dropped.
    /// Each orchestra's background interval is the config's (`Config::background_interval`),
    /// whatever `intervals` says. Must be called inside a tokio runtime.
    pub fn start(targets: Vec<Target>, config: &Config, intervals: Intervals) -> Self {
        Self::start_with(targets, config, intervals, false)
    }

    /// As [`Engine::start`], and each supervisor also asks its API server what the identity may
    /// do (SelfSubjectAccessReviews, `source::access`): for the dashboard, whose operations menu
    /// and role follow the answers. Headless snapshots do not need them.
    pub fn start_dashboard(targets: Vec<Target>, config: &Config, intervals: Intervals) -> Self {
        Self::start_with(targets, config, intervals, true)
    }

    fn start_with(
        targets: Vec<Target>,
        config: &Config,
        intervals: Intervals,
        access_reviews: bool,
    ) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let (focus_tx, focus_rx) = watch::channel(Focus::default());
        let (all, watched) = profiles::all(config);
        let shared = Shared {
            profiles: Arc::new(all),
            watched,
            intervals,
            lag_gate: config.operations.lag_gate,
            limit: Arc::new(Semaphore::new(PROBES_IN_FLIGHT)),
            http: crate::probe::http_client(intervals.timeout, false),
            access_reviews,
            first_lists: FirstLists::new(targets.len(), FIRST_LISTS),
            origin: tokio::time::Instant::now(),
            probes: Arc::default(),
            campaign_namespace: Arc::from(config.operations.namespace.as_str()),
        };
        let mut fleet = Fleet::new(config.operations.lag_gate);
        let mut handles = Vec::new();
        let n = targets.len();
        for (i, t) in targets.into_iter().enumerate() {
            fleet.apply(FleetEvent::Connection {
                orchestra: t.name.clone(),
                state: Connection::Connecting,
            });
            let transport = match &t.origin {
                Origin::Static(_) => Transport::Direct,
                Origin::Kube(_) => config
                    .orchestras
                    .get(&t.name)
                    .map(|o| o.transport)
                    .unwrap_or_default(),
            };
            // Each orchestra's own freshness off screen (`background_interval`).
            let background = config.background_interval(&t.name);
            let supervisor = Supervisor {
                read_only: crate::guard::read_only_for(config, &t.name),
                name: t.name,
                transport,
                background,
                beat: beat_of(shared.origin, background, i, n),
                shared: shared.clone(),
                events: tx.clone(),
            };
            handles.push(tokio::spawn(supervisor.run(t.origin, focus_rx.clone())));
        }
        Self {
            fleet,
            events: rx,
            focus: focus_tx,
            supervisors: Supervisors(handles),
            probes: shared.probes,
        }
    }

    /// The count of member probes sent so far, fleet-wide (it goes on counting after
    /// `into_parts`).
    pub fn probes_sent(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.probes)
    }

    /// The fleet as folded so far.
    pub fn fleet(&self) -> &Fleet {
        &self.fleet
    }

    /// Steers the probes (the open database about every second, visible ones every few).
    pub fn set_focus(&self, focus: Focus) {
        self.focus.send_replace(focus);
    }

    /// For the dashboard, which folds events into its own model.
    pub fn into_parts(self) -> Parts {
        Parts {
            fleet: self.fleet,
            events: self.events,
            focus: self.focus,
            supervisors: self.supervisors,
        }
    }

    /// Folds events until `cond` holds of the fleet (true), or `timeout` passed or every
    /// supervisor ended without it holding (false).
    pub async fn until(&mut self, timeout: Duration, mut cond: impl FnMut(&Fleet) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if cond(&self.fleet) {
                return true;
            }
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(ev)) => {
                    self.fleet.apply(ev);
                    // Whatever else is queued goes in before looking again.
                    while let Ok(ev) = self.events.try_recv() {
                        self.fleet.apply(ev);
                    }
                }
                Ok(None) => return cond(&self.fleet),
                Err(_) => return false,
            }
        }
    }

    /// Folds events until every orchestra answered or failed and every member of every live
    /// orchestra was probed once (true), or `timeout` passed (false): then orchestras that never
    /// answered are unreachable, "no answer within …".
    pub async fn until_probed_once(&mut self, timeout: Duration) -> bool {
        if self.until(timeout, Fleet::probed_once).await {
            return true;
        }
        let silent: Vec<String> = self
            .fleet
            .orchestras
            .values()
            .filter(|o| o.connection == Connection::Connecting)
            .map(|o| o.name.clone())
            .collect();
        for orchestra in silent {
            self.fleet.apply(FleetEvent::Connection {
                orchestra,
                state: Connection::Unreachable(format!(
                    "no answer within {}s",
                    timeout.as_secs_f32()
                )),
            });
        }
        false
    }
}
