//! `POST /feed/`: the report endpoint, wire-compatible with Pakiti 2 and 3 clients.
//!
//! One endpoint reads every format: protocol 4 form posts (multipart or urlencoded, including
//! the bash client's barely-encoded "openssl method" bodies), protocol 5 text (optionally
//! S/MIME encrypted), and our JSON report (optionally gzip-compressed). The answer is Pakiti's:
//! `OK` plus report-back lines, or `ERROR: reason` with a 4xx/5xx status.
//!
//! - **Tagged-CVE report-back lines go only over HTTPS**, as Pakiti 3: a request carries
//!   `conn::TlsInfo` only when pakiti's own TLS listener received it; a believed front proxy's
//!   `X-Forwarded-Proto: https` counts too. Plain HTTP gets `OK` (JSON: no `report_back`).
//! - **What cannot be read is counted and shown, never dropped silently.** Parsers skip a
//!   package line they cannot read and keep it in `Report::unreadable` (line, reason, excerpt;
//!   the first 50 kept); ingest does the same for a version the stream's scheme rejects; host
//!   and report rows keep them. A report whose header cannot be read, or with no readable
//!   package, is refused, and every 4xx of `/feed/` is recorded by `record_refusal` (bounded by
//!   `refused_reports_kept`, shown by `handlers/refused.rs`) — but a rate-limited client's
//!   429s (`[limits] feed_rate_per_minute`, checked before the body is read) only once per
//!   episode, so that a flood costs no store write per request.
//! - The body is read here within the limits of `crate::limits`; a report is acknowledged only
//!   after the store has it durably (SQLite WAL with `synchronous=FULL`; the queue row in
//!   asynchronous mode).

use std::io::Read;
use std::net::{IpAddr, SocketAddr};

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pakiti_api::report::{Mode, Report};
use pakiti_api::{json, protocol4, protocol5, reply};
use time::OffsetDateTime;

use crate::conn::TlsInfo;
use crate::error::AppError;
use crate::state::AppState;
use pakiti_engine::ingest::{self, Origin};

/// The header a TLS-terminating front proxy puts the client certificate's subject DN in.
pub const CLIENT_DN_HEADER: &str = "x-ssl-client-s-dn";

/// Which wire format a request body is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    /// Protocol 4 multipart form.
    Multipart,
    /// Protocol 4 urlencoded form.
    Form,
    /// Protocol 5 text.
    Text,
    /// Protocol 5 text, S/MIME encrypted.
    Encrypted,
    /// Our JSON report.
    Json,
}

/// Decides the wire format from the query, the content type and the body's first bytes. The
/// old clients label everything `application/x-www-form-urlencoded`, so the body decides.
#[must_use]
pub fn sniff(query: &protocol5::FeedQuery, content_type: &str, body: &[u8]) -> Wire {
    let ct = content_type.to_ascii_lowercase();
    if ct.starts_with("multipart/form-data") {
        return Wire::Multipart;
    }
    if crate::smime::looks_encrypted(body) {
        return Wire::Encrypted;
    }
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map_or(&body[..0], |i| &body[i..]);
    if start.starts_with(b"#") {
        return Wire::Text;
    }
    if ct.starts_with("application/json") || start.starts_with(b"{") {
        return Wire::Json;
    }
    if query.protocol.as_deref() == Some("5") {
        return Wire::Text;
    }
    Wire::Form
}

fn decode_body(headers: &HeaderMap, body: Bytes, limit: usize) -> Result<Vec<u8>, AppError> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut out = Vec::new();
    let read = match encoding.as_str() {
        "" | "identity" => return Ok(body.to_vec()),
        "gzip" | "x-gzip" => flate2::read::MultiGzDecoder::new(&body[..])
            .take(limit as u64 + 1)
            .read_to_end(&mut out),
        "deflate" => flate2::read::ZlibDecoder::new(&body[..])
            .take(limit as u64 + 1)
            .read_to_end(&mut out),
        other => {
            return Err(AppError::Unsupported(format!(
                "unsupported content-encoding {other:?}"
            )));
        }
    };
    read.map_err(|e| AppError::BadRequest(format!("body is not valid {encoding}: {e}")))?;
    if out.len() > limit {
        return Err(AppError::TooLarge(format!(
            "report is larger than {limit} bytes after decompression"
        )));
    }
    Ok(out)
}

