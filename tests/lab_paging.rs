//! List pagination (`limit` and `continue`) of the lab's API servers, checked with the real
//! kubectl (`--chunk-size`, Table and plain lists) and kube-rs (plain and metadata-only lists
//! following `continue`): every object exactly once, the first page's resourceVersion on every
//! page (a watch from it replays what changed while paging), 410 Expired for a token older than
//! the kept history (after `baton lab fault expire-watches`), 400 for a malformed one.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::{TestLab, small_spec};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams, WatchEvent, WatchParams};

fn spec() -> baton_lab::profile::LabSpec {
    small_spec(&[
        ("team-a", "orders", 3, 1),
        ("team-b", "catalog", 3, 0),
        ("team-c", "ledger", 1, 0),
    ])
}

/// The list requests of the request log whose query contains `what`.
fn lists_with(t: &TestLab, what: &str) -> usize {
    t.request_log()
        .iter()
        .filter(|r| r["method"] == "GET" && r["query"].as_str().is_some_and(|q| q.contains(what)))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kubectl_chunk_size_lists_every_pod_exactly_once() {
    let t = TestLab::start(spec()).await;
    t.all_ready().await;
    let total = t.lab.ready_pods().1;
    assert_eq!(total, 8);

    // Table output (kubectl's default: server-side columns).
    let (code, whole, err) = t.kubectl(&["get", "pods", "-A", "--no-headers"]).await;
    assert_eq!(code, 0, "{err}");
    let (code, chunked, err) = t
        .kubectl(&["get", "pods", "-A", "--no-headers", "--chunk-size=2"])
        .await;
    assert_eq!(code, 0, "{err}");
    let names = |out: &str| -> Vec<String> {
        out.lines()
            .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join("/"))
            .collect()
    };
    let chunked_names = names(&chunked);
    assert_eq!(chunked_names.len(), total, "{chunked}");
    assert_eq!(
        chunked_names.iter().collect::<BTreeSet<_>>().len(),
        total,
        "no pod twice: {chunked}"
    );
    assert_eq!(chunked_names, names(&whole), "same pods, same order");
    assert!(
        lists_with(&t, "continue=") >= 3,
        "8 pods in chunks of 2 take 4 requests: {:?}",
        t.request_log()
    );

    // Plain lists (-o name asks for no Table).
    let (code, out, err) = t
        .kubectl(&["get", "pods", "-A", "-o", "name", "--chunk-size=3"])
        .await;
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), total, "{out}");
    assert_eq!(lines.iter().collect::<BTreeSet<_>>().len(), total, "{out}");

    // A label selector pages over what it selects.
    let (code, out, err) = t
        .kubectl(&[
            "get",
            "pods",
            "-n",
            "team-a",
            "-l",
            "helm.neo4j.com/neo4j.name=orders",
            "-o",
            "name",
            "--chunk-size=1",
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 4, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kube_rs_follows_continue_and_a_watch_from_the_list_sees_changes_made_while_paging() {
    let t = TestLab::start(spec()).await;
    t.all_ready().await;
    let client = t.kube_client("lab-a").await;
    let pods: Api<Pod> = Api::all(client.clone());

    let mut params = ListParams::default().limit(3);
    let first = pods.list(&params).await.expect("first page");
    let list_rv = first.metadata.resource_version.clone().unwrap();
    assert_eq!(first.items.len(), 3);
    assert_eq!(first.metadata.remaining_item_count, Some(5));
    let mut seen: Vec<String> = first
        .items
        .iter()
        .map(|p| p.metadata.name.clone().unwrap())
        .collect();

    // Change a pod already served: later pages must not show it again, but a watch from the
    // list's resourceVersion must replay the change.
    let changed = first.items[0].metadata.clone();
    let ns_pods: Api<Pod> = Api::namespaced(client.clone(), changed.namespace.as_deref().unwrap());
    ns_pods
        .patch(
            changed.name.as_deref().unwrap(),
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"metadata": {"annotations": {"paged": "yes"}}})),
        )
        .await
        .expect("patch");

    let mut token = first.metadata.continue_.clone();
    let mut pages = 1;
    while let Some(c) = token.filter(|c| !c.is_empty()) {
        params = params.continue_token(&c);
        let page = pods.list(&params).await.expect("next page");
        pages += 1;
        assert!(page.items.len() <= 3);
        assert_eq!(
            page.metadata.resource_version.as_deref(),
            Some(list_rv.as_str()),
            "every page carries the first page's resourceVersion"
        );
        seen.extend(page.items.iter().map(|p| p.metadata.name.clone().unwrap()));
        token = page.metadata.continue_.clone();
        assert_eq!(
            page.metadata.remaining_item_count.is_some(),
            token.as_deref().is_some_and(|c| !c.is_empty()),
            "remainingItemCount only while more remain"
        );
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 8, "{seen:?}");
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 8, "{seen:?}");

    let mut events = pods
        .watch(&WatchParams::default().timeout(5), &list_rv)
        .await
        .expect("watch")
        .boxed();
    let replayed = loop {
        match events.next().await {
            Some(Ok(WatchEvent::Modified(p))) if p.metadata.name == changed.name => break p,
            Some(Ok(_)) => {}
            other => panic!("the watch from the list's resourceVersion ended: {other:?}"),
        }
    };
    assert_eq!(
        replayed.metadata.annotations.unwrap_or_default()["paged"],
        "yes"
    );

    // Metadata-only lists page too.
    let meta = pods
        .list_metadata(&ListParams::default().limit(5))
        .await
        .expect("metadata page");
    assert_eq!(meta.items.len(), 5);
    assert_eq!(meta.metadata.remaining_item_count, Some(3));
    let rest = pods
        .list_metadata(
            &ListParams::default()
                .limit(5)
                .continue_token(meta.metadata.continue_.as_deref().unwrap()),
        )
        .await
        .expect("metadata page 2");
    assert_eq!(rest.items.len(), 3);
    assert!(rest.metadata.continue_.is_none_or(|c| c.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_continue_token_is_410_and_a_malformed_one_400() {
    let t = TestLab::start(spec()).await;
    t.all_ready().await;
    let client = t.kube_client("lab-a").await;
    let pods: Api<Pod> = Api::all(client);
    let first = pods
        .list(&ListParams::default().limit(2))
        .await
        .expect("first page");
    let token = first.metadata.continue_.clone().unwrap();

    let (code, _, err) = t.fault(&["expire-watches", "--orchestra", "lab-a"]).await;
    assert_eq!(code, 0, "{err}");
    match pods
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
    {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (410, "Expired"));
            assert_eq!(
                s.message,
                "The provided continue parameter is too old to display a consistent list result. \
                 You can start a new list without the continue parameter."
            );
        }
        other => panic!("expected 410 Expired, got {other:?}"),
    }
    // A new list, and its continuation, work again.
    let again = pods
        .list(&ListParams::default().limit(2))
        .await
        .expect("new list");
    let next = pods
        .list(
            &ListParams::default()
                .limit(2)
                .continue_token(again.metadata.continue_.as_deref().unwrap()),
        )
        .await
        .expect("its next page");
    assert_eq!(next.items.len(), 2);

    match pods
        .list(
            &ListParams::default()
                .limit(2)
                .continue_token("bm90IGEgdG9rZW4"),
        )
        .await
    {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (400, "BadRequest"), "{s:?}")
        }
        other => panic!("expected 400, got {other:?}"),
    }
}

