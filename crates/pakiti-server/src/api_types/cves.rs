//! CVEs, CVE tags and exceptions: what the fleet is exposed to and what operators said about it.

use pakiti_store::{CveException, CveTag};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::api_types::rfc3339;
use crate::export::{CsvRow, join, opt};

/// A CVE in the fleet.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiCve {
    /// CVE id.
    pub cve: String,
    /// Highest severity.
    pub severity: String,
    /// Hosts (in the viewer's scope) that have it.
    pub hosts: usize,
    /// Advisories naming it.
    pub advisories: Vec<String>,
    /// Enabled tags.
    pub tags: Vec<String>,
}

impl CsvRow for ApiCve {
    const HEADER: &'static [&'static str] = &["cve", "severity", "hosts", "advisories", "tags"];
    fn fields(&self) -> Vec<String> {
        vec![
            self.cve.clone(),
            self.severity.clone(),
            self.hosts.to_string(),
            join(&self.advisories),
            join(&self.tags),
        ]
    }
}

/// An advisory on the CVE page.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiAdvisory {
    /// Vendor id.
    pub id: String,
    /// Feed kind.
    pub source: String,
    /// Title.
    pub title: String,
    /// Severity.
    pub severity: String,
    /// Links (vendor tracker first).
    pub references: Vec<String>,
}

/// A package carrying the CVE on one host.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiAffectedPackage {
    /// Name.
    pub package: String,
    /// Installed version.
    pub version: String,
    /// Arch.
    pub arch: String,
    /// The advisory that says so.
    pub advisory: String,
    /// Fixed version.
    pub fixed_version: Option<String>,
    /// Status word.
    pub status: String,
}

/// A host affected by the CVE.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiAffectedHost {
    /// Hostname.
    pub hostname: String,
    /// Host group.
    pub host_group: Option<String>,
    /// OS stream.
    pub os_stream: Option<String>,
    /// Packages.
    pub packages: Vec<ApiAffectedPackage>,
}

/// One CVE.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiCveDetail {
    /// CVE id.
    pub cve: String,
    /// Highest severity.
    pub severity: String,
    /// Advisories naming it.
    pub advisories: Vec<ApiAdvisory>,
    /// Tags on it.
    pub tags: Vec<ApiTag>,
    /// Affected hosts in scope (the page lists at most 500; the API all of them).
    pub hosts: Vec<ApiAffectedHost>,
    /// Number of affected hosts in scope.
    pub host_count: usize,
}

/// A CVE tag.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiTag {
    /// Id (for PATCH and DELETE).
    pub id: i64,
    /// CVE.
    pub cve: String,
    /// Tag name.
    pub tag: String,
    /// Why.
    pub reason: String,
    /// Link.
    pub info_url: Option<String>,
    /// Whether it counts.
    pub enabled: bool,
    /// Who.
    pub author: String,
    /// When, RFC 3339.
    pub created_at: String,
}

/// The API form of a tag.
#[must_use]
pub fn api_tag(t: &CveTag) -> ApiTag {
    ApiTag {
        id: t.id,
        cve: t.cve.clone(),
        tag: t.tag.clone(),
        reason: t.reason.clone(),
        info_url: t.info_url.clone(),
        enabled: t.enabled,
        author: t.author.clone(),
        created_at: rfc3339(t.created_at),
    }
}

impl CsvRow for ApiTag {
    const HEADER: &'static [&'static str] = &[
        "id",
        "cve",
        "tag",
        "reason",
        "info_url",
        "enabled",
        "author",
        "created_at",
    ];
    fn fields(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.cve.clone(),
            self.tag.clone(),
            self.reason.clone(),
            opt(self.info_url.as_ref()),
            self.enabled.to_string(),
            self.author.clone(),
            self.created_at.clone(),
        ]
    }
}

