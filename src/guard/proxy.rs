//! The pod-proxy GETs of member probes: a kube client's own service stack (built and guarded
//! by `guard::kube_clients`: the read-only guard, base URI, credentials, extra headers) called
//! directly on the client's connection. kube-rs' `Client` puts a request queue in front of its
//! stack — a worker task every request hops through — and the stack retried 429/503/504; 400
//! probes a second spent a tenth of their CPU in those two, and a probe is asked again on its
//! own schedule anyway. Answers are read up to a bound (a member's answer is untrusted) and
//! errors come back as kube-rs says them, so a 403 is still `kube::Error::Api`.

use http::Request;

/// The way probes reach an API server's pod proxy: the stack without the queue, or (through an
/// HTTP proxy, or for a client built elsewhere, as operations have) the kube client itself.
#[derive(Clone)]
pub struct ProxyHttp(ProxyVia);

/// The stack `guard::kube_clients` builds for probes.
pub type ProbeService = tower::util::BoxCloneSyncService<
    Request<kube::client::Body>,
    http::Response<hyper::body::Incoming>,
    tower::BoxError,
>;

#[derive(Clone)]
enum ProxyVia {
    Stack(ProbeService),
    Kube(kube::Client),
}

impl From<kube::Client> for ProxyHttp {
    fn from(client: kube::Client) -> Self {
        Self(ProxyVia::Kube(client))
    }
}

impl ProxyHttp {
    /// Probes through `svc`, a kube client's stack without its queue.
    pub(crate) fn stack(svc: ProbeService) -> Self {
        Self(ProxyVia::Stack(svc))
    }

    /// GET `path` (from the API server's root) and the body as text; a 4xx or 5xx is
    /// `kube::Error::Api` with the server's Status (or its text), as kube-rs says it.
    pub async fn get_text(&self, path: &str) -> Result<String, kube::Error> {
        let req = Request::get(path)
            .body(Vec::new())
            .map_err(kube::Error::HttpError)?;
        let svc = match &self.0 {
            ProxyVia::Kube(client) => return client.request_text(req).await,
            ProxyVia::Stack(svc) => svc.clone(),
        };
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let res = svc
            .oneshot(req.map(kube::client::Body::from))
            .await
            .map_err(kube_error)?;
        let status = res.status();
        // A member's answer is untrusted: read at most this much of it.
        let body = http_body_util::Limited::new(res.into_body(), PROXIED_ANSWER_MOST)
            .collect()
            .await
            .map_err(kube::Error::Service)?
            .to_bytes();
        let text = String::from_utf8(body.to_vec()).map_err(kube::Error::FromUtf8)?;
        if status.is_client_error() || status.is_server_error() {
            let status = serde_json::from_str::<kube::core::Status>(&text).unwrap_or_else(|_| {
                kube::core::Status::failure(text.trim(), "Failed to parse error data")
                    .with_code(status.as_u16())
            });
            return Err(kube::Error::Api(status.boxed()));
        }
        Ok(text)
    }
}

/// The most of a proxied member's answer read (etcd's metrics are ~100 KiB; a Neo4j status a
/// few hundred bytes).
const PROXIED_ANSWER_MOST: usize = 4 << 20;

/// A stack's error as kube-rs' `Client::send` says it.
fn kube_error(err: tower::BoxError) -> kube::Error {
    match err.downcast::<kube::Error>() {
        Ok(e) => *e,
        Err(err) => match err.downcast::<hyper::Error>() {
            Ok(e) => kube::Error::HyperError(*e),
            Err(err) => kube::Error::Service(err),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// An API server that answers every request with `status`, `body`; its URL.
    async fn server(status: &'static str, body: Vec<u8>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let body = body.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    let head = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        body.len()
                    );
                    let _ = s.write_all(head.as_bytes()).await;
                    let _ = s.write_all(&body).await;
                });
            }
        });
        format!("http://127.0.0.1:{port}")
    }

    async fn get(status: &'static str, body: Vec<u8>) -> Result<String, kube::Error> {
        let mut cfg = kube::Config::new(server(status, body).await.parse().unwrap());
        cfg.read_timeout = Some(Duration::from_secs(5));
        let (_, proxy) = crate::guard::kube_clients(cfg, true).unwrap();
        proxy
            .get_text("/api/v1/namespaces/db/pods/db-0:7474/proxy/db/neo4j/cluster/status")
            .await
    }

    #[tokio::test]
    async fn answers_refusals_and_oversized_answers() {
        assert_eq!(
            get("200 OK", b"{\"healthy\":true}".to_vec()).await.unwrap(),
            "{\"healthy\":true}"
        );
        let status = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"db-0\" is forbidden","reason":"Forbidden","code":403}"#;
        match get("403 Forbidden", status.to_vec()).await {
            Err(kube::Error::Api(s)) => {
                assert_eq!(s.code, 403);
                assert!(s.message.contains("forbidden"), "{}", s.message);
            }
            other => panic!("{other:?}"),
        }
        match get("502 Bad Gateway", b"no endpoints".to_vec()).await {
            Err(kube::Error::Api(s)) => {
                assert_eq!((s.code, s.message.as_str()), (502, "no endpoints"))
            }
            other => panic!("{other:?}"),
        }
        let huge = vec![b'x'; PROXIED_ANSWER_MOST + 1];
        let err = get("200 OK", huge).await.unwrap_err();
        assert!(
            crate::probe::kube_reason(&err).contains("length limit"),
            "{}",
            crate::probe::kube_reason(&err)
        );
    }
}
