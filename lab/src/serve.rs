//! How the lab's servers listen: a loopback port each, over the lab's TLS (API servers, the
//! control server) or plain HTTP (the object store), until the lab shuts down.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tokio::sync::watch;

use crate::{LabError, tls};

/// Binds a loopback port and serves `router` over the lab's TLS until shutdown.
pub(crate) async fn serve_tls(
    tls: &tls::LabTls,
    router: axum::Router,
    down: Option<Arc<AtomicBool>>,
    shutdown: &watch::Sender<bool>,
    what: &str,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), LabError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| LabError::Io(format!("cannot bind a port for {what}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| LabError::Io(e.to_string()))?;
    let listener = tls
        .listener(listener, down)
        .map_err(|e| LabError::Io(e.to_string()))?;
    let mut stop = shutdown.subscribe();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
    });
    Ok((addr, server))
}

/// Binds a loopback port and serves `router` over plain HTTP until shutdown (the object store,
/// as a MinIO on a private network).
pub(crate) async fn serve_plain(
    router: axum::Router,
    shutdown: &watch::Sender<bool>,
    what: &str,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), LabError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| LabError::Io(format!("cannot bind a port for {what}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| LabError::Io(e.to_string()))?;
    let mut stop = shutdown.subscribe();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
    });
    Ok((addr, server))
}
