//! Loading the advisories for the matcher: all of them, or only those a caller does not
//! already hold (an evaluator brought up to date after a feed import re-reads the advisories
//! the import added or changed, not all 57,000).

use std::collections::HashMap;

use tracing::instrument;

use crate::db::{Tx, on};
use crate::error::StoreError;
use crate::model::{AdvisoryDbId, StoredAdvisory};
use crate::shared::{AdvisoryLoadRow, AffectedLoadRow, assemble_advisories, attach_affected};
use crate::store::Store;

/// Advisories read by id in one statement at most (a bound id list).
const IDS_PER_READ: usize = 2_000;

/// Affected entries read in one statement at most: read whole, the full feeds' 665,000 rows
/// took ~235 MB at once beside what they become, and the server kept that peak as its
/// resident size (issue 17).
const AFFECTED_PER_READ: i64 = 20_000;

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
        let listing: Vec<(i64, i64)> = on!(&mut tx, t => sqlx::query_as(
            "SELECT a.id, a.digest FROM advisories a JOIN feeds f ON f.id = a.feed_id \
             WHERE f.enabled ORDER BY a.id",
        )
        .fetch_all(&mut **t).await)?;
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

/// The advisories of enabled feeds (only those of `ids` when given), by id, with their CVEs
/// and affected entries.
async fn read_advisories(
    tx: &mut Tx,
    ids: Option<&[i64]>,
) -> Result<Vec<StoredAdvisory>, StoreError> {
    // With ids, `$1` is the id list and the paging keys follow it.
    let (filter, after) = match ids {
        None => (String::new(), 1),
        Some(_) => (on!(&*tx, _t => format!(" AND a.id {}", DB::in_list(1))), 2),
    };
    let heads_sql = format!(
        "SELECT a.id, a.feed_id, a.vendor_id, a.source, a.title, a.severity, a.issued, \
         a.updated, a.refs, a.digest FROM advisories a JOIN feeds f ON f.id = a.feed_id \
         WHERE f.enabled{filter} ORDER BY a.id"
    );
    let cves_sql = format!(
        "SELECT c.advisory_id, c.cve FROM advisory_cves c \
         JOIN advisories a ON a.id = c.advisory_id JOIN feeds f ON f.id = a.feed_id \
         WHERE f.enabled{filter} ORDER BY c.advisory_id, c.ord"
    );
    let affected_sql = format!(
        "SELECT af.advisory_id, af.idx, af.stream, af.package, af.kind, af.arches, \
         af.module, af.introduced, af.last_affected, af.status, af.fixed_version \
         FROM affected af JOIN advisories a ON a.id = af.advisory_id \
         JOIN feeds f ON f.id = a.feed_id \
         WHERE f.enabled{filter} AND (af.advisory_id, af.idx) > (${after}, ${}) \
         ORDER BY af.advisory_id, af.idx LIMIT {AFFECTED_PER_READ}",
        after + 1
    );
    let heads: Vec<AdvisoryLoadRow> = on!(&mut *tx, t => {
        let mut q = sqlx::query_as(&heads_sql);
        if let Some(ids) = ids {
            q = q.bind(DB::ids(ids));
        }
        q.fetch_all(&mut **t).await
    })?;
    let cves: Vec<(i64, String)> = on!(&mut *tx, t => {
        let mut q = sqlx::query_as(&cves_sql);
        if let Some(ids) = ids {
            q = q.bind(DB::ids(ids));
        }
        q.fetch_all(&mut **t).await
    })?;
    let (mut out, pos) = assemble_advisories(heads, cves)?;
    let (mut after_advisory, mut after_idx) = (i64::MIN, i64::MIN);
    loop {
        let page: Vec<AffectedLoadRow> = on!(&mut *tx, t => {
            let mut q = sqlx::query_as(&affected_sql);
            if let Some(ids) = ids {
                q = q.bind(DB::ids(ids));
            }
            q.bind(after_advisory).bind(after_idx).fetch_all(&mut **t).await
        })?;
        let Some(last) = page.last() else {
            break;
        };
        (after_advisory, after_idx) = (last.advisory_id, last.idx);
        attach_affected(&mut out, &pos, page)?;
    }
    // Exact capacities: grown by doubling, the entry lists held up to twice their size.
    for a in &mut out {
        a.advisory.affected.shrink_to_fit();
        a.advisory.cves.shrink_to_fit();
    }
    Ok(out)
}
