//! Log-in and log-out, and the users & ACL pages and API (admin only).

use askama::Template;
use axum::Form;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use pakiti_store::{ApiTokenId, Grant, GrantKind, NewUser, StoreError, User, UserUpdate};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::auth::{
    self, LOGIN_CSRF_COOKIE, SESSION_COOKIE, Viewer, check_csrf, cookie, random_token, set_cookie,
    sha256_hex,
};
use crate::error::AppError;
use crate::settings::AuthMode;
use crate::state::AppState;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn render(t: &impl Template) -> Result<Response, AppError> {
    let html = t
        .render()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("template: {e}")))?;
    Ok(Html(html).into_response())
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn store_err(e: StoreError) -> AppError {
    match e {
        StoreError::Duplicate(m) | StoreError::Invalid(m) => AppError::BadRequest(m),
        other => other.into(),
    }
}

// ---- log in / log out ----

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
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .next_back()
        .and_then(|a| a.trim().parse().ok())
        .unwrap_or(peer)
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

// ---- users & ACL ----

/// A user as the pages and the API show it.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiUser {
    /// Name.
    pub name: String,
    /// Administrator (sees everything).
    pub admin: bool,
    /// Disabled.
    pub disabled: bool,
    /// Whether a password is set.
    pub has_password: bool,
    /// Grants as `kind:value`.
    pub grants: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
}

/// An API token as listed (never the secret).
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiTokenInfo {
    /// Id (to revoke it).
    pub id: ApiTokenId,
    /// Label.
    pub name: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, or empty.
    pub last_used_at: String,
}

async fn api_user(state: &AppState, u: &User) -> Result<ApiUser, AppError> {
    let grants = state.store.user_grants(u.id).await?;
    Ok(ApiUser {
        name: u.name.clone(),
        admin: u.admin,
        disabled: u.disabled,
        has_password: u.password_hash.is_some(),
        grants: grants
            .iter()
            .map(|g| format!("{}:{}", g.kind.as_str(), g.value))
            .collect(),
        created_at: rfc3339(u.created_at),
    })
}

async fn find_user(state: &AppState, name: &str) -> Result<User, AppError> {
    state
        .store
        .get_user_by_name(name)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no user named {name}")))
}

/// `?format=` of the users list.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FormatQuery {
    /// `html` (default), `csv` or `json`.
    pub format: Option<String>,
}

fn csv_field(s: &str) -> String {
    let s = &*crate::export::neutral(s);
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    version: &'static str,
    csrf: String,
    users: Vec<ApiUser>,
}

async fn all_users(state: &AppState) -> Result<Vec<ApiUser>, AppError> {
    let mut out = Vec::new();
    for u in state.store.list_users().await? {
        out.push(api_user(state, &u).await?);
    }
    Ok(out)
}

/// `GET /users` (also `?format=csv|json`).
///
/// # Errors
/// Not an admin (403) or a store failure.
pub async fn users_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    viewer.require_admin()?;
    let users = all_users(&state).await?;
    match q.format.as_deref().unwrap_or("html") {
        "json" => Ok(Json(users).into_response()),
        "csv" => {
            let mut s = String::from("name,admin,disabled,has_password,grants,created_at\n");
            for u in &users {
                s.push_str(&format!(
                    "{},{},{},{},{},{}\n",
                    csv_field(&u.name),
                    u.admin,
                    u.disabled,
                    u.has_password,
                    csv_field(&u.grants.join(" ")),
                    u.created_at
                ));
            }
            Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], s).into_response())
        }
        "html" => render(&UsersPage {
            version: VERSION,
            csrf: viewer.csrf,
            users,
        }),
        other => Err(AppError::BadRequest(format!(
            "unknown format {other:?}: html, csv or json"
        ))),
    }
}

#[derive(Template)]
#[template(path = "user.html")]
struct UserPage {
    version: &'static str,
    csrf: String,
    user: ApiUser,
    grants: Vec<GrantView>,
    tokens: Vec<ApiTokenInfo>,
    new_token: String,
}

