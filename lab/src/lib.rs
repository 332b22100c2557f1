//! The embedded lab: Kubernetes API servers (one per orchestra, on 127.0.0.1) with controllers
//! and a kubelet simulation, faithful enough for the real kubectl and kube-rs (shared/LAB-API.md).
//! A crate of its own in baton's workspace (`baton-lab`), an optional dependency of the binary
//! (default feature `lab`). baton reaches it only through the kubeconfig it writes: only
//! `src/main.rs` (to start it) and the tests use this crate; the library cannot name it.
//!
//! Inside: `store` (objects, resourceVersions, watch history), `resources` (discovery, Table
//! columns), `selector`, `api` (HTTP), `controllers` (StatefulSet, Job, GC), `kubelet` (pod
//! lifecycle, workloads, logs), `events`, `profile` (demo / fleet / file), `seed` (an
//! orchestra's first objects), `serve` (the servers' listeners). Here: a lab's start and its
//! kubeconfig.

pub mod api;
pub mod client;
pub mod consensus;
pub mod control;
pub mod controllers;
pub mod endpoints;
pub mod error;
pub mod events;
pub mod jobs;
pub mod kubelet;
pub mod members;
pub mod neo4j_system;
pub mod objects;
pub mod paging;
pub mod profile;
pub mod rbac;
pub mod resources;
pub mod runner;
mod seed;
pub mod selector;
mod serve;
pub mod store;
pub mod tls;
pub mod tokens;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::watch;

use self::controllers::Controllers;
use self::events::EventRecorder;
use self::kubelet::{DefaultWorkloads, IpAllocator, Kubelet, Timing, WorkloadFactory};
use self::profile::LabSpec;
pub use self::runner::{RUNNER_IMAGE, RunnerImage};
use self::seed::seed_orchestra;
use self::serve::{serve_plain, serve_tls};
use self::store::Store;

/// The kubeconfig extension that says where a lab's control server is.
pub const LAB_EXTENSION: &str = "baton-lab";

/// One JSON line per API request.
pub struct RequestLog(Mutex<std::io::BufWriter<std::fs::File>>);

impl RequestLog {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Self(Mutex::new(std::io::BufWriter::new(f))))
    }

    fn write(&self, line: &Value) {
        let mut w = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(w, "{line}");
        let _ = w.flush();
    }
}

/// One simulated Kubernetes cluster.
pub struct Orchestra {
    pub name: String,
    pub store: Arc<Store>,
    pub kubelet: Arc<Kubelet>,
    pub operator_token: String,
    pub observer_token: String,
    /// ServiceAccount tokens issued by the TokenRequest API (and to pods by the kubelet).
    pub tokens: Arc<tokens::Tokens>,
    /// How often an idle watch that allows bookmarks gets one.
    pub bookmark_every: Duration,
    request_log: Option<Arc<RequestLog>>,
    /// Fault: the API server is down (connections are dropped, open watches end).
    pub(crate) down: Arc<AtomicBool>,
}

impl Orchestra {
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    /// Makes the API server answer 503 to everything (fault), or heals it.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn log_request(
        &self,
        identity: Option<&str>,
        method: &str,
        path: &str,
        query: Option<&str>,
        status: u16,
    ) {
        if let Some(log) = &self.request_log {
            let watch = query.is_some_and(|q| q.contains("watch=true") || q.contains("watch=1"));
            let verb = match method {
                "GET" if watch => "watch",
                "GET" => "get",
                "POST" => "create",
                "PUT" => "update",
                "PATCH" => "patch",
                "DELETE" => "delete",
                other => other,
            };
            log.write(&json!({
                "time": store::now(),
                "orchestra": self.name,
                "identity": identity.unwrap_or("anonymous"),
                "method": method,
                "verb": verb,
                "path": path,
                "query": query.unwrap_or(""),
                "status": status,
            }));
        }
    }
}

/// How to start a lab.
#[derive(Debug, Clone, Default)]
pub struct LabOptions {
    pub profile: Option<String>,
    pub kubeconfig_out: Option<PathBuf>,
    pub request_log: Option<PathBuf>,
    pub seed: Option<u64>,
    /// Where the lab keeps its object store (default: a temporary directory).
    pub data_dir: Option<PathBuf>,
    /// Bookmark interval for idle watches (default 10 s).
    pub bookmark_every: Option<Duration>,
}

