//! Member status over HTTP: one request per member, sent directly (the guard's `ProbeHttp` to the
//! pod IP or a static member's URL) or through the API server's pod proxy (kube client), with a
//! timeout, and decoded by the profile's decoder (`decode`). A member that times out or answers
//! garbage is a `Probe::Error` with the reason; nothing here panics or blocks other members.
//!
//! What is asked is always a read where Kubernetes can see it. etcd's status RPC is
//! `POST /v3/maintenance/status`; through the pod proxy a POST is `create pods/proxy`, which an
//! observer may not do and which a read-only baton must not send. So through the proxy — and
//! directly in read-only mode, where the guard lets only GET leave — etcd is read from
//! `GET /metrics` (a `get pods/proxy`), from which its id, whether it leads or has a leader, the
//! applied index, whether it is a learner and its alarms follow; only the term is missing there
//! (no etcd metric carries it). A direct POST is not a Kubernetes request, so outside read-only
//! mode direct probes keep the status RPC and its term. A 403 from the API server is
//! `forbidden: <verb> <resource>` (see [`FORBIDDEN`]): the member is unknown, never dead.

pub mod credentials;
pub mod decode;

use std::time::Duration;

use http::Method;

use crate::config::ProbeKind;
use crate::fleet::Probe;
use crate::guard::ProbeHttp;
use crate::guard::proxy::ProxyHttp;

/// How a probe error that is a refusal by the API server begins; `fleet` treats such a member
/// as unknown, not as failed.
pub const FORBIDDEN: &str = crate::fleet::FORBIDDEN_PROBE;

/// Where a member's status endpoint is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Shared by the members of a namespace (`fleet::intern`): 30 000 copies were a megabyte.
    pub namespace: std::sync::Arc<str>,
    pub pod: String,
    /// Pod IP, or a base URL (`http://host:port`) for static members.
    pub address: String,
    pub port: u16,
    pub kind: ProbeKind,
}

impl Endpoint {
    fn direct_url(&self, reads_only: bool) -> Option<String> {
        let (_, method_path) = request_of(self.kind, reads_only);
        if self.address.starts_with("http://") || self.address.starts_with("https://") {
            Some(format!(
                "{}/{}",
                self.address.trim_end_matches('/'),
                method_path
            ))
        } else if self.address.is_empty() {
            None
        } else if self.address.contains(':') {
            // IPv6.
            Some(format!(
                "http://[{}]:{}/{method_path}",
                self.address, self.port
            ))
        } else {
            Some(format!(
                "http://{}:{}/{method_path}",
                self.address, self.port
            ))
        }
    }
}

/// The method and path of a profile's probe; `reads_only`: GET only (a POST is sent with an
/// empty JSON body).
fn request_of(kind: ProbeKind, reads_only: bool) -> (Method, &'static str) {
    match kind {
        ProbeKind::Neo4j => (Method::GET, "db/neo4j/cluster/status"),
        ProbeKind::Etcd if reads_only => (Method::GET, "metrics"),
        ProbeKind::Etcd => (Method::POST, "v3/maintenance/status"),
        ProbeKind::Dynomite => (Method::GET, "api/v1/admin/status"),
    }
}

fn decode_answer(kind: ProbeKind, reads_only: bool, body: &[u8]) -> Probe {
    let decoded = match kind {
        ProbeKind::Neo4j => decode::neo4j_db_status(body),
        ProbeKind::Etcd if reads_only => decode::etcd_metrics(body),
        ProbeKind::Etcd => decode::etcd_status(body),
        ProbeKind::Dynomite => decode::dynomite_status(body),
    };
    match decoded {
        Ok(r) => Probe::Ok(r),
        Err(e) => Probe::Error(e),
    }
}

/// A probe that could not even reach the member directly (no route, refused, connect timeout):
/// the caller may try the pod proxy instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreachable(pub String);

/// The guarded client of direct probes (see `guard::ProbeHttp`): `read_only` lets only GET out.
pub fn http_client(timeout: Duration, read_only: bool) -> ProbeHttp {
    ProbeHttp::new(timeout, read_only)
}

/// Probes one member directly, with basic auth when `auth` has credentials (`Err` in it: why
/// there are none, said if the member refuses). `Err` when the member could not be reached.
pub async fn direct(
    http: &ProbeHttp,
    ep: &Endpoint,
    auth: &credentials::Resolved,
) -> Result<Probe, Unreachable> {
    let reads_only = http.read_only();
    let Some(url) = ep.direct_url(reads_only) else {
        return Err(Unreachable("no pod IP yet".into()));
    };
    let (method, _) = request_of(ep.kind, reads_only);
    let post = method == Method::POST;
    let req = match http.request(method, &url) {
        Ok(r) => r,
        Err(refused) => return Ok(Probe::Error(refused.to_string())),
    };
    let req = if post {
        req.header("Content-Type", "application/json").body("{}")
    } else {
        req
    };
    let req = match auth {
        Ok(Some(a)) => req.basic_auth(&a.user, Some(&a.password)),
        _ => req,
    };
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) if e.is_connect() => return Err(Unreachable(reqwest_reason(&e))),
        Err(e) => return Ok(Probe::Error(reqwest_reason(&e))),
    };
    let status = resp.status();
    let body = match resp.bytes().await {
        Ok(b) => b,
        Err(e) => return Ok(Probe::Error(reqwest_reason(&e))),
    };
    if !status.is_success() {
        let why = match (status.as_u16(), auth) {
            (401 | 403, Err(no_credentials)) => format!(" (no credentials: {no_credentials})"),
            (401 | 403, Ok(None)) => " (no credentials configured)".into(),
            _ => String::new(),
        };
        return Ok(Probe::Error(format!(
            "HTTP {}: {}{why}",
            status.as_u16(),
            crate::clip(String::from_utf8_lossy(&body).trim(), 80)
        )));
    }
    Ok(decode_answer(ep.kind, reads_only, &body))
}

