//! Bounded, paged records: refused reports and identity conflicts are both append-only tables
//! that keep their newest N rows and are read newest first, a page at a time.

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use crate::db::{Tx, on};
use crate::error::StoreError;
use crate::store::Store;

/// Drops the rows of `table` older than the newest `keep` (ids grow, so the newest row `id`
/// bounds them), inside the transaction that inserted row `id`.
pub(crate) async fn keep_newest(
    tx: &mut Tx,
    table: &'static str,
    id: i64,
    keep: i64,
) -> Result<(), StoreError> {
    on!(&mut *tx, t => sqlx::query(&format!("DELETE FROM {table} WHERE id <= $1"))
        .bind(id - keep.max(1))
        .execute(&mut **t)
        .await.map(|r| r.rows_affected()))?;
    Ok(())
}

impl Store {
    /// A page of `table` (newest first, `columns` read into `R`) and how many rows it has.
    pub(crate) async fn newest_page<R>(
        &self,
        table: &'static str,
        columns: &'static str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<R>, i64), StoreError>
    where
        R: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
    {
        let (total,): (i64,) = on!(&self.read, p => sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(p)
            .await)?;
        let rows: Vec<R> = on!(&self.read, p => sqlx::query_as(&format!(
            "SELECT {columns} FROM {table} ORDER BY id DESC LIMIT $1 OFFSET $2"
        ))
        .bind(limit.max(0))
        .bind(offset.max(0))
        .fetch_all(p)
        .await)?;
        Ok((rows, total))
    }
}
