//! What the in-memory fleet index and the statistics pages read: every host, finding and
//! package version, the exposure history.

use crate::cache::package_cache_key;
use crate::db::{Dialect, on};
use crate::error::StoreError;
use crate::findings::{FINDING_TOKEN, parse_findings};
use crate::hosts::push_scope;
use crate::model::{ExposureDay, FleetHost, HostScope, PackageVersionId, StreamFinding};
use crate::shared::{FleetHostRow, PackageRow, from_ts, ts};
use crate::store::Store;
use pakiti_core::package::InstalledPackage;
use sqlx::QueryBuilder;
use time::OffsetDateTime;

/// A host of [`Store::fleet_hosts_packed`]: its package list is decoded by
/// [`PackedFleetHost::unpack`].
pub struct PackedFleetHost(FleetHostRow);

impl PackedFleetHost {
    /// The host with its package list decoded.
    ///
    /// # Errors
    /// The stored list or the old-kernel list cannot be read.
    pub fn unpack(self) -> Result<FleetHost, StoreError> {
        self.0.into_host()
    }
}

/// Findings in one aggregated row of [`Store::fleet_findings`] at most (~1 MB of text).
const FINDINGS_PER_READ: usize = 50_000;

/// Package versions in one aggregated row of [`Store::fleet_packages`] at most.
const PACKAGES_PER_READ: usize = 20_000;

impl Store {
    /// Every host with its scope keys and installed package versions (what the in-memory fleet
    /// index is built from), by id.
    pub async fn fleet_hosts(&self) -> Result<Vec<FleetHost>, StoreError> {
        self.fleet_hosts_packed()
            .await?
            .into_iter()
            .map(PackedFleetHost::unpack)
            .collect()
    }

    /// [`Store::fleet_hosts`] with each package list still encoded (~2 bytes per package
    /// instead of 8): the fleet index unpacks one host at a time, so that a rebuild at 50,000
    /// hosts does not hold every host's decoded list at once (issue 17).
    pub async fn fleet_hosts_packed(&self) -> Result<Vec<PackedFleetHost>, StoreError> {
        let mut tx = self.begin_read().await?;
        let rows: Vec<FleetHostRow> = on!(&mut tx, t => sqlx::query_as(
            "SELECT h.id, h.hostname, g.name AS group_name, h.domain, h.os_name, h.stream, \
             h.arch, h.modules, h.old_kernels, \
             hp.ids FROM hosts h LEFT JOIN host_groups g ON g.id = h.group_id \
             LEFT JOIN host_packages hp ON hp.host_id = h.id WHERE h.retired_at IS NULL ORDER BY h.id",
        )
        .fetch_all(&mut **t).await)?;
        tx.commit().await?;
        Ok(rows.into_iter().map(PackedFleetHost).collect())
    }

