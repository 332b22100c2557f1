//! The engine against the lab: one supervisor per orchestra (real kube-rs watchers, real HTTP
//! probes) folded into its `Fleet`. Each test starts its own lab of two orchestras and proves one
//! behaviour: the fleet matches the lab's truth and kubectl; zones come from the node list; a
//! static inventory of the same members shows the same leader; after the leader's pod is deleted
//! the new leader shows for the open database, and off screen without a pod event; an orchestra with
//! a shorter background interval is probed more often, and pod events come at once on every
//! orchestra; a relist after watch expiry leaves no ghost or
//! duplicate; an orchestra whose API server is down is stale while the other stays live, and is
//! live again once it comes back.
//!
//! Timeouts here are generous bounds against a hang, not figures: how fast a change shows is
//! `baton bench`'s to measure.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use baton::config::Config;
use baton::fleet::{Connection, DbKey, Fleet, Health};
use baton::source::{Engine, Focus, Intervals, inventory, targets};
use common::{TestLab, small_spec, two_orchestras_spec, wait_for, wait_some};

/// A generous bound for anything the engine should show: far above what it takes, so a slow,
/// shared machine does not fail the test.
const SHOWS: Duration = Duration::from_secs(30);

/// How long a stale orchestra is watched to stay stale (and the other live): a sleep-like
/// observation that something does *not* happen, so it cannot be a wait on a condition.
const STAYS: Duration = Duration::from_secs(3);

fn orders() -> DbKey {
    DbKey {
        orchestra: "lab-a".into(),
        namespace: "team-a".into(),
        name: "orders".into(),
    }
}

/// The config of these tests: background rounds every 5 s (the shortest allowed), so an
/// off-screen change shows within the generous bounds above.
fn config() -> Config {
    Config::parse(
        "[general]\nbackground_interval = 5\n",
        std::path::Path::new("watch.toml"),
    )
    .unwrap()
}

fn connection(f: &Fleet, o: &str) -> Connection {
    f.orchestras
        .get(o)
        .map(|o| o.connection.clone())
        .unwrap_or_default()
}

/// Every database healthy, with one leader and the lab's.
fn matches_truth(t: &TestLab, f: &Fleet) -> bool {
    f.databases.len() == 3
        && f.databases.values().all(|d| {
            d.state.health == Health::Healthy
                && d.state.leader.is_some()
                && d.state.leader == t.truth_leader(&d.key.id())
        })
}

/// A lab of two orchestras, every pod ready, and the engine over its kubeconfig with orders open.
async fn lab_and_engine() -> (TestLab, Engine) {
    let t = TestLab::start(two_orchestras_spec()).await;
    t.all_ready().await;
    let config = config();
    let targets = targets(Some(&t.kubeconfig()), &[], &config).await.unwrap();
    assert_eq!(targets.len(), 2);
    let engine = Engine::start(targets, &config, Intervals::default());
    engine.set_focus(Focus {
        open: Some(orders()),
        visible: vec![],
    });
    (t, engine)
}

