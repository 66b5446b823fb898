//! TLS for `wss://`, on both ends: rustls with the ring provider, PEM files.
//! A leaf: the engine's hub loads its certificate with it, the console its
//! trusted authorities, and neither needs the other.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::WebSocketStream;

pub use tokio_rustls::{TlsAcceptor, TlsConnector};

/// A byte stream a WebSocket runs over: plain TCP, or TLS over it.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A WebSocket over either.
pub type Ws = WebSocketStream<Box<dyn Io>>;

/// Where Debian keeps the system's trusted authorities.
pub const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<std::result::Result<_, _>>()
        .with_context(|| format!("{}: not a PEM certificate file", path.display()))?;
    if certs.is_empty() {
        bail!(
            "{}: no certificate in it (expected PEM \"BEGIN CERTIFICATE\")",
            path.display()
        );
    }
    Ok(certs)
}

/// The engine's side: its certificate chain and private key, PEM.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor> {
    let chain = certificates(cert)?;
    let key_bytes = std::fs::read(key).with_context(|| format!("reading {}", key.display()))?;
    let key_der = PrivateKeyDer::from_pem_slice(&key_bytes)
        .with_context(|| format!("{}: not a PEM private key", key.display()))?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .with_context(|| {
            format!(
                "{} and {} do not make a usable certificate and key",
                cert.display(),
                key.display()
            )
        })?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The console's side: trusts the authorities in `ca` (PEM), or the
/// system's bundle.
pub fn connector(ca: Option<&Path>) -> Result<TlsConnector> {
    let path = ca.unwrap_or(Path::new(SYSTEM_BUNDLE));
    let mut roots = RootCertStore::empty();
    for c in certificates(path).with_context(|| {
        if ca.is_none() {
            "no --ca given and the system's trusted authorities cannot be read".to_string()
        } else {
            "reading --ca".to_string()
        }
    })? {
        roots
            .add(c)
            .with_context(|| format!("{}: a certificate rustls cannot use", path.display()))?;
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The name a certificate must carry for `host` (a DNS name or an IP address).
pub fn server_name(host: &str) -> Result<ServerName<'static>> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string())
        .with_context(|| format!("{host} is not a host name TLS can verify"))
}

/// Open a WebSocket to `url` (`ws://` or `wss://`); `wss://` needs `tls`.
pub async fn dial(url: &str, tls: Option<&TlsConnector>, config: WebSocketConfig) -> Result<Ws> {
    let request = url
        .into_client_request()
        .with_context(|| format!("{url} is not a WebSocket URL"))?;
    let uri = request.uri().clone();
    let secure = match uri.scheme_str() {
        Some("wss") => true,
        Some("ws") => false,
        _ => bail!("{url}: the URL must start with ws:// or wss://"),
    };
    let host = uri
        .host()
        .with_context(|| format!("{url} names no host"))?
        .to_string();
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let tcp = TcpStream::connect((host.trim_start_matches('[').trim_end_matches(']'), port))
        .await
        .with_context(|| format!("cannot connect to {host}:{port}"))?;
    tcp.set_nodelay(true)?;
    let io: Box<dyn Io> = if secure {
        let connector = tls.context("wss:// needs TLS settings (the console's --ca)")?;
        let stream = connector
            .connect(server_name(&host)?, tcp)
            .await
            .with_context(|| format!("TLS handshake with {host}:{port}"))?;
        Box::new(stream)
    } else {
        Box::new(tcp)
    };
    let (ws, _) = tokio_tungstenite::client_async_with_config(request, io, Some(config))
        .await
        .with_context(|| format!("WebSocket handshake with {url}"))?;
    Ok(ws)
}
