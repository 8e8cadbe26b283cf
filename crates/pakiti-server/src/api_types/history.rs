//! History types: `/api/v1/changes` (exposures gained and lost, advisories, hosts added and
//! retired, time to patch), `/api/v1/stats` (the daily fleet snapshot) and the report diff.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::export::{CsvRow, opt};

/// One change: an exposure gained or lost, an advisory first affecting the fleet, a host
/// added or retired.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ApiChange {
    /// When (RFC 3339).
    pub at: String,
    /// `gained`, `lost`, `advisory`, `host_added` or `host_retired`.
    pub kind: String,
    /// The host (absent for `advisory`).
    pub hostname: Option<String>,
    /// Its group.
    pub group: Option<String>,
    /// The CVE (`gained`, `lost`).
    pub cve: Option<String>,
    /// The advisory: the most severe naming the CVE for the host when the exposure began, or
    /// the advisory that first affected the fleet.
    pub advisory: Option<String>,
    /// The severity when the exposure began.
    pub severity: Option<String>,
    /// The fixed version known (when the exposure began, or since).
    pub fixed_version: Option<String>,
    /// Whether a fixed version is known.
    pub fixable: Option<bool>,
    /// Why (`gained`, `lost`): `report` (the host's packages changed), `feed` (an advisory was
    /// published, changed or withdrawn), `policy` (an exception), `baseline` (history
    /// started), `retired` (the host was deleted or retired).
    pub cause: Option<String>,
    /// The report that caused it (`cause` = `report`).
    pub report_id: Option<i64>,
    /// Hosts it affects in the viewer's scope (`advisory`).
    pub hosts: Option<i64>,
}

impl CsvRow for ApiChange {
    const HEADER: &'static [&'static str] = &[
        "at",
        "kind",
        "hostname",
        "group",
        "cve",
        "advisory",
        "severity",
        "fixed_version",
        "fixable",
        "cause",
        "report_id",
        "hosts",
    ];
    fn fields(&self) -> Vec<String> {
        vec![
            self.at.clone(),
            self.kind.clone(),
            opt(self.hostname.as_ref()),
            opt(self.group.as_ref()),
            opt(self.cve.as_ref()),
            opt(self.advisory.as_ref()),
            opt(self.severity.as_ref()),
            opt(self.fixed_version.as_ref()),
            self.fixable.map(|b| b.to_string()).unwrap_or_default(),
            opt(self.cause.as_ref()),
            self.report_id.map(|r| r.to_string()).unwrap_or_default(),
            self.hosts.map(|r| r.to_string()).unwrap_or_default(),
        ]
    }
}

/// Counts of a changes window, by kind.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ApiChangeCounts {
    /// Exposures gained.
    pub gained: i64,
    /// Of which a fixed version is known.
    pub gained_fixable: i64,
    /// Exposures lost.
    pub lost: i64,
    /// Advisories that first affected the fleet.
    pub advisories: i64,
    /// Hosts added.
    pub hosts_added: i64,
    /// Hosts retired.
    pub hosts_retired: i64,
}

/// Median time to patch of one host group.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ApiTimeToPatch {
    /// The group; `null` for hosts in no group.
    pub group: Option<String>,
    /// Exposures fixed by a report in the window (whose fix was known).
    pub fixed: i64,
    /// Median days from the fix published (the fixing advisory's issued date, else when the
    /// fixed version first became known) to the report that fixed it.
    pub median_days: f64,
}

impl CsvRow for ApiTimeToPatch {
    const HEADER: &'static [&'static str] = &["group", "fixed", "median_days"];
    fn fields(&self) -> Vec<String> {
        vec![
            opt(self.group.as_ref()),
            self.fixed.to_string(),
            format!("{:.1}", self.median_days),
        ]
    }
}

/// A page of changes.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiChangesPage {
    /// Window start (RFC 3339, inclusive).
    pub since: String,
    /// Window end (RFC 3339, exclusive).
    pub until: String,
    /// Counts over the whole window.
    pub counts: ApiChangeCounts,
    /// Median time to patch per host group over the window.
    pub time_to_patch: Vec<ApiTimeToPatch>,
    /// This page's changes, newest first.
    pub changes: Vec<ApiChange>,
    /// Changes in the window.
    pub total: i64,
    /// Rows skipped.
    pub offset: i64,
    /// Page size.
    pub limit: i64,
}

/// The fleet at the end of one day (today: now).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ApiFleetDay {
    /// Day, `YYYY-MM-DD`.
    pub day: String,
    /// Hosts in the fleet then (reporting or not: a host that did not report counts with its
    /// last state).
    pub hosts: i64,
    /// Hosts with at least one open exposure.
    pub vulnerable_hosts: i64,
    /// Open (host, CVE) exposures.
    pub cves: i64,
    /// Of which critical.
    pub critical: i64,
    /// High.
    pub high: i64,
    /// Medium.
    pub medium: i64,
    /// Low.
    pub low: i64,
    /// Unknown severity.
    pub unknown: i64,
    /// Of the open exposures, those with a fixed version known.
    pub fixable: i64,
    /// Those without (unfixed).
    pub unfixed: i64,
    /// Hosts whose last report was more than two days old.
    pub not_reporting: i64,
    /// Whether the day had no snapshot of its own and carries the previous day's.
    pub carried: bool,
}

impl CsvRow for ApiFleetDay {
    const HEADER: &'static [&'static str] = &[
        "day",
        "hosts",
        "vulnerable_hosts",
        "cves",
        "critical",
        "high",
        "medium",
        "low",
        "unknown",
        "fixable",
        "unfixed",
        "not_reporting",
        "carried",
    ];
    fn fields(&self) -> Vec<String> {
        vec![
            self.day.clone(),
            self.hosts.to_string(),
            self.vulnerable_hosts.to_string(),
            self.cves.to_string(),
            self.critical.to_string(),
            self.high.to_string(),
            self.medium.to_string(),
            self.low.to_string(),
            self.unknown.to_string(),
            self.fixable.to_string(),
            self.unfixed.to_string(),
            self.not_reporting.to_string(),
            self.carried.to_string(),
        ]
    }
}

/// A package whose version differs between two reports.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ApiPackageChange {
    /// Package name.
    pub name: String,
    /// Architecture.
    pub arch: String,
    /// Version(s) in the first report (space-separated when several).
    pub from: String,
    /// Version(s) in the second report.
    pub to: String,
}

/// A package in one report only.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ApiDiffPackage {
    /// Package name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Architecture.
    pub arch: String,
}

/// What changed on a host between two of its reports.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ApiReportDiff {
    /// The host.
    pub hostname: String,
    /// The first report's id.
    pub from: i64,
    /// The second report's id.
    pub to: i64,
    /// When the first was received (RFC 3339).
    pub from_received_at: String,
    /// When the second was received.
    pub to_received_at: String,
    /// Packages in `to` only (by name and arch).
    pub added: Vec<ApiDiffPackage>,
    /// Packages in `from` only.
    pub removed: Vec<ApiDiffPackage>,
    /// Packages in both whose version changed.
    pub changed: Vec<ApiPackageChange>,
    /// CVEs of `to`'s package list and not of `from`'s.
    pub cves_gained: Vec<String>,
    /// CVEs of `from`'s package list and not of `to`'s.
    pub cves_lost: Vec<String>,
    /// How the CVEs were computed: both package lists evaluated with the vulnerability data
    /// in force now (so a difference is due to the packages, not to feed changes).
    pub cves_basis: String,
}
