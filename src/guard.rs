//! Where requests leave the process: the one guard every Kubernetes request and every member
//! probe passes. It owns the only ways baton builds its network clients — [`kube_client`] (a
//! kube-rs client whose service stack carries the guard as a tower layer, so every `Api` call,
//! watch and raw pod-proxy request built on it is checked) and [`ProbeHttp`] (the HTTP client of
//! direct member probes, whose only way to make a request is [`ProbeHttp::request`]). In
//! read-only mode both refuse anything that is not a read, before a byte is sent.
//!
//! What counts as a read is what Kubernetes counts: its verb follows from the HTTP method (GET
//! is get/list/watch, POST create, PUT update, PATCH patch, DELETE delete), whatever the path —
//! a POST through the pod proxy is `create pods/proxy`. One create is allowed: a
//! SelfSubjectAccessReview (`POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews`, and
//! its siblings SelfSubjectRulesReview and SelfSubjectReview) asks the API server what the caller
//! may do; nothing is stored and nothing changes, and it is how baton learns the identity's
//! permissions in every mode. A direct member probe is not a Kubernetes request, but the guard
//! holds it to the same rule: in read-only mode only GET leaves (so etcd is read from its
//! `/metrics`, see `probe`). The pod-proxy transport of member probes (`proxy`: the kube
//! client's stack without its request queue) is the guard's too, built beside the kube client.
//!
//! The proof that nothing bypasses it is `tests/guard_paths.rs`: it reads every file under `src/`
//! and fails on any other construction of a kube or reqwest client (`Client::try_from`,
//! `ClientBuilder`, `reqwest::Client::builder`, …) outside this file, and the lab's request log
//! tests (`tests/read_only.rs`) show the result end to end.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Method, Request};

use crate::config::Config;

pub mod proxy;
use proxy::ProxyHttp;

/// The paths of the reviews that ask and change nothing (create is their only verb).
pub const REVIEWS: [&str; 3] = [
    "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
    "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
    "/apis/authentication.k8s.io/v1/selfsubjectreviews",
];

/// Whether orchestra `orchestra` is read-only by the config: `[general] read_only`, a role that
/// may run no operation (the built-in `observer`, or a role with an empty list), or the
/// orchestra's own `read_only`. The `--read-only` flag is folded into `general.read_only` by
/// `main` before anything starts, so this is the whole answer.
pub fn read_only_for(config: &Config, orchestra: &str) -> bool {
    config.general.read_only
        || config
            .role_operations(&config.general.role)
            .is_none_or(|ops| ops.is_empty())
        || config
            .orchestras
            .get(orchestra)
            .is_some_and(|o| o.read_only)
}

/// A request the guard stopped: what it was and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// `create pods/proxy`, `patch statefulsets`, `POST http://…`.
    pub what: String,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "read-only: {} refused before it was sent (baton runs read-only)",
            self.what
        )
    }
}

impl std::error::Error for Refused {}

/// A guard error inside a kube error, if that is what `e` is.
pub fn refused_in(e: &kube::Error) -> Option<&Refused> {
    match e {
        kube::Error::Service(inner) => inner.downcast_ref::<Refused>(),
        _ => None,
    }
}

/// The Kubernetes verb of a request, as RBAC names it.
pub fn kube_verb(method: &Method, query: Option<&str>, name_given: bool) -> &'static str {
    match *method {
        Method::GET | Method::HEAD | Method::OPTIONS => {
            let watching = query.is_some_and(|q| {
                q.split('&')
                    .any(|kv| kv == "watch=true" || kv == "watch=1" || kv == "watch")
            });
            if watching {
                "watch"
            } else if name_given {
                "get"
            } else {
                "list"
            }
        }
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if name_given => "delete",
        Method::DELETE => "deletecollection",
        _ => "unknown",
    }
}

