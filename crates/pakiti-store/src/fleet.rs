//! What the in-memory fleet index and the statistics pages read: every host, finding and
//! package version, the exposure history.

use crate::db::on;
use crate::error::StoreError;
use crate::hosts::push_scope;
use crate::model::{
    ExposureDay, FleetHost, HostScope, PackageFinding, PackageVersionId, StreamFinding,
};
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

    /// Every stored finding with its stream, from enabled feeds.
    pub async fn fleet_findings(&self) -> Result<Vec<StreamFinding>, StoreError> {
        let rows: Vec<(String, i64, i64, i64)> = on!(&self.read, p => sqlx::query_as(
            "SELECT pf.stream, pf.package_version_id, pf.advisory_id, pf.affected_idx \
             FROM package_findings pf JOIN advisories a ON a.id = pf.advisory_id \
             JOIN feeds f ON f.id = a.feed_id WHERE f.enabled",
        )
        .fetch_all(p).await)?;
        Ok(rows
            .into_iter()
            .map(|(stream, pv, adv, idx)| StreamFinding {
                stream,
                finding: PackageFinding {
                    package_version_id: pv,
                    advisory_id: adv,
                    affected_idx: idx,
                },
            })
            .collect())
    }

    /// Every interned package version, by id.
    pub async fn fleet_packages(
        &self,
    ) -> Result<Vec<(PackageVersionId, InstalledPackage)>, StoreError> {
        let rows: Vec<PackageRow> = on!(&self.read, p => sqlx::query_as(
            "SELECT id, name, version, arch, source FROM package_versions ORDER BY id",
        )
        .fetch_all(p).await)?;
        Ok(rows.into_iter().map(PackageRow::into_package).collect())
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