async fn parse_multipart(content_type: &str, body: Vec<u8>) -> Result<Report, AppError> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| AppError::BadRequest(format!("bad multipart content-type: {e}")))?;
    let stream =
        futures_util::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(body)) });
    let mut mp = multer::Multipart::new(stream, boundary);
    let mut fields: Vec<(String, String)> = Vec::new();
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| AppError::BadRequest(format!("malformed multipart body: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field
            .bytes()
            .await
            .map_err(|e| AppError::BadRequest(format!("malformed multipart field {name}: {e}")))?;
        // A package line with invalid UTF-8 is skipped and counted by the parser; a header
        // field with some refuses the report.
        let value = if matches!(name.as_str(), "pkgs" | "p" | "rpms") {
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            String::from_utf8(bytes.to_vec())
                .map_err(|_| AppError::BadRequest(format!("field {name} is not valid UTF-8")))?
        };
        fields.push((name, value));
    }
    protocol4::parse_form_data(&fields).map_err(|e| AppError::BadRequest(e.to_string()))
}

/// Reads the report out of a request. Decompression, decryption and parsing run off the
/// async workers (a large body costs CPU-seconds), decryption under the
/// `limits.max_concurrent_decryptions` bound.
///
/// # Errors
/// The body is in no format we read, or malformed (4xx with the reason); the body budget is
/// spent (503).
pub async fn read_report(
    state: &AppState,
    query: &protocol5::FeedQuery,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Report, AppError> {
    let limit = state.settings.max_report_bytes;
    let encoded = headers.contains_key(header::CONTENT_ENCODING);
    let hdrs = headers.clone();
    let body = blocking(move || decode_body(&hdrs, body, limit)).await?;
    // A decompressed body is more memory than what was received: it counts too.
    let _decoded = if encoded {
        state.budgets.reserve(body.len())?
    } else {
        crate::limits::BodyPermit::default()
    };
    if body.is_empty() {
        return Err(AppError::BadRequest("empty request body".into()));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bad = |e: pakiti_api::WireError| AppError::BadRequest(e.to_string());
    let mut report = match sniff(query, &content_type, &body) {
        Wire::Multipart => parse_multipart(&content_type, body).await?,
        Wire::Form => blocking(move || protocol4::parse_urlencoded(&body).map_err(bad)).await?,
        Wire::Json => blocking(move || json::parse(&body).map_err(bad)).await?,
        Wire::Text => blocking(move || protocol5::parse(&body).map_err(bad)).await?,
        Wire::Encrypted => {
            let key = state.report_key.clone().ok_or_else(|| {
                AppError::BadRequest(
                    "the report is S/MIME encrypted but this server has no report_key configured"
                        .into(),
                )
            })?;
            // Each decryption is an RSA private-key operation: a few at a time, off the
            // async workers, so that pages and /healthz stay responsive meanwhile.
            let _turn = state
                .budgets
                .decryptions
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| AppError::Unavailable("the server is shutting down".into()))?;
            blocking(move || {
                let plain = crate::smime::decrypt(&body, &key)
                    .map_err(|e| AppError::BadRequest(format!("cannot decrypt the report: {e}")))?;
                protocol5::parse(&plain).map_err(bad)
            })
            .await?
        }
    };
    // The query string's mode wins for protocol 5 (its body has none); for protocol 4 the
    // `report` field already set it unless the query says otherwise.
    if let Some(mode) = query.mode {
        report.mode = mode;
    }
    Ok(report)
}

/// Reports decoded or parsed at once: one per CPU. Without a bound, a burst of thousands of
/// agents put hundreds of parsing threads of the blocking pool beside the runtime's few
/// workers, which then got so little CPU that `/healthz` took seconds and connections waiting
/// for their headers to be read timed out (issue #15 load test). Waiting for a permit costs
/// nothing; the bodies waiting are bounded by `[limits] max_body_memory_bytes`.
static CPU_WORK: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, usize::from))
});