/// The resource a Kubernetes API path names, with its subresource (`pods/proxy`), and whether
/// an object name is given. Pure string work; unknown shapes name the path itself.
pub fn kube_resource(path: &str) -> (String, bool) {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest: &[&str] = match segs.as_slice() {
        ["api", _v, rest @ ..] => rest,
        ["apis", _g, _v, rest @ ..] => rest,
        _ => return (path.to_string(), false),
    };
    let rest = match rest {
        ["namespaces", _ns, tail @ ..] if !tail.is_empty() => tail,
        other => other,
    };
    match rest {
        [] => (path.to_string(), false),
        [plural] => ((*plural).to_string(), false),
        [plural, _name] => ((*plural).to_string(), true),
        [plural, _name, sub, ..] => {
            // `pods/web-0:7474/proxy/…` is the pod proxy with a port.
            (format!("{plural}/{sub}"), true)
        }
    }
}

/// Whether the guard lets a Kubernetes request with this method and path go.
pub fn admit_kube(
    read_only: bool,
    method: &Method,
    path: &str,
    query: Option<&str>,
) -> Result<(), Refused> {
    if !read_only || matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    if *method == Method::POST && REVIEWS.contains(&path.trim_end_matches('/')) {
        return Ok(());
    }
    let (resource, named) = kube_resource(path);
    Err(Refused {
        what: format!("{} {resource}", kube_verb(method, query, named)),
    })
}

/// The tower layer that puts the guard into a kube client's service stack.
#[derive(Debug, Clone, Copy)]
pub struct GuardLayer {
    pub read_only: bool,
}

impl<S> tower::Layer<S> for GuardLayer {
    type Service = GuardService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        GuardService {
            inner,
            read_only: self.read_only,
        }
    }
}

/// The guard in a kube client: a refused request answers [`Refused`] (as `kube::Error::Service`)
/// and never reaches the connection.
#[derive(Debug, Clone)]
pub struct GuardService<S> {
    inner: S,
    read_only: bool,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, R> tower::Service<Request<B>> for GuardService<S>
where
    S: tower::Service<Request<B>, Response = R>,
    S::Future: Send + 'static,
    S::Error: Into<tower::BoxError>,
    R: 'static,
{
    type Response = R;
    type Error = tower::BoxError;
    type Future = BoxFuture<Result<R, tower::BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if let Err(refused) = admit_kube(
            self.read_only,
            req.method(),
            req.uri().path(),
            req.uri().query(),
        ) {
            tracing::warn!(refused = %refused.what, path = %req.uri().path(), "read-only guard");
            return Box::pin(async move { Err(Box::new(refused) as tower::BoxError) });
        }
        let fut = self.inner.call(req);
        Box::pin(async move { fut.await.map_err(Into::into) })
    }
}

/// The one way baton builds a kube client: from `config`, with the guard in its stack.
///
/// The stack is kube-rs' own (`ClientBuilder::try_from`: base URI, auth, extra headers, retry of
/// 429/503/504, connect/read/write timeouts) with one difference: the connection offers HTTP/2 by
/// ALPN, as client-go does, so every watch, list and proxied probe of an orchestra shares one
/// multiplexed connection instead of one HTTP/1.1 connection each (a watch holds its connection
/// for its whole life). An API server that only speaks HTTP/1.1 gets HTTP/1.1. Through an HTTP
/// or SOCKS proxy kube-rs' own stack is used as it is.
pub fn kube_client(config: kube::Config, read_only: bool) -> Result<kube::Client, kube::Error> {
    kube_clients(config, read_only).map(|(client, _)| client)
}

