//! Operations that run in the orchestra as Jobs of baton itself (Aura's operations buttons ran
//! their procedure so), so they outlive the launching process and its SSH session: the runner
//! Job's manifest (`baton op <name> … --yes` on the same engine, under the ServiceAccount
//! `baton-operator`) and the RBAC an admin applies for that ServiceAccount (`baton op rbac`); a
//! runner knows it is one from its environment (`record::runner_job`). Pure: creating and following the Job is
//! `launch`.

pub mod launch;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::config::OperationName;
use crate::fleet::catalog;
use crate::ops::record::{ENV_LAUNCHED_BY, ENV_RUNNER_JOB};

/// The ServiceAccount runner Jobs run as; `baton op rbac` prints what it may do.
pub const SERVICE_ACCOUNT: &str = "baton-operator";
/// In a runner's environment: the launching command line, and when it was confirmed (RFC 3339).
pub const ENV_COMMAND: &str = "BATON_COMMAND";
pub const ENV_STARTED: &str = "BATON_STARTED_AT";
/// In a runner's environment: the operation and its parameters (`key=value`, one per line), for
/// whoever reads the Job (the args say the same, as the runner reads them).
pub const ENV_OPERATION: &str = "BATON_OPERATION";
pub const ENV_PARAMS: &str = "BATON_PARAMS";
/// Finished runner Jobs (and their pods, and so their logs) are kept this long.
pub const TTL_AFTER_FINISHED_S: u32 = 7 * 24 * 3600;

/// One operation to launch in the orchestra.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub operation: OperationName,
    pub orchestra: String,
    pub namespace: String,
    pub database: String,
    pub member: Option<String>,
    pub params: BTreeMap<String, String>,
    pub expect_leader: Option<String>,
    pub force: Vec<String>,
    pub take_over: bool,
    pub image: String,
    /// Who launched it: `user@host pid N (kube user)`.
    pub launched_by: String,
    /// The launching command line, as typed.
    pub command_line: String,
    /// When it was confirmed, Unix ms.
    pub started_ms: u64,
    /// `activeDeadlineSeconds`: the operation's budget.
    pub deadline_s: u64,
    /// The config the runner runs with (`config::runner::config_text`).
    pub config_text: String,
    /// The environment-held secrets the runner takes from a Secret.
    pub secrets: SecretEnv,
}

/// The secrets the config reads from environment variables (webhook URLs, `credentials = {
/// from = "env" }` passwords): a runner Job takes each from key `<variable>` of Secret
/// `secret` in its namespace (`operations.runner_secret`), optional — never a value in the
/// Job's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecretEnv {
    pub secret: String,
    pub names: Vec<String>,
}

impl SecretEnv {
    pub fn of(config: &crate::config::Config) -> Self {
        let o = &config.operations;
        let creds = profiles(config).filter_map(|p| match p.credentials {
            crate::config::Credentials::Env { variable, .. } => Some(variable),
            _ => None,
        });
        let names: BTreeSet<String> = [o.webhook_url_env.clone(), o.incident_webhook_env.clone()]
            .into_iter()
            .flatten()
            .chain(creds)
            .collect();
        Self {
            secret: o.runner_secret.clone(),
            names: names.into_iter().collect(),
        }
    }

    /// Said at launch: where the runner finds them.
    pub fn say(&self, namespace: &str) -> Option<String> {
        (!self.names.is_empty()).then(|| {
            format!(
                "the runner takes {} from Secret {namespace}/{} (a key per variable; a missing key is unset: kubectl -n {namespace} create secret generic {} --from-literal={}=…)",
                self.names.join(", "),
                self.secret,
                self.secret,
                self.names[0]
            )
        })
    }
}

/// The runner Job's name: `baton-run-<database>-<start in base 36>`.
pub fn job_name(l: &Launch) -> String {
    crate::ops::runner::job_name("run", &l.database, l.started_ms)
}

/// The budget of an operation of `steps` planned steps: each may wait `step_timeout_s` to
/// settle, plus one for the start; never under ten minutes.
pub fn deadline_s(steps: usize, step_timeout_s: u64) -> u64 {
    let steps = u64::try_from(steps).unwrap_or(u64::MAX);
    steps
        .saturating_add(1)
        .saturating_mul(step_timeout_s)
        .max(600)
}

