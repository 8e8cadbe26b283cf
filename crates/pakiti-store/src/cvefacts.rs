//! CVE facts: what the prioritisation feeds (CISA KEV, FIRST EPSS) and the CVSS scores of
//! vulnerability feeds say about each CVE, one row per (feed, CVE).
//!
//! An import replaces its feed's rows in one transaction with the feed's sync record; it does
//! not touch advisories, stale keys nor the feed generation, so no host is re-evaluated (the
//! facts order findings, they do not change them). [`Store::load_cve_facts`] merges the rows
//! of enabled feeds per CVE.

use std::collections::HashMap;

use pakiti_core::risk::{CveFacts, CveFactsIndex, Epss, Kev};
use sqlx::QueryBuilder;
use tracing::instrument;

use crate::db::on;
use crate::error::StoreError;
use crate::feeds::{insert_run, record_sync_in};
use crate::model::{FeedId, SyncRecord, SyncStatus};
use crate::store::Store;

/// The columns of a `cve_facts` row, as stored.
#[derive(sqlx::FromRow)]
struct FactRow {
    cve: String,
    kev_date_added: Option<String>,
    kev_due_date: Option<String>,
    kev_ransomware: Option<bool>,
    epss: Option<f64>,
    epss_percentile: Option<f64>,
    cvss: Option<f64>,
}

#[allow(clippy::cast_possible_truncation)]
fn narrow(v: f64) -> f32 {
    v as f32
}

impl FactRow {
    fn facts(&self) -> CveFacts {
        CveFacts {
            kev: self.kev_date_added.as_ref().map(|d| Kev {
                date_added: d.clone(),
                due_date: self.kev_due_date.clone(),
                ransomware: self.kev_ransomware.unwrap_or(false),
            }),
            epss: self.epss.map(|s| Epss {
                score: narrow(s),
                percentile: self.epss_percentile.map_or(f32::NAN, narrow),
            }),
            cvss: self.cvss.map(narrow),
        }
    }
}

/// Folds `b` into `a`: a KEV entry from any feed (the earliest date added), the highest EPSS
/// score, the highest CVSS.
pub fn merge_facts(a: &mut CveFacts, b: &CveFacts) {
    match (&mut a.kev, &b.kev) {
        (None, Some(k)) => a.kev = Some(k.clone()),
        (Some(x), Some(k)) if k.date_added < x.date_added => *x = k.clone(),
        _ => {}
    }
    if let Some(e) = b.epss
        && a.epss.is_none_or(|x| e.score > x.score)
    {
        a.epss = Some(e);
    }
    if let Some(c) = b.cvss
        && a.cvss.is_none_or(|x| c > x)
    {
        a.cvss = Some(c);
    }
}

fn opt(v: Option<f32>) -> Option<f64> {
    v.filter(|x| x.is_finite()).map(f64::from)
}