/// A running lab: its orchestras, their addresses, and the kubeconfig that reaches them.
pub struct Lab {
    pub orchestras: Vec<Arc<Orchestra>>,
    pub addrs: Vec<SocketAddr>,
    /// The Raft groups of every database.
    pub consensus: Arc<consensus::Consensus>,
    /// The object store: `s3://bucket/key` is `object_store/bucket/key`.
    pub object_store: PathBuf,
    /// The control server (faults, report).
    pub control_addr: SocketAddr,
    /// The object store over HTTP, S3-style (`objects`): `http://127.0.0.1:PORT`. The
    /// kubeconfig's `baton-lab` extension carries it as `object_store`.
    pub object_store_url: String,
    pub kubeconfig: PathBuf,
    /// The lab CA (PEM) that signed the API servers' certificate.
    pub ca_pem: String,
    /// The runner image's processes of each orchestra (when the lab runs baton's image).
    pub runners: Vec<Arc<runner::Runner>>,
    shutdown: watch::Sender<bool>,
    servers: Vec<tokio::task::JoinHandle<()>>,
    _kubeconfig_dir: Option<tempfile::TempDir>,
    _data_dir: Option<tempfile::TempDir>,
}

/// Why a lab could not start; the CLI maps `Input` to exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Io(String),
}

fn token(rng: &mut impl Rng, prefix: &str) -> String {
    let hex: String = (0..24)
        .map(|_| format!("{:x}", rng.random_range(0..16u8)))
        .collect();
    format!("{prefix}-{hex}")
}

impl Lab {
    /// Builds the lab from the options, binds every API server, writes the kubeconfig.
    pub async fn start(opts: LabOptions) -> Result<Self, LabError> {
        let spec =
            LabSpec::named(opts.profile.as_deref().unwrap_or("demo")).map_err(LabError::Input)?;
        Self::start_spec(spec, opts).await
    }

    /// As `start`, and pods of the runner image run its executable (`runner`).
    pub async fn start_with_runner(
        opts: LabOptions,
        runner: Option<RunnerImage>,
    ) -> Result<Self, LabError> {
        let spec =
            LabSpec::named(opts.profile.as_deref().unwrap_or("demo")).map_err(LabError::Input)?;
        Self::start_spec_with_runner(spec, opts, runner).await
    }

    pub async fn start_spec(spec: LabSpec, opts: LabOptions) -> Result<Self, LabError> {
        Self::start_spec_with_runner(spec, opts, None).await
    }

