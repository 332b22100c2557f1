//! Operations from the dashboard as a person runs them: the real binary in tmux against the lab,
//! driven with send-keys and read with capture-pane. A rolling restart launched from a
//! database's profile (the database id typed; a wrong one does nothing) whose steps advance to
//! done while the leader moves on screen; a backup whose Job log and artifact show, the artifact
//! copied with y; a refused operation (a partitioned member) that shows the failing rule and
//! sends no mutating request (the lab's request log); a cancel; baton killed with SIGHUP mid-operation,
//! started again, the resume offer taken, the operation finished without restarting a member
//! twice. Keys are sent once the screen shows what they act on; nothing waits a fixed time.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::tmux::Tmux;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use common::{TestLab, small_spec};
use serde_json::Value;

const ORCH: &str = "lab-a";

impl Tmux {
    fn baton(t: &TestLab, name: &str, w: u16, h: u16) -> Self {
        let me_name = format!("ops-{name}");
        let cmd = format!(
            "BATON_DATA_DIR={data} XDG_CONFIG_HOME={cfg} {bin} --kubeconfig {kc}; echo baton-exited-$?; sleep 60",
            data = t.dir.path().join("data").display(),
            cfg = t.dir.path().join("config").display(),
            bin = env!("CARGO_BIN_EXE_baton"),
            kc = t.kubeconfig().display(),
        );
        Tmux::start(&me_name, w, h, &cmd)
    }

    /// Text, character by character.
    fn text(&self, text: &str) {
        assert!(
            self.cmd(&["send-keys", "-t", "main", "-l", text])
                .status
                .success()
        );
    }

    /// baton's pid (the child of the pane's shell).
    fn baton_pid(&self) -> String {
        let shell = self.cmd(&["display-message", "-p", "-t", "main", "#{pane_pid}"]);
        let shell = String::from_utf8_lossy(&shell.stdout).trim().to_string();
        let child = Command::new("pgrep")
            .args(["-P", &shell])
            .output()
            .expect("pgrep runs");
        let pid = String::from_utf8_lossy(&child.stdout).trim().to_string();
        assert!(!pid.is_empty(), "baton under the pane's shell {shell}");
        pid
    }
}

/// The screen line that shows `member` with the LEADER role.
fn leads(screen: &str, member: &str) -> bool {
    screen
        .lines()
        .any(|l| l.contains("LEADER") && l.contains(&format!(" {member} ")))
}

/// From the fleet view to `name`'s profile, its leader on screen.
async fn open_profile(tm: &Tmux, t: &TestLab, ns: &str, name: &str) {
    tm.wait("lab-a live", Duration::from_secs(30), |s| {
        s.lines().any(|l| l.contains(ORCH) && l.contains("live"))
    })
    .await;
    tm.text(&format!(":db {ORCH}/{ns}/{name}"));
    tm.keys(&["Enter"]);
    let group = format!("{ORCH}/{ns}/{name}");
    tm.wait("the leader in the profile", Duration::from_secs(20), |s| {
        t.truth_leader(&group).is_some_and(|l| leads(s, &l))
    })
    .await;
}

/// From the open profile: the menu, its first row (the rolling restart), the id typed, Enter.
async fn confirm_rolling_restart(tm: &Tmux, id: &str) {
    tm.keys(&["o"]);
    tm.wait("the menu", Duration::from_secs(5), |s| {
        s.contains(&format!("Operations · {id}"))
    })
    .await;
    tm.keys(&["g", "Enter"]);
    tm.wait("the confirmation", Duration::from_secs(20), |s| {
        s.contains("type the database id to confirm")
    })
    .await;
    tm.text(id);
    tm.keys(&["Enter"]);
}

