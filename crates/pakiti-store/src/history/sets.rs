//! Exposures stored as sets (issue 17, migration 0024).
//!
//! A row of `exposures` is a set of one host's exposures that began together (same instant,
//! cause, report, generation) and, once ended, ended together. What each exposure is (CVE,
//! severity, advisory, fixed version, fix issued date) is interned once in `exposure_details`
//! ([`Detail`]); a row holds those ids as the store's id blob (`codec.rs`) and its counts by
//! severity and with a fix, so that the daily snapshot sums rows instead of reading ids.
//!
//! Bringing a host's open sets to its current CVE set ([`apply_in`]):
//! - exposures no longer there end: a set whose exposures all end gets its end written; a set
//!   of which only some end is split, the ended ones moving to a new ended row that keeps the
//!   set's beginning;
//! - a fix that became known for an open exposure moves it to a new open row (same beginning)
//!   whose `fix_known_at` is now and whose detail is the current one (the fixing advisory, its
//!   severity, fixed version and issued date);
//! - the CVEs that are new form one new set.
//!
//! So every exposure is in exactly one row at any time, and a host's first report writes one
//! row where it wrote one row per CVE (plus four index entries each). Details are interned in
//! their own short transaction before the one that writes the sets ([`Store::intern_details`]):
//! a detail id in a blob always names a committed row, so the process cache of details
//! (`Caches`) never holds an id a rollback took back.

use std::collections::HashSet;
use std::sync::Arc;

use sqlx::QueryBuilder;

use super::{ExposureContext, ExposureNow};
use crate::cache::Caches;
pub(crate) use crate::cache::Detail;
use crate::cache::{DetailIds, DetailRef};
use crate::codec::{decode_ids, encode_ids};
use crate::db::{Conn, Tx, on};
use crate::error::StoreError;
use crate::model::HostId;
use crate::shared::ts;
use crate::store::Store;

impl<'a> DetailRef<'a> {
    /// `e`'s detail; an empty fixed version or issued date is none (as stored).
    pub(crate) fn of(e: &'a ExposureNow) -> Self {
        let some = |s: &'a Option<String>| s.as_deref().filter(|s| !s.is_empty());
        DetailRef {
            cve: &e.cve,
            severity: e.severity.as_str(),
            advisory: &e.advisory,
            fixed_version: some(&e.fixed_version),
            fix_issued: some(&e.fix_issued),
        }
    }
}

/// A stored detail row: id, CVE, severity, advisory, fixed version, fix issued (`''`: none).
type DetailRow = (i64, String, String, String, String, String);

/// The columns of a [`DetailRow`], in its order.
const DETAIL_COLUMNS: &str = "id, cve, severity, advisory, fixed_version, fix_issued";

/// Detail rows read as one JSON array of arrays (`Dialect::json_rows_agg`: sqlx hands SQLite
/// rows over one by one, and a report after a restart reads hundreds of details).
fn detail_rows(json: Option<&str>) -> Result<Vec<DetailRow>, StoreError> {
    json.map_or(Ok(Vec::new()), |j| {
        serde_json::from_str(j).map_err(|e| StoreError::corrupt("exposure details", e.to_string()))
    })
}

fn from_row(r: DetailRow) -> (i64, Detail) {
    let none_if_empty = |s: String| (!s.is_empty()).then_some(s);
    (
        r.0,
        Detail {
            cve: r.1,
            severity: r.2,
            advisory: r.3,
            fixed_version: none_if_empty(r.4),
            fix_issued: none_if_empty(r.5),
        },
    )
}

/// Columns of a set row, in [`SetRow`]'s order.
pub(crate) const SET_COLUMNS: &str = "id, host_id, hostname, host_group, domain, details, \
    fix_known_at, began_at, began_cause, began_report, began_generation, ended_at, ended_cause, \
    ended_report";

/// One row of `exposures`.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct SetRow {
    pub(crate) id: i64,
    pub(crate) host_id: i64,
    pub(crate) hostname: String,
    pub(crate) host_group: Option<String>,
    pub(crate) domain: Option<String>,
    pub(crate) details: Vec<u8>,
    pub(crate) fix_known_at: Option<i64>,
    pub(crate) began_at: i64,
    pub(crate) began_cause: String,
    pub(crate) began_report: Option<i64>,
    pub(crate) began_generation: i64,
    pub(crate) ended_at: Option<i64>,
    pub(crate) ended_cause: Option<String>,
    pub(crate) ended_report: Option<i64>,
}