/// A plain list is served from the store's objects without decoding them; it must say exactly
/// what the decoding path says (a field selector that excludes nothing takes that path).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_list_says_what_the_decoded_list_says() {
    let t = TestLab::start(spec()).await;
    t.all_ready().await;
    let client = t.kube_client("lab-a").await;
    let get = |query: &'static str| {
        let client = client.clone();
        async move {
            let req = http::Request::get(format!("/api/v1/pods?{query}"))
                .body(Vec::new())
                .unwrap();
            let text = client.request_text(req).await.unwrap();
            serde_json::from_str::<serde_json::Value>(&text).unwrap()
        }
    };
    let selector = "labelSelector=helm.neo4j.com%2Fneo4j.name";
    let plain = get(selector).await;
    let decoded =
        get("labelSelector=helm.neo4j.com%2Fneo4j.name&fieldSelector=metadata.name%21%3Dnone")
            .await;
    assert_eq!(plain["kind"], "PodList");
    assert!(!plain["items"].as_array().unwrap().is_empty());
    assert_eq!(plain["items"], decoded["items"]);
    assert_eq!(plain["apiVersion"], decoded["apiVersion"]);
    // Paged, and with a selector that matches nothing.
    let first = get("labelSelector=helm.neo4j.com%2Fneo4j.name&limit=2").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    assert!(first["metadata"]["continue"].is_string());
    let none = get("labelSelector=app%3Dnothing").await;
    assert_eq!(none["items"], serde_json::json!([]));
}
