//! The catalog of operations: each one's name, one-line description, blast radius (which sets
//! the confirmation), whether it acts on one member, its parameters, the Kubernetes permissions it
//! needs and the profiles it applies to. Pure data; `baton op list`, the TUI menu and the runner
//! read it from here.

use crate::config::OperationName;

/// How much an operation can hurt, which sets the confirmation it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlastRadius {
    Member,
    Database,
    Orchestra,
}

impl BlastRadius {
    pub fn word(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Database => "database",
            Self::Orchestra => "orchestra",
        }
    }
}

/// One parameter an operation takes (`--member`, `--set key=value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    pub key: &'static str,
    pub help: &'static str,
    pub required: bool,
}

/// A Kubernetes permission an operation needs: (verb, resource, subresource).
pub use crate::fleet::access::Permission;

/// What the catalog says about one operation.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub name: OperationName,
    pub description: &'static str,
    pub radius: BlastRadius,
    /// Needs the database id typed to confirm (database-wide or destructive).
    pub typed_confirmation: bool,
    pub params: &'static [Param],
    pub permissions: &'static [Permission],
    /// Profile kinds it applies to (`neo4j`, `etcd`, `dynomite`).
    pub profiles: &'static [&'static str],
    /// Whether it is built in this version (the rest are listed as coming).
    pub available: bool,
}

const MEMBER: Param = Param {
    key: "member",
    help: "the member's pod (--member)",
    required: true,
};
const FROM_MEMBER: Param = Param {
    key: "member",
    help: "the member to back up from (default: a caught-up follower)",
    required: false,
};
const EXPECT_LEADER: Param = Param {
    key: "expect-leader",
    help: "refuse unless this pod leads (compare-and-swap)",
    required: false,
};
const TARGET: Param = Param {
    key: "target",
    help: "where the artifact goes (default: s3://<bucket>/<orchestra>/<namespace>/<database>/…)",
    required: false,
};

const BACKUP: Param = Param {
    key: "backup",
    help: "the backup to restore, from the object store's list for this database (--set backup=s3://…; `from` is an alias; without it the list is shown, newest first)",
    required: false,
};
const MEMORY: Param = Param {
    key: "memory",
    help: "the new memory of every member, a Kubernetes quantity (--set memory=8Gi)",
    required: true,
};
const STRATEGY: Param = Param {
    key: "strategy",
    help: "in-place (restart each member with the new spec; default) or surge (a new server in, then an old one out: never less redundancy)",
    required: false,
};
const VERSION: Param = Param {
    key: "version",
    help: "the new version: the image tag (--set version=5.27.0)",
    required: true,
};

const LOCK: [Permission; 3] = [
    ("create", "leases", ""),
    ("update", "leases", ""),
    ("create", "events", ""),
];
const RESTART_PERMS: &[Permission] = &[
    ("delete", "pods", ""),
    ("create", "leases", ""),
    ("update", "leases", ""),
    ("create", "events", ""),
];
const REPLACE_PERMS: &[Permission] = &[
    ("delete", "persistentvolumeclaims", ""),
    ("delete", "pods", ""),
    LOCK[0],
    LOCK[1],
    LOCK[2],
];
const JOB_PERMS: &[Permission] = &[
    ("create", "jobs", ""),
    ("get", "pods", "log"),
    LOCK[0],
    LOCK[1],
    LOCK[2],
];
const SCALE_PERMS: &[Permission] = &[("patch", "statefulsets", ""), LOCK[0], LOCK[1], LOCK[2]];
const RESTORE_PERMS: &[Permission] = &[
    ("patch", "statefulsets", ""),
    ("create", "jobs", ""),
    ("get", "pods", "log"),
    LOCK[0],
    LOCK[1],
    LOCK[2],
];
const ALL_KINDS: &[&str] = &["neo4j", "etcd", "dynomite"];

