//! The lab's databases really run Raft: one leader per healthy database, a new leader with a
//! higher term after the leader's pod is deleted, a partitioned follower lags and catches up, a
//! restarted member keeps its log, a replaced member catches up from nothing — all read the way
//! baton reads it: status endpoints through the pod proxy and on pod IPs.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use base64::Engine;
use common::{TestLab, small_spec, wait_for, wait_some};
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, DeleteParams};
use serde_json::Value;

async fn proxy_status(t: &TestLab, ns: &str, pod: &str) -> Option<Value> {
    let (code, out, _) = t
        .kubectl(&[
            "get",
            "--raw",
            &format!("/api/v1/namespaces/{ns}/pods/{pod}:7474/proxy/db/neo4j/cluster/status"),
        ])
        .await;
    (code == 0)
        .then(|| serde_json::from_str(&out).ok())
        .flatten()
}

async fn statuses(t: &TestLab, ns: &str, pods: &[&str]) -> Vec<Option<Value>> {
    let mut out = Vec::new();
    for p in pods {
        out.push(proxy_status(t, ns, p).await);
    }
    out
}

/// The single leader's pod when every given member answers and agrees on it.
fn agreed_leader(pods: &[&str], st: &[Option<Value>]) -> Option<(String, String)> {
    let st: Vec<&Value> = st.iter().map(|s| s.as_ref()).collect::<Option<_>>()?;
    let leader = st[0]["leader"].as_str()?;
    if st.iter().any(|s| s["leader"].as_str() != Some(leader)) {
        return None;
    }
    let leaders: Vec<usize> = (0..st.len())
        .filter(|i| st[*i]["memberId"] == leader)
        .collect();
    (leaders.len() == 1).then(|| (pods[leaders[0]].to_string(), leader.to_string()))
}

/// Waits until the members agree on one leader (optionally not `not`), within `timeout`.
async fn leader_within(
    t: &TestLab,
    pods: &[&str],
    not: Option<&str>,
    timeout: Duration,
) -> (String, String) {
    wait_some(
        &format!("an agreed leader among {pods:?}"),
        timeout,
        || async {
            agreed_leader(pods, &statuses(t, "team-a", pods).await)
                .filter(|l| Some(l.0.as_str()) != not)
        },
    )
    .await
}

fn applied(v: &Option<Value>) -> u64 {
    v.as_ref()
        .and_then(|v| v["lastAppliedRaftIndex"].as_u64())
        .unwrap_or(0)
}

const PODS: [&str; 4] = ["orders-1-0", "orders-2-0", "orders-3-0", "orders-rr-1-0"];

