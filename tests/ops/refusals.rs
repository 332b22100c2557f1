//! Refusals name the rule and send no mutating request.
use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_the_rule_and_send_no_mutating_request() {
    let t = TestLab::start(small_spec(&[
        ("team-a", "orders", 3, 1),
        ("team-b", "catalog", 3, 0),
    ]))
    .await;
    t.settled(ORCH, "team-a", "orders").await;
    t.settled(ORCH, "team-b", "catalog").await;
    // Wrong expected leader.
    let (code, _, err) = run(
        &t,
        "",
        &op(
            "rolling-restart",
            "orders",
            &["--yes", "--expect-leader", "orders-rr-1-0"],
        ),
    )
    .await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("expected-leader"), "{err}");

    // Read-only, by flag and by config.
    let mut args = vec!["--read-only"];
    args.extend(op(
        "restart-member",
        "orders",
        &["--member", "orders-1-0", "--yes"],
    ));
    let (code, _, err) = run(&t, "", &args).await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("read-only"), "{err}");
    let (code, _, err) = run(
        &t,
        "[general]\nread_only = true\n",
        &op("stop", "orders", &["--yes"]),
    )
    .await;
    assert_eq!(code, 3, "{err}");

    // A backup Job runs on the database.
    let jobs: Api<k8s_openapi::api::batch::v1::Job> =
        Api::namespaced(t.kube_client(ORCH).await, "team-a");
    let job: k8s_openapi::api::batch::v1::Job = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "someone-elses-backup", "labels": {"app.kubernetes.io/managed-by": "baton", "baton.io/database": "orders", "baton.io/operation": "backup"}},
        "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "b", "image": "busybox", "env": [{"name": "LAB_SCRIPT", "value": "log backing up; sleep 60000"}]}]}}}
    }))
    .expect("job");
    jobs.create(&Default::default(), &job)
        .await
        .expect("create job");
    let (code, _, err) = run(&t, "", &op("rolling-restart", "orders", &["--yes"])).await;
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("no-other-operation") && err.contains("someone-elses-backup"),
        "{err}"
    );
    jobs.delete("someone-elses-backup", &Default::default())
        .await
        .expect("delete job");

    // A partitioned follower: a restart would not mend it, and the majority would not survive
    // restarting another.
    let (_, victim) = t.partition_a_catalog_follower().await;
    let before_partition = t.mutating_requests().len();
    let (code, _, err) = run(&t, "", &op("rolling-restart", "catalog", &["--yes"])).await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("majority") && err.contains(victim), "{err}");
    assert_eq!(
        t.mutating_requests().len(),
        before_partition,
        "a refusal sends nothing"
    );

    // A held lock: an operation in flight (fresh Lease) refuses a second one, naming it.
    let (code, _, _) = run(
        &t,
        "",
        &op(
            "restart-member",
            "orders",
            &["--member", "orders-rr-1-0", "--yes"],
        ),
    )
    .await;
    assert_eq!(code, 0);
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(t.kube_client(ORCH).await, "team-a");
    let mut lease = leases
        .get("baton-op-orders")
        .await
        .expect("the lease stays, done");
    let ann = lease
        .metadata
        .annotations
        .get_or_insert_with(Default::default);
    let rec = ann.get("baton.io/operation").cloned().expect("record");
    ann.insert(
        "baton.io/operation".into(),
        rec.replace("\"state\":\"done\"", "\"state\":\"running\""),
    );
    if let Some(spec) = lease.spec.as_mut() {
        spec.holder_identity = Some("alice@bastion pid 42".into());
        spec.renew_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
            serde_json::from_value(serde_json::json!(chrono::Utc::now().to_rfc3339()))
                .expect("time"),
        ));
    }
    leases
        .replace("baton-op-orders", &Default::default(), &lease)
        .await
        .expect("replace");
    let before = t.mutating_requests().len();
    let (code, _, err) = run(&t, "", &op("rolling-restart", "orders", &["--yes"])).await;
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("lock") && err.contains("alice@bastion"),
        "{err}"
    );
    assert_eq!(
        t.mutating_requests().len(),
        before,
        "a refusal sends nothing"
    );
}
