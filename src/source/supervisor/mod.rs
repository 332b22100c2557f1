//! One long-running supervisor per orchestra: starts its watches (pods and StatefulSets per
//! profile, baton's Jobs, operation Leases, nodes, the heartbeat) or takes a static inventory's
//! members, keeps the connection state, probes databases when the schedule says so over the
//! orchestra's route, fetches the open database's events, and sends everything it learns on as
//! owned `FleetEvent`s. It only wires the parts of the neighbouring modules together; one slow or
//! dead orchestra never delays another.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::connection::{ConnectionState, Failure};
use super::first_lists::FirstLists;
use super::probing::{self, ProbeJob, Probed};
use super::route::Route;
use super::schedule::{Intervals, Schedule, random_jitter};
use super::targets::Origin;
use super::targets::StaticMember;
use super::watch::{Seen, heartbeat};
use super::{Focus, PROBES_PER_ORCHESTRA, events, pods, workloads};

/// Probe rounds of databases off screen in flight per orchestra: a few more than the proxied
/// probes allowed at once, so the next is ready when one ends; the rest wait in the schedule.
const ROUNDS_IN_FLIGHT: usize = 2 * PROBES_PER_ORCHESTRA;
use crate::config::{ProfileConfig, Transport};
use crate::fleet::{
    Connection, DbKey, DbRef, EventLine, FleetEvent, JobInfo, LeaseInfo, PodInfo, StatefulSetInfo,
};
use crate::probe::Endpoint;
use crate::probe::credentials::Resolver;

mod fold;

/// The open database's events are read again this often.
const EVENTS_EVERY: Duration = Duration::from_secs(5);

/// What every supervisor of one engine shares.
#[derive(Clone)]
pub struct Shared {
    /// Every profile; the first `watched` are discovered on Kubernetes.
    pub profiles: Arc<Vec<(String, ProfileConfig)>>,
    pub watched: usize,
    pub intervals: Intervals,
    pub lag_gate: u64,
    /// The fleet-wide bound on probes in flight.
    pub limit: Arc<Semaphore>,
    /// One HTTP client (one TLS root store, one pool) for every direct probe of the fleet.
    pub http: crate::guard::ProbeHttp,
    /// Ask each API server what the identity may do (the dashboard does).
    pub access_reviews: bool,
    /// Background probes wait for every orchestra's first list.
    pub first_lists: FirstLists,
    /// The start of the [`GRID`] every supervisor wakes on for probes off screen.
    pub origin: Instant,
    /// Member probes sent so far, fleet-wide (`baton bench` divides its CPU time by them).
    pub probes: Arc<std::sync::atomic::AtomicU64>,
    /// Where campaigns keep their records (`operations.namespace`).
    pub campaign_namespace: Arc<str>,
}

/// Probes of databases off screen start on this grid, shared by every supervisor: 10 000
/// databases spread evenly over 25 s woke the runtime ~400 times a second, one probe each (and
/// parking and waking the worker threads cost more than the probes); on the grid they leave in
/// a few bursts a second. It adds at most this much to the fleet-wide leader-change bound.
pub const GRID: Duration = Duration::from_millis(500);

/// The first instant of the grid from `origin` at or after `t`.
pub fn on_grid(origin: Instant, t: Instant) -> Instant {
    let since = t.saturating_duration_since(origin);
    let step = GRID.as_nanos();
    let steps = since.as_nanos().div_ceil(step);
    let nanos = u64::try_from(steps.saturating_mul(step)).unwrap_or(u64::MAX);
    origin + Duration::from_nanos(nanos)
}

pub struct Supervisor {
    pub name: String,
    pub transport: Transport,
    /// Healthy databases off screen are probed this often (the orchestra's
    /// `background_interval`).
    pub background: Duration,
    /// The guard refuses every non-read of this orchestra (`guard::read_only_for`).
    pub read_only: bool,
    pub shared: Shared,
    pub events: mpsc::Sender<FleetEvent>,
    /// When this orchestra's healthy databases off screen are probed, once per background
    /// interval (see `schedule`): orchestras' beats are spread over the interval.
    pub beat: Instant,
}

/// The beat of orchestra `i` of `n`: spread evenly over the background interval from `origin`,
/// on the grid.
pub fn beat_of(origin: Instant, background: Duration, i: usize, n: usize) -> Instant {
    let n = u32::try_from(n.max(1)).unwrap_or(u32::MAX);
    let i = u32::try_from(i).unwrap_or(0) % n;
    on_grid(origin, origin + background / n * i)
}

