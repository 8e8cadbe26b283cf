//! Exceptions (a CVE does not apply to one package version on one OS stream):
//! `GET/POST /api/v1/exceptions`, `DELETE /api/v1/exceptions/{id}` and the `/exceptions`
//! page (list, create, delete). Changes are an administrator's and refresh every host's counts.

use crate::api_types::AdminRefusals;
use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use pakiti_store::{CveException, NewException};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::api_types::{ApiException, ExceptionInput, api_exception};
use crate::auth::{Admin, AdminForm, Viewer};
use crate::error::AppError;
use crate::export::{self, FormatQuery};
use crate::handlers::tags::after_change;
use crate::state::AppState;
use crate::web::{IdForm, VERSION, render};

fn parse_expiry(s: Option<&str>) -> Result<Option<OffsetDateTime>, AppError> {
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(Some(t));
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &fmt)
        .map(|d| Some(d.midnight().assume_utc()))
        .map_err(|_| AppError::BadRequest(format!("expiry {s:?}: use 2026-12-31 or RFC 3339")))
}

/// Creates an exception and refreshes the counts (the caller checked that the viewer is an
/// admin).
///
/// # Errors
/// Bad input or a duplicate (400), a store failure.
pub async fn create(
    state: &AppState,
    viewer: &Viewer,
    input: ExceptionInput,
) -> Result<CveException, AppError> {
    let e = NewException {
        cve: input.cve.trim().to_ascii_uppercase(),
        package: input.package.trim().to_owned(),
        version: input.version.trim().to_owned(),
        stream: input.os_stream.trim().to_owned(),
        reason: input.reason.trim().to_owned(),
        author: viewer.author(),
        expires_at: parse_expiry(input.expires_at.as_deref())?,
    };
    if e.cve.is_empty() || e.package.is_empty() || e.version.is_empty() || e.stream.is_empty() {
        return Err(AppError::BadRequest(
            "an exception needs a CVE, a package, a version and an OS stream".into(),
        ));
    }
    if e.stream.parse::<pakiti_core::stream::OsStream>().is_err() {
        return Err(AppError::BadRequest(format!(
            "{:?} is not an OS stream (distro:release, e.g. rhel:8)",
            e.stream
        )));
    }
    let created = state.store.create_exception(&e).await?;
    after_change(state).await?;
    Ok(created)
}

/// Deletes an exception (the caller checked that the viewer is an admin).
///
/// # Errors
/// Unknown id (404), a store failure.
pub async fn delete(state: &AppState, id: i64) -> Result<(), AppError> {
    state
        .store
        .delete_exception(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no exception {id}")))?;
    after_change(state).await
}

/// Every exception, in force or not (no host data: any viewer may read them).
///
/// # Errors
/// A store failure.
pub async fn exception_rows(state: &AppState) -> Result<Vec<ApiException>, AppError> {
    Ok(state
        .store
        .list_exceptions()
        .await?
        .iter()
        .map(api_exception)
        .collect())
}

/// `GET /api/v1/exceptions`.
///
/// # Errors
/// A store failure.
#[utoipa::path(
    get,
    path = "/api/v1/exceptions",
    operation_id = "exceptions_list",
    tag = "exceptions",
    params(FormatQuery),
    responses(
        (status = 200, description = "Every exception", body = Vec<ApiException>)
    )
)]
pub async fn api_list(
    State(state): State<AppState>,
    _viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    export::list(&q, "exceptions", &exception_rows(&state).await?)
}

/// `POST /api/v1/exceptions`.
///
/// # Errors
/// Not an admin or a bad CSRF token (403); see [`create`].
#[utoipa::path(
    post,
    path = "/api/v1/exceptions",
    operation_id = "exceptions_create",
    tag = "exceptions",
    request_body = ExceptionInput,
    responses(
        (status = 201, description = "The new exception", body = ApiException),
        (status = 400, description = "Bad input or a duplicate"),
        AdminRefusals
    )
)]
pub async fn api_create(
    State(state): State<AppState>,
    Admin(viewer): Admin,
    Json(input): Json<ExceptionInput>,
) -> Result<Response, AppError> {
    let e = create(&state, &viewer, input).await?;
    Ok((StatusCode::CREATED, Json(api_exception(&e))).into_response())
}

/// `DELETE /api/v1/exceptions/{id}`.
///
/// # Errors
/// Not an admin or a bad CSRF token (403); see [`delete`].
#[utoipa::path(
    delete,
    path = "/api/v1/exceptions/{id}",
    operation_id = "exceptions_delete",
    tag = "exceptions",
    params(("id" = i64, Path, description = "Exception id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such exception"),
        AdminRefusals
    )
)]
pub async fn api_delete(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    delete(&state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Template)]
#[template(path = "exceptions.html")]
struct ExceptionsPage {
    version: &'static str,
    exceptions: Vec<ApiException>,
    csrf: String,
}

/// The exceptions: list, create, delete.
///
/// # Errors
/// A store failure.
pub async fn list_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let rows = exception_rows(&state).await?;
    if let Some(r) = export::export(q.format.unwrap_or_default(), "exceptions", &rows)? {
        return Ok(r);
    }
    render(&ExceptionsPage {
        version: VERSION,
        exceptions: rows,
        csrf: viewer.csrf.clone(),
    })
}

/// The exception-creation form.
#[derive(Debug, Deserialize)]
pub struct ExceptionForm {
    /// CVE.
    pub cve: String,
    /// Package name.
    pub package: String,
    /// Version.
    pub version: String,
    /// OS stream.
    pub os_stream: String,
    /// Why.
    #[serde(default)]
    pub reason: String,
    /// Expiry date.
    #[serde(default)]
    pub expires_at: String,
    /// Where to go back to afterwards: a host page (`/hosts/…`, the host page's "mark
    /// exception" form); anything else goes back to `/exceptions`.
    #[serde(default)]
    pub return_to: String,
}

/// `return_to` when it is one of this server's host pages, else `/exceptions` (never an
/// address elsewhere).
fn back_to(return_to: &str) -> String {
    let ok = return_to.starts_with("/hosts/")
        && !return_to.contains("//")
        && !return_to.contains('\\')
        && !return_to.chars().any(char::is_control);
    if ok {
        return_to.to_owned()
    } else {
        "/exceptions".to_owned()
    }
}

/// `POST /exceptions`.
///
/// # Errors
/// CSRF, admin, input or store failures.
pub async fn create_form(
    State(state): State<AppState>,
    AdminForm(viewer, f): AdminForm<ExceptionForm>,
) -> Result<Response, AppError> {
    create(
        &state,
        &viewer,
        ExceptionInput {
            cve: f.cve,
            package: f.package,
            version: f.version,
            os_stream: f.os_stream,
            reason: f.reason,
            expires_at: Some(f.expires_at),
        },
    )
    .await?;
    Ok(Redirect::to(&back_to(&f.return_to)).into_response())
}

/// `POST /exceptions/delete`.
///
/// # Errors
/// CSRF, admin or store failures.
pub async fn delete_form(
    State(state): State<AppState>,
    AdminForm(_, f): AdminForm<IdForm>,
) -> Result<Response, AppError> {
    delete(&state, f.id).await?;
    Ok(Redirect::to("/exceptions").into_response())
}
