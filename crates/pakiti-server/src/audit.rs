//! Request ids and the audit log's recorders.
//!
//! Every request gets an id: a client-sent `X-Request-Id` that is sane (1–64 characters of
//! `A-Z a-z 0-9 . _ : -`) is kept, anything else is replaced by a new UUID; the reply carries
//! it back, and the request's span ([`request_span`]: `request_id`, method, path) is on every
//! log line the request causes.
//!
//! The audit log (the store's `audit_log`, bounded by `[log] audit_kept`) records every
//! administrative change in one place rather than in each handler: [`record`] is a route
//! layer over every state-changing request (POST, PUT, PATCH, DELETE) but the agents'
//! `/feed/` and `/login` (which [`record_login`] records with the name tried). It records the
//! author (the `Viewer` the handler authenticated, filled into an [`ActorSlot`] by
//! `auth`; `-` when there was none), the method and route, the route's parameters, the status
//! answered and the time; never a body, so never a password, a token or a CSRF value. The
//! CLI's admin commands record through [`record_cli`] with the author `cli:$USER`.

use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use pakiti_store::NewAuditEntry;
use time::OffsetDateTime;

use crate::state::AppState;

/// The request id header.
pub const REQUEST_ID: &str = "x-request-id";

/// Where the authenticated author of a request is left for [`record`]: the middleware puts
/// an empty slot in the request's extensions, the `Viewer` extractor fills it.
#[derive(Clone, Debug, Default)]
pub struct ActorSlot(Arc<Mutex<Option<(String, bool)>>>);

impl ActorSlot {
    /// Sets the author (`bearer`: authenticated by an API token).
    pub fn set(&self, name: String, bearer: bool) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some((name, bearer));
        }
    }

    fn get(&self) -> Option<(String, bool)> {
        self.0.lock().ok().and_then(|s| s.clone())
    }
}

/// Whether a client-sent request id is kept: short, and only characters that cannot break a
/// log line or a header.
#[must_use]
pub fn sane_request_id(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    (1..=64).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b':' | b'-'))
}

/// Drops a client-sent request id that is not sane, so that a new one is made for it.
pub async fn drop_insane_request_id(mut req: Request, next: Next) -> Response {
    if req
        .headers()
        .get(REQUEST_ID)
        .is_some_and(|v| !sane_request_id(v))
    {
        req.headers_mut().remove(REQUEST_ID);
    }
    next.run(req).await
}

/// The span of one request, on every log line it causes.
pub fn request_span<B>(req: &axum::http::Request<B>) -> tracing::Span {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path()
    )
}

/// Routes whose POSTs are not administrative changes: the agents' reports, and the log-in
/// (recorded by [`record_login`], which knows the name tried).
fn exempt(route: &str) -> bool {
    matches!(
        route,
        "/feed/" | "/feed" | "/pakiti/feed/" | "/pakiti/feed" | "/login"
    )
}

/// The route's parameters as `name=value` pairs (percent-decoded), from its template
/// (`/users/{name}/tokens/{id}`) and the path.
fn params(route: &str, path: &str) -> String {
    route
        .split('/')
        .zip(path.split('/'))
        .filter_map(|(t, v)| {
            let name = t.strip_prefix('{')?.strip_suffix('}')?;
            let value = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
            Some(format!("{name}={value}"))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The audit middleware of every route (a route layer, so the matched route is known).
pub async fn record(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if !matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) {
        return next.run(req).await;
    }
    let path = req.uri().path().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| path.clone(), |m| m.as_str().to_owned());
    if exempt(&route) {
        return next.run(req).await;
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let action = format!("{} {route}", req.method());
    let slot = ActorSlot::default();
    req.extensions_mut().insert(slot.clone());
    let resp = next.run(req).await;
    let (actor, bearer) = slot.get().unwrap_or_else(|| ("-".to_owned(), false));
    let mut detail = Vec::new();
    if let Some(p) = peer {
        detail.push(format!("from {p}"));
    }
    if bearer {
        detail.push("API token".to_owned());
    }
    let entry = NewAuditEntry {
        at: OffsetDateTime::now_utc(),
        actor,
        via: if route.starts_with("/api/") {
            "api"
        } else {
            "web"
        }
        .to_owned(),
        action,
        target: params(&route, &path),
        detail: detail.join(", "),
        status: resp.status().as_u16().to_string(),
    };
    save(&state, &entry).await;
    resp
}

/// `s` fit for one log line: control characters (newline, ESC …) escaped, so a client's
/// string can neither forge a line nor reach a terminal.
#[must_use]
pub fn log_safe(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let esc: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            esc
        })
        .collect()
}

