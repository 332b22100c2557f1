//! One long-running supervisor per orchestra, for the dashboard: pod watchers per profile (kube
//! runtime watcher with a short backoff; a stream error becomes a connection state, never an
//! exit), a node watcher for zones, the connection state (connecting, live, stale since T,
//! unauthorized, unreachable), probe scheduling with adaptive intervals (the open database about
//! every second, visible rows every few seconds, the rest slower; at once when a database's pods
//! change), the transport per orchestra (direct to the pod IP, the API server's pod proxy, or try
//! direct then fall back), and the recent events of the open database. Everything it learns goes
//! out as owned `FleetEvent`s; one slow or dead orchestra never delays another.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event as KubeEvent, Node, Pod};
use kube::api::{Api, ListParams};
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, utils::Backoff};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;

use super::kube::{Target, claims, profiles, trim_pod};
use super::{Focus, now_ms};
use crate::config::{Config, Credentials, ProfileConfig, Transport};
use crate::fleet::{
    self, Connection, DbKey, DbRef, EventLine, FleetEvent, MemberInput, PodInfo, Probe,
};
use crate::probe::credentials::Resolver;
use crate::probe::{self, Endpoint};

/// Probe intervals by how much the database is looked at.
#[derive(Debug, Clone, Copy)]
pub struct Intervals {
    pub open: Duration,
    pub visible: Duration,
    pub background: Duration,
    /// A database that is not healthy (no leader yet, lagging, probe errors) off screen: soon
    /// enough that a fresh or recovering database does not look down for long.
    pub unsettled: Duration,
    /// The longest a probe may take.
    pub timeout: Duration,
}

impl Default for Intervals {
    fn default() -> Self {
        Self {
            open: Duration::from_millis(1000),
            visible: Duration::from_secs(4),
            background: Duration::from_secs(25),
            unsettled: Duration::from_secs(4),
            timeout: Duration::from_secs(3),
        }
    }
}

/// Member probes running at once across the fleet.
pub const PROBES_IN_FLIGHT: usize = 64;
/// Member probes running at once in one orchestra: each is an HTTP/1 request to its API server
/// (proxy) and the client keeps every connection it ever needed at once, so this bounds the
/// sockets per API server (and the load baton puts on it).
pub const PROBES_PER_ORCHESTRA: usize = 6;

/// Starts one supervisor per target (and none for an empty list); they run until `events` is
/// closed. `focus` says what the dashboard shows.
pub fn spawn_all(
    targets: Vec<Target>,
    config: &Config,
    intervals: Intervals,
    events: mpsc::Sender<FleetEvent>,
    focus: watch::Receiver<Focus>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let limit = Arc::new(Semaphore::new(PROBES_IN_FLIGHT));
    let mut all_profiles = profiles(config);
    // Profiles only the inventory uses are probed but never watched for.
    let watched = all_profiles.len();
    for d in config.inventory.values().flat_map(|dbs| dbs.values()) {
        if !all_profiles.iter().any(|(n, _)| n == &d.profile)
            && let Some(p) = config.profile(&d.profile)
        {
            all_profiles.push((d.profile.clone(), p));
        }
    }
    let profiles = Arc::new(all_profiles);
    // One HTTP client (one TLS root store, one pool) for every direct probe of the fleet.
    let http = probe::http_client(intervals.timeout);
    let supervisor = |name: &str, transport| Supervisor {
        http: http.clone(),
        name: name.to_string(),
        profiles: profiles.clone(),
        watched,
        transport,
        intervals,
        lag_gate: config.operations.lag_gate,
        events: events.clone(),
        limit: limit.clone(),
    };
    let mut handles: Vec<_> = targets
        .into_iter()
        .map(|t| {
            let transport = config
                .orchestras
                .get(&t.name)
                .map(|o| o.transport)
                .unwrap_or_default();
            tokio::spawn(
                supervisor(&t.name, transport).run(Origin::Kube(Box::new(t.config)), focus.clone()),
            )
        })
        .collect();
    for (orchestra, dbs) in &config.inventory {
        let mut members = Vec::new();
        for (db, d) in dbs {
            let Some(profile) = profiles.iter().position(|(n, _)| n == &d.profile) else {
                continue;
            };
            let db = DbRef {
                namespace: "static".into(),
                name: db.clone(),
            };
            for url in &d.members {
                let pod = PodInfo {
                    name: url
                        .split("://")
                        .nth(1)
                        .unwrap_or(url)
                        .trim_end_matches('/')
                        .to_string(),
                    ready: true,
                    phase: "static".into(),
                    ip: url.clone(),
                    ..PodInfo::default()
                };
                members.push((profile, db.clone(), pod));
            }
        }
        handles.push(tokio::spawn(
            supervisor(orchestra, Transport::Direct).run(Origin::Static(members), focus.clone()),
        ));
    }
    handles
}

