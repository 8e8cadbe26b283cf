// Store code shared by `sqlite.rs` and `postgres.rs` through `include!` (the SQL is
// the same; the including module supplies `Tx`, `Conn`, `ids_arg`, `in_list`, `find_host`,
// `intern_packages` and `store_findings_in`). One definition instead of two copies.

/// What a saved report adds to the process caches once its transaction commits.
struct CacheAdds {
    packages: Vec<(Box<[u8]>, i64)>,
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
    packages: HashMap<(&'r str, &'r str, &'r str, &'r str), i64>,
    groups: HashMap<&'r str, i64>,
}

async fn prepare_batch<'r>(
    tx: &mut Tx,
    caches: &Caches,
    reports: &'r [NewReport<'_>],
) -> Result<Prepared<'r>, StoreError> {
    let mut keys: Vec<(&'r str, &'r str, &'r str, &'r str)> = reports
        .iter()
        .flat_map(|r| r.packages.iter().map(package_key))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let cache_keys: Vec<Box<[u8]>> = keys.iter().map(package_cache_key).collect();
    let misses: Vec<(&str, &str, &str, &str)> = keys
        .iter()
        .zip(caches.package_ids(&cache_keys))
        .filter(|(_, cached)| cached.is_none())
        .map(|(k, _)| *k)
        .collect();
    let mut packages = HashMap::with_capacity(misses.len());
    if !misses.is_empty() {
        for (k, id) in misses.iter().zip(intern_packages(tx, &misses).await?) {
            packages.insert(*k, id);
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
    Ok(Prepared { packages, groups })
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
    // Distinct keys, and where each input package sits among them.
    let mut distinct: Vec<(&str, &str, &str, &str)> = Vec::new();
    let mut index: HashMap<(&str, &str, &str, &str), usize> = HashMap::new();
    let positions: Vec<usize> = report
        .packages
        .iter()
        .map(|p| {
            let k = package_key(p);
            *index.entry(k).or_insert_with(|| {
                distinct.push(k);
                distinct.len() - 1
            })
        })
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
    let keys: Vec<Box<[u8]>> = distinct.iter().map(package_cache_key).collect();
    let mut ids: Vec<i64> = Vec::with_capacity(distinct.len());
    let mut misses: Vec<usize> = Vec::new();
    for (i, cached) in caches.package_ids(&keys).into_iter().enumerate() {
        ids.push(cached.unwrap_or(0));
        if cached.is_none() {
            misses.push(i);
        }
    }
    if !misses.is_empty() {
        // One global order, so that concurrent transactions (PostgreSQL) wait on each other's
        // new rows in the same order instead of deadlocking.
        misses.sort_unstable_by_key(|&i| distinct[i]);
        let mut rest = Vec::new();
        for &i in &misses {
            match pre.packages.get(&distinct[i]) {
                Some(&id) => ids[i] = id,
                None => rest.push(i),
            }
        }
        if !rest.is_empty() {
            let wanted: Vec<_> = rest.iter().map(|&i| distinct[i]).collect();
            for (&i, id) in rest.iter().zip(intern_packages(tx, &wanted).await?) {
                ids[i] = id;
            }
        }
    }
    let blob = encode_ids(&ids);
    let pkg_count = i64::try_from(distinct.len()).unwrap_or(i64::MAX);

    let mut new_host = false;
    let mut host_id = find_host(tx, identity).await?.map(|h| h.id);
    if host_id.is_none() {
        host_id = sqlx::query_as::<_, (i64,)>(
            "INSERT INTO hosts (hostname, client_id, first_seen, last_report_at, os_name, \
             arch, kernel, packager) VALUES ($1, $2, $3, $3, '', '', '', '') \
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(&identity.hostname)
        .bind(&identity.client_id)
        .bind(now)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| r.0);
        new_host = host_id.is_some();
        if host_id.is_none() {
            // Another process created it between our lookup and insert.
            host_id = find_host(tx, identity).await?.map(|h| h.id);
        }
    }
    let host_id = host_id.ok_or_else(|| StoreError::corrupt("hosts", "host upsert lost"))?;
    let (report_id,): (i64,) = sqlx::query_as(
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
    .fetch_one(&mut **tx)
    .await?;
    // The report is pending until the transaction that writes its evaluation clears the mark
    // (`finish_in`): a server that dies in between leaves the mark for the next one to find.
    sqlx::query(
        "UPDATE hosts SET hostname = $2, client_id = COALESCE($3, client_id), group_id = $4, \
         domain = $5, os_name = $6, stream = $7, arch = $8, kernel = $9, tag = $10, \
         packager = $11, reboot_needed = $12, last_report_at = $13, last_report_hash = $14, \
         pkg_count = $15, modules = $16, module_streams = $17, old_kernels = $18, \
         pending_report = $19, report_problem_count = $20, report_problems = $21 WHERE id = $1",
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
        facts.stream.as_ref(),
        &facts.kernel,
        report.packages,
        &positions.iter().map(|&p| ids[p]).collect::<Vec<_>>(),
    ))
    .bind(report_id)
    .bind(facts.problems.count)
    .bind(facts.problems.encode_lines())
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO host_packages (host_id, ids) VALUES ($1, $2) \
         ON CONFLICT (host_id) DO UPDATE SET ids = excluded.ids",
    )
    .bind(host_id)
    .bind(&blob)
    .execute(&mut **tx)
    .await?;
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
                let done: Vec<(i64,)> = sqlx::query_as(&format!(
                    "SELECT package_version_id FROM evaluated_packages \
                     WHERE stream = $1 AND package_version_id {}",
                    in_list(2)
                ))
                .bind(s)
                .bind(ids_arg(&unknown))
                .fetch_all(&mut **tx)
                .await?;
                let done_now: Vec<i64> = done.into_iter().map(|r| r.0).collect();
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
    let adds = CacheAdds {
        packages: misses.iter().map(|&i| (keys[i].clone(), ids[i])).collect(),
        evaluated,
    };
    Ok((
        SavedReport {
            host_id,
            new_host,
            report_id,
            package_ids: positions.into_iter().map(|p| ids[p]).collect(),
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
    if let Some((id,)) = sqlx::query_as::<_, (i64,)>(SELECT)
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?
    {
        return Ok(id);
    }
    if let Some((id,)) = sqlx::query_as::<_, (i64,)>(
        "INSERT INTO host_groups (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id",
    )
    .bind(name)
    .fetch_optional(&mut **tx)
    .await?
    {
        return Ok(id);
    }
    let (id,) = sqlx::query_as::<_, (i64,)>(SELECT)
        .bind(name)
        .fetch_one(&mut **tx)
        .await?;
    Ok(id)
}

fn apply_cache_adds(caches: &Caches, adds: Vec<CacheAdds>) {
    for a in adds {
        caches.add_packages(a.packages);
        if let Some((s, done)) = a.evaluated {
            caches.add_evaluated(&s, done);
        }
    }
}

/// Writes one evaluated report's results inside `tx`.
async fn finish_in(tx: &mut Tx, item: &FinishReport) -> Result<(), StoreError> {
    if let Some(stream) = &item.stream
        && (!item.evaluated.is_empty() || !item.findings.is_empty())
    {
        store_findings_in(tx, stream, &item.evaluated, &item.findings).await?;
    }
    // The counts are the host's only while no newer report of it awaits evaluation (that one
    // writes its own); the row's `pending_report` is re-checked under its lock.
    write_counts_in(tx, item.host, &item.counts, Some(item.report)).await?;
    if let Some(u) = &item.updates {
        sqlx::query(
            "UPDATE hosts SET security_updates = $2, other_updates = $3 WHERE id = $1 \
             AND (pending_report IS NULL OR pending_report <= $4)",
        )
        .bind(item.host)
        .bind(u.security)
        .bind(u.other)
        .bind(item.report)
        .execute(&mut **tx)
        .await?;
    }
    let n = sqlx::query("UPDATE reports SET processed_at = $2, cve_count = $3 WHERE id = $1")
        .bind(item.report)
        .bind(ts(item.processed_at))
        .bind(item.counts.cves)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::not_found("report", item.report));
    }
    // Its evaluation is written: no longer pending (unless a newer report is).
    sqlx::query("UPDATE hosts SET pending_report = NULL WHERE id = $1 AND pending_report <= $2")
        .bind(item.host)
        .bind(item.report)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Writes a host's cached counts; `false` when the host does not exist (or, with
/// `report`, when a report newer than that one awaits evaluation).
async fn write_counts_in(
    tx: &mut Tx,
    host: HostId,
    c: &HostCounts,
    report: Option<ReportId>,
) -> Result<bool, StoreError> {
    let n = sqlx::query(
        "UPDATE hosts SET cve_count = $2, critical_count = $3, high_count = $4, \
         medium_count = $5, low_count = $6, unknown_count = $7, tagged_count = $8, \
         vulnerable_pkg_count = $9 WHERE id = $1 \
         AND ($10 IS NULL OR pending_report IS NULL OR pending_report <= $10)",
    )
    .bind(host)
    .bind(c.cves)
    .bind(c.critical)
    .bind(c.high)
    .bind(c.medium)
    .bind(c.low)
    .bind(c.unknown)
    .bind(c.tagged)
    .bind(c.vulnerable_packages)
    .bind(report)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n > 0)
}

async fn package_findings_of(
    conn: &mut Conn,
    stream: &str,
    ids: &[PackageVersionId],
) -> Result<Vec<PackageFinding>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(&format!(
        "SELECT package_version_id, advisory_id, affected_idx FROM package_findings \
         WHERE stream = $1 AND package_version_id {} ORDER BY package_version_id, advisory_id",
        in_list(2)
    ))
    .bind(stream)
    .bind(ids_arg(ids))
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(p, a, i)| PackageFinding {
            package_version_id: p,
            advisory_id: a,
            affected_idx: i,
        })
        .collect())
}

