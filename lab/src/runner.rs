//! The runner image: a pod whose first container runs the lab's runner image (baton's own
//! image, `RUNNER_IMAGE` by default) runs the real baton executable as a child process, as a
//! container runtime would run the image's entrypoint. The child gets the container's `args`
//! (and `command` after its program, `baton`), its `env` (values, the cheap `fieldRef`s, and
//! `secretKeyRef`s read from the Secret when the container starts: an optional one that is
//! missing is left unset, a required one keeps the container from starting until it exists, as
//! a kubelet's CreateContainerConfigError does), no proxy variables, and `KUBECONFIG`: a kubeconfig the lab writes for the pod — this
//! orchestra's API server and CA, a token the TokenRequest API issued for the pod's
//! ServiceAccount (bound to the pod), one context named as the orchestra with the pod's
//! namespace. Its stdout and stderr are the container's log, its exit status the container's
//! (a signal is 128 + signal). Stopping the pod sends SIGTERM, then SIGKILL once the grace
//! period is over; a dropped run kills the child (`kill_on_drop`), and the lab's shutdown kills
//! every child left.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use super::kubelet::{RunContext, Workload};
use super::resources;
use super::store::Store;
use super::tokens::Tokens;

/// The image of baton's runner pods (Jobs that run `baton op …` in the orchestra).
pub const RUNNER_IMAGE: &str = "ghcr.io/baton-sre/baton:latest";

/// Which image is baton's, and the executable that runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerImage {
    pub image: String,
    pub exe: PathBuf,
}

impl RunnerImage {
    /// `RUNNER_IMAGE` run by `exe` (for `baton lab`: `std::env::current_exe()`).
    pub fn baton(exe: PathBuf) -> Self {
        Self {
            image: RUNNER_IMAGE.into(),
            exe,
        }
    }
}

/// What the runner pods of one orchestra share.
pub struct Runner {
    pub image: RunnerImage,
    pub orchestra: String,
    /// `https://127.0.0.1:PORT`, once the orchestra's API server listens.
    pub server: OnceLock<String>,
    pub ca_pem: String,
    pub store: Arc<Store>,
    pub tokens: Arc<Tokens>,
    /// Where each pod's files (kubeconfig, token, HOME) go: `<dir>/<namespace>/<pod>/`.
    pub dir: PathBuf,
    /// The children running now, by pod (namespace/name) → process id.
    children: Mutex<HashMap<String, u32>>,
}

