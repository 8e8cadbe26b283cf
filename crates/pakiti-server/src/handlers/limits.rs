//! The limits page: `GET /limits` and `GET /api/v1/limits` (administrators) list every limit
//! the server enforces — the `[limits]` hardening values, the rate limits, the log-in limiter
//! and the bounded tables — with the value in force, its default, unit and meaning, from one
//! [`catalogue`]. README's "Limits" table is the same list (a test keeps them equal).
//!
//! Also the API token rate limit ([`token_rate_limit`], a middleware of every route): the
//! `/feed/` limit is in `handlers/report.rs`, the limiters themselves in `crate::ratelimit`.

use askama::Template;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::api_types::{AdminRefusals, ApiLimit};
use crate::auth::Admin;
use crate::error::AppError;
use crate::settings::Settings;
use crate::state::AppState;
use crate::web::{VERSION, render};

/// How one row reads its value from the settings.
type Read = fn(&Settings) -> String;

/// Every enforced limit: setting, unit, meaning, how to read it.
const ROWS: &[(&str, &str, &str, Read)] = &[
    (
        "max_report_bytes",
        "bytes",
        "Largest report body, after decompression (a gzip or deflate bomb stops here); 413 beyond.",
        |s| s.max_report_bytes.to_string(),
    ),
    (
        "limits.max_packages",
        "packages",
        "Packages one report may list; 413 beyond, before anything is stored.",
        |s| s.limits.max_packages.to_string(),
    ),
    (
        "limits.max_hostname_bytes",
        "bytes",
        "Longest host name (never more than 253, a DNS name's limit); 400 beyond.",
        |s| s.limits.max_hostname_bytes.to_string(),
    ),
    (
        "limits.max_package_name_bytes",
        "bytes",
        "Longest package name and source package name; 400 beyond.",
        |s| s.limits.max_package_name_bytes.to_string(),
    ),
    (
        "limits.max_package_version_bytes",
        "bytes",
        "Longest package version and architecture; 400 beyond.",
        |s| s.limits.max_package_version_bytes.to_string(),
    ),
    (
        "limits.max_field_bytes",
        "bytes",
        "Longest report header field (OS, kernel, arch, CPU, tag, site, IP, client id); 400 beyond.",
        |s| s.limits.max_field_bytes.to_string(),
    ),
    (
        "limits.max_body_memory_bytes",
        "bytes",
        "Report bodies held in memory at once over all requests; 503 with Retry-After beyond.",
        |s| s.limits.max_body_memory_bytes.to_string(),
    ),
    (
        "limits.max_concurrent_decryptions",
        "decryptions",
        "S/MIME decryptions running at once (one RSA operation per report); more wait.",
        |s| s.limits.max_concurrent_decryptions.to_string(),
    ),
    (
        "limits.header_read_timeout_secs",
        "seconds",
        "Time to send a request's headers, and an idle keep-alive connection's life; closed beyond.",
        |s| s.limits.header_read_timeout_secs.to_string(),
    ),
    (
        "limits.body_read_timeout_secs",
        "seconds",
        "Time to send a request body; 408 beyond.",
        |s| s.limits.body_read_timeout_secs.to_string(),
    ),
    (
        "limits.max_connections_per_address",
        "connections",
        "Open connections from one client address; more are closed at once.",
        |s| s.limits.max_connections_per_address.to_string(),
    ),
    (
        "limits.max_connections",
        "connections",
        "Open connections in all; more are closed at once.",
        |s| s.limits.max_connections.to_string(),
    ),
    (
        "limits.feed_rate_per_minute",
        "reports/minute",
        "Reports per client address to POST /feed/ after the burst; 429 with Retry-After beyond; 0: off.",
        |s| s.limits.feed_rate_per_minute.to_string(),
    ),
    (
        "limits.feed_burst",
        "reports",
        "Reports one client address may send at once before the rate applies.",
        |s| s.limits.feed_burst.to_string(),
    ),
    (
        "limits.feed_rate_forwarded_for",
        "true/false",
        "A trusted proxy's reports are limited per the X-Forwarded-For address it adds (true) or not at all (false).",
        |s| s.limits.feed_rate_forwarded_for.to_string(),
    ),
    (
        "limits.api_token_rate_per_minute",
        "requests/minute",
        "Requests per API token (Authorization: Bearer) after the burst; 429 with Retry-After beyond; 0: off.",
        |s| s.limits.api_token_rate_per_minute.to_string(),
    ),
    (
        "limits.api_token_burst",
        "requests",
        "Requests one API token may make at once before the rate applies.",
        |s| s.limits.api_token_burst.to_string(),
    ),
    (
        "auth.login_max_failures",
        "failed log-ins",
        "Failed log-ins per client address and per user name within the window; 429 with Retry-After beyond; 0: off.",
        |s| s.auth.login_max_failures.to_string(),
    ),
    (
        "auth.login_window_secs",
        "seconds",
        "The sliding window of auth.login_max_failures.",
        |s| s.auth.login_window_secs.to_string(),
    ),
    (
        "refused_reports_kept",
        "reports",
        "Refused reports kept (the newest) for /reports/refused; a rate-limited client adds one per episode.",
        |s| s.refused_reports_kept.to_string(),
    ),
];

