//! Log-in and log-out: `GET/POST /login` (built-in accounts: a double-submit CSRF cookie,
//! argon2 verification, the failed-log-in limit of [`crate::ratelimit`]) and `GET/POST /logout`.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use crate::auth::{
    self, LOGIN_CSRF_COOKIE, SESSION_COOKIE, Viewer, check_csrf, cookie, random_token, set_cookie,
    sha256_hex,
};
use crate::error::AppError;
use crate::settings::AuthMode;
use crate::state::AppState;
use crate::web::{VERSION, render};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    version: &'static str,
    csrf: String,
    next: String,
    error: String,
}

/// `?next=` of the log-in page.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NextQuery {
    /// Where to go after logging in.
    pub next: Option<String>,
}

/// Only local paths: no open redirects. Browsers drop tabs and newlines from a URL
/// (`/\t/evil.example/` is `//evil.example/`, another site) and read `\\` as `/`, and a
/// control character cannot go into a `Location` header at all: only printable ASCII, a
/// single leading `/`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

fn login_page(
    state: &AppState,
    next: &str,
    error: &str,
    status: StatusCode,
) -> Result<Response, AppError> {
    // Double submit: the form's token must equal the pre-session cookie's.
    let csrf = random_token();
    let mut r = render(&LoginPage {
        version: VERSION,
        csrf: csrf.clone(),
        next: next.to_owned(),
        error: error.to_owned(),
    })?;
    *r.status_mut() = status;
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state.settings, LOGIN_CSRF_COOKIE, &csrf, 3600)
            .parse()
            .map_err(|e| AppError::Internal(anyhow::anyhow!("cookie: {e}")))?,
    );
    Ok(r)
}

/// The address failed log-ins are counted against: the TCP peer, or, when the peer is one
/// of `auth.proxy_addresses`, the last `X-Forwarded-For` entry (the address that proxy saw;
/// entries before it are the client's to forge). Without connection info (in-process
/// requests), the unspecified address.
fn client_addr(
    state: &AppState,
    peer: Option<std::net::SocketAddr>,
    headers: &HeaderMap,
) -> std::net::IpAddr {
    let Some(peer) = peer.map(|p| p.ip()) else {
        return std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
    };
    let trusted = state
        .settings
        .auth
        .proxy_addresses
        .iter()
        .any(|spec| crate::net::cidr_contains(spec, peer));
    if !trusted {
        return peer;
    }
    crate::net::last_forwarded_for(headers).unwrap_or(peer)
}

/// `GET /login`.
///
/// # Errors
/// A template failure.
pub async fn login_form(
    State(state): State<AppState>,
    Query(q): Query<NextQuery>,
) -> Result<Response, AppError> {
    if state.settings.auth.mode != AuthMode::Accounts {
        return Ok((
            StatusCode::NOT_FOUND,
            "this server does not use built-in accounts (auth.mode is not \"accounts\")\n",
        )
            .into_response());
    }
    login_page(&state, &safe_next(q.next.as_deref()), "", StatusCode::OK)
}

/// The log-in form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    user: String,
    password: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /login`: checks the password, starts a session, redirects to `next`. Too many
/// failures from the client's address or for the user name (see [`crate::ratelimit`]) answer
/// 429 with `Retry-After` and the log-in page saying so, before the password is looked at.
///
/// # Errors
/// A missing or wrong CSRF token (403), or a store failure.
pub async fn login(
    State(state): State<AppState>,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, AppError> {
    if state.settings.auth.mode != AuthMode::Accounts {
        return Err(AppError::NotFound(
            "built-in accounts are not enabled".into(),
        ));
    }
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || expected != f.csrf {
        return Err(AppError::Forbidden(
            "the log-in form's CSRF token is missing or stale; reload the page".into(),
        ));
    }
    let next = safe_next(f.next.as_deref());
    let addr = client_addr(&state, peer.map(|p| p.0.0), &headers);
    let name = f.user.trim();
    let now = std::time::Instant::now();
    if let Err(wait) = state.login_limiter.attempt(addr, name, now) {
        tracing::warn!(user = ?name, client = %addr, "log-in refused: too many failed attempts");
        crate::audit::record_login(&state, name, &addr.to_string(), "throttled").await;
        let minutes = wait.as_secs().div_ceil(60);
        let mut r = login_page(
            &state,
            &next,
            &format!(
                "Too many failed log-ins from this address or for this user; try again in \
                 {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            ),
            StatusCode::TOO_MANY_REQUESTS,
        )?;
        r.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from(wait.as_secs().max(1)),
        );
        return Ok(r);
    }
    let user = state.store.get_user_by_name(name).await?;
    // Unknown users and users without a password cost the same argon2 verification as real
    // ones, so the answer time does not tell which names exist.
    let hash = user
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| auth::dummy_hash().to_owned());
    let password = f.password.clone();
    state.login_limiter.verifying();
    let verified = tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let ok = verified
        && user
            .as_ref()
            .is_some_and(|u| !u.disabled && u.password_hash.is_some());
    let Some(user) = user.filter(|_| ok) else {
        tracing::info!(user = ?f.user, client = %addr, "failed log-in");
        crate::audit::record_login(&state, name, &addr.to_string(), "failed").await;
        return login_page(
            &state,
            &next,
            "Wrong user name or password.",
            StatusCode::UNAUTHORIZED,
        );
    };
    let token = random_token();
    let hours = i64::from(state.settings.auth.session_hours.max(1));
    state
        .store
        .create_session(
            &sha256_hex(&token),
            user.id,
            &random_token(),
            OffsetDateTime::now_utc() + Duration::hours(hours),
        )
        .await?;
    state.login_limiter.success(addr, name, now);
    tracing::info!(user = %user.name, "logged in");
    crate::audit::record_login(&state, &user.name, &addr.to_string(), "ok").await;
    let mut r = Redirect::to(&next).into_response();
    let h = r.headers_mut();
    for c in [
        set_cookie(&state.settings, SESSION_COOKIE, &token, hours * 3600),
        set_cookie(&state.settings, LOGIN_CSRF_COOKIE, "", 0),
    ] {
        h.append(
            header::SET_COOKIE,
            c.parse()
                .map_err(|e| AppError::Internal(anyhow::anyhow!("cookie: {e}")))?,
        );
    }
    Ok(r)
}

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage {
    version: &'static str,
    user: String,
    csrf: String,
}

/// `GET /logout`: a confirmation form (log-out is a POST, with CSRF).
///
/// # Errors
/// A template failure.
pub async fn logout_form(viewer: Viewer) -> Result<Response, AppError> {
    render(&LogoutPage {
        version: VERSION,
        user: viewer.author(),
        csrf: viewer.csrf,
    })
}

/// The CSRF-only form.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`: ends the session.
///
/// # Errors
/// A wrong CSRF token (403) or a store failure.
pub async fn logout(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, AppError> {
    check_csrf(&viewer, &f.csrf)?;
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        state.store.delete_session(&sha256_hex(&token)).await?;
    }
    let to = if state.settings.auth.mode == AuthMode::Accounts {
        "/login"
    } else {
        "/"
    };
    let mut r = Redirect::to(to).into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state.settings, SESSION_COOKIE, "", 0)
            .parse()
            .map_err(|e| AppError::Internal(anyhow::anyhow!("cookie: {e}")))?,
    );
    Ok(r)
}
