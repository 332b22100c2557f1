use super::*;

fn parse(s: &str) -> Result<Config, ConfigError> {
    Config::parse(s, Path::new("test.toml"))
}

#[test]
fn empty_file_is_defaults() {
    assert_eq!(parse("").unwrap(), Config::default());
}

#[test]
fn full_file_parses() {
    let c = parse(
        r##"
[general]
theme = "light"
role = "sre"

[orchestras.aws-eu-west-1]
display_name = "AWS eu-west-1 (prod)"
accent = "red"
transport = "proxy"

[orchestras.dev]
read_only = true
accent = "#00aaff"

[profiles.neo4j]
grouping_label = "helm.neo4j.com/neo4j.name"
probe = "neo4j"
port = 7474
credentials = { from = "env", user = "neo4j", variable = "NEO4J_PASSWORD" }

[operations]
webhook_url_env = "BATON_SLACK_WEBHOOK"
lag_gate = 50
job_image = { neo4j = "neo4j:5.26-enterprise" }

[roles.sre]
operations = ["backup", "diagnostics", "rolling-restart"]
"##,
    )
    .unwrap();
    assert_eq!(c.orchestras.len(), 2);
    assert_eq!(c.orchestras["aws-eu-west-1"].transport, Transport::Proxy);
    assert_eq!(
        c.role_operations("sre").unwrap(),
        vec![
            OperationName::Backup,
            OperationName::Diagnostics,
            OperationName::RollingRestart
        ]
    );
    assert_eq!(c.operations.lag_gate, 50);
}

#[test]
fn unknown_key_names_line_and_key() {
    let e = parse("[general]\nthem = \"x\"\n").unwrap_err();
    assert_eq!(e.line, Some(2));
    assert_eq!(e.key, "general.them");
    assert!(e.message.contains("unknown field"), "{e}");
    assert!(
        e.to_string().starts_with("test.toml:2: key 'general.them'"),
        "{e}"
    );
}

#[test]
fn bad_accent_is_an_error_on_its_line() {
    let e = parse("[orchestras.prod]\n\naccent = \"reddish\"\n").unwrap_err();
    assert_eq!(e.line, Some(3));
    assert_eq!(e.key, "orchestras.prod.accent");
}

#[test]
fn webhook_url_in_file_is_refused() {
    let e = parse("[operations]\nwebhook_url_env = \"https://hooks.slack.com/x\"\n").unwrap_err();
    assert_eq!(e.key, "operations.webhook_url_env");
    assert_eq!(e.line, Some(2));
}

#[test]
fn keys_table_overrides_and_errors() {
    let c = parse("[keys]\nquit = \"ctrl-q\"\nback = [\"esc\", \"h\"]\n").unwrap();
    assert_eq!(c.keys.len(), 2);
    assert_eq!(c.keys["back"].0.len(), 2);
    // An unknown action, on its line, with the actions listed.
    let e = parse("[general]\nrole = \"operator\"\n\n[keys]\nquit = \"q\"\nqiut = \"x\"\n")
        .unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (Some(6), "keys.qiut"));
    assert!(e.fix.contains("quit"), "{e}");
    // A key that is not one.
    let e = parse("[keys]\nfilter = \"ctrl-shoft-f\"\n").unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (Some(2), "keys.filter"));
    assert!(e.message.contains("is not a key"), "{e}");
    let e = parse("[keys]\nback = [\"esc\", \"hh\"]\n").unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (Some(2), "keys.back[1]"));
    // Two actions on one key in one view.
    let e = parse("[keys]\n\nfilter = \"d\"\n").unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (Some(3), "keys.filter"));
    assert!(e.message.contains("all_databases"), "{e}");
}

#[test]
fn builtin_roles() {
    let c = Config::default();
    assert_eq!(c.role_operations("observer"), Some(vec![]));
    assert_eq!(
        c.role_operations("operator").map(|v| v.len()),
        Some(OperationName::ALL.len())
    );
    assert_eq!(c.role_operations("nobody"), None);
}

#[test]
fn run_place_and_runner_image_per_orchestra() {
    let c = parse(
        r#"
[operations]
run = "in-cluster"
runner_image = "ghcr.io/baton-sre/baton:0.1.0"

[orchestras.prod]
runner_image = "registry.internal/baton:0.1.0"

[orchestras.dev]
run = "local"
"#,
    )
    .unwrap();
    assert_eq!(c.run_place("prod"), RunPlace::InCluster);
    assert_eq!(c.run_place("elsewhere"), RunPlace::InCluster);
    assert_eq!(c.run_place("dev"), RunPlace::Local);
    assert_eq!(
        c.runner_image("prod"),
        Some("registry.internal/baton:0.1.0")
    );
    assert_eq!(c.runner_image("dev"), Some("ghcr.io/baton-sre/baton:0.1.0"));
    assert_eq!(Config::default().run_place("any"), RunPlace::Local);
}

#[test]
fn in_cluster_without_a_runner_image_names_the_key() {
    let e = parse("[orchestras.prod]\nrun = \"in-cluster\"\n").unwrap_err();
    assert_eq!(e.key, "orchestras.prod.run");
    assert_eq!(e.line, Some(2));
    assert!(e.fix.contains("runner_image"), "{e}");
    let e = parse("[operations]\nrun = \"in-cluster\"\n").unwrap_err();
    assert_eq!(e.key, "operations.run");
    let e = parse("[operations]\nrun = \"remote\"\n").unwrap_err();
    assert!(e.message.contains("unknown variant"), "{e}");
}
