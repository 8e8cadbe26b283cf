//! Repository sync and import: fetch a repository's metadata (HTTP(S) with a conditional GET on
//! its entry file, or local files), check the index checksums the entry file lists, parse, and
//! replace the repository's packages in one transaction; then rebuild the in-memory index and
//! recompute the update counts of the hosts of its stream.
//!
//! Where a repository lives (`url`):
//! - `apt`: the component directory of a suite (`http://deb.debian.org/debian/dists/bookworm/main`,
//!   or the same layout on disk): `../InRelease` (or `../Release`), then
//!   `binary-<arch>/Packages.xz` (`.gz`, plain). Or one `Packages` file named as in
//!   `/var/lib/apt/lists/` (`…_dists_bookworm_main_binary-amd64_Packages[.xz]`), whose
//!   `…_InRelease`/`…_Release` sibling is read and checked. The component's `Sources` index
//!   (`source/Sources.xz`, or the `…_main_source_Sources` list) is read too when the Release
//!   lists it: its `Binary` fields give binary → source names for source-package advisories
//!   (stored as name pairs, [`pakiti_store::RepoEntry::source_pair`]). An apt repository
//!   without an arch is `Sources` only. A local `Sources` file can be a repository on its
//!   own; with no Release next to it, it is imported unverified, and the sync says so.
//! - `rpmmd`: the directory holding `repodata/repomd.xml`; `primary` is required,
//!   `updateinfo` and `modules` are used when listed.
//! - `apk`: an `APKINDEX.tar.gz` file or URL, or the directory holding it.
//!
//! The entry file (Release, repomd.xml, APKINDEX) is fetched conditionally and checksummed: a
//! 304 or the same checksum as the last successful sync is "unchanged". A sync that yields no
//! packages is not applied (recorded as failed; the previous packages stay).

mod locate;
mod parse;

use std::time::{Duration, Instant};

use anyhow::Result;
use pakiti_store::{RepoContent, Repository, SyncRecord, SyncStatus};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::fetch::Got;
use super::fetch::{NoProgress, Progress};
use crate::state::AppState;
use locate::{Fetched, fetch};
use parse::parse;

/// Repository kinds.
pub const KINDS: &[&str] = &["apt", "rpmmd", "apk"];

/// What a sync or import did.
#[derive(Clone, Debug)]
pub struct RepoOutcome {
    /// How it ended.
    pub status: SyncStatus,
    /// Entries stored.
    pub packages: usize,
    /// Entries flagged security (advisories or a security repository).
    pub security: usize,
    /// Bytes fetched.
    pub bytes: usize,
    /// Wall time.
    pub took: Duration,
    /// Why it failed.
    pub error: Option<String>,
    /// Hosts whose update counts were recomputed.
    pub hosts: usize,
    /// Of the entries, binary → source name pairs from a `Sources` index (not packages).
    pub source_pairs: usize,
    /// What the operator should know about a sync that worked (no `Sources` index listed,
    /// an index that could not be checksum-verified, …).
    pub notes: Vec<String>,
}

/// Whether a local file name is a `Sources` index (`Sources`, `Sources.xz`,
/// `…_main_source_Sources.gz`, `Bullseye-Sources.gz`) rather than a `Packages` one.
pub fn is_sources_file(name: &str) -> bool {
    !name.contains("_binary-")
        && name
            .rsplit(['/', '_', '-'])
            .next()
            .is_some_and(|last| last == "Sources" || last.starts_with("Sources."))
}

