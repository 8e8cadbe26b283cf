//! HTTPS served by pakiti itself: rustls in front of the same router, optional client
//! certificates (their verified subject DN is known to the handlers), and certificates
//! re-read without a restart (SIGHUP or a changed file, for certbot-style renewals).
//!
//! Every request that came over such a connection carries a [`TlsInfo`] extension (defined in
//! [`crate::conn`]); plain HTTP requests do not. `auth` reads the client certificate for `tls` mode without a front proxy,
//! `handlers/report.rs` for trusted report proxies and to decide whether tagged-CVE report-back
//! lines may be sent (Pakiti 3 sends them only over HTTPS).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::conn::{ClientCert, TlsInfo};
use crate::settings::{ClientAuth, Tls};
use crate::state::AppState;

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long open connections may take to finish after shutdown was asked for.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Only one of certificate and key is configured.
    #[error("[tls] cert and key must be set together (--tls-cert and --tls-key)")]
    Incomplete,
    /// A file or directory cannot be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file holds no usable PEM certificate.
    #[error("{path} holds no PEM certificate")]
    NoCertificate {
        /// The file or directory.
        path: PathBuf,
    },
    /// A PEM block cannot be read.
    #[error("{path}: {message}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// The PEM reader's message.
        message: String,
    },
    /// The certificate and key do not make a server configuration.
    #[error("the certificate {cert} and the key {key} cannot be used together: {source}")]
    Config {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls' reason.
        #[source]
        source: rustls::Error,
    },
    /// The client CA certificates do not make a verifier.
    #[error("client CA {path}: {message}")]
    ClientCa {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn pem_certs(path: &Path, bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            path: path.to_owned(),
            message: e.to_string(),
        })
}

/// Whether a file name is OpenSSL's hashed form `<8 hex digits>.<n>` (`c_rehash`,
/// `openssl rehash`, grid `certificates/` directories).
fn is_hashed_name(name: &str) -> bool {
    name.split_once('.').is_some_and(|(hash, n)| {
        hash.len() == 8
            && hash.bytes().all(|b| b.is_ascii_hexdigit())
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
    })
}

/// The files that make up the client CA: the file itself, or a hashed directory's
/// `<hash>.<n>` entries (sorted, so that reloading compares like with like).
fn client_ca_files(path: &Path) -> Result<Vec<PathBuf>, TlsError> {
    let meta = std::fs::metadata(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })?;
    if !meta.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let entries = std::fs::read_dir(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| TlsError::Read {
            path: path.to_owned(),
            source,
        })?;
        if entry.file_name().to_str().is_some_and(is_hashed_name) {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

fn client_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for file in client_ca_files(path)? {
        let bytes = read(&file)?;
        for cert in pem_certs(&file, &bytes)? {
            roots.add(cert).map_err(|e| TlsError::ClientCa {
                path: file.clone(),
                message: e.to_string(),
            })?;
        }
    }
    if roots.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(roots)
}

