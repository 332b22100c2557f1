//! Looking never writes: `baton status`, the supervisors behind it and a whole dashboard session
//! (the fleet, a database list sorted and filtered, two databases' profiles, help, quit) send the
//! API servers only reads — GET, LIST, WATCH, and SelfSubjectAccessReviews — though they hold the
//! operator's credentials, which may write. The lab's request log is the witness: every request
//! any process sends it is one line there, with its verb.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::tmux::Tmux;

/// How long a screen may take to show what a key asked for.
const SCREEN: Duration = Duration::from_secs(20);

use std::path::Path;
use std::time::Duration;

use common::{TestLab, two_orchestras_spec, wait_for};
use serde_json::Value;

/// The dashboard in a tmux session of its own (the real binary in a real terminal).
impl Tmux {
    fn baton(t: &TestLab) -> Self {
        let cmd = format!(
            "BATON_DATA_DIR={data} XDG_CONFIG_HOME={cfg} {bin} --kubeconfig {kc}; echo baton-exited-$?; sleep 60",
            data = t.dir.path().join("data").display(),
            cfg = t.dir.path().join("config").display(),
            bin = env!("CARGO_BIN_EXE_baton"),
            kc = t.kubeconfig().display(),
        );
        Tmux::start("read-only", 120, 40, &cmd)
    }

    /// Types `keys`, each as a person would (a key at a time).
    fn keys_apart(&self, keys: &[&str]) {
        for k in keys {
            let out = self.cmd(&["send-keys", "-t", "main", k]);
            assert!(out.status.success(), "send-keys {k}: {out:?}");
            // Keys apart as a person types them (an Escape and the next key read together would
            // be Alt+key); every check waits for what the screen shows, never for time.
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A screen line that shows `member` with the LEADER role.
fn leads(screen: &str, member: &str) -> bool {
    screen
        .lines()
        .any(|l| l.contains("LEADER") && l.contains(&format!(" {member} ")))
}

/// What a reader may send: GET (a get or a list), WATCH, and the one harmless create that asks
/// the API server what the caller may do.
fn is_read(r: &Value) -> bool {
    match r["verb"].as_str() {
        Some("get" | "watch") => true,
        Some("create") => r["path"]
            .as_str()
            .is_some_and(|p| p == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"),
        _ => false,
    }
}

/// Every line of the lab's request log so far.
fn request_log(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("requests.jsonl"))
        .expect("the request log")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn assert_reads_only(what: &str, requests: &[Value]) {
    let writes: Vec<&Value> = requests.iter().filter(|r| !is_read(r)).collect();
    assert!(
        writes.is_empty(),
        "{what} sent {} request(s) that are not reads:\n{}",
        writes.len(),
        writes
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let mut verbs = std::collections::BTreeMap::<String, usize>::new();
    for r in requests {
        *verbs
            .entry(r["verb"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    eprintln!("{what}: {} requests by verb {verbs:?}", requests.len());
    // The witness saw the process at all, with credentials that could have written.
    assert!(
        requests
            .iter()
            .any(|r| r["identity"] == "lab-operator" && r["verb"] == "watch"),
        "{what}: no watch by the operator in the request log; the log does not witness it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn status_and_a_dashboard_session_send_only_reads() {
    let t = TestLab::start(two_orchestras_spec()).await;
    t.all_ready().await;
    let orders = "lab-a/team-a/orders";
    let config = "lab-b/infra/config";
    wait_for("both leaders", Duration::from_secs(20), || async {
        t.truth_leader(orders).is_some() && t.truth_leader(config).is_some()
    })
    .await;

    // `baton status`: the supervisors until every member was probed once, then the table.
    let before = request_log(t.dir.path()).len();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("--kubeconfig")
        .arg(t.kubeconfig())
        .args(["status", "--timeout", "15"])
        .env("BATON_DATA_DIR", t.dir.path().join("data"))
        .env("XDG_CONFIG_HOME", t.dir.path().join("config"))
        .output()
        .await
        .expect("run baton status");
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{table}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        table.contains("orders") && table.contains("config"),
        "{table}"
    );
    assert_reads_only("baton status", &request_log(t.dir.path())[before..]);

    // The dashboard: fleet → lab-a's databases (moved around, sorted, filtered) → orders'
    // profile (members moved through) → back → every database → config's profile → help → quit.
    let before = request_log(t.dir.path()).len();
    let tm = Tmux::baton(&t);
    tm.wait("both orchestras live", SCREEN, |s| {
        ["lab-a", "lab-b"]
            .iter()
            .all(|o| s.lines().any(|l| l.contains(o) && l.contains("live")))
    })
    .await;
    tm.keys_apart(&["j", "k", "Enter"]);
    tm.wait("lab-a's databases", SCREEN, |s| {
        s.contains("orders") && s.contains("catalog")
    })
    .await;
    tm.keys_apart(&["s", "S", "j", "k", "G", "g"]);
    tm.keys_apart(&["/", "o", "r", "d", "e", "r", "s", "Enter", "Enter"]);
    let leader = t.truth_leader(orders).unwrap();
    let s = tm
        .wait("orders' leader in its profile", SCREEN, |s| {
            leads(s, &leader)
        })
        .await;
    assert!(s.contains("orders-rr-1-0"), "the secondary is listed:\n{s}");
    tm.keys_apart(&["j", "j", "j", "k", "G", "g", "Down", "Up"]);
    // Back to the list, the filter cleared, then every database of the fleet.
    tm.keys_apart(&["Escape", "/", "Escape", "Tab"]);
    tm.wait("every database", SCREEN, |s| {
        s.contains("orders") && s.contains("catalog") && s.contains("config")
    })
    .await;
    tm.keys_apart(&["/", "c", "o", "n", "f", "i", "g", "Enter", "Enter"]);
    let leader = t.truth_leader(config).unwrap();
    tm.wait("config's leader in its profile", SCREEN, |s| {
        leads(s, &leader)
    })
    .await;
    tm.keys_apart(&["j", "k", "?"]);
    tm.wait("help", SCREEN, |s| s.contains("quit")).await;
    tm.keys_apart(&["Escape", "Escape", "Escape", "q"]);
    let s = tm
        .wait("baton exits", SCREEN, |s| s.contains("baton-exited-"))
        .await;
    assert!(s.contains("baton-exited-0"), "{s}");
    // Once the servers stopped, the log is complete: no request of the session is still open.
    let TestLab { lab, dir } = t;
    lab.shutdown().await;
    assert_reads_only("the dashboard", &request_log(dir.path())[before..]);
}
