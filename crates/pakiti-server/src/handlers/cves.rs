//! CVEs: `GET /api/v1/cves`, `GET /api/v1/cves/{cve}` and the pages `/cves`, `/cves/{cve}`.
//! [`cve_rows`] and [`cve_detail`] answer both.

use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;

use crate::api_types::{
    ApiAdvisory, ApiAffectedHost, ApiAffectedPackage, ApiCve, ApiCveDetail, api_tag,
};
use crate::auth::Viewer;
use crate::error::AppError;
use crate::export::{self, FormatQuery};

use crate::state::AppState;
use crate::web::{VERSION, render};

/// The CVEs present on hosts in the viewer's scope, most widespread first.
///
/// # Errors
/// The fleet index cannot be built.
pub async fn cve_rows(state: &AppState, viewer: &Viewer) -> Result<Vec<ApiCve>, AppError> {
    let fleet = state.engine.fleet().await?;
    Ok(fleet
        .cves(&viewer.scope)
        .into_iter()
        .map(|c| ApiCve {
            cve: c.cve,
            severity: c.severity.as_str().to_owned(),
            hosts: c.hosts,
            advisories: c.advisories,
            tags: c.tags,
        })
        .collect())
}

/// One CVE's advisories, tags and affected hosts (in scope).
///
/// # Errors
/// No advisory in the fleet names it (404).
pub async fn cve_detail(
    state: &AppState,
    viewer: &Viewer,
    cve: &str,
    limit: usize,
) -> Result<ApiCveDetail, AppError> {
    let fleet = state.engine.fleet().await?;
    // A CVE that only hosts outside the viewer's scope have answers exactly like one no
    // host has: the page must not tell a restricted user that it exists elsewhere.
    let d = fleet
        .cve_limited(cve, &viewer.scope, limit)
        .filter(|d| d.host_total > 0)
        .ok_or_else(|| AppError::NotFound(format!("{cve} is not present in the fleet")))?;
    Ok(ApiCveDetail {
        cve: d.cve,
        severity: d.severity.as_str().to_owned(),
        advisories: d
            .advisories
            .into_iter()
            .map(|a| ApiAdvisory {
                id: a.id,
                source: a.source,
                title: a.title,
                severity: a.severity.as_str().to_owned(),
                references: a.references,
            })
            .collect(),
        tags: d.tags.iter().map(api_tag).collect(),
        host_count: d.host_total,
        hosts: d
            .hosts
            .into_iter()
            .map(|h| ApiAffectedHost {
                hostname: h.hostname,
                host_group: h.group,
                os_stream: h.stream,
                packages: h
                    .packages
                    .into_iter()
                    .map(|p| ApiAffectedPackage {
                        package: p.package,
                        version: p.version,
                        arch: p.arch,
                        advisory: p.advisory,
                        fixed_version: p.fixed_version,
                        status: p.status,
                    })
                    .collect(),
            })
            .collect(),
    })
}

/// `GET /api/v1/cves`.
///
/// # Errors
/// See [`cve_rows`].
#[utoipa::path(
    get,
    path = "/api/v1/cves",
    operation_id = "cves_list",
    tag = "cves",
    params(FormatQuery),
    responses(
        (status = 200, description = "The CVEs on hosts in the viewer's scope, most widespread first", body = Vec<ApiCve>)
    )
)]
pub async fn api_list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    export::list(&q, "cves", &cve_rows(&state, &viewer).await?)
}

/// `GET /api/v1/cves/{cve}`.
///
/// # Errors
/// See [`cve_detail`].
#[utoipa::path(
    get,
    path = "/api/v1/cves/{cve}",
    operation_id = "cves_get",
    tag = "cves",
    params(("cve" = String, Path, description = "CVE id")),
    responses(
        (status = 200, description = "One CVE: advisories, tags, affected hosts", body = ApiCveDetail),
        (status = 404, description = "No host in the viewer's scope has it")
    )
)]
pub async fn api_get(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(cve): Path<String>,
) -> Result<Json<ApiCveDetail>, AppError> {
    Ok(Json(cve_detail(&state, &viewer, &cve, usize::MAX).await?))
}

#[derive(Template)]
#[template(path = "cves.html")]
struct CvesPage {
    version: &'static str,
    cves: Vec<ApiCve>,
}

/// The CVEs present in the fleet.
///
/// # Errors
/// The fleet index cannot be built.
pub async fn list_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let rows = cve_rows(&state, &viewer).await?;
    if let Some(r) = export::export(q.format.unwrap_or_default(), "cves", &rows)? {
        return Ok(r);
    }
    render(&CvesPage {
        version: VERSION,
        cves: rows,
    })
}

#[derive(Template)]
#[template(path = "cve.html")]
struct CvePage {
    version: &'static str,
    d: ApiCveDetail,
    csrf: String,
    default_tags: [&'static str; 2],
}

/// One CVE.
///
/// # Errors
/// Not present in the fleet (404).
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(cve): Path<String>,
) -> Result<Response, AppError> {
    let d = cve_detail(&state, &viewer, &cve, 500).await?;
    render(&CvePage {
        version: VERSION,
        d,
        csrf: viewer.csrf.clone(),
        default_tags: pakiti_store::DEFAULT_TAGS,
    })
}