/// Where an orchestra's members come from.
enum Origin {
    Kube(Box<kube::Config>),
    /// (profile index, database, member) of a static inventory.
    Static(Vec<(usize, DbRef, PodInfo)>),
}

struct Supervisor {
    name: String,
    profiles: Arc<Vec<(String, ProfileConfig)>>,
    /// The first `watched` profiles are discovered on Kubernetes.
    watched: usize,
    transport: Transport,
    intervals: Intervals,
    lag_gate: u64,
    events: mpsc::Sender<FleetEvent>,
    limit: Arc<Semaphore>,
    http: reqwest::Client,
}

/// What the watcher and probe tasks tell their supervisor.
enum Inner {
    Pods {
        profile: usize,
        pods: Vec<(DbRef, PodInfo)>,
        complete: bool,
    },
    Gone {
        db: DbRef,
        pod: String,
    },
    WatchError {
        profile: usize,
        error: WatchFailure,
    },
    Zones(HashMap<String, String>),
    /// The API server answered `/version` (or why not).
    Heartbeat(Result<(), WatchFailure>),
    Probed {
        db: DbRef,
        results: Vec<(String, Probe)>,
        healthy: bool,
        direct_failed: bool,
        direct_worked: bool,
    },
    Events {
        key: DbKey,
        /// None when they could not be read (what was shown stays).
        events: Option<Vec<EventLine>>,
    },
}

#[derive(Debug, Clone)]
enum WatchFailure {
    Unauthorized(String),
    Other(String),
}

/// Probe bookkeeping of one database.
struct DbProbe {
    profile: usize,
    members: BTreeMap<String, Endpoint>,
    due: Instant,
    in_flight: bool,
    healthy: bool,
}

/// How probes reach members of this orchestra right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Direct,
    Proxy,
    /// Trying direct; the first database that fails direct but works through the proxy decides.
    Trying,
}

impl Supervisor {
    async fn send(&self, ev: FleetEvent) -> bool {
        self.events.send(ev).await.is_ok()
    }