/// Every limit the server enforces under `settings`, in the order of README's table.
#[must_use]
pub fn catalogue(settings: &Settings) -> Vec<ApiLimit> {
    let defaults = Settings::default();
    ROWS.iter()
        .map(|(setting, unit, meaning, read)| ApiLimit {
            setting: (*setting).to_owned(),
            value: read(settings),
            default: read(&defaults),
            unit: (*unit).to_owned(),
            meaning: (*meaning).to_owned(),
        })
        .collect()
}

/// `GET /api/v1/limits`.
///
/// # Errors
/// Not an administrator (401/403).
#[utoipa::path(
    get,
    path = "/api/v1/limits",
    operation_id = "limits_list",
    tag = "ops",
    responses(
        (status = 200, description = "Every limit the server enforces, with the value in force and its default", body = [ApiLimit]),
        AdminRefusals
    )
)]
pub async fn api_list(State(state): State<AppState>, _admin: Admin) -> Json<Vec<ApiLimit>> {
    Json(catalogue(&state.settings))
}

#[derive(Template)]
#[template(path = "limits.html")]
struct LimitsPage {
    version: &'static str,
    limits: Vec<ApiLimit>,
}

/// `GET /limits`: the same list as a page.
///
/// # Errors
/// Not an administrator (401/403), a template failure.
pub async fn page(State(state): State<AppState>, _admin: Admin) -> Result<Response, AppError> {
    render(&LimitsPage {
        version: VERSION,
        limits: catalogue(&state.settings),
    })
}

/// Middleware of every route: a request with `Authorization: Bearer TOKEN` takes one token of
/// that API token's bucket (`[limits] api_token_rate_per_minute`, keyed by the token's SHA-256,
/// before the token is looked up, so it holds for unknown tokens too); an empty bucket answers
/// 429 with `Retry-After` and a JSON error. `/metrics` (whose scrape token is no API token)
/// and the agents' `/feed/` (limited per address) are left out.
pub async fn token_rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !state.token_limiter.enabled() {
        return next.run(req).await;
    }
    let path = req.uri().path();
    let exempt = path == "/metrics" || path.contains("/feed");
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token.filter(|_| !exempt) else {
        return next.run(req).await;
    };
    let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    match state.token_limiter.check(&key, std::time::Instant::now()) {
        Ok(()) => next.run(req).await,
        Err(limited) => {
            let limits = &state.settings.limits;
            let secs = limited.retry_after_secs();
            tracing::warn!(path = ?path, retry_after = secs, "API token rate limited");
            AppError::RateLimited {
                message: format!(
                    "rate limited: more than {} requests a minute (burst {}) with this API token; retry after {secs} s",
                    limits.api_token_rate_per_minute,
                    limits.api_token_burst.max(1),
                ),
                retry_after_secs: secs,
            }
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// README's "Limits" table is this catalogue at the defaults: one row per setting, in the
    /// same order, with the same default and unit.
    #[test]
    fn the_readme_lists_every_limit_with_its_default() {
        let readme = include_str!("../../../../README.md");
        let section = readme
            .split("\n## ")
            .find(|s| s.starts_with("Limits"))
            .expect("README has a Limits section");
        let rows: Vec<&str> = section.lines().filter(|l| l.starts_with("| `")).collect();
        let table: Vec<String> = catalogue(&Settings::default())
            .iter()
            .map(|l| format!("| `{}` | {} | {} |", l.setting, l.default, l.unit))
            .collect();
        let mut at = 0;
        for want in &table {
            let found = rows[at..]
                .iter()
                .position(|r| r.starts_with(want.as_str()))
                .unwrap_or_else(|| panic!("README's Limits table lacks (or misorders) {want}"));
            at += found + 1;
        }
        // Every setting row of the README's table is in the catalogue.
        for r in &rows {
            let name = r.split('`').nth(1).unwrap_or("");
            assert!(
                ROWS.iter().any(|(s, ..)| *s == name),
                "README lists {name}, which the limits page does not"
            );
        }
        // `pakiti default-config`'s example sets every limit to its default.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pakiti.toml");
        std::fs::write(&path, crate::settings::EXAMPLE).unwrap();
        let example = Settings::load(Some(&path), Vec::new()).unwrap();
        for l in catalogue(&example) {
            assert_eq!(l.value, l.default, "the example's {}", l.setting);
        }
        // Every catalogued setting exists: the defaults differ from a changed value.
        let mut changed = Settings::default();
        changed.limits.feed_rate_per_minute = 7;
        let c = catalogue(&changed);
        let row = c
            .iter()
            .find(|l| l.setting == "limits.feed_rate_per_minute")
            .unwrap();
        assert_eq!((row.value.as_str(), row.default.as_str()), ("7", "0"));
    }
}
