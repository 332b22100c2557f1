use super::*;

fn launch() -> Launch {
    Launch {
        operation: OperationName::RollingRestart,
        orchestra: "aws-eu-west-1".into(),
        namespace: "graphs".into(),
        database: "orders".into(),
        member: None,
        params: BTreeMap::from([("strategy".to_string(), "surge".to_string())]),
        expect_leader: Some("orders-2".into()),
        force: vec![],
        take_over: false,
        image: "ghcr.io/baton-sre/baton:0.1.0".into(),
        launched_by: "ann@bastion pid 7 (lab-operator)".into(),
        command_line:
            "baton op rolling-restart --orchestra aws-eu-west-1 --database orders --in-cluster"
                .into(),
        started_ms: 1_764_000_000_000,
        deadline_s: 1200,
        config_text: "[operations]\nlag_gate = 50\n".into(),
        secrets: SecretEnv::default(),
    }
}

#[test]
fn env_held_secrets_are_references_to_the_runner_secret_never_values() {
    let config = crate::config::Config::parse(
        r#"
[operations]
webhook_url_env = "BATON_WEBHOOK"
incident_webhook_env = "BATON_INCIDENTS"
runner_secret = "ops-secrets"
[profiles.graph]
probe = "neo4j"
grouping_label = "app"
port = 7474
credentials = { from = "env", user = "neo4j", variable = "NEO4J_PASSWORD" }
"#,
        std::path::Path::new("baton.toml"),
    )
    .unwrap();
    let secrets = SecretEnv::of(&config);
    assert_eq!(secrets.secret, "ops-secrets");
    assert_eq!(
        secrets.names,
        ["BATON_INCIDENTS", "BATON_WEBHOOK", "NEO4J_PASSWORD"]
    );
    let mut l = launch();
    l.secrets = secrets.clone();
    let j = job(&l);
    let env = j["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap()
        .clone();
    for n in &secrets.names {
        let e = env.iter().find(|e| e["name"] == n.as_str()).unwrap();
        assert!(e.get("value").is_none(), "{e}");
        assert_eq!(e["valueFrom"]["secretKeyRef"]["name"], "ops-secrets");
        assert_eq!(e["valueFrom"]["secretKeyRef"]["key"], n.as_str());
        assert_eq!(e["valueFrom"]["secretKeyRef"]["optional"], true);
    }
    let said = secrets.say("graphs").unwrap();
    assert!(said.contains("Secret graphs/ops-secrets"), "{said}");
    // Nothing to take: nothing said, nothing referenced.
    assert_eq!(SecretEnv::default().say("graphs"), None);
    // A bad Secret name is the config's error, naming the key.
    let e = crate::config::Config::parse(
        "[operations]\nrunner_secret = \"Baton_Runner\"\n",
        std::path::Path::new("baton.toml"),
    )
    .unwrap_err();
    assert_eq!(e.key, "operations.runner_secret");
    assert_eq!(e.line, Some(2));
}

#[test]
fn the_runner_job_runs_the_same_operation_confirmed_and_local() {
    let j = job(&launch());
    let name = j["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("baton-run-orders-"), "{name}");
    assert!(name.len() <= 63);
    let spec = &j["spec"];
    assert_eq!(spec["backoffLimit"], 0);
    assert_eq!(spec["activeDeadlineSeconds"], 1200);
    assert_eq!(spec["ttlSecondsAfterFinished"], TTL_AFTER_FINISHED_S);
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], SERVICE_ACCOUNT);
    assert_eq!(pod["restartPolicy"], "Never");
    let c = &pod["containers"][0];
    assert_eq!(c["image"], "ghcr.io/baton-sre/baton:0.1.0");
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        args,
        [
            "op",
            "rolling-restart",
            "--orchestra",
            "aws-eu-west-1",
            "--database",
            "orders",
            "--namespace",
            "graphs",
            "--set",
            "strategy=surge",
            "--expect-leader",
            "orders-2",
            "--local",
            "--yes"
        ]
    );
    for l in [
        &j["metadata"]["labels"],
        &spec["template"]["metadata"]["labels"],
    ] {
        assert_eq!(l["app.kubernetes.io/managed-by"], "baton");
        assert_eq!(l["baton.io/operation"], "rolling-restart");
        assert_eq!(l["baton.io/database"], "orders");
    }
    let env: BTreeMap<&str, &str> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["value"].as_str().unwrap()))
        .collect();
    assert_eq!(env[ENV_RUNNER_JOB], format!("graphs/{name}"));
    assert_eq!(env[ENV_OPERATION], "rolling-restart");
    assert_eq!(env[ENV_PARAMS], "strategy=surge");
    assert_eq!(env[ENV_LAUNCHED_BY], "ann@bastion pid 7 (lab-operator)");
    assert!(env[ENV_COMMAND].contains("--in-cluster"));
    assert_eq!(env[ENV_STARTED], "2025-11-24T16:00:00+00:00");
    // Nothing comes from a Secret: every variable is a plain value.
    assert!(
        c["env"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e.get("valueFrom").is_none())
    );
}

