//! Lab profiles: which orchestras and databases the lab starts with — `demo` (a few regions,
//! about 15 databases), `fleet` (200 orchestras, 10 000 databases, 30 000 members) or a TOML file —
//! and the Kubernetes objects each database is made of, laid out like the official Neo4j Helm
//! charts (one StatefulSet per server, `helm.neo4j.com/*` labels, ports 7474/7687/6362).

use std::path::Path;

use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::Deserialize;
use serde_json::{Value, json};

/// What kind of database a lab database is.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum DbKind {
    /// Neo4j 5.x: servers with PRIMARY/SECONDARY mode constraints.
    Neo4j,
    /// Neo4j 4.4: `helm.neo4j.com/dbms.mode=CORE|READ_REPLICA`.
    #[serde(rename = "neo4j-4.4")]
    Neo4j44,
    /// etcd: one StatefulSet with one pod per member.
    Etcd,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSpec {
    pub name: String,
    pub namespace: String,
    #[serde(default = "default_kind")]
    pub kind: DbKind,
    #[serde(default = "default_primaries")]
    pub primaries: u32,
    #[serde(default)]
    pub secondaries: u32,
    #[serde(default)]
    pub version: Option<String>,
}

fn default_kind() -> DbKind {
    DbKind::Neo4j
}
fn default_primaries() -> u32 {
    3
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OrchestraSpec {
    pub name: String,
    #[serde(default, rename = "database")]
    pub databases: Vec<DatabaseSpec>,
}

/// A whole lab: orchestras, and how busy and detailed the lab is.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LabSpec {
    #[serde(rename = "orchestra")]
    pub orchestras: Vec<OrchestraSpec>,
    /// Create Services for every server (off for the fleet profile to save memory).
    #[serde(default = "yes")]
    pub services: bool,
    /// Kubernetes Events kept per orchestra (0 = none).
    #[serde(default = "default_events")]
    pub events_per_orchestra: usize,
    /// Changes kept per orchestra for watches.
    #[serde(default = "default_history")]
    pub watch_history: usize,
    /// Serve each pod's HTTP port on its own loopback IP (off at fleet scale: one socket per pod).
    #[serde(default = "yes")]
    pub pod_ips: bool,
    /// Raft tick of every member, in milliseconds (elections take 10 ticks).
    #[serde(default = "default_tick")]
    pub raft_tick_ms: u64,
    /// Steady writes per second on each database's leader.
    #[serde(default = "default_writes")]
    pub writes_per_second: f64,
    /// Pods start fast (fleet) instead of at human-visible speed.
    #[serde(default)]
    pub fast_start: bool,
}

fn yes() -> bool {
    true
}
fn default_tick() -> u64 {
    100
}
fn default_writes() -> f64 {
    5.0
}
fn default_events() -> usize {
    2000
}
fn default_history() -> usize {
    5000
}

impl LabSpec {
    pub fn demo() -> Self {
        let db = |name: &str, ns: &str, kind, p, s, v: &str| DatabaseSpec {
            name: name.into(),
            namespace: ns.into(),
            kind,
            primaries: p,
            secondaries: s,
            version: Some(v.into()),
        };
        use DbKind::*;
        let orchestras = vec![
            OrchestraSpec {
                name: "aws-eu-west-1".into(),
                databases: vec![
                    db("orders", "team-commerce", Neo4j, 3, 1, "5.26.0"),
                    db("catalog", "team-commerce", Neo4j, 3, 0, "5.26.0"),
                    db("fraud-graph", "team-risk", Neo4j, 5, 2, "5.26.0"),
                    db("identity", "team-platform", Neo4j, 3, 0, "5.24.2"),
                    db("config-store", "infra", Etcd, 3, 0, "3.5.17"),
                ],
            },
            OrchestraSpec {
                name: "gcp-us-central1".into(),
                databases: vec![
                    db("recommendations", "team-ml", Neo4j, 3, 2, "5.26.0"),
                    db("supply-chain", "team-logistics", Neo4j, 4, 0, "5.26.0"),
                    db("knowledge", "team-ml", Neo4j, 3, 1, "5.25.1"),
                    db("legacy-crm", "team-sales", Neo4j44, 3, 1, "4.4.41"),
                ],
            },
            OrchestraSpec {
                name: "azure-westeurope".into(),
                databases: vec![
                    db("network-topology", "team-netops", Neo4j, 3, 0, "5.26.0"),
                    db("customer-360", "team-data", Neo4j, 5, 1, "5.26.0"),
                    db("audit-trail", "team-compliance", Neo4j, 3, 0, "5.23.0"),
                ],
            },
            OrchestraSpec {
                name: "dedicated-acme-prod".into(),
                databases: vec![
                    db("acme-main", "acme", Neo4j, 3, 2, "5.26.0"),
                    db("acme-analytics", "acme", Neo4j, 3, 0, "5.26.0"),
                    db("acme-staging", "acme-staging", Neo4j, 3, 0, "5.26.0"),
                ],
            },
        ];
        Self {
            orchestras,
            services: true,
            events_per_orchestra: default_events(),
            watch_history: default_history(),
            pod_ips: true,
            raft_tick_ms: default_tick(),
            writes_per_second: default_writes(),
            fast_start: false,
        }
    }

