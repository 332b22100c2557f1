//! The workloads of database pods: each pod of a Neo4j or etcd database runs one member of its
//! database's Raft group (lab/src/consensus.rs) and serves that server's status endpoints
//! (lab/src/endpoints.rs). Readiness follows the member: Ready only while it knows a leader.
//! Pods of baton's runner image run the executable (`runner`); other pods (Jobs, plain
//! servers) get the default workloads.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use futures::future::BoxFuture;
use serde_json::Value;

use super::consensus::{Consensus, Process};
use super::endpoints::{self, MemberView};
use super::kubelet::{
    DefaultWorkloads, HttpReply, HttpRequest, RunContext, Workload, WorkloadFactory,
};
use super::resources;
use super::store::{Frozen, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Neo4j,
    Etcd,
}

/// Picks a member workload for database pods, the default one for the rest.
pub struct LabWorkloads {
    pub orchestra: String,
    pub store: Arc<Store>,
    pub consensus: Arc<Consensus>,
    pub default: DefaultWorkloads,
    /// Where operation Jobs write artifacts (`s3://bucket/key` → `object_store/bucket/key`).
    pub object_store: std::path::PathBuf,
    /// The orchestra's kubelet, set once it exists (diagnostics read member logs).
    pub kubelet: Arc<std::sync::OnceLock<std::sync::Weak<super::kubelet::Kubelet>>>,
    /// baton's runner image, when the lab runs it (pods of that image run the executable).
    pub runner: Option<Arc<super::runner::Runner>>,
}

fn label<'a>(pod: &'a Value, k: &str) -> Option<&'a str> {
    pod["metadata"]["labels"][k].as_str()
}

/// Member id of a Neo4j server from its release name: `<db>-<n>` → n, `<db>-rr-<n>` → 100 + n.
fn neo4j_id(db: &str, release: &str) -> Option<(u64, bool)> {
    let rest = release.strip_prefix(db)?.strip_prefix('-')?;
    match rest.strip_prefix("rr-") {
        Some(n) => n.parse::<u64>().ok().map(|n| (100 + n, false)),
        None => rest.parse::<u64>().ok().map(|n| (n, true)),
    }
}

impl LabWorkloads {
    fn password(&self, ns: &str) -> String {
        let Ok(secret) = self.store.get(resources::secrets(), ns, "neo4j-auth") else {
            return String::new();
        };
        let raw = secret["data"]["NEO4J_AUTH"].as_str().unwrap_or("");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&decoded).into_owned();
        text.split_once('/')
            .map(|(_, p)| p.to_string())
            .unwrap_or_default()
    }

    fn neo4j(&self, pod: &Value, ns: &str) -> Option<Member> {
        let db = label(pod, "helm.neo4j.com/neo4j.name")?;
        let release = label(pod, "helm.neo4j.com/instance")?;
        let (id, _) = neo4j_id(db, release)?;
        // Read in place: every member's start looks at the StatefulSets of its namespace.
        let sel = |s: &Frozen| s["metadata"]["labels"]["helm.neo4j.com/neo4j.name"] == db;
        let (sts, _) = self
            .store
            .list_shared(resources::statefulsets(), Some(ns), sel);
        let mut voters = Vec::new();
        let mut learners = Vec::new();
        for s in &sts {
            match s["metadata"]["name"].as_str().and_then(|n| neo4j_id(db, n)) {
                Some((i, true)) => voters.push(i),
                Some((i, false)) => learners.push(i),
                None => {}
            }
        }
        voters.sort_unstable();
        learners.sort_unstable();
        Some(Member {
            kind: Kind::Neo4j,
            group: format!("{}/{ns}/{db}", self.orchestra),
            id,
            voters,
            learners,
            password: self.password(ns),
            version: pod["spec"]["containers"][0]["image"]
                .as_str()
                .and_then(|i| i.rsplit(':').next())
                .unwrap_or("")
                .trim_end_matches("-enterprise")
                .to_string(),
            namespace: ns.to_string(),
            consensus: self.consensus.clone(),
            key: String::new(),
            claim: self.claim(pod, ns),
        })
    }

    /// The uid of the PersistentVolumeClaim the pod mounts (the StatefulSet's claim), if any:
    /// the member's volume belongs to it.
    fn claim(&self, pod: &Value, ns: &str) -> Option<String> {
        let name = pod["spec"]["volumes"]
            .as_array()?
            .iter()
            .find_map(|v| v["persistentVolumeClaim"]["claimName"].as_str())?;
        let pvc = self
            .store
            .get(resources::persistentvolumeclaims(), ns, name)
            .ok()?;
        pvc["metadata"]["uid"].as_str().map(str::to_string)
    }

    fn etcd(&self, pod: &Value, ns: &str) -> Option<Member> {
        if label(pod, "app.kubernetes.io/name") != Some("etcd") {
            return None;
        }
        let instance = label(pod, "app.kubernetes.io/instance")?;
        let ordinal: u64 = pod["metadata"]["name"]
            .as_str()?
            .rsplit('-')
            .next()?
            .parse()
            .ok()?;
        let sts = self
            .store
            .get(resources::statefulsets(), ns, instance)
            .ok()?;
        let replicas = sts["spec"]["replicas"].as_u64().unwrap_or(1).max(1);
        Some(Member {
            kind: Kind::Etcd,
            group: format!("{}/{ns}/{instance}", self.orchestra),
            id: ordinal + 1,
            voters: (1..=replicas).collect(),
            learners: Vec::new(),
            password: String::new(),
            version: pod["spec"]["containers"][0]["image"]
                .as_str()
                .and_then(|i| i.rsplit(':').next())
                .unwrap_or("")
                .trim_end_matches("-0")
                .to_string(),
            namespace: ns.to_string(),
            consensus: self.consensus.clone(),
            key: String::new(),
            claim: None,
        })
    }
}

