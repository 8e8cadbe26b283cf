//! CVEs, CVE tags and exceptions: what the fleet is exposed to and what operators said about it.

use pakiti_core::risk::{CveFacts, Risk};
use pakiti_store::{CveException, CveTag};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::api_types::rfc3339;
use crate::export::{CsvRow, join, opt};

/// What the prioritisation data says about a CVE (CISA KEV, FIRST EPSS, CVSS) and its place
/// in the risk order.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct ApiCveRisk {
    /// The risk class that decides its place in the risk order: `tagged`, `kev`, `critical`,
    /// `high`, `epss` or `other` (see the `risk_order` text on the pages).
    pub risk: String,
    /// In CISA's Known Exploited Vulnerabilities catalogue.
    pub kev: bool,
    /// When CISA added it to KEV (`YYYY-MM-DD`).
    pub kev_date_added: Option<String>,
    /// KEV remediation due date (`YYYY-MM-DD`).
    pub kev_due_date: Option<String>,
    /// KEV says it is known to be used in ransomware campaigns.
    pub kev_ransomware: Option<bool>,
    /// FIRST EPSS score: probability of exploitation in the next 30 days (0 – 1).
    pub epss: Option<f32>,
    /// FIRST EPSS percentile (0 – 1); `null` also when the EPSS file gave no percentile.
    pub epss_percentile: Option<f32>,
    /// The highest CVSS base score a feed gave (0 – 10).
    pub cvss: Option<f32>,
}

impl ApiCveRisk {
    /// The API form of a CVE's facts and risk.
    #[must_use]
    pub fn of(facts: Option<&CveFacts>, risk: &Risk) -> Self {
        let kev = facts.and_then(|f| f.kev.as_ref());
        let epss = facts.and_then(|f| f.epss);
        ApiCveRisk {
            risk: risk.class().to_owned(),
            kev: kev.is_some(),
            kev_date_added: kev.map(|k| k.date_added.clone()),
            kev_due_date: kev.and_then(|k| k.due_date.clone()),
            kev_ransomware: kev.map(|k| k.ransomware),
            epss: epss.map(|e| e.score),
            epss_percentile: epss.map(|e| e.percentile).filter(|p| p.is_finite()),
            cvss: facts.and_then(|f| f.cvss),
        }
    }

    /// The CSV cells of [`ApiCveRisk::HEADER`].
    fn fields(&self) -> Vec<String> {
        let f = |v: Option<f32>| v.map(|v| v.to_string()).unwrap_or_default();
        vec![
            self.risk.clone(),
            self.kev.to_string(),
            opt(self.kev_date_added.as_ref()),
            opt(self.kev_due_date.as_ref()),
            self.kev_ransomware
                .map(|r| r.to_string())
                .unwrap_or_default(),
            f(self.epss),
            f(self.epss_percentile),
            f(self.cvss),
        ]
    }

    /// CSV column names.
    const HEADER: [&'static str; 8] = [
        "risk",
        "kev",
        "kev_date_added",
        "kev_due_date",
        "kev_ransomware",
        "epss",
        "epss_percentile",
        "cvss",
    ];
}

/// A CVE in the fleet.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiCve {
    /// CVE id.
    pub cve: String,
    /// Highest vendor severity; when no vendor gives one, the rating of the CVSS score.
    pub severity: String,
    /// Hosts (in the viewer's scope) that have it.
    pub hosts: usize,
    /// Of those, hosts where a fixed version exists for it.
    pub fixable_hosts: usize,
    /// Of those, hosts where no fixed version exists for it yet.
    pub unfixed_hosts: usize,
    /// A fixed version exists on at least one of those hosts.
    pub fixable: bool,
    /// Advisories naming it, each once.
    pub advisories: Vec<String>,
    /// Enabled tags.
    pub tags: Vec<String>,
    /// Prioritisation data and risk class.
    #[serde(flatten)]
    pub risk: ApiCveRisk,
}

impl CsvRow for ApiCve {
    const HEADER: &'static [&'static str] = &[
        "cve",
        "severity",
        "hosts",
        "fixable_hosts",
        "unfixed_hosts",
        "fixable",
        "advisories",
        "tags",
        "risk",
        "kev",
        "kev_date_added",
        "kev_due_date",
        "kev_ransomware",
        "epss",
        "epss_percentile",
        "cvss",
    ];
    fn fields(&self) -> Vec<String> {
        let mut v = vec![
            self.cve.clone(),
            self.severity.clone(),
            self.hosts.to_string(),
            self.fixable_hosts.to_string(),
            self.unfixed_hosts.to_string(),
            self.fixable.to_string(),
            join(&self.advisories),
            join(&self.tags),
        ];
        v.extend(self.risk.fields());
        debug_assert_eq!(Self::HEADER[8..], ApiCveRisk::HEADER);
        v
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
    /// A fixed version exists for one of its packages carrying the CVE.
    pub fixable: bool,
    /// Packages.
    pub packages: Vec<ApiAffectedPackage>,
}

/// One CVE.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiCveDetail {
    /// CVE id.
    pub cve: String,
    /// Highest vendor severity; when no vendor gives one, the rating of the CVSS score.
    pub severity: String,
    /// Prioritisation data and risk class.
    #[serde(flatten)]
    pub risk: ApiCveRisk,
    /// Affected hosts in scope where a fixed version exists for it.
    pub fixable_hosts: usize,
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
    /// Its CVEs carrying the tag, most urgent first.
    pub cves: Vec<String>,
    /// The risk class of the host's most urgent CVE (any CVE, not only the tagged ones).
    pub risk: Option<String>,
    /// Distinct CVEs with a fixed version available on the host.
    pub fixable_cves: Option<i64>,
    /// Distinct CVEs with no fixed version on the host yet.
    pub unfixed_cves: Option<i64>,
}

impl CsvRow for ApiTagHost {
    const HEADER: &'static [&'static str] = &[
        "hostname",
        "host_group",
        "cves",
        "risk",
        "fixable_cves",
        "unfixed_cves",
    ];
    fn fields(&self) -> Vec<String> {
        vec![
            self.hostname.clone(),
            opt(self.host_group.as_ref()),
            join(&self.cves),
            opt(self.risk.as_ref()),
            self.fixable_cves.map(|n| n.to_string()).unwrap_or_default(),
            self.unfixed_cves.map(|n| n.to_string()).unwrap_or_default(),
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
    /// Of those, hosts where a fixed version exists for it.
    pub fixable_hosts: usize,
    /// Prioritisation data and risk class.
    #[serde(flatten)]
    pub risk: ApiCveRisk,
}

/// Pakiti's "CVE Tags" report for one tag name.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiTagReport {
    /// Tag name.
    pub tag: String,
    /// CVEs carrying it, in risk order (most urgent first).
    pub cves: Vec<ApiTaggedCve>,
    /// Affected hosts in scope, in risk order (their most urgent CVE first).
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
