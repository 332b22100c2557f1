//! Namespaced RBAC: the RoleBindings of a request's namespace whose subjects include the
//! caller, and the rules of the Roles they refer to, evaluated as Kubernetes' RBAC authorizer
//! does (verbs, apiGroups, resources with subresources and `*`, resourceNames).

use serde_json::Value;

use super::{Attributes, Identity};
use crate::resources;
use crate::store::Store;

/// Why a RoleBinding of `a`'s namespace lets `id` do `a`, or None.
pub(super) fn namespaced(store: &Store, id: &Identity, a: &Attributes) -> Option<String> {
    // Cluster-scoped requests are for ClusterRoleBindings only.
    let ns = a.namespace.filter(|n| !n.is_empty())?;
    let (bindings, _) = store.list(resources::rolebindings(), Some(ns));
    for b in &bindings {
        let Some(subject) = b["subjects"]
            .as_array()
            .and_then(|ss| ss.iter().find(|s| applies_to(s, id, ns)))
        else {
            continue;
        };
        let role_ref = &b["roleRef"];
        // The lab stores no ClusterRoles: a binding to one (or to a missing Role) grants
        // nothing, as on a cluster where that role does not exist.
        if role_ref["kind"] != "Role" {
            continue;
        }
        let role_name = role_ref["name"].as_str().unwrap_or("");
        let Ok(role) = store.get(resources::roles(), ns, role_name) else {
            continue;
        };
        let rules = role["rules"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        if rules.iter().any(|r| rule_allows(r, a)) {
            return Some(format!(
                "RBAC: allowed by RoleBinding \"{}/{ns}\" of Role \"{role_name}\" to {}",
                b["metadata"]["name"].as_str().unwrap_or(""),
                describe(subject, ns)
            ));
        }
    }
    None
}

/// Whether a binding's subject is `id` (a ServiceAccount subject without a namespace is one of
/// the binding's namespace).
fn applies_to(subject: &Value, id: &Identity, binding_ns: &str) -> bool {
    let name = subject["name"].as_str().unwrap_or("");
    match subject["kind"].as_str() {
        Some("ServiceAccount") => {
            let sa_ns = subject["namespace"]
                .as_str()
                .filter(|n| !n.is_empty())
                .unwrap_or(binding_ns);
            matches!(id, Identity::ServiceAccount { namespace, name: n } if namespace == sa_ns && n == name)
        }
        Some("User") => id.user() == name,
        Some("Group") => id.groups().iter().any(|g| g == name),
        _ => false,
    }
}

fn describe(subject: &Value, binding_ns: &str) -> String {
    let name = subject["name"].as_str().unwrap_or("");
    match subject["kind"].as_str() {
        Some("ServiceAccount") => {
            let ns = subject["namespace"]
                .as_str()
                .filter(|n| !n.is_empty())
                .unwrap_or(binding_ns);
            format!("ServiceAccount \"{name}/{ns}\"")
        }
        Some(kind) => format!("{kind} \"{name}\""),
        None => format!("\"{name}\""),
    }
}

/// One PolicyRule against a request (k8s.io/kubernetes/pkg/apis/rbac/v1 evaluation helpers).
pub(super) fn rule_allows(rule: &Value, a: &Attributes) -> bool {
    let list = |k: &str| -> Vec<&str> {
        rule[k]
            .as_array()
            .map(|xs| xs.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    };
    let verbs = list("verbs");
    let groups = list("apiGroups");
    let resources = list("resources");
    let names = list("resourceNames");
    let sub = a.resource.split_once('/').map(|(_, s)| s);
    let verb_ok = verbs.iter().any(|v| *v == "*" || *v == a.verb);
    let group_ok = groups.iter().any(|g| *g == "*" || *g == a.group);
    let resource_ok = resources.iter().any(|r| {
        *r == "*" || *r == a.resource || sub.is_some_and(|s| r.strip_prefix("*/") == Some(s))
    });
    // resourceNames restrict requests for one named object; a list, watch or create names none.
    let name_ok = names.is_empty() || (!a.name.is_empty() && names.contains(&a.name));
    verb_ok && group_ok && resource_ok && name_ok
}
