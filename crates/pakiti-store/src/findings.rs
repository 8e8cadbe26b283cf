//! Findings: the matcher's answers per (stream, package version), a host's findings and
//! installed set, cached per-host counts.

use crate::codec::decode_ids;
use crate::db::{Conn, Db, Dialect, Tx, on};
use crate::error::StoreError;
use crate::model::{
    HostCounts, HostFinding, HostId, InstalledSet, PackageFinding, PackageVersionId, ReportId,
};
use crate::shared::{FINDING_SELECT, FindingRow, PackageRow, old_kernel_ids, without_old_kernels};
use crate::store::Store;
use crate::{postgres, sqlite};
use pakiti_core::package::InstalledPackage;
use std::collections::{BTreeSet, HashMap};
use tracing::instrument;

// ---- backend-specific helpers ----
/// Replaces the stored answer for `evaluated` package versions of `stream` inside `tx`.
pub(crate) async fn store_findings_in(
    tx: &mut Tx,
    stream: &str,
    evaluated: &[PackageVersionId],
    findings: &[PackageFinding],
) -> Result<(), StoreError> {
    on!(&mut *tx, t => sqlx::query(&format!(
        "DELETE FROM package_findings WHERE stream = $1 AND package_version_id {}",
        DB::in_list(2)
    ))
    .bind(stream)
    .bind(DB::ids(evaluated))
    .execute(&mut **t).await.map(|r| r.rows_affected()))?;
    on!(&mut *tx, t => sqlx::query(DB::INSERT_EVALUATED)
    .bind(stream)
    .bind(DB::ids(evaluated))
    .execute(&mut **t).await.map(|r| r.rows_affected()))?;
    if !findings.is_empty() {
        insert_findings(tx, stream, findings).await?;
    }
    Ok(())
}