/// A tag to create.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TagInput {
    /// CVE id.
    pub cve: String,
    /// Tag name (`Critical`, `High` or any other).
    pub tag: String,
    /// Why.
    #[serde(default)]
    pub reason: String,
    /// Link.
    #[serde(default)]
    pub info_url: Option<String>,
    /// Whether it counts (default true).
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A change to a tag.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TagPatch {
    /// Enable or disable.
    pub enabled: bool,
}

/// A host on a tag page.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiTagHost {
    /// Hostname.
    pub hostname: String,
    /// Group.
    pub host_group: Option<String>,
    /// Its CVEs carrying the tag.
    pub cves: Vec<String>,
}

impl CsvRow for ApiTagHost {
    const HEADER: &'static [&'static str] = &["hostname", "host_group", "cves"];
    fn fields(&self) -> Vec<String> {
        vec![
            self.hostname.clone(),
            opt(self.host_group.as_ref()),
            join(&self.cves),
        ]
    }
}

/// A group on a tag page.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiTagGroup {
    /// Group (`null`: ungrouped hosts).
    pub host_group: Option<String>,
    /// Affected hosts.
    pub hosts: usize,
}

/// A tagged CVE with its host count.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiTaggedCve {
    /// The tag row.
    #[serde(flatten)]
    pub tag: ApiTag,
    /// Hosts in scope with the CVE (0 when the tag is disabled).
    pub hosts: usize,
}

/// Pakiti's "CVE Tags" report for one tag name.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiTagReport {
    /// Tag name.
    pub tag: String,
    /// CVEs carrying it.
    pub cves: Vec<ApiTaggedCve>,
    /// Affected hosts in scope.
    pub hosts: Vec<ApiTagHost>,
    /// Affected groups.
    pub groups: Vec<ApiTagGroup>,
}

/// An exception.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiException {
    /// Id (for DELETE).
    pub id: i64,
    /// CVE.
    pub cve: String,
    /// Binary package name.
    pub package: String,
    /// Exact version.
    pub version: String,
    /// OS stream.
    pub os_stream: String,
    /// Why.
    pub reason: String,
    /// Who.
    pub author: String,
    /// When, RFC 3339.
    pub created_at: String,
    /// Expiry, RFC 3339.
    pub expires_at: Option<String>,
    /// Whether it is in force now.
    pub active: bool,
}

/// The API form of an exception.
#[must_use]
pub fn api_exception(e: &CveException) -> ApiException {
    ApiException {
        id: e.id,
        cve: e.cve.clone(),
        package: e.package.clone(),
        version: e.version.clone(),
        os_stream: e.stream.clone(),
        reason: e.reason.clone(),
        author: e.author.clone(),
        created_at: rfc3339(e.created_at),
        expires_at: e.expires_at.map(rfc3339),
        active: e.active_at(OffsetDateTime::now_utc()),
    }
}

impl CsvRow for ApiException {
    const HEADER: &'static [&'static str] = &[
        "id",
        "cve",
        "package",
        "version",
        "os_stream",
        "reason",
        "author",
        "created_at",
        "expires_at",
        "active",
    ];
    fn fields(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.cve.clone(),
            self.package.clone(),
            self.version.clone(),
            self.os_stream.clone(),
            self.reason.clone(),
            self.author.clone(),
            self.created_at.clone(),
            opt(self.expires_at.as_ref()),
            self.active.to_string(),
        ]
    }
}

/// An exception to create.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ExceptionInput {
    /// CVE.
    pub cve: String,
    /// Binary package name.
    pub package: String,
    /// Installed version; written without an epoch it matches every epoch (`1.0.2k-19.el7`
    /// matches the installed `1:1.0.2k-19.el7`, as `rpm -q` prints it).
    pub version: String,
    /// OS stream (`rhel:8`).
    pub os_stream: String,
    /// Why.
    #[serde(default)]
    pub reason: String,
    /// Expiry: RFC 3339 or a date (`2026-12-31`); empty for never.
    #[serde(default)]
    pub expires_at: Option<String>,
}
