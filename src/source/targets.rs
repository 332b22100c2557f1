//! The orchestras to look at: kubeconfig contexts, read as kubectl reads them (`--kubeconfig`,
//! else `KUBECONFIG` with several files, else `~/.kube/config`), and the static inventory of the
//! config file. A config with only an inventory needs no kubeconfig at all.

use std::path::Path;

use kube::config::{KubeConfigOptions, Kubeconfig};

use super::inventory::{self, StaticMember};
use crate::config::Config;

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

/// Every orchestra: the chosen kubeconfig contexts (see `kube_targets`), then the inventory's.
/// Without `--kubeconfig` and `--context`, a config with an inventory works without any
/// kubeconfig file.
pub async fn targets(
    kubeconfig: Option<&Path>,
    contexts: &[String],
    config: &Config,
) -> Result<Vec<Target>, SourceError> {
    let mut out = match kube_targets(kubeconfig, contexts, config).await {
        Ok(t) => t,
        Err(SourceError::Kubeconfig(why))
            if kubeconfig.is_none() && contexts.is_empty() && !config.inventory.is_empty() =>
        {
            tracing::info!(%why, "no kubeconfig: the static inventory only");
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    out.extend(inventory::targets(config));
    if out.is_empty() {
        return Err(SourceError::NoOrchestras);
    }
    Ok(out)
}

/// Kubeconfig contexts: the `--context` ones, else those in the config file's `[orchestras]`
/// (not the inventory's), else every context, one per cluster.
pub async fn kube_targets(
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
        out.push(Target {
            name,
            origin: Origin::Kube(Box::new(config)),
        });
    }
    Ok(out)
}
