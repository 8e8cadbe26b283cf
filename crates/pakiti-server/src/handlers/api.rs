//! The JSON API, `/api/v1/…`: what scripts read.

use axum::Json;
use axum::extract::{Path, Query, State};
use pakiti_store::Store;
use pakiti_store::{Host, HostFilter, HostSort, HostSortKey, Page};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;

use crate::error::AppError;
use crate::evaluate;
use crate::state::AppState;

/// A host as the API shows it.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiHost {
    /// Host name.
    pub hostname: String,
    /// Host group (Pakiti's site).
    pub host_group: Option<String>,
    /// DNS domain.
    pub domain: Option<String>,
    /// OS as reported.
    pub os: String,
    /// The OS stream it maps to; `null` when not covered.
    pub os_stream: Option<String>,
    /// Architecture.
    pub arch: String,
    /// Running kernel.
    pub kernel: String,
    /// Admin tag.
    pub tag: Option<String>,
    /// Installed packages.
    pub packages: i64,
    /// Distinct CVEs.
    pub cve_count: i64,
    /// Distinct CVEs by highest severity.
    pub cves_by_severity: SeverityCounts,
    /// Whether the newest installed kernel is not the running one.
    pub reboot_needed: bool,
    /// Last report, RFC 3339.
    pub last_report: String,
}

/// CVE counts by severity.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SeverityCounts {
    /// Critical.
    pub critical: i64,
    /// High.
    pub high: i64,
    /// Medium.
    pub medium: i64,
    /// Low.
    pub low: i64,
    /// No severity given.
    pub unknown: i64,
}

/// One finding on a host.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiFinding {
    /// Package name.
    pub package: String,
    /// Installed version.
    pub installed_version: String,
    /// Package arch.
    pub arch: String,
    /// Advisory id.
    pub advisory: String,
    /// Advisory title.
    pub title: String,
    /// Severity.
    pub severity: String,
    /// CVE ids.
    pub cves: Vec<String>,
    /// `fixed`, `unfixed`, `will-not-fix`, `end-of-life`.
    pub status: String,
    /// Fixed version, when there is one.
    pub fixed_version: Option<String>,
}

/// A host with its findings.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiHostDetail {
    /// The host.
    #[serde(flatten)]
    pub host: ApiHost,
    /// Its findings.
    pub findings: Vec<ApiFinding>,
}

/// A page of hosts.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiHostPage {
    /// Hosts on this page.
    pub hosts: Vec<ApiHost>,
    /// Hosts matching in total.
    pub total: i64,
    /// Offset of this page.
    pub offset: i64,
    /// Page size.
    pub limit: i64,
}

/// Query parameters of `GET /api/v1/hosts`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct HostsQuery {
    /// Substring of the hostname.
    pub search: Option<String>,
    /// Exact host group.
    pub group: Option<String>,
    /// Exact OS stream.
    pub stream: Option<String>,
    /// Exact domain.
    pub domain: Option<String>,
    /// Exact tag.
    pub tag: Option<String>,
    /// Only hosts with CVEs.
    pub vulnerable: Option<bool>,
    /// `hostname`, `last_report`, `cves`, `critical`, `packages`; `-` prefix sorts descending.
    pub sort: Option<String>,
    /// Rows to skip.
    pub offset: Option<i64>,
    /// Page size (default 100, at most 1000).
    pub limit: Option<i64>,
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// The API form of a stored host.
#[must_use]
pub fn api_host(h: &Host) -> ApiHost {
    ApiHost {
        hostname: h.hostname.clone(),
        host_group: h.group.clone(),
        domain: h.facts.domain.clone(),
        os: h.facts.os_name.clone(),
        os_stream: h.facts.stream.as_ref().map(ToString::to_string),
        arch: h.facts.arch.clone(),
        kernel: h.facts.kernel.clone(),
        tag: h.facts.tag.clone(),
        packages: h.pkg_count,
        cve_count: h.counts.cves,
        cves_by_severity: SeverityCounts {
            critical: h.counts.critical,
            high: h.counts.high,
            medium: h.counts.medium,
            low: h.counts.low,
            unknown: h.counts.unknown,
        },
        reboot_needed: h.facts.reboot_needed,
        last_report: rfc3339(h.last_report_at),
    }
}

fn parse_sort(s: Option<&str>) -> Result<HostSort, AppError> {
    let Some(s) = s.filter(|s| !s.is_empty()) else {
        return Ok(HostSort::default());
    };
    let (descending, key) = match s.strip_prefix('-') {
        Some(k) => (true, k),
        None => (false, s),
    };
    let key = match key {
        "hostname" => HostSortKey::Hostname,
        "last_report" => HostSortKey::LastReport,
        "cves" => HostSortKey::Cves,
        "critical" => HostSortKey::Critical,
        "packages" => HostSortKey::Packages,
        other => {
            return Err(AppError::BadRequest(format!(
                "unknown sort key {other:?}: one of hostname, last_report, cves, critical, packages"
            )));
        }
    };
    Ok(HostSort { key, descending })
}

/// `GET /api/v1/hosts`.
///
/// # Errors
/// Bad parameters (400) or a store failure (500).
pub async fn list_hosts(
    State(state): State<AppState>,
    Query(q): Query<HostsQuery>,
) -> Result<Json<ApiHostPage>, AppError> {
    let filter = HostFilter {
        hostname_contains: q.search.filter(|s| !s.is_empty()),
        stream: q.stream.filter(|s| !s.is_empty()),
        group: q.group.filter(|s| !s.is_empty()),
        domain: q.domain.filter(|s| !s.is_empty()),
        tag: q.tag.filter(|s| !s.is_empty()),
        vulnerable_only: q.vulnerable.unwrap_or(false),
    };
    let page = Page {
        offset: q.offset.unwrap_or(0).max(0),
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
    };
    let sort = parse_sort(q.sort.as_deref())?;
    let result = state
        .store
        .list_hosts(&filter, sort, page)
        .await
        .map_err(anyhow::Error::from)?;
    Ok(Json(ApiHostPage {
        hosts: result.hosts.iter().map(api_host).collect(),
        total: result.total,
        offset: page.offset,
        limit: page.limit,
    }))
}

/// `GET /api/v1/hosts/{hostname}`.
///
/// # Errors
/// Unknown host (404) or a store failure (500).
pub async fn get_host(
    State(state): State<AppState>,
    Path(hostname): Path<String>,
) -> Result<Json<ApiHostDetail>, AppError> {
    let host = state
        .store
        .get_host_by_name(&hostname.to_ascii_lowercase())
        .await
        .map_err(anyhow::Error::from)?
        .ok_or_else(|| AppError::NotFound(format!("no host named {hostname}")))?;
    let findings = state
        .store
        .host_findings(host.id)
        .await
        .map_err(anyhow::Error::from)?;
    let findings = evaluate::applicable(findings, &host.facts.modules);
    Ok(Json(ApiHostDetail {
        host: api_host(&host),
        findings: findings
            .into_iter()
            .map(|f| ApiFinding {
                package: f.package.name,
                installed_version: f.package.version,
                arch: f.package.arch,
                advisory: f.vendor_id,
                title: f.title,
                severity: f.severity.as_str().to_owned(),
                cves: f.cves,
                status: f.status,
                fixed_version: f.fixed_version,
            })
            .collect(),
    }))
}
