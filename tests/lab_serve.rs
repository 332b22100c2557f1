//! `baton lab serve` as a process: exactly one `ready kubeconfig=PATH` line, a kubeconfig that
//! the real kubectl uses, a clean stop on SIGTERM and SIGINT, and exit 2 for a bad profile.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

fn wait_exit(child: &mut std::process::Child, within: Duration) -> Option<i32> {
    let start = Instant::now();
    while start.elapsed() < within {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("baton lab serve did not stop within {within:?}");
}

#[test]
fn serve_prints_one_ready_line_and_stops_on_signals() {
    for sig in ["-TERM", "-INT"] {
        let dir = tempfile::tempdir().unwrap();
        let kc = dir.path().join("kc");
        let mut child = Command::new(env!("CARGO_BIN_EXE_baton"))
            .args([
                "lab",
                "serve",
                "--seed",
                "1",
                "--kubeconfig-out",
                kc.to_str().unwrap(),
            ])
            .env("BATON_DATA_DIR", dir.path().join("data"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn baton");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read ready line");
        assert_eq!(
            line.trim_end(),
            format!("ready kubeconfig={}", kc.display())
        );

        let out = Command::new("kubectl")
            .args([
                "--kubeconfig",
                kc.to_str().unwrap(),
                "--cache-dir",
                dir.path().join("cache").to_str().unwrap(),
            ])
            .args([
                "--context",
                "gcp-us-central1",
                "get",
                "namespaces",
                "-o",
                "name",
            ])
            .env_remove("KUBECONFIG")
            .output()
            .expect("kubectl");
        let names = String::from_utf8_lossy(&out.stdout);
        assert!(
            names.contains("namespace/team-ml"),
            "{names}{}",
            String::from_utf8_lossy(&out.stderr)
        );

        signal(child.id(), sig);
        assert_eq!(
            wait_exit(&mut child, Duration::from_secs(10)),
            Some(0),
            "{sig}"
        );
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "", "nothing after the ready line");
    }
}

#[test]
fn bad_profile_file_is_exit_2_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("lab.toml");
    std::fs::write(&p, "[[orchestra]]\nname = \"x\"\n\n[[orchestra.database]]\nname = \"a\"\nnamespace = \"n\"\nreplicas = 3\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["lab", "serve", "--profile", p.to_str().unwrap()])
        .env("BATON_DATA_DIR", dir.path().join("data"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:7", p.display())) && err.contains("replicas"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}