/// Deletes per pod in the request log entries `from..`.
fn deletes_per_pod(log: &[Value]) -> BTreeMap<String, usize> {
    let mut per: BTreeMap<String, usize> = BTreeMap::new();
    for r in log.iter().filter(|r| r["verb"] == "delete") {
        *per.entry(r["path"].as_str().unwrap_or("").to_string())
            .or_default() += 1;
    }
    per
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn launch_confirm_follow_refuse_and_resume_from_the_dashboard() {
    let t = TestLab::start(small_spec(&[
        ("team-a", "orders", 3, 0),
        ("team-b", "catalog", 3, 0),
    ]))
    .await;
    t.settled(ORCH, "team-a", "orders").await;
    let group = format!("{ORCH}/team-a/orders");
    let id = format!("{ORCH}/team-a/orders");

    // ---- A rolling restart at 200x60: the menu, the preflight, the typed id, the steps.
    let tm = Tmux::baton(&t, "wide", 200, 60);
    open_profile(&tm, &t, "team-a", "orders").await;
    let old_leader = t.truth_leader(&group).unwrap();
    tm.keys(&["o"]);
    tm.wait("the operations menu", Duration::from_secs(5), |s| {
        s.contains(&format!("Operations · {id}")) && s.contains("rolling-restart")
    })
    .await;
    let before = t.mutating_requests().len();
    // The first row that can run is the rolling restart.
    tm.keys(&["Enter"]);
    let s = tm
        .wait("the confirmation", Duration::from_secs(20), |s| {
            s.contains("type the database id to confirm")
        })
        .await;
    assert!(s.contains("✓ lock") && s.contains("Plan (in order)"), "{s}");
    assert!(s.contains("the leader, last"), "{s}");
    // A wrong id and Enter: nothing happens.
    tm.text(&format!("{ORCH}/team-a/order"));
    tm.keys(&["Enter"]);
    tm.wait("the typed text", Duration::from_secs(5), |s| {
        s.contains(&format!("> {ORCH}/team-a/order "))
    })
    .await;
    let s = tm.screen();
    assert!(s.contains("type the database id to confirm"), "{s}");
    assert_eq!(
        t.mutating_requests().len(),
        before,
        "a preflight sends nothing"
    );
    // The exact id: it runs.
    tm.text("s");
    tm.wait("the id matches", Duration::from_secs(5), |s| {
        s.contains("✓ matches")
    })
    .await;
    tm.keys(&["Enter"]);
    tm.wait("the progress pane", Duration::from_secs(10), |s| {
        s.contains("rolling-restart · running")
    })
    .await;
    // The member being restarted is marked in the members table while it runs.
    tm.wait("a member being worked on", Duration::from_secs(30), |s| {
        s.lines().any(|l| {
            l.contains("⚙")
                && ["FOLLOWER", "LEADER", "UNKNOWN"]
                    .iter()
                    .any(|r| l.contains(r))
        })
    })
    .await;
    let s = tm
        .wait("the rolling restart done", Duration::from_secs(120), |s| {
            s.contains("rolling-restart · done")
        })
        .await;
    assert!(s.contains("✓ 3 "), "every step done:\n{s}");
    assert!(!s.contains("pending"), "{s}");
    let new_leader = t.truth_leader(&group).unwrap();
    assert_ne!(new_leader, old_leader, "the leader was restarted, last");
    tm.wait("the new leader on screen", Duration::from_secs(20), |s| {
        leads(s, &t.truth_leader(&group).unwrap_or_default())
    })
    .await;
    let restarted = deletes_per_pod(&t.mutating_requests()[before..]);
    assert_eq!(restarted.len(), 3, "{restarted:?}");
    eprintln!("rolling restart from the dashboard: {restarted:?}");

    // ---- A backup: its Job's log lines and the artifact, copied with y.
    t.settled(ORCH, "team-a", "orders").await;
    tm.keys(&["o"]);
    tm.wait("the menu again", Duration::from_secs(5), |s| {
        s.contains(&format!("Operations · {id}"))
    })
    .await;
    // rolling-restart, restart-member, backup.
    tm.keys(&["j", "j", "Enter"]);
    tm.wait("the backup form", Duration::from_secs(5), |s| {
        s.contains("backup · ") && s.contains("the member to back up from")
    })
    .await;
    tm.keys(&["Enter"]);
    tm.wait("the y/n confirmation", Duration::from_secs(20), |s| {
        s.contains("run backup on") && s.contains("y run")
    })
    .await;
    tm.keys(&["y"]);
    let s = tm
        .wait("the backup done", Duration::from_secs(60), |s| {
            s.contains("backup · done")
        })
        .await;
    assert!(s.contains("Backup complete"), "the Job's log:\n{s}");
    assert!(s.contains("artifact s3://"), "{s}");
    tm.keys(&["y"]);
    tm.wait("the artifact copied", Duration::from_secs(5), |s| {
        s.contains("copied s3://")
    })
    .await;
    tm.keys(&["x"]);
    tm.wait("the pane closed", Duration::from_secs(5), |s| {
        s.contains("Leader changes")
    })
    .await;

    // ---- Refused at 80x24: a partitioned follower; the rule shows, nothing is sent.
    t.settled(ORCH, "team-b", "catalog").await;
    let (_, victim) = t.partition_a_catalog_follower().await;
    let narrow = Tmux::baton(&t, "narrow", 80, 24);
    narrow
        .wait("lab-a live", Duration::from_secs(30), |s| {
            s.lines().any(|l| l.contains(ORCH) && l.contains("live"))
        })
        .await;
    narrow.text(&format!(":db {ORCH}/team-b/catalog"));
    narrow.keys(&["Enter"]);
    narrow
        .wait("the catalog profile", Duration::from_secs(10), |s| {
            s.contains("catalog-3-0")
        })
        .await;
    let before = t.mutating_requests().len();
    narrow.keys(&["o"]);
    narrow
        .wait("the menu", Duration::from_secs(5), |s| {
            s.contains("Operations · lab-a/team-b/catalog")
        })
        .await;
    narrow.keys(&["Enter"]);
    let s = narrow
        .wait("the refusal", Duration::from_secs(20), |s| {
            s.contains("refused by rule")
        })
        .await;
    assert!(s.contains("✗ majority"), "the failing rule:\n{s}");
    assert!(s.contains(victim), "{s}");
    narrow.text(&format!("{ORCH}/team-b/catalog"));
    narrow.keys(&["Enter"]);
    narrow
        .wait("closed", Duration::from_secs(5), |s| {
            !s.contains("refused by rule")
        })
        .await;
    assert_eq!(
        t.mutating_requests().len(),
        before,
        "a refused operation sends no mutating request"
    );
    narrow.keys(&["q"]);
    narrow
        .wait("baton exits", Duration::from_secs(10), |s| {
            s.contains("baton-exited-0")
        })
        .await;

    // ---- Cancel mid-operation (x, then y): the current action finishes, the Lease records it.
    t.settled(ORCH, "team-a", "orders").await;
    confirm_rolling_restart(&tm, &id).await;
    tm.wait("a step under way", Duration::from_secs(30), |s| {
        s.contains("rolling-restart · running") && s.contains("step 1:")
    })
    .await;
    tm.keys(&["x"]);
    tm.wait("the cancel question", Duration::from_secs(5), |s| {
        s.contains("Cancel rolling-restart on")
    })
    .await;
    tm.keys(&["y"]);
    // The title and the outcome line in one capture (tmux may catch a frame half drawn).
    tm.wait("cancelled", Duration::from_secs(60), |s| {
        s.contains("rolling-restart · cancelled") && s.contains("CANCELLED: cancelled")
    })
    .await;
    tm.keys(&["x"]);
    tm.wait("the pane closed", Duration::from_secs(5), |s| {
        s.contains("Leader changes")
    })
    .await;

    // ---- SIGHUP mid-operation, start again, resume from the offer.
    t.settled(ORCH, "team-a", "orders").await;
    let before = t.mutating_requests().len();
    confirm_rolling_restart(&tm, &id).await;
    tm.wait("step 1 done", Duration::from_secs(60), |s| {
        s.contains("✓ 1 ") && s.contains("rolling-restart · running")
    })
    .await;
    // Quitting asks first while it runs.
    tm.keys(&["q"]);
    tm.wait("the quit question", Duration::from_secs(5), |s| {
        s.contains("Quit now?")
    })
    .await;
    tm.keys(&["n"]);
    tm.wait("the question gone", Duration::from_secs(5), |s| {
        !s.contains("Quit now?")
    })
    .await;
    let pid = tm.baton_pid();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .expect("kill")
            .success()
    );
    tm.wait("baton exits on SIGHUP", Duration::from_secs(10), |s| {
        s.contains("baton-exited-")
    })
    .await;
    drop(tm);
    let done_before_resume = deletes_per_pod(&t.mutating_requests()[before..]);
    let again = Tmux::baton(&t, "again", 200, 60);
    open_profile(&again, &t, "team-a", "orders").await;
    // The Lease goes stale once its holder stopped renewing it (15 s): the offer shows.
    let s = again
        .wait("the resume offer", Duration::from_secs(40), |s| {
            s.contains("resume rolling-restart?")
        })
        .await;
    assert!(s.contains("stopped at step"), "{s}");
    again.keys(&["Enter"]);
    let s = again
        .wait("the resume confirmation", Duration::from_secs(20), |s| {
            s.contains("type the database id to confirm")
        })
        .await;
    assert!(s.contains("resume rolling-restart"), "{s}");
    again.text(&id);
    again.keys(&["Enter"]);
    again
        .wait("the resumed restart done", Duration::from_secs(120), |s| {
            s.contains("resume rolling-restart · done")
        })
        .await;
    let per_pod = deletes_per_pod(&t.mutating_requests()[before..]);
    assert_eq!(per_pod.len(), 3, "every member restarted: {per_pod:?}");
    assert!(
        per_pod.values().all(|n| *n == 1),
        "none twice (before the resume: {done_before_resume:?}): {per_pod:?}"
    );
    again.keys(&["q"]);
    again
        .wait("baton exits", Duration::from_secs(10), |s| {
            s.contains("baton-exited-0")
        })
        .await;
    t.lab.shutdown().await;
}

