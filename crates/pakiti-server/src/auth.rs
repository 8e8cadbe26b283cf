//! Who is asking: the [`Viewer`] every page and API handler takes, and CSRF checks.
//!
//! CONTRACT (other modules rely on it): handlers take a `Viewer` extractor, pass
//! `viewer.scope.clone()` into every [`HostFilter`](pakiti_store::HostFilter) and every store
//! query that lists, reads or counts hosts, check `viewer.scope.allows(&host)` on single-host
//! reads (answer 404, not 403, so names do not leak), require `viewer.admin` for changes
//! that affect everyone (feeds, repositories, users), render `viewer.csrf` into every form as a
//! hidden `csrf` field. Every administrator's change takes [`AdminForm`] (a form POST: admin,
//! then the body's `csrf` field) or [`Admin`] (the JSON API: admin, then `X-CSRF-Token` on
//! every method but GET/HEAD); [`check_csrf`] is left for the one non-admin form (log-out).
//!
//! How a request is authenticated (`[auth] mode`, see [`AuthMode`]):
//! - `Authorization: Bearer TOKEN` (every mode but `none`): an API token, looked up by its
//!   SHA-256; such requests carry no cookie, so they are exempt from CSRF checks.
//! - `none`: everyone is the anonymous admin; forms still carry a CSRF token (derived from a
//!   secret kept in the database) so other sites cannot post to a local server.
//! - `accounts`: the `pakiti_session` cookie set by `POST /login`; its CSRF token is the
//!   session's (random, stored with it).
//! - `proxy` / `tls`: the user named by `proxy_header` / `tls_dn_header`, believed only from a
//!   peer in `proxy_addresses`; in `tls` mode, else the subject DN of the client certificate
//!   pakiti verified itself (`[tls] client_ca`, either DN form of [`crate::conn::ClientCert`]); the CSRF token is derived from a secret kept in the database
//!   (one per database: every server behind a load balancer agrees) and the user name.
//!
//! The user must exist in the store and not be disabled (unknown users get no access). An
//! admin's scope is everything; anyone else's is the union of their grants. Without valid
//! credentials pages redirect to `/login` (accounts mode) and everything else answers 401.

use std::net::SocketAddr;
use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Form, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use pakiti_store::{GrantKind, HostScope, User};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::error::AppError;
use crate::settings::{AuthMode, Settings};
use crate::state::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "pakiti_session";
/// The pre-session cookie that carries the log-in form's CSRF token (double submit).
pub const LOGIN_CSRF_COOKIE: &str = "pakiti_login_csrf";

/// The authenticated user (or the anonymous admin of single-user mode).
#[derive(Clone, Debug)]
pub struct Viewer {
    /// User name; `None` in single-user mode.
    pub user: Option<String>,
    /// Whether the viewer administers the server (sees everything, may change settings).
    pub admin: bool,
    /// The hosts the viewer may see.
    pub scope: HostScope,
    /// The CSRF token to embed in forms.
    pub csrf: String,
    /// Authenticated by an API bearer token (no cookie, so no CSRF check).
    pub bearer: bool,
}

impl Viewer {
    /// The single-user-mode viewer.
    #[must_use]
    pub fn anonymous_admin() -> Self {
        Viewer {
            user: None,
            admin: true,
            scope: HostScope::All,
            csrf: String::new(),
            bearer: false,
        }
    }

    /// The name to record as the author of a change.
    #[must_use]
    pub fn author(&self) -> String {
        self.user.clone().unwrap_or_else(|| "admin".to_owned())
    }

    /// `Forbidden` unless the viewer is an admin.
    ///
    /// # Errors
    /// The viewer is not an admin.
    pub fn require_admin(&self) -> Result<(), AppError> {
        if self.admin {
            Ok(())
        } else {
            Err(AppError::Forbidden("this needs an administrator".into()))
        }
    }

