//! The audit log as the API shows it (`GET /api/v1/audit`, `/audit`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::export::CsvRow;

/// One administrative change (or log-in) as recorded.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ApiAuditEntry {
    /// Id (newer entries have larger ids).
    pub id: i64,
    /// When, RFC 3339.
    pub at: String,
    /// Who: a user name, `admin` (auth.mode none), `cli:USER`, or `-` when the request was
    /// not authenticated.
    pub actor: String,
    /// `web`, `api` or `cli`.
    pub via: String,
    /// The method and route (`POST /users/{name}/admin`), the command (`user add`) or `login`.
    pub action: String,
    /// What it changed: the route's parameters (`name=alice`) or the command's object.
    pub target: String,
    /// The client's address, `API token` when one authenticated it, or the command's options.
    pub detail: String,
    /// The HTTP status answered, or `ok` / `error` (CLI), `ok` / `failed` / `throttled`
    /// (log-ins).
    pub status: String,
}

impl CsvRow for ApiAuditEntry {
    const HEADER: &'static [&'static str] = &[
        "id", "at", "actor", "via", "action", "target", "detail", "status",
    ];
    fn fields(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.at.clone(),
            self.actor.clone(),
            self.via.clone(),
            self.action.clone(),
            self.target.clone(),
            self.detail.clone(),
            self.status.clone(),
        ]
    }
}

/// A page of the audit log, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiAuditPage {
    /// Entries on this page.
    pub entries: Vec<ApiAuditEntry>,
    /// Entries matching the filter, in total (the server keeps the newest `[log] audit_kept`).
    pub total: i64,
    /// Offset of this page.
    pub offset: i64,
    /// Page size.
    pub limit: i64,
}
