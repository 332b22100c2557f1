//! The kubelet simulation of one orchestra: schedules pods onto its nodes, walks them through
//! Pending → Running → Ready with realistic delays, runs each pod's *workload* (pluggable: a
//! server, a scripted Job, later a Raft member), keeps container logs, counts restarts, backs off
//! crash loops, and terminates pods gracefully when they are deleted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::events::EventRecorder;
use super::resources;
use super::store::{Store, now};

/// (namespace, name) of a pod.
pub type PodKey = (String, String);

/// An HTTP request to a pod's port.
#[derive(Debug, Clone, Default)]
pub struct HttpRequest {
    pub port: u16,
    pub method: String,
    /// Path with query string.
    pub path: String,
    pub authorization: Option<String>,
    pub accept: Option<String>,
    pub body: Vec<u8>,
}

/// An HTTP answer from a workload (for the pod proxy and pod IPs).
#[derive(Debug, Clone)]
pub struct HttpReply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl HttpReply {
    pub fn json(status: u16, v: &Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: v.to_string().into_bytes(),
        }
    }
}

/// What a pod's main container does. One value per pod; `run` is called once per container start.
pub trait Workload: Send + Sync {
    /// Runs one start of the container and returns its exit code. Resolve promptly when
    /// `ctx.stopping()` fires (the pod is being deleted).
    fn run(self: Arc<Self>, ctx: RunContext) -> BoxFuture<'static, i32>;

    /// Answers an HTTP request to one of the pod's ports (through the pod proxy or the pod IP).
    /// `None` means nothing listens on that port.
    fn http(&self, _req: &HttpRequest) -> Option<HttpReply> {
        None
    }
}

/// Picks the workload of a pod when it is scheduled.
pub trait WorkloadFactory: Send + Sync {
    fn workload(&self, pod: &Value) -> Arc<dyn Workload>;
}

/// Log lines as (RFC 3339 timestamp, text).
pub type LogLines = Vec<(String, String)>;

/// Container logs of one pod: the current run and the previous one.
#[derive(Default)]
pub struct PodLogs {
    /// (current run, previous run) of (timestamp, line).
    lines: Mutex<(LogLines, LogLines)>,
    /// Bumped on every line and when the container stops; log followers wait on it.
    pub changed: watch::Sender<u64>,
    running: AtomicBool,
    seq: AtomicU64,
}

impl PodLogs {
    pub fn push(&self, line: impl Into<String>) {
        let mut g = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        g.0.push((now_nanos(), line.into()));
        if g.0.len() > 10_000 {
            g.0.drain(..1000);
        }
        drop(g);
        self.bump();
    }

    fn bump(&self) {
        let n = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        self.changed.send_replace(n);
    }

    /// Lines (timestamp, text) of the current run, or of the previous one.
    pub fn lines(&self, previous: bool) -> Vec<(String, String)> {
        let g = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        if previous { g.1.clone() } else { g.0.clone() }
    }

    pub fn has_previous(&self) -> bool {
        !self
            .lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .is_empty()
    }

    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    fn set_running(&self, running: bool) {
        self.running.store(running, Ordering::SeqCst);
        self.bump();
    }

    fn rotate(&self) {
        let mut g = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        g.1 = std::mem::take(&mut g.0);
    }
}

fn now_nanos() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// A pod the kubelet runs.
pub struct PodRuntime {
    pub key: PodKey,
    pub uid: String,
    pub ip: String,
    pub logs: PodLogs,
    pub workload: Arc<dyn Workload>,
    stop: watch::Sender<bool>,
    /// The termination grace period of the stop (ms): how long the container may take to shut
    /// down once `stop` fires before it is killed. 0 for a force deletion.
    grace_ms: AtomicU64,
    /// Bumped to kill the container (it exits 137 and restarts per the restart policy).
    kill: watch::Sender<u64>,
    /// Injected faults of this pod.
    pub faults: PodFaults,
}

/// Faults injected into one pod (they last as long as the pod).
#[derive(Default)]
pub struct PodFaults {
    /// Every container start fails at once (CrashLoopBackOff).
    pub crash_loop: AtomicBool,
    /// HTTP answers are malformed JSON.
    pub garbage: AtomicBool,
}

