//! [`Store`]: the one store the server holds, over either backend.

use std::sync::Arc;

use crate::cache::Caches;
use crate::db::{Db, Pool, Tx, on};
use crate::error::StoreError;
use crate::{postgres, sqlite};

/// The store: a SQLite or PostgreSQL database, chosen at startup from the URL, with the
/// process-local caches. Every method is one transaction (or one statement): a returned `Ok`
/// means the change is durable.
#[derive(Clone, Debug)]
pub struct Store {
    /// Where write transactions run (SQLite: one connection).
    pub(crate) write: Pool,
    /// Where reads run.
    pub(crate) read: Pool,
    /// Facts that never change once committed (see `Caches`).
    pub(crate) caches: Arc<Caches>,
}

/// One connection pool's use ([`Store::pool_usage`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolUsage {
    /// `write`, `read` (SQLite) or `main` (PostgreSQL).
    pub pool: &'static str,
    /// Connections open (idle or in use).
    pub open: u32,
    /// Of those, idle.
    pub idle: u32,
    /// The most it opens.
    pub max: u32,
}

impl Store {
    /// Opens the store named by `url` and applies its migrations.
    ///
    /// `sqlite://path/to/file.db` (created if missing), `sqlite::memory:`, or
    /// `postgres://user@host/db` / `postgresql://...`.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnsupportedUrl`] for another scheme; otherwise connection or migration
    /// errors.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let (write, read) = if url.starts_with("sqlite:") {
            let (write, read) = sqlite::open(url).await?;
            (Db::Sqlite(write), Db::Sqlite(read))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = postgres::open(url).await?;
            (Db::Postgres(pool.clone()), Db::Postgres(pool))
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        Ok(Store {
            write,
            read,
            caches: Arc::default(),
        })
    }

    /// A write transaction. SQLite begins it `IMMEDIATE`: in-process writers queue on the
    /// one write connection instead of failing with `SQLITE_BUSY`, and a transaction that
    /// reads before it writes cannot lose its snapshot to a writer in another process.
    pub(crate) async fn begin(&self) -> Result<Tx, StoreError> {
        match &self.write {
            Db::Sqlite(_) => self.write.begin_with("BEGIN IMMEDIATE").await,
            Db::Postgres(_) => self.write.begin_with("BEGIN").await,
        }
    }

    /// A read transaction: one snapshot across its queries.
    pub(crate) async fn begin_read(&self) -> Result<Tx, StoreError> {
        match &self.read {
            Db::Sqlite(_) => self.read.begin_with("BEGIN").await,
            Db::Postgres(_) => {
                self.read
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await
            }
        }
    }

    /// Which backend this is (`sqlite`, `postgres`).
    #[must_use]
    pub fn backend(&self) -> &'static str {
        match &self.write {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Whether this is the SQLite backend (one writer connection: callers size their
    /// concurrency by it).
    #[must_use]
    pub fn is_sqlite(&self) -> bool {
        matches!(self.write, Db::Sqlite(_))
    }

    /// The store's size on disk in bytes: the SQLite file after a WAL checkpoint, or
    /// `pg_database_size` for PostgreSQL.
    ///
    /// # Errors
    ///
    /// The query fails.
    pub async fn size_bytes(&self) -> Result<u64, StoreError> {
        match &self.write {
            Db::Sqlite(write) => sqlite::size_bytes(write).await,
            Db::Postgres(pool) => postgres::size_bytes(pool).await,
        }
    }

    /// The database server's write-ahead-log position in bytes (PostgreSQL's
    /// `pg_current_wal_lsn`); `None` for SQLite. The difference of two readings is what was
    /// written to the WAL in between (by every database of the server): what a benchmark
    /// turns into write bandwidth and IOPS per report.
    ///
    /// # Errors
    ///
    /// The query fails.
    pub async fn wal_bytes(&self) -> Result<Option<u64>, StoreError> {
        match &self.write {
            Db::Sqlite(_) => Ok(None),
            Db::Postgres(pool) => postgres::wal_bytes(pool).await.map(Some),
        }
    }

    /// Whether the store answers a trivial query (`SELECT 1` on the read pool): the readiness
    /// probe. A closed pool or an unreachable server is an error.
    ///
    /// # Errors
    ///
    /// The query fails.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let (_one,): (i32,) = on!(&self.read, p => sqlx::query_as("SELECT 1").fetch_one(p).await)?;
        Ok(())
    }

    /// The connection pools' use: `write` and `read` for SQLite (one writer connection, a few
    /// readers), one `main` pool for PostgreSQL.
    #[must_use]
    pub fn pool_usage(&self) -> Vec<PoolUsage> {
        fn usage<D: sqlx::Database>(pool: &'static str, p: &sqlx::Pool<D>) -> PoolUsage {
            PoolUsage {
                pool,
                open: p.size(),
                idle: u32::try_from(p.num_idle()).unwrap_or(u32::MAX),
                max: p.options().get_max_connections(),
            }
        }
        match (&self.write, &self.read) {
            (Db::Sqlite(w), Db::Sqlite(r)) => vec![usage("write", w), usage("read", r)],
            (Db::Postgres(p), _) | (_, Db::Postgres(p)) => vec![usage("main", p)],
        }
    }

    /// Closes the connection pools (SQLite checkpoints its WAL into the database file).
    pub async fn close(&self) {
        match (&self.write, &self.read) {
            (Db::Sqlite(write), Db::Sqlite(read)) => sqlite::close(write, read).await,
            (Db::Postgres(pool), _) | (_, Db::Postgres(pool)) => postgres::close(pool).await,
        }
    }

    /// Creates the PostgreSQL database `name` through `admin_url` and returns its URL (for
    /// benchmarks and tests).
    ///
    /// # Errors
    ///
    /// `name` is not a plain identifier, or the statement fails.
    pub async fn create_database(admin_url: &str, name: &str) -> Result<String, StoreError> {
        postgres::create_database(admin_url, name).await
    }

    /// Drops the PostgreSQL database `name` through `admin_url`.
    ///
    /// # Errors
    ///
    /// `name` is not a plain identifier, or the statement fails.
    pub async fn drop_database(admin_url: &str, name: &str) -> Result<(), StoreError> {
        postgres::drop_database(admin_url, name).await
    }
}