struct GrantView {
    kind: &'static str,
    value: String,
}

async fn user_page(
    state: &AppState,
    viewer: &Viewer,
    name: &str,
    new_token: String,
) -> Result<Response, AppError> {
    let u = find_user(state, name).await?;
    let grants = state
        .store
        .user_grants(u.id)
        .await?
        .into_iter()
        .map(|g| GrantView {
            kind: g.kind.as_str(),
            value: g.value,
        })
        .collect();
    let tokens = tokens_of(state, &u).await?;
    render(&UserPage {
        version: VERSION,
        csrf: viewer.csrf.clone(),
        user: api_user(state, &u).await?,
        grants,
        tokens,
        new_token,
    })
}

async fn tokens_of(state: &AppState, u: &User) -> Result<Vec<ApiTokenInfo>, AppError> {
    Ok(state
        .store
        .list_api_tokens(u.id)
        .await?
        .into_iter()
        .map(|t| ApiTokenInfo {
            id: t.id,
            name: t.name,
            created_at: rfc3339(t.created_at),
            last_used_at: t.last_used_at.map(rfc3339).unwrap_or_default(),
        })
        .collect())
}

/// `GET /users/{name}`.
///
/// # Errors
/// Not an admin (403), unknown user (404).
pub async fn user_detail(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    viewer.require_admin()?;
    user_page(&state, &viewer, &name, String::new()).await
}

fn back_to(name: &str) -> Response {
    Redirect::to(&format!("/users/{}", auth::urlencode(name))).into_response()
}

/// The add-user form.
#[derive(Debug, Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    csrf: String,
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    admin: Option<String>,
}

/// Creates a user (shared by the form, the API and the CLI).
///
/// # Errors
/// Empty or taken name (400), a store failure.
pub async fn create_user(
    state: &AppState,
    name: &str,
    password: Option<&str>,
    admin: bool,
) -> Result<User, AppError> {
    let password_hash = match password.filter(|p| !p.is_empty()) {
        Some(p) => Some(auth::hash_password(p)?),
        None => None,
    };
    state
        .store
        .create_user(&NewUser {
            name: name.trim().to_owned(),
            password_hash,
            admin,
        })
        .await
        .map_err(store_err)
}

/// `POST /users`.
///
/// # Errors
/// Not an admin, bad CSRF (403), bad input (400).
pub async fn create_user_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(f): Form<NewUserForm>,
) -> Result<Response, AppError> {
    viewer.require_admin()?;
    check_csrf(&viewer, &f.csrf)?;
    let admin = f.admin.as_deref().is_some_and(|a| a == "true" || a == "on");
    let u = create_user(&state, &f.name, Some(&f.password), admin).await?;
    Ok(back_to(&u.name))
}

/// The set-password form.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    password: String,
}

/// `POST /users/{name}/password`.
///
/// # Errors
/// Not an admin, bad CSRF (403), unknown user (404).
pub async fn set_password_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    Form(f): Form<PasswordForm>,
) -> Result<Response, AppError> {
    viewer.require_admin()?;
    check_csrf(&viewer, &f.csrf)?;
    if f.password.is_empty() {
        return Err(AppError::BadRequest("the password is empty".into()));
    }
    let u = find_user(&state, &name).await?;
    let update = UserUpdate {
        password_hash: Some(Some(auth::hash_password(&f.password)?)),
        ..Default::default()
    };
    state
        .store
        .update_user(u.id, &update, keep_an_admin(&state))
        .await?;
    Ok(back_to(&name))
}

/// The admin-flag form.
#[derive(Debug, Deserialize)]
pub struct AdminForm {
    #[serde(default)]
    csrf: String,
    admin: String,
}