impl PodRuntime {
    /// Kills the container process (like an OOM kill or `kill -9`).
    pub fn kill(&self) {
        self.kill.send_modify(|n| *n += 1);
    }

    /// Stops the pod: its container gets `grace` to shut down (SIGTERM), then it is killed.
    /// A later stop may shorten the grace period, never lengthen it (as the kubelet does).
    fn terminate(&self, grace: Duration) {
        let ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX);
        self.grace_ms.fetch_min(ms, Ordering::SeqCst);
        self.stop.send_replace(true);
    }

    fn grace(&self) -> Duration {
        Duration::from_millis(self.grace_ms.load(Ordering::SeqCst))
    }

    /// Resolves when the pod is being stopped and its grace period has run out.
    async fn grace_expired(&self) {
        let mut rx = self.stop.subscribe();
        let _ = rx.wait_for(|s| *s).await;
        tokio::time::sleep(self.grace()).await;
    }

    /// Answers an HTTP request, honouring the garbage fault.
    pub fn http(&self, req: &HttpRequest) -> Option<HttpReply> {
        if !self.logs.is_running() {
            return None;
        }
        let reply = self.workload.http(req)?;
        if self.faults.garbage.load(Ordering::SeqCst) {
            return Some(HttpReply {
                status: 200,
                content_type: "application/json",
                body: b"{\"lastAppliedRaftIndex\": 12, \"memberId\": \"\x7f, [[[".to_vec(),
            });
        }
        Some(reply)
    }
}

/// What a workload gets for one run of its container.
#[derive(Clone)]
pub struct RunContext {
    pub pod: Arc<PodRuntime>,
    kubelet: Arc<Kubelet>,
    stop: watch::Receiver<bool>,
    pub restart_count: i64,
    /// This run's container id (`containerd://…`), as in the pod's `containerStatuses`.
    pub container_id: String,
    /// When this run started (RFC 3339), as in the container's `state.running.startedAt`.
    pub started_at: String,
}

impl RunContext {
    pub fn log(&self, line: impl Into<String>) {
        self.pod.logs.push(line);
    }

    /// Marks the container ready or not (the readiness probe's verdict).
    pub fn set_ready(&self, ready: bool) {
        self.kubelet.set_ready(&self.pod, ready);
    }

    /// Resolves when the pod is being deleted.
    pub async fn stopping(&self) {
        let mut rx = self.stop.clone();
        let _ = rx.wait_for(|s| *s).await;
    }

    pub fn is_stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Once stopping: how long the process may take to shut down (the pod's termination grace
    /// period; zero when the pod was force-deleted). The kubelet kills it after that.
    pub fn grace_period(&self) -> Duration {
        self.pod.grace()
    }

    /// Sleeps `d` unless the pod is deleted first; true when the sleep completed.
    pub async fn sleep(&self, d: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = self.stopping() => false,
        }
    }
}

/// Delays of the pod lifecycle, in milliseconds (low, high).
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub schedule: (u64, u64),
    pub start: (u64, u64),
    pub ready: (u64, u64),
    pub grace: (u64, u64),
    /// First crash-loop back-off; doubles up to `backoff_max`.
    pub backoff: u64,
    pub backoff_max: u64,
    /// Skip the separate scheduling step (fleet scale: fewer writes per pod).
    pub instant: bool,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            schedule: (50, 200),
            start: (200, 600),
            ready: (300, 900),
            grace: (200, 500),
            backoff: 1000,
            backoff_max: 10_000,
            instant: false,
        }
    }
}

fn pick((lo, hi): (u64, u64)) -> Duration {
    Duration::from_millis(if hi > lo {
        rand::rng().random_range(lo..=hi)
    } else {
        lo
    })
}

/// Hands out distinct loopback addresses to pods: unique within the process (labs in one test
/// binary share the counter) and spread by process id so that labs in different processes rarely
/// meet. 127.0.0.0/8 is all loopback on Linux, so any of them can be bound.
#[derive(Default)]
pub struct IpAllocator;

static NEXT_IP: AtomicU64 = AtomicU64::new(0);

