//! The SQLite backend: the default, embedded store.
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

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::Arc;

use pakiti_core::advisory::Advisory;
use pakiti_core::package::InstalledPackage;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool, Transaction};
use time::{Duration, OffsetDateTime};
use tracing::instrument;

use crate::codec::{decode_ids, encode_ids};
use crate::error::StoreError;
use crate::model::{
    CveException, CveTag, CveTagId, ExceptionId, ExposureDay, FleetHost, HostScope, NewCveTag,
    NewException, ReportSummary, StreamFinding,
};
use crate::model::{
    Feed, FeedContent, FeedId, FeedRun, FeedUpdate, Host, HostCounts, HostFilter, HostFinding,
    HostId, HostIdentity, HostPage, HostSort, HostState, NewFeed, NewReport, PackageFinding,
    PackageVersionId, Page, QueueId, QueuedReport, ReplaceOutcome, ReportId, ReportMeta,
    SavedReport, StaleKeys, StoredAdvisory, StreamPackage, SyncRecord, SyncStatus,
};
use crate::model::{FinishReport, InstalledSet};
use crate::shared::{
    AdvisoryLoadRow, AffectedLoadRow, Caches, ExistingAdvisory, FEED_COLUMNS, FINDING_SELECT,
    FeedRow, FeedRunRow, FindingRow, FleetHostRow, HOST_COLUMNS, HostRow, PackageRow,
    ReportSummaryRow, advisory_keys, advisory_row, affected_rows, assemble_advisories, from_ts,
    host_order, json_str, old_kernel_ids, old_kernels_text, package_cache_key, package_key,
    plan_replace, ts, without_old_kernels,
};
use crate::store::Store;
use crate::tags::{self, EXCEPTION_COLUMNS, ExceptionRow, TAG_COLUMNS, TagRow};
use crate::users::{ApiToken, ApiTokenId, Grant, NewUser, Session, User, UserId, UserUpdate};

type Db = Sqlite;
type Tx = Transaction<'static, Db>;
type Conn = SqliteConnection;

/// Bind variables per statement; the bundled SQLite allows 32,766.
const MAX_BINDS: usize = 32_000;

