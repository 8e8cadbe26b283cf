//! Server-rendered pages (askama templates, escaped by default; no JavaScript needed).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

use crate::error::AppError;
use crate::handlers::api::{self, ApiFinding, ApiHost, HostsQuery};
use crate::state::AppState;

const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Template)]
#[template(path = "hosts.html")]
struct HostsPage {
    version: &'static str,
    hosts: Vec<ApiHost>,
    total: i64,
    search: String,
    vulnerable: bool,
    prev_offset: i64,
    next_offset: i64,
}

#[derive(Template)]
#[template(path = "host.html")]
struct HostPage {
    version: &'static str,
    host: ApiHost,
    findings: Vec<ApiFinding>,
}

fn render(t: &impl Template) -> Result<Response, AppError> {
    let html = t
        .render()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("template: {e}")))?;
    Ok(Html(html).into_response())
}

/// The hosts page.
///
/// # Errors
/// Bad parameters or a store failure.
pub async fn hosts(
    State(state): State<AppState>,
    Query(q): Query<HostsQuery>,
) -> Result<Response, AppError> {
    let search = q.search.clone().unwrap_or_default();
    let vulnerable = q.vulnerable.unwrap_or(false);
    let axum::Json(page) = api::list_hosts(State(state), Query(q)).await?;
    let next = page.offset + page.limit;
    render(&HostsPage {
        version: VERSION,
        total: page.total,
        prev_offset: if page.offset > 0 {
            (page.offset - page.limit).max(0)
        } else {
            -1
        },
        next_offset: if next < page.total { next } else { -1 },
        hosts: page.hosts,
        search,
        vulnerable,
    })
}

/// One host's page.
///
/// # Errors
/// Unknown host or a store failure.
pub async fn host(
    State(state): State<AppState>,
    Path(hostname): Path<String>,
) -> Result<Response, AppError> {
    let detail = api::get_host(State(state), Path(hostname)).await?.0;
    render(&HostPage {
        version: VERSION,
        host: detail.host,
        findings: detail.findings,
    })
}

/// The stylesheet.
pub async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../static/pakiti.css"),
    )
}