    pub async fn start_spec_with_runner(
        spec: LabSpec,
        opts: LabOptions,
        runner_image: Option<RunnerImage>,
    ) -> Result<Self, LabError> {
        spec.validate().map_err(LabError::Input)?;
        let request_log = match &opts.request_log {
            Some(p) => Some(Arc::new(RequestLog::open(p).map_err(|e| {
                LabError::Io(format!("{}: cannot open the request log: {e}", p.display()))
            })?)),
            None => None,
        };
        let mut rng = profile::rng(opts.seed);
        let ips = Arc::new(IpAllocator);
        let timing = if spec.fast_start {
            Timing {
                schedule: (5, 50),
                start: (10, 100),
                ready: (20, 200),
                instant: true,
                ..Timing::default()
            }
        } else {
            Timing::default()
        };
        let (data_dir, data_tmp) = match &opts.data_dir {
            Some(d) => (d.clone(), None),
            None => {
                let d = tempfile::Builder::new()
                    .prefix("baton-lab-data-")
                    .tempdir()
                    .map_err(|e| {
                        LabError::Io(format!("cannot make the lab's data directory: {e}"))
                    })?;
                (d.path().to_path_buf(), Some(d))
            }
        };
        let object_store = data_dir.join("object-store");
        std::fs::create_dir_all(&object_store)
            .map_err(|e| LabError::Io(format!("{}: {e}", object_store.display())))?;
        let consensus = consensus::Consensus::new(consensus::RaftSettings {
            tick: Duration::from_millis(spec.raft_tick_ms.max(10)),
            writes_per_second: spec.writes_per_second.max(0.0),
            ..Default::default()
        });
        let tls = tls::LabTls::generate().map_err(LabError::Io)?;
        let (shutdown, _) = watch::channel(false);
        let mut orchestras = Vec::new();
        let mut addrs = Vec::new();
        let mut servers = Vec::new();
        let mut runners = Vec::new();
        for (i, ospec) in spec.orchestras.iter().enumerate() {
            let store = Arc::new(Store::new(i as u32 + 1, spec.watch_history));
            let events = Arc::new(EventRecorder::new(store.clone(), spec.events_per_orchestra));
            let zone_base = ospec
                .name
                .split_once('-')
                .map(|(_, rest)| rest)
                .unwrap_or("zone")
                .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-')
                .to_string();
            let nodes: Vec<(String, String)> = ["a", "b", "c"]
                .iter()
                .enumerate()
                .map(|(n, z)| {
                    (
                        format!("{}-node-{z}", ospec.name),
                        format!("127.254.{}.{}", i % 250, n + 1),
                    )
                })
                .collect();
            let kubelet_slot = Arc::new(std::sync::OnceLock::new());
            let tokens = Arc::new(tokens::Tokens::default());
            let runner = runner_image.clone().map(|image| {
                Arc::new(runner::Runner::new(
                    image,
                    &ospec.name,
                    &tls.ca_pem,
                    store.clone(),
                    tokens.clone(),
                    data_dir.join("runner").join(&ospec.name),
                ))
            });
            let factory: Arc<dyn WorkloadFactory> = Arc::new(members::LabWorkloads {
                orchestra: ospec.name.clone(),
                store: store.clone(),
                consensus: consensus.clone(),
                default: DefaultWorkloads {
                    ready_delay: timing.ready,
                },
                object_store: object_store.clone(),
                kubelet: kubelet_slot.clone(),
                runner: runner.clone(),
            });
            let kubelet = Kubelet::new(
                store.clone(),
                events.clone(),
                factory,
                ips.clone(),
                nodes.clone(),
                timing,
                spec.pod_ips,
            );
            let _ = kubelet_slot.set(Arc::downgrade(&kubelet));
            let running = spec.fast_start.then_some(ips.as_ref());
            seed_orchestra(
                &store,
                ospec,
                &nodes,
                &zone_base,
                spec.services,
                running,
                &mut rng,
            )?;
            let controllers = Arc::new(Controllers {
                store: store.clone(),
                events,
                kubelet: kubelet.clone(),
                revisions: Default::default(),
            });
            let mut stop = shutdown.subscribe();
            tokio::spawn(async move {
                tokio::select! {
                    _ = controllers.run() => {}
                    _ = stop.wait_for(|s| *s) => {}
                }
            });
            let o = Arc::new(Orchestra {
                name: ospec.name.clone(),
                store,
                kubelet,
                operator_token: token(&mut rng, "op"),
                observer_token: token(&mut rng, "ob"),
                tokens,
                bookmark_every: opts.bookmark_every.unwrap_or(Duration::from_secs(10)),
                request_log: request_log.clone(),
                down: Arc::new(AtomicBool::new(false)),
            });
            let (addr, server) = serve_tls(
                &tls,
                api::router(o.clone()),
                Some(o.down.clone()),
                &shutdown,
                "an API server",
            )
            .await?;
            servers.push(server);
            if let Some(r) = runner {
                let _ = r.server.set(format!("https://{addr}"));
                runners.push(r);
            }
            orchestras.push(o);
            addrs.push(addr);
        }
        let control = Arc::new(control::Control {
            orchestras: orchestras.clone(),
            members: Some(consensus.clone()),
        });
        let (control_addr, server) = serve_tls(
            &tls,
            control::router(control),
            None,
            &shutdown,
            "the lab control server",
        )
        .await?;
        servers.push(server);
        let (objects_addr, server) = serve_plain(
            objects::router(Arc::new(objects::ObjectStore {
                root: object_store.clone(),
            })),
            &shutdown,
            "the lab object store",
        )
        .await?;
        servers.push(server);
        let (kubeconfig, dir) = match &opts.kubeconfig_out {
            Some(p) => (p.clone(), None),
            None => {
                let d = tempfile::Builder::new()
                    .prefix("baton-lab-")
                    .tempdir()
                    .map_err(|e| LabError::Io(format!("cannot make a temporary directory: {e}")))?;
                (d.path().join("kubeconfig"), Some(d))
            }
        };
        let lab = Self {
            orchestras,
            addrs,
            control_addr,
            object_store_url: format!("http://{objects_addr}"),
            consensus,
            object_store,
            _data_dir: data_tmp,
            kubeconfig,
            ca_pem: tls.ca_pem,
            runners,
            shutdown,
            servers,
            _kubeconfig_dir: dir,
        };
        lab.write_kubeconfig()?;
        Ok(lab)
    }