    /// 200 orchestras × 50 databases × 3 members.
    pub fn fleet() -> Self {
        const CLOUDS: [(&str, &[&str]); 3] = [
            (
                "aws",
                &[
                    "us-east-1",
                    "us-west-2",
                    "eu-west-1",
                    "eu-central-1",
                    "ap-southeast-1",
                ],
            ),
            ("gcp", &["us-central1", "europe-west1", "asia-east1"]),
            ("azure", &["westeurope", "eastus", "japaneast"]),
        ];
        let regions: Vec<String> = CLOUDS
            .iter()
            .flat_map(|(c, rs)| rs.iter().map(move |r| format!("{c}-{r}")))
            .collect();
        let orchestras = (0..200)
            .map(|i| OrchestraSpec {
                name: format!("{}-{:03}", regions[i % regions.len()], i),
                databases: (0..50)
                    .map(|d| DatabaseSpec {
                        name: format!("db-{i:03}-{d:02}"),
                        namespace: format!("tenant-{:02}", d % 10),
                        kind: DbKind::Neo4j,
                        primaries: 3,
                        secondaries: 0,
                        version: Some("5.26.0".into()),
                    })
                    .collect(),
            })
            .collect();
        Self {
            orchestras,
            services: false,
            events_per_orchestra: 0,
            watch_history: 64,
            pod_ips: false,
            raft_tick_ms: 1000,
            writes_per_second: 0.0,
            fast_start: true,
        }
    }

