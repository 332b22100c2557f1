//! Who may do what on a lab orchestra, as Kubernetes RBAC would decide it, and the answers a
//! real API server gives: the 403 `Status` body of a forbidden request and the status of a
//! SelfSubjectAccessReview.
//!
//! - `lab-operator` is bound to `cluster-admin`: everything (impersonation too).
//! - `lab-observer` is bound to the built-in `view` ClusterRole (get/list/watch of the workload
//!   resources — no Secrets, no `pods/exec`, `pods/attach`, `pods/portforward`, no `pods/proxy`,
//!   nothing mutating) plus a small `baton-observer` ClusterRole of what a dashboard needs beyond
//!   `view`: get/list/watch of nodes (zones) and Leases (operations in flight), and `get
//!   pods/proxy` (member status pages through the API server; a POST there is `create
//!   pods/proxy`, which it may not do).
//! - Every authenticated user may create SelfSubjectAccessReviews (`system:basic-user`).
//! - A ServiceAccount (`system:serviceaccount:<ns>:<name>`, by its token) and any other user
//!   (only by impersonation) get what the RoleBindings of the request's namespace grant them
//!   (`roles`); the lab stores no ClusterRoles, so a binding to one grants nothing.
//! - Impersonation (`Impersonate-User`, `Impersonate-Group`) as the API server's filter does it
//!   (`impersonate`).

use serde_json::{Value, json};

mod impersonate;
mod roles;

pub use impersonate::impersonate;

use crate::store::Store;

/// Who is calling (the bearer token says, or the impersonation headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Operator,
    Observer,
    /// `system:serviceaccount:<namespace>:<name>`, by a token the TokenRequest API issued.
    ServiceAccount {
        namespace: String,
        name: String,
    },
    /// Any other user, only by impersonation: authenticated, bound to nothing built in.
    User {
        name: String,
        groups: Vec<String>,
    },
}

const SA_PREFIX: &str = "system:serviceaccount:";

impl Identity {
    /// The user name, as Kubernetes spells it in messages and audit logs.
    pub fn user(&self) -> String {
        match self {
            Self::Operator => "lab-operator".into(),
            Self::Observer => "lab-observer".into(),
            Self::ServiceAccount { namespace, name } => format!("{SA_PREFIX}{namespace}:{name}"),
            Self::User { name, .. } => name.clone(),
        }
    }

    /// The user's groups (`system:authenticated` always).
    pub fn groups(&self) -> Vec<String> {
        let mut groups = match self {
            Self::Operator => vec!["system:masters".to_string()],
            Self::Observer => vec![],
            Self::ServiceAccount { namespace, .. } => vec![
                "system:serviceaccounts".to_string(),
                format!("system:serviceaccounts:{namespace}"),
            ],
            Self::User { groups, .. } => groups.clone(),
        };
        if !groups.iter().any(|g| g == "system:authenticated") {
            groups.push("system:authenticated".into());
        }
        groups
    }

    /// The identity of a user name (with the groups asked for): the lab's two users, a
    /// ServiceAccount (`system:serviceaccount:<ns>:<name>`), or anyone else.
    pub fn from_user(name: &str, groups: Vec<String>) -> Self {
        match name {
            "lab-operator" => Self::Operator,
            "lab-observer" => Self::Observer,
            _ => match name.strip_prefix(SA_PREFIX).and_then(|r| r.split_once(':')) {
                Some((namespace, sa)) if !namespace.is_empty() && !sa.is_empty() => {
                    Self::ServiceAccount {
                        namespace: namespace.into(),
                        name: sa.into(),
                    }
                }
                _ => Self::User {
                    name: name.into(),
                    groups,
                },
            },
        }
    }
}

/// What a request asks to do, as the authorizer sees it.
#[derive(Debug, Clone, Copy)]
pub struct Attributes<'a> {
    pub verb: &'a str,
    pub group: &'a str,
    /// `pods`, or `pods/log` with a subresource.
    pub resource: &'a str,
    /// None for a cluster-scoped request.
    pub namespace: Option<&'a str>,
    /// The object's name ("" for list, watch and create).
    pub name: &'a str,
}

const READ: &[&str] = &["get", "list", "watch"];

/// `view`'s resources (kubernetes/plugin/pkg/auth/authorizer/rbac/bootstrappolicy, aggregated
/// to view), as (group, resource) — the ones the lab serves and a few it does not.
const VIEW: &[(&str, &str)] = &[
    ("", "pods"),
    ("", "pods/status"),
    ("", "pods/log"),
    ("", "services"),
    ("", "services/status"),
    ("", "endpoints"),
    ("", "configmaps"),
    ("", "persistentvolumeclaims"),
    ("", "persistentvolumeclaims/status"),
    ("", "replicationcontrollers"),
    ("", "replicationcontrollers/scale"),
    ("", "replicationcontrollers/status"),
    ("", "serviceaccounts"),
    ("", "events"),
    ("", "limitranges"),
    ("", "resourcequotas"),
    ("", "resourcequotas/status"),
    ("", "bindings"),
    ("", "namespaces"),
    ("", "namespaces/status"),
    ("apps", "controllerrevisions"),
    ("apps", "daemonsets"),
    ("apps", "daemonsets/status"),
    ("apps", "deployments"),
    ("apps", "deployments/scale"),
    ("apps", "deployments/status"),
    ("apps", "replicasets"),
    ("apps", "replicasets/scale"),
    ("apps", "replicasets/status"),
    ("apps", "statefulsets"),
    ("apps", "statefulsets/scale"),
    ("apps", "statefulsets/status"),
    ("autoscaling", "horizontalpodautoscalers"),
    ("autoscaling", "horizontalpodautoscalers/status"),
    ("batch", "cronjobs"),
    ("batch", "cronjobs/status"),
    ("batch", "jobs"),
    ("batch", "jobs/status"),
    ("policy", "poddisruptionbudgets"),
    ("policy", "poddisruptionbudgets/status"),
    ("networking.k8s.io", "ingresses"),
    ("networking.k8s.io", "ingresses/status"),
    ("networking.k8s.io", "networkpolicies"),
    ("discovery.k8s.io", "endpointslices"),
    ("events.k8s.io", "events"),
];

