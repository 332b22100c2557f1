//! A campaign's state where it lives: in the orchestras, not on the bastion. Each orchestra a
//! campaign touches holds the ConfigMap `baton-campaign-<name>` (in the namespace campaigns use
//! there) with the campaign's definition (the spec and its waves, the same everywhere) and the
//! state of that orchestra's databases; it is created with create (409: another coordinator
//! made it) and changed only with the resourceVersion read (409: someone changed it since: read
//! again and decide again). The ConfigMap is read back as untrusted data: an error names the
//! key and the object.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};

use super::run::DbState;
use super::spec::Spec;
use crate::fleet::DbKey;

/// The ConfigMap's name prefix; the campaign's name follows.
pub const PREFIX: &str = "baton-campaign-";

/// A database as the records name it (orchestra names may hold `/`: EKS contexts are ARNs).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub orchestra: String,
    pub namespace: String,
    pub name: String,
}

impl Entry {
    pub fn of(k: &DbKey) -> Self {
        Self {
            orchestra: k.orchestra.clone(),
            namespace: k.namespace.clone(),
            name: k.name.clone(),
        }
    }

    pub fn key(&self) -> DbKey {
        DbKey {
            orchestra: self.orchestra.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }
}

/// What the campaign is: as confirmed, the same on every orchestra.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Definition {
    pub spec: Spec,
    /// The canary first, then each wave.
    pub waves: Vec<Vec<Entry>>,
    pub created_ms: u64,
    /// `user@host pid N` of the baton that started it.
    pub created_by: String,
    /// The orchestra that holds the campaign's Lease and its control (the first one planned).
    pub home: String,
}

/// Where the campaign as a whole stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Running,
    /// A human paused it: nothing new starts; what runs finishes.
    Paused,
    /// Harm halted it: nothing new starts; what runs finishes its current member and settles.
    Halted,
    /// Stopped for good: nothing new starts; what runs finishes.
    Cancelled,
    Finished,
}

impl Phase {
    pub fn word(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Halted => "halted",
            Self::Cancelled => "cancelled",
            Self::Finished => "finished",
        }
    }

    /// Nothing new may start.
    pub fn stopped(self) -> bool {
        self != Self::Running
    }
}

/// The campaign's control: its phase, who set it, why and when. The home orchestra's copy is
/// the one that counts (`pause`, `resume`, `cancel` write it there); the others carry a copy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Control {
    pub phase: Phase,
    pub by: String,
    #[serde(default)]
    pub why: String,
    /// The database a halt names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<Entry>,
    pub at_ms: u64,
}

impl Control {
    pub fn new(phase: Phase, by: &str, why: &str, at_ms: u64) -> Self {
        Self {
            phase,
            by: by.into(),
            why: why.into(),
            database: None,
            at_ms,
        }
    }
}

/// One orchestra's ConfigMap as read.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub resource_version: String,
    pub definition: Definition,
    pub control: Control,
    /// This orchestra's databases.
    pub states: BTreeMap<Entry, DbState>,
}

/// Why a save did not land.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveError {
    /// Created or changed by someone else since it was read: read again, decide again.
    Conflict(String),
    Failed(String),
}

/// The ConfigMap of `definition`, `control` and `states` in `namespace`, at
/// `resource_version` (None: a new one).
pub fn to_configmap(
    namespace: &str,
    definition: &Definition,
    control: &Control,
    states: &BTreeMap<Entry, DbState>,
    resource_version: Option<&str>,
) -> Result<ConfigMap, String> {
    let states: Vec<(&Entry, &DbState)> = states.iter().collect();
    let data = BTreeMap::from([
        (
            "definition".to_string(),
            serde_json::to_string(definition).map_err(|e| e.to_string())?,
        ),
        (
            "control".to_string(),
            serde_json::to_string(control).map_err(|e| e.to_string())?,
        ),
        (
            "states".to_string(),
            serde_json::to_string(&states).map_err(|e| e.to_string())?,
        ),
    ]);
    let mut cm: ConfigMap = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": format!("{PREFIX}{}", definition.spec.name),
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "baton", "baton.io/campaign": definition.spec.name},
        },
    }))
    .map_err(|e| e.to_string())?;
    cm.data = Some(data);
    cm.metadata.resource_version = resource_version.map(str::to_string);
    Ok(cm)
}

/// Reads a campaign's ConfigMap (untrusted): the error names the object and the key.
pub fn of_configmap(cm: &ConfigMap) -> Result<Stored, String> {
    let what = format!(
        "configmap {}/{}",
        cm.metadata.namespace.as_deref().unwrap_or(""),
        cm.metadata.name.as_deref().unwrap_or("")
    );
    let data = cm.data.as_ref().ok_or(format!("{what}: no data"))?;
    of_data(
        &what,
        data,
        cm.metadata.resource_version.clone().unwrap_or_default(),
    )
}

/// Reads a campaign's record from its data as written (`what` names it in errors).
pub fn of_data(
    what: &str,
    data: &BTreeMap<String, String>,
    resource_version: String,
) -> Result<Stored, String> {
    let get = |key: &str| {
        data.get(key)
            .ok_or_else(|| format!("{what}: no key '{key}'"))
    };
    let definition: Definition = serde_json::from_str(get("definition")?)
        .map_err(|e| format!("{what}: key 'definition': {e}"))?;
    let control: Control =
        serde_json::from_str(get("control")?).map_err(|e| format!("{what}: key 'control': {e}"))?;
    let states: Vec<(Entry, DbState)> =
        serde_json::from_str(get("states")?).map_err(|e| format!("{what}: key 'states': {e}"))?;
    Ok(Stored {
        resource_version,
        definition,
        control,
        states: states.into_iter().collect(),
    })
}

/// The campaign `name`'s ConfigMap in `namespace`, if there is one.
pub async fn load(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Option<Stored>, String> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    match api.get_opt(&format!("{PREFIX}{name}")).await {
        Ok(Some(cm)) => of_configmap(&cm).map(Some),
        Ok(None) => Ok(None),
        Err(e) => Err(crate::probe::kube_reason(&e)),
    }
}

/// Writes the campaign's state: a create when `resource_version` is None, else a replace at
/// that resourceVersion. Returns the new resourceVersion.
pub async fn save(
    client: &kube::Client,
    namespace: &str,
    definition: &Definition,
    control: &Control,
    states: &BTreeMap<Entry, DbState>,
    resource_version: Option<&str>,
) -> Result<String, SaveError> {
    let cm = to_configmap(namespace, definition, control, states, resource_version)
        .map_err(SaveError::Failed)?;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let pp = PostParams::default();
    let r = match resource_version {
        None => api.create(&pp, &cm).await,
        Some(_) => {
            api.replace(&format!("{PREFIX}{}", definition.spec.name), &pp, &cm)
                .await
        }
    };
    match r {
        Ok(cm) => Ok(cm.metadata.resource_version.unwrap_or_default()),
        Err(kube::Error::Api(s)) if s.code == 409 => Err(SaveError::Conflict(s.message)),
        Err(e) => Err(SaveError::Failed(crate::probe::kube_reason(&e))),
    }
}