    /// Reads a profile file; errors name the file and line.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read the lab profile: {e}", path.display()))?;
        let spec: Self = toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            format!(
                "{}{}: {}",
                path.display(),
                line.map(|l| format!(":{l}")).unwrap_or_default(),
                e.message().trim()
            )
        })?;
        spec.validate()
            .map_err(|m| format!("{}: {m}", path.display()))?;
        Ok(spec)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.orchestras.is_empty() {
            return Err("a lab profile needs at least one [[orchestra]]".into());
        }
        let mut names = std::collections::HashSet::new();
        for o in &self.orchestras {
            if !super::store::valid_name(&o.name) || !names.insert(&o.name) {
                return Err(format!(
                    "orchestra name '{}' is invalid or repeated (lowercase letters, digits, '-')",
                    o.name
                ));
            }
            let mut dbs = std::collections::HashSet::new();
            for d in &o.databases {
                if !super::store::valid_name(&d.name) || !super::store::valid_name(&d.namespace) {
                    return Err(format!(
                        "database '{}' in namespace '{}': names must be lowercase letters, digits and '-'",
                        d.name, d.namespace
                    ));
                }
                if !dbs.insert((&d.namespace, &d.name)) {
                    return Err(format!(
                        "database '{}/{}' appears twice in orchestra '{}'",
                        d.namespace, d.name, o.name
                    ));
                }
                if d.primaries == 0 || d.primaries > 9 || d.secondaries > 9 {
                    return Err(format!(
                        "database '{}': primaries must be 1–9 and secondaries 0–9",
                        d.name
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn named(profile: &str) -> Result<Self, String> {
        match profile {
            "demo" => Ok(Self::demo()),
            "fleet" => Ok(Self::fleet()),
            path => Self::from_file(Path::new(path)),
        }
    }
}

/// One server of a database: its StatefulSet name and role.
#[derive(Debug, Clone)]
pub struct Server {
    pub release: String,
    pub primary: bool,
}

/// The servers of a Neo4j database, named like Helm releases: `<db>-1…`, secondaries `<db>-rr-1…`.
pub fn servers(d: &DatabaseSpec) -> Vec<Server> {
    let mut v: Vec<Server> = (1..=d.primaries)
        .map(|i| Server {
            release: format!("{}-{i}", d.name),
            primary: true,
        })
        .collect();
    v.extend((1..=d.secondaries).map(|i| Server {
        release: format!("{}-rr-{i}", d.name),
        primary: false,
    }));
    v
}

/// A password for a database's `neo4j-auth` Secret.
pub fn password(rng: &mut StdRng) -> String {
    (0..16)
        .map(|_| char::from(b"abcdefghjkmnpqrstuvwxyz23456789"[rng.random_range(0..31)]))
        .collect()
}

pub fn rng(seed: Option<u64>) -> StdRng {
    match seed {
        Some(s) => StdRng::seed_from_u64(s),
        None => StdRng::from_os_rng(),
    }
}

/// Standard base64 with padding (Secret data, kubeconfig certificate data).
pub fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The objects that make up database `d`: StatefulSets (with their Services) and nothing that
/// a controller makes (pods come from the StatefulSet controller).
pub fn database_objects(d: &DatabaseSpec, services: bool) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    match d.kind {
        DbKind::Etcd => {
            let version = d.version.clone().unwrap_or_else(|| "3.5.17".into());
            let labels = json!({"app.kubernetes.io/name": "etcd", "app.kubernetes.io/instance": d.name, "app.kubernetes.io/managed-by": "Helm"});
            out.push((
                "statefulsets",
                json!({
                    "metadata": {"name": d.name, "labels": labels},
                    "spec": {
                        "replicas": d.primaries,
                        "serviceName": format!("{}-headless", d.name),
                        "podManagementPolicy": "Parallel",
                        "selector": {"matchLabels": {"app.kubernetes.io/name": "etcd", "app.kubernetes.io/instance": d.name}},
                        "updateStrategy": {"type": "RollingUpdate"},
                        "template": {
                            "metadata": {"labels": labels},
                            "spec": {"containers": [{
                                "name": "etcd",
                                "image": format!("registry.k8s.io/etcd:{version}-0"),
                                "ports": [{"name": "client", "containerPort": 2379, "protocol": "TCP"}, {"name": "peer", "containerPort": 2380, "protocol": "TCP"}],
                                "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
                            }]}
                        }
                    }
                }),
            ));
            if services {
                out.push(("services", json!({
                    "metadata": {"name": format!("{}-headless", d.name), "labels": labels},
                    "spec": {"clusterIP": "None", "selector": {"app.kubernetes.io/instance": d.name}, "ports": [{"name": "client", "port": 2379, "protocol": "TCP"}]}
                })));
            }
        }
        DbKind::Neo4j | DbKind::Neo4j44 => {
            let v44 = d.kind == DbKind::Neo4j44;
            let version = d.version.clone().unwrap_or_else(|| {
                if v44 {
                    "4.4.41".into()
                } else {
                    "5.26.0".into()
                }
            });
            for s in servers(d) {
                let mut labels = json!({
                    "app": d.name,
                    "helm.neo4j.com/neo4j.name": d.name,
                    "helm.neo4j.com/instance": s.release,
                    "helm.neo4j.com/clustering": "true",
                    "helm.neo4j.com/pod_category": "neo4j-instance",
                    "helm.neo4j.com/neo4j.loadbalancer": "include",
                });
                if v44 {
                    labels["helm.neo4j.com/dbms.mode"] =
                        json!(if s.primary { "CORE" } else { "READ_REPLICA" });
                }
                let mode_env = if v44 {
                    json!({"name": "NEO4J_dbms_mode", "value": if s.primary { "CORE" } else { "READ_REPLICA" }})
                } else {
                    json!({"name": "NEO4J_initial_server_mode__constraint", "value": if s.primary { "PRIMARY" } else { "SECONDARY" }})
                };
                let sts_labels = json!({"app": d.name, "helm.neo4j.com/neo4j.name": d.name, "helm.neo4j.com/instance": s.release, "app.kubernetes.io/managed-by": "Helm"});
                out.push((
                    "statefulsets",
                    json!({
                        "metadata": {"name": s.release, "labels": sts_labels, "annotations": {"meta.helm.sh/release-name": s.release}},
                        "spec": {
                            "replicas": 1,
                            "serviceName": s.release,
                            "podManagementPolicy": "Parallel",
                            "selector": {"matchLabels": {"app": d.name, "helm.neo4j.com/instance": s.release}},
                            "updateStrategy": {"type": "RollingUpdate"},
                            "template": {
                                "metadata": {"labels": labels},
                                "spec": {
                                    "containers": [{
                                        "name": "neo4j",
                                        "image": format!("neo4j:{version}-enterprise"),
                                        "ports": [
                                            {"name": "http", "containerPort": 7474, "protocol": "TCP"},
                                            {"name": "bolt", "containerPort": 7687, "protocol": "TCP"},
                                            {"name": "backup", "containerPort": 6362, "protocol": "TCP"},
                                        ],
                                        "env": [
                                            mode_env,
                                            {"name": "NEO4J_AUTH", "valueFrom": {"secretKeyRef": {"name": "neo4j-auth", "key": "NEO4J_AUTH"}}},
                                            {"name": "NEO4J_server_memory_heap_max__size", "value": "2G"},
                                        ],
                                        "resources": {"requests": {"cpu": "1", "memory": "4Gi"}, "limits": {"memory": "4Gi"}},
                                        "readinessProbe": {"tcpSocket": {"port": 7687}, "periodSeconds": 5},
                                    }],
                                    "securityContext": {"runAsUser": 7474, "runAsGroup": 7474, "fsGroup": 7474},
                                }
                            },
                            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}}],
                        }
                    }),
                ));
                if services {
                    out.push(("services", json!({
                        "metadata": {"name": s.release, "labels": {"helm.neo4j.com/neo4j.name": d.name, "helm.neo4j.com/instance": s.release}},
                        "spec": {"type": "ClusterIP", "clusterIP": "None", "selector": {"helm.neo4j.com/instance": s.release},
                                  "ports": [{"name": "http", "port": 7474, "protocol": "TCP"}, {"name": "bolt", "port": 7687, "protocol": "TCP"}, {"name": "backup", "port": 6362, "protocol": "TCP"}]}
                    })));
                }
            }
            if services {
                out.push(("services", json!({
                    "metadata": {"name": format!("{}-lb-neo4j", d.name), "labels": {"helm.neo4j.com/neo4j.name": d.name, "helm.neo4j.com/service-type": "loadbalancer"}},
                    "spec": {"type": "ClusterIP", "clusterIP": "", "selector": {"helm.neo4j.com/neo4j.name": d.name, "helm.neo4j.com/neo4j.loadbalancer": "include"},
                              "ports": [{"name": "http", "port": 7474, "protocol": "TCP"}, {"name": "bolt", "port": 7687, "protocol": "TCP"}]}
                })));
            }
        }
    }
    out
}

