//! SQLite, the default embedded engine: opening it, and its bulk statements.
//!
//! Settings: WAL (readers never block the writer), `synchronous=FULL` (every commit is fsynced,
//! so a report acknowledged after its commit survives a power loss, not only a killed
//! process), foreign keys on, a busy timeout for a second process on the same file.
//!
//! SQLite has a single writer, so writes go through a one-connection pool and begin with
//! `BEGIN IMMEDIATE`: in-process writers queue in the pool instead of failing with
//! `SQLITE_BUSY`, and a transaction that reads before it writes cannot lose its snapshot to a
//! writer in another process. Reads use a separate pool. Lists of ids and packages are passed
//! as one JSON text bound to `json_each`, which keeps statements fixed (cached) and clear of
//! the bind-variable limit.

use std::fmt::Write as _;
use std::str::FromStr;

use sqlx::ConnectOptions as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

use crate::db::json_str;
use crate::error::StoreError;
use crate::model::PackageFinding;

type Tx = Transaction<'static, Sqlite>;

/// Opens (creating if missing) the database at `url` (`sqlite://path`, `sqlite::memory:`)
/// and applies the migrations.
///
/// # Errors
///
/// When the URL does not parse, the file cannot be opened, or a migration fails.
pub(crate) async fn open(url: &str) -> Result<(SqlitePool, SqlitePool), StoreError> {
    let opts = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(std::time::Duration::from_secs(30))
        // Loading every advisory at start legitimately takes seconds on large feeds.
        .log_slow_statements(log::LevelFilter::Warn, std::time::Duration::from_secs(10));
    let memory = url.contains(":memory:") || url.contains("mode=memory");
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(u32::from(memory))
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(opts.clone())
        .await?;
    sqlx::migrate!("migrations/sqlite").run(&write).await?;
    // An in-memory database lives as long as one of its connections: keep everything on
    // the single writer connection.
    let read = if memory {
        write.clone()
    } else {
        SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?
    };
    Ok((write, read))
}

/// Checkpoints the WAL into the database file and closes both pools, waiting for
/// checked-out connections.
pub(crate) async fn close(write: &SqlitePool, read: &SqlitePool) {
    // Best effort: a failed checkpoint only leaves the WAL for the next open to replay.
    if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(write)
        .await
    {
        tracing::warn!(error = %e, "wal checkpoint on close failed");
    }
    read.close().await;
    write.close().await;
}

/// The database's size on disk in bytes, after checkpointing the WAL into the main file
/// (so the figure does not depend on when the last automatic checkpoint ran).
///
/// # Errors
///
/// The checkpoint or the page count query fails.
pub(crate) async fn size_bytes(write: &SqlitePool) -> Result<u64, StoreError> {
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(write)
        .await?;
    let (pages,): (i64,) = sqlx::query_as("PRAGMA page_count").fetch_one(write).await?;
    let (size,): (i64,) = sqlx::query_as("PRAGMA page_size").fetch_one(write).await?;
    Ok(u64::try_from(pages.saturating_mul(size)).unwrap_or(0))
}

/// Interns `pkgs` (distinct keys, none of them in the process cache) and returns their ids, in
/// order.
///
/// Two statements whatever the mix: `INSERT .. ON CONFLICT DO NOTHING` of them all, then every
/// id read back as one aggregated text row. (Returning the inserted rows and looking up the
/// rest took rows one by one through sqlx's SQLite worker: the cost of a report after a
/// restart, when all its versions miss the cache.)
pub(crate) async fn intern_packages(
    tx: &mut Tx,
    pkgs: &[(&str, &str, &str, &str)],
) -> Result<Vec<i64>, StoreError> {
    let json = packages_json(pkgs.iter());
    sqlx::query(
        "INSERT INTO package_versions (name, version, arch, source) \
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each($1) \
         WHERE true ON CONFLICT DO NOTHING",
    )
    .bind(&json)
    .execute(&mut **tx)
    .await?;
    // Every id, new or not, as one text row of `position:id` (sqlx hands SQLite rows over
    // one by one: after a restart a report's hundreds of versions are all cache misses).
    // `CROSS JOIN` fixes the loop order: walk the list, probe the unique index.
    let (found,): (Option<String>,) = sqlx::query_as(
        "SELECT group_concat(j.key || ':' || pv.id, ',') FROM json_each($1) AS j \
         CROSS JOIN package_versions AS pv \
         ON pv.name = j.value ->> 0 AND pv.version = j.value ->> 1 \
         AND pv.arch = j.value ->> 2 AND pv.source = j.value ->> 3",
    )
    .bind(&json)
    .fetch_one(&mut **tx)
    .await?;
    let mut ids = vec![0i64; pkgs.len()];
    let bad = || StoreError::corrupt("package_versions", "interned ids not position:id");
    for pair in found.as_deref().unwrap_or_default().split(',') {
        if pair.is_empty() {
            continue;
        }
        let (pos, id) = pair.split_once(':').ok_or_else(bad)?;
        let pos: usize = pos.parse().map_err(|_| bad())?;
        *ids.get_mut(pos).ok_or_else(bad)? = id.parse().map_err(|_| bad())?;
    }
    if ids.contains(&0) {
        return Err(StoreError::corrupt(
            "package_versions",
            "interning lost a row",
        ));
    }
    Ok(ids)
}

/// `[[name, version, arch, source], ...]` as JSON.
fn packages_json<'a>(
    pkgs: impl Iterator<Item = &'a (&'a str, &'a str, &'a str, &'a str)>,
) -> String {
    let mut json = String::from("[");
    for (i, (n, v, a, s)) in pkgs.enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push('[');
        for (j, f) in [n, v, a, s].into_iter().enumerate() {
            if j > 0 {
                json.push(',');
            }
            json_str(&mut json, f);
        }
        json.push(']');
    }
    json.push(']');
    json
}

pub(crate) async fn insert_findings(
    tx: &mut Tx,
    stream: &str,
    findings: &[PackageFinding],
) -> Result<(), StoreError> {
    let mut json = String::with_capacity(findings.len() * 24 + 2);
    json.push('[');
    for (i, f) in findings.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        let _ = write!(
            json,
            "[{},{},{}]",
            f.package_version_id, f.advisory_id, f.affected_idx
        );
    }
    json.push(']');
    // The join drops findings whose advisory was deleted since the caller loaded it.
    sqlx::query(
        "INSERT INTO package_findings (stream, package_version_id, advisory_id, affected_idx) \
         SELECT $1, j.value ->> 0, a.id, j.value ->> 2 FROM json_each($2) AS j \
         JOIN advisories AS a ON a.id = j.value ->> 1 WHERE true ON CONFLICT DO NOTHING",
    )
    .bind(stream)
    .bind(json)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
