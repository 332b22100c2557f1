//! Decoders of member status answers, one per profile: `neo4j` (`/db/{db}/cluster/status` and
//! `/dbms/cluster/status`), `etcd` (`/v3/maintenance/status`, 64-bit numbers as strings) and
//! `dynomite` (`/api/v1/admin/status`), and etcd's Prometheus `/metrics` (the read-only way to
//! see an etcd member, see `probe`). Input is untrusted: anything malformed is an error string,
//! never a panic.

use serde::Deserialize;
use serde_json::Value;

use crate::fleet::ProbeReport;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Neo4jDbStatus {
    member_id: String,
    leader: Option<String>,
    last_applied_raft_index: Option<i64>,
    #[serde(default)]
    voting_members: Vec<String>,
    core: Option<bool>,
    participating_in_raft_group: Option<bool>,
    healthy: Option<bool>,
    /// Older Neo4j versions say `isHealthy`.
    is_healthy: Option<bool>,
    millis_since_last_leader_message: Option<i64>,
}

fn short(e: &serde_json::Error) -> String {
    crate::clip(&e.to_string(), 120)
}

fn neo4j_report(s: Neo4jDbStatus) -> ProbeReport {
    let core = s.core.or(s.participating_in_raft_group).unwrap_or(true);
    ProbeReport {
        is_leader: s.leader.as_deref() == Some(s.member_id.as_str()),
        member_id: s.member_id,
        leader_id: s.leader.filter(|l| !l.is_empty()),
        term: None,
        applied_index: s
            .last_applied_raft_index
            .filter(|i| *i >= 0)
            .map(|i| i as u64),
        voter: core,
        voters: s.voting_members.into(),
        healthy: s.healthy.or(s.is_healthy).unwrap_or(false),
        millis_since_leader_message: s
            .millis_since_last_leader_message
            .and_then(|m| u64::try_from(m).ok()),
        errors: Vec::new(),
        // The cluster status does not say the server's version.
        version: None,
    }
}

/// `/db/{db}/cluster/status`.
pub fn neo4j_db_status(body: &[u8]) -> Result<ProbeReport, String> {
    let s: Neo4jDbStatus =
        serde_json::from_slice(body).map_err(|e| format!("bad Neo4j status: {}", short(&e)))?;
    Ok(neo4j_report(s))
}

/// `/dbms/cluster/status`: the entry of `database` (usually `neo4j`).
pub fn neo4j_dbms_status(body: &[u8], database: &str) -> Result<ProbeReport, String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Entry {
        database_name: String,
        database_status: Neo4jDbStatus,
    }
    let all: Vec<Entry> = serde_json::from_slice(body)
        .map_err(|e| format!("bad Neo4j DBMS status: {}", short(&e)))?;
    all.into_iter()
        .find(|e| e.database_name == database)
        .map(|e| neo4j_report(e.database_status))
        .ok_or_else(|| format!("the server hosts no database '{database}'"))
}

fn u64_str(v: &Value, what: &str) -> Result<u64, String> {
    match v {
        Value::String(s) => s
            .parse()
            .map_err(|_| format!("{what} is not a number: {s:?}")),
        Value::Number(n) => n.as_u64().ok_or_else(|| format!("{what} is not a u64")),
        _ => Err(format!("{what} is missing")),
    }
}

