//! What operators' monitoring reads: `GET /metrics` (Prometheus, `metrics.rs`), `GET /readyz`
//! (ready to serve, unlike `/healthz`, which only says the process answers) and
//! `GET /api/v1/check`, the state `pakiti check` judges for Nagios/Icinga.
//!
//! Who may read `/metrics` is `[metrics]` (`settings::MetricsSettings`): on the main listener
//! the metrics token or an administrator, anyone only with `public = true`; on the metrics
//! listener (`[metrics] listen`, [`metrics_router`]) anyone unless a token is set.

use axum::Json;
use axum::Router;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use time::OffsetDateTime;
use utoipa::IntoParams;

use crate::api_types::{ApiCheck, ApiCheckSource, rfc3339};
use crate::auth::Viewer;
use crate::error::AppError;
use crate::metrics::{Exposure, SourceKind, census, census_filter, sources};
use crate::state::AppState;

/// Whether the request carries the `[metrics] token` as a bearer token.
fn has_metrics_token(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(want) = state
        .settings
        .metrics
        .token
        .as_deref()
        .filter(|t| !t.is_empty())
    else {
        return false;
    };
    let got = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    // Compared as digests: the time taken says nothing about the token.
    crate::auth::sha256_hex(got) == crate::auth::sha256_hex(want)
}

async fn exposition(state: &AppState) -> Response {
    match state
        .metrics
        .render(&state.engine, &state.settings.metrics)
        .await
    {
        Ok(text) => ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response(),
        Err(e) => e.into_response(),
    }
}

fn token_refused() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer realm=\"pakiti metrics\"")],
        "/metrics needs the metrics token or an administrator's credentials\n",
    )
        .into_response()
}

/// `GET /metrics` on the main listener: the metrics token, an administrator, or anyone with
/// `[metrics] public = true`.
pub async fn metrics(State(state): State<AppState>, req: axum::extract::Request) -> Response {
    let (mut parts, _) = req.into_parts();
    if state.settings.metrics.public || has_metrics_token(&state, &parts.headers) {
        return exposition(&state).await;
    }
    // Not the pages' redirect to the log-in form: a scraper gets a plain 401.
    match Viewer::from_request_parts(&mut parts, &state).await {
        Ok(v) if v.admin => exposition(&state).await,
        Ok(_) => AppError::Forbidden("/metrics is for administrators or the metrics token".into())
            .into_response(),
        Err(_) => token_refused(),
    }
}

/// `GET /metrics` on the metrics listener: anyone, or only the token when one is set.
async fn metrics_dedicated(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if state.settings.metrics.token.is_some() && !has_metrics_token(&state, &headers) {
        return token_refused();
    }
    exposition(&state).await
}

/// `GET /readyz`: 200 when the store answers and the indexes are loaded, else 503 with the
/// reason (and `Retry-After`). `/healthz` stays 200 as long as the process answers.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let ping = tokio::time::timeout(std::time::Duration::from_secs(5), state.store.ping()).await;
    let reason = match ping {
        Ok(Ok(())) if state.engine.metrics().evaluator_loaded_at() > 0 => None,
        Ok(Ok(())) => Some("the advisory index is not loaded yet".to_owned()),
        Ok(Err(e)) => Some(format!("the store is unreachable: {e}")),
        Err(_) => Some("the store did not answer within 5 s".to_owned()),
    };
    match reason {
        None => {
            let ev = state.engine.evaluator();
            format!(
                "ready: store {} reachable, {} advisories loaded (feed generation {})\n",
                state.store.backend(),
                ev.advisory_count(),
                ev.generation()
            )
            .into_response()
        }
        Some(r) => {
            tracing::warn!(reason = %r, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "5")],
                format!("not ready: {r}\n"),
            )
                .into_response()
        }
    }
}

/// The router of the metrics listener (`[metrics] listen`): `/metrics`, `/healthz`, `/readyz`.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics_dedicated))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(state)
}

