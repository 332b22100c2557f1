//! Shared helpers for tests that run against the embedded lab: start a small lab, run the real
//! kubectl against its kubeconfig, wait for conditions.
#![allow(dead_code)]

pub mod tmux;

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use baton_lab::profile::{DatabaseSpec, DbKind, LabSpec, OrchestraSpec};
use baton_lab::{Lab, LabOptions};

/// A lab of one orchestra ("lab-a") with the given databases (namespace, name, primaries, secondaries).
pub fn small_spec(dbs: &[(&str, &str, u32, u32)]) -> LabSpec {
    let mut spec = LabSpec::demo();
    spec.orchestras = vec![OrchestraSpec {
        name: "lab-a".into(),
        databases: dbs
            .iter()
            .map(|(ns, name, p, s)| DatabaseSpec {
                name: (*name).into(),
                namespace: (*ns).into(),
                kind: DbKind::Neo4j,
                primaries: *p,
                secondaries: *s,
                version: Some("5.26.0".into()),
            })
            .collect(),
    }];
    spec
}

/// Two orchestras: "lab-a" with orders (3+1) and catalog (3), "lab-b" with an etcd "config" (3).
pub fn two_orchestras_spec() -> LabSpec {
    let mut s = small_spec(&[("team-a", "orders", 3, 1), ("team-b", "catalog", 3, 0)]);
    s.orchestras.push(OrchestraSpec {
        name: "lab-b".into(),
        databases: vec![DatabaseSpec {
            name: "config".into(),
            namespace: "infra".into(),
            kind: DbKind::Etcd,
            primaries: 3,
            secondaries: 0,
            version: None,
        }],
    });
    s
}

pub struct TestLab {
    pub lab: Lab,
    pub dir: tempfile::TempDir,
}

impl TestLab {
    pub async fn start(spec: LabSpec) -> Self {
        Self::start_with(spec, None).await
    }

    pub async fn start_with(spec: LabSpec, bookmark_every: Option<Duration>) -> Self {
        Self::start_lab(spec, bookmark_every, None).await
    }

    /// As `start`, and pods of baton's runner image (`baton_lab::RUNNER_IMAGE`) run this
    /// build's baton executable.
    pub async fn start_with_runner(spec: LabSpec) -> Self {
        let runner = baton_lab::RunnerImage::baton(env!("CARGO_BIN_EXE_baton").into());
        Self::start_lab(spec, None, Some(runner)).await
    }

