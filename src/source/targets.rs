//! What an orchestra to look at is (a [`Target`]: a kubeconfig context or a static inventory's
//! members), and the kubeconfig's: contexts read as kubectl reads them (`--kubeconfig`, else
//! `KUBECONFIG` with several files, else `~/.kube/config`). `source::targets` adds the static
//! inventory's; a config with only an inventory needs no kubeconfig at all.

use std::path::Path;

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::config::Config;
use crate::fleet::{DbRef, PodInfo};

/// Why the orchestras could not be chosen (bad usage or config: exit 2).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
    #[error("no orchestras: the kubeconfig has no contexts and the config no inventory")]
    NoOrchestras,
}

/// One orchestra to look at.
pub struct Target {
    pub name: String,
    pub origin: Origin,
}

/// Where an orchestra's members come from.
pub enum Origin {
    /// A Kubernetes cluster: one kubeconfig context.
    Kube(Box<kube::Config>),
    /// A static inventory's members.
    Static(Vec<StaticMember>),
}

/// One member of a static database (see `inventory`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticMember {
    pub profile: String,
    pub db: DbRef,
    pub pod: PodInfo,
}

/// What to do when there is no kubeconfig to read.
const NO_KUBECONFIG_HINT: &str =
    "pass --kubeconfig FILE, or try the embedded demo fleet with `baton lab`";

/// kube's messages quote a path's Debug form inside quotes (`'"/path"'`): one pair is enough.
fn unquote(e: impl std::fmt::Display) -> String {
    e.to_string().replace("'\"", "'").replace("\"'", "'")
}

/// Reads the kubeconfig as kubectl would; returns it and where it came from (for messages).
/// A missing file says what to do instead.
fn read_kubeconfig(path: Option<&Path>) -> Result<(Kubeconfig, String), SourceError> {
    match path {
        Some(p) => {
            if !p.exists() {
                return Err(SourceError::Kubeconfig(format!(
                    "{}: no such file; {NO_KUBECONFIG_HINT}",
                    p.display()
                )));
            }
            Kubeconfig::read_from(p)
                .map(|kc| (kc, p.display().to_string()))
                .map_err(|e| SourceError::Kubeconfig(format!("{}: {}", p.display(), unquote(e))))
        }
        None => {
            let env = std::env::var("KUBECONFIG")
                .ok()
                .filter(|v| !v.trim().is_empty());
            let source = match &env {
                Some(v) => format!("$KUBECONFIG ({v})"),
                None => "~/.kube/config".to_string(),
            };
            let default_missing = env.is_none()
                && std::env::var_os("HOME")
                    .map(|h| Path::new(&h).join(".kube").join("config"))
                    .is_some_and(|p| !p.exists());
            if default_missing {
                return Err(SourceError::Kubeconfig(format!(
                    "no kubeconfig: $KUBECONFIG is not set and ~/.kube/config does not exist; \
                     {NO_KUBECONFIG_HINT}"
                )));
            }
            Kubeconfig::read()
                .map(|kc| (kc, source.clone()))
                .map_err(|e| SourceError::Kubeconfig(format!("{source}: {}", unquote(e))))
        }
    }
}

/// Set in every pod: the API server's address (kube-rs' in-cluster config reads it).
const SERVICE_HOST: &str = "KUBERNETES_SERVICE_HOST";
/// In a runner Job: the orchestra's name (a pod's cluster has no kubeconfig context to name it).
pub const ENV_ORCHESTRA: &str = "BATON_ORCHESTRA";

