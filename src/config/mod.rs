//! The config file: orchestras, database profiles, operations settings, roles and key bindings,
//! read from TOML with `deny_unknown_fields`, plus where baton's files live (`paths`), the
//! themes (`theme`) and the key bindings (`keymap`: the dashboard's table of actions and their
//! default keys, which the `[keys]` table is checked against).
//!
//! A missing file means defaults. A broken file is a [`ConfigError`] (`error`) that names the
//! file, the line, the key and how to fix it; the binary turns it into exit code 2.

mod error;
mod freshness;
pub mod keymap;
pub mod paths;
pub mod runner;
pub mod theme;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use error::ConfigError;
use error::{line_in_table, line_of_key};
pub use theme::{Theme, ThemeError};

/// Everything the config file can say. Every table rejects keys it does not know.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub general: General,
    /// Orchestras keyed by kubeconfig context name.
    pub orchestras: BTreeMap<String, OrchestraConfig>,
    /// Database profiles keyed by profile name; the built-in ones can be overridden.
    pub profiles: BTreeMap<String, ProfileConfig>,
    pub operations: OperationsConfig,
    /// Roles keyed by name: which operations each may run.
    pub roles: BTreeMap<String, RoleConfig>,
    /// Databases that do not run on Kubernetes: orchestra name → database name → members.
    pub inventory: BTreeMap<String, BTreeMap<String, InventoryDatabase>>,
    /// Key bindings: action name → the keys that replace its defaults (`quit = "ctrl-q"`,
    /// `back = ["esc", "h"]`).
    pub keys: BTreeMap<String, crate::config::keymap::KeyList>,
}

/// A database of the static inventory: its profile and the base URL of each member's status
/// endpoint (`http://10.1.2.3:2379`). Probed directly; there are no pods to watch.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InventoryDatabase {
    pub profile: String,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct General {
    /// Theme name (built-in or a file in the config dir's `themes/`).
    pub theme: Option<String>,
    /// The role this user acts in; its operations list limits what baton offers.
    pub role: String,
    /// Treat every orchestra as read-only.
    pub read_only: bool,
    /// Seconds between background rounds of a healthy database off screen: the bound on how
    /// late a leader change off screen is seen (pod events come at once regardless). An
    /// orchestra may set its own (`[orchestras.X] background_interval`).
    pub background_interval: u64,
}

impl Default for General {
    fn default() -> Self {
        Self {
            theme: None,
            role: "operator".into(),
            read_only: false,
            background_interval: freshness::DEFAULT_BACKGROUND_SECS,
        }
    }
}

/// How member status endpoints are reached from where baton runs.
#[derive(Debug, Clone, Copy, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// Try the pod IP directly, fall back to the API server's pod proxy.
    #[default]
    Auto,
    Direct,
    Proxy,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OrchestraConfig {
    /// Name shown instead of the context name.
    pub display_name: Option<String>,
    /// Accent colour of this orchestra (prod in red).
    pub accent: Option<theme::Colour>,
    /// No operation may be started on this orchestra.
    pub read_only: bool,
    pub transport: Transport,
    /// The orchestra has room for one extra server per database (nodes, quota): resize and
    /// upgrade default to the surge strategy here, to in-place elsewhere.
    pub surge: bool,
    /// Where operations on this orchestra's databases run (else `operations.run`).
    pub run: Option<RunPlace>,
    /// The image of the in-cluster runner Jobs here (else `operations.runner_image`).
    pub runner_image: Option<String>,
    /// Seconds between background rounds here (else `general.background_interval`).
    pub background_interval: Option<u64>,
}

/// Where an operation runs: in the baton that launched it, or in the orchestra as a Job of
/// baton itself (it outlives the launching process and its SSH session).
#[derive(Debug, Clone, Copy, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RunPlace {
    #[default]
    Local,
    InCluster,
}

impl RunPlace {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::InCluster => "in-cluster",
        }
    }
}

/// Which status API a profile's members speak.
#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeKind {
    Neo4j,
    Etcd,
    Dynomite,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProfileConfig {
    /// The pod label whose value names the database.
    pub grouping_label: String,
    pub probe: ProbeKind,
    /// The member's HTTP status port.
    pub port: u16,
    #[serde(default)]
    pub credentials: Credentials,
}

