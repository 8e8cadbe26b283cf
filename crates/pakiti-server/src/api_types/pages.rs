//! The front page's summary and the host page's patch list (issue 14 parts 3 and 4).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One number of the front page, with the list it counts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ApiSummaryItem {
    /// Stable key: `exposed_tagged`, `exposed_kev`, `new_exposures`, `not_reporting`,
    /// `report_problems`, `refused_reports`, `failed_feeds`, `stale_feeds`,
    /// `failed_repositories`, `stale_repositories`, `reboot_needed`, `not_covered`.
    pub key: String,
    /// What it counts, in words.
    pub label: String,
    /// How many (hosts, reports, feeds or repositories, as `label` says).
    pub count: i64,
    /// The list it counts (a page of this server; its JSON form is under `/api/v1`).
    pub link: String,
    /// Whether a non-zero count needs attention.
    pub alarm: bool,
}

/// `GET /api/v1/summary`: the morning view for the viewer's scope.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ApiSummary {
    /// Hosts in service the viewer may see.
    pub hosts: i64,
    /// The start of "new" (RFC 3339): `?since=`, by default 24 hours ago.
    pub since: String,
    /// The changes page for the same period.
    pub changes_link: String,
    /// Days without a report after which a host counts as not reporting.
    pub not_reporting_days: i64,
    /// How many CVEs the prioritisation feeds (KEV, EPSS, CVSS) gave facts for; 0 when none
    /// is imported, and `exposed_kev` is then 0 for want of data.
    pub cve_facts_known: i64,
    /// The numbers, most urgent first.
    pub items: Vec<ApiSummaryItem>,
}

/// One CVE a patch closes, with what ranks it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ApiPatchCve {
    /// CVE id (or the advisory id for advisories without CVEs).
    pub cve: String,
    /// Vendor severity.
    pub severity: String,
    /// Tagged by this site.
    pub tagged: bool,
    /// In CISA KEV.
    pub kev: bool,
    /// FIRST EPSS score, when known.
    pub epss: Option<f32>,
    /// Risk class: `tagged`, `kev`, `critical`, `high`, `epss`, `other`.
    pub risk: String,
}

/// An installed package a patch updates.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ApiPatchPackage {
    /// Package name.
    pub name: String,
    /// Installed version.
    pub installed_version: String,
    /// Arch.
    pub arch: String,
    /// Fixed version (absent for an unfixed issue).
    pub fixed_version: Option<String>,
}

/// One row of "install these updates" (or of the unfixed issues): the findings of one
/// advisory on one source package.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ApiPatch {
    /// Source package (or the binary name when the host did not report sources).
    pub source: String,
    /// Advisory id.
    pub advisory: String,
    /// Advisory title.
    pub title: String,
    /// The version to install (the highest fixed version of its packages); absent when no
    /// fix exists.
    pub fixed_version: Option<String>,
    /// `fixed`, or the vendor's word for why there is no fix (`unfixed`, `will-not-fix`, …).
    pub status: String,
    /// The installed packages it updates.
    pub packages: Vec<ApiPatchPackage>,
    /// The CVEs it closes, most urgent first.
    pub cves: Vec<ApiPatchCve>,
    /// The best (most urgent) risk class of its CVEs.
    pub risk: String,
    /// The highest vendor severity of its CVEs.
    pub severity: String,
}
