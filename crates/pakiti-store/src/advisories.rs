//! Loading the advisories for the matcher: all of them, or only those a caller does not
//! already hold (an evaluator brought up to date after a feed import re-reads the advisories
//! the import added or changed, not all 57,000).

use std::collections::HashMap;

use tracing::instrument;

use crate::db::{Dialect, Tx, on};
use crate::error::StoreError;
use crate::model::{AdvisoryDbId, StoredAdvisory};
use crate::shared::{AdvisoryLoadRow, AffectedLoadRow};
use crate::store::Store;

/// Advisories read by id in one statement at most (a bound id list).
const IDS_PER_READ: usize = 2_000;

/// Advisories read in one statement at most when all are read: read whole, the full feeds'
/// 665,000 affected entries took ~235 MB at once beside what they become, and the server kept
/// that peak as its resident size (issue 17). 2,000 advisories hold ~23,000 entries.
const ADVISORIES_PER_READ: usize = 2_000;

/// What [`Store::load_advisories_changed`] read, in one snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdvisoryLoad {
    /// Every advisory of every enabled feed as (id, content digest), by id.
    pub listing: Vec<(AdvisoryDbId, i64)>,
    /// The advisories of `listing` that the caller does not hold with that digest (or every
    /// one of them, when that is most), by id.
    pub loaded: Vec<StoredAdvisory>,
}

impl Store {
    /// Every advisory of every enabled feed, by id, exactly as imported.
    #[instrument(skip_all)]
    pub async fn load_advisories(&self) -> Result<Vec<StoredAdvisory>, StoreError> {
        Ok(self.load_advisories_changed(&HashMap::new()).await?.loaded)
    }

    /// The listing of every enabled feed's advisories with their digests, and the advisories
    /// whose (id, digest) is not in `held`: what a caller holding `held` must read to have
    /// every advisory as [`Store::load_advisories`] would return it. An advisory keeps its id
    /// while its content is unchanged and gets a new digest whenever it changes (imports
    /// update rows in place with the digest, or delete and insert), so an unchanged (id,
    /// digest) pair means unchanged content. When most advisories are wanted, all are read.
    ///
    /// # Errors
    /// The store fails, or a row does not decode.
    #[instrument(skip_all, fields(held = held.len()))]
    pub async fn load_advisories_changed(
        &self,
        held: &HashMap<AdvisoryDbId, i64>,
    ) -> Result<AdvisoryLoad, StoreError> {
        // One read transaction: every query sees one snapshot.
        let mut tx = self.begin_read().await?;
        // As one aggregated row of `id:digest` tokens: sqlx hands SQLite rows over one by
        // one, and the listing has one per advisory (~60,000 with the full feeds).
        let listing_sql = on!(&tx, _t => format!(
            "SELECT {}a.id) FROM (SELECT a.id, CAST(a.id AS TEXT) || ':' || \
             CAST(a.digest AS TEXT) AS t FROM advisories a JOIN feeds f ON f.id = a.feed_id \
             WHERE f.enabled) AS a",
            <DB as Dialect>::TOKEN_AGG_OPEN
        ));
        let (tokens,): (Option<String>,) =
            on!(&mut tx, t => sqlx::query_as(&listing_sql).fetch_one(&mut **t).await)?;
        let listing = parse_listing(tokens.as_deref().unwrap_or_default())?;
        let wanted: Vec<i64> = listing
            .iter()
            .filter(|(id, digest)| held.get(id) != Some(digest))
            .map(|(id, _)| *id)
            .collect();
        let loaded = if wanted.is_empty() {
            Vec::new()
        } else if wanted.len() * 4 >= listing.len() {
            read_advisories(&mut tx, None).await?
        } else {
            let mut out = Vec::with_capacity(wanted.len());
            for chunk in wanted.chunks(IDS_PER_READ) {
                out.extend(read_advisories(&mut tx, Some(chunk)).await?);
            }
            out
        };
        tx.commit().await?;
        Ok(AdvisoryLoad { listing, loaded })
    }
}

