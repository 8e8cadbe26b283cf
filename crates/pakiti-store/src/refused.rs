//! Refused reports: the values, their row, and the statements.
//!
//! A refused report is recorded so that a site sees which hosts fail to report, not only which
//! are silent; the table keeps the newest `keep` rows (a setting), so a flood of bad reports
//! costs bounded space.

use crate::db::on;
use crate::error::StoreError;
use crate::journal::keep_newest;
use crate::shared::{from_ts, ts};
use crate::store::Store;
use time::OffsetDateTime;

/// A refused report's database id.
pub type RefusedReportId = i64;

/// A report the server refused (4xx), as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusedReport {
    /// Database id (newer rows have larger ids).
    pub id: RefusedReportId,
    /// When it arrived.
    pub received_at: OffsetDateTime,
    /// The host name the report gave, when it could be read.
    pub hostname: Option<String>,
    /// The sender's address.
    pub peer: Option<String>,
    /// The wire format (`4 (urlencoded)`, `4 (multipart)`, `5`, `5 (S/MIME)`, `json`).
    pub protocol: String,
    /// The HTTP status answered.
    pub status: i64,
    /// Why it was refused (the answer's reason).
    pub reason: String,
}

/// A refusal to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRefusedReport {
    /// When it arrived.
    pub received_at: OffsetDateTime,
    /// The host name, if readable.
    pub hostname: Option<String>,
    /// The sender's address.
    pub peer: Option<String>,
    /// The wire format.
    pub protocol: String,
    /// The HTTP status answered.
    pub status: i64,
    /// The reason answered.
    pub reason: String,
}

pub(crate) const REFUSED_COLUMNS: &str =
    "id, received_at, hostname, peer, protocol, status, reason";

#[derive(sqlx::FromRow)]
pub(crate) struct RefusedRow {
    pub(crate) id: i64,
    pub(crate) received_at: i64,
    pub(crate) hostname: Option<String>,
    pub(crate) peer: Option<String>,
    pub(crate) protocol: String,
    pub(crate) status: i64,
    pub(crate) reason: String,
}

impl RefusedRow {
    pub(crate) fn into_refused(self) -> Result<RefusedReport, StoreError> {
        Ok(RefusedReport {
            id: self.id,
            received_at: from_ts(self.received_at)?,
            hostname: self.hostname,
            peer: self.peer,
            protocol: self.protocol,
            status: self.status,
            reason: self.reason,
        })
    }
}

impl Store {
    /// Records a refused report and drops all but the newest `keep` records.
    pub async fn record_refused_report(
        &self,
        refused: &NewRefusedReport,
        keep: i64,
    ) -> Result<RefusedReportId, StoreError> {
        let mut tx = self.begin().await?;
        let (id,): (i64,) = on!(&mut tx, t => sqlx::query_as(
            "INSERT INTO refused_reports (received_at, hostname, peer, protocol, status, \
             reason) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(ts(refused.received_at))
        .bind(&refused.hostname)
        .bind(&refused.peer)
        .bind(&refused.protocol)
        .bind(refused.status)
        .bind(&refused.reason)
        .fetch_one(&mut **t).await)?;
        keep_newest(&mut tx, "refused_reports", id, keep).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Refused reports, newest first (`offset`, `limit`), and how many are recorded.
    pub async fn refused_reports(
        &self,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<RefusedReport>, i64), StoreError> {
        let (rows, total) = self
            .newest_page::<RefusedRow>("refused_reports", REFUSED_COLUMNS, offset, limit)
            .await?;
        let items = rows
            .into_iter()
            .map(RefusedRow::into_refused)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((items, total))
    }
}
