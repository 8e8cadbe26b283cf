//! Hosts: lookups, the filtered and sorted host list (`host_filter`, `push_scope`, shared
//! with the exposure history), deletion, update counts.

use crate::codec::decode_ids;
use crate::db::{Dialect, on};
use crate::error::StoreError;
use crate::model::{
    Host, HostFilter, HostId, HostPage, HostRuns, HostScope, HostSort, HostUpdateCounts,
    PackageVersionId, Page,
};
use crate::shared::{HOST_COLUMNS, HostRow, PackageRow, host_order, host_order_primary, ts};
use crate::store::Store;
use pakiti_core::package::InstalledPackage;
use sqlx::{Encode, QueryBuilder, Type};
use time::OffsetDateTime;
use tracing::instrument;

// ---- host filters (list, count, export) ----
/// Appends ` FROM hosts h … WHERE …` for `f` to `qb` (either engine's builder).
pub(crate) fn host_filter<'a, DB>(qb: &mut QueryBuilder<'a, DB>, f: &HostFilter)
where
    DB: Dialect,
    String: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    &'static str: Encode<'a, DB> + Type<DB>,
    DB::Ids: 'a + Encode<'a, DB> + Type<DB>,
{
    qb.push(" FROM hosts h LEFT JOIN host_groups g ON g.id = h.group_id WHERE 1 = 1");
    // Retired hosts leave every list and count (migration 0020).
    if f.retired {
        qb.push(" AND h.retired_at IS NOT NULL");
    } else {
        qb.push(" AND h.retired_at IS NULL");
    }
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
            .push(DB::IN_LIST_OPEN)
            .push_bind(DB::ids(ids))
            .push(DB::IN_LIST_CLOSE);
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
pub(crate) fn push_scope<'a, DB>(qb: &mut QueryBuilder<'a, DB>, scope: &HostScope)
where
    DB: Dialect,
    String: Encode<'a, DB> + Type<DB>,
{
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

/// The ids of an [`Dialect::ID_AGG_OPEN`] aggregate (`None`: no row matched): hosts, or the
/// package versions of a save's evaluated marks.
pub(crate) fn parse_id_list(ids: Option<&str>) -> Result<Vec<i64>, StoreError> {
    ids.unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|_| StoreError::corrupt("id list", "not a number"))
        })
        .collect()
}

impl Store {
    /// The host's installed packages, by id.
    pub async fn host_packages(
        &self,
        host: HostId,
    ) -> Result<Vec<(PackageVersionId, InstalledPackage)>, StoreError> {
        let mut tx = self.begin_read().await?;
        let blob: Option<(Vec<u8>,)> = on!(&mut tx, t => sqlx::query_as("SELECT ids FROM host_packages WHERE host_id = $1")
                .bind(host)
                .fetch_optional(&mut **t).await)?;
        let Some((blob,)) = blob else {
            tx.commit().await?;
            return Ok(Vec::new());
        };
        let ids = decode_ids(&blob)?;
        let rows: Vec<PackageRow> = on!(&mut tx, t => sqlx::query_as(&format!(
            "SELECT id, name, version, arch, source FROM package_versions WHERE id {} ORDER BY id",
            DB::in_list(1)
        ))
        .bind(DB::ids(&ids))
        .fetch_all(&mut **t).await)?;
        tx.commit().await?;
        Ok(rows.into_iter().map(PackageRow::into_package).collect())
    }

