//! What the fleet index answers: the CVE list, a CVE's page, a tag's page, host sets.

use pakiti_core::advisory::Severity;
use pakiti_store::{CveTag, HostId};

/// A CVE present in the fleet, as the CVE list shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CveSummary {
    /// CVE id (or the advisory id for advisories without CVEs).
    pub cve: String,
    /// Highest severity any advisory gives it.
    pub severity: Severity,
    /// Hosts (in scope) that have it.
    pub hosts: usize,
    /// Of those, hosts where a fixed version exists for it (some finding of it on the host
    /// has one); the others have it unfixed.
    pub fixable_hosts: usize,
    /// Advisories naming it, each once.
    pub advisories: Vec<String>,
    /// Enabled tags on it.
    pub tags: Vec<String>,
}

/// An advisory as the CVE page shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdvisoryInfo {
    /// Vendor id.
    pub id: String,
    /// Feed kind.
    pub source: String,
    /// Title.
    pub title: String,
    /// Severity.
    pub severity: Severity,
    /// Reference URLs (vendor tracker first).
    pub references: Vec<String>,
}

/// One affected package on one host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AffectedPackage {
    /// Package name.
    pub package: String,
    /// Installed version.
    pub version: String,
    /// Arch.
    pub arch: String,
    /// Advisory that says so.
    pub advisory: String,
    /// Fixed version, if any.
    pub fixed_version: Option<String>,
    /// Status word.
    pub status: String,
}

/// A host affected by a CVE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AffectedHost {
    /// Host id.
    pub id: HostId,
    /// Hostname.
    pub hostname: String,
    /// Host group.
    pub group: Option<String>,
    /// Stream.
    pub stream: Option<String>,
    /// The packages that carry the CVE.
    pub packages: Vec<AffectedPackage>,
}

/// The CVE page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CveDetail {
    /// CVE id.
    pub cve: String,
    /// Highest severity.
    pub severity: Severity,
    /// Advisories.
    pub advisories: Vec<AdvisoryInfo>,
    /// Tags (enabled or not).
    pub tags: Vec<CveTag>,
    /// Affected hosts in scope, by hostname (possibly truncated, see `Fleet::cve_limited`).
    pub hosts: Vec<AffectedHost>,
    /// Affected hosts in scope.
    pub host_total: usize,
    /// Of those, hosts where a fixed version exists for it.
    pub fixable_hosts: usize,
}

/// The page of one tag name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagDetail {
    /// Tag name.
    pub tag: String,
    /// CVEs carrying it (enabled tags), with their host counts in scope.
    pub cves: Vec<(CveTag, usize)>,
    /// Hosts in scope with at least one of those CVEs: (id, hostname, group, CVEs).
    pub hosts: Vec<(HostId, String, Option<String>, Vec<String>)>,
    /// Groups (`None` = ungrouped) with their affected host counts.
    pub groups: Vec<(Option<String>, usize)>,
}

/// Hosts sharing a group, a domain or an OS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostSet {
    /// The group, domain or OS name (`None`: no group, no domain).
    pub name: Option<String>,
    /// The OS stream (OS listings only).
    pub stream: Option<String>,
    /// Whether imported data covers that stream (OS listings only).
    pub covered: bool,
    /// Hosts in scope.
    pub hosts: usize,
    /// Of those, hosts with at least one CVE.
    pub vulnerable_hosts: usize,
    /// Distinct CVEs on those hosts.
    pub cves: usize,
}

/// What hosts are grouped by in `Fleet::host_sets`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    /// Host group.
    Group,
    /// DNS domain.
    Domain,
    /// Reported OS name (with its stream).
    Os,
}
