//! The truth of a Raft group over time: when a leader with quorum existed (a running, reachable
//! leader acknowledged by a majority of the voters in its term) and when none did, and every
//! write that failed. Tests ask it "was quorum lost during this operation?".

use std::collections::VecDeque;
use std::time::{Instant, SystemTime};

use super::WriteError;

/// Quorum changes and failed writes kept per group (older ones are forgotten).
const KEEP: usize = 1024;

/// Something that happened to a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Happening {
    /// From now on `leader` leads with a quorum in `term`.
    Quorum { leader: u64, term: u64 },
    /// From now on no leader has a quorum.
    NoQuorum,
    /// A write (sequence number `seq`) failed.
    WriteFailed { seq: u64, reason: WriteError },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimelineEvent {
    pub at: Instant,
    pub wall: SystemTime,
    pub what: Happening,
}

/// A stretch of time with (`leader` = Some((id, term))) or without a leader with quorum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuorumInterval {
    pub from: Instant,
    /// `None`: still going on.
    pub to: Option<Instant>,
    pub leader: Option<(u64, u64)>,
}

/// A copy of a group's truth (see `RaftGroup::timeline`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    pub group: String,
    /// Events in time order: quorum changes and failed writes.
    pub events: Vec<TimelineEvent>,
    /// History before this instant was forgotten (the group's creation unless it is old).
    pub known_from: Instant,
    pub writes_ok: u64,
    pub writes_failed: u64,
    /// Times a leader with quorum was lost after the group first had one.
    pub quorum_losses: u64,
    /// The leader with quorum right now, as (id, term).
    pub quorum_now: Option<(u64, u64)>,
    pub taken_at: Instant,
}

impl Timeline {
    /// The quorum intervals, oldest first; the first starts at `known_from`.
    pub fn quorum_intervals(&self) -> Vec<QuorumInterval> {
        let mut out: Vec<QuorumInterval> = Vec::new();
        for e in &self.events {
            let leader = match e.what {
                Happening::Quorum { leader, term } => Some((leader, term)),
                Happening::NoQuorum => None,
                Happening::WriteFailed { .. } => continue,
            };
            if let Some(last) = out.last_mut() {
                last.to = Some(e.at);
            }
            out.push(QuorumInterval {
                from: e.at,
                to: None,
                leader,
            });
        }
        out
    }

    /// Milliseconds within [t0, t1] during which no leader had a quorum (time before
    /// `known_from` is not counted; an open interval runs to when the timeline was taken).
    pub fn quorum_lost_ms_between(&self, t0: Instant, t1: Instant) -> u64 {
        let mut lost = std::time::Duration::ZERO;
        for iv in self.quorum_intervals() {
            if iv.leader.is_some() {
                continue;
            }
            let from = iv.from.max(t0);
            let to = iv.to.unwrap_or(self.taken_at).min(t1);
            if to > from {
                lost += to - from;
            }
        }
        lost.as_millis() as u64
    }

    /// How often a leader with quorum was lost within [t0, t1].
    pub fn quorum_losses_between(&self, t0: Instant, t1: Instant) -> usize {
        let mut had = false;
        let mut n = 0;
        for e in &self.events {
            match e.what {
                Happening::Quorum { .. } => had = true,
                Happening::NoQuorum => {
                    if had && e.at >= t0 && e.at <= t1 {
                        n += 1;
                    }
                    had = false;
                }
                Happening::WriteFailed { .. } => {}
            }
        }
        n
    }

    /// The writes that failed within [t0, t1], as (when, seq, why).
    pub fn failed_writes_between(
        &self,
        t0: Instant,
        t1: Instant,
    ) -> Vec<(Instant, u64, WriteError)> {
        self.events
            .iter()
            .filter(|e| e.at >= t0 && e.at <= t1)
            .filter_map(|e| match e.what {
                Happening::WriteFailed { seq, reason } => Some((e.at, seq, reason)),
                _ => None,
            })
            .collect()
    }

    /// The leaders with quorum within [t0, t1], as (id, term), in order, without repeats.
    pub fn leaders_between(&self, t0: Instant, t1: Instant) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for iv in self.quorum_intervals() {
            let to = iv.to.unwrap_or(self.taken_at);
            if let Some(l) = iv.leader
                && to >= t0
                && iv.from <= t1
                && out.last() != Some(&l)
            {
                out.push(l);
            }
        }
        out
    }
}

/// The live record inside a group.
pub(crate) struct TimelineLog {
    quorum: VecDeque<TimelineEvent>,
    failures: VecDeque<TimelineEvent>,
    pub(crate) now: Option<(u64, u64)>,
    pub(crate) ever: bool,
    pub(crate) writes_ok: u64,
    pub(crate) writes_failed: u64,
    pub(crate) losses: u64,
}

impl TimelineLog {
    pub(crate) fn new(at: Instant) -> Self {
        let mut quorum = VecDeque::new();
        quorum.push_back(TimelineEvent {
            at,
            wall: SystemTime::now(),
            what: Happening::NoQuorum,
        });
        Self {
            quorum,
            failures: VecDeque::new(),
            now: None,
            ever: false,
            writes_ok: 0,
            writes_failed: 0,
            losses: 0,
        }
    }

    /// Records the leader with quorum (or none) if it changed.
    pub(crate) fn set_quorum(&mut self, at: Instant, q: Option<(u64, u64)>) {
        if q == self.now {
            return;
        }
        if self.now.is_some() && q.is_none() {
            self.losses += 1;
        }
        self.ever |= q.is_some();
        self.now = q;
        if self.quorum.len() >= KEEP {
            self.quorum.pop_front();
        }
        self.quorum.push_back(TimelineEvent {
            at,
            wall: SystemTime::now(),
            what: match q {
                Some((leader, term)) => Happening::Quorum { leader, term },
                None => Happening::NoQuorum,
            },
        });
    }

    pub(crate) fn write_failed(&mut self, at: Instant, seq: u64, reason: WriteError) {
        self.writes_failed += 1;
        if self.failures.len() >= KEEP {
            self.failures.pop_front();
        }
        self.failures.push_back(TimelineEvent {
            at,
            wall: SystemTime::now(),
            what: Happening::WriteFailed { seq, reason },
        });
    }

    pub(crate) fn snapshot(&self, group: &str, taken_at: Instant) -> Timeline {
        let mut events: Vec<TimelineEvent> = self
            .quorum
            .iter()
            .chain(self.failures.iter())
            .copied()
            .collect();
        events.sort_by_key(|e| e.at);
        Timeline {
            group: group.to_string(),
            known_from: self.quorum.front().map_or(taken_at, |e| e.at),
            events,
            writes_ok: self.writes_ok,
            writes_failed: self.writes_failed,
            quorum_losses: self.losses,
            quorum_now: self.now,
            taken_at,
        }
    }
}
