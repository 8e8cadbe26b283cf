//! Host sets: hosts grouped by host group, DNS domain or OS. `GET /api/v1/groups`,
//! `/api/v1/domains`, `/api/v1/oses` and the pages `/groups`, `/domains`, `/oses` (which also
//! shows the site's OS-stream rules), all from [`host_sets`].

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;

use crate::api_types::ApiHostSet;
use crate::auth::Viewer;
use crate::error::AppError;
use crate::export::{self, FormatQuery};
use crate::state::AppState;
use crate::web::{VERSION, render};
use pakiti_engine::fleet::GroupBy;

/// Hosts in the viewer's scope grouped `by`.
///
/// # Errors
/// The fleet index cannot be built.
pub async fn host_sets(
    state: &AppState,
    viewer: &Viewer,
    by: GroupBy,
) -> Result<Vec<ApiHostSet>, AppError> {
    let fleet = state.engine.fleet().await?;
    Ok(fleet
        .host_sets(by, &viewer.scope)
        .into_iter()
        .map(|s| ApiHostSet {
            name: s.name,
            os_stream: if by == GroupBy::Os { s.stream } else { None },
            covered: (by == GroupBy::Os).then_some(s.covered),
            hosts: s.hosts,
            vulnerable_hosts: s.vulnerable_hosts,
            cves: s.cves,
        })
        .collect())
}

/// `GET /api/v1/groups`.
///
/// # Errors
/// See [`host_sets`].
#[utoipa::path(
    get,
    path = "/api/v1/groups",
    operation_id = "sets_groups",
    tag = "sets",
    params(FormatQuery),
    responses(
        (status = 200, description = "Hosts by host group", body = Vec<ApiHostSet>)
    )
)]
pub async fn api_groups(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    export::list(
        &q,
        "groups",
        &host_sets(&state, &viewer, GroupBy::Group).await?,
    )
}

/// `GET /api/v1/domains`.
///
/// # Errors
/// See [`host_sets`].
#[utoipa::path(
    get,
    path = "/api/v1/domains",
    operation_id = "sets_domains",
    tag = "sets",
    params(FormatQuery),
    responses(
        (status = 200, description = "Hosts by DNS domain", body = Vec<ApiHostSet>)
    )
)]
pub async fn api_domains(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    export::list(
        &q,
        "domains",
        &host_sets(&state, &viewer, GroupBy::Domain).await?,
    )
}

/// `GET /api/v1/oses`.
///
/// # Errors
/// See [`host_sets`].
#[utoipa::path(
    get,
    path = "/api/v1/oses",
    operation_id = "sets_oses",
    tag = "sets",
    params(FormatQuery),
    responses(
        (status = 200, description = "Hosts by OS, with its stream and coverage", body = Vec<ApiHostSet>)
    )
)]
pub async fn api_oses(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    export::list(&q, "oses", &host_sets(&state, &viewer, GroupBy::Os).await?)
}

#[derive(Template)]
#[template(path = "sets.html")]
struct SetsPage {
    version: &'static str,
    title: &'static str,
    param: &'static str,
    os: bool,
    sets: Vec<ApiHostSet>,
    rules: Vec<(String, String)>,
}

async fn sets_page(
    state: &AppState,
    viewer: &Viewer,
    q: &FormatQuery,
    by: GroupBy,
) -> Result<Response, AppError> {
    let (title, param, name) = match by {
        GroupBy::Group => ("Host groups", "group", "groups"),
        GroupBy::Domain => ("Domains", "domain", "domains"),
        GroupBy::Os => ("Operating systems", "os", "oses"),
    };
    let sets = host_sets(state, viewer, by).await?;
    if let Some(r) = export::export(q.format.unwrap_or_default(), name, &sets)? {
        return Ok(r);
    }
    render(&SetsPage {
        version: VERSION,
        title,
        param,
        os: by == GroupBy::Os,
        sets,
        rules: if by == GroupBy::Os {
            state
                .settings
                .os_rules
                .iter()
                .map(|r| (r.pattern.clone(), r.stream.clone()))
                .collect()
        } else {
            Vec::new()
        },
    })
}

/// `/groups`.
///
/// # Errors
/// The fleet index cannot be built.
pub async fn groups_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    sets_page(&state, &viewer, &q, GroupBy::Group).await
}

/// `/domains`.
///
/// # Errors
/// The fleet index cannot be built.
pub async fn domains_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    sets_page(&state, &viewer, &q, GroupBy::Domain).await
}

/// `/oses`: OS names, their streams and the site's OS-stream rules.
///
/// # Errors
/// The fleet index cannot be built.
pub async fn oses_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    sets_page(&state, &viewer, &q, GroupBy::Os).await
}
