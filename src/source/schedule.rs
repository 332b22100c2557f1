//! When each database of one orchestra is probed next: the open database about every second,
//! visible rows every few seconds, the rest of the fleet slower, a database that is not healthy
//! sooner, and a database whose pods changed at once. Up to 10 % jitter keeps databases from
//! moving in lockstep; the jitter source is injected, so the schedule is unit-tested without a
//! clock (times are `tokio::time::Instant`s passed in).

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::Focus;
use crate::fleet::{DbKey, DbRef};
use crate::probe::Endpoint;

/// Probe intervals by how much the database is looked at.
#[derive(Debug, Clone, Copy)]
pub struct Intervals {
    pub open: Duration,
    pub visible: Duration,
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
            background: Duration::from_secs(25),
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

/// Probe bookkeeping of one database.
struct DbProbe {
    profile: usize,
    members: BTreeMap<String, Endpoint>,
    due: Instant,
    in_flight: bool,
    healthy: bool,
}

/// A database due for a probe of all its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub db: DbRef,
    pub profile: usize,
    pub members: Vec<Endpoint>,
}

pub struct Schedule {
    orchestra: String,
    intervals: Intervals,
    dbs: BTreeMap<DbRef, DbProbe>,
    jitter: Jitter,
}

impl Schedule {
    pub fn new(orchestra: &str, intervals: Intervals, jitter: Jitter) -> Self {
        Self {
            orchestra: orchestra.into(),
            intervals,
            dbs: BTreeMap::new(),
            jitter,
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
            let d = self.dbs.entry(db.clone()).or_insert_with(|| DbProbe {
                profile,
                members: BTreeMap::new(),
                due: now,
                in_flight: false,
                healthy: false,
            });
            if d.members.get(&ep.pod) != Some(ep) {
                d.members.insert(ep.pod.clone(), ep.clone());
                d.due = now;
            }
        }
        if complete {
            for (db, d) in self.dbs.iter_mut().filter(|(_, d)| d.profile == profile) {
                d.members
                    .retain(|name, _| members.iter().any(|(r, e)| r == db && &e.pod == name));
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
            .map(|d| d.members.keys().cloned().collect())
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

    /// The databases due at `now`, marked in flight until `probed`.
    pub fn take_due(&mut self, now: Instant) -> Vec<Due> {
        self.dbs
            .iter_mut()
            .filter(|(_, d)| !d.in_flight && d.due <= now)
            .map(|(db, d)| {
                d.in_flight = true;
                Due {
                    db: db.clone(),
                    profile: d.profile,
                    members: d.members.values().cloned().collect(),
                }
            })
            .collect()
    }

    /// A database's probe came back at `now`: next due after its interval.
    pub fn probed(&mut self, db: &DbRef, healthy: bool, focus: &Focus, now: Instant) {
        let Some(base) = self
            .dbs
            .get(db)
            .map(|_| self.base_interval(db, healthy, focus))
        else {
            return;
        };
        let next = now + self.jittered(base);
        if let Some(d) = self.dbs.get_mut(db) {
            d.in_flight = false;
            d.healthy = healthy;
            d.due = next;
        }
    }

    /// What is shown changed: newly focused databases are probed sooner (never later).
    pub fn refocus(&mut self, focus: &Focus, now: Instant) {
        let dues: Vec<(DbRef, Duration)> = self
            .dbs
            .iter()
            .map(|(db, d)| (db.clone(), self.base_interval(db, d.healthy, focus)))
            .collect();
        for (db, base) in dues {
            let due = now + self.jittered(base);
            if let Some(d) = self.dbs.get_mut(&db)
                && due < d.due
            {
                d.due = due;
            }
        }
    }

    fn jittered(&mut self, base: Duration) -> Duration {
        let j = (self.jitter)().clamp(0.0, 1.0);
        base + base.mul_f64(j * 0.1)
    }

    /// The interval before jitter.
    fn base_interval(&self, db: &DbRef, healthy: bool, focus: &Focus) -> Duration {
        let is = |k: &DbKey| {
            k.orchestra == self.orchestra && k.namespace == db.namespace && k.name == db.name
        };
        let i = &self.intervals;
        if focus.open.as_ref().is_some_and(is) {
            if healthy { i.open } else { i.open / 2 }
        } else if focus.visible.iter().any(is) {
            if healthy {
                i.visible
            } else {
                i.visible.min(i.unsettled) / 2
            }
        } else if healthy {
            i.background
        } else {
            i.unsettled
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProbeKind;

    fn db(name: &str) -> DbRef {
        DbRef {
            namespace: "ns".into(),
            name: name.into(),
        }
    }

    fn ep(db: &str, pod: &str, ip: &str) -> (DbRef, Endpoint) {
        (
            self::db(db),
            Endpoint {
                namespace: "ns".into(),
                pod: pod.into(),
                address: ip.into(),
                port: 7474,
                kind: ProbeKind::Neo4j,
            },
        )
    }

    fn key(name: &str) -> DbKey {
        DbKey::new("o1", &db(name))
    }

    fn schedule(jitter: f64) -> Schedule {
        Schedule::new("o1", Intervals::default(), Box::new(move || jitter))
    }

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn intervals_follow_the_eyes_and_health() {
        let t0 = Instant::now();
        let mut s = schedule(0.0);
        s.members(0, &[ep("a", "a-0", "1"), ep("b", "b-0", "2")], true, t0);
        assert_eq!(s.take_due(t0).len(), 2, "new databases are due at once");
        assert_eq!(s.next_due(), None, "both in flight");
        let open = Focus {
            open: Some(key("a")),
            visible: vec![key("b")],
        };
        s.probed(&db("a"), true, &open, t0);
        s.probed(&db("b"), true, &open, t0);
        assert_eq!(s.next_due(), Some(t0 + S), "the open database every second");
        assert_eq!(s.take_due(t0 + S).len(), 1);
        // Unhealthy: the open one twice as often; visible at most every 2 s; background 4 s.
        s.probed(&db("a"), false, &open, t0);
        assert_eq!(s.next_due(), Some(t0 + S / 2));
        let none = Focus::default();
        s.take_due(t0 + 4 * S);
        s.probed(&db("a"), false, &none, t0);
        s.probed(&db("b"), true, &none, t0);
        let mut dues = vec![s.take_due(t0 + 4 * S), s.take_due(t0 + 25 * S)];
        assert_eq!(dues[0][0].db, db("a"), "unsettled after 4 s");
        assert_eq!(
            dues.pop().map(|d| d[0].db.clone()),
            Some(db("b")),
            "healthy after 25 s"
        );
        // Jitter adds up to 10 %.
        let mut s = schedule(1.0);
        s.members(0, &[ep("a", "a-0", "1")], true, t0);
        s.take_due(t0);
        s.probed(&db("a"), true, &open, t0);
        assert_eq!(s.next_due(), Some(t0 + S + S / 10));
    }

    #[test]
    fn changed_pods_are_due_at_once_and_relists_forget() {
        let t0 = Instant::now();
        let mut s = schedule(0.0);
        s.members(0, &[ep("a", "a-0", "1"), ep("a", "a-1", "2")], true, t0);
        s.take_due(t0);
        s.probed(&db("a"), true, &Focus::default(), t0);
        let later = t0 + 3 * S;
        // The same pods again: no change.
        s.members(0, &[ep("a", "a-0", "1")], false, later);
        assert_eq!(s.next_due(), Some(t0 + 25 * S));
        // A new IP: due now.
        s.members(0, &[ep("a", "a-0", "9")], false, later);
        assert_eq!(s.next_due(), Some(later));
        s.gone(&db("a"), "a-1", later);
        assert_eq!(s.member_names(&db("a")), ["a-0"]);
        // A relist of profile 0 without a, but with b: a is forgotten; profile 1 untouched.
        s.members(1, &[ep("c", "c-0", "3")], true, later);
        s.members(0, &[ep("b", "b-0", "4")], true, later);
        assert!(s.member_names(&db("a")).is_empty());
        let due: Vec<String> = s.take_due(later).into_iter().map(|d| d.db.name).collect();
        assert_eq!(due, ["b", "c"]);
        s.gone(&db("b"), "b-0", later);
        assert!(s.member_names(&db("b")).is_empty());
    }

    #[test]
    fn focus_pulls_probes_earlier_never_later() {
        let t0 = Instant::now();
        let mut s = schedule(0.0);
        s.members(0, &[ep("a", "a-0", "1")], true, t0);
        s.take_due(t0);
        s.probed(&db("a"), true, &Focus::default(), t0);
        assert_eq!(s.next_due(), Some(t0 + 25 * S));
        let open = Focus {
            open: Some(key("a")),
            visible: vec![],
        };
        s.refocus(&open, t0 + S);
        assert_eq!(s.next_due(), Some(t0 + 2 * S));
        s.refocus(&Focus::default(), t0 + S);
        assert_eq!(s.next_due(), Some(t0 + 2 * S), "not pushed back");
    }
}