    /// A filtered, sorted page of hosts and the total number matching.
    pub async fn list_hosts(
        &self,
        filter: &HostFilter,
        sort: HostSort,
        page: Page,
    ) -> Result<HostPage, StoreError> {
        let mut tx = self.begin_read().await?;
        let rows: Vec<HostRow> = on!(&mut tx, t => {
            let mut qb = QueryBuilder::<DB>::new(format!("SELECT {HOST_COLUMNS}"));
            host_filter(&mut qb, filter);
            qb.push(" ORDER BY ").push(host_order(sort));
            qb.push(" LIMIT ").push_bind(page.limit.max(0));
            qb.push(" OFFSET ").push_bind(page.offset.max(0));
            qb.build_query_as().fetch_all(&mut **t).await
        })?;
        let (total,): (i64,) = on!(&mut tx, t => {
            let mut qb = QueryBuilder::<DB>::new("SELECT COUNT(*)");
            host_filter(&mut qb, filter);
            qb.build_query_as().fetch_one(&mut **t).await
        })?;
        tx.commit().await?;
        Ok(HostPage {
            hosts: rows
                .into_iter()
                .map(HostRow::into_host)
                .collect::<Result<_, _>>()?,
            total,
        })
    }

    /// How many hosts `filter` matches (the front page's numbers: a count, not a page).
    pub async fn count_hosts(&self, filter: &HostFilter) -> Result<i64, StoreError> {
        if filter.host_ids.as_ref().is_some_and(Vec::is_empty) {
            return Ok(0);
        }
        let (total,): (i64,) = on!(&self.read, p => {
            let mut qb = QueryBuilder::<DB>::new("SELECT COUNT(*)");
            host_filter(&mut qb, filter);
            qb.build_query_as().fetch_one(p).await
        })?;
        Ok(total)
    }

    /// The ids of every host `filter` matches in the store's order for `sort`, with where each
    /// run of hosts equal in the sorted column starts, read as one aggregated row: a host
    /// that ties with the one before it comes as its id, one that starts a run as its id
    /// negated (issue 17: reading every host's sort keys row by row took 0.3–0.4 s at 50,000
    /// hosts, most of it sqlx's per-row cost).
    pub async fn list_host_runs(
        &self,
        filter: &HostFilter,
        sort: HostSort,
    ) -> Result<HostRuns, StoreError> {
        let (tokens,): (Option<String>,) = on!(&self.read, p => {
            let mut qb = QueryBuilder::<DB>::new("SELECT ");
            qb.push(<DB as Dialect>::TOKEN_AGG_OPEN)
                .push("rn) FROM (SELECT CASE WHEN ");
            for (i, c) in host_order_primary(sort.key).iter().enumerate() {
                if i > 0 {
                    qb.push(" AND ");
                }
                qb.push(format!("{c} IS NOT DISTINCT FROM lag({c}) OVER w"));
            }
            qb.push(" THEN h.id ELSE -h.id END AS t, row_number() OVER w AS rn");
            host_filter(&mut qb, filter);
            qb.push(" WINDOW w AS (ORDER BY ")
                .push(host_order(sort))
                .push(")) AS r");
            qb.build_query_as().fetch_one(p).await
        })?;
        let mut runs = HostRuns::default();
        for tok in tokens.as_deref().unwrap_or_default().split(',') {
            if tok.is_empty() {
                continue;
            }
            let t: i64 = tok
                .parse()
                .map_err(|_| StoreError::corrupt("id list", "not a number"))?;
            if t < 0 || runs.ids.is_empty() {
                runs.starts.push(runs.ids.len());
            }
            runs.ids.push(t.abs());
        }
        Ok(runs)
    }

    /// The ids of every host `filter` matches, in the store's order for `sort`, read as one
    /// aggregated row (the hosts list's risk order needs only the ids: issue 17).
    pub async fn list_host_ids(
        &self,
        filter: &HostFilter,
        sort: HostSort,
    ) -> Result<Vec<HostId>, StoreError> {
        let (ids,): (Option<String>,) = on!(&self.read, p => {
            let mut qb = QueryBuilder::<DB>::new("SELECT ");
            qb.push(<DB as Dialect>::ID_AGG_OPEN)
                .push(host_order(sort))
                .push(")");
            host_filter(&mut qb, filter);
            qb.build_query_as().fetch_one(p).await
        })?;
        parse_id_list(ids.as_deref())
    }

