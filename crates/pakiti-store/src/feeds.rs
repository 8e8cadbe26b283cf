//! Feeds: their settings and sync history, replacing a feed's advisories (ids kept for
//! unchanged ones, changed keys marked stale), stale keys. Loading the advisories: `advisories.rs`.

use crate::db::{Db, Tx, is_unique_violation, on};
use crate::error::StoreError;
use crate::model::{
    Feed, FeedContent, FeedId, FeedRun, FeedUpdate, NewFeed, PackageVersionId, ReplaceOutcome,
    StaleKeys, StreamPackage, SyncRecord, SyncStatus,
};
use crate::shared::{
    ExistingAdvisory, FEED_COLUMNS, FeedRow, FeedRunRow, PackageRow, advisory_keys, advisory_row,
    affected_rows, plan_replace, ts,
};
use crate::store::Store;
use pakiti_core::advisory::Advisory;
use pakiti_core::package::InstalledPackage;
use sqlx::QueryBuilder;
use std::collections::{BTreeSet, HashMap};
use time::OffsetDateTime;
use tracing::instrument;

/// Records on a feed's or repository's row (`table`) a sync that imported nothing (failed or
/// unchanged): when, how it went, and the validators, keeping the stored ones where the sync
/// has none. `false` when no row has that id.
pub(crate) async fn record_sync_in(
    tx: &mut Tx,
    table: &'static str,
    id: i64,
    sync: &SyncRecord,
) -> Result<bool, StoreError> {
    let n = on!(&mut *tx, t => sqlx::query(&format!(
        "UPDATE {table} SET last_sync_at = $2, last_status = $3, last_error = $4, \
         last_duration_ms = $5, etag = COALESCE($6, etag), \
         last_modified = COALESCE($7, last_modified), checksum = COALESCE($8, checksum) \
         WHERE id = $1"
    ))
    .bind(id)
    .bind(ts(sync.at))
    .bind(sync.status.as_str())
    .bind(&sync.error)
    .bind(sync.duration_ms)
    .bind(&sync.etag)
    .bind(&sync.last_modified)
    .bind(&sync.checksum)
    .execute(&mut **t).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

async fn mark_feed_keys_stale(tx: &mut Tx, feed: FeedId) -> Result<(), StoreError> {
    let seq = next_stale_seq(tx).await?;
    on!(&mut *tx, t => sqlx::query(
        "INSERT INTO stale_keys (stream, package, seq) \
         SELECT DISTINCT af.stream, af.package, $2 FROM affected af \
         JOIN advisories a ON a.id = af.advisory_id WHERE a.feed_id = $1 \
         ON CONFLICT (stream, package) DO UPDATE SET seq = excluded.seq",
    )
    .bind(feed)
    .bind(seq)
    .execute(&mut **t).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Bumps the feed generation (migration 0009) and returns it: the sequence number of the
/// stale keys this transaction marks.
async fn next_stale_seq(tx: &mut Tx) -> Result<i64, StoreError> {
    let (seq,): (i64,) = on!(&mut *tx, t => sqlx::query_as(
        "UPDATE feed_generation SET generation = generation + 1 WHERE id = 1 \
         RETURNING generation",
    )
    .fetch_one(&mut **t).await)?;
    Ok(seq)
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
    for chunk in cves.chunks(tx.max_binds() / 3) {
        on!(&mut *tx, t => {
            let mut qb = QueryBuilder::<DB>::new("INSERT INTO advisory_cves (advisory_id, ord, cve) ");
            qb.push_values(chunk, |mut b, (id, ord, cve)| {
                b.push_bind(*id).push_bind(*ord).push_bind(*cve);
            });
            qb.build().execute(&mut **t).await.map(|r| r.rows_affected())
        })?;
    }
    let count = affected.len();
    for chunk in affected.chunks(tx.max_binds() / 11) {
        on!(&mut *tx, t => {
            let mut qb = QueryBuilder::<DB>::new(
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
            qb.build().execute(&mut **t).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(i64::try_from(count).unwrap_or(i64::MAX))
}

pub(crate) async fn insert_run(
    tx: &mut Tx,
    feed: FeedId,
    sync: &SyncRecord,
    advisories: i64,
    affected: i64,
    changed: i64,
) -> Result<(), StoreError> {
    on!(&mut *tx, t => sqlx::query(
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
    .execute(&mut **t).await.map(|r| r.rows_affected()))?;
    Ok(())
}

impl Store {
    /// Creates a feed.
    #[instrument(skip_all, fields(feed = %feed.name))]
    pub async fn create_feed(&self, feed: &NewFeed) -> Result<Feed, StoreError> {
        let res = on!(&self.write, p => sqlx::query_as::<_, FeedRow>(&format!(
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
        .fetch_one(p).await);
        match res {
            Ok(row) => row.into_feed(),
            Err(e) if is_unique_violation(&e) => Err(StoreError::DuplicateFeed(feed.name.clone())),
            Err(e) => Err(e.into()),
        }
    }

    /// One feed.
    pub async fn get_feed(&self, id: FeedId) -> Result<Option<Feed>, StoreError> {
        on!(&self.read, p => sqlx::query_as::<_, FeedRow>(&format!("SELECT {FEED_COLUMNS} FROM feeds WHERE id = $1"))
            .bind(id)
            .fetch_optional(p).await)?
            .map(FeedRow::into_feed)
            .transpose()
    }

    /// All feeds, by name.
    pub async fn list_feeds(&self) -> Result<Vec<Feed>, StoreError> {
        on!(&self.read, p => sqlx::query_as::<_, FeedRow>(&format!("SELECT {FEED_COLUMNS} FROM feeds ORDER BY name"))
            .fetch_all(p).await)?
            .into_iter()
            .map(FeedRow::into_feed)
            .collect()
    }

    /// Changes a feed's settings. Enabling or disabling it marks all its keys stale.
    #[instrument(skip_all, fields(feed_id = id))]
    pub async fn update_feed(&self, id: FeedId, update: &FeedUpdate) -> Result<Feed, StoreError> {
        let mut tx = self.begin().await?;
        let current = on!(&mut tx, t => sqlx::query_as::<_, FeedRow>(&format!(
            "SELECT {FEED_COLUMNS} FROM feeds WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut **t).await)?
        .ok_or_else(|| StoreError::not_found("feed", id))?;
        let enabled = update.enabled.unwrap_or(current.enabled);
        let row = on!(&mut tx, t => sqlx::query_as::<_, FeedRow>(&format!(
            "UPDATE feeds SET url = $2, stream = $3, enabled = $4, interval_secs = $5 \
             WHERE id = $1 RETURNING {FEED_COLUMNS}"
        ))
        .bind(id)
        .bind(update.url.as_ref().unwrap_or(&current.url))
        .bind(update.stream.as_ref().unwrap_or(&current.stream))
        .bind(enabled)
        .bind(update.interval_secs.unwrap_or(current.interval_secs))
        .fetch_one(&mut **t).await)?;
        if enabled != current.enabled {
            mark_feed_keys_stale(&mut tx, id).await?;
        }
        tx.commit().await?;
        row.into_feed()
    }

    /// Deletes a feed and its advisories (marking their keys stale); `false` if it did not exist.
    #[instrument(skip_all, fields(feed_id = id))]
    pub async fn delete_feed(&self, id: FeedId) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        mark_feed_keys_stale(&mut tx, id).await?;
        let done = on!(&mut tx, t => sqlx::query("DELETE FROM feeds WHERE id = $1")
            .bind(id)
            .execute(&mut **t).await.map(|r| r.rows_affected()))?
            > 0;
        tx.commit().await?;
        Ok(done)
    }

    /// The feed's sync history, newest first.
    pub async fn feed_runs(&self, id: FeedId, limit: i64) -> Result<Vec<FeedRun>, StoreError> {
        on!(&self.read, p => sqlx::query_as::<_, FeedRunRow>(
            "SELECT started_at, status, error, duration_ms, advisory_count, affected_count, \
             changed_keys, etag, last_modified, checksum FROM feed_runs \
             WHERE feed_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(id)
        .bind(limit)
        .fetch_all(p).await)?
        .into_iter()
        .map(FeedRunRow::into_run)
        .collect()
    }

    /// Replaces the feed's advisories with `advisories` in one transaction, records the sync on
    /// the feed and in its history, and marks the (stream, package) keys whose entries changed
    /// as stale. Unchanged advisories keep their ids (and their findings).
    #[instrument(skip_all, fields(feed_id = id, advisories = advisories.len()))]
    pub async fn replace_feed_advisories(
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
        if let Db::Postgres(t) = &mut tx {
            // Lock the generation row before touching advisories: finishing batches
            // share-lock it before they insert findings (`Dialect::GENERATION_CHECK`), so
            // taking it first cannot deadlock with them. SQLite's one writer needs no lock.
            sqlx::query("SELECT generation FROM feed_generation WHERE id = 1 FOR UPDATE")
                .execute(&mut **t)
                .await?;
        }
        if on!(&mut tx, t => sqlx::query_as::<_, (i64,)>("SELECT id FROM feeds WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **t).await)?
        .is_none()
        {
            return Err(StoreError::not_found("feed", id));
        }
        let existing: Vec<ExistingAdvisory> =
            on!(&mut tx, t => sqlx::query_as::<_, (i64, String, i64, i64)>(
            "SELECT id, vendor_id, dup, digest FROM advisories WHERE feed_id = $1",
        )
        .bind(id)
        .fetch_all(&mut **t).await)?
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
            let old: Vec<(String, String)> = on!(&mut tx, t => sqlx::query_as(&format!(
                "SELECT DISTINCT stream, package FROM affected WHERE advisory_id {}",
                DB::in_list(1)
            ))
            .bind(DB::ids(&gone))
            .fetch_all(&mut **t).await)?;
            keys.extend(
                old.into_iter()
                    .map(|(stream, package)| StreamPackage { stream, package }),
            );
        }
        if !plan.remove.is_empty() {
            on!(&mut tx, t => sqlx::query(&format!("DELETE FROM advisories WHERE id {}", DB::in_list(1)))
                .bind(DB::ids(&plan.remove))
                .execute(&mut **t).await.map(|r| r.rows_affected()))?;
        }
        let mut bodies: Vec<(i64, &Advisory)> = Vec::new();
        if !plan.update.is_empty() {
            let changed: Vec<i64> = plan.update.iter().map(|u| u.0).collect();
            for table in ["affected", "advisory_cves", "package_findings"] {
                on!(&mut tx, t => sqlx::query(&format!(
                    "DELETE FROM {table} WHERE advisory_id {}",
                    DB::in_list(1)
                ))
                .bind(DB::ids(&changed))
                .execute(&mut **t).await.map(|r| r.rows_affected()))?;
            }
            for &(aid, a, dup) in &plan.update {
                let r = advisory_row(a, dup)?;
                on!(&mut tx, t => sqlx::query(
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
                .execute(&mut **t).await.map(|r| r.rows_affected()))?;
                bodies.push((aid, a));
            }
        }
        for chunk in plan.insert.chunks(tx.max_binds() / 10) {
            let rows = chunk
                .iter()
                .map(|(a, dup)| advisory_row(a, *dup))
                .collect::<Result<Vec<_>, _>>()?;
            let returned: Vec<(i64, String, i64)> = on!(&mut tx, t => {
                let mut qb = QueryBuilder::<DB>::new(
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
                qb.build_query_as().fetch_all(&mut **t).await
            })?;
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
            for chunk in changed_keys.chunks(tx.max_binds() / 3) {
                on!(&mut tx, t => {
                    let mut qb =
                        QueryBuilder::<DB>::new("INSERT INTO stale_keys (stream, package, seq) ");
                    qb.push_values(chunk, |mut b, k| {
                        b.push_bind(k.stream.as_str())
                            .push_bind(k.package.as_str())
                            .push_bind(seq);
                    });
                    qb.push(" ON CONFLICT (stream, package) DO UPDATE SET seq = excluded.seq");
                    qb.build().execute(&mut **t).await.map(|r| r.rows_affected())
                })?;
            }
        }
        let advisory_count = i64::try_from(advisories.len()).unwrap_or(i64::MAX);
        let affected_count = i64::try_from(affected_total).unwrap_or(i64::MAX);
        let changed_count = i64::try_from(changed_keys.len()).unwrap_or(i64::MAX);
        on!(&mut tx, t => sqlx::query(
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
        .execute(&mut **t).await.map(|r| r.rows_affected()))?;
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

    /// Records a sync that imported nothing (`Failed` or `Unchanged`); the stored advisories
    /// stay as they are. A `None` etag/last-modified/checksum keeps the stored one.
    #[instrument(skip_all, fields(feed_id = id, status = sync.status.as_str()))]
    pub async fn record_feed_sync(&self, id: FeedId, sync: &SyncRecord) -> Result<(), StoreError> {
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

    /// Records what the feed's last successful import was (see [`FeedContent`]).
    pub async fn set_feed_content(
        &self,
        id: FeedId,
        content: &FeedContent,
    ) -> Result<(), StoreError> {
        let done = on!(&self.write, p => sqlx::query(
            "UPDATE feeds SET content_kind = $2, content_key = $3, last_source = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(&content.kind)
        .bind(&content.key)
        .bind(&content.source)
        .execute(p).await.map(|r| r.rows_affected()))?;
        if done == 0 {
            return Err(StoreError::not_found("feed", id));
        }
        Ok(())
    }

    /// The keys awaiting re-evaluation.
    pub async fn stale_keys(&self) -> Result<StaleKeys, StoreError> {
        let rows: Vec<(String, String, i64)> = on!(&self.read, p => sqlx::query_as("SELECT stream, package, seq FROM stale_keys ORDER BY stream, package")
                .fetch_all(p).await)?;
        let seq = rows.iter().map(|r| r.2).max().unwrap_or(0);
        Ok(StaleKeys {
            keys: rows
                .into_iter()
                .map(|(stream, package, _)| StreamPackage { stream, package })
                .collect(),
            seq,
        })
    }

    /// Forgets stale keys marked up to `seq` (from [`StaleKeys::seq`]).
    pub async fn clear_stale_keys(&self, seq: i64) -> Result<(), StoreError> {
        on!(&self.write, p => sqlx::query("DELETE FROM stale_keys WHERE seq <= $1")
            .bind(seq)
            .execute(p).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Evaluated package versions of `stream` whose binary or source name is in `names` (what a
    /// stale key asks to re-evaluate).
    pub async fn evaluated_package_versions(
        &self,
        stream: &str,
        names: &[String],
    ) -> Result<Vec<(PackageVersionId, InstalledPackage)>, StoreError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<PackageRow> = on!(&self.read, p => sqlx::query_as(&format!(
            "SELECT pv.id, pv.name, pv.version, pv.arch, pv.source FROM package_versions pv \
             JOIN evaluated_packages e ON e.package_version_id = pv.id AND e.stream = $1 \
             WHERE pv.name {l} OR pv.source {l} ORDER BY pv.id",
            l = DB::in_list(2)
        ))
        .bind(stream)
        .bind(DB::strs(names))
        .fetch_all(p).await)?;
        Ok(rows.into_iter().map(PackageRow::into_package).collect())
    }

    /// The feed generation: bumped by every change to what the advisories say, and the
    /// sequence number of the stale keys that change marked.
    pub async fn feed_generation(&self) -> Result<i64, StoreError> {
        let mut tx = self.begin_read().await?;
        let (g,): (i64,) = on!(&mut tx, t => sqlx::query_as("SELECT generation FROM feed_generation WHERE id = 1")
                .fetch_one(&mut **t).await)?;
        tx.commit().await?;
        Ok(g)
    }
}
