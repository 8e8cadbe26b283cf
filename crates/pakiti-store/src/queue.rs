//! The durable report queue: enqueue, claim with a lease, complete.

use crate::db::on;
use crate::error::StoreError;
use crate::model::{QueueId, QueuedReport};
use crate::shared::ts;
use crate::store::Store;
use time::{Duration, OffsetDateTime};
use tracing::instrument;

impl Store {
    /// Queues a received report for evaluation.
    pub async fn enqueue_report(
        &self,
        payload: &[u8],
        now: OffsetDateTime,
    ) -> Result<QueueId, StoreError> {
        let (id,): (i64,) = on!(&self.write, p => sqlx::query_as(
            "INSERT INTO report_queue (payload, enqueued_at) VALUES ($1, $2) RETURNING id",
        )
        .bind(payload)
        .bind(ts(now))
        .fetch_one(p).await)?;
        Ok(id)
    }

    /// Claims up to `n` reports (oldest first) that are unclaimed or whose lease ran out, for
    /// `lease`. Concurrent claimers, in one process or several, never get the same report
    /// while its lease runs.
    #[instrument(skip_all, fields(worker = %worker, n = n))]
    pub async fn claim_reports(
        &self,
        worker: &str,
        n: i64,
        lease: Duration,
        now: OffsetDateTime,
    ) -> Result<Vec<QueuedReport>, StoreError> {
        let mut rows: Vec<(i64, Vec<u8>, i64)> = on!(&self.write, p => sqlx::query_as(DB::CLAIM)
            .bind(worker)
            .bind(ts(now + lease))
            .bind(ts(now))
            .bind(n.max(0))
            .fetch_all(p).await)?;
        rows.sort_unstable_by_key(|r| r.0);
        Ok(rows
            .into_iter()
            .map(|(id, payload, attempts)| QueuedReport {
                id,
                payload,
                attempts,
            })
            .collect())
    }

    /// Removes a processed report from the queue; `false` if it was already gone.
    pub async fn complete_report(&self, id: QueueId) -> Result<bool, StoreError> {
        Ok(
            on!(&self.write, p => sqlx::query("DELETE FROM report_queue WHERE id = $1")
            .bind(id)
            .execute(p).await.map(|r| r.rows_affected()))?
                > 0,
        )
    }

    /// Reports in the queue, claimed or not.
    pub async fn queue_len(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = on!(&self.read, p => sqlx::query_as("SELECT COUNT(*) FROM report_queue")
            .fetch_one(p).await)?;
        Ok(n)
    }
}
