//! What runs inside a lab pod, as the kubelet's container runtime sees it: the `Workload` a pod
//! runs and the factory that picks it, a pod's HTTP ports (requests and replies), its container
//! logs, its runtime state and injected faults, the kubelet's timing, pod IPs, and the default
//! workloads (a long-running server, or a scripted Job).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::{Kubelet, PodKey};

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

    pub(super) fn set_running(&self, running: bool) {
        self.running.store(running, Ordering::SeqCst);
        self.bump();
    }

    pub(super) fn rotate(&self) {
        let mut g = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        g.1 = std::mem::take(&mut g.0);
    }
}

pub(super) fn now_nanos() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// A pod the kubelet runs.
pub struct PodRuntime {
    pub key: PodKey,
    pub uid: String,
    pub ip: String,
    pub logs: PodLogs,
    pub workload: Arc<dyn Workload>,
    pub(super) stop: watch::Sender<bool>,
    /// The termination grace period of the stop (ms): how long the container may take to shut
    /// down once `stop` fires before it is killed. 0 for a force deletion.
    pub(super) grace_ms: AtomicU64,
    /// Bumped to kill the container (it exits 137 and restarts per the restart policy).
    pub(super) kill: watch::Sender<u64>,
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
    pub(super) fn terminate(&self, grace: Duration) {
        let ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX);
        self.grace_ms.fetch_min(ms, Ordering::SeqCst);
        self.stop.send_replace(true);
    }

    fn grace(&self) -> Duration {
        Duration::from_millis(self.grace_ms.load(Ordering::SeqCst))
    }

    /// Resolves when the pod is being stopped and its grace period has run out.
    pub(super) async fn grace_expired(&self) {
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
    pub(super) kubelet: Arc<Kubelet>,
    pub(super) stop: watch::Receiver<bool>,
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

pub(super) fn pick((lo, hi): (u64, u64)) -> Duration {
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
