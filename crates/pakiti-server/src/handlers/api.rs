//! The JSON API, `/api/v1/…`: what scripts read.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use pakiti_store::{Host, HostFilter, HostSort, HostSortKey, Page};

use crate::auth::Viewer;
use crate::export::Format;
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
    /// The OS stream it maps to; `null` when the OS is not recognised.
    pub os_stream: Option<String>,
    /// Whether any imported vendor data applies to the host. A host that is not covered is
    /// unknown, never clean: its zero CVE count means nothing.
    pub covered: bool,
    /// The host's stream has source-package advisories (Debian tracker, DSA lists, Debian
    /// OSV) but no binary → source name map (no APT repository of that release imported with
    /// `pakiti repo add`/`import`), and the host reported no source names (protocols 4 and 5
    /// do not send them): those advisories match only binaries named like their source
    /// (`openssl`, not `libssl3`), so its CVE count is a lower bound, not "clean".
    pub source_names_unknown: bool,
    /// How the host's enabled module streams (RHEL 8+ modularity) are known: `reported` by
    /// its agent (or it has no module package that advisories speak about), `inferred` from
    /// its installed module packages because the agent reported none (Pakiti 2/3 clients,
    /// `rpm -qa`), or `unknown` when some module packages could not be attributed to a
    /// stream: their module advisories are missed and the CVE count is a lower bound.
    pub module_streams: String,
    /// The enabled module streams findings were matched with (reported or inferred).
    pub modules: Vec<String>,
    /// The host's last saved report has not been evaluated yet (the server stopped, or the
    /// evaluation failed, in between; a starting server and every 30 s tick finish it): its
    /// counts are not that report's answer, and a zero means nothing.
    pub evaluation_pending: bool,
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
    /// Distinct CVEs carrying an enabled operator tag.
    pub tagged_count: i64,
    /// Installed packages with at least one CVE.
    pub vulnerable_packages: i64,
    /// Whether the newest installed kernel is not the running one.
    pub reboot_needed: bool,
    /// Last report, RFC 3339.
    pub last_report: String,
    /// Available updates that bring a security fix (from the imported repositories).
    pub security_updates: i64,
    /// Other available updates.
    pub other_updates: i64,
    /// Lines of the last report that could not be read (skipped): the stored package list is
    /// incomplete when this is not 0 (`report_problem_lines` on the host says which).
    pub report_problems: i64,
}

/// A line of a host's last report that could not be read.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiReportProblem {
    /// 1-based line number in the package list (or body); for a version the host's scheme
    /// refuses, the package's position in the list.
    pub line: i64,
    /// Why it could not be read.
    pub reason: String,
    /// The start of the line as received.
    pub excerpt: String,
}

/// An available update of an installed package.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApiUpdate {
    /// Package name.
    pub name: String,
    /// Installed version.
    pub installed: String,
    /// The version the package manager would install.
    pub available: String,
    /// Whether the upgrade brings a security fix.
    pub security: bool,
    /// The most severe rpm-md `updateinfo` advisory listing a version between the installed
    /// one (exclusive) and the available one (inclusive); `null` when none does (apt, apk).
    pub advisory: Option<String>,
    /// That advisory's severity as the vendor writes it (`Critical`, `Important`,
    /// `Moderate`, `Low`, `None`); `null` when there is no advisory or it gives none.
    pub severity: Option<String>,
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
    /// Available updates, in package order.
    pub updates: Vec<ApiUpdate>,
    /// Installed packages.
    pub installed: Vec<ApiPackage>,
    /// "Old kernel installed": packages of installed kernels older than the running one,
    /// whose findings do not count (vendor kernel advisories are about the running kernel).
    pub old_kernels: Vec<ApiPackage>,
    /// Enabled CVE tags on its CVEs.
    pub cve_tags: Vec<ApiHostTag>,
    /// Exceptions that removed findings from it.
    pub exceptions: Vec<crate::handlers::views::ApiException>,
    /// Report history, newest first.
    pub reports: Vec<ApiReport>,
    /// The first lines of the last report that could not be read (all are counted in
    /// `report_problems`).
    pub report_problem_lines: Vec<ApiReportProblem>,
}

/// An installed package.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiPackage {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Arch.
    pub arch: String,
}

/// A CVE tag on one of a host's CVEs.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiHostTag {
    /// CVE.
    pub cve: String,
    /// Tag name.
    pub tag: String,
}

/// One report of a host.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiReport {
    /// Received, RFC 3339.
    pub received_at: String,
    /// Installed packages listed.
    pub packages: i64,
    /// Whether the package list changed.
    pub changed: bool,
    /// Proxy it came through.
    pub proxy: Option<String>,
    /// CVE count after evaluation.
    pub cve_count: Option<i64>,
    /// Lines of it that could not be read.
    pub problems: i64,
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