/// `POST /users/{name}/admin`.
///
/// # Errors
/// Not an admin, bad CSRF (403), unknown user (404).
pub async fn set_admin_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    Form(f): Form<AdminForm>,
) -> Result<Response, AppError> {
    viewer.require_admin()?;
    check_csrf(&viewer, &f.csrf)?;
    let u = find_user(&state, &name).await?;
    let update = UserUpdate {
        admin: Some(f.admin == "true"),
        ..Default::default()
    };
    state
        .store
        .update_user(u.id, &update, keep_an_admin(&state))
        .await?;
    Ok(back_to(&name))
}

/// A grant, as a form or JSON.
#[derive(Debug, Deserialize, Serialize)]
pub struct GrantForm {
    #[serde(default)]
    csrf: String,
    /// `group`, `domain` or `host`.
    pub kind: String,
    /// The name.
    pub value: String,
}

fn parse_grant(kind: &str, value: &str) -> Result<Grant, AppError> {
    let kind = GrantKind::from_name(kind).ok_or_else(|| {
        AppError::BadRequest(format!(
            "unknown grant kind {kind:?}: group, domain or host"
        ))
    })?;
    let value = value.trim();
    Ok(Grant {
        kind,
        value: if kind == GrantKind::Host {
            value.to_ascii_lowercase()
        } else {
            value.to_owned()
        },
    })
}

/// `POST /users/{name}/grants`.
///
/// # Errors
/// Not an admin, bad CSRF (403), unknown user (404), bad kind (400).
pub async fn add_grant_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    Form(f): Form<GrantForm>,
) -> Result<Response, AppError> {
    viewer.require_admin()?;
    check_csrf(&viewer, &f.csrf)?;
    let u = find_user(&state, &name).await?;
    state
        .store
        .add_grant(u.id, &parse_grant(&f.kind, &f.value)?)
        .await
        .map_err(store_err)?;
    Ok(back_to(&name))
}

/// `POST /users/{name}/grants/remove`.
///
/// # Errors
/// Not an admin, bad CSRF (403), unknown user (404).
pub async fn remove_grant_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    Form(f): Form<GrantForm>,
) -> Result<Response, AppError> {
    viewer.require_admin()?;
    check_csrf(&viewer, &f.csrf)?;
    let u = find_user(&state, &name).await?;
    state
        .store
        .remove_grant(u.id, &parse_grant(&f.kind, &f.value)?)
        .await?;
    Ok(back_to(&name))
}

/// The new-token form.
#[derive(Debug, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

/// Creates an API token for `user`, returning the secret (shown once).
///
/// # Errors
/// A store failure.
pub async fn create_token(
    state: &AppState,
    user: &User,
    label: &str,
) -> Result<(pakiti_store::ApiToken, String), AppError> {
    let token = format!("pakiti_{}", random_token());
    let label = if label.trim().is_empty() {
        "token"
    } else {
        label.trim()
    };
    let t = state
        .store
        .create_api_token(user.id, &sha256_hex(&token), label)
        .await?;
    Ok((t, token))
}

/// `POST /users/{name}/tokens`: shows the new token once.
///
/// # Errors
/// Not an admin, bad CSRF (403), unknown user (404).
pub async fn create_token_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    Form(f): Form<TokenForm>,
) -> Result<Response, AppError> {
    viewer.require_admin()?;
    check_csrf(&viewer, &f.csrf)?;
    let u = find_user(&state, &name).await?;
    let (_, token) = create_token(&state, &u, &f.name).await?;
    let mut r = user_page(&state, &viewer, &name, token).await?;
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(r)
}

async fn revoke(state: &AppState, name: &str, id: ApiTokenId) -> Result<(), AppError> {
    let u = find_user(state, name).await?;
    let mine = state
        .store
        .list_api_tokens(u.id)
        .await?
        .iter()
        .any(|t| t.id == id);
    if !mine || !state.store.revoke_api_token(id).await? {
        return Err(AppError::NotFound(format!("{name} has no token {id}")));
    }
    Ok(())
}

