//! Credentials for direct probes: basic auth from a Secret in the database's namespace (Neo4j's
//! `NEO4J_AUTH` = `user/password`) or from an environment variable of baton's process, per the
//! profile's `credentials`. Secrets are read through the orchestra's API server and cached (a
//! refused password is read again, at most every 10 s). A problem getting credentials never
//! stops a probe: it goes without, and a refused probe says why. Passwords never reach logs or
//! `Debug` output.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
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

/// Successful reads are kept this long; failures are retried after `RETRY`; a password a member
/// refused is read again at most every `REREAD`.
const KEEP: Duration = Duration::from_secs(300);
const RETRY: Duration = Duration::from_secs(30);
const REREAD: Duration = Duration::from_secs(10);

/// (namespace, secret name, key).
type SecretId = (String, String, String);

/// One secret's last read: what it gave and when; `None` until read (or after a refusal).
#[derive(Default)]
struct Entry {
    value: Option<Resolved>,
    read_at: Option<Instant>,
}

/// One orchestra's credentials, cached per secret. The map is locked only to find an entry; a
/// read holds that entry's lock alone, so one slow Secret never delays another.
pub struct Resolver {
    client: Option<kube::Client>,
    cache: Mutex<HashMap<SecretId, Arc<Mutex<Entry>>>>,
}

impl Resolver {
    /// `client`: the orchestra's API server (none for static inventory orchestras).
    pub fn new(client: Option<kube::Client>) -> Self {
        Self {
            client,
            cache: Mutex::new(HashMap::new()),
        }
    }

    async fn entry(&self, id: SecretId) -> Arc<Mutex<Entry>> {
        self.cache.lock().await.entry(id).or_default().clone()
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
                let entry = self
                    .entry((namespace.to_string(), name.clone(), key.clone()))
                    .await;
                // The members of one database ask at once: one read serves them all.
                let mut e = entry.lock().await;
                if let (Some(v), Some(at)) = (&e.value, e.read_at) {
                    let fresh = if v.is_ok() { KEEP } else { RETRY };
                    if at.elapsed() < fresh {
                        return v.clone();
                    }
                }
                let v = self.read_secret(namespace, name, key).await;
                e.value = Some(v.clone());
                e.read_at = Some(Instant::now());
                v
            }
        }
    }

    /// A member refused the credentials: read them again on the next probe, unless they were
    /// read moments ago (a wrong Secret is not hammered).
    pub async fn refused(&self, creds: &Credentials, namespace: &str) {
        if let Credentials::Secret { name, key } = creds {
            let entry = self
                .entry((namespace.to_string(), name.clone(), key.clone()))
                .await;
            let mut e = entry.lock().await;
            if e.read_at.is_none_or(|at| at.elapsed() >= REREAD) {
                e.value = None;
            }
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
