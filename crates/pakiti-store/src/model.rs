//! The values the store takes and returns (no serde: wire formats live elsewhere).

use pakiti_core::advisory::{Advisory, Severity};
use pakiti_core::package::InstalledPackage;
use pakiti_core::stream::OsStream;
use time::OffsetDateTime;

/// A feed's database id.
pub type FeedId = i64;
/// An advisory's database id (stable while the advisory's vendor id stays in its feed).
pub type AdvisoryDbId = i64;
/// A host's database id.
pub type HostId = i64;
/// A report's database id.
pub type ReportId = i64;
/// An interned package version's id (`package_versions.id`).
pub type PackageVersionId = i64;
/// A queued report's id.
pub type QueueId = i64;

/// A feed to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewFeed {
    /// A unique name chosen by the operator.
    pub name: String,
    /// The parser kind (`redhat-oval`, `debian-tracker`, ...).
    pub kind: String,
    /// Where to fetch it: a URL or a local path.
    pub url: String,
    /// A stream that overrides what the parser infers (`rhel:8`).
    pub stream: Option<String>,
    /// Whether it is synced and its advisories used.
    pub enabled: bool,
    /// Seconds between syncs.
    pub interval_secs: i64,
}

/// How a sync ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncStatus {
    /// New data was imported.
    Ok,
    /// The source had not changed (304, same checksum).
    Unchanged,
    /// Fetching or parsing failed; the previous advisories stay.
    Failed,
}

impl SyncStatus {
    /// The stored word (`ok`, `unchanged`, `failed`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Ok => "ok",
            SyncStatus::Unchanged => "unchanged",
            SyncStatus::Failed => "failed",
        }
    }

    /// Parses [`SyncStatus::as_str`].
    #[must_use]
    pub fn from_word(s: &str) -> Option<Self> {
        match s {
            "ok" => Some(SyncStatus::Ok),
            "unchanged" => Some(SyncStatus::Unchanged),
            "failed" => Some(SyncStatus::Failed),
            _ => None,
        }
    }
}

/// One sync of a feed, as recorded on the feed and in its history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncRecord {
    /// When the sync started.
    pub at: OffsetDateTime,
    /// How it ended.
    pub status: SyncStatus,
    /// The error chain, for failures.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
    /// The `ETag` the source sent, for the next conditional GET.
    pub etag: Option<String>,
    /// The `Last-Modified` the source sent.
    pub last_modified: Option<String>,
    /// A checksum of the fetched bytes, to detect an unchanged source without a 304.
    pub checksum: Option<String>,
}

/// A feed as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Feed {
    /// Database id.
    pub id: FeedId,
    /// Unique name.
    pub name: String,
    /// Parser kind.
    pub kind: String,
    /// URL or local path.
    pub url: String,
    /// Stream override.
    pub stream: Option<String>,
    /// Whether it is synced and used.
    pub enabled: bool,
    /// Seconds between syncs.
    pub interval_secs: i64,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// The last sync, if any (its `etag`, `last_modified` and `checksum` are those of the last
    /// successful fetch: a failure does not clear them).
    pub last_sync: Option<SyncRecord>,
    /// Advisories currently stored for the feed.
    pub advisory_count: i64,
    /// Affected entries currently stored for the feed.
    pub affected_count: i64,
    /// What the last successful import was, recognised from its content; `None` before one.
    pub content: Option<FeedContent>,
}

/// The feed kinds that give CVE facts rather than advisories
/// (`pakiti_feeds::FeedKind::is_prioritisation`); their imports change no finding.
pub const PRIORITISATION_KINDS: [&str; 2] = ["cisa-kev", "epss"];

impl Feed {
    /// A prioritisation feed (CISA KEV, FIRST EPSS): by its kind, or for an `auto` feed by
    /// what its last import was.
    #[must_use]
    pub fn is_prioritisation(&self) -> bool {
        PRIORITISATION_KINDS.contains(&self.kind.as_str())
            || self
                .content
                .as_ref()
                .is_some_and(|c| PRIORITISATION_KINDS.contains(&c.kind.as_str()))
    }
}

/// What a feed's last import was, recognised from the content (`pakiti_feeds::FeedIdentity`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedContent {
    /// The recognised kind (`ubuntu-oval`), also for feeds whose kind is `auto`.
    pub kind: String,
    /// The identity a new document must share to replace the feed's advisories.
    pub key: String,
    /// The file or URL imported.
    pub source: String,
}

