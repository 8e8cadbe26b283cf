//! Sending a report over HTTP(S) with ureq and rustls: CA file or directory, client
//! certificate, outgoing proxy, timeouts, and a few retries with exponential backoff on
//! connection errors, timeouts and 5xx answers.
//!
//! Never retried: 4xx answers (the server has said no) and TLS failures (an untrusted or
//! expired server certificate, a missing or refused client certificate). Those are
//! configuration problems that do not fix themselves within seconds, and retrying them only
//! hammers the server with handshakes; the message says which certificate is at fault.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use pakiti_api::json::{JsonReply, ReplyStatus};
use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};

use crate::config::{Config, Protocol};

/// A request body ready to send.
#[derive(Clone, Debug)]
pub struct Payload {
    /// The bytes.
    pub body: Vec<u8>,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Whether `body` is gzip-compressed (`Content-Encoding: gzip`).
    pub gzip: bool,
    /// Query string to append to the URL (without `?`), if any.
    pub query: Option<String>,
    /// The protocol, which decides how the answer is read.
    pub protocol: Protocol,
}

/// Sending to one server failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The HTTP client could not be set up (bad CA, certificate or proxy).
    #[error("{0}")]
    Setup(String),
    /// The server answered with an error status.
    #[error("server answered HTTP {status}: {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// First line of the body.
        message: String,
    },
    /// The connection failed (after the retries).
    #[error("{0}")]
    Transport(String),
    /// The server's answer is not a success in the protocol's terms.
    #[error("server did not accept the report: {0}")]
    Rejected(String),
}

/// What a server said about an accepted report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Accepted {
    /// Report-back lines (findings or upgradable packages), possibly none.
    pub report_back: Vec<String>,
    /// How many attempts it took.
    pub attempts: u32,
}

/// An HTTP client built from the configuration, reused for every server.
pub struct Sender {
    agent: ureq::Agent,
    retries: u32,
    retry_delay: Duration,
    proxy: Option<ureq::Proxy>,
    has_client_cert: bool,
    connect_timeout: Duration,
    timeout: Duration,
}