/// Another operator's rolling restart (`baton op` in another process) followed in the
/// dashboard from its Lease: the Lease line offers `f`, the pane shows whose it is and its steps
/// advance to done; the follower sends no mutating request of its own (its audit log stays
/// empty: every mutating request baton sends is audited).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_operators_operation_is_followed_from_its_lease() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 0)])).await;
    t.settled(ORCH, "team-a", "orders").await;
    let tm = Tmux::baton(&t, "follow", 200, 60);
    open_profile(&tm, &t, "team-a", "orders").await;
    // Another operator: its own process and data dir (the dashboard's is `data`).
    let other_data = t.baton_data();
    let mut other = t
        .baton(
            "",
            &[
                "op",
                "rolling-restart",
                "--orchestra",
                ORCH,
                "-n",
                "team-a",
                "--database",
                "orders",
                "--yes",
            ],
        )
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("baton op runs");
    tm.wait("the Lease line", Duration::from_secs(30), |s| {
        s.contains("⚙ rolling-restart step") && s.contains("f follow")
    })
    .await;
    tm.keys(&["f"]);
    // Both in one capture: tmux may be caught between the chunks of one frame.
    tm.wait("the followed pane", Duration::from_secs(10), |s| {
        // While it runs the cancel key offers to cancel it or close; once it ended, to close.
        s.contains("following rolling-restart of")
            && (s.contains("x cancel it or close") || s.contains("x close"))
    })
    .await;
    let s = tm
        .wait(
            "the followed operation done",
            Duration::from_secs(240),
            |s| s.contains("following rolling-restart of") && s.contains("· done ·"),
        )
        .await;
    assert!(s.contains("3 members restarted"), "the end's detail:\n{s}");
    let status = tokio::time::timeout(Duration::from_secs(30), other.wait())
        .await
        .expect("the other operator's baton ends")
        .expect("its status");
    assert!(status.success(), "baton op rolling-restart: {status}");
    // The follower's own audit log: nothing mutating was sent by the dashboard.
    let audit = t.dir.path().join("data").join("audit.jsonl");
    let lines = std::fs::read_to_string(&audit).unwrap_or_default();
    assert!(lines.trim().is_empty(), "the follower audited:\n{lines}");
    assert!(
        std::fs::read_to_string(other_data.join("audit.jsonl")).is_ok_and(|a| a.contains("delete")),
        "the other operator's audit names its deletes"
    );
    tm.keys(&["x"]);
    tm.wait("the pane closed", Duration::from_secs(5), |s| {
        s.contains("stopped following")
    })
    .await;
}
