//! Package repositories (update detection; read-only over HTTP, `pakiti repo` changes them):
//! `GET /api/v1/repositories` and the `/repositories` page, from [`repository_rows`].

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;

use crate::api_types::{ApiRepository, rfc3339};
use crate::auth::Viewer;
use crate::error::AppError;
use crate::export::{self, FormatQuery};
use crate::state::AppState;
use crate::web::{VERSION, render};

/// Every repository with its last sync (no host data: any viewer may read it).
///
/// # Errors
/// A store failure.
pub async fn repository_rows(state: &AppState) -> Result<Vec<ApiRepository>, AppError> {
    Ok(state
        .store
        .list_repositories()
        .await?
        .into_iter()
        .map(|r| ApiRepository {
            security: r.is_security(),
            priority: r.priority.or(r.meta_priority),
            name: r.name,
            kind: r.kind,
            url: r.url,
            stream: r.stream,
            arch: r.arch,
            enabled: r.enabled,
            last_sync: r.last_sync.as_ref().map(|s| rfc3339(s.at)),
            last_status: r.last_sync.as_ref().map(|s| s.status.as_str().to_owned()),
            last_error: r.last_sync.as_ref().and_then(|s| s.error.clone()),
            packages: r.package_count,
        })
        .collect())
}

/// `GET /api/v1/repositories`.
///
/// # Errors
/// A store failure.
#[utoipa::path(
    get,
    path = "/api/v1/repositories",
    operation_id = "repositories_list",
    tag = "repositories",
    params(FormatQuery),
    responses(
        (status = 200, description = "Every package repository and its last sync", body = Vec<ApiRepository>)
    )
)]
pub async fn api_list(
    State(state): State<AppState>,
    _viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    export::list(&q, "repositories", &repository_rows(&state).await?)
}

#[derive(Template)]
#[template(path = "repositories.html")]
struct RepositoriesPage {
    version: &'static str,
    repos: Vec<ApiRepository>,
}

/// `/repositories`: every package repository and its last sync (read-only, no host data).
///
/// # Errors
/// A store failure.
pub async fn list_page(
    State(state): State<AppState>,
    _viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let rows = repository_rows(&state).await?;
    if let Some(r) = export::export(q.format.unwrap_or_default(), "repositories", &rows)? {
        return Ok(r);
    }
    render(&RepositoriesPage {
        version: VERSION,
        repos: rows,
    })
}
