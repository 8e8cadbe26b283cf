//! What administrators read and change: users, grants, API tokens, refused reports and
//! identity conflicts.

use pakiti_store::ApiTokenId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::export::{CsvRow, opt};

/// A user as the pages and the API show it.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ApiUser {
    /// Name.
    pub name: String,
    /// Administrator (sees everything).
    pub admin: bool,
    /// Disabled.
    pub disabled: bool,
    /// Whether a password is set.
    pub has_password: bool,
    /// Grants as `kind:value`.
    pub grants: Vec<String>,
    /// RFC 3339.
    pub created_at: String,
}

/// An API token as listed (never the secret).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiTokenInfo {
    /// Id (to revoke it).
    #[schema(value_type = i64)]
    pub id: ApiTokenId,
    /// Label.
    pub name: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, or empty.
    pub last_used_at: String,
}

/// The body of `POST /api/v1/users`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ApiNewUser {
    /// Name.
    pub name: String,
    /// Password, if any.
    #[serde(default)]
    pub password: Option<String>,
    /// Administrator.
    #[serde(default)]
    pub admin: bool,
    /// Grants as `kind:value`.
    #[serde(default)]
    pub grants: Vec<String>,
}

/// The body of `PATCH /api/v1/users/{name}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct ApiUserPatch {
    /// New password (`""` removes it).
    pub password: Option<String>,
    /// Administrator flag.
    pub admin: Option<bool>,
    /// Disabled flag.
    pub disabled: Option<bool>,
}

/// A new token: the only time the secret is shown.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiNewToken {
    /// Id.
    #[schema(value_type = i64)]
    pub id: ApiTokenId,
    /// Label.
    pub name: String,
    /// The secret: `Authorization: Bearer <token>`.
    pub token: String,
}

/// The body of `POST /api/v1/users/{name}/tokens`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct ApiTokenBody {
    /// Label.
    pub name: String,
}

/// A grant: `{"kind": "group", "value": "physics"}` (also the grant forms' fields).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct ApiGrant {
    /// `group`, `domain` or `host`.
    pub kind: String,
    /// The name.
    pub value: String,
}

/// A refused report as the API shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
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

impl CsvRow for ApiRefusedReport {
    const HEADER: &'static [&'static str] = &[
        "received_at",
        "hostname",
        "peer",
        "protocol",
        "status",
        "reason",
    ];
    fn fields(&self) -> Vec<String> {
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

/// A page of refused reports, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
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

/// An identity conflict as the API shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ApiConflict {
    /// Id (for accept / reject).
    pub id: i64,
    /// When the report arrived (RFC 3339).
    pub received_at: String,
    /// The host name the report gave.
    pub hostname: String,
    /// The identity the host is bound to.
    pub expected: String,
    /// The identity the report came with.
    pub seen: String,
    /// The sender's address.
    pub peer: Option<String>,
    /// `stored` (warn), `held`, `accepted`, `rejected` or `superseded`.
    pub status: String,
    /// Packages in the held report (while held).
    pub packages: Option<usize>,
}

/// A page of identity conflicts, newest first.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ApiConflictPage {
    /// The conflicts.
    pub conflicts: Vec<ApiConflict>,
    /// How many are recorded.
    pub total: i64,
    /// Offset of the first.
    pub offset: i64,
    /// Page size.
    pub limit: i64,
}