    /// Checks the `X-CSRF-Token` header of a state-changing JSON API call (bearer-token calls
    /// are exempt: a browser never sends them on its own).
    ///
    /// # Errors
    /// A cookie-authenticated call without the right token (403).
    pub fn check_api_csrf(&self, headers: &HeaderMap) -> Result<(), AppError> {
        if self.user.is_none() {
            // Single-user mode has no cookie to ride on; a cross-site JSON request needs a
            // CORS preflight, which pakiti never grants.
            return Ok(());
        }
        let token = headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        check_csrf(self, token)
    }
}

/// Why a request has no viewer: 401 JSON for the API, a redirect to the log-in page for pages
/// (accounts mode), 401/403 otherwise.
#[derive(Debug)]
pub struct AuthRejection {
    error: AppError,
    login: Option<String>,
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        match self.login {
            Some(next) => {
                self.error.log();
                Redirect::to(&format!("/login?next={}", urlencode(&next))).into_response()
            }
            None => {
                let mut r = self.error.into_response();
                if r.status() == StatusCode::UNAUTHORIZED {
                    r.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        header::HeaderValue::from_static("Bearer realm=\"pakiti\""),
                    );
                }
                r
            }
        }
    }
}

impl From<AppError> for AuthRejection {
    fn from(error: AppError) -> Self {
        AuthRejection { error, login: None }
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let viewer = authenticate(parts, state).await;
        // The author the audit log records for this request (see `crate::audit`).
        if let (Ok(v), Some(slot)) = (&viewer, parts.extensions.get::<crate::audit::ActorSlot>()) {
            slot.set(v.author(), v.bearer);
        }
        viewer
    }
}

/// Who sends `parts`, per `[auth] mode` (see the module's documentation).
async fn authenticate(parts: &mut Parts, state: &AppState) -> Result<Viewer, AuthRejection> {
    let auth = &state.settings.auth;
    if auth.mode == AuthMode::None {
        // Still a CSRF token: another site's page must not post forms to a local server.
        let mut v = Viewer::anonymous_admin();
        v.csrf = derived_csrf(&state.csrf_secret, "");
        return Ok(v);
    }
    let now = OffsetDateTime::now_utc();
    let store = &state.store;
    // An API token, in any mode.
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or_default();
        let user = if token.is_empty() {
            None
        } else {
            store
                .user_by_api_token(&sha256_hex(token), now)
                .await
                .map_err(AppError::from)?
        };
        let Some(user) = user else {
            return Err(AppError::Unauthorized("invalid or revoked API token".into()).into());
        };
        let mut v = viewer_for(state, &user).await?;
        v.bearer = true;
        return Ok(v);
    }
    let missing = match auth.mode {
        AuthMode::None => unreachable!("handled above"),
        AuthMode::Accounts => {
            let session = match cookie(&parts.headers, SESSION_COOKIE) {
                Some(token) => store
                    .get_session(&sha256_hex(&token), now)
                    .await
                    .map_err(AppError::from)?,
                None => None,
            };
            if let Some(s) = session {
                let mut v = viewer_for(state, &s.user).await?;
                v.csrf = s.csrf;
                return Ok(v);
            }
            "log in first"
        }
        AuthMode::Proxy | AuthMode::Tls => {
            let name = if auth.mode == AuthMode::Proxy {
                &auth.proxy_header
            } else {
                &auth.tls_dn_header
            };
            let peer = parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip());
            let trusted = peer.is_some_and(|ip| {
                auth.proxy_addresses
                    .iter()
                    .any(|spec| crate::net::cidr_contains(spec, ip))
            });
            let value = parts
                .headers
                .get(name.as_str())
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty());
            // `tls` mode without a front proxy: pakiti verified the client certificate
            // itself (`[tls] client_ca`); its subject DN, in either form, is the user.
            if auth.mode == AuthMode::Tls
                && !(trusted && value.is_some())
                && let Some(cert) = parts
                    .extensions
                    .get::<crate::conn::TlsInfo>()
                    .and_then(|t| t.client.clone())
            {
                let mut found = None;
                for name in [&cert.dn, &cert.legacy_dn] {
                    found = store.get_user_by_name(name).await.map_err(AppError::from)?;
                    if found.is_some() {
                        break;
                    }
                }
                let Some(user) = found.filter(|u| !u.disabled) else {
                    return Err(AppError::Forbidden(format!(
                        "{} has no access to pakiti; ask an administrator",
                        cert.dn
                    ))
                    .into());
                };
                let mut v = viewer_for(state, &user).await?;
                v.csrf = derived_csrf(&state.csrf_secret, &user.name);
                return Ok(v);
            }
            match (trusted, value) {
                (true, Some(user_name)) => {
                    let user = store
                        .get_user_by_name(user_name)
                        .await
                        .map_err(AppError::from)?;
                    let Some(user) = user.filter(|u| !u.disabled) else {
                        return Err(AppError::Forbidden(format!(
                            "{user_name} has no access to pakiti; ask an administrator"
                        ))
                        .into());
                    };
                    let mut v = viewer_for(state, &user).await?;
                    v.csrf = derived_csrf(&state.csrf_secret, &user.name);
                    return Ok(v);
                }
                (false, Some(_)) => {
                    tracing::warn!(?peer, header = %name, "user header from an untrusted peer ignored");
                    "the user header comes from an address not in auth.proxy_addresses"
                }
                _ => "no authenticated user",
            }
        }
    };
    let error = AppError::Unauthorized(missing.into());
    let path = parts.uri.path();
    let page = auth.mode == AuthMode::Accounts && !path.starts_with("/api/");
    Err(AuthRejection {
        error,
        login: page.then(|| {
            parts
                .uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned())
        }),
    })
}