impl IpAllocator {
    pub fn next(&self) -> String {
        let n = NEXT_IP.fetch_add(1, Ordering::SeqCst);
        let base = u64::from(std::process::id()) % 200 * 3;
        let (last, third, rest) = (1 + n % 254, (n / 254) % 256, n / (254 * 256));
        let second = 1 + (base + rest) % 250;
        format!("127.{second}.{third}.{last}")
    }
}

/// The kubelet of one orchestra (all of its nodes).
pub struct Kubelet {
    store: Arc<Store>,
    events: Arc<EventRecorder>,
    factory: Arc<dyn WorkloadFactory>,
    ips: Arc<IpAllocator>,
    nodes: Vec<(String, String)>,
    next_node: AtomicUsize,
    pub timing: Timing,
    pods: Mutex<HashMap<PodKey, Arc<PodRuntime>>>,
    /// Serve each pod's HTTP ports on its own loopback IP.
    pub pod_ips: bool,
}

impl Kubelet {
    pub fn new(
        store: Arc<Store>,
        events: Arc<EventRecorder>,
        factory: Arc<dyn WorkloadFactory>,
        ips: Arc<IpAllocator>,
        nodes: Vec<(String, String)>,
        timing: Timing,
        pod_ips: bool,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            events,
            factory,
            ips,
            nodes,
            next_node: AtomicUsize::new(0),
            timing,
            pods: Mutex::new(HashMap::new()),
            pod_ips,
        })
    }

    fn pods(&self) -> std::sync::MutexGuard<'_, HashMap<PodKey, Arc<PodRuntime>>> {
        self.pods.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The running pod `ns/name`, for logs and the proxy.
    pub fn pod(&self, ns: &str, name: &str) -> Option<Arc<PodRuntime>> {
        self.pods()
            .get(&(ns.to_string(), name.to_string()))
            .cloned()
    }

    /// Every running pod with its IP (for direct pod-IP serving).
    pub fn running(&self) -> Vec<Arc<PodRuntime>> {
        self.pods().values().cloned().collect()
    }

    /// Brings the pod `ns/name` in line with the store: start new pods, stop deleted ones.
    /// Reads the store rather than trusting a (possibly stale) event.
    pub fn reconcile(self: &Arc<Self>, ns: &str, name: &str) {
        let key = (ns.to_string(), name.to_string());
        let mut existing = self.pod(ns, name);
        // The pod object is gone (force deletion) or is a successor: stop at once.
        let Ok(pod) = self.store.get_shared(resources::pods(), ns, name) else {
            if let Some(rt) = existing {
                rt.terminate(Duration::ZERO);
            }
            return;
        };
        let uid = pod["metadata"]["uid"].as_str().unwrap_or("");
        if let Some(rt) = existing.take_if(|rt| rt.uid != uid) {
            rt.terminate(Duration::ZERO);
            self.pods().remove(&key);
        }
        let deleting = pod["metadata"]
            .get("deletionTimestamp")
            .is_some_and(|v| !v.is_null());
        let phase = pod["status"]["phase"].as_str().unwrap_or("");
        match (deleting, existing) {
            (true, Some(rt)) => {
                let grace = pod["metadata"]["deletionGracePeriodSeconds"]
                    .as_u64()
                    .or_else(|| pod["spec"]["terminationGracePeriodSeconds"].as_u64())
                    .unwrap_or(30);
                rt.terminate(Duration::from_secs(grace));
            }
            (true, None) => {
                // Nothing runs (a finished Job pod): remove it after the grace period.
                let store = self.store.clone();
                let grace = pick(self.timing.grace);
                tokio::spawn(async move {
                    tokio::time::sleep(grace).await;
                    let _ = store.remove(resources::pods(), &key.0, &key.1);
                });
            }
            (false, None) if phase != "Succeeded" && phase != "Failed" => self.start(key, pod),
            (false, _) => {}
        }
    }

    fn start(self: &Arc<Self>, key: PodKey, pod: Arc<Value>) {
        let (stop, _) = watch::channel(false);
        let rt = Arc::new(PodRuntime {
            key: key.clone(),
            uid: pod["metadata"]["uid"].as_str().unwrap_or("").to_string(),
            ip: pod["status"]["podIP"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| self.ips.next()),
            logs: PodLogs::default(),
            workload: self.factory.workload(&pod),
            stop,
            grace_ms: AtomicU64::new(u64::MAX),
            kill: watch::channel(0).0,
            faults: PodFaults::default(),
        });
        {
            let mut pods = self.pods();
            if pods.contains_key(&key) {
                return;
            }
            pods.insert(key.clone(), rt.clone());
        }
        if self.pod_ips {
            let ports: Vec<u16> = pod["spec"]["containers"][0]["ports"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| matches!(p["name"].as_str(), Some("http" | "client")))
                        .filter_map(|p| p["containerPort"].as_u64())
                        .filter_map(|p| u16::try_from(p).ok())
                        .collect()
                })
                .unwrap_or_default();
            tokio::spawn(super::podnet::serve(rt.clone(), ports, rt.stop.subscribe()));
        }
        let me = self.clone();
        tokio::spawn(async move { me.lifecycle(rt, pod).await });
    }

    /// Changes the pod this runtime runs; a successor pod of the same name is left alone.
    fn update_pod(&self, rt: &PodRuntime, f: impl FnOnce(&mut Value)) -> Option<Value> {
        self.store
            .update(resources::pods(), &rt.key.0, &rt.key.1, None, |p| {
                if p["metadata"]["uid"] != rt.uid.as_str() {
                    return Err(super::store::ApiError::conflict(
                        resources::pods(),
                        &rt.key.1,
                    ));
                }
                f(p);
                Ok(())
            })
            .ok()
    }

    fn set_ready(&self, rt: &PodRuntime, ready: bool) {
        // Readiness is re-asserted on every probe: look at the stored pod in place first, so a
        // pod already in that state costs no copy (30 000 members probe themselves).
        if let Ok(p) = self
            .store
            .get_shared(resources::pods(), &rt.key.0, &rt.key.1)
            && p["metadata"]["uid"] == rt.uid.as_str()
            && readiness_is(&p, ready)
        {
            return;
        }
        self.update_pod(rt, |p| {
            if let Some(cs) = p["status"]["containerStatuses"].as_array_mut() {
                for c in cs {
                    c["ready"] = json!(ready);
                }
            }
            set_condition(p, "Ready", ready);
            set_condition(p, "ContainersReady", ready);
        });
    }

    /// Runs the pod's containers. Takes from `pod` what it needs and lets it go before it first
    /// waits (30 000 long-lived tasks must not each hold a copy of their pod).
    async fn lifecycle(self: Arc<Self>, rt: Arc<PodRuntime>, pod: Arc<Value>) {
        let key = rt.key.clone();
        let mut stop = rt.stop.subscribe();
        let stopped = |stop: &watch::Receiver<bool>| *stop.borrow();
        let containers: Vec<(String, String)> = pod["spec"]["containers"]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .map(|c| {
                        (
                            c["name"].as_str().unwrap_or("main").to_string(),
                            c["image"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let restart_policy = pod["spec"]["restartPolicy"]
            .as_str()
            .unwrap_or("Always")
            .to_string();

        // A pod seeded as already running (lab start at fleet scale) is adopted as it is.
        let adopted = pod["status"]["phase"] == "Running" && pod["spec"]["nodeName"].is_string();
        let running = &pod["status"]["containerStatuses"][0];
        let adopted_start = running["state"]["running"]["startedAt"]
            .as_str()
            .map(str::to_string);
        let adopted_id = running["containerID"].as_str().map(str::to_string);
        drop(pod);
        // Schedule.
        if !adopted {
            tokio::select! { _ = tokio::time::sleep(pick(self.timing.schedule)) => {}, _ = stop.wait_for(|s| *s) => {} }
            if !stopped(&stop) {
                let n = self.next_node.fetch_add(1, Ordering::SeqCst);
                let (node, node_ip) = self.nodes[n % self.nodes.len().max(1)].clone();
                let ip = rt.ip.clone();
                let conts = containers.clone();
                if let Some(p) = self.update_pod(&rt, |p| {
                p["spec"]["nodeName"] = json!(node);
                p["status"] = json!({
                    "phase": "Pending",
                    "conditions": [],
                    "hostIP": node_ip,
                    "podIP": ip,
                    "podIPs": [{"ip": ip}],
                    "startTime": now(),
                    "qosClass": "Burstable",
                    "containerStatuses": conts.iter().map(|(n, img)| json!({
                        "name": n, "image": img, "imageID": "", "ready": false, "started": false,
                        "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}},
                    })).collect::<Vec<_>>(),
                });
                set_condition(p, "PodScheduled", true);
                set_condition(p, "Initialized", true);
                set_condition(p, "Ready", false);
                set_condition(p, "ContainersReady", false);
            }) {
                self.events.record(&p, "Normal", "Scheduled", &format!("Successfully assigned {}/{} to {node}", key.0, key.1), "default-scheduler");
            }
                if !self.timing.instant {
                    tokio::select! { _ = tokio::time::sleep(pick(self.timing.start)) => {}, _ = stop.wait_for(|s| *s) => {} }
                }
            }
        }

        let mut restarts: i64 = 0;
        let mut backoff = self.timing.backoff;
        while !stopped(&stop) {
            rt.logs.set_running(true);
            let mut started = now();
            let mut container_id = format!("containerd://{:016x}", rand::rng().random::<u64>());
            if adopted && restarts == 0 {
                // Already running: no status writes; the process is the one the pod shows.
                if let Some(t) = &adopted_start {
                    started.clone_from(t);
                }
                if let Some(id) = &adopted_id {
                    container_id.clone_from(id);
                }
            } else if let Some(p) = self.update_pod(&rt, |p| {
                p["status"]["phase"] = json!("Running");
                if let Some(cs) = p["status"]["containerStatuses"].as_array_mut() {
                    for (i, c) in cs.iter_mut().enumerate() {
                        c["state"] = json!({"running": {"startedAt": started}});
                        c["started"] = json!(true);
                        c["ready"] = json!(false);
                        c["restartCount"] = json!(restarts);
                        c["containerID"] = json!(if i == 0 {
                            container_id.clone()
                        } else {
                            format!("containerd://{:016x}", rand::rng().random::<u64>())
                        });
                    }
                }
            }) && restarts == 0
            {
                for (name, image) in &containers {
                    self.events.record(
                        &p,
                        "Normal",
                        "Pulled",
                        &format!("Container image \"{image}\" already present on machine"),
                        "kubelet",
                    );
                    self.events.record(
                        &p,
                        "Normal",
                        "Created",
                        &format!("Created container: {name}"),
                        "kubelet",
                    );
                    self.events.record(
                        &p,
                        "Normal",
                        "Started",
                        &format!("Started container {name}"),
                        "kubelet",
                    );
                }
            }
            let ctx = RunContext {
                pod: rt.clone(),
                kubelet: self.clone(),
                stop: stop.clone(),
                restart_count: restarts,
                container_id,
                started_at: started.clone(),
            };
            let mut kill = rt.kill.subscribe();
            kill.mark_unchanged();
            let code = if rt.faults.crash_loop.load(Ordering::SeqCst) {
                rt.logs
                    .push("ERROR Failed to start: fault injected by the lab (crash-loop)");
                1
            } else {
                tokio::select! {
                    biased;
                    code = rt.workload.clone().run(ctx) => code,
                    _ = kill.changed() => {
                        rt.logs.push("Killed");
                        137
                    }
                    // The termination grace period ran out: SIGKILL.
                    _ = rt.grace_expired() => 137,
                }
            };
            rt.logs.set_running(false);
            if stopped(&stop) {
                break;
            }
            let finished = now();
            let reason = if code == 0 { "Completed" } else { "Error" };
            let restart = match restart_policy.as_str() {
                "Never" => false,
                "OnFailure" => code != 0,
                _ => true,
            };
            if !restart {
                let phase = if code == 0 { "Succeeded" } else { "Failed" };
                if let Some(p) = self.update_pod(&rt, |p| {
                    p["status"]["phase"] = json!(phase);
                    if let Some(cs) = p["status"]["containerStatuses"].as_array_mut() {
                        for c in cs {
                            c["ready"] = json!(false);
                            c["started"] = json!(false);
                            c["state"] = json!({"terminated": {"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": finished}});
                        }
                    }
                    set_condition(p, "Ready", false);
                    set_condition(p, "ContainersReady", false);
                }) && code != 0
                {
                    self.events.record(&p, "Warning", "Failed", &format!("Container exited with code {code}"), "kubelet");
                }
                // The pod stays (like a finished Job pod) until it is deleted.
                let _ = stop.wait_for(|s| *s).await;
                break;
            }
            restarts += 1;
            let wait = if code == 0 {
                self.timing.backoff
            } else {
                backoff
            };
            backoff = (backoff * 2).min(self.timing.backoff_max);
            if let Some(p) = self.update_pod(&rt, |p| {
                if let Some(cs) = p["status"]["containerStatuses"].as_array_mut() {
                    for c in cs {
                        c["ready"] = json!(false);
                        c["started"] = json!(false);
                        c["restartCount"] = json!(restarts);
                        c["lastState"] = json!({"terminated": {"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": finished}});
                        c["state"] = json!({"waiting": {"reason": "CrashLoopBackOff", "message": format!("back-off {}s restarting failed container", wait / 1000)}});
                    }
                }
                set_condition(p, "Ready", false);
                set_condition(p, "ContainersReady", false);
            }) {
                self.events.record(&p, "Warning", "BackOff", "Back-off restarting failed container", "kubelet");
            }
            tokio::select! { _ = tokio::time::sleep(Duration::from_millis(wait)) => {}, _ = stop.wait_for(|s| *s) => {} }
            rt.logs.rotate();
        }

        // Terminate: the pod is being deleted.
        if let Ok(p) = self.store.get(resources::pods(), &key.0, &key.1) {
            for (name, _) in &containers {
                self.events.record(
                    &p,
                    "Normal",
                    "Killing",
                    &format!("Stopping container {name}"),
                    "kubelet",
                );
            }
        }
        tokio::time::sleep(pick(self.timing.grace)).await;
        {
            let mut pods = self.pods();
            if pods.get(&key).is_some_and(|r| Arc::ptr_eq(r, &rt)) {
                pods.remove(&key);
            }
        }
        // Remove only the pod this runtime ran, never a successor of the same name.
        if self
            .store
            .get(resources::pods(), &key.0, &key.1)
            .is_ok_and(|p| p["metadata"]["uid"] == rt.uid.as_str())
        {
            let _ = self.store.remove(resources::pods(), &key.0, &key.1);
        }
    }
}

/// Fills in a pod as if it had been scheduled on `node` and been Running and Ready for a while
/// (how the fleet profile starts, so 30 000 pods need no lifecycle writes).
pub fn seed_running(pod: &mut Value, node: &(String, String), ip: &str) {
    let t = now();
    pod["spec"]["nodeName"] = json!(node.0);
    let statuses: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| json!({
                    "name": c["name"], "image": c["image"], "imageID": "", "ready": true, "started": true,
                    "restartCount": 0, "state": {"running": {"startedAt": t}},
                    "containerID": format!("containerd://{:x}", rand::rng().random::<u64>()),
                }))
                .collect()
        })
        .unwrap_or_default();
    pod["status"] = json!({
        "phase": "Running", "hostIP": node.1, "podIP": ip, "podIPs": [{"ip": ip}], "startTime": t,
        "qosClass": "Burstable", "conditions": [], "containerStatuses": statuses,
    });
    for c in ["PodScheduled", "Initialized", "Ready", "ContainersReady"] {
        set_condition(pod, c, true);
    }
}

