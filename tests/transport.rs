//! baton's kube client on the wire: HTTP/2 when the API server offers it (as client-go), so an
//! orchestra's watches, lists and proxied probes share one multiplexed connection; a client
//! that asks for HTTP/1.1 (kube-rs' default stack) still gets it from the same server.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{TestLab, small_spec};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, WatchParams};

async fn version_of(client: &kube::Client) -> http::Version {
    let req = http::Request::get("/version")
        .body(kube::client::Body::empty())
        .unwrap();
    let resp = client.send(req).await.expect("GET /version");
    assert!(resp.status().is_success(), "{}", resp.status());
    resp.version()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batons_client_speaks_http2_and_multiplexes_watches_and_reads() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 0)])).await;
    t.all_ready().await;
    let client = baton::guard::kube_client(t.kube_config("lab-a").await, false).expect("client");
    assert_eq!(version_of(&client).await, http::Version::HTTP_2);

    // Forty watches held open (each would hold an HTTP/1.1 connection of its own): reads
    // still answer beside them, and every watch is live.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "team-a");
    let mut watches = Vec::new();
    for _ in 0..40 {
        let s = pods
            .watch(&WatchParams::default().timeout(60), "0")
            .await
            .expect("watch");
        watches.push(s.boxed());
    }
    for w in &mut watches {
        let first = tokio::time::timeout(Duration::from_secs(20), w.next())
            .await
            .expect("an event on every watch");
        assert!(first.is_some_and(|e| e.is_ok()));
    }
    let listed = tokio::time::timeout(Duration::from_secs(20), pods.list(&ListParams::default()))
        .await
        .expect("a list beside forty open watches")
        .expect("list");
    assert_eq!(listed.items.len(), 3);
    assert_eq!(version_of(&client).await, http::Version::HTTP_2);

    // kube-rs' own stack asks for HTTP/1.1 only, and gets it.
    let plain = t.kube_client("lab-a").await;
    assert_eq!(version_of(&plain).await, http::Version::HTTP_11);
    t.lab.shutdown().await;
}