impl Sender {
    /// Builds the client.
    ///
    /// # Errors
    /// The CA, client certificate or key cannot be read, or the proxy URL is bad.
    pub fn new(cfg: &Config) -> Result<Self, SendError> {
        let needs_tls = cfg.servers.iter().any(|s| s.starts_with("https:"));
        let mut tls = TlsConfig::builder().disable_verification(cfg.disable_tls_checks);
        if needs_tls && !cfg.disable_tls_checks {
            tls = tls.root_certs(root_certs(cfg.ca.as_deref())?);
        }
        if let Some(cert) = &cfg.client_cert {
            tls = tls.client_cert(Some(client_cert(cert, cfg.client_key.as_deref())?));
        }
        let proxy = match &cfg.proxy {
            Some(p) => {
                Some(ureq::Proxy::new(p).map_err(|e| SendError::Setup(format!("proxy {p}: {e}")))?)
            }
            None => ureq::Proxy::try_from_env(),
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(concat!("pakiti-client/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls.build())
            .proxy(proxy.clone())
            .timeout_connect(Some(cfg.connect_timeout))
            .timeout_global(Some(cfg.timeout))
            .max_redirects(3)
            .build()
            .new_agent();
        Ok(Sender {
            agent,
            retries: cfg.retries,
            retry_delay: cfg.retry_delay,
            proxy,
            has_client_cert: cfg.client_cert.is_some(),
            connect_timeout: cfg.connect_timeout,
            timeout: cfg.timeout,
        })
    }

    /// Sends `payload` to `url`, retrying connection errors and 5xx answers.
    ///
    /// # Errors
    /// The last attempt's failure, or the first 4xx / rejection.
    pub fn send(&self, url: &str, payload: &Payload) -> Result<Accepted, SendError> {
        let url = match &payload.query {
            Some(q) if url.contains('?') => format!("{url}&{q}"),
            Some(q) => format!("{url}?{q}"),
            None => url.to_owned(),
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.once(&url, payload) {
                Ok(mut ok) => {
                    ok.attempts = attempt;
                    return Ok(ok);
                }
                Err(Failure::Final(e)) => return Err(e),
                Err(Failure::Retry(e)) => {
                    if attempt > self.retries {
                        return Err(e);
                    }
                    let delay = self.retry_delay * 2u32.saturating_pow(attempt - 1);
                    std::thread::sleep(delay);
                }
            }
        }
    }

    fn once(&self, url: &str, p: &Payload) -> Result<Accepted, Failure> {
        let mut req = self.agent.post(url).header("Content-Type", p.content_type);
        if p.gzip {
            req = req.header("Content-Encoding", "gzip");
        }
        if p.protocol == Protocol::Json {
            req = req.header("Accept", "application/json");
        }
        let mut resp = match req.send(&p.body[..]) {
            Ok(r) => r,
            Err(e) => return Err(self.transport_failure(url, &e)),
        };
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| Failure::Retry(SendError::Transport(e.to_string())))?;
        if !(200..300).contains(&status) {
            let message = error_message(&body);
            let e = SendError::Status { status, message };
            return Err(if status >= 500 {
                Failure::Retry(e)
            } else {
                Failure::Final(e)
            });
        }
        read_reply(p.protocol, &body).map_err(Failure::Final)
    }
}

impl Sender {
    /// Words a transport error for the user and decides whether trying again can help.
    fn transport_failure(&self, url: &str, e: &ureq::Error) -> Failure {
        if let Some(tls) = rustls_error(e) {
            return Failure::Final(SendError::Transport(tls_message(tls, self.has_client_cert)));
        }
        let via = self
            .proxy_for(url)
            .map_or(String::new(), |p| format!(" (through proxy {p})"));
        let msg = match e {
            ureq::Error::Timeout(ureq::Timeout::Connect) => format!(
                "could not connect within {} s (connect timeout){via}",
                self.connect_timeout.as_secs()
            ),
            ureq::Error::Timeout(t) => format!(
                "no answer within {} s (timeout: {t}){via}",
                self.timeout.as_secs()
            ),
            ureq::Error::Tls(m) => {
                return Failure::Final(SendError::Transport(format!("TLS: {m}")));
            }
            ureq::Error::ConnectProxyFailed(m) => {
                format!("the proxy refused to connect to the server: {m}{via}")
            }
            other => format!("{other}{via}"),
        };
        let retry = matches!(
            e,
            ureq::Error::Io(_)
                | ureq::Error::ConnectionFailed
                | ureq::Error::HostNotFound
                | ureq::Error::Timeout(_)
                | ureq::Error::Protocol(_)
                | ureq::Error::ConnectProxyFailed(_)
        );
        let e = SendError::Transport(msg);
        if retry {
            Failure::Retry(e)
        } else {
            Failure::Final(e)
        }
    }

    /// The proxy used for `url` (scheme, host and port only: never its credentials).
    fn proxy_for(&self, url: &str) -> Option<String> {
        let p = self.proxy.as_ref()?;
        if let Ok(uri) = url.parse::<ureq::http::Uri>()
            && p.is_no_proxy(&uri)
        {
            return None;
        }
        let scheme = p.uri().scheme_str().unwrap_or("http");
        Some(format!("{scheme}://{}:{}", p.host(), p.port()))
    }
}

/// The rustls error behind a ureq error (handshake failures arrive wrapped in `io::Error`).
fn rustls_error(e: &ureq::Error) -> Option<&rustls::Error> {
    match e {
        ureq::Error::Rustls(r) => Some(r),
        ureq::Error::Io(io) => io.get_ref()?.downcast_ref::<rustls::Error>(),
        _ => None,
    }
}

/// A TLS failure in words that say which certificate is at fault and what to configure.
fn tls_message(e: &rustls::Error, has_client_cert: bool) -> String {
    use rustls::{AlertDescription as A, CertificateError as C, Error as E};
    match e {
        E::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => format!(
            "TLS: the server certificate is not trusted ({e}); give the CA that signed it with \
             --ca FILE|DIR (ca in client.toml, ca_certificate in a Pakiti 2 file)"
        ),
        E::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            format!("TLS: the server certificate is not valid for this server name ({e})")
        }
        E::InvalidCertificate(
            C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. },
        ) => format!(
            "TLS: the server certificate is expired or not yet valid ({e}); check this host's clock"
        ),
        E::InvalidCertificate(_) => format!("TLS: the server certificate was refused ({e})"),
        E::AlertReceived(A::CertificateRequired) => format!(
            "TLS: the server requires a client certificate ({e}); give one with --cert and \
             --key (client_cert and client_key in client.toml, host_cert in a Pakiti 2 file)"
        ),
        E::AlertReceived(A::HandshakeFailure) if !has_client_cert => format!(
            "TLS: the server refused the handshake ({e}); if it requires a client \
             certificate, give one with --cert and --key"
        ),
        E::AlertReceived(
            A::BadCertificate
            | A::UnknownCA
            | A::UnsupportedCertificate
            | A::CertificateRevoked
            | A::CertificateExpired
            | A::CertificateUnknown
            | A::AccessDenied,
        ) if has_client_cert => format!(
            "TLS: the server did not accept the client certificate ({e}); is it signed by a \
             CA the server trusts, and still valid?"
        ),
        other => format!("TLS: {other}"),
    }
}

