//! Refused reports: `GET /api/v1/reports/refused` and the `/reports/refused` page, from one
//! query function. A report the server refused (4xx) is recorded by `handlers/feed.rs`, so a
//! site sees which hosts fail to report, not only which are silent.
//!
//! Admins see every refusal; other viewers only those naming a host they may see (a refusal
//! from an unknown host, or one without a readable name, could be anyone's).

use askama::Template;
use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use pakiti_store::{HostFilter, HostSort, Page, RefusedReport};
use serde::{Deserialize, Serialize};

use crate::auth::Viewer;
use crate::error::AppError;
use crate::export::{self, Format};
use crate::handlers::api::rfc3339;
use crate::state::AppState;

/// A refused report as the API shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiRefusedReport {
    /// When it arrived, RFC 3339.
    pub received_at: String,
    /// The host name the report gave, when it could be read.
    pub hostname: Option<String>,
    /// The sender's address.
    pub peer: Option<String>,
    /// Wire format: `4 (urlencoded)`, `4 (multipart)`, `5`, `5 (S/MIME)`, `json`, `unknown`.
    pub protocol: String,
    /// The HTTP status answered.
    pub status: i64,
    /// Why it was refused, as answered to the client.
    pub reason: String,
}

/// A page of refused reports, newest first.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiRefusedPage {
    /// Refusals on this page.
    pub reports: Vec<ApiRefusedReport>,
    /// Refusals the viewer may see, in total (the server keeps the newest
    /// `refused_reports_kept`).
    pub total: i64,
    /// Offset of this page.
    pub offset: i64,
    /// Page size.
    pub limit: i64,
}

/// Query parameters of the refused-reports list.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RefusedQuery {
    /// Rows to skip.
    pub offset: Option<i64>,
    /// Page size (default 100, at most 1000).
    pub limit: Option<i64>,
    /// `csv` or `json` (page only): every refusal the viewer may see.
    pub format: Option<Format>,
}

fn api_refused(r: RefusedReport) -> ApiRefusedReport {
    ApiRefusedReport {
        received_at: rfc3339(r.received_at),
        hostname: r.hostname,
        peer: r.peer,
        protocol: r.protocol,
        status: r.status,
        reason: r.reason,
    }
}

impl crate::export::CsvRow for ApiRefusedReport {
    const HEADER: &'static [&'static str] = &[
        "received_at",
        "hostname",
        "peer",
        "protocol",
        "status",
        "reason",
    ];
    fn fields(&self) -> Vec<String> {
        use crate::export::opt;
        vec![
            self.received_at.clone(),
            opt(self.hostname.as_ref()),
            opt(self.peer.as_ref()),
            self.protocol.clone(),
            self.status.to_string(),
            self.reason.clone(),
        ]
    }
}

/// The hostnames (lower case) of every host `viewer` may see.
async fn visible_hostnames(
    state: &AppState,
    viewer: &Viewer,
) -> Result<std::collections::HashSet<String>, AppError> {
    let filter = HostFilter {
        scope: viewer.scope.clone(),
        ..HostFilter::default()
    };
    let mut out = std::collections::HashSet::new();
    let mut offset = 0;
    loop {
        let page = state
            .store
            .list_hosts(
                &filter,
                HostSort::default(),
                Page {
                    offset,
                    limit: 1000,
                },
            )
            .await?;
        let n = i64::try_from(page.hosts.len()).unwrap_or(i64::MAX);
        out.extend(page.hosts.into_iter().map(|h| h.hostname.to_lowercase()));
        offset += n;
        if n == 0 || offset >= page.total {
            return Ok(out);
        }
    }
}

/// The refusals `viewer` may see (`all`: every one, for exports), newest first.
///
/// # Errors
/// A store failure.
pub async fn query(
    state: &AppState,
    viewer: &Viewer,
    q: &RefusedQuery,
    all: bool,
) -> Result<ApiRefusedPage, AppError> {
    let kept = i64::from(state.settings.refused_reports_kept.max(1));
    let (offset, limit) = if all {
        (0, kept)
    } else {
        (
            q.offset.unwrap_or(0).max(0),
            q.limit.unwrap_or(100).clamp(1, 1000),
        )
    };
    if viewer.admin {
        let (rows, total) = state.store.refused_reports(offset, limit).await?;
        return Ok(ApiRefusedPage {
            reports: rows.into_iter().map(api_refused).collect(),
            total,
            offset,
            limit,
        });
    }
    // Others: only refusals naming a host they may see. The table is bounded (`kept` rows),
    // so it is filtered here rather than joined in SQL.
    let visible = visible_hostnames(state, viewer).await?;
    let (rows, _) = state.store.refused_reports(0, kept).await?;
    let mine: Vec<ApiRefusedReport> = rows
        .into_iter()
        .filter(|r| {
            r.hostname
                .as_ref()
                .is_some_and(|h| visible.contains(&h.to_lowercase()))
        })
        .map(api_refused)
        .collect();
    let total = i64::try_from(mine.len()).unwrap_or(i64::MAX);
    let reports = mine
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect();
    Ok(ApiRefusedPage {
        reports,
        total,
        offset,
        limit,
    })
}

/// `GET /api/v1/reports/refused`.
///
/// # Errors
/// A store failure (500).
pub async fn api_list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<RefusedQuery>,
) -> Result<Json<ApiRefusedPage>, AppError> {
    Ok(Json(query(&state, &viewer, &q, false).await?))
}

#[derive(Template)]
#[template(path = "refused.html")]
struct RefusedPage {
    version: &'static str,
    page: ApiRefusedPage,
    kept: u32,
    next: Option<i64>,
    prev: Option<i64>,
}

/// `/reports/refused`: reports the server refused, newest first (`?format=csv|json`: all).
///
/// # Errors
/// A store failure.
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<RefusedQuery>,
) -> Result<Response, AppError> {
    if let Some(format) = q.format.filter(|f| *f != Format::Html) {
        let all = query(&state, &viewer, &q, true).await?;
        return Ok(export::export(format, "refused-reports", &all.reports)?
            .unwrap_or_else(|| Json(all.reports).into_response()));
    }
    let page = query(&state, &viewer, &q, false).await?;
    let next = (page.offset + page.limit < page.total).then_some(page.offset + page.limit);
    let prev = (page.offset > 0).then(|| (page.offset - page.limit).max(0));
    crate::web::render(&RefusedPage {
        version: crate::web::VERSION,
        page,
        kept: state.settings.refused_reports_kept,
        next,
        prev,
    })
}