/// Sets condition `ty` of a pod to True/False, keeping its transition time when unchanged.
/// True when every container and the Ready and ContainersReady conditions already say `ready`
/// (what `set_ready` would write is there).
fn readiness_is(p: &Value, ready: bool) -> bool {
    let status = if ready { "True" } else { "False" };
    let containers_agree = p["status"]["containerStatuses"]
        .as_array()
        .is_none_or(|cs| cs.iter().all(|c| c["ready"] == ready));
    let condition = |ty: &str| {
        p["status"]["conditions"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["type"] == ty && c["status"] == status))
    };
    containers_agree && condition("Ready") && condition("ContainersReady")
}

pub fn set_condition(p: &mut Value, ty: &str, on: bool) {
    let status = if on { "True" } else { "False" };
    if !p["status"]["conditions"].is_array() {
        p["status"]["conditions"] = json!([]);
    }
    if let Some(conds) = p["status"]["conditions"].as_array_mut() {
        match conds.iter_mut().find(|c| c["type"] == ty) {
            Some(c) if c["status"] == status => {}
            Some(c) => {
                c["status"] = json!(status);
                c["lastTransitionTime"] = json!(now());
            }
            None => conds.push(json!({"type": ty, "status": status, "lastProbeTime": null, "lastTransitionTime": now()})),
        }
    }
}