/// The `id:digest` tokens of the listing's aggregate, comma-separated, in order.
fn parse_listing(tokens: &str) -> Result<Vec<(AdvisoryDbId, i64)>, StoreError> {
    let bad = || StoreError::corrupt("advisory listing", "not id:digest");
    tokens
        .split(',')
        .filter(|t| !t.is_empty())
        .map(|t| {
            let (id, digest) = t.split_once(':').ok_or_else(bad)?;
            Ok((
                id.parse().map_err(|_| bad())?,
                digest.parse().map_err(|_| bad())?,
            ))
        })
        .collect()
}

/// The advisories of enabled feeds (only those of `ids` when given), by id, with their CVEs
/// and affected entries. One row per advisory, its CVEs and entries aggregated into JSON
/// arrays by the database: sqlx hands SQLite rows over one by one (~10 µs each), and the
/// full feeds have ~57,000 advisories but ~900,000 CVE and entry rows (issue 17: the full
/// load took 8–12 s as rows; a 1% feed update's 3,500 advisories ~0.2 s).
async fn read_advisories(
    tx: &mut Tx,
    ids: Option<&[i64]>,
) -> Result<Vec<StoredAdvisory>, StoreError> {
    // With ids, `$1` is the id list (a chunk, read at once); without, `$1` is the paging key.
    let sql = on!(&*tx, _t => {
        let tail = match ids {
            Some(_) => format!(" AND a.id {} ORDER BY a.id", DB::in_list(1)),
            None => format!(" AND a.id > $1 ORDER BY a.id LIMIT {ADVISORIES_PER_READ}"),
        };
        format!(
            "SELECT a.id, a.feed_id, a.vendor_id, a.source, a.title, a.severity, a.issued, \
             a.updated, a.refs, a.digest, \
             (SELECT {} FROM advisory_cves c WHERE c.advisory_id = a.id) AS cves, \
             (SELECT {} FROM affected af WHERE af.advisory_id = a.id) AS affected \
             FROM advisories a JOIN feeds f ON f.id = a.feed_id WHERE f.enabled{tail}",
            DB::json_agg("c.cve", "c.ord"),
            DB::json_rows_agg(
                "af.stream, af.package, af.kind, af.arches, af.module, af.introduced, \
                 af.last_affected, af.status, af.fixed_version",
                "af.idx"
            ),
        )
    });
    let mut out = Vec::new();
    let mut after = i64::MIN;
    loop {
        let page: Vec<AdvisoryJsonRow> = on!(&mut *tx, t => {
            let q = sqlx::query_as(&sql);
            let q = match ids {
                Some(ids) => q.bind(DB::ids(ids)),
                None => q.bind(after),
            };
            q.fetch_all(&mut **t).await
        })?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.head.id;
        let n = page.len();
        for row in page {
            out.push(row.into_stored()?);
        }
        if ids.is_some() || n < ADVISORIES_PER_READ {
            break;
        }
    }
    Ok(out)
}

/// One advisory with its CVEs and affected entries as JSON arrays.
#[derive(sqlx::FromRow)]
struct AdvisoryJsonRow {
    #[sqlx(flatten)]
    head: AdvisoryLoadRow,
    cves: Option<String>,
    affected: Option<String>,
}

impl AdvisoryJsonRow {
    fn into_stored(self) -> Result<StoredAdvisory, StoreError> {
        let (id, feed_id, digest, mut advisory) = self.head.into_advisory()?;
        if let Some(cves) = self.cves.as_deref() {
            advisory.cves = serde_json::from_str(cves)
                .map_err(|e| StoreError::corrupt("advisory CVE list", e.to_string()))?;
        }
        if let Some(affected) = self.affected.as_deref() {
            let entries: Vec<AffectedLoadRow> = serde_json::from_str(affected)
                .map_err(|e| StoreError::corrupt("affected entry list", e.to_string()))?;
            advisory.affected = entries
                .into_iter()
                .map(AffectedLoadRow::into_affected)
                .collect::<Result<_, _>>()?;
        }
        // Exact capacities: lists grown by doubling are held at up to twice their size.
        advisory.cves.shrink_to_fit();
        advisory.affected.shrink_to_fit();
        Ok(StoredAdvisory {
            id,
            feed_id,
            digest,
            advisory,
        })
    }
}