/// Writes a host's cached counts; `false` when the host does not exist (or, with
/// `report`, when a report newer than that one awaits evaluation). With `report` (a report's
/// finish) the host's pending mark is cleared in the same statement, and with `updates` its
/// update counts are written too: one statement for the host's row.
pub(crate) async fn write_counts_in(
    tx: &mut Tx,
    host: HostId,
    c: &HostCounts,
    report: Option<ReportId>,
    updates: Option<&crate::HostUpdateCounts>,
) -> Result<bool, StoreError> {
    let n = on!(&mut *tx, t => sqlx::query(
        "UPDATE hosts SET cve_count = $2, critical_count = $3, high_count = $4, \
         medium_count = $5, low_count = $6, unknown_count = $7, tagged_count = $8, \
         vulnerable_pkg_count = $9, security_updates = COALESCE($11, security_updates), \
         other_updates = COALESCE($12, other_updates), \
         pending_report = CASE WHEN $10 IS NULL THEN pending_report END \
         WHERE id = $1 AND ($10 IS NULL OR pending_report IS NULL OR pending_report <= $10)",
    )
    .bind(host)
    .bind(c.cves)
    .bind(c.critical)
    .bind(c.high)
    .bind(c.medium)
    .bind(c.low)
    .bind(c.unknown)
    .bind(c.tagged)
    .bind(c.vulnerable_packages)
    .bind(report)
    .bind(updates.map(|u| u.security))
    .bind(updates.map(|u| u.other))
    .execute(&mut **t).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// The stored findings of `ids` for `stream`, by package version, advisory and entry: one
/// aggregated text row of [`FINDING_TOKEN`]s (sqlx hands SQLite rows over one by one, ~3 µs
/// each, and after a restart or a feed update the answers of tens of thousands of package
/// versions are read back: issue 17).
async fn package_findings_of(
    mut conn: Conn<'_>,
    stream: &str,
    ids: &[PackageVersionId],
) -> Result<Vec<PackageFinding>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let (tokens,): (Option<String>,) = on!(&mut conn, c => sqlx::query_as(&format!(
        "SELECT {}package_version_id, advisory_id, affected_idx) FROM (SELECT \
         package_version_id, advisory_id, affected_idx, {FINDING_TOKEN} AS t \
         FROM package_findings WHERE stream = $1 AND package_version_id {}) p",
        <DB as Dialect>::TOKEN_AGG_OPEN,
        DB::in_list(2)
    ))
    .bind(stream)
    .bind(DB::ids(ids))
    .fetch_one(&mut **c).await)?;
    parse_findings(tokens.as_deref().unwrap_or_default())
}

/// A finding as one text token, `package_version:advisory:entry` (columns of
/// `package_findings`), for the aggregated reads ([`parse_findings`]).
pub(crate) const FINDING_TOKEN: &str = "CAST(package_version_id AS TEXT) || ':' || \
     CAST(advisory_id AS TEXT) || ':' || CAST(affected_idx AS TEXT)";

/// The [`FINDING_TOKEN`]s of an aggregate, comma-separated, in order.
pub(crate) fn parse_findings(tokens: &str) -> Result<Vec<PackageFinding>, StoreError> {
    let bad = || StoreError::corrupt("finding list", "not package_version:advisory:entry");
    tokens
        .split(',')
        .filter(|t| !t.is_empty())
        .map(|t| {
            let mut it = t.split(':').map(str::parse::<i64>);
            match (it.next(), it.next(), it.next(), it.next()) {
                (Some(Ok(pv)), Some(Ok(adv)), Some(Ok(idx)), None) => Ok(PackageFinding {
                    package_version_id: pv,
                    advisory_id: adv,
                    affected_idx: idx,
                }),
                _ => Err(bad()),
            }
        })
        .collect()
}

/// A host's row as `installed_sets_of` reads it: id, stream, modules, id list, the stored
/// counts (CVEs, critical, high, medium, low, unknown, tagged, vulnerable packages), old kernels.
type InstalledSetRow = (
    i64,
    Option<String>,
    String,
    Vec<u8>,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    String,
);

/// Whose installed sets [`installed_sets_of`] reads.
enum SetsOf<'a> {
    All,
    Hosts(&'a [HostId]),
    Streams(&'a [String]),
}

async fn installed_sets_of(
    mut conn: Conn<'_>,
    which: SetsOf<'_>,
) -> Result<Vec<InstalledSet>, StoreError> {
    const SELECT: &str = "SELECT h.id, h.stream, h.modules, hp.ids, h.cve_count, \
         h.critical_count, h.high_count, h.medium_count, h.low_count, h.unknown_count, \
         h.tagged_count, h.vulnerable_pkg_count, h.old_kernels FROM hosts h \
         JOIN host_packages hp ON hp.host_id = h.id";
    let rows: Vec<InstalledSetRow> = match which {
        SetsOf::All => on!(&mut conn, c => sqlx::query_as(&format!("{SELECT} ORDER BY h.id"))
                .fetch_all(&mut **c).await)?,
        SetsOf::Hosts(h) => {
            on!(&mut conn, c => sqlx::query_as(&format!("{SELECT} WHERE h.id {} ORDER BY h.id", DB::in_list(1)))
                .bind(DB::ids(h))
                .fetch_all(&mut **c).await)?
        }
        SetsOf::Streams(s) => {
            on!(&mut conn, c => sqlx::query_as(&format!("{SELECT} WHERE h.stream {} ORDER BY h.id", DB::in_list(1)))
                .bind(DB::strs(s))
                .fetch_all(&mut **c).await)?
        }
    };
    rows.into_iter()
        .map(
            |(
                host,
                stream,
                modules,
                blob,
                cves,
                critical,
                high,
                medium,
                low,
                unknown,
                tagged,
                vulnerable,
                old,
            )| {
                let mut ids = decode_ids(&blob)?;
                ids.sort_unstable();
                ids.dedup();
                let ids = without_old_kernels(ids, &old_kernel_ids(&old)?);
                Ok(InstalledSet {
                    host,
                    stream,
                    modules: modules.split_whitespace().map(str::to_owned).collect(),
                    ids,
                    counts: HostCounts {
                        cves,
                        critical,
                        high,
                        medium,
                        low,
                        unknown,
                        tagged,
                        vulnerable_packages: vulnerable,
                    },
                })
            },
        )
        .collect()
}

async fn package_versions_of(
    mut conn: Conn<'_>,
    ids: &[PackageVersionId],
) -> Result<Vec<(PackageVersionId, InstalledPackage)>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<PackageRow> = on!(&mut conn, c => sqlx::query_as(&format!(
        "SELECT id, name, version, arch, source FROM package_versions WHERE id {} ORDER BY id",
        DB::in_list(1)
    ))
    .bind(DB::ids(ids))
    .fetch_all(&mut **c).await)?;
    Ok(rows.into_iter().map(PackageRow::into_package).collect())
}

impl Store {
    /// Stores the matcher's answer for `evaluated` package versions of `stream`, replacing any
    /// earlier answer for them. Findings naming advisories deleted in the meantime are dropped
    /// (their keys are stale and get re-evaluated).
    #[instrument(skip_all, fields(stream = %stream, evaluated = evaluated.len(), findings = findings.len()))]
    pub async fn store_package_findings(
        &self,
        stream: &str,
        evaluated: &[PackageVersionId],
        findings: &[PackageFinding],
    ) -> Result<(), StoreError> {
        if evaluated.is_empty() && findings.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        store_findings_in(&mut tx, stream, evaluated, findings).await?;
        tx.commit().await?;
        self.caches.add_evaluated(stream, evaluated.iter().copied());
        Ok(())
    }

    /// The host's findings (from enabled feeds), by package then advisory.
    pub async fn host_findings(&self, host: HostId) -> Result<Vec<HostFinding>, StoreError> {
        let mut tx = self.begin_read().await?;
        let row: Option<(Option<String>, Option<Vec<u8>>, String)> = on!(&mut tx, t => sqlx::query_as(
            "SELECT h.stream, hp.ids, h.old_kernels FROM hosts h \
             LEFT JOIN host_packages hp ON hp.host_id = h.id WHERE h.id = $1",
        )
        .bind(host)
        .fetch_optional(&mut **t).await)?;
        let (stream, blob, old) = row.ok_or_else(|| StoreError::not_found("host", host))?;
        let (Some(stream), Some(blob)) = (stream, blob) else {
            return Ok(Vec::new());
        };
        // Old kernels' findings are not the host's (see `Host::old_kernels`).
        let ids = without_old_kernels(decode_ids(&blob)?, &old_kernel_ids(&old)?);
        let rows: Vec<FindingRow> = on!(&mut tx, t => sqlx::query_as(&format!(
            "{FINDING_SELECT} WHERE pf.stream = $1 AND pf.package_version_id {} \
             ORDER BY pv.name, pv.version, pv.arch, pv.id, pf.advisory_id",
            DB::in_list(2)
        ))
        .bind(&stream)
        .bind(DB::ids(&ids))
        .fetch_all(&mut **t).await)?;
        let mut adv: Vec<i64> = rows.iter().map(|r| r.advisory_id).collect();
        adv.sort_unstable();
        adv.dedup();
        let mut cves: HashMap<i64, Vec<String>> = HashMap::new();
        if !adv.is_empty() {
            let cve_rows: Vec<(i64, String)> = on!(&mut tx, t => sqlx::query_as(&format!(
                "SELECT advisory_id, cve FROM advisory_cves WHERE advisory_id {} \
                 ORDER BY advisory_id, ord",
                DB::in_list(1)
            ))
            .bind(DB::ids(&adv))
            .fetch_all(&mut **t).await)?;
            for (a, c) in cve_rows {
                cves.entry(a).or_default().push(c);
            }
        }
        tx.commit().await?;
        rows.into_iter().map(|r| r.into_finding(&cves)).collect()
    }

    /// The stored findings of these package versions for `stream`, by package version.
    pub async fn package_findings(
        &self,
        stream: &str,
        ids: &[PackageVersionId],
    ) -> Result<Vec<PackageFinding>, StoreError> {
        let mut tx = self.begin_read().await?;
        let out = package_findings_of(tx.conn(), stream, ids).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// The installed sets of `hosts` (every host when `None`), by host id; hosts that never
    /// saved a report are absent.
    pub async fn installed_sets(
        &self,
        hosts: Option<&[HostId]>,
    ) -> Result<Vec<InstalledSet>, StoreError> {
        let mut tx = self.begin_read().await?;
        let which = hosts.map_or(SetsOf::All, SetsOf::Hosts);
        let out = installed_sets_of(tx.conn(), which).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// The installed sets of the hosts whose stream is one of `streams`, by host id: after a
    /// re-evaluation, the hosts that can have a re-matched package version (issue 17: a 1%
    /// feed update read and decoded every host's set, 0.57 s at 50,000 hosts).
    pub async fn installed_sets_of_streams(
        &self,
        streams: &[String],
    ) -> Result<Vec<InstalledSet>, StoreError> {
        if streams.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_read().await?;
        let out = installed_sets_of(tx.conn(), SetsOf::Streams(streams)).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Package versions by id (unknown ids are absent), by id.
    pub async fn package_versions(
        &self,
        ids: &[PackageVersionId],
    ) -> Result<Vec<(PackageVersionId, InstalledPackage)>, StoreError> {
        let mut tx = self.begin_read().await?;
        let out = package_versions_of(tx.conn(), ids).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Writes many hosts' cached counts in one transaction; hosts deleted meanwhile are
    /// skipped.
    #[instrument(skip_all, fields(hosts = counts.len()))]
    pub async fn update_hosts_counts(
        &self,
        counts: &[(HostId, HostCounts)],
    ) -> Result<(), StoreError> {
        if counts.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        for (host, c) in counts {
            write_counts_in(&mut tx, *host, c, None, None).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Hosts of `stream` that have any of `ids` installed (to refresh counts after a
    /// re-evaluation).
    pub async fn hosts_with_packages(
        &self,
        stream: &str,
        ids: &[PackageVersionId],
    ) -> Result<Vec<HostId>, StoreError> {
        let wanted: BTreeSet<i64> = ids.iter().copied().collect();
        let rows: Vec<(i64, Vec<u8>)> = on!(&self.read, p => sqlx::query_as(
            "SELECT h.id, hp.ids FROM hosts h JOIN host_packages hp ON hp.host_id = h.id \
             WHERE h.stream = $1 ORDER BY h.id",
        )
        .bind(stream)
        .fetch_all(p).await)?;
        let mut out = Vec::new();
        for (id, blob) in rows {
            if decode_ids(&blob)?.iter().any(|i| wanted.contains(i)) {
                out.push(id);
            }
        }
        Ok(out)
    }
}

/// Inserts `findings` of `stream` (their advisories still existing): one bulk statement per
/// engine.
async fn insert_findings(
    tx: &mut Tx,
    stream: &str,
    findings: &[PackageFinding],
) -> Result<(), StoreError> {
    match tx {
        Db::Sqlite(t) => sqlite::insert_findings(t, stream, findings).await,
        Db::Postgres(t) => postgres::insert_findings(t, stream, findings).await,
    }
}
