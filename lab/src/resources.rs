//! The resources the lab serves: group, version, kind, scope, verbs and short names, the
//! events.k8s.io view of Events, and what the API server fills in on create. Its children serve
//! them: discovery documents (`discovery`) and the columns `kubectl get` shows (`table`).

use serde_json::{Value, json};

mod discovery;
mod table;
pub use discovery::{api_group_list, api_versions, resource_list};
pub use table::{Include, human_age, pod_status_reason, table, table_cells, table_columns};

/// One served resource.
#[derive(Debug)]
pub struct Resource {
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub verbs: &'static [&'static str],
    pub subresources: &'static [&'static str],
    pub categories: &'static [&'static str],
}

impl Resource {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `pods`, `statefulsets.apps` — as Kubernetes names a resource in messages.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

const RW: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

pub static RESOURCES: &[Resource] = &[
    Resource {
        group: "",
        version: "v1",
        plural: "namespaces",
        singular: "namespace",
        kind: "Namespace",
        namespaced: false,
        short_names: &["ns"],
        verbs: &[
            "create", "delete", "get", "list", "patch", "update", "watch",
        ],
        subresources: &["status"],
        categories: &[],
    },
    Resource {
        group: "",
        version: "v1",
        plural: "nodes",
        singular: "node",
        kind: "Node",
        namespaced: false,
        short_names: &["no"],
        verbs: RW,
        subresources: &["status"],
        categories: &[],
    },
    Resource {
        group: "",
        version: "v1",
        plural: "pods",
        singular: "pod",
        kind: "Pod",
        namespaced: true,
        short_names: &["po"],
        verbs: RW,
        subresources: &["log", "status", "proxy"],
        categories: &["all"],
    },
    Resource {
        group: "",
        version: "v1",
        plural: "services",
        singular: "service",
        kind: "Service",
        namespaced: true,
        short_names: &["svc"],
        verbs: RW,
        subresources: &["status"],
        categories: &["all"],
    },
    Resource {
        group: "",
        version: "v1",
        plural: "secrets",
        singular: "secret",
        kind: "Secret",
        namespaced: true,
        short_names: &[],
        verbs: RW,
        subresources: &[],
        categories: &[],
    },
    Resource {
        group: "",
        version: "v1",
        plural: "events",
        singular: "event",
        kind: "Event",
        namespaced: true,
        short_names: &["ev"],
        verbs: RW,
        subresources: &[],
        categories: &[],
    },
    Resource {
        group: "apps",
        version: "v1",
        plural: "statefulsets",
        singular: "statefulset",
        kind: "StatefulSet",
        namespaced: true,
        short_names: &["sts"],
        verbs: RW,
        subresources: &["status", "scale"],
        categories: &["all"],
    },
    Resource {
        group: "batch",
        version: "v1",
        plural: "jobs",
        singular: "job",
        kind: "Job",
        namespaced: true,
        short_names: &[],
        verbs: RW,
        subresources: &["status"],
        categories: &["all"],
    },
    Resource {
        group: "coordination.k8s.io",
        version: "v1",
        plural: "leases",
        singular: "lease",
        kind: "Lease",
        namespaced: true,
        short_names: &[],
        verbs: RW,
        subresources: &[],
        categories: &[],
    },
    Resource {
        group: "",
        version: "v1",
        plural: "persistentvolumeclaims",
        singular: "persistentvolumeclaim",
        kind: "PersistentVolumeClaim",
        namespaced: true,
        short_names: &["pvc"],
        verbs: RW,
        subresources: &["status"],
        categories: &[],
    },
    Resource {
        group: "authorization.k8s.io",
        version: "v1",
        plural: "selfsubjectaccessreviews",
        singular: "selfsubjectaccessreview",
        kind: "SelfSubjectAccessReview",
        namespaced: false,
        short_names: &[],
        verbs: &["create"],
        subresources: &[],
        categories: &[],
    },
    // The same Events as core/v1, in the events.k8s.io/v1 shape (kube-rs's event Recorder
    // writes these); stored once, converted at the API (see `to_view`).
    Resource {
        group: "events.k8s.io",
        version: "v1",
        plural: "events",
        singular: "event",
        kind: "Event",
        namespaced: true,
        short_names: &["ev"],
        verbs: RW,
        subresources: &[],
        categories: &[],
    },
    Resource {
        group: "",
        version: "v1",
        plural: "serviceaccounts",
        singular: "serviceaccount",
        kind: "ServiceAccount",
        namespaced: true,
        short_names: &["sa"],
        verbs: RW,
        subresources: &["token"],
        categories: &[],
    },
    Resource {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "roles",
        singular: "role",
        kind: "Role",
        namespaced: true,
        short_names: &[],
        verbs: RW,
        subresources: &[],
        categories: &[],
    },
    Resource {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "rolebindings",
        singular: "rolebinding",
        kind: "RoleBinding",
        namespaced: true,
        short_names: &[],
        verbs: RW,
        subresources: &[],
        categories: &[],
    },
    Resource {
        group: "",
        version: "v1",
        plural: "configmaps",
        singular: "configmap",
        kind: "ConfigMap",
        namespaced: true,
        short_names: &["cm"],
        verbs: RW,
        subresources: &[],
        categories: &[],
    },
];

/// The API groups (besides the core group), each with its one version.
pub const GROUPS: &[(&str, &str)] = &[
    ("apps", "v1"),
    ("batch", "v1"),
    ("coordination.k8s.io", "v1"),
    ("authorization.k8s.io", "v1"),
    ("events.k8s.io", "v1"),
    ("rbac.authorization.k8s.io", "v1"),
];

pub fn by_plural(plural: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.plural == plural)
}

pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Typed handle for the resources the controllers use, so they never look names up.
pub fn pods() -> &'static Resource {
    &RESOURCES[2]
}
pub fn namespaces() -> &'static Resource {
    &RESOURCES[0]
}
pub fn nodes() -> &'static Resource {
    &RESOURCES[1]
}
pub fn services() -> &'static Resource {
    &RESOURCES[3]
}
pub fn secrets() -> &'static Resource {
    &RESOURCES[4]
}
pub fn events() -> &'static Resource {
    &RESOURCES[5]
}
pub fn statefulsets() -> &'static Resource {
    &RESOURCES[6]
}
pub fn jobs() -> &'static Resource {
    &RESOURCES[7]
}
pub fn leases() -> &'static Resource {
    &RESOURCES[8]
}
pub fn persistentvolumeclaims() -> &'static Resource {
    &RESOURCES[9]
}
pub fn serviceaccounts() -> &'static Resource {
    &RESOURCES[12]
}
pub fn roles() -> &'static Resource {
    &RESOURCES[13]
}
pub fn rolebindings() -> &'static Resource {
    &RESOURCES[14]
}
pub fn configmaps() -> &'static Resource {
    &RESOURCES[15]
}

/// Where objects of `res` live: events.k8s.io/v1 Events are core/v1 Events, as in Kubernetes.
pub fn stored(res: &'static Resource) -> &'static Resource {
    if res.group == "events.k8s.io" {
        events()
    } else {
        res
    }
}

/// (events.k8s.io/v1 field, core/v1 field) pairs that are only renamed.
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

/// A stored object as a client of `view` sees it (an events.k8s.io/v1 Event from a core one).
pub fn to_view(view: &Resource, mut obj: Value) -> Value {
    if view.group != "events.k8s.io" {
        return obj;
    }
    if let Some(o) = obj.as_object_mut() {
        for (v1, core) in EVENT_FIELDS {
            if let Some(x) = o.remove(*core) {
                o.insert((*v1).to_string(), x);
            }
        }
        o.insert("apiVersion".into(), json!(view.api_version()));
        o.insert("kind".into(), json!(view.kind));
    }
    obj
}

/// An object written by a client of `view`, in the shape it is stored in.
pub fn from_view(view: &Resource, mut obj: Value) -> Value {
    if view.group != "events.k8s.io" {
        return obj;
    }
    if let Some(o) = obj.as_object_mut() {
        for (v1, core) in EVENT_FIELDS {
            if let Some(x) = o.remove(*v1) {
                o.insert((*core).to_string(), x);
            }
        }
        o.insert("apiVersion".into(), json!("v1"));
    }
    obj
}

/// The ServiceAccount a pod runs as (`spec.serviceAccountName`, else the deprecated
/// `spec.serviceAccount`, else `default`).
pub fn pod_service_account(pod: &Value) -> &str {
    ["serviceAccountName", "serviceAccount"]
        .iter()
        .find_map(|k| pod["spec"][*k].as_str().filter(|s| !s.is_empty()))
        .unwrap_or("default")
}

/// What the API server fills in on create, as a real one does: a Job's selector and pod labels,
/// a pod's restart policy.
pub fn apply_defaults(res: &Resource, obj: &mut Value) {
    match res.plural {
        "jobs" => {
            let uid = obj["metadata"]["uid"].clone();
            let name = obj["metadata"]["name"].clone();
            if obj["spec"]["selector"].is_null() {
                obj["spec"]["selector"] =
                    json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
            }
            if !obj["spec"]["template"]["metadata"]["labels"].is_object() {
                obj["spec"]["template"]["metadata"]["labels"] = json!({});
            }
            let labels = &mut obj["spec"]["template"]["metadata"]["labels"];
            labels["batch.kubernetes.io/controller-uid"] = uid.clone();
            labels["controller-uid"] = uid;
            labels["batch.kubernetes.io/job-name"] = name.clone();
            labels["job-name"] = name;
            if obj["spec"]["backoffLimit"].is_null() {
                obj["spec"]["backoffLimit"] = json!(6);
            }
            if obj["spec"]["completions"].is_null() {
                obj["spec"]["completions"] = json!(1);
            }
        }
        "pods" => {
            let sa = pod_service_account(obj).to_string();
            obj["spec"]["serviceAccountName"] = json!(sa);
            obj["spec"]["serviceAccount"] = json!(sa);
            if obj["spec"]["restartPolicy"].is_null() {
                obj["spec"]["restartPolicy"] = json!("Always");
            }
            if obj["status"]["phase"].is_null() {
                obj["status"] = json!({"phase": "Pending", "qosClass": "Burstable"});
            }
        }
        _ => {}
    }
}