/// A host's row as `installed_sets_of` reads it: id, stream, modules, id list, the stored
/// counts (CVEs, critical, high, medium, low, unknown, tagged, vulnerable packages), old kernels.
type InstalledSetRow = (
    i64,
    Option<String>,
    String,
    Vec<u8>,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    String,
);

async fn installed_sets_of(
    conn: &mut Conn,
    hosts: Option<&[HostId]>,
) -> Result<Vec<InstalledSet>, StoreError> {
    const SELECT: &str = "SELECT h.id, h.stream, h.modules, hp.ids, h.cve_count, \
         h.critical_count, h.high_count, h.medium_count, h.low_count, h.unknown_count, \
         h.tagged_count, h.vulnerable_pkg_count, h.old_kernels FROM hosts h \
         JOIN host_packages hp ON hp.host_id = h.id";
    let rows: Vec<InstalledSetRow> = match hosts {
        None => {
            sqlx::query_as(&format!("{SELECT} ORDER BY h.id"))
                .fetch_all(&mut *conn)
                .await?
        }
        Some(h) => {
            sqlx::query_as(&format!("{SELECT} WHERE h.id {} ORDER BY h.id", in_list(1)))
                .bind(ids_arg(h))
                .fetch_all(&mut *conn)
                .await?
        }
    };
    rows.into_iter()
        .map(
            |(
                host,
                stream,
                modules,
                blob,
                cves,
                critical,
                high,
                medium,
                low,
                unknown,
                tagged,
                vulnerable,
                old,
            )| {
                let mut ids = decode_ids(&blob)?;
                ids.sort_unstable();
                ids.dedup();
                let ids = without_old_kernels(ids, &old_kernel_ids(&old)?);
                Ok(InstalledSet {
                    host,
                    stream,
                    modules: modules.split_whitespace().map(str::to_owned).collect(),
                    ids,
                    counts: HostCounts {
                        cves,
                        critical,
                        high,
                        medium,
                        low,
                        unknown,
                        tagged,
                        vulnerable_packages: vulnerable,
                    },
                })
            },
        )
        .collect()
}

