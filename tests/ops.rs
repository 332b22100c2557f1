//! Operations end to end: the real `baton op` binary against the lab (real HTTP, kube-rs, the
//! lab's Raft members and request log). Rolling restart under writes, refusals that send
//! nothing, waiting on a member that breaks mid-operation, racing operators, resume after
//! `kill -9`, dry runs, backups with their Job log and artifact, stop/start keeping data, and
//! incidents posted to a webhook.
//!
//! Shared helpers here; the tests by theme in `ops/restart.rs`, `ops/refusals.rs`,
//! `ops/jobs.rs` and `ops/template.rs` (one test binary).

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use common::{TestLab, small_spec, wait_for, webhook_receiver};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

const ORCH: &str = "lab-a";
const RESUME_ORDERS: &[&str] = &[
    "op",
    "resume",
    "--orchestra",
    ORCH,
    "--database",
    "orders",
    "--yes",
];

fn data_dir(t: &TestLab) -> PathBuf {
    t.baton_data()
}

fn baton(t: &TestLab, config: &str, args: &[&str]) -> tokio::process::Command {
    t.baton(config, args)
}

async fn run(t: &TestLab, config: &str, args: &[&str]) -> (i32, String, String) {
    t.run_baton(config, args).await
}

fn op<'a>(name: &'a str, db: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["op", name, "--orchestra", ORCH, "--database", db];
    v.extend_from_slice(extra);
    v
}

async fn pod_uids(t: &TestLab, ns: &str, db: &str) -> BTreeMap<String, String> {
    let pods: Api<Pod> = Api::namespaced(t.kube_client(ORCH).await, ns);
    pods.list(&ListParams::default().labels(&format!("helm.neo4j.com/neo4j.name={db}")))
        .await
        .expect("list pods")
        .items
        .into_iter()
        .map(|p| {
            (
                p.metadata.name.unwrap_or_default(),
                p.metadata.uid.unwrap_or_default(),
            )
        })
        .collect()
}

fn group<'a>(report: &'a Value, db: &str) -> &'a Value {
    report
        .as_array()
        .and_then(|a| a.iter().find(|g| g["database"] == db))
        .unwrap_or(&Value::Null)
}

/// The JSON events of a `--output json` run.
fn events(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

mod ops {
    mod jobs;
    mod refusals;
    mod restart;
    mod template;
}