/// The default workloads: a long-running server (ready after a delay, serves a root document on
/// its ports), or a script from the container's `LAB_SCRIPT` env (`log TEXT; sleep MS; exit N`).
pub struct DefaultWorkloads {
    pub ready_delay: (u64, u64),
}

impl WorkloadFactory for DefaultWorkloads {
    fn workload(&self, pod: &Value) -> Arc<dyn Workload> {
        let container = &pod["spec"]["containers"][0];
        let env = container["env"].as_array().cloned().unwrap_or_default();
        let script = env
            .iter()
            .find(|e| e["name"] == "LAB_SCRIPT")
            .and_then(|e| e["value"].as_str());
        match script {
            Some(s) => Arc::new(Script(s.to_string())),
            None => Arc::new(Server {
                name: pod["metadata"]["name"].as_str().unwrap_or("").to_string(),
                image: container["image"].as_str().unwrap_or("").to_string(),
                ports: container["ports"]
                    .as_array()
                    .map(|ps| {
                        ps.iter()
                            .filter_map(|p| p["containerPort"].as_u64())
                            .map(|p| p as u16)
                            .collect()
                    })
                    .unwrap_or_default(),
                ready_delay: self.ready_delay,
            }),
        }
    }
}

/// A scripted container: `log TEXT`, `sleep MS`, `exit N`, separated by `;` or newlines.
pub struct Script(pub String);

