//! Per-report package lists (`report_packages`): the installed set of each of a host's newest
//! changed reports, kept for exact report diffs.
//!
//! No list is stored whole (migration 0025): a host's newest list is its current installed set
//! (`host_packages`, `base` = [`CURRENT`]), and each older one is a reverse delta against the
//! list written after it: `base` names that newer list's report, `ids` the ids to add back,
//! `dropped` the ids to take out. Rows written before the migration are whole (`base` NULL).
//! A list is read by walking from the newest down; a delta whose base is not the row just
//! read (a report deleted in between) ends the walk: older lists are then not known.

use crate::codec::{decode_ids, encode_ids};
use crate::db::{Tx, on};
use crate::error::StoreError;
use crate::model::{HostId, ReportId};
use crate::store::Store;

/// A stored list: report, base (`None`: whole), ids, dropped.
type ListRow = (i64, Option<i64>, Vec<u8>, Option<Vec<u8>>);

/// `base` of a host's newest list: it is the host's current list (`host_packages.ids`),
/// which the report that wrote it also wrote.
const CURRENT: i64 = -1;

/// Writes `report`'s package list (`blob`, the store's id blob) inside `tx`, before the host's
/// current list (`host_packages`) is replaced by it: the newest list so far becomes a reverse
/// delta from this one, and this one a row that points at the current list. No whole list is
/// written (rows only ever grow from a few bytes to a delta's size, so SQLite reuses their
/// space instead of leaving shrunk pages behind).
pub(crate) async fn write_report_packages_in(
    tx: &mut Tx,
    host: HostId,
    report: ReportId,
    blob: &[u8],
) -> Result<(), StoreError> {
    let prev: Option<(i64, Option<i64>, Vec<u8>)> = on!(&mut *tx, t => sqlx::query_as(
        "SELECT report_id, base, ids FROM report_packages WHERE host_id = $1 \
         ORDER BY report_id DESC LIMIT 1",
    )
    .bind(host)
    .fetch_optional(&mut **t).await)?;
    if let Some((prev_report, base, prev_blob)) = prev
        && prev_report < report
    {
        let old = match base {
            // Whole (written before migration 0025).
            None => Some(decode_ids(&prev_blob)?),
            Some(CURRENT) => {
                let current: Option<(Vec<u8>,)> = on!(&mut *tx, t => sqlx::query_as(
                    "SELECT ids FROM host_packages WHERE host_id = $1")
                    .bind(host)
                    .fetch_optional(&mut **t).await)?;
                current.map(|(b,)| decode_ids(&b)).transpose()?
            }
            // Already a delta whose newer list is gone: left as it is (reads as unknown).
            Some(_) => None,
        };
        if let Some(old) = old {
            let new = decode_ids(blob)?;
            let (back, dropped) = sorted_difference(&old, &new);
            on!(&mut *tx, t => sqlx::query(
                "UPDATE report_packages SET base = $2, ids = $3, dropped = $4 WHERE report_id = $1",
            )
            .bind(prev_report)
            .bind(report)
            .bind(encode_ids(&back))
            .bind(encode_ids(&dropped))
            .execute(&mut **t).await.map(|r| r.rows_affected()))?;
        }
    }
    let empty = encode_ids(&[]);
    on!(&mut *tx, t => sqlx::query(
        "INSERT INTO report_packages (report_id, host_id, base, ids, dropped) \
         VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(report)
    .bind(host)
    .bind(CURRENT)
    .bind(&empty)
    .execute(&mut **t).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// (`old` minus `new`, `new` minus `old`), both sorted; inputs sorted and distinct.
fn sorted_difference(old: &[i64], new: &[i64]) -> (Vec<i64>, Vec<i64>) {
    let (mut only_old, mut only_new) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a < b => {
                only_old.push(*a);
                i += 1;
            }
            (Some(a), None) => {
                only_old.push(*a);
                i += 1;
            }
            (_, Some(b)) => {
                only_new.push(*b);
                j += 1;
            }
            (None, None) => break,
        }
    }
    (only_old, only_new)
}

/// `newer` with `back` added and `dropped` taken out (all sorted, distinct).
fn apply_reverse_delta(newer: &[i64], back: &[i64], dropped: &[i64]) -> Vec<i64> {
    let mut out: Vec<i64> = newer
        .iter()
        .copied()
        .filter(|id| dropped.binary_search(id).is_err())
        .chain(back.iter().copied())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

impl Store {
    /// Keeps the package lists of the newest `keep` changed reports of each host, deletes the
    /// rest; returns how many were deleted.
    pub async fn prune_report_packages(&self, keep: i64) -> Result<u64, StoreError> {
        Ok(on!(&self.write, p => sqlx::query(
            "DELETE FROM report_packages WHERE report_id IN (SELECT report_id FROM (\
             SELECT report_id, ROW_NUMBER() OVER (PARTITION BY host_id ORDER BY report_id DESC) AS n \
             FROM report_packages) x WHERE x.n > $1)",
        )
        .bind(keep.max(1))
        .execute(p).await.map(|r| r.rows_affected()))?)
    }

    /// The package-version ids installed at report `report` of `host` (the list of the last
    /// changed report up to it); `None` when that report is not the host's or its list is no
    /// longer kept.
    pub async fn report_package_ids(
        &self,
        host: HostId,
        report: ReportId,
    ) -> Result<Option<Vec<i64>>, StoreError> {
        let mut tx = self.begin_read().await?;
        let exists: Option<(i64,)> = on!(&mut tx, t => sqlx::query_as(
            "SELECT id FROM reports WHERE id = $1 AND host_id = $2")
            .bind(report)
            .bind(host)
            .fetch_optional(&mut **t).await)?;
        if exists.is_none() {
            tx.commit().await?;
            return Ok(None);
        }
        // The list in force at `report`: its own, else the last changed report's before it —
        // unless a changed report in between lost its list (then it is not known).
        let from: Option<(Option<i64>,)> = on!(&mut tx, t => sqlx::query_as(
            "SELECT MAX(report_id) FROM report_packages WHERE host_id = $1 AND report_id <= $2")
            .bind(host)
            .bind(report)
            .fetch_optional(&mut **t).await)?;
        let Some(from) = from.and_then(|r| r.0) else {
            tx.commit().await?;
            return Ok(None);
        };
        let (gap,): (i64,) = on!(&mut tx, t => sqlx::query_as(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM reports WHERE host_id = $1 AND changed \
             AND id > $2 AND id <= $3")
            .bind(host)
            .bind(from)
            .bind(report)
            .fetch_one(&mut **t).await)?;
        if gap > 0 {
            tx.commit().await?;
            return Ok(None);
        }
        // From the newest list down to `from`'s.
        let rows: Vec<ListRow> = on!(&mut tx, t => sqlx::query_as(
            "SELECT report_id, base, ids, dropped FROM report_packages \
             WHERE host_id = $1 AND report_id >= $2 ORDER BY report_id DESC")
            .bind(host)
            .bind(from)
            .fetch_all(&mut **t).await)?;
        // The newest list is the host's current one.
        let current: Option<(Vec<u8>,)> = if rows.first().is_some_and(|r| r.1 == Some(CURRENT)) {
            on!(&mut tx, t => sqlx::query_as("SELECT ids FROM host_packages WHERE host_id = $1")
                .bind(host)
                .fetch_optional(&mut **t).await)?
        } else {
            None
        };
        tx.commit().await?;
        let mut current = current.map(|(b,)| decode_ids(&b)).transpose()?;
        // (report, its list) of the row just read.
        let mut state: Option<(i64, Vec<i64>)> = None;
        for (id, base, blob, dropped) in rows {
            let list = match (base, state.take()) {
                (None, _) => {
                    let mut ids = decode_ids(&blob)?;
                    ids.sort_unstable();
                    ids.dedup();
                    ids
                }
                (Some(CURRENT), None) => match current.take() {
                    Some(list) => list,
                    None => return Ok(None),
                },
                (Some(b), Some((newer, list))) if b == newer => apply_reverse_delta(
                    &list,
                    &decode_ids(&blob)?,
                    &decode_ids(dropped.as_deref().unwrap_or_default())?,
                ),
                // Its base is gone: this list and older ones are not known.
                _ => return Ok(None),
            };
            state = Some((id, list));
        }
        Ok(state.filter(|(id, _)| *id == from).map(|(_, list)| list))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_deltas_give_back_the_older_list() {
        let old = [1, 3, 5, 7];
        let new = [1, 2, 5, 8, 9];
        let (back, dropped) = sorted_difference(&old, &new);
        assert_eq!(back, [3, 7]);
        assert_eq!(dropped, [2, 8, 9]);
        assert_eq!(apply_reverse_delta(&new, &back, &dropped), old);
        assert_eq!(sorted_difference(&[], &[4]), (vec![], vec![4]));
        assert_eq!(sorted_difference(&[4], &[]), (vec![4], vec![]));
    }
}
