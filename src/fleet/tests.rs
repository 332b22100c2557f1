use super::*;

fn ok(id: &str, leader: Option<&str>, applied: u64, voter: bool) -> Probe {
    Probe::Ok(ProbeReport {
        member_id: id.into(),
        leader_id: leader.map(str::to_string),
        is_leader: leader == Some(id),
        term: Some(4),
        applied_index: Some(applied),
        voter,
        voters: ["a".into(), "b".into(), "c".into()].into(),
        healthy: true,
        millis_since_leader_message: Some(20),
        errors: vec![],
        version: None,
    })
}

fn m(name: &str, probe: Probe) -> MemberInput {
    MemberInput {
        name: name.into(),
        pod_ready: true,
        probe,
    }
}

fn cluster() -> Vec<MemberInput> {
    vec![
        m("a-0", ok("a", Some("a"), 100, true)),
        m("b-0", ok("b", Some("a"), 98, true)),
        m("c-0", ok("c", Some("a"), 100, true)),
        m("rr-0", ok("r", Some("a"), 90, false)),
    ]
}

#[test]
fn a_forbidden_probe_is_unknown_not_dead() {
    let no = || Probe::Error(format!("{FORBIDDEN_PROBE} get pods/proxy (403)"));
    // Every probe forbidden: nothing known, nothing down.
    let all = vec![m("a-0", no()), m("b-0", no()), m("c-0", no())];
    let d = derive(&all, 100);
    assert_eq!(d.health, Health::Unknown, "{:?}", d.reasons);
    assert!(
        !d.reasons
            .iter()
            .any(|r| r.contains("quorum lost") || r == "no leader"),
        "{:?}",
        d.reasons
    );
    assert!(d.members.iter().all(|s| s.role == Role::Unknown));
    assert!(
        d.reasons
            .iter()
            .any(|r| r.contains("forbidden: get pods/proxy"))
    );
    // Two of three forbidden, the third a follower: still not down.
    let some = vec![
        m("a-0", no()),
        m("b-0", ok("b", Some("a"), 98, true)),
        m("c-0", no()),
    ];
    let d = derive(&some, 100);
    assert_eq!(d.health, Health::Unknown, "{:?}", d.reasons);
    // A real failure seen beside a forbidden one stays what it is.
    let mut real = cluster();
    real[1].probe = Probe::Error("timed out".into());
    real[2].probe = no();
    let d = derive(&real, 100);
    assert_eq!(d.health, Health::Degraded, "{:?}", d.reasons);
    // Unlike a probe that failed: three timeouts are down.
    let dead = vec![
        m("a-0", Probe::Error("timed out".into())),
        m("b-0", Probe::Error("timed out".into())),
        m("c-0", Probe::Error("timed out".into())),
    ];
    assert_eq!(derive(&dead, 100).health, Health::Down);
}

#[test]
fn healthy_cluster() {
    let d = derive(&cluster(), 100);
    assert_eq!(d.health, Health::Healthy, "{:?}", d.reasons);
    assert_eq!(d.leader.as_deref(), Some("a-0"));
    assert_eq!(d.term, Some(4));
    let roles: Vec<Role> = d.members.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [
            Role::Leader,
            Role::Follower,
            Role::Follower,
            Role::ReadReplica
        ]
    );
    assert_eq!(d.members[1].lag, Some(2));
    assert_eq!(d.worst_lag, Some(10));
}

#[test]
fn no_leader_two_leaders_lag_probe_errors() {
    let mut c = cluster();
    c[0].probe = Probe::Error("timed out after 2s".into());
    c[1].probe = ok("b", None, 98, true);
    c[2].probe = ok("c", None, 100, true);
    c[3].probe = ok("r", None, 90, false);
    let d = derive(&c, 100);
    assert_eq!(d.health, Health::Down);
    assert!(
        d.reasons.iter().any(|r| r == "no leader"),
        "{:?}",
        d.reasons
    );
    assert!(
        d.reasons
            .iter()
            .any(|r| r.contains("a-0: probe error: timed out")),
        "{:?}",
        d.reasons
    );
    assert_eq!(d.members[1].role, Role::Candidate);

    let mut c = cluster();
    c[1].probe = ok("b", Some("b"), 98, true);
    let d = derive(&c, 100);
    assert_eq!(d.health, Health::Degraded);
    assert!(
        d.reasons[0].starts_with("two leaders: a-0, b-0"),
        "{:?}",
        d.reasons
    );
    assert_eq!(d.leader, None);

    let mut c = cluster();
    c[3].probe = ok("r", Some("a"), 10, false);
    let d = derive(&c, 50);
    assert_eq!(d.health, Health::Degraded);
    assert!(
        d.reasons.iter().any(|r| r == "rr-0 lagging 90 entries"),
        "{:?}",
        d.reasons
    );
}