/// Query parameters of `GET /api/v1/check`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct CheckQuery {
    /// Exposed means a CVE carrying this tag (default: any enabled tag).
    pub tag: Option<String>,
    /// Exposed means a CVE in CISA KEV.
    pub kev: Option<bool>,
    /// Exposed means a CVE of this severity or worse (`critical`, `high`, `medium`, `low`) or
    /// of no known severity.
    pub severity: Option<String>,
    /// Only hosts of this group.
    pub group: Option<String>,
    /// Only hosts of this domain.
    pub domain: Option<String>,
    /// Only this host (exact name).
    pub host: Option<String>,
    /// Days without a report after which a host counts as not reporting (default 7).
    pub not_reporting_days: Option<i64>,
    /// Hours `refused` looks back (default 24).
    pub refused_hours: Option<i64>,
}

fn nonempty(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// What `q` asks, for `viewer`: the host census, the sources, refused reports.
///
/// # Errors
/// Contradictory or bad parameters (400), a store failure.
pub async fn check_summary(
    state: &AppState,
    viewer: &Viewer,
    q: CheckQuery,
) -> Result<ApiCheck, AppError> {
    let tag = nonempty(q.tag);
    let severity = nonempty(q.severity);
    let kev = q.kev.unwrap_or(false);
    let exposure = match (tag, kev, severity) {
        (None, false, None) => Exposure::Tagged,
        (Some(t), false, None) => Exposure::Tag(t),
        (None, true, None) => Exposure::Kev,
        (None, false, Some(s)) => Exposure::Severity(s.to_ascii_lowercase()),
        _ => {
            return Err(AppError::BadRequest(
                "give at most one of tag, kev and severity".into(),
            ));
        }
    };
    let days = q.not_reporting_days.unwrap_or(7);
    let hours = q.refused_hours.unwrap_or(24);
    if days < 0 || hours < 0 {
        return Err(AppError::BadRequest(
            "not_reporting_days and refused_hours must not be negative".into(),
        ));
    }
    let host = nonempty(q.host);
    let filter = census_filter(
        &state.engine,
        viewer.scope.clone(),
        nonempty(q.group),
        nonempty(q.domain),
        host.as_deref(),
    )
    .await?;
    let c = census(&state.engine, &filter, &exposure, days, true).await?;
    let now = OffsetDateTime::now_utc();
    let sources = sources(&state.engine, now)
        .await?
        .into_iter()
        .map(|s| ApiCheckSource {
            kind: match s.kind {
                SourceKind::Feed => "feed",
                SourceKind::Repository => "repository",
            }
            .to_owned(),
            name: s.name,
            last_success: s.last_success.map(rfc3339),
            age_secs: s.age_secs,
            records: s.records,
            last_failed: s.last_failed,
        })
        .collect();
    let refused = if viewer.admin {
        let since = now - time::Duration::hours(hours);
        let kept = i64::from(state.settings.refused_reports_kept.max(1));
        let (rows, _) = state.store.refused_reports(0, kept).await?;
        Some(i64::try_from(rows.iter().filter(|r| r.received_at >= since).count()).unwrap_or(0))
    } else {
        None
    };
    Ok(ApiCheck {
        exposure: exposure.describe(),
        hosts: c.total,
        exposed: c.exposed,
        exposed_hosts: c.exposed_hosts,
        not_reporting_days: days,
        not_reporting: c.stale,
        not_covered: c.not_covered,
        pending: c.pending,
        cve_facts_loaded: !state.engine.cve_facts().is_empty(),
        sources,
        refused_hours: hours,
        refused,
    })
}

/// `GET /api/v1/check`: what `pakiti check` judges, for the hosts the viewer may see.
///
/// # Errors
/// Bad parameters (400), a store failure.
#[utoipa::path(
    get,
    path = "/api/v1/check",
    operation_id = "check",
    tag = "ops",
    params(CheckQuery),
    responses(
        (status = 200, description = "Host counts (exposed, not reporting, not covered), feed and repository freshness, refused reports", body = ApiCheck),
        (status = 400, description = "More than one of tag, kev and severity, or an unknown severity")
    )
)]
pub async fn api_check(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<CheckQuery>,
) -> Result<Json<ApiCheck>, AppError> {
    Ok(Json(check_summary(&state, &viewer, q).await?))
}

/// Serves [`metrics_router`] on an already-bound listener until `shutdown` completes.
///
/// # Errors
/// The listener fails.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, metrics_router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
