//! The config a runner Job runs with: the parts of the launching baton's config that operations
//! read — the operations settings, the profiles, the orchestra's transport and surge — as TOML
//! in the Job's environment (`BATON_CONFIG_TEXT`, read by `Config::load` when no `--config` is
//! given). None of it is a secret: credentials and webhooks are named there, never held.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Config, OperationsConfig, ProfileConfig, RunPlace, Transport};

/// The environment variable that carries the config text into a runner Job.
pub const ENV_CONFIG_TEXT: &str = "BATON_CONFIG_TEXT";

#[derive(Serialize)]
struct Orchestra {
    transport: Transport,
    surge: bool,
}

#[derive(Serialize)]
struct RunnerConfig<'a> {
    operations: OperationsConfig,
    profiles: &'a BTreeMap<String, ProfileConfig>,
    orchestras: BTreeMap<&'a str, Orchestra>,
}

/// The config text of a runner Job on `orchestra`: it runs where it is (`run = "local"`).
pub fn config_text(config: &Config, orchestra: &str) -> Result<String, String> {
    let mut operations = config.operations.clone();
    operations.run = RunPlace::Local;
    let o = config.orchestras.get(orchestra);
    let out = RunnerConfig {
        operations,
        profiles: &config.profiles,
        orchestras: BTreeMap::from([(
            orchestra,
            Orchestra {
                transport: o.map(|o| o.transport).unwrap_or_default(),
                surge: o.is_some_and(|o| o.surge),
            },
        )]),
    };
    toml::to_string(&out).map_err(|e| format!("cannot write the runner's config: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_runner_reads_back_what_operations_need() {
        let c = Config::parse(
            r#"
[general]
theme = "light"
[orchestras.prod]
transport = "proxy"
surge = true
accent = "red"
[profiles.neo4j]
grouping_label = "app.kubernetes.io/instance"
probe = "neo4j"
port = 7474
credentials = { from = "secret", name = "neo4j-auth", key = "NEO4J_AUTH" }
[operations]
lag_gate = 42
step_timeout = 120
run = "in-cluster"
runner_image = "ghcr.io/baton-sre/baton:0.1.0"
webhook_url_env = "BATON_WEBHOOK"
object_store_endpoint = "http://minio:9000"
"#,
            Path::new("baton.toml"),
        )
        .unwrap();
        let text = config_text(&c, "prod").unwrap();
        let back = Config::parse(&text, Path::new("$BATON_CONFIG_TEXT")).unwrap();
        assert_eq!(back.operations.lag_gate, 42);
        assert_eq!(back.operations.step_timeout, 120);
        assert_eq!(back.operations.run, RunPlace::Local);
        assert_eq!(
            back.operations.webhook_url_env.as_deref(),
            Some("BATON_WEBHOOK")
        );
        assert_eq!(
            back.operations.object_store_endpoint,
            c.operations.object_store_endpoint
        );
        assert_eq!(back.profiles, c.profiles);
        assert_eq!(back.orchestras["prod"].transport, Transport::Proxy);
        assert!(back.orchestras["prod"].surge);
        // Nothing of the dashboard's: no theme, no accent.
        assert!(
            !text.contains("theme") && !text.contains("accent"),
            "{text}"
        );
    }
}