impl WorkloadFactory for LabWorkloads {
    fn workload(&self, pod: &Value) -> Arc<dyn Workload> {
        if let Some(runner) = self.runner.as_ref().filter(|r| r.runs(pod)) {
            return runner.workload(pod);
        }
        let env: Vec<(String, String)> = pod["spec"]["containers"][0]["env"]
            .as_array()
            .map(|env| {
                env.iter()
                    .filter_map(|e| {
                        Some((
                            e["name"].as_str()?.to_string(),
                            e["value"].as_str().unwrap_or("").to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let scripted = env.iter().any(|(n, _)| n == "LAB_SCRIPT");
        let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
        if let Some(kind) = env
            .iter()
            // The lab's own Jobs say LAB_JOB; baton's operations image reads BATON_OPERATION.
            .find(|(n, _)| n == "LAB_JOB" || n == "BATON_OPERATION")
            .and_then(|(_, v)| super::jobs::JobKind::parse(v))
        {
            return Arc::new(super::jobs::JobWorkload {
                kind,
                orchestra: self.orchestra.clone(),
                namespace: ns.to_string(),
                env,
                consensus: self.consensus.clone(),
                object_store: self.object_store.clone(),
                kubelet: self.kubelet.clone(),
            });
        }
        let name = pod["metadata"]["name"].as_str().unwrap_or("");
        if !scripted && let Some(mut m) = self.neo4j(pod, ns).or_else(|| self.etcd(pod, ns)) {
            m.key = format!("{}/{ns}/{name}", self.orchestra);
            return Arc::new(m);
        }
        self.default.workload(pod)
    }
}

/// One database member.
pub struct Member {
    kind: Kind,
    group: String,
    key: String,
    id: u64,
    voters: Vec<u64>,
    learners: Vec<u64>,
    password: String,
    version: String,
    namespace: String,
    consensus: Arc<Consensus>,
    /// The uid of the PersistentVolumeClaim holding its volume.
    claim: Option<String>,
}

/// Takes the member down when its process ends for any reason (stop, kill, crash); only this
/// process (incarnation), never a newer one of the same pod.
struct Down(Arc<Consensus>, String, u64);

impl Drop for Down {
    fn drop(&mut self) {
        self.0.stop_member(&self.1, self.2);
    }
}

impl Member {
    /// How this member's kind names member `id` (Neo4j: a UUID; etcd: a decimal u64).
    fn ident(&self, id: u64) -> String {
        match self.kind {
            Kind::Neo4j => endpoints::uuid_from(&format!("{}/{id}", self.group)),
            Kind::Etcd => (u64::from_str_radix(
                &endpoints::uuid_from(&format!("{}/{id}", self.group)).replace('-', "")[..15],
                16,
            )
            .unwrap_or(id))
            .to_string(),
        }
    }

    fn view(&self) -> Option<MemberView> {
        let st = self.consensus.status(&self.key)?;
        let ident = |id: u64| self.ident(id);
        let servers = match self.kind {
            Kind::Neo4j => self.consensus.servers(&self.key).unwrap_or_default(),
            Kind::Etcd => Vec::new(),
        };
        Some(MemberView {
            server: self.key.rsplit('/').next().unwrap_or("").to_string(),
            member_id: ident(st.id),
            leader_id: (st.leader_id != 0).then(|| ident(st.leader_id)),
            voters: st.voters.iter().map(|v| ident(*v)).collect(),
            core: st.voters.contains(&st.id),
            term: st.term,
            commit_index: st.commit_index,
            applied_index: st.applied_index,
            millis_since_leader_message: st.millis_since_leader_message,
            commands_per_second: (st.commands_per_second * 10.0).round() / 10.0,
            healthy: st.live && st.reachable && st.leader_id != 0,
            servers: servers
                .into_iter()
                .map(|mut s| {
                    s.name = s.name.parse().map(ident).unwrap_or(s.name);
                    s
                })
                .collect(),
            namespace: self.namespace.clone(),
            version: self.version.clone(),
        })
    }

    /// Transfers leadership away (if this process leads) and waits, at most two election
    /// timeouts and never past the grace period, until another member leads.
    async fn hand_over(&self, ctx: &RunContext, incarnation: u64, grace: Duration) {
        let Some(to) = self.consensus.hand_over(&self.key, incarnation) else {
            return;
        };
        ctx.log(format!(
            "Transferring leadership to member {to} before shutting down"
        ));
        let limit = (self.consensus.election_timeout() * 2).min(grace);
        let deadline = tokio::time::Instant::now() + limit;
        let every = self.consensus.poll_interval() / 4;
        loop {
            if let Some((id, leader, term)) = self.consensus.leader_seen(&self.key)
                && leader != 0
                && leader != id
            {
                ctx.log(format!(
                    "Leadership transferred to member {leader} in term {term}"
                ));
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                ctx.log("Leadership transfer did not complete in time; shutting down anyway");
                return;
            }
            tokio::time::sleep(every).await;
        }
    }
}

impl Workload for Member {
    fn run(self: Arc<Self>, ctx: RunContext) -> BoxFuture<'static, i32> {
        Box::pin(async move {
            let process = Process {
                container_id: ctx.container_id.clone(),
                started_at: ctx.started_at.clone(),
                claim: self.claim.clone(),
            };
            let incarnation = match self.consensus.start_member(
                &self.group,
                &self.key,
                self.id,
                &self.voters,
                &self.learners,
                process,
            ) {
                Ok(n) => n,
                Err(e) => {
                    ctx.log(format!("ERROR cannot start the Raft member: {e}"));
                    return 1;
                }
            };
            let _down = Down(self.consensus.clone(), self.key.clone(), incarnation);
            // The member id is the one on the volume (a new one for an empty volume that
            // replaces a member).
            let status = self.consensus.status(&self.key);
            let id = status.as_ref().map_or(self.id, |st| st.id);
            let what = match self.kind {
                Kind::Neo4j => format!("Neo4j {} member {id} of {}", self.version, self.group),
                Kind::Etcd => format!("etcd {} member {id} of {}", self.version, self.group),
            };
            ctx.log(format!("Starting {what}"));
            if let Some(st) = status {
                ctx.log(format!(
                    "Store recovered at applied index {} (term {}), state {}",
                    st.applied_index, st.term, st.state_digest
                ));
            }
            let mut ready = false;
            let mut leader = 0;
            let every = self.consensus.poll_interval();
            // The process learns of leader changes as its member sees them (polling only if
            // that channel is gone).
            let mut seen = self.consensus.watch_leader(&self.key, incarnation);
            loop {
                let woke = match seen.as_mut() {
                    Some(rx) => tokio::select! {
                        changed = rx.changed() => {
                            if changed.is_err() {
                                seen = None;
                            }
                            true
                        }
                        _ = ctx.stopping() => false,
                    },
                    None => ctx.sleep(every).await,
                };
                if !woke {
                    break;
                }
                let Some((id, leader_id, term)) = self.consensus.leader_seen(&self.key) else {
                    continue;
                };
                if leader_id != leader {
                    leader = leader_id;
                    ctx.log(match leader {
                        0 => "Lost contact with the leader".to_string(),
                        l if l == id => format!("Became leader in term {term}"),
                        l => format!("Following leader {l} in term {term}"),
                    });
                }
                let serving = leader_id != 0;
                if serving != ready {
                    ready = serving;
                    ctx.set_ready(ready);
                    if ready {
                        ctx.log("Remote interface available at http://0.0.0.0:7474/");
                    }
                }
            }
            ctx.log("Stopping...");
            // A graceful shutdown (SIGTERM with a grace period) of a leader hands leadership to
            // a caught-up voter first, as Neo4j and etcd do, so the group need not wait out an
            // election timeout. A force deletion or a kill gives no such chance.
            let grace = ctx.grace_period();
            if !grace.is_zero() {
                self.hand_over(&ctx, incarnation, grace).await;
            }
            0
        })
    }

    fn http(&self, req: &HttpRequest) -> Option<HttpReply> {
        let view = self.view()?;
        match self.kind {
            Kind::Neo4j if req.port == 7474 => Some(endpoints::neo4j(
                &view,
                &self.password,
                &req.method,
                &req.path,
                req.authorization.as_deref(),
                &req.body,
                &|cmd| {
                    self.consensus
                        .server_command(&self.key, cmd, &|id| self.ident(id))
                },
            )),
            Kind::Etcd if req.port == 2379 => Some(endpoints::etcd(
                &view,
                &req.method,
                &req.path,
                0x1d2c_3b4a_5968_7786,
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::neo4j_id;

    #[test]
    fn member_ids_from_release_names() {
        assert_eq!(neo4j_id("orders", "orders-2"), Some((2, true)));
        assert_eq!(neo4j_id("orders", "orders-rr-1"), Some((101, false)));
        assert_eq!(neo4j_id("orders", "ordersx-1"), None);
        assert_eq!(neo4j_id("orders", "orders-x"), None);
    }
}
