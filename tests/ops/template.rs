//! Upgrade and resize: one member at a time, quorum kept.
use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_and_resize_roll_one_member_at_a_time_and_keep_quorum() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 0)])).await;
    t.settled(ORCH, "team-a", "orders").await;
    let images = || async {
        let pods: Api<Pod> = Api::namespaced(t.kube_client(ORCH).await, "team-a");
        pods.list(&ListParams::default().labels("helm.neo4j.com/neo4j.name=orders"))
            .await
            .expect("list")
            .items
            .into_iter()
            .map(|p| {
                let c = p.spec.map(|s| s.containers[0].clone()).expect("spec");
                let mem = c
                    .resources
                    .and_then(|r| r.limits)
                    .and_then(|l| l.get("memory").map(|q| q.0.clone()));
                (c.image.unwrap_or_default(), mem.unwrap_or_default())
            })
            .collect::<Vec<_>>()
    };
    let leader = t.truth_leader("lab-a/team-a/orders").expect("leader");
    let (code, out, err) = run(
        &t,
        "",
        &op(
            "upgrade",
            "orders",
            &["--set", "version=5.27.0", "--yes", "--output", "json"],
        ),
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let patched: Vec<String> = events(&out)
        .iter()
        .filter(|e| e["event"] == "step")
        .filter_map(|e| e["action"].as_str().map(str::to_string))
        .collect();
    assert_eq!(patched.len(), 3, "{patched:?}");
    let leader_sts = leader.trim_end_matches("-0");
    assert!(
        patched[2].contains(&format!("statefulset {leader_sts} ")),
        "the leader last: {patched:?}"
    );
    assert!(
        images()
            .await
            .iter()
            .all(|(i, _)| i == "neo4j:5.27.0-enterprise"),
        "{:?}",
        images().await
    );
    let report = t.lab.consensus.report();
    assert_eq!(
        group(&report, "lab-a/team-a/orders")["quorum_lost_events"],
        0
    );

    t.settled(ORCH, "team-a", "orders").await;
    let (code, out, err) = run(
        &t,
        "",
        &op("resize", "orders", &["--set", "memory=8Gi", "--yes"]),
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        images().await.iter().all(|(_, m)| m == "8Gi"),
        "{:?}",
        images().await
    );
    // Bad values are usage errors, before anything is sent.
    let before = t.mutating_requests().len();
    let (code, _, err) = run(
        &t,
        "",
        &op("resize", "orders", &["--set", "memory=8GB", "--yes"]),
    )
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("8GB"), "{err}");
    let (code, _, err) = run(&t, "", &op("upgrade", "orders", &["--yes"])).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("version"), "{err}");
    assert_eq!(t.mutating_requests().len(), before);
}