/// Changes to a feed's settings; `None` leaves a field alone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeedUpdate {
    /// New URL or path.
    pub url: Option<String>,
    /// New stream override (`Some(None)` clears it).
    pub stream: Option<Option<String>>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// New interval.
    pub interval_secs: Option<i64>,
}

/// One row of a feed's sync history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedRun {
    /// The sync.
    pub record: SyncRecord,
    /// Advisories imported (0 for failures and unchanged syncs).
    pub advisory_count: i64,
    /// Affected entries imported.
    pub affected_count: i64,
    /// (stream, package) keys whose entries changed.
    pub changed_keys: i64,
}

/// A (stream, package name) pair: the unit the matcher indexes and re-evaluation works on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamPackage {
    /// The stream key (`rhel:8`).
    pub stream: String,
    /// The binary or source package name the entry names.
    pub package: String,
}

/// What [`crate::Store::replace_feed_advisories`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplaceOutcome {
    /// Advisories now stored for the feed.
    pub advisory_count: i64,
    /// Affected entries now stored for the feed.
    pub affected_count: i64,
    /// Advisories that were new or changed.
    pub upserted: i64,
    /// Advisories that were removed.
    pub removed: i64,
    /// Keys whose entries changed (sorted); also recorded durably as stale keys until
    /// [`crate::Store::clear_stale_keys`] is called.
    pub changed_keys: Vec<StreamPackage>,
}

/// An advisory with its database ids, as loaded for the matcher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAdvisory {
    /// Database id (what findings reference).
    pub id: AdvisoryDbId,
    /// The feed it belongs to.
    pub feed_id: FeedId,
    /// The digest of its content (a new one whenever the advisory changes; see
    /// [`crate::Store::load_advisories_changed`]).
    pub digest: i64,
    /// The advisory exactly as it was imported.
    pub advisory: Advisory,
}

/// Who a report comes from: the agent's client id when it sends one, else the hostname.
///
/// Never the reporter's IP address: hosts behind one NAT or proxy would merge (Pakiti issue
/// #158).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostIdentity {
    /// The hostname the agent reports.
    pub hostname: String,
    /// A stable id the agent generated (survives renames).
    pub client_id: Option<String>,
}

/// Host facts carried by a report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// DNS domain.
    pub domain: Option<String>,
    /// Host group (Pakiti's "site"); `None` leaves the host ungrouped.
    pub group: Option<String>,
    /// OS name as reported (`Rocky Linux 9.3`).
    pub os_name: String,
    /// The stream the server mapped the OS to; `None` when unknown (host is "not covered").
    pub stream: Option<OsStream>,
    /// Architecture.
    pub arch: String,
    /// Running kernel.
    pub kernel: String,
    /// Free-form tag from the agent config.
    pub tag: Option<String>,
    /// Package manager (`rpm`, `dpkg`, `apk`).
    pub packager: String,
    /// Whether the agent says a reboot is needed.
    pub reboot_needed: bool,
    /// Enabled module streams (`nodejs:18`, RHEL 8+); module-stream findings apply only to
    /// hosts that have that stream enabled. For a host that reported none, the streams the
    /// server inferred from its module packages (see `module_streams`).
    pub modules: Vec<String>,
    /// How `modules` is known.
    pub module_streams: ModuleStreams,
    /// The lines of the report that could not be read (skipped; counted and kept).
    pub problems: crate::problems::ReportProblems,
    /// Positions in the report's packages of installed kernels older than the running one
    /// (`pakiti_core::kernel::old_kernels`, worked out by the caller): their versions are kept
    /// in `hosts.old_kernels` and out of the host's findings. Read only when a report is
    /// saved: a stored [`Host`](crate::Host) has it empty.
    pub old_kernels: Vec<usize>,
}

/// How a host's module streams are known (issue 12 item 2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ModuleStreams {
    /// Reported by the agent, or nothing to know: no installed module package that an
    /// advisory speaks about.
    #[default]
    Reported,
    /// The agent reported none (`rpm -qa`, Pakiti 2/3 clients); every module package the
    /// advisories speak about was attributed to a stream by its exact version.
    Inferred,
    /// The agent reported none, and some module packages could not be attributed: their
    /// module advisories are missed, so the CVE count is a lower bound.
    Unknown,
}