pub static CATALOG: &[Spec] = &[
    Spec {
        name: OperationName::RollingRestart,
        description: "restart every member, one at a time: down ones first, then secondaries, followers, leader last",
        radius: BlastRadius::Database,
        typed_confirmation: true,
        params: &[EXPECT_LEADER],
        permissions: RESTART_PERMS,
        profiles: ALL_KINDS,
        available: true,
    },
    Spec {
        name: OperationName::RestartMember,
        description: "restart one member (delete its pod) and wait until the database has settled",
        radius: BlastRadius::Member,
        typed_confirmation: false,
        params: &[MEMBER, EXPECT_LEADER],
        permissions: RESTART_PERMS,
        profiles: ALL_KINDS,
        available: true,
    },
    Spec {
        name: OperationName::Backup,
        description: "a Job reads a consistent snapshot from one member and writes the artifact",
        radius: BlastRadius::Database,
        typed_confirmation: false,
        params: &[FROM_MEMBER, TARGET],
        permissions: JOB_PERMS,
        profiles: &["neo4j"],
        available: true,
    },
    Spec {
        name: OperationName::Diagnostics,
        description: "a Job gathers a member's logs and a heap and thread dump",
        radius: BlastRadius::Member,
        typed_confirmation: false,
        params: &[MEMBER, TARGET],
        permissions: JOB_PERMS,
        profiles: &["neo4j"],
        available: true,
    },
    Spec {
        name: OperationName::Stop,
        description: "scale every StatefulSet of the database to 0 (replicas remembered); data stays on the volumes",
        radius: BlastRadius::Database,
        typed_confirmation: true,
        params: &[],
        permissions: SCALE_PERMS,
        profiles: ALL_KINDS,
        available: true,
    },
    Spec {
        name: OperationName::Start,
        description: "scale a stopped database's StatefulSets back to their remembered replicas",
        radius: BlastRadius::Database,
        typed_confirmation: false,
        params: &[],
        permissions: SCALE_PERMS,
        profiles: ALL_KINDS,
        available: true,
    },
    Spec {
        name: OperationName::Incident,
        description: "post the database's profile summary to the incident webhook",
        radius: BlastRadius::Database,
        typed_confirmation: false,
        params: &[],
        permissions: &[],
        profiles: ALL_KINDS,
        available: true,
    },
    Spec {
        name: OperationName::Restore,
        description: "stop the database, replace its data with a backup (destructive), start it",
        radius: BlastRadius::Database,
        typed_confirmation: true,
        params: &[BACKUP],
        permissions: RESTORE_PERMS,
        profiles: &["neo4j"],
        available: true,
    },
    Spec {
        name: OperationName::Resize,
        description: "change the members' memory, one StatefulSet at a time, leader last",
        radius: BlastRadius::Database,
        typed_confirmation: true,
        params: &[MEMORY, STRATEGY, EXPECT_LEADER],
        permissions: SCALE_PERMS,
        profiles: ALL_KINDS,
        available: true,
    },
    Spec {
        name: OperationName::Upgrade,
        description: "change the database version (image tag), one StatefulSet at a time, leader last",
        radius: BlastRadius::Database,
        typed_confirmation: true,
        params: &[VERSION, STRATEGY, EXPECT_LEADER],
        permissions: SCALE_PERMS,
        profiles: ALL_KINDS,
        available: true,
    },
    Spec {
        name: OperationName::ReplaceMember,
        description: "give a member a fresh volume; it rejoins as a new server (learner, caught up, voter)",
        radius: BlastRadius::Member,
        typed_confirmation: true, // destructive: the member's volume goes
        params: &[MEMBER],
        permissions: REPLACE_PERMS,
        profiles: &["neo4j"],
        available: true,
    },
];

/// What the surge strategy of resize and upgrade needs beyond patching: a new StatefulSet per
/// member, the old one deleted once its server left.
const SURGE_PERMS: &[Permission] = &[
    ("create", "statefulsets", ""),
    ("delete", "statefulsets", ""),
    ("patch", "statefulsets", ""),
    LOCK[0],
    LOCK[1],
    LOCK[2],
];

/// The Kubernetes permissions `op` needs with `strategy` (resize and upgrade by surge create and
/// delete StatefulSets; every other operation has one list).
pub fn permissions(op: OperationName, strategy: &str) -> &'static [Permission] {
    match op {
        OperationName::Resize | OperationName::Upgrade if strategy == "surge" => SURGE_PERMS,
        _ => spec(op).permissions,
    }
}

/// The catalog entry of an operation.
pub fn spec(name: OperationName) -> &'static Spec {
    CATALOG
        .iter()
        .find(|s| s.name == name)
        .unwrap_or(&CATALOG[0])
}