/// Runs CPU-bound request work on the blocking pool, at most [`CPU_WORK`] at once.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AppError> + Send + 'static,
) -> Result<T, AppError> {
    let _permit = CPU_WORK
        .acquire()
        .await
        .map_err(|e| AppError::Internal(anyhow::Error::new(e).context("no CPU permit")))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Internal(anyhow::Error::new(e).context("a request task failed")))?
}

/// The wire format of a request, as the refused-reports page names it.
fn wire_label(raw_query: &str, headers: &HeaderMap, body: &[u8]) -> &'static str {
    let query = protocol5::parse_query_string(raw_query).unwrap_or_default();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if headers.contains_key(header::CONTENT_ENCODING) {
        return "json (compressed)";
    }
    match sniff(&query, content_type, body) {
        Wire::Multipart => "4 (multipart)",
        Wire::Form => "4 (urlencoded)",
        Wire::Text => "5",
        Wire::Encrypted => "5 (S/MIME)",
        Wire::Json => "json",
    }
}

/// Records a refused report (host name if readable, peer, format, status, reason) so that a
/// site sees which hosts fail to report; a failure to record is logged, never answered.
async fn record_refusal(
    state: &AppState,
    peer: Option<IpAddr>,
    hostname: Option<String>,
    protocol: &str,
    status: StatusCode,
    reason: String,
) {
    // One line per refusal, so that the log alone tells why a host's reports are refused.
    tracing::warn!(
        peer = %peer.map_or_else(|| "-".to_owned(), |p| p.to_string()),
        host = %crate::audit::log_safe(hostname.as_deref().unwrap_or("-")),
        protocol,
        status = status.as_u16(),
        reason = %crate::audit::log_safe(&reason),
        "report refused"
    );
    let refused = pakiti_store::NewRefusedReport {
        received_at: OffsetDateTime::now_utc(),
        hostname,
        peer: peer.map(|p| p.to_string()),
        protocol: protocol.to_owned(),
        status: i64::from(status.as_u16()),
        reason,
    };
    let keep = i64::from(state.settings.refused_reports_kept.max(1));
    if let Err(e) = state.store.record_refused_report(&refused, keep).await {
        tracing::warn!(error = %e, "could not record a refused report");
    }
}

/// Whether the client-DN header of a request from `peer` is believed: it must come from a
/// configured TLS front proxy (loopback when none is configured).
fn dn_header_believed(state: &AppState, peer: Option<IpAddr>) -> bool {
    let from = &state.settings.proxies.dn_header_from;
    peer.is_some_and(|ip| {
        if from.is_empty() {
            ip.is_loopback()
        } else {
            from.iter().any(|spec| crate::net::cidr_contains(spec, ip))
        }
    })
}

/// Whether the request came over HTTPS: served by pakiti itself, or by a believed TLS front
/// proxy that says so in `X-Forwarded-Proto`.
fn over_https(
    state: &AppState,
    peer: Option<IpAddr>,
    tls: Option<&TlsInfo>,
    headers: &HeaderMap,
) -> bool {
    tls.is_some()
        || (headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
            && dn_header_believed(state, peer))
}

/// Whether `peer` may submit reports for other hosts: by certificate DN (its own verified
/// client certificate, or the DN a believed front proxy passes), by address, or by
/// forward-confirmed reverse DNS name. DNS is asked only when the report claims to come
/// through a proxy and nothing else trusts the peer.
async fn trusted_proxy(
    state: &AppState,
    peer: Option<IpAddr>,
    dn: Option<&str>,
    tls: Option<&TlsInfo>,
    claims_proxy: bool,
) -> bool {
    let p = &state.settings.proxies;
    if let Some(dn) = dn
        && p.certificate_dns.iter().any(|d| d == dn)
    {
        return true;
    }
    if let Some(cert) = tls.and_then(|t| t.client.as_deref())
        && p.certificate_dns.iter().any(|d| cert.matches(d))
    {
        return true;
    }
    let Some(ip) = peer else {
        return false;
    };
    if p.addresses
        .iter()
        .any(|spec| crate::net::cidr_contains(spec, ip))
    {
        return true;
    }
    if !claims_proxy || p.hostnames.is_empty() {
        return false;
    }
    let names = p.hostnames.clone();
    tokio::task::spawn_blocking(move || crate::net::reverse_dns_matches(ip, &names))
        .await
        .unwrap_or(false)
}