/// No `--kubeconfig`, no `$KUBECONFIG` and no `~/.kube/config`.
fn no_kubeconfig() -> bool {
    std::env::var("KUBECONFIG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .is_none()
        && std::env::var_os("HOME")
            .map(|h| Path::new(&h).join(".kube").join("config"))
            .is_none_or(|p| !p.exists())
}

/// The name of the one orchestra a pod reaches (its own cluster): the one asked for, else
/// `$BATON_ORCHESTRA`, else `in-cluster`.
pub fn in_cluster_name(contexts: &[String], env: Option<String>) -> Result<String, SourceError> {
    match contexts {
        [one] => Ok(one.clone()),
        [] => Ok(env
            .filter(|e| !e.trim().is_empty())
            .unwrap_or_else(|| "in-cluster".into())),
        many => Err(SourceError::Kubeconfig(format!(
            "in a pod without a kubeconfig only its own cluster is reachable, not {}",
            crate::clip(&many.join(", "), 200)
        ))),
    }
}

/// Inside a pod with no kubeconfig: its own cluster, as any in-cluster client finds it (the
/// ServiceAccount token and CA mounted in the pod).
fn in_cluster_target(contexts: &[String]) -> Result<Vec<Target>, SourceError> {
    let name = in_cluster_name(contexts, std::env::var(ENV_ORCHESTRA).ok())?;
    let config = kube::Config::incluster()
        .map_err(|e| SourceError::Kubeconfig(format!("in-cluster config: {e}")))?;
    Ok(vec![Target {
        name,
        origin: Origin::Kube(Box::new(config)),
    }])
}

/// The kubeconfig with only context `name` and the cluster and user it names: what
/// `from_custom_kubeconfig` reads of it. A copy of the whole file per context was quadratic
/// (200 contexts of a 300 KB file: 60 MB copied before the first request).
fn only(kc: &Kubeconfig, name: &str) -> Kubeconfig {
    let contexts: Vec<_> = kc
        .contexts
        .iter()
        .filter(|c| c.name == name)
        .cloned()
        .collect();
    let wants = |f: fn(&kube::config::Context) -> Option<&String>, n: &str| {
        contexts
            .iter()
            .any(|c| c.context.as_ref().and_then(f).is_some_and(|x| x == n))
    };
    Kubeconfig {
        clusters: kc
            .clusters
            .iter()
            .filter(|c| wants(|x| Some(&x.cluster), &c.name))
            .cloned()
            .collect(),
        auth_infos: kc
            .auth_infos
            .iter()
            .filter(|a| wants(|x| x.user.as_ref(), &a.name))
            .cloned()
            .collect(),
        contexts,
        preferences: kc.preferences.clone(),
        current_context: kc.current_context.clone(),
        extensions: kc.extensions.clone(),
        kind: kc.kind.clone(),
        api_version: kc.api_version.clone(),
        other: kc.other.clone(),
    }
}

/// Kubeconfig contexts: the `--context` ones, else those in the config file's `[orchestras]`
/// (not the inventory's), else every context, one per cluster.
pub async fn kube_targets(
    kubeconfig: Option<&Path>,
    contexts: &[String],
    config: &Config,
) -> Result<Vec<Target>, SourceError> {
    if kubeconfig.is_none() && no_kubeconfig() && std::env::var_os(SERVICE_HOST).is_some() {
        return in_cluster_target(contexts);
    }
    let (kc, source) = read_kubeconfig(kubeconfig)?;
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
            let known: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
            return Err(SourceError::Kubeconfig(format!(
                "{source} has no context named '{}' (known: {})",
                crate::clip(&name, 60),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    crate::clip(&known.join(", "), 200)
                }
            )));
        }
        let opts = KubeConfigOptions {
            context: Some(name.clone()),
            ..Default::default()
        };
        let config = kube::Config::from_custom_kubeconfig(only(&kc, &name), &opts)
            .await
            .map_err(|e| SourceError::Kubeconfig(format!("context '{name}': {e}")))?;
        out.push(Target {
            name,
            origin: Origin::Kube(Box::new(config)),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pod_names_its_own_cluster_as_asked() {
        let one = |s: &str| vec![s.to_string()];
        assert_eq!(in_cluster_name(&one("prod"), None).unwrap(), "prod");
        assert_eq!(in_cluster_name(&[], Some("prod".into())).unwrap(), "prod");
        assert_eq!(
            in_cluster_name(&[], Some(" ".into())).unwrap(),
            "in-cluster"
        );
        assert_eq!(in_cluster_name(&[], None).unwrap(), "in-cluster");
        let e = in_cluster_name(&[one("a"), one("b")].concat(), None).unwrap_err();
        assert!(e.to_string().contains("a, b"), "{e}");
    }

    #[tokio::test]
    async fn kubeconfig_errors_say_what_to_do() {
        let missing = Path::new("/nonexistent/baton-test.kubeconfig");
        let Err(e) = kube_targets(Some(missing), &[], &Config::default()).await else {
            panic!("a missing kubeconfig is an error");
        };
        let text = e.to_string();
        assert!(
            text.contains("/nonexistent/baton-test.kubeconfig: no such file"),
            "{text}"
        );
        assert!(
            text.contains("--kubeconfig") && text.contains("baton lab"),
            "{text}"
        );
        assert!(!text.contains("'\""), "{text}");

        let dir = std::env::temp_dir().join(format!("baton-targets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("kubeconfig");
        std::fs::write(
            &file,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n\
             users:\n- name: u\n  user: {}\ncontexts:\n- name: alpha\n  context:\n    cluster: c\n    user: u\n\
             - name: beta\n  context:\n    cluster: c\n    user: u\n",
        )
        .expect("write");
        let Err(e) = kube_targets(Some(&file), &["gamma".into()], &Config::default()).await else {
            panic!("an unknown context is an error");
        };
        let text = e.to_string();
        assert!(text.contains(&file.display().to_string()), "{text}");
        assert!(
            text.contains("'gamma'") && text.contains("known: alpha, beta"),
            "{text}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn each_context_is_read_with_its_own_cluster_and_user() {
        let kc = Kubeconfig::from_yaml(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c1\n  cluster:\n    server: https://10.0.0.1:6443\n\
             - name: c2\n  cluster:\n    server: https://10.0.0.2:6443\n\
             users:\n- name: u1\n  user:\n    token: one\n- name: u2\n  user:\n    token: two\n\
             contexts:\n- name: a\n  context:\n    cluster: c2\n    user: u1\n    namespace: team-a\n\
             - name: b\n  context:\n    cluster: c1\n    user: u2\n",
        )
        .expect("kubeconfig");
        let a = only(&kc, "a");
        assert_eq!(
            (a.contexts.len(), a.clusters.len(), a.auth_infos.len()),
            (1, 1, 1)
        );
        assert_eq!(
            (a.clusters[0].name.as_str(), a.auth_infos[0].name.as_str()),
            ("c2", "u1")
        );
        for (name, server, ns) in [("a", "10.0.0.2", "team-a"), ("b", "10.0.0.1", "default")] {
            let opts = KubeConfigOptions {
                context: Some(name.into()),
                ..Default::default()
            };
            let c = kube::Config::from_custom_kubeconfig(only(&kc, name), &opts)
                .await
                .expect("config");
            assert_eq!(c.cluster_url.host(), Some(server), "{name}");
            assert_eq!(c.default_namespace, ns, "{name}");
        }
    }
}
