use serde_json::json;

use super::*;
use crate::resources;

fn store() -> Store {
    let s = Store::new(1, 100);
    for ns in ["db", "other"] {
        s.create(
            resources::namespaces(),
            "",
            json!({"metadata": {"name": ns}}),
        )
        .unwrap();
    }
    s
}

fn attrs<'a>(
    verb: &'a str,
    group: &'a str,
    resource: &'a str,
    ns: Option<&'a str>,
) -> Attributes<'a> {
    Attributes {
        verb,
        group,
        resource,
        namespace: ns,
        name: "",
    }
}

fn allowed(s: &Store, id: &Identity, verb: &str, group: &str, resource: &str) -> bool {
    authorize(s, id, &attrs(verb, group, resource, Some("db"))).is_some()
}

#[test]
fn the_observer_is_view_plus_what_a_dashboard_reads() {
    let s = store();
    let o = &Identity::Observer;
    for r in ["pods", "pods/log", "events"] {
        assert!(allowed(&s, o, "list", "", r), "{r}");
    }
    assert!(allowed(&s, o, "watch", "apps", "statefulsets"));
    assert!(allowed(&s, o, "get", "batch", "jobs"));
    assert!(allowed(&s, o, "watch", "coordination.k8s.io", "leases"));
    assert!(allowed(&s, o, "get", "", "pods/proxy"));
    // What `view` never grants.
    assert!(!allowed(&s, o, "get", "", "secrets"));
    assert!(!allowed(&s, o, "list", "", "secrets"));
    assert!(!allowed(&s, o, "create", "", "pods/proxy"));
    assert!(!allowed(&s, o, "create", "", "pods/exec"));
    assert!(!allowed(&s, o, "get", "", "pods/exec"));
    for (verb, group, r) in [
        ("delete", "", "pods"),
        ("patch", "apps", "statefulsets"),
        ("create", "batch", "jobs"),
        ("create", "coordination.k8s.io", "leases"),
        ("update", "coordination.k8s.io", "leases"),
        ("create", "", "events"),
    ] {
        assert!(!allowed(&s, o, verb, group, r), "{verb} {r}");
        assert!(
            allowed(&s, &Identity::Operator, verb, group, r),
            "{verb} {r}"
        );
    }
}

#[test]
fn bodies_as_kubernetes_sends_them() {
    let s = forbidden_status(
        &Identity::Observer,
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
        "pods \"etcd-0:2379\" is forbidden: User \"lab-observer\" cannot create resource \"pods/proxy\" in API group \"\" in the namespace \"db\""
    );
    let st = store();
    let ask = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": "get", "resource": "secrets", "namespace": "db"}}});
    assert_eq!(
        review(&st, &Identity::Observer, &ask)["status"]["allowed"],
        false
    );
    assert_eq!(
        review(&st, &Identity::Operator, &ask)["status"]["allowed"],
        true
    );
    let proxy = json!({"spec": {"resourceAttributes": {"verb": "create", "resource": "pods", "subresource": "proxy"}}});
    assert_eq!(
        review(&st, &Identity::Observer, &proxy)["status"]["allowed"],
        false
    );
}

fn operator_sa() -> Identity {
    Identity::ServiceAccount {
        namespace: "db".into(),
        name: "baton-operator".into(),
    }
}

/// The Role and RoleBinding of baton's operator ServiceAccount in `db`.
fn bind_operator(s: &Store) {
    s.create(
        resources::serviceaccounts(),
        "db",
        json!({"metadata": {"name": "baton-operator"}}),
    )
    .unwrap();
    s.create(
        resources::roles(),
        "db",
        json!({"metadata": {"name": "baton-operator"}, "rules": [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "delete"]},
            {"apiGroups": [""], "resources": ["pods/log", "*/status"], "verbs": ["get"]},
            {"apiGroups": ["apps"], "resources": ["statefulsets"], "verbs": ["get", "list", "watch", "patch"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["*"]},
            {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["neo4j-auth"], "verbs": ["get", "list"]},
        ]}),
    )
    .unwrap();
    s.create(
        resources::rolebindings(),
        "db",
        json!({"metadata": {"name": "baton-operator"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "baton-operator"},
            "subjects": [{"kind": "ServiceAccount", "name": "baton-operator", "namespace": "db"}]}),
    )
    .unwrap();
}

