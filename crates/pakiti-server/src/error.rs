//! The one error type at the HTTP edge.
//!
//! A 4xx carries a message meant for the client (what was wrong with the request); a 5xx
//! answers with a generic body and logs the whole error chain server-side, so internal details
//! never leak. Feed endpoint answers keep Pakiti's shape: `ERROR` plus the reason. A browser
//! (`Accept: text/html`) gets every error as an HTML page instead ([`html_errors`]).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pakiti_engine::ingest::IngestError;

/// An error answered to an HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed (400), with a reason for the client.
    #[error("{0}")]
    BadRequest(String),
    /// The body is too large (413).
    #[error("{0}")]
    TooLarge(String),
    /// The body's media type or encoding is not one we read (415).
    #[error("{0}")]
    Unsupported(String),
    /// The client did not say who it is, or said it wrongly (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The client may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// Nothing by that name (404).
    #[error("{0}")]
    NotFound(String),
    /// Try again later (503), with a reason for the client.
    #[error("{0}")]
    Unavailable(String),
    /// The request conflicts with the current state (409), e.g. removing the last admin.
    #[error("{0}")]
    Conflict(String),
    /// The client was too slow sending its request (408).
    #[error("{0}")]
    Timeout(String),
    /// The client sent more requests than its rate limit allows (429, with `Retry-After`).
    #[error("{message}")]
    RateLimited {
        /// Why, for the client.
        message: String,
        /// `Retry-After`, in seconds.
        retry_after_secs: u64,
    },
    /// Something failed on our side (500); the source is logged, not shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// The HTTP status for this error.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unsupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            // A transient store failure (deadlock, serialization failure, pool exhausted) is
            // worth retrying: an agent must never be told its report is wrong for it.
            AppError::Internal(e) if is_transient(e) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message shown to the client.
    #[must_use]
    pub fn public_message(&self) -> String {
        match self {
            AppError::Internal(e) if is_transient(e) => {
                "the store is busy; try again later".to_owned()
            }
            AppError::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        }
    }

    /// Logs the error: the full chain for 5xx, the reason for 4xx.
    pub fn log(&self) {
        match self {
            AppError::Internal(e) => tracing::error!(error = format!("{e:#}"), "request failed"),
            other => {
                tracing::info!(status = other.status().as_u16(), reason = ?other.to_string(), "request rejected")
            }
        }
    }

    /// The Pakiti feed-endpoint form of the error: `ERROR: reason`.
    #[must_use]
    pub fn into_feed_response(self) -> Response {
        self.log();
        let mut resp =
            (self.status(), format!("ERROR: {}\n", self.public_message())).into_response();
        add_retry_after(&mut resp, &self);
        resp
    }
}

/// The `Retry-After` every 503 carries, in seconds.
pub const RETRY_AFTER_SECS: u64 = 30;

/// Adds `Retry-After` to a 503 and to a 429 (its own delay).
fn add_retry_after(resp: &mut Response, e: &AppError) {
    let secs = match e {
        AppError::RateLimited {
            retry_after_secs, ..
        } => *retry_after_secs,
        _ if resp.status() == StatusCode::SERVICE_UNAVAILABLE => RETRY_AFTER_SECS,
        _ => return,
    };
    resp.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from(secs),
    );
}

/// Whether an internal error is a transient store failure worth retrying.
fn is_transient(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<pakiti_store::StoreError>()
            .is_some_and(pakiti_store::StoreError::is_transient)
    })
}

/// Every store error has one status, whichever handler meets it. The match is exhaustive on
/// purpose: a new variant must be given a status here.
///
/// | store error | status |
/// |---|---|
/// | `Duplicate`, `DuplicateFeed` (a name or key taken) | 400 |
/// | `Invalid` (a value the store cannot hold) | 400 |
/// | `NotFound` | 404 |
/// | `LastAdmin` (the change would leave no administrator) | 409 |
/// | `Database` when transient (deadlock, serialization, busy, pool timeout) | 503 + `Retry-After` |
/// | `Database` otherwise, `Migrate`, `Corrupt`, `UnsupportedUrl` | 500 |
impl From<pakiti_store::StoreError> for AppError {
    fn from(e: pakiti_store::StoreError) -> Self {
        use pakiti_store::StoreError as E;
        match e {
            E::Duplicate(m) | E::Invalid(m) => AppError::BadRequest(m),
            E::DuplicateFeed(_) => AppError::BadRequest(e.to_string()),
            E::NotFound { .. } => AppError::NotFound(e.to_string()),
            E::LastAdmin(_) => AppError::Conflict(e.to_string()),
            // `status()` answers 503 for the transient ones.
            E::Database(_) | E::Migrate(_) | E::Corrupt { .. } | E::UnsupportedUrl => {
                AppError::Internal(e.into())
            }
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let body =
            serde_json::json!({ "error": self.public_message(), "status": self.status().as_u16() });
        let mut resp = (self.status(), axum::Json(body)).into_response();
        add_retry_after(&mut resp, &self);
        resp
    }
}

/// The HTML form of an error, for browsers.
#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage {
    version: &'static str,
    status: u16,
    reason: &'static str,
    message: String,
}

