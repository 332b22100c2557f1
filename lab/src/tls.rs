//! TLS for the lab's API servers. kubectl (client-go) sends bearer tokens only over TLS, so the
//! lab serves HTTPS with its own CA, written into the kubeconfig as `certificate-authority-data`.
//! Handshakes run concurrently, so a slow or broken client never blocks the others.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SanType};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// The lab's CA and the server certificate for 127.0.0.1 / localhost.
pub struct LabTls {
    pub ca_pem: String,
    acceptor: TlsAcceptor,
}

impl LabTls {
    pub fn generate() -> Result<Self, String> {
        let err = |e: rcgen::Error| format!("cannot make the lab's certificates: {e}");
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "baton lab CA");
        let ca =
            CertifiedIssuer::self_signed(ca, KeyPair::generate().map_err(err)?).map_err(err)?;

        let mut server = CertificateParams::new(vec!["localhost".to_string()]).map_err(err)?;
        server
            .distinguished_name
            .push(DnType::CommonName, "baton lab apiserver");
        server
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        let key = KeyPair::generate().map_err(err)?;
        let cert = server.signed_by(&key, &ca).map_err(err)?;

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone(), ca.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .map_err(|e| format!("TLS setup: {e}"))?;
        let mut config = config;
        // HTTP/2 first, as a real API server offers it (client-go multiplexes every request of a
        // client on one connection); HTTP/1.1 for clients that ask for it.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            ca_pem: ca.pem(),
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// Wraps a TCP listener: connections come out after a successful handshake.
    /// While `down` is set, new connections are dropped at once (an API server outage).
    pub fn listener(
        &self,
        tcp: TcpListener,
        down: Option<Arc<AtomicBool>>,
    ) -> std::io::Result<TlsListener> {
        let addr = tcp.local_addr()?;
        let (tx, rx) = mpsc::channel(64);
        let acceptor = self.acceptor.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = tcp.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                if down.as_ref().is_some_and(|d| d.load(Ordering::SeqCst)) {
                    drop(stream);
                    continue;
                }
                let acceptor = acceptor.clone();
                let handed = tx.clone();
                tokio::spawn(async move {
                    if let Ok(Ok(tls)) =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await
                    {
                        let _ = handed.send((tls, peer)).await;
                    }
                });
                if tx.is_closed() {
                    return;
                }
            }
        });
        Ok(TlsListener { addr, rx })
    }
}

/// A listener of TLS connections for `axum::serve`.
pub struct TlsListener {
    addr: SocketAddr,
    rx: mpsc::Receiver<(TlsStream<tokio::net::TcpStream>, SocketAddr)>,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The accept loop is gone: never hand out another connection.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}
