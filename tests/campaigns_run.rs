//! Campaigns that run, against the lab, through the real binary: an upgrade over every Neo4j
//! database of two orchestras, canary first and soaked, never two operations at once on one
//! orchestra (from the operation Leases and the audit), every database at the new version and
//! no quorum lost (lab truth), followed from a second baton while it runs; harm (a crash loop
//! injected into a database of the second wave as its operation runs) halts the campaign
//! fleet-wide, nothing starts after it; a coordinator killed with `kill -9` mid-wave while a
//! runner Job runs in the orchestra, then two `campaign resume` racing: exactly one
//! coordinates, and every database's operation ran exactly once.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::Duration;

use baton_lab::profile::{DatabaseSpec, DbKind, LabSpec, OrchestraSpec};
use common::{TestLab, wait_for, wait_some, webhook_receiver};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn neo4j(ns: &str, name: &str, version: &str) -> DatabaseSpec {
    DatabaseSpec {
        name: name.into(),
        namespace: ns.into(),
        kind: DbKind::Neo4j,
        primaries: 3,
        secondaries: 0,
        version: Some(version.into()),
    }
}

/// lab-a: orders, ledger (team-a) and catalog (team-b); lab-b: billing and stock (team-c).
fn spec(version: &str) -> LabSpec {
    let mut s = LabSpec::demo();
    s.orchestras = vec![
        OrchestraSpec {
            name: "lab-a".into(),
            databases: vec![
                neo4j("team-a", "orders", version),
                neo4j("team-a", "ledger", version),
                neo4j("team-b", "catalog", version),
            ],
        },
        OrchestraSpec {
            name: "lab-b".into(),
            databases: vec![
                neo4j("team-c", "billing", version),
                neo4j("team-c", "stock", version),
            ],
        },
    ];
    s
}

const DBS: [(&str, &str, &str); 5] = [
    ("lab-a", "team-a", "orders"),
    ("lab-a", "team-a", "ledger"),
    ("lab-a", "team-b", "catalog"),
    ("lab-b", "team-c", "billing"),
    ("lab-b", "team-c", "stock"),
];

/// The kill -9 test times a Lease going stale and the dashboard test drives a terminal: run
/// together with the rest on two cores, they starve each other; they take turns.
static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const ORCHESTRAS: &str = "[orchestras.lab-a]\n\n[orchestras.lab-b]\n";

async fn settled_all(t: &TestLab) {
    for (o, ns, db) in DBS {
        t.settled(o, ns, db).await;
    }
}

/// The operation record and the renewal of each database's operation Lease (Unix ms).
async fn op_leases(t: &TestLab) -> BTreeMap<String, (Value, u64)> {
    let mut out = BTreeMap::new();
    for (o, ns, db) in DBS {
        let leases: Api<Lease> = Api::namespaced(t.kube_client(o).await, ns);
        let Ok(l) = leases.get(&format!("baton-op-{db}")).await else {
            continue;
        };
        let renew = l
            .spec
            .and_then(|s| s.renew_time)
            .map(|t| u64::try_from(t.0.as_millisecond()).unwrap())
            .unwrap();
        let rec = l.metadata.annotations.unwrap()["baton.io/operation"].clone();
        out.insert(
            format!("{o}/{ns}/{db}"),
            (serde_json::from_str(&rec).unwrap(), renew),
        );
    }
    out
}