#[test]
fn the_role_grants_what_operations_need_and_nothing_else() {
    let rules = rules();
    let has = |group: &str, resource: &str, verb: &str| {
        rules.iter().any(|r| {
            r["apiGroups"][0] == group
                && r["resources"][0] == resource
                && r["verbs"].as_array().unwrap().iter().any(|v| v == verb)
        })
    };
    assert!(has("", "pods", "delete"));
    assert!(has("", "pods/log", "get"));
    assert!(has("apps", "statefulsets", "patch"));
    assert!(has("apps", "statefulsets", "create"));
    assert!(has("batch", "jobs", "create"));
    assert!(has("coordination.k8s.io", "leases", "update"));
    assert!(has("", "events", "create"));
    assert!(has("", "persistentvolumeclaims", "delete"));
    assert!(!has("", "secrets", "get"));
    assert!(!has("", "secrets", "delete"));
    assert!(!has("", "pods", "create"));
    assert!(!has("", "pods/exec", "create"));
    for r in &rules {
        let verbs = r["verbs"].as_array().unwrap();
        assert!(!verbs.iter().any(|v| v == "*"), "{r}");
        assert_ne!(r["resources"][0], "*");
        assert!(
            !matches!(
                r["resources"][0].as_str(),
                Some("roles" | "rolebindings" | "secrets")
            ),
            "{r}"
        );
    }
}

#[test]
fn rbac_is_one_yaml_stream_of_three_objects_in_the_namespace() {
    let docs = rbac("graphs", &[]);
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["ServiceAccount", "Role", "RoleBinding"]);
    assert!(docs.iter().all(|d| d["metadata"]["namespace"] == "graphs"));
    assert_eq!(docs[2]["subjects"][0]["namespace"], "graphs");
    let text = yaml(&docs);
    assert_eq!(text.matches("\n---\n").count(), 2, "{text}");
    assert!(text.contains("kind: RoleBinding"));
    // It reads back as what it says.
    let back: Vec<Value> = text
        .split("---\n")
        .map(|d| serde_norway::from_str(d).unwrap())
        .collect();
    assert_eq!(back, docs);
}

#[test]
fn a_runner_knows_its_holder_and_its_budget() {
    assert_eq!(
        crate::ops::record::job_holder("graphs", "baton-run-orders-x"),
        "job/graphs/baton-run-orders-x"
    );
    assert_eq!(deadline_s(0, 300), 600);
    assert_eq!(deadline_s(5, 300), 1800);
    assert_eq!(deadline_s(usize::MAX, u64::MAX), u64::MAX);
}

#[test]
fn credentials_from_a_secret_are_granted_by_name_and_get_only() {
    let docs = rbac("graphs", &["neo4j-auth".into(), "neo4j-auth".into()]);
    let rules = docs[1]["rules"].as_array().unwrap();
    let secret: Vec<&Value> = rules
        .iter()
        .filter(|r| r["resources"][0] == "secrets")
        .collect();
    assert_eq!(secret.len(), 1);
    assert_eq!(secret[0]["verbs"], json!(["get"]));
    assert_eq!(secret[0]["resourceNames"], json!(["neo4j-auth"]));
    let c = crate::config::Config::parse(
        "[profiles.neo4j]\ngrouping_label = \"app\"\nprobe = \"neo4j\"\nport = 7474\ncredentials = { from = \"secret\", name = \"neo4j-auth\", key = \"NEO4J_AUTH\" }\n",
        std::path::Path::new("baton.toml"),
    )
    .unwrap();
    assert!(credential_secrets(&c).contains(&"neo4j-auth".to_string()));
    assert!(
        credential_secrets(&crate::config::Config::default())
            .iter()
            .all(|s| !s.is_empty())
    );
}
