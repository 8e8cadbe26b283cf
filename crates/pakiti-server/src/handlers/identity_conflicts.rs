//! Identity conflicts (issue 16 D17, see [`crate::identity`]): `GET /api/v1/identity-conflicts`,
//! the `/identity-conflicts` page and its accept / reject forms (administrators only).

use crate::api_types::AdminRefusals;
use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use pakiti_store::IdentityConflict;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api_types::{ApiConflict, ApiConflictPage, rfc3339};
use crate::auth::{Admin, AdminForm, NoFields};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::{VERSION, render};
use pakiti_engine::ingest::{self, Origin};

fn api_conflict(c: IdentityConflict) -> ApiConflict {
    let packages = c
        .report
        .as_deref()
        .and_then(|r| pakiti_api::json::parse(r.as_bytes()).ok())
        .map(|r| r.packages.len());
    ApiConflict {
        id: c.id,
        received_at: rfc3339(c.received_at),
        hostname: c.hostname,
        expected: c.expected,
        seen: c.seen,
        peer: c.peer,
        status: c.status,
        packages,
    }
}

/// Query parameters of the list.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConflictQuery {
    /// First row.
    pub offset: Option<i64>,
    /// Rows (1–1000, default 100).
    pub limit: Option<i64>,
}

async fn query(state: &AppState, q: &ConflictQuery) -> Result<ApiConflictPage, AppError> {
    let offset = q.offset.unwrap_or(0).max(0);
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let (rows, total) = state.store.identity_conflicts(offset, limit).await?;
    Ok(ApiConflictPage {
        conflicts: rows.into_iter().map(api_conflict).collect(),
        total,
        offset,
        limit,
    })
}

/// `GET /api/v1/identity-conflicts` (admins).
///
/// # Errors
/// Not an admin (403) or a store failure.
#[utoipa::path(
    get,
    path = "/api/v1/identity-conflicts",
    operation_id = "identity_conflicts_list",
    tag = "reports",
    params(ConflictQuery),
    responses(
        (status = 200, description = "Identity conflicts, newest first", body = ApiConflictPage),
        AdminRefusals
    )
)]
pub async fn api_list(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<ConflictQuery>,
) -> Result<Json<ApiConflictPage>, AppError> {
    Ok(Json(query(&state, &q).await?))
}

#[derive(Template)]
#[template(path = "identity.html")]
struct ConflictsPage {
    version: &'static str,
    page: ApiConflictPage,
    policy: String,
    csrf: String,
}

/// `/identity-conflicts` (admins).
///
/// # Errors
/// Not an admin (403) or a store failure.
pub async fn page(
    State(state): State<AppState>,
    Admin(viewer): Admin,
    Query(q): Query<ConflictQuery>,
) -> Result<Response, AppError> {
    let page = query(&state, &q).await?;
    render(&ConflictsPage {
        version: VERSION,
        page,
        policy: format!("{:?}", state.settings.identity.policy).to_lowercase(),
        csrf: viewer.csrf.clone(),
    })
}

async fn held(state: &AppState, id: i64) -> Result<IdentityConflict, AppError> {
    state
        .store
        .identity_conflict(id)
        .await?
        .filter(|c| c.status == "held" && c.report.is_some())
        .ok_or_else(|| AppError::NotFound(format!("no held report {id}")))
}

/// `POST /identity-conflicts/{id}/accept` (admins): applies the held report and binds its
/// host to the identity it came with.
///
/// # Errors
/// Not an admin or a wrong CSRF token (403), not held (404), or the report fails as a report.
pub async fn accept(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(viewer, _): AdminForm<NoFields>,
) -> Result<Response, AppError> {
    let c = held(&state, id).await?;
    let report = pakiti_api::json::parse(c.report.as_deref().unwrap_or("").as_bytes())
        .map_err(|e| AppError::BadRequest(format!("held report {id}: {e}")))?;
    if !state
        .store
        .resolve_identity_conflict(id, "accepted")
        .await?
    {
        return Err(AppError::NotFound(format!("no held report {id}")));
    }
    let origin = Origin {
        received_at: c.received_at,
        peer: c.peer.as_deref().and_then(|p| p.parse().ok()),
        client_dn: None,
        // It passed the proxy check when it arrived.
        trusted_proxy: true,
    };
    ingest::process(&state.engine, &report, &origin).await?;
    state.engine.fleet_changed();
    if let Some(h) = state
        .store
        .host_state(&ingest::identity_of(&report))
        .await?
    {
        state.store.bind_host_identity(h.id, &c.seen, false).await?;
    }
    tracing::info!(host = ?report.hostname, by = ?viewer.author(), identity = ?c.seen, "held report accepted");
    Ok(Redirect::to("/identity-conflicts").into_response())
}

/// `POST /identity-conflicts/{id}/reject` (admins): drops the held report.
///
/// # Errors
/// Not an admin or a wrong CSRF token (403), not held (404).
pub async fn reject(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(_, _): AdminForm<NoFields>,
) -> Result<Response, AppError> {
    held(&state, id).await?;
    if !state
        .store
        .resolve_identity_conflict(id, "rejected")
        .await?
    {
        return Err(AppError::NotFound(format!("no held report {id}")));
    }
    Ok(Redirect::to("/identity-conflicts").into_response())
}
