//! Server management on Kubernetes: the members' claims, and the Cypher of `neo4j_admin` sent
//! straight to a member's pod IP over HTTP with basic auth (the pod proxy carries no
//! credentials), its answer read as untrusted.

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, ListParams};
use serde_json::Value;

use super::{KubeExecutor, err};
use crate::config::Transport;
use crate::fleet::Probe;
use crate::ops::executor::ExecError;
use crate::ops::neo4j_admin::{OBSERVE, ServerTable, body, decode_table, results};
use crate::ops::observe::{ClaimObs, PodObs};
use crate::probe::credentials::Resolved;

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