/// etcd `POST /v3/maintenance/status`.
pub fn etcd_status(body: &[u8]) -> Result<ProbeReport, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("bad etcd status: {}", short(&e)))?;
    let member = u64_str(&v["header"]["member_id"], "header.member_id")?;
    let leader = u64_str(&v["leader"], "leader").unwrap_or(0);
    let errors: Vec<String> = v["errors"]
        .as_array()
        .map(|es| {
            es.iter()
                .filter_map(|e| e.as_str().map(|s| s.trim().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let learner = v["isLearner"].as_bool().unwrap_or(false);
    Ok(ProbeReport {
        member_id: member.to_string(),
        leader_id: (leader != 0).then(|| leader.to_string()),
        is_leader: leader != 0 && leader == member,
        term: Some(u64_str(&v["raftTerm"], "raftTerm")?),
        applied_index: Some(u64_str(&v["raftAppliedIndex"], "raftAppliedIndex")?),
        voter: !learner,
        voters: Default::default(),
        healthy: errors.is_empty() && leader != 0,
        millis_since_leader_message: None,
        errors,
        version: v["version"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(|s| crate::clip(s, 40)),
    })
}

/// etcd `GET /metrics` (Prometheus text): `etcd_server_id{server_id="<hex>"}`,
/// `etcd_server_is_leader`, `etcd_server_has_leader`, `etcd_server_is_learner`,
/// `etcd_server_proposals_applied_total`. Metrics name no term and not the leader: a follower
/// that has a leader reports an unnamed one (`leader_id` = `""`), which is enough for its role
/// and for `fleet` to infer an unreadable leader; the term stays unknown.
pub fn etcd_metrics(body: &[u8]) -> Result<ProbeReport, String> {
    let text = std::str::from_utf8(body).map_err(|_| "bad etcd metrics: not text".to_string())?;
    let mut id: Option<String> = None;
    let value = |name: &str| -> Option<f64> { metric(text, name).map(|(_, v)| v) };
    let is_leader = value("etcd_server_is_leader");
    let has_leader = value("etcd_server_has_leader");
    let learner = value("etcd_server_is_learner").unwrap_or(0.0) > 0.0;
    let applied = value("etcd_server_proposals_applied_total");
    if let Some((labels, _)) = metric(text, "etcd_server_id") {
        id = label(labels, "server_id")
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .map(|n| n.to_string());
    }
    let (Some(is_leader), Some(has_leader)) = (is_leader, has_leader) else {
        return Err("bad etcd metrics: no etcd_server_is_leader / etcd_server_has_leader".into());
    };
    let member_id = id.ok_or("bad etcd metrics: no etcd_server_id{server_id=…}")?;
    let is_leader = is_leader > 0.0;
    let has_leader = has_leader > 0.0;
    Ok(ProbeReport {
        leader_id: if is_leader {
            Some(member_id.clone())
        } else {
            has_leader.then(String::new)
        },
        member_id,
        is_leader,
        term: None,
        applied_index: applied.filter(|a| *a >= 0.0).map(|a| a as u64),
        voter: !learner,
        voters: Default::default(),
        healthy: has_leader,
        millis_since_leader_message: None,
        errors: Vec::new(),
        // etcd writes `etcd_server_version{server_version="3.5.9"} 1`.
        version: metric(text, "etcd_server_version")
            .and_then(|(labels, _)| label(labels, "server_version"))
            .map(str::to_string),
    })
}

/// The first sample of metric `name`: its label text (inside `{}`) and value.
fn metric<'a>(text: &'a str, name: &str) -> Option<(&'a str, f64)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let rest = l.strip_prefix(name)?;
            let (labels, value) = if let Some(r) = rest.strip_prefix('{') {
                let (labels, after) = r.split_once('}')?;
                (labels, after)
            } else if rest.starts_with(' ') || rest.starts_with('\t') {
                ("", rest)
            } else {
                return None;
            };
            let v = value.split_whitespace().next()?.parse::<f64>().ok()?;
            Some((labels, v))
        })
}

/// A label's value from Prometheus label text (`a="x",b="y"`).
fn label<'a>(labels: &'a str, key: &str) -> Option<&'a str> {
    labels.split(',').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"'))
    })
}

