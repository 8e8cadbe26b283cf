//! Fleet exposure over time: `GET /api/v1/stats` and the `/stats` page (an SVG chart), from
//! [`exposure`].

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use time::OffsetDateTime;

use crate::api_types::ApiExposureDay;
use crate::auth::Viewer;
use crate::error::AppError;
use crate::export::{self, FormatQuery};
use crate::state::AppState;
use crate::web::{VERSION, render};

/// Exposure per day over the last 90 days, in the viewer's scope.
///
/// # Errors
/// A store failure.
pub async fn exposure(state: &AppState, viewer: &Viewer) -> Result<Vec<ApiExposureDay>, AppError> {
    let since = OffsetDateTime::now_utc() - time::Duration::days(90);
    Ok(state
        .store
        .exposure_by_day(since, &viewer.scope)
        .await?
        .into_iter()
        .map(|d| ApiExposureDay {
            day: d.day.to_string(),
            hosts: d.hosts,
            vulnerable_hosts: d.vulnerable_hosts,
            cves: d.cves,
        })
        .collect())
}

/// `GET /api/v1/stats`.
///
/// # Errors
/// A store failure.
#[utoipa::path(
    get,
    path = "/api/v1/stats",
    operation_id = "stats_list",
    tag = "stats",
    params(FormatQuery),
    responses(
        (status = 200, description = "Fleet exposure per day over the last 90 days", body = Vec<ApiExposureDay>)
    )
)]
pub async fn api_list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    export::list(&q, "exposure", &exposure(&state, &viewer).await?)
}

#[derive(Template)]
#[template(path = "stats.html")]
struct StatsPage {
    version: &'static str,
    days: Vec<ApiExposureDay>,
    chart: Chart,
}

/// An SVG line chart's geometry.
pub struct Chart {
    /// Width.
    pub width: i64,
    /// Height.
    pub height: i64,
    /// Polyline points of the CVE sum.
    pub cves: String,
    /// Polyline points of vulnerable hosts (scaled to their own maximum).
    pub hosts: String,
    /// Largest CVE sum.
    pub max_cves: i64,
    /// Largest vulnerable-host count.
    pub max_hosts: i64,
    /// First and last day.
    pub from: String,
    /// Last day.
    pub to: String,
}

fn chart(days: &[ApiExposureDay]) -> Chart {
    let (w, h) = (720_i64, 200_i64);
    let max_cves = days.iter().map(|d| d.cves).max().unwrap_or(0).max(1);
    let max_hosts = days
        .iter()
        .map(|d| d.vulnerable_hosts)
        .max()
        .unwrap_or(0)
        .max(1);
    let n = i64::try_from(days.len()).unwrap_or(1).max(2) - 1;
    let pts = |f: &dyn Fn(&ApiExposureDay) -> i64, max: i64| {
        days.iter()
            .enumerate()
            .map(|(i, d)| {
                let x = 40 + i64::try_from(i).unwrap_or(0) * (w - 50) / n;
                let y = h - 20 - f(d) * (h - 30) / max;
                format!("{x},{y}")
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    Chart {
        width: w,
        height: h,
        cves: pts(&|d| d.cves, max_cves),
        hosts: pts(&|d| d.vulnerable_hosts, max_hosts),
        max_cves,
        max_hosts,
        from: days.first().map(|d| d.day.clone()).unwrap_or_default(),
        to: days.last().map(|d| d.day.clone()).unwrap_or_default(),
    }
}

/// `/stats`: fleet exposure over time.
///
/// # Errors
/// A store failure.
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let days = exposure(&state, &viewer).await?;
    if let Some(r) = export::export(q.format.unwrap_or_default(), "exposure", &days)? {
        return Ok(r);
    }
    render(&StatsPage {
        version: VERSION,
        chart: chart(&days),
        days,
    })
}
