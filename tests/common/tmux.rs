//! The dashboard in a real terminal: a private tmux server per test (its own socket), one
//! detached session running a shell command at a fixed size, keys sent by name, the screen read
//! back with capture-pane. The server goes away with the value.

use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `shell` in session `main`, `w`×`h`, on a server named after `name` and this process.
    pub fn start(name: &str, w: u16, h: u16, shell: &str) -> Self {
        let me = Self {
            socket: format!("baton-{name}-{}", std::process::id()),
        };
        let ok = me
            .cmd(&[
                "new-session",
                "-d",
                "-x",
                &w.to_string(),
                "-y",
                &h.to_string(),
                "-s",
                "main",
                shell,
            ])
            .status
            .success();
        assert!(ok, "tmux new-session");
        me
    }

    pub fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("tmux runs")
    }

    /// Types `keys` (tmux key names: Enter, Escape, j…); they arrive in order.
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "main"];
        args.extend_from_slice(keys);
        assert!(self.cmd(&args).status.success(), "send-keys {keys:?}");
    }

    /// The screen as text.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "main"]).stdout).into()
    }

    /// Polls the screen until `cond` holds and returns it; panics with the screen after `timeout`.
    pub async fn wait(&self, what: &str, timeout: Duration, cond: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if cond(&s) {
                return s;
            }
            assert!(
                start.elapsed() < timeout,
                "timed out after {timeout:?} waiting for {what}; screen:\n{s}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}
