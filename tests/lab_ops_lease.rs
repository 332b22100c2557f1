//! Leases and Events the way an operation uses them: the lock is a Lease taken with create
//! (409 AlreadyExists when held), changed only with the resourceVersion read (409 Conflict on a
//! stale one), released with delete; progress is told as Events (core/v1, and events.k8s.io/v1
//! as kube-rs's Recorder writes them). The observer may do none of it.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{TestLab, small_spec, wait_for};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::events::{Event as RecorderEvent, EventType, Recorder, Reporter};
use serde_json::json;

fn lease(name: &str, holder: &str) -> Lease {
    serde_json::from_value(json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "annotations": {"baton.io/operation": "rolling-restart", "baton.io/state": "running"}},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": 30,
            "acquireTime": "2026-01-01T00:00:00.000000Z",
            "renewTime": "2026-01-01T00:00:00.000000Z",
            "leaseTransitions": 0,
        },
    }))
    .expect("a Lease")
}

fn api_error(r: Result<impl std::fmt::Debug, kube::Error>) -> (u16, String) {
    match r {
        Err(kube::Error::Api(s)) => (s.code, s.reason.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lease_lock_with_optimistic_concurrency_events_and_the_observers_403() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 1, 0)])).await;
    let client = t.kube_client("lab-a").await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), "team-a");
    let pp = PostParams::default();

    // Take the lock; a second taker is refused.
    let taken = leases
        .create(&pp, &lease("baton-op-orders", "alice@bastion"))
        .await
        .expect("take the lock");
    let rv = taken.metadata.resource_version.clone().expect("an RV");
    assert_eq!(
        api_error(
            leases
                .create(&pp, &lease("baton-op-orders", "bob@bastion"))
                .await
        ),
        (409, "AlreadyExists".into())
    );

    // Renew with the resourceVersion read; a writer holding an older one is refused.
    let mut renewed = leases.get("baton-op-orders").await.expect("get");
    assert_eq!(
        renewed
            .spec
            .as_ref()
            .and_then(|s| s.holder_identity.as_deref()),
        Some("alice@bastion")
    );
    if let Some(spec) = renewed.spec.as_mut() {
        spec.renew_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
            "2026-01-01T00:00:05Z".parse().expect("a time"),
        ));
    }
    renewed
        .metadata
        .annotations
        .get_or_insert_default()
        .insert("baton.io/step".into(), "2/3".into());
    let after = leases
        .replace("baton-op-orders", &pp, &renewed)
        .await
        .expect("renew");
    let rv2 = after.metadata.resource_version.clone().expect("an RV");
    assert_ne!(rv2, rv);
    let mut stale = taken.clone();
    stale.spec.get_or_insert_default().holder_identity = Some("bob@bastion".into());
    assert_eq!(
        stale.metadata.resource_version.as_deref(),
        Some(rv.as_str())
    );
    assert_eq!(
        api_error(leases.replace("baton-op-orders", &pp, &stale).await),
        (409, "Conflict".into())
    );
    let now = leases.get("baton-op-orders").await.expect("get");
    assert_eq!(
        now.spec.as_ref().and_then(|s| s.holder_identity.as_deref()),
        Some("alice@bastion"),
        "the stale writer changed nothing"
    );
    assert_eq!(
        now.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("baton.io/step"))
            .map(String::as_str),
        Some("2/3")
    );

    // kubectl sees the lock and its holder.
    let (code, out, err) = t.kubectl(&["get", "leases", "-n", "team-a"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("baton-op-orders") && out.contains("alice@bastion"),
        "{out}"
    );

    // Progress as an Event on the StatefulSet, visible to kubectl.
    let events: Api<Event> = Api::namespaced(client.clone(), "team-a");
    let ev: Event = serde_json::from_value(json!({
        "metadata": {"generateName": "orders-1."},
        "involvedObject": {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "orders-1", "namespace": "team-a"},
        "reason": "BatonOperation",
        "message": "rolling-restart: restarting orders-1-0 (1/3)",
        "type": "Normal",
        "source": {"component": "baton"},
        "reportingComponent": "baton",
        "reportingInstance": "alice@bastion",
        "firstTimestamp": "2026-01-01T00:00:05Z",
        "lastTimestamp": "2026-01-01T00:00:05Z",
        "count": 1,
    }))
    .expect("an Event");
    let created = events.create(&pp, &ev).await.expect("create the Event");
    assert!(
        created
            .metadata
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with("orders-1.") && n.len() > "orders-1.".len())
    );
    let mine = events
        .list(&ListParams::default().fields("involvedObject.name=orders-1,reason=BatonOperation"))
        .await
        .expect("list Events");
    assert_eq!(mine.items.len(), 1);
    wait_for(
        "kubectl shows the Event",
        Duration::from_secs(10),
        || async {
            let (_, out, _) = t
                .kubectl(&[
                    "get",
                    "events",
                    "-n",
                    "team-a",
                    "--field-selector",
                    "reason=BatonOperation",
                ])
                .await;
            out.contains("rolling-restart: restarting orders-1-0 (1/3)")
        },
    )
    .await;

    // kube-rs's event Recorder writes events.k8s.io/v1 Events (a repeat is a patch of the
    // series); they are the same objects as core/v1 Events, which kubectl shows.
    let sts_ref = k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some("apps/v1".into()),
        kind: Some("StatefulSet".into()),
        name: Some("orders-1".into()),
        namespace: Some("team-a".into()),
        ..Default::default()
    };
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "baton".into(),
            instance: Some("alice@bastion".into()),
        },
    );
    let note = RecorderEvent {
        type_: EventType::Normal,
        reason: "OperationStep".into(),
        note: Some("rolling-restart: orders-1-0 restarted (2/3)".into()),
        action: "RollingRestart".into(),
        secondary: None,
    };
    for _ in 0..2 {
        recorder.publish(&note, &sts_ref).await.expect("publish");
    }
    let core = events
        .list(&ListParams::default().fields("reason=OperationStep"))
        .await
        .expect("list core Events");
    assert_eq!(core.items.len(), 1, "a repeat is one event with a series");
    let e = &core.items[0];
    assert_eq!(e.involved_object.name.as_deref(), Some("orders-1"));
    assert_eq!(
        e.message.as_deref(),
        Some("rolling-restart: orders-1-0 restarted (2/3)")
    );
    assert_eq!(e.reporting_component.as_deref(), Some("baton"));
    assert_eq!(e.series.as_ref().and_then(|s| s.count), Some(2));
    let v1: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), "team-a");
    let listed = v1
        .list(&ListParams::default().fields("regarding.name=orders-1,reason=OperationStep"))
        .await
        .expect("list events.k8s.io Events");
    assert_eq!(listed.items.len(), 1);
    assert_eq!(
        listed.items[0].note.as_deref(),
        Some("rolling-restart: orders-1-0 restarted (2/3)")
    );
    assert_eq!(
        listed.items[0].reporting_controller.as_deref(),
        Some("baton")
    );
    let (code, out, err) = t
        .kubectl(&[
            "get",
            "events",
            "-n",
            "team-a",
            "--field-selector",
            "reason=OperationStep",
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("restarted (2/3)")
            && out.contains("statefulset/orders-1")
            && !out.contains("<unknown>"),
        "{out}"
    );

    // The observer may read the lock but change nothing.
    let observer = t.kube_client("lab-a-observer").await;
    let oleases: Api<Lease> = Api::namespaced(observer.clone(), "team-a");
    assert!(oleases.get("baton-op-orders").await.is_ok());
    assert_eq!(
        api_error(oleases.create(&pp, &lease("baton-op-x", "eve")).await).0,
        403
    );
    assert_eq!(
        api_error(oleases.replace("baton-op-orders", &pp, &now).await).0,
        403
    );
    assert_eq!(
        api_error(
            oleases
                .delete("baton-op-orders", &DeleteParams::default())
                .await
        )
        .0,
        403
    );
    let oevents: Api<Event> = Api::namespaced(observer, "team-a");
    assert_eq!(api_error(oevents.create(&pp, &ev).await).0, 403);
    let (code, _, err) = t
        .kubectl(&[
            "--context",
            "lab-a-observer",
            "delete",
            "lease",
            "baton-op-orders",
            "-n",
            "team-a",
        ])
        .await;
    assert_eq!(code, 1);
    assert!(err.contains("Forbidden"), "{err}");

    // Release the lock; it is gone, and can be taken again.
    leases
        .delete("baton-op-orders", &DeleteParams::default())
        .await
        .expect("release");
    assert_eq!(
        api_error(leases.get("baton-op-orders").await),
        (404, "NotFound".into())
    );
    leases
        .create(&pp, &lease("baton-op-orders", "bob@bastion"))
        .await
        .expect("taken again");
    let (code, _, err) = t
        .kubectl(&["delete", "lease", "baton-op-orders", "-n", "team-a"])
        .await;
    assert_eq!(code, 0, "{err}");
    t.lab.shutdown().await;
}