/// What the watch, probe and event tasks tell their supervisor. Payloads are boxed: the
/// channel allocates its slots 32 at a time, each the size of the largest variant (a pod
/// inline made every slot 240 bytes, in each of 200 orchestras' channels).
enum Inner {
    Pods {
        profile: usize,
        seen: Box<Seen<(DbRef, PodInfo)>>,
    },
    StatefulSets {
        profile: usize,
        seen: Box<Seen<(DbRef, StatefulSetInfo)>>,
    },
    Jobs(Box<Seen<(DbRef, JobInfo)>>),
    Leases(Box<Seen<(DbRef, LeaseInfo)>>),
    Campaigns(Box<Seen<crate::fleet::CampaignInfo>>),
    Zones(HashMap<String, String>),
    /// What the identity may do (SelfSubjectAccessReviews).
    Access(crate::fleet::Access),
    /// The API server answered `/version` (or why not).
    Heartbeat(Result<(), Failure>),
    Probed(Box<Probed>),
    Events {
        key: Box<DbKey>,
        /// None when they could not be read (what was shown stays).
        events: Option<Vec<EventLine>>,
    },
}

/// What one supervisor keeps while it runs.
struct State {
    connection: ConnectionState,
    schedule: Schedule,
    route: Route,
    /// StatefulSet names per database, with their profile: the objects whose events matter.
    /// A database's StatefulSets: (name, profile), a few per database (a `Vec`, not a map of
    /// eleven-slot nodes per database).
    statefulsets: BTreeMap<DbRef, Vec<(String, usize)>>,
    focus: Focus,
    events_due: Instant,
    events_in_flight: bool,
    /// The API server's address, named in why it cannot be reached.
    server: Option<String>,
    /// The operation Leases were listed (or the list failed): with the pods and StatefulSets,
    /// the first picture of the orchestra, which is what the first-lists gate waits for.
    leases_answered: bool,
    /// Per watched profile: its StatefulSets were listed (or the list failed).
    sets_answered: Vec<bool>,
}

impl State {
    /// Whether this orchestra has answered for the first-lists gate: its pods listed, and its
    /// StatefulSets and operation Leases too (or it is not live: it failed, or is static).
    fn first_answered(&self) -> bool {
        match self.connection.current() {
            Connection::Connecting => false,
            Connection::Live => self.leases_answered && self.sets_answered.iter().all(|a| *a),
            _ => true,
        }
    }
}

/// An unreachable or stale orchestra's reason, with the API server it is about: "https://…:6443:
/// connection refused" rather than a bare "client error (Connect)".
fn at_server(c: Connection, server: Option<&str>) -> Connection {
    let Some(server) = server else {
        return c;
    };
    match c {
        Connection::Unreachable(r) => Connection::Unreachable(format!("{server}: {r}")),
        Connection::Stale { since_ms, reason } => Connection::Stale {
            since_ms,
            reason: format!("{server}: {reason}"),
        },
        other => other,
    }
}

/// Runs `task` once the orchestra was first live (its pods listed); never, if it never is.
async fn after_listed(mut live: watch::Receiver<bool>, task: impl Future<Output = ()>) {
    if live.wait_for(|l| *l).await.is_ok() {
        task.await;
    }
}

/// Like [`after_listed`], and after every orchestra's first list too (or the gate's deadline):
/// for what the first frame does not need (Jobs, campaigns, zones), so that their lists do not
/// compete with the first lists of the orchestras still listing.
async fn after_first_lists(
    first: FirstLists,
    live: watch::Receiver<bool>,
    task: impl Future<Output = ()>,
) {
    after_listed(live, async move {
        first.wait().await;
        task.await;
    })
    .await;
}

impl Supervisor {
    async fn send(&self, ev: FleetEvent) -> bool {
        self.events.send(ev).await.is_ok()
    }

    fn connection(&self, state: Connection) -> FleetEvent {
        FleetEvent::Connection {
            orchestra: self.name.clone(),
            state,
        }
    }

    fn endpoint(&self, profile: usize, db: &DbRef, pod: &PodInfo) -> Endpoint {
        let p = &self.shared.profiles[profile].1;
        Endpoint {
            namespace: crate::fleet::intern(&db.namespace),
            pod: pod.name.clone(),
            address: pod.ip.clone(),
            port: p.port,
            kind: p.probe,
        }
    }