/// A set row with its exposures' details, in the blob's order.
pub(crate) type Expanded = (SetRow, Vec<Arc<Detail>>);

/// The details of `ids`: from the cache, the rest read on `conn` (and cached: every id in a
/// blob names a committed row).
pub(crate) async fn resolve(
    conn: Conn<'_>,
    caches: &Caches,
    ids: &[i64],
) -> Result<rustc_hash::FxHashMap<i64, Arc<Detail>>, StoreError> {
    let (mut found, missing) = caches.details_of(ids);
    if missing.is_empty() {
        return Ok(found);
    }
    let (json,): (Option<String>,) = on!(conn, c => sqlx::query_as(&format!(
        "SELECT {} FROM (SELECT {DETAIL_COLUMNS} FROM exposure_details WHERE id {}) d",
        DB::json_rows_agg(DETAIL_COLUMNS, "id"),
        DB::in_list(1)
    ))
    .bind(DB::ids(&missing))
    .fetch_one(&mut *c).await)?;
    let rows = detail_rows(json.as_deref())?;
    found.extend(caches.add_details(rows.into_iter().map(from_row)));
    if let Some(id) = missing.iter().find(|id| !found.contains_key(id)) {
        return Err(StoreError::corrupt(
            "exposure set",
            format!("names exposure detail {id}, which does not exist"),
        ));
    }
    Ok(found)
}

/// Each row with its exposures' details, in the blob's order.
pub(crate) async fn expand(
    conn: Conn<'_>,
    caches: &Caches,
    rows: Vec<SetRow>,
) -> Result<Vec<Expanded>, StoreError> {
    let mut ids_of = Vec::with_capacity(rows.len());
    let mut all: rustc_hash::FxHashSet<i64> = rustc_hash::FxHashSet::default();
    for r in &rows {
        let ids = decode_ids(&r.details)?;
        all.extend(ids.iter().copied());
        ids_of.push(ids);
    }
    let all: Vec<i64> = all.into_iter().collect();
    let details = resolve(conn, caches, &all).await?;
    Ok(rows
        .into_iter()
        .zip(ids_of)
        .map(|(r, ids)| {
            let d = ids.iter().map(|id| Arc::clone(&details[id])).collect();
            (r, d)
        })
        .collect())
}

/// Counts of a set: all, critical, high, medium, low, unknown, with a fixed version.
fn counts<'a>(details: impl IntoIterator<Item = &'a Detail>) -> [i64; 7] {
    let mut c = [0i64; 7];
    for d in details {
        c[0] += 1;
        let i = match d.severity.as_str() {
            "critical" => 1,
            "high" => 2,
            "medium" => 3,
            "low" => 4,
            _ => 5,
        };
        c[i] += 1;
        if d.fixed_version.is_some() {
            c[6] += 1;
        }
    }
    c
}

/// `q` with a set's seven counts bound next, in [`counts`]' order.
fn bind_counts<'q, DB: sqlx::Database>(
    mut q: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    c: [i64; 7],
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    for v in c {
        q = q.bind(v);
    }
    q
}

/// Who a set belongs to: host, name, group, domain (as when the set began).
type Owner<'a> = (HostId, &'a str, Option<&'a str>, Option<&'a str>);

/// When and why a set began or ended: at, cause, report, generation.
type Mark<'a> = (i64, &'a str, Option<i64>, i64);

/// A set row to insert: owner (host, name, group, domain), details blob, counts,
/// `fix_known_at`, beginning and end (at, cause, report, generation).
struct NewSet {
    owner: (HostId, String, Option<String>, Option<String>),
    details: Vec<u8>,
    counts: [i64; 7],
    fix_known_at: Option<i64>,
    began: (i64, String, Option<i64>, i64),
    ended: Option<(i64, String, Option<i64>, i64)>,
}

/// Set rows [`apply_in`] decided to insert, written together by [`PendingSets::flush`]
/// (multi-row statements: a re-evaluation that gives 5,000 hosts new CVEs wrote one
/// statement a host, issue 17).
#[derive(Default)]
pub(crate) struct PendingSets(Vec<NewSet>);

