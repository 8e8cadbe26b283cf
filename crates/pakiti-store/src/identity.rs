//! Host identity binding (issue 16 D17): the identity a host is bound to and the recorded
//! identity conflicts (bounded and paged like refused reports, through `journal`).

use crate::db::on;
use crate::error::StoreError;
use crate::journal::keep_newest;
use crate::shared::{from_ts, ts};
use crate::store::Store;
use time::OffsetDateTime;

/// An identity conflict's database id.
pub type IdentityConflictId = i64;

/// A report that arrived for a known host under another identity than the bound one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityConflict {
    /// Database id (newer rows have larger ids).
    pub id: IdentityConflictId,
    /// When the report arrived.
    pub received_at: OffsetDateTime,
    /// The host name the report gave.
    pub hostname: String,
    /// The host it was for.
    pub host_id: Option<i64>,
    /// The identity the host is bound to.
    pub expected: String,
    /// The identity the report came with.
    pub seen: String,
    /// The sender's address.
    pub peer: Option<String>,
    /// `stored` (policy warn), `held`, `accepted`, `rejected` or `superseded` (a newer report
    /// for the host was held).
    pub status: String,
    /// The held report (JSON wire format), while it is held.
    pub report: Option<String>,
}

/// A conflict to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewIdentityConflict {
    /// When the report arrived.
    pub received_at: OffsetDateTime,
    /// The host name the report gave.
    pub hostname: String,
    /// The host it was for.
    pub host_id: Option<i64>,
    /// The identity the host is bound to.
    pub expected: String,
    /// The identity the report came with.
    pub seen: String,
    /// The sender's address.
    pub peer: Option<String>,
    /// `stored` or `held`.
    pub status: String,
    /// The held report (JSON wire format).
    pub report: Option<String>,
}

pub(crate) const CONFLICT_COLUMNS: &str =
    "id, received_at, hostname, host_id, expected, seen, peer, status, report";

#[derive(sqlx::FromRow)]
pub(crate) struct ConflictRow {
    pub(crate) id: i64,
    pub(crate) received_at: i64,
    pub(crate) hostname: String,
    pub(crate) host_id: Option<i64>,
    pub(crate) expected: String,
    pub(crate) seen: String,
    pub(crate) peer: Option<String>,
    pub(crate) status: String,
    pub(crate) report: Option<String>,
}

impl ConflictRow {
    pub(crate) fn into_conflict(self) -> Result<IdentityConflict, StoreError> {
        Ok(IdentityConflict {
            id: self.id,
            received_at: from_ts(self.received_at)?,
            hostname: self.hostname,
            host_id: self.host_id,
            expected: self.expected,
            seen: self.seen,
            peer: self.peer,
            status: self.status,
            report: self.report,
        })
    }
}

impl Store {
    /// The identity `host` is bound to, if any.
    pub async fn host_bound_identity(&self, host: i64) -> Result<Option<String>, StoreError> {
        let row: Option<(Option<String>,)> = on!(&self.read, p => sqlx::query_as("SELECT bound_identity FROM hosts WHERE id = $1")
                .bind(host)
                .fetch_optional(p).await)?;
        Ok(row.and_then(|r| r.0))
    }

    /// Binds `host` to `identity` (`only_if_unbound`: only a host not bound yet); whether a
    /// row changed.
    pub async fn bind_host_identity(
        &self,
        host: i64,
        identity: &str,
        only_if_unbound: bool,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let sql = if only_if_unbound {
            "UPDATE hosts SET bound_identity = $2 WHERE id = $1 AND bound_identity IS NULL"
        } else {
            "UPDATE hosts SET bound_identity = $2 WHERE id = $1"
        };
        let done = on!(&mut tx, t => sqlx::query(sql)
            .bind(host)
            .bind(identity)
            .execute(&mut **t).await.map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(done > 0)
    }

    /// Records an identity conflict; a held one supersedes the host's older held report; all
    /// but the newest `keep` conflicts are dropped.
    pub async fn record_identity_conflict(
        &self,
        c: &NewIdentityConflict,
        keep: i64,
    ) -> Result<IdentityConflictId, StoreError> {
        let mut tx = self.begin().await?;
        let (id,): (i64,) = on!(&mut tx, t => sqlx::query_as(
            "INSERT INTO identity_conflicts (received_at, hostname, host_id, expected, seen, \
             peer, status, report) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(ts(c.received_at))
        .bind(&c.hostname)
        .bind(c.host_id)
        .bind(&c.expected)
        .bind(&c.seen)
        .bind(&c.peer)
        .bind(&c.status)
        .bind(&c.report)
        .fetch_one(&mut **t).await)?;
        // Bounded: one held report per host (the newest; older ones are superseded), and
        // the newest `keep` conflicts.
        if c.report.is_some() {
            on!(&mut tx, t => sqlx::query(
                "UPDATE identity_conflicts SET status = 'superseded', report = NULL \
                 WHERE host_id = $1 AND status = 'held' AND id < $2",
            )
            .bind(c.host_id)
            .bind(id)
            .execute(&mut **t).await.map(|r| r.rows_affected()))?;
        }
        keep_newest(&mut tx, "identity_conflicts", id, keep).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Identity conflicts, newest first (`offset`, `limit`), and how many are recorded.
    pub async fn identity_conflicts(
        &self,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<IdentityConflict>, i64), StoreError> {
        let (rows, total) = self
            .newest_page::<ConflictRow>("identity_conflicts", CONFLICT_COLUMNS, offset, limit)
            .await?;
        let items = rows
            .into_iter()
            .map(ConflictRow::into_conflict)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((items, total))
    }

    /// One identity conflict.
    pub async fn identity_conflict(
        &self,
        id: IdentityConflictId,
    ) -> Result<Option<IdentityConflict>, StoreError> {
        let row: Option<ConflictRow> = on!(&self.read, p => sqlx::query_as(&format!(
            "SELECT {} FROM identity_conflicts WHERE id = $1",
            CONFLICT_COLUMNS
        ))
        .bind(id)
        .fetch_optional(p).await)?;
        row.map(ConflictRow::into_conflict).transpose()
    }

    /// Marks a held conflict `status` (`accepted` / `rejected`) and drops its report; false
    /// when it was not held (already resolved or unknown).
    pub async fn resolve_identity_conflict(
        &self,
        id: IdentityConflictId,
        status: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let done = on!(&mut tx, t => sqlx::query(
            "UPDATE identity_conflicts SET status = $2, report = NULL \
             WHERE id = $1 AND status = 'held'",
        )
        .bind(id)
        .bind(status)
        .execute(&mut **t).await.map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(done > 0)
    }
}
