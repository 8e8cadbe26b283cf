//! What `GET /api/v1/check` answers: the state `pakiti check` (Nagios/Icinga) judges.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Hosts, feeds, repositories and refused reports as one monitoring check sees them; the
/// thresholds are the caller's (`pakiti check`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ApiCheck {
    /// What "exposed" means here, as the status line says it (`tagged CVEs`, `CVEs tagged
    /// "watch"`, `known exploited (KEV) CVEs`, `CVEs of severity high or worse or unknown`).
    pub exposure: String,
    /// Hosts the viewer may see within the group, domain and host asked for.
    pub hosts: i64,
    /// Of those, hosts exposed.
    pub exposed: i64,
    /// Up to ten exposed hosts' names.
    pub exposed_hosts: Vec<String>,
    /// The days after which a host counts as not reporting.
    pub not_reporting_days: i64,
    /// Hosts whose last report is older than `not_reporting_days`.
    pub not_reporting: i64,
    /// Hosts no imported data covers (their exposure is unknown).
    pub not_covered: i64,
    /// Hosts whose last report is stored but not evaluated yet.
    pub pending: i64,
    /// Whether CVE prioritisation facts (KEV, EPSS) are loaded; without them a KEV check
    /// cannot say anything.
    pub cve_facts_loaded: bool,
    /// Every enabled feed and repository.
    pub sources: Vec<ApiCheckSource>,
    /// The hours `refused` looks back.
    pub refused_hours: i64,
    /// Reports refused in the last `refused_hours` (administrators only; `null` otherwise).
    pub refused: Option<i64>,
}

/// An enabled feed or repository and how fresh its data is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ApiCheckSource {
    /// `feed` or `repository`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// The last successful sync or import (RFC 3339); `null`: never.
    pub last_success: Option<String>,
    /// Seconds since `last_success`.
    pub age_secs: Option<i64>,
    /// Advisories (feeds) or packages (repositories) stored.
    pub records: i64,
    /// The last sync failed (the previous data stays in use).
    pub last_failed: bool,
}
