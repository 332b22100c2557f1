//! Neo4j 5 server management from baton: the Cypher statements an operator types into
//! `cypher-shell` against the `system` database (`SHOW SERVERS`, `SHOW DATABASES`,
//! `ENABLE SERVER`, `DEALLOCATE DATABASES FROM SERVER`, `DROP SERVER`), sent over the HTTP
//! transactional API (`POST /db/system/tx/commit`) straight to a member with basic auth, and
//! the answers decoded into owned rows. Answers are untrusted: a malformed one is an error that
//! says what was wrong, never a panic. The Kubernetes executor's side of it (claims, a
//! member's pod IP, credentials) is here too.

use serde_json::{Value, json};

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, ListParams};

use super::executor::ExecError;
use super::kube::{KubeExecutor, err};
use super::observe::{ClaimObs, PodObs};
use crate::config::Transport;
use crate::fleet::Probe;
use crate::probe::credentials::Resolved;

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

/// Sends `statements` to the member at `base` (`http://ip:7474`) with basic auth.
pub async fn run(
    http: &crate::guard::ProbeHttp,
    base: &str,
    auth: &Resolved,
    statements: &[&str],
) -> Result<Value, ExecError> {
    let url = format!("{}/db/system/tx/commit", base.trim_end_matches('/'));
    // The transactional endpoint takes POST even for SHOW: the guard refuses it read-only.
    let req = http
        .request(reqwest::Method::POST, &url)
        .map_err(|r| ExecError::ReadOnly(format!("refused: {}", r.what)))?
        .header("Content-Type", "application/json")
        .body(body(statements).to_string());
    let req = match auth {
        Ok(Some(a)) => req.basic_auth(&a.user, Some(&a.password)),
        Ok(None) => {
            return Err(ExecError::Forbidden(
                "server management needs Neo4j credentials and none are configured".into(),
            ));
        }
        Err(why) => {
            return Err(ExecError::Forbidden(format!(
                "server management needs Neo4j credentials: {why}"
            )));
        }
    };
    let resp = req
        .send()
        .await
        .map_err(|e| ExecError::Other(format!("{url}: {e}")))?;
    let status = resp.status().as_u16();
    let text = resp
        .text()
        .await
        .map_err(|e| ExecError::Other(format!("{url}: {e}")))?;
    let answer: Value = serde_json::from_str(&text).map_err(|e| {
        ExecError::Other(format!(
            "{url} answered HTTP {status} with something other than JSON ({e}): {}",
            crate::clip(text.trim(), 80)
        ))
    })?;
    match status {
        401 | 403 => Err(ExecError::Forbidden(format!(
            "{url}: {}",
            results(&answer).err().unwrap_or_default()
        ))),
        _ => Ok(answer),
    }
}

/// What the Kubernetes executor reads and sends for server management: the members' claims,
/// and Cypher straight to a member's pod IP.
impl KubeExecutor {
    /// The claims the member pods mount. Not being allowed to read them is not fatal: only
    /// replace-member needs them, and it says so.
    pub(super) async fn claims(&self, pods: &[PodObs]) -> Vec<ClaimObs> {
        if pods.iter().all(|p| p.claims.is_empty()) {
            return Vec::new();
        }
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &self.namespace);
        let Ok(list) = api.list(&ListParams::default()).await else {
            return Vec::new();
        };
        let mut out: Vec<ClaimObs> = list
            .items
            .iter()
            .filter(|c| {
                let name = c.metadata.name.as_deref().unwrap_or("");
                pods.iter().any(|p| p.claims.iter().any(|n| n == name))
            })
            .map(|c| ClaimObs {
                name: c.metadata.name.clone().unwrap_or_default(),
                uid: c.metadata.uid.clone().unwrap_or_default(),
                deleting: c.metadata.deletion_timestamp.is_some(),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Sends statements to the `system` database of member `pod`, straight to its pod IP with
    /// the profile's credentials (the API server's pod proxy carries no credentials).
    pub(super) async fn system_query(
        &self,
        pod: &str,
        statements: &[&str],
    ) -> Result<Value, ExecError> {
        if self.transport == Transport::Proxy {
            return Err(ExecError::Other(
                "server management needs a direct route to the members (transport direct or auto): the pod proxy carries no credentials".into(),
            ));
        }
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let p = pods.get(pod).await.map_err(err)?;
        let ip = p
            .status
            .and_then(|s| s.pod_ip)
            .ok_or_else(|| ExecError::Other(format!("{pod} has no pod IP")))?;
        let host = if ip.contains(':') {
            format!("[{ip}]")
        } else {
            ip
        };
        let auth = self
            .resolver
            .get(&self.profile.credentials, &self.namespace)
            .await;
        run(
            &self.http,
            &format!("http://{host}:{}", self.profile.port),
            &auth,
            statements,
        )
        .await
    }

    /// Server management as a Neo4j member answers it: the first member that answered its
    /// probe is asked (any server answers SHOW from the `system` database).
    pub(super) async fn server_table(
        &self,
        pods: &[PodObs],
        probes: &[Probe],
    ) -> Option<Result<ServerTable, String>> {
        if self.profile.probe != crate::config::ProbeKind::Neo4j {
            return None;
        }
        let Some(p) = pods
            .iter()
            .zip(probes)
            .find(|(p, pr)| matches!(pr, Probe::Ok(_)) && p.ready && !p.deleting)
            .map(|(p, _)| p)
        else {
            return Some(Err("no member answers".into()));
        };
        Some(match self.system_query(&p.name, &OBSERVE).await {
            Ok(answer) => decode_table(&answer)
                .map_err(|e| format!("{} answered SHOW SERVERS badly: {e}", p.name)),
            Err(e) => Err(format!("{}: {e}", p.name)),
        })
    }
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
