//! What one unauthenticated client may cost the server: the `[limits]` settings ([`Limits`],
//! defined with the other settings in `pakiti_config::limits`), the report checks made before
//! anything is stored, and the shared budgets (report bodies held in memory, concurrent S/MIME
//! decryptions) that answer 503 with `Retry-After` when full.
//!
//! `POST /feed/` faces every host of a site, so anyone on the network can send to it. Every
//! bound here is a setting with a default generous for real hosts (the largest real inventory
//! in `shared/data/hosts` has a few thousand packages) and small enough that no single request
//! can stall the server or grow the store without end.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;
use pakiti_api::report::Report;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::AppError;

pub use pakiti_config::limits::Limits;

/// The shared budgets of the running server.
#[derive(Debug)]
pub struct Budgets {
    /// Report body bytes in memory, in KiB permits.
    bodies: Arc<Semaphore>,
    body_kib: usize,
    /// Concurrent S/MIME decryptions.
    pub decryptions: Arc<Semaphore>,
}

/// Bytes → KiB permits, rounded up, at least one.
fn kib(bytes: usize) -> usize {
    bytes.div_ceil(1024).max(1)
}

impl Budgets {
    /// Budgets sized by `limits`.
    #[must_use]
    pub fn new(limits: &Limits) -> Self {
        let body_kib = kib(limits.max_body_memory_bytes).min(Semaphore::MAX_PERMITS);
        Budgets {
            bodies: Arc::new(Semaphore::new(body_kib)),
            body_kib,
            decryptions: Arc::new(Semaphore::new(limits.max_concurrent_decryptions.max(1))),
        }
    }

    /// Body bytes not held by any request now (what `/metrics` and tests read).
    #[must_use]
    pub fn body_bytes_free(&self) -> usize {
        self.bodies.available_permits() * 1024
    }

    /// Reserves `bytes` of the body budget, or says the server is busy (503).
    ///
    /// # Errors
    /// [`AppError::Unavailable`] when the budget is spent by other requests.
    pub fn reserve(&self, bytes: usize) -> Result<BodyPermit, AppError> {
        let want = u32::try_from(kib(bytes).min(self.body_kib)).unwrap_or(u32::MAX);
        self.bodies
            .clone()
            .try_acquire_many_owned(want)
            .map(|p| BodyPermit(Some(p)))
            .map_err(|_| {
                AppError::Unavailable(
                    "the server holds as many reports in memory as it may; try again later".into(),
                )
            })
    }
}

/// Body bytes held in memory; released when dropped.
#[derive(Debug, Default)]
pub struct BodyPermit(Option<OwnedSemaphorePermit>);

impl BodyPermit {
    /// Adds `more` to what this permit holds.
    fn merge(&mut self, more: BodyPermit) {
        let Some(q) = more.0 else {
            return;
        };
        if let Some(p) = self.0.as_mut() {
            p.merge(q);
            return;
        }
        self.0 = Some(q);
    }
}

/// Reads a request body of at most `limit` bytes within `timeout`, holding its bytes in the
/// body budget: all of `Content-Length` up front when the client sends one, else chunk by
/// chunk. The permit returned covers the body and must be held while the body is used.
///
/// # Errors
/// 413 over `limit` (before reading, when the length is announced), 503 when the budget is
/// spent, 408 when the client is too slow, 400 when the connection breaks.
pub async fn read_body(
    budgets: &Budgets,
    body: Body,
    content_length: Option<usize>,
    limit: usize,
    timeout: Duration,
) -> Result<(Bytes, BodyPermit), AppError> {
    let too_large = || AppError::TooLarge(format!("report is larger than {limit} bytes"));
    let mut permit = BodyPermit::default();
    if let Some(len) = content_length {
        if len > limit {
            return Err(too_large());
        }
        permit = budgets.reserve(len)?;
    }
    let read = async {
        let mut body = body;
        let mut out = Vec::with_capacity(content_length.unwrap_or(0).min(limit));
        while let Some(frame) = body.frame().await {
            // A body that ends before its announced `Content-Length` (the client closed the
            // connection early) is kept as far as it came, as the Pakiti servers read it: the
            // parsers then skip and count a cut last line, or read it when only its closing
            // quote is missing.
            if let Err(e) = &frame
                && !out.is_empty()
                && !is_timeout(e)
            {
                tracing::info!(received = out.len(), error = %e, "request body ended early; reading what came");
                break;
            }
            let frame = frame.map_err(|e| {
                // The router's body timeout (for every route) may fire before ours.
                let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
                while let Some(s) = source {
                    if s.is::<tower_http::timeout::TimeoutError>() {
                        return timed_out(timeout);
                    }
                    source = s.source();
                }
                AppError::BadRequest(format!("cannot read the body: {e}"))
            })?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if out.len() + data.len() > limit {
                return Err(too_large());
            }
            if content_length.is_none_or(|len| out.len() + data.len() > len) {
                permit.merge(budgets.reserve(data.len())?);
            }
            out.extend_from_slice(&data);
        }
        Ok(Bytes::from(out))
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(Ok(bytes)) => Ok((bytes, permit)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(timed_out(timeout)),
    }
}

/// Whether a body error is the router's body timeout firing.
fn is_timeout(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        source = s.source();
    }
    false
}