/// The SQLite store.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    write: SqlitePool,
    read: SqlitePool,
    caches: Arc<Caches>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path`, `sqlite::memory:`)
    /// and applies the migrations.
    ///
    /// # Errors
    ///
    /// When the URL does not parse, the file cannot be opened, or a migration fails.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(30));
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
        Ok(SqliteStore {
            write,
            read,
            caches: Arc::default(),
        })
    }

    /// Checkpoints the WAL into the database file and closes both pools, waiting for
    /// checked-out connections.
    pub async fn close(&self) {
        // Best effort: a failed checkpoint only leaves the WAL for the next open to replay.
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.write)
            .await
        {
            tracing::warn!(error = %e, "wal checkpoint on close failed");
        }
        self.read.close().await;
        self.write.close().await;
    }

    /// The database's size on disk in bytes, after checkpointing the WAL into the main file
    /// (so the figure does not depend on when the last automatic checkpoint ran).
    ///
    /// # Errors
    ///
    /// The checkpoint or the page count query fails.
    pub async fn size_bytes(&self) -> Result<u64, StoreError> {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.write)
            .await?;
        let (pages,): (i64,) = sqlx::query_as("PRAGMA page_count")
            .fetch_one(&self.write)
            .await?;
        let (size,): (i64,) = sqlx::query_as("PRAGMA page_size")
            .fetch_one(&self.write)
            .await?;
        Ok(u64::try_from(pages.saturating_mul(size)).unwrap_or(0))
    }

    async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(self.write.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// A read transaction on the read pool (one snapshot across its queries).
    async fn begin_read(&self) -> Result<Tx, StoreError> {
        Ok(self.read.begin().await?)
    }
}

// ---- backend-specific helpers ----

/// Replaces the stored answer for `evaluated` package versions of `stream` inside `tx`.
async fn store_findings_in(
    tx: &mut Tx,
    stream: &str,
    evaluated: &[PackageVersionId],
    findings: &[PackageFinding],
) -> Result<(), StoreError> {
    let arg = ids_arg(evaluated);
    sqlx::query(&format!(
        "DELETE FROM package_findings WHERE stream = $1 AND package_version_id {}",
        in_list(2)
    ))
    .bind(stream)
    .bind(&arg)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO evaluated_packages (stream, package_version_id) \
         SELECT $1, value FROM json_each($2) WHERE true ON CONFLICT DO NOTHING",
    )
    .bind(stream)
    .bind(&arg)
    .execute(&mut **tx)
    .await?;
    if !findings.is_empty() {
        insert_findings(tx, stream, findings).await?;
    }
    Ok(())
}

include!("shared_impl.rs");

/// A JSON array of ids for `json_each`.
fn ids_arg(ids: &[i64]) -> String {
    let mut s = String::with_capacity(ids.len() * 7 + 2);
    s.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{id}");
    }
    s.push(']');
    s
}

/// A JSON array of strings for `json_each`.
fn strs_arg(items: &[String]) -> String {
    let mut s = String::with_capacity(items.len() * 16 + 2);
    s.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        json_str(&mut s, item);
    }
    s.push(']');
    s
}

/// `IN (...)` over a bound id or string list (`$n` is its placeholder).
/// The opening of an `IN` over a bound JSON array; push the bind and close it.
fn in_list_unnumbered() -> &'static str {
    "IN (SELECT value FROM json_each("
}

/// What closes [`in_list_unnumbered`] after its bind.
fn in_list_close() -> &'static str {
    "))"
}

fn in_list(n: u32) -> String {
    format!("IN (SELECT value FROM json_each(${n}))")
}

/// Interns `pkgs` (distinct keys, none of them in the process cache) and returns their ids, in
/// order.
///
/// Insert first: the caller's cache already filtered out the known versions, so most of
/// these are new, and `INSERT .. ON CONFLICT DO NOTHING RETURNING` interns them in one
/// statement. Only the ones that already existed (cold cache, another process) are looked up.
async fn intern_packages(
    tx: &mut Tx,
    pkgs: &[(&str, &str, &str, &str)],
) -> Result<Vec<i64>, StoreError> {
    let json = packages_json(pkgs.iter());
    let inserted: Vec<PackageRow> = sqlx::query_as(
        "INSERT INTO package_versions (name, version, arch, source) \
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each($1) \
         WHERE true ON CONFLICT DO NOTHING RETURNING id, name, version, arch, source",
    )
    .bind(&json)
    .fetch_all(&mut **tx)
    .await?;
    let by_key: HashMap<(&str, &str, &str, &str), i64> = inserted
        .iter()
        .map(|r| {
            (
                (
                    r.name.as_str(),
                    r.version.as_str(),
                    r.arch.as_str(),
                    r.source.as_str(),
                ),
                r.id,
            )
        })
        .collect();
    let mut ids: Vec<i64> = pkgs
        .iter()
        .map(|k| by_key.get(k).copied().unwrap_or(0))
        .collect();
    let missing: Vec<usize> = (0..ids.len()).filter(|&i| ids[i] == 0).collect();
    if !missing.is_empty() {
        let json = packages_json(missing.iter().map(|&i| &pkgs[i]));
        // `CROSS JOIN` fixes the loop order: walk the list, probe the unique index.
        let found: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT j.key, pv.id FROM json_each($1) AS j CROSS JOIN package_versions AS pv \
             ON pv.name = j.value ->> 0 AND pv.version = j.value ->> 1 \
             AND pv.arch = j.value ->> 2 AND pv.source = j.value ->> 3",
        )
        .bind(&json)
        .fetch_all(&mut **tx)
        .await?;
        for (pos, id) in found {
            if let Some(&i) = usize::try_from(pos).ok().and_then(|p| missing.get(p)) {
                ids[i] = id;
            }
        }
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

async fn insert_findings(
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

/// The feed generation as a report's answers are checked against it. SQLite has one writer:
/// the read inside the write transaction is the truth until it commits.
const GENERATION_CHECK_SQL: &str = "SELECT generation FROM feed_generation WHERE id = 1";

const CLAIM_SQL: &str = "UPDATE report_queue SET claimed_by = $1, claimed_until = $2, \
    attempts = attempts + 1 \
    WHERE id IN (SELECT id FROM report_queue WHERE claimed_until IS NULL OR claimed_until < $3 \
    ORDER BY id LIMIT $4) \
    RETURNING id, payload, attempts";

// ---- shared shape (kept identical in postgres.rs) ----

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

async fn mark_feed_keys_stale(tx: &mut Tx, feed: FeedId) -> Result<(), StoreError> {
    let seq = next_stale_seq(tx).await?;
    sqlx::query(
        "INSERT INTO stale_keys (stream, package, seq) \
         SELECT DISTINCT af.stream, af.package, $2 FROM affected af \
         JOIN advisories a ON a.id = af.advisory_id WHERE a.feed_id = $1 \
         ON CONFLICT (stream, package) DO UPDATE SET seq = excluded.seq",
    )
    .bind(feed)
    .bind(seq)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Bumps the feed generation (migration 0009) and returns it: the sequence number of the
/// stale keys this transaction marks.
async fn next_stale_seq(tx: &mut Tx) -> Result<i64, StoreError> {
    let (seq,): (i64,) = sqlx::query_as(
        "UPDATE feed_generation SET generation = generation + 1 WHERE id = 1 \
         RETURNING generation",
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(seq)
}

async fn find_host(
    conn: &mut Conn,
    identity: &HostIdentity,
) -> Result<Option<HostState>, StoreError> {
    const COLS: &str = "SELECT id, last_report_hash, stream FROM hosts";
    if let Some(cid) = &identity.client_id {
        let row: Option<(i64, Option<String>, Option<String>)> =
            sqlx::query_as(&format!("{COLS} WHERE client_id = $1"))
                .bind(cid)
                .fetch_optional(&mut *conn)
                .await?;
        if let Some((id, last_report_hash, stream)) = row {
            return Ok(Some(HostState {
                id,
                last_report_hash,
                stream,
            }));
        }
    }
    // A host first seen without a client id is adopted by the first report that has one.
    let row: Option<(i64, Option<String>, Option<String>)> =
        sqlx::query_as(&format!("{COLS} WHERE hostname = $1 AND client_id IS NULL"))
            .bind(&identity.hostname)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(|(id, last_report_hash, stream)| HostState {
        id,
        last_report_hash,
        stream,
    }))
}

async fn insert_advisory_bodies(
    tx: &mut Tx,
    bodies: &[(i64, &Advisory)],
) -> Result<i64, StoreError> {
    let mut cves: Vec<(i64, i64, &str)> = Vec::new();
    let mut affected = Vec::new();
    for (id, a) in bodies {
        for (ord, cve) in a.cves.iter().enumerate() {
            cves.push((*id, i64::try_from(ord).unwrap_or(i64::MAX), cve.as_str()));
        }
        for row in affected_rows(a)? {
            affected.push((*id, row));
        }
    }
    for chunk in cves.chunks(MAX_BINDS / 3) {
        let mut qb = QueryBuilder::<Db>::new("INSERT INTO advisory_cves (advisory_id, ord, cve) ");
        qb.push_values(chunk, |mut b, (id, ord, cve)| {
            b.push_bind(*id).push_bind(*ord).push_bind(*cve);
        });
        qb.build().execute(&mut **tx).await?;
    }
    let count = affected.len();
    for chunk in affected.chunks(MAX_BINDS / 11) {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO affected (advisory_id, idx, stream, package, kind, arches, module, \
             introduced, last_affected, status, fixed_version) ",
        );
        qb.push_values(chunk, |mut b, (id, r)| {
            b.push_bind(*id)
                .push_bind(r.idx)
                .push_bind(r.stream.as_str())
                .push_bind(r.package)
                .push_bind(r.kind)
                .push_bind(r.arches.as_deref())
                .push_bind(r.module)
                .push_bind(r.introduced)
                .push_bind(r.last_affected)
                .push_bind(r.status)
                .push_bind(r.fixed_version);
        });
        qb.build().execute(&mut **tx).await?;
    }
    Ok(i64::try_from(count).unwrap_or(i64::MAX))
}

impl Store for SqliteStore {
    #[instrument(skip_all, fields(feed = %feed.name))]
    async fn create_feed(&self, feed: &NewFeed) -> Result<Feed, StoreError> {
        let res = sqlx::query_as::<_, FeedRow>(&format!(
            "INSERT INTO feeds (name, kind, url, stream, enabled, interval_secs, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {FEED_COLUMNS}"
        ))
        .bind(&feed.name)
        .bind(&feed.kind)
        .bind(&feed.url)
        .bind(&feed.stream)
        .bind(feed.enabled)
        .bind(feed.interval_secs)
        .bind(ts(OffsetDateTime::now_utc()))
        .fetch_one(&self.write)
        .await;
        match res {
            Ok(row) => row.into_feed(),
            Err(e) if is_unique_violation(&e) => Err(StoreError::DuplicateFeed(feed.name.clone())),
            Err(e) => Err(e.into()),
        }
    }

    async fn get_feed(&self, id: FeedId) -> Result<Option<Feed>, StoreError> {
        sqlx::query_as::<_, FeedRow>(&format!("SELECT {FEED_COLUMNS} FROM feeds WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await?
            .map(FeedRow::into_feed)
            .transpose()
    }

    async fn list_feeds(&self) -> Result<Vec<Feed>, StoreError> {
        sqlx::query_as::<_, FeedRow>(&format!("SELECT {FEED_COLUMNS} FROM feeds ORDER BY name"))
            .fetch_all(&self.read)
            .await?
            .into_iter()
            .map(FeedRow::into_feed)
            .collect()
    }

    #[instrument(skip_all, fields(feed_id = id))]
    async fn update_feed(&self, id: FeedId, update: &FeedUpdate) -> Result<Feed, StoreError> {
        let mut tx = self.begin().await?;
        let current = sqlx::query_as::<_, FeedRow>(&format!(
            "SELECT {FEED_COLUMNS} FROM feeds WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::not_found("feed", id))?;
        let enabled = update.enabled.unwrap_or(current.enabled);
        let row = sqlx::query_as::<_, FeedRow>(&format!(
            "UPDATE feeds SET url = $2, stream = $3, enabled = $4, interval_secs = $5 \
             WHERE id = $1 RETURNING {FEED_COLUMNS}"
        ))
        .bind(id)
        .bind(update.url.as_ref().unwrap_or(&current.url))
        .bind(update.stream.as_ref().unwrap_or(&current.stream))
        .bind(enabled)
        .bind(update.interval_secs.unwrap_or(current.interval_secs))
        .fetch_one(&mut *tx)
        .await?;
        if enabled != current.enabled {
            mark_feed_keys_stale(&mut tx, id).await?;
        }
        tx.commit().await?;
        row.into_feed()
    }

    #[instrument(skip_all, fields(feed_id = id))]
    async fn delete_feed(&self, id: FeedId) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        mark_feed_keys_stale(&mut tx, id).await?;
        let done = sqlx::query("DELETE FROM feeds WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        tx.commit().await?;
        Ok(done)
    }

    async fn feed_runs(&self, id: FeedId, limit: i64) -> Result<Vec<FeedRun>, StoreError> {
        sqlx::query_as::<_, FeedRunRow>(
            "SELECT started_at, status, error, duration_ms, advisory_count, affected_count, \
             changed_keys, etag, last_modified, checksum FROM feed_runs \
             WHERE feed_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(id)
        .bind(limit)
        .fetch_all(&self.read)
        .await?
        .into_iter()
        .map(FeedRunRow::into_run)
        .collect()
    }

    #[instrument(skip_all, fields(feed_id = id, advisories = advisories.len()))]
    async fn replace_feed_advisories(
        &self,
        id: FeedId,
        advisories: &[Advisory],
        sync: &SyncRecord,
    ) -> Result<ReplaceOutcome, StoreError> {
        // Validate and encode everything before taking the write lock.
        let mut heads = Vec::with_capacity(advisories.len());
        let mut affected_total = 0usize;
        for a in advisories {
            heads.push(advisory_row(a, 0)?);
            affected_total += a.affected.len();
        }
        drop(heads);
        let mut tx = self.begin().await?;
        if sqlx::query_as::<_, (i64,)>("SELECT id FROM feeds WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .is_none()
        {
            return Err(StoreError::not_found("feed", id));
        }
        let existing: Vec<ExistingAdvisory> = sqlx::query_as::<_, (i64, String, i64, i64)>(
            "SELECT id, vendor_id, dup, digest FROM advisories WHERE feed_id = $1",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|(id, vendor_id, dup, digest)| ExistingAdvisory {
            id,
            vendor_id,
            dup,
            digest,
        })
        .collect();
        let plan = plan_replace(&existing, advisories);

        // Keys of the entries that go away.
        let mut keys: BTreeSet<StreamPackage> = BTreeSet::new();
        let gone: Vec<i64> = plan
            .remove
            .iter()
            .copied()
            .chain(plan.update.iter().map(|u| u.0))
            .collect();
        if !gone.is_empty() {
            let arg = ids_arg(&gone);
            let old: Vec<(String, String)> = sqlx::query_as(&format!(
                "SELECT DISTINCT stream, package FROM affected WHERE advisory_id {}",
                in_list(1)
            ))
            .bind(&arg)
            .fetch_all(&mut *tx)
            .await?;
            keys.extend(
                old.into_iter()
                    .map(|(stream, package)| StreamPackage { stream, package }),
            );
        }
        if !plan.remove.is_empty() {
            sqlx::query(&format!("DELETE FROM advisories WHERE id {}", in_list(1)))
                .bind(ids_arg(&plan.remove))
                .execute(&mut *tx)
                .await?;
        }
        let mut bodies: Vec<(i64, &Advisory)> = Vec::new();
        if !plan.update.is_empty() {
            let changed: Vec<i64> = plan.update.iter().map(|u| u.0).collect();
            let arg = ids_arg(&changed);
            for table in ["affected", "advisory_cves", "package_findings"] {
                sqlx::query(&format!(
                    "DELETE FROM {table} WHERE advisory_id {}",
                    in_list(1)
                ))
                .bind(&arg)
                .execute(&mut *tx)
                .await?;
            }
            for &(aid, a, dup) in &plan.update {
                let r = advisory_row(a, dup)?;
                sqlx::query(
                    "UPDATE advisories SET dup = $2, source = $3, title = $4, severity = $5, \
                     issued = $6, updated = $7, refs = $8, digest = $9 WHERE id = $1",
                )
                .bind(aid)
                .bind(r.dup)
                .bind(r.source)
                .bind(r.title)
                .bind(r.severity)
                .bind(r.issued)
                .bind(r.updated)
                .bind(r.refs)
                .bind(r.digest)
                .execute(&mut *tx)
                .await?;
                bodies.push((aid, a));
            }
        }
        for chunk in plan.insert.chunks(MAX_BINDS / 10) {
            let rows = chunk
                .iter()
                .map(|(a, dup)| advisory_row(a, *dup))
                .collect::<Result<Vec<_>, _>>()?;
            let mut qb = QueryBuilder::<Db>::new(
                "INSERT INTO advisories (feed_id, vendor_id, dup, source, title, severity, \
                 issued, updated, refs, digest) ",
            );
            qb.push_values(&rows, |mut b, r| {
                b.push_bind(id)
                    .push_bind(r.vendor_id)
                    .push_bind(r.dup)
                    .push_bind(r.source)
                    .push_bind(r.title)
                    .push_bind(r.severity)
                    .push_bind(r.issued)
                    .push_bind(r.updated)
                    .push_bind(r.refs.as_deref())
                    .push_bind(r.digest);
            });
            qb.push(" RETURNING id, vendor_id, dup");
            let returned: Vec<(i64, String, i64)> = qb.build_query_as().fetch_all(&mut *tx).await?;
            let by_key: HashMap<(&str, i64), i64> = returned
                .iter()
                .map(|(aid, v, d)| ((v.as_str(), *d), *aid))
                .collect();
            for (a, dup) in chunk {
                let aid = by_key
                    .get(&(a.id.as_str(), *dup))
                    .copied()
                    .ok_or_else(|| StoreError::corrupt("advisories", "insert returned no id"))?;
                bodies.push((aid, a));
            }
        }
        insert_advisory_bodies(&mut tx, &bodies).await?;
        for (_, a) in &bodies {
            advisory_keys(a, &mut keys);
        }

        let changed_keys: Vec<StreamPackage> = keys.into_iter().collect();
        if !changed_keys.is_empty() {
            let seq = next_stale_seq(&mut tx).await?;
            for chunk in changed_keys.chunks(MAX_BINDS / 3) {
                let mut qb =
                    QueryBuilder::<Db>::new("INSERT INTO stale_keys (stream, package, seq) ");
                qb.push_values(chunk, |mut b, k| {
                    b.push_bind(k.stream.as_str())
                        .push_bind(k.package.as_str())
                        .push_bind(seq);
                });
                qb.push(" ON CONFLICT (stream, package) DO UPDATE SET seq = excluded.seq");
                qb.build().execute(&mut *tx).await?;
            }
        }
        let advisory_count = i64::try_from(advisories.len()).unwrap_or(i64::MAX);
        let affected_count = i64::try_from(affected_total).unwrap_or(i64::MAX);
        let changed_count = i64::try_from(changed_keys.len()).unwrap_or(i64::MAX);
        sqlx::query(
            "UPDATE feeds SET last_sync_at = $2, last_status = $3, last_error = $4, \
             last_duration_ms = $5, etag = $6, last_modified = $7, checksum = $8, \
             advisory_count = $9, affected_count = $10 WHERE id = $1",
        )
        .bind(id)
        .bind(ts(sync.at))
        .bind(sync.status.as_str())
        .bind(&sync.error)
        .bind(sync.duration_ms)
        .bind(&sync.etag)
        .bind(&sync.last_modified)
        .bind(&sync.checksum)
        .bind(advisory_count)
        .bind(affected_count)
        .execute(&mut *tx)
        .await?;
        insert_run(
            &mut tx,
            id,
            sync,
            advisory_count,
            affected_count,
            changed_count,
        )
        .await?;
        tx.commit().await?;
        Ok(ReplaceOutcome {
            advisory_count,
            affected_count,
            upserted: i64::try_from(plan.insert.len() + plan.update.len()).unwrap_or(i64::MAX),
            removed: i64::try_from(plan.remove.len()).unwrap_or(i64::MAX),
            changed_keys,
        })
    }

    #[instrument(skip_all, fields(feed_id = id, status = sync.status.as_str()))]
    async fn record_feed_sync(&self, id: FeedId, sync: &SyncRecord) -> Result<(), StoreError> {
        if sync.status == SyncStatus::Ok {
            return Err(StoreError::Invalid(
                "a successful sync is recorded by replace_feed_advisories".into(),
            ));
        }
        let mut tx = self.begin().await?;
        if !record_sync_in(&mut tx, "feeds", id, sync).await? {
            return Err(StoreError::not_found("feed", id));
        }
        insert_run(&mut tx, id, sync, 0, 0, 0).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_feed_content(&self, id: FeedId, content: &FeedContent) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE feeds SET content_kind = $2, content_key = $3, last_source = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(&content.kind)
        .bind(&content.key)
        .bind(&content.source)
        .execute(&self.write)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("feed", id));
        }
        Ok(())
    }

    #[instrument(skip_all)]
    async fn load_advisories(&self) -> Result<Vec<StoredAdvisory>, StoreError> {
        // One read transaction: the three queries see one snapshot.
        let mut tx = self.read.begin().await?;
        let heads: Vec<AdvisoryLoadRow> = sqlx::query_as(
            "SELECT a.id, a.feed_id, a.vendor_id, a.source, a.title, a.severity, a.issued, \
             a.updated, a.refs FROM advisories a JOIN feeds f ON f.id = a.feed_id \
             WHERE f.enabled ORDER BY a.id",
        )
        .fetch_all(&mut *tx)
        .await?;
        let cves: Vec<(i64, String)> = sqlx::query_as(
            "SELECT c.advisory_id, c.cve FROM advisory_cves c \
             JOIN advisories a ON a.id = c.advisory_id JOIN feeds f ON f.id = a.feed_id \
             WHERE f.enabled ORDER BY c.advisory_id, c.ord",
        )
        .fetch_all(&mut *tx)
        .await?;
        let affected: Vec<AffectedLoadRow> = sqlx::query_as(
            "SELECT af.advisory_id, af.stream, af.package, af.kind, af.arches, af.module, \
             af.introduced, af.last_affected, af.status, af.fixed_version FROM affected af \
             JOIN advisories a ON a.id = af.advisory_id JOIN feeds f ON f.id = a.feed_id \
             WHERE f.enabled ORDER BY af.advisory_id, af.idx",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        assemble_advisories(heads, cves, affected)
    }

    async fn stale_keys(&self) -> Result<StaleKeys, StoreError> {
        let rows: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT stream, package, seq FROM stale_keys ORDER BY stream, package")
                .fetch_all(&self.read)
                .await?;
        let seq = rows.iter().map(|r| r.2).max().unwrap_or(0);
        Ok(StaleKeys {
            keys: rows
                .into_iter()
                .map(|(stream, package, _)| StreamPackage { stream, package })
                .collect(),
            seq,
        })
    }

    async fn clear_stale_keys(&self, seq: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM stale_keys WHERE seq <= $1")
            .bind(seq)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn evaluated_package_versions(
        &self,
        stream: &str,
        names: &[String],
    ) -> Result<Vec<(PackageVersionId, InstalledPackage)>, StoreError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<PackageRow> = sqlx::query_as(&format!(
            "SELECT pv.id, pv.name, pv.version, pv.arch, pv.source FROM package_versions pv \
             JOIN evaluated_packages e ON e.package_version_id = pv.id AND e.stream = $1 \
             WHERE pv.name {l} OR pv.source {l} ORDER BY pv.id",
            l = in_list(2)
        ))
        .bind(stream)
        .bind(strs_arg(names))
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().map(PackageRow::into_package).collect())
    }

    async fn host_state(&self, identity: &HostIdentity) -> Result<Option<HostState>, StoreError> {
        let mut conn = self.read.acquire().await?;
        find_host(&mut conn, identity).await
    }

    #[instrument(skip_all, fields(hostname = %report.identity.hostname, packages = report.packages.len()))]
    async fn save_report(&self, report: NewReport<'_>) -> Result<SavedReport, StoreError> {
        let mut out = self.save_reports(&[report]).await?;
        out.pop()
            .ok_or_else(|| StoreError::corrupt("reports", "batch of one saved nothing"))
    }

    async fn touch_unchanged_report(
        &self,
        host: HostId,
        meta: &ReportMeta,
    ) -> Result<ReportId, StoreError> {
        self.touch_unchanged_reports(&[(host, meta.clone())])
            .await?
            .pop()
            .flatten()
            .ok_or_else(|| StoreError::not_found("host", host))
    }

    #[instrument(skip_all, fields(reports = reports.len()))]
    async fn touch_unchanged_reports(
        &self,
        reports: &[(HostId, ReportMeta)],
    ) -> Result<Vec<Option<ReportId>>, StoreError> {
        let mut out = Vec::with_capacity(reports.len());
        let mut tx = self.begin().await?;
        for (host, meta) in reports {
            let now = ts(meta.received_at);
            let row: Option<(i64,)> = sqlx::query_as(
                "INSERT INTO reports (host_id, received_at, processed_at, hash, pkg_count, \
                 changed, via_proxy, proxy_name, site, tag, cve_count, problem_count, problems) \
                 SELECT id, $2, $2, $3, pkg_count, FALSE, $4, $5, $6, $7, cve_count, \
                 report_problem_count, report_problems FROM hosts \
                 WHERE id = $1 AND last_report_hash = $3 AND pending_report IS NULL RETURNING id",
            )
            .bind(host)
            .bind(now)
            .bind(&meta.hash)
            .bind(meta.via_proxy)
            .bind(&meta.proxy_name)
            .bind(&meta.site)
            .bind(&meta.tag)
            .fetch_optional(&mut *tx)
            .await?;
            if row.is_some() {
                sqlx::query(
                    "UPDATE hosts SET last_report_at = MAX(last_report_at, $2) WHERE id = $1",
                )
                .bind(host)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            out.push(row.map(|r| r.0));
        }
        tx.commit().await?;
        Ok(out)
    }

    #[instrument(skip_all, fields(stream = %stream, evaluated = evaluated.len(), findings = findings.len()))]
    async fn store_package_findings(
        &self,
        stream: &str,
        evaluated: &[PackageVersionId],
        findings: &[PackageFinding],
    ) -> Result<(), StoreError> {
        if evaluated.is_empty() && findings.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        store_findings_in(&mut tx, stream, evaluated, findings).await?;
        tx.commit().await?;
        self.caches.add_evaluated(stream, evaluated.iter().copied());
        Ok(())
    }

    async fn host_findings(&self, host: HostId) -> Result<Vec<HostFinding>, StoreError> {
        let mut tx = self.read.begin().await?;
        let row: Option<(Option<String>, Option<Vec<u8>>, String)> = sqlx::query_as(
            "SELECT h.stream, hp.ids, h.old_kernels FROM hosts h \
             LEFT JOIN host_packages hp ON hp.host_id = h.id WHERE h.id = $1",
        )
        .bind(host)
        .fetch_optional(&mut *tx)
        .await?;
        let (stream, blob, old) = row.ok_or_else(|| StoreError::not_found("host", host))?;
        let (Some(stream), Some(blob)) = (stream, blob) else {
            return Ok(Vec::new());
        };
        // Old kernels' findings are not the host's (see `Host::old_kernels`).
        let ids = without_old_kernels(decode_ids(&blob)?, &old_kernel_ids(&old)?);
        let rows: Vec<FindingRow> = sqlx::query_as(&format!(
            "{FINDING_SELECT} WHERE pf.stream = $1 AND pf.package_version_id {} \
             ORDER BY pv.name, pv.version, pv.arch, pv.id, pf.advisory_id",
            in_list(2)
        ))
        .bind(&stream)
        .bind(ids_arg(&ids))
        .fetch_all(&mut *tx)
        .await?;
        let mut adv: Vec<i64> = rows.iter().map(|r| r.advisory_id).collect();
        adv.sort_unstable();
        adv.dedup();
        let mut cves: HashMap<i64, Vec<String>> = HashMap::new();
        if !adv.is_empty() {
            let cve_rows: Vec<(i64, String)> = sqlx::query_as(&format!(
                "SELECT advisory_id, cve FROM advisory_cves WHERE advisory_id {} \
                 ORDER BY advisory_id, ord",
                in_list(1)
            ))
            .bind(ids_arg(&adv))
            .fetch_all(&mut *tx)
            .await?;
            for (a, c) in cve_rows {
                cves.entry(a).or_default().push(c);
            }
        }
        tx.commit().await?;
        rows.into_iter().map(|r| r.into_finding(&cves)).collect()
    }

    async fn host_packages(
        &self,
        host: HostId,
    ) -> Result<Vec<(PackageVersionId, InstalledPackage)>, StoreError> {
        let mut tx = self.read.begin().await?;
        let blob: Option<(Vec<u8>,)> =
            sqlx::query_as("SELECT ids FROM host_packages WHERE host_id = $1")
                .bind(host)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((blob,)) = blob else {
            tx.commit().await?;
            return Ok(Vec::new());
        };
        let ids = decode_ids(&blob)?;
        let rows: Vec<PackageRow> = sqlx::query_as(&format!(
            "SELECT id, name, version, arch, source FROM package_versions WHERE id {} ORDER BY id",
            in_list(1)
        ))
        .bind(ids_arg(&ids))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows.into_iter().map(PackageRow::into_package).collect())
    }

    async fn hosts_with_packages(
        &self,
        stream: &str,
        ids: &[PackageVersionId],
    ) -> Result<Vec<HostId>, StoreError> {
        let wanted: BTreeSet<i64> = ids.iter().copied().collect();
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT h.id, hp.ids FROM hosts h JOIN host_packages hp ON hp.host_id = h.id \
             WHERE h.stream = $1 ORDER BY h.id",
        )
        .bind(stream)
        .fetch_all(&self.read)
        .await?;
        let mut out = Vec::new();
        for (id, blob) in rows {
            if decode_ids(&blob)?.iter().any(|i| wanted.contains(i)) {
                out.push(id);
            }
        }
        Ok(out)
    }

    async fn list_hosts(
        &self,
        filter: &HostFilter,
        sort: HostSort,
        page: Page,
    ) -> Result<HostPage, StoreError> {
        let mut tx = self.read.begin().await?;
        let mut qb = QueryBuilder::<Db>::new(format!("SELECT {HOST_COLUMNS}"));
        host_filter(&mut qb, filter);
        qb.push(" ORDER BY ").push(host_order(sort));
        qb.push(" LIMIT ").push_bind(page.limit.max(0));
        qb.push(" OFFSET ").push_bind(page.offset.max(0));
        let rows: Vec<HostRow> = qb.build_query_as().fetch_all(&mut *tx).await?;
        let mut qb = QueryBuilder::<Db>::new("SELECT COUNT(*)");
        host_filter(&mut qb, filter);
        let (total,): (i64,) = qb.build_query_as().fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(HostPage {
            hosts: rows
                .into_iter()
                .map(HostRow::into_host)
                .collect::<Result<_, _>>()?,
            total,
        })
    }

    async fn get_host(&self, id: HostId) -> Result<Option<Host>, StoreError> {
        sqlx::query_as::<_, HostRow>(&format!(
            "SELECT {HOST_COLUMNS} FROM hosts h LEFT JOIN host_groups g ON g.id = h.group_id \
             WHERE h.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.read)
        .await?
        .map(HostRow::into_host)
        .transpose()
    }

    async fn get_host_by_name(&self, hostname: &str) -> Result<Option<Host>, StoreError> {
        sqlx::query_as::<_, HostRow>(&format!(
            "SELECT {HOST_COLUMNS} FROM hosts h LEFT JOIN host_groups g ON g.id = h.group_id \
             WHERE h.hostname = $1 ORDER BY h.last_report_at DESC, h.id DESC LIMIT 1"
        ))
        .bind(hostname)
        .fetch_optional(&self.read)
        .await?
        .map(HostRow::into_host)
        .transpose()
    }

    #[instrument(skip_all, fields(host_id = id))]
    async fn delete_host(&self, id: HostId) -> Result<bool, StoreError> {
        Ok(sqlx::query("DELETE FROM hosts WHERE id = $1")
            .bind(id)
            .execute(&self.write)
            .await?
            .rows_affected()
            > 0)
    }

    #[instrument(skip_all)]
    async fn prune_reports(&self, older_than: OffsetDateTime) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "DELETE FROM reports WHERE received_at < $1 \
             AND id NOT IN (SELECT MAX(id) FROM reports GROUP BY host_id)",
        )
        .bind(ts(older_than))
        .execute(&self.write)
        .await?
        .rows_affected())
    }

    async fn enqueue_report(
        &self,
        payload: &[u8],
        now: OffsetDateTime,
    ) -> Result<QueueId, StoreError> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO report_queue (payload, enqueued_at) VALUES ($1, $2) RETURNING id",
        )
        .bind(payload)
        .bind(ts(now))
        .fetch_one(&self.write)
        .await?;
        Ok(id)
    }

    #[instrument(skip_all, fields(worker = %worker, n = n))]
    async fn claim_reports(
        &self,
        worker: &str,
        n: i64,
        lease: Duration,
        now: OffsetDateTime,
    ) -> Result<Vec<QueuedReport>, StoreError> {
        let mut rows: Vec<(i64, Vec<u8>, i64)> = sqlx::query_as(CLAIM_SQL)
            .bind(worker)
            .bind(ts(now + lease))
            .bind(ts(now))
            .bind(n.max(0))
            .fetch_all(&self.write)
            .await?;
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

    async fn complete_report(&self, id: QueueId) -> Result<bool, StoreError> {
        Ok(sqlx::query("DELETE FROM report_queue WHERE id = $1")
            .bind(id)
            .execute(&self.write)
            .await?
            .rows_affected()
            > 0)
    }

    async fn queue_len(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM report_queue")
            .fetch_one(&self.read)
            .await?;
        Ok(n)
    }

    policy_store_impl!(write, read);

    // ---- batched ingest ----

    batch_store_impl!();

    crate::users::users_impl!(write, read, "");

    fleet_store_impl!(read);

    crate::repos::repo_store_impl!(write, read);

    crate::refused::refused_impl!(read);

    crate::identity::identity_impl!(read);
}

async fn insert_run(
    tx: &mut Tx,
    feed: FeedId,
    sync: &SyncRecord,
    advisories: i64,
    affected: i64,
    changed: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO feed_runs (feed_id, started_at, status, error, duration_ms, advisory_count, \
         affected_count, changed_keys, etag, last_modified, checksum) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(feed)
    .bind(ts(sync.at))
    .bind(sync.status.as_str())
    .bind(&sync.error)
    .bind(sync.duration_ms)
    .bind(advisories)
    .bind(affected)
    .bind(changed)
    .bind(&sync.etag)
    .bind(&sync.last_modified)
    .bind(&sync.checksum)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
