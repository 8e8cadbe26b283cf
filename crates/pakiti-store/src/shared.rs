//! Backend-independent logic: value encodings, row conversions and the replace plan.
//!
//! Both backends store the same columns with the same encodings, so the conversions between
//! rows and domain values live here once; the backends only differ in SQL.

use std::collections::{BTreeSet, HashMap};

use pakiti_core::advisory::{Advisory, Affected, PackageKind, Severity, Status};
use pakiti_core::package::InstalledPackage;
use pakiti_core::stream::OsStream;
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::model::{
    AdvisoryDbId, Feed, FeedContent, FeedRun, Host, HostCounts, HostFacts, StreamPackage,
    SyncRecord, SyncStatus,
};

/// Timestamps are stored as Unix seconds (`BIGINT`) on both engines: one representation,
/// trivially comparable, no time-zone handling in SQL.
pub(crate) fn ts(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

pub(crate) fn from_ts(secs: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp(secs)
        .map_err(|e| StoreError::corrupt("timestamp", e.to_string()))
}

/// Lists of short strings (arches, references) are stored newline-joined; `NULL` is the empty
/// list so that `[""]` and `[]` stay distinct.
pub(crate) fn join_list(what: &str, items: &[String]) -> Result<Option<String>, StoreError> {
    if items.is_empty() {
        return Ok(None);
    }
    if let Some(bad) = items.iter().find(|s| s.contains('\n')) {
        return Err(StoreError::Invalid(format!(
            "{what} contains a newline: {bad:?}"
        )));
    }
    Ok(Some(items.join("\n")))
}

pub(crate) fn split_list(s: Option<&str>) -> Vec<String> {
    s.map(|s| s.split('\n').map(str::to_owned).collect())
        .unwrap_or_default()
}

pub(crate) fn kind_word(k: PackageKind) -> &'static str {
    match k {
        PackageKind::Binary => "binary",
        PackageKind::Source => "source",
    }
}

pub(crate) fn severity_from_word(s: &str) -> Result<Severity, StoreError> {
    match s {
        "unknown" => Ok(Severity::Unknown),
        "low" => Ok(Severity::Low),
        "medium" => Ok(Severity::Medium),
        "high" => Ok(Severity::High),
        "critical" => Ok(Severity::Critical),
        other => Err(StoreError::corrupt("severity", other)),
    }
}

fn status_from(word: &str, fixed: Option<String>) -> Result<Status, StoreError> {
    Ok(match (word, fixed) {
        ("fixed", Some(v)) => Status::Fixed(v),
        ("unfixed", None) => Status::Unfixed,
        ("will-not-fix", None) => Status::WillNotFix,
        ("not-affected", None) => Status::NotAffected,
        ("end-of-life", None) => Status::EndOfLife,
        ("ignored", None) => Status::Ignored,
        (w, f) => return Err(StoreError::corrupt("status", format!("{w} / {f:?}"))),
    })
}

/// FNV-1a over a length-prefixed canonical form: detects a changed advisory without comparing
/// it field by field against the database. Stored as `BIGINT`, hence the cast.
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn bytes(&mut self, b: &[u8]) {
        for &x in (b.len() as u64).to_le_bytes().iter().chain(b) {
            self.0 ^= u64::from(x);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn opt(&mut self, s: Option<&str>) {
        match s {
            None => self.bytes(&[0]),
            Some(s) => {
                self.bytes(&[1]);
                self.str(s);
            }
        }
    }
}

pub(crate) fn advisory_digest(a: &Advisory) -> i64 {
    let mut h = Fnv::new();
    h.str(&a.id);
    h.str(&a.source);
    h.str(&a.title);
    h.str(a.severity.as_str());
    h.bytes(&(a.cves.len() as u64).to_le_bytes());
    a.cves.iter().for_each(|c| h.str(c));
    h.bytes(&(a.references.len() as u64).to_le_bytes());
    a.references.iter().for_each(|r| h.str(r));
    h.opt(a.issued.as_deref());
    h.opt(a.updated.as_deref());
    h.bytes(&(a.affected.len() as u64).to_le_bytes());
    for e in &a.affected {
        h.str(&e.stream.to_string());
        h.str(&e.package);
        h.str(kind_word(e.kind));
        h.bytes(&(e.arches.len() as u64).to_le_bytes());
        e.arches.iter().for_each(|x| h.str(x));
        h.opt(e.module.as_deref());
        h.opt(e.introduced.as_deref());
        // Hashed only when present, so that advisories without it keep their digests.
        if let Some(last) = &e.last_affected {
            h.str("last_affected");
            h.str(last);
        }
        h.str(e.status.kind());
        h.opt(e.status.fixed_version());
    }
    i64::from_ne_bytes(h.0.to_ne_bytes())
}

/// An advisory row ready to insert.
pub(crate) struct AdvisoryRow<'a> {
    pub(crate) vendor_id: &'a str,
    pub(crate) dup: i64,
    pub(crate) source: &'a str,
    pub(crate) title: &'a str,
    pub(crate) severity: &'static str,
    pub(crate) issued: Option<&'a str>,
    pub(crate) updated: Option<&'a str>,
    pub(crate) refs: Option<String>,
    pub(crate) digest: i64,
}

