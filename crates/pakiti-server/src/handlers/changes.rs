//! What changed since a moment: `GET /api/v1/changes?since=&until=` and the `/changes` page,
//! from one query function ([`query`]): (host, CVE) exposures gained and lost with their
//! causes, advisories that first affected the fleet, hosts added and retired, and the median
//! time to patch per host group, all within the viewer's host scope.

use askama::Template;
use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use pakiti_store::{Change, ChangeKind, ChangesQuery as StoreQuery};
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};
use utoipa::IntoParams;

use crate::api_types::{ApiChange, ApiChangeCounts, ApiChangesPage, ApiTimeToPatch, rfc3339};
use crate::auth::Viewer;
use crate::error::AppError;
use crate::export::{self, Format};
use crate::state::AppState;
use crate::web::{VERSION, render};

/// Query parameters of the changes list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// Window start: RFC 3339 (`2026-12-01T08:00:00Z`) or a day (`2026-12-01`, midnight
    /// UTC); default 24 hours ago.
    pub since: Option<String>,
    /// Window end (exclusive), same forms; default now.
    pub until: Option<String>,
    /// Only changes of this kind: `gained`, `lost`, `advisory`, `host_added`, `host_retired`.
    pub kind: Option<String>,
    /// Rows to skip.
    pub offset: Option<i64>,
    /// Page size (default 100, at most 1000).
    pub limit: Option<i64>,
    /// `csv` or `json`: every change of the window instead of a page.
    pub format: Option<Format>,
}

/// Parses `since` / `until`: RFC 3339, or `YYYY-MM-DD` as midnight UTC.
///
/// # Errors
/// Neither form, with what was expected.
pub fn parse_instant(name: &str, s: &str) -> Result<OffsetDateTime, AppError> {
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = Date::parse(s, &fmt) {
        return Ok(d.midnight().assume_utc());
    }
    Err(AppError::BadRequest(format!(
        "{name}={s:?} is neither an RFC 3339 time (2026-12-01T08:00:00Z) nor a day (2026-12-01)"
    )))
}

fn kind_of(word: &str) -> Result<ChangeKind, AppError> {
    Ok(match word {
        "gained" => ChangeKind::Gained,
        "lost" => ChangeKind::Lost,
        "advisory" => ChangeKind::Advisory,
        "host_added" => ChangeKind::HostAdded,
        "host_retired" => ChangeKind::HostRetired,
        other => {
            return Err(AppError::BadRequest(format!(
                "kind={other:?}: expected gained, lost, advisory, host_added or host_retired"
            )));
        }
    })
}

fn api_change(c: Change) -> ApiChange {
    let fixable = matches!(c.kind, ChangeKind::Gained | ChangeKind::Lost)
        .then_some(c.fixed_version.is_some());
    ApiChange {
        at: rfc3339(c.at),
        kind: c.kind.as_str().to_owned(),
        hostname: c.hostname,
        group: c.host_group,
        cve: c.cve,
        advisory: c.advisory,
        severity: c.severity,
        fixed_version: c.fixed_version,
        fixable,
        cause: c.cause,
        report_id: c.report,
        hosts: c.hosts,
    }
}

