//! Feed sync and import: fetch (HTTP(S) with conditional GET, or a local file), decompress,
//! parse, and replace the feed's advisories in one transaction.
//!
//! A sync that yields no advisories, or fewer than half of what the feed had, is not applied:
//! it is recorded as failed and the previous advisories stay (a vendor format change must be
//! loud, never a silent zero — Pakiti 3 told sites they had no CVEs when Ubuntu changed its
//! OVAL).
//!
//! Every import recognises what the document is about ([`FeedIdentity`]: kind, release,
//! advisory series) and records it on the feed. A document of another release or kind than
//! the feed's last import (bionic's OVAL into the focal feed, the DLA list into the DSA feed)
//! is refused unless the import says `replace`: such a mix-up would silently swap a whole
//! release's advisories, and the count-drop guard does not see it when the new file is bigger.
//!
//! Prioritisation feeds (CISA KEV, FIRST EPSS: [`FeedKind::is_prioritisation`]) go through the
//! same fetch, guards and sync records, but their documents give per-CVE facts, not
//! advisories: an import replaces the feed's rows of the CVE facts table and reloads the
//! engine's facts; it marks nothing stale and re-evaluates no host (findings do not change).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use pakiti_core::advisory::Advisory;
use pakiti_core::stream::OsStream;
use pakiti_feeds::{
    CveFactRecord, FeedIdentity, FeedKind, ParseOptions, Parsed, Problem, decompress,
};
use pakiti_store::{Feed, FeedContent, SyncRecord, SyncStatus};
use time::OffsetDateTime;

use super::fetch::{Fetcher, checksum};
use crate::state::AppState;

/// The feed kind that is recognised from the content at each sync.
pub const AUTO_KIND: &str = "auto";

/// What a sync or import did.
#[derive(Clone, Debug)]
pub struct ImportOutcome {
    /// How it ended.
    pub status: SyncStatus,
    /// Advisories parsed.
    pub advisories: usize,
    /// CVEs a prioritisation feed gave facts for (0 for vulnerability feeds).
    pub facts: usize,
    /// Affected entries parsed.
    pub affected: usize,
    /// Per-record problems met while parsing.
    pub problems: Vec<Problem>,
    /// (stream, package) keys whose entries changed.
    pub changed_keys: usize,
    /// Bytes fetched (compressed).
    pub bytes: usize,
    /// Wall time.
    pub took: Duration,
    /// Why it failed.
    pub error: Option<String>,
}

/// Bytes fetched for a feed, with the validators for the next conditional GET (`body` is
/// `None` when the source answered "not modified").
pub use super::fetch::Got as Fetched;
pub use super::fetch::{NoProgress, Progress};

/// A document parsed and recognised.
#[derive(Debug)]
pub struct Identified {
    /// What it is about.
    pub identity: FeedIdentity,
    /// Its advisories (none for a prioritisation feed).
    pub parsed: Parsed<Advisory>,
    /// A prioritisation feed's per-CVE facts.
    pub facts: Option<Parsed<CveFactRecord>>,
    /// A vulnerability feed's CVSS base scores, the highest per CVE
    /// ([`pakiti_feeds::scores::cvss_by_cve`]).
    pub cvss: Vec<(String, f32)>,
}

/// How an import treats the feed's previous content.
#[derive(Debug, Default)]
pub struct ImportOptions {
    /// Apply even when the advisory count dropped by more than half.
    pub force: bool,
    /// Apply even when the document is of another release or kind than the feed's last
    /// import (it then becomes the feed's content).
    pub replace: bool,
    /// What was imported, for `feed list` (the feed's URL when `None`).
    pub source: Option<String>,
    /// The document already parsed from these bytes with the feed's kind and stream (by
    /// `feed import`, which names a new feed after its content).
    pub parsed: Option<Identified>,
}

/// Fetches a feed's bytes: a conditional GET for URLs, a read for local paths.
///
/// # Errors
/// Network or file errors, a missing file, or an HTTP status other than success and 304.
pub async fn fetch(fetcher: &Fetcher, feed: &Feed, progress: &dyn Progress) -> Result<Fetched> {
    // A failed sync's validators are sent only when it got an `ETag` (the source answered; the
    // import failed), so a source that failed before answering is fetched in full.
    let cond = feed
        .last_sync
        .as_ref()
        .filter(|s| s.status != SyncStatus::Failed || s.etag.is_some());
    fetcher
        .get(&feed.url, cond, progress)
        .await?
        .ok_or_else(|| anyhow!("{} not found", feed.url))
}

/// Imports fetched bytes into a feed: the deterministic step of a sync.
///
/// Returns the outcome also for failures that were recorded on the feed (count drop, parse
/// error); `Err` only when the store itself fails.
///
/// # Errors
/// The store fails.
pub async fn import(
    state: &AppState,
    feed: &Feed,
    fetched: Fetched,
    force: bool,
    progress: &dyn Progress,
) -> Result<ImportOutcome> {
    let opts = ImportOptions {
        force,
        ..ImportOptions::default()
    };
    import_with(state, feed, fetched, opts, progress).await
}