impl PendingSets {
    /// Queues one set row.
    fn push(
        &mut self,
        owner: Owner<'_>,
        members: &[(i64, &Detail)],
        fix_known_at: Option<i64>,
        began: Mark<'_>,
        ended: Option<Mark<'_>>,
    ) {
        let ids: Vec<i64> = members.iter().map(|(id, _)| *id).collect();
        let mark = |m: Mark<'_>| (m.0, m.1.to_owned(), m.2, m.3);
        self.0.push(NewSet {
            owner: (
                owner.0,
                owner.1.to_owned(),
                owner.2.map(str::to_owned),
                owner.3.map(str::to_owned),
            ),
            details: encode_ids(&ids),
            counts: counts(members.iter().map(|(_, d)| *d)),
            fix_known_at,
            began: mark(began),
            ended: ended.map(mark),
        });
    }

    /// Inserts the queued rows in `tx`.
    pub(crate) async fn flush(&mut self, tx: &mut Tx) -> Result<(), StoreError> {
        // 21 columns a row.
        let per = (tx.max_binds() / 21).max(1);
        for chunk in self.0.chunks(per) {
            on!(&mut *tx, t => {
                let mut qb = QueryBuilder::<DB>::new(
                    "INSERT INTO exposures (host_id, hostname, host_group, domain, details, n, \
                     critical, high, medium, low, unknown, fixable, fix_known_at, began_at, \
                     began_cause, began_report, began_generation, ended_at, ended_cause, \
                     ended_report, ended_generation) ",
                );
                qb.push_values(chunk, |mut b, r| {
                    b.push_bind(r.owner.0)
                        .push_bind(r.owner.1.as_str())
                        .push_bind(r.owner.2.as_deref())
                        .push_bind(r.owner.3.as_deref())
                        .push_bind(r.details.as_slice());
                    for v in r.counts {
                        b.push_bind(v);
                    }
                    b.push_bind(r.fix_known_at)
                        .push_bind(r.began.0)
                        .push_bind(r.began.1.as_str())
                        .push_bind(r.began.2)
                        .push_bind(r.began.3)
                        .push_bind(r.ended.as_ref().map(|e| e.0))
                        .push_bind(r.ended.as_ref().map(|e| e.1.as_str()))
                        .push_bind(r.ended.as_ref().and_then(|e| e.2))
                        .push_bind(r.ended.as_ref().map(|e| e.3));
                });
                qb.build().execute(&mut **t).await.map(|r| r.rows_affected())
            })?;
        }
        self.0.clear();
        Ok(())
    }
}

/// The open sets of `hosts` read in `tx`, with their details.
pub(crate) async fn open_sets_in(
    tx: &mut Tx,
    caches: &Caches,
    hosts: &[HostId],
) -> Result<Vec<Expanded>, StoreError> {
    if hosts.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<SetRow> = on!(&mut *tx, t => sqlx::query_as(&format!(
        "SELECT {SET_COLUMNS} FROM exposures WHERE ended_at IS NULL AND host_id {}",
        DB::in_list(1)
    ))
    .bind(DB::ids(hosts))
    .fetch_all(&mut **t).await)?;
    expand(tx.conn(), caches, rows).await
}

/// The host's name, group name and domain (what a new set records), when the caller read it.
pub(crate) type Who<'a> = (&'a str, Option<&'a str>, Option<&'a str>);