/// Appends `entry`; a failure is logged, never answered (the change itself is done).
pub async fn save(state: &AppState, entry: &NewAuditEntry) {
    tracing::info!(
        actor = %log_safe(&entry.actor),
        via = %entry.via,
        action = %log_safe(&entry.action),
        target = %log_safe(&entry.target),
        status = %entry.status,
        "audit"
    );
    let keep = i64::from(state.settings.log.audit_kept);
    if let Err(e) = state.store.record_audit(entry, keep).await {
        tracing::warn!(error = %e, "could not record an audit entry");
    }
}

/// Records a log-in attempt: `status` is `ok`, `failed` or `throttled`; the actor is the name
/// tried (cut to 200 characters).
pub async fn record_login(state: &AppState, name: &str, client: &str, status: &str) {
    let actor: String = name.chars().take(200).collect();
    let entry = NewAuditEntry {
        at: OffsetDateTime::now_utc(),
        actor,
        via: "web".to_owned(),
        action: "login".to_owned(),
        target: String::new(),
        detail: format!("from {client}"),
        status: status.to_owned(),
    };
    save(state, &entry).await;
}

/// The CLI's author: `cli:` and the login name of who runs it.
#[must_use]
pub fn cli_actor() -> String {
    let user = ["USER", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".to_owned());
    format!("cli:{user}")
}

/// `url` without what may be a secret: user information (`user:password@`) and the query.
#[must_use]
pub fn redact_url(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or_default();
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        None => url.to_owned(),
    }
}

/// Records an admin command of the CLI (`action`: `user add`, `host retire` …) on `target`,
/// with `detail` (never a secret) and whether it succeeded; hands `result` back.
pub async fn record_cli<T>(
    state: &AppState,
    action: &str,
    target: &str,
    detail: &str,
    result: anyhow::Result<T>,
) -> anyhow::Result<T> {
    let entry = NewAuditEntry {
        at: OffsetDateTime::now_utc(),
        actor: cli_actor(),
        via: "cli".to_owned(),
        action: action.to_owned(),
        target: target.to_owned(),
        detail: detail.to_owned(),
        status: if result.is_ok() { "ok" } else { "error" }.to_owned(),
    };
    save(state, &entry).await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_kept_only_when_sane() {
        for ok in ["abc", "0f3c-11.x_y:z", &"a".repeat(64)] {
            assert!(sane_request_id(&HeaderValue::from_str(ok).unwrap()), "{ok}");
        }
        for bad in ["", "a b", "a\"b", "<script>", &"a".repeat(65), "é"] {
            let v = HeaderValue::from_bytes(bad.as_bytes()).unwrap();
            assert!(!sane_request_id(&v), "{bad}");
        }
    }

    #[test]
    fn log_lines_cannot_be_forged() {
        assert_eq!(log_safe("a\nINFO x\u{1b}]0"), "a\\nINFO x\\u{1b}]0");
        assert_eq!(log_safe("wn01.example.org é"), "wn01.example.org é");
    }

    #[test]
    fn urls_lose_credentials_and_queries() {
        assert_eq!(
            redact_url("https://u:pw@example.org/a/b?key=s3cret"),
            "https://example.org/a/b"
        );
        assert_eq!(redact_url("/srv/feeds/x.xml"), "/srv/feeds/x.xml");
        assert_eq!(redact_url("http://h"), "http://h");
    }

    #[test]
    fn route_parameters_are_the_target() {
        assert_eq!(
            params(
                "/users/{name}/tokens/{id}/revoke",
                "/users/al%20ice/tokens/7/revoke"
            ),
            "name=al ice id=7"
        );
        assert_eq!(params("/api/v1/users", "/api/v1/users"), "");
    }
}
