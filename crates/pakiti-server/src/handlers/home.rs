//! The front page `/` and `GET /api/v1/summary`: the morning view for the viewer's scope —
//! hosts exposed to tagged or CISA KEV CVEs with a fix available, new exposures since a day
//! (`?since=YYYY-MM-DD`, by default the last 24 hours), hosts not reporting, reports with
//! problems or refused, failing or stale feeds and repositories, reboots needed. Every number
//! is counted by the same query as the list it links to (a `HostsQuery` for the host numbers),
//! so following a link shows exactly that many rows.

use askama::Template;
use axum::Json;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::IntoParams;

use crate::api_types::{ApiSummary, ApiSummaryItem, rfc3339};
use crate::auth::Viewer;
use crate::error::AppError;
use crate::handlers::hosts::{HostsQuery, count_hosts, filter_qs};
use crate::handlers::{feeds, refused, repositories};
use crate::state::AppState;
use crate::web::{VERSION, enc, render};

/// Pakiti 3 highlighted hosts whose last report is older than two days; feeds and
/// repositories not synced for as long are stale.
pub const NOT_REPORTING_DAYS: i64 = 2;

/// Query parameters of `/` and `GET /api/v1/summary`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// The start of "new": `YYYY-MM-DD` (midnight UTC) or RFC 3339; by default 24 hours ago.
    pub since: Option<String>,
}

/// A host number: counted by the hosts query its link opens.
async fn host_item(
    state: &AppState,
    viewer: &Viewer,
    key: &str,
    label: &str,
    q: HostsQuery,
) -> Result<ApiSummaryItem, AppError> {
    let count = count_hosts(state, viewer, &q).await?;
    Ok(ApiSummaryItem {
        key: key.to_owned(),
        label: label.to_owned(),
        count,
        link: format!("/hosts?{}", filter_qs(&q)),
        alarm: true,
    })
}