/// dynomite-manager `GET /api/v1/admin/status`: no Raft, health only.
pub fn dynomite_status(body: &[u8]) -> Result<ProbeReport, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("bad dynomite status: {}", short(&e)))?;
    let health = &v["health"];
    if !health.is_object() {
        return Err("bad dynomite status: no 'health' object".into());
    }
    let overall = health["Overall"].as_bool().unwrap_or(false);
    let mut errors = Vec::new();
    for k in ["dynomiteAlive", "storageAlive"] {
        if health[k] == false {
            errors.push(format!("{k} is false"));
        }
    }
    Ok(ProbeReport {
        member_id: String::new(),
        leader_id: None,
        is_leader: false,
        term: None,
        applied_index: None,
        voter: false,
        voters: Default::default(),
        healthy: overall,
        millis_since_leader_message: None,
        errors,
        version: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(name),
        )
        .unwrap()
    }

    #[test]
    fn neo4j_fixtures() {
        let p = neo4j_db_status(&fixture("neo4j_db_cluster_status_primary.json")).unwrap();
        assert!(p.voter && p.healthy && !p.is_leader);
        assert_eq!(p.applied_index, Some(4321));
        assert_eq!(p.voters.len(), 3);
        assert_eq!(p.millis_since_leader_message, Some(84));
        let s = neo4j_db_status(&fixture("neo4j_db_cluster_status_secondary.json")).unwrap();
        assert!(!s.voter);
        assert_eq!(s.millis_since_leader_message, None);
        let d = neo4j_dbms_status(&fixture("neo4j_dbms_cluster_status.json"), "neo4j").unwrap();
        assert!(d.is_leader);
        assert_eq!(d.applied_index, None, "-1 means nothing applied yet");
        let sys = neo4j_dbms_status(&fixture("neo4j_dbms_cluster_status.json"), "system").unwrap();
        assert_eq!(sys.applied_index, Some(7));
        assert!(neo4j_dbms_status(&fixture("neo4j_dbms_cluster_status.json"), "nope").is_err());
    }

    #[test]
    fn older_is_healthy_is_accepted() {
        let r = neo4j_db_status(br#"{"memberId":"a","leader":"a","lastAppliedRaftIndex":3,"votingMembers":["a"],"core":true,"isHealthy":true}"#).unwrap();
        assert!(r.healthy && r.is_leader);
    }

    #[test]
    fn etcd_metrics_as_etcd_writes_them() {
        let leader = b"# HELP etcd_server_id Etcd server ID\n# TYPE etcd_server_id gauge\n\
etcd_server_id{server_id=\"8e9e05c52164694d\"} 1\n\
etcd_server_has_leader 1\netcd_server_is_leader 1\netcd_server_is_learner 0\n\
etcd_server_proposals_applied_total 1.234567e+06\netcd_server_proposals_applied_totalx 5\n";
        let r = etcd_metrics(leader).unwrap();
        assert_eq!(
            r.member_id,
            u64::from_str_radix("8e9e05c52164694d", 16)
                .unwrap()
                .to_string()
        );
        assert!(r.is_leader && r.voter && r.healthy);
        assert_eq!(r.leader_id.as_deref(), Some(r.member_id.as_str()));
        assert_eq!(r.applied_index, Some(1_234_567));
        assert_eq!(r.term, None, "metrics carry no term");
        let follower = b"etcd_server_id{server_id=\"a\"} 1\netcd_server_has_leader 1\netcd_server_is_leader 0\n";
        let f = etcd_metrics(follower).unwrap();
        assert!(!f.is_leader && f.leader_id.is_some() && f.healthy);
        let lost = b"etcd_server_id{server_id=\"a\"} 1\netcd_server_has_leader 0\netcd_server_is_leader 0\n";
        let l = etcd_metrics(lost).unwrap();
        assert!(l.leader_id.is_none() && !l.healthy);
        for bad in [&b"<html>"[..], b"etcd_server_is_leader 1\n", &[0xff, 0xfe]] {
            assert!(etcd_metrics(bad).is_err());
        }
    }

    #[test]
    fn etcd_fixtures() {
        let l = etcd_status(&fixture("etcd_maintenance_status.json")).unwrap();
        assert!(l.is_leader && l.healthy);
        assert_eq!(l.member_id, "15985099378392235387");
        assert_eq!((l.term, l.applied_index), (Some(2), Some(5)));
        assert_eq!(
            l.version.as_deref(),
            Some("3.7.1"),
            "the version etcd reports"
        );
        let f = etcd_status(&fixture("etcd_maintenance_status_follower_alarm.json")).unwrap();
        assert!(!f.is_leader && !f.healthy && !f.voter);
        assert_eq!(f.errors, ["memberID:11188960661303352088 alarm:NOSPACE"]);
    }

    #[test]
    fn dynomite_fixture() {
        let d = dynomite_status(&fixture("dynomite_manager_status.json")).unwrap();
        assert!(d.healthy && d.errors.is_empty());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for body in [
            &b"{\"lastAppliedRaftIndex\": 12, \"memberId\": \"\x7f, [[["[..],
            b"",
            b"null",
            b"[]",
            b"{\"memberId\": 5}",
        ] {
            assert!(neo4j_db_status(body).is_err());
            assert!(etcd_status(body).is_err());
            assert!(dynomite_status(body).is_err());
        }
        assert!(
            etcd_status(br#"{"header":{"member_id":"x"},"raftTerm":"1","raftAppliedIndex":"1"}"#)
                .is_err()
        );
    }
}
