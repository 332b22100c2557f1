//! When each database of one orchestra is probed next, and which of its members: the open
//! database about every second, visible rows every few seconds, the rest of the fleet slower, a
//! database that is not healthy sooner, and a database whose pods changed at once. Up to 10 %
//! jitter keeps databases on screen or unsettled from moving in lockstep (healthy ones off screen
//! keep their orchestra's beat, below); the jitter source is injected, so the schedule is
//! unit-tested without a clock (times are `tokio::time::Instant`s passed in).
//!
//! Off screen, a healthy database is watched through its leader alone (the sentinel): the
//! leader's answer says whether it still leads, in which term where the profile tells it (etcd;
//! Neo4j's cluster status has no term) and with which voting members where it tells them
//! (Neo4j). The same leader, healthy, in the same term with the same voters means nothing the
//! leader can tell changed, and its followers keep their last answers; anything else makes the
//! whole database due at once. Every [`FULL_EVERY`]th background round
//! probes every member anyway (a follower can fall behind without the leader changing) — every
//! [`QUIET_FULL_EVERY`]th while the leader applies nothing (no write, no falling behind) — and pod
//! changes from the watches make a database due at once as before. Only full rounds are shown
//! (see [`Schedule::answered`]).
//!
//! An orchestra's healthy databases off screen are due together, on its beat (one instant per
//! background interval, a different phase per orchestra, see [`Schedule::with_beat`]): fifty
//! leader probes leave on one HTTP/2 connection in one burst, where each alone woke the
//! runtime, wrote and read the socket and parked again. No database waits longer than the
//! background interval for it: the beat is the first one after its answer.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::Focus;
use crate::fleet::{DbKey, DbRef, Probe};
use crate::probe::Endpoint;

/// Background rounds of a healthy database: every this many, all members; else the leader only.
pub const FULL_EVERY: u32 = 6;
/// The same for a quiet database: one whose leader has applied nothing since the last full round
/// found every member healthy and caught up. Nothing was written, so no follower can have fallen
/// further behind; the full round is then only there for a follower that went wrong without its
/// pod or the leader showing it (10 minutes at 25 s, 24 at the default 60 s).
pub const QUIET_FULL_EVERY: u32 = 24;

/// Probe intervals by how much the database is looked at.
#[derive(Debug, Clone, Copy)]
pub struct Intervals {
    pub open: Duration,
    pub visible: Duration,
    /// A healthy database off screen: the orchestra's `background_interval` (the engine sets it
    /// per orchestra from the config).
    pub background: Duration,
    /// A database that is not healthy (no leader yet, lagging, probe errors) off screen: soon
    /// enough that a fresh or recovering database does not look down for long.
    pub unsettled: Duration,
    /// The longest a probe may take.
    pub timeout: Duration,
}

impl Default for Intervals {
    fn default() -> Self {
        Self {
            open: Duration::from_millis(1000),
            visible: Duration::from_secs(4),
            background: Duration::from_secs(60),
            unsettled: Duration::from_secs(4),
            timeout: Duration::from_secs(3),
        }
    }
}

/// A uniform random number in [0, 1) for the jitter.
pub type Jitter = Box<dyn FnMut() -> f64 + Send>;

/// The default jitter source.
pub fn random_jitter() -> Jitter {
    Box::new(rand::random::<f64>)
}

/// A database's members by pod name: a sorted `Vec` (three to five members; a `BTreeMap` per
/// database allocated a node of eleven slots each, 12 MiB on the fleet profile).
#[derive(Default)]
struct Members(Vec<Endpoint>);

impl Members {
    fn find(&self, pod: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|e| e.pod.as_str().cmp(pod))
    }

    fn get(&self, pod: &str) -> Option<&Endpoint> {
        self.find(pod).ok().map(|i| &self.0[i])
    }

    fn insert(&mut self, ep: Endpoint) {
        match self.find(&ep.pod) {
            Ok(i) => self.0[i] = ep,
            Err(i) => {
                // Exactly one more: a database's members, kept for the whole session.
                self.0.reserve_exact(1);
                self.0.insert(i, ep);
            }
        }
    }

    fn remove(&mut self, pod: &str) {
        if let Ok(i) = self.find(pod) {
            self.0.remove(i);
        }
    }

    fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.0.retain(|e| keep(&e.pod));
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// How much a database is looked at, as the focus last said (kept per database so a probe's
/// bookkeeping compares no keys and allocates nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Eye {
    Open,
    Visible,
    Off,
}

/// Probe bookkeeping of one database.
struct DbProbe {
    profile: usize,
    eye: Eye,
    members: Members,
    due: Instant,
    in_flight: bool,
    healthy: bool,
    /// The leader's answer after the last full round that found the database healthy.
    leader: Option<Box<Sentinel>>,
    /// Leader-only rounds since the last full one.
    quiet_rounds: u32,
    /// Since the last full round the leader applied something, or its answer does not tell
    /// (then the full rounds come every [`FULL_EVERY`], else every [`QUIET_FULL_EVERY`]).
    wrote: bool,
    /// The round in flight probes the leader only.
    sentinel: bool,
}

