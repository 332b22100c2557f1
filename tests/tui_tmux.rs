//! The dashboard as a person uses it: the real binary in tmux against the lab, driven with
//! send-keys and read with capture-pane at 80×24 and 200×60. Navigates fleet → databases →
//! profile, sees the leader, deletes the leader's pod in the lab and sees the new LEADER on
//! screen; the quit key from the config's `[keys]`, SIGTERM and SIGHUP (an SSH drop) each end it
//! with the terminal restored (no alternate screen, canonical mode back). At 80×24 the
//! fleet-wide database list shows each database's orchestra and leader once the lab settled.
//! Keys are sent once the screen shows what they act on; nothing waits a fixed time.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::tmux::Tmux;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{TestLab, small_spec, two_orchestras_spec};

impl Tmux {
    fn baton(t: &TestLab, w: u16, h: u16) -> Self {
        let me_name = format!("tmux-{w}");
        let cmd = format!(
            "BATON_DATA_DIR={data} XDG_CONFIG_HOME={cfg} {bin} --kubeconfig {kc}; echo baton-exited-$?; stty -a | grep -o -- '-*icanon'; sleep 60",
            data = t.dir.path().join(format!("data-{w}")).display(),
            cfg = t.dir.path().join("config").display(),
            bin = env!("CARGO_BIN_EXE_baton"),
            kc = t.kubeconfig().display(),
        );
        Tmux::start(&me_name, w, h, &cmd)
    }
}

impl Tmux {
    /// After baton exited: the normal screen and a terminal in canonical mode (raw mode undone).
    async fn assert_restored(&self) {
        let s = self
            .wait("stty's answer", Duration::from_secs(5), |s| {
                s.lines().any(|l| l.trim().ends_with("icanon"))
            })
            .await;
        assert!(
            s.lines().any(|l| l.trim() == "icanon"),
            "raw mode left on:\n{s}"
        );
        let alt = self.cmd(&["display-message", "-p", "-t", "main", "#{alternate_on}"]);
        assert_eq!(
            String::from_utf8_lossy(&alt.stdout).trim(),
            "0",
            "alternate screen left"
        );
    }
}

/// Writes the config file baton reads from the lab's config dir.
fn write_config(t: &TestLab, text: &str) {
    let dir = t.dir.path().join("config/baton");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), text).unwrap();
}