/// The changes `viewer` may see in `q`'s window (`all`: every one, for exports).
///
/// # Errors
/// A bad `since`, `until` or `kind` (400); a store failure.
pub async fn query(
    state: &AppState,
    viewer: &Viewer,
    q: &ChangesQuery,
    all: bool,
) -> Result<ApiChangesPage, AppError> {
    let now = OffsetDateTime::now_utc();
    let since = match q.since.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(s) => parse_instant("since", s)?,
        None => now - time::Duration::hours(24),
    };
    let until = match q.until.as_deref().filter(|s| !s.trim().is_empty()) {
        // A little past now, so changes of this very second are in.
        None => now + time::Duration::seconds(1),
        Some(s) => parse_instant("until", s)?,
    };
    if until < since {
        return Err(AppError::BadRequest(format!(
            "until ({}) is before since ({})",
            rfc3339(until),
            rfc3339(since)
        )));
    }
    let kind = q
        .kind
        .as_deref()
        .filter(|k| !k.is_empty())
        .map(kind_of)
        .transpose()?;
    let sq = StoreQuery {
        since,
        until,
        scope: &viewer.scope,
    };
    let changes = state.store.changes(&sq).await?;
    let mut counts = ApiChangeCounts::default();
    for c in &changes {
        match c.kind {
            ChangeKind::Gained => {
                counts.gained += 1;
                counts.gained_fixable += i64::from(c.fixed_version.is_some());
            }
            ChangeKind::Lost => counts.lost += 1,
            ChangeKind::Advisory => counts.advisories += 1,
            ChangeKind::HostAdded => counts.hosts_added += 1,
            ChangeKind::HostRetired => counts.hosts_retired += 1,
        }
    }
    let time_to_patch = state
        .store
        .time_to_patch(&sq)
        .await?
        .into_iter()
        .map(|t| ApiTimeToPatch {
            group: t.group,
            fixed: t.fixed,
            median_days: (t.median_days * 10.0).round() / 10.0,
        })
        .collect();
    let selected: Vec<Change> = changes
        .into_iter()
        .filter(|c| kind.is_none_or(|k| c.kind == k))
        .collect();
    let total = i64::try_from(selected.len()).unwrap_or(i64::MAX);
    let (offset, limit) = if all {
        (0, total.max(1))
    } else {
        (
            q.offset.unwrap_or(0).max(0),
            q.limit.unwrap_or(100).clamp(1, 1000),
        )
    };
    let page: Vec<ApiChange> = selected
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(api_change)
        .collect();
    Ok(ApiChangesPage {
        since: rfc3339(since),
        until: rfc3339(until),
        counts,
        time_to_patch,
        changes: page,
        total,
        offset,
        limit,
    })
}

/// `GET /api/v1/changes`: exposures gained and lost (with causes), advisories that first
/// affected the fleet, hosts added and retired, and median time to patch per host group, in
/// the viewer's scope.
///
/// # Errors
/// A bad parameter (400); a store failure.
#[utoipa::path(
    get,
    path = "/api/v1/changes",
    operation_id = "changes_list",
    tag = "stats",
    params(ChangesQuery),
    responses(
        (status = 200, description = "Changes in the window, newest first (with `format`: every change as CSV or a JSON array)", body = ApiChangesPage),
        (status = 400, description = "A malformed `since`, `until` or `kind`")
    )
)]
pub async fn api_list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<ChangesQuery>,
) -> Result<Response, AppError> {
    if let Some(f) = q.format.filter(|f| *f != Format::Html) {
        let page = query(&state, &viewer, &q, true).await?;
        return export::list(
            &export::FormatQuery { format: Some(f) },
            "changes",
            &page.changes,
        );
    }
    Ok(Json(query(&state, &viewer, &q, false).await?).into_response())
}

#[derive(Template)]
#[template(path = "changes.html")]
struct ChangesPage {
    version: &'static str,
    page: ApiChangesPage,
    since: String,
    until: String,
    kind: String,
    prev: Option<String>,
    next: Option<String>,
    csv_href: String,
    json_href: String,
}

/// `/changes`: the same, as a page.
///
/// # Errors
/// A bad parameter (400); a store failure.
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<ChangesQuery>,
) -> Result<Response, AppError> {
    if let Some(f) = q.format.filter(|f| *f != Format::Html) {
        let page = query(&state, &viewer, &q, true).await?;
        if let Some(r) = export::export(f, "changes", &page.changes)? {
            return Ok(r);
        }
    }
    let page = query(&state, &viewer, &q, false).await?;
    let since = q.since.clone().unwrap_or_default();
    let until = q.until.clone().unwrap_or_default();
    let kind = q.kind.clone().unwrap_or_default();
    let enc = |v: &str| {
        percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let base = [("since", &since), ("until", &until), ("kind", &kind)]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let prev = (page.offset > 0).then(|| {
        crate::web::with(
            &base,
            &format!("offset={}", (page.offset - page.limit).max(0)),
        )
    });
    let next = (page.offset + page.limit < page.total)
        .then(|| crate::web::with(&base, &format!("offset={}", page.offset + page.limit)));
    render(&ChangesPage {
        version: VERSION,
        csv_href: crate::web::with(&base, "format=csv"),
        json_href: crate::web::with(&base, "format=json"),
        page,
        since,
        until,
        kind,
        prev,
        next,
    })
}