enum Failure {
    Retry(SendError),
    Final(SendError),
}

fn error_message(body: &str) -> String {
    if let Ok(reply) = JsonReply::parse(body.as_bytes())
        && let Some(m) = reply.message
    {
        return m;
    }
    let first = body.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut m: String = first.chars().take(300).collect();
    if m.is_empty() {
        m = "(empty body)".into();
    }
    m
}

/// Reads a 2xx answer in the protocol's terms and returns its report-back lines.
///
/// * JSON: a [`JsonReply`] with status `ok` (a plain `OK` body is accepted too);
/// * protocol 5: any 2xx is a success (as the Perl client); lines after a leading `OK` line
///   are the report-back;
/// * protocol 4: the body must end with an `OK` line (as the bash clients check); lines
///   before it are the report-back.
///
/// # Errors
/// [`SendError::Rejected`] when the body says the report was not accepted.
pub fn read_reply(protocol: Protocol, body: &str) -> Result<Accepted, SendError> {
    let lines: Vec<String> = body
        .lines()
        .map(|l| l.trim_end_matches('\r').to_owned())
        .filter(|l| !l.trim().is_empty())
        .collect();
    match protocol {
        Protocol::Json => {
            if let Ok(reply) = JsonReply::parse(body.as_bytes()) {
                return match reply.status {
                    ReplyStatus::Ok => Ok(Accepted {
                        report_back: reply.report_back,
                        attempts: 0,
                    }),
                    ReplyStatus::Error | ReplyStatus::Unknown => Err(SendError::Rejected(
                        reply.message.unwrap_or_else(|| "status is not ok".into()),
                    )),
                };
            }
            match lines.split_first() {
                Some((first, rest)) if first.trim() == "OK" => Ok(Accepted {
                    report_back: rest.to_vec(),
                    attempts: 0,
                }),
                _ => Err(SendError::Rejected(error_message(body))),
            }
        }
        Protocol::V5 => {
            let rest = match lines.split_first() {
                Some((first, rest)) if first.trim() == "OK" => rest.to_vec(),
                _ => lines,
            };
            Ok(Accepted {
                report_back: rest,
                attempts: 0,
            })
        }
        Protocol::V4 => match lines.split_last() {
            Some((last, rest)) if last.trim() == "OK" => Ok(Accepted {
                report_back: rest.to_vec(),
                attempts: 0,
            }),
            _ => Err(SendError::Rejected(error_message(body))),
        },
    }
}

/// CA certificates: from `ca` (a PEM file, or a directory whose `*.pem`, `*.crt` and hashed
/// `*.0` files are read), else from the system bundle, else the built-in Mozilla roots.
fn root_certs(ca: Option<&Path>) -> Result<RootCerts, SendError> {
    let setup =
        |p: &Path, e: &dyn std::fmt::Display| SendError::Setup(format!("{}: {e}", p.display()));
    let mut certs: Vec<Certificate<'static>> = Vec::new();
    let load = |p: &Path, certs: &mut Vec<Certificate<'static>>| -> Result<(), SendError> {
        let bytes = std::fs::read(p).map_err(|e| setup(p, &e))?;
        for item in ureq::tls::parse_pem(&bytes) {
            if let PemItem::Certificate(c) = item.map_err(|e| setup(p, &e))? {
                certs.push(c);
            }
        }
        Ok(())
    };
    match ca {
        Some(dir) if dir.is_dir() => {
            let entries = std::fs::read_dir(dir).map_err(|e| setup(dir, &e))?;
            let mut files: Vec<_> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(is_ca_file_name)
                })
                .collect();
            files.sort();
            for f in files {
                load(&f, &mut certs)?;
            }
            if certs.is_empty() {
                return Err(SendError::Setup(format!(
                    "{}: no CA certificates (*.pem, *.crt, <hash>.0) found",
                    dir.display()
                )));
            }
        }
        Some(file) => {
            load(file, &mut certs)?;
            if certs.is_empty() {
                return Err(SendError::Setup(format!(
                    "{}: no certificate found",
                    file.display()
                )));
            }
        }
        None => {
            let bundles = [
                "/etc/ssl/certs/ca-certificates.crt",
                "/etc/pki/tls/certs/ca-bundle.crt",
                "/etc/ssl/ca-bundle.pem",
                "/etc/ssl/cert.pem",
            ];
            match bundles.iter().map(Path::new).find(|p| p.is_file()) {
                Some(b) => load(b, &mut certs)?,
                None => return Ok(RootCerts::WebPki),
            }
        }
    }
    Ok(RootCerts::new_with_certs(&certs))
}