    /// Runs until the fleet event channel is closed (or the task is aborted, which ends every
    /// task it started).
    pub async fn run(self, origin: Origin, mut focus: watch::Receiver<Focus>) {
        // Counts as answered once the pods, StatefulSets and Leases were listed, the connection
        // failed, or when this ends (`State::first_answered`).
        let mut answered = self.shared.first_lists.orchestra();
        if !self.send(self.connection(Connection::Connecting)).await {
            return;
        }
        let (itx, mut irx) = mpsc::channel::<Inner>(256);
        // Watches and the heartbeat: they run as long as the supervisor.
        let mut watches = JoinSet::new();
        // Probe rounds and event reads: short, reaped as they end.
        let mut jobs = JoinSet::new();
        let (live_tx, live_rx) = watch::channel(false);
        let now = Instant::now();
        let mut st = State {
            connection: ConnectionState::new(self.shared.watched),
            schedule: Schedule::new(
                &self.name,
                Intervals {
                    background: self.background,
                    ..self.shared.intervals
                },
                random_jitter(),
            )
            .with_beat(self.beat),
            route: Route::of(self.transport),
            statefulsets: BTreeMap::new(),
            focus: focus.borrow().clone(),
            events_due: now,
            events_in_flight: false,
            server: match &origin {
                Origin::Kube(config) => Some(config.cluster_url.to_string()),
                Origin::Static(_) => None,
            },
            leases_answered: matches!(origin, Origin::Static(_)),
            sets_answered: match origin {
                Origin::Static(_) => Vec::new(),
                Origin::Kube(_) => vec![false; self.shared.watched],
            },
        };
        let (client, proxy) = match origin {
            Origin::Kube(config) => match crate::guard::kube_clients(*config, self.read_only) {
                Ok((client, proxy)) => {
                    self.start_watches(&client, live_rx, &itx, &mut watches);
                    (Some(client), Some(proxy))
                }
                Err(e) => {
                    let why = crate::probe::kube_reason(&e);
                    let c = at_server(Connection::Unreachable(why), st.server.as_deref());
                    let _ = self.send(self.connection(c)).await;
                    return;
                }
            },
            Origin::Static(members) => {
                st.connection = ConnectionState::new(1);
                for ev in self.static_members(&members, &mut st, now) {
                    if !self.send(ev).await {
                        return;
                    }
                }
                (None, None)
            }
        };
        if st.first_answered() {
            answered.done();
        }
        let resolver = Arc::new(Resolver::new(client.clone()));
        let local_limit = Arc::new(Semaphore::new(PROBES_PER_ORCHESTRA));
        let mut focus_open = true;

        loop {
            let open_here = st
                .focus
                .open
                .clone()
                .filter(|k| k.orchestra == self.name && client.is_some());
            let events_wake = open_here
                .as_ref()
                .filter(|_| !st.events_in_flight)
                .map(|_| st.events_due);
            let room = ROUNDS_IN_FLIGHT.saturating_sub(st.schedule.in_flight());
            let (shown_due, off_due) = st.schedule.next_due_split(room);
            let origin = self.shared.origin;
            let wake = [shown_due, off_due.map(|t| on_grid(origin, t)), events_wake]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                msg = irx.recv() => {
                    let Some(msg) = msg else { return };
                    let out = self.on_inner(msg, &mut st);
                    if st.first_answered() {
                        answered.done();
                    }
                    live_tx.send_if_modified(|l| {
                        let now_live = st.connection.is_live();
                        std::mem::replace(l, now_live) != now_live
                    });
                    for ev in out {
                        if !self.send(ev).await {
                            return;
                        }
                    }
                }
                Some(_) = jobs.join_next(), if !jobs.is_empty() => {}
                changed = focus.changed(), if focus_open => {
                    if changed.is_err() {
                        // Nobody steers any more: keep the last focus.
                        focus_open = false;
                        continue;
                    }
                    let new_focus = focus.borrow_and_update().clone();
                    let now = Instant::now();
                    st.schedule.refocus(&new_focus, now);
                    if new_focus.open != st.focus.open {
                        st.events_due = now;
                    }
                    st.focus = new_focus;
                }
                _ = tokio::time::sleep_until(wake) => {
                    let now = Instant::now();
                    if let (Some(key), Some(client)) = (open_here, &client)
                        && !st.events_in_flight
                        && st.events_due <= now
                    {
                        st.events_in_flight = true;
                        let names = self.event_objects(&st, &key.db());
                        let (client, out) = (client.clone(), itx.clone());
                        jobs.spawn(async move {
                            let events = events::of_objects(&client, &key.namespace, &names).await;
                            let _ = out.send(Inner::Events { key: Box::new(key), events }).await;
                        });
                    }
                    let room = ROUNDS_IN_FLIGHT.saturating_sub(st.schedule.in_flight());
                    for due in st.schedule.take_due_at_most(now, room) {
                        self.shared.probes.fetch_add(due.members.len() as u64, std::sync::atomic::Ordering::Relaxed);
                        let open = st.focus.open.as_ref().is_some_and(|k| {
                            k.orchestra == self.name && k.namespace == due.db.namespace && k.name == due.db.name
                        });
                        let job = ProbeJob {
                            proxy: proxy.clone(),
                            http: self.shared.http.for_orchestra(self.read_only),
                            route: st.route,
                            db: due.db,
                            members: due.members,
                            timeout: self.shared.intervals.timeout,
                            lag_gate: self.shared.lag_gate,
                            limit: self.shared.limit.clone(),
                            local_limit: local_limit.clone(),
                            open,
                            resolver: resolver.clone(),
                            credentials: self.shared.profiles[due.profile].1.credentials.clone(),
                            first_lists: self.shared.first_lists.clone(),
                        };
                        let out = itx.clone();
                        jobs.spawn(async move {
                            let probed = probing::probe_database(job).await;
                            let _ = out.send(Inner::Probed(Box::new(probed))).await;
                        });
                    }
                }
            }
        }
    }

    /// Starts the watches of a Kubernetes orchestra: the pod lists (what makes it live) and the
    /// heartbeat at once; StatefulSets, Jobs, Leases, nodes and access reviews once the pods are
    /// listed, so 200 orchestras' first lists do not queue behind five more requests each.
    fn start_watches(
        &self,
        client: &kube::Client,
        live: watch::Receiver<bool>,
        itx: &mpsc::Sender<Inner>,
        tasks: &mut JoinSet<()>,
    ) {
        let watched = self.shared.profiles.iter().enumerate();
        for (i, (_, profile)) in watched.take(self.shared.watched) {
            tasks.spawn(pods::watch_pods(
                client.clone(),
                profile.clone(),
                move |seen| Inner::Pods {
                    profile: i,
                    seen: Box::new(seen),
                },
                itx.clone(),
            ));
            tasks.spawn(after_listed(
                live.clone(),
                workloads::watch_statefulsets(
                    client.clone(),
                    profile.clone(),
                    move |seen| Inner::StatefulSets {
                        profile: i,
                        seen: Box::new(seen),
                    },
                    itx.clone(),
                ),
            ));
        }
        let first = &self.shared.first_lists;
        tasks.spawn(after_first_lists(
            first.clone(),
            live.clone(),
            workloads::watch_jobs(client.clone(), |s| Inner::Jobs(Box::new(s)), itx.clone()),
        ));
        tasks.spawn(after_listed(
            live.clone(),
            workloads::watch_op_leases(client.clone(), |s| Inner::Leases(Box::new(s)), itx.clone()),
        ));
        tasks.spawn(after_first_lists(
            first.clone(),
            live.clone(),
            workloads::watch_campaigns(
                client.clone(),
                self.shared.campaign_namespace.to_string(),
                |s| Inner::Campaigns(Box::new(s)),
                itx.clone(),
            ),
        ));
        tasks.spawn(after_first_lists(
            first.clone(),
            live.clone(),
            pods::list_zones(client.clone(), Inner::Zones, itx.clone()),
        ));
        if self.shared.access_reviews {
            tasks.spawn(after_listed(
                live.clone(),
                super::access::keep_asking(client.clone(), Inner::Access, itx.clone()),
            ));
        }
        tasks.spawn(heartbeat(
            client.clone(),
            live,
            Inner::Heartbeat,
            itx.clone(),
        ));
    }

    /// A static inventory's members: one complete list per profile, and live at once.
    fn static_members(
        &self,
        members: &[StaticMember],
        st: &mut State,
        now: Instant,
    ) -> Vec<FleetEvent> {
        let mut out = Vec::new();
        for (i, (name, _)) in self.shared.profiles.iter().enumerate() {
            let pods: Vec<(DbRef, PodInfo)> = members
                .iter()
                .filter(|m| &m.profile == name)
                .map(|m| (m.db.clone(), m.pod.clone()))
                .collect();
            if !pods.is_empty() {
                out.extend(self.on_pods(i, Seen::Listed(pods), st, now));
            }
        }
        out.extend(st.connection.listed(0).map(|c| self.connection(c)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_off_screen_wait_for_the_next_instant_of_the_grid() {
        let origin = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(on_grid(origin, origin), origin);
        assert_eq!(on_grid(origin, origin + ms(1)), origin + GRID);
        assert_eq!(on_grid(origin, origin + GRID), origin + GRID);
        assert_eq!(
            on_grid(origin, origin + GRID * 7 + ms(3)),
            origin + GRID * 8
        );
        // Before the origin (a due time from before the engine started): the origin.
        assert_eq!(on_grid(origin + ms(10), origin), origin + ms(10));
    }
}
