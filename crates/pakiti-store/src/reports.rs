//! Reports: saving changed ones in batches (interning packages and host groups in one global
//! order), the unchanged path (one `INSERT … SELECT … FROM hosts` per report), finishing an
//! evaluated report, pending evaluations, pruning and history.

use crate::cache::Caches;
use crate::cache::package_cache_key;
use crate::codec::encode_ids;
use crate::db::{Conn, Db, Tx, on};
use crate::error::StoreError;
use crate::findings::{store_findings_in, write_counts_in};
use crate::model::{
    FinishReport, HostId, HostIdentity, HostState, NewReport, ReportId, ReportMeta, ReportSummary,
    SavedReport,
};
use crate::shared::{ReportSummaryRow, old_kernels_text, package_key, ts};
use crate::store::Store;
use crate::{postgres, sqlite};
use std::collections::{BTreeSet, HashMap};
use time::OffsetDateTime;
use tracing::instrument;

/// What a saved report adds to the process caches once its transaction commits.
struct CacheAdds {
    evaluated: Option<(String, Vec<i64>)>,
}

/// What a batch of reports needs interned before any of them is saved: their package
/// versions and host groups, each set interned once in one sorted order.
///
/// Concurrent batches (PostgreSQL runs several) wait on each other's new unique-index
/// entries; if each batch interned report after report, two batches could each hold a row
/// the other wants next and deadlock (`deadlock detected` in `save_reports`). Interning the
/// union of a batch in sorted order, then saving hosts in sorted order, makes every
/// transaction take these locks in the same global order, so they queue instead.
struct Prepared<'r> {
    /// The id of every package version of the batch (cached or interned now).
    packages: PackageIds<'r>,
    /// The cache entries of those interned now, added once the transaction commits.
    fresh: Vec<(Box<[u8]>, i64)>,
    groups: HashMap<&'r str, i64>,
}

/// Package versions by (name, version, arch, source). The keys are the agents' strings: a
/// seeded hasher (foldhash), not an unseeded one a sender could flood with collisions.
type PackageIds<'r> =
    HashMap<(&'r str, &'r str, &'r str, &'r str), i64, foldhash::fast::RandomState>;

async fn prepare_batch<'r>(
    tx: &mut Tx,
    caches: &Caches,
    reports: &'r [NewReport<'_>],
) -> Result<Prepared<'r>, StoreError> {
    // Distinct keys by hashing them into the id map (sorting a batch's thousands of string
    // tuples cost more than the rest of the lookup); each gets its id below, cached or
    // interned. Only the misses need the global order.
    let mut packages = PackageIds::default();
    let keys: Vec<(&'r str, &'r str, &'r str, &'r str)> = reports
        .iter()
        .flat_map(|r| r.packages.iter().map(package_key))
        .filter(|k| packages.insert(*k, 0).is_none())
        .collect();
    let cache_keys: Vec<Box<[u8]>> = keys.iter().map(package_cache_key).collect();
    let mut misses: Vec<usize> = Vec::new();
    for (i, cached) in caches.package_ids(&cache_keys).into_iter().enumerate() {
        match cached {
            Some(id) => {
                packages.insert(keys[i], id);
            }
            None => misses.push(i),
        }
    }
    let mut fresh = Vec::with_capacity(misses.len());
    if !misses.is_empty() {
        // In sorted order: one global order, so that concurrent transactions (PostgreSQL)
        // wait on each other's new rows instead of deadlocking.
        misses.sort_unstable_by_key(|&i| keys[i]);
        let wanted: Vec<(&str, &str, &str, &str)> = misses.iter().map(|&i| keys[i]).collect();
        for (&i, id) in misses.iter().zip(intern_packages(tx, &wanted).await?) {
            packages.insert(keys[i], id);
            fresh.push((cache_keys[i].clone(), id));
        }
    }
    let mut names: Vec<&'r str> = reports
        .iter()
        .filter_map(|r| r.facts.group.as_deref())
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut groups = HashMap::with_capacity(names.len());
    for g in names {
        groups.insert(g, group_id_in(tx, g).await?);
    }
    Ok(Prepared {
        packages,
        fresh,
        groups,
    })
}

/// The order a batch's reports are saved in: by host name (then client id), the same in
/// every transaction, so that concurrent batches lock host rows in one order.
fn save_order(reports: &[NewReport<'_>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..reports.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (reports[a].identity, reports[b].identity);
        (&x.hostname, &x.client_id).cmp(&(&y.hostname, &y.client_id))
    });
    order
}

