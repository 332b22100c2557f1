//! Pod IPs that answer: each running pod's HTTP ports are served on its own loopback address
//! (127.x.y.z, distinct per pod), so baton can reach members directly as it would reach pod IPs
//! from inside a cluster. Off at fleet scale (one socket per pod would exceed the open-file limit);
//! the pod proxy dispatches in-process instead.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;

use super::runtime::{HttpRequest, PodRuntime};

/// Serves `ports` of the pod on its IP until `stop` turns true. Ports that cannot be bound are
/// logged and skipped (the pod still works through the proxy).
pub async fn serve(rt: Arc<PodRuntime>, ports: Vec<u16>, stop: watch::Receiver<bool>) {
    let Ok(ip) = rt.ip.parse::<IpAddr>() else {
        tracing::warn!(ip = %rt.ip, "lab: pod IP is not an address");
        return;
    };
    for port in ports {
        let addr = SocketAddr::new(ip, port);
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(%addr, error = %e, "lab: cannot serve a pod IP");
                continue;
            }
        };
        let router = axum::Router::new()
            .fallback(handle)
            .with_state((rt.clone(), port));
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
        });
    }
}

async fn handle(State((rt, port)): State<(Arc<PodRuntime>, u16)>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 1 << 20).await else {
        return (StatusCode::BAD_REQUEST, "body too large").into_response();
    };
    let header_str = |h| {
        parts
            .headers
            .get(h)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let req = HttpRequest {
        port,
        method: parts.method.to_string(),
        path: parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into()),
        authorization: header_str(header::AUTHORIZATION),
        accept: header_str(header::ACCEPT),
        body: body.to_vec(),
    };
    match rt.http(&req) {
        Some(reply) => {
            let mut r = Response::new(Body::from(reply.body));
            *r.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(reply.content_type),
            );
            r
        }
        // Nothing listens (the container is down): a reset would be more faithful; 503 is clear.
        None => (StatusCode::SERVICE_UNAVAILABLE, "connection refused").into_response(),
    }
}
