//! The HTTP status endpoints a lab member serves, in the exact shapes of real servers
//! (shared/fixtures/): Neo4j's `/dbms/cluster/status`, `/db/{db}/cluster/{status,writable,
//! read-only,available}`, `POST /db/system/tx/commit` (SHOW SERVERS, SHOW DATABASES), with basic
//! auth; and etcd's `POST /v3/maintenance/status` (64-bit numbers as strings). Pure functions of
//! a [`MemberView`]: the Raft side fills the view in.

use serde_json::{Value, json};

use super::kubelet::HttpReply;
use super::neo4j_system::{self, AdminError, Command, ServerInfo};

/// What a member knows about itself and its group when it answers.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberView {
    /// Server name (the pod name), e.g. `orders-2-0`.
    pub server: String,
    /// Stable id of this member (a UUID for Neo4j, a u64 for etcd).
    pub member_id: String,
    pub leader_id: Option<String>,
    /// Ids of the voting members.
    pub voters: Vec<String>,
    /// A voter (primary / core) rather than a learner (secondary / read replica).
    pub core: bool,
    pub term: u64,
    pub commit_index: u64,
    pub applied_index: u64,
    pub millis_since_leader_message: Option<u64>,
    pub commands_per_second: f64,
    pub healthy: bool,
    /// Every server of the database, for SHOW SERVERS / SHOW DATABASES.
    pub servers: Vec<ServerInfo>,
    pub namespace: String,
    pub version: String,
}

/// A stable UUID-shaped id from any text (member ids, database uuids).
pub fn uuid_from(text: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(text.as_bytes());
    let h: String = d.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

fn db_status(v: &MemberView, applied: i64) -> Value {
    json!({
        "lastAppliedRaftIndex": applied,
        "votingMembers": v.voters,
        "memberId": v.member_id,
        "leader": v.leader_id,
        "millisSinceLastLeaderMessage": if v.core { json!(v.millis_since_leader_message) } else { Value::Null },
        "raftCommandsPerSecond": if v.core { json!(v.commands_per_second) } else { Value::Null },
        "core": v.core,
        "participatingInRaftGroup": v.core,
        "healthy": v.healthy,
        "discoveryHealthy": true,
    })
}

/// The `system` database moves far more slowly than `neo4j`; the lab derives it from one group.
fn system_index(v: &MemberView) -> i64 {
    (v.applied_index / 64) as i64 + 7
}

fn text(status: u16, body: &str) -> HttpReply {
    HttpReply {
        status,
        content_type: "text/plain",
        body: body.as_bytes().to_vec(),
    }
}

fn neo4j_error(status: u16, code: &str, message: &str) -> HttpReply {
    HttpReply::json(
        status,
        &json!({"errors": [{"code": code, "message": message}]}),
    )
}

/// Checks HTTP basic auth against `neo4j:<password>`.
pub fn basic_auth_ok(authorization: Option<&str>, password: &str) -> bool {
    let Some(encoded) = authorization.and_then(|a| a.strip_prefix("Basic ")) else {
        return false;
    };
    super::profile::b64(&format!("neo4j:{password}")) == encoded.trim()
}

/// Answers a Neo4j HTTP request. `authorization` is the request's Authorization header.
/// Cluster status endpoints answer without credentials (Neo4j with
/// `dbms.security.cluster_status_auth_enabled=false`, which is what makes them usable through the
/// API server's pod proxy, which never forwards credentials) but refuse wrong ones; queries
/// (`tx/commit`) always need basic auth; server-management commands go through `admin`.
pub fn neo4j(
    v: &MemberView,
    password: &str,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    body: &[u8],
    admin: &dyn Fn(&Command) -> Result<(), AdminError>,
) -> HttpReply {
    let path = path.split('?').next().unwrap_or(path);
    if path == "/" {
        return HttpReply::json(
            200,
            &json!({
                "bolt_routing": format!("neo4j://{}:7687", v.server),
                "transaction": format!("http://{}:7474/db/{{databaseName}}/tx", v.server),
                "bolt_direct": format!("bolt://{}:7687", v.server),
                "neo4j_version": v.version,
                "neo4j_edition": "enterprise",
            }),
        );
    }
    let status_endpoint =
        method == "GET" && (path.starts_with("/dbms/cluster/") || path.contains("/cluster/"));
    let auth_needed = !status_endpoint || authorization.is_some();
    if auth_needed && !basic_auth_ok(authorization, password) {
        return match authorization {
            None => neo4j_error(
                401,
                "Neo.ClientError.Security.Unauthorized",
                "No authentication header supplied.",
            ),
            Some(_) => neo4j_error(
                401,
                "Neo.ClientError.Security.Unauthorized",
                "Invalid username or password.",
            ),
        };
    }
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segs.as_slice()) {
        ("GET", ["dbms", "cluster", "status"]) => HttpReply::json(
            200,
            &json!([
                {"databaseName": "neo4j", "databaseUuid": uuid_from(&format!("{}/neo4j", v.namespace)), "databaseStatus": db_status(v, v.applied_index as i64)},
                {"databaseName": "system", "databaseUuid": "00000000-0000-0000-0000-000000000001", "databaseStatus": db_status(v, system_index(v))},
            ]),
        ),
        ("GET", ["db", db, "cluster", what]) if *db == "neo4j" || *db == "system" => {
            let is_leader = v.leader_id.as_deref() == Some(v.member_id.as_str());
            let available = v.healthy;
            match *what {
                "status" => HttpReply::json(
                    200,
                    &db_status(
                        v,
                        if *db == "neo4j" {
                            v.applied_index as i64
                        } else {
                            system_index(v)
                        },
                    ),
                ),
                "writable" if is_leader && available => text(200, "true"),
                "writable" => text(404, "false"),
                "read-only" if !is_leader && available => text(200, "true"),
                "read-only" => text(404, "false"),
                "available" if available => text(200, "true"),
                "available" => text(404, "false"),
                _ => neo4j_error(404, "Neo.ClientError.Request.Invalid", "no such endpoint"),
            }
        }
        ("GET", ["db", db, "cluster", _]) => neo4j_error(
            404,
            "Neo.ClientError.Database.DatabaseNotFound",
            &format!("Database does not exist. Database name: '{db}'."),
        ),
        ("POST", ["db", "system", "tx", "commit"]) => {
            let (status, answer) =
                neo4j_system::tx_commit(&v.namespace, &v.servers, v.applied_index, body, admin);
            HttpReply::json(status, &answer)
        }
        _ => neo4j_error(
            404,
            "Neo.ClientError.Request.Invalid",
            &format!("no such endpoint: {method} {path}"),
        ),
    }
}

