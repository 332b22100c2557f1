//! Direct probes carry the profile's credentials: Neo4j's password comes from the `neo4j-auth`
//! Secret of the database's namespace (the Helm chart's), read through the API server. A wrong
//! password is a `HTTP 401` probe error on each member, nothing worse; once the Secret is right
//! again the database is healthy without restarting baton. A password from an environment
//! variable is sent too: the right one makes the database healthy, a wrong one is refused.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use base64::Engine as _;

use baton::config::Config;
use baton::fleet::{DbKey, Fleet, Health, Probe};
use baton::source::{Engine, Focus, Intervals, targets};
use common::{TestLab, small_spec, wait_some};
use serde_json::Value;

fn orders() -> DbKey {
    DbKey {
        orchestra: "lab-a".into(),
        namespace: "team-a".into(),
        name: "orders".into(),
    }
}

/// The engine over the lab with `config`, the orders database open.
async fn run(t: &TestLab, config: &Config) -> Engine {
    let targets = targets(Some(&t.kubeconfig()), &[], config).await.unwrap();
    let engine = Engine::start(targets, config, Intervals::default());
    engine.set_focus(Focus {
        open: Some(orders()),
        visible: vec![],
    });
    engine
}

fn errors(f: &Fleet) -> Vec<String> {
    f.databases
        .get(&orders())
        .map(|d| {
            d.members
                .iter()
                .filter_map(|m| match &m.probe {
                    Probe::Error(e) => Some(e.clone()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every member of orders answered 401.
fn all_refused(f: &Fleet) -> bool {
    let e = errors(f);
    e.len() == 3 && e.iter().all(|e| e.starts_with("HTTP 401"))
}

fn healthy(f: &Fleet) -> bool {
    f.databases
        .get(&orders())
        .is_some_and(|d| d.state.health == Health::Healthy)
}

/// The Secret's `NEO4J_AUTH`, base64 as stored.
async fn secret_data(t: &TestLab) -> String {
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
    assert!(!data.trim().is_empty());
    data.trim().to_string()
}

async fn set_secret(t: &TestLab, data: &str) {
    let patch = format!(r#"{{"data":{{"NEO4J_AUTH":"{data}"}}}}"#);
    let (code, _, err) = t
        .kubectl(&[
            "patch",
            "secret",
            "neo4j-auth",
            "-n",
            "team-a",
            "--type",
            "merge",
            "-p",
            &patch,
        ])
        .await;
    assert_eq!(code, 0, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn direct_probes_send_the_secrets_password() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 0)])).await;
    t.all_ready().await;
    let original = secret_data(&t).await;
    // "neo4j/wrong", base64.
    set_secret(&t, "bmVvNGovd3Jvbmc=").await;

    let direct = Config::parse(
        "[orchestras.lab-a]\ntransport = \"direct\"\n",
        std::path::Path::new("test.toml"),
    )
    .unwrap();
    let mut engine = run(&t, &direct).await;
    assert!(
        engine.until(Duration::from_secs(30), all_refused).await,
        "every member refuses the wrong password: {:?}",
        errors(engine.fleet())
    );
    assert!(!healthy(engine.fleet()));

    // The right password again: read anew after the refusal, healthy without a restart.
    set_secret(&t, &original).await;
    assert!(
        // A refused password is read again at most every 10 s.
        engine.until(Duration::from_secs(40), healthy).await,
        "healthy with the Secret's password"
    );
    drop(engine);
    t.lab.shutdown().await;
}

/// The variable `credentials.toml` names for the Neo4j password.
const VARIABLE: &str = "BATON_TEST_NEO4J_PASSWORD";

/// `baton status --output json` for orders, direct probes with the password from `$VARIABLE` set
/// to `password` (in the child's environment only); the orders database of the snapshot.
async fn status_with_env_password(t: &TestLab, password: &str) -> Value {
    let config = t.dir.path().join("credentials.toml");
    std::fs::write(
        &config,
        format!(
            "[orchestras.lab-a]\ntransport = \"direct\"\n\
             [profiles.neo4j]\ngrouping_label = \"helm.neo4j.com/neo4j.name\"\nprobe = \"neo4j\"\nport = 7474\n\
             credentials = {{ from = \"env\", user = \"neo4j\", variable = \"{VARIABLE}\" }}\n"
        ),
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("--kubeconfig")
        .arg(t.kubeconfig())
        .arg("--config")
        .arg(&config)
        .args(["status", "--output", "json", "--timeout", "10"])
        .args(["--orchestra", "lab-a", "--database", "orders"])
        .env(VARIABLE, password)
        .env("BATON_DATA_DIR", t.dir.path().join("data"))
        .env("XDG_CONFIG_HOME", t.dir.path().join("config"))
        .output()
        .await
        .expect("run baton status");
    let s: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    s["databases"][0].clone()
}

fn probe_errors(d: &Value) -> Vec<String> {
    d["member_details"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .filter_map(|m| m["probe_error"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn direct_probes_send_the_env_password() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 0)])).await;
    t.all_ready().await;
    // The members check basic auth against the password the lab put in the Secret.
    let auth = base64::engine::general_purpose::STANDARD
        .decode(secret_data(&t).await)
        .unwrap();
    let auth = String::from_utf8(auth).unwrap();
    let (user, password) = auth.split_once('/').unwrap();
    assert_eq!(user, "neo4j");

    // The lab's status endpoint answers without credentials but refuses wrong ones: a 401 there
    // proves an Authorization header was sent. A wrong password in the variable: every member
    // refuses it, so the variable's value is sent.
    let d = wait_some(
        "the wrong env password refused",
        Duration::from_secs(60),
        || async {
            let d = status_with_env_password(&t, "wrong").await;
            let e = probe_errors(&d);
            (e.len() == 3 && e.iter().all(|e| e.starts_with("HTTP 401"))).then_some(d)
        },
    )
    .await;
    assert_ne!(d["health"], "healthy", "{d}");
    // The right one in the same variable: every member accepts what is sent, the database is
    // healthy.
    let d = wait_some(
        "orders healthy with the env password",
        Duration::from_secs(60),
        || async {
            let d = status_with_env_password(&t, password).await;
            (d["name"] == "orders" && d["health"] == "healthy").then_some(d)
        },
    )
    .await;
    assert!(probe_errors(&d).is_empty(), "{d}");
    t.lab.shutdown().await;
}