/// The runner's command line: the same operation, confirmed (`--yes`), run where it is
/// (`--local`: whatever its config says, a runner never launches another Job).
pub fn args(l: &Launch) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "op".into(),
        l.operation.as_str().into(),
        "--orchestra".into(),
        l.orchestra.clone(),
        "--database".into(),
        l.database.clone(),
        "--namespace".into(),
        l.namespace.clone(),
    ];
    if let Some(m) = &l.member {
        a.extend(["--member".into(), m.clone()]);
    }
    for (k, v) in &l.params {
        a.extend(["--set".into(), format!("{k}={v}")]);
    }
    if let Some(e) = &l.expect_leader {
        a.extend(["--expect-leader".into(), e.clone()]);
    }
    for f in &l.force {
        a.extend(["--force".into(), f.clone()]);
    }
    if l.take_over {
        a.push("--take-over".into());
    }
    a.extend(["--local".into(), "--yes".into()]);
    a
}

/// The runner Job: `backoffLimit: 0` (retries happen inside the runner, where the lock and the
/// observed state make them safe), the operation's budget as `activeDeadlineSeconds`, kept a
/// week after it ends; the operation, its parameters, the caller, the command line and the
/// start in its environment — never a secret: those the config reads from the environment are
/// references to keys of the runner Secret (`SecretEnv`).
pub fn job(l: &Launch) -> Value {
    let name = job_name(l);
    let labels = json!({
        "app.kubernetes.io/managed-by": "baton",
        "app.kubernetes.io/name": "baton-runner",
        "baton.io/operation": l.operation.as_str(),
        "baton.io/database": l.database,
    });
    let params: Vec<String> = l.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let started = chrono::DateTime::from_timestamp_millis(i64::try_from(l.started_ms).unwrap_or(0))
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    let mut env = json!([
        {"name": ENV_RUNNER_JOB, "value": format!("{}/{name}", l.namespace)},
        {"name": crate::source::targets::ENV_ORCHESTRA, "value": l.orchestra},
        {"name": ENV_OPERATION, "value": l.operation.as_str()},
        {"name": ENV_PARAMS, "value": params.join("\n")},
        {"name": ENV_LAUNCHED_BY, "value": l.launched_by},
        {"name": ENV_COMMAND, "value": l.command_line},
        {"name": ENV_STARTED, "value": started},
        {"name": crate::config::runner::ENV_CONFIG_TEXT, "value": l.config_text},
    ]);
    if let Some(list) = env.as_array_mut() {
        for n in &l.secrets.names {
            list.push(json!({"name": n, "valueFrom": {"secretKeyRef": {
                "name": l.secrets.secret, "key": n, "optional": true,
            }}}));
        }
    }
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": l.namespace,
            "labels": labels,
            "annotations": {
                "baton.io/launched-by": l.launched_by,
                "baton.io/command": l.command_line,
            },
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": l.deadline_s,
            "ttlSecondsAfterFinished": TTL_AFTER_FINISHED_S,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": SERVICE_ACCOUNT,
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "baton",
                        "image": l.image,
                        "command": ["baton"],
                        "args": args(l),
                        "env": env,
                    }],
                },
            },
        },
    })
}

/// (API group, resource) of a permission's resource, as a Role names it.
fn group_of(resource: &str) -> &'static str {
    match resource {
        "statefulsets" => "apps",
        "jobs" => "batch",
        "leases" => "coordination.k8s.io",
        _ => "",
    }
}

/// What the runner reads whatever the operation: it observes the database (pods, their logs and
/// status pages through the pod proxy, StatefulSets, claims, its Jobs, Events) and its Lease.
const READS: &[(&str, &str)] = &[
    ("get", "pods"),
    ("list", "pods"),
    ("watch", "pods"),
    ("get", "pods/log"),
    ("get", "pods/proxy"),
    ("get", "statefulsets"),
    ("list", "statefulsets"),
    ("watch", "statefulsets"),
    ("get", "persistentvolumeclaims"),
    ("list", "persistentvolumeclaims"),
    ("get", "jobs"),
    ("list", "jobs"),
    ("watch", "jobs"),
    ("get", "leases"),
    ("list", "leases"),
    ("watch", "leases"),
    ("get", "events"),
    ("list", "events"),
];