async fn package_versions_of(
    conn: &mut Conn,
    ids: &[PackageVersionId],
) -> Result<Vec<(PackageVersionId, InstalledPackage)>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<PackageRow> = sqlx::query_as(&format!(
        "SELECT id, name, version, arch, source FROM package_versions WHERE id {} ORDER BY id",
        in_list(1)
    ))
    .bind(ids_arg(ids))
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(PackageRow::into_package).collect())
}

/// Records on a feed's or repository's row (`table`) a sync that imported nothing (failed or
/// unchanged): when, how it went, and the validators, keeping the stored ones where the sync
/// has none. `false` when no row has that id.
async fn record_sync_in(
    tx: &mut Tx,
    table: &'static str,
    id: i64,
    sync: &SyncRecord,
) -> Result<bool, StoreError> {
    let n = sqlx::query(&format!(
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
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n > 0)
}

// ---- host filters (list, count, export) ----

fn host_filter(qb: &mut QueryBuilder<'_, Db>, f: &HostFilter) {
    qb.push(" FROM hosts h LEFT JOIN host_groups g ON g.id = h.group_id WHERE 1 = 1");
    if let Some(s) = &f.hostname_contains {
        let mut pat = String::from("%");
        for c in s.to_lowercase().chars() {
            if matches!(c, '%' | '_' | '\\') {
                pat.push('\\');
            }
            pat.push(c);
        }
        pat.push('%');
        qb.push(" AND LOWER(h.hostname) LIKE ")
            .push_bind(pat)
            .push(" ESCAPE '\\'");
    }
    if let Some(s) = &f.stream {
        qb.push(" AND h.stream = ").push_bind(s.clone());
    }
    if let Some(s) = &f.group {
        qb.push(" AND g.name = ").push_bind(s.clone());
    }
    if let Some(s) = &f.domain {
        qb.push(" AND h.domain = ").push_bind(s.clone());
    }
    if let Some(s) = &f.tag {
        qb.push(" AND h.tag = ").push_bind(s.clone());
    }
    if f.vulnerable_only {
        qb.push(" AND h.cve_count > 0");
    }
    if let Some(ids) = &f.host_ids {
        qb.push(" AND h.id ")
            .push(in_list_unnumbered())
            .push_bind(ids_arg(ids))
            .push(in_list_close());
    }
    if let Some(s) = &f.os_contains {
        qb.push(" AND LOWER(h.os_name) LIKE ")
            .push_bind(crate::shared::like_contains(s))
            .push(" ESCAPE '\\'");
    }
    if f.reboot_needed {
        qb.push(" AND h.reboot_needed");
    }
    if let Some(t) = f.last_report_before {
        qb.push(" AND h.last_report_at < ").push_bind(ts(t));
    }
    if !f.tlds.is_empty() {
        qb.push(" AND (1 = 0");
        for t in &f.tlds {
            qb.push(" OR LOWER(h.hostname) LIKE ")
                .push_bind(crate::shared::like_tld(t))
                .push(" ESCAPE '\\'");
        }
        qb.push(")");
    }
    if f.security_updates_only {
        qb.push(" AND h.security_updates > 0");
    }
    if f.tagged_only {
        qb.push(" AND h.tagged_count > 0");
    }
    if let Some(m) = f.module_streams {
        qb.push(" AND h.module_streams = ").push_bind(m.as_str());
    }
    if f.report_problems_only {
        qb.push(" AND h.report_problem_count > 0");
    }
    push_scope(qb, &f.scope);
}

/// ` AND (…)` limiting `h` (hosts) joined with `g` (host_groups) to what `scope` allows.
fn push_scope(qb: &mut QueryBuilder<'_, Db>, scope: &HostScope) {
    let HostScope::Restricted {
        groups,
        domains,
        hosts,
    } = scope
    else {
        return;
    };
    qb.push(" AND (1 = 0");
    for (column, values) in [
        ("g.name", groups),
        ("h.domain", domains),
        ("h.hostname", hosts),
    ] {
        if values.is_empty() {
            continue;
        }
        qb.push(" OR ").push(column).push(" IN (");
        let mut sep = qb.separated(", ");
        for v in values {
            sep.push_bind(v.clone());
        }
        qb.push(")");
    }
    qb.push(")");
}

/// The batched-ingest methods of the `Store` impl, identical for both backends.
macro_rules! batch_store_impl {
    () => {
        #[instrument(skip_all, fields(reports = reports.len()))]
        async fn save_reports(
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
            apply_cache_adds(&self.caches, adds);
            Ok(out.into_iter().flatten().collect())
        }

        #[instrument(skip_all, fields(reports = items.len()))]
        async fn finish_reports(&self, items: &[FinishReport]) -> Result<Vec<bool>, StoreError> {
            if items.is_empty() {
                return Ok(Vec::new());
            }
            let mut tx = self.begin().await?;
            let (current,): (i64,) = sqlx::query_as(GENERATION_CHECK_SQL)
                .fetch_one(&mut *tx)
                .await?;
            let mut written = Vec::with_capacity(items.len());
            for item in items {
                // Answers from an index older than the feeds: write nothing, the caller
                // evaluates again with a current one.
                let ok = item.generation.is_none_or(|g| g >= current);
                if ok {
                    finish_in(&mut tx, item).await?;
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

        async fn feed_generation(&self) -> Result<i64, StoreError> {
            let mut tx = self.begin_read().await?;
            let (g,): (i64,) =
                sqlx::query_as("SELECT generation FROM feed_generation WHERE id = 1")
                    .fetch_one(&mut *tx)
                    .await?;
            tx.commit().await?;
            Ok(g)
        }

        async fn pending_evaluations(&self) -> Result<Vec<(HostId, ReportId)>, StoreError> {
            let mut tx = self.begin_read().await?;
            let rows: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT id, pending_report FROM hosts WHERE pending_report IS NOT NULL ORDER BY id",
            )
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(rows)
        }

        async fn package_findings(
            &self,
            stream: &str,
            ids: &[PackageVersionId],
        ) -> Result<Vec<PackageFinding>, StoreError> {
            let mut tx = self.begin_read().await?;
            let out = package_findings_of(&mut tx, stream, ids).await?;
            tx.commit().await?;
            Ok(out)
        }

        async fn installed_sets(
            &self,
            hosts: Option<&[HostId]>,
        ) -> Result<Vec<InstalledSet>, StoreError> {
            let mut tx = self.begin_read().await?;
            let out = installed_sets_of(&mut tx, hosts).await?;
            tx.commit().await?;
            Ok(out)
        }

        async fn package_versions(
            &self,
            ids: &[PackageVersionId],
        ) -> Result<Vec<(PackageVersionId, InstalledPackage)>, StoreError> {
            let mut tx = self.begin_read().await?;
            let out = package_versions_of(&mut tx, ids).await?;
            tx.commit().await?;
            Ok(out)
        }

        #[instrument(skip_all, fields(hosts = counts.len()))]
        async fn update_hosts_counts(
            &self,
            counts: &[(HostId, HostCounts)],
        ) -> Result<(), StoreError> {
            if counts.is_empty() {
                return Ok(());
            }
            let mut tx = self.begin().await?;
            for (host, c) in counts {
                write_counts_in(&mut tx, *host, c, None).await?;
            }
            tx.commit().await?;
            Ok(())
        }
    };
}

/// The fleet-index reads of the `Store` impl, identical for both backends but for the read
/// pool's field name.
macro_rules! fleet_store_impl {
    ($r:ident) => {
        async fn exposure_by_day(
            &self,
            since: OffsetDateTime,
            scope: &HostScope,
        ) -> Result<Vec<ExposureDay>, StoreError> {
            let mut qb = QueryBuilder::<Db>::new(
                "SELECT day, CAST(COUNT(*) AS BIGINT), \
                 CAST(SUM(CASE WHEN c > 0 THEN 1 ELSE 0 END) AS BIGINT), CAST(SUM(c) AS BIGINT) FROM (\
                 SELECT r.received_at / 86400 AS day, r.host_id, MAX(r.cve_count) AS c \
                 FROM reports r JOIN hosts h ON h.id = r.host_id \
                 LEFT JOIN host_groups g ON g.id = h.group_id \
                 WHERE r.cve_count IS NOT NULL AND r.received_at >= ",
            );
            qb.push_bind(ts(since));
            push_scope(&mut qb, scope);
            qb.push(" GROUP BY r.received_at / 86400, r.host_id) d GROUP BY day ORDER BY day");
            let rows: Vec<(i64, i64, i64, i64)> = qb.build_query_as().fetch_all(&self.$r).await?;
            rows.into_iter()
                .map(|(day, hosts, vulnerable_hosts, cves)| {
                    Ok(ExposureDay {
                        day: from_ts(day * 86400)?.date(),
                        hosts,
                        vulnerable_hosts,
                        cves,
                    })
                })
                .collect()
        }

        async fn fleet_hosts(&self) -> Result<Vec<FleetHost>, StoreError> {
            let mut tx = self.$r.begin().await?;
            let rows: Vec<FleetHostRow> = sqlx::query_as(
                "SELECT h.id, h.hostname, g.name AS group_name, h.domain, h.os_name, h.stream, \
                 h.modules, h.old_kernels, \
                 hp.ids FROM hosts h LEFT JOIN host_groups g ON g.id = h.group_id \
                 LEFT JOIN host_packages hp ON hp.host_id = h.id ORDER BY h.id",
            )
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            rows.into_iter().map(FleetHostRow::into_host).collect()
        }

        async fn fleet_findings(&self) -> Result<Vec<StreamFinding>, StoreError> {
            let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
                "SELECT pf.stream, pf.package_version_id, pf.advisory_id, pf.affected_idx \
                 FROM package_findings pf JOIN advisories a ON a.id = pf.advisory_id \
                 JOIN feeds f ON f.id = a.feed_id WHERE f.enabled",
            )
            .fetch_all(&self.$r)
            .await?;
            Ok(rows
                .into_iter()
                .map(|(stream, pv, adv, idx)| StreamFinding {
                    stream,
                    finding: PackageFinding {
                        package_version_id: pv,
                        advisory_id: adv,
                        affected_idx: idx,
                    },
                })
                .collect())
        }

        async fn fleet_packages(
            &self,
        ) -> Result<Vec<(PackageVersionId, InstalledPackage)>, StoreError> {
            let rows: Vec<PackageRow> = sqlx::query_as(
                "SELECT id, name, version, arch, source FROM package_versions ORDER BY id",
            )
            .fetch_all(&self.$r)
            .await?;
            Ok(rows.into_iter().map(PackageRow::into_package).collect())
        }

        async fn host_reports(
            &self,
            host: HostId,
            limit: i64,
        ) -> Result<Vec<ReportSummary>, StoreError> {
            let rows: Vec<ReportSummaryRow> = sqlx::query_as(
                "SELECT id, received_at, processed_at, pkg_count, changed, via_proxy, proxy_name, \
                 cve_count, problem_count FROM reports WHERE host_id = $1 ORDER BY received_at DESC, id DESC LIMIT $2",
            )
            .bind(host)
            .bind(limit.max(0))
            .fetch_all(&self.$r)
            .await?;
            rows.into_iter()
                .map(ReportSummaryRow::into_summary)
                .collect()
        }
    };
}

/// The CVE tag and exception methods of the `Store` impl, identical for both backends but for
/// the pools' field names (writer, reader).
macro_rules! policy_store_impl {
    ($w:ident, $r:ident) => {
        async fn shared_secret(&self, name: &str, candidate: &str) -> Result<String, StoreError> {
            sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .bind(candidate)
                .execute(&self.$w)
                .await?;
            let (value,): (String,) =
                sqlx::query_as("SELECT value FROM server_secrets WHERE name = $1")
                    .bind(name)
                    .fetch_one(&self.$w)
                    .await?;
            Ok(value)
        }

        async fn create_cve_tag(&self, tag: &NewCveTag) -> Result<CveTag, StoreError> {
            tags::require(&[
                ("cve", &tag.cve),
                ("tag", &tag.tag),
                ("author", &tag.author),
            ])?;
            let res = sqlx::query_as::<_, TagRow>(&format!(
                "INSERT INTO cve_tags (cve, tag, reason, info_url, enabled, author, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {TAG_COLUMNS}"
            ))
            .bind(&tag.cve)
            .bind(&tag.tag)
            .bind(&tag.reason)
            .bind(&tag.info_url)
            .bind(tag.enabled)
            .bind(&tag.author)
            .bind(ts(OffsetDateTime::now_utc()))
            .fetch_one(&self.$w)
            .await;
            match res {
                Ok(row) => row.into_tag(),
                Err(e) if is_unique_violation(&e) => Err(StoreError::Duplicate(format!(
                    "{} is already tagged {}",
                    tag.cve, tag.tag
                ))),
                Err(e) => Err(e.into()),
            }
        }

        async fn list_cve_tags(&self) -> Result<Vec<CveTag>, StoreError> {
            sqlx::query_as::<_, TagRow>(&format!(
                "SELECT {TAG_COLUMNS} FROM cve_tags ORDER BY cve, tag, id"
            ))
            .fetch_all(&self.$r)
            .await?
            .into_iter()
            .map(TagRow::into_tag)
            .collect()
        }

        async fn set_cve_tag_enabled(
            &self,
            id: CveTagId,
            enabled: bool,
        ) -> Result<Option<CveTag>, StoreError> {
            sqlx::query_as::<_, TagRow>(&format!(
                "UPDATE cve_tags SET enabled = $2 WHERE id = $1 RETURNING {TAG_COLUMNS}"
            ))
            .bind(id)
            .bind(enabled)
            .fetch_optional(&self.$w)
            .await?
            .map(TagRow::into_tag)
            .transpose()
        }

        async fn delete_cve_tag(&self, id: CveTagId) -> Result<Option<CveTag>, StoreError> {
            sqlx::query_as::<_, TagRow>(&format!(
                "DELETE FROM cve_tags WHERE id = $1 RETURNING {TAG_COLUMNS}"
            ))
            .bind(id)
            .fetch_optional(&self.$w)
            .await?
            .map(TagRow::into_tag)
            .transpose()
        }

        async fn create_exception(&self, e: &NewException) -> Result<CveException, StoreError> {
            tags::require(&[
                ("cve", &e.cve),
                ("package", &e.package),
                ("version", &e.version),
                ("stream", &e.stream),
                ("author", &e.author),
            ])?;
            let res = sqlx::query_as::<_, ExceptionRow>(&format!(
                "INSERT INTO exceptions (cve, package, version, stream, reason, author, created_at, \
                 expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {EXCEPTION_COLUMNS}"
            ))
            .bind(&e.cve)
            .bind(&e.package)
            .bind(&e.version)
            .bind(&e.stream)
            .bind(&e.reason)
            .bind(&e.author)
            .bind(ts(OffsetDateTime::now_utc()))
            .bind(e.expires_at.map(ts))
            .fetch_one(&self.$w)
            .await;
            match res {
                Ok(row) => row.into_exception(),
                Err(err) if is_unique_violation(&err) => Err(StoreError::Duplicate(format!(
                    "an exception for {} in {} {} on {} already exists",
                    e.cve, e.package, e.version, e.stream
                ))),
                Err(err) => Err(err.into()),
            }
        }

        async fn list_exceptions(&self) -> Result<Vec<CveException>, StoreError> {
            sqlx::query_as::<_, ExceptionRow>(&format!(
                "SELECT {EXCEPTION_COLUMNS} FROM exceptions ORDER BY cve, package, version, stream, id"
            ))
            .fetch_all(&self.$r)
            .await?
            .into_iter()
            .map(ExceptionRow::into_exception)
            .collect()
        }

        async fn delete_exception(&self, id: ExceptionId) -> Result<Option<CveException>, StoreError> {
            sqlx::query_as::<_, ExceptionRow>(&format!(
                "DELETE FROM exceptions WHERE id = $1 RETURNING {EXCEPTION_COLUMNS}"
            ))
            .bind(id)
            .fetch_optional(&self.$w)
            .await?
            .map(ExceptionRow::into_exception)
            .transpose()
        }
    };
}
