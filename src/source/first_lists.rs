//! The start gate of background probes: at start every orchestra's first lists (a TLS
//! handshake, a list of its pods, then of its StatefulSets and operation Leases) compete with the
//! probes of the orchestras that listed before it, so probes of databases off screen wait until
//! every orchestra answered (pods, StatefulSets and Leases listed, or it failed) or
//! [`FIRST_LISTS`] passed, whichever comes first. The open database is never held.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// Background probes wait for the first lists at most this long after the engine started (a
/// silent orchestra must not hold the rest of the fleet's probes).
pub const FIRST_LISTS: Duration = Duration::from_secs(2);

/// Shared by the engine's supervisors: how many orchestras have not answered yet.
#[derive(Clone)]
pub struct FirstLists {
    pending: Arc<watch::Sender<usize>>,
    deadline: Instant,
}

impl FirstLists {
    /// A gate for `orchestras` orchestras, open at the latest `within` from now.
    pub fn new(orchestras: usize, within: Duration) -> Self {
        Self {
            pending: Arc::new(watch::Sender::new(orchestras)),
            deadline: Instant::now() + within,
        }
    }

    /// One orchestra's turn: tells the gate it answered when told so, or when dropped.
    pub fn orchestra(&self) -> Answered {
        Answered(Some(Arc::clone(&self.pending)))
    }

    /// Whether every orchestra answered (the deadline not counted).
    pub fn all_answered(&self) -> bool {
        *self.pending.borrow() == 0
    }

    /// Waits until every orchestra answered or the deadline passed. Once open, it costs a
    /// look (every background probe round asks).
    pub async fn wait(&self) {
        if self.all_answered() || Instant::now() >= self.deadline {
            return;
        }
        let mut rx = self.pending.subscribe();
        let _ = tokio::time::timeout_at(self.deadline, rx.wait_for(|n| *n == 0)).await;
    }
}

/// One orchestra's share of [`FirstLists`]; counts once, at [`Answered::done`] or on drop.
pub struct Answered(Option<Arc<watch::Sender<usize>>>);

impl Answered {
    pub fn done(&mut self) {
        if let Some(p) = self.0.take() {
            p.send_modify(|n| *n = n.saturating_sub(1));
        }
    }
}

impl Drop for Answered {
    fn drop(&mut self) {
        self.done();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn opens_when_every_orchestra_answered_or_at_the_deadline() {
        let gate = FirstLists::new(2, Duration::from_secs(60));
        let (mut a, b) = (gate.orchestra(), gate.orchestra());
        let waiter = tokio::spawn({
            let gate = gate.clone();
            async move { gate.wait().await }
        });
        a.done();
        a.done();
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "one answer counts once");
        assert!(!gate.all_answered());
        drop(b);
        waiter.await.unwrap();
        assert!(
            gate.all_answered(),
            "a supervisor that ended counts as answered"
        );
        assert!(Instant::now() < gate.deadline, "not by the deadline");

        // A silent orchestra holds the gate only until the deadline.
        let gate = FirstLists::new(1, Duration::from_millis(50));
        let _silent = gate.orchestra();
        let t0 = Instant::now();
        gate.wait().await;
        assert!(t0.elapsed() >= Duration::from_millis(50));
        assert!(!gate.all_answered());
    }
}
