//! baton — the on-call remote control for fleets of Raft-clustered databases on Kubernetes.
//!
//! Module map (DESIGN.md), by layer, bottom to top; a module imports only from its own layer or
//! below (`tests/layers.rs`). The binary in `main.rs` only parses and dispatches.
//! - `fleet`: the domain, no I/O: roles, leader, term, lag, health roll-up, leader history, the
//!   fleet store, `baton status`'s snapshot, the operations catalog's static facts.
//!   `config`: the config file (orchestras, profiles, operations settings, roles), themes, paths,
//!   key bindings. `cli`: the command line (clap). `logging`: tracing to a file in the data dir,
//!   never to the terminal.
//! - `guard`: where requests leave the process: the only builders of kube and probe clients,
//!   refusing anything but reads in read-only mode; the pod-proxy client.
//! - `probe`: member status over HTTP, direct or through the API server's pod proxy, decoded
//!   per profile.
//! - `source`: where the fleet comes from: the `Engine` (a supervisor per orchestra: kube
//!   watchers, discovery, probes; static inventory) behind the dashboard, `status` and `bench`.
//! - `ops`: operations as reconcile loops: safety rules, plans, lock, runner, audit, `baton op …`.
//! - `tui`: the terminal dashboard: terminal setup and restore, event loop, model, update, views.
//!   `bench`: `baton bench`, the engine's and the view's figures against DESIGN.md's budgets.
//!
//! The embedded lab is another crate of the workspace (`baton-lab`, `lab/`), used only by
//! `main.rs` and the tests: this library reaches it, like any cluster, through a kubeconfig.

#![forbid(unsafe_code)]

/// The product never reaches the embedded lab except through a kubeconfig (DESIGN.md): the lab
/// crate is a dependency of the package for `src/main.rs` and the tests only. This name shadows
/// it in the whole library, so `baton_lab::…` (or `::baton_lab::…`) anywhere under `src/` other
/// than `main.rs` fails to compile (it resolves to this crate, which has no lab).
extern crate self as baton_lab;

pub mod bench;
pub mod cli;
pub mod config;
pub mod fleet;
pub mod guard;
pub mod logging;
pub mod ops;
pub mod probe;
pub mod source;
pub mod tui;

/// Process exit codes, a contract with scripts (DESIGN.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    /// An operation or connection failed.
    Failed = 1,
    /// Bad usage, config or input.
    Usage = 2,
    /// Refused: safety check, lock held, permission, read-only.
    Refused = 3,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}

/// `text` cut to at most `max` bytes on a character boundary, with `…` when cut. For messages
/// that quote outside data, which may hold any character.
pub fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    #[test]
    fn clip_respects_characters() {
        assert_eq!(super::clip("abc", 5), "abc");
        assert_eq!(super::clip("abcdef", 3), "abc…");
        assert_eq!(super::clip("aé", 2), "a…");
    }
}
