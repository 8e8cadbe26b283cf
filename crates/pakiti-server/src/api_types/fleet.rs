//! Fleet-wide views: host sets (groups, domains, OSes), feeds, repositories, exposure over
//! time and one package across the fleet.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::export::{CsvRow, opt};

/// Hosts sharing a group, a domain or an OS.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiHostSet {
    /// Group, domain or OS name (`null`: none).
    pub name: Option<String>,
    /// OS stream (OS listing only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub os_stream: Option<String>,
    /// Whether data covers the stream (OS listing only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub covered: Option<bool>,
    /// Hosts in scope.
    pub hosts: usize,
    /// Hosts with at least one CVE.
    pub vulnerable_hosts: usize,
    /// Distinct CVEs.
    pub cves: usize,
}

impl CsvRow for ApiHostSet {
    const HEADER: &'static [&'static str] = &[
        "name",
        "os_stream",
        "covered",
        "hosts",
        "vulnerable_hosts",
        "cves",
    ];
    fn fields(&self) -> Vec<String> {
        vec![
            opt(self.name.as_ref()),
            opt(self.os_stream.as_ref()),
            self.covered.map(|c| c.to_string()).unwrap_or_default(),
            self.hosts.to_string(),
            self.vulnerable_hosts.to_string(),
            self.cves.to_string(),
        ]
    }
}

/// A feed's status.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiFeed {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// URL or path.
    pub url: String,
    /// Stream override.
    pub os_stream: Option<String>,
    /// Enabled.
    pub enabled: bool,
    /// Last sync, RFC 3339.
    pub last_sync: Option<String>,
    /// Last sync status.
    pub last_status: Option<String>,
    /// Last error.
    pub last_error: Option<String>,
    /// Advisories stored; for a prioritisation feed, the CVEs it gave facts for.
    pub advisories: i64,
    /// Affected entries stored.
    pub affected: i64,
    /// A prioritisation feed (`cisa-kev`, `epss`): it gives per-CVE facts for the risk order,
    /// not advisories, and its imports change no finding.
    pub prioritisation: bool,
}

impl CsvRow for ApiFeed {
    const HEADER: &'static [&'static str] = &[
        "name",
        "kind",
        "url",
        "os_stream",
        "enabled",
        "last_sync",
        "last_status",
        "last_error",
        "advisories",
        "affected",
        "prioritisation",
    ];
    fn fields(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.kind.clone(),
            self.url.clone(),
            opt(self.os_stream.as_ref()),
            self.enabled.to_string(),
            opt(self.last_sync.as_ref()),
            opt(self.last_status.as_ref()),
            opt(self.last_error.as_ref()),
            self.advisories.to_string(),
            self.affected.to_string(),
            self.prioritisation.to_string(),
        ]
    }
}

/// A package repository (update detection) and its last sync.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiRepository {
    /// Name.
    pub name: String,
    /// `apt`, `rpmmd` or `apk`.
    pub kind: String,
    /// URL or path.
    pub url: String,
    /// The OS stream it serves.
    pub stream: String,
    /// The arch it serves (`None`: all).
    pub arch: Option<String>,
    /// Security flag in force (operator override, else metadata).
    pub security: bool,
    /// Priority in force (operator override, else metadata), if any.
    pub priority: Option<i64>,
    /// Enabled.
    pub enabled: bool,
    /// Last sync, RFC 3339.
    pub last_sync: Option<String>,
    /// Last sync status.
    pub last_status: Option<String>,
    /// Last error.
    pub last_error: Option<String>,
    /// Package entries stored.
    pub packages: i64,
}

impl CsvRow for ApiRepository {
    const HEADER: &'static [&'static str] = &[
        "name",
        "kind",
        "url",
        "stream",
        "arch",
        "security",
        "priority",
        "enabled",
        "last_sync",
        "last_status",
        "last_error",
        "packages",
    ];
    fn fields(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.kind.clone(),
            self.url.clone(),
            self.stream.clone(),
            opt(self.arch.as_ref()),
            self.security.to_string(),
            self.priority.map(|p| p.to_string()).unwrap_or_default(),
            self.enabled.to_string(),
            opt(self.last_sync.as_ref()),
            opt(self.last_status.as_ref()),
            opt(self.last_error.as_ref()),
            self.packages.to_string(),
        ]
    }
}

/// Fleet exposure on one day.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiExposureDay {
    /// Day, `YYYY-MM-DD`.
    pub day: String,
    /// Hosts that reported.
    pub hosts: i64,
    /// Of those, with at least one CVE.
    pub vulnerable_hosts: i64,
    /// Sum of their CVE counts.
    pub cves: i64,
}

impl CsvRow for ApiExposureDay {
    const HEADER: &'static [&'static str] = &["day", "hosts", "vulnerable_hosts", "cves"];
    fn fields(&self) -> Vec<String> {
        vec![
            self.day.clone(),
            self.hosts.to_string(),
            self.vulnerable_hosts.to_string(),
            self.cves.to_string(),
        ]
    }
}

/// An installed version and how many hosts have it.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct VersionCount {
    /// The stream the hosts are on.
    pub stream: Option<String>,
    /// Installed version.
    pub version: String,
    /// Hosts with it.
    pub hosts: usize,
}

/// The newest version the repositories of a stream offer to the hosts that have the package.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct StreamNewest {
    /// The stream.
    pub stream: String,
    /// Whether any repository serves the stream.
    pub covered: bool,
    /// The newest candidate version (`None` when not covered).
    pub newest: Option<String>,
}

/// A host whose installed version is older than what its repositories offer.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct OutdatedHost {
    /// Host name.
    pub hostname: String,
    /// Its stream.
    pub stream: Option<String>,
    /// Installed version.
    pub installed: String,
    /// What its package manager would install.
    pub available: String,
    /// Whether that upgrade brings a security fix.
    pub security: bool,
}

/// The answer.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct PackageReport {
    /// The package name.
    pub name: String,
    /// Installed versions per stream, with host counts.
    pub versions: Vec<VersionCount>,
    /// Newest available per stream.
    pub newest: Vec<StreamNewest>,
    /// Hosts behind the newest available.
    pub outdated: Vec<OutdatedHost>,
    /// Hosts of the same streams without the package.
    pub missing: Vec<String>,
}

/// One host row of the package page and its exports: a host that has the package (one row
/// per installed instance) or, with `status` `missing`, a host of the same streams without it.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct PackageHost {
    /// Host name.
    pub hostname: String,
    /// Its stream.
    pub stream: Option<String>,
    /// Installed version (empty when missing).
    pub installed: String,
    /// Installed arch (empty when missing).
    pub arch: String,
    /// What its package manager would install, when newer than `installed`.
    pub available: Option<String>,
    /// Whether that upgrade brings a security fix.
    pub security: bool,
    /// `outdated`, `current`, `not-covered` (no repository serves the host) or `missing`.
    pub status: String,
}

impl CsvRow for PackageHost {
    const HEADER: &'static [&'static str] = &[
        "hostname",
        "stream",
        "installed",
        "arch",
        "available",
        "security",
        "status",
    ];
    fn fields(&self) -> Vec<String> {
        vec![
            self.hostname.clone(),
            opt(self.stream.as_ref()),
            self.installed.clone(),
            self.arch.clone(),
            opt(self.available.as_ref()),
            self.security.to_string(),
            self.status.clone(),
        ]
    }
}
