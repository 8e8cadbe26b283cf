//! Housekeeping (issue 15): report-history retention by count and age, pruning of ended
//! exposures, hosts not seen for a long time, the log of housekeeping runs, periodic task
//! claims, SQLite maintenance (checkpoint, `ANALYZE`, `VACUUM`), online backups and the
//! migration status read without migrating.
//!
//! Every pruning statement is written once as a selection (`… WHERE id IN (selection)`), so a
//! dry run counts exactly what the real run deletes.

use std::path::Path;
use std::str::FromStr;

use sqlx::ConnectOptions as _;
use sqlx::Connection as _;
use time::OffsetDateTime;

use crate::db::{Db, on};
use crate::error::StoreError;
use crate::journal::keep_newest;
use crate::model::HostId;
use crate::shared::{from_ts, ts};
use crate::store::Store;

/// Housekeeping runs kept in the log (the newest).
const RUNS_KEPT: i64 = 100;

/// Reports that retention may delete: beyond the newest `$1` of their host (`$1` = 0: no
/// count limit) or received before `$2` (`$2` = 0: no age limit), but never a host's last
/// report nor the report a host's evaluation is pending on.
const PRUNABLE_REPORTS: &str = "SELECT x.id FROM (SELECT r.id, r.received_at, \
     ROW_NUMBER() OVER (PARTITION BY r.host_id ORDER BY r.id DESC) AS n FROM reports r) x \
     WHERE x.n > 1 AND ((CAST($1 AS BIGINT) > 0 AND x.n > $1) OR x.received_at < $2) \
     AND x.id NOT IN (SELECT h.pending_report FROM hosts h WHERE h.pending_report IS NOT NULL)";

/// Exposures that ended before `$1`.
const PRUNABLE_EXPOSURES: &str =
    "SELECT id FROM exposures WHERE ended_at IS NOT NULL AND ended_at < $1";

/// What report retention keeps (see [`Store::prune_report_history`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReportRetention {
    /// Reports kept per host, newest first (0: no count limit).
    pub keep: i64,
    /// Reports received before this go (`None`: no age limit).
    pub older_than: Option<OffsetDateTime>,
}

/// A host that housekeeping purges: not seen for the configured number of days.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaleHost {
    /// Database id.
    pub id: HostId,
    /// Its name.
    pub hostname: String,
    /// When it last reported.
    pub last_report_at: OffsetDateTime,
}

/// One housekeeping run, as logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HousekeepingRun {
    /// Database id (0 before it is recorded).
    pub id: i64,
    /// When it started.
    pub started_at: OffsetDateTime,
    /// When it ended.
    pub finished_at: OffsetDateTime,
    /// What started it: `tick` (the server), `cli`.
    pub started_by: String,
    /// A dry run counts what a run would delete and deletes nothing.
    pub dry_run: bool,
    /// Reports deleted by retention.
    pub reports_deleted: u64,
    /// Ended exposures deleted.
    pub exposures_deleted: u64,
    /// Hosts purged (deleted with their history), with their last report time.
    pub purged: Vec<(String, OffsetDateTime)>,
    /// The database maintenance tasks run (`checkpoint`, `analyze`, `vacuum`).
    pub maintenance: Vec<String>,
    /// What failed, when something did (the rest of the run still happened).
    pub error: Option<String>,
}

#[derive(sqlx::FromRow)]
struct RunRow {
    id: i64,
    started_at: i64,
    finished_at: i64,
    started_by: String,
    dry_run: bool,
    reports_deleted: i64,
    exposures_deleted: i64,
    purged: String,
    maintenance: String,
    error: Option<String>,
}

impl RunRow {
    fn into_run(self) -> Result<HousekeepingRun, StoreError> {
        let purged = self
            .purged
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (name, at) = l.split_once('\t').unwrap_or((l, "0"));
                let at = at
                    .parse::<i64>()
                    .map_err(|e| StoreError::corrupt("housekeeping_runs.purged", e.to_string()))?;
                Ok((name.to_owned(), from_ts(at)?))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(HousekeepingRun {
            id: self.id,
            started_at: from_ts(self.started_at)?,
            finished_at: from_ts(self.finished_at)?,
            started_by: self.started_by,
            dry_run: self.dry_run,
            reports_deleted: u64::try_from(self.reports_deleted).unwrap_or(0),
            exposures_deleted: u64::try_from(self.exposures_deleted).unwrap_or(0),
            purged,
            maintenance: self
                .maintenance
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            error: self.error,
        })
    }
}

