//! Per-report package lists (`report_packages`): the installed set of each of a host's newest
//! changed reports, kept for exact report diffs.

use crate::codec::decode_ids;
use crate::db::on;
use crate::error::StoreError;
use crate::model::{HostId, ReportId};
use crate::store::Store;

impl Store {
    /// Keeps the package lists of the newest `keep` changed reports of each host, deletes the
    /// rest; returns how many were deleted.
    pub async fn prune_report_packages(&self, keep: i64) -> Result<u64, StoreError> {
        Ok(on!(&self.write, p => sqlx::query(
            "DELETE FROM report_packages WHERE report_id IN (SELECT report_id FROM (\
             SELECT report_id, ROW_NUMBER() OVER (PARTITION BY host_id ORDER BY report_id DESC) AS n \
             FROM report_packages) x WHERE x.n > $1)",
        )
        .bind(keep.max(1))
        .execute(p).await.map(|r| r.rows_affected()))?)
    }

    /// The package-version ids installed at report `report` of `host` (the list of the last
    /// changed report up to it); `None` when that report is not the host's or its list is no
    /// longer kept.
    pub async fn report_package_ids(
        &self,
        host: HostId,
        report: ReportId,
    ) -> Result<Option<Vec<i64>>, StoreError> {
        let mut tx = self.begin_read().await?;
        let exists: Option<(i64,)> = on!(&mut tx, t => sqlx::query_as(
            "SELECT id FROM reports WHERE id = $1 AND host_id = $2")
            .bind(report)
            .bind(host)
            .fetch_optional(&mut **t).await)?;
        if exists.is_none() {
            tx.commit().await?;
            return Ok(None);
        }
        // The list in force at `report`: its own, else the last changed report's before it —
        // unless a changed report in between lost its list (then it is not known).
        let row: Option<(i64, Vec<u8>)> = on!(&mut tx, t => sqlx::query_as(
            "SELECT rp.report_id, rp.ids FROM report_packages rp WHERE rp.host_id = $1 \
             AND rp.report_id <= $2 ORDER BY rp.report_id DESC LIMIT 1")
            .bind(host)
            .bind(report)
            .fetch_optional(&mut **t).await)?;
        let Some((from, blob)) = row else {
            tx.commit().await?;
            return Ok(None);
        };
        let (gap,): (i64,) = on!(&mut tx, t => sqlx::query_as(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM reports WHERE host_id = $1 AND changed \
             AND id > $2 AND id <= $3")
            .bind(host)
            .bind(from)
            .bind(report)
            .fetch_one(&mut **t).await)?;
        tx.commit().await?;
        if gap > 0 {
            return Ok(None);
        }
        let mut ids = decode_ids(&blob)?;
        ids.sort_unstable();
        ids.dedup();
        Ok(Some(ids))
    }
}