/// An affected row ready to insert (the advisory id is filled in by the backend).
pub(crate) struct AffectedRow<'a> {
    pub(crate) idx: i64,
    pub(crate) stream: String,
    pub(crate) package: &'a str,
    pub(crate) kind: &'static str,
    pub(crate) arches: Option<String>,
    pub(crate) module: Option<&'a str>,
    pub(crate) introduced: Option<&'a str>,
    pub(crate) last_affected: Option<&'a str>,
    pub(crate) status: &'static str,
    pub(crate) fixed_version: Option<&'a str>,
}

pub(crate) fn advisory_row(a: &Advisory, dup: i64) -> Result<AdvisoryRow<'_>, StoreError> {
    Ok(AdvisoryRow {
        vendor_id: &a.id,
        dup,
        source: &a.source,
        title: &a.title,
        severity: a.severity.as_str(),
        issued: a.issued.as_deref(),
        updated: a.updated.as_deref(),
        refs: join_list("reference", &a.references)?,
        digest: advisory_digest(a),
    })
}

pub(crate) fn affected_rows(a: &Advisory) -> Result<Vec<AffectedRow<'_>>, StoreError> {
    a.affected
        .iter()
        .enumerate()
        .map(|(i, e)| {
            Ok(AffectedRow {
                idx: i64::try_from(i)
                    .map_err(|_| StoreError::Invalid("too many entries".into()))?,
                stream: e.stream.to_string(),
                package: &e.package,
                kind: kind_word(e.kind),
                arches: join_list("arch", &e.arches)?,
                module: e.module.as_deref(),
                introduced: e.introduced.as_deref(),
                last_affected: e.last_affected.as_deref(),
                status: e.status.kind(),
                fixed_version: e.status.fixed_version(),
            })
        })
        .collect()
}

/// The keys an advisory's entries touch.
pub(crate) fn advisory_keys(a: &Advisory, out: &mut BTreeSet<StreamPackage>) {
    for e in &a.affected {
        out.insert(StreamPackage {
            stream: e.stream.to_string(),
            package: e.package.clone(),
        });
    }
}

/// An existing advisory of a feed, as the replace plan needs it.
pub(crate) struct ExistingAdvisory {
    pub(crate) id: AdvisoryDbId,
    pub(crate) vendor_id: String,
    pub(crate) dup: i64,
    pub(crate) digest: i64,
}