/// Where a profile's probe credentials come from. Never a password in the file itself.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", tag = "from")]
pub enum Credentials {
    #[default]
    None,
    /// A Secret in the database's namespace; the value is `user/password` (Neo4j's NEO4J_AUTH).
    Secret { name: String, key: String },
    /// An environment variable of baton's process holding the password.
    Env { user: String, variable: String },
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OperationsConfig {
    /// Container image of operation Jobs, per profile name.
    pub job_image: BTreeMap<String, String>,
    /// Name of the environment variable that holds the notification webhook URL.
    /// The URL itself never appears in the config file or in logs.
    pub webhook_url_env: Option<String>,
    /// A member counts as caught up when its lag is at most this many Raft entries.
    pub lag_gate: u64,
    /// The longest an operation waits for the database to settle after one action before it
    /// pauses with the reason, in seconds.
    pub step_timeout: u64,
    /// Where backup and diagnostics artifacts go: `<artifacts>/<orchestra>/<namespace>/<db>/…`.
    pub artifacts: String,
    /// Name of the environment variable that holds the incident webhook URL (else the notice
    /// webhook's).
    pub incident_webhook_env: Option<String>,
    /// Lets an operator force an operation past a failing safety rule it names (`--force
    /// RULE`, `F` in the confirmation): majority, settled, no-other-operation, expected-leader.
    /// Never the lock, the role or read-only. Off unless the config turns it on.
    pub allow_force: bool,
    /// The object store's HTTP endpoint, S3 path-style (`https://s3.eu-west-1.amazonaws.com`,
    /// a MinIO, the lab's): where a restore lists the backups and checks one before it stops
    /// the database. `baton lab` sets it to the lab's.
    pub object_store_endpoint: Option<String>,
    /// Where operations run by default: `local` (this process) or `in-cluster` (a Job of
    /// baton in the database's namespace, under the ServiceAccount `baton-operator`).
    pub run: RunPlace,
    /// The image of the in-cluster runner Jobs: baton itself, the same version as this one.
    pub runner_image: Option<String>,
    /// The Secret (in the database's namespace) a runner Job takes the environment-held
    /// secrets from — the webhook URLs, `credentials = { from = "env" }` passwords — one key
    /// per variable name, each optional (a missing key is an unset variable).
    pub runner_secret: String,
    /// Where baton keeps what belongs to no one database in each orchestra: a campaign's state
    /// (ConfigMap `baton-campaign-<name>`) and its coordinator's Lease. It must exist.
    pub namespace: String,
}

impl Default for OperationsConfig {
    fn default() -> Self {
        Self {
            job_image: BTreeMap::new(),
            webhook_url_env: None,
            lag_gate: 100,
            step_timeout: 300,
            artifacts: "s3://lab-backups".into(),
            incident_webhook_env: None,
            allow_force: false,
            object_store_endpoint: None,
            run: RunPlace::Local,
            runner_image: None,
            runner_secret: "baton-runner".into(),
            namespace: "default".into(),
        }
    }
}

/// The operations baton knows; roles name them.
#[derive(
    Debug, Clone, Copy, Deserialize, serde::Serialize, PartialEq, Eq, PartialOrd, Ord, Hash,
)]
#[serde(rename_all = "kebab-case")]
pub enum OperationName {
    Backup,
    Restore,
    Diagnostics,
    RollingRestart,
    RestartMember,
    Resize,
    Upgrade,
    ReplaceMember,
    Stop,
    Start,
    Incident,
}

impl OperationName {
    pub const ALL: [OperationName; 11] = [
        Self::Backup,
        Self::Restore,
        Self::Diagnostics,
        Self::RollingRestart,
        Self::RestartMember,
        Self::Resize,
        Self::Upgrade,
        Self::ReplaceMember,
        Self::Stop,
        Self::Start,
        Self::Incident,
    ];

    /// The operation named `name` as `as_str` writes it (`rolling-restart`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Backup => "backup",
            Self::Restore => "restore",
            Self::Diagnostics => "diagnostics",
            Self::RollingRestart => "rolling-restart",
            Self::RestartMember => "restart-member",
            Self::Resize => "resize",
            Self::Upgrade => "upgrade",
            Self::ReplaceMember => "replace-member",
            Self::Stop => "stop",
            Self::Start => "start",
            Self::Incident => "incident",
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RoleConfig {
    /// The operations this role may run; empty means read-only.
    pub operations: Vec<OperationName>,
}

impl Config {
    /// The built-in database profiles merged with the file's (the file wins on a name clash).
    pub fn profile(&self, name: &str) -> Option<ProfileConfig> {
        self.profiles
            .get(name)
            .cloned()
            .or_else(|| builtin_profile(name))
    }

    /// The kind of the profile named `name` (`neo4j`, `etcd`, `dynomite`; empty if none is so
    /// named), as the operations catalog's entries name them.
    pub fn profile_kind(&self, name: &str) -> &'static str {
        match self.profile(name).map(|p| p.probe) {
            Some(ProbeKind::Neo4j) => "neo4j",
            Some(ProbeKind::Etcd) => "etcd",
            Some(ProbeKind::Dynomite) => "dynomite",
            None => "",
        }
    }