    async fn run(self, origin: Origin, mut focus: watch::Receiver<Focus>) {
        if !self
            .send(FleetEvent::Connection {
                orchestra: self.name.clone(),
                state: Connection::Connecting,
            })
            .await
        {
            return;
        }
        let (itx, mut irx) = mpsc::channel::<Inner>(256);
        let mut tasks = tokio::task::JoinSet::new();
        let mut listed = vec![false; self.profiles.len()];
        let (live_tx, live_rx) = watch::channel(false);
        let client = match origin {
            Origin::Kube(config) => match kube::Client::try_from(*config) {
                Ok(client) => {
                    for (i, (_, profile)) in self.profiles.iter().enumerate().take(self.watched) {
                        tasks.spawn(watch_pods(client.clone(), i, profile.clone(), itx.clone()));
                    }
                    tasks.spawn(watch_zones(client.clone(), itx.clone()));
                    tasks.spawn(heartbeat(client.clone(), live_rx, itx.clone()));
                    // Inventory-only profiles are not watched here.
                    listed.iter_mut().skip(self.watched).for_each(|l| *l = true);
                    Some(client)
                }
                Err(e) => {
                    let _ = self
                        .send(FleetEvent::Connection {
                            orchestra: self.name.clone(),
                            state: Connection::Unreachable(probe::kube_reason(&e)),
                        })
                        .await;
                    return;
                }
            },
            Origin::Static(members) => {
                // Every profile is "listed" at once: one complete list per profile.
                for (i, l) in listed.iter_mut().enumerate() {
                    *l = i != 0;
                }
                for i in 0..self.profiles.len() {
                    let pods: Vec<(DbRef, PodInfo)> = members
                        .iter()
                        .filter(|(p, _, _)| *p == i)
                        .map(|(_, db, pod)| (db.clone(), pod.clone()))
                        .collect();
                    if pods.is_empty() && i != 0 {
                        continue;
                    }
                    let _ = itx.try_send(Inner::Pods {
                        profile: i,
                        pods,
                        complete: true,
                    });
                }
                None
            }
        };

        let mut route = match self.transport {
            Transport::Direct => Route::Direct,
            Transport::Proxy => Route::Proxy,
            Transport::Auto => Route::Trying,
        };
        let mut dbs: BTreeMap<DbRef, DbProbe> = BTreeMap::new();
        let local_limit = Arc::new(Semaphore::new(PROBES_PER_ORCHESTRA));
        let resolver = Arc::new(Resolver::new(client.clone()));
        let mut ever_live = false;
        let mut state = Connection::Connecting;
        let mut events_due = Instant::now();
        let mut events_in_flight = false;
        let mut current_focus = focus.borrow().clone();
        let mut focus_open = true;

        loop {
            let next_probe = dbs.values().filter(|d| !d.in_flight).map(|d| d.due).min();
            let open_here = current_focus
                .open
                .as_ref()
                .filter(|k| k.orchestra == self.name)
                .cloned();
            let wake = match (next_probe, &open_here) {
                (Some(p), Some(_)) if !events_in_flight => p.min(events_due),
                (None, Some(_)) if !events_in_flight => events_due,
                (Some(p), _) => p,
                (None, _) => Instant::now() + Duration::from_secs(3600),
            };
            tokio::select! {
                msg = irx.recv() => {
                    let Some(msg) = msg else { return };
                    let out = match msg {
                        Inner::Pods { profile, pods, complete } => {
                            if complete {
                                listed[profile] = true;
                                dbs.retain(|db, d| d.profile != profile || pods.iter().any(|(r, _)| r == db));
                            }
                            let now = Instant::now();
                            let mut pods = pods;
                            for (db, pod) in &mut pods {
                                let ep = Endpoint {
                                    namespace: db.namespace.clone(),
                                    pod: pod.name.clone(),
                                    address: pod.ip.clone(),
                                    port: self.profiles[profile].1.port,
                                    kind: self.profiles[profile].1.probe,
                                };
                                let d = dbs.entry(db.clone()).or_insert_with(|| DbProbe {
                                    profile,
                                    members: BTreeMap::new(),
                                    due: now,
                                    in_flight: false,
                                    healthy: false,
                                });
                                if d.members.get(&pod.name) != Some(&ep) {
                                    d.members.insert(pod.name.clone(), ep);
                                    // Its pods changed: probe it now.
                                    d.due = now;
                                }
                            }
                            if complete {
                                for (db, d) in dbs.iter_mut().filter(|(_, d)| d.profile == profile) {
                                    d.members.retain(|name, _| pods.iter().any(|(r, p)| r == db && &p.name == name));
                                }
                            }
                            let mut out = vec![FleetEvent::Pods {
                                orchestra: self.name.clone(),
                                profile: self.profiles[profile].0.clone(),
                                pods,
                                complete,
                            }];
                            if listed.iter().all(|l| *l) && state != Connection::Live {
                                ever_live = true;
                                state = Connection::Live;
                                out.push(FleetEvent::Connection { orchestra: self.name.clone(), state: state.clone() });
                            }
                            out
                        }
                        Inner::Gone { db, pod } => {
                            if let Some(d) = dbs.get_mut(&db) {
                                d.members.remove(&pod);
                                d.due = Instant::now();
                                if d.members.is_empty() {
                                    dbs.remove(&db);
                                }
                            }
                            vec![FleetEvent::PodGone { orchestra: self.name.clone(), db, pod }]
                        }
                        Inner::WatchError { profile, error } => {
                            listed[profile] = false;
                            let next = match error {
                                WatchFailure::Unauthorized(r) => Connection::Unauthorized(r),
                                WatchFailure::Other(r) if ever_live => Connection::Stale {
                                    since_ms: now_ms(),
                                    reason: r,
                                },
                                WatchFailure::Other(r) => Connection::Unreachable(r),
                            };
                            let same_kind = std::mem::discriminant(&next) == std::mem::discriminant(&state);
                            if same_kind && matches!(state, Connection::Stale { .. }) {
                                Vec::new()
                            } else if next != state {
                                state = next;
                                vec![FleetEvent::Connection { orchestra: self.name.clone(), state: state.clone() }]
                            } else {
                                Vec::new()
                            }
                        }
                        Inner::Zones(zones) => vec![FleetEvent::Zones { orchestra: self.name.clone(), zones }],
                        // A watch resumed after an outage yields nothing until something
                        // changes: the heartbeat says when the server is back.
                        Inner::Heartbeat(Ok(())) if ever_live && state != Connection::Live => {
                            listed.iter_mut().for_each(|l| *l = true);
                            state = Connection::Live;
                            vec![FleetEvent::Connection { orchestra: self.name.clone(), state: state.clone() }]
                        }
                        Inner::Heartbeat(Err(WatchFailure::Other(r))) if state == Connection::Live => {
                            state = Connection::Stale { since_ms: now_ms(), reason: r };
                            vec![FleetEvent::Connection { orchestra: self.name.clone(), state: state.clone() }]
                        }
                        Inner::Heartbeat(_) => Vec::new(),
                        Inner::Probed { db, results, healthy, direct_failed, direct_worked } => {
                            if route == Route::Trying {
                                if direct_worked {
                                    route = Route::Direct;
                                    tracing::info!(orchestra = %self.name, "probes go directly to pod IPs");
                                } else if direct_failed {
                                    route = Route::Proxy;
                                    tracing::info!(orchestra = %self.name, "pod IPs unreachable from here; probes go through the API server's pod proxy");
                                }
                            }
                            if let Some(d) = dbs.get_mut(&db) {
                                d.in_flight = false;
                                d.healthy = healthy;
                                d.due = Instant::now() + self.interval(&db, healthy, &current_focus);
                            }
                            vec![FleetEvent::Probed { orchestra: self.name.clone(), db, results, at_ms: now_ms() }]
                        }
                        Inner::Events { key, events } => {
                            events_in_flight = false;
                            events_due = Instant::now() + Duration::from_secs(5);
                            match events {
                                Some(events) => vec![FleetEvent::Events { key, events }],
                                None => Vec::new(),
                            }
                        }
                    };
                    live_tx.send_if_modified(|l| {
                        let now_live = state == Connection::Live;
                        std::mem::replace(l, now_live) != now_live
                    });
                    for ev in out {
                        if !self.send(ev).await {
                            return;
                        }
                    }
                }
                changed = focus.changed(), if focus_open => {
                    if changed.is_err() {
                        // Nobody steers any more (headless): keep the last focus.
                        focus_open = false;
                        continue;
                    }
                    let new_focus = focus.borrow_and_update().clone();
                    let now = Instant::now();
                    // Newly focused databases are probed sooner.
                    for (db, d) in dbs.iter_mut() {
                        let due = now + self.interval(db, d.healthy, &new_focus);
                        if due < d.due {
                            d.due = due;
                        }
                    }
                    if new_focus.open != current_focus.open {
                        events_due = now;
                    }
                    current_focus = new_focus;
                }
                _ = tokio::time::sleep_until(wake) => {
                    let now = Instant::now();
                    if let (Some(key), Some(client)) = (open_here.clone().filter(|_| !events_in_flight && events_due <= now), &client) {
                        events_in_flight = true;
                        tokio::spawn(fetch_events(client.clone(), key, itx.clone()));
                    }
                    for (db, d) in dbs.iter_mut().filter(|(_, d)| !d.in_flight && d.due <= now) {
                        d.in_flight = true;
                        tokio::spawn(probe_database(ProbeJob {
                            client: client.clone(),
                            http: self.http.clone(),
                            route,
                            db: db.clone(),
                            members: d.members.values().cloned().collect(),
                            timeout: self.intervals.timeout,
                            lag_gate: self.lag_gate,
                            limit: self.limit.clone(),
                            local_limit: local_limit.clone(),
                            open: open_here.as_ref().is_some_and(|k| k.namespace == db.namespace && k.name == db.name),
                            resolver: resolver.clone(),
                            credentials: self.profiles[d.profile].1.credentials.clone(),
                            out: itx.clone(),
                        }));
                    }
                }
            }
        }
    }

