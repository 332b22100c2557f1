//! Direct probes carry the profile's credentials: Neo4j's password comes from the `neo4j-auth`
//! Secret of the database's namespace (the Helm chart's), read through the API server. A wrong
//! password is a `HTTP 401` probe error on each member, nothing worse; once the Secret is right
//! again the database is healthy without restarting baton. An environment variable works too.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use baton::config::Config;
use baton::fleet::{DbKey, Fleet, Health, Probe};
use baton::source::{Engine, Focus, Intervals, targets};
use common::{TestLab, small_spec};

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
async fn direct_probes_send_the_secret_and_the_env_password() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 0)])).await;
    t.all_ready().await;
    let (code, original, err) = t
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
    assert!(!original.trim().is_empty());
    // "neo4j/wrong", base64.
    set_secret(&t, "bmVvNGovd3Jvbmc=").await;

    let direct = Config::parse(
        "[orchestras.lab-a]\ntransport = \"direct\"\n",
        std::path::Path::new("test.toml"),
    )
    .unwrap();
    let mut engine = run(&t, &direct).await;
    assert!(
        engine.until(Duration::from_secs(15), all_refused).await,
        "every member refuses the wrong password: {:?}",
        errors(engine.fleet())
    );
    assert!(!healthy(engine.fleet()));

    // The right password again: read anew after the refusal, healthy without a restart.
    set_secret(&t, original.trim()).await;
    assert!(
        // A refused password is read again at most every 10 s.
        engine.until(Duration::from_secs(30), healthy).await,
        "healthy with the Secret's password"
    );
    drop(engine);

    // From the environment: PATH is set and surely not the password.
    let env = Config::parse(
        "[orchestras.lab-a]\ntransport = \"direct\"\n\
         [profiles.neo4j]\ngrouping_label = \"helm.neo4j.com/neo4j.name\"\nprobe = \"neo4j\"\nport = 7474\n\
         credentials = { from = \"env\", user = \"neo4j\", variable = \"PATH\" }\n",
        std::path::Path::new("test.toml"),
    )
    .unwrap();
    let mut engine = run(&t, &env).await;
    assert!(
        engine.until(Duration::from_secs(15), all_refused).await,
        "the env password is sent and refused"
    );
    drop(engine);
    t.lab.shutdown().await;
}