/// `--set KEY=VALUE …` as parameters (a later key wins); the error quotes the one that is not.
pub fn parse_sets(sets: &[String]) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut params = std::collections::BTreeMap::new();
    for kv in sets {
        match kv.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                params.insert(k.trim().to_string(), v.to_string());
            }
            _ => return Err(format!("--set '{kv}' is not KEY=VALUE")),
        }
    }
    Ok(params)
}

/// Whether `value` can be the parameter `key` (the runner checks the same before it runs):
/// memory a Kubernetes quantity, version an image tag, from an artifact address. Other keys
/// (member, target, expect-leader) are checked against the database by the runner.
pub fn check_value(key: &str, value: &str) -> Result<(), String> {
    match key {
        "memory" if !valid_quantity(value) => Err(format!(
            "memory '{value}' is not a Kubernetes quantity: write e.g. 8Gi, 512Mi or 8G"
        )),
        "version"
            if value.is_empty()
                || !value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) =>
        {
            Err(format!(
                "version '{value}' is not an image tag: letters, digits, '.', '_' and '-' only"
            ))
        }
        "strategy" if value != "in-place" && value != "surge" => {
            Err(format!("strategy '{value}' is neither in-place nor surge"))
        }
        "from" | "backup" if !value.contains("://") => Err(format!(
            "{key} '{value}' is not an artifact address: write s3://bucket/path (as a backup printed it)"
        )),
        _ => Ok(()),
    }
}

/// `baton op list`: one line per operation.
pub fn list_text() -> String {
    let mut out = format!(
        "{:<16} {:<9} {:<8} {:<30} {}\n",
        "OPERATION", "RADIUS", "CONFIRM", "PARAMETERS", "WHAT IT DOES"
    );
    for s in CATALOG {
        let params: Vec<String> = s
            .params
            .iter()
            .map(|p| {
                if p.required {
                    format!("--{}", p.key)
                } else {
                    format!("[--{}]", p.key)
                }
            })
            .collect();
        let confirm = if s.typed_confirmation {
            "typed id"
        } else {
            "y/n"
        };
        let what = if s.available {
            s.description.to_string()
        } else {
            format!("(not in this version) {}", s.description)
        };
        out.push_str(&format!(
            "{:<16} {:<9} {:<8} {:<30} {}\n",
            s.name.as_str(),
            s.radius.word(),
            confirm,
            params.join(" "),
            what
        ));
    }
    out
}

/// `8Gi`, `512Mi`, `8G`, `1e9`, `1073741824`: digits (with at most one point) and an optional
/// Kubernetes unit. The dashboard's parameter form checks with it too.
pub fn valid_quantity(q: &str) -> bool {
    let digits_end = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(q.len());
    let (num, unit) = q.split_at(digits_end);
    !num.is_empty()
        && num.matches('.').count() <= 1
        && num != "."
        && [
            "", "Ki", "Mi", "Gi", "Ti", "Pi", "k", "K", "M", "G", "T", "P",
        ]
        .contains(&unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_quantities() {
        for ok in ["8Gi", "512Mi", "8G", "1073741824", "1.5Gi"] {
            assert!(valid_quantity(ok), "{ok}");
        }
        for bad in ["", "Gi", "8 Gi", "8GB", "eight", "1.2.3Gi", "-1Gi"] {
            assert!(!valid_quantity(bad), "{bad}");
        }
    }

    #[test]
    fn every_operation_name_has_one_entry() {
        for name in OperationName::ALL {
            assert_eq!(
                CATALOG.iter().filter(|s| s.name == name).count(),
                1,
                "{name:?}"
            );
        }
        assert_eq!(spec(OperationName::Stop).name, OperationName::Stop);
    }

    #[test]
    fn parameter_values_are_checked_as_the_runner_does() {
        assert!(check_value("memory", "8Gi").is_ok());
        assert!(
            check_value("memory", "8GB")
                .unwrap_err()
                .contains("quantity")
        );
        assert!(check_value("version", "5.27.0").is_ok());
        assert!(check_value("version", "5.27 0").is_err());
        assert!(check_value("from", "s3://b/x.backup").is_ok());
        assert!(check_value("from", "x.backup").is_err());
        assert!(check_value("member", "anything").is_ok());
    }

    #[test]
    fn database_wide_restarts_need_the_id_typed() {
        assert!(spec(OperationName::RollingRestart).typed_confirmation);
        assert!(spec(OperationName::Stop).typed_confirmation);
        assert!(!spec(OperationName::RestartMember).typed_confirmation);
    }
}