/// `POST /feed/`. The body is read here, not by an extractor, so that it is held in the
/// server's body budget (`limits.max_body_memory_bytes`) and read within
/// `limits.body_read_timeout_secs`; a body that ends before its announced `Content-Length`
/// is kept as far as it came (see `limits::read_body`). Every refusal (4xx) is recorded, see
/// `record_refusal`.
pub async fn post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    tls: Option<Extension<TlsInfo>>,
    RawQuery(raw_query): RawQuery,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let raw_query = raw_query.as_deref().unwrap_or("");
    if let Some(resp) = rate_limited(&state, peer.ip(), tls.as_ref().map(|t| &t.0), &headers).await
    {
        return resp;
    }
    let peer = Some(peer.ip());
    let content_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    let limits = &state.settings.limits;
    let (body, _permit) = match crate::limits::read_body(
        &state.budgets,
        body,
        content_length,
        state.settings.max_report_bytes,
        limits.body_read_timeout(),
    )
    .await
    {
        Ok(read) => read,
        Err(e) => {
            state.metrics.report_received("unknown");
            state.metrics.report_answered("unknown", e.status());
            if e.status().is_client_error() {
                record_refusal(
                    &state,
                    peer,
                    None,
                    "unknown",
                    e.status(),
                    e.public_message(),
                )
                .await;
            }
            return refused_unread(e);
        }
    };
    let wire = wire_label(raw_query, &headers, &body);
    state.metrics.report_received(wire);
    let mut hostname = None;
    match handle(
        &state,
        peer,
        tls.as_ref().map(|Extension(t)| t),
        raw_query,
        &headers,
        body.clone(),
        &mut hostname,
    )
    .await
    {
        Ok(resp) => {
            state.metrics.report_answered(wire, resp.status());
            resp
        }
        Err(e) => {
            state.metrics.report_answered(wire, e.status());
            if e.status().is_client_error() {
                let hostname = hostname.or_else(|| pakiti_api::report::sniff_hostname(&body));
                let protocol = wire_label(raw_query, &headers, &body);
                record_refusal(
                    &state,
                    peer,
                    hostname,
                    protocol,
                    e.status(),
                    e.public_message(),
                )
                .await;
            }
            e.into_feed_response()
        }
    }
}

/// The `[limits] feed_rate_per_minute` check, made before the body is read: `Some(429)` when
/// the client's bucket is empty (see [`crate::ratelimit::feed_key`] for whose bucket a
/// trusted proxy's request takes). The first refusal of an episode is recorded as a refused
/// report (one store write per episode, not per request); every one is counted in the metrics.
async fn rate_limited(
    state: &AppState,
    peer: IpAddr,
    tls: Option<&TlsInfo>,
    headers: &HeaderMap,
) -> Option<Response> {
    if !state.feed_limiter.enabled() {
        return None;
    }
    let cert_trusted = tls.and_then(|t| t.client.as_deref()).is_some_and(|c| {
        state
            .settings
            .proxies
            .certificate_dns
            .iter()
            .any(|d| c.matches(d))
    });
    let key = crate::ratelimit::feed_key(&state.settings, peer, cert_trusted, headers)?;
    let limited = state
        .feed_limiter
        .check(&key, std::time::Instant::now())
        .err()?;
    let limits = &state.settings.limits;
    let e = AppError::RateLimited {
        message: format!(
            "rate limited: more than {} reports a minute (burst {}) from {key}; retry after {} s",
            limits.feed_rate_per_minute,
            limits.feed_burst.max(1),
            limited.retry_after_secs()
        ),
        retry_after_secs: limited.retry_after_secs(),
    };
    state.metrics.report_received("unknown");
    state.metrics.report_answered("unknown", e.status());
    if limited.first {
        record_refusal(
            state,
            Some(key),
            None,
            "unknown",
            e.status(),
            e.public_message(),
        )
        .await;
    }
    Some(refused_unread(e))
}

