//! The lab's network between Raft members: [`RaftNetwork`] carries every message of every
//! group, addressed by (group, member id), and is where faults are injected — a partition
//! drops everything to and from a member, a delay holds its messages back, a stall (a GC-like
//! pause) stops the member from ticking or processing and holds messages for it until it
//! resumes. Each group has one [`Wire`]; its driver is woken when the wire's faults change.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use raft::eraftpb::Message;
use tokio::sync::Notify;

/// Messages held for one group at most; the oldest go first beyond it (a long stall).
const QUEUE_CAP: usize = 4096;

/// The faults of one group's members right now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    pub partitioned: Vec<u64>,
    pub delays: Vec<(u64, Duration)>,
    pub stalled_until: Vec<(u64, Instant)>,
}

#[derive(Default)]
pub(crate) struct WireState {
    partitioned: Vec<u64>,
    delays: Vec<(u64, Duration)>,
    stalls: Vec<(u64, Instant)>,
    /// In flight: (due, message), in send order.
    queue: Vec<(Instant, Message)>,
    /// When the faults last changed (a recent change keeps the group at the busy pace).
    pub(crate) changed_at: Option<Instant>,
    pub(crate) sent: u64,
    pub(crate) dropped: u64,
}

impl WireState {
    pub(crate) fn is_partitioned(&self, id: u64) -> bool {
        self.partitioned.contains(&id)
    }

    pub(crate) fn is_stalled(&self, id: u64, now: Instant) -> bool {
        self.stalls
            .iter()
            .any(|(m, until)| *m == id && *until > now)
    }

    fn delay_of(&self, id: u64) -> Duration {
        self.delays
            .iter()
            .find(|(m, _)| *m == id)
            .map_or(Duration::ZERO, |(_, d)| *d)
    }

    /// Any fault in force (expired stalls are dropped first by `expire`).
    pub(crate) fn has_faults(&self) -> bool {
        !self.partitioned.is_empty() || !self.delays.is_empty() || !self.stalls.is_empty()
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// Forgets stalls that are over.
    pub(crate) fn expire(&mut self, now: Instant) {
        if !self.stalls.is_empty() {
            self.stalls.retain(|(_, until)| *until > now);
            if self.stalls.is_empty() {
                self.changed_at = Some(now);
            }
        }
    }

    /// Sends `msg`; gives it back if the network dropped it.
    pub(crate) fn send(&mut self, msg: Message, now: Instant) -> Result<(), Message> {
        if self.is_partitioned(msg.from) || self.is_partitioned(msg.to) {
            self.dropped += 1;
            return Err(msg);
        }
        let due = now + self.delay_of(msg.from) + self.delay_of(msg.to);
        if self.queue.len() >= QUEUE_CAP {
            self.queue.remove(0);
            self.dropped += 1;
        }
        self.sent += 1;
        self.queue.push((due, msg));
        Ok(())
    }

    /// Moves the messages that are due to `deliver` (those for a stalled member wait) and
    /// those a partition caught in flight to `dropped`.
    pub(crate) fn take_due(
        &mut self,
        now: Instant,
        deliver: &mut Vec<Message>,
        dropped: &mut Vec<Message>,
    ) {
        if self.queue.is_empty() {
            return;
        }
        let mut keep = Vec::new();
        for (due, msg) in std::mem::take(&mut self.queue) {
            if due > now || self.is_stalled(msg.to, now) {
                keep.push((due, msg));
            } else if self.is_partitioned(msg.from) || self.is_partitioned(msg.to) {
                self.dropped += 1;
                dropped.push(msg);
            } else {
                deliver.push(msg);
            }
        }
        self.queue = keep;
    }

    /// When something on the wire next needs the driver: a message coming due, a stall ending.
    pub(crate) fn next_event(&self, now: Instant) -> Option<Instant> {
        let due = self.queue.iter().map(|(due, msg)| {
            let stall = self
                .stalls
                .iter()
                .filter(|(m, _)| *m == msg.to)
                .map(|(_, u)| *u)
                .max();
            stall.map_or(*due, |s| s.max(*due))
        });
        let stalls = self.stalls.iter().map(|(_, u)| *u);
        due.chain(stalls).min().map(|t| t.max(now))
    }
}

/// One group's part of the network.
pub struct Wire {
    state: Mutex<WireState>,
    wake: Notify,
}

impl Wire {
    fn new() -> Self {
        Self {
            state: Mutex::new(WireState::default()),
            wake: Notify::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, WireState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes the group's driver (it runs at once, then at the busy pace for a while).
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }

    fn change(&self, now: Instant, f: impl FnOnce(&mut WireState)) {
        {
            let mut st = self.lock();
            f(&mut st);
            st.changed_at = Some(now);
        }
        self.wake();
    }
}

/// The in-process network of every Raft group.
#[derive(Default)]
pub struct RaftNetwork {
    wires: Mutex<HashMap<String, Arc<Wire>>>,
}

impl RaftNetwork {
    pub fn new() -> Self {
        Self::default()
    }

