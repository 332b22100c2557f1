//! The static inventory: orchestras of the config file's `[inventory.<orchestra>.<database>]`
//! tables, whose members are status URLs probed directly (no Kubernetes). Each becomes a
//! `Target` like a kubeconfig context; its members look like pods named after their host.

use super::targets::{Origin, StaticMember, Target};
use crate::config::Config;
use crate::fleet::{DbRef, PodInfo};

/// The namespace every static database is in.
pub const NAMESPACE: &str = "static";

/// One target per inventory orchestra.
pub fn targets(config: &Config) -> Vec<Target> {
    config
        .inventory
        .iter()
        .map(|(orchestra, dbs)| {
            let members = dbs
                .iter()
                .flat_map(|(db, d)| {
                    let db = DbRef {
                        namespace: NAMESPACE.into(),
                        name: db.clone(),
                    };
                    d.members.iter().map(move |url| StaticMember {
                        profile: d.profile.clone(),
                        db: db.clone(),
                        pod: member(url),
                    })
                })
                .collect();
            Target {
                name: orchestra.clone(),
                origin: Origin::Static(members),
            }
        })
        .collect()
}

/// A member URL as a pod: named by host and port, always ready, its "IP" the URL itself.
fn member(url: &str) -> PodInfo {
    PodInfo {
        name: url
            .split("://")
            .nth(1)
            .unwrap_or(url)
            .trim_end_matches('/')
            .to_string(),
        ready: true,
        phase: crate::fleet::store::STATIC_PHASE.into(),
        ip: url.to_string(),
        ..PodInfo::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_orchestras_are_targets() {
        let config = Config::parse(
            "[inventory.onprem.config]\nprofile = \"etcd\"\n\
             members = [\"http://10.0.0.1:2379\", \"https://etcd-2.example:2379/\"]\n",
            std::path::Path::new("inventory.toml"),
        )
        .expect("valid");
        let t = targets(&config);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].name, "onprem");
        let Origin::Static(members) = &t[0].origin else {
            panic!("static")
        };
        let names: Vec<&str> = members.iter().map(|m| m.pod.name.as_str()).collect();
        assert_eq!(names, ["10.0.0.1:2379", "etcd-2.example:2379"]);
        assert!(members.iter().all(|m| m.profile == "etcd"
            && m.db.namespace == NAMESPACE
            && m.db.name == "config"
            && m.pod.ready));
        assert_eq!(members[1].pod.ip, "https://etcd-2.example:2379/");
    }
}