const PROXY_VARS: &[&str] = &[
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

impl Runner {
    pub fn new(
        image: RunnerImage,
        orchestra: &str,
        ca_pem: &str,
        store: Arc<Store>,
        tokens: Arc<Tokens>,
        dir: PathBuf,
    ) -> Self {
        Self {
            image,
            orchestra: orchestra.into(),
            server: OnceLock::new(),
            ca_pem: ca_pem.into(),
            store,
            tokens,
            dir,
            children: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `pod` runs the runner image (its first container's image).
    pub fn runs(&self, pod: &Value) -> bool {
        pod["spec"]["containers"][0]["image"].as_str() == Some(self.image.image.as_str())
    }

    /// The workload of a runner pod.
    pub fn workload(self: &Arc<Self>, pod: &Value) -> Arc<dyn Workload> {
        let c = &pod["spec"]["containers"][0];
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let field = |path: &str| -> String {
            path.split('.')
                .try_fold(pod, |v, k| v.get(k))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let secret_refs = c["env"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let r = &e["valueFrom"]["secretKeyRef"];
                Some(SecretRef {
                    env: e["name"].as_str()?.to_string(),
                    secret: r["name"].as_str()?.to_string(),
                    key: r["key"].as_str()?.to_string(),
                    optional: r["optional"].as_bool().unwrap_or(false),
                })
            })
            .filter(|r| !PROXY_VARS.contains(&r.env.as_str()))
            .collect();
        let env = c["env"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["valueFrom"]["secretKeyRef"].is_null())
            .filter_map(|e| {
                let name = e["name"].as_str()?.to_string();
                let value = match e["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
                    Some(
                        p @ ("metadata.name"
                        | "metadata.namespace"
                        | "metadata.uid"
                        | "spec.serviceAccountName"
                        | "spec.nodeName"),
                    ) => field(p),
                    Some(_) => String::new(),
                    None => e["value"].as_str().unwrap_or("").to_string(),
                };
                Some((name, value))
            })
            .filter(|(n, _)| !PROXY_VARS.contains(&n.as_str()))
            .collect();
        Arc::new(Process {
            runner: self.clone(),
            namespace: field("metadata.namespace"),
            pod: field("metadata.name"),
            pod_uid: field("metadata.uid"),
            service_account: resources::pod_service_account(pod).to_string(),
            command: strings(&c["command"]),
            args: strings(&c["args"]),
            env,
            secret_refs,
        })
    }

    /// The process id of the child that runs pod `namespace/pod` now (what `crictl inspect`
    /// shows as the container's pid).
    pub fn pid(&self, namespace: &str, pod: &str) -> Option<u32> {
        self.children().get(&format!("{namespace}/{pod}")).copied()
    }

    fn children(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.children.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Kills every child still running (the lab is shutting down).
    pub fn kill_all(&self) {
        for pid in self.children().drain().map(|(_, pid)| pid) {
            signal(pid, "KILL");
        }
    }

    /// Writes the pod's kubeconfig (and its token, CA and namespace files, as a projected
    /// ServiceAccount volume holds them) and returns the kubeconfig's path.
    fn write_files(&self, p: &Process, dir: &Path) -> Result<PathBuf, String> {
        let server = self
            .server
            .get()
            .ok_or("the API server does not listen yet")?;
        let sa = self
            .store
            .get_shared(
                resources::serviceaccounts(),
                &p.namespace,
                &p.service_account,
            )
            .map_err(|e| {
                format!(
                    "cannot get a token for the pod's service account: {}",
                    e.message
                )
            })?;
        let uid = sa["metadata"]["uid"].as_str().unwrap_or("").to_string();
        let token = self.tokens.issue(
            &p.namespace,
            &p.service_account,
            &uid,
            Some((p.pod.clone(), p.pod_uid.clone())),
        );
        let kubeconfig = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "clusters": [{"name": self.orchestra, "cluster": {"server": server, "certificate-authority-data": super::profile::b64(&self.ca_pem)}}],
            "users": [{"name": p.service_account, "user": {"token": token}}],
            "contexts": [{"name": self.orchestra, "context": {"cluster": self.orchestra, "user": p.service_account, "namespace": p.namespace}}],
            "current-context": self.orchestra,
        });
        let io = |what: &Path, e: std::io::Error| format!("{}: {e}", what.display());
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let path = dir.join("kubeconfig");
        for (file, text) in [
            (path.clone(), kubeconfig.to_string()),
            (dir.join("token"), token),
            (dir.join("ca.crt"), self.ca_pem.clone()),
            (dir.join("namespace"), p.namespace.clone()),
        ] {
            std::fs::write(&file, text).map_err(|e| io(&file, e))?;
        }
        Ok(path)
    }
}

/// Sends `SIG<name>` to process `pid` (through kill(1): the lab has no signal bindings).
fn signal(pid: u32, name: &str) {
    let _ = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// One runner pod's container.
struct Process {
    runner: Arc<Runner>,
    namespace: String,
    pod: String,
    pod_uid: String,
    service_account: String,
    command: Vec<String>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    secret_refs: Vec<SecretRef>,
}

/// An environment variable taken from a key of a Secret of the pod's namespace.
struct SecretRef {
    env: String,
    secret: String,
    key: String,
    optional: bool,
}

impl Process {
    /// The values of the container's `secretKeyRef`s: an optional one that is missing is left
    /// out; a required one that is missing is Err naming it.
    fn secret_env(&self) -> Result<Vec<(String, String)>, String> {
        use base64::Engine;
        let mut out = Vec::new();
        for r in &self.secret_refs {
            let value = self
                .runner
                .store
                .get_shared(resources::secrets(), &self.namespace, &r.secret)
                .ok()
                .and_then(|s| {
                    let data = s["data"][r.key.as_str()].as_str()?.to_string();
                    base64::engine::general_purpose::STANDARD.decode(data).ok()
                })
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            match (value, r.optional) {
                (Some(v), _) => out.push((r.env.clone(), v)),
                (None, true) => {}
                (None, false) => {
                    return Err(format!(
                        "couldn't find key {} in Secret {}/{}",
                        r.key, self.namespace, r.secret
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// Forgets a child when its run ends, however it ends.
struct Registered<'a>(&'a Runner, String);

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.0.children().remove(&self.1);
    }
}

impl Workload for Process {
    fn run(self: Arc<Self>, ctx: RunContext) -> BoxFuture<'static, i32> {
        Box::pin(async move {
            match self.run_child(&ctx).await {
                Ok(code) => code,
                Err(why) => {
                    // As a container runtime: the container could not start (StartError).
                    ctx.log(format!("Error: failed to start container: {why}"));
                    128
                }
            }
        })
    }
}

impl Process {
    async fn run_child(&self, ctx: &RunContext) -> Result<i32, String> {
        let r = &self.runner;
        let dir = r.dir.join(&self.namespace).join(&self.pod);
        let kubeconfig = r.write_files(self, &dir)?;
        // `command` replaces the image's entrypoint (baton); its program must be baton.
        let mut args = self.command.clone();
        if let Some(program) = (!args.is_empty()).then(|| args.remove(0)) {
            let name = Path::new(&program).file_name().and_then(|n| n.to_str());
            if name != Some("baton") {
                return Err(format!(
                    "exec: \"{program}\": executable file not found in $PATH (the runner image has only baton)"
                ));
            }
        }
        args.extend(self.args.iter().cloned());
        // CreateContainerConfigError until the Secrets it needs exist (the kubelet retries).
        let mut said = false;
        let secret_env = loop {
            match self.secret_env() {
                Ok(e) => break e,
                Err(why) => {
                    if !std::mem::replace(&mut said, true) {
                        ctx.log(format!("Error: CreateContainerConfigError: {why}"));
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = ctx.stopping() => return Ok(0),
                    }
                }
            }
        };
        let server = r.server.get().cloned().unwrap_or_default();
        let (host, port) = server
            .trim_start_matches("https://")
            .rsplit_once(':')
            .map(|(h, p)| (h.to_string(), p.to_string()))
            .unwrap_or_default();
        let mut cmd = tokio::process::Command::new(&r.image.exe);
        cmd.args(&args)
            .env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()),
            )
            .env("HOME", &dir)
            .env("HOSTNAME", &self.pod)
            .env("KUBERNETES_SERVICE_HOST", host)
            .env("KUBERNETES_SERVICE_PORT", port)
            .env("KUBECONFIG", &kubeconfig)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .envs(secret_env.iter().map(|(k, v)| (k, v)))
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("{}: {e}", r.image.exe.display()))?;
        let key = format!("{}/{}", self.namespace, self.pod);
        let _registered = child.id().map(|pid| {
            r.children().insert(key.clone(), pid);
            let _ = std::fs::write(dir.join("pid"), pid.to_string());
            Registered(r, key)
        });
        // No readiness probe: Ready once the container runs.
        ctx.set_ready(true);
        let out = child
            .stdout
            .take()
            .map(|s| tokio::spawn(pump(s, ctx.clone())));
        let err = child
            .stderr
            .take()
            .map(|s| tokio::spawn(pump(s, ctx.clone())));
        let status = tokio::select! {
            status = child.wait() => status,
            _ = ctx.stopping() => {
                // SIGTERM, and SIGKILL when the grace period is over (the kubelet also drops
                // this run then, which kills the child).
                if let Some(pid) = child.id() {
                    signal(pid, "TERM");
                }
                match tokio::time::timeout(ctx.grace_period(), child.wait()).await {
                    Ok(status) => status,
                    Err(_) => {
                        let _ = child.start_kill();
                        child.wait().await
                    }
                }
            }
        }
        .map_err(|e| format!("waiting for {}: {e}", r.image.exe.display()))?;
        drop(_registered);
        // The rest of its output (a grandchild holding the pipes open is not waited for long).
        for pump in [out, err].into_iter().flatten() {
            let _ = tokio::time::timeout(Duration::from_secs(2), pump).await;
        }
        use std::os::unix::process::ExitStatusExt;
        Ok(status
            .code()
            .or_else(|| status.signal().map(|s| 128 + s))
            .unwrap_or(1))
    }
}

/// Copies a child's output into the container log, line by line.
async fn pump(stream: impl AsyncRead + Unpin, ctx: RunContext) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                ctx.log(text.trim_end_matches(['\n', '\r']).to_string());
            }
        }
    }
}
