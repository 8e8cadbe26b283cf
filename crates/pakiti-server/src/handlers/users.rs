//! Users, grants and API tokens (administrators only): the `/users` pages and forms and
//! `/api/v1/users…`. Every change goes through [`AdminForm`] (pages) or [`Admin`] (API):
//! administrator, CSRF-checked. [`create_user`] and [`create_token`] are shared with
//! `pakiti user`.

use crate::api_types::AdminRefusals;
use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use pakiti_store::{ApiTokenId, Grant, GrantKind, NewUser, User, UserUpdate};
use serde::Deserialize;

use crate::api_types::{
    ApiGrant, ApiNewToken, ApiNewUser, ApiTokenBody, ApiTokenInfo, ApiUser, ApiUserPatch, rfc3339,
};
use crate::auth::{self, Admin, AdminForm, NoFields, Viewer, random_token, sha256_hex};
use crate::error::AppError;
use crate::settings::AuthMode;
use crate::state::AppState;
use crate::web::{VERSION, render};

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

/// A user as a row of `/users?format=csv`.
struct UserRow<'a>(&'a ApiUser);

impl crate::export::CsvRow for UserRow<'_> {
    const HEADER: &'static [&'static str] = &[
        "name",
        "admin",
        "disabled",
        "has_password",
        "grants",
        "created_at",
    ];
    fn fields(&self) -> Vec<String> {
        let u = self.0;
        vec![
            u.name.clone(),
            u.admin.to_string(),
            u.disabled.to_string(),
            u.has_password.to_string(),
            u.grants.join(" "),
            u.created_at.clone(),
        ]
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
    Admin(viewer): Admin,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let users = all_users(&state).await?;
    match q.format.as_deref().unwrap_or("html") {
        "json" => Ok(Json(users).into_response()),
        "csv" => {
            let rows: Vec<UserRow<'_>> = users.iter().map(UserRow).collect();
            crate::export::csv_body(&rows).map(|body| {
                ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response()
            })
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
    Admin(viewer): Admin,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    user_page(&state, &viewer, &name, String::new()).await
}

fn back_to(name: &str) -> Response {
    Redirect::to(&format!("/users/{}", auth::urlencode(name))).into_response()
}

/// The add-user form.
#[derive(Debug, Deserialize)]
pub struct NewUserForm {
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
        .map_err(AppError::from)
}

/// `POST /users`.
///
/// # Errors
/// Not an admin, bad CSRF (403), bad input (400).
pub async fn create_user_form(
    State(state): State<AppState>,
    AdminForm(_, f): AdminForm<NewUserForm>,
) -> Result<Response, AppError> {
    let admin = f.admin.as_deref().is_some_and(|a| a == "true" || a == "on");
    let u = create_user(&state, &f.name, Some(&f.password), admin).await?;
    Ok(back_to(&u.name))
}

/// The set-password form.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    password: String,
}

/// `POST /users/{name}/password`.
///
/// # Errors
/// Not an admin, bad CSRF (403), unknown user (404).
pub async fn set_password_form(
    State(state): State<AppState>,
    Path(name): Path<String>,
    AdminForm(_, f): AdminForm<PasswordForm>,
) -> Result<Response, AppError> {
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
pub struct AdminFlagForm {
    admin: String,
}

/// `POST /users/{name}/admin`.
///
/// # Errors
/// Not an admin, bad CSRF (403), unknown user (404).
pub async fn set_admin_form(
    State(state): State<AppState>,
    Path(name): Path<String>,
    AdminForm(_, f): AdminForm<AdminFlagForm>,
) -> Result<Response, AppError> {
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
    Path(name): Path<String>,
    AdminForm(_, f): AdminForm<ApiGrant>,
) -> Result<Response, AppError> {
    let u = find_user(&state, &name).await?;
    state
        .store
        .add_grant(u.id, &parse_grant(&f.kind, &f.value)?)
        .await?;
    Ok(back_to(&name))
}

/// `POST /users/{name}/grants/remove`.
///
/// # Errors
/// Not an admin, bad CSRF (403), unknown user (404).
pub async fn remove_grant_form(
    State(state): State<AppState>,
    Path(name): Path<String>,
    AdminForm(_, f): AdminForm<ApiGrant>,
) -> Result<Response, AppError> {
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
    Path(name): Path<String>,
    AdminForm(viewer, f): AdminForm<TokenForm>,
) -> Result<Response, AppError> {
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
    Path((name, id)): Path<(String, ApiTokenId)>,
    AdminForm(_, _): AdminForm<NoFields>,
) -> Result<Response, AppError> {
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
    Path(name): Path<String>,
    AdminForm(_, _): AdminForm<NoFields>,
) -> Result<Response, AppError> {
    let u = find_user(&state, &name).await?;
    state.store.delete_user(u.id, keep_an_admin(&state)).await?;
    Ok(Redirect::to("/users").into_response())
}

/// `GET /api/v1/users`.
///
/// # Errors
/// Not an admin (403).
#[utoipa::path(
    get,
    path = "/api/v1/users",
    operation_id = "users_list",
    tag = "users",
    responses(
        (status = 200, description = "Every user", body = Vec<ApiUser>),
        AdminRefusals
    )
)]
pub async fn api_list(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<ApiUser>>, AppError> {
    Ok(Json(all_users(&state).await?))
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
#[utoipa::path(
    post,
    path = "/api/v1/users",
    operation_id = "users_create",
    tag = "users",
    request_body = ApiNewUser,
    responses(
        (status = 201, description = "The new user", body = ApiUser),
        (status = 400, description = "An empty or taken name, or a bad grant"),
        AdminRefusals
    )
)]
pub async fn api_create(
    State(state): State<AppState>,
    _admin: Admin,
    Json(body): Json<ApiNewUser>,
) -> Result<(StatusCode, Json<ApiUser>), AppError> {
    let grants = body
        .grants
        .iter()
        .map(|g| parse_grant_spec(g))
        .collect::<Result<Vec<_>, _>>()?;
    let u = create_user(&state, &body.name, body.password.as_deref(), body.admin).await?;
    for g in &grants {
        state.store.add_grant(u.id, g).await?;
    }
    Ok((StatusCode::CREATED, Json(api_user(&state, &u).await?)))
}