    /// The wire of `group` (made on first use, so faults may be set before a group exists).
    pub fn wire(&self, group: &str) -> Arc<Wire> {
        self.wires
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(group.to_string())
            .or_insert_with(|| Arc::new(Wire::new()))
            .clone()
    }

    /// Forgets the wire of `group` and everything in flight on it.
    pub fn remove(&self, group: &str) {
        self.wires
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(group);
    }

    /// Drops every message to and from `member` until `heal`.
    pub fn partition(&self, group: &str, member: u64) {
        self.wire(group).change(Instant::now(), |st| {
            if !st.partitioned.contains(&member) {
                st.partitioned.push(member);
            }
        });
    }

    pub fn heal(&self, group: &str, member: u64) {
        self.wire(group)
            .change(Instant::now(), |st| st.partitioned.retain(|m| *m != member));
    }

    /// Heals every partition and delay of `group` and ends its stalls.
    pub fn heal_all(&self, group: &str) {
        self.wire(group).change(Instant::now(), |st| {
            st.partitioned.clear();
            st.delays.clear();
            st.stalls.clear();
        });
    }

    /// Delays every message to and from `member` by `delay` (zero removes the delay).
    pub fn set_delay(&self, group: &str, member: u64, delay: Duration) {
        self.wire(group).change(Instant::now(), |st| {
            st.delays.retain(|(m, _)| *m != member);
            if !delay.is_zero() {
                st.delays.push((member, delay));
            }
        });
    }

    /// Pauses `member` for `duration` (a GC pause): it neither ticks nor processes, and
    /// messages for it wait. A longer stall replaces a shorter one; zero ends it.
    pub fn stall(&self, group: &str, member: u64, duration: Duration) {
        let now = Instant::now();
        self.wire(group).change(now, |st| {
            st.stalls.retain(|(m, _)| *m != member);
            if !duration.is_zero() {
                st.stalls.push((member, now + duration));
            }
        });
    }

    pub fn is_partitioned(&self, group: &str, member: u64) -> bool {
        self.wire(group).lock().is_partitioned(member)
    }

    pub fn is_stalled(&self, group: &str, member: u64) -> bool {
        self.wire(group).lock().is_stalled(member, Instant::now())
    }

    /// The faults in force on `group`.
    pub fn faults(&self, group: &str) -> Faults {
        let now = Instant::now();
        let w = self.wire(group);
        let st = w.lock();
        Faults {
            partitioned: st.partitioned.clone(),
            delays: st.delays.clone(),
            stalled_until: st
                .stalls
                .iter()
                .filter(|(_, u)| *u > now)
                .copied()
                .collect(),
        }
    }

    /// Messages (sent, dropped) on `group` so far.
    pub fn counters(&self, group: &str) -> (u64, u64) {
        let w = self.wire(group);
        let st = w.lock();
        (st.sent, st.dropped)
    }
}