/// The migrations a store has applied next to those this binary knows
/// ([`Store::migration_status`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Applied in the store: (version, description), in order.
    pub applied: Vec<(i64, String)>,
    /// Known to this binary and not applied yet.
    pub pending: Vec<(i64, String)>,
    /// Applied in the store but unknown to this binary (the store is newer).
    pub unknown: Vec<(i64, String)>,
}

/// The migrations this binary carries for the backend of `url`.
fn migrator(url: &str) -> Result<sqlx::migrate::Migrator, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(sqlx::migrate!("migrations/sqlite"))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(sqlx::migrate!("migrations/postgres"))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}

/// The database file of a `sqlite:` URL; `None` for another backend or an in-memory database.
///
/// # Errors
///
/// The SQLite URL does not parse.
pub fn sqlite_file(url: &str) -> Result<Option<std::path::PathBuf>, StoreError> {
    if !url.starts_with("sqlite:") || url.contains(":memory:") || url.contains("mode=memory") {
        return Ok(None);
    }
    let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url)?;
    Ok(Some(opts.get_filename().to_owned()))
}

/// Below this many rows a table's (or index's) SQLite statistics are dropped after `ANALYZE`:
/// taken while it is nearly empty, they would steer the planner to scans once it is large.
pub const SMALL_TABLE_ROWS: i64 = 10_000;

impl Store {
    /// Deletes (or, with `dry_run`, counts) the reports [`ReportRetention`] lets go: beyond
    /// the newest `keep` of their host or older than `older_than`, never a host's last report
    /// nor one whose evaluation is pending. Their package lists go with them.
    pub async fn prune_report_history(
        &self,
        keep: ReportRetention,
        dry_run: bool,
    ) -> Result<u64, StoreError> {
        let older = keep.older_than.map_or(0, ts);
        if keep.keep <= 0 && older == 0 {
            return Ok(0);
        }
        if dry_run {
            let (n,): (i64,) = on!(&self.read, p => sqlx::query_as(&format!(
                "SELECT COUNT(*) FROM reports WHERE id IN ({PRUNABLE_REPORTS})"))
                .bind(keep.keep.max(0))
                .bind(older)
                .fetch_one(p).await)?;
            return Ok(u64::try_from(n).unwrap_or(0));
        }
        Ok(on!(&self.write, p => sqlx::query(&format!(
            "DELETE FROM reports WHERE id IN ({PRUNABLE_REPORTS})"))
            .bind(keep.keep.max(0))
            .bind(older)
            .execute(p).await.map(|r| r.rows_affected()))?)
    }