/// An administrator's request: the [`Viewer`] of an admin, CSRF-checked for every method but
/// GET and HEAD through `X-CSRF-Token` (bearer-token and single-user calls are exempt, see
/// [`Viewer::check_api_csrf`]). Every admin-only JSON handler and page takes it.
#[derive(Clone, Debug)]
pub struct Admin(pub Viewer);

impl FromRequestParts<AppState> for Admin {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let viewer = Viewer::from_request_parts(parts, state).await?;
        viewer.require_admin()?;
        if !parts.method.is_safe() {
            viewer.check_api_csrf(&parts.headers)?;
        }
        Ok(Admin(viewer))
    }
}

/// An administrator's form POST: the [`Viewer`] of an admin and the form `T`, whose hidden
/// `csrf` field matched the viewer's token ([`check_csrf`]). `T` does not declare `csrf`.
/// The order of checks is the one every form had: who asks (401 or a redirect to `/login`),
/// the form itself (axum's 415/422), an administrator (403), the CSRF token (403).
#[derive(Clone, Debug)]
pub struct AdminForm<T>(pub Viewer, pub T);

/// A form with no field but the CSRF token (revoke, delete, accept, reject).
#[derive(Clone, Copy, Debug, Default, Deserialize)]
pub struct NoFields {}

/// The CSRF field of a form.
#[derive(Debug, Default, Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

impl<T> FromRequest<AppState> for AdminForm<T>
where
    T: DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let form = |parts: Parts| Request::from_parts(parts, Body::from(bytes.clone()));
        let Form(value) = Form::<T>::from_request(form(parts.clone()), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let Form(field) = Form::<CsrfField>::from_request(form(parts), state)
            .await
            .map_err(IntoResponse::into_response)?;
        viewer
            .require_admin()
            .map_err(IntoResponse::into_response)?;
        check_csrf(&viewer, &field.csrf).map_err(IntoResponse::into_response)?;
        Ok(AdminForm(viewer, value))
    }
}

/// The viewer for a known user: everything for admins, the user's grants otherwise.
async fn viewer_for(state: &AppState, user: &User) -> Result<Viewer, AppError> {
    if user.disabled {
        return Err(AppError::Forbidden(format!("{} is disabled", user.name)));
    }
    let scope = if user.admin {
        HostScope::All
    } else {
        let mut groups = Vec::new();
        let mut domains = Vec::new();
        let mut hosts = Vec::new();
        for g in state.store.user_grants(user.id).await? {
            match g.kind {
                GrantKind::Group => groups.push(g.value),
                GrantKind::Domain => domains.push(g.value),
                GrantKind::Host => hosts.push(g.value.to_ascii_lowercase()),
            }
        }
        HostScope::Restricted {
            groups,
            domains,
            hosts,
        }
    };
    Ok(Viewer {
        user: Some(user.name.clone()),
        admin: user.admin,
        scope,
        csrf: String::new(),
        bearer: false,
    })
}

