//! `baton bench`: runs the dashboard's engine headless against a kubeconfig (usually the fleet
//! lab) and prints figures next to DESIGN.md's budgets: time until every orchestra is listed
//! (what a first complete frame needs), time until every database was probed once (a complete
//! snapshot), RSS, idle CPU with the supervisors running, and the TUI's frame render time and idle
//! terminal output. Figures, not pass/fail: these machines are noisy.

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use crate::config::Config;
use crate::fleet::{Connection, Fleet};
use crate::source::{Focus, kube::Target, supervisor};

/// Resident set size of this process, in MiB.
pub fn rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024)
}

/// CPU time (user + system) this process used so far.
pub fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // Linux reports clock ticks of 1/100 s on every platform baton runs on.
    Some(Duration::from_millis(ticks * 10))
}

/// What the engine part of the bench measured.
pub struct EngineFigures {
    pub orchestras: usize,
    pub databases: usize,
    pub members: usize,
    pub listed: Option<Duration>,
    pub probed: Option<Duration>,
    pub rss_mib: Option<u64>,
    pub idle_cpu_percent: Option<f64>,
}

/// Runs supervisors over `targets` until every database was probed once (or `limit` passed),
/// then measures `idle` seconds of steady state. Returns the figures and the fleet.
pub async fn engine(
    targets: Vec<Target>,
    config: &Config,
    limit: Duration,
    idle: Duration,
) -> (EngineFigures, Fleet) {
    let started = Instant::now();
    let n = targets.len();
    let (tx, mut rx) = mpsc::channel(4096);
    let (_focus_tx, focus_rx) = watch::channel(Focus::default());
    let _handles = supervisor::spawn_all(
        targets,
        config,
        supervisor::Intervals::default(),
        tx,
        focus_rx,
    );
    let mut fleet = Fleet::new(config.operations.lag_gate);
    let mut listed = None;
    let mut probed = None;
    let deadline = tokio::time::Instant::now() + limit;
    while probed.is_none() {
        let ev = match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(ev)) => ev,
            _ => break,
        };
        fleet.apply(ev, 0);
        // Apply whatever else is queued before looking.
        while let Ok(ev) = rx.try_recv() {
            fleet.apply(ev, 0);
        }
        let settled = fleet.orchestras.len() == n
            && fleet
                .orchestras
                .values()
                .all(|o| o.connection != Connection::Connecting);
        if listed.is_none() && settled {
            listed = Some(started.elapsed());
        }
        if settled
            && fleet
                .databases
                .values()
                .all(|d| d.members.iter().all(|m| m.probed_ms.is_some()))
        {
            probed = Some(started.elapsed());
        }
    }
    // Steady state: keep applying what the supervisors send, measure CPU.
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    let until = tokio::time::Instant::now() + idle;
    while let Ok(Some(ev)) = tokio::time::timeout_at(until, rx.recv()).await {
        fleet.apply(ev, 0);
    }
    let idle_cpu_percent = match (cpu0, cpu_time()) {
        (Some(a), Some(b)) => {
            Some((b - a).as_secs_f64() * 100.0 / t0.elapsed().as_secs_f64().max(0.001))
        }
        _ => None,
    };
    let figures = EngineFigures {
        orchestras: fleet.orchestras.len(),
        databases: fleet.databases.len(),
        members: fleet.member_count(),
        listed,
        probed,
        rss_mib: rss_mib(),
        idle_cpu_percent,
    };
    (figures, fleet)
}

fn secs(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.2} s", d.as_secs_f64()))
        .unwrap_or_else(|| "not reached".into())
}

impl EngineFigures {
    pub fn report(&self) -> String {
        format!(
            "fleet: {} orchestras, {} databases, {} members\n\
             every orchestra listed (first complete frame) after {}   budget 2 s\n\
             every member probed once (complete snapshot) after {}\n\
             RSS {} MiB   budget 150 MiB\n\
             idle CPU {} of one core (supervisors running, background probes)   budget 1 %\n",
            self.orchestras,
            self.databases,
            self.members,
            secs(self.listed),
            secs(self.probed),
            self.rss_mib.map(|r| r.to_string()).unwrap_or("?".into()),
            self.idle_cpu_percent
                .map(|c| format!("{c:.1} %"))
                .unwrap_or("?".into()),
        )
    }
}