    /// Deletes (or counts) the exposures that ended before `before`; open ones are never
    /// touched (they are the hosts' current CVE sets).
    pub async fn prune_ended_exposures(
        &self,
        before: OffsetDateTime,
        dry_run: bool,
    ) -> Result<u64, StoreError> {
        // A row is a set of exposures (`n` of them).
        const COUNT: &str = "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM exposures WHERE id IN";
        if dry_run {
            let (n,): (i64,) = on!(&self.read, p => sqlx::query_as(&format!(
                "{COUNT} ({PRUNABLE_EXPOSURES})"))
                .bind(ts(before))
                .fetch_one(p).await)?;
            return Ok(u64::try_from(n).unwrap_or(0));
        }
        let mut tx = self.begin().await?;
        let (n,): (i64,) = on!(&mut tx, t => sqlx::query_as(&format!(
            "{COUNT} ({PRUNABLE_EXPOSURES})"))
            .bind(ts(before))
            .fetch_one(&mut **t).await)?;
        on!(&mut tx, t => sqlx::query(&format!(
            "DELETE FROM exposures WHERE id IN ({PRUNABLE_EXPOSURES})"))
            .bind(ts(before))
            .execute(&mut **t).await.map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Hosts (in service or retired) whose last report is older than `before`, oldest first.
    pub async fn hosts_not_seen_since(
        &self,
        before: OffsetDateTime,
    ) -> Result<Vec<StaleHost>, StoreError> {
        let rows: Vec<(i64, String, i64)> = on!(&self.read, p => sqlx::query_as(
            "SELECT id, hostname, last_report_at FROM hosts WHERE last_report_at < $1 \
             ORDER BY last_report_at, id")
            .bind(ts(before))
            .fetch_all(p).await)?;
        rows.into_iter()
            .map(|(id, hostname, at)| {
                Ok(StaleHost {
                    id,
                    hostname,
                    last_report_at: from_ts(at)?,
                })
            })
            .collect()
    }

    /// Records a housekeeping run (the newest 100 are kept) and returns its id.
    pub async fn record_housekeeping_run(&self, run: &HousekeepingRun) -> Result<i64, StoreError> {
        let purged: String = run
            .purged
            .iter()
            .map(|(name, at)| format!("{name}\t{}\n", ts(*at)))
            .collect();
        let mut tx = self.begin().await?;
        let (id,): (i64,) = on!(&mut tx, t => sqlx::query_as(
            "INSERT INTO housekeeping_runs (started_at, finished_at, started_by, dry_run, \
             reports_deleted, exposures_deleted, hosts_purged, purged, maintenance, error) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id")
            .bind(ts(run.started_at))
            .bind(ts(run.finished_at))
            .bind(&run.started_by)
            .bind(run.dry_run)
            .bind(i64::try_from(run.reports_deleted).unwrap_or(i64::MAX))
            .bind(i64::try_from(run.exposures_deleted).unwrap_or(i64::MAX))
            .bind(i64::try_from(run.purged.len()).unwrap_or(i64::MAX))
            .bind(&purged)
            .bind(run.maintenance.join(","))
            .bind(run.error.as_deref())
            .fetch_one(&mut **t).await)?;
        keep_newest(&mut tx, "housekeeping_runs", id, RUNS_KEPT).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The newest `limit` housekeeping runs, newest first.
    pub async fn housekeeping_runs(&self, limit: i64) -> Result<Vec<HousekeepingRun>, StoreError> {
        let rows: Vec<RunRow> = on!(&self.read, p => sqlx::query_as(
            "SELECT id, started_at, finished_at, started_by, dry_run, reports_deleted, \
             exposures_deleted, purged, maintenance, error FROM housekeeping_runs \
             ORDER BY id DESC LIMIT $1")
            .bind(limit.max(0))
            .fetch_all(p).await)?;
        rows.into_iter().map(RunRow::into_run).collect()
    }

    /// Claims periodic task `task` at `now` when it last ran at or before `now - every` (or
    /// never): `true` means the caller runs it now. One statement, so two servers sharing a
    /// store do not both run it.
    pub async fn claim_housekeeping_task(
        &self,
        task: &str,
        now: OffsetDateTime,
        every: time::Duration,
    ) -> Result<bool, StoreError> {
        let n = on!(&self.write, p => sqlx::query(
            "INSERT INTO housekeeping_tasks (task, last_run_at) VALUES ($1, $2) \
             ON CONFLICT (task) DO UPDATE SET last_run_at = excluded.last_run_at \
             WHERE housekeeping_tasks.last_run_at <= $3")
            .bind(task)
            .bind(ts(now))
            .bind(ts(now - every))
            .execute(p).await.map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// SQLite: moves the WAL into the database file and truncates it
    /// (`PRAGMA wal_checkpoint(TRUNCATE)`). PostgreSQL: nothing. Returns whether it ran.
    pub async fn checkpoint(&self) -> Result<bool, StoreError> {
        let Db::Sqlite(write) = &self.write else {
            return Ok(false);
        };
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(write)
            .await?;
        Ok(true)
    }

    /// Refreshes the query planner's statistics: SQLite `ANALYZE` with a bounded sample
    /// (tables and indexes under [`SMALL_TABLE_ROWS`] rows are left without statistics)
    /// (`analysis_limit`); PostgreSQL `ANALYZE` (autovacuum does it too;
    /// this is for after a large import).
    pub async fn analyze(&self) -> Result<(), StoreError> {
        match &self.write {
            Db::Sqlite(write) => {
                let mut c = write.acquire().await?;
                sqlx::query("PRAGMA analysis_limit = 1000")
                    .execute(&mut *c)
                    .await?;
                sqlx::query("ANALYZE").execute(&mut *c).await?;
                // Statistics of a nearly empty table outlive it: taken on a fresh store (the
                // first tick analyzes at once) they told the planner that `exposures` had 24
                // rows, and a report's read of its host's open exposures became a scan of
                // every exposure of the fleet: ingest stalled at 6,000 hosts (issue 17).
                // Without a row SQLite assumes a large table and uses the indexes; a table is
                // analyzed again once it has grown.
                sqlx::query(
                    "DELETE FROM sqlite_stat1 WHERE \
                     CAST(substr(stat, 1, instr(stat || ' ', ' ') - 1) AS INTEGER) < $1",
                )
                .bind(SMALL_TABLE_ROWS)
                .execute(&mut *c)
                .await?;
                // Reloads the statistics the planner uses. (No `PRAGMA optimize` after it: it
                // would analyze the small tables again.)
                sqlx::query("ANALYZE sqlite_schema")
                    .execute(&mut *c)
                    .await?;
            }
            Db::Postgres(pool) => {
                sqlx::query("ANALYZE").execute(pool).await?;
            }
        }
        Ok(())
    }

    /// Whether the store's statistics are left to us: PostgreSQL with `autovacuum` off (then
    /// nothing else analyzes it, and plans go wrong as tables grow: issue 17 met a front-page
    /// query that took 41 s at 100,000 hosts on a server without it). SQLite: `false`
    /// (housekeeping always analyzes it).
    ///
    /// # Errors
    /// The database cannot be asked.
    pub async fn autovacuum_off(&self) -> Result<bool, StoreError> {
        let Db::Postgres(pool) = &self.write else {
            return Ok(false);
        };
        let (on,): (String,) = sqlx::query_as("SELECT current_setting('autovacuum')")
            .fetch_one(pool)
            .await?;
        Ok(on == "off")
    }

    /// SQLite: rewrites the database file without its free pages (`VACUUM`; it holds the
    /// write lock throughout, so reports wait). PostgreSQL: nothing (autovacuum). Returns
    /// whether it ran.
    pub async fn vacuum(&self) -> Result<bool, StoreError> {
        let Db::Sqlite(write) = &self.write else {
            return Ok(false);
        };
        sqlx::query("VACUUM").execute(write).await?;
        Ok(true)
    }

    /// SQLite: writes a consistent copy of the live database to `dest` (`VACUUM INTO`: online,
    /// readers and the writer go on). `dest` must not exist. PostgreSQL has no in-store
    /// backup: [`StoreError::Invalid`] (use `pg_dump`).
    pub async fn backup_into(&self, dest: &Path) -> Result<(), StoreError> {
        let Db::Sqlite(read) = &self.read else {
            return Err(StoreError::Invalid(
                "a PostgreSQL store is backed up with pg_dump".into(),
            ));
        };
        let dest = dest
            .to_str()
            .ok_or_else(|| StoreError::Invalid("the backup path is not UTF-8".into()))?;
        sqlx::query("VACUUM INTO $1")
            .bind(dest)
            .execute(read)
            .await?;
        Ok(())
    }

    /// The migrations the store at `url` has applied against those this binary carries, read
    /// without applying any (and, for SQLite, without creating the file: a missing file has
    /// every migration pending).
    ///
    /// # Errors
    ///
    /// The URL is not a store's, or the store cannot be reached or read.
    pub async fn migration_status(url: &str) -> Result<MigrationStatus, StoreError> {
        let migrator = migrator(url)?;
        let applied = if url.starts_with("sqlite:") {
            let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
                .read_only(true)
                .create_if_missing(false);
            let memory = url.contains(":memory:") || url.contains("mode=memory");
            if memory || !opts.get_filename().exists() {
                Vec::new()
            } else {
                let mut c = opts.connect().await?;
                let (exists,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' \
                     AND name = '_sqlx_migrations'",
                )
                .fetch_one(&mut c)
                .await?;
                let rows: Vec<(i64, String)> = if exists > 0 {
                    sqlx::query_as(
                        "SELECT version, description FROM _sqlx_migrations \
                         WHERE success ORDER BY version",
                    )
                    .fetch_all(&mut c)
                    .await?
                } else {
                    Vec::new()
                };
                c.close().await?;
                rows
            }
        } else {
            let mut c = sqlx::postgres::PgConnectOptions::from_str(url)?
                .connect()
                .await?;
            let (exists,): (bool,) =
                sqlx::query_as("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                    .fetch_one(&mut c)
                    .await?;
            let rows: Vec<(i64, String)> = if exists {
                sqlx::query_as(
                    "SELECT version, description FROM _sqlx_migrations \
                     WHERE success ORDER BY version",
                )
                .fetch_all(&mut c)
                .await?
            } else {
                Vec::new()
            };
            c.close().await?;
            rows
        };
        let known: Vec<(i64, String)> = migrator
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .map(|m| (m.version, m.description.to_string()))
            .collect();
        let pending = known
            .iter()
            .filter(|(v, _)| !applied.iter().any(|(a, _)| a == v))
            .cloned()
            .collect();
        let unknown = applied
            .iter()
            .filter(|(v, _)| !known.iter().any(|(k, _)| k == v))
            .cloned()
            .collect();
        Ok(MigrationStatus {
            applied,
            pending,
            unknown,
        })
    }
}