impl ModuleStreams {
    /// The stored word: `''`, `inferred`, `unknown`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ModuleStreams::Reported => "",
            ModuleStreams::Inferred => "inferred",
            ModuleStreams::Unknown => "unknown",
        }
    }

    /// The API word: `reported`, `inferred`, `unknown`.
    #[must_use]
    pub fn api_word(self) -> &'static str {
        match self {
            ModuleStreams::Reported => "reported",
            other => other.as_str(),
        }
    }

    /// Reads a stored or API word (unknown words read as `Reported`, the column's default).
    #[must_use]
    pub fn parse(word: &str) -> Self {
        match word {
            "inferred" => ModuleStreams::Inferred,
            "unknown" => ModuleStreams::Unknown,
            _ => ModuleStreams::Reported,
        }
    }
}

/// Report metadata (everything but the packages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportMeta {
    /// When the server received it.
    pub received_at: OffsetDateTime,
    /// A hash of the package list (the unchanged test).
    pub hash: String,
    /// Whether it came through a proxy.
    pub via_proxy: bool,
    /// The proxy's name.
    pub proxy_name: Option<String>,
    /// The site the reporter claims.
    pub site: Option<String>,
    /// The tag sent with the report.
    pub tag: Option<String>,
}

/// A full (changed or first) report to save.
#[derive(Clone, Copy, Debug)]
pub struct NewReport<'a> {
    /// Who sent it.
    pub identity: &'a HostIdentity,
    /// Host facts.
    pub facts: &'a HostFacts,
    /// Report metadata.
    pub meta: &'a ReportMeta,
    /// The installed packages (duplicates are harmless).
    pub packages: &'a [InstalledPackage],
}

/// What [`crate::Store::save_report`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedReport {
    /// The host (created or found).
    pub host_id: HostId,
    /// Whether the host was created by this report.
    pub new_host: bool,
    /// The report row.
    pub report_id: ReportId,
    /// `package_ids[i]` is the interned id of `packages[i]`.
    pub package_ids: Vec<PackageVersionId>,
    /// Ids (sorted, distinct) that were never evaluated for the host's stream; empty when the
    /// host has no stream.
    pub unevaluated: Vec<PackageVersionId>,
}

/// What the server needs to decide between the full and the unchanged path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostState {
    /// The host.
    pub id: HostId,
    /// The hash of its last saved package list.
    pub last_report_hash: Option<String>,
    /// Its stream.
    pub stream: Option<String>,
}

/// One evaluated (stream, package version) → advisory entry hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackageFinding {
    /// The package version.
    pub package_version_id: PackageVersionId,
    /// The advisory.
    pub advisory_id: AdvisoryDbId,
    /// The index of the entry in the advisory's `affected` list.
    pub affected_idx: i64,
}

/// A finding on one host, joined with what a person reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostFinding {
    /// The installed package version.
    pub package_version_id: PackageVersionId,
    /// The installed package.
    pub package: InstalledPackage,
    /// The advisory's database id.
    pub advisory_id: AdvisoryDbId,
    /// The vendor id (`RHSA-2023:7700`).
    pub vendor_id: String,
    /// Title.
    pub title: String,
    /// Severity.
    pub severity: Severity,
    /// CVEs of the advisory.
    pub cves: Vec<String>,
    /// Index of the entry that matched.
    pub affected_idx: i64,
    /// The entry's status word (`fixed`, `unfixed`, ...).
    pub status: String,
    /// The fixed version, when there is one.
    pub fixed_version: Option<String>,
    /// The module stream the entry requires (the server filters by the host's modules).
    pub module: Option<String>,
}

/// Cached per-host figures, written after evaluation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostCounts {
    /// Distinct CVEs.
    pub cves: i64,
    /// Distinct CVEs from critical advisories.
    pub critical: i64,
    /// From high advisories.
    pub high: i64,
    /// From medium advisories.
    pub medium: i64,
    /// From low advisories.
    pub low: i64,
    /// From advisories without a severity.
    pub unknown: i64,
    /// Distinct CVEs carrying an operator tag.
    pub tagged: i64,
    /// Installed packages with at least one finding.
    pub vulnerable_packages: i64,
}