/// The answer to a report refused before its body was read to the end: the connection cannot
/// carry another request, so it says `Connection: close` rather than let a keep-alive client
/// reuse it and see it reset.
fn refused_unread(e: AppError) -> Response {
    let mut resp = e.into_feed_response();
    resp.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    resp
}

/// A digest of exactly what the client sent: query string, content type and encoding, body.
fn raw_key(raw_query: &str, headers: &HeaderMap, body: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [
        raw_query.as_bytes(),
        headers
            .get(header::CONTENT_TYPE)
            .map_or(&b""[..], |v| v.as_bytes()),
        headers
            .get(header::CONTENT_ENCODING)
            .map_or(&b""[..], |v| v.as_bytes()),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.update(body);
    h.finalize().into()
}

/// The unchanged path for a body identical to the host's last stored one (store-only mode,
/// not through a proxy): record it and answer as [`ingest::process`] would, without parsing.
/// `None` when the store says the host changed meanwhile (the caller then parses and saves).
async fn replay_unchanged(
    state: &AppState,
    seen: &pakiti_engine::SeenBody,
    wants_json: bool,
) -> Result<Option<Response>, AppError> {
    let meta = pakiti_store::ReportMeta {
        received_at: OffsetDateTime::now_utc(),
        hash: seen.hash.clone(),
        via_proxy: false,
        proxy_name: None,
        site: seen.site.clone(),
        tag: seen.tag.clone(),
    };
    let touched = state
        .engine
        .writer()
        .touch(seen.host, meta)
        .await
        .map_err(|e| AppError::Internal(anyhow::Error::new(e).context("recording a report")))?;
    if touched.is_none() {
        return Ok(None);
    }
    state.engine.metrics().processed("unchanged");
    tracing::info!(host = ?seen.hostname, unchanged = true, same_bytes = true, "report");
    if wants_json {
        let reply = json::JsonReply {
            status: json::ReplyStatus::Ok,
            stored: true,
            host: seen.hostname.clone(),
            findings: 0,
            report_back: Vec::new(),
            message: None,
        };
        return Ok(Some(
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                reply.render(),
            )
                .into_response(),
        ));
    }
    Ok(Some(
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            reply::OK.to_owned(),
        )
            .into_response(),
    ))
}