/// etcd's `POST /v3/maintenance/status` (member ids are decimal u64 strings) and `GET /metrics`
/// (Prometheus text as etcd's Go client writes it: the server id in hex, counters as floats).
pub fn etcd(v: &MemberView, method: &str, path: &str, cluster_id: u64) -> HttpReply {
    if method == "GET" && path.split('?').next() == Some("/metrics") {
        return etcd_metrics(v);
    }
    if method != "POST" || path.split('?').next() != Some("/v3/maintenance/status") {
        return HttpReply::json(
            404,
            &json!({"error": "Not Found", "code": 5, "message": "Not Found"}),
        );
    }
    let mut out = json!({
        "header": {"cluster_id": cluster_id.to_string(), "member_id": v.member_id, "revision": v.applied_index.to_string(), "raft_term": v.term.to_string()},
        "version": v.version,
        "dbSize": (24_576 + v.applied_index * 64).to_string(),
        "leader": v.leader_id.clone().unwrap_or_else(|| "0".into()),
        "raftIndex": v.commit_index.to_string(),
        "raftTerm": v.term.to_string(),
        "raftAppliedIndex": v.applied_index.to_string(),
        "dbSizeInUse": (16_384 + v.applied_index * 48).to_string(),
    });
    if !v.core {
        out["isLearner"] = json!(true);
    }
    if !v.healthy {
        out["errors"] = json!([format!("memberID:{} alarm:NOSPACE ", v.member_id)]);
    }
    HttpReply::json(200, &out)
}

