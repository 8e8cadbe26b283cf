//! Retiring and deleting hosts: `DELETE /api/v1/hosts/{hostname}`, the host page's retire
//! form and `pakiti host retire|delete` ([`retire_or_delete`]).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Viewer;
use crate::error::AppError;
use crate::state::AppState;

/// What `DELETE /api/v1/hosts/{hostname}` does with the host's history.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct DeleteHostQuery {
    /// `keep` (the default): the host is retired — it leaves every list and count, its
    /// reports are kept, and a new report from it puts it back in service; `purge`: the host
    /// is deleted with its reports and installed packages.
    pub history: Option<String>,
}

/// Retires (`purge` false) or deletes with its history (`purge` true) the host named
/// `hostname` among those `viewer` may see, and refreshes the fleet index so that every count
/// drops at once. Returns the hostname as stored.
///
/// # Errors
/// No such host in scope (404) or a store failure.
pub async fn retire_or_delete(
    state: &AppState,
    viewer: &Viewer,
    hostname: &str,
    purge: bool,
) -> Result<String, AppError> {
    let host = state
        .store
        .get_host_by_name(&hostname.trim().to_ascii_lowercase())
        .await?
        .filter(|h| viewer.scope.allows(h))
        .ok_or_else(|| AppError::NotFound(format!("no host named {hostname}")))?;
    let now = time::OffsetDateTime::now_utc();
    let done = if purge {
        state.store.purge_host_history(host.id).await?;
        state.store.delete_host(host.id).await?
    } else {
        // The history keeps the host; its open exposures end now, caused by the retirement.
        let generation = state.engine.evaluator().generation();
        state
            .store
            .retire_host_history(host.id, now, generation)
            .await?;
        state.store.retire_host(host.id, now).await?
    };
    if !done {
        return Err(AppError::NotFound(format!("no host named {hostname}")));
    }
    tracing::info!(host = %host.hostname, purge, by = %viewer.author(), "host retired");
    state.engine.fleet_changed();
    state.engine.fleet_up_to_date().await?;
    Ok(host.hostname)
}

/// `DELETE /api/v1/hosts/{hostname}`.
///
/// # Errors
/// Not an admin or a bad CSRF token (403); an unknown `history` (400); see
/// [`retire_or_delete`].
#[utoipa::path(
    delete,
    path = "/api/v1/hosts/{hostname}",
    operation_id = "hosts_delete",
    tag = "hosts",
    params(("hostname" = String, Path, description = "Host name (case-insensitive)"), DeleteHostQuery),
    responses(
        (status = 204, description = "Retired (`history=keep`) or deleted with its history (`history=purge`)"),
        (status = 400, description = "`history` is neither keep nor purge"),
        (status = 404, description = "No such host"),
        crate::api_types::AdminRefusals
    )
)]
pub async fn api_delete(
    State(state): State<AppState>,
    crate::auth::Admin(viewer): crate::auth::Admin,
    Path(hostname): Path<String>,
    Query(q): Query<DeleteHostQuery>,
) -> Result<axum::http::StatusCode, AppError> {
    let purge = match q.history.as_deref().map(str::trim) {
        None | Some("" | "keep") => false,
        Some("purge") => true,
        Some(other) => {
            return Err(AppError::BadRequest(format!(
                "history {other:?}: keep (retire the host, keep its reports) or purge"
            )));
        }
    };
    retire_or_delete(&state, &viewer, &hostname, purge).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// The host page's retire / delete form.
#[derive(Debug, Default, Deserialize)]
pub struct RetireForm {
    /// `on` (a checked box): delete the host with its reports.
    #[serde(default)]
    pub purge_history: Option<String>,
}

/// `POST /hosts/{hostname}/retire`: retires the host, or deletes it with its history when
/// the form's box is checked; back to the hosts list.
///
/// # Errors
/// CSRF, admin, unknown host or store failures.
pub async fn retire_form(
    State(state): State<AppState>,
    Path(hostname): Path<String>,
    crate::auth::AdminForm(viewer, f): crate::auth::AdminForm<RetireForm>,
) -> Result<Response, AppError> {
    let purge = f.purge_history.is_some_and(|v| !v.is_empty());
    retire_or_delete(&state, &viewer, &hostname, purge).await?;
    Ok(axum::response::Redirect::to("/hosts").into_response())
}