/// [`kube_client`], and beside it the [`ProxyHttp`] of member probes: the same stack on the same
/// connection, without kube-rs' request queue and retry (see `proxy`).
pub fn kube_clients(
    config: kube::Config,
    read_only: bool,
) -> Result<(kube::Client, ProxyHttp), kube::Error> {
    let guard = GuardLayer { read_only };
    if config.proxy_url.is_some() {
        let builder = kube::client::ClientBuilder::try_from(config)?;
        let client = builder.with_layer(&guard).build();
        return Ok((client.clone(), ProxyHttp::from(client)));
    }
    use kube::client::ConfigExt;
    let mut tls = config.rustls_client_config()?;
    // One API server per client, reached over one connection: a few resumable sessions are
    // plenty (the default keeps 256, 14 KiB per client).
    tls.resumption = rustls::client::Resumption::in_memory_sessions(8);
    let mut tcp = hyper_util::client::legacy::connect::HttpConnector::new();
    tcp.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http();
    let https = match config.tls_server_name.as_deref() {
        Some(name) => {
            let name = rustls::pki_types::ServerName::try_from(name.to_string()).map_err(|e| {
                kube::Error::Service(format!("tls-server-name {name:?}: {e}").into())
            })?;
            https.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name))
        }
        None => https,
    };
    let https = https.enable_all_versions().wrap_connector(tcp);
    let mut connector = hyper_timeout::TimeoutConnector::new(https);
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        // A hung connection is found by pings, not only by the read timeout of its streams.
        .timer(hyper_util::rt::TokioTimer::new())
        .http2_keep_alive_interval(Duration::from_secs(30))
        .http2_keep_alive_timeout(Duration::from_secs(15))
        .build(connector);
    let retry = config
        .default_retry
        .then(|| tower::retry::RetryLayer::new(kube::client::retry::RetryPolicy::server_retry()));
    // Credentials and headers, shared by both stacks (one token, refreshed once).
    let authorized = tower::ServiceBuilder::new()
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(tower::BoxError::from)
        .service(http);
    let probes = tower::ServiceBuilder::new()
        .layer(guard)
        .layer(config.base_uri_layer())
        .service(authorized.clone());
    let service = tower::ServiceBuilder::new()
        .layer(guard)
        .layer(config.base_uri_layer())
        .option_layer(retry)
        .service(authorized);
    let client = kube::Client::new(service, config.default_namespace);
    Ok((
        client,
        ProxyHttp::stack(tower::util::BoxCloneSyncService::new(probes)),
    ))
}

/// The HTTP client of direct member probes with the guard: the only way to make a request is
/// [`ProbeHttp::request`], which refuses anything but GET in read-only mode.
#[derive(Debug, Clone)]
pub struct ProbeHttp {
    http: reqwest::Client,
    read_only: bool,
}

impl ProbeHttp {
    /// Short connect timeout, no proxy from the environment (pod IPs are not behind the
    /// bastion's HTTP proxy), one kept-alive connection per member, closed when it is not probed
    /// for a while: the open and visible databases keep theirs, 30 000 background members do not
    /// hold sockets.
    pub fn new(timeout: Duration, read_only: bool) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(1)))
            .timeout(timeout)
            .no_proxy()
            .pool_max_idle_per_host(1)
            .pool_idle_timeout(Duration::from_secs(8))
            .build()
            .unwrap_or_default();
        Self { http, read_only }
    }

    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// The same client (one pool) for an orchestra that may be read-only on its own.
    pub fn for_orchestra(&self, read_only: bool) -> Self {
        Self {
            http: self.http.clone(),
            read_only: self.read_only || read_only,
        }
    }

    /// A request to a member, or why the guard refuses it.
    pub fn request(&self, method: Method, url: &str) -> Result<reqwest::RequestBuilder, Refused> {
        if self.read_only && method != Method::GET {
            return Err(Refused {
                what: format!("{method} {}", url_without_credentials(url)),
            });
        }
        Ok(self.http.request(method, url))
    }
}

