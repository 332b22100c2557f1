//! Decoders of member status answers, one per profile: `neo4j` (`/db/{db}/cluster/status` and
//! `/dbms/cluster/status`), `etcd` (`/v3/maintenance/status`, 64-bit numbers as strings) and
//! `dynomite` (`/api/v1/admin/status`). Input is untrusted: anything malformed is an error
//! string, never a panic.

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
        voters: s.voting_members,
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
        voters: Vec::new(),
        healthy: errors.is_empty() && leader != 0,
        millis_since_leader_message: None,
        errors,
        version: v["version"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(|s| crate::clip(s, 40)),
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
        voters: Vec::new(),
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