/// How long a partitioned follower is watched to apply nothing while the others go on. A sleep,
/// not a wait: it observes that something does *not* happen over an interval (and the lab writes
/// often enough that the others apply well over 5 entries in it).
const PARTITIONED_FOR: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_leader_then_a_new_leader_with_a_higher_term_after_the_leader_pod_is_deleted() {
    let t = TestLab::start(small_spec(&[
        ("team-a", "orders", 3, 1),
        ("team-a", "big", 5, 0),
    ]))
    .await;
    t.all_ready().await;
    let (leader_pod, _) = leader_within(&t, &PODS, None, Duration::from_secs(10)).await;
    assert_ne!(leader_pod, "orders-rr-1-0", "a secondary never leads");
    let big: Vec<String> = (1..=5).map(|i| format!("big-{i}-0")).collect();
    let big: Vec<&str> = big.iter().map(String::as_str).collect();
    wait_for(
        "one leader in the 5-member database",
        Duration::from_secs(10),
        || async { agreed_leader(&big, &statuses(&t, "team-a", &big).await).is_some() },
    )
    .await;
    let report_term = |t: &TestLab| {
        let r = t.lab.consensus.report();
        r.as_array()
            .unwrap()
            .iter()
            .find(|d| d["database"] == "lab-a/team-a/orders")
            .map(|d| d["term"].as_u64().unwrap_or(0))
            .unwrap_or(0)
    };
    let term_before = report_term(&t);
    assert!(term_before >= 1);

    let client = t.kube_client("lab-a").await;
    let pods: Api<Pod> = Api::namespaced(client, "team-a");
    pods.delete(&leader_pod, &DeleteParams::default())
        .await
        .expect("delete the leader's pod");
    // How fast is `baton bench`'s figure; here a generous bound against a hang.
    let others: Vec<&str> = PODS.iter().copied().filter(|p| *p != leader_pod).collect();
    leader_within(&t, &others, Some(&leader_pod), Duration::from_secs(30)).await;
    assert!(
        report_term(&t) > term_before,
        "the new leader has a higher term"
    );
    // The deleted pod comes back (StatefulSet) and rejoins as a follower.
    wait_for(
        "old leader back and following",
        Duration::from_secs(15),
        || async {
            agreed_leader(&PODS, &statuses(&t, "team-a", &PODS).await)
                .is_some_and(|(p, _)| p != leader_pod)
        },
    )
    .await;
    t.lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn partitioned_follower_lags_and_catches_up_restarted_member_keeps_its_log() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 1)])).await;
    t.all_ready().await;
    let (leader_pod, _) = leader_within(&t, &PODS, None, Duration::from_secs(10)).await;
    let follower = *PODS
        .iter()
        .find(|p| **p != leader_pod && **p != "orders-rr-1-0")
        .unwrap();
    let key = format!("lab-a/team-a/{follower}");

    t.lab.consensus.set_partitioned(&key, true).unwrap();
    let before = applied(&proxy_status(&t, "team-a", follower).await);
    tokio::time::sleep(PARTITIONED_FOR).await;
    let lagging = applied(&proxy_status(&t, "team-a", follower).await);
    let leading = applied(&proxy_status(&t, "team-a", &leader_pod).await);
    assert!(
        lagging <= before + 1,
        "a partitioned follower does not apply: {before} → {lagging}"
    );
    assert!(
        leading >= lagging + 5,
        "the others go on: leader {leading}, follower {lagging}"
    );
    t.lab.consensus.set_partitioned(&key, false).unwrap();
    wait_for(
        "the follower catches up",
        Duration::from_secs(10),
        || async {
            let f = applied(&proxy_status(&t, "team-a", follower).await);
            let l = applied(&proxy_status(&t, "team-a", &leader_pod).await);
            f + 3 >= l && f > leading
        },
    )
    .await;

    // A killed member restarts with its volume: its log is still there.
    let before = t.lab.consensus.status(&key).unwrap().applied_index;
    assert!(before > 10);
    t.lab
        .orchestra("lab-a")
        .unwrap()
        .kubelet
        .pod("team-a", follower)
        .unwrap()
        .kill();
    wait_for("member restarted", Duration::from_secs(10), || async {
        t.lab
            .consensus
            .status(&key)
            .is_some_and(|s| s.live && s.term > 0)
    })
    .await;
    let after = t.lab.consensus.status(&key).unwrap().applied_index;
    assert!(
        after >= before,
        "restarted member lost its log: {before} → {after}"
    );

    // Steady state lost no quorum and no write.
    let r = t.lab.consensus.report();
    let db = &r.as_array().unwrap()[0];
    assert_eq!(db["quorum"], true);
    assert_eq!(
        db["quorum_lost_events"], 0,
        "a follower's partition and restart never cost quorum: {db}"
    );
    assert_eq!(db["writes_failed"], 0, "{db}");
    assert!(db["writes_ok"].as_u64().unwrap() > 10, "{db}");
    t.lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replaced_member_catches_up_and_pod_ips_serve_neo4j_and_etcd() {
    let mut spec = small_spec(&[("team-a", "orders", 3, 0)]);
    spec.orchestras[0]
        .databases
        .push(baton_lab::profile::DatabaseSpec {
            name: "config".into(),
            namespace: "infra".into(),
            kind: baton_lab::profile::DbKind::Etcd,
            primaries: 3,
            secondaries: 0,
            version: Some("3.5.17".into()),
        });
    let t = TestLab::start(spec).await;
    t.all_ready().await;
    let pods3 = &PODS[..3];
    wait_for("a leader", Duration::from_secs(10), || async {
        agreed_leader(pods3, &statuses(&t, "team-a", pods3).await).is_some()
    })
    .await;

    // replace-member: empty volume, pod deleted; it must catch up from the leader.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("--kubeconfig")
        .arg(t.kubeconfig())
        .args([
            "lab",
            "fault",
            "replace-member",
            "--orchestra",
            "lab-a",
            "-n",
            "team-a",
            "--pod",
            "orders-3-0",
        ])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for(
        "replaced member caught up",
        Duration::from_secs(20),
        || async {
            let st = statuses(&t, "team-a", pods3).await;
            st.iter().all(Option::is_some)
                && applied(&st[2]) + 3 >= applied(&st[0]).max(applied(&st[1]))
                && applied(&st[2]) > 5
        },
    )
    .await;

    // Direct pod IPs: Neo4j with basic auth from the Secret, etcd's maintenance status.
    let client = t.kube_client("lab-a").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "team-a");
    let ip = pods
        .get("orders-1-0")
        .await
        .unwrap()
        .status
        .unwrap()
        .pod_ip
        .unwrap();
    let secret: Api<Secret> = Api::namespaced(client.clone(), "team-a");
    let auth = secret.get("neo4j-auth").await.unwrap().data.unwrap()["NEO4J_AUTH"]
        .0
        .clone();
    let auth = String::from_utf8(auth).unwrap();
    let (user, password) = auth.split_once('/').unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("http://{ip}:7474/db/system/tx/commit");
    let body = serde_json::json!({"statements": [{"statement": "SHOW SERVERS"}]});
    let denied = http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(denied.status(), 401);
    let r: Value = http
        .post(&url)
        .basic_auth(user, Some(password))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["results"][0]["columns"][0], "name", "{r}");
    assert_eq!(r["results"][0]["data"].as_array().unwrap().len(), 3, "{r}");
    let dbms: Value = http
        .get(format!("http://{ip}:7474/dbms/cluster/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dbms[0]["databaseName"], "neo4j");
    assert_eq!(dbms[1]["databaseName"], "system");
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    assert_eq!(
        http.get(format!("http://{ip}:7474/db/neo4j/cluster/writable"))
            .header("Authorization", format!("Basic {b64}"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
            == 200,
        dbms[0]["databaseStatus"]["leader"] == dbms[0]["databaseStatus"]["memberId"]
    );

    let etcd: Api<Pod> = Api::namespaced(client, "infra");
    let mut leaders = std::collections::HashSet::new();
    for i in 0..3 {
        let ip = etcd
            .get(&format!("config-{i}"))
            .await
            .unwrap()
            .status
            .unwrap()
            .pod_ip
            .unwrap();
        let s: Value = http
            .post(format!("http://{ip}:2379/v3/maintenance/status"))
            .body("{}")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            s["raftTerm"].is_string()
                && s["raftAppliedIndex"].is_string()
                && s["header"]["member_id"].is_string(),
            "{s}"
        );
        leaders.insert(s["leader"].as_str().unwrap().to_string());
    }
    assert_eq!(leaders.len(), 1, "every etcd member names the same leader");
    t.lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backup_restore_diagnostics_jobs_and_stop_start_keeps_data() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 0)])).await;
    t.all_ready().await;
    leader_within(&t, &PODS[..3], None, Duration::from_secs(10)).await;
    // The backup below is of orders-2-0: wait until writes land there (its applied index moves).
    let member = "lab-a/team-a/orders-2-0";
    let elected = t.lab.consensus.status(member).unwrap().applied_index;
    wait_for(
        "writes applied on orders-2-0",
        Duration::from_secs(15),
        || async {
            t.lab
                .consensus
                .status(member)
                .is_some_and(|s| s.applied_index > elected)
        },
    )
    .await;
    let job = |name: &str, env: serde_json::Value| {
        serde_json::json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": "team-a", "labels": {"app.kubernetes.io/managed-by": "baton"}},
            "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [{
                "name": "op", "image": "neo4j:5.26.0-enterprise", "env": env}]}}}
        })
    };
    let run = |name: &'static str, env: serde_json::Value| {
        let t = &t;
        let body = job(name, env);
        async move {
            let path = t.dir.path().join(format!("{name}.json"));
            std::fs::write(&path, body.to_string()).unwrap();
            let (code, _, err) = t
                .kubectl(&["create", "--validate=false", "-f", path.to_str().unwrap()])
                .await;
            assert_eq!(code, 0, "{err}");
            wait_for(name, Duration::from_secs(15), || async {
                let (_, out, _) = t
                    .kubectl(&[
                        "get",
                        "job",
                        name,
                        "-n",
                        "team-a",
                        "-o",
                        "jsonpath={.status.conditions[0].type}",
                    ])
                    .await;
                out == "Complete" || out == "Failed"
            })
            .await;
            let (_, status, _) = t
                .kubectl(&[
                    "get",
                    "job",
                    name,
                    "-n",
                    "team-a",
                    "-o",
                    "jsonpath={.status.conditions[0].type}",
                ])
                .await;
            let (_, logs, _) = t
                .kubectl(&["logs", &format!("job/{name}"), "-n", "team-a"])
                .await;
            (status, logs)
        }
    };
    let env = |pairs: &[(&str, &str)]| {
        serde_json::Value::Array(
            pairs
                .iter()
                .map(|(k, v)| serde_json::json!({"name": k, "value": v}))
                .collect(),
        )
    };
    let (status, logs) = run(
        "backup-1",
        env(&[
            ("LAB_JOB", "backup"),
            ("LAB_DATABASE", "orders"),
            ("LAB_MEMBER", "orders-2-0"),
            ("LAB_TARGET", "s3://lab-backups/orders/one.backup"),
        ]),
    )
    .await;
    assert_eq!(status, "Complete", "{logs}");
    assert!(
        logs.contains("Backup complete: s3://lab-backups/orders/one.backup"),
        "{logs}"
    );
    let artifact: Value = serde_json::from_str(
        &std::fs::read_to_string(t.lab.object_store.join("lab-backups/orders/one.backup")).unwrap(),
    )
    .unwrap();
    assert_eq!(artifact["database"], "orders");
    assert!(artifact["applied_index"].as_u64().unwrap() > 0);

    let (status, logs) = run(
        "restore-1",
        env(&[
            ("LAB_JOB", "restore"),
            ("LAB_DATABASE", "orders"),
            ("LAB_SOURCE", "s3://lab-backups/orders/one.backup"),
        ]),
    )
    .await;
    // As neo4j-admin: a restore needs the database stopped (tests/lab_restore.rs restores one).
    assert_eq!(status, "Failed", "{logs}");
    assert!(logs.contains("running; stop every member"), "{logs}");
    let (status, logs) = run(
        "restore-2",
        env(&[
            ("LAB_JOB", "restore"),
            ("LAB_DATABASE", "orders"),
            ("LAB_SOURCE", "s3://lab-backups/orders/none.backup"),
        ]),
    )
    .await;
    assert_eq!(status, "Failed");
    assert!(
        logs.contains("ERROR cannot read s3://lab-backups/orders/none.backup"),
        "{logs}"
    );

    let (status, logs) = run(
        "diag-1",
        env(&[
            ("LAB_JOB", "diagnostics"),
            ("LAB_MEMBER", "orders-1-0"),
            ("LAB_TARGET", "s3://lab-diagnostics/orders/1/"),
        ]),
    )
    .await;
    assert_eq!(status, "Complete", "{logs}");
    assert!(
        logs.contains("Diagnostics written to s3://lab-diagnostics/orders/1/"),
        "{logs}"
    );
    for f in ["neo4j.log", "threads.txt", "heap.hprof"] {
        assert!(
            t.lab
                .object_store
                .join("lab-diagnostics/orders/1")
                .join(f)
                .is_file(),
            "{f}"
        );
    }

    // Stop (scale every server to 0) and start again: the data is still there.
    let key = "lab-a/team-a/orders-1-0";
    let before = t.lab.consensus.status(key).unwrap().applied_index;
    for i in 1..=3 {
        let (code, _, err) = t
            .kubectl(&[
                "scale",
                &format!("sts/orders-{i}"),
                "-n",
                "team-a",
                "--replicas=0",
            ])
            .await;
        assert_eq!(code, 0, "{err}");
    }
    wait_for("stopped", Duration::from_secs(15), || async {
        let (_, out, _) = t
            .kubectl(&[
                "get",
                "pods",
                "-n",
                "team-a",
                "-l",
                "helm.neo4j.com/neo4j.name=orders",
                "-o",
                "name",
            ])
            .await;
        out.trim().is_empty()
    })
    .await;
    wait_for("members down", Duration::from_secs(15), || async {
        !t.lab.consensus.status(key).unwrap().live
    })
    .await;
    for i in 1..=3 {
        t.kubectl(&[
            "scale",
            &format!("sts/orders-{i}"),
            "-n",
            "team-a",
            "--replicas=1",
        ])
        .await;
    }
    wait_for("started", Duration::from_secs(15), || async {
        t.lab.consensus.status(key).is_some_and(|s| s.live)
    })
    .await;
    let after = t.lab.consensus.status(key).unwrap().applied_index;
    assert!(after >= before, "stop/start lost data: {before} → {after}");
    leader_within(&t, &PODS[..3], None, Duration::from_secs(15)).await;
    t.lab.shutdown().await;
}