/// The URL as safe to print (no user info).
fn url_without_credentials(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((_, host)) if !host.contains('/') || rest.find('@') < rest.find('/') => {
                format!("{scheme}://{host}")
            }
            _ => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// The client of outgoing notices (Slack-compatible webhooks). Neither a Kubernetes nor a member
/// request, and only operations send notices — none runs read-only (the runner refuses first) —
/// so it needs no check; it is built here so that this file stays the only place clients are.
pub fn webhook_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pass_and_writes_are_named_as_kubernetes_names_them() {
        let p = "/api/v1/namespaces/db/pods/etcd-0:2379/proxy/v3/maintenance/status";
        assert_eq!(
            admit_kube(true, &Method::POST, p, None),
            Err(Refused {
                what: "create pods/proxy".into()
            })
        );
        assert!(admit_kube(true, &Method::GET, p, None).is_ok());
        assert!(
            admit_kube(false, &Method::POST, p, None).is_ok(),
            "not read-only"
        );
        assert_eq!(
            admit_kube(
                true,
                &Method::PATCH,
                "/apis/apps/v1/namespaces/db/statefulsets/web",
                None
            )
            .map_err(|r| r.what),
            Err("patch statefulsets".into())
        );
        assert_eq!(
            admit_kube(
                true,
                &Method::DELETE,
                "/api/v1/namespaces/db/pods",
                Some("labelSelector=a")
            )
            .map_err(|r| r.what),
            Err("deletecollection pods".into())
        );
        assert_eq!(
            admit_kube(
                true,
                &Method::POST,
                "/apis/coordination.k8s.io/v1/namespaces/db/leases",
                None
            )
            .map_err(|r| r.what),
            Err("create leases".into())
        );
        for review in REVIEWS {
            assert!(
                admit_kube(true, &Method::POST, review, None).is_ok(),
                "{review}"
            );
        }
        // A review path with anything after it is not a review.
        assert!(
            admit_kube(
                true,
                &Method::POST,
                "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews/x",
                None
            )
            .is_err()
        );
    }

    #[test]
    fn read_only_globally_per_orchestra_and_by_role() {
        let parse = |t: &str| Config::parse(t, std::path::Path::new("t.toml")).unwrap();
        let c = parse("[orchestras.prod]\nread_only = true\n");
        assert!(read_only_for(&c, "prod"));
        assert!(!read_only_for(&c, "dev"));
        assert!(read_only_for(
            &parse("[general]\nread_only = true\n"),
            "dev"
        ));
        assert!(read_only_for(
            &parse("[general]\nrole = \"observer\"\n"),
            "dev"
        ));
        let none = "[general]\nrole = \"watcher\"\n\n[roles.watcher]\noperations = []\n";
        assert!(
            read_only_for(&parse(none), "dev"),
            "a role that may run nothing"
        );
        let some = "[general]\nrole = \"b\"\n\n[roles.b]\noperations = [\"backup\"]\n";
        assert!(!read_only_for(&parse(some), "dev"));
    }

    #[test]
    fn verbs_of_gets() {
        assert_eq!(
            kube_verb(&Method::GET, Some("watch=true&resourceVersion=3"), false),
            "watch"
        );
        assert_eq!(kube_verb(&Method::GET, Some("&limit=500"), false), "list");
        assert_eq!(kube_verb(&Method::GET, None, true), "get");
    }

    #[test]
    fn probes_in_read_only_mode_only_get() {
        let h = ProbeHttp::new(Duration::from_secs(1), true);
        assert!(
            h.request(Method::GET, "http://10.0.0.1:2379/metrics")
                .is_ok()
        );
        let e = h
            .request(
                Method::POST,
                "http://u:secret@10.0.0.1:2379/v3/maintenance/status",
            )
            .unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
        assert!(e.to_string().contains("POST http://10.0.0.1:2379"), "{e}");
        let w = ProbeHttp::new(Duration::from_secs(1), false);
        assert!(
            w.request(Method::POST, "http://10.0.0.1:2379/v3/maintenance/status")
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_guarded_client_never_sends_a_refused_request() {
        // A server that counts connections: the refused request must not open one.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = seen.clone();
        tokio::spawn(async move {
            while let Ok((_s, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        let mut cfg = kube::Config::new(format!("http://127.0.0.1:{port}").parse().unwrap());
        cfg.read_timeout = Some(Duration::from_millis(200));
        let client = kube_client(cfg, true).unwrap();
        let req = http::Request::builder()
            .method("POST")
            .uri("/api/v1/namespaces/db/pods/etcd-0:2379/proxy/v3/maintenance/status")
            .body(b"{}".to_vec())
            .unwrap();
        let err = client.request_text(req).await.unwrap_err();
        let refused = refused_in(&err).expect("the guard's refusal");
        assert_eq!(refused.what, "create pods/proxy");
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 0);
    }
}