/// `baton-observer`: what the dashboard reads beyond `view`, as (group, resource, verbs).
const BATON_OBSERVER: &[(&str, &str, &[&str])] = &[
    ("", "nodes", READ),
    ("coordination.k8s.io", "leases", READ),
    ("", "pods/proxy", &["get"]),
];

/// Why `id` may do `a` ("RBAC: allowed by …"), or None when nothing allows it.
pub fn authorize(store: &Store, id: &Identity, a: &Attributes) -> Option<String> {
    if *id == Identity::Operator {
        return Some(format!(
            "RBAC: allowed by ClusterRoleBinding \"lab-operator\" of ClusterRole \"cluster-admin\" to User \"{}\"",
            id.user()
        ));
    }
    if a.group == "authorization.k8s.io"
        && matches!(
            a.resource,
            "selfsubjectaccessreviews" | "selfsubjectrulesreviews"
        )
        && a.verb == "create"
    {
        return Some("RBAC: allowed by ClusterRoleBinding \"system:basic-user\" of ClusterRole \"system:basic-user\" to Group \"system:authenticated\"".into());
    }
    if *id == Identity::Observer && observer_allows(a.verb, a.group, a.resource) {
        return Some(format!(
            "RBAC: allowed by ClusterRoleBinding \"lab-observer\" of ClusterRole \"view\" to User \"{}\"",
            id.user()
        ));
    }
    roles::namespaced(store, id, a)
}

/// What the observer's ClusterRoles (`view`, `baton-observer`) grant.
fn observer_allows(verb: &str, group: &str, resource: &str) -> bool {
    (READ.contains(&verb) && VIEW.contains(&(group, resource)))
        || BATON_OBSERVER
            .iter()
            .any(|(g, r, verbs)| *g == group && *r == resource && verbs.contains(&verb))
}

/// The RBAC verb of a request (`get` of one object, `list`, `watch`, `create`, …).
pub fn verb(method: &str, named: bool, watching: bool) -> &'static str {
    match method {
        "GET" | "HEAD" if watching => "watch",
        "GET" | "HEAD" if named => "get",
        "GET" | "HEAD" => "list",
        "POST" => "create",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" if named => "delete",
        "DELETE" => "deletecollection",
        _ => "unknown",
    }
}

/// The 403 `Status` body Kubernetes sends when RBAC denies a request.
pub fn forbidden_status(
    id: &Identity,
    verb: &str,
    group: &str,
    resource: &str,
    ns: Option<&str>,
    name: &str,
) -> Value {
    // apierrors.NewForbidden: the group-qualified resource without its subresource.
    let kind = resource.split('/').next().unwrap_or(resource);
    let qualified = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    let target = if name.is_empty() {
        qualified
    } else {
        format!("{qualified} \"{name}\"")
    };
    let scope = match ns {
        Some(ns) => format!(" in the namespace \"{ns}\""),
        None => " at the cluster scope".into(),
    };
    let mut details = json!({"kind": kind});
    if !name.is_empty() {
        details["name"] = json!(name);
    }
    if !group.is_empty() {
        details["group"] = json!(group);
    }
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": format!(
            "{target} is forbidden: User \"{}\" cannot {verb} resource \"{resource}\" in API group \"{group}\"{scope}",
            id.user()
        ),
        "reason": "Forbidden",
        "details": details,
        "code": 403,
    })
}

/// A SelfSubjectAccessReview answered: the request's spec with its status, as the API server
/// returns it (`allowed`, and on an allow the binding's reason).
pub fn review(store: &Store, id: &Identity, body: &Value) -> Value {
    let spec = &body["spec"];
    let status = if let Some(attrs) = spec["resourceAttributes"].as_object() {
        let s = |k: &str| attrs.get(k).and_then(Value::as_str).unwrap_or("");
        let resource = match s("subresource") {
            "" => s("resource").to_string(),
            sub => format!("{}/{sub}", s("resource")),
        };
        let a = Attributes {
            verb: s("verb"),
            group: s("group"),
            resource: &resource,
            namespace: Some(s("namespace")).filter(|n| !n.is_empty()),
            name: s("name"),
        };
        decision(authorize(store, id, &a))
    } else if spec["nonResourceAttributes"].is_object() {
        // system:discovery and system:public-info-viewer: every user may read the discovery
        // and health paths; nothing else is non-resource in the lab.
        let ok = *id == Identity::Operator
            || spec["nonResourceAttributes"]["verb"].as_str() == Some("get");
        decision(ok.then(|| "RBAC: allowed by ClusterRoleBinding \"system:discovery\" of ClusterRole \"system:discovery\" to Group \"system:authenticated\"".to_string()))
    } else {
        json!({"allowed": false, "evaluationError": "spec.resourceAttributes or spec.nonResourceAttributes is required"})
    };
    json!({
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "spec": spec,
        "status": status,
    })
}

fn decision(reason: Option<String>) -> Value {
    match reason {
        Some(reason) => json!({"allowed": true, "reason": reason}),
        None => json!({"allowed": false}),
    }
}

#[cfg(test)]
mod tests;
