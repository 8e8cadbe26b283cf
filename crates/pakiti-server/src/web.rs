//! What every server-rendered page shares (askama templates, escaped by default; no
//! JavaScript needed): [`render`], query-string helpers, the stylesheet and the security
//! headers of every answer. The pages themselves live with their resource in the `handlers`
//! modules (this module imports none of them).
//!
//! Each page takes the [`Viewer`](crate::auth::Viewer) and shows only what its scope allows;
//! every list page also answers `?format=csv` and `?format=json` with every matching row (see
//! [`crate::export`]). Forms carry the viewer's CSRF token and redirect back (303) after a
//! change; the handlers that take them use [`AdminForm`](crate::auth::AdminForm).

use askama::Template;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use crate::error::AppError;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Renders a page.
///
/// # Errors
/// The template fails.
pub fn render(t: &impl Template) -> Result<Response, AppError> {
    let html = t
        .render()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("template: {e}")))?;
    Ok(Html(html).into_response())
}

/// "3 h ago" for an RFC 3339 time, from now ("in 2 days" for a future one); the text itself
/// when it is not a time.
#[must_use]
pub fn ago(rfc3339: &str) -> String {
    use time::format_description::well_known::Rfc3339;
    let Ok(t) = time::OffsetDateTime::parse(rfc3339, &Rfc3339) else {
        return rfc3339.to_owned();
    };
    let secs = (time::OffsetDateTime::now_utc() - t).whole_seconds();
    let (n, future) = (secs.unsigned_abs(), secs < 0);
    let text = match n {
        0..60 => return "just now".to_owned(),
        60..3600 => format!("{} min", n / 60),
        3600..86_400 => format!("{} h", n / 3600),
        86_400..172_800 => "1 day".to_owned(),
        _ => format!("{} days", n / 86_400),
    };
    if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

/// `<time datetime="…" title="…">3 h ago</time>`: a relative time with the exact timestamp
/// on hover, for every page (escaped here; templates mark it `|safe`). Empty input gives "—".
#[must_use]
pub fn time_tag(rfc3339: &str) -> String {
    if rfc3339.is_empty() {
        return "—".to_owned();
    }
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    format!(
        "<time datetime=\"{0}\" title=\"{0}\">{1}</time>",
        esc(rfc3339),
        esc(&ago(rfc3339))
    )
}

/// What a query-string value keeps unencoded: RFC 3986's unreserved characters plus `,` and
/// `:` (CVE lists and streams stay readable in links).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b',')
    .remove(b':');

/// Percent-encodes a query-string value.
#[must_use]
pub fn enc(s: &str) -> String {
    utf8_percent_encode(s, QUERY_VALUE).to_string()
}

/// A sortable column header.
pub struct SortLink {
    /// Label.
    pub label: &'static str,
    /// Link target (query string).
    pub href: String,
    /// `▲`, `▼` or empty.
    pub arrow: &'static str,
    /// Right-aligned.
    pub num: bool,
}

/// `?qs&extra` (for templates).
#[must_use]
pub fn qs_for(qs: &str, extra: &str) -> String {
    with(qs, extra)
}

/// `?qs&extra`.
#[must_use]
pub fn with(qs: &str, extra: &str) -> String {
    match (qs.is_empty(), extra.is_empty()) {
        (true, _) => format!("?{extra}"),
        (false, true) => format!("?{qs}"),
        (false, false) => format!("?{qs}&{extra}"),
    }
}

/// A form acting on one row by id.
#[derive(Debug, Deserialize)]
pub struct IdForm {
    /// Row id.
    pub id: i64,
    /// For toggles: the new state.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// The stylesheet.
pub async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../static/pakiti.css"),
    )
}

/// The `Content-Security-Policy` of every answer: no scripts at all, styles from the
/// stylesheet (and the few `style=` attributes), forms only to this server, never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers to every answer (a handler's own value wins): CSP,
/// `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy: same-origin`.
pub async fn security_headers(mut resp: axum::response::Response) -> axum::response::Response {
    use axum::http::HeaderValue;
    let h = resp.headers_mut();
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "same-origin"),
    ] {
        if !h.contains_key(name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    }
    resp
}

/// Reads a `since=` value: `YYYY-MM-DD` (midnight UTC) or RFC 3339.
///
/// # Errors
/// Neither form: the message for a 400.
pub fn parse_since(s: &str) -> Result<time::OffsetDateTime, String> {
    let s = s.trim();
    if let Ok(t) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Ok(t);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &fmt)
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| format!("since {s:?}: use a date (2026-12-31) or an RFC 3339 time"))
}