    fn interval(&self, db: &DbRef, healthy: bool, focus: &Focus) -> Duration {
        let is = |k: &DbKey| {
            k.orchestra == self.name && k.namespace == db.namespace && k.name == db.name
        };
        let base = if focus.open.as_ref().is_some_and(is) {
            if healthy {
                self.intervals.open
            } else {
                self.intervals.open / 2
            }
        } else if focus.visible.iter().any(is) {
            if healthy {
                self.intervals.visible
            } else {
                self.intervals.visible.min(self.intervals.unsettled) / 2
            }
        } else if healthy {
            self.intervals.background
        } else {
            self.intervals.unsettled
        };
        // Up to 10 % jitter so databases do not move in lockstep.
        base + base.mul_f64(rand::random::<f64>() * 0.1)
    }
}

/// Retries a broken watch quickly (250 ms doubling to 2 s, jittered) so an API server that comes
/// back is live again within seconds; kind enough for one client per cluster.
struct QuickBackoff {
    next: Duration,
}

impl QuickBackoff {
    const FIRST: Duration = Duration::from_millis(250);
    const MAX: Duration = Duration::from_secs(2);

    fn new() -> Self {
        Self { next: Self::FIRST }
    }
}

impl Iterator for QuickBackoff {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        let d = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        Some(d.mul_f64(0.8 + rand::random::<f64>() * 0.4))
    }
}

