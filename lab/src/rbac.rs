//! Who may do what on a lab orchestra, as Kubernetes RBAC would decide it, and the answers a
//! real API server gives: the 403 `Status` body of a forbidden request and the status of a
//! SelfSubjectAccessReview.
//!
//! - `lab-operator` is bound to `cluster-admin`: everything.
//! - `lab-observer` is bound to the built-in `view` ClusterRole (get/list/watch of the workload
//!   resources — no Secrets, no `pods/exec`, `pods/attach`, `pods/portforward`, no `pods/proxy`,
//!   nothing mutating) plus a small `baton-observer` ClusterRole of what a dashboard needs beyond
//!   `view`: get/list/watch of nodes (zones) and Leases (operations in flight), and `get
//!   pods/proxy` (member status pages through the API server; a POST there is `create
//!   pods/proxy`, which it may not do).
//! - Every authenticated user may create SelfSubjectAccessReviews (`system:basic-user`).

use serde_json::{Value, json};

/// Who is calling (the bearer token says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    Operator,
    Observer,
}

impl Identity {
    pub fn user(self) -> &'static str {
        match self {
            Self::Operator => "lab-operator",
            Self::Observer => "lab-observer",
        }
    }

    fn binding(self) -> (&'static str, &'static str) {
        match self {
            Self::Operator => ("lab-operator", "cluster-admin"),
            Self::Observer => ("lab-observer", "view"),
        }
    }
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

/// Whether `id` may `verb` the `resource` (`pods`, or `pods/proxy` with a subresource) of API
/// group `group`.
pub fn allowed(id: Identity, verb: &str, group: &str, resource: &str) -> bool {
    match id {
        Identity::Operator => true,
        Identity::Observer => {
            if group == "authorization.k8s.io"
                && resource == "selfsubjectaccessreviews"
                && verb == "create"
            {
                return true;
            }
            (READ.contains(&verb) && VIEW.contains(&(group, resource)))
                || BATON_OBSERVER
                    .iter()
                    .any(|(g, r, verbs)| *g == group && *r == resource && verbs.contains(&verb))
        }
    }
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
    id: Identity,
    verb: &str,
    group: &str,
    resource: &str,
    ns: Option<&str>,
    name: &str,
) -> Value {
    let target = if name.is_empty() {
        resource.to_string()
    } else {
        format!("{resource} \"{name}\"")
    };
    let scope = match ns {
        Some(ns) => format!(" in the namespace \"{ns}\""),
        None => " at the cluster scope".into(),
    };
    let kind = resource.split('/').next().unwrap_or(resource);
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
pub fn review(id: Identity, body: &Value) -> Value {
    let spec = &body["spec"];
    let status = if let Some(attrs) = spec["resourceAttributes"].as_object() {
        let s = |k: &str| attrs.get(k).and_then(Value::as_str).unwrap_or("");
        let resource = match s("subresource") {
            "" => s("resource").to_string(),
            sub => format!("{}/{sub}", s("resource")),
        };
        let verb = s("verb");
        let ok =
            allowed(id, verb, s("group"), &resource) || (verb == "*" && id == Identity::Operator);
        decision(id, ok)
    } else if spec["nonResourceAttributes"].is_object() {
        // system:discovery and system:public-info-viewer: every user may read the discovery
        // and health paths; nothing else is non-resource in the lab.
        let ok = id == Identity::Operator
            || spec["nonResourceAttributes"]["verb"].as_str() == Some("get");
        decision(id, ok)
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

fn decision(id: Identity, ok: bool) -> Value {
    if ok {
        let (binding, role) = id.binding();
        json!({
            "allowed": true,
            "reason": format!("RBAC: allowed by ClusterRoleBinding \"{binding}\" of ClusterRole \"{role}\" to User \"{}\"", id.user()),
        })
    } else {
        json!({"allowed": false})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_observer_is_view_plus_what_a_dashboard_reads() {
        let o = Identity::Observer;
        for r in ["pods", "pods/log", "events"] {
            assert!(allowed(o, "list", "", r), "{r}");
        }
        assert!(allowed(o, "watch", "apps", "statefulsets"));
        assert!(allowed(o, "get", "batch", "jobs"));
        assert!(allowed(o, "watch", "coordination.k8s.io", "leases"));
        assert!(allowed(o, "get", "", "pods/proxy"));
        // What `view` never grants.
        assert!(!allowed(o, "get", "", "secrets"));
        assert!(!allowed(o, "list", "", "secrets"));
        assert!(!allowed(o, "create", "", "pods/proxy"));
        assert!(!allowed(o, "create", "", "pods/exec"));
        assert!(!allowed(o, "get", "", "pods/exec"));
        for (verb, group, r) in [
            ("delete", "", "pods"),
            ("patch", "apps", "statefulsets"),
            ("create", "batch", "jobs"),
            ("create", "coordination.k8s.io", "leases"),
            ("update", "coordination.k8s.io", "leases"),
            ("create", "", "events"),
        ] {
            assert!(!allowed(o, verb, group, r), "{verb} {r}");
            assert!(allowed(Identity::Operator, verb, group, r), "{verb} {r}");
        }
    }

    #[test]
    fn bodies_as_kubernetes_sends_them() {
        let s = forbidden_status(
            Identity::Observer,
            "create",
            "",
            "pods/proxy",
            Some("db"),
            "etcd-0:2379",
        );
        assert_eq!(s["code"], 403);
        assert_eq!(s["reason"], "Forbidden");
        assert_eq!(s["details"]["kind"], "pods");
        assert_eq!(
            s["message"],
            "pods/proxy \"etcd-0:2379\" is forbidden: User \"lab-observer\" cannot create resource \"pods/proxy\" in API group \"\" in the namespace \"db\""
        );
        let ask = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"verb": "get", "resource": "secrets", "namespace": "db"}}});
        assert_eq!(review(Identity::Observer, &ask)["status"]["allowed"], false);
        assert_eq!(review(Identity::Operator, &ask)["status"]["allowed"], true);
        let proxy = json!({"spec": {"resourceAttributes": {"verb": "create", "resource": "pods", "subresource": "proxy"}}});
        assert_eq!(
            review(Identity::Observer, &proxy)["status"]["allowed"],
            false
        );
    }
}