fn reqwest_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    cause_reason(e)
}

/// Why a connection failed, in words an engineer acts on: the innermost cause of `e` (the
/// outer ones say "client error (Connect)"), named as connection refused, DNS, TLS or timeout
/// when it is one of those.
pub fn cause_reason(e: &dyn std::error::Error) -> String {
    let mut chain = vec![e.to_string()];
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
        chain.push(next.to_string());
    }
    let inner = chain.last().cloned().unwrap_or_default();
    let all = chain.join(" / ").to_lowercase();
    let class = if all.contains("connection refused") {
        Some("connection refused")
    } else if all.contains("dns")
        || all.contains("failed to lookup address")
        || all.contains("name or service not known")
        || all.contains("no such host")
    {
        Some("DNS")
    } else if all.contains("certificate") || all.contains("tls") || all.contains("handshake") {
        Some("TLS")
    } else if all.contains("timed out") || all.contains("deadline") || all.contains("elapsed") {
        Some("timeout")
    } else {
        None
    };
    let text = match class {
        Some("connection refused") => "connection refused".to_string(),
        Some(c) if inner.to_lowercase().contains(&c.to_lowercase()) => inner,
        Some(c) => format!("{c}: {inner}"),
        None => inner,
    };
    crate::clip(&text, 120)
}

/// Probes one member through the API server's pod proxy: always a GET (`get pods/proxy`), so
/// etcd is read from its metrics here (see the module doc).
pub async fn via_proxy(proxy: &ProxyHttp, ep: &Endpoint, timeout: Duration) -> Probe {
    let (_, path) = request_of(ep.kind, true);
    let uri = format!(
        "/api/v1/namespaces/{}/pods/{}:{}/proxy/{path}",
        ep.namespace, ep.pod, ep.port
    );
    match tokio::time::timeout(timeout, proxy.get_text(&uri)).await {
        Err(_) => Probe::Error(format!("timed out after {}s", timeout.as_secs_f32())),
        Ok(Err(kube::Error::Api(s))) if s.code == 403 => Probe::Error(format!(
            "{FORBIDDEN} get pods/proxy ({})",
            crate::clip(&s.message, 120)
        )),
        Ok(Err(e)) => match crate::guard::refused_in(&e) {
            Some(r) => Probe::Error(r.to_string()),
            None => Probe::Error(kube_reason(&e)),
        },
        Ok(Ok(text)) => decode_answer(ep.kind, true, text.as_bytes()),
    }
}

/// A kube error, short enough for one table cell.
pub fn kube_reason(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => crate::clip(&format!("{} {}", s.code, s.message), 160),
        other => cause_reason(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(address: &str) -> Endpoint {
        Endpoint {
            namespace: "ns".into(),
            pod: "p-0".into(),
            address: address.into(),
            port: 2379,
            kind: ProbeKind::Etcd,
        }
    }

    #[test]
    fn direct_urls() {
        assert_eq!(
            ep("10.0.0.7").direct_url(false).as_deref(),
            Some("http://10.0.0.7:2379/v3/maintenance/status")
        );
        assert_eq!(
            ep("10.0.0.7").direct_url(true).as_deref(),
            Some("http://10.0.0.7:2379/metrics"),
            "read-only: etcd's metrics, a GET"
        );
        assert_eq!(
            ep("fd00::7").direct_url(false).as_deref(),
            Some("http://[fd00::7]:2379/v3/maintenance/status")
        );
        assert_eq!(
            ep("https://etcd-1.example:2379/")
                .direct_url(false)
                .as_deref(),
            Some("https://etcd-1.example:2379/v3/maintenance/status")
        );
        assert_eq!(ep("").direct_url(false), None);
    }

    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for E {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn connection_failures_name_their_cause() {
        let chain = |outer: &'static str, inner: &'static str| {
            E(
                outer,
                Some(Box::new(E(
                    "client error (Connect)",
                    Some(Box::new(E(inner, None))),
                ))),
            )
        };
        assert_eq!(
            cause_reason(&chain("ServiceError", "Connection refused (os error 111)")),
            "connection refused"
        );
        assert_eq!(
            cause_reason(&chain(
                "ServiceError",
                "failed to lookup address information"
            )),
            "DNS: failed to lookup address information"
        );
        assert_eq!(
            cause_reason(&chain(
                "ServiceError",
                "invalid peer certificate: UnknownIssuer"
            )),
            "TLS: invalid peer certificate: UnknownIssuer"
        );
        assert_eq!(
            cause_reason(&chain("ServiceError", "deadline has elapsed")),
            "timeout: deadline has elapsed"
        );
    }

    #[tokio::test]
    async fn refused_is_unreachable_and_garbage_is_a_probe_error() {
        let http = http_client(Duration::from_secs(2), false);
        // A port nothing listens on.
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(1);
        let mut e = ep("127.0.0.1");
        e.port = free;
        assert!(direct(&http, &e, &Ok(None)).await.is_err());

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n<html")
                    .await;
            }
        });
        e.port = port;
        match direct(&http, &e, &Ok(None)).await {
            Ok(Probe::Error(why)) => assert!(why.contains("etcd"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}
