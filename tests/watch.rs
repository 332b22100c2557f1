//! The engine against the lab: one supervisor per orchestra (real kube-rs watchers, real HTTP
//! probes) folded into its `Fleet`. The fleet matches the lab's truth and kubectl; after the
//! leader's pod is deleted the new leader shows within 2 s for the open database; a relist after
//! watch expiry leaves no ghost or duplicate; an orchestra whose API server is down is stale while
//! the others stay live, and is live again within 5 s of coming back.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use baton::config::Config;
use baton::fleet::{Connection, DbKey, Fleet, Health};
use baton::source::{Engine, Focus, Intervals, inventory, targets};
use common::{TestLab, two_orchestras_spec};

fn connection(f: &Fleet, o: &str) -> Connection {
    f.orchestras
        .get(o)
        .map(|o| o.connection.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn supervisors_follow_the_lab() {
    let t = TestLab::start(two_orchestras_spec()).await;
    t.all_ready().await;
    let config = Config::default();
    let targets = targets(Some(&t.kubeconfig()), &[], &config).await.unwrap();
    assert_eq!(targets.len(), 2);
    let orders = DbKey {
        orchestra: "lab-a".into(),
        namespace: "team-a".into(),
        name: "orders".into(),
    };
    let intervals = Intervals {
        background: Duration::from_secs(5),
        ..Default::default()
    };
    let mut engine = Engine::start(targets, &config, intervals);
    engine.set_focus(Focus {
        open: Some(orders.clone()),
        visible: vec![],
    });

    // Matches the truth: pods as kubectl counts them, one leader per database, the lab's leader.
    assert!(
        engine
            .until(Duration::from_secs(20), |f| {
                f.databases.len() == 3
                    && f.databases.values().all(|d| {
                        d.state.health == Health::Healthy
                            && d.state.leader.is_some()
                            && d.state.leader == t.truth_leader(&d.key.id())
                    })
            })
            .await,
        "every database healthy with the lab's leader"
    );
    let (_, pods, _) = t.kubectl(&["get", "pods", "-A", "--no-headers"]).await;
    {
        let f = engine.fleet();
        assert_eq!(f.orchestras["lab-a"].connection, Connection::Live);
        assert_eq!(f.orchestras["lab-b"].connection, Connection::Live);
        let members: usize = f.databases_of("lab-a").map(|d| d.members.len()).sum();
        assert_eq!(members, pods.lines().count(), "pod count equals kubectl's");
    }
    // Zones come from the node list, which may answer after the pods did.
    assert!(
        engine
            .until(Duration::from_secs(5), |f| {
                f.databases[&orders]
                    .members
                    .iter()
                    .all(|m| !m.pod.zone.is_empty())
            })
            .await,
        "zones from nodes"
    );

    // A static inventory of the same members, probed directly by URL, shows the same leader.
    let urls: Vec<String> = engine.fleet().databases[&orders]
        .members
        .iter()
        .map(|m| format!("\"http://{}:7474\"", m.pod.ip))
        .collect();
    let inventory = Config::parse(
        &format!(
            "[inventory.onprem.orders]\nprofile = \"neo4j\"\nmembers = [{}]\n",
            urls.join(", ")
        ),
        std::path::Path::new("inventory.toml"),
    )
    .unwrap();
    let mut onprem = Engine::start(inventory::targets(&inventory), &inventory, intervals);
    let static_key = DbKey {
        orchestra: "onprem".into(),
        namespace: "static".into(),
        name: "orders".into(),
    };
    assert!(
        onprem
            .until(Duration::from_secs(15), |f| {
                f.orchestras.get("onprem").map(|o| &o.connection) == Some(&Connection::Live)
                    && f.databases.get(&static_key).is_some_and(|d| {
                        d.members.len() == 4
                            && d.state.leader.is_some()
                            && d.state.health == Health::Healthy
                    })
            })
            .await,
        "the inventory's leader"
    );
    drop(onprem);

    // The leader's pod is deleted: the new leader is on show within 2 s of the lab electing it.
    let old = t.truth_leader(&orders.id()).unwrap();
    let new = t
        .replace_leader(&orders.id(), "team-a", &old, Duration::from_secs(20))
        .await;
    let elected = Instant::now();
    let shown = engine
        .until(Duration::from_secs(2), |f| {
            f.databases[&orders].state.leader.as_deref() == Some(new.as_str())
        })
        .await;
    assert!(
        shown,
        "new leader {new} not shown within 2 s (shows {:?})",
        engine.fleet().databases[&orders].state.leader
    );
    eprintln!("new leader shown {:?} after election", elected.elapsed());
    let h = &engine.fleet().databases[&orders].history;
    assert_eq!(h.changes.back().and_then(|c| c.to.clone()), Some(new));

    // Watch expiry: the relist leaves no ghost and no duplicate.
    t.lab.orchestra("lab-a").unwrap().store.expire_watches();
    let (_, pods, _) = t.kubectl(&["get", "pods", "-A", "--no-headers"]).await;
    let mut want: Vec<String> = pods
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect();
    want.sort();
    assert!(
        engine
            .until(Duration::from_secs(20), |f| {
                let mut names: Vec<String> = f
                    .databases_of("lab-a")
                    .flat_map(|d| d.members.iter().map(|m| m.pod.name.clone()))
                    .collect();
                let n = names.len();
                names.sort();
                names.dedup();
                n == names.len() && names == want
            })
            .await,
        "pods back after relist"
    );

    // lab-b's API server goes down: stale; lab-a stays live.
    t.lab.orchestra("lab-b").unwrap().set_down(true);
    assert!(
        engine
            .until(Duration::from_secs(5), |f| matches!(
                connection(f, "lab-b"),
                Connection::Stale { .. }
            ))
            .await,
        "lab-b stale"
    );
    assert_eq!(connection(engine.fleet(), "lab-a"), Connection::Live);
    // For 3 s nothing changes that.
    let changed = engine
        .until(Duration::from_secs(3), |f| {
            !matches!(connection(f, "lab-b"), Connection::Stale { .. })
                || connection(f, "lab-a") != Connection::Live
        })
        .await;
    assert!(!changed, "lab-b stays stale, lab-a live");
    assert_eq!(
        engine.fleet().databases_of("lab-b").count(),
        1,
        "what was seen stays on show"
    );
    t.lab.orchestra("lab-b").unwrap().set_down(false);
    let back = Instant::now();
    assert!(
        engine
            .until(Duration::from_secs(5), |f| connection(f, "lab-b")
                == Connection::Live)
            .await,
        "lab-b live again"
    );
    eprintln!("lab-b live {:?} after coming back", back.elapsed());
    t.lab.shutdown().await;
}
