//! The audit log for administrators: `GET /api/v1/audit` and the `/audit` page, from one
//! query function. What is recorded, and how, is `crate::audit`'s.

use askama::Template;
use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use pakiti_store::{AuditEntry, AuditFilter};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api_types::{AdminRefusals, ApiAuditEntry, ApiAuditPage, rfc3339};
use crate::auth::Admin;
use crate::error::AppError;
use crate::export::{self, Format};
use crate::state::AppState;
use crate::web::{VERSION, render};

/// The most entries an export answers when the log is unbounded (`audit_kept = 0`).
const EXPORT_MAX: i64 = 1_000_000;

/// Query parameters of the audit log.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Rows to skip.
    pub offset: Option<i64>,
    /// Page size (default 100, at most 1000).
    pub limit: Option<i64>,
    /// Only this actor (`alice`, `cli:root`, `admin`).
    pub actor: Option<String>,
    /// Only actions starting with this (`login`, `POST /users`, `user`).
    pub action: Option<String>,
    /// `csv` or `json` (page only): every matching entry.
    pub format: Option<Format>,
}

impl AuditQuery {
    fn filter(&self) -> AuditFilter {
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        AuditFilter {
            actor: given(&self.actor),
            action: given(&self.action),
        }
    }
}

fn api_entry(e: AuditEntry) -> ApiAuditEntry {
    let AuditEntry { id, entry } = e;
    ApiAuditEntry {
        id,
        at: rfc3339(entry.at),
        actor: entry.actor,
        via: entry.via,
        action: entry.action,
        target: entry.target,
        detail: entry.detail,
        status: entry.status,
    }
}

/// The entries matching `q`, newest first (`all`: every one, for exports).
///
/// # Errors
/// A store failure.
pub async fn query(state: &AppState, q: &AuditQuery, all: bool) -> Result<ApiAuditPage, AppError> {
    let (offset, limit) = if all {
        let kept = i64::from(state.settings.log.audit_kept);
        (0, if kept == 0 { EXPORT_MAX } else { kept })
    } else {
        (
            q.offset.unwrap_or(0).max(0),
            q.limit.unwrap_or(100).clamp(1, 1000),
        )
    };
    let (rows, total) = state
        .store
        .audit_entries(&q.filter(), offset, limit)
        .await?;
    Ok(ApiAuditPage {
        entries: rows.into_iter().map(api_entry).collect(),
        total,
        offset,
        limit,
    })
}

/// `GET /api/v1/audit`: administrative changes and log-ins, newest first (administrators).
///
/// # Errors
/// Not an admin (401/403), a store failure.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    operation_id = "audit_list",
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "Audit log entries, newest first", body = ApiAuditPage),
        AdminRefusals
    )
)]
pub async fn api_list(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<AuditQuery>,
) -> Result<Json<ApiAuditPage>, AppError> {
    Ok(Json(query(&state, &q, false).await?))
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    version: &'static str,
    page: ApiAuditPage,
    actor: String,
    action: String,
    /// The filter as a query string suffix (`&actor=…&action=…`) for the pager and exports.
    filter_qs: String,
    kept: u32,
    next: Option<i64>,
    prev: Option<i64>,
}

/// `/audit`: the audit log, filtered by actor and action (`?format=csv|json`: every matching
/// entry).
///
/// # Errors
/// Not an admin (403), a store failure.
pub async fn page(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<AuditQuery>,
) -> Result<Response, AppError> {
    if let Some(format) = q.format.filter(|f| *f != Format::Html) {
        let all = query(&state, &q, true).await?;
        return Ok(export::export(format, "audit-log", &all.entries)?
            .unwrap_or_else(|| Json(all.entries).into_response()));
    }
    let page = query(&state, &q, false).await?;
    let filter = q.filter();
    let mut filter_qs = String::new();
    for (k, v) in [("actor", &filter.actor), ("action", &filter.action)] {
        if let Some(v) = v {
            filter_qs.push_str(&format!(
                "&{k}={}",
                utf8_percent_encode(v, NON_ALPHANUMERIC)
            ));
        }
    }
    let next = (page.offset + page.limit < page.total).then_some(page.offset + page.limit);
    let prev = (page.offset > 0).then(|| (page.offset - page.limit).max(0));
    render(&AuditPage {
        version: VERSION,
        page,
        actor: filter.actor.unwrap_or_default(),
        action: filter.action.unwrap_or_default(),
        filter_qs,
        kept: state.settings.log.audit_kept,
        next,
        prev,
    })
}