/// The largest error body read back to be shown as HTML.
const ERROR_BODY_LIMIT: usize = 16 * 1024;

/// Whether the client asked for HTML first (a browser navigating): `Accept` names
/// `text/html` before any JSON type. API clients (no `Accept`, `*/*`, `application/json`)
/// keep the JSON body.
fn wants_html(headers: &axum::http::HeaderMap) -> bool {
    let Some(accept) = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let accept = accept.to_ascii_lowercase();
    match (accept.find("text/html"), accept.find("json")) {
        (Some(h), Some(j)) => h < j,
        (Some(_), None) => true,
        _ => false,
    }
}

/// Middleware of every route: an error answer (4xx, 5xx) to a client that asked for HTML is an
/// HTML page (the layout of every page, the status and the message), whatever produced it — a
/// handler's [`AppError`] (JSON), an extractor's rejection (text) or an unknown route (empty).
/// Status and headers such as `Retry-After` are kept; other clients get the answer unchanged.
pub async fn html_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let html = wants_html(req.headers());
    let resp = next.run(req).await;
    let status = resp.status();
    if !html || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_html = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, ERROR_BODY_LIMIT)
        .await
        .unwrap_or_default();
    let message = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes).trim().to_owned());
    let reason = status.canonical_reason().unwrap_or("error");
    let message = if message.is_empty() {
        match status {
            StatusCode::NOT_FOUND => "There is no page at this address.".to_owned(),
            StatusCode::METHOD_NOT_ALLOWED => "This address does not take that method.".to_owned(),
            _ => reason.to_owned(),
        }
    } else {
        message
    };
    let page = ErrorPage {
        version: env!("CARGO_PKG_VERSION"),
        status: status.as_u16(),
        reason,
        message,
    };
    let html = askama::Template::render(&page).unwrap_or_else(|_| {
        format!(
            "<!doctype html><title>{}</title><p>{}</p>",
            status.as_u16(),
            reason
        )
    });
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Response::from_parts(parts, axum::body::Body::from(html))
}

/// How the engine's refusal of a report is answered.
impl From<IngestError> for AppError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Invalid(m) => AppError::BadRequest(m),
            IngestError::NotTrustedProxy(m) => AppError::Forbidden(m),
            e @ IngestError::FeedsKeptChanging => AppError::Unavailable(e.to_string()),
            // The store's error stays in the chain: a transient one is answered 503.
            e @ (IngestError::Store { .. } | IngestError::CatchUp(_)) => {
                AppError::Internal(anyhow::Error::new(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pakiti_store::StoreError;

    #[test]
    fn every_store_error_has_one_status() {
        for (e, status) in [
            (StoreError::Duplicate("a user named x exists".into()), 400),
            (StoreError::DuplicateFeed("f".into()), 400),
            (StoreError::Invalid("empty".into()), 400),
            (
                StoreError::NotFound {
                    what: "host",
                    id: "h".into(),
                },
                404,
            ),
            (StoreError::LastAdmin("root".into()), 409),
            (StoreError::Database(sqlx_pool_timeout()), 503),
            (StoreError::UnsupportedUrl, 500),
            (
                StoreError::Corrupt {
                    what: "stream",
                    detail: "x".into(),
                },
                500,
            ),
        ] {
            let shown = e.to_string();
            let app = AppError::from(e);
            assert_eq!(app.status().as_u16(), status, "{shown}");
            if status < 500 {
                assert!(shown.contains(&app.public_message()), "{shown}");
            }
        }
    }

    fn sqlx_pool_timeout() -> sqlx::Error {
        sqlx::Error::PoolTimedOut
    }
}