/// What a healthy leader said that a leader-only round compares: its pod, and the term and
/// the voting members where the profile tells them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sentinel {
    pod: String,
    member_id: String,
    term: Option<u64>,
    voters: std::sync::Arc<[String]>,
    /// Its applied index then (not compared for sameness: it only says whether the database is
    /// quiet).
    applied: Option<u64>,
}

/// A database due for a probe of all its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub db: DbRef,
    pub profile: usize,
    pub members: Vec<Endpoint>,
    /// Only the known leader is probed (the others keep their last answers).
    pub sentinel: bool,
}

pub struct Schedule {
    orchestra: String,
    intervals: Intervals,
    dbs: BTreeMap<DbRef, DbProbe>,
    jitter: Jitter,
    /// What is on screen, as last told ([`Schedule::refocus`], [`Schedule::probed`]).
    focus: Focus,
    /// One instant of the orchestra's beat, if it has one (else background rounds are jittered
    /// like the others).
    beat: Option<Instant>,
}

impl Schedule {
    pub fn new(orchestra: &str, intervals: Intervals, jitter: Jitter) -> Self {
        Self {
            orchestra: orchestra.into(),
            intervals,
            dbs: BTreeMap::new(),
            jitter,
            focus: Focus::default(),
            beat: None,
        }
    }

    /// Background rounds of healthy databases off screen fall on the beat through `at`: every
    /// background interval from it (before or after `at`).
    pub fn with_beat(mut self, at: Instant) -> Self {
        self.beat = Some(at);
        self
    }

    /// When a database looked at by `eye` (healthy or not) is due next, from `now`: a healthy
    /// one off screen on the first beat after `now` (within one background interval), any
    /// other after its jittered interval.
    fn due_after(
        beat: Option<Instant>,
        intervals: &Intervals,
        jitter: &mut Jitter,
        (eye, healthy): (Eye, bool),
        now: Instant,
    ) -> Instant {
        let period = intervals.background;
        match beat {
            Some(at) if eye == Eye::Off && healthy && !period.is_zero() => {
                next_beat(at, period, now)
            }
            _ => now + jittered(jitter, intervals.of(eye, healthy)),
        }
    }

    /// Members of `profile` seen (`complete`: every member of that profile; databases and
    /// members not in it are gone). A database whose members changed is due at once.
    pub fn members(
        &mut self,
        profile: usize,
        members: &[(DbRef, Endpoint)],
        complete: bool,
        now: Instant,
    ) {
        if complete {
            self.dbs
                .retain(|db, d| d.profile != profile || members.iter().any(|(r, _)| r == db));
        }
        for (db, ep) in members {
            let (focus, orchestra) = (&self.focus, &self.orchestra);
            let d = self.dbs.entry(db.clone()).or_insert_with(|| DbProbe {
                profile,
                eye: eye_of(focus, orchestra, db),
                members: Members::default(),
                due: now,
                in_flight: false,
                healthy: false,
                leader: None,
                quiet_rounds: 0,
                wrote: true,
                sentinel: false,
            });
            if d.members.get(&ep.pod) != Some(ep) {
                d.members.insert(ep.clone());
                d.due = now;
            }
        }
        if complete {
            for (db, d) in self.dbs.iter_mut().filter(|(_, d)| d.profile == profile) {
                d.members
                    .retain(|name| members.iter().any(|(r, e)| r == db && e.pod == name));
            }
        }
    }

    /// A member was deleted: its database is due at once (or gone with its last member).
    pub fn gone(&mut self, db: &DbRef, pod: &str, now: Instant) {
        if let Some(d) = self.dbs.get_mut(db) {
            d.members.remove(pod);
            d.due = now;
            if d.members.is_empty() {
                self.dbs.remove(db);
            }
        }
    }

    /// Pod names of a database's members.
    pub fn member_names(&self, db: &DbRef) -> Vec<String> {
        self.dbs
            .get(db)
            .map(|d| d.members.0.iter().map(|e| e.pod.clone()).collect())
            .unwrap_or_default()
    }

    /// When the next probe is due (none in flight counted).
    pub fn next_due(&self) -> Option<Instant> {
        self.dbs
            .values()
            .filter(|d| !d.in_flight)
            .map(|d| d.due)
            .min()
    }

    /// Probe rounds in flight.
    pub fn in_flight(&self) -> usize {
        self.dbs.values().filter(|d| d.in_flight).count()
    }