/// What replacing a feed's advisories must do.
pub(crate) struct ReplacePlan<'a> {
    /// New advisories with their `dup` number (0 for the first advisory with a vendor id, 1 for
    /// a second one in the same feed, ...): vendor ids are not always unique within a feed.
    pub(crate) insert: Vec<(&'a Advisory, i64)>,
    /// Changed advisories: (existing id, new value, dup).
    pub(crate) update: Vec<(AdvisoryDbId, &'a Advisory, i64)>,
    /// Advisories that disappeared.
    pub(crate) remove: Vec<AdvisoryDbId>,
}

pub(crate) fn plan_replace<'a>(
    existing: &[ExistingAdvisory],
    new: &'a [Advisory],
) -> ReplacePlan<'a> {
    let mut by_key: HashMap<(&str, i64), &ExistingAdvisory> = existing
        .iter()
        .map(|e| ((e.vendor_id.as_str(), e.dup), e))
        .collect();
    let mut seen: HashMap<&str, i64> = HashMap::new();
    let mut plan = ReplacePlan {
        insert: Vec::new(),
        update: Vec::new(),
        remove: Vec::new(),
    };
    for a in new {
        let dup = seen.entry(a.id.as_str()).or_insert(0);
        let this = *dup;
        *dup += 1;
        match by_key.remove(&(a.id.as_str(), this)) {
            None => plan.insert.push((a, this)),
            Some(old) if old.digest != advisory_digest(a) => plan.update.push((old.id, a, this)),
            Some(_) => {}
        }
    }
    plan.remove = by_key.values().map(|e| e.id).collect();
    plan.remove.sort_unstable();
    plan
}

#[derive(sqlx::FromRow)]
pub(crate) struct FeedRow {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) kind: String,
    pub(crate) url: String,
    pub(crate) stream: Option<String>,
    pub(crate) enabled: bool,
    pub(crate) interval_secs: i64,
    pub(crate) created_at: i64,
    pub(crate) last_sync_at: Option<i64>,
    pub(crate) last_status: Option<String>,
    pub(crate) last_error: Option<String>,
    pub(crate) last_duration_ms: Option<i64>,
    pub(crate) advisory_count: i64,
    pub(crate) affected_count: i64,
    pub(crate) etag: Option<String>,
    pub(crate) last_modified: Option<String>,
    pub(crate) checksum: Option<String>,
    pub(crate) content_kind: Option<String>,
    pub(crate) content_key: Option<String>,
    pub(crate) last_source: Option<String>,
}

pub(crate) const FEED_COLUMNS: &str = "id, name, kind, url, stream, enabled, interval_secs, \
    created_at, last_sync_at, last_status, last_error, last_duration_ms, advisory_count, \
    affected_count, etag, last_modified, checksum, content_kind, content_key, last_source";