/// Checks a form's `csrf` field against the viewer's token. Bearer-token requests pass, and so
/// does a viewer built without a token ([`Viewer::anonymous_admin`] outside a request).
///
/// # Errors
/// The token does not match (403).
pub fn check_csrf(viewer: &Viewer, token: &str) -> Result<(), AppError> {
    if viewer.bearer || viewer.csrf.is_empty() || constant_eq(&viewer.csrf, token) {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "the form's CSRF token is missing or stale; reload the page".into(),
        ))
    }
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// 32 random bytes, hex: session, CSRF and API tokens.
///
/// # Panics
/// The operating system has no random source.
#[must_use]
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the OS random source");
    hex::encode(b)
}

/// The SHA-256 of a token, hex: what the store keeps.
#[must_use]
pub fn sha256_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The CSRF token of a proxy- or certificate-authenticated user: bound to the database's
/// secret ([`AppState`]'s `csrf_secret`), so another site cannot know it while every server
/// sharing the database agrees on it.
fn derived_csrf(secret: &str, user: &str) -> String {
    sha256_hex(&format!("{secret}\0{user}"))
}

/// An argon2id PHC string for `password`.
///
/// # Errors
/// Hashing fails (it does not, for sane inputs).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("random salt: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?
        .to_string())
}

/// A hash of a random password, verified against when a log-in names no user with a password.
#[must_use]
pub fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password(&random_token()).unwrap_or_default())
}

/// Whether `password` matches the PHC string `hash`.
#[must_use]
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// The value of cookie `name`.
#[must_use]
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, path /, Secure when the public URL is https;
/// `max_age` 0 deletes the cookie.
#[must_use]
pub fn set_cookie(settings: &Settings, name: &str, value: &str, max_age: i64) -> String {
    let secure = if settings.auth.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

/// What [`urlencode`] keeps: RFC 3986's unreserved characters and `/` (it encodes paths into
/// `?next=`).
const NEXT_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Percent-encodes a query value.
#[must_use]
pub fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, NEXT_VALUE).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert_ne!(h, hash_password("correct horse").unwrap(), "salted");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct horsE", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(!verify_password("x", dummy_hash()));
    }

    #[test]
    fn tokens_cookies_and_csrf() {
        let t = random_token();
        assert_eq!(t.len(), 64);
        assert_ne!(t, random_token());
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; pakiti_session=xyz; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("xyz"));
        assert_eq!(cookie(&h, "c"), None);
        let mut v = Viewer::anonymous_admin();
        v.csrf = "abc".into();
        assert!(check_csrf(&v, "abc").is_ok());
        assert!(check_csrf(&v, "abd").is_err());
        assert!(check_csrf(&v, "").is_err());
        v.bearer = true;
        assert!(check_csrf(&v, "").is_ok(), "bearer calls carry no cookie");
        assert_eq!(derived_csrf("k", "alice"), derived_csrf("k", "alice"));
        assert_ne!(derived_csrf("k", "alice"), derived_csrf("k", "bob"));
        assert_ne!(derived_csrf("k", "alice"), derived_csrf("k2", "alice"));
        assert_eq!(urlencode("/hosts?a=b c"), "/hosts%3Fa%3Db%20c");
    }

    #[test]
    fn session_cookies_are_secure_behind_https() {
        let mut s = Settings::default();
        let c = set_cookie(&s, SESSION_COOKIE, "v", 60);
        assert_eq!(
            c,
            "pakiti_session=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60"
        );
        s.auth.public_url = "https://pakiti.example.org/".into();
        assert!(set_cookie(&s, SESSION_COOKIE, "v", 60).ends_with("; Secure"));
    }
}
