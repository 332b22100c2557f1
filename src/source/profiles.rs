//! Discovery by profile: which profiles are looked for on Kubernetes (the built-in `neo4j` and
//! `etcd`, plus the config file's), which are probed only (used by the static inventory alone),
//! and which pods or StatefulSets a profile claims when its grouping label is generic.

use crate::config::{Config, ProbeKind, ProfileConfig, builtin_profile};

/// A profile whose grouping label is generic (`app.kubernetes.io/instance`) claims only the pods
/// (and StatefulSets) of its kind, told by the image name.
pub fn claims(profile: &ProfileConfig, image: &str) -> bool {
    match profile.probe {
        ProbeKind::Neo4j => true,
        ProbeKind::Etcd => image.contains("etcd"),
        ProbeKind::Dynomite => image.contains("dynomite"),
    }
}

/// The profiles to discover: the built-in `neo4j` and `etcd`, plus those of the config file.
pub fn discovered(config: &Config) -> Vec<(String, ProfileConfig)> {
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

/// Every profile a supervisor may need, and how many of them (the first ones) are discovered on
/// Kubernetes; the rest are used only by the static inventory and are probed, never watched for.
pub fn all(config: &Config) -> (Vec<(String, ProfileConfig)>, usize) {
    let mut all = discovered(config);
    let watched = all.len();
    for d in config.inventory.values().flat_map(|dbs| dbs.values()) {
        if !all.iter().any(|(n, _)| n == &d.profile)
            && let Some(p) = config.profile(&d.profile)
        {
            all.push((d.profile.clone(), p));
        }
    }
    (all, watched)
}