/// `POST /users/{name}/tokens/{id}/revoke`.
///
/// # Errors
/// Not an admin, bad CSRF (403), unknown user or token (404).
pub async fn revoke_token_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((name, id)): Path<(String, ApiTokenId)>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, AppError> {
    viewer.require_admin()?;
    check_csrf(&viewer, &f.csrf)?;
    revoke(&state, &name, id).await?;
    Ok(back_to(&name))
}

/// Whether user changes must keep an enabled administrator: with built-in accounts the last
/// one is the only way to administer the server from the web.
fn keep_an_admin(state: &AppState) -> bool {
    state.settings.auth.mode == AuthMode::Accounts
}

/// `POST /users/{name}/delete`.
///
/// # Errors
/// Not an admin, bad CSRF (403), unknown user (404).
pub async fn delete_user_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, AppError> {
    viewer.require_admin()?;
    check_csrf(&viewer, &f.csrf)?;
    let u = find_user(&state, &name).await?;
    state.store.delete_user(u.id, keep_an_admin(&state)).await?;
    Ok(Redirect::to("/users").into_response())
}

// ---- JSON API ----

/// `GET /api/v1/users`.
///
/// # Errors
/// Not an admin (403).
pub async fn api_list(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Json<Vec<ApiUser>>, AppError> {
    viewer.require_admin()?;
    Ok(Json(all_users(&state).await?))
}

/// The body of `POST /api/v1/users`.
#[derive(Debug, Deserialize)]
pub struct ApiNewUser {
    /// Name.
    pub name: String,
    /// Password, if any.
    #[serde(default)]
    pub password: Option<String>,
    /// Administrator.
    #[serde(default)]
    pub admin: bool,
    /// Grants as `kind:value`.
    #[serde(default)]
    pub grants: Vec<String>,
}

fn parse_grant_spec(spec: &str) -> Result<Grant, AppError> {
    let (k, v) = spec
        .split_once(':')
        .ok_or_else(|| AppError::BadRequest(format!("grant {spec:?} is not kind:value")))?;
    parse_grant(k, v)
}

/// `POST /api/v1/users` (cookie callers send `X-CSRF-Token`).
///
/// # Errors
/// Not an admin, bad CSRF (403), bad input (400).
pub async fn api_create(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Json(body): Json<ApiNewUser>,
) -> Result<(StatusCode, Json<ApiUser>), AppError> {
    viewer.require_admin()?;
    viewer.check_api_csrf(&headers)?;
    let grants = body
        .grants
        .iter()
        .map(|g| parse_grant_spec(g))
        .collect::<Result<Vec<_>, _>>()?;
    let u = create_user(&state, &body.name, body.password.as_deref(), body.admin).await?;
    for g in &grants {
        state.store.add_grant(u.id, g).await.map_err(store_err)?;
    }
    Ok((StatusCode::CREATED, Json(api_user(&state, &u).await?)))
}

/// `GET /api/v1/users/{name}`.
///
/// # Errors
/// Not an admin (403), unknown user (404).
pub async fn api_get(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> Result<Json<ApiUser>, AppError> {
    viewer.require_admin()?;
    let u = find_user(&state, &name).await?;
    Ok(Json(api_user(&state, &u).await?))
}

/// The body of `PATCH /api/v1/users/{name}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ApiUserPatch {
    /// New password (`""` removes it).
    pub password: Option<String>,
    /// Administrator flag.
    pub admin: Option<bool>,
    /// Disabled flag.
    pub disabled: Option<bool>,
}

/// `PATCH /api/v1/users/{name}`.
///
/// # Errors
/// Not an admin, bad CSRF (403), unknown user (404).
pub async fn api_patch(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(name): Path<String>,
    Json(body): Json<ApiUserPatch>,
) -> Result<Json<ApiUser>, AppError> {
    viewer.require_admin()?;
    viewer.check_api_csrf(&headers)?;
    let u = find_user(&state, &name).await?;
    let password_hash = match body.password.as_deref() {
        None => None,
        Some("") => Some(None),
        Some(p) => Some(Some(auth::hash_password(p)?)),
    };
    let u = state
        .store
        .update_user(
            u.id,
            &UserUpdate {
                password_hash,
                admin: body.admin,
                disabled: body.disabled,
            },
            keep_an_admin(&state),
        )
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no user named {name}")))?;
    Ok(Json(api_user(&state, &u).await?))
}

/// `DELETE /api/v1/users/{name}`.
///
/// # Errors
/// Not an admin, bad CSRF (403), unknown user (404).
pub async fn api_delete(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<StatusCode, AppError> {
    viewer.require_admin()?;
    viewer.check_api_csrf(&headers)?;
    let u = find_user(&state, &name).await?;
    state.store.delete_user(u.id, keep_an_admin(&state)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/users/{name}/grants` with `{"kind": "group", "value": "physics"}`.
///
/// # Errors
/// Not an admin, bad CSRF (403), unknown user (404), bad kind (400).
pub async fn api_add_grant(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(name): Path<String>,
    Json(g): Json<GrantForm>,
) -> Result<Json<ApiUser>, AppError> {
    viewer.require_admin()?;
    viewer.check_api_csrf(&headers)?;
    let u = find_user(&state, &name).await?;
    state
        .store
        .add_grant(u.id, &parse_grant(&g.kind, &g.value)?)
        .await
        .map_err(store_err)?;
    Ok(Json(api_user(&state, &u).await?))
}

/// `DELETE /api/v1/users/{name}/grants/{kind}/{value}`.
///
/// # Errors
/// Not an admin, bad CSRF (403), unknown user or grant (404).
pub async fn api_remove_grant(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path((name, kind, value)): Path<(String, String, String)>,
) -> Result<Json<ApiUser>, AppError> {
    viewer.require_admin()?;
    viewer.check_api_csrf(&headers)?;
    let u = find_user(&state, &name).await?;
    if !state
        .store
        .remove_grant(u.id, &parse_grant(&kind, &value)?)
        .await?
    {
        return Err(AppError::NotFound(format!(
            "{name} has no grant {kind}:{value}"
        )));
    }
    Ok(Json(api_user(&state, &u).await?))
}

/// `GET /api/v1/users/{name}/tokens`.
///
/// # Errors
/// Not an admin (403), unknown user (404).
pub async fn api_tokens(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> Result<Json<Vec<ApiTokenInfo>>, AppError> {
    viewer.require_admin()?;
    let u = find_user(&state, &name).await?;
    Ok(Json(tokens_of(&state, &u).await?))
}

/// A new token: the only time the secret is shown.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiNewToken {
    /// Id.
    pub id: ApiTokenId,
    /// Label.
    pub name: String,
    /// The secret: `Authorization: Bearer <token>`.
    pub token: String,
}

/// The body of `POST /api/v1/users/{name}/tokens`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ApiTokenBody {
    /// Label.
    pub name: String,
}

/// `POST /api/v1/users/{name}/tokens`.
///
/// # Errors
/// Not an admin, bad CSRF (403), unknown user (404).
pub async fn api_create_token(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(name): Path<String>,
    Json(body): Json<ApiTokenBody>,
) -> Result<(StatusCode, Json<ApiNewToken>), AppError> {
    viewer.require_admin()?;
    viewer.check_api_csrf(&headers)?;
    let u = find_user(&state, &name).await?;
    let (t, token) = create_token(&state, &u, &body.name).await?;
    Ok((
        StatusCode::CREATED,
        Json(ApiNewToken {
            id: t.id,
            name: t.name,
            token,
        }),
    ))
}

/// `DELETE /api/v1/users/{name}/tokens/{id}`.
///
/// # Errors
/// Not an admin, bad CSRF (403), unknown user or token (404).
pub async fn api_revoke_token(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path((name, id)): Path<(String, ApiTokenId)>,
) -> Result<StatusCode, AppError> {
    viewer.require_admin()?;
    viewer.check_api_csrf(&headers)?;
    revoke(&state, &name, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
