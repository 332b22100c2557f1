//! Credentials for direct probes: basic auth from a Secret in the database's namespace (Neo4j's
//! `NEO4J_AUTH` = `user/password`) or from an environment variable of baton's process, per the
//! profile's `credentials`. Secrets are read through the orchestra's API server and cached (a
//! rejected password is re-read at once). A problem getting credentials never stops a probe: it
//! goes without, and a refused probe says why. Passwords never reach logs or `Debug` output.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use tokio::sync::Mutex;

use crate::config::Credentials;

/// Basic-auth user and password.
#[derive(Clone, PartialEq, Eq)]
pub struct Auth {
    pub user: String,
    pub password: String,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Auth({}, <redacted>)", self.user)
    }
}

impl Auth {
    /// `user/password` as in NEO4J_AUTH; a value without `/` is a password for `neo4j`.
    pub fn from_secret_value(value: &str) -> Option<Auth> {
        let value = value.trim();
        if value.is_empty() || value == "none" {
            return None;
        }
        let (user, password) = value.split_once('/').unwrap_or(("neo4j", value));
        Some(Auth {
            user: user.into(),
            password: password.into(),
        })
    }
}

/// What a probe gets: credentials, or why there are none (said when the member refuses).
pub type Resolved = Result<Option<Auth>, String>;

/// Successful reads are kept this long; failures are retried after `RETRY`.
const KEEP: Duration = Duration::from_secs(300);
const RETRY: Duration = Duration::from_secs(30);

/// (namespace, secret name, key).
type SecretId = (String, String, String);

/// One orchestra's credentials, cached per secret.
pub struct Resolver {
    client: Option<kube::Client>,
    cache: Mutex<HashMap<SecretId, (Resolved, Instant)>>,
}

impl Resolver {
    /// `client`: the orchestra's API server (none for static inventory orchestras).
    pub fn new(client: Option<kube::Client>) -> Self {
        Self {
            client,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Credentials for a member in `namespace`.
    pub async fn get(&self, creds: &Credentials, namespace: &str) -> Resolved {
        match creds {
            Credentials::None => Ok(None),
            Credentials::Env { user, variable } => match std::env::var(variable) {
                Ok(password) => Ok(Some(Auth {
                    user: user.clone(),
                    password,
                })),
                Err(_) => Err(format!("${variable} is not set")),
            },
            Credentials::Secret { name, key } => {
                let id = (namespace.to_string(), name.clone(), key.clone());
                let mut cache = self.cache.lock().await;
                if let Some((r, at)) = cache.get(&id) {
                    let fresh = if r.is_ok() { KEEP } else { RETRY };
                    if at.elapsed() < fresh {
                        return r.clone();
                    }
                }
                // Read under the lock: the members of one database ask at once, one read serves.
                let r = self.read_secret(namespace, name, key).await;
                cache.insert(id, (r.clone(), Instant::now()));
                r
            }
        }
    }

    /// The member refused the credentials: read them again next time.
    pub async fn refused(&self, creds: &Credentials, namespace: &str) {
        if let Credentials::Secret { name, key } = creds {
            self.cache
                .lock()
                .await
                .remove(&(namespace.to_string(), name.clone(), key.clone()));
        }
    }

    async fn read_secret(&self, namespace: &str, name: &str, key: &str) -> Resolved {
        let Some(client) = &self.client else {
            return Err(format!("secret {name}: no API server to read it from"));
        };
        let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
        let secret = match tokio::time::timeout(Duration::from_secs(5), api.get_opt(name)).await {
            Err(_) => return Err(format!("secret {namespace}/{name}: no answer within 5s")),
            Ok(Err(e)) => {
                return Err(format!(
                    "secret {namespace}/{name}: {}",
                    super::kube_reason(&e)
                ));
            }
            Ok(Ok(None)) => return Err(format!("secret {namespace}/{name} not found")),
            Ok(Ok(Some(s))) => s,
        };
        let value = secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|v| String::from_utf8_lossy(&v.0).into_owned());
        match value {
            Some(v) => Ok(Auth::from_secret_value(&v)),
            None => Err(format!("secret {namespace}/{name} has no key {key}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neo4j_auth_values() {
        let a = Auth::from_secret_value("neo4j/s3cr/et\n").unwrap();
        assert_eq!((a.user.as_str(), a.password.as_str()), ("neo4j", "s3cr/et"));
        let b = Auth::from_secret_value("pw").unwrap();
        assert_eq!((b.user.as_str(), b.password.as_str()), ("neo4j", "pw"));
        assert_eq!(Auth::from_secret_value("none"), None);
        assert_eq!(Auth::from_secret_value(""), None);
        assert!(!format!("{a:?}").contains("s3cr"), "no password in Debug");
    }

    #[tokio::test]
    async fn env_and_missing_sources() {
        let r = Resolver::new(None);
        assert_eq!(r.get(&Credentials::None, "ns").await, Ok(None));
        let unset = Credentials::Env {
            user: "neo4j".into(),
            variable: "BATON_TEST_SURELY_UNSET_VARIABLE".into(),
        };
        let e = r.get(&unset, "ns").await.unwrap_err();
        assert!(e.contains("BATON_TEST_SURELY_UNSET_VARIABLE"), "{e}");
        let path = Credentials::Env {
            user: "u".into(),
            variable: "PATH".into(),
        };
        let a = r.get(&path, "ns").await.unwrap().unwrap();
        assert_eq!(a.user, "u");
        let secret = Credentials::Secret {
            name: "neo4j-auth".into(),
            key: "NEO4J_AUTH".into(),
        };
        let e = r.get(&secret, "ns").await.unwrap_err();
        assert!(e.contains("no API server"), "{e}");
    }
}
