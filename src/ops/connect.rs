//! Reaching one database for an operation: the kube client of its orchestra (from the
//! kubeconfig, with the identity for the audit), its namespace and profile found from the pods
//! (or StatefulSets, for a stopped database) carrying its name in a profile's grouping label,
//! and the `KubeExecutor` on it; and the runner's `Settings` from the config. `baton op …` and
//! the dashboard both build their executors here.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

use super::kube::KubeExecutor;
use super::runner::Settings;
use crate::Exit;
use crate::cli::OpTarget;
use crate::config::Config;
use crate::probe::credentials::Resolver;
use crate::source::targets::Origin;

/// Whether operations are off: the `--read-only` flag, the config, or the observer role.
/// (Per orchestra, `guard::read_only_for` adds the orchestra's own `read_only`.)
pub fn read_only(flag: bool, config: &Config) -> bool {
    flag || config.general.read_only || config.general.role == "observer"
}

/// Whether the config makes `orchestra` read-only on its own (`[orchestras.NAME] read_only`).
pub fn orchestra_read_only(config: &Config, orchestra: &str) -> bool {
    config
        .orchestras
        .get(orchestra)
        .is_some_and(|o| o.read_only)
}

/// The runner's settings from the config; `read_only` as [`read_only`] (or stricter) says.
pub fn settings(config: &Config, read_only: bool, take_over: bool) -> Settings {
    let role = config.general.role.clone();
    Settings {
        lag_gate: config.operations.lag_gate,
        step_timeout: Duration::from_secs(config.operations.step_timeout),
        // A restart takes seconds; looking 5×/s keeps the wait between members short.
        poll: Duration::from_millis(200),
        artifacts: config.operations.artifacts.clone(),
        read_only,
        allowed: config.role_operations(&role).unwrap_or_default(),
        role,
        take_over,
        webhook_env: config.operations.webhook_url_env.clone(),
        incident_webhook_env: config.operations.incident_webhook_env.clone(),
        allow_force: config.operations.allow_force,
        surge_orchestras: config
            .orchestras
            .iter()
            .filter(|(_, o)| o.surge)
            .map(|(name, _)| name.clone())
            .collect(),
    }
}

/// The kube client of one orchestra and the identity it acts as, or (exit code, message).
pub async fn client_of(
    kubeconfig: Option<&Path>,
    config: &Config,
    orchestra: &str,
    read_only: bool,
) -> Result<(kube::Client, String), (Exit, String)> {
    let targets =
        crate::source::targets::kube_targets(kubeconfig, &[orchestra.to_string()], config)
            .await
            .map_err(|e| (Exit::Usage, e.to_string()))?;
    let Some(Origin::Kube(cfg)) = targets.into_iter().next().map(|t| t.origin) else {
        return Err((
            Exit::Usage,
            format!("no Kubernetes orchestra '{orchestra}' (operations need one)"),
        ));
    };
    let identity = identity_of(kubeconfig, orchestra);
    let mut cfg = *cfg;
    cfg.connect_timeout = Some(Duration::from_secs(5));
    cfg.read_timeout = Some(Duration::from_secs(15));
    let client = crate::guard::kube_client(cfg, read_only).map_err(|e| {
        (
            Exit::Failed,
            format!("orchestra '{orchestra}': {}", crate::probe::kube_reason(&e)),
        )
    })?;
    Ok((client, identity))
}

/// `context NAME user USER` from the kubeconfig, for the audit.
fn identity_of(kubeconfig: Option<&Path>, context: &str) -> String {
    let kc = match kubeconfig {
        Some(p) => kube::config::Kubeconfig::read_from(p).ok(),
        None => kube::config::Kubeconfig::read().ok(),
    };
    let user = kc
        .and_then(|kc| kc.contexts.into_iter().find(|c| c.name == context))
        .and_then(|c| c.context)
        .and_then(|c| c.user)
        .unwrap_or_else(|| "?".into());
    format!("context {context} user {user}")
}

/// The executor of database `t` (its namespace found when not given), or (exit code, message).
/// Reads pods and StatefulSets only; `read_only` makes every mutating call refuse in-process.
pub async fn executor(
    kubeconfig: Option<&Path>,
    config: &Config,
    read_only: bool,
    t: &OpTarget,
) -> Result<KubeExecutor, (Exit, String)> {
    let read_only = read_only || crate::guard::read_only_for(config, &t.orchestra);
    let (client, identity) = client_of(kubeconfig, config, &t.orchestra, read_only).await?;
    // Which profile and namespace: the pods carrying the database's name in a grouping label.
    let pods: Api<Pod> = match &t.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let mut found: Vec<(String, String)> = Vec::new();
    for (name, profile) in crate::source::profiles::discovered(config) {
        let list = pods
            .list_metadata(
                &ListParams::default()
                    .labels(&format!("{}={}", profile.grouping_label, t.database)),
            )
            .await
            .map_err(|e| match &e {
                kube::Error::Api(s) if s.code == 401 || s.code == 403 => (
                    Exit::Refused,
                    format!(
                        "orchestra '{}': cannot list pods: {}",
                        t.orchestra, s.message
                    ),
                ),
                _ => (
                    Exit::Failed,
                    format!(
                        "orchestra '{}': {}",
                        t.orchestra,
                        crate::probe::kube_reason(&e)
                    ),
                ),
            })?;
        // A stopped database has StatefulSets and no pods.
        let sets: Api<StatefulSet> = match &t.namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        };
        let sts = sets
            .list_metadata(
                &ListParams::default()
                    .labels(&format!("{}={}", profile.grouping_label, t.database)),
            )
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        for meta in list
            .items
            .into_iter()
            .map(|p| p.metadata)
            .chain(sts.into_iter().map(|s| s.metadata))
        {
            let ns = meta.namespace.unwrap_or_default();
            if !found.iter().any(|(n, q)| n == &ns && q == &name) {
                found.push((ns, name.clone()));
            }
        }
    }
    let (namespace, profile_name) = match found.as_slice() {
        [] => {
            return Err((
                Exit::Usage,
                format!(
                    "no database '{}' on orchestra '{}'{} (no pods carry its name in a profile's grouping label)",
                    t.database,
                    t.orchestra,
                    t.namespace
                        .as_deref()
                        .map(|n| format!(" in namespace '{n}'"))
                        .unwrap_or_default()
                ),
            ));
        }
        [one] => one.clone(),
        many => {
            let where_: Vec<String> = many.iter().map(|(n, p)| format!("{n} ({p})")).collect();
            return Err((
                Exit::Usage,
                format!(
                    "database '{}' is in several namespaces: {}; say which with -n",
                    t.database,
                    where_.join(", ")
                ),
            ));
        }
    };
    let profile = config
        .profile(&profile_name)
        .ok_or_else(|| (Exit::Usage, format!("no profile '{profile_name}'")))?;
    let transport = config
        .orchestras
        .get(&t.orchestra)
        .map(|o| o.transport)
        .unwrap_or_default();
    Ok(KubeExecutor {
        resolver: Arc::new(Resolver::new(Some(client.clone()))),
        client,
        orchestra: t.orchestra.clone(),
        namespace,
        database: t.database.clone(),
        job_image: config.operations.job_image.get(&profile_name).cloned(),
        profile,
        transport,
        identity,
        read_only,
        http: crate::probe::http_client(Duration::from_secs(3), read_only),
        probe_timeout: Duration::from_secs(3),
        object_store: config
            .operations
            .object_store_endpoint
            .clone()
            .map(|endpoint| super::backups::S3 {
                endpoint,
                http: crate::probe::http_client(Duration::from_secs(10), read_only),
            }),
    })
}