/// Whether a file in a CA directory holds CA certificates: `*.pem`, `*.crt`, or the
/// `<8 hex digits>.<n>` names `openssl rehash` (c_rehash) gives them, where `n` counts up
/// from 0 for CAs whose subjects hash alike (an IGTF CA roll-over keeps its subject, so
/// `/etc/grid-security/certificates` has `.1` files). CRLs (`<hash>.r0`), `*.signing_policy`,
/// `*.namespaces` and `*.info` files are left alone.
fn is_ca_file_name(name: &str) -> bool {
    if name.ends_with(".pem") || name.ends_with(".crt") {
        return true;
    }
    match name.split_once('.') {
        Some((hash, n)) => {
            hash.len() == 8
                && hash.bytes().all(|b| b.is_ascii_hexdigit())
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// The client certificate chain and key (the key from `key`, else from the certificate file).
fn client_cert(cert: &Path, key: Option<&Path>) -> Result<ClientCert, SendError> {
    let setup =
        |p: &Path, e: &dyn std::fmt::Display| SendError::Setup(format!("{}: {e}", p.display()));
    let read = |p: &Path| std::fs::read(p).map_err(|e| setup(p, &e));
    let cert_bytes = read(cert)?;
    let mut chain = Vec::new();
    let mut found_key: Option<PrivateKey<'static>> = None;
    for item in ureq::tls::parse_pem(&cert_bytes) {
        match item.map_err(|e| setup(cert, &e))? {
            PemItem::Certificate(c) => chain.push(c),
            PemItem::PrivateKey(k) => found_key = Some(k),
            _ => {}
        }
    }
    if chain.is_empty() {
        return Err(SendError::Setup(format!(
            "{}: no certificate found",
            cert.display()
        )));
    }
    if let Some(kp) = key {
        let bytes = read(kp)?;
        found_key = Some(PrivateKey::from_pem(&bytes).map_err(|e| setup(kp, &e))?);
    }
    let key = found_key.ok_or_else(|| {
        SendError::Setup(format!(
            "{}: no private key in the certificate file and no client key given",
            cert.display()
        ))
    })?;
    Ok(ClientCert::new_with_certs(&chain, key))
}

/// Gzips `data` (for JSON bodies).
///
/// # Errors
/// Never in practice (writing to memory).
pub fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data)?;
    enc.finish()
}

#[cfg(test)]
mod tests {
    use super::is_ca_file_name;

    /// The names an `/etc/grid-security/certificates` directory holds (IGTF distribution,
    /// after `openssl rehash`), and which of them carry CA certificates.
    #[test]
    fn ca_directory_names() {
        for yes in [
            "fc74e231.0",
            "fc74e231.1",
            "FC74E231.12",
            "PakitiTestCA.pem",
            "ca-bundle.crt",
        ] {
            assert!(is_ca_file_name(yes), "{yes}");
        }
        for no in [
            "fc74e231.r0",
            "fc74e231.signing_policy",
            "fc74e231.namespaces",
            "PakitiTestCA.info",
            "PakitiTestCA.crl_url",
            "fc74e23.0",
            "fc74e2310.0",
            "fc74e23g.0",
            "fc74e231.",
            "fc74e231",
            "README",
        ] {
            assert!(!is_ca_file_name(no), "{no}");
        }
    }
}