impl Workload for Script {
    fn run(self: Arc<Self>, ctx: RunContext) -> BoxFuture<'static, i32> {
        Box::pin(async move {
            for step in self
                .0
                .split([';', '\n'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                let (cmd, arg) = step.split_once(' ').unwrap_or((step, ""));
                match cmd {
                    "log" => ctx.log(arg),
                    "sleep" => {
                        if !ctx
                            .sleep(Duration::from_millis(arg.trim().parse().unwrap_or(100)))
                            .await
                        {
                            return 143;
                        }
                    }
                    "ready" => ctx.set_ready(true),
                    "exit" => return arg.trim().parse().unwrap_or(1),
                    other => {
                        ctx.log(format!("lab script: unknown step '{other}'"));
                        return 127;
                    }
                }
            }
            0
        })
    }
}

/// A long-running server: logs its start, becomes ready after a delay, runs until stopped.
pub struct Server {
    pub name: String,
    pub image: String,
    pub ports: Vec<u16>,
    pub ready_delay: (u64, u64),
}

impl Workload for Server {
    fn run(self: Arc<Self>, ctx: RunContext) -> BoxFuture<'static, i32> {
        Box::pin(async move {
            ctx.log(format!("Starting {} ({})", self.name, self.image));
            for p in &self.ports {
                ctx.log(format!("Listening on 0.0.0.0:{p}"));
            }
            if !ctx.sleep(pick(self.ready_delay)).await {
                return 143;
            }
            ctx.set_ready(true);
            ctx.log("Started.");
            ctx.stopping().await;
            ctx.log("Stopping...");
            0
        })
    }

    fn http(&self, req: &HttpRequest) -> Option<HttpReply> {
        if !self.ports.contains(&req.port) {
            return None;
        }
        let path = req.path.as_str();
        if path == "/" || path.is_empty() {
            let version = self
                .image
                .rsplit(':')
                .next()
                .unwrap_or("")
                .trim_end_matches("-enterprise");
            return Some(HttpReply::json(
                200,
                &json!({
                    "bolt_routing": format!("neo4j://{}:7687", self.name),
                    "transaction": format!("http://{}:7474/db/{{databaseName}}/tx", self.name),
                    "bolt_direct": format!("bolt://{}:7687", self.name),
                    "neo4j_version": version,
                    "neo4j_edition": "enterprise",
                }),
            ));
        }
        Some(HttpReply::json(
            404,
            &json!({"errors": [{"code": "Neo.ClientError.Request.Invalid", "message": format!("no such path: {path}")}]}),
        ))
    }
}

#[cfg(test)]
mod tests;