/// The summary for `viewer`'s scope.
///
/// # Errors
/// A malformed `since` (400) or a store failure.
pub async fn summary(
    state: &AppState,
    viewer: &Viewer,
    q: &SummaryQuery,
) -> Result<ApiSummary, AppError> {
    let now = OffsetDateTime::now_utc();
    let (since, since_text) = match q.since.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => (
            crate::web::parse_since(s).map_err(AppError::BadRequest)?,
            s.to_owned(),
        ),
        None => {
            let t = (now - time::Duration::hours(24))
                .replace_nanosecond(0)
                .unwrap_or(now);
            (t, rfc3339(t))
        }
    };
    let hosts = count_hosts(state, viewer, &HostsQuery::default()).await?;
    let facts = state.engine.cve_facts();
    let mut items = vec![
        host_item(
            state,
            viewer,
            "exposed_tagged",
            "hosts exposed to a CVE tagged by this site, with a fix available",
            HostsQuery {
                exposed: Some("tagged".into()),
                ..HostsQuery::default()
            },
        )
        .await?,
        host_item(
            state,
            viewer,
            "exposed_kev",
            "hosts exposed to a known exploited CVE (CISA KEV), with a fix available",
            HostsQuery {
                exposed: Some("kev".into()),
                ..HostsQuery::default()
            },
        )
        .await?,
        // From the exposure history: hosts with an exposure that began since then (by a
        // report or a feed change) and is still open; the full list is on /changes.
        host_item(
            state,
            viewer,
            "new_exposures",
            "hosts with new exposures since then (still open)",
            HostsQuery {
                exposed_since: Some(since_text.clone()),
                ..HostsQuery::default()
            },
        )
        .await?,
        host_item(
            state,
            viewer,
            "not_reporting",
            &format!("hosts not reporting for {NOT_REPORTING_DAYS} days"),
            HostsQuery {
                not_reporting_days: Some(NOT_REPORTING_DAYS),
                ..HostsQuery::default()
            },
        )
        .await?,
        host_item(
            state,
            viewer,
            "report_problems",
            "hosts whose last report had unreadable lines",
            HostsQuery {
                report_problems: Some(true),
                ..HostsQuery::default()
            },
        )
        .await?,
    ];
    let refused = refused::query(state, viewer, &refused::RefusedQuery::default(), true).await?;
    items.push(ApiSummaryItem {
        key: "refused_reports".into(),
        label: "refused reports (kept journal)".into(),
        count: refused.total,
        link: "/reports/refused".into(),
        alarm: true,
    });
    let stale_before = now - time::Duration::days(NOT_REPORTING_DAYS);
    let stale = |last: Option<&String>| {
        last.and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
            .is_none_or(|t| t < stale_before)
    };
    let feeds = feeds::feed_rows(state).await?;
    let feeds: Vec<_> = feeds.iter().filter(|f| f.enabled).collect();
    let repos = repositories::repository_rows(state).await?;
    let repos: Vec<_> = repos.iter().filter(|r| r.enabled).collect();
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    for (key, label, n, link) in [
        (
            "failed_feeds",
            "feeds whose last sync failed",
            feeds
                .iter()
                .filter(|f| f.last_status.as_deref() == Some("failed"))
                .count(),
            "/feeds",
        ),
        (
            "stale_feeds",
            "feeds never synced or not for 2 days",
            feeds.iter().filter(|f| stale(f.last_sync.as_ref())).count(),
            "/feeds",
        ),
        (
            "failed_repositories",
            "repositories whose last sync failed",
            repos
                .iter()
                .filter(|r| r.last_status.as_deref() == Some("failed"))
                .count(),
            "/repositories",
        ),
        (
            "stale_repositories",
            "repositories never synced or not for 2 days",
            repos.iter().filter(|r| stale(r.last_sync.as_ref())).count(),
            "/repositories",
        ),
    ] {
        items.push(ApiSummaryItem {
            key: key.into(),
            label: label.into(),
            count: count(n),
            link: link.into(),
            alarm: true,
        });
    }
    items.push(
        host_item(
            state,
            viewer,
            "reboot_needed",
            "hosts that need a reboot (newer kernel installed)",
            HostsQuery {
                reboot: Some(true),
                ..HostsQuery::default()
            },
        )
        .await?,
    );
    items.push(
        host_item(
            state,
            viewer,
            "not_covered",
            "hosts no imported vendor data covers",
            HostsQuery {
                not_covered: Some(true),
                ..HostsQuery::default()
            },
        )
        .await?,
    );
    Ok(ApiSummary {
        hosts,
        changes_link: format!("/changes?since={}", enc(&since_text)),
        since: rfc3339(since),
        not_reporting_days: NOT_REPORTING_DAYS,
        cve_facts_known: count(facts.len()),
        items,
    })
}

/// `GET /api/v1/summary`.
///
/// # Errors
/// A malformed `since` (400) or a store failure.
#[utoipa::path(
    get,
    path = "/api/v1/summary",
    operation_id = "summary_get",
    tag = "hosts",
    params(SummaryQuery),
    responses(
        (status = 200, description = "The front page's numbers for the viewer's scope, each with the list it counts", body = ApiSummary),
        (status = 400, description = "A malformed `since`")
    )
)]
pub async fn api_get(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<SummaryQuery>,
) -> Result<Json<ApiSummary>, AppError> {
    Ok(Json(summary(&state, &viewer, &q).await?))
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    version: &'static str,
    s: ApiSummary,
    since_date: String,
    risk_explained: &'static str,
}

/// The front page `/`.
///
/// # Errors
/// A malformed `since` or a store failure.
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<SummaryQuery>,
) -> Result<Response, AppError> {
    let s = summary(&state, &viewer, &q).await?;
    render(&HomePage {
        version: VERSION,
        since_date: s.since.get(..10).unwrap_or("").to_owned(),
        s,
        risk_explained: pakiti_core::risk::RISK_ORDER_EXPLAINED,
    })
}
