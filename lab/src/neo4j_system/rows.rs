//! The rows `SHOW SERVERS` and `SHOW DATABASES` answer, from the servers' states, in the
//! shapes of real servers, and a projection (`YIELD`, `WHERE`) applied to them.

use serde_json::{Value, json};

use super::cypher::{Operand, Projection};
use super::{ServerInfo, ServerState};

fn address(namespace: &str, pod: &str) -> String {
    format!("{pod}.{namespace}.svc.cluster.local:7687")
}

pub(super) fn server_rows(
    namespace: &str,
    servers: &[ServerInfo],
) -> Vec<Vec<(&'static str, Value)>> {
    servers
        .iter()
        .filter(|s| s.state != ServerState::Dropped)
        .map(|s| {
            let system = s.state != ServerState::Free;
            let list = |neo4j: bool| {
                let mut l = Vec::new();
                if neo4j {
                    l.push("neo4j");
                }
                if system {
                    l.push("system");
                }
                json!(l)
            };
            vec![
                ("serverId", json!(s.name)),
                ("name", json!(s.name)),
                ("address", json!(address(namespace, &s.pod))),
                ("state", json!(s.state.word())),
                (
                    "health",
                    json!(if s.available {
                        "Available"
                    } else {
                        "Unavailable"
                    }),
                ),
                ("hosting", list(s.hosting)),
                ("requestedHosting", list(s.requested)),
            ]
        })
        .collect()
}

pub(super) fn database_rows(
    namespace: &str,
    servers: &[ServerInfo],
) -> Vec<Vec<(&'static str, Value)>> {
    let mut rows = Vec::new();
    for db in ["neo4j", "system"] {
        for s in servers {
            let hosts = match db {
                "neo4j" => s.hosting || s.requested,
                _ => !matches!(s.state, ServerState::Free | ServerState::Dropped),
            };
            if !hosts {
                continue;
            }
            // Every server that is not Free hosts `system`.
            let hosted = db == "system" || s.hosting;
            let (role, current, message) = match (s.available, hosted) {
                (false, _) => ("unknown", "unknown", "Server is unavailable"),
                (true, false) => ("unknown", "starting", ""),
                (true, true) if db == "neo4j" && s.copying => ("unknown", "store copying", ""),
                (true, true) if s.primary => ("primary", "online", ""),
                (true, true) => ("secondary", "online", ""),
            };
            let requested = if db == "neo4j" && !s.requested {
                "offline"
            } else {
                "online"
            };
            rows.push(vec![
                ("name", json!(db)),
                (
                    "type",
                    json!(if db == "system" { "system" } else { "standard" }),
                ),
                ("aliases", json!([])),
                ("access", json!("read-write")),
                (
                    "address",
                    if s.available {
                        json!(address(namespace, &s.pod))
                    } else {
                        Value::Null
                    },
                ),
                ("role", json!(role)),
                ("writer", json!(s.available && s.leader && s.hosting)),
                ("requestedStatus", json!(requested)),
                ("currentStatus", json!(current)),
                ("statusMessage", json!(message)),
                ("default", json!(db == "neo4j")),
                ("home", json!(db == "neo4j")),
                ("constituents", json!([])),
            ]);
        }
    }
    rows
}

pub(super) fn project(
    rows: Vec<Vec<(&'static str, Value)>>,
    p: &Projection,
    default: &[&str],
) -> Value {
    let columns: Vec<String> = p
        .columns
        .clone()
        .unwrap_or_else(|| default.iter().map(|c| c.to_string()).collect());
    let get = |row: &[(&str, Value)], c: &str| {
        row.iter()
            .find(|(k, _)| *k == c)
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Null)
    };
    let data: Vec<Value> = rows
        .iter()
        .filter(|row| match &p.filter {
            None => true,
            Some((l, eq, r)) => {
                let val = |o: &Operand| match o {
                    Operand::Column(c) => get(row, c),
                    Operand::Text(t) => json!(t),
                };
                (val(l) == val(r)) == *eq
            }
        })
        .map(|row| {
            let cells: Vec<Value> = columns.iter().map(|c| get(row, c)).collect();
            let meta: Vec<Value> = columns.iter().map(|_| Value::Null).collect();
            json!({"row": cells, "meta": meta})
        })
        .collect();
    json!({"columns": columns, "data": data})
}
