//! ServiceAccounts and namespaced RBAC in the lab, through the real kubectl: baton's operator
//! ServiceAccount, Role and RoleBinding applied (twice: the second is an update), `kubectl auth
//! can-i --as` answering as the ServiceAccount (and refused to the observer), the
//! ServiceAccount's own token (`kubectl create token`) refused what its Role does not grant with
//! the API server's 403 wording, and the request log naming the ServiceAccount.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestLab, small_spec};
use serde_json::Value;

/// What baton's runner Jobs run as, in `ns`.
pub fn operator_rbac(ns: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: ServiceAccount
metadata:
  name: baton-operator
  namespace: {ns}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: baton-operator
  namespace: {ns}
rules:
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch", "delete"]
- apiGroups: ["apps"]
  resources: ["statefulsets"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "list", "watch", "create", "update", "patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: baton-operator
  namespace: {ns}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: baton-operator
subjects:
- kind: ServiceAccount
  name: baton-operator
  namespace: {ns}
"#
    )
}

async fn kubectl_stdin(t: &TestLab, args: &[&str], stdin: &str) -> (i32, String, String) {
    use tokio::io::AsyncWriteExt;
    let mut child = t
        .kubectl_cmd(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kubectl");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let out = child.wait_with_output().await.unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn https(t: &TestLab, method: &str, path: &str, token: &str, body: &str) -> (u16, Value) {
    let ca = reqwest::Certificate::from_pem(t.lab.ca_pem.as_bytes()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .no_proxy()
        .build()
        .unwrap();
    let url = format!("https://{}{path}", t.lab.addrs[0]);
    let content_type = if method == "PATCH" {
        "application/merge-patch+json"
    } else {
        "application/json"
    };
    let r = client
        .request(method.parse().unwrap(), url)
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let code = r.status().as_u16();
    (code, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_service_account_gets_what_its_role_grants_and_nothing_else() {
    let t = TestLab::start(small_spec(&[
        ("team-a", "orders", 3, 0),
        ("team-b", "catalog", 3, 0),
    ]))
    .await;
    let yaml = operator_rbac("team-a");
    let apply = ["apply", "--validate=false", "-f", "-"];
    let (code, out, err) = kubectl_stdin(&t, &apply, &yaml).await;
    assert_eq!(code, 0, "first apply: {out}{err}");
    for kind in [
        "serviceaccount",
        "role.rbac.authorization.k8s.io",
        "rolebinding.rbac.authorization.k8s.io",
    ] {
        assert!(
            out.contains(&format!("{kind}/baton-operator created")),
            "{out}"
        );
    }
    // The second apply is an update (a PATCH against the last-applied annotation).
    let changed = yaml.replace("verbs: [\"create\"]", "verbs: [\"create\", \"patch\"]");
    let (code, out, err) = kubectl_stdin(&t, &apply, &changed).await;
    assert_eq!(code, 0, "second apply: {out}{err}");
    assert!(
        out.contains("role.rbac.authorization.k8s.io/baton-operator configured"),
        "{out}"
    );
    assert!(
        out.contains("serviceaccount/baton-operator unchanged"),
        "{out}"
    );
    let (code, out, err) = t
        .kubectl(&[
            "--context",
            "lab-a",
            "get",
            "sa,role,rolebinding",
            "-n",
            "team-a",
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    for line in [
        "serviceaccount/baton-operator",
        "serviceaccount/default",
        "role.rbac.authorization.k8s.io/baton-operator",
        "rolebinding.rbac.authorization.k8s.io/baton-operator",
        "Role/baton-operator",
    ] {
        assert!(out.contains(line), "{line} in\n{out}");
    }
    let patched = t
        .kubectl(&[
            "get",
            "role",
            "baton-operator",
            "-n",
            "team-a",
            "-o",
            "jsonpath={.rules[3].verbs}",
        ])
        .await;
    assert_eq!(patched.1, r#"["create","patch"]"#, "{patched:?}");

    // kubectl auth can-i --as: a SelfSubjectAccessReview answered as the ServiceAccount.
    let sa = "system:serviceaccount:team-a:baton-operator";
    for (args, yes) in [
        (vec!["delete", "pods", "-n", "team-a"], true),
        (vec!["patch", "statefulsets.apps", "-n", "team-a"], true),
        (
            vec!["create", "leases.coordination.k8s.io", "-n", "team-a"],
            true,
        ),
        (vec!["delete", "secrets", "-n", "team-a"], false),
        (vec!["patch", "statefulsets.apps", "-n", "team-b"], false),
        (vec!["list", "nodes"], false),
    ] {
        let mut cmd = vec!["auth", "can-i"];
        cmd.extend(&args);
        cmd.extend(["--as", sa]);
        let (code, out, err) = t.kubectl(&cmd).await;
        assert_eq!(
            (code, out.trim()),
            if yes { (0, "yes") } else { (1, "no") },
            "can-i {args:?}: {err}"
        );
    }
    // The observer may not impersonate.
    let (code, out, err) = t
        .kubectl(&[
            "--context",
            "lab-a-observer",
            "auth",
            "can-i",
            "delete",
            "pods",
            "-n",
            "team-a",
            "--as",
            sa,
        ])
        .await;
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("serviceaccounts \"baton-operator\" is forbidden: User \"lab-observer\" cannot impersonate resource \"serviceaccounts\" in API group \"\" in the namespace \"team-a\""),
        "{err}"
    );
    let (code, _, err) = t
        .kubectl(&[
            "--context",
            "lab-a-observer",
            "get",
            "pods",
            "-n",
            "team-a",
            "--as",
            "alice",
        ])
        .await;
    assert_ne!(code, 0);
    assert!(
        err.contains("users \"alice\" is forbidden: User \"lab-observer\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"),
        "{err}"
    );

    // The ServiceAccount's own token, from the TokenRequest API.
    let (code, token, err) = t
        .kubectl(&["create", "token", "baton-operator", "-n", "team-a"])
        .await;
    assert_eq!(code, 0, "{err}");
    let token = token.trim();
    let (code, body) = https(
        &t,
        "DELETE",
        "/api/v1/namespaces/team-a/secrets/neo4j-auth",
        token,
        "{}",
    )
    .await;
    assert_eq!(code, 403, "{body}");
    assert_eq!(body["kind"], "Status");
    assert_eq!(body["reason"], "Forbidden");
    assert_eq!(body["details"]["name"], "neo4j-auth");
    assert_eq!(body["details"]["kind"], "secrets");
    assert_eq!(
        body["message"],
        "secrets \"neo4j-auth\" is forbidden: User \"system:serviceaccount:team-a:baton-operator\" cannot delete resource \"secrets\" in API group \"\" in the namespace \"team-a\""
    );
    let (code, body) = https(
        &t,
        "PATCH",
        "/apis/apps/v1/namespaces/team-b/statefulsets/catalog-0",
        token,
        r#"{"metadata":{"labels":{"x":"y"}}}"#,
    )
    .await;
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        body["message"],
        "statefulsets.apps \"catalog-0\" is forbidden: User \"system:serviceaccount:team-a:baton-operator\" cannot patch resource \"statefulsets\" in API group \"apps\" in the namespace \"team-b\""
    );
    // What the Role grants works with the same token.
    let (code, body) = https(&t, "GET", "/api/v1/namespaces/team-a/pods", token, "").await;
    assert_eq!(code, 200, "{body}");
    assert!(!body["items"].as_array().unwrap().is_empty());
    let (code, _) = https(&t, "GET", "/api/v1/nodes", token, "").await;
    assert_eq!(code, 403);
    // The request log names the ServiceAccount.
    let log = t.request_log();
    assert!(
        log.iter().any(
            |r| r["identity"] == "system:serviceaccount:team-a:baton-operator"
                && r["verb"] == "delete"
                && r["status"] == 403
        ),
        "the request log names the ServiceAccount"
    );
    // A deleted ServiceAccount's tokens stop working.
    let (code, _, err) = t
        .kubectl(&["delete", "sa", "baton-operator", "-n", "team-a"])
        .await;
    assert_eq!(code, 0, "{err}");
    let (code, _) = https(&t, "GET", "/api/v1/namespaces/team-a/pods", token, "").await;
    assert_eq!(code, 401);
    t.lab.shutdown().await;
}
