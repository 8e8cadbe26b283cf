//! Vulnerability feeds (read-only over HTTP; `pakiti feed` changes them): `GET /api/v1/feeds`
//! and the `/feeds` page, from [`feed_rows`].

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;

use crate::api_types::{ApiFeed, rfc3339};
use crate::auth::Viewer;
use crate::error::AppError;
use crate::export::{self, FormatQuery};
use crate::state::AppState;
use crate::web::{VERSION, render};

/// Every feed's status.
///
/// # Errors
/// A store failure.
pub async fn feed_rows(state: &AppState) -> Result<Vec<ApiFeed>, AppError> {
    Ok(state
        .store
        .list_feeds()
        .await?
        .into_iter()
        .map(|f| ApiFeed {
            prioritisation: f.is_prioritisation(),
            name: f.name,
            kind: f.kind.to_string(),
            url: f.url,
            os_stream: f.stream,
            enabled: f.enabled,
            last_sync: f.last_sync.as_ref().map(|s| rfc3339(s.at)),
            last_status: f.last_sync.as_ref().map(|s| s.status.as_str().to_owned()),
            last_error: f.last_sync.as_ref().and_then(|s| s.error.clone()),
            advisories: f.advisory_count,
            affected: f.affected_count,
        })
        .collect())
}

/// `GET /api/v1/feeds`.
///
/// # Errors
/// A store failure.
#[utoipa::path(
    get,
    path = "/api/v1/feeds",
    operation_id = "feeds_list",
    tag = "feeds",
    params(FormatQuery),
    responses(
        (status = 200, description = "Every feed and its last sync", body = Vec<ApiFeed>)
    )
)]
pub async fn api_list(
    State(state): State<AppState>,
    _viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    export::list(&q, "feeds", &feed_rows(&state).await?)
}

#[derive(Template)]
#[template(path = "feeds.html")]
struct FeedsPage {
    version: &'static str,
    feeds: Vec<ApiFeed>,
    /// Streams with source-package advisories but no binary → source map.
    source_gaps: Vec<String>,
}

/// `/feeds`: status of each feed (read-only).
///
/// # Errors
/// A store failure.
pub async fn list_page(
    State(state): State<AppState>,
    _viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let rows = feed_rows(&state).await?;
    if let Some(r) = export::export(q.format.unwrap_or_default(), "feeds", &rows)? {
        return Ok(r);
    }
    render(&FeedsPage {
        version: VERSION,
        feeds: rows,
        source_gaps: state.engine.evaluator().source_map_gaps(),
    })
}