impl FeedRow {
    pub(crate) fn into_feed(self) -> Result<Feed, StoreError> {
        let last_sync = match (self.last_sync_at, self.last_status) {
            (Some(at), Some(status)) => Some(SyncRecord {
                at: from_ts(at)?,
                status: SyncStatus::from_word(&status)
                    .ok_or_else(|| StoreError::corrupt("sync status", status))?,
                error: self.last_error,
                duration_ms: self.last_duration_ms.unwrap_or(0),
                etag: self.etag,
                last_modified: self.last_modified,
                checksum: self.checksum,
            }),
            _ => None,
        };
        Ok(Feed {
            id: self.id,
            name: self.name,
            kind: self.kind,
            url: self.url,
            stream: self.stream,
            enabled: self.enabled,
            interval_secs: self.interval_secs,
            created_at: from_ts(self.created_at)?,
            last_sync,
            advisory_count: self.advisory_count,
            affected_count: self.affected_count,
            content: match (self.content_kind, self.content_key) {
                (Some(kind), Some(key)) => Some(FeedContent {
                    kind,
                    key,
                    source: self.last_source.unwrap_or_default(),
                }),
                _ => None,
            },
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct FeedRunRow {
    pub(crate) started_at: i64,
    pub(crate) status: String,
    pub(crate) error: Option<String>,
    pub(crate) duration_ms: i64,
    pub(crate) advisory_count: i64,
    pub(crate) affected_count: i64,
    pub(crate) changed_keys: i64,
    pub(crate) etag: Option<String>,
    pub(crate) last_modified: Option<String>,
    pub(crate) checksum: Option<String>,
}

impl FeedRunRow {
    pub(crate) fn into_run(self) -> Result<FeedRun, StoreError> {
        Ok(FeedRun {
            record: SyncRecord {
                at: from_ts(self.started_at)?,
                status: SyncStatus::from_word(&self.status)
                    .ok_or_else(|| StoreError::corrupt("sync status", self.status.clone()))?,
                error: self.error,
                duration_ms: self.duration_ms,
                etag: self.etag,
                last_modified: self.last_modified,
                checksum: self.checksum,
            },
            advisory_count: self.advisory_count,
            affected_count: self.affected_count,
            changed_keys: self.changed_keys,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AdvisoryLoadRow {
    pub(crate) id: i64,
    pub(crate) feed_id: i64,
    pub(crate) vendor_id: String,
    pub(crate) source: String,
    pub(crate) title: String,
    pub(crate) severity: String,
    pub(crate) issued: Option<String>,
    pub(crate) updated: Option<String>,
    pub(crate) refs: Option<String>,
    pub(crate) digest: i64,
}

impl AdvisoryLoadRow {
    pub(crate) fn into_advisory(self) -> Result<(i64, i64, i64, Advisory), StoreError> {
        Ok((
            self.id,
            self.feed_id,
            self.digest,
            Advisory {
                id: self.vendor_id,
                source: self.source,
                title: self.title,
                severity: severity_from_word(&self.severity)?,
                cves: Vec::new(),
                references: split_list(self.refs.as_deref()),
                issued: self.issued,
                updated: self.updated,
                affected: Vec::new(),
            },
        ))
    }
}

/// An affected entry as the advisory load reads it: one JSON array of these fields, in this
/// order (serde reads a struct from a sequence by field position).
#[derive(serde::Deserialize)]
pub(crate) struct AffectedLoadRow {
    pub(crate) stream: String,
    pub(crate) package: String,
    pub(crate) kind: String,
    pub(crate) arches: Option<String>,
    pub(crate) module: Option<String>,
    pub(crate) introduced: Option<String>,
    pub(crate) last_affected: Option<String>,
    pub(crate) status: String,
    pub(crate) fixed_version: Option<String>,
}

impl AffectedLoadRow {
    pub(crate) fn into_affected(self) -> Result<Affected, StoreError> {
        let stream: OsStream = self
            .stream
            .parse()
            .map_err(|_| StoreError::corrupt("stream", self.stream.clone()))?;
        let kind = match self.kind.as_str() {
            "binary" => PackageKind::Binary,
            "source" => PackageKind::Source,
            other => return Err(StoreError::corrupt("package kind", other)),
        };
        Ok(Affected {
            stream,
            package: self.package,
            kind,
            arches: split_list(self.arches.as_deref()),
            module: self.module,
            introduced: self.introduced,
            last_affected: self.last_affected,
            status: status_from(&self.status, self.fixed_version)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PackageRow {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) arch: String,
    pub(crate) source: String,
}

impl PackageRow {
    pub(crate) fn into_package(self) -> (i64, InstalledPackage) {
        (
            self.id,
            InstalledPackage {
                name: self.name,
                version: self.version,
                arch: self.arch,
                source: (!self.source.is_empty()).then_some(self.source),
            },
        )
    }
}

/// The interning key of a package: `source` is stored as `''` when absent so that the unique
/// constraint holds (NULLs are distinct in unique indexes on both engines).
pub(crate) fn package_key(p: &InstalledPackage) -> (&str, &str, &str, &str) {
    (
        p.name.as_str(),
        p.version.as_str(),
        p.arch.as_str(),
        p.source.as_deref().unwrap_or(""),
    )
}

pub(crate) const HOST_COLUMNS: &str = "h.id, h.hostname, h.client_id, g.name AS group_name, \
    h.domain, h.os_name, h.stream, h.arch, h.kernel, h.tag, h.packager, h.reboot_needed, h.modules, h.module_streams, \
    h.first_seen, h.last_report_at, h.last_report_hash, h.pkg_count, h.cve_count, \
    h.critical_count, h.high_count, h.medium_count, h.low_count, h.unknown_count, \
    h.tagged_count, h.vulnerable_pkg_count, h.security_updates, h.other_updates, h.old_kernels, h.pending_report, \
    h.report_problem_count, h.report_problems";

#[derive(sqlx::FromRow)]
pub(crate) struct HostRow {
    pub(crate) id: i64,
    pub(crate) hostname: String,
    pub(crate) client_id: Option<String>,
    pub(crate) group_name: Option<String>,
    pub(crate) domain: Option<String>,
    pub(crate) os_name: String,
    pub(crate) stream: Option<String>,
    pub(crate) arch: String,
    pub(crate) kernel: String,
    pub(crate) tag: Option<String>,
    pub(crate) packager: String,
    pub(crate) reboot_needed: bool,
    pub(crate) modules: String,
    pub(crate) module_streams: String,
    pub(crate) first_seen: i64,
    pub(crate) last_report_at: i64,
    pub(crate) last_report_hash: Option<String>,
    pub(crate) pkg_count: i64,
    pub(crate) cve_count: i64,
    pub(crate) critical_count: i64,
    pub(crate) high_count: i64,
    pub(crate) medium_count: i64,
    pub(crate) low_count: i64,
    pub(crate) unknown_count: i64,
    pub(crate) tagged_count: i64,
    pub(crate) vulnerable_pkg_count: i64,
    pub(crate) security_updates: i64,
    pub(crate) other_updates: i64,
    pub(crate) old_kernels: String,
    pub(crate) pending_report: Option<i64>,
    pub(crate) report_problem_count: i64,
    pub(crate) report_problems: Option<String>,
}

/// Reads the `hosts.old_kernels` list (space-separated package-version ids), sorted.
pub(crate) fn old_kernel_ids(text: &str) -> Result<Vec<i64>, StoreError> {
    let mut ids = text
        .split_whitespace()
        .map(|w| {
            w.parse::<i64>()
                .map_err(|_| StoreError::corrupt("hosts.old_kernels", w.to_owned()))
        })
        .collect::<Result<Vec<i64>, StoreError>>()?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// `ids` without the (sorted) `old` ones.
pub(crate) fn without_old_kernels(mut ids: Vec<i64>, old: &[i64]) -> Vec<i64> {
    if !old.is_empty() {
        ids.retain(|id| old.binary_search(id).is_err());
    }
    ids
}

/// `hosts.old_kernels`: the package version ids (sorted, space-separated) at the positions
/// `old` of a report whose packages got `package_ids`.
pub(crate) fn old_kernels_text(old: &[usize], package_ids: &[i64]) -> String {
    let mut out: Vec<i64> = old
        .iter()
        .filter_map(|&i| package_ids.get(i).copied())
        .collect();
    out.sort_unstable();
    out.dedup();
    out.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

impl HostRow {
    pub(crate) fn into_host(self) -> Result<Host, StoreError> {
        let stream = match self.stream {
            None => None,
            Some(s) => Some(
                s.parse::<OsStream>()
                    .map_err(|_| StoreError::corrupt("host stream", s.clone()))?,
            ),
        };
        let old_kernels = old_kernel_ids(&self.old_kernels)?;
        Ok(Host {
            old_kernels,
            id: self.id,
            hostname: self.hostname,
            client_id: self.client_id,
            group: self.group_name.clone(),
            facts: HostFacts {
                domain: self.domain,
                group: self.group_name,
                os_name: self.os_name,
                stream,
                arch: self.arch,
                kernel: self.kernel,
                tag: self.tag,
                packager: self.packager,
                reboot_needed: self.reboot_needed,
                modules: self.modules.split_whitespace().map(str::to_owned).collect(),
                module_streams: crate::model::ModuleStreams::parse(&self.module_streams),
                problems: crate::problems::ReportProblems::decode(
                    self.report_problem_count,
                    self.report_problems.as_deref(),
                )?,
                // Positions in a report's package list: a stored host keeps their ids instead.
                old_kernels: Vec::new(),
            },
            first_seen: from_ts(self.first_seen)?,
            last_report_at: from_ts(self.last_report_at)?,
            last_report_hash: self.last_report_hash,
            evaluation_pending: self.pending_report.is_some(),
            pkg_count: self.pkg_count,
            counts: HostCounts {
                cves: self.cve_count,
                critical: self.critical_count,
                high: self.high_count,
                medium: self.medium_count,
                low: self.low_count,
                unknown: self.unknown_count,
                tagged: self.tagged_count,
                vulnerable_packages: self.vulnerable_pkg_count,
            },
            updates: crate::model::HostUpdateCounts {
                security: self.security_updates,
                other: self.other_updates,
            },
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct FindingRow {
    pub(crate) package_version_id: i64,
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) arch: String,
    pub(crate) source: String,
    pub(crate) advisory_id: i64,
    pub(crate) vendor_id: String,
    pub(crate) title: String,
    pub(crate) severity: String,
    pub(crate) affected_idx: i64,
    pub(crate) status: String,
    pub(crate) fixed_version: Option<String>,
    pub(crate) module: Option<String>,
}

pub(crate) const FINDING_SELECT: &str = "SELECT pf.package_version_id, pv.name, pv.version, \
    pv.arch, pv.source, pf.advisory_id, a.vendor_id, a.title, a.severity, pf.affected_idx, \
    af.status, af.fixed_version, af.module \
    FROM package_findings pf \
    JOIN package_versions pv ON pv.id = pf.package_version_id \
    JOIN advisories a ON a.id = pf.advisory_id \
    JOIN feeds f ON f.id = a.feed_id AND f.enabled \
    JOIN affected af ON af.advisory_id = pf.advisory_id AND af.idx = pf.affected_idx";

impl FindingRow {
    pub(crate) fn into_finding(
        self,
        cves: &HashMap<i64, Vec<String>>,
    ) -> Result<crate::model::HostFinding, StoreError> {
        let (package_version_id, package) = PackageRow {
            id: self.package_version_id,
            name: self.name,
            version: self.version,
            arch: self.arch,
            source: self.source,
        }
        .into_package();
        Ok(crate::model::HostFinding {
            package_version_id,
            package,
            advisory_id: self.advisory_id,
            vendor_id: self.vendor_id,
            title: self.title,
            severity: severity_from_word(&self.severity)?,
            cves: cves.get(&self.advisory_id).cloned().unwrap_or_default(),
            affected_idx: self.affected_idx,
            status: self.status,
            fixed_version: self.fixed_version,
            module: self.module,
        })
    }
}

/// The ORDER BY clause for a host listing; only fixed column names, never caller text.
/// The columns of `key` whose equal values make hosts tie in [`host_order`] (the hosts list
/// breaks such ties by risk).
pub(crate) fn host_order_primary(key: crate::model::HostSortKey) -> &'static [&'static str] {
    use crate::model::HostSortKey as K;
    match key {
        K::Hostname => &["h.hostname"],
        K::LastReport => &["h.last_report_at"],
        K::Cves => &["h.cve_count"],
        K::Critical => &["h.critical_count"],
        K::Packages => &["h.pkg_count"],
        K::High => &["h.high_count"],
        K::Tagged => &["h.tagged_count"],
        K::Group => &["g.name"],
        K::Os => &["h.os_name"],
        K::SecurityUpdates => &["h.security_updates", "h.other_updates"],
    }
}

pub(crate) fn host_order(sort: crate::model::HostSort) -> &'static str {
    use crate::model::HostSortKey as K;
    match (sort.key, sort.descending) {
        (K::Hostname, false) => "h.hostname ASC, h.id ASC",
        (K::Hostname, true) => "h.hostname DESC, h.id DESC",
        (K::LastReport, false) => "h.last_report_at ASC, h.id ASC",
        (K::LastReport, true) => "h.last_report_at DESC, h.id DESC",
        (K::Cves, false) => "h.cve_count ASC, h.id ASC",
        (K::Cves, true) => "h.cve_count DESC, h.id DESC",
        (K::Critical, false) => "h.critical_count ASC, h.id ASC",
        (K::Critical, true) => "h.critical_count DESC, h.id DESC",
        (K::Packages, false) => "h.pkg_count ASC, h.id ASC",
        (K::Packages, true) => "h.pkg_count DESC, h.id DESC",
        (K::High, false) => "h.high_count ASC, h.id ASC",
        (K::High, true) => "h.high_count DESC, h.id DESC",
        (K::Tagged, false) => "h.tagged_count ASC, h.id ASC",
        (K::Tagged, true) => "h.tagged_count DESC, h.id DESC",
        (K::Group, false) => "g.name ASC, h.hostname ASC, h.id ASC",
        (K::Group, true) => "g.name DESC, h.hostname DESC, h.id DESC",
        (K::Os, false) => "h.os_name ASC, h.hostname ASC, h.id ASC",
        (K::Os, true) => "h.os_name DESC, h.hostname DESC, h.id DESC",
        (K::SecurityUpdates, false) => "h.security_updates ASC, h.other_updates ASC, h.id ASC",
        (K::SecurityUpdates, true) => "h.security_updates DESC, h.other_updates DESC, h.id DESC",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_keep_empty_distinct() {
        assert_eq!(join_list("x", &[]).unwrap(), None);
        assert_eq!(
            join_list("x", &[String::new()]).unwrap(),
            Some(String::new())
        );
        assert_eq!(split_list(Some("")), vec![String::new()]);
        assert!(join_list("x", &["a\nb".into()]).is_err());
    }

    #[test]
    fn plan_numbers_duplicate_vendor_ids() {
        let a = Advisory {
            id: "X-1".into(),
            ..Advisory::default()
        };
        let b = Advisory {
            title: "second".into(),
            ..a.clone()
        };
        let new = vec![a.clone(), b.clone()];
        let existing = vec![ExistingAdvisory {
            id: 7,
            vendor_id: "X-1".into(),
            dup: 0,
            digest: advisory_digest(&a),
        }];
        let plan = plan_replace(&existing, &new);
        assert!(plan.update.is_empty());
        assert_eq!(plan.insert.len(), 1);
        assert_eq!(plan.insert[0].1, 1);
        assert!(plan.remove.is_empty());
        let only_b = [b];
        let plan = plan_replace(&existing, &only_b);
        assert_eq!(plan.update.len(), 1);
        assert_eq!(plan.update[0].0, 7);
    }
}

/// A `LIKE` pattern matching `s` anywhere, with `%`, `_` and `\\` escaped (use `ESCAPE '\\'`).
pub(crate) fn like_contains(s: &str) -> String {
    let mut pat = String::from("%");
    for c in s.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pat.push('\\');
        }
        pat.push(c);
    }
    pat.push('%');
    pat
}

/// A `LIKE` pattern matching hostnames in top-level domain `tld`.
pub(crate) fn like_tld(tld: &str) -> String {
    let mut pat = String::from("%.");
    for c in tld.trim_start_matches('.').to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pat.push('\\');
        }
        pat.push(c);
    }
    pat
}

#[derive(sqlx::FromRow)]
pub(crate) struct FleetHostRow {
    pub(crate) id: i64,
    pub(crate) hostname: String,
    pub(crate) group_name: Option<String>,
    pub(crate) domain: Option<String>,
    pub(crate) os_name: String,
    pub(crate) stream: Option<String>,
    pub(crate) arch: String,
    pub(crate) modules: String,
    pub(crate) ids: Option<Vec<u8>>,
    pub(crate) old_kernels: String,
}

impl FleetHostRow {
    pub(crate) fn into_host(self) -> Result<crate::model::FleetHost, StoreError> {
        let mut package_ids = match &self.ids {
            Some(b) => crate::codec::decode_ids(b)?,
            None => Vec::new(),
        };
        package_ids.sort_unstable();
        package_ids.dedup();
        Ok(crate::model::FleetHost {
            id: self.id,
            hostname: self.hostname,
            group: self.group_name,
            domain: self.domain,
            os_name: self.os_name,
            stream: self.stream,
            arch: self.arch,
            modules: self.modules.split_whitespace().map(str::to_owned).collect(),
            package_ids,
            old_kernels: old_kernel_ids(&self.old_kernels)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ReportSummaryRow {
    pub(crate) id: i64,
    pub(crate) received_at: i64,
    pub(crate) processed_at: Option<i64>,
    pub(crate) pkg_count: i64,
    pub(crate) changed: bool,
    pub(crate) via_proxy: bool,
    pub(crate) proxy_name: Option<String>,
    pub(crate) cve_count: Option<i64>,
    pub(crate) problem_count: i64,
}

impl ReportSummaryRow {
    pub(crate) fn into_summary(self) -> Result<crate::model::ReportSummary, StoreError> {
        Ok(crate::model::ReportSummary {
            id: self.id,
            received_at: from_ts(self.received_at)?,
            processed_at: self.processed_at.map(from_ts).transpose()?,
            pkg_count: self.pkg_count,
            changed: self.changed,
            via_proxy: self.via_proxy,
            proxy_name: self.proxy_name,
            cve_count: self.cve_count,
            problem_count: self.problem_count,
        })
    }
}