    async fn start_lab(
        spec: LabSpec,
        bookmark_every: Option<Duration>,
        runner: Option<baton_lab::RunnerImage>,
    ) -> Self {
        for v in [
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            // SAFETY of intent: tests talk to loopback only; kube-rs honours proxies and ignores NO_PROXY.
            if std::env::var_os(v).is_some() {
                panic!("unset {v} before running the lab tests (kube-rs ignores NO_PROXY)");
            }
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = LabOptions {
            profile: None,
            kubeconfig_out: Some(dir.path().join("kubeconfig")),
            request_log: Some(dir.path().join("requests.jsonl")),
            seed: Some(7),
            data_dir: Some(dir.path().join("lab-data")),
            bookmark_every,
        };
        let lab = Lab::start_spec_with_runner(spec, opts, runner)
            .await
            .expect("lab starts");
        lab.wait_ready(Duration::from_secs(20))
            .await
            .expect("lab answers");
        Self { lab, dir }
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.lab.kubeconfig.clone()
    }

    /// Waits until every pod of the lab is Ready.
    pub async fn all_ready(&self) {
        wait_for("all pods ready", Duration::from_secs(20), || async {
            let (ready, total) = self.lab.ready_pods();
            total > 0 && ready == total
        })
        .await;
    }

    /// The lab's own view of the leader of a database group (e.g. "lab-a/team-a/orders").
    pub fn truth_leader(&self, group: &str) -> Option<String> {
        self.lab
            .consensus
            .report()
            .as_array()?
            .iter()
            .find(|g| g["database"] == group)?["leader"]
            .as_str()
            .map(str::to_string)
    }

    /// The members of `group` other than the lab's leader, in name order. A test that breaks a
    /// follower takes one from here: which voter wins the first election is the lab's to decide
    /// (the voter whose start completes a majority campaigns), so no member is the leader by name.
    pub fn followers<'a>(&self, group: &str, members: &[&'a str]) -> Vec<&'a str> {
        let leader = self.truth_leader(group);
        members
            .iter()
            .copied()
            .filter(|m| leader.as_deref() != Some(*m))
            .collect()
    }

    /// Partitions the last follower by name of the 3-member catalog in team-b of lab-a (so the
    /// other follower goes first in a restart) and waits for its pod to turn unready; returns
    /// (the other follower, the partitioned one).
    pub async fn partition_a_catalog_follower(&self) -> (&'static str, &'static str) {
        use k8s_openapi::api::core::v1::Pod;
        use kube::api::Api;
        let followers = self.followers(
            "lab-a/team-b/catalog",
            &["catalog-1-0", "catalog-2-0", "catalog-3-0"],
        );
        let (other, victim) = (followers[0], followers[followers.len() - 1]);
        let (code, _, err) = self
            .fault(&[
                "partition",
                "--orchestra",
                "lab-a",
                "-n",
                "team-b",
                "--pod",
                victim,
            ])
            .await;
        assert_eq!(code, 0, "{err}");
        let pods: Api<Pod> = Api::namespaced(self.kube_client("lab-a").await, "team-b");
        wait_for(
            "the partitioned member unready",
            Duration::from_secs(20),
            || async {
                pods.get(victim)
                    .await
                    .ok()
                    .and_then(|p| p.status?.conditions)
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "False"))
            },
        )
        .await;
        (other, victim)
    }

    /// Deletes the pod of `group`'s leader `old` (in `namespace`) with kubectl and waits up to
    /// `within` for the lab to elect another member; returns the new leader as soon as it is.
    pub async fn replace_leader(
        &self,
        group: &str,
        namespace: &str,
        old: &str,
        within: Duration,
    ) -> String {
        let (code, _, err) = self
            .kubectl(&["delete", "pod", old, "-n", namespace, "--wait=false"])
            .await;
        assert_eq!(code, 0, "{err}");
        wait_some("the lab elects a new leader", within, || async {
            self.truth_leader(group).filter(|l| l != old)
        })
        .await
    }

    /// Runs the real kubectl with a fresh cache dir; returns (exit code, stdout, stderr).
    pub async fn kubectl(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.kubectl_cmd(args).output().await.expect("run kubectl");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `baton lab fault <args>` against this lab; returns (exit code, stdout, stderr).
    pub async fn fault(&self, args: &[&str]) -> (i32, String, String) {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_baton"))
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(["lab", "fault"])
            .args(args)
            .env("BATON_DATA_DIR", self.dir.path().join("data"))
            .output()
            .await
            .expect("run baton lab fault");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The data dir of the `baton` runs of [`TestLab::baton`] (audit.jsonl, logs).
    pub fn baton_data(&self) -> PathBuf {
        self.dir.path().join("baton-data")
    }

    /// `baton --kubeconfig … --config … <args>` with `config` as its config file and the
    /// test's data dir.
    pub fn baton(&self, config: &str, args: &[&str]) -> tokio::process::Command {
        let cfg = self.dir.path().join("baton.toml");
        std::fs::write(&cfg, config).expect("write config");
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_baton"));
        cmd.arg("--kubeconfig")
            .arg(self.kubeconfig())
            .arg("--config")
            .arg(&cfg)
            .args(args)
            .env("BATON_DATA_DIR", self.baton_data())
            .env_remove("KUBECONFIG")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// Runs [`TestLab::baton`]; returns (exit code, stdout, stderr).
    pub async fn run_baton(&self, config: &str, args: &[&str]) -> (i32, String, String) {
        let out = self.baton(config, args).output().await.expect("run baton");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn kubectl_cmd(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("kubectl");
        cmd.arg("--kubeconfig")
            .arg(self.kubeconfig())
            .arg("--cache-dir")
            .arg(self.dir.path().join("kubectl-cache"))
            .args(args)
            .env_remove("KUBECONFIG")
            .kill_on_drop(true);
        cmd
    }

    pub fn request_log(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.path().join("requests.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Requests that change something (create, update, patch, delete) in the lab's request log.
    /// SelfSubjectAccessReviews are creates that store and change nothing (baton asks them in
    /// every mode, see src/guard.rs): not counted.
    pub fn mutating_requests(&self) -> Vec<serde_json::Value> {
        self.request_log()
            .into_iter()
            .filter(|r| {
                matches!(
                    r["verb"].as_str(),
                    Some("create" | "update" | "patch" | "delete" | "deletecollection")
                ) && r["path"].as_str()
                    != Some("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
            })
            .collect()
    }

    /// Waits until the Neo4j database `ns/name` of `orchestra` has a leader and every member
    /// pod is Ready (Job pods of finished operations never are, so not every pod of the lab).
    pub async fn settled(&self, orchestra: &str, ns: &str, name: &str) {
        use k8s_openapi::api::core::v1::Pod;
        use kube::api::{Api, ListParams};
        let pods: Api<Pod> = Api::namespaced(self.kube_client(orchestra).await, ns);
        let selector = format!("helm.neo4j.com/neo4j.name={name}");
        let group = format!("{orchestra}/{ns}/{name}");
        wait_for(
            "a leader and every member Ready",
            Duration::from_secs(40),
            || async {
                let ready = pods
                    .list(&ListParams::default().labels(&selector))
                    .await
                    .is_ok_and(|l| {
                        !l.items.is_empty()
                            && l.items.iter().all(|p| {
                                p.status
                                    .as_ref()
                                    .and_then(|s| s.conditions.as_ref())
                                    .is_some_and(|cs| {
                                        cs.iter().any(|c| c.type_ == "Ready" && c.status == "True")
                                    })
                            })
                    });
                ready && self.truth_leader(&group).is_some()
            },
        )
        .await;
    }

    /// The kube-rs config of `context` in the lab's kubeconfig.
    pub async fn kube_config(&self, context: &str) -> kube::Config {
        let kc = kube::config::Kubeconfig::read_from(self.kubeconfig()).expect("kubeconfig");
        let opts = kube::config::KubeConfigOptions {
            context: Some(context.into()),
            ..Default::default()
        };
        kube::Config::from_custom_kubeconfig(kc, &opts)
            .await
            .expect("config")
    }

    pub async fn kube_client(&self, context: &str) -> kube::Client {
        kube::Client::try_from(self.kube_config(context).await).expect("client")
    }
}

/// Polls `cond` every 50 ms until it holds; panics with `what` after `timeout`.
pub async fn wait_for<F, Fut>(what: &str, timeout: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_some(what, timeout, || {
        let fut = cond();
        async move { fut.await.then_some(()) }
    })
    .await
}

/// Polls `get` every 50 ms until it yields a value and returns it; panics with `what` after
/// `timeout`.
pub async fn wait_some<T, F, Fut>(what: &str, timeout: Duration, mut get: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = get().await {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A local webhook: answers 200 to every POST and hands over each request (headers and body).
pub async fn webhook_receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf);
                    if n == 0 || (text.contains("\r\n\r\n") && text.trim_end().ends_with('}')) {
                        break;
                    }
                }
                let _ = sock
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
                let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
            });
        }
    });
    (url, rx)
}
