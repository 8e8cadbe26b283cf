//! Fleet exposure over time: `GET /api/v1/stats` and the `/stats` page (an SVG chart), from
//! [`exposure`]: the daily fleet snapshot carried forward (issue 14 part 5). Each day is the
//! fleet's state at the end of that day — every host then known, with the exposures open
//! then, whether it reported that day or not (a silent host counts with its last state) —
//! from the end-of-day snapshots the server's tick writes (`Engine::history_tick`), a day
//! without one carrying the previous day's; today is the state now.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use time::OffsetDateTime;

use crate::api_types::ApiFleetDay;
use crate::auth::Viewer;
use crate::error::AppError;
use crate::export::{self, FormatQuery};
use crate::state::AppState;
use crate::web::{VERSION, render};

/// The fleet per day over the last 90 days, in the viewer's scope.
///
/// # Errors
/// A store failure.
pub async fn exposure(state: &AppState, viewer: &Viewer) -> Result<Vec<ApiFleetDay>, AppError> {
    let now = OffsetDateTime::now_utc();
    let from = (now - time::Duration::days(90)).date();
    Ok(state
        .store
        .fleet_days(from, now, &viewer.scope)
        .await?
        .into_iter()
        .map(|d| ApiFleetDay {
            day: d.day.map(|d| d.to_string()).unwrap_or_default(),
            hosts: d.hosts,
            vulnerable_hosts: d.exposed_hosts,
            cves: d.open_exposures,
            critical: d.critical,
            high: d.high,
            medium: d.medium,
            low: d.low,
            unknown: d.unknown,
            fixable: d.fixable,
            unfixed: d.open_exposures - d.fixable,
            not_reporting: d.not_reporting,
            carried: d.carried,
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
        (status = 200, description = "The fleet at the end of each day over the last 90 days (today: now), a host that did not report counting with its last state", body = Vec<ApiFleetDay>)
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
    days: Vec<ApiFleetDay>,
    chart: Chart,
}

/// An SVG line chart's geometry.
pub struct Chart {
    /// Width.
    pub width: i64,
    /// Height.
    pub height: i64,
    /// Polyline points of the open exposures.
    pub cves: String,
    /// Polyline points of vulnerable hosts (scaled to their own maximum).
    pub hosts: String,
    /// Largest number of open exposures.
    pub max_cves: i64,
    /// Largest vulnerable-host count.
    pub max_hosts: i64,
    /// First and last day.
    pub from: String,
    /// Last day.
    pub to: String,
}

fn chart(days: &[ApiFleetDay]) -> Chart {
    let (w, h) = (720_i64, 200_i64);
    let max_cves = days.iter().map(|d| d.cves).max().unwrap_or(0).max(1);
    let max_hosts = days
        .iter()
        .map(|d| d.vulnerable_hosts)
        .max()
        .unwrap_or(0)
        .max(1);
    let n = i64::try_from(days.len()).unwrap_or(1).max(2) - 1;
    let pts = |f: &dyn Fn(&ApiFleetDay) -> i64, max: i64| {
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
