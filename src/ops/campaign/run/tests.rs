//! Unit tests of the campaign's decision.

use super::*;

fn k(o: &str, name: &str) -> DbKey {
    DbKey {
        orchestra: o.into(),
        namespace: "ns".into(),
        name: name.into(),
    }
}

fn healthy(_: &DbKey) -> Option<Seen> {
    Some(Seen {
        health: Health::Healthy,
        reasons: Vec::new(),
        churn: false,
    })
}

/// A canary on o1, then a wave of four over o1 and o2, then one more.
fn campaign() -> Campaign {
    Campaign {
        waves: vec![
            vec![k("o1", "c")],
            vec![k("o1", "a"), k("o2", "b"), k("o1", "d"), k("o2", "e")],
            vec![k("o3", "f")],
        ],
        states: BTreeMap::new(),
        soak_ms: 600_000,
        limits: Limits {
            max_parallel: 10,
            max_per_orchestra: 1,
        },
        paused: false,
    }
}

fn running(started_ms: u64) -> DbState {
    DbState::Running {
        started_ms,
        holder: "ann@bastion pid 1".into(),
        job: None,
    }
}

/// Its operation ended done at `ended_ms`.
fn done(ended_ms: u64) -> DbState {
    DbState::Done {
        ended_ms,
        at_goal: false,
    }
}

fn names(v: &[DbKey]) -> Vec<&str> {
    v.iter().map(|k| k.name.as_str()).collect()
}

#[test]
fn the_canary_runs_and_soaks_before_anything_else_starts() {
    let mut c = campaign();
    let d = decide(&c, healthy, 0);
    assert_eq!((names(&d.start), d.wave), (vec!["c"], Some(0)));
    c.states.insert(k("o1", "c"), running(0));
    assert!(
        decide(&c, healthy, 1_000).start.is_empty(),
        "the canary runs"
    );
    c.states.insert(k("o1", "c"), done(60_000));
    let d = decide(&c, healthy, 120_000);
    assert_eq!(d.soaking_until, Some(660_000));
    assert!(d.start.is_empty(), "nothing starts while the canary soaks");
    // Harm while it soaks halts.
    let degraded = |key: &DbKey| {
        Some(Seen {
            health: if key.name == "c" {
                Health::Degraded
            } else {
                Health::Healthy
            },
            reasons: vec!["orders-1 lags 900 entries".into()],
            churn: false,
        })
    };
    let d = decide(&c, degraded, 120_000);
    let (db, why) = d.halt.unwrap();
    assert_eq!(db.name, "c");
    assert!(why.contains("lags 900"), "{why}");
    assert!(d.start.is_empty());
    // A canary its preflight refused proves nothing: the waves do not start.
    let mut refused = c.clone();
    refused.states.insert(
        k("o1", "c"),
        DbState::Skipped {
            rule: "majority".into(),
        },
    );
    let d = decide(&refused, healthy, 10_000_000);
    assert!(d.start.is_empty() && d.halt.unwrap().1.contains("no canary finished"));
    // Soaked: the first wave, one per orchestra.
    let d = decide(&c, healthy, 660_000);
    assert_eq!((names(&d.start), d.wave), (vec!["a", "b"], Some(1)));
}

#[test]
fn the_limits_count_what_runs_and_a_wave_ends_only_when_each_ended() {
    let mut c = campaign();
    c.states.insert(
        k("o1", "c"),
        DbState::Done {
            ended_ms: 0,
            at_goal: true,
        },
    );
    c.states.insert(k("o1", "a"), running(1));
    c.states.insert(k("o2", "b"), running(1));
    let d = decide(&c, healthy, 10_000_000);
    assert!(d.start.is_empty(), "one per orchestra runs already");
    c.states.insert(k("o1", "a"), done(2));
    assert_eq!(names(&decide(&c, healthy, 10_000_000).start), ["d"]);
    // Fleet-wide bound.
    c.limits.max_parallel = 1;
    assert!(decide(&c, healthy, 10_000_000).start.is_empty());
    c.limits.max_parallel = 10;
    // The next wave waits for every database of this one, skipped ones included.
    c.states.insert(k("o1", "d"), running(3));
    c.states.insert(
        k("o2", "b"),
        DbState::Skipped {
            rule: "majority".into(),
        },
    );
    let d = decide(&c, healthy, 10_000_000);
    assert_eq!((names(&d.start), d.wave), (vec!["e"], Some(1)));
    for n in ["d", "e"] {
        let o = if n == "d" { "o1" } else { "o2" };
        c.states.insert(k(o, n), done(4));
    }
    let d = decide(&c, healthy, 10_000_000);
    assert_eq!((names(&d.start), d.wave), (vec!["f"], Some(2)));
    c.states.insert(k("o3", "f"), done(5));
    let d = decide(&c, healthy, 10_000_000);
    assert!(d.finished && d.start.is_empty() && d.wave.is_none());
}

#[test]
fn harm_or_a_pause_starts_nothing_and_the_decision_is_the_same_each_look() {
    let mut c = campaign();
    c.states.insert(k("o1", "c"), done(0));
    c.states.insert(
        k("o1", "a"),
        DbState::Failed {
            why: "paused: orders-2 not Ready after 300 s".into(),
        },
    );
    let d = decide(&c, healthy, 10_000_000);
    assert_eq!(d.halt.as_ref().map(|(k, _)| k.name.as_str()), Some("a"));
    assert!(d.start.is_empty());
    assert_eq!(
        d,
        decide(&c, healthy, 10_000_000),
        "the same look, the same decision"
    );
    // Churn after its operation is harm too.
    let mut c = campaign();
    c.states.insert(k("o1", "c"), done(0));
    let churning = |_: &DbKey| {
        Some(Seen {
            health: Health::Healthy,
            reasons: Vec::new(),
            churn: true,
        })
    };
    assert!(
        decide(&c, churning, 10_000_000)
            .halt
            .unwrap()
            .1
            .contains("churn")
    );
    // Out of sight (its orchestra unreachable): not judged, and the rest goes on.
    assert!(decide(&c, |_| None, 10_000_000).halt.is_none());
    // Not probed yet is not harm.
    let unknown = |_: &DbKey| {
        Some(Seen {
            health: Health::Unknown,
            reasons: Vec::new(),
            churn: false,
        })
    };
    assert_eq!(decide(&c, unknown, 10_000_000).start.len(), 2);
    c.paused = true;
    let d = decide(&c, healthy, 10_000_000);
    assert!(d.start.is_empty() && d.halt.is_none() && d.wave == Some(1));
}