#[test]
fn a_leader_that_cannot_be_read_is_inferred_from_its_followers() {
    let mut c = cluster();
    c[0].probe = Probe::Error("bad Neo4j status".into());
    let d = derive(&c, 100);
    assert_eq!(d.leader.as_deref(), Some("a-0"));
    assert_eq!(d.health, Health::Degraded, "{:?}", d.reasons);
    assert!(
        d.reasons.iter().any(|r| r == "leader a-0 not readable"),
        "{:?}",
        d.reasons
    );
}

#[test]
fn quorum_at_risk_and_lost() {
    let mut c = cluster();
    c[1].pod_ready = false;
    let d = derive(&c, 100);
    assert_eq!(d.health, Health::Degraded);
    assert!(
        d.reasons
            .iter()
            .any(|r| r.starts_with("quorum at risk: 2/3")),
        "{:?}",
        d.reasons
    );
    assert!(
        d.reasons.iter().any(|r| r == "pods not ready: 3/4"),
        "{:?}",
        d.reasons
    );
    c[2].probe = Probe::Error("connection refused".into());
    let d = derive(&c, 100);
    assert_eq!(d.health, Health::Down);
    assert!(
        d.reasons.iter().any(|r| r.starts_with("quorum lost: 1/3")),
        "{:?}",
        d.reasons
    );
}

#[test]
fn unknown_until_probed() {
    let c = vec![m("a-0", Probe::Pending), m("b-0", Probe::Pending)];
    let d = derive(&c, 100);
    assert_eq!(
        (d.health, d.reasons[0].as_str()),
        (Health::Unknown, "not probed yet")
    );
    assert_eq!(derive(&[], 100).health, Health::Unknown);
}

#[test]
fn probing_members_are_no_false_alarm() {
    // At startup one follower has answered, the leader and another have not yet: unknown,
    // not "down / no leader / quorum lost".
    let follower = |id: &str| {
        Probe::Ok(ProbeReport {
            member_id: id.into(),
            leader_id: Some("a-1".into()),
            term: Some(3),
            applied_index: Some(10),
            voter: true,
            healthy: true,
            ..ProbeReport::default()
        })
    };
    let c = vec![
        m("a-0", follower("a-0")),
        m("a-1", Probe::Pending),
        m("a-2", Probe::Pending),
    ];
    let d = derive(&c, 100);
    assert_eq!(d.health, Health::Unknown, "{:?}", d.reasons);
    assert_eq!(d.reasons, vec!["probing: 1/3 members answered".to_string()]);
    // What is known to be wrong still counts: two members answered with errors.
    let c = vec![
        m("a-0", Probe::Error("connection refused".into())),
        m("a-1", Probe::Error("connection refused".into())),
        m("a-2", Probe::Pending),
    ];
    let d = derive(&c, 100);
    assert_eq!(d.health, Health::Down, "{:?}", d.reasons);
    // Once every member answered, no leader is down.
    let c = vec![
        m("a-0", follower("a-0")),
        m("a-1", Probe::Error("connection refused".into())),
        m("a-2", Probe::Error("connection refused".into())),
    ];
    assert_eq!(derive(&c, 100).health, Health::Down);
}

#[test]
fn leader_history_and_churn() {
    let mut h = LeaderHistory::default();
    assert!(!h.observe(0, Some("a"), Some(1)));
    assert!(!h.observe(1000, Some("a"), Some(1)));
    assert!(h.observe(2000, Some("b"), Some(2)));
    assert_eq!(
        h.changes[0],
        LeaderChange {
            at_ms: 2000,
            from: Some("a".into()),
            to: Some("b".into()),
            term: Some(2)
        }
    );
    assert!(h.observe(3000, None, None));
    assert!(h.observe(4000, Some("c"), Some(3)));
    assert!(!h.churning(5000));
    assert!(h.observe(6000, Some("a"), Some(4)));
    assert!(h.churning(7000));
    assert!(!h.churning(6000 + 11 * 60 * 1000));
}

#[test]
fn counts() {
    let c: HealthCounts = [
        Health::Healthy,
        Health::Down,
        Health::Degraded,
        Health::Healthy,
    ]
    .into_iter()
    .collect();
    assert_eq!((c.healthy, c.degraded, c.down, c.total()), (2, 1, 1, 4));
    for r in [
        Role::Leader,
        Role::Follower,
        Role::ReadReplica,
        Role::Candidate,
        Role::Unknown,
    ] {
        assert!(!r.word().is_empty() && r.glyph() != ' ');
    }
}