/// A host as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    /// Database id.
    pub id: HostId,
    /// Hostname.
    pub hostname: String,
    /// Client id.
    pub client_id: Option<String>,
    /// Group name.
    pub group: Option<String>,
    /// Facts from the last report.
    pub facts: HostFacts,
    /// First report.
    pub first_seen: OffsetDateTime,
    /// Last report (changed or not).
    pub last_report_at: OffsetDateTime,
    /// Hash of the last saved package list.
    pub last_report_hash: Option<String>,
    /// The last saved report has not been evaluated yet (the server stopped, or the
    /// evaluation failed, in between): the counts are not its answer, and must not be read
    /// as "clean" (migration 0012).
    pub evaluation_pending: bool,
    /// Installed packages.
    pub pkg_count: i64,
    /// Cached counts.
    pub counts: HostCounts,
    /// Cached update counts (repository-based update detection).
    pub updates: HostUpdateCounts,
    /// Package versions of installed kernels older than the running one ("old kernel
    /// installed", `pakiti_core::kernel::old_kernels`): their findings do not count.
    pub old_kernels: Vec<PackageVersionId>,
}

/// Which hosts to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostFilter {
    /// Case-insensitive substring of the hostname.
    pub hostname_contains: Option<String>,
    /// Exact stream key.
    pub stream: Option<String>,
    /// Exact group name.
    pub group: Option<String>,
    /// Exact domain.
    pub domain: Option<String>,
    /// Exact tag.
    pub tag: Option<String>,
    /// Only hosts with at least one CVE.
    pub vulnerable_only: bool,
    /// Only these hosts (what the fleet index answers for CVE, CVE-tag and package searches);
    /// `None` for no such restriction.
    pub host_ids: Option<Vec<HostId>>,
    /// Case-insensitive substring of the reported OS name.
    pub os_contains: Option<String>,
    /// Only hosts that need a reboot.
    pub reboot_needed: bool,
    /// Only hosts whose last report is older than this (Pakiti's "not reporting for N days").
    pub last_report_before: Option<OffsetDateTime>,
    /// Only hosts whose hostname ends with `.` + one of these (`?tld=cz,de`); empty for any.
    pub tlds: Vec<String>,
    /// Only hosts with at least one tagged CVE.
    pub tagged_only: bool,
    /// Only hosts with security updates pending (from the imported repositories).
    pub security_updates_only: bool,
    /// Only hosts whose module streams are known this way (`?module_streams=inferred`).
    pub module_streams: Option<ModuleStreams>,
    /// Only hosts whose last report had lines that could not be read.
    pub report_problems_only: bool,
    /// The hosts the viewer may see (authorization); every listing applies it.
    pub scope: HostScope,
    /// List retired hosts instead of the hosts in service (migration 0020).
    pub retired: bool,
}

/// The hosts a user may see: everything (admins, single-user mode) or the union of the host
/// groups, DNS domains and hostnames granted to them. Every page, export and API call that
/// lists or reads hosts (or counts them, as the CVE pages do) applies it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum HostScope {
    /// Every host.
    #[default]
    All,
    /// Only hosts in one of these groups, domains, or with one of these hostnames.
    Restricted {
        /// Host group names.
        groups: Vec<String>,
        /// DNS domains (exact, as stored on the host).
        domains: Vec<String>,
        /// Hostnames (exact, lower case).
        hosts: Vec<String>,
    },
}

impl HostScope {
    /// Whether the scope lets its holder see `host`.
    #[must_use]
    pub fn allows(&self, host: &Host) -> bool {
        match self {
            HostScope::All => true,
            HostScope::Restricted {
                groups,
                domains,
                hosts,
            } => {
                host.group.as_ref().is_some_and(|g| groups.contains(g))
                    || host
                        .facts
                        .domain
                        .as_ref()
                        .is_some_and(|d| domains.contains(d))
                    || hosts.contains(&host.hostname)
            }
        }
    }

    /// Whether this is the unrestricted scope.
    #[must_use]
    pub fn is_all(&self) -> bool {
        matches!(self, HostScope::All)
    }
}

