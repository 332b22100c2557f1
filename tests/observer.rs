//! Observer mode and permissions, against the lab's request log:
//! - `--read-only`: `status`, every `op` kind, `op resume`, `op status` and a whole dashboard
//!   session (every view, the operation keys, `:` commands, the operations menu) leave no
//!   mutating request — only reads and SelfSubjectAccessReviews — though the identity may write.
//! - The observer identity (the lab's `view`-like role) without `--read-only`: every operation
//!   is refused naming the missing permission before anything is attempted, and the databases
//!   are probed by reads only and reported with their true health, through the pod proxy too.
//! - A role that allows only backup and diagnostics: `baton op rolling-restart` exits 3 naming
//!   the role.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::tmux::Tmux;
use common::{TestLab, two_orchestras_spec, wait_for};
use serde_json::Value;

const SCREEN: Duration = Duration::from_secs(20);
const REVIEWS: &str = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";

/// Requests that change something: every non-read except the access reviews, which store and
/// change nothing.
fn changes(requests: &[Value]) -> Vec<&Value> {
    requests
        .iter()
        .filter(|r| !matches!(r["verb"].as_str(), Some("get" | "watch" | "list")))
        .filter(|r| r["path"].as_str() != Some(REVIEWS))
        .collect()
}

fn show(rs: &[&Value]) -> String {
    rs.iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs baton with `args` (after `--kubeconfig`), the test's data and config dirs, and
/// `config` as its config file (empty: none). (exit code, stdout, stderr)
async fn baton(t: &TestLab, config: &str, args: &[&str]) -> (i32, String, String) {
    let cfg = t.dir.path().join("baton.toml");
    std::fs::write(&cfg, config).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("--kubeconfig")
        .arg(t.kubeconfig())
        .arg("--config")
        .arg(&cfg)
        .args(args)
        .env("BATON_DATA_DIR", t.dir.path().join("data"))
        .env("XDG_CONFIG_HOME", t.dir.path().join("config"))
        .output()
        .await
        .expect("run baton");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every operation kind, with the parameters it needs.
fn every_op() -> Vec<Vec<&'static str>> {
    let target = ["--orchestra", "lab-a", "--database", "orders", "--yes"];
    let mut out = Vec::new();
    for (name, extra) in [
        ("rolling-restart", vec![]),
        ("restart-member", vec!["--member", "orders-1-0"]),
        ("backup", vec![]),
        ("restore", vec!["--set", "from=s3://lab-backups/x"]),
        ("diagnostics", vec![]),
        ("resize", vec!["--set", "memory=2Gi"]),
        ("upgrade", vec!["--set", "version=5.27.0"]),
        ("stop", vec![]),
        ("start", vec![]),
        ("incident", vec![]),
    ] {
        let mut v = vec!["op", name];
        v.extend(target);
        v.extend(extra);
        out.push(v);
    }
    out
}

/// Health of `name` in `baton status --output json`.
fn health_of(json: &str, name: &str) -> (String, Vec<String>) {
    let v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let d = v["databases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {json}"));
    (
        d["health"].as_str().unwrap().to_string(),
        d["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_string())
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn read_only_everything_sends_no_change() {
    let t = TestLab::start(two_orchestras_spec()).await;
    t.all_ready().await;
    wait_for("both leaders", Duration::from_secs(20), || async {
        t.truth_leader("lab-a/team-a/orders").is_some()
            && t.truth_leader("lab-b/infra/config").is_some()
    })
    .await;
    // lab-b through the pod proxy, so etcd is probed both ways (lab-a direct).
    let config = "[orchestras.lab-a]\n\n[orchestras.lab-b]\ntransport = \"proxy\"\n";
    let before = t.request_log().len();

    let (code, out, err) = baton(
        &t,
        config,
        &[
            "--read-only",
            "status",
            "--output",
            "json",
            "--timeout",
            "15",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    for db in ["orders", "catalog", "config"] {
        let (health, reasons) = health_of(&out, db);
        assert_eq!(health, "healthy", "{db}: {reasons:?}");
    }
    for op in every_op() {
        let mut args = vec!["--read-only"];
        args.extend(op.iter().copied());
        let (code, out, err) = baton(&t, config, &args).await;
        assert_eq!(code, 3, "{op:?}: {out}{err}");
        assert!(err.contains("read-only"), "{op:?}: {err}");
    }
    let (code, out, err) = baton(
        &t,
        config,
        &[
            "--read-only",
            "op",
            "resume",
            "--orchestra",
            "lab-a",
            "--database",
            "orders",
        ],
    )
    .await;
    assert_eq!(code, 3, "{out}{err}");
    let (code, out, err) = baton(&t, config, &["--read-only", "op", "status"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let headless = t.request_log()[before..].to_vec();
    let c = changes(&headless);
    assert!(
        c.is_empty(),
        "headless read-only paths changed something:\n{}",
        show(&c)
    );
    assert!(
        headless.iter().any(|r| r["verb"] == "get"
            && r["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("/proxy/metrics"))),
        "etcd read through the proxy with a GET of its metrics"
    );

    // The dashboard, read-only: every view, the operation keys, `:` commands, the menu.
    let before = t.request_log().len();
    let cmd = format!(
        "BATON_DATA_DIR={data} XDG_CONFIG_HOME={cfgdir} {bin} --kubeconfig {kc} --config {cfg} --read-only; echo baton-exited-$?; sleep 60",
        data = t.dir.path().join("data").display(),
        cfgdir = t.dir.path().join("config").display(),
        bin = env!("CARGO_BIN_EXE_baton"),
        kc = t.kubeconfig().display(),
        cfg = t.dir.path().join("baton.toml").display(),
    );
    let tm = Tmux::start("observer-ro", 120, 40, &cmd);
    let keys = |ks: &[&str]| {
        for k in ks {
            let out = tm.cmd(&["send-keys", "-t", "main", k]);
            assert!(out.status.success(), "send-keys {k}: {out:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let s = tm
        .wait("both orchestras live", SCREEN, |s| {
            ["lab-a", "lab-b"]
                .iter()
                .all(|o| s.lines().any(|l| l.contains(o) && l.contains("live")))
        })
        .await;
    assert!(s.contains("READ-ONLY"), "{s}");
    assert!(!s.contains("role operator"), "{s}");
    // Fleet → lab-a's databases → operation keys there.
    keys(&["Enter"]);
    tm.wait("lab-a's databases", SCREEN, |s| s.contains("orders"))
        .await;
    keys(&["o", "Enter", "y", "Escape", "x", "O", "Escape"]);
    // orders' profile: the operation keys, the menu, each entry.
    keys(&["/", "o", "r", "d", "e", "r", "s", "Enter", "Enter"]);
    tm.wait("orders' profile", SCREEN, |s| s.contains("orders-rr-1-0"))
        .await;
    keys(&["o"]);
    for _ in 0..12 {
        keys(&["Enter", "y", "Escape", "j"]);
    }
    keys(&["Escape", "x", "y", "O", "Escape"]);
    // `:` commands.
    for c in [
        ":ops",
        ":ctx lab-b",
        ":db lab-b/infra/config",
        ":theme light",
        ":help",
        ":nonsense",
    ] {
        keys(&[c, "Enter"]);
        keys(&["o", "Enter", "y", "Escape", "Escape"]);
    }
    let s = tm
        .wait("still read-only", SCREEN, |s| s.contains("READ-ONLY"))
        .await;
    assert!(!s.contains("role operator"), "{s}");
    keys(&["Escape", "Escape", "Escape", ":q", "Enter"]);
    let s = tm
        .wait("baton exits", SCREEN, |s| s.contains("baton-exited-"))
        .await;
    assert!(s.contains("baton-exited-0"), "{s}");
    let TestLab { lab, dir } = t;
    lab.shutdown().await;
    let log: Vec<Value> = std::fs::read_to_string(dir.path().join("requests.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let session = &log[before..];
    let c = changes(session);
    assert!(
        c.is_empty(),
        "the read-only dashboard changed something:\n{}",
        show(&c)
    );
    assert!(
        session.iter().any(|r| r["verb"] == "watch"),
        "the log witnessed the session"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_observer_identity_may_do_nothing_and_sees_true_health() {
    let t = TestLab::start(two_orchestras_spec()).await;
    t.all_ready().await;
    wait_for("both leaders", Duration::from_secs(20), || async {
        t.truth_leader("lab-a/team-a/orders").is_some()
            && t.truth_leader("lab-b/infra/config").is_some()
    })
    .await;
    let ctx = ["--context", "lab-a-observer", "--context", "lab-b-observer"];
    // Both routes: lab-a direct, lab-b through the pod proxy.
    for config in ["", "[orchestras.lab-b-observer]\ntransport = \"proxy\"\n"] {
        let mut args = ctx.to_vec();
        args.extend(["status", "--output", "json", "--timeout", "15"]);
        let (code, out, err) = baton(&t, config, &args).await;
        assert_eq!(code, 0, "{out}{err}");
        for db in ["orders", "catalog", "config"] {
            let (health, reasons) = health_of(&out, db);
            assert_eq!(health, "healthy", "{config}: {db}: {reasons:?}");
        }
    }
    let before = t.request_log().len();
    for op in every_op() {
        let mut args = vec!["--context", "lab-a-observer"];
        args.extend(op.iter().copied());
        for a in args.iter_mut() {
            if *a == "lab-a" {
                *a = "lab-a-observer";
            }
        }
        let (code, out, err) = baton(&t, "", &args).await;
        if op[1] == "incident" {
            // It needs no Kubernetes permission: a summary (reads) to a webhook.
            continue;
        }
        assert_eq!(code, 3, "{op:?}: {out}{err}");
        eprintln!("{}: {}", op[1], err.trim());
        assert!(
            err.contains("permission") && err.contains("missing"),
            "{op:?}: {err}"
        );
    }
    let log = t.request_log()[before..].to_vec();
    let c = changes(&log);
    assert!(
        c.is_empty(),
        "the observer attempted changes:\n{}",
        show(&c)
    );
    assert!(
        log.iter()
            .any(|r| r["path"] == REVIEWS && r["identity"] == "lab-observer"),
        "the API server was asked"
    );

    // The dashboard as the observer: the role shown follows the identity, and the menu shows
    // every operation greyed with the permission it misses.
    let before = t.request_log().len();
    let cmd = format!(
        "BATON_DATA_DIR={data} XDG_CONFIG_HOME={cfgdir} {bin} --kubeconfig {kc} --context lab-a-observer; echo baton-exited-$?; sleep 60",
        data = t.dir.path().join("data").display(),
        cfgdir = t.dir.path().join("config").display(),
        bin = env!("CARGO_BIN_EXE_baton"),
        kc = t.kubeconfig().display(),
    );
    let tm = Tmux::start("observer-id", 120, 40, &cmd);
    let keys = |ks: &[&str]| {
        for k in ks {
            let out = tm.cmd(&["send-keys", "-t", "main", k]);
            assert!(out.status.success(), "send-keys {k}: {out:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    tm.wait("the role follows the identity", SCREEN, |s| {
        s.contains("role observer") && !s.contains("role operator")
    })
    .await;
    keys(&[":db lab-a-observer/team-a/orders", "Enter"]);
    tm.wait("orders' profile", SCREEN, |s| s.contains("orders-rr-1-0"))
        .await;
    keys(&["o"]);
    let s = tm
        .wait("operations greyed with what is missing", SCREEN, |s| {
            s.contains("missing: create jobs") && s.contains("missing: delete pods")
        })
        .await;
    eprintln!("{s}");
    assert!(!s.contains("role operator"), "{s}");
    for _ in 0..12 {
        keys(&["Enter", "y", "Escape", "j"]);
    }
    keys(&["Escape", "Escape", ":q", "Enter"]);
    tm.wait("baton exits", SCREEN, |s| s.contains("baton-exited-"))
        .await;
    let log = t.request_log()[before..].to_vec();
    let c = changes(&log);
    assert!(
        c.is_empty(),
        "the observer's dashboard attempted changes:\n{}",
        show(&c)
    );

    // A forbidden probe is not a dead member: an etcd status POST through the proxy is 403
    // for the observer, as the lab's RBAC says.
    let (code, out, _) = t
        .kubectl(&[
            "--context",
            "lab-b-observer",
            "create",
            "--raw",
            "/api/v1/namespaces/infra/pods/config-0:2379/proxy/v3/maintenance/status",
            "-f",
            "-",
        ])
        .await;
    assert_ne!(code, 0, "{out}");
    eprintln!("kubectl create --raw …/proxy as the observer: exit {code}");
    let (code, _, err) = t
        .kubectl(&["--context", "lab-a-observer", "get", "secrets", "-A"])
        .await;
    assert_ne!(code, 0);
    assert!(
        err.contains("Forbidden") && err.contains("secrets"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_of_backup_and_diagnostics_may_not_restart() {
    let t = TestLab::start(two_orchestras_spec()).await;
    t.all_ready().await;
    let config = "[general]\nrole = \"backup-only\"\n\n[roles.backup-only]\noperations = [\"backup\", \"diagnostics\"]\n";
    let before = t.request_log().len();
    let (code, out, err) = baton(
        &t,
        config,
        &[
            "op",
            "rolling-restart",
            "--orchestra",
            "lab-a",
            "--database",
            "orders",
            "--yes",
        ],
    )
    .await;
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("role 'backup-only'"), "{err}");
    // An orchestra read-only in the config: its operations refused as read-only.
    let (code, out, err) = baton(
        &t,
        "[orchestras.lab-a]\nread_only = true\n",
        &[
            "op",
            "backup",
            "--orchestra",
            "lab-a",
            "--database",
            "orders",
            "--yes",
        ],
    )
    .await;
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.contains("read-only"), "{err}");
    let log = t.request_log();
    let c = changes(&log[before..]);
    assert!(c.is_empty(), "{}", show(&c));
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn secrets_never_reach_files_or_output() {
    use base64::Engine as _;
    let t = TestLab::start(two_orchestras_spec()).await;
    t.settled("lab-a", "team-a", "orders").await;
    let (code, data, err) = t
        .kubectl(&[
            "get",
            "secret",
            "neo4j-auth",
            "-n",
            "team-a",
            "-o",
            "jsonpath={.data.NEO4J_AUTH}",
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    let auth = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .unwrap();
    let auth = String::from_utf8(auth).unwrap();
    let (user, password) = auth.split_once('/').unwrap();
    assert!(password.len() >= 8, "a password worth searching for");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    // Direct probes with the Secret's password, logs at their most talkative.
    let config = "[orchestras.lab-a]\ntransport = \"direct\"\n\n\
        [profiles.neo4j]\ngrouping_label = \"helm.neo4j.com/neo4j.name\"\nprobe = \"neo4j\"\nport = 7474\n\
        credentials = { from = \"secret\", name = \"neo4j-auth\", key = \"NEO4J_AUTH\" }\n";
    let mut outputs = Vec::new();
    for args in [
        vec!["status", "--output", "json", "--timeout", "10"],
        vec!["status", "--timeout", "10"],
        vec![
            "op",
            "backup",
            "--orchestra",
            "lab-a",
            "--database",
            "orders",
            "--yes",
        ],
        vec!["op", "status", "--output", "json"],
        vec!["--context", "lab-a-observer", "status", "--timeout", "10"],
        vec![
            "--context",
            "lab-a-observer",
            "op",
            "backup",
            "--orchestra",
            "lab-a-observer",
            "--database",
            "orders",
            "--yes",
        ],
    ] {
        let cfg = t.dir.path().join("secret-probes.toml");
        std::fs::write(&cfg, config).unwrap();
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_baton"))
            .arg("--kubeconfig")
            .arg(t.kubeconfig())
            .arg("--config")
            .arg(&cfg)
            .args(&args)
            .env("RUST_LOG", "trace")
            .env("BATON_DATA_DIR", t.dir.path().join("data"))
            .env("XDG_CONFIG_HOME", t.dir.path().join("config"))
            .output()
            .await
            .expect("run baton");
        outputs.push((
            format!("{args:?}"),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ));
    }
    for (what, out) in &outputs {
        eprintln!("{what}: {}", common_tail(out));
    }
    let status = &outputs[0].1;
    assert!(
        status.contains("\"healthy\""),
        "probed with the password: {status}"
    );
    let mut files = Vec::new();
    files_under(&t.dir.path().join("data"), &mut files);
    files_under(&t.dir.path().join("config"), &mut files);
    assert!(
        files.iter().any(|f| f.to_string_lossy().contains("audit")),
        "the audit was written: {files:?}"
    );
    assert!(
        files.iter().any(|f| f.to_string_lossy().contains("log")),
        "a log was written: {files:?}"
    );
    for f in &files {
        let text = String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned();
        assert!(!text.contains(password), "the password in {}", f.display());
        assert!(
            !text.contains(&basic),
            "the basic-auth header in {}",
            f.display()
        );
        assert!(
            !text.contains(data.trim()),
            "the Secret's data in {}",
            f.display()
        );
    }
    for (what, out) in &outputs {
        assert!(
            !out.contains(password),
            "the password in the output of {what}"
        );
        assert!(
            !out.contains(&basic),
            "the basic-auth header in the output of {what}"
        );
    }
}

/// The last lines of an output, for the test's log.
fn common_tail(out: &str) -> String {
    let lines: Vec<&str> = out.lines().collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}