impl Backoff for QuickBackoff {
    fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

fn failure(e: &watcher::Error) -> WatchFailure {
    let api = match e {
        watcher::Error::InitialListFailed(k)
        | watcher::Error::WatchStartFailed(k)
        | watcher::Error::WatchFailed(k) => match k {
            kube::Error::Api(s) => Some((s.code, s.message.clone())),
            _ => None,
        },
        watcher::Error::WatchError(s) => Some((s.code, s.message.clone())),
        watcher::Error::NoResourceVersion => None,
    };
    match api {
        Some((401 | 403, m)) => WatchFailure::Unauthorized(crate::clip(&m, 120)),
        Some((code, m)) => WatchFailure::Other(crate::clip(&format!("{code} {m}"), 120)),
        None => {
            // The innermost cause says the most ("Connection refused", "connection reset").
            let mut cause: &dyn std::error::Error = e;
            while let Some(next) = cause.source() {
                cause = next;
            }
            WatchFailure::Other(crate::clip(&cause.to_string(), 120))
        }
    }
}

async fn watch_pods(
    client: kube::Client,
    profile_idx: usize,
    profile: ProfileConfig,
    out: mpsc::Sender<Inner>,
) {
    let pods: Api<Pod> = Api::all(client);
    let cfg = watcher::Config::default()
        .labels(&profile.grouping_label)
        .page_size(500);
    let mut stream = watcher::watcher(pods, cfg)
        .backoff(QuickBackoff::new())
        .boxed();
    let label = profile.grouping_label.clone();
    let db_of = move |p: &Pod| -> Option<DbRef> {
        Some(DbRef {
            namespace: p.metadata.namespace.clone()?,
            name: p.metadata.labels.as_ref()?.get(&label)?.clone(),
        })
    };
    let mut listing: Vec<(DbRef, PodInfo)> = Vec::new();
    while let Some(item) = stream.next().await {
        let msg = match item {
            Ok(Event::Init) => {
                listing.clear();
                continue;
            }
            Ok(Event::InitApply(p)) => {
                if let Some(db) = db_of(&p) {
                    let info = trim_pod(&p, "");
                    if claims(&profile, &info.image) {
                        listing.push((db, info));
                    }
                }
                continue;
            }
            Ok(Event::InitDone) => Inner::Pods {
                profile: profile_idx,
                pods: std::mem::take(&mut listing),
                complete: true,
            },
            Ok(Event::Apply(p)) => {
                let Some(db) = db_of(&p) else { continue };
                let info = trim_pod(&p, "");
                if !claims(&profile, &info.image) {
                    continue;
                }
                Inner::Pods {
                    profile: profile_idx,
                    pods: vec![(db, info)],
                    complete: false,
                }
            }
            Ok(Event::Delete(p)) => {
                let Some(db) = db_of(&p) else { continue };
                Inner::Gone {
                    db,
                    pod: p.metadata.name.clone().unwrap_or_default(),
                }
            }
            // The watch outlived the server's history: the watcher relists at once; the
            // connection is fine.
            Err(watcher::Error::WatchError(s)) if s.code == 410 => {
                tracing::debug!("pod watch expired; relisting");
                continue;
            }
            Err(e) => {
                tracing::debug!(error = %e, "pod watch");
                Inner::WatchError {
                    profile: profile_idx,
                    error: failure(&e),
                }
            }
        };
        if out.send(msg).await.is_err() {
            return;
        }
    }
}

/// Asks the API server `/version`: every 15 s while live (a hung connection is noticed), every
/// second while not (recovery is noticed even when a resumed watch has nothing to say).
async fn heartbeat(
    client: kube::Client,
    mut live: watch::Receiver<bool>,
    out: mpsc::Sender<Inner>,
) {
    loop {
        let pause = if *live.borrow() {
            Duration::from_secs(15)
        } else {
            Duration::from_secs(1)
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            // Went stale: start asking every second.
            changed = live.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
        }
        let answer =
            match tokio::time::timeout(Duration::from_secs(5), client.apiserver_version()).await {
                Err(_) => Err(WatchFailure::Other("no answer within 5s".into())),
                Ok(Err(kube::Error::Api(s))) if s.code == 401 || s.code == 403 => {
                    Err(WatchFailure::Unauthorized(crate::clip(&s.message, 120)))
                }
                Ok(Err(e)) => Err(WatchFailure::Other(probe::kube_reason(&e))),
                Ok(Ok(_)) => Ok(()),
            };
        if out.send(Inner::Heartbeat(answer)).await.is_err() {
            return;
        }
    }
}

/// Node → zone, relisted every minute (nodes rarely move). Without permission to list nodes the
/// zone column stays empty.
async fn watch_zones(client: kube::Client, out: mpsc::Sender<Inner>) {
    let nodes: Api<Node> = Api::all(client);
    loop {
        if let Ok(list) = nodes.list_metadata(&ListParams::default()).await {
            let zones = list
                .items
                .into_iter()
                .filter_map(|n| {
                    let zone = n
                        .metadata
                        .labels
                        .as_ref()?
                        .get("topology.kubernetes.io/zone")?
                        .clone();
                    Some((n.metadata.name?, zone))
                })
                .collect();
            if out.send(Inner::Zones(zones)).await.is_err() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}

struct ProbeJob {
    client: Option<kube::Client>,
    http: reqwest::Client,
    route: Route,
    db: DbRef,
    members: Vec<Endpoint>,
    timeout: Duration,
    lag_gate: u64,
    limit: Arc<Semaphore>,
    local_limit: Arc<Semaphore>,
    /// The database on screen: its probes wait for no permit (its few members cannot flood
    /// anything, and a queue of timing-out background probes must not freeze the profile).
    open: bool,
    resolver: Arc<Resolver>,
    credentials: Credentials,
    out: mpsc::Sender<Inner>,
}

async fn probe_database(job: ProbeJob) {
    // Credentials go only on direct requests (an API server's proxy does not forward them), and
    // only once direct is known to reach the members: while trying, a pod IP may be some other
    // host on this network, and plain HTTP would hand it the password.
    let auth = match job.route {
        Route::Proxy | Route::Trying => Ok(None),
        Route::Direct => job.resolver.get(&job.credentials, &job.db.namespace).await,
    };
    let auth = &auth;
    let results = futures::future::join_all(job.members.iter().map(|ep| {
        let job = &job;
        async move {
            // Proxied probes (and tries that may fall back to the proxy) are HTTP/1 requests to
            // the API server, whose client keeps every connection it ever needed at once: this
            // orchestra's share bounds them. Taken before a fleet permit, so a big orchestra's
            // queue never sits on fleet permits.
            let _local = if job.open || job.route == Route::Direct {
                None
            } else {
                job.local_limit.acquire().await.ok()
            };
            let _permit = if job.open {
                None
            } else {
                job.limit.acquire().await.ok()
            };
            match job.route {
                Route::Proxy => (via_proxy(job, ep).await, false, false),
                Route::Direct => match probe::direct(&job.http, ep, auth).await {
                    Ok(p) => (p, false, true),
                    Err(probe::Unreachable(why)) => {
                        (Probe::Error(format!("unreachable: {why}")), true, false)
                    }
                },
                Route::Trying => match probe::direct(&job.http, ep, auth).await {
                    // A refusal (credentials go once direct is chosen) still proves the route.
                    Ok(p) => (p, false, true),
                    Err(_) => (via_proxy(job, ep).await, true, false),
                },
            }
        }
    }))
    .await;
    let refused = results.iter().any(|(p, _, direct)| {
        *direct && matches!(p, Probe::Error(e) if e.starts_with("HTTP 401") || e.starts_with("HTTP 403"))
    });
    if refused && matches!(auth, Ok(Some(_))) {
        job.resolver
            .refused(&job.credentials, &job.db.namespace)
            .await;
    }
    let direct_worked = results.iter().any(|(_, _, worked)| *worked);
    let direct_failed = !direct_worked && results.iter().any(|(_, failed, _)| *failed);
    let results: Vec<(String, Probe)> = job
        .members
        .iter()
        .zip(results)
        .map(|(ep, (p, _, _))| (ep.pod.clone(), p))
        .collect();
    let inputs: Vec<MemberInput> = results
        .iter()
        .map(|(name, probe)| MemberInput {
            name: name.clone(),
            pod_ready: true,
            probe: probe.clone(),
        })
        .collect();
    let healthy = fleet::derive(&inputs, job.lag_gate).health == fleet::Health::Healthy;
    let _ = job
        .out
        .send(Inner::Probed {
            db: job.db,
            results,
            healthy,
            direct_failed,
            direct_worked,
        })
        .await;
}

async fn via_proxy(job: &ProbeJob, ep: &Endpoint) -> Probe {
    match &job.client {
        Some(client) => probe::via_proxy(client, ep, job.timeout).await,
        None => Probe::Error("unreachable directly, and no API server to proxy through".into()),
    }
}

/// The newest Kubernetes events about the database's objects (names start with its name).
async fn fetch_events(client: kube::Client, key: DbKey, out: mpsc::Sender<Inner>) {
    let api: Api<KubeEvent> = Api::namespaced(client, &key.namespace);
    let events = match api.list(&ListParams::default()).await {
        Ok(list) => {
            let mut lines: Vec<EventLine> = list
                .items
                .into_iter()
                .filter(|e| {
                    e.involved_object
                        .name
                        .as_deref()
                        .is_some_and(|n| n.starts_with(&key.name))
                })
                .map(|e| {
                    let at = e
                        .last_timestamp
                        .as_ref()
                        .or(e.first_timestamp.as_ref())
                        .map(|t| t.0.as_millisecond())
                        .or_else(|| e.event_time.as_ref().map(|t| t.0.as_millisecond()))
                        .or_else(|| {
                            e.metadata
                                .creation_timestamp
                                .as_ref()
                                .map(|t| t.0.as_millisecond())
                        })
                        .and_then(|ms| u64::try_from(ms).ok())
                        .unwrap_or(0);
                    EventLine {
                        at_ms: at,
                        kind: e.type_.unwrap_or_default(),
                        reason: e.reason.unwrap_or_default(),
                        object: format!(
                            "{}/{}",
                            e.involved_object.kind.unwrap_or_default().to_lowercase(),
                            e.involved_object.name.unwrap_or_default()
                        ),
                        message: crate::clip(&e.message.unwrap_or_default(), 200),
                    }
                })
                .collect();
            lines.sort_by_key(|l| l.at_ms);
            let keep = lines.len().saturating_sub(20);
            lines.drain(..keep);
            Some(lines)
        }
        Err(e) => {
            tracing::debug!(error = %e, db = %key.id(), "events");
            None
        }
    };
    let _ = out.send(Inner::Events { key, events }).await;
}