/// Fetches and imports one repository, then refreshes the in-memory index and the update
/// counts of its stream's hosts when something was imported.
///
/// # Errors
/// The store fails. Fetch and parse failures are recorded on the repository and returned as a
/// failed outcome.
pub async fn sync(
    state: &AppState,
    repo: &Repository,
    force: bool,
    progress: &dyn Progress,
) -> Result<RepoOutcome> {
    let start = Instant::now();
    let at = OffsetDateTime::now_utc();
    let mut outcome = RepoOutcome {
        status: SyncStatus::Unchanged,
        packages: 0,
        security: 0,
        bytes: 0,
        took: Duration::ZERO,
        error: None,
        hosts: 0,
        source_pairs: 0,
        notes: Vec::new(),
    };
    let record = |status, error: Option<String>, sum: Option<String>, g: Option<&Got>| SyncRecord {
        at,
        status,
        error,
        duration_ms: i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX),
        etag: g.and_then(|g| g.etag.clone()),
        last_modified: g.and_then(|g| g.last_modified.clone()),
        checksum: sum,
    };
    let fetched = fetch(&state.fetcher, repo, progress).await;
    let failed = |msg: String, g: Option<&Got>| {
        (msg.clone(), record(SyncStatus::Failed, Some(msg), None, g))
    };
    let result: Result<(RepoContent, String, Got), (String, SyncRecord)> = match fetched {
        Err(e) => Err(failed(format!("{e:#}"), None)),
        Ok(Fetched::NotModified(g)) => {
            state
                .store
                .record_repository_sync(
                    repo.id,
                    &record(SyncStatus::Unchanged, None, None, Some(&g)),
                )
                .await?;
            outcome.took = start.elapsed();
            return Ok(outcome);
        }
        Ok(Fetched::Files { entry, files, apt }) => {
            let body = entry.body.clone().unwrap_or_default();
            outcome.bytes = body.len() + files.values().map(Vec::len).sum::<usize>();
            let mut h = Sha256::new();
            h.update(&body);
            let mut roles: Vec<_> = files.iter().collect();
            roles.sort_by_key(|(k, _)| **k);
            for (_, b) in roles {
                h.update(b);
            }
            let sum = hex::encode(h.finalize());
            let unchanged = repo.last_sync.as_ref().is_some_and(|s| {
                s.status != SyncStatus::Failed && s.checksum.as_deref() == Some(sum.as_str())
            }) && repo.package_count > 0;
            if unchanged && !force {
                state
                    .store
                    .record_repository_sync(
                        repo.id,
                        &record(SyncStatus::Unchanged, None, Some(sum), Some(&entry)),
                    )
                    .await?;
                outcome.took = start.elapsed();
                return Ok(outcome);
            }
            progress.stage("parsing", None);
            let kind = repo.kind.clone();
            let parsed =
                tokio::task::spawn_blocking(move || parse(&kind, &body, &files, &apt)).await?;
            match parsed {
                Ok((c, _)) if c.entries.is_empty() => Err(failed(
                    "the repository yielded no packages and no source names".into(),
                    Some(&entry),
                )),
                Ok((c, notes)) => {
                    outcome.notes = notes;
                    Ok((c, sum, entry))
                }
                Err(e) => Err(failed(format!("{e:#}"), Some(&entry))),
            }
        }
    };
    match result {
        Err((msg, rec)) => {
            state.store.record_repository_sync(repo.id, &rec).await?;
            outcome.status = SyncStatus::Failed;
            outcome.error = Some(msg);
        }
        Ok((content, sum, entry)) => {
            progress.stage("storing", None);
            outcome.source_pairs = content
                .entries
                .iter()
                .filter(|e| e.is_source_pair())
                .count();
            outcome.packages = content.entries.len() - outcome.source_pairs;
            outcome.security = if repo.security.unwrap_or(content.meta_security) {
                outcome.packages
            } else {
                content.entries.iter().filter(|e| e.security).count()
            };
            state
                .store
                .replace_repository_packages(
                    repo.id,
                    &content,
                    &record(SyncStatus::Ok, None, Some(sum), Some(&entry)),
                )
                .await?;
            outcome.status = SyncStatus::Ok;
            state.engine.reload_repositories().await?;
            // Binaries whose source the index names may now match source advisories.
            let mapped: Vec<String> = content
                .entries
                .iter()
                .filter(|e| e.source.is_some())
                .map(|e| e.name.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            if repo.kind == "apt" {
                state
                    .engine
                    .reevaluate_binaries(&repo.stream, mapped)
                    .await?;
            }
            outcome.hosts = state.engine.refresh_stream(&repo.stream).await?;
        }
    }
    outcome.took = start.elapsed();
    Ok(outcome)
}

/// Syncs every enabled repository whose interval has passed; the server's scheduler calls this.
///
/// # Errors
/// The store fails.
pub async fn sync_due(state: &AppState) -> Result<usize> {
    let now = OffsetDateTime::now_utc();
    let mut n = 0;
    for repo in state.store.list_repositories().await? {
        let due = repo.enabled
            && repo
                .last_sync
                .as_ref()
                .is_none_or(|s| (now - s.at).whole_seconds() >= repo.interval_secs);
        if due {
            let out = sync(state, &repo, false, &NoProgress).await?;
            tracing::info!(repo = %repo.name, status = out.status.as_str(), packages = out.packages, source_names = out.source_pairs, notes = out.notes.join("; "), error = out.error.as_deref().unwrap_or(""), "repository sync");
            n += 1;
        }
    }
    Ok(n)
}
