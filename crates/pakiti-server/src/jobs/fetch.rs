//! The one fetcher of the sync jobs: a conditional GET (`If-None-Match`/`If-Modified-Since`
//! from the last sync's validators) over one shared HTTP client, or a read for a local path
//! (`/path` or `file:///path`).
//!
//! The client is built once, on first use, from `outgoing_proxy` (validated when the server
//! state is made, so a malformed proxy is an error at start). Feeds and repositories share it,
//! and with it connection pools and the TLS roots.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use pakiti_store::SyncRecord;
use sha2::{Digest, Sha256};

/// Progress reports for a person watching (a progress bar on a terminal).
pub trait Progress: Send + Sync {
    /// A new stage starts (`downloading`, `parsing`, `storing`); `total` bytes when known.
    fn stage(&self, name: &str, total: Option<u64>);
    /// Bytes done in the current stage.
    fn advance(&self, done: u64);
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage(&self, _: &str, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
}

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one whole fetch may take (vendor files reach hundreds of megabytes).
const TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// One fetched file, with the validators for the next conditional GET.
#[derive(Clone, Debug, Default)]
pub struct Got {
    /// The body; `None` when the source answered "not modified".
    pub body: Option<Vec<u8>>,
    /// `ETag`.
    pub etag: Option<String>,
    /// `Last-Modified`.
    pub last_modified: Option<String>,
}

/// The HTTP client of the sync jobs (cheap to clone: clones share the client).
#[derive(Clone, Debug)]
pub struct Fetcher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    proxy: Option<reqwest::Proxy>,
    client: OnceLock<reqwest::Client>,
}

/// Whether `loc` is fetched over HTTP rather than read from disk.
#[must_use]
pub fn is_url(loc: &str) -> bool {
    loc.starts_with("http://") || loc.starts_with("https://")
}

/// The lowercase hex SHA-256 of `data`: the checksum recorded on syncs and compared with the
/// ones repository metadata lists.
#[must_use]
pub fn checksum(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

impl Fetcher {
    /// A fetcher going through `proxy` (`None` or empty: direct).
    ///
    /// # Errors
    /// The proxy is not a valid proxy URL.
    pub fn new(proxy: Option<&str>) -> Result<Self> {
        let proxy = match proxy.filter(|p| !p.is_empty()) {
            Some(p) => Some(reqwest::Proxy::all(p).with_context(|| format!("invalid proxy {p}"))?),
            None => None,
        };
        Ok(Fetcher {
            inner: Arc::new(Inner {
                proxy,
                client: OnceLock::new(),
            }),
        })
    }

    fn client(&self) -> Result<&reqwest::Client> {
        if let Some(c) = self.inner.client.get() {
            return Ok(c);
        }
        let mut b = reqwest::Client::builder()
            .user_agent(concat!("pakiti/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TIMEOUT);
        if let Some(p) = &self.inner.proxy {
            b = b.proxy(p.clone());
        }
        let built = b.build().context("building the HTTP client")?;
        // Two first fetches at once may both build one; the first stored is kept.
        Ok(self.inner.client.get_or_init(|| built))
    }

    /// Fetches `loc`; `Ok(None)` when it does not exist (HTTP 404, no such file). With `cond`,
    /// a conditional GET whose 304 gives `body: None`. The read or download is reported to
    /// `progress` as a stage of its own.
    ///
    /// # Errors
    /// Network or file errors, or an HTTP status other than success, 304 and 404.
    pub async fn get(
        &self,
        loc: &str,
        cond: Option<&SyncRecord>,
        progress: &dyn Progress,
    ) -> Result<Option<Got>> {
        if !is_url(loc) {
            let path = loc.strip_prefix("file://").unwrap_or(loc);
            progress.stage("reading", None);
            return match tokio::fs::read(path).await {
                Ok(b) => {
                    progress.advance(b.len() as u64);
                    Ok(Some(Got {
                        body: Some(b),
                        ..Got::default()
                    }))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(anyhow!(e).context(format!("reading {path}"))),
            };
        }
        let mut req = self.client()?.get(loc);
        if let Some(last) = cond {
            if let Some(etag) = &last.etag {
                req = req.header(reqwest::header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = &last.last_modified {
                req = req.header(reqwest::header::IF_MODIFIED_SINCE, lm);
            }
        }
        let mut resp = req
            .send()
            .await
            .with_context(|| format!("fetching {loc}"))?;
        let header = |r: &reqwest::Response, h: reqwest::header::HeaderName| {
            r.headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let etag = header(&resp, reqwest::header::ETAG);
        let last_modified = header(&resp, reqwest::header::LAST_MODIFIED);
        match resp.status() {
            reqwest::StatusCode::NOT_MODIFIED => Ok(Some(Got {
                body: None,
                etag,
                last_modified,
            })),
            reqwest::StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                let len = resp.content_length();
                progress.stage("downloading", len);
                let mut body =
                    Vec::with_capacity(len.and_then(|l| usize::try_from(l).ok()).unwrap_or(0));
                while let Some(chunk) = resp
                    .chunk()
                    .await
                    .with_context(|| format!("downloading {loc}"))?
                {
                    body.extend_from_slice(&chunk);
                    progress.advance(body.len() as u64);
                }
                Ok(Some(Got {
                    body: Some(body),
                    etag,
                    last_modified,
                }))
            }
            s => bail!("{loc} answered {s}"),
        }
    }

    /// Fetches `loc` unconditionally; not finding it is an error.
    ///
    /// # Errors
    /// As [`Fetcher::get`], and `loc` does not exist.
    pub async fn need(&self, loc: &str, progress: &dyn Progress) -> Result<Vec<u8>> {
        self.get(loc, None, progress)
            .await?
            .and_then(|g| g.body)
            .ok_or_else(|| anyhow!("{loc} not found"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_proxy_is_refused_when_made() {
        assert!(Fetcher::new(Some("not a url")).is_err());
        assert!(Fetcher::new(Some("")).is_ok());
        assert!(Fetcher::new(Some("http://proxy.example.org:3128")).is_ok());
    }

    #[test]
    fn checksum_is_lowercase_hex_sha256() {
        assert_eq!(
            checksum(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
