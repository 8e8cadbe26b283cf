//! The housekeeping run log for administrators: `GET /api/v1/housekeeping` (the same runs
//! `pakiti housekeeping show` prints). The runs themselves are `jobs::housekeeping`'s.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;

use crate::api_types::{AdminRefusals, ApiHousekeepingRun, ApiPurgedHost, rfc3339};
use crate::auth::Admin;
use crate::error::AppError;
use crate::state::AppState;

/// The newest runs (at most `limit`, default 20).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct HousekeepingQuery {
    /// Runs to return (1–100, default 20).
    pub limit: Option<i64>,
}

fn api_run(r: pakiti_store::HousekeepingRun) -> ApiHousekeepingRun {
    ApiHousekeepingRun {
        id: r.id,
        started_at: rfc3339(r.started_at),
        finished_at: rfc3339(r.finished_at),
        started_by: r.started_by,
        dry_run: r.dry_run,
        reports_deleted: r.reports_deleted,
        exposures_deleted: r.exposures_deleted,
        purged_hosts: r
            .purged
            .into_iter()
            .map(|(hostname, at)| ApiPurgedHost {
                hostname,
                last_report_at: rfc3339(at),
            })
            .collect(),
        maintenance: r.maintenance,
        error: r.error,
    }
}

/// The last housekeeping runs, newest first: reports and exposures deleted, hosts purged
/// (with their last report), database maintenance, errors.
///
/// # Errors
/// Not an admin (403), a store failure.
#[utoipa::path(
    get,
    path = "/api/v1/housekeeping",
    operation_id = "housekeeping_runs",
    tag = "ops",
    params(HousekeepingQuery),
    responses(
        (status = 200, description = "Housekeeping runs, newest first", body = Vec<ApiHousekeepingRun>),
        AdminRefusals
    )
)]
pub async fn api_list(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<HousekeepingQuery>,
) -> Result<Json<Vec<ApiHousekeepingRun>>, AppError> {
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    let runs = state.store.housekeeping_runs(limit).await?;
    Ok(Json(runs.into_iter().map(api_run).collect()))
}