/// Saves one changed (or first) report inside `tx`.
async fn save_in(
    tx: &mut Tx,
    caches: &Caches,
    pre: &Prepared<'_>,
    report: &NewReport<'_>,
) -> Result<(SavedReport, CacheAdds), StoreError> {
    let (identity, facts, meta) = (report.identity, report.facts, report.meta);
    if identity.hostname.is_empty() {
        return Err(StoreError::Invalid("empty hostname".into()));
    }
    // Each package's id (every key of the batch has one in `pre`), and the distinct ids in
    // first-seen order: the stored installed set. Distinct keys are distinct ids (interning
    // is unique), so the ids are deduplicated, not the keys.
    let package_ids: Vec<i64> = report
        .packages
        .iter()
        .map(|p| {
            pre.packages.get(&package_key(p)).copied().ok_or_else(|| {
                StoreError::corrupt("package_versions", "a batch key was not interned")
            })
        })
        .collect::<Result<_, _>>()?;
    let mut seen = rustc_hash::FxHashSet::default();
    let ids: Vec<i64> = package_ids
        .iter()
        .copied()
        .filter(|id| seen.insert(*id))
        .collect();
    let stream = facts.stream.as_ref().map(ToString::to_string);
    let now = ts(meta.received_at);

    let group_id: Option<i64> = match &facts.group {
        None => None,
        Some(g) => Some(match pre.groups.get(g.as_str()) {
            Some(&id) => id,
            None => group_id_in(tx, g).await?,
        }),
    };
    let blob = encode_ids(&ids);
    let pkg_count = i64::try_from(ids.len()).unwrap_or(i64::MAX);

    let mut new_host = false;
    let mut host_id = find_host(tx.conn(), identity).await?.map(|h| h.id);
    if host_id.is_none() {
        host_id = on!(&mut *tx, t => sqlx::query_as::<_, (i64,)>(
            "INSERT INTO hosts (hostname, client_id, first_seen, last_report_at, os_name, \
             arch, kernel, packager) VALUES ($1, $2, $3, $3, '', '', '', '') \
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(&identity.hostname)
        .bind(&identity.client_id)
        .bind(now)
        .fetch_optional(&mut **t).await)?
        .map(|r| r.0);
        new_host = host_id.is_some();
        if host_id.is_none() {
            // Another process created it between our lookup and insert.
            host_id = find_host(tx.conn(), identity).await?.map(|h| h.id);
        }
    }
    let host_id = host_id.ok_or_else(|| StoreError::corrupt("hosts", "host upsert lost"))?;
    let (report_id,): (i64,) = on!(&mut *tx, t => sqlx::query_as(
        "INSERT INTO reports (host_id, received_at, hash, pkg_count, changed, via_proxy, \
         proxy_name, site, tag, problem_count, problems) \
         VALUES ($1, $2, $3, $4, TRUE, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(host_id)
    .bind(now)
    .bind(&meta.hash)
    .bind(pkg_count)
    .bind(meta.via_proxy)
    .bind(&meta.proxy_name)
    .bind(&meta.site)
    .bind(&meta.tag)
    .bind(facts.problems.count)
    .bind(facts.problems.encode_lines())
    .fetch_one(&mut **t).await)?;
    // The report is pending until the transaction that writes its evaluation clears the mark
    // (`finish_in`): a server that dies in between leaves the mark for the next one to find.
    on!(&mut *tx, t => sqlx::query(
        "UPDATE hosts SET hostname = $2, client_id = COALESCE($3, client_id), group_id = $4, \
         domain = $5, os_name = $6, stream = $7, arch = $8, kernel = $9, tag = $10, \
         packager = $11, reboot_needed = $12, last_report_at = $13, last_report_hash = $14, \
         pkg_count = $15, modules = $16, module_streams = $17, old_kernels = $18, \
         pending_report = $19, report_problem_count = $20, report_problems = $21, \
         retired_at = NULL WHERE id = $1",
    )
    .bind(host_id)
    .bind(&identity.hostname)
    .bind(&identity.client_id)
    .bind(group_id)
    .bind(&facts.domain)
    .bind(&facts.os_name)
    .bind(&stream)
    .bind(&facts.arch)
    .bind(&facts.kernel)
    .bind(&facts.tag)
    .bind(&facts.packager)
    .bind(facts.reboot_needed)
    .bind(now)
    // A host whose module streams are unknown is processed in full at every report (no hash,
    // so never only touched): its streams are inferred again against the feeds then in force.
    .bind((facts.module_streams != crate::model::ModuleStreams::Unknown).then_some(&meta.hash))
    .bind(pkg_count)
    .bind(facts.modules.join(" "))
    .bind(facts.module_streams.as_str())
    .bind(old_kernels_text(
        &facts.old_kernels,
        &package_ids,
    ))
    .bind(report_id)
    .bind(facts.problems.count)
    .bind(facts.problems.encode_lines())
    .execute(&mut **t).await.map(|r| r.rows_affected()))?;
    // The report's own list, for exact report diffs (pruned to the newest N per host): the
    // list before it becomes a reverse delta against it (read before it is replaced below).
    crate::history::write_report_packages_in(tx, host_id, report_id, &blob).await?;
    on!(&mut *tx, t => sqlx::query(
        "INSERT INTO host_packages (host_id, ids) VALUES ($1, $2) \
         ON CONFLICT (host_id) DO UPDATE SET ids = excluded.ids",
    )
    .bind(host_id)
    .bind(&blob)
    .execute(&mut **t).await.map(|r| r.rows_affected()))?;
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    let mut evaluated = None;
    let unevaluated = match &stream {
        Some(s) => {
            let unknown = caches.not_known_evaluated(s, &sorted);
            if unknown.is_empty() {
                Vec::new()
            } else {
                // One aggregated text row, not a row per id (after a restart every version
                // of a report misses the cache).
                let (done,): (Option<String>,) = on!(&mut *tx, t => sqlx::query_as(&format!(
                    "SELECT {} h.id) FROM (SELECT package_version_id AS id \
                     FROM evaluated_packages WHERE stream = $1 AND package_version_id {}) h",
                    <DB as crate::db::Dialect>::ID_AGG_OPEN,
                    DB::in_list(2)
                ))
                .bind(s)
                .bind(DB::ids(&unknown))
                .fetch_one(&mut **t).await)?;
                let done_now = crate::hosts::parse_id_list(done.as_deref())?;
                let done: BTreeSet<i64> = done_now.iter().copied().collect();
                evaluated = Some((s.clone(), done_now));
                unknown
                    .into_iter()
                    .filter(|id| !done.contains(id))
                    .collect()
            }
        }
        None => Vec::new(),
    };
    let adds = CacheAdds { evaluated };
    Ok((
        SavedReport {
            host_id,
            new_host,
            report_id,
            package_ids,
            unevaluated,
        },
        adds,
    ))
}

/// The id of host group `name`, created if missing. Reads first and inserts with
/// `DO NOTHING`: an upsert that updates would lock the group's row until commit and serialize
/// every concurrent report of the group.
async fn group_id_in(tx: &mut Tx, name: &str) -> Result<i64, StoreError> {
    const SELECT: &str = "SELECT id FROM host_groups WHERE name = $1";
    if let Some((id,)) = on!(&mut *tx, t => sqlx::query_as::<_, (i64,)>(SELECT)
        .bind(name)
        .fetch_optional(&mut **t).await)?
    {
        return Ok(id);
    }
    if let Some((id,)) = on!(&mut *tx, t => sqlx::query_as::<_, (i64,)>(
        "INSERT INTO host_groups (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id",
    )
    .bind(name)
    .fetch_optional(&mut **t).await)?
    {
        return Ok(id);
    }
    let (id,) = on!(&mut *tx, t => sqlx::query_as::<_, (i64,)>(SELECT)
        .bind(name)
        .fetch_one(&mut **t).await)?;
    Ok(id)
}

fn apply_cache_adds(caches: &Caches, adds: Vec<CacheAdds>) {
    for a in adds {
        if let Some((s, done)) = a.evaluated {
            caches.add_evaluated(&s, done);
        }
    }
}

/// Writes one evaluated report's results inside `tx`.
async fn finish_in(
    tx: &mut Tx,
    caches: &Caches,
    item: &FinishReport,
    details: &crate::cache::DetailIds,
) -> Result<(), StoreError> {
    if let Some(stream) = &item.stream
        && (!item.evaluated.is_empty() || !item.findings.is_empty())
    {
        store_findings_in(tx, stream, &item.evaluated, &item.findings).await?;
    }
    // One statement for the host's row: its counts, its update counts and the pending mark
    // cleared. They are the host's only while no newer report of it awaits evaluation (that
    // one writes its own); the row's `pending_report` is re-checked under its lock.
    let current = write_counts_in(
        tx,
        item.host,
        &item.counts,
        Some(item.report),
        item.updates.as_ref(),
    )
    .await?;
    // The exposure history follows the counts, in the same transaction.
    if current && let Some(now) = &item.exposures {
        let ctx = crate::ExposureContext {
            at: item.processed_at,
            cause: crate::ExposureCause::Report,
            report: Some(item.report),
            generation: item.generation.unwrap_or(0),
        };
        crate::history::sync_exposures_in(tx, caches, item.host, now, details, &ctx).await?;
    }
    let n = on!(&mut *tx, t => sqlx::query("UPDATE reports SET processed_at = $2, cve_count = $3 WHERE id = $1")
        .bind(item.report)
        .bind(ts(item.processed_at))
        .bind(item.counts.cves)
        .execute(&mut **t).await.map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(StoreError::not_found("report", item.report));
    }
    Ok(())
}

async fn find_host(
    mut conn: Conn<'_>,
    identity: &HostIdentity,
) -> Result<Option<HostState>, StoreError> {
    const COLS: &str = "SELECT id, last_report_hash, stream FROM hosts";
    if let Some(cid) = &identity.client_id {
        let row: Option<(i64, Option<String>, Option<String>)> = on!(&mut conn, c => sqlx::query_as(&format!("{COLS} WHERE client_id = $1"))
                .bind(cid)
                .fetch_optional(&mut **c).await)?;
        if let Some((id, last_report_hash, stream)) = row {
            return Ok(Some(HostState {
                id,
                last_report_hash,
                stream,
            }));
        }
    }
    // A host first seen without a client id is adopted by the first report that has one.
    let row: Option<(i64, Option<String>, Option<String>)> = on!(&mut conn, c => sqlx::query_as(&format!("{COLS} WHERE hostname = $1 AND client_id IS NULL"))
            .bind(&identity.hostname)
            .fetch_optional(&mut **c).await)?;
    Ok(row.map(|(id, last_report_hash, stream)| HostState {
        id,
        last_report_hash,
        stream,
    }))
}

impl Store {
    /// The host a report from `identity` belongs to, if it exists.
    pub async fn host_state(
        &self,
        identity: &HostIdentity,
    ) -> Result<Option<HostState>, StoreError> {
        let mut conn = self.read.acquire().await?;
        find_host(conn.conn(), identity).await
    }

    /// Saves a changed (or first) report: upserts the host, interns its packages, stores its
    /// installed set and a report row, and says which package versions still need matching.
    #[instrument(skip_all, fields(hostname = %report.identity.hostname, packages = report.packages.len()))]
    pub async fn save_report(&self, report: NewReport<'_>) -> Result<SavedReport, StoreError> {
        let mut out = self.save_reports(&[report]).await?;
        out.pop()
            .ok_or_else(|| StoreError::corrupt("reports", "batch of one saved nothing"))
    }

    /// The cheap path for a report whose hash equals the host's last: a report row and
    /// `last_report_at`, nothing else.
    pub async fn touch_unchanged_report(
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

    /// The unchanged path for many reports in one transaction (one fsync): what a server
    /// under load uses to group-commit. `out[i]` is `None` when `reports[i]`'s host no longer
    /// exists, its last saved report no longer has `reports[i]`'s hash (another report, or
    /// another server, changed it since the caller looked), or that report's evaluation never
    /// finished ([`Host::evaluation_pending`](crate::Host::evaluation_pending)): the caller then saves the report in full.
    #[instrument(skip_all, fields(reports = reports.len()))]
    pub async fn touch_unchanged_reports(
        &self,
        reports: &[(HostId, ReportMeta)],
    ) -> Result<Vec<Option<ReportId>>, StoreError> {
        let mut out = Vec::with_capacity(reports.len());
        let mut tx = self.begin().await?;
        for (host, meta) in reports {
            let now = ts(meta.received_at);
            let row: Option<(i64,)> = on!(&mut tx, t => sqlx::query_as(
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
            .fetch_optional(&mut **t).await)?;
            if row.is_some() {
                on!(&mut tx, t => sqlx::query(
                    &format!("UPDATE hosts SET last_report_at = {}(last_report_at, $2), retired_at = NULL WHERE id = $1", DB::GREATEST),
                )
                .bind(host)
                .bind(now)
                .execute(&mut **t).await.map(|r| r.rows_affected()))?;
            }
            out.push(row.map(|r| r.0));
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Saves several changed (or first) reports in one transaction — one commit, one fsync —
    /// as [`Store::save_report`] would one by one. All or nothing: on an error none is saved
    /// (the caller retries them one by one to find the culprit).
    #[instrument(skip_all, fields(reports = reports.len()))]
    pub async fn save_reports(
        &self,
        reports: &[NewReport<'_>],
    ) -> Result<Vec<SavedReport>, StoreError> {
        let mut tx = self.begin().await?;
        let pre = prepare_batch(&mut tx, &self.caches, reports).await?;
        let mut out: Vec<Option<SavedReport>> = (0..reports.len()).map(|_| None).collect();
        let mut adds = Vec::with_capacity(reports.len());
        for i in save_order(reports) {
            let (saved, add) = save_in(&mut tx, &self.caches, &pre, &reports[i]).await?;
            out[i] = Some(saved);
            adds.push(add);
        }
        tx.commit().await?;
        self.caches.add_packages(pre.fresh);
        apply_cache_adds(&self.caches, adds);
        Ok(out.into_iter().flatten().collect())
    }

    /// Writes evaluated reports' results in one transaction: the findings of the package
    /// versions each evaluated (replacing earlier answers), the host's counts, and the report
    /// marked processed with its CVE count. All or nothing.
    ///
    /// An item whose [`FinishReport::generation`] is older than the store's feed generation
    /// (a feed changed after its evaluator was built) is not written; the answer says, per
    /// item, whether it was.
    #[instrument(skip_all, fields(reports = items.len()))]
    pub async fn finish_reports(&self, items: &[FinishReport]) -> Result<Vec<bool>, StoreError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        // The exposures' details are interned (and committed) before the sets that name them.
        let details = self
            .intern_details(items.iter().flat_map(|i| i.exposures.iter().flatten()))
            .await?;
        let mut tx = self.begin().await?;
        let (current,): (i64,) = on!(&mut tx, t => sqlx::query_as(DB::GENERATION_CHECK)
            .fetch_one(&mut **t).await)?;
        let mut written = Vec::with_capacity(items.len());
        for item in items {
            // Answers from an index older than the feeds: write nothing, the caller
            // evaluates again with a current one.
            let ok = item.generation.is_none_or(|g| g >= current);
            if ok {
                finish_in(&mut tx, &self.caches, item, &details).await?;
            }
            written.push(ok);
        }
        tx.commit().await?;
        for (item, ok) in items.iter().zip(&written) {
            if let (Some(s), true) = (&item.stream, ok) {
                self.caches.add_evaluated(s, item.evaluated.iter().copied());
            }
        }
        Ok(written)
    }

    /// Hosts whose last saved report was never evaluated ([`Host::evaluation_pending`](crate::Host::evaluation_pending)): the
    /// host and that report, by host id.
    pub async fn pending_evaluations(&self) -> Result<Vec<(HostId, ReportId)>, StoreError> {
        let mut tx = self.begin_read().await?;
        let rows: Vec<(i64, i64)> = on!(&mut tx, t => sqlx::query_as(
            "SELECT id, pending_report FROM hosts WHERE pending_report IS NOT NULL ORDER BY id",
        )
        .fetch_all(&mut **t).await)?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Deletes reports received before `older_than`, except each host's latest; returns how
    /// many were deleted.
    #[instrument(skip_all)]
    pub async fn prune_reports(&self, older_than: OffsetDateTime) -> Result<u64, StoreError> {
        Ok(on!(&self.write, p => sqlx::query(
            "DELETE FROM reports WHERE received_at < $1 \
             AND id NOT IN (SELECT MAX(id) FROM reports GROUP BY host_id)",
        )
        .bind(ts(older_than))
        .execute(p).await.map(|r| r.rows_affected()))?)
    }

    /// A host's reports, newest first.
    pub async fn host_reports(
        &self,
        host: HostId,
        limit: i64,
    ) -> Result<Vec<ReportSummary>, StoreError> {
        let rows: Vec<ReportSummaryRow> = on!(&self.read, p => sqlx::query_as(
            "SELECT id, received_at, processed_at, pkg_count, changed, via_proxy, proxy_name, \
             cve_count, problem_count FROM reports WHERE host_id = $1 ORDER BY received_at DESC, id DESC LIMIT $2",
        )
        .bind(host)
        .bind(limit.max(0))
        .fetch_all(p).await)?;
        rows.into_iter()
            .map(ReportSummaryRow::into_summary)
            .collect()
    }
}

/// Interns `pkgs` (distinct keys the process cache missed) and returns their ids, in
/// order: one bulk statement per engine.
async fn intern_packages(
    tx: &mut Tx,
    pkgs: &[(&str, &str, &str, &str)],
) -> Result<Vec<i64>, StoreError> {
    match tx {
        Db::Sqlite(t) => sqlite::intern_packages(t, pkgs).await,
        Db::Postgres(t) => postgres::intern_packages(t, pkgs).await,
    }
}