/// Builds the rustls configuration the `[tls]` settings describe, reading every file now.
///
/// # Errors
/// A file is missing or unreadable, holds no certificate or key, or the key does not fit.
pub fn server_config(tls: &Tls) -> Result<ServerConfig, TlsError> {
    let (Some(cert_path), Some(key_path)) = (&tls.cert, &tls.key) else {
        return Err(TlsError::Incomplete);
    };
    let bytes = read(cert_path)?;
    let chain = pem_certs(cert_path, &bytes)?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert_path.clone(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(&read(key_path)?).map_err(|e| TlsError::Pem {
        path: key_path.clone(),
        message: format!("no usable PEM private key ({e})"),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|source| TlsError::Config {
            cert: cert_path.clone(),
            key: key_path.clone(),
            source,
        })?;
    let builder = match &tls.client_ca {
        Some(ca) => {
            let roots = client_roots(ca)?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = match tls.client_auth {
                ClientAuth::Optional => verifier.allow_unauthenticated(),
                ClientAuth::Required => verifier,
            };
            let verifier = verifier.build().map_err(|e| TlsError::ClientCa {
                path: ca.clone(),
                message: e.to_string(),
            })?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|source| TlsError::Config {
            cert: cert_path.clone(),
            key: key_path.clone(),
            source,
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// What a file looked like when it was last read: modification time and length.
type Stamp = (PathBuf, Option<SystemTime>, Option<u64>);

fn stamps(tls: &Tls) -> Vec<Stamp> {
    let mut files: Vec<PathBuf> = tls.cert.iter().chain(tls.key.iter()).cloned().collect();
    if let Some(ca) = &tls.client_ca {
        // The directory itself too: a CA added or removed changes its modification time.
        files.push(ca.clone());
        files.extend(client_ca_files(ca).unwrap_or_default());
    }
    files
        .into_iter()
        .map(|path| {
            // `metadata` follows symbolic links: certbot's `live/` links point at new files.
            let meta = std::fs::metadata(&path).ok();
            let modified = meta.as_ref().and_then(|m| m.modified().ok());
            let len = meta.map(|m| m.len());
            (path, modified, len)
        })
        .collect()
}

/// The current TLS configuration, swapped whole when the files change.
pub struct TlsReloader {
    settings: Tls,
    config: RwLock<Arc<ServerConfig>>,
    seen: Mutex<Vec<Stamp>>,
}

impl std::fmt::Debug for TlsReloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsReloader")
            .field("cert", &self.settings.cert)
            .field("client_ca", &self.settings.client_ca)
            .finish_non_exhaustive()
    }
}

impl TlsReloader {
    /// Reads the files the settings name.
    ///
    /// # Errors
    /// As [`server_config`].
    pub fn new(settings: &Tls) -> Result<TlsReloader, TlsError> {
        let seen = stamps(settings);
        let config = server_config(settings)?;
        Ok(TlsReloader {
            settings: settings.clone(),
            config: RwLock::new(Arc::new(config)),
            seen: Mutex::new(seen),
        })
    }

    /// The configuration new connections get.
    #[must_use]
    pub fn config(&self) -> Arc<ServerConfig> {
        self.config
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Reads the files again and swaps the configuration in. On an error the old one stays
    /// (a renewal half written is retried at the next check).
    ///
    /// # Errors
    /// As [`server_config`].
    pub fn reload(&self) -> Result<(), TlsError> {
        let seen = stamps(&self.settings);
        let config = server_config(&self.settings)?;
        *self.config.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(config);
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = seen;
        Ok(())
    }

    /// One step of the file watch: reloads when a file's modification time or length changed
    /// since the last successful read. Returns whether it reloaded.
    ///
    /// # Errors
    /// The files changed but cannot be used (the old configuration stays).
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let now = stamps(&self.settings);
        if *self.seen.lock().unwrap_or_else(PoisonError::into_inner) == now {
            return Ok(false);
        }
        self.reload()?;
        Ok(true)
    }

    /// Watches for SIGHUP and, every `[tls] watch_secs`, for changed files; never returns.
    pub async fn watch(self: Arc<Self>) {
        #[cfg(unix)]
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let every = Duration::from_secs(self.settings.watch_secs.max(1));
        let polling = self.settings.watch_secs > 0;
        loop {
            #[cfg(unix)]
            let hup_recv = async {
                match hup.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            #[cfg(not(unix))]
            let hup_recv = std::future::pending::<()>();
            let signalled = tokio::select! {
                () = hup_recv => true,
                () = tokio::time::sleep(every), if polling => false,
            };
            let result = if signalled {
                self.reload().map(|()| true)
            } else {
                self.reload_if_changed()
            };
            match result {
                Ok(true) => tracing::info!(
                    cert = %self.settings.cert.as_deref().unwrap_or(Path::new("")).display(),
                    signalled,
                    "TLS certificate reloaded"
                ),
                Ok(false) => {}
                Err(e) => tracing::error!(
                    error = %error_chain(&e),
                    "TLS files changed but cannot be used; still serving the previous certificate"
                ),
            }
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// Serves the application over HTTPS on an already-bound listener until `shutdown`
/// completes; each connection gets the configuration current when it was accepted.
///
/// # Errors
/// The listener fails.
pub async fn serve_tls(
    listener: TcpListener,
    state: AppState,
    tls: Arc<TlsReloader>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = Arc::new(state.settings.limits.clone());
    let guards = crate::listen::ConnGuards::new(&limits);
    let app = crate::router(state);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::error!(error = %e, "accepting an HTTPS connection failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // The same connection caps as the plain listener (`listen::serve`): a client over
        // them is answered 503 in clear text and closed before any handshake work.
        let Some(permit) = guards.admit(peer.ip()) else {
            tracing::debug!(%peer, "HTTPS connection refused: too many open connections");
            crate::listen::refuse(&tcp);
            continue;
        };
        let acceptor = TlsAcceptor::from(tls.config());
        let app = app.clone();
        let watcher = graceful.watcher();
        let limits = Arc::clone(&limits);
        tokio::spawn(async move {
            let handshake = HANDSHAKE_TIMEOUT.min(limits.header_read_timeout());
            let stream = match tokio::time::timeout(handshake, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::info!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::info!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let client = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(|c| ClientCert::from_der(c))
                .map(Arc::new);
            let info = TlsInfo { client };
            let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req.extensions_mut().insert(info.clone());
                app.clone().oneshot(req)
            });
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            // Headers within `limits.header_read_timeout_secs`, as on the plain listener.
            builder
                .http1()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout())
                .keep_alive(true);
            let conn = builder
                .serve_connection(TokioIo::new(stream), service)
                .into_owned();
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(%peer, error = %e, "HTTPS connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("HTTPS connections still open after {DRAIN_TIMEOUT:?}; closing them");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names() {
        assert!(is_hashed_name("1a2b3c4d.0"));
        assert!(is_hashed_name("ABCDEF01.12"));
        assert!(!is_hashed_name("1a2b3c4d.r0"));
        assert!(!is_hashed_name("1a2b3c4d.pem"));
        assert!(!is_hashed_name("ca.pem"));
        assert!(!is_hashed_name("1a2b3c4.0"));
    }
}