    /// Every stored finding with its stream, from enabled feeds, by stream, package version,
    /// advisory and entry.
    ///
    /// Read stream by stream, 50,000 findings a statement, each page one text
    /// row of `pv:advisory:entry` tokens aggregated by the database: sqlx hands SQLite rows
    /// over one by one (~3 µs each), and the findings are the fleet index build's biggest read
    /// (issue 17: 94,000 rows took 0.3–0.4 s of a 5,000-host build, row by row).
    pub async fn fleet_findings(&self) -> Result<Vec<StreamFinding>, StoreError> {
        let mut tx = self.begin_read().await?;
        // The distinct streams, one index probe each (a loose index scan).
        let streams: Vec<(String,)> = on!(&mut tx, t => sqlx::query_as(
            "WITH RECURSIVE s(x) AS (SELECT MIN(stream) FROM package_findings \
             UNION ALL SELECT (SELECT MIN(stream) FROM package_findings WHERE stream > s.x) \
             FROM s WHERE s.x IS NOT NULL) SELECT x FROM s WHERE x IS NOT NULL",
        )
        .fetch_all(&mut **t).await)?;
        let sql = on!(&tx, _t => format!(
            "SELECT {}package_version_id, advisory_id, affected_idx) FROM (SELECT \
             package_version_id, advisory_id, affected_idx, {FINDING_TOKEN} AS t \
             FROM package_findings WHERE stream = $1 \
             AND (package_version_id, advisory_id, affected_idx) > ($2, $3, $4) \
             AND advisory_id IN (SELECT a.id FROM advisories a JOIN feeds f \
             ON f.id = a.feed_id WHERE f.enabled) \
             ORDER BY package_version_id, advisory_id, affected_idx \
             LIMIT {FINDINGS_PER_READ}) p",
            <DB as Dialect>::TOKEN_AGG_OPEN
        ));
        let mut out = Vec::new();
        for (stream,) in streams {
            let mut after = (i64::MIN, i64::MIN, i64::MIN);
            loop {
                let (tokens,): (Option<String>,) = on!(&mut tx, t => sqlx::query_as(&sql)
                    .bind(&stream)
                    .bind(after.0)
                    .bind(after.1)
                    .bind(after.2)
                    .fetch_one(&mut **t).await)?;
                let page = parse_findings(tokens.as_deref().unwrap_or_default())?;
                let Some(last) = page.last() else {
                    break;
                };
                after = (last.package_version_id, last.advisory_id, last.affected_idx);
                let n = page.len();
                out.extend(page.into_iter().map(|finding| StreamFinding {
                    stream: stream.clone(),
                    finding,
                }));
                if n < FINDINGS_PER_READ {
                    break;
                }
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Every interned package version, by id: 20,000 a statement, each page
    /// one JSON text row (as [`Store::fleet_findings`], for the same reason).
    pub async fn fleet_packages(
        &self,
    ) -> Result<Vec<(PackageVersionId, InstalledPackage)>, StoreError> {
        let mut tx = self.begin_read().await?;
        let sql = on!(&tx, _t => format!(
            "SELECT {} FROM (SELECT id, name, version, arch, source FROM package_versions \
             WHERE id > $1 ORDER BY id LIMIT {PACKAGES_PER_READ}) p",
            DB::json_rows_agg("id, name, version, arch, source", "id")
        ));
        let mut out = Vec::new();
        let mut after = i64::MIN;
        loop {
            let (json,): (Option<String>,) = on!(&mut tx, t => sqlx::query_as(&sql)
                .bind(after)
                .fetch_one(&mut **t).await)?;
            let Some(json) = json else {
                break;
            };
            let page: Vec<(i64, String, String, String, String)> = serde_json::from_str(&json)
                .map_err(|e| StoreError::corrupt("package version list", e.to_string()))?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.0;
            let n = page.len();
            // The report path's cache of interned ids gets them too: a server that just
            // started then saves its first reports without interning every version again in
            // SQL (issue 17: "right after a restart" as cheap as warm). Committed rows,
            // never deleted: the cache may hold them for good.
            self.caches
                .warm_packages(page.iter().map(|(id, name, version, arch, source)| {
                    let key = (
                        name.as_str(),
                        version.as_str(),
                        arch.as_str(),
                        source.as_str(),
                    );
                    (package_cache_key(&key), *id)
                }));
            out.extend(page.into_iter().map(|(id, name, version, arch, source)| {
                PackageRow {
                    id,
                    name,
                    version,
                    arch,
                    source,
                }
                .into_package()
            }));
            if n < PACKAGES_PER_READ {
                break;
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Fleet exposure per day since `since`, from evaluated reports of the hosts `scope` allows.
    pub async fn exposure_by_day(
        &self,
        since: OffsetDateTime,
        scope: &HostScope,
    ) -> Result<Vec<ExposureDay>, StoreError> {
        let rows: Vec<(i64, i64, i64, i64)> = on!(&self.read, p => {
            let mut qb = QueryBuilder::<DB>::new(
            "SELECT day, CAST(COUNT(*) AS BIGINT), \
             CAST(SUM(CASE WHEN c > 0 THEN 1 ELSE 0 END) AS BIGINT), CAST(SUM(c) AS BIGINT) FROM (\
             SELECT r.received_at / 86400 AS day, r.host_id, MAX(r.cve_count) AS c \
             FROM reports r JOIN hosts h ON h.id = r.host_id \
             LEFT JOIN host_groups g ON g.id = h.group_id \
             WHERE r.cve_count IS NOT NULL AND r.received_at >= ",
        );
            qb.push_bind(ts(since));
            push_scope(&mut qb, scope);
            qb.push(" GROUP BY r.received_at / 86400, r.host_id) d GROUP BY day ORDER BY day");
            qb.build_query_as().fetch_all(p).await
        })?;
        rows.into_iter()
            .map(|(day, hosts, vulnerable_hosts, cves)| {
                Ok(ExposureDay {
                    day: from_ts(day * 86400)?.date(),
                    hosts,
                    vulnerable_hosts,
                    cves,
                })
            })
            .collect()
    }
}
