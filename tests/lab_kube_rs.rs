//! The lab against kube-rs: a reflector that survives a forced watch expiry without ghosts or
//! duplicates, bookmarks during an idle watch, access reviews, and the observer's 403.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{TestLab, small_spec, wait_for};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::{WatchStreamExt, reflector, watcher};

fn names_uids(pods: &[std::sync::Arc<Pod>]) -> BTreeMap<String, String> {
    pods.iter()
        .map(|p| {
            (
                p.metadata.name.clone().unwrap_or_default(),
                p.metadata.uid.clone().unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reflector_survives_forced_watch_expiry_without_ghosts() {
    let t = TestLab::start(small_spec(&[
        ("team-a", "orders", 3, 1),
        ("team-a", "catalog", 3, 0),
    ]))
    .await;
    t.all_ready().await;
    let client = t.kube_client("lab-a").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "team-a");
    let (reader, writer) = reflector::store::<Pod>();
    let stream = reflector(writer, watcher(pods.clone(), watcher::Config::default()))
        .applied_objects()
        .for_each(|_| async {});
    let task = tokio::spawn(stream);
    reader.wait_until_ready().await.expect("reflector ready");
    assert_eq!(reader.state().len(), 7);

    // Expire every watch, and while the watcher relists, delete a pod (it is recreated) and scale
    // a StatefulSet to zero (its pod goes for good).
    let orchestra = t.lab.orchestra("lab-a").unwrap().clone();
    orchestra.store.expire_watches();
    pods.delete("orders-1-0", &DeleteParams::default())
        .await
        .expect("delete");
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), "team-a");
    sts.patch(
        "catalog-3",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"spec": {"replicas": 0}})),
    )
    .await
    .expect("scale to 0");
    orchestra.store.expire_watches();

    let truth = || async {
        let list = pods.list(&ListParams::default()).await.expect("list");
        list.items
            .iter()
            .map(|p| {
                (
                    p.metadata.name.clone().unwrap_or_default(),
                    p.metadata.uid.clone().unwrap_or_default(),
                )
            })
            .collect::<BTreeMap<_, _>>()
    };
    wait_for(
        "catalog-3-0 gone and orders-1-0 recreated",
        Duration::from_secs(20),
        || async {
            let now = truth().await;
            now.len() == 6 && now.contains_key("orders-1-0") && !now.contains_key("catalog-3-0")
        },
    )
    .await;
    let expected = truth().await;
    wait_for(
        "reflector equals the server",
        Duration::from_secs(20),
        || async { names_uids(&reader.state()) == expected },
    )
    .await;
    // No ghost and no duplicate: the reflector's view is exactly the server's.
    assert_eq!(reader.state().len(), expected.len());
    let relists = t
        .request_log()
        .iter()
        .filter(|r| r["path"] == "/api/v1/namespaces/team-a/pods" && r["verb"] == "get")
        .count();
    assert!(
        relists >= 2,
        "the watcher should have relisted after 410, saw {relists} lists"
    );
    task.abort();
    t.lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_watch_gets_bookmarks_and_stays_open() {
    let t = TestLab::start_with(
        small_spec(&[("team-a", "orders", 1, 0)]),
        Some(Duration::from_millis(200)),
    )
    .await;
    t.all_ready().await;
    let client = t.kube_client("lab-a").await;
    let pods: Api<Pod> = Api::namespaced(client, "team-a");
    let rv = pods
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("list rv");
    let mut stream = pods
        .watch(&WatchParams::default().timeout(3), &rv)
        .await
        .expect("watch")
        .boxed();
    let mut bookmarks = 0;
    let mut others = 0;
    let started = std::time::Instant::now();
    while let Some(ev) = stream.next().await {
        match ev.expect("event") {
            WatchEvent::Bookmark(b) => {
                bookmarks += 1;
                assert!(
                    b.metadata.resource_version.parse::<u64>().unwrap()
                        >= rv.parse::<u64>().unwrap()
                );
            }
            WatchEvent::Error(e) => panic!("unexpected error event {e:?}"),
            _ => others += 1,
        }
    }
    let took = started.elapsed();
    assert!(bookmarks >= 5, "only {bookmarks} bookmarks in {took:?}");
    assert_eq!(others, 0, "nothing changed, so nothing but bookmarks");
    assert!(
        took >= Duration::from_millis(2500),
        "the watch ended early after {took:?} (timeoutSeconds=3)"
    );
    t.lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn too_old_resource_version_is_an_error_event_and_observer_gets_403() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 1, 0)])).await;
    t.all_ready().await;
    let client = t.kube_client("lab-a").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "team-a");
    t.lab.orchestra("lab-a").unwrap().store.expire_watches();
    let mut stream = pods
        .watch(&WatchParams::default(), "1")
        .await
        .expect("watch answers 200")
        .boxed();
    match stream.next().await {
        Some(Ok(WatchEvent::Error(e))) => {
            assert_eq!(e.code, 410);
            assert_eq!(e.reason, "Expired");
        }
        other => panic!("expected an ERROR event, got {other:?}"),
    }
    assert!(
        stream.next().await.is_none(),
        "the stream closes after the ERROR event"
    );

    let observer = t.kube_client("lab-a-observer").await;
    let opods: Api<Pod> = Api::namespaced(observer.clone(), "team-a");
    assert_eq!(
        opods
            .list(&ListParams::default())
            .await
            .expect("observer may list")
            .items
            .len(),
        1
    );
    match opods.delete("orders-1-0", &DeleteParams::default()).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 403);
            assert_eq!(s.reason, "Forbidden");
        }
        other => panic!("expected 403, got {other:?}"),
    }
    // Access reviews tell each identity what it may do.
    let review = |verb: &str| SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.into()),
                resource: Some("pods".into()),
                namespace: Some("team-a".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let as_observer: Api<SelfSubjectAccessReview> = Api::all(observer);
    let as_operator: Api<SelfSubjectAccessReview> = Api::all(client);
    let allowed = |r: SelfSubjectAccessReview| r.status.map(|s| s.allowed).unwrap_or(false);
    assert!(!allowed(
        as_observer
            .create(&PostParams::default(), &review("delete"))
            .await
            .unwrap()
    ));
    assert!(allowed(
        as_observer
            .create(&PostParams::default(), &review("list"))
            .await
            .unwrap()
    ));
    assert!(allowed(
        as_operator
            .create(&PostParams::default(), &review("delete"))
            .await
            .unwrap()
    ));
    assert_eq!(t.lab.ready_pods(), (1, 1));
    t.lab.shutdown().await;
}