    /// When the next round is due of a database on screen, and of one off screen (none when
    /// `max`, the room for rounds off screen, is 0): the supervisor wakes at once for the first
    /// and on its grid for the second.
    pub fn next_due_split(&self, max: usize) -> (Option<Instant>, Option<Instant>) {
        let (mut shown, mut off) = (None::<Instant>, None::<Instant>);
        for d in self.dbs.values().filter(|d| !d.in_flight) {
            let slot = if d.eye == Eye::Off {
                &mut off
            } else {
                &mut shown
            };
            *slot = Some(slot.map_or(d.due, |t| t.min(d.due)));
        }
        (shown, off.filter(|_| max > 0))
    }

    /// The databases due at `now`, marked in flight until `probed`: off screen and healthy with
    /// a known leader, the leader alone (see the module's doc).
    pub fn take_due(&mut self, now: Instant) -> Vec<Due> {
        self.take_due_at_most(now, usize::MAX)
    }

    /// As [`Schedule::take_due`], but at most `max` rounds of databases off screen (the longest
    /// overdue first); those on screen are always taken. The rest stay due: a round in flight is
    /// a task and its buffers, and 10 000 at once at startup cost tens of MiB only to wait on the
    /// probe limits.
    pub fn take_due_at_most(&mut self, now: Instant, max: usize) -> Vec<Due> {
        let mut due: Vec<(bool, Instant, &DbRef)> = self
            .dbs
            .iter()
            .filter(|(_, d)| !d.in_flight && d.due <= now)
            .map(|(db, d)| (d.eye == Eye::Off, d.due, db))
            .collect();
        let on_screen = due.iter().filter(|(off, _, _)| !off).count();
        let keep = on_screen.saturating_add(max);
        if due.len() > keep {
            // Those on screen, then the longest overdue: selected, not sorted, and never by
            // name (an orchestra's beat makes fifty databases due at one instant, and this
            // runs again each time a round ends).
            due.select_nth_unstable_by_key(keep, |&(off, at, _)| (off, at));
            due.truncate(keep);
        }
        let picked: Vec<DbRef> = due.into_iter().map(|(_, _, db)| db.clone()).collect();
        let mut out = Vec::with_capacity(picked.len());
        for db in picked {
            let Some(d) = self.dbs.get_mut(&db) else {
                continue;
            };
            d.in_flight = true;
            let every = if d.wrote {
                FULL_EVERY
            } else {
                QUIET_FULL_EVERY
            };
            let leader = d
                .leader
                .as_ref()
                .and_then(|l| d.members.get(&l.pod))
                .filter(|_| d.eye == Eye::Off && d.healthy && d.quiet_rounds + 1 < every);
            d.sentinel = leader.is_some();
            out.push(Due {
                db,
                profile: d.profile,
                members: match leader {
                    Some(ep) => vec![ep.clone()],
                    None => d.members.0.clone(),
                },
                sentinel: d.sentinel,
            });
        }
        out
    }

    /// A database's probe round came back at `now` with `results` ((pod, answer) of the members
    /// probed) and `healthy` (as the round saw it). A leader-only round that found the same
    /// leader saying the same (see [`Sentinel`]) waits its interval; one that did not makes the
    /// whole database due at once.
    ///
    /// Returns whether the answers are to be shown: a full round's are; a leader-only round's
    /// are not, as the leader's fresh applied index beside its followers' older ones would read
    /// as lag, and the leader said either what it said before or that something changed, and
    /// then the full round that follows at once shows everything from one moment.
    pub fn answered(
        &mut self,
        db: &DbRef,
        results: &[(String, Probe)],
        healthy: bool,
        focus: &Focus,
        now: Instant,
    ) -> bool {
        let leading = results.iter().find_map(|(pod, p)| match p {
            Probe::Ok(r) if r.is_leader && r.healthy => Some((pod, r)),
            _ => None,
        });
        let Some(d) = self.dbs.get_mut(db) else {
            return true;
        };
        if d.sentinel {
            d.sentinel = false;
            let same = match (&leading, &d.leader) {
                (Some((pod, r)), Some(s)) => {
                    s.pod == **pod
                        && s.member_id == r.member_id
                        && s.term == r.term
                        && s.voters == r.voters
                }
                _ => false,
            };
            if same {
                d.quiet_rounds += 1;
                // An index that moved, or none to tell by (then `wrote` is set already).
                let applied = leading.and_then(|(_, r)| r.applied_index);
                if d.leader.as_ref().map(|s| s.applied) != Some(applied) {
                    d.wrote = true;
                }
                self.probed(db, true, focus, now);
            } else {
                tracing::debug!(orchestra = %self.orchestra, database = %db.name, "the leader's answer changed: probing every member");
                d.leader = None;
                d.in_flight = false;
                d.due = now;
            }
            return false;
        }
        let fresh = d.leader.is_none();
        d.quiet_rounds = 0;
        d.leader = leading.filter(|_| healthy).map(|(pod, r)| {
            Box::new(Sentinel {
                pod: pod.clone(),
                member_id: r.member_id.clone(),
                term: r.term,
                voters: r.voters.clone(),
                applied: r.applied_index,
            })
        });
        d.wrote = d.leader.as_ref().is_none_or(|s| s.applied.is_none());
        if fresh && d.leader.is_some() && self.beat.is_some() {
            // On the beat, a new sentinel starts at its own phase of the full-round cycle.
            d.quiet_rounds = stagger(
                db,
                if d.wrote {
                    FULL_EVERY
                } else {
                    QUIET_FULL_EVERY
                },
            );
        }
        self.probed(db, healthy, focus, now);
        true
    }