/// The `neo4j-auth` Secret of a namespace (`NEO4J_AUTH` = `neo4j/<password>`).
pub fn auth_secret(password: &str) -> Value {
    json!({
        "metadata": {"name": "neo4j-auth"},
        "type": "Opaque",
        "data": {"NEO4J_AUTH": b64(&format!("neo4j/{password}"))},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_valid_and_sized() {
        let demo = LabSpec::demo();
        demo.validate().unwrap();
        let dbs: usize = demo.orchestras.iter().map(|o| o.databases.len()).sum();
        assert!((14..=16).contains(&dbs));
        let fleet = LabSpec::fleet();
        fleet.validate().unwrap();
        assert_eq!(fleet.orchestras.len(), 200);
        let members: u32 = fleet
            .orchestras
            .iter()
            .flat_map(|o| &o.databases)
            .map(|d| d.primaries + d.secondaries)
            .sum();
        assert_eq!(members, 30_000);
    }

    #[test]
    fn base64_matches_known_values() {
        assert_eq!(b64("neo4j/secret"), "bmVvNGovc2VjcmV0");
        assert_eq!(b64("ab"), "YWI=");
        assert_eq!(b64("a"), "YQ==");
    }

    #[test]
    fn bad_profile_file_names_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lab.toml");
        std::fs::write(&p, "[[orchestra]]\nname = \"x\"\n[[orchestra.database]]\nname = \"a\"\nnamespace = \"n\"\nprimarys = 3\n").unwrap();
        let e = LabSpec::from_file(&p).unwrap_err();
        assert!(e.contains("lab.toml:6"), "{e}");
    }
}