    /// Which operations `role` may run. Built-in roles: `operator` (all) and `observer` (none).
    pub fn role_operations(&self, role: &str) -> Option<Vec<OperationName>> {
        if let Some(r) = self.roles.get(role) {
            return Some(r.operations.clone());
        }
        match role {
            "operator" => Some(OperationName::ALL.to_vec()),
            "observer" => Some(Vec::new()),
            _ => None,
        }
    }

    /// Where operations on `orchestra` run by default.
    pub fn run_place(&self, orchestra: &str) -> RunPlace {
        self.orchestras
            .get(orchestra)
            .and_then(|o| o.run)
            .unwrap_or(self.operations.run)
    }

    /// The in-cluster runner image for `orchestra`, if one is configured.
    pub fn runner_image(&self, orchestra: &str) -> Option<&str> {
        self.orchestras
            .get(orchestra)
            .and_then(|o| o.runner_image.as_deref())
            .or(self.operations.runner_image.as_deref())
            .filter(|i| !i.trim().is_empty())
    }

    /// Parses `text` as the contents of `file`; errors carry both for the message.
    pub fn parse(text: &str, file: &Path) -> Result<Self, ConfigError> {
        let de = toml::de::Deserializer::parse(text)
            .map_err(|e| ConfigError::from_toml(file, text, e, String::new(), true))?;
        let config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            ConfigError::from_toml(file, text, e.into_inner(), key, false)
        })?;
        config.validate(file, text)?;
        Ok(config)
    }

    /// Reads the config: `explicit` (from `--config` or `BATON_CONFIG`), else the platform path.
    /// A missing file at the platform path means defaults; a missing explicit file is an error.
    pub fn load(explicit: Option<&Path>) -> Result<(Self, Option<PathBuf>), ConfigError> {
        // A runner Job: the launching baton's config, in its environment.
        if explicit.is_none()
            && let Ok(text) = std::env::var(runner::ENV_CONFIG_TEXT)
        {
            let label = PathBuf::from(format!("${}", runner::ENV_CONFIG_TEXT));
            return Ok((Self::parse(&text, &label)?, Some(label)));
        }
        let (path, required) = match explicit {
            Some(p) => (p.to_path_buf(), true),
            None => match paths::default_config_file() {
                Some(p) => (p, false),
                None => return Ok((Self::default(), None)),
            },
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok((Self::parse(&text, &path)?, Some(path))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                Ok((Self::default(), None))
            }
            Err(e) => Err(ConfigError {
                file: path.clone(),
                line: None,
                key: String::new(),
                message: format!("cannot read the config file: {e}"),
                fix: "check the path given with --config or BATON_CONFIG".into(),
            }),
        }
    }

    fn validate(&self, file: &Path, text: &str) -> Result<(), ConfigError> {
        let err = |key: String, message: String, fix: String| ConfigError {
            line: line_of_key(text, &key),
            file: file.to_path_buf(),
            key,
            message,
            fix,
        };
        if self.role_operations(&self.general.role).is_none() {
            return Err(err(
                "general.role".into(),
                format!("unknown role '{}'", self.general.role),
                format!(
                    "use operator, observer or a role defined under [roles.NAME]{}",
                    list_suffix(self.roles.keys())
                ),
            ));
        }
        let in_cluster = std::iter::once(("operations.run".to_string(), self.operations.run, None))
            .chain(self.orchestras.iter().filter_map(|(name, o)| {
                o.run
                    .map(|r| (format!("orchestras.{name}.run"), r, Some(name.as_str())))
            }));
        for (key, place, orchestra) in in_cluster {
            let image = match orchestra {
                Some(o) => self.runner_image(o),
                None => self.operations.runner_image.as_deref(),
            };
            if place == RunPlace::InCluster && image.is_none() {
                return Err(err(
                    key,
                    "operations run in-cluster but no runner image is configured".into(),
                    "set operations.runner_image (or runner_image of the orchestra) to baton's image, e.g. ghcr.io/baton-sre/baton:0.1.0".into(),
                ));
            }
        }
        for (name, p) in &self.profiles {
            if p.grouping_label.trim().is_empty() {
                return Err(err(
                    format!("profiles.{name}.grouping_label"),
                    "the grouping label is empty".into(),
                    "name the pod label whose value is the database name, e.g. helm.neo4j.com/neo4j.name".into(),
                ));
            }
            if p.port == 0 {
                return Err(err(
                    format!("profiles.{name}.port"),
                    "port 0 is not a port".into(),
                    "give the member's HTTP status port, e.g. 7474".into(),
                ));
            }
        }
        for (orchestra, dbs) in &self.inventory {
            for (db, d) in dbs {
                let key = format!("inventory.{orchestra}.{db}");
                if self.profile(&d.profile).is_none() {
                    return Err(err(
                        format!("{key}.profile"),
                        format!("no profile is named '{}'", d.profile),
                        "use neo4j, etcd, dynomite or a profile defined under [profiles.NAME]"
                            .into(),
                    ));
                }
                if d.members.is_empty() {
                    return Err(err(
                        format!("{key}.members"),
                        "a database needs at least one member".into(),
                        "list each member's status URL, e.g. members = [\"http://10.0.0.1:2379\"]"
                            .into(),
                    ));
                }
                if let Some(bad) = d.members.iter().find(|m| {
                    !(m.starts_with("http://") || m.starts_with("https://")) || m.len() < 10
                }) {
                    return Err(err(
                        format!("{key}.members"),
                        format!("'{bad}' is not an http(s) URL"),
                        "write each member as http://HOST:PORT (the status endpoint's base URL)"
                            .into(),
                    ));
                }
            }
        }
        for name in self.operations.job_image.keys() {
            if self.profile(name).is_none() {
                return Err(err(
                    format!("operations.job_image.{name}"),
                    format!("no profile is named '{name}'"),
                    "use neo4j, etcd, dynomite or a profile defined under [profiles.NAME]".into(),
                ));
            }
        }
        for (key, var) in [
            ("webhook_url_env", &self.operations.webhook_url_env),
            (
                "incident_webhook_env",
                &self.operations.incident_webhook_env,
            ),
        ] {
            let Some(var) = var else { continue };
            let ok = !var.is_empty()
                && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !var.starts_with(|c: char| c.is_ascii_digit());
            if !ok {
                return Err(err(
                    format!("operations.{key}"),
                    "this must be the name of an environment variable, not a URL".into(),
                    format!(
                        "set e.g. {key} = \"BATON_WEBHOOK_URL\" and export the URL in that variable"
                    ),
                ));
            }
        }
        let s = &self.operations.runner_secret;
        let dns = !s.is_empty()
            && s.len() <= 253
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !dns {
            return Err(err(
                "operations.runner_secret".into(),
                format!("'{s}' is not a Secret name"),
                "name a Secret of the database's namespace: lower-case letters, digits, '-' and '.', e.g. baton-runner".into(),
            ));
        }
        let ns = &self.operations.namespace;
        let label = !ns.is_empty()
            && ns.len() <= 63
            && ns
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && ns.starts_with(|c: char| c.is_ascii_alphanumeric())
            && ns.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !label {
            return Err(err(
                "operations.namespace".into(),
                format!("'{ns}' is not a namespace name"),
                "name a namespace that exists in each orchestra: lower-case letters, digits and '-', e.g. baton-system".into(),
            ));
        }
        freshness::validate(self, file, text)?;
        if self.operations.step_timeout == 0 {
            return Err(err(
                "operations.step_timeout".into(),
                "a step timeout of 0 s would pause every operation at once".into(),
                "give the seconds an operation may wait for the database to settle, e.g. 300"
                    .into(),
            ));
        }
        if let Err(e) = crate::config::keymap::Keymap::new(&self.keys) {
            return Err(ConfigError {
                line: line_in_table(text, "keys", &e.action)
                    .or_else(|| line_of_key(text, &format!("keys.{}", e.action))),
                file: file.to_path_buf(),
                key: format!("keys.{}", e.action),
                message: e.message,
                fix: e.fix,
            });
        }
        if !self.operations.artifacts.contains("://") {
            return Err(err(
                "operations.artifacts".into(),
                format!(
                    "'{}' is not an object store address",
                    self.operations.artifacts
                ),
                "write it as s3://BUCKET or s3://BUCKET/PREFIX".into(),
            ));
        }
        Ok(())
    }
}

/// The profiles baton knows without a config file.
pub fn builtin_profile(name: &str) -> Option<ProfileConfig> {
    let (label, probe, port, credentials) = match name {
        "neo4j" => (
            "helm.neo4j.com/neo4j.name",
            ProbeKind::Neo4j,
            7474,
            Credentials::Secret {
                name: "neo4j-auth".into(),
                key: "NEO4J_AUTH".into(),
            },
        ),
        "etcd" => (
            "app.kubernetes.io/instance",
            ProbeKind::Etcd,
            2379,
            Credentials::None,
        ),
        "dynomite" => (
            "app.kubernetes.io/instance",
            ProbeKind::Dynomite,
            8080,
            Credentials::None,
        ),
        _ => return None,
    };
    Some(ProfileConfig {
        grouping_label: label.into(),
        probe,
        port,
        credentials,
    })
}

fn list_suffix<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let v: Vec<&str> = names.map(String::as_str).collect();
    if v.is_empty() {
        String::new()
    } else {
        format!(" (defined: {})", v.join(", "))
    }
}

#[cfg(test)]
mod tests;