/// [`import`] with every option.
///
/// # Errors
/// The store fails.
pub async fn import_with(
    state: &AppState,
    feed: &Feed,
    fetched: Fetched,
    opts: ImportOptions,
    progress: &dyn Progress,
) -> Result<ImportOutcome> {
    let ImportOptions {
        force,
        replace,
        source,
        parsed: pre_parsed,
    } = opts;
    let start = Instant::now();
    let at = OffsetDateTime::now_utc();
    let mut outcome = ImportOutcome {
        status: SyncStatus::Unchanged,
        advisories: 0,
        facts: 0,
        affected: 0,
        problems: Vec::new(),
        changed_keys: 0,
        bytes: 0,
        took: Duration::ZERO,
        error: None,
    };
    let record = |status, error: Option<String>, sum: Option<String>, f: &Fetched| SyncRecord {
        at,
        status,
        error,
        duration_ms: i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX),
        etag: f.etag.clone(),
        last_modified: f.last_modified.clone(),
        checksum: sum,
    };
    let Some(body) = fetched.body.as_deref() else {
        state
            .store
            .record_feed_sync(
                feed.id,
                &record(SyncStatus::Unchanged, None, None, &fetched),
            )
            .await?;
        outcome.took = start.elapsed();
        return Ok(outcome);
    };
    outcome.bytes = body.len();
    let sum = checksum(body);
    let last_ok = feed.last_sync.as_ref().is_some_and(|s| {
        s.status != SyncStatus::Failed && s.checksum.as_deref() == Some(sum.as_str())
    });
    if last_ok && !force && !replace && feed.advisory_count > 0 {
        state
            .store
            .record_feed_sync(
                feed.id,
                &record(SyncStatus::Unchanged, None, Some(sum), &fetched),
            )
            .await?;
        outcome.took = start.elapsed();
        return Ok(outcome);
    }
    progress.stage("parsing", None);
    let parsed = match pre_parsed {
        Some(p) => Ok(p),
        None => {
            let body = body.to_vec();
            let kind_name = feed.kind.clone();
            let stream = feed.stream.clone();
            tokio::task::spawn_blocking(move || identify(&kind_name, stream.as_deref(), &body))
                .await?
        }
    };
    let parsed = parsed.map_err(|e| format!("{e:#}")).and_then(|Identified { identity, parsed, facts, cvss }| {
        let new = facts.as_ref().map_or(parsed.records.len(), |f| f.records.len());
        let old = usize::try_from(feed.advisory_count).unwrap_or(0);
        let what = if facts.is_some() { "CVE" } else { "advisory" };
        let key = identity.key();
        if let Some(was) = feed.content.as_ref().filter(|c| c.key != key && !replace) {
            Err(format!(
                "the document is {key}, but feed {} holds {} (last imported from {}); not applied — import it into its own feed, or pass --replace to make it this feed's content",
                feed.name, was.key, was.source
            ))
        } else if new == 0 {
            Err("the feed yielded no advisories".to_owned())
        } else if old > 0 && new * 2 < old && !force {
            Err(format!(
                "{what} count dropped from {old} to {new} (more than half); not applied — check the source, or import with --force"
            ))
        } else {
            Ok((identity, parsed, facts, cvss))
        }
    });
    let (identity, parsed, facts, cvss) = match parsed {
        Ok(p) => p,
        Err(msg) => {
            // The previous advisories stay; the failure is on the feed for the UI to show.
            state
                .store
                .record_feed_sync(
                    feed.id,
                    &record(SyncStatus::Failed, Some(msg.clone()), None, &fetched),
                )
                .await?;
            outcome.status = SyncStatus::Failed;
            outcome.error = Some(msg);
            outcome.took = start.elapsed();
            return Ok(outcome);
        }
    };
    let content = FeedContent {
        kind: identity.kind.name().to_owned(),
        key: identity.key(),
        source: source.unwrap_or_else(|| feed.url.clone()),
    };
    if let Some(facts) = facts {
        progress.stage("storing", None);
        let rows: Vec<(String, pakiti_core::risk::CveFacts)> = facts
            .records
            .into_iter()
            .map(|r| (r.cve, r.facts))
            .collect();
        outcome.facts = state
            .store
            .replace_feed_cve_facts(
                feed.id,
                &rows,
                Some(&record(SyncStatus::Ok, None, Some(sum), &fetched)),
            )
            .await?;
        outcome.problems = facts.problems;
        state.store.set_feed_content(feed.id, &content).await?;
        state.engine.reload_cve_facts().await?;
        outcome.status = SyncStatus::Ok;
        outcome.took = start.elapsed();
        return Ok(outcome);
    }
    outcome.advisories = parsed.records.len();
    outcome.affected = parsed.records.iter().map(|a| a.affected.len()).sum();
    outcome.problems = parsed.problems;
    progress.stage("storing", None);
    let replaced = state
        .store
        .replace_feed_advisories(
            feed.id,
            &parsed.records,
            &record(SyncStatus::Ok, None, Some(sum), &fetched),
        )
        .await?;
    state.store.set_feed_content(feed.id, &content).await?;
    // The feed's CVSS scores go to the CVE facts (the risk order); they change no finding.
    let scores: Vec<(String, pakiti_core::risk::CveFacts)> = cvss
        .into_iter()
        .map(|(cve, score)| {
            (
                cve,
                pakiti_core::risk::CveFacts {
                    cvss: Some(score),
                    ..pakiti_core::risk::CveFacts::default()
                },
            )
        })
        .collect();
    state
        .store
        .replace_feed_cve_facts(feed.id, &scores, None)
        .await?;
    state.engine.reload_cve_facts().await?;
    outcome.status = SyncStatus::Ok;
    outcome.changed_keys = replaced.changed_keys.len();
    outcome.took = start.elapsed();
    Ok(outcome)
}