/// Brings `host`'s open sets (`open`, read in this transaction) to `now` inside `tx` (see the
/// module comment). `ids` holds the interned id of every detail of `now`; `who` is the host's
/// name, group and domain (read here when `None` and a set is new). New set rows are queued
/// in `pending`, which the caller flushes in the same transaction. Returns (gained, lost).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn apply_in(
    tx: &mut Tx,
    host: HostId,
    who: Option<Who<'_>>,
    open: &[Expanded],
    now: &[ExposureNow],
    ids: &DetailIds,
    ctx: &ExposureContext,
    pending: &mut PendingSets,
) -> Result<(usize, usize), StoreError> {
    let at = ts(ctx.at);
    let mark: Mark<'_> = (at, ctx.cause.as_str(), ctx.report, ctx.generation);
    // The first of each CVE.
    let mut wanted: rustc_hash::FxHashMap<&str, &ExposureNow> =
        rustc_hash::FxHashMap::with_capacity_and_hasher(now.len(), rustc_hash::FxBuildHasher);
    for e in now {
        wanted.entry(e.cve.as_str()).or_insert(e);
    }
    let id_of = |e: &ExposureNow| -> Result<(i64, Arc<Detail>), StoreError> {
        let (d, id) = ids.get_key_value(&DetailRef::of(e)).ok_or_else(|| {
            StoreError::corrupt("exposure detail", format!("{} was not interned", e.cve))
        })?;
        Ok((*id, Arc::clone(d)))
    };
    let mut have: rustc_hash::FxHashSet<&str> = rustc_hash::FxHashSet::default();
    let mut ended_whole: Vec<i64> = Vec::new();
    let mut lost = 0;
    for (row, details) in open {
        let members = decode_ids(&row.details)?;
        let (mut keep, mut gone, mut fixed) = (Vec::new(), Vec::new(), Vec::new());
        for (id, d) in members.iter().zip(details) {
            have.insert(d.cve.as_str());
            match wanted.get(d.cve.as_str()) {
                None => gone.push((*id, &**d)),
                Some(e)
                    if d.fixed_version.is_none()
                        && e.fixed_version.as_deref().is_some_and(|f| !f.is_empty()) =>
                {
                    fixed.push(id_of(e)?);
                }
                Some(_) => keep.push((*id, &**d)),
            }
        }
        lost += gone.len();
        if gone.is_empty() && fixed.is_empty() {
            continue;
        }
        if keep.is_empty() && fixed.is_empty() {
            ended_whole.push(row.id);
            continue;
        }
        let owner: Owner<'_> = (
            row.host_id,
            &row.hostname,
            row.host_group.as_deref(),
            row.domain.as_deref(),
        );
        let began: Mark<'_> = (
            row.began_at,
            &row.began_cause,
            row.began_report,
            row.began_generation,
        );
        if !gone.is_empty() {
            pending.push(owner, &gone, row.fix_known_at, began, Some(mark));
        }
        if !fixed.is_empty() {
            let members: Vec<(i64, &Detail)> = fixed.iter().map(|(id, d)| (*id, &**d)).collect();
            pending.push(owner, &members, Some(at), began, None);
        }
        if keep.is_empty() {
            on!(&mut *tx, t => sqlx::query("DELETE FROM exposures WHERE id = $1")
                .bind(row.id)
                .execute(&mut **t).await.map(|r| r.rows_affected()))?;
        } else {
            let kept: Vec<i64> = keep.iter().map(|(id, _)| *id).collect();
            let c = counts(keep.iter().map(|(_, d)| *d));
            on!(&mut *tx, t => bind_counts(sqlx::query(
                "UPDATE exposures SET details = $2, n = $3, critical = $4, high = $5, \
                 medium = $6, low = $7, unknown = $8, fixable = $9 WHERE id = $1",
            )
            .bind(row.id)
            .bind(encode_ids(&kept)), c)
            .execute(&mut **t).await.map(|r| r.rows_affected()))?;
        }
    }
    if !ended_whole.is_empty() {
        on!(&mut *tx, t => sqlx::query(&format!(
            "UPDATE exposures SET ended_at = $1, ended_cause = $2, ended_report = $3, \
             ended_generation = $4 WHERE id {}",
            DB::in_list(5)
        ))
        .bind(at)
        .bind(ctx.cause.as_str())
        .bind(ctx.report)
        .bind(ctx.generation)
        .bind(DB::ids(&ended_whole))
        .execute(&mut **t).await.map(|r| r.rows_affected()))?;
    }
    let mut gained: Vec<&ExposureNow> = wanted
        .values()
        .filter(|e| !have.contains(e.cve.as_str()))
        .copied()
        .collect();
    gained.sort_by(|a, b| a.cve.cmp(&b.cve));
    if !gained.is_empty() {
        // The caller's owner, or the host's row read now (a host deleted meanwhile gets no set).
        let read;
        let (hostname, group, domain) = match who {
            Some(w) => w,
            None => {
                read = on!(&mut *tx, t => sqlx::query_as::<_, (String, Option<String>, Option<String>)>(
                    "SELECT h.hostname, g.name, h.domain FROM hosts h \
                     LEFT JOIN host_groups g ON g.id = h.group_id WHERE h.id = $1",
                )
                .bind(host)
                .fetch_optional(&mut **t).await)?;
                let Some((h, g, d)) = &read else {
                    return Ok((0, lost));
                };
                (h.as_str(), g.as_deref(), d.as_deref())
            }
        };
        let members: Vec<(i64, Arc<Detail>)> =
            gained.iter().map(|e| id_of(e)).collect::<Result<_, _>>()?;
        let members: Vec<(i64, &Detail)> = members.iter().map(|(id, d)| (*id, &**d)).collect();
        pending.push(
            (host, hostname, group, domain),
            &members,
            Some(at),
            mark,
            None,
        );
    }
    Ok((gained.len(), lost))
}