/// A query parameter that an HTML form submits empty (`not_reporting_days=`) is absent, not
/// malformed.
fn empty_as_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let s: Option<String> = Option::deserialize(d)?;
    match s.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v.parse().map(Some).map_err(serde::de::Error::custom),
    }
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
    #[serde(deserialize_with = "empty_as_none")]
    pub vulnerable: Option<bool>,
    /// Substring of the reported OS name.
    pub os: Option<String>,
    /// Hosts that have this CVE.
    pub cve: Option<String>,
    /// Hosts with a CVE carrying this (enabled) tag.
    pub cve_tag: Option<String>,
    /// Hosts with a package of this name installed.
    pub package: Option<String>,
    /// Only hosts that need a reboot.
    #[serde(deserialize_with = "empty_as_none")]
    pub reboot: Option<bool>,
    /// Only hosts whose last report is older than this many days.
    #[serde(deserialize_with = "empty_as_none")]
    pub not_reporting_days: Option<i64>,
    /// Only hosts no imported data covers.
    #[serde(deserialize_with = "empty_as_none")]
    pub not_covered: Option<bool>,
    /// Only hosts with a tagged CVE.
    #[serde(deserialize_with = "empty_as_none")]
    pub tagged: Option<bool>,
    /// Only hosts with security updates pending.
    #[serde(deserialize_with = "empty_as_none")]
    pub security_updates: Option<bool>,
    /// Only hosts whose module streams are known this way: `reported`, `inferred`, `unknown`.
    pub module_streams: Option<String>,
    /// Only hosts whose last report had lines that could not be read.
    #[serde(deserialize_with = "empty_as_none")]
    pub report_problems: Option<bool>,
    /// Comma-separated top-level domains (`cz,de`).
    pub tld: Option<String>,
    /// `hostname`, `group`, `os`, `last_report`, `cves`, `critical`, `high`, `tagged`,
    /// `packages`, `security_updates`; `-` prefix sorts descending.
    pub sort: Option<String>,
    /// `csv` or `json`: every matching host instead of a page.
    pub format: Option<crate::export::Format>,
    /// Rows to skip.
    #[serde(deserialize_with = "empty_as_none")]
    pub offset: Option<i64>,
    /// Page size (default 100, at most 1000).
    #[serde(deserialize_with = "empty_as_none")]
    pub limit: Option<i64>,
}

/// RFC 3339 text of `t`.
#[must_use]
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// The API form of a stored host; `evaluator` says whether data covers it.
///
/// `source_names_unknown` is set from the stream alone (the evaluator has no source map for a
/// stream with source-package advisories); callers that know the host's packages clear it
/// when the host reported source names ([`refine_source_names`]).
#[must_use]
pub fn api_host(h: &Host, evaluator: &crate::evaluate::Evaluator) -> ApiHost {
    ApiHost {
        source_names_unknown: h
            .facts
            .stream
            .as_ref()
            .is_some_and(|s| evaluator.index().lacks_source_map(s)),
        covered: h
            .facts
            .stream
            .as_ref()
            .is_some_and(|s| !evaluator.index().targets(s).is_empty()),
        module_streams: h.facts.module_streams.api_word().to_owned(),
        modules: h.facts.modules.clone(),
        evaluation_pending: h.evaluation_pending,
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
        tagged_count: h.counts.tagged,
        vulnerable_packages: h.counts.vulnerable_packages,
        reboot_needed: h.facts.reboot_needed,
        last_report: rfc3339(h.last_report_at),
        security_updates: h.updates.security,
        other_updates: h.updates.other,
        report_problems: h.facts.problems.count,
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
        "high" => HostSortKey::High,
        "tagged" => HostSortKey::Tagged,
        "group" => HostSortKey::Group,
        "os" => HostSortKey::Os,
        "security_updates" => HostSortKey::SecurityUpdates,
        other => {
            return Err(AppError::BadRequest(format!(
                "unknown sort key {other:?}: one of hostname, group, os, last_report, cves, \
                 critical, high, tagged, packages, security_updates"
            )));
        }
    };
    Ok(HostSort { key, descending })
}

