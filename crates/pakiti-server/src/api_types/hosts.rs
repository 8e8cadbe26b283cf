//! Hosts: the list, one host's detail, its findings, updates and reports.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api_types::ApiException;
use crate::export::{CsvRow, opt};

/// A host as the API shows it.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
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
    /// Whether an imported package repository serves the host's stream and arch: without one
    /// its update counts are "no repository data", not "no updates".
    pub repository_data: bool,
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
    /// Distinct CVEs for which a fixed version exists on this host (some finding of the CVE
    /// names one). `null` where not computed (the fleet index has not seen the host yet).
    pub fixable_cves: Option<i64>,
    /// Distinct CVEs with no fixed version on this host yet. `null` where not computed.
    pub unfixed_cves: Option<i64>,
    /// The risk class of the host's most urgent CVE (`tagged`, `kev`, `critical`, `high`,
    /// `epss`, `other`); `null` for a host without CVEs. Lists are in this risk order by
    /// default.
    pub risk: Option<String>,
}

impl CsvRow for ApiHost {
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
        "fixable_cves",
        "unfixed_cves",
        "risk",
        "repository_data",
    ];
    fn fields(&self) -> Vec<String> {
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
            self.fixable_cves.map(|n| n.to_string()).unwrap_or_default(),
            self.unfixed_cves.map(|n| n.to_string()).unwrap_or_default(),
            self.risk.clone().unwrap_or_default(),
            self.repository_data.to_string(),
        ]
    }
}

/// A line of a host's last report that could not be read.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
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
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
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
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
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
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
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
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiHostDetail {
    /// The host.
    #[serde(flatten)]
    pub host: ApiHost,
    /// "Install these updates": the findings with a fixed version, one row per (advisory,
    /// source package), most urgent first (the risk order); excepted CVEs left out.
    pub patches: Vec<crate::api_types::ApiPatch>,
    /// The findings no fixed version exists for, grouped and sorted the same way.
    pub unfixed: Vec<crate::api_types::ApiPatch>,
    /// When the host was retired (RFC 3339); absent for a host in service.
    pub retired_at: Option<String>,
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
    pub exceptions: Vec<ApiException>,
    /// Report history, newest first.
    pub reports: Vec<ApiReport>,
    /// The first lines of the last report that could not be read (all are counted in
    /// `report_problems`).
    pub report_problem_lines: Vec<ApiReportProblem>,
}

/// An installed package.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiPackage {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Arch.
    pub arch: String,
}

/// A CVE tag on one of a host's CVEs.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiHostTag {
    /// CVE.
    pub cve: String,
    /// Tag name.
    pub tag: String,
}

/// One report of a host.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiReport {
    /// Report id (for the report diff, `/hosts/{hostname}/diff?from=&to=`).
    pub id: i64,
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
#[derive(Debug, Serialize, Deserialize, ToSchema)]
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
