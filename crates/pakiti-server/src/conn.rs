//! What the connection tells a request: the request extensions the listeners attach and the
//! HTTP layer reads. A leaf: it imports nothing of the HTTP layer, so `auth` and the handlers
//! can read a connection's facts without depending on the listener that served it
//! ([`crate::tls`]).
//!
//! A client certificate is believed only when rustls verified it against `[tls] client_ca`;
//! its DN (`ClientCert`, RFC 4514 and OpenSSL legacy forms) is never taken from a header unless
//! the peer is a configured front proxy.

use std::sync::Arc;

use x509_cert::der::Decode;

/// The verified client certificate of a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCert {
    /// The subject DN as RFC 4514 writes it (`CN=host/wn1.example.org,O=Site,DC=example,DC=org`):
    /// nginx's `$ssl_client_s_dn` and Apache's `SSL_CLIENT_S_DN` give the same form.
    pub dn: String,
    /// The subject DN in OpenSSL's legacy one-line form (`/DC=org/DC=example/O=Site/CN=host/wn1.example.org`),
    /// as grid sites and Apache's `LegacyDNStringFormat` write it.
    pub legacy_dn: String,
}

impl ClientCert {
    /// The subject of a DER certificate; `None` when it cannot be parsed.
    #[must_use]
    pub fn from_der(der: &[u8]) -> Option<ClientCert> {
        let cert = x509_cert::Certificate::from_der(der).ok()?;
        let subject = &cert.tbs_certificate.subject;
        let mut legacy = String::new();
        for rdn in &subject.0 {
            legacy.push('/');
            legacy.push_str(&unescape_rfc4514(&rdn.to_string()));
        }
        Some(ClientCert {
            dn: subject.to_string(),
            legacy_dn: legacy,
        })
    }

    /// Whether a configured DN names this certificate's subject, in either form.
    #[must_use]
    pub fn matches(&self, configured: &str) -> bool {
        let c = configured.trim();
        c == self.dn || c == self.legacy_dn
    }
}

/// Drops RFC 4514's backslash escapes (`\,` → `,`); hex escapes stay as they are.
fn unescape_rfc4514(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&next) = chars.peek()
            && matches!(
                next,
                ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '#' | ' ' | '='
            )
        {
            out.push(next);
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

/// A request extension present on every request that came over HTTPS served by pakiti.
#[derive(Clone, Debug, Default)]
pub struct TlsInfo {
    /// The client certificate, verified against `[tls] client_ca`, when one was presented.
    pub client: Option<Arc<ClientCert>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_rfc4514() {
        assert_eq!(unescape_rfc4514("CN=a\\,b"), "CN=a,b");
        assert_eq!(unescape_rfc4514("CN=host/x.org"), "CN=host/x.org");
        assert_eq!(unescape_rfc4514("CN=\\ lead"), "CN= lead");
    }
}