/// The Role's rules: the reads above and every permission any operation of the catalog needs
/// (with either strategy), grouped per (API group, resource); nothing else — no Secrets (`rbac`
/// adds the credential Secrets, by name), no RBAC, nothing cluster-wide.
pub fn rules() -> Vec<Value> {
    let mut verbs: BTreeMap<(&str, String), BTreeSet<&str>> = BTreeMap::new();
    let mut add = |verb: &'static str, resource: String| {
        let base = resource.split('/').next().unwrap_or("").to_string();
        verbs
            .entry((group_of(&base), resource))
            .or_default()
            .insert(verb);
    };
    for (verb, resource) in READS {
        add(verb, resource.to_string());
    }
    for spec in catalog::CATALOG {
        for strategy in ["in-place", "surge"] {
            for (verb, resource, sub) in catalog::permissions(spec.name, strategy) {
                let r = if sub.is_empty() {
                    resource.to_string()
                } else {
                    format!("{resource}/{sub}")
                };
                add(verb, r);
            }
        }
    }
    // A Lease is written with update (and read back); merge-patched annotations (a cancel
    // request) are patch.
    add("patch", "leases".into());
    verbs
        .into_iter()
        .map(|((group, resource), v)| {
            json!({
                "apiGroups": [group],
                "resources": [resource],
                "verbs": v.into_iter().collect::<Vec<_>>(),
            })
        })
        .collect()
}

/// The ServiceAccount, Role and RoleBinding of runner Jobs in `namespace`, for an admin to
/// `kubectl apply` (baton never creates RBAC itself). `secrets`: the Secrets the profiles read
/// credentials from (`credentials = { from = "secret" }`): only `get`, only those, by name.
pub fn rbac(namespace: &str, secrets: &[String]) -> Vec<Value> {
    let labels = json!({"app.kubernetes.io/managed-by": "baton"});
    let mut rules = rules();
    if !secrets.is_empty() {
        let mut names: Vec<&String> = secrets.iter().collect();
        names.sort();
        names.dedup();
        rules.push(json!({
            "apiGroups": [""],
            "resources": ["secrets"],
            "verbs": ["get"],
            "resourceNames": names,
        }));
    }
    vec![
        json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": SERVICE_ACCOUNT, "namespace": namespace, "labels": labels},
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": SERVICE_ACCOUNT, "namespace": namespace, "labels": labels},
            "rules": rules,
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": SERVICE_ACCOUNT, "namespace": namespace, "labels": labels},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": SERVICE_ACCOUNT,
            },
            "subjects": [{
                "kind": "ServiceAccount",
                "name": SERVICE_ACCOUNT,
                "namespace": namespace,
            }],
        }),
    ]
}

/// Manifests as one YAML stream (`---` between documents), as `kubectl apply -f -` reads it.
pub fn yaml(docs: &[Value]) -> String {
    docs.iter()
        .map(|d| serde_norway::to_string(d).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("---\n")
}

/// The config's profiles and the built-in ones (as the config may override them).
fn profiles(
    config: &crate::config::Config,
) -> impl Iterator<Item = crate::config::ProfileConfig> + '_ {
    let builtin = ["neo4j", "etcd", "dynomite"]
        .into_iter()
        .filter_map(|n| config.profile(n));
    config.profiles.values().cloned().chain(builtin)
}

/// The Secrets `config`'s profiles read probe credentials from.
pub fn credential_secrets(config: &crate::config::Config) -> Vec<String> {
    profiles(config)
        .filter_map(|p| match p.credentials {
            crate::config::Credentials::Secret { name, .. } => Some(name),
            _ => None,
        })
        .collect()
}

/// How to grant the runner's identity, said where it is missing.
pub fn rbac_fix(namespace: &str) -> String {
    format!(
        "an admin of the namespace runs: baton op rbac --namespace {namespace} | kubectl apply -f -"
    )
}

#[cfg(test)]
mod tests;
