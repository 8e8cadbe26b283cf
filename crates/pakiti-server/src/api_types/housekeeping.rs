//! The housekeeping run log (`GET /api/v1/housekeeping`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A host a housekeeping run purged (or, in a dry run, would have).
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ApiPurgedHost {
    /// Host name.
    pub hostname: String,
    /// Its last report (RFC 3339).
    pub last_report_at: String,
}

/// One housekeeping run: what it deleted, purged and maintained.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ApiHousekeepingRun {
    /// Id (newer runs have larger ids).
    pub id: i64,
    /// Started (RFC 3339).
    pub started_at: String,
    /// Finished (RFC 3339).
    pub finished_at: String,
    /// `tick` (the server's schedule) or `cli` (`pakiti housekeeping run`).
    pub started_by: String,
    /// A dry run counted what it would delete and deleted nothing.
    pub dry_run: bool,
    /// Reports deleted by retention (`reports_kept`, `report_max_age_days`).
    pub reports_deleted: u64,
    /// Ended exposures deleted (`exposures_max_age_days`).
    pub exposures_deleted: u64,
    /// Hosts deleted with their history (`purge_hosts_not_seen_days`).
    pub purged_hosts: Vec<ApiPurgedHost>,
    /// Database maintenance run: `checkpoint`, `analyze`, `vacuum`.
    pub maintenance: Vec<String>,
    /// What failed, if anything (the other steps still ran).
    pub error: Option<String>,
}