/// The part of etcd's `/metrics` that says who the member is and how its Raft group is.
fn etcd_metrics(v: &MemberView) -> HttpReply {
    let id = v.member_id.parse::<u64>().unwrap_or(0);
    let is_leader = v.leader_id.as_deref() == Some(v.member_id.as_str());
    let gauge = |name: &str, help: &str, value: String| {
        format!("# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n")
    };
    let counter = |name: &str, help: &str, value: u64| {
        // client_golang writes floats with %g: 1234567 is 1.234567e+06.
        let f = value as f64;
        let text = if value >= 1_000_000 {
            let sci = format!("{f:e}");
            let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
            format!("{mantissa}e+{:0>2}", exp)
        } else {
            value.to_string()
        };
        format!("# HELP {name} {help}\n# TYPE {name} counter\n{name} {text}\n")
    };
    let body = [
        format!(
            "# HELP etcd_server_id Etcd server ID\n# TYPE etcd_server_id gauge\netcd_server_id{{server_id=\"{id:x}\"}} 1\n"
        ),
        gauge(
            "etcd_server_has_leader",
            "Whether or not a leader exists. 1 is existence, 0 is not.",
            u8::from(v.leader_id.is_some()).to_string(),
        ),
        gauge(
            "etcd_server_is_leader",
            "Whether or not this member is a leader. 1 if is, 0 otherwise.",
            u8::from(is_leader).to_string(),
        ),
        gauge(
            "etcd_server_is_learner",
            "Whether or not this member is a learner. 1 if is, 0 otherwise.",
            u8::from(!v.core).to_string(),
        ),
        counter(
            "etcd_server_proposals_committed_total",
            "The total number of consensus proposals committed.",
            v.commit_index,
        ),
        counter(
            "etcd_server_proposals_applied_total",
            "The total number of consensus proposals applied.",
            v.applied_index,
        ),
        format!(
            "# HELP etcd_server_version Which version is running. 1 for 'server_version' label with current version.\n# TYPE etcd_server_version gauge\netcd_server_version{{server_version=\"{}\"}} 1\n",
            v.version
        ),
    ]
    .concat();
    HttpReply {
        status: 200,
        content_type: "text/plain; version=0.0.4; charset=utf-8",
        body: body.into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        // The workspace's fixtures, shared with baton's probe decoders.
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures")
            .join(name);
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        serde_json::from_str(&text).unwrap()
    }

    fn keys(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    }

    fn view(core: bool, leader: bool) -> MemberView {
        let me = uuid_from("me");
        let other = uuid_from("other");
        MemberView {
            server: "orders-2-0".into(),
            member_id: me.clone(),
            leader_id: Some(if leader { me.clone() } else { other.clone() }),
            voters: vec![me, other],
            core,
            term: 3,
            commit_index: 120,
            applied_index: 118,
            millis_since_leader_message: Some(40),
            commands_per_second: 12.0,
            healthy: true,
            servers: vec![
                server("orders-1-0", &uuid_from("other"), !leader, true),
                server("orders-2-0", &uuid_from("me"), leader, core),
            ],
            namespace: "team-a".into(),
            version: "5.26.0".into(),
        }
    }

    fn server(pod: &str, name: &str, leader: bool, primary: bool) -> ServerInfo {
        ServerInfo {
            name: name.into(),
            pod: pod.into(),
            state: neo4j_system::ServerState::Enabled,
            available: true,
            hosting: true,
            requested: true,
            primary,
            leader,
            copying: false,
        }
    }

    fn auth() -> String {
        format!("Basic {}", crate::profile::b64("neo4j:pw"))
    }

    fn get(v: &MemberView, path: &str) -> HttpReply {
        neo4j(v, "pw", "GET", path, Some(&auth()), b"", &|_| Ok(()))
    }

    #[test]
    fn status_shapes_match_the_fixtures() {
        let primary = fixture("neo4j_db_cluster_status_primary.json");
        let r: Value =
            serde_json::from_slice(&get(&view(true, false), "/db/neo4j/cluster/status").body)
                .unwrap();
        assert_eq!(keys(&r), keys(&primary));
        let secondary = fixture("neo4j_db_cluster_status_secondary.json");
        let r: Value =
            serde_json::from_slice(&get(&view(false, false), "/db/neo4j/cluster/status").body)
                .unwrap();
        assert_eq!(keys(&r), keys(&secondary));
        assert_eq!(r["millisSinceLastLeaderMessage"], Value::Null);
        assert_eq!(r["participatingInRaftGroup"], false);
        let dbms = fixture("neo4j_dbms_cluster_status.json");
        let r: Value =
            serde_json::from_slice(&get(&view(true, true), "/dbms/cluster/status").body).unwrap();
        assert_eq!(r.as_array().unwrap().len(), 2);
        assert_eq!(keys(&r[0]), keys(&dbms[0]));
        assert_eq!(r[1]["databaseName"], "system");
    }

    #[test]
    fn writable_only_on_the_leader_and_auth_required() {
        assert_eq!(
            get(&view(true, true), "/db/neo4j/cluster/writable").status,
            200
        );
        assert_eq!(
            get(&view(true, false), "/db/neo4j/cluster/writable").status,
            404
        );
        assert_eq!(
            get(&view(true, false), "/db/neo4j/cluster/read-only").status,
            200
        );
        assert_eq!(
            get(&view(true, false), "/db/system/cluster/available").status,
            200
        );
        assert_eq!(
            get(&view(true, false), "/db/nope/cluster/status").status,
            404
        );
        assert_eq!(
            neo4j(
                &view(true, true),
                "pw",
                "GET",
                "/dbms/cluster/status",
                None,
                b"",
                &|_| Ok(())
            )
            .status,
            200
        );
        assert_eq!(
            neo4j(
                &view(true, true),
                "pw",
                "POST",
                "/db/system/tx/commit",
                None,
                b"{}",
                &|_| Ok(())
            )
            .status,
            401
        );
        assert_eq!(
            neo4j(
                &view(true, true),
                "pw",
                "GET",
                "/dbms/cluster/status",
                Some("Basic bm9wZQ=="),
                b"",
                &|_| Ok(())
            )
            .status,
            401
        );
        assert_eq!(
            neo4j(&view(true, true), "pw", "GET", "/", None, b"", &|_| Ok(())).status,
            200
        );
    }

    #[test]
    fn show_servers_and_databases_match_the_fixture_columns() {
        let body =
            br#"{"statements":[{"statement":"SHOW SERVERS"},{"statement":"SHOW DATABASES"}]}"#;
        let r: Value = serde_json::from_slice(
            &neo4j(
                &view(true, true),
                "pw",
                "POST",
                "/db/system/tx/commit",
                Some(&auth()),
                body,
                &|_| Ok(()),
            )
            .body,
        )
        .unwrap();
        assert_eq!(r["errors"], json!([]));
        let fx = fixture("neo4j_query_v2_show_servers.json");
        assert_eq!(r["results"][0]["columns"], fx["data"]["fields"]);
        let fx = fixture("neo4j_tx_commit_show_databases_5x.json");
        assert_eq!(r["results"][1]["columns"], fx["results"][0]["columns"]);
        let row = &r["results"][1]["data"][0]["row"];
        assert_eq!(row.as_array().unwrap().len(), 13);
    }

    #[test]
    fn etcd_status_has_string_numbers_like_the_fixture() {
        let fx = fixture("etcd_maintenance_status.json");
        let mut v = view(true, true);
        v.member_id = "15985099378392235387".into();
        v.leader_id = Some(v.member_id.clone());
        let r: Value =
            serde_json::from_slice(&etcd(&v, "POST", "/v3/maintenance/status", 42).body).unwrap();
        for k in [
            "raftIndex",
            "raftTerm",
            "raftAppliedIndex",
            "leader",
            "dbSize",
        ] {
            assert!(r[k].is_string(), "{k}");
            assert!(fx[k].is_string());
        }
        assert_eq!(keys(&r["header"]), keys(&fx["header"]));
        assert_eq!(etcd(&v, "GET", "/v3/maintenance/status", 42).status, 404);
        let m = etcd(&v, "GET", "/metrics", 42);
        assert_eq!(m.status, 200);
        let text = String::from_utf8(m.body).unwrap();
        let hex = format!("{:x}", v.member_id.parse::<u64>().unwrap());
        assert!(
            text.contains(&format!("etcd_server_id{{server_id=\"{hex}\"}} 1")),
            "{text}"
        );
        assert!(text.contains("etcd_server_has_leader 1"), "{text}");
    }
}
