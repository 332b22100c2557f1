//! `baton lab fault` against a running lab: each fault shows up where a person (kubectl) or a
//! client (kube-rs) would see it, and lasting faults can be turned off.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{TestLab, small_spec, wait_for};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

async fn fault(t: &TestLab, args: &[&str]) -> (i32, String, String) {
    t.fault(args).await
}

/// How long a stalled member is watched to apply nothing; shorter than the 3 s stall. A sleep, not
/// a wait: it observes that something does *not* happen over an interval.
const STALLED_FOR: Duration = Duration::from_millis(1000);

const POD: [&str; 6] = [
    "--orchestra",
    "lab-a",
    "-n",
    "team-a",
    "--pod",
    "orders-1-0",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_crash_loop_and_garbage() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 2, 0)])).await;
    t.all_ready().await;

    let (code, out, err) = fault(&t, &[&["kill-member"][..], &POD].concat()).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("killed lab-a/team-a/orders-1-0"), "{out}");
    wait_for("restart counted", Duration::from_secs(10), || async {
        let (_, out, _) = t
            .kubectl(&["get", "pod", "orders-1-0", "-n", "team-a"])
            .await;
        out.lines()
            .nth(1)
            .is_some_and(|l| l.split_whitespace().nth(3) == Some("1"))
    })
    .await;

    let (code, _, err) = fault(&t, &[&["crash-loop"][..], &POD].concat()).await;
    assert_eq!(code, 0, "{err}");
    wait_for("CrashLoopBackOff", Duration::from_secs(10), || async {
        let (_, out, _) = t
            .kubectl(&["get", "pod", "orders-1-0", "-n", "team-a"])
            .await;
        out.contains("CrashLoopBackOff") && out.contains("0/1")
    })
    .await;
    wait_for(
        "the crash shows in the logs",
        Duration::from_secs(15),
        || async {
            let (_, now, _) = t.kubectl(&["logs", "orders-1-0", "-n", "team-a"]).await;
            let (_, prev, _) = t
                .kubectl(&["logs", "orders-1-0", "-n", "team-a", "--previous"])
                .await;
            now.contains("fault injected by the lab (crash-loop)")
                || prev.contains("fault injected by the lab (crash-loop)")
        },
    )
    .await;
    let (code, _, _) = fault(&t, &[&["crash-loop", "--off"][..], &POD].concat()).await;
    assert_eq!(code, 0);
    wait_for(
        "recovered from the crash loop",
        Duration::from_secs(20),
        || async {
            let (_, out, _) = t
                .kubectl(&["get", "pod", "orders-1-0", "-n", "team-a"])
                .await;
            out.lines()
                .nth(1)
                .is_some_and(|l| l.contains("1/1") && l.contains("Running"))
        },
    )
    .await;

    let proxy = "/api/v1/namespaces/team-a/pods/orders-2-0:7474/proxy/";
    let pod2 = [
        "--orchestra",
        "lab-a",
        "-n",
        "team-a",
        "--pod",
        "orders-2-0",
    ];
    assert_eq!(
        fault(&t, &[&["garbage-status"][..], &pod2].concat())
            .await
            .0,
        0
    );
    let (_, raw, _) = t.kubectl(&["get", "--raw", proxy]).await;
    assert!(
        serde_json::from_str::<serde_json::Value>(&raw).is_err(),
        "expected garbage, got {raw}"
    );
    assert_eq!(
        fault(&t, &[&["garbage-status", "--off"][..], &pod2].concat())
            .await
            .0,
        0
    );
    let (_, raw, _) = t.kubectl(&["get", "--raw", proxy]).await;
    assert!(
        serde_json::from_str::<serde_json::Value>(&raw).is_ok(),
        "{raw}"
    );
    t.lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn apiserver_down_and_up_and_bad_requests() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 1, 0)])).await;
    t.all_ready().await;
    let client = t.kube_client("lab-a").await;
    let pods: Api<Pod> = Api::namespaced(client, "team-a");
    assert_eq!(
        pods.list(&ListParams::default()).await.unwrap().items.len(),
        1
    );

    let (code, out, err) = fault(&t, &["apiserver-down", "--orchestra", "lab-a"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("lab-a is down"));
    let r = tokio::time::timeout(Duration::from_secs(30), pods.list(&ListParams::default()))
        .await
        .expect("fails fast, not hangs");
    assert!(r.is_err(), "the API server is down, the list must fail");
    let (code, _, _) = t
        .kubectl(&["get", "pods", "-n", "team-a", "--request-timeout=3s"])
        .await;
    assert_ne!(code, 0);

    assert_eq!(
        fault(&t, &["apiserver-up", "--orchestra", "lab-a"]).await.0,
        0
    );
    wait_for("API server back", Duration::from_secs(10), || async {
        pods.list(&ListParams::default()).await.is_ok()
    })
    .await;

    // Bad requests are exit 2 with the reason; a kubeconfig that is not the lab's too.
    let (code, _, err) = fault(&t, &["kill-member", "--orchestra", "lab-a"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("needs --namespace"), "{err}");
    let (code, _, err) = fault(&t, &["explode", "--orchestra", "lab-a"]).await;
    assert_eq!(code, 2);
    assert!(
        err.contains("unknown fault 'explode'") && err.contains("kill-member"),
        "{err}"
    );
    let (code, _, err) = fault(&t, &["apiserver-down", "--orchestra", "nope"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("no orchestra named 'nope'"), "{err}");
    let other = t.dir.path().join("plain.kubeconfig");
    std::fs::write(
        &other,
        "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["--kubeconfig", other.to_str().unwrap(), "lab", "report"])
        .env("BATON_DATA_DIR", t.dir.path().join("data"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a baton lab kubeconfig"));
    t.lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stall_and_partition_through_the_cli_and_the_report_tells_the_truth() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 0)])).await;
    t.all_ready().await;
    wait_for("a leader", Duration::from_secs(10), || async {
        t.lab.consensus.report()[0]["quorum"] == true
    })
    .await;
    let leader = t.lab.consensus.report()[0]["leader"]
        .as_str()
        .unwrap()
        .to_string();
    let follower = ["orders-1-0", "orders-2-0", "orders-3-0"]
        .into_iter()
        .find(|p| *p != leader)
        .unwrap();
    let key = format!("lab-a/team-a/{follower}");
    let pod = ["--orchestra", "lab-a", "-n", "team-a", "--pod", follower];

    let (code, out, err) = fault(&t, &[&["stall", "--seconds", "3"][..], &pod].concat()).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("stalled"), "{out}");
    let a = t.lab.consensus.status(&key).unwrap().applied_index;
    tokio::time::sleep(STALLED_FOR).await;
    assert_eq!(
        t.lab.consensus.status(&key).unwrap().applied_index,
        a,
        "a stalled member applies nothing"
    );
    wait_for(
        "moves again after the stall",
        Duration::from_secs(10),
        || async { t.lab.consensus.status(&key).unwrap().applied_index > a },
    )
    .await;

    assert_eq!(fault(&t, &[&["partition"][..], &pod].concat()).await.0, 0);
    assert!(!t.lab.consensus.status(&key).unwrap().reachable);
    assert_eq!(fault(&t, &[&["heal"][..], &pod].concat()).await.0, 0);
    assert!(t.lab.consensus.status(&key).unwrap().reachable);

    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("--kubeconfig")
        .arg(t.kubeconfig())
        .args(["lab", "report"])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("lab-a/team-a/orders")
            && text.contains("quorum true")
            && text.contains("quorum lost 0x"),
        "{text}"
    );
    t.lab.shutdown().await;
}
