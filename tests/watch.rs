//! The dashboard's sources against the lab: one supervisor per orchestra (real kube-rs watchers,
//! real HTTP probes) folded into a `Fleet`. The fleet matches the lab's truth and kubectl; after
//! the leader's pod is deleted the new leader shows within 2 s for the open database; a relist
//! after watch expiry leaves no ghost or duplicate; an orchestra whose API server is down is
//! stale while the others stay live, and is live again within 5 s of coming back.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baton::config::Config;
use baton::fleet::{Connection, DbKey, Fleet};
use baton::source::{Focus, kube::targets, supervisor};
use common::{TestLab, two_orchestras_spec, wait_for};

fn connection(f: &Mutex<Fleet>, o: &str) -> Connection {
    f.lock()
        .unwrap()
        .orchestras
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
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let (_focus_tx, focus_rx) = tokio::sync::watch::channel(Focus {
        open: Some(orders.clone()),
        visible: vec![],
    });
    let intervals = supervisor::Intervals {
        background: Duration::from_secs(5),
        ..Default::default()
    };
    let (tx2, focus_rx2) = (tx.clone(), focus_rx.clone());
    let _handles = supervisor::spawn_all(targets, &config, intervals, tx, focus_rx);
    let fleet = Arc::new(Mutex::new(Fleet::new(100)));
    let f2 = fleet.clone();
    tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            f2.lock().unwrap().apply(ev);
        }
    });

    // Matches the truth: pods as kubectl counts them, one leader per database, the lab's leader.
    wait_for(
        "every database healthy with the lab's leader",
        Duration::from_secs(20),
        || async {
            let f = fleet.lock().unwrap();
            f.databases.len() == 3
                && f.databases.values().all(|d| {
                    d.state.health == baton::fleet::Health::Healthy
                        && d.state.leader.is_some()
                        && d.state.leader == t.truth_leader(&d.key.id())
                })
        },
    )
    .await;
    let (_, pods, _) = t.kubectl(&["get", "pods", "-A", "--no-headers"]).await;
    {
        let f = fleet.lock().unwrap();
        assert_eq!(f.orchestras["lab-a"].connection, Connection::Live);
        assert_eq!(f.orchestras["lab-b"].connection, Connection::Live);
        let members: usize = f.databases_of("lab-a").map(|d| d.members.len()).sum();
        assert_eq!(members, pods.lines().count(), "pod count equals kubectl's");
    }
    // Zones come from the node list, which may answer after the pods did.
    wait_for("zones from nodes", Duration::from_secs(5), || async {
        let f = fleet.lock().unwrap();
        f.databases[&orders]
            .members
            .iter()
            .all(|m| !m.pod.zone.is_empty())
    })
    .await;

    // A static inventory of the same members, probed directly by URL, shows the same leader.
    let urls: Vec<String> = fleet.lock().unwrap().databases[&orders]
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
    let _static = supervisor::spawn_all(vec![], &inventory, intervals, tx2, focus_rx2);
    let static_key = DbKey {
        orchestra: "onprem".into(),
        namespace: "static".into(),
        name: "orders".into(),
    };
    wait_for(
        "the inventory's leader",
        Duration::from_secs(15),
        || async {
            let f = fleet.lock().unwrap();
            f.orchestras.get("onprem").map(|o| &o.connection) == Some(&Connection::Live)
                && f.databases.get(&static_key).is_some_and(|d| {
                    d.members.len() == 4
                        && d.state.leader.is_some()
                        && d.state.health == baton::fleet::Health::Healthy
                })
        },
    )
    .await;

    // The leader's pod is deleted: the new leader is on show within 2 s of the lab electing it.
    let old = t.truth_leader(&orders.id()).unwrap();
    let new = t
        .replace_leader(&orders.id(), "team-a", &old, Duration::from_secs(20))
        .await;
    let elected = Instant::now();
    loop {
        let shown = fleet.lock().unwrap().databases[&orders]
            .state
            .leader
            .clone();
        if shown.as_deref() == Some(new.as_str()) {
            break;
        }
        assert!(
            elected.elapsed() < Duration::from_secs(2),
            "new leader {new} not shown within 2 s (shows {shown:?})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("new leader shown {:?} after election", elected.elapsed());
    {
        let f = fleet.lock().unwrap();
        let h = &f.databases[&orders].history;
        assert_eq!(h.changes.back().and_then(|c| c.to.clone()), Some(new));
    }

    // Watch expiry: the relist leaves no ghost and no duplicate.
    t.lab.orchestra("lab-a").unwrap().store.expire_watches();
    wait_for(
        "pods back after relist",
        Duration::from_secs(20),
        || async {
            let (_, pods, _) = t.kubectl(&["get", "pods", "-A", "--no-headers"]).await;
            let f = fleet.lock().unwrap();
            let mut names: Vec<String> = f
                .databases_of("lab-a")
                .flat_map(|d| d.members.iter().map(|m| m.pod.name.clone()))
                .collect();
            let n = names.len();
            names.dedup();
            let mut want: Vec<String> = pods
                .lines()
                .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
                .collect();
            want.sort();
            names.sort();
            n == names.len() && names == want
        },
    )
    .await;

    // lab-b's API server goes down: stale; lab-a stays live.
    t.lab.orchestra("lab-b").unwrap().set_down(true);
    wait_for("lab-b stale", Duration::from_secs(5), || async {
        matches!(connection(&fleet, "lab-b"), Connection::Stale { .. })
    })
    .await;
    assert_eq!(connection(&fleet, "lab-a"), Connection::Live);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(matches!(
        connection(&fleet, "lab-b"),
        Connection::Stale { .. }
    ));
    assert_eq!(connection(&fleet, "lab-a"), Connection::Live);
    {
        let f = fleet.lock().unwrap();
        assert_eq!(
            f.databases_of("lab-b").count(),
            1,
            "what was seen stays on show"
        );
    }
    t.lab.orchestra("lab-b").unwrap().set_down(false);
    let back = Instant::now();
    wait_for("lab-b live again", Duration::from_secs(5), || async {
        connection(&fleet, "lab-b") == Connection::Live
    })
    .await;
    eprintln!("lab-b live {:?} after coming back", back.elapsed());
    t.lab.shutdown().await;
}