impl Store {
    /// Replaces the CVE facts of a feed and records its sync (status `Ok`) in one transaction.
    /// The feed's advisory count becomes the number of CVEs it gave facts for when
    /// `as_content` (a prioritisation feed, whose content the facts are); a vulnerability
    /// feed's CVSS rows leave its counts alone. Several rows of one CVE are merged.
    ///
    /// # Errors
    /// The feed does not exist, or the store fails.
    #[instrument(skip_all, fields(feed_id = id, facts = facts.len()))]
    pub async fn replace_feed_cve_facts(
        &self,
        id: FeedId,
        facts: &[(String, CveFacts)],
        sync: Option<&SyncRecord>,
    ) -> Result<usize, StoreError> {
        let mut merged: HashMap<&str, CveFacts> = HashMap::with_capacity(facts.len());
        for (cve, f) in facts {
            if cve.trim().is_empty() {
                return Err(StoreError::Invalid("cve must not be empty".into()));
            }
            merge_facts(merged.entry(cve.as_str()).or_default(), f);
        }
        let mut rows: Vec<(&str, CveFacts)> = merged.into_iter().collect();
        rows.sort_by(|a, b| a.0.cmp(b.0));
        let mut tx = self.begin().await?;
        let exists: Option<i64> = on!(&mut tx, t => sqlx::query_scalar("SELECT id FROM feeds WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **t).await)?;
        if exists.is_none() {
            return Err(StoreError::not_found("feed", id));
        }
        on!(&mut tx, t => sqlx::query("DELETE FROM cve_facts WHERE feed_id = $1")
            .bind(id)
            .execute(&mut **t).await.map(|r| r.rows_affected()))?;
        // 8 binds a row.
        let per = (tx.max_binds() / 8).max(1);
        for chunk in rows.chunks(per) {
            on!(&mut tx, t => {
                let mut qb = QueryBuilder::<DB>::new(
                    "INSERT INTO cve_facts (feed_id, cve, kev_date_added, kev_due_date, \
                     kev_ransomware, epss, epss_percentile, cvss) ",
                );
                qb.push_values(chunk, |mut b, (cve, f)| {
                    b.push_bind(id)
                        .push_bind(*cve)
                        .push_bind(f.kev.as_ref().map(|k| k.date_added.clone()))
                        .push_bind(f.kev.as_ref().and_then(|k| k.due_date.clone()))
                        .push_bind(f.kev.as_ref().map(|k| k.ransomware))
                        .push_bind(opt(f.epss.map(|e| e.score)))
                        .push_bind(opt(f.epss.map(|e| e.percentile)))
                        .push_bind(opt(f.cvss));
                });
                qb.build().execute(&mut **t).await.map(|r| r.rows_affected())
            })?;
        }
        let n = rows.len();
        if let Some(sync) = sync {
            if sync.status != SyncStatus::Ok {
                return Err(StoreError::Invalid(
                    "facts are replaced by a successful sync only".into(),
                ));
            }
            record_sync_in(&mut tx, "feeds", id, sync).await?;
            let count = i64::try_from(n).unwrap_or(i64::MAX);
            on!(&mut tx, t => sqlx::query(
                "UPDATE feeds SET advisory_count = $2, affected_count = 0 WHERE id = $1",
            )
            .bind(id)
            .bind(count)
            .execute(&mut **t).await.map(|r| r.rows_affected()))?;
            insert_run(&mut tx, id, sync, count, 0, 0).await?;
        }
        tx.commit().await?;
        Ok(n)
    }

    /// The CVE facts of every enabled feed, merged per CVE (see [`merge_facts`]).
    ///
    /// # Errors
    /// The store fails.
    pub async fn load_cve_facts(&self) -> Result<CveFactsIndex, StoreError> {
        let rows = on!(&self.read, p => sqlx::query_as::<_, FactRow>(
            "SELECT c.cve, c.kev_date_added, c.kev_due_date, c.kev_ransomware, c.epss, \
             c.epss_percentile, c.cvss FROM cve_facts c JOIN feeds f ON f.id = c.feed_id \
             WHERE f.enabled ORDER BY c.cve, c.feed_id",
        )
        .fetch_all(p).await)?;
        let mut by: HashMap<String, CveFacts> = HashMap::new();
        for r in &rows {
            match by.get_mut(&r.cve) {
                Some(f) => merge_facts(f, &r.facts()),
                None => {
                    by.insert(r.cve.clone(), r.facts());
                }
            }
        }
        let mut index = CveFactsIndex::default();
        for (cve, f) in by {
            index.insert(cve, f);
        }
        Ok(index)
    }

    /// How many CVE fact rows a feed has.
    ///
    /// # Errors
    /// The store fails.
    pub async fn feed_cve_fact_count(&self, id: FeedId) -> Result<i64, StoreError> {
        Ok(on!(&self.read, p => sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM cve_facts WHERE feed_id = $1",
        )
        .bind(id)
        .fetch_one(p).await)?)
    }
}
