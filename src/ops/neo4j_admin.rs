//! Neo4j 5 server management from baton: the Cypher statements an operator types into
//! `cypher-shell` against the `system` database (`SHOW SERVERS`, `SHOW DATABASES`,
//! `ENABLE SERVER`, `DEALLOCATE DATABASES FROM SERVER`, `DROP SERVER`), sent over the HTTP
//! transactional API (`POST /db/system/tx/commit`) straight to a member with basic auth, and
//! the answers decoded into owned rows. Answers are untrusted: a malformed one is an error that
//! says what was wrong, never a panic. Pure: sending them (a member's pod IP, credentials) is
//! `kube::neo4j`.

use serde_json::{Value, json};

/// One row of `SHOW SERVERS`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerObs {
    /// The server's name (by default its id, a UUID).
    pub name: String,
    /// Bolt address, `<pod>.<namespace>.svc.cluster.local:7687` with the Helm charts.
    pub address: String,
    /// Free, Enabled, Cordoned, Deallocating, Deallocated, Dropped.
    pub state: String,
    /// Available or Unavailable.
    pub health: String,
    pub hosting: Vec<String>,
    pub requested_hosting: Vec<String>,
}

impl ServerObs {
    /// Whether this server runs in pod `pod` (its address names the pod).
    pub fn in_pod(&self, pod: &str) -> bool {
        self.address
            .split(['.', ':'])
            .next()
            .is_some_and(|host| host == pod)
    }

    pub fn hosts(&self, db: &str) -> bool {
        self.hosting.iter().any(|h| h == db)
    }
}

/// What server management shows at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerTable {
    pub servers: Vec<ServerObs>,
    /// `SHOW SERVERS … WHERE requestedHosting <> hosting`: servers whose allocation moves.
    pub moving: Vec<String>,
    /// `SHOW DATABASES … WHERE currentStatus <> requestedStatus`: `db@address: current ≠ requested`.
    pub unsettled: Vec<String>,
}

impl ServerTable {
    pub fn server(&self, name: &str) -> Option<&ServerObs> {
        self.servers.iter().find(|s| s.name == name)
    }
}

/// The statements one observation sends, in the order [`decode_table`] reads them. The two
/// `WHERE` forms are the checks Neo4j's upgrade guide runs between servers.
pub const OBSERVE: [&str; 3] = [
    "SHOW SERVERS YIELD name, address, state, health, hosting, requestedHosting",
    "SHOW SERVERS YIELD name, hosting, requestedHosting WHERE requestedHosting <> hosting",
    "SHOW DATABASES YIELD name, address, currentStatus, requestedStatus WHERE currentStatus <> requestedStatus",
];

/// The body of `POST /db/system/tx/commit` for `statements`.
pub fn body(statements: &[&str]) -> Value {
    json!({"statements": statements.iter().map(|s| json!({"statement": s})).collect::<Vec<_>>()})
}

/// The results of a tx/commit answer, or the server's first error (`code: message`).
pub fn results(answer: &Value) -> Result<Vec<Value>, String> {
    if let Some(e) = answer["errors"].as_array().and_then(|e| e.first()) {
        return Err(format!(
            "{}: {}",
            e["code"].as_str().unwrap_or("unknown error"),
            e["message"].as_str().unwrap_or("")
        ));
    }
    answer["results"]
        .as_array()
        .cloned()
        .ok_or_else(|| "the answer has no `results` list".to_string())
}

/// The rows of one result as column name → value maps.
fn rows(result: &Value) -> Result<Vec<serde_json::Map<String, Value>>, String> {
    let columns: Vec<&str> = result["columns"]
        .as_array()
        .ok_or("a result without `columns`")?
        .iter()
        .map(|c| c.as_str().unwrap_or(""))
        .collect();
    let data = result["data"].as_array().ok_or("a result without `data`")?;
    data.iter()
        .map(|d| {
            let row = d["row"].as_array().ok_or("a data entry without `row`")?;
            if row.len() != columns.len() {
                return Err(format!(
                    "a row of {} values for {} columns",
                    row.len(),
                    columns.len()
                ));
            }
            Ok(columns
                .iter()
                .map(|c| c.to_string())
                .zip(row.iter().cloned())
                .collect())
        })
        .collect()
}

fn text(row: &serde_json::Map<String, Value>, k: &str) -> String {
    row.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

fn list(row: &serde_json::Map<String, Value>, k: &str) -> Vec<String> {
    let mut l: Vec<String> = row
        .get(k)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    l.sort();
    l
}

/// Decodes the answer to [`OBSERVE`].
pub fn decode_table(answer: &Value) -> Result<ServerTable, String> {
    let results = results(answer)?;
    if results.len() != OBSERVE.len() {
        return Err(format!(
            "{} results for {} statements",
            results.len(),
            OBSERVE.len()
        ));
    }
    let servers = rows(&results[0])?
        .iter()
        .map(|r| ServerObs {
            name: text(r, "name"),
            address: text(r, "address"),
            state: text(r, "state"),
            health: text(r, "health"),
            hosting: list(r, "hosting"),
            requested_hosting: list(r, "requestedHosting"),
        })
        .collect();
    let moving = rows(&results[1])?.iter().map(|r| text(r, "name")).collect();
    let unsettled = rows(&results[2])?
        .iter()
        .map(|r| {
            format!(
                "{}@{}: {} ≠ {}",
                text(r, "name"),
                r.get("address")
                    .and_then(Value::as_str)
                    .unwrap_or("(unavailable)"),
                text(r, "currentStatus"),
                text(r, "requestedStatus")
            )
        })
        .collect();
    Ok(ServerTable {
        servers,
        moving,
        unsettled,
    })
}

/// A server name quoted as a Cypher string literal (names come from the server's own answer,
/// still: quotes and backslashes escaped).
pub fn quote(name: &str) -> String {
    format!("'{}'", name.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_observation_and_refuses_malformed_answers() {
        let answer = json!({"results": [
            {"columns": ["name", "address", "state", "health", "hosting", "requestedHosting"],
             "data": [{"row": ["a1", "orders-2-0.team-a.svc.cluster.local:7687", "Enabled", "Available", ["system", "neo4j"], ["neo4j", "system"]]}]},
            {"columns": ["name", "hosting", "requestedHosting"], "data": []},
            {"columns": ["name", "address", "currentStatus", "requestedStatus"],
             "data": [{"row": ["neo4j", null, "unknown", "online"]}]},
        ], "errors": []});
        let t = decode_table(&answer).unwrap();
        assert_eq!(t.servers.len(), 1);
        assert!(t.servers[0].in_pod("orders-2-0"));
        assert!(!t.servers[0].in_pod("orders-2"));
        assert_eq!(t.servers[0].hosting, t.servers[0].requested_hosting);
        assert_eq!(t.unsettled, ["neo4j@(unavailable): unknown ≠ online"]);
        let err = json!({"results": [], "errors": [{"code": "Neo.ClientError.Statement.SyntaxError", "message": "nope"}]});
        assert!(decode_table(&err).unwrap_err().contains("SyntaxError"));
        let short_row = json!({"results": [{"columns": ["name"], "data": [{"row": []}]}, {"columns": [], "data": []}, {"columns": [], "data": []}], "errors": []});
        assert!(decode_table(&short_row).is_err());
        assert!(decode_table(&json!("garbage")).is_err());
        assert_eq!(quote("it's"), "'it\\'s'");
    }
}