    /// A database's probe came back at `now`: next due after its interval.
    pub fn probed(&mut self, db: &DbRef, healthy: bool, focus: &Focus, now: Instant) {
        self.see(focus);
        let Self {
            dbs,
            intervals,
            jitter,
            beat,
            ..
        } = self;
        if let Some(d) = dbs.get_mut(db) {
            d.in_flight = false;
            d.healthy = healthy;
            d.due = Self::due_after(*beat, intervals, jitter, (d.eye, healthy), now);
        }
    }

    /// What is shown changed: newly focused databases are probed sooner (never later).
    pub fn refocus(&mut self, focus: &Focus, now: Instant) {
        self.see(focus);
        let Self {
            dbs,
            intervals,
            jitter,
            beat,
            ..
        } = self;
        for d in dbs.values_mut() {
            let due = Self::due_after(*beat, intervals, jitter, (d.eye, d.healthy), now);
            if due < d.due {
                d.due = due;
            }
        }
    }

    /// Takes `focus` as what is shown, when it is not already (a probe's answer passes the
    /// focus it was judged under; the common case compares and copies nothing).
    fn see(&mut self, focus: &Focus) {
        if self.focus == *focus {
            return;
        }
        self.focus = focus.clone();
        for (db, d) in self.dbs.iter_mut() {
            d.eye = eye_of(&self.focus, &self.orchestra, db);
        }
    }
}

/// The first instant after `now` of the beat through `at` every `period` (not zero).
fn next_beat(at: Instant, period: Duration, now: Instant) -> Instant {
    let p = period.as_nanos();
    if now >= at {
        let steps = (now - at).as_nanos() / p + 1;
        at + Duration::from_nanos(u64::try_from(steps.saturating_mul(p)).unwrap_or(u64::MAX))
    } else {
        // `at` is ahead: step back while a beat before it is still after `now`.
        let back = (at - now).as_nanos().saturating_sub(1) / p;
        at - Duration::from_nanos(u64::try_from(back.saturating_mul(p)).unwrap_or(0))
    }
}

/// Where in a cycle of `every` rounds a database's full rounds fall, from its name: an
/// orchestra's databases share its beat and all found their first leader in the same few
/// seconds, so without it every one of them would probe all its members on the same beat, a
/// burst of three times the usual probes once a cycle (24 minutes at 60 s) and idle otherwise.
/// Spread, each beat carries its share, and a quiet fleet's cost is the same in any interval.
fn stagger(db: &DbRef, every: u32) -> u32 {
    // FNV-1a: stable across runs and builds (std's hasher is seeded).
    let h = db
        .namespace
        .bytes()
        .chain([b'/'])
        .chain(db.name.bytes())
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    u32::try_from(h % u64::from(every.max(1))).unwrap_or(0)
}

/// `base` plus up to 10 % of it.
fn jittered(jitter: &mut Jitter, base: Duration) -> Duration {
    let j = jitter().clamp(0.0, 1.0);
    base + base.mul_f64(j * 0.1)
}

/// How much `focus` looks at `db` of `orchestra`.
fn eye_of(focus: &Focus, orchestra: &str, db: &DbRef) -> Eye {
    let is =
        |k: &DbKey| k.orchestra == orchestra && k.namespace == db.namespace && k.name == db.name;
    if focus.open.as_ref().is_some_and(is) {
        Eye::Open
    } else if focus.visible.iter().any(is) {
        Eye::Visible
    } else {
        Eye::Off
    }
}

impl Intervals {
    /// The interval before jitter of a database looked at so much, healthy or not.
    fn of(&self, eye: Eye, healthy: bool) -> Duration {
        match (eye, healthy) {
            (Eye::Open, true) => self.open,
            (Eye::Open, false) => self.open / 2,
            (Eye::Visible, true) => self.visible,
            (Eye::Visible, false) => self.visible.min(self.unsettled) / 2,
            (Eye::Off, true) => self.background,
            (Eye::Off, false) => self.unsettled,
        }
    }
}

#[cfg(test)]
mod tests;