    /// One host.
    pub async fn get_host(&self, id: HostId) -> Result<Option<Host>, StoreError> {
        on!(&self.read, p => sqlx::query_as::<_, HostRow>(&format!(
            "SELECT {HOST_COLUMNS} FROM hosts h LEFT JOIN host_groups g ON g.id = h.group_id \
             WHERE h.id = $1"
        ))
        .bind(id)
        .fetch_optional(p).await)?
        .map(HostRow::into_host)
        .transpose()
    }

    /// The most recently reporting host with this hostname.
    pub async fn get_host_by_name(&self, hostname: &str) -> Result<Option<Host>, StoreError> {
        on!(&self.read, p => sqlx::query_as::<_, HostRow>(&format!(
            "SELECT {HOST_COLUMNS} FROM hosts h LEFT JOIN host_groups g ON g.id = h.group_id \
             WHERE h.hostname = $1 ORDER BY h.last_report_at DESC, h.id DESC LIMIT 1"
        ))
        .bind(hostname)
        .fetch_optional(p).await)?
        .map(HostRow::into_host)
        .transpose()
    }

    /// Deletes a host with its reports and installed set; `false` if it did not exist.
    #[instrument(skip_all, fields(host_id = id))]
    pub async fn delete_host(&self, id: HostId) -> Result<bool, StoreError> {
        Ok(
            on!(&self.write, p => sqlx::query("DELETE FROM hosts WHERE id = $1")
            .bind(id)
            .execute(p).await.map(|r| r.rows_affected()))?
                > 0,
        )
    }

    /// The streams at least one host runs.
    pub async fn streams_with_hosts(&self) -> Result<Vec<String>, StoreError> {
        Ok(on!(&self.read, p => sqlx::query_scalar::<_, String>(
            "SELECT DISTINCT stream FROM hosts WHERE stream IS NOT NULL ORDER BY stream"
        )
        .fetch_all(p).await)?)
    }

    /// Retires a host: it leaves every list and count (the fleet index, the hosts list, CVE
    /// pages) but its reports are kept; its next report puts it back in service. `false` if
    /// it did not exist.
    #[instrument(skip_all, fields(host_id = id))]
    pub async fn retire_host(&self, id: HostId, at: OffsetDateTime) -> Result<bool, StoreError> {
        Ok(on!(&self.write, p => sqlx::query(
            "UPDATE hosts SET retired_at = COALESCE(retired_at, $2) WHERE id = $1",
        )
        .bind(id)
        .bind(ts(at))
        .execute(p).await.map(|r| r.rows_affected()))?
            > 0)
    }

    /// When the host was retired; `None` when it is in service (or does not exist).
    pub async fn host_retired_at(&self, id: HostId) -> Result<Option<OffsetDateTime>, StoreError> {
        let row: Option<(Option<i64>,)> = on!(&self.read, p => sqlx::query_as(
            "SELECT retired_at FROM hosts WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(p).await)?;
        row.and_then(|r| r.0)
            .map(crate::shared::from_ts)
            .transpose()
    }

    /// The hosts of a stream, by id.
    pub async fn stream_hosts(&self, stream: &str) -> Result<Vec<Host>, StoreError> {
        on!(&self.read, p => sqlx::query_as::<_, HostRow>(&format!(
            "SELECT {HOST_COLUMNS} FROM hosts h LEFT JOIN host_groups g ON g.id = h.group_id \
             WHERE h.stream = $1 ORDER BY h.id"
        ))
        .bind(stream)
        .fetch_all(p).await)?
        .into_iter()
        .map(HostRow::into_host)
        .collect()
    }

    /// Writes hosts' cached update counts, in one transaction.
    pub async fn set_host_updates(
        &self,
        counts: &[(HostId, HostUpdateCounts)],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for (host, c) in counts {
            on!(&mut tx, t => sqlx::query(
                "UPDATE hosts SET security_updates = $2, other_updates = $3 WHERE id = $1",
            )
            .bind(host)
            .bind(c.security)
            .bind(c.other)
            .execute(&mut **t).await.map(|r| r.rows_affected()))?;
        }
        tx.commit().await?;
        Ok(())
    }
}