    /// The kubeconfig: contexts `<orchestra>` (operator) and `<orchestra>-observer`.
    pub fn kubeconfig_json(&self) -> Value {
        let mut clusters = Vec::new();
        let mut users = Vec::new();
        let mut contexts = Vec::new();
        for (o, addr) in self.orchestras.iter().zip(&self.addrs) {
            clusters.push(json!({"name": o.name, "cluster": {"server": format!("https://{addr}"), "certificate-authority-data": profile::b64(&self.ca_pem)}}));
            users.push(json!({"name": format!("{}-operator", o.name), "user": {"token": o.operator_token}}));
            users.push(json!({"name": format!("{}-observer", o.name), "user": {"token": o.observer_token}}));
            contexts.push(json!({"name": o.name, "context": {"cluster": o.name, "user": format!("{}-operator", o.name), "namespace": "default"}}));
            contexts.push(json!({"name": format!("{}-observer", o.name), "context": {"cluster": o.name, "user": format!("{}-observer", o.name), "namespace": "default"}}));
        }
        json!({
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "clusters": clusters,
            "users": users,
            "contexts": contexts,
            "current-context": self.orchestras.first().map(|o| o.name.clone()).unwrap_or_default(),
            "extensions": [{"name": LAB_EXTENSION, "extension": {"control": format!("https://{}", self.control_addr), "ca": self.ca_pem, "object_store": self.object_store_url}}],
        })
    }

    fn write_kubeconfig(&self) -> Result<(), LabError> {
        let text = serde_json::to_string_pretty(&self.kubeconfig_json())
            .map_err(|e| LabError::Io(e.to_string()))?;
        if let Some(parent) = self
            .kubeconfig
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent)
                .map_err(|e| LabError::Io(format!("{}: {e}", parent.display())))?;
        }
        std::fs::write(&self.kubeconfig, text).map_err(|e| {
            LabError::Io(format!(
                "{}: cannot write the kubeconfig: {e}",
                self.kubeconfig.display()
            ))
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ =
                std::fs::set_permissions(&self.kubeconfig, std::fs::Permissions::from_mode(0o600));
        }
        Ok(())
    }

    pub fn orchestra(&self, name: &str) -> Option<&Arc<Orchestra>> {
        self.orchestras.iter().find(|o| o.name == name)
    }

    /// Waits until every API server answers `/version` over HTTP.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), LabError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let ca = reqwest::Certificate::from_pem(self.ca_pem.as_bytes())
            .map_err(|e| LabError::Io(format!("lab CA: {e}")))?;
        let client = reqwest::Client::builder()
            .add_root_certificate(ca)
            .no_proxy()
            .build()
            .map_err(|e| LabError::Io(format!("HTTP client: {e}")))?;
        for addr in &self.addrs {
            loop {
                let ok = tokio::time::timeout(
                    Duration::from_secs(2),
                    https_get_ok(&client, *addr, "/healthz"),
                )
                .await
                .unwrap_or(false);
                if ok {
                    break;
                }
                if tokio::time::Instant::now() > deadline {
                    return Err(LabError::Io(format!(
                        "the API server on {addr} did not answer in time"
                    )));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    /// Number of pods that are Running and Ready across the lab.
    pub fn ready_pods(&self) -> (usize, usize) {
        let mut ready = 0;
        let mut total = 0;
        for o in &self.orchestras {
            // Counted in place: a copy of every pod each time was most of the lab's start-up.
            let (r, t) = o.store.count_where(resources::pods(), |p| {
                p["status"]["conditions"].as_array().is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                })
            });
            ready += r;
            total += t;
        }
        (ready, total)
    }

    /// Stops every API server and controller.
    pub async fn shutdown(self) {
        self.shutdown.send_replace(true);
        for r in &self.runners {
            r.kill_all();
        }
        for s in self.servers {
            let _ = tokio::time::timeout(Duration::from_secs(5), s).await;
        }
    }
}

/// An HTTPS GET that reports whether the answer was 200.
async fn https_get_ok(client: &reqwest::Client, addr: SocketAddr, path: &str) -> bool {
    let url = format!("https://{addr}{path}");
    client
        .get(url)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// A short text form of the control server's report.
pub fn report_text(v: &Value) -> String {
    let mut out = String::new();
    for o in v["orchestras"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{:<28} apiserver {:<4}  pods {}/{} ready\n",
            o["name"].as_str().unwrap_or(""),
            o["apiserver"].as_str().unwrap_or(""),
            o["ready"],
            o["pods"]
        ));
    }
    for d in v["databases"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "{:<44} leader {:<22} term {:<3} quorum {:<5} elections {} ({} ms leaderless)  quorum lost {}x ({} ms)  writes ok {} failed {}\n",
            d["database"].as_str().unwrap_or(""),
            d["leader"].as_str().unwrap_or("-"),
            d["term"],
            d["quorum"],
            d["elections"],
            d["leaderless_ms"],
            d["quorum_lost_events"],
            d["quorum_lost_ms"],
            d["writes_ok"],
            d["writes_failed"],
        ));
    }
    out
}