/// `GET /api/v1/users/{name}`.
///
/// # Errors
/// Not an admin (403), unknown user (404).
#[utoipa::path(
    get,
    path = "/api/v1/users/{name}",
    operation_id = "users_get",
    tag = "users",
    params(("name" = String, Path, description = "User name")),
    responses(
        (status = 200, description = "One user", body = ApiUser),
        (status = 404, description = "No such user"),
        AdminRefusals
    )
)]
pub async fn api_get(
    State(state): State<AppState>,
    _admin: Admin,
    Path(name): Path<String>,
) -> Result<Json<ApiUser>, AppError> {
    let u = find_user(&state, &name).await?;
    Ok(Json(api_user(&state, &u).await?))
}

/// `PATCH /api/v1/users/{name}`.
///
/// # Errors
/// Not an admin, bad CSRF (403), unknown user (404).
#[utoipa::path(
    patch,
    path = "/api/v1/users/{name}",
    operation_id = "users_patch",
    tag = "users",
    params(("name" = String, Path, description = "User name")),
    request_body = ApiUserPatch,
    responses(
        (status = 200, description = "The changed user", body = ApiUser),
        (status = 404, description = "No such user"), (status = 409, description = "The last enabled administrator"),
        AdminRefusals
    )
)]
pub async fn api_patch(
    State(state): State<AppState>,
    _admin: Admin,
    Path(name): Path<String>,
    Json(body): Json<ApiUserPatch>,
) -> Result<Json<ApiUser>, AppError> {
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
#[utoipa::path(
    delete,
    path = "/api/v1/users/{name}",
    operation_id = "users_delete",
    tag = "users",
    params(("name" = String, Path, description = "User name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such user"), (status = 409, description = "The last enabled administrator"),
        AdminRefusals
    )
)]
pub async fn api_delete(
    State(state): State<AppState>,
    _admin: Admin,
    Path(name): Path<String>,
) -> Result<StatusCode, AppError> {
    let u = find_user(&state, &name).await?;
    state.store.delete_user(u.id, keep_an_admin(&state)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/users/{name}/grants` with `{"kind": "group", "value": "physics"}`.
///
/// # Errors
/// Not an admin, bad CSRF (403), unknown user (404), bad kind (400).
#[utoipa::path(
    post,
    path = "/api/v1/users/{name}/grants",
    operation_id = "users_add_grant",
    tag = "users",
    params(("name" = String, Path, description = "User name")),
    request_body = ApiGrant,
    responses(
        (status = 200, description = "The user with the grant", body = ApiUser),
        (status = 400, description = "An unknown grant kind or an empty value"), (status = 404, description = "No such user"),
        AdminRefusals
    )
)]
pub async fn api_add_grant(
    State(state): State<AppState>,
    _admin: Admin,
    Path(name): Path<String>,
    Json(g): Json<ApiGrant>,
) -> Result<Json<ApiUser>, AppError> {
    let u = find_user(&state, &name).await?;
    state
        .store
        .add_grant(u.id, &parse_grant(&g.kind, &g.value)?)
        .await?;
    Ok(Json(api_user(&state, &u).await?))
}

/// `DELETE /api/v1/users/{name}/grants/{kind}/{value}`.
///
/// # Errors
/// Not an admin, bad CSRF (403), unknown user or grant (404).
#[utoipa::path(
    delete,
    path = "/api/v1/users/{name}/grants/{kind}/{value}",
    operation_id = "users_remove_grant",
    tag = "users",
    params(("name" = String, Path, description = "User name"), ("kind" = String, Path, description = "`group`, `domain` or `host`"), ("value" = String, Path, description = "The name granted")),
    responses(
        (status = 200, description = "The user without the grant", body = ApiUser),
        (status = 404, description = "No such user or grant"),
        AdminRefusals
    )
)]
pub async fn api_remove_grant(
    State(state): State<AppState>,
    _admin: Admin,
    Path((name, kind, value)): Path<(String, String, String)>,
) -> Result<Json<ApiUser>, AppError> {
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
#[utoipa::path(
    get,
    path = "/api/v1/users/{name}/tokens",
    operation_id = "users_tokens",
    tag = "users",
    params(("name" = String, Path, description = "User name")),
    responses(
        (status = 200, description = "The user's API tokens (never the secrets)", body = Vec<ApiTokenInfo>),
        (status = 404, description = "No such user"),
        AdminRefusals
    )
)]
pub async fn api_tokens(
    State(state): State<AppState>,
    _admin: Admin,
    Path(name): Path<String>,
) -> Result<Json<Vec<ApiTokenInfo>>, AppError> {
    let u = find_user(&state, &name).await?;
    Ok(Json(tokens_of(&state, &u).await?))
}

/// `POST /api/v1/users/{name}/tokens`.
///
/// # Errors
/// Not an admin, bad CSRF (403), unknown user (404).
#[utoipa::path(
    post,
    path = "/api/v1/users/{name}/tokens",
    operation_id = "users_create_token",
    tag = "users",
    params(("name" = String, Path, description = "User name")),
    request_body = ApiTokenBody,
    responses(
        (status = 201, description = "The new token: the only time its secret is shown", body = ApiNewToken),
        (status = 404, description = "No such user"),
        AdminRefusals
    )
)]
pub async fn api_create_token(
    State(state): State<AppState>,
    _admin: Admin,
    Path(name): Path<String>,
    Json(body): Json<ApiTokenBody>,
) -> Result<(StatusCode, Json<ApiNewToken>), AppError> {
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
#[utoipa::path(
    delete,
    path = "/api/v1/users/{name}/tokens/{id}",
    operation_id = "users_revoke_token",
    tag = "users",
    params(("name" = String, Path, description = "User name"), ("id" = i64, Path, description = "Token id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such user or token"),
        AdminRefusals
    )
)]
pub async fn api_revoke_token(
    State(state): State<AppState>,
    _admin: Admin,
    Path((name, id)): Path<(String, ApiTokenId)>,
) -> Result<StatusCode, AppError> {
    revoke(&state, &name, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