impl Store {
    /// The ids of the details of `nows`, interned first where new, in a transaction of their
    /// own that commits before any set names them.
    pub(crate) async fn intern_details<'a>(
        &self,
        nows: impl IntoIterator<Item = &'a ExposureNow>,
    ) -> Result<DetailIds, StoreError> {
        // Distinct first (a re-evaluation's chunk names the same few thousand details
        // hundreds of thousands of times: sorting them all was 18% of its CPU), then sorted.
        let distinct: rustc_hash::FxHashSet<DetailRef<'a>> =
            nows.into_iter().map(DetailRef::of).collect();
        let wanted: Vec<DetailRef<'a>> = distinct.into_iter().collect();
        let known = self.caches.detail_ids(&wanted);
        let mut out = DetailIds::with_capacity_and_hasher(wanted.len(), Default::default());
        let mut missing: Vec<Detail> = Vec::new();
        for (d, known) in wanted.into_iter().zip(known) {
            match known {
                Some((d, id)) => {
                    out.insert(d, id);
                }
                None => missing.push(d.to_detail()),
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        // Sorted, so that two servers interning overlapping details lock them in one order
        // (only the missing ones: sorting every detail of every finished report was ~3% of a
        // changed report's instructions).
        missing.sort_unstable();
        let mut tx = self.begin().await?;
        for chunk in missing.chunks(1_000) {
            on!(&mut tx, t => {
                let mut qb = QueryBuilder::<DB>::new(
                    "INSERT INTO exposure_details (cve, severity, advisory, fixed_version, fix_issued) ",
                );
                qb.push_values(chunk, |mut b, d| {
                    b.push_bind(d.cve.clone())
                        .push_bind(d.severity.clone())
                        .push_bind(d.advisory.clone())
                        .push_bind(d.fixed_version.clone().unwrap_or_default())
                        .push_bind(d.fix_issued.clone().unwrap_or_default());
                });
                qb.push(
                    " ON CONFLICT (cve, advisory, severity, fixed_version, fix_issued) DO NOTHING",
                );
                qb.build().execute(&mut **t).await.map(|r| r.rows_affected())
            })?;
        }
        let mut cves: Vec<String> = missing.iter().map(|d| d.cve.clone()).collect();
        cves.dedup();
        let mut rows: Vec<DetailRow> = Vec::new();
        for chunk in cves.chunks(5_000) {
            let (json,): (Option<String>,) = on!(&mut tx, t => sqlx::query_as(&format!(
                "SELECT {} FROM (SELECT {DETAIL_COLUMNS} FROM exposure_details WHERE cve {}) d",
                DB::json_rows_agg(DETAIL_COLUMNS, "id"),
                DB::in_list(1)
            ))
            .bind(DB::strs(chunk))
            .fetch_one(&mut **t).await)?;
            rows.extend(detail_rows(json.as_deref())?);
        }
        tx.commit().await?;
        let missing: HashSet<Detail> = missing.into_iter().collect();
        let rows: Vec<(i64, Detail)> = rows
            .into_iter()
            .map(from_row)
            .filter(|(_, d)| missing.contains(d))
            .collect();
        for (id, d) in self.caches.add_details(rows) {
            out.insert(d, id);
        }
        if let Some(d) = missing.iter().find(|d| !out.contains_key(&d.view())) {
            return Err(StoreError::corrupt(
                "exposure detail",
                format!("{} was interned but could not be read back", d.cve),
            ));
        }
        Ok(out)
    }
}