/// Decompresses and parses a document with a feed's kind (`auto`: recognised from the
/// content) and stream override, and recognises what it is about.
///
/// # Errors
/// The document cannot be decompressed, its kind is not recognised, or it does not parse.
pub fn identify(kind: &str, stream: Option<&str>, body: &[u8]) -> Result<Identified> {
    let data = decompress::to_vec(body).context("decompressing")?;
    let kind = if kind == AUTO_KIND {
        FeedKind::detect(&data).ok_or_else(|| {
            anyhow!("cannot tell the feed kind from its content; set one with --kind")
        })?
    } else {
        FeedKind::from_name(kind).ok_or_else(|| anyhow!("unknown feed kind {kind}"))?
    };
    let head = &data[..data.len().min(64 * 1024)];
    if kind.is_prioritisation() {
        let facts = kind.parse_facts(&data[..])?;
        return Ok(Identified {
            identity: FeedIdentity::of(kind, head, &[]),
            parsed: Parsed::default(),
            facts: Some(facts),
            cvss: Vec::new(),
        });
    }
    let opts = ParseOptions {
        stream: stream.map(str::parse::<OsStream>).transpose()?,
    };
    let parsed = kind.parse(&data[..], &opts)?;
    Ok(Identified {
        identity: FeedIdentity::of(kind, head, &parsed.records),
        parsed,
        facts: None,
        cvss: pakiti_feeds::scores::cvss_by_cve(kind, &data),
    })
}

/// Fetches and imports one feed.
///
/// # Errors
/// The store fails. Fetch failures are recorded on the feed and returned as a failed outcome.
pub async fn sync(
    state: &AppState,
    feed: &Feed,
    force: bool,
    progress: &dyn Progress,
) -> Result<ImportOutcome> {
    let start = Instant::now();
    match fetch(&state.fetcher, feed, progress).await {
        Ok(fetched) => import(state, feed, fetched, force, progress).await,
        Err(e) => {
            let msg = format!("{e:#}");
            let rec = SyncRecord {
                at: OffsetDateTime::now_utc(),
                status: SyncStatus::Failed,
                error: Some(msg.clone()),
                duration_ms: i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX),
                etag: None,
                last_modified: None,
                checksum: None,
            };
            state.store.record_feed_sync(feed.id, &rec).await?;
            Ok(ImportOutcome {
                status: SyncStatus::Failed,
                advisories: 0,
                facts: 0,
                affected: 0,
                problems: Vec::new(),
                changed_keys: 0,
                bytes: 0,
                took: start.elapsed(),
                error: Some(msg),
            })
        }
    }
}

/// Syncs every enabled feed whose interval has passed; the server's scheduler calls this.
///
/// # Errors
/// The store fails.
pub async fn sync_due(state: &AppState) -> Result<usize> {
    let now = OffsetDateTime::now_utc();
    let mut n = 0;
    // Prioritisation feeds reload the CVE facts themselves and change no finding.
    let mut vulnerability_feeds = 0;
    for feed in state.store.list_feeds().await? {
        let due = feed.enabled
            && feed
                .last_sync
                .as_ref()
                .is_none_or(|s| (now - s.at).whole_seconds() >= feed.interval_secs);
        if due {
            let out = sync(state, &feed, false, &NoProgress).await?;
            tracing::info!(feed = %feed.name, status = out.status.as_str(), advisories = out.advisories, facts = out.facts, error = out.error.as_deref().unwrap_or(""), "feed sync");
            n += 1;
            if !feed.is_prioritisation() {
                vulnerability_feeds += 1;
            }
        }
    }
    if vulnerability_feeds > 0 {
        state.engine.reevaluate().await?;
    }
    Ok(n)
}