/// Handles a report; `hostname` is set as soon as the report's host name is read.
async fn handle(
    state: &AppState,
    peer: Option<IpAddr>,
    tls: Option<&TlsInfo>,
    raw_query: &str,
    headers: &HeaderMap,
    body: Bytes,
    hostname: &mut Option<String>,
) -> Result<Response, AppError> {
    let query = protocol5::parse_query_string(raw_query)
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Protocol 4 (form posts) asking for report-back gets Pakiti 2's upgrade lines.
    let protocol4 = matches!(
        sniff(&query, content_type, &body),
        Wire::Multipart | Wire::Form
    );
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    let sync = state.settings.evaluation == crate::settings::Evaluation::Ingest;
    // With identity binding on, who sends is part of the key: the same bytes from another
    // certificate or network take the full path (and its identity check), not the replay.
    let sender = if state.settings.identity.policy == crate::identity::Policy::Off {
        String::new()
    } else {
        let dn = headers
            .get(CLIENT_DN_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let tls_dn = tls
            .and_then(|t| t.client.as_ref())
            .map_or("", |c| c.dn.as_str());
        let net = if state.settings.identity.network {
            peer.map(|p| p.to_string()).unwrap_or_default()
        } else {
            String::new()
        };
        format!("{dn}\n{tls_dn}\n{net}")
    };
    let raw_key = sync.then(|| raw_key(&format!("{raw_query}\n{sender}"), headers, &body));
    if let Some(key) = &raw_key
        && let Some(seen) = state.engine.seen_body(key)
        && let Some(resp) = replay_unchanged(state, &seen, wants_json).await?
    {
        return Ok(resp);
    }
    let report = read_report(state, &query, headers, body).await?;
    *hostname = Some(report.hostname.clone());
    // Lines that could not be read were skipped and are kept with the report; a report with
    // nothing readable left is refused (an empty host would look clean).
    report
        .require_packages()
        .map_err(|e| AppError::BadRequest(format!("report for {}: {e}", report.hostname)))?;
    crate::limits::check_report(&report, &state.settings.limits)?;
    let dn = headers
        .get(CLIENT_DN_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|_| dn_header_believed(state, peer));
    let client_dn = dn
        .map(str::to_owned)
        .or_else(|| tls.and_then(|t| t.client.as_ref()).map(|c| c.dn.clone()));
    let origin = Origin {
        received_at: OffsetDateTime::now_utc(),
        peer,
        client_dn,
        trusted_proxy: trusted_proxy(state, peer, dn, tls, report.proxy).await,
    };
    let verdict = crate::identity::check(state, &report, &origin).await?;
    let outcome = if verdict == crate::identity::Verdict::Held {
        // Kept apart for an admin (`/identity-conflicts`); the host is unchanged.
        ingest::Outcome {
            unchanged: true,
            ..ingest::Outcome::default()
        }
    } else if state.settings.evaluation == crate::settings::Evaluation::Async
        && report.mode != Mode::ReportOnly
    {
        crate::worker::enqueue(state, &report, &origin).await?
    } else {
        ingest::process(&state.engine, &report, &origin).await?
    };
    if verdict == crate::identity::Verdict::Held {
        state.engine.metrics().processed("held");
    } else {
        state.engine.metrics().outcome(&outcome);
    }
    if !outcome.unchanged {
        state.engine.fleet_changed();
    }
    if let crate::identity::Verdict::NewHost(seen) = &verdict {
        crate::identity::bind_new(state, &report, seen).await?;
    }
    // Tagged-CVE lines say which hosts are exposed to what: like Pakiti 3, send them only
    // over HTTPS.
    let report_back: &[pakiti_api::reply::TaggedCveLine] = if over_https(state, peer, tls, headers)
    {
        &outcome.report_back
    } else {
        &[]
    };
    // Debug formatting escapes what the client sent (newlines, ESC): no forged log lines.
    tracing::info!(
        host = ?report.hostname,
        packages = report.packages.len(),
        unreadable = report.unreadable.count,
        unchanged = outcome.unchanged,
        queued = outcome.queued,
        findings = outcome.findings,
        "report"
    );
    // Remember the exact bytes of a plain stored report, so that the same bytes next time
    // are recognised without parsing (the nightly unchanged report of most hosts).
    if let Some(key) = raw_key
        && outcome.stored
        && !outcome.queued
        && !report.proxy
        && report.mode == Mode::StoreOnly
    {
        let identity = ingest::identity_of(&report);
        if let Some((host, hash, _)) = state.engine.last_hash(&identity) {
            state.engine.remember_body(
                key,
                pakiti_engine::SeenBody {
                    identity,
                    host,
                    hash,
                    hostname: report.hostname.clone(),
                    site: report.site.clone(),
                    tag: report.tag.clone(),
                },
            );
        }
    }
    if wants_json {
        let reply = json::JsonReply {
            status: json::ReplyStatus::Ok,
            stored: outcome.stored,
            host: report.hostname.clone(),
            findings: outcome.findings as u64,
            report_back: report_back
                .iter()
                .map(|l| {
                    format!(
                        "{}\t{}\t{}\t{}\t{}",
                        l.name, l.version_release, l.arch, l.cve, l.tag
                    )
                })
                .collect(),
            // Our agent prints this; the old clients only compare the body with `OK`.
            message: report.unreadable.lines.first().map(|p| {
                format!(
                    "{} line(s) of the report could not be read and were skipped; line {}: {}",
                    report.unreadable.count, p.line, p.reason
                )
            }),
        };
        return Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            reply.render(),
        )
            .into_response());
    }
    let body = if report.mode.reports_back() && protocol4 {
        reply::render_v2(&outcome.upgrades)
    } else if report.mode.reports_back() {
        reply::render_v3(report_back)
    } else {
        reply::OK.to_owned()
    };
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response())
}