/// The column hosts are sorted by (ties broken by id).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HostSortKey {
    /// Hostname.
    #[default]
    Hostname,
    /// Last report time.
    LastReport,
    /// CVE count.
    Cves,
    /// Critical CVE count.
    Critical,
    /// Package count.
    Packages,
    /// High CVE count.
    High,
    /// Tagged CVE count.
    Tagged,
    /// Host group name.
    Group,
    /// Reported OS name.
    Os,
    /// Pending security updates, then other updates.
    SecurityUpdates,
}

/// Sort order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostSort {
    /// Column.
    pub key: HostSortKey,
    /// Descending instead of ascending.
    pub descending: bool,
}

/// A page of a listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    /// Rows to skip.
    pub offset: i64,
    /// Rows to return at most.
    pub limit: i64,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            offset: 0,
            limit: 100,
        }
    }
}

/// A page of hosts and how many match in total.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPage {
    /// The hosts on this page.
    pub hosts: Vec<Host>,
    /// All matching hosts.
    pub total: i64,
}

/// Every host a filter matches, in a column's order, with where each run of hosts that tie on
/// that column starts ([`Store::list_host_runs`](crate::Store::list_host_runs)): the hosts list
/// breaks such ties by risk, from memory, and reads only its page's hosts in full.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostRuns {
    /// Host ids in the column's order.
    pub ids: Vec<HostId>,
    /// Index in `ids` of the first host of each run of equal column values, ascending; the
    /// first is 0 (when there is a host).
    pub starts: Vec<usize>,
}

impl HostRuns {
    /// The runs, as ranges of `ids`.
    pub fn ranges(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        self.starts.iter().enumerate().map(|(i, &s)| {
            let end = self.starts.get(i + 1).copied().unwrap_or(self.ids.len());
            s..end
        })
    }
}

/// A report claimed from the durable queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedReport {
    /// Queue id (pass to [`crate::Store::complete_report`]).
    pub id: QueueId,
    /// The raw payload as enqueued.
    pub payload: Vec<u8>,
    /// How many times it has been claimed, this claim included; above 1 means an earlier
    /// worker died or let its lease run out, so the report may be half processed.
    pub attempts: i64,
}

/// The keys awaiting re-evaluation, with the sequence number to clear them up to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StaleKeys {
    /// Sorted keys.
    pub keys: Vec<StreamPackage>,
    /// Pass to [`crate::Store::clear_stale_keys`] once they are re-evaluated; keys marked again
    /// in the meantime get a higher number and survive the clear.
    pub seq: i64,
}

/// A CVE tag's database id.
pub type CveTagId = i64;
/// An exception's database id.
pub type ExceptionId = i64;

/// The tag names Pakiti offers by default (any name is allowed).
pub const DEFAULT_TAGS: [&str; 2] = ["Critical", "High"];

/// A tag to put on a CVE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCveTag {
    /// The CVE id (`CVE-2023-4911`).
    pub cve: String,
    /// The tag name (`Critical`, `High`, ...).
    pub tag: String,
    /// Why the CVE is tagged.
    pub reason: String,
    /// A link with more information.
    pub info_url: Option<String>,
    /// Whether the tag counts (report-back and tagged counts use enabled tags only).
    pub enabled: bool,
    /// Who tagged it.
    pub author: String,
}

/// A tag on a CVE, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CveTag {
    /// Database id.
    pub id: CveTagId,
    /// The CVE id.
    pub cve: String,
    /// The tag name.
    pub tag: String,
    /// Why.
    pub reason: String,
    /// A link.
    pub info_url: Option<String>,
    /// Whether it counts.
    pub enabled: bool,
    /// Who created it.
    pub author: String,
    /// When.
    pub created_at: OffsetDateTime,
}

/// An exception to create: `cve` does not apply to package `package` at `version` on
/// `stream`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewException {
    /// The CVE id.
    pub cve: String,
    /// The binary package name.
    pub package: String,
    /// The exact installed version string.
    pub version: String,
    /// The OS stream key (`rhel:8`).
    pub stream: String,
    /// Why the CVE does not apply.
    pub reason: String,
    /// Who decided.
    pub author: String,
    /// When it stops applying; `None` for never.
    pub expires_at: Option<OffsetDateTime>,
}