fn timed_out(timeout: Duration) -> AppError {
    AppError::Timeout(format!(
        "the request body was not received within {} s",
        timeout.as_secs()
    ))
}

/// Checks a parsed report against the limits and the rules every store accepts, before
/// anything is written: the same answer on SQLite and PostgreSQL.
///
/// # Errors
/// 413 for too many packages; 400 naming the field for a bad host name, a field too long or a
/// NUL byte.
pub fn check_report(report: &Report, limits: &Limits) -> Result<(), AppError> {
    if report.packages.len() > limits.max_packages {
        return Err(AppError::TooLarge(format!(
            "report lists {} packages, more than the {} this server accepts (limits.max_packages)",
            report.packages.len(),
            limits.max_packages
        )));
    }
    check_hostname(&report.hostname, limits.max_hostname_bytes)
        .map_err(|why| AppError::BadRequest(format!("invalid host name: {why}")))?;
    let fields = [
        ("os", Some(report.os.as_str())),
        ("arch", Some(report.arch.as_str())),
        ("kernel", Some(report.kernel.as_str())),
        ("cpu", report.cpu.as_deref()),
        ("site", report.site.as_deref()),
        ("tag", report.tag.as_deref()),
        ("ip", report.ip.as_deref()),
        ("host id", report.host_id.as_deref()),
        (
            "os-release id",
            report.os_release.as_ref().map(|r| r.id.as_str()),
        ),
        (
            "os-release version",
            report.os_release.as_ref().map(|r| r.version_id.as_str()),
        ),
        ("packager", Some(report.packager.as_str())),
    ];
    for (name, value) in fields {
        if let Some(value) = value {
            check_text(name, value, limits.max_field_bytes)?;
        }
    }
    for stream in &report.module_streams {
        check_text("module stream", stream, limits.max_field_bytes)?;
    }
    for (i, p) in report.packages.iter().enumerate() {
        // The field's name is formatted only for an error (`format_args!` is lazy): a
        // report's thousands of packages are checked without writing one.
        let n = i + 1;
        let name_max = limits.max_package_name_bytes;
        let version_max = limits.max_package_version_bytes;
        check_text(format_args!("package {n} name"), &p.name, name_max)?;
        check_text(format_args!("package {n} version"), &p.version, version_max)?;
        check_text(format_args!("package {n} arch"), &p.arch, version_max)?;
        if let Some(source) = &p.source {
            check_text(format_args!("package {n} source"), source, name_max)?;
        }
        if p.name.is_empty() {
            return Err(AppError::BadRequest(format!("package {n} name is empty")));
        }
    }
    Ok(())
}

/// A field must fit and hold no NUL byte (PostgreSQL text cannot store one).
fn check_text(field: impl std::fmt::Display, value: &str, max: usize) -> Result<(), AppError> {
    if value.len() > max {
        return Err(AppError::BadRequest(format!(
            "{field} is {} bytes long, more than the {max} this server accepts",
            value.len()
        )));
    }
    if value.as_bytes().contains(&0) {
        return Err(AppError::BadRequest(format!("{field} contains a NUL byte")));
    }
    Ok(())
}

/// Whether `name` can be a host's name: an IP address, or a DNS name of at most `max` (and
/// never more than 253) bytes whose dot-separated labels are 1 to 63 letters, digits, `-` or
/// `_` (seen in real site names) and neither start nor end with `-`; one trailing dot is
/// allowed. Nothing else: no control or bidi characters, no `/ ? # %`, no `..`.
///
/// # Errors
/// Why the name is refused.
pub fn check_hostname(name: &str, max: usize) -> Result<(), String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("empty".into());
    }
    let max = max.min(253);
    if name.len() > max {
        return Err(format!("{} bytes long, more than {max}", name.len()));
    }
    if name.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let labels = name.strip_suffix('.').unwrap_or(name);
    for label in labels.split('.') {
        if label.is_empty() {
            return Err("empty label (two dots in a row, or a leading dot)".into());
        }
        if label.len() > 63 {
            return Err(format!("label of {} bytes, more than 63", label.len()));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!("character {} is not allowed", c.escape_debug()));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label {label:?} starts or ends with '-'"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        for ok in [
            "wn042.example.org",
            "WN042.Example.ORG.",
            "localhost",
            "10.0.0.1",
            "2001:db8::1",
            "my_host.site-a.example",
            &"a".repeat(63),
        ] {
            assert_eq!(check_hostname(ok, 253), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "a..b",
            ".a",
            "../../../etc/passwd",
            "a/b",
            "a?b",
            "a#b",
            "a%2fb",
            "a b",
            "a\nb",
            "a\0b",
            "evil\u{202e}gro.elpmaxe",
            "-a.b",
            "a-.b",
            &"a".repeat(64),
            &format!("{}.b", "a.".repeat(130)),
        ] {
            assert!(check_hostname(bad, 253).is_err(), "{bad:?}");
        }
        assert!(check_hostname("abcdef", 5).is_err());
    }
}
