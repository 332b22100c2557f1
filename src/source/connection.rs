//! The connection state of one orchestra, as a pure state machine: connecting until every pod
//! list (one per watched profile) completed once, then live; a failed watch makes it stale since
//! that moment (unreachable if it was never live, unauthorized on 401/403); the API server's
//! heartbeat says when it is back (a resumed watch may have nothing to say) or when a hung
//! connection went stale. Each input returns the new state when it changed, to be sent on.

use crate::fleet::Connection;

/// Why a watch or the heartbeat failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 401 or 403.
    Unauthorized(String),
    Other(String),
}

#[derive(Debug, Clone)]
pub struct ConnectionState {
    /// Which of the lists that make the orchestra live completed since they last failed.
    listed: Vec<bool>,
    ever_live: bool,
    state: Connection,
}

impl ConnectionState {
    /// `lists`: how many lists (pod watches) must complete before the orchestra is live.
    pub fn new(lists: usize) -> Self {
        Self {
            listed: vec![false; lists],
            ever_live: false,
            state: Connection::Connecting,
        }
    }

    pub fn current(&self) -> &Connection {
        &self.state
    }

    pub fn is_live(&self) -> bool {
        self.state == Connection::Live
    }

    fn set(&mut self, next: Connection) -> Option<Connection> {
        if next == self.state {
            return None;
        }
        if next == Connection::Live {
            self.ever_live = true;
        }
        self.state = next.clone();
        Some(next)
    }

    /// List `i` completed (a first list or a relist).
    pub fn listed(&mut self, i: usize) -> Option<Connection> {
        if let Some(l) = self.listed.get_mut(i) {
            *l = true;
        }
        if self.listed.iter().all(|l| *l) {
            self.set(Connection::Live)
        } else {
            None
        }
    }

    /// Watch `i` failed at `now_ms`. Stale keeps the time it first went stale.
    pub fn watch_failed(&mut self, i: usize, failure: Failure, now_ms: u64) -> Option<Connection> {
        if let Some(l) = self.listed.get_mut(i) {
            *l = false;
        }
        let next = match failure {
            Failure::Unauthorized(r) => Connection::Unauthorized(r),
            Failure::Other(r) if self.ever_live => Connection::Stale {
                since_ms: now_ms,
                reason: r,
            },
            Failure::Other(r) => Connection::Unreachable(r),
        };
        if matches!(
            (&self.state, &next),
            (Connection::Stale { .. }, Connection::Stale { .. })
        ) {
            return None;
        }
        self.set(next)
    }

    /// The API server answered `/version` (or why not) at `now_ms`.
    pub fn heartbeat(&mut self, answer: Result<(), Failure>, now_ms: u64) -> Option<Connection> {
        match answer {
            // Back: a resumed watch yields nothing until something changes.
            Ok(()) if self.ever_live && !self.is_live() => {
                self.listed.iter_mut().for_each(|l| *l = true);
                self.set(Connection::Live)
            }
            Err(Failure::Other(reason)) if self.is_live() => self.set(Connection::Stale {
                since_ms: now_ms,
                reason,
            }),
            _ => None,
        }
    }

    /// The orchestra cannot even be tried (e.g. no client could be built).
    pub fn unreachable(&mut self, reason: String) -> Option<Connection> {
        self.set(Connection::Unreachable(reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn other(r: &str) -> Failure {
        Failure::Other(r.into())
    }

    #[test]
    fn live_once_every_list_completed() {
        let mut c = ConnectionState::new(2);
        assert_eq!(c.current(), &Connection::Connecting);
        assert_eq!(c.listed(0), None);
        assert_eq!(c.listed(1), Some(Connection::Live));
        assert_eq!(c.listed(1), None, "already live");
    }

    #[test]
    fn never_live_is_unreachable_then_unauthorized() {
        let mut c = ConnectionState::new(1);
        assert_eq!(
            c.watch_failed(0, other("503 down"), 10),
            Some(Connection::Unreachable("503 down".into()))
        );
        assert_eq!(c.watch_failed(0, other("503 down"), 20), None);
        assert_eq!(
            c.watch_failed(0, Failure::Unauthorized("forbidden".into()), 30),
            Some(Connection::Unauthorized("forbidden".into()))
        );
        // The heartbeat cannot make a never-listed orchestra live.
        assert_eq!(c.heartbeat(Ok(()), 40), None);
        assert_eq!(c.listed(0), Some(Connection::Live));
    }

    #[test]
    fn stale_since_the_first_failure_and_live_again_on_a_heartbeat() {
        let mut c = ConnectionState::new(2);
        c.listed(0);
        c.listed(1);
        let stale = Connection::Stale {
            since_ms: 1_000,
            reason: "connection refused".into(),
        };
        assert_eq!(
            c.watch_failed(1, other("connection refused"), 1_000),
            Some(stale.clone())
        );
        assert_eq!(c.watch_failed(0, other("reset"), 2_000), None);
        assert_eq!(c.current(), &stale, "keeps its first time and reason");
        // The server answers again: live, and every list counts as done.
        assert_eq!(c.heartbeat(Ok(()), 3_000), Some(Connection::Live));
        assert_eq!(c.heartbeat(Ok(()), 4_000), None);
        // A hung connection: the heartbeat notices.
        assert_eq!(
            c.heartbeat(Err(other("no answer within 5s")), 5_000),
            Some(Connection::Stale {
                since_ms: 5_000,
                reason: "no answer within 5s".into()
            })
        );
        // A refused heartbeat says nothing on its own.
        assert_eq!(
            c.heartbeat(Err(Failure::Unauthorized("x".into())), 6_000),
            None
        );
        assert_eq!(c.listed(0), Some(Connection::Live));
    }
}