/// An exception as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CveException {
    /// Database id.
    pub id: ExceptionId,
    /// The CVE id.
    pub cve: String,
    /// The binary package name.
    pub package: String,
    /// The exact version.
    pub version: String,
    /// The stream key.
    pub stream: String,
    /// Why.
    pub reason: String,
    /// Who.
    pub author: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it stops applying.
    pub expires_at: Option<OffsetDateTime>,
}

impl CveException {
    /// Whether the exception is in force at `now`.
    #[must_use]
    pub fn active_at(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_none_or(|e| e > now)
    }
}

/// The second half of a changed report's ingest, written by
/// [`crate::Store::finish_reports`]: the answers for the package versions it was the first to
/// bring, the host's counts, and the report marked processed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinishReport {
    /// The report row.
    pub report: ReportId,
    /// Its host.
    pub host: HostId,
    /// When evaluation finished.
    pub processed_at: OffsetDateTime,
    /// The host's counts after this report.
    pub counts: HostCounts,
    /// The host's stream; `None` stores no findings.
    pub stream: Option<String>,
    /// Package versions evaluated for this report (sorted, distinct).
    pub evaluated: Vec<PackageVersionId>,
    /// What matched among `evaluated`.
    pub findings: Vec<PackageFinding>,
    /// The host's update counts from the repositories in force, when computed.
    pub updates: Option<HostUpdateCounts>,
    /// The feed generation of the index that computed `findings` and `counts`
    /// ([`crate::Store::feed_generation`]); `None` writes without checking.
    pub generation: Option<i64>,
    /// The host's CVE set after this report (what `counts` counts): its exposure history is
    /// brought to it in the same transaction; `None` leaves the history alone.
    pub exposures: Option<Vec<crate::ExposureNow>>,
}

/// A host's installed set, as counts are computed from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstalledSet {
    /// The host.
    pub host: HostId,
    /// Its stream, if known.
    pub stream: Option<String>,
    /// Its enabled module streams.
    pub modules: Vec<String>,
    /// Its package-version ids whose findings count, sorted: old kernels
    /// ([`Host::old_kernels`]) are left out.
    pub ids: Vec<PackageVersionId>,
    /// Its cached counts as stored (a refresh writes only those that change).
    pub counts: HostCounts,
}

// ---- fleet ----

/// A host as the in-memory fleet index needs it: identity, scope keys and installed set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetHost {
    /// Database id.
    pub id: HostId,
    /// Hostname.
    pub hostname: String,
    /// Host group.
    pub group: Option<String>,
    /// DNS domain.
    pub domain: Option<String>,
    /// Reported OS name.
    pub os_name: String,
    /// Stream key.
    pub stream: Option<String>,
    /// Architecture.
    pub arch: String,
    /// Enabled module streams.
    pub modules: Vec<String>,
    /// Installed package versions, sorted.
    pub package_ids: Vec<PackageVersionId>,
    /// Those of them that are old kernels ([`Host::old_kernels`]), sorted: their findings do
    /// not count.
    pub old_kernels: Vec<PackageVersionId>,
}

/// A stored finding with the stream it was evaluated for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamFinding {
    /// The stream key.
    pub stream: String,
    /// The finding.
    pub finding: PackageFinding,
}

/// One row of a host's report history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportSummary {
    /// Report id.
    pub id: ReportId,
    /// When it arrived.
    pub received_at: OffsetDateTime,
    /// When it was evaluated.
    pub processed_at: Option<OffsetDateTime>,
    /// Installed packages it listed.
    pub pkg_count: i64,
    /// Whether the package list changed.
    pub changed: bool,
    /// Whether it came through a proxy.
    pub via_proxy: bool,
    /// The proxy's name.
    pub proxy_name: Option<String>,
    /// The host's CVE count after evaluating it.
    pub cve_count: Option<i64>,
    /// Lines of it that could not be read.
    pub problem_count: i64,
}

/// Fleet exposure on one day (from evaluated reports).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExposureDay {
    /// The day (UTC).
    pub day: time::Date,
    /// Hosts that reported that day.
    pub hosts: i64,
    /// Of those, hosts with at least one CVE.
    pub vulnerable_hosts: i64,
    /// Sum over those hosts of their highest CVE count that day.
    pub cves: i64,
}

/// Cached per-host update counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostUpdateCounts {
    /// Updates bringing a security fix.
    pub security: i64,
    /// Other updates.
    pub other: i64,
}