/// As `lab_and_engine`, once the fleet matches the lab's truth.
async fn settled() -> (TestLab, Engine) {
    let (t, mut engine) = lab_and_engine().await;
    assert!(
        engine.until(SHOWS, |f| matches_truth(&t, f)).await,
        "every database healthy with the lab's leader"
    );
    (t, engine)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_fleet_matches_the_lab_and_kubectls_pod_count() {
    let (t, mut engine) = lab_and_engine().await;
    // Pods as kubectl counts them, one leader per database, the lab's leader. An orchestra is live
    // once every profile's pod list completed: a profile with no pods there may answer last.
    assert!(
        engine
            .until(SHOWS, |f| {
                matches_truth(&t, f)
                    && connection(f, "lab-a") == Connection::Live
                    && connection(f, "lab-b") == Connection::Live
            })
            .await,
        "every database healthy with the lab's leader, both orchestras live"
    );
    let (_, pods, _) = t.kubectl(&["get", "pods", "-A", "--no-headers"]).await;
    let f = engine.fleet();
    assert_eq!(f.orchestras["lab-a"].connection, Connection::Live);
    assert_eq!(f.orchestras["lab-b"].connection, Connection::Live);
    let members: usize = f.databases_of("lab-a").map(|d| d.members.len()).sum();
    assert_eq!(members, pods.lines().count(), "pod count equals kubectl's");
    t.lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn zones_come_from_the_node_list() {
    let (t, mut engine) = lab_and_engine().await;
    // The node list may answer after the pods did: wait for both.
    assert!(
        engine
            .until(SHOWS, |f| {
                f.databases.get(&orders()).is_some_and(|d| {
                    !d.members.is_empty() && d.members.iter().all(|m| !m.pod.zone.is_empty())
                })
            })
            .await,
        "zones from nodes"
    );
    t.lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_static_inventory_of_the_same_members_shows_the_same_leader() {
    let (t, engine) = settled().await;
    // The same members, probed directly by URL: a static member is named by its host and port.
    let members = engine.fleet().databases[&orders()].members.clone();
    let ip_of = |pod: &str| {
        members
            .iter()
            .find(|m| m.pod.name == pod)
            .map(|m| m.pod.ip.clone())
    };
    let urls: Vec<String> = members
        .iter()
        .map(|m| format!("\"http://{}:7474\"", m.pod.ip))
        .collect();
    drop(engine);
    let inventory = Config::parse(
        &format!(
            "[general]\nbackground_interval = 5\n\n[inventory.onprem.orders]\nprofile = \"neo4j\"\nmembers = [{}]\n",
            urls.join(", ")
        ),
        std::path::Path::new("inventory.toml"),
    )
    .unwrap();
    let mut onprem = Engine::start(
        inventory::targets(&inventory),
        &inventory,
        Intervals::default(),
    );
    let static_key = DbKey {
        orchestra: "onprem".into(),
        namespace: "static".into(),
        name: "orders".into(),
    };
    assert!(
        onprem
            .until(SHOWS, |f| {
                let leader = t
                    .truth_leader(&orders().id())
                    .and_then(|pod| ip_of(&pod))
                    .map(|ip| format!("{ip}:7474"));
                f.orchestras.get("onprem").map(|o| &o.connection) == Some(&Connection::Live)
                    && f.databases.get(&static_key).is_some_and(|d| {
                        d.members.len() == 4
                            && d.state.leader.is_some()
                            && d.state.leader == leader
                            && d.state.health == Health::Healthy
                    })
            })
            .await,
        "the inventory shows the lab's leader: {:?}",
        onprem.fleet().databases.get(&static_key).map(|d| &d.state)
    );
    drop(onprem);
    t.lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deleted_leader_pod_puts_the_new_leader_on_show() {
    let (t, mut engine) = settled().await;
    let orders = orders();
    let old = t.truth_leader(&orders.id()).unwrap();
    let new = t.replace_leader(&orders.id(), "team-a", &old, SHOWS).await;
    let shown = engine
        .until(SHOWS, |f| {
            f.databases[&orders].state.leader.as_deref() == Some(new.as_str())
        })
        .await;
    assert!(
        shown,
        "new leader {new} not shown (shows {:?})",
        engine.fleet().databases[&orders].state.leader
    );
    let h = &engine.fleet().databases[&orders].history;
    assert_eq!(h.changes.back().and_then(|c| c.to.clone()), Some(new));
    t.lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relist_after_watch_expiry_leaves_no_ghost_and_no_duplicate() {
    let (t, mut engine) = settled().await;
    // Lists of every pod lab-a has answered: the engine's pod watcher relists through this.
    let pod_lists = |t: &TestLab| {
        t.request_log()
            .iter()
            .filter(|r| {
                r["orchestra"] == "lab-a" && r["verb"] == "get" && r["path"] == "/api/v1/pods"
            })
            .count()
    };
    let lists = pod_lists(&t);
    assert!(lists >= 1, "the engine listed lab-a's pods");
    t.lab.orchestra("lab-a").unwrap().store.expire_watches();
    wait_for("the engine relists lab-a's pods", SHOWS, || async {
        pod_lists(&t) > lists
    })
    .await;
    let (_, pods, _) = t.kubectl(&["get", "pods", "-A", "--no-headers"]).await;
    let mut want: Vec<String> = pods
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect();
    want.sort();
    assert!(
        engine
            .until(SHOWS, |f| {
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
        "pods back after relist, none twice, none that kubectl does not list"
    );
    t.lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_down_api_server_is_stale_while_the_other_stays_live_and_recovers() {
    let (t, mut engine) = settled().await;
    // lab-b's API server goes down: stale; lab-a stays live.
    t.lab.orchestra("lab-b").unwrap().set_down(true);
    assert!(
        engine
            .until(SHOWS, |f| matches!(
                connection(f, "lab-b"),
                Connection::Stale { .. }
            ))
            .await,
        "lab-b stale"
    );
    assert_eq!(connection(engine.fleet(), "lab-a"), Connection::Live);
    // For a while nothing changes that.
    let changed = engine
        .until(STAYS, |f| {
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
    assert!(
        engine
            .until(SHOWS, |f| connection(f, "lab-b") == Connection::Live)
            .await,
        "lab-b live again"
    );
    t.lab.shutdown().await;
}

/// Off screen, with no pod event: the leader of catalog (Neo4j, whose status tells no term)
/// stalls, another member is elected, and the background rounds — the leader alone while it
/// says nothing changed, then every member — put the lab's new leader on show.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_off_screen_leader_change_without_a_pod_event_shows() {
    let (t, mut engine) = settled().await;
    let catalog = DbKey {
        orchestra: "lab-a".into(),
        namespace: "team-b".into(),
        name: "catalog".into(),
    };
    let group = catalog.id();
    let old = t.truth_leader(&group).expect("a leader");
    let (code, _, err) = t
        .fault(&[
            "stall",
            "--seconds",
            "6",
            "--orchestra",
            "lab-a",
            "-n",
            "team-b",
            "--pod",
            &old,
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    wait_some("the lab elects another leader", SHOWS, || async {
        t.truth_leader(&group).filter(|l| *l != old)
    })
    .await;
    assert!(
        engine
            .until(SHOWS, |f| {
                let shown = f
                    .databases
                    .get(&catalog)
                    .and_then(|d| d.state.leader.clone());
                shown.is_some() && shown != Some(old.clone()) && shown == t.truth_leader(&group)
            })
            .await,
        "the new leader of an off-screen database shows"
    );
    t.lab.shutdown().await;
}

/// Probe requests for the members of `ns/db` in the lab's request log from `from` on (the
/// orchestras of this test reach their members through the API server's pod proxy, so every
/// probe is one logged GET of a member's cluster status).
fn probes_of(t: &TestLab, from: usize, ns: &str, db: &str) -> usize {
    let prefix = format!("/api/v1/namespaces/{ns}/pods/{db}-");
    t.request_log()
        .iter()
        .skip(from)
        .filter(|r| {
            r["path"].as_str().is_some_and(|p| {
                p.starts_with(&prefix) && p.ends_with(":7474/proxy/db/neo4j/cluster/status")
            })
        })
        .count()
}

/// Freshness is per orchestra: with nothing on screen, a database on an orchestra whose
/// `background_interval` is short (5 s here, a prod orchestra's 25 s in spirit) is probed more
/// often than one on an orchestra at the default (60 s); a pod event reaches the model at once
/// on both, long before either's next background round.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_orchestra_with_a_shorter_background_interval_is_probed_more_often() {
    let mut spec = small_spec(&[("team-a", "orders", 3, 0)]);
    let mut b = small_spec(&[("team-c", "billing", 3, 0)])
        .orchestras
        .remove(0);
    b.name = "lab-b".into();
    spec.orchestras.push(b);
    let t = TestLab::start(spec).await;
    t.all_ready().await;
    let config = Config::parse(
        "[orchestras.lab-a]\ntransport = \"proxy\"\nbackground_interval = 5\n\n[orchestras.lab-b]\ntransport = \"proxy\"\n",
        std::path::Path::new("freshness.toml"),
    )
    .unwrap();
    assert_eq!(config.background_interval("lab-b"), Duration::from_secs(60));
    let targets = targets(Some(&t.kubeconfig()), &[], &config).await.unwrap();
    let mut engine = Engine::start(targets, &config, Intervals::default());
    let key = |orchestra: &str, namespace: &str, name: &str| DbKey {
        orchestra: orchestra.into(),
        namespace: namespace.into(),
        name: name.into(),
    };
    let (fast, slow) = (
        key("lab-a", "team-a", "orders"),
        key("lab-b", "team-c", "billing"),
    );
    let healthy = |f: &Fleet, k: &DbKey| {
        f.databases
            .get(k)
            .is_some_and(|d| d.state.health == Health::Healthy && d.state.leader.is_some())
    };
    assert!(
        engine
            .until(SHOWS, |f| healthy(f, &fast) && healthy(f, &slow))
            .await,
        "both databases healthy with a leader"
    );
    // Settled: each database is now on its orchestra's beat. Four rounds of the fast one...
    let from = t.request_log().len();
    wait_for("four background rounds on lab-a", SHOWS * 2, || async {
        probes_of(&t, from, "team-a", "orders") >= 4
    })
    .await;
    // ...in which the default orchestra had at most one (a leader-only round, or a full one of
    // three members).
    let (fast_n, slow_n) = (
        probes_of(&t, from, "team-a", "orders"),
        probes_of(&t, from, "team-c", "billing"),
    );
    assert!(
        slow_n <= 3 && slow_n < fast_n,
        "lab-a (5 s) had {fast_n} probes, lab-b (60 s) {slow_n}"
    );

    // A pod event on each: a follower deleted shows at once, within a bound far below the
    // default orchestra's 60 s beat (no background round brings it).
    for (key, ctx) in [(&fast, "lab-a"), (&slow, "lab-b")] {
        let leader = engine.fleet().databases[key].state.leader.clone().unwrap();
        let follower = format!("{}-1-0", key.name);
        let follower = if leader == follower {
            format!("{}-2-0", key.name)
        } else {
            follower
        };
        let before = engine.fleet().databases[key]
            .members
            .iter()
            .find(|m| m.pod.name == follower)
            .and_then(|m| m.pod.created_ms);
        let (code, _, err) = t
            .kubectl(&[
                "--context",
                ctx,
                "delete",
                "pod",
                "-n",
                &key.namespace,
                &follower,
                "--wait=false",
            ])
            .await;
        assert_eq!(code, 0, "{err}");
        assert!(
            engine
                .until(Duration::from_secs(20), |f| {
                    f.databases[key].members.iter().any(|m| {
                        m.pod.name == follower
                            && (m.pod.terminating || !m.pod.ready || m.pod.created_ms != before)
                    })
                })
                .await,
            "the deletion of {ctx}'s {follower} reached the model at once"
        );
    }
    t.lab.shutdown().await;
}