fn nonempty(s: Option<&String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn intersect(acc: Option<Vec<i64>>, ids: Vec<i64>) -> Option<Vec<i64>> {
    let mut ids = ids;
    ids.sort_unstable();
    Some(match acc {
        None => ids,
        Some(a) => a
            .into_iter()
            .filter(|i| ids.binary_search(i).is_ok())
            .collect(),
    })
}

/// The store filter for a hosts query: plain fields go to SQL, CVE / tag / package /
/// coverage searches are answered by the fleet index as a list of host ids.
///
/// # Errors
/// The fleet index cannot be built.
pub async fn host_filter(
    state: &AppState,
    viewer: &Viewer,
    q: &HostsQuery,
) -> Result<HostFilter, AppError> {
    let mut host_ids = None;
    let cve = nonempty(q.cve.as_ref());
    let cve_tag = nonempty(q.cve_tag.as_ref());
    let package = nonempty(q.package.as_ref());
    let not_covered = q.not_covered.unwrap_or(false);
    if cve.is_some() || cve_tag.is_some() || package.is_some() || not_covered {
        let fleet = crate::fleet::current(state).await?;
        if let Some(c) = &cve {
            host_ids = intersect(host_ids, fleet.hosts_with_cve(c));
        }
        if let Some(t) = &cve_tag {
            host_ids = intersect(host_ids, fleet.hosts_with_tag(t));
        }
        if let Some(p) = &package {
            host_ids = intersect(host_ids, fleet.hosts_with_package(p));
        }
        if not_covered {
            host_ids = intersect(host_ids, fleet.hosts_not_covered());
        }
    }
    let module_streams = match nonempty(q.module_streams.as_ref()).as_deref() {
        None => None,
        Some(w @ ("reported" | "inferred" | "unknown")) => {
            Some(pakiti_store::ModuleStreams::parse(w))
        }
        Some(other) => {
            return Err(AppError::BadRequest(format!(
                "unknown module_streams {other:?}: one of reported, inferred, unknown"
            )));
        }
    };
    Ok(HostFilter {
        module_streams,
        hostname_contains: nonempty(q.search.as_ref()),
        stream: nonempty(q.stream.as_ref()),
        group: nonempty(q.group.as_ref()),
        domain: nonempty(q.domain.as_ref()),
        tag: nonempty(q.tag.as_ref()),
        vulnerable_only: q.vulnerable.unwrap_or(false),
        host_ids,
        os_contains: nonempty(q.os.as_ref()),
        reboot_needed: q.reboot.unwrap_or(false),
        last_report_before: q
            .not_reporting_days
            .filter(|d| *d > 0)
            .map(|d| time::OffsetDateTime::now_utc() - time::Duration::days(d)),
        tlds: q
            .tld
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(|t| t.trim().trim_start_matches('.').to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect(),
        tagged_only: q.tagged.unwrap_or(false),
        security_updates_only: q.security_updates.unwrap_or(false),
        report_problems_only: q.report_problems.unwrap_or(false),
        scope: viewer.scope.clone(),
    })
}

/// A page of hosts for `q` (`all`: every matching host, for exports).
///
/// # Errors
/// Bad parameters (400) or a store failure (500).
pub async fn query_hosts(
    state: &AppState,
    viewer: &Viewer,
    q: &HostsQuery,
    all: bool,
) -> Result<ApiHostPage, AppError> {
    let filter = host_filter(state, viewer, q).await?;
    let page = if all {
        Page {
            offset: 0,
            limit: i64::MAX,
        }
    } else {
        Page {
            offset: q.offset.unwrap_or(0).max(0),
            limit: q.limit.unwrap_or(100).clamp(1, 1000),
        }
    };
    let sort = parse_sort(q.sort.as_deref())?;
    let result = state.store.list_hosts(&filter, sort, page).await?;
    let evaluator = state.evaluator();
    let mut hosts: Vec<ApiHost> = result
        .hosts
        .iter()
        .map(|h| api_host(h, &evaluator))
        .collect();
    refine_source_names(state, &result.hosts, &mut hosts).await?;
    Ok(ApiHostPage {
        hosts,
        total: result.total,
        offset: page.offset,
        limit: page.limit.min(result.total.max(1)),
    })
}

/// Clears `source_names_unknown` of hosts that reported source names with their packages
/// (the fleet index knows which); only consulted when some host of the page is flagged.
///
/// # Errors
/// The fleet index cannot be built.
pub async fn refine_source_names(
    state: &AppState,
    stored: &[Host],
    hosts: &mut [ApiHost],
) -> Result<(), AppError> {
    if !hosts.iter().any(|h| h.source_names_unknown) {
        return Ok(());
    }
    let fleet = crate::fleet::current(state).await?;
    for (h, a) in stored.iter().zip(hosts.iter_mut()) {
        if a.source_names_unknown && fleet.host_reports_sources(h.id) == Some(true) {
            a.source_names_unknown = false;
        }
    }
    Ok(())
}

impl crate::export::CsvRow for ApiHost {
    const HEADER: &'static [&'static str] = &[
        "hostname",
        "host_group",
        "domain",
        "os",
        "os_stream",
        "covered",
        "evaluation_pending",
        "arch",
        "kernel",
        "tag",
        "packages",
        "cve_count",
        "critical",
        "high",
        "medium",
        "low",
        "unknown",
        "tagged_count",
        "reboot_needed",
        "last_report",
        "report_problems",
    ];
    fn fields(&self) -> Vec<String> {
        use crate::export::opt;
        vec![
            self.hostname.clone(),
            opt(self.host_group.as_ref()),
            opt(self.domain.as_ref()),
            self.os.clone(),
            opt(self.os_stream.as_ref()),
            self.covered.to_string(),
            self.evaluation_pending.to_string(),
            self.arch.clone(),
            self.kernel.clone(),
            opt(self.tag.as_ref()),
            self.packages.to_string(),
            self.cve_count.to_string(),
            self.cves_by_severity.critical.to_string(),
            self.cves_by_severity.high.to_string(),
            self.cves_by_severity.medium.to_string(),
            self.cves_by_severity.low.to_string(),
            self.cves_by_severity.unknown.to_string(),
            self.tagged_count.to_string(),
            self.reboot_needed.to_string(),
            self.last_report.clone(),
            self.report_problems.to_string(),
        ]
    }
}

/// `GET /api/v1/hosts` (`?format=csv` for every matching host as CSV).
///
/// # Errors
/// Bad parameters (400) or a store failure (500).
pub async fn list_hosts(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<HostsQuery>,
) -> Result<Response, AppError> {
    match q.format.unwrap_or_default() {
        Format::Csv => {
            let page = query_hosts(&state, &viewer, &q, true).await?;
            crate::export::csv("hosts", &page.hosts)
        }
        _ => Ok(Json(query_hosts(&state, &viewer, &q, false).await?).into_response()),
    }
}

/// `GET /api/v1/hosts/{hostname}`.
///
/// # Errors
/// Unknown host (404) or a store failure (500).
pub async fn get_host(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(hostname): Path<String>,
) -> Result<Json<ApiHostDetail>, AppError> {
    let host = state
        .store
        .get_host_by_name(&hostname.to_ascii_lowercase())
        .await
        .map_err(anyhow::Error::from)?
        // Hosts outside the viewer's scope do not exist for them (404, not 403).
        .filter(|h| viewer.scope.allows(h))
        .ok_or_else(|| AppError::NotFound(format!("no host named {hostname}")))?;
    let findings = state
        .store
        .host_findings(host.id)
        .await
        .map_err(anyhow::Error::from)?;
    let findings = evaluate::applicable(findings, &host.facts.modules);
    let fleet = crate::fleet::current(&state).await?;
    let packages = state.store.host_packages(host.id).await?;
    let mut api = api_host(&host, &state.evaluator());
    if packages.iter().any(|(_, p)| p.source.is_some()) {
        api.source_names_unknown = false;
    }
    let mut installed = Vec::with_capacity(packages.len());
    let mut old_kernels = Vec::new();
    for (id, p) in packages {
        let p = ApiPackage {
            name: p.name,
            version: p.version,
            arch: p.arch,
        };
        if host.old_kernels.binary_search(&id).is_ok() {
            old_kernels.push(ApiPackage {
                name: p.name.clone(),
                version: p.version.clone(),
                arch: p.arch.clone(),
            });
        }
        installed.push(p);
    }
    let reports = state
        .store
        .host_reports(host.id, 50)
        .await?
        .into_iter()
        .map(|r| ApiReport {
            received_at: rfc3339(r.received_at),
            packages: r.pkg_count,
            changed: r.changed,
            proxy: r.proxy_name.filter(|_| r.via_proxy),
            cve_count: r.cve_count,
            problems: r.problem_count,
        })
        .collect();
    let updates = crate::updates::stored_host_updates(&state.store, state.updates(), &host)
        .await
        .map_err(anyhow::Error::from)?
        .into_iter()
        .map(|r| ApiUpdate {
            name: r.line.name,
            installed: r.line.installed_version,
            available: r.line.new_version,
            security: r.line.security,
            advisory: r.advisory,
            severity: r.severity,
        })
        .collect();
    let report_problem_lines = host
        .facts
        .problems
        .lines
        .iter()
        .map(|p| ApiReportProblem {
            line: p.line,
            reason: p.reason.clone(),
            excerpt: p.excerpt.clone(),
        })
        .collect();
    Ok(Json(ApiHostDetail {
        report_problem_lines,
        updates,
        installed,
        old_kernels,
        cve_tags: fleet
            .host_tags(&host)
            .into_iter()
            .map(|(cve, tag)| ApiHostTag { cve, tag })
            .collect(),
        exceptions: fleet
            .host_exceptions(&host)
            .iter()
            .map(crate::handlers::views::api_exception)
            .collect(),
        reports,
        host: api,
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
