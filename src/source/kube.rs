//! Kubernetes orchestras, one snapshot at a time: read the kubeconfig as kubectl does, list the
//! pods of each profile's databases, probe every member through the API server's pod proxy
//! (bounded concurrency, timeouts), and derive each database's state. One slow or dead orchestra
//! never delays the others beyond its own timeout.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde::Serialize;

use crate::config::{Config, ProbeKind, ProfileConfig, builtin_profile};
use crate::fleet::{self, DatabaseState, MemberInput, PodInfo, Probe};

/// Why orchestras could not even be listed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
}

/// One orchestra to look at.
pub struct Target {
    pub name: String,
    pub config: kube::Config,
}

/// Reads the kubeconfig (`--kubeconfig`, else `KUBECONFIG` with several files, else
/// `~/.kube/config`) and picks contexts: the `--context` ones, else those in the config file,
/// else every context, one per cluster.
pub async fn targets(
    kubeconfig: Option<&Path>,
    contexts: &[String],
    config: &Config,
) -> Result<Vec<Target>, SourceError> {
    let kc = match kubeconfig {
        Some(p) => Kubeconfig::read_from(p)
            .map_err(|e| SourceError::Kubeconfig(format!("{}: {e}", p.display())))?,
        None => Kubeconfig::read().map_err(|e| SourceError::Kubeconfig(e.to_string()))?,
    };
    let wanted: Vec<String> = if !contexts.is_empty() {
        contexts.to_vec()
    } else if !config.orchestras.is_empty() {
        // Orchestras of the static inventory are not kubeconfig contexts.
        config
            .orchestras
            .keys()
            .filter(|o| !config.inventory.contains_key(*o))
            .cloned()
            .collect()
    } else {
        let mut seen = std::collections::HashSet::new();
        kc.contexts
            .iter()
            .filter(|c| {
                seen.insert(
                    c.context
                        .as_ref()
                        .map(|x| x.cluster.clone())
                        .unwrap_or_default(),
                )
            })
            .map(|c| c.name.clone())
            .collect()
    };
    let mut out = Vec::new();
    for name in wanted {
        if !kc.contexts.iter().any(|c| c.name == name) {
            return Err(SourceError::Kubeconfig(format!(
                "no context named '{name}'"
            )));
        }
        let opts = KubeConfigOptions {
            context: Some(name.clone()),
            ..Default::default()
        };
        let config = kube::Config::from_custom_kubeconfig(kc.clone(), &opts)
            .await
            .map_err(|e| SourceError::Kubeconfig(format!("context '{name}': {e}")))?;
        out.push(Target { name, config });
    }
    Ok(out)
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberSnapshot {
    pub pod: String,
    pub ready: bool,
    pub phase: String,
    pub restarts: i32,
    pub node: String,
    pub ip: String,
    pub image: String,
    pub role: String,
    pub lag: Option<u64>,
    pub applied_index: Option<u64>,
    pub probe_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DatabaseSnapshot {
    pub orchestra: String,
    pub namespace: String,
    pub name: String,
    pub profile: String,
    pub version: String,
    pub members_ready: usize,
    pub members: usize,
    pub leader: Option<String>,
    pub term: Option<u64>,
    pub worst_lag: Option<u64>,
    pub health: String,
    pub reasons: Vec<String>,
    pub member_details: Vec<MemberSnapshot>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrchestraSnapshot {
    pub name: String,
    /// `live`, `unauthorized: …` or `unreachable: …`.
    pub connection: String,
    pub databases: usize,
    pub degraded: usize,
    pub down: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct FleetSnapshot {
    pub orchestras: Vec<OrchestraSnapshot>,
    pub databases: Vec<DatabaseSnapshot>,
}

/// A profile whose grouping label is generic (`app.kubernetes.io/instance`) claims only the pods
/// of its kind, told by the image name.
pub fn claims(profile: &ProfileConfig, image: &str) -> bool {
    match profile.probe {
        ProbeKind::Neo4j => true,
        ProbeKind::Etcd => image.contains("etcd"),
        ProbeKind::Dynomite => image.contains("dynomite"),
    }
}

/// The profiles to discover: the built-in `neo4j` and `etcd`, plus those of the config file.
pub fn profiles(config: &Config) -> Vec<(String, ProfileConfig)> {
    let mut names: Vec<String> = vec!["neo4j".into(), "etcd".into()];
    for k in config.profiles.keys() {
        if !names.contains(k) {
            names.push(k.clone());
        }
    }
    names
        .into_iter()
        .filter_map(|n| {
            config
                .profile(&n)
                .or_else(|| builtin_profile(&n))
                .map(|p| (n, p))
        })
        .collect()
}

/// Everything about one orchestra, or why it could not be read. Bounded by `timeout` overall.
pub async fn snapshot_orchestra(
    target: Target,
    config: &Config,
    timeout: Duration,
    probes_in_flight: Arc<tokio::sync::Semaphore>,
) -> (OrchestraSnapshot, Vec<DatabaseSnapshot>) {
    let name = target.name.clone();
    let fail = |connection: String| {
        (
            OrchestraSnapshot {
                name: name.clone(),
                connection,
                databases: 0,
                degraded: 0,
                down: 0,
            },
            Vec::new(),
        )
    };
    let mut cfg = target.config;
    cfg.connect_timeout = Some(timeout.min(Duration::from_secs(5)));
    cfg.read_timeout = Some(timeout);
    let client = match kube::Client::try_from(cfg) {
        Ok(c) => c,
        Err(e) => return fail(format!("unreachable: {}", crate::probe::kube_reason(&e))),
    };
    let lag_gate = config.operations.lag_gate;
    let work = async {
        let pods: Api<Pod> = Api::all(client.clone());
        let mut dbs: Vec<DatabaseSnapshot> = Vec::new();
        for (profile_name, profile) in profiles(config) {
            let list = pods
                .list(&ListParams::default().labels(&profile.grouping_label))
                .await?;
            let mut groups: BTreeMap<(String, String), Vec<PodInfo>> = BTreeMap::new();
            for p in list.items {
                let ns = p.metadata.namespace.clone().unwrap_or_default();
                let db = p
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(&profile.grouping_label))
                    .cloned()
                    .unwrap_or_default();
                let p = trim_pod(&p, "");
                if !claims(&profile, &p.image) {
                    continue;
                }
                groups.entry((ns, db)).or_default().push(p);
            }
            let probes = groups
                .iter()
                .flat_map(|((ns, _), pods)| pods.iter().map(move |p| (ns.clone(), p.name.clone())));
            let results: BTreeMap<(String, String), Probe> = futures::stream::iter(probes)
                .map(|(ns, pod)| {
                    let client = client.clone();
                    let limit = probes_in_flight.clone();
                    async move {
                        // Fleet-wide bound: a probe's timeout starts once it may run.
                        let _permit = limit.acquire_owned().await;
                        let ep = crate::probe::Endpoint {
                            namespace: ns.clone(),
                            pod: pod.clone(),
                            address: String::new(),
                            port: profile.port,
                            kind: profile.probe,
                        };
                        let probe =
                            crate::probe::via_proxy(&client, &ep, Duration::from_secs(3)).await;
                        ((ns, pod), probe)
                    }
                })
                .buffer_unordered(super::supervisor::PROBES_PER_ORCHESTRA)
                .collect()
                .await;
            for ((ns, db), pods) in groups {
                let inputs: Vec<MemberInput> = pods
                    .iter()
                    .map(|p| MemberInput {
                        probe: results
                            .get(&(ns.clone(), p.name.clone()))
                            .cloned()
                            .unwrap_or_default(),
                        name: p.name.clone(),
                        pod_ready: p.ready,
                    })
                    .collect();
                let state: DatabaseState = fleet::derive(&inputs, lag_gate);
                dbs.push(database_snapshot(
                    &name,
                    &ns,
                    &db,
                    &profile_name,
                    &pods,
                    &inputs,
                    state,
                ));
            }
        }
        Ok::<_, kube::Error>(dbs)
    };
    match tokio::time::timeout(timeout, work).await {
        Err(_) => fail(format!(
            "unreachable: no answer within {}s",
            timeout.as_secs()
        )),
        Ok(Err(kube::Error::Api(s))) if s.code == 401 || s.code == 403 => {
            fail(format!("unauthorized: {}", s.message))
        }
        Ok(Err(e)) => fail(format!("unreachable: {}", crate::probe::kube_reason(&e))),
        Ok(Ok(dbs)) => {
            let counts: fleet::HealthCounts = dbs
                .iter()
                .map(|d| match d.health.as_str() {
                    "healthy" => fleet::Health::Healthy,
                    "degraded" => fleet::Health::Degraded,
                    "down" => fleet::Health::Down,
                    _ => fleet::Health::Unknown,
                })
                .collect();
            (
                OrchestraSnapshot {
                    name: name.clone(),
                    connection: "live".into(),
                    databases: dbs.len(),
                    degraded: counts.degraded,
                    down: counts.down,
                },
                dbs,
            )
        }
    }
}

/// Trims a pod to what baton shows; `zone` comes from the pod's node.
pub fn trim_pod(p: &Pod, zone: &str) -> PodInfo {
    let status = p.status.as_ref();
    let spec = p.spec.as_ref();
    PodInfo {
        name: p.metadata.name.clone().unwrap_or_default(),
        ready: status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True")),
        phase: status.and_then(|s| s.phase.clone()).unwrap_or_default(),
        restarts: status
            .and_then(|s| s.container_statuses.as_ref())
            .map(|cs| {
                cs.iter()
                    .map(|c| u32::try_from(c.restart_count).unwrap_or(0))
                    .sum()
            })
            .unwrap_or(0),
        node: spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        zone: zone.into(),
        ip: status.and_then(|s| s.pod_ip.clone()).unwrap_or_default(),
        image: spec
            .and_then(|s| s.containers.first())
            .and_then(|c| c.image.clone())
            .unwrap_or_default(),
        created_ms: p
            .metadata
            .creation_timestamp
            .as_ref()
            .and_then(|t| u64::try_from(t.0.as_millisecond()).ok()),
        terminating: p.metadata.deletion_timestamp.is_some(),
    }
}

fn database_snapshot(
    orchestra: &str,
    ns: &str,
    db: &str,
    profile: &str,
    pods: &[PodInfo],
    inputs: &[MemberInput],
    state: DatabaseState,
) -> DatabaseSnapshot {
    let member_details: Vec<MemberSnapshot> = pods
        .iter()
        .zip(inputs)
        .zip(&state.members)
        .map(|((p, input), derived)| MemberSnapshot {
            pod: p.name.clone(),
            ready: p.ready,
            phase: p.phase.clone(),
            restarts: i32::try_from(p.restarts).unwrap_or(i32::MAX),
            node: p.node.clone(),
            ip: p.ip.clone(),
            image: p.image.clone(),
            role: derived.role.word().into(),
            lag: derived.lag,
            applied_index: match &input.probe {
                Probe::Ok(r) => r.applied_index,
                _ => None,
            },
            probe_error: match &input.probe {
                Probe::Error(e) => Some(e.clone()),
                _ => None,
            },
        })
        .collect();
    let version = pods
        .first()
        .map(|p| p.version().to_string())
        .unwrap_or_default();
    DatabaseSnapshot {
        orchestra: orchestra.into(),
        namespace: ns.into(),
        name: db.into(),
        profile: profile.into(),
        version,
        members_ready: inputs.iter().filter(|m| m.pod_ready).count(),
        members: inputs.len(),
        leader: state.leader,
        term: state.term,
        worst_lag: state.worst_lag,
        health: state.health.word().into(),
        reasons: state.reasons,
        member_details,
    }
}

/// Snapshots every target concurrently.
pub async fn snapshot(targets: Vec<Target>, config: &Config, timeout: Duration) -> FleetSnapshot {
    let limit = Arc::new(tokio::sync::Semaphore::new(
        super::supervisor::PROBES_IN_FLIGHT,
    ));
    let results = futures::future::join_all(
        targets
            .into_iter()
            .map(|t| snapshot_orchestra(t, config, timeout, limit.clone())),
    )
    .await;
    let mut orchestras = Vec::new();
    let mut databases = Vec::new();
    for (o, dbs) in results {
        orchestras.push(o);
        databases.extend(dbs);
    }
    FleetSnapshot {
        orchestras,
        databases,
    }
}

/// The table `baton status` prints.
pub fn table(s: &FleetSnapshot) -> String {
    let mut out = String::new();
    for o in &s.orchestras {
        out.push_str(&format!(
            "{:<28} {:<10} databases {:<4} degraded {:<3} down {}\n",
            o.name, o.connection, o.databases, o.degraded, o.down
        ));
    }
    out.push('\n');
    out.push_str(&format!(
        "{:<24} {:<28} {:<16} {:<8} {:<7} {:<18} {:<5} {:<5} {:<9} {}\n",
        "ORCHESTRA",
        "DATABASE",
        "NAMESPACE",
        "PROFILE",
        "READY",
        "LEADER",
        "TERM",
        "LAG",
        "HEALTH",
        "REASON"
    ));
    for d in &s.databases {
        out.push_str(&format!(
            "{:<24} {:<28} {:<16} {:<8} {:<7} {:<18} {:<5} {:<5} {:<9} {}\n",
            d.orchestra,
            d.name,
            d.namespace,
            d.profile,
            format!("{}/{}", d.members_ready, d.members),
            d.leader.as_deref().unwrap_or("-"),
            d.term.map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
            d.worst_lag
                .map(|t| t.to_string())
                .unwrap_or_else(|| "-".into()),
            d.health,
            d.reasons.first().map(String::as_str).unwrap_or("")
        ));
    }
    out
}