#[test]
fn a_service_account_has_what_its_role_bindings_grant_in_their_namespace() {
    let s = store();
    bind_operator(&s);
    let sa = operator_sa();
    assert_eq!(sa.user(), "system:serviceaccount:db:baton-operator");
    assert!(
        sa.groups()
            .contains(&"system:serviceaccounts:db".to_string())
    );
    let yes = |verb, group, res, ns| authorize(&s, &sa, &attrs(verb, group, res, ns)).is_some();
    assert!(yes("delete", "", "pods", Some("db")));
    assert!(yes("get", "", "pods/log", Some("db")));
    assert!(yes("get", "", "pods/status", Some("db")));
    assert!(!yes("get", "apps", "statefulsets/status", Some("db")));
    assert!(!yes("get", "", "pods/proxy", Some("db")));
    assert!(yes("update", "coordination.k8s.io", "leases", Some("db")));
    assert!(!yes("delete", "", "secrets", Some("db")));
    assert!(!yes("patch", "apps", "statefulsets", Some("other")));
    assert!(!yes("list", "", "nodes", None));
    assert!(!yes("delete", "", "pods", None));
    // resourceNames: only a named get; a list names nothing.
    let named = |verb, name| {
        authorize(
            &s,
            &sa,
            &Attributes {
                name,
                ..attrs(verb, "", "secrets", Some("db"))
            },
        )
        .is_some()
    };
    assert!(named("get", "neo4j-auth"));
    assert!(!named("get", "other"));
    assert!(!named("list", ""));
    // SelfSubjectAccessReviews, always.
    assert!(yes(
        "create",
        "authorization.k8s.io",
        "selfsubjectaccessreviews",
        None
    ));
    let why = authorize(&s, &sa, &attrs("delete", "", "pods", Some("db"))).unwrap();
    assert_eq!(
        why,
        "RBAC: allowed by RoleBinding \"baton-operator/db\" of Role \"baton-operator\" to ServiceAccount \"baton-operator/db\""
    );
    // Another ServiceAccount of the namespace, and a binding to a role that does not exist.
    let other = Identity::ServiceAccount {
        namespace: "db".into(),
        name: "default".into(),
    };
    assert!(authorize(&s, &other, &attrs("delete", "", "pods", Some("db"))).is_none());
    s.create(
        resources::rolebindings(),
        "db",
        json!({"metadata": {"name": "to-admin"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "admin"},
            "subjects": [{"kind": "Group", "name": "system:serviceaccounts:db"}]}),
    )
    .unwrap();
    assert!(authorize(&s, &other, &attrs("delete", "", "pods", Some("db"))).is_none());
}

#[test]
fn impersonation_needs_the_impersonate_verb() {
    let s = store();
    bind_operator(&s);
    let as_sa = impersonate(
        &s,
        Identity::Operator,
        Some("system:serviceaccount:db:baton-operator"),
        &[],
    )
    .unwrap();
    assert_eq!(as_sa, operator_sa());
    assert_eq!(
        impersonate(&s, Identity::Observer, None, &[]).unwrap(),
        Identity::Observer
    );
    let refused = impersonate(
        &s,
        Identity::Observer,
        Some("system:serviceaccount:db:baton-operator"),
        &[],
    )
    .unwrap_err();
    assert_eq!(refused["code"], 403);
    assert_eq!(
        refused["message"],
        "serviceaccounts \"baton-operator\" is forbidden: User \"lab-observer\" cannot impersonate resource \"serviceaccounts\" in API group \"\" in the namespace \"db\""
    );
    let refused = impersonate(&s, Identity::Observer, Some("alice"), &[]).unwrap_err();
    assert_eq!(
        refused["message"],
        "users \"alice\" is forbidden: User \"lab-observer\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
    );
    let alice = impersonate(&s, Identity::Operator, Some("alice"), &["ops".into()]).unwrap();
    assert_eq!(
        alice.groups(),
        vec!["ops".to_string(), "system:authenticated".to_string()]
    );
}