/// The coordinators' audit entries of campaign `name` with `verb` on a database (not the
/// campaign's own), as (time, database).
fn audited(t: &TestLab, name: &str, verb: &str) -> Vec<(String, String)> {
    std::fs::read_to_string(t.baton_data().join("audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| {
            v["operation"] == format!("campaign {name}").as_str()
                && v["verb"] == verb
                && !v["object"].as_str().unwrap_or("").starts_with("campaign/")
        })
        .map(|v| {
            (
                v["at"].as_str().unwrap_or("").to_string(),
                v["object"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn group(t: &TestLab, id: &str) -> Value {
    t.lab
        .consensus
        .report()
        .as_array()
        .and_then(|a| a.iter().find(|g| g["database"] == id).cloned())
        .unwrap_or(Value::Null)
}

/// `baton campaign status NAME --output json`, once the campaign is recorded.
async fn status_of(t: &TestLab, config: &str, name: &str) -> Option<Value> {
    let (code, out, _) = t
        .run_baton(config, &["campaign", "status", name, "--output", "json"])
        .await;
    let v: Value = serde_json::from_str(&out).ok()?;
    (code == 0).then(|| v["campaigns"][0].clone())
}

async fn status(t: &TestLab, config: &str, name: &str) -> Value {
    status_of(t, config, name)
        .await
        .expect("the campaign's status")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_upgrade_campaign_rolls_two_orchestras_canary_first_one_at_a_time_on_each() {
    let t = TestLab::start(spec("5.24.1")).await;
    settled_all(&t).await;
    let coordinator = t
        .baton(
            ORCHESTRAS,
            &[
                "campaign",
                "start",
                "upgrade",
                "--set",
                "version=5.26.0",
                "--select",
                "profile:neo4j",
                "--name",
                "to-5-26",
                "--soak",
                "3s",
                "--waves",
                "2,100%",
                "--max-parallel",
                "4",
                "--max-per-orchestra",
                "1",
                "--yes",
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A second baton sees the campaign and its progress while it runs.
    let seen = wait_some(
        "another baton sees it run",
        Duration::from_secs(60),
        || async {
            let (code, out, _) = t
                .run_baton(
                    ORCHESTRAS,
                    &["campaign", "status", "to-5-26", "--output", "json"],
                )
                .await;
            let v: Value = serde_json::from_str(&out).ok()?;
            let c = v["campaigns"][0].clone();
            (code == 0
                && c["counts"]["done"].as_u64() >= Some(1)
                && c["counts"]["running"].as_u64() >= Some(1))
            .then_some(c)
        },
    )
    .await;
    assert_eq!(seen["control"]["phase"], "running", "{seen:#}");
    assert!(
        seen["coordinator"].as_str().unwrap().contains("renewed"),
        "{seen:#}"
    );
    // And the dashboard, in tmux: `:campaigns` shows it running, with its progress.
    let cmd = format!(
        "BATON_DATA_DIR={data} {bin} --kubeconfig {kc} --config {cfg}; sleep 60",
        data = t.dir.path().join("data-tmux").display(),
        bin = env!("CARGO_BIN_EXE_baton"),
        kc = t.kubeconfig().display(),
        cfg = t.dir.path().join("baton.toml").display(),
    );
    let tm = common::tmux::Tmux::start("campaign-200", 200, 60, &cmd);
    tm.wait("the fleet view", Duration::from_secs(20), |s| {
        s.contains("Orchestras")
    })
    .await;
    tm.keys(&[":", "campaigns", "Enter"]);
    tm.wait("the campaign running", Duration::from_secs(20), |s| {
        s.lines().any(|l| {
            l.contains("to-5-26")
                && l.contains("upgrade")
                && l.contains("running")
                && l.contains("/5")
        })
    })
    .await;
    tm.keys(&["Enter"]);
    tm.wait("its databases", Duration::from_secs(20), |s| {
        s.contains("Campaign to-5-26") && s.contains("lab-b/team-c/billing")
    })
    .await;
    drop(tm);
    let (code, text, _) = t.run_baton(ORCHESTRAS, &["campaign", "status"]).await;
    assert_eq!(code, 0);
    assert!(text.contains("to-5-26  upgrade running"), "{text}");

    let out = tokio::time::timeout(Duration::from_secs(240), coordinator.wait_with_output())
        .await
        .expect("the campaign ends")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("campaign to-5-26 finished: 5 done, 0 skipped, 0 failed"),
        "{stdout}"
    );

    // Every database at the new version, no quorum lost anywhere.
    for (o, ns, db) in DBS {
        let pods: Api<Pod> = Api::namespaced(t.kube_client(o).await, ns);
        let images: Vec<String> = pods
            .list(&ListParams::default().labels(&format!("helm.neo4j.com/neo4j.name={db}")))
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|p| p.spec.and_then(|s| s.containers[0].image.clone()))
            .collect();
        assert!(
            images.len() == 3 && images.iter().all(|i| i == "neo4j:5.26.0-enterprise"),
            "{db}: {images:?}"
        );
        assert_eq!(
            group(&t, &format!("{o}/{ns}/{db}"))["quorum_lost_events"],
            0,
            "{db}"
        );
    }
    // From the Leases: each operation's span (its start to its last renewal, when it ended).
    let leases = op_leases(&t).await;
    assert_eq!(leases.len(), 5, "{leases:#?}");
    let span = |id: &str| {
        let (r, renew) = &leases[id];
        assert_eq!(r["state"], "done", "{id}: {r}");
        assert_eq!(r["operation"], "upgrade");
        (r["started_ms"].as_u64().unwrap(), *renew)
    };
    for o in ["lab-a", "lab-b"] {
        let mut spans: Vec<(u64, u64)> = leases
            .keys()
            .filter(|k| k.starts_with(o))
            .map(|k| span(k))
            .collect();
        spans.sort();
        for w in spans.windows(2) {
            assert!(w[0].1 <= w[1].0, "two operations at once on {o}: {spans:?}");
        }
    }
    // The canary ran and soaked before anything else started.
    let starts = audited(&t, "to-5-26", "start");
    assert_eq!(starts.len(), 5, "each database started once: {starts:#?}");
    let canary = &starts[0].1;
    let (_, canary_end) = span(canary);
    for (_, other) in &starts[1..] {
        let (begin, _) = span(other);
        assert!(
            begin >= canary_end + 3_000,
            "{other} started {begin} before the canary {canary} soaked ({canary_end} + 3 s)"
        );
    }
    let done = status(&t, ORCHESTRAS, "to-5-26").await;
    assert_eq!(done["control"]["phase"], "finished", "{done:#}");
    assert_eq!(done["counts"]["done"], 5);
    t.lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn harm_in_the_second_wave_halts_the_campaign_and_nothing_starts_after() {
    let t = TestLab::start(spec("5.26.0")).await;
    settled_all(&t).await;
    // An operation that cannot settle pauses after this long: the harm the campaign sees.
    let config = format!(
        "{ORCHESTRAS}\n[operations]\nstep_timeout = 6\nwebhook_url_env = \"CAMPAIGN_HOOK\"\n"
    );
    let (url, mut hook) = webhook_receiver().await;
    let mut coordinator = t
        .baton(
            &config,
            &[
                "campaign",
                "start",
                "rolling-restart",
                "--select",
                "orchestra:lab-a",
                "--canary",
                "catalog",
                "--name",
                "restart-a",
                "--soak",
                "1s",
                "--waves",
                "100%",
                "--yes",
            ],
        )
        .env("CAMPAIGN_HOOK", &url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = coordinator.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut log = String::new();
    // The first database of wave 2 runs: once its first member is restarted, that member
    // crash-loops (a restart that broke it).
    let mut second = None;
    let (second, member) = loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the campaign goes on")
            .unwrap()
            .expect("a line");
        log.push_str(&line);
        log.push('\n');
        let words: Vec<&str> = line.split_whitespace().collect();
        if second.is_none()
            && words.get(1) == Some(&"running")
            && words.get(2).is_some_and(|d| !d.ends_with("/catalog"))
        {
            second = words[2].rsplit('/').next().map(str::to_string);
        }
        let Some(db) = &second else { continue };
        if let Some(pos) = words.iter().position(|w| *w == "step")
            && words[0] == format!("lab-a/team-a/{db}:")
            && words.get(pos + 1) == Some(&"1")
            && words.get(pos + 2) == Some(&"restart")
        {
            let member = words[pos + 3].to_string();
            // Wait for it to be back, then break it.
            loop {
                let line = lines.next_line().await.unwrap().expect("a line");
                log.push_str(&line);
                log.push('\n');
                if line.contains(&format!("{db}: step 1 done")) {
                    break;
                }
            }
            break (db.clone(), member);
        }
    };
    let (code, _, err) = t
        .fault(&[
            "crash-loop",
            "--orchestra",
            "lab-a",
            "--namespace",
            "team-a",
            "--pod",
            &member,
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    while let Ok(Some(line)) = lines.next_line().await {
        log.push_str(&line);
        log.push('\n');
    }
    let out = coordinator.wait_with_output().await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a halt is exit 1: {log}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        log.contains(&format!("HALTED on lab-a/team-a/{second}")),
        "{log}"
    );
    // The notices: the start, each wave, the halt naming the database (in that order).
    let mut notices = Vec::new();
    while let Ok(body) = hook.try_recv() {
        if body.contains("campaign restart-a") {
            notices.push(body);
        }
    }
    let order = [
        "campaign restart-a started".to_string(),
        "wave 1/2 (the canary)".to_string(),
        "wave 2/2 (widening)".to_string(),
        format!("campaign restart-a HALTED on lab-a/team-a/{second}"),
    ];
    assert_eq!(notices.len(), order.len(), "{notices:#?}");
    for (n, says) in notices.iter().zip(&order) {
        assert!(n.contains(says.as_str()), "{says:?} in {n}");
    }
    let s = status(&t, &config, "restart-a").await;
    assert_eq!(s["control"]["phase"], "halted", "{s:#}");
    assert_eq!(s["control"]["database"]["name"], second.as_str(), "{s:#}");
    assert_eq!(s["counts"]["done"], 1, "only the canary: {s:#}");
    assert_eq!(s["counts"]["pending"], 1, "the third never started: {s:#}");
    assert!(
        s["coordinator"].as_str().unwrap().starts_with("none"),
        "it stopped: {s:#}"
    );
    // Nothing started after the halt was recorded.
    let halts: Vec<(String, String)> = std::fs::read_to_string(t.baton_data().join("audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["operation"] == "campaign restart-a" && v["verb"] == "halt")
        .map(|v| {
            (
                v["at"].as_str().unwrap_or("").to_string(),
                v["database"].to_string(),
            )
        })
        .collect();
    assert_eq!(halts.len(), 1, "{halts:?}");
    let starts = audited(&t, "restart-a", "start");
    assert_eq!(starts.len(), 2, "{starts:?}");
    assert!(
        starts.iter().all(|(at, _)| *at <= halts[0].0),
        "{starts:?} after {halts:?}"
    );
    let third: BTreeSet<&str> = ["orders", "ledger"]
        .into_iter()
        .filter(|d| *d != second)
        .collect();
    let leases = op_leases(&t).await;
    for d in third {
        assert!(
            !leases.contains_key(&format!("lab-a/team-a/{d}")),
            "{d} never started: {leases:#?}"
        );
    }
    // The status a person reads says why and where.
    let (_, text, _) = t
        .run_baton(&config, &["campaign", "status", "restart-a"])
        .await;
    assert!(
        text.contains("halted by") && text.contains(&format!("on lab-a/team-a/{second}")),
        "{text}"
    );
    t.fault(&[
        "crash-loop",
        "--off",
        "--orchestra",
        "lab-a",
        "--namespace",
        "team-a",
        "--pod",
        &member,
    ])
    .await;
    t.lab.shutdown().await;
}

/// `baton op rbac --namespace NS | kubectl apply -f -` on `context`.
async fn grant_runner(t: &TestLab, context: &str, ns: &str) {
    let (code, rbac, err) = t.run_baton("", &["op", "rbac", "--namespace", ns]).await;
    assert_eq!(code, 0, "{err}");
    let mut apply = t
        .kubectl_cmd(&["--context", context, "apply", "--validate=false", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = apply.stdin.take().unwrap();
    stdin.write_all(rbac.as_bytes()).await.unwrap();
    drop(stdin);
    let out = apply.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The runner Jobs of database `db`.
async fn jobs_of(t: &TestLab, context: &str, ns: &str, db: &str) -> Vec<String> {
    let (_, out, _) = t
        .kubectl(&[
            "--context",
            context,
            "-n",
            ns,
            "get",
            "jobs",
            "-l",
            &format!("baton.io/database={db}"),
            "-o",
            "name",
        ])
        .await;
    out.lines().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_coordinator_killed_mid_wave_is_taken_over_by_exactly_one_resume() {
    let _turn = HEAVY.lock().await;
    let t = TestLab::start_with_runner(spec("5.26.0")).await;
    settled_all(&t).await;
    for (o, ns) in [
        ("lab-a", "team-a"),
        ("lab-a", "team-b"),
        ("lab-b", "team-c"),
    ] {
        grant_runner(&t, o, ns).await;
    }
    let config = format!(
        "{ORCHESTRAS}\n[operations]\nrun = \"in-cluster\"\nrunner_image = \"{}\"\n",
        baton_lab::RUNNER_IMAGE
    );
    let mut first = t
        .baton(
            &config,
            &[
                "campaign",
                "start",
                "rolling-restart",
                "--select",
                "profile:neo4j",
                "--name",
                "restart-all",
                "--soak",
                "1s",
                "--waves",
                "100%",
                "--max-per-orchestra",
                "1",
                "--yes",
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Mid-wave: the canary done, a database of the wave running as a Job in its orchestra.
    let (o, ns, db) = wait_some(
        "a wave-2 database running in-cluster",
        Duration::from_secs(120),
        || async {
            let c = status_of(&t, &config, "restart-all").await?;
            if c["counts"]["done"].as_u64() < Some(1) {
                return None;
            }
            for d in c["databases"].as_array()? {
                if d["state"]["state"] == "running" {
                    let id = d["database"].as_str()?;
                    let (_, db) = id.rsplit_once('/')?;
                    let (o, ns, _) = DBS.into_iter().find(|x| x.2 == db)?;
                    if !jobs_of(&t, o, ns, db).await.is_empty() {
                        return Some((o.to_string(), ns.to_string(), db.to_string()));
                    }
                }
            }
            None
        },
    )
    .await;
    first.start_kill().expect("kill -9");
    let _ = first.wait().await;
    // Nothing new starts while no one coordinates; its Lease goes stale.
    wait_for(
        "the coordinator's Lease goes stale",
        Duration::from_secs(40),
        || async {
            status(&t, &config, "restart-all").await["coordinator"]
                .as_str()
                .is_some_and(|c| c.starts_with("none:"))
        },
    )
    .await;
    // Two bastions resume at once: exactly one coordinates; the other is told who does.
    let a = t
        .baton(&config, &["campaign", "resume", "restart-all", "--yes"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let b = t
        .baton(&config, &["campaign", "resume", "restart-all", "--yes"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (a, b) = tokio::join!(a.wait_with_output(), b.wait_with_output());
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut codes = [a.status.code(), b.status.code()];
    codes.sort();
    let said = format!(
        "{}{}{}{}",
        String::from_utf8_lossy(&a.stdout),
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stdout),
        String::from_utf8_lossy(&b.stderr)
    );
    assert_eq!(
        codes,
        [Some(0), Some(3)],
        "one coordinates, one is refused: {said}"
    );
    assert!(said.contains("coordinated by"), "{said}");
    assert!(
        said.contains("campaign restart-all finished: 5 done, 0 skipped, 0 failed"),
        "{said}"
    );
    // Every database's operation ran exactly once: one runner Job each, and one start, or two
    // when the coordinator was killed between recording a launch and creating its Job (the
    // resume, seeing no Job a minute on, launches it again: "relaunch").
    for (o, ns, d) in DBS {
        assert_eq!(jobs_of(&t, o, ns, d).await.len(), 1, "{d}: {said}");
    }
    let starts = audited(&t, "restart-all", "start");
    let relaunches = audited(&t, "restart-all", "relaunch");
    for (o, ns, d) in DBS {
        let id = format!("{o}/{ns}/{d}");
        let n = |v: &[(String, String)]| v.iter().filter(|(_, x)| *x == id).count();
        assert!(n(&relaunches) <= 1, "{relaunches:#?}");
        assert_eq!(
            n(&starts),
            1 + n(&relaunches),
            "{id}: {starts:#?} {relaunches:#?}"
        );
    }
    let leases = op_leases(&t).await;
    for (id, (r, _)) in &leases {
        assert_eq!(r["state"], "done", "{id}: {r}");
        assert!(
            r["holder"].as_str().unwrap().starts_with("job/"),
            "{id} ran in-cluster: {r}"
        );
    }
    assert_eq!(leases.len(), 5);
    // The one in flight when the coordinator died finished in its orchestra.
    assert!(
        leases.contains_key(&format!("{o}/{ns}/{db}")),
        "{o}/{ns}/{db}"
    );
    for (o, ns, d) in DBS {
        assert_eq!(
            group(&t, &format!("{o}/{ns}/{d}"))["quorum_lost_events"],
            0,
            "{d}"
        );
    }
    t.lab.shutdown().await;
}

/// The campaign's state word of each database, from `campaign status NAME --output json`.
fn states(c: &Value) -> BTreeMap<String, String> {
    c["databases"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            (
                d["database"].as_str().unwrap_or("").to_string(),
                d["state"]["state"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dashboard_launches_a_campaign_over_its_filter_pauses_and_resumes_it() {
    let _turn = HEAVY.lock().await;
    let t = TestLab::start(spec("5.24.1")).await;
    settled_all(&t).await;
    let cfg = t.dir.path().join("baton.toml");
    std::fs::write(&cfg, ORCHESTRAS).unwrap();
    let cmd = format!(
        "BATON_DATA_DIR={data} {bin} --kubeconfig {kc} --config {cfg}; sleep 60",
        data = t.baton_data().display(),
        bin = env!("CARGO_BIN_EXE_baton"),
        kc = t.kubeconfig().display(),
        cfg = cfg.display(),
    );
    let tm = common::tmux::Tmux::start("campaign-launch", 200, 60, &cmd);
    tm.wait("the fleet view", Duration::from_secs(20), |s| {
        s.contains("Orchestras")
    })
    .await;
    // The database list filtered to team-a's two databases, then C: the form over that filter.
    tm.keys(&["d", "/"]);
    tm.keys(&["ns:team-a", "Enter"]);
    tm.wait("the filtered list", Duration::from_secs(20), |s| {
        s.contains("team-a/orders") && !s.contains("team-c/billing")
    })
    .await;
    tm.keys(&["C"]);
    tm.wait("the campaign form", Duration::from_secs(10), |s| {
        s.contains("over the databases the filter 'ns:team-a' selects")
    })
    .await;
    tm.keys(&["rolling-restart", "Tab", "Tab", "dash-rr", "Tab", "Tab"]);
    tm.keys(&["BSpace", "BSpace", "BSpace", "20s", "Enter"]);
    let plan = tm
        .wait("the plan", Duration::from_secs(10), |s| {
            s.contains(
                "type the campaign's name and its number of databases to start it: dash-rr 2",
            )
        })
        .await;
    assert!(
        plan.contains("campaign dash-rr: rolling-restart over 'ns:team-a'"),
        "{plan}"
    );
    tm.keys(&["dash-rr 2"]);
    tm.wait("the typed confirmation", Duration::from_secs(10), |s| {
        s.contains("✓ matches")
    })
    .await;
    tm.keys(&["Enter"]);
    tm.wait("the campaign running here", Duration::from_secs(60), |s| {
        s.lines().any(|l| {
            l.contains("dash-rr") && l.contains("rolling-restart") && l.contains("running")
        })
    })
    .await;
    // Another baton sees it, coordinated by the dashboard.
    let c = wait_some("the canary done", Duration::from_secs(90), || async {
        let c = status_of(&t, ORCHESTRAS, "dash-rr").await?;
        (c["counts"]["done"].as_u64() == Some(1)).then_some(c)
    })
    .await;
    assert!(
        c["coordinator"].as_str().unwrap().contains("renewed"),
        "{c:#}"
    );
    assert_eq!(states(&c).len(), 2, "{c:#}");
    // p, y: paused while the canary soaks; nothing new starts and the coordinator here stops.
    tm.keys(&["p"]);
    tm.wait("the pause question", Duration::from_secs(10), |s| {
        s.contains("Pause campaign dash-rr?")
    })
    .await;
    tm.keys(&["y"]);
    let c = wait_some(
        "paused, coordinator gone",
        Duration::from_secs(60),
        || async {
            let c = status_of(&t, ORCHESTRAS, "dash-rr").await?;
            (c["control"]["phase"] == "paused"
                && !c["coordinator"].as_str().unwrap_or("").contains("renewed"))
            .then_some(c)
        },
    )
    .await;
    assert!(
        c["control"]["why"]
            .as_str()
            .unwrap()
            .contains("paused from the dashboard"),
        "{c:#}"
    );
    let s = states(&c);
    assert_eq!(
        (
            s.values().filter(|w| *w == "done").count(),
            s.values().filter(|w| *w == "pending").count()
        ),
        (1, 1),
        "{c:#}"
    );
    // r, the name typed: taken over here again, and it finishes.
    tm.keys(&["r"]);
    tm.wait("the resume question", Duration::from_secs(10), |s| {
        s.contains("Resume campaign dash-rr?")
    })
    .await;
    tm.keys(&["dash-rr", "Enter"]);
    let c = wait_some("finished", Duration::from_secs(120), || async {
        let c = status_of(&t, ORCHESTRAS, "dash-rr").await?;
        (c["control"]["phase"] == "finished").then_some(c)
    })
    .await;
    let s = states(&c);
    assert!(s.values().all(|w| w == "done"), "{c:#}");
    tm.wait("the end on screen", Duration::from_secs(20), |s| {
        s.lines()
            .any(|l| l.contains("dash-rr") && l.contains("finished"))
    })
    .await;
    // Each database's operation started exactly once, from the dashboard's coordinator.
    let starts = audited(&t, "dash-rr", "start");
    let mut dbs: Vec<&str> = starts.iter().map(|(_, d)| d.as_str()).collect();
    dbs.sort_unstable();
    assert_eq!(
        dbs,
        ["lab-a/team-a/ledger", "lab-a/team-a/orders"],
        "{starts:?}"
    );
    for (o, ns, db) in DBS {
        let id = format!("{o}/{ns}/{db}");
        assert_eq!(group(&t, &id)["quorum_lost_events"], 0, "{id}");
    }
    // Quitting asks nothing now that no coordinator runs here.
    tm.keys(&["q"]);
    tm.wait("the dashboard gone", Duration::from_secs(10), |s| {
        !s.contains("Campaigns")
    })
    .await;
}