/// The screen line that shows `member` with the LEADER role.
fn leads(screen: &str, member: &str) -> bool {
    screen
        .lines()
        .any(|l| l.contains("LEADER") && l.contains(&format!(" {member} ")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn navigate_and_see_the_new_leader() {
    let t = TestLab::start(small_spec(&[
        ("team-a", "orders", 3, 1),
        ("team-b", "catalog", 3, 0),
    ]))
    .await;
    t.all_ready().await;
    let group = "lab-a/team-a/orders";
    let deadline = Instant::now() + Duration::from_secs(20);
    while t.truth_leader(group).is_none() {
        assert!(Instant::now() < deadline, "no leader in the lab");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Quit moved off `q`: the help overlay and the fleet's hint line follow.
    write_config(&t, "[keys]\nquit = \"ctrl-q\"\n");
    for (w, h) in [(80u16, 24u16), (200, 60)] {
        let tm = Tmux::baton(&t, w, h);
        // Fleet view: the orchestra, live.
        tm.wait("lab-a live", Duration::from_secs(20), |s| {
            s.lines().any(|l| l.contains("lab-a") && l.contains("live"))
        })
        .await;
        // Databases of lab-a, filtered to orders, then its profile.
        tm.keys(&["Enter"]);
        tm.wait("databases list", Duration::from_secs(5), |s| {
            s.contains("orders") && s.contains("catalog")
        })
        .await;
        tm.keys(&["/", "o", "r", "d", "e", "r", "s", "Enter", "Enter"]);
        let leader = t.truth_leader(group).unwrap();
        let s = tm
            .wait("the leader in the profile", Duration::from_secs(10), |s| {
                leads(s, &leader)
            })
            .await;
        assert!(s.contains("orders-rr-1-0"), "the secondary is listed:\n{s}");
        assert!(
            s.contains("READ_REPLICA") || s.contains("READ_REP"),
            "roles as words:\n{s}"
        );

        // Delete the leader's pod: the new LEADER shows up.
        let new = t
            .replace_leader(group, "team-a", &leader, Duration::from_secs(30))
            .await;
        let elected = Instant::now();
        tm.wait("the new leader on screen", Duration::from_secs(10), |s| {
            leads(s, &new)
        })
        .await;
        eprintln!(
            "{w}x{h}: new leader on screen {:?} after election",
            elected.elapsed()
        );
        // Let the pod come back before the next round.
        common::wait_for("pods ready again", Duration::from_secs(30), || async {
            let (r, n) = t.lab.ready_pods();
            r == n
        })
        .await;

        // Help, back out, quit: the shell sees baton exit 0 on the normal screen. One Escape at
        // a time: Escape and the next key sent together read as Alt and that key.
        tm.keys(&["?"]);
        tm.wait(
            "help with the configured quit key",
            Duration::from_secs(5),
            |s| s.contains("Ctrl-Q  Ctrl-C"),
        )
        .await;
        tm.keys(&["Escape"]);
        tm.wait("help closed", Duration::from_secs(5), |s| {
            !s.contains("any key closes")
        })
        .await;
        tm.keys(&["Escape"]);
        tm.wait("the database list", Duration::from_secs(5), |s| {
            s.contains("Databases ·")
        })
        .await;
        tm.keys(&["Escape"]);
        let s = tm
            .wait("the fleet view", Duration::from_secs(5), |s| {
                s.contains("Orchestras (")
            })
            .await;
        if w >= 200 {
            assert!(s.contains("Ctrl-Q quit"), "the hint line:\n{s}");
        }
        // `q` is free now: the help key after it still finds baton running.
        tm.keys(&["q", "?"]);
        tm.wait("help after q", Duration::from_secs(5), |s| {
            s.contains("any key closes")
        })
        .await;
        tm.keys(&["Escape"]);
        tm.wait("help closed", Duration::from_secs(5), |s| {
            !s.contains("any key closes")
        })
        .await;
        tm.keys(&["C-q"]);
        let s = tm
            .wait("baton exits", Duration::from_secs(10), |s| {
                s.contains("baton-exited-")
            })
            .await;
        assert!(s.contains("baton-exited-0"), "{s}");
        tm.assert_restored().await;
    }
    t.lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signals_restore_the_terminal() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 3, 0)])).await;
    write_config(&t, "[keys]\nall_databases = \"a\"\n");
    for (i, signal) in ["TERM", "HUP"].iter().enumerate() {
        let tm = Tmux::baton(&t, 82 + i as u16, 24);
        tm.wait("the fleet view", Duration::from_secs(30), |s| {
            s.contains("live")
        })
        .await;
        // Open something (with the configured key) so there is state on screen, then the
        // signal to baton itself.
        tm.keys(&["a"]);
        tm.wait("the database list", Duration::from_secs(5), |s| {
            s.contains("Databases ·")
        })
        .await;
        let shell = tm.cmd(&["display-message", "-p", "-t", "main", "#{pane_pid}"]);
        let shell = String::from_utf8_lossy(&shell.stdout).trim().to_string();
        let child = Command::new("pgrep")
            .args(["-P", &shell])
            .output()
            .expect("pgrep runs");
        let pid = String::from_utf8_lossy(&child.stdout).trim().to_string();
        assert!(
            !pid.is_empty(),
            "baton's pid under the pane's shell {shell}"
        );
        let killed = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        tm.wait(
            &format!("baton exits on SIG{signal}"),
            Duration::from_secs(10),
            |s| s.contains("baton-exited-"),
        )
        .await;
        tm.assert_restored().await;
    }
    t.lab.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn databases_list_at_80x24_shows_orchestra_and_leader() {
    let t = TestLab::start(two_orchestras_spec()).await;
    t.all_ready().await;
    let groups = [
        ("lab-a", "team-a/orders", "lab-a/team-a/orders"),
        ("lab-a", "team-b/catalog", "lab-a/team-b/catalog"),
        ("lab-b", "infra/config", "lab-b/infra/config"),
    ];
    let cmd = format!(
        "BATON_DATA_DIR={data} XDG_CONFIG_HOME={cfg} {bin} --kubeconfig {kc}; sleep 60",
        data = t.dir.path().join("data-list").display(),
        cfg = t.dir.path().join("config-list").display(),
        bin = env!("CARGO_BIN_EXE_baton"),
        kc = t.kubeconfig().display(),
    );
    let tm = Tmux::start("dblist-80", 80, 24, &cmd);
    tm.wait("the fleet view", Duration::from_secs(20), |s| {
        s.contains("Orchestras")
    })
    .await;
    tm.keys(&["d"]);
    // Every database's row: its orchestra, and the leader the lab itself reports, healthy.
    let row_ok = |s: &str, orch: &str, db: &str, group: &str| {
        let Some(leader) = t.truth_leader(group) else {
            return false;
        };
        s.lines().any(|l| {
            l.contains(db)
                && l.contains(orch)
                && l.contains(&format!("★ {leader}"))
                && l.contains("healthy")
        })
    };
    let s = tm
        .wait(
            "every database with orchestra and leader",
            Duration::from_secs(30),
            |s| groups.iter().all(|(o, db, g)| row_ok(s, o, db, g)),
        )
        .await;
    let header = s.lines().nth(1).unwrap_or_default();
    for col in ["DATABASE", "ORCHESTRA", "HEALTH", "LEADER", "READY"] {
        assert!(header.contains(col), "{col} missing at 80 columns:\n{s}");
    }
    assert!(!s.contains("down"), "no false alarm once settled:\n{s}");
    tm.keys(&["q"]);
}
