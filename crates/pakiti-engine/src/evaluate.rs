//! The bridge between stored advisories and the pure matcher.
//!
//! [`Evaluator`] holds the in-memory [`AdvisoryIndex`] built from every enabled feed, plus the
//! database id of each advisory, so that matcher hits become [`PackageFinding`] rows keyed by
//! package-version id. It is rebuilt after a feed changes and swapped in atomically; requests in
//! flight keep the one they started with.

use pakiti_core::advisory::Advisory;
use pakiti_core::matcher::{AdvisoryIndex, Target};
use pakiti_core::package::InstalledPackage;
use pakiti_core::stream::{Distro, OsStream};
use parking_lot::RwLock;
use std::sync::Arc;

use pakiti_store::Store;
use pakiti_store::{
    AdvisoryDbId, CveException, CveTag, HostFinding, PackageFinding, PackageVersionId, StoreError,
    StoredAdvisory,
};
use rustc_hash::{FxHashMap, FxHashSet};
use time::OffsetDateTime;

/// Advisories indexed for matching, with their database ids.
///
/// It also caches the stored answer of every (stream, package version) it has seen, so that a
/// changed report costs a matcher run for its new package versions and memory lookups for the
/// rest (no per-report join over the findings table). The cache lives and dies with the
/// evaluator: a reload (after a feed changed) starts empty, and the re-evaluation that follows
/// overwrites what it re-matched ([`Evaluator::put_answers`]); fills from the store never
/// overwrite ([`Evaluator::fill_answers`]).
pub struct Evaluator {
    index: AdvisoryIndex,
    db_ids: Vec<AdvisoryDbId>,
    /// The content digest of each advisory, beside its id ([`Evaluator::updated`]).
    digests: Vec<i64>,
    positions: FxHashMap<AdvisoryDbId, u32>,
    answers: RwLock<FxHashMap<String, FxHashMap<PackageVersionId, Answer>>>,
    updates: crate::updates::UpdatesHandle,
    /// The feed generation the advisories were loaded at (read before loading them, so the
    /// data is at least that new); ingest's writes are checked against it.
    generation: i64,
    /// Host stream → package names whose stored answers may predate this index (stale keys
    /// not yet re-evaluated when it was built): answers for them are matched in memory, not
    /// read from the store.
    pending: FxHashMap<String, FxHashSet<String>>,
}

/// The stored answer for one (stream, package version): (advisory position in the index,
/// affected entry index) pairs. Empty for a clean package version.
pub type Answer = Arc<[(u32, u32)]>;

impl Evaluator {
    /// Builds the index from what the store loaded.
    #[must_use]
    pub fn new(stored: Vec<StoredAdvisory>) -> Self {
        let mut db_ids = Vec::with_capacity(stored.len());
        let mut digests = Vec::with_capacity(stored.len());
        let mut advisories = Vec::with_capacity(stored.len());
        for s in stored {
            db_ids.push(s.id);
            digests.push(s.digest);
            advisories.push(Arc::new(s.advisory));
        }
        Self::from_parts(db_ids, digests, advisories)
    }

    fn from_parts(
        db_ids: Vec<AdvisoryDbId>,
        digests: Vec<i64>,
        advisories: Vec<Arc<Advisory>>,
    ) -> Self {
        let positions = db_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (*id, u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        Evaluator {
            index: AdvisoryIndex::from_shared(advisories),
            db_ids,
            digests,
            positions,
            answers: RwLock::default(),
            updates: crate::updates::UpdatesHandle::default(),
            generation: 0,
            pending: FxHashMap::default(),
        }
    }

    /// The advisories this evaluator holds, as (id, digest): what
    /// [`Store::load_advisories_changed`] need not read again.
    #[must_use]
    pub fn held(&self) -> std::collections::HashMap<AdvisoryDbId, i64> {
        self.db_ids
            .iter()
            .copied()
            .zip(self.digests.iter().copied())
            .collect()
    }

    /// A new evaluator of the advisories `load` lists (in its order): those it read, and the
    /// rest shared (not copied) with this one, which holds them with the same digest (`load`
    /// was read against [`Evaluator::held`]). Exactly what
    /// [`Evaluator::new`] builds from [`Store::load_advisories`] at the same moment; the
    /// answers cache starts empty.
    ///
    /// # Errors
    /// `load` lists an advisory that it did not read and that this evaluator does not hold
    /// with that digest (it was read against another evaluator).
    pub fn updated(&self, load: pakiti_store::AdvisoryLoad) -> anyhow::Result<Self> {
        let mut read: FxHashMap<AdvisoryDbId, StoredAdvisory> =
            load.loaded.into_iter().map(|a| (a.id, a)).collect();
        let mut db_ids = Vec::with_capacity(load.listing.len());
        let mut digests = Vec::with_capacity(load.listing.len());
        let mut advisories = Vec::with_capacity(load.listing.len());
        for (id, digest) in load.listing {
            let advisory = if let Some(a) = read.remove(&id) {
                anyhow::ensure!(
                    a.digest == digest,
                    "advisory {id} was read with digest {} but listed with {digest}",
                    a.digest
                );
                Arc::new(a.advisory)
            } else {
                let held = self
                    .positions
                    .get(&id)
                    .map(|&p| p as usize)
                    .filter(|&p| self.digests[p] == digest);
                let Some(p) = held else {
                    anyhow::bail!("advisory {id} (digest {digest}) was neither read nor held");
                };
                Arc::clone(&self.index.advisories()[p])
            };
            db_ids.push(id);
            digests.push(digest);
            advisories.push(advisory);
        }
        anyhow::ensure!(
            read.is_empty(),
            "{} advisories were read but not listed",
            read.len()
        );
        Ok(Self::from_parts(db_ids, digests, advisories))
    }

    /// Records the feed generation the advisories were loaded at and the stale keys awaiting
    /// re-evaluation then (data streams; RHEL keys also cover its rebuilds).
    #[must_use]
    pub fn with_generation(
        mut self,
        generation: i64,
        stale: &[pakiti_store::StreamPackage],
    ) -> Self {
        self.generation = generation;
        for k in stale {
            for hs in host_streams(&k.stream) {
                self.pending
                    .entry(hs)
                    .or_default()
                    .insert(k.package.clone());
            }
        }
        self
    }

    /// The feed generation this index was built at.
    #[must_use]
    pub fn generation(&self) -> i64 {
        self.generation
    }

    /// The answers for already evaluated package versions of a host in `stream`: cached
    /// ones; those whose stored answer may predate this index (a stale key names them)
    /// matched in memory; the rest read from the store.
    ///
    /// # Errors
    /// The store fails.
    pub async fn known_answers(
        &self,
        store: &Store,
        stream: &OsStream,
        key: &str,
        items: &[(PackageVersionId, &InstalledPackage)],
    ) -> Result<FxHashMap<PackageVersionId, Answer>, StoreError> {
        let Some(pending) = self.pending.get(key) else {
            let ids: Vec<PackageVersionId> = items.iter().map(|(id, _)| *id).collect();
            return self.answers(store, key, &ids).await;
        };
        let cached = self.cached_answers(key, &items.iter().map(|(id, _)| *id).collect::<Vec<_>>());
        let mut out = FxHashMap::default();
        let mut fresh = Vec::new();
        let mut stored = Vec::new();
        for ((id, p), c) in items.iter().zip(cached) {
            if let Some(a) = c {
                out.insert(*id, a);
            } else if pending.contains(&p.name)
                || p.source.as_ref().is_some_and(|s| pending.contains(s))
                || self
                    .index
                    .source_of(stream, &p.name)
                    .is_some_and(|s| pending.contains(s))
            {
                fresh.push((*id, *p));
            } else {
                stored.push(*id);
            }
        }
        if !fresh.is_empty() {
            let ids: Vec<PackageVersionId> = fresh.iter().map(|(id, _)| *id).collect();
            let findings = self.evaluate(stream, &fresh);
            out.extend(self.put_answers(key, &ids, &findings));
        }
        out.extend(self.read_answers(store, key, &stored).await?);
        Ok(out)
    }

    /// Cached answers of `ids` for `stream`; `None` where not cached.
    #[must_use]
    pub fn cached_answers(&self, stream: &str, ids: &[PackageVersionId]) -> Vec<Option<Answer>> {
        let guard = self.answers.read();
        let Some(m) = guard.get(stream) else {
            return vec![None; ids.len()];
        };
        ids.iter().map(|id| m.get(id).cloned()).collect()
    }

    /// Groups stored findings of `ids` into answers (ids without findings get an empty one);
    /// findings of advisories this evaluator does not know (deleted since) are dropped.
    fn group(
        &self,
        ids: &[PackageVersionId],
        findings: &[PackageFinding],
    ) -> FxHashMap<PackageVersionId, Answer> {
        let mut by_id: FxHashMap<PackageVersionId, Vec<(u32, u32)>> =
            ids.iter().map(|id| (*id, Vec::new())).collect();
        for f in findings {
            if let (Some(pos), Some(v)) = (
                self.positions.get(&f.advisory_id),
                by_id.get_mut(&f.package_version_id),
            ) {
                v.push((*pos, u32::try_from(f.affected_idx).unwrap_or(u32::MAX)));
            }
        }
        by_id
            .into_iter()
            .map(|(id, mut v)| {
                v.sort_unstable();
                v.dedup();
                (id, Answer::from(v))
            })
            .collect()
    }

    /// Caches answers read from the store, keeping any entry already cached (a re-evaluation
    /// may have put a fresher one meanwhile).
    pub fn fill_answers(
        &self,
        stream: &str,
        ids: &[PackageVersionId],
        findings: &[PackageFinding],
    ) -> FxHashMap<PackageVersionId, Answer> {
        let grouped = self.group(ids, findings);
        let mut guard = self.answers.write();
        let m = guard.entry(stream.to_owned()).or_default();
        grouped
            .into_iter()
            .map(|(id, a)| (id, m.entry(id).or_insert(a).clone()))
            .collect()
    }

    /// Caches fresh answers (from a matcher run), replacing what was cached.
    pub fn put_answers(
        &self,
        stream: &str,
        ids: &[PackageVersionId],
        findings: &[PackageFinding],
    ) -> FxHashMap<PackageVersionId, Answer> {
        let grouped = self.group(ids, findings);
        let mut guard = self.answers.write();
        let m = guard.entry(stream.to_owned()).or_default();
        for (id, a) in &grouped {
            m.insert(*id, a.clone());
        }
        grouped
    }

    /// The answers for `ids` of `stream`: cached ones, the rest read from the store (and
    /// cached).
    ///
    /// # Errors
    /// The store fails.
    pub async fn answers(
        &self,
        store: &Store,
        stream: &str,
        ids: &[PackageVersionId],
    ) -> Result<FxHashMap<PackageVersionId, Answer>, StoreError> {
        let cached = self.cached_answers(stream, ids);
        let mut out: FxHashMap<PackageVersionId, Answer> = FxHashMap::default();
        let mut misses = Vec::new();
        for (id, a) in ids.iter().zip(cached) {
            match a {
                Some(a) => {
                    out.insert(*id, a);
                }
                None => misses.push(*id),
            }
        }
        out.extend(self.read_answers(store, stream, &misses).await?);
        Ok(out)
    }

    /// Reads the stored answers of `ids` (not cached) and caches them.
    async fn read_answers(
        &self,
        store: &Store,
        stream: &str,
        ids: &[PackageVersionId],
    ) -> Result<FxHashMap<PackageVersionId, Answer>, StoreError> {
        let mut out = FxHashMap::default();
        for chunk in ids.chunks(20_000) {
            let rows = store.package_findings(stream, chunk).await?;
            out.extend(self.fill_answers(stream, chunk, &rows));
        }
        Ok(out)
    }

    /// Attaches the server's repository index handle (ingest computes updates through it).
    #[must_use]
    pub fn with_updates(mut self, updates: crate::updates::UpdatesHandle) -> Self {
        self.updates = updates;
        self
    }

    /// Adds the imported repositories' binary → source maps to the matcher (Debian/Ubuntu
    /// source-package advisories then match binaries reported without a source name).
    pub fn add_source_maps(&mut self, maps: &crate::updates::SourceMaps) {
        for (stream, map) in maps {
            self.index
                .add_source_map(stream, map.iter().map(|(b, s)| (b.as_str(), s.as_str())));
        }
    }

    /// The repository index handle.
    #[must_use]
    pub fn updates(&self) -> &crate::updates::UpdatesHandle {
        &self.updates
    }

    /// Streams (as keys, sorted) with source-package advisories but no binary → source map:
    /// their hosts that report no source names are flagged "source names unknown".
    #[must_use]
    pub fn source_map_gaps(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .index
            .streams()
            .filter(|s| self.index.lacks_source_map(s))
            .map(ToString::to_string)
            .collect();
        v.sort();
        v
    }

    /// An evaluator with no data (every host is "not covered").
    #[must_use]
    pub fn empty() -> Self {
        Evaluator::new(Vec::new())
    }

    /// The matcher index.
    #[must_use]
    pub fn index(&self) -> &AdvisoryIndex {
        &self.index
    }

    /// Every advisory loaded, with its database id.
    pub fn stored_advisories(&self) -> impl Iterator<Item = (AdvisoryDbId, &Advisory)> {
        self.db_ids
            .iter()
            .copied()
            .zip(self.index.advisories().iter().map(|a| &**a))
    }

    /// Number of advisories loaded.
    #[must_use]
    pub fn advisory_count(&self) -> usize {
        self.db_ids.len()
    }

    /// Evaluates package versions for a host stream against every target that covers it;
    /// each is evaluated once, whatever the number of hosts that have it.
    #[must_use]
    pub fn evaluate(
        &self,
        stream: &OsStream,
        items: &[(PackageVersionId, &InstalledPackage)],
    ) -> Vec<PackageFinding> {
        let mut out = Vec::new();
        for target in self.index.targets(stream) {
            let pairs: Vec<(&Target, &InstalledPackage)> =
                items.iter().map(|(_, p)| (&target, *p)).collect();
            let answers = if items.len() > 512 {
                self.index.evaluate_many(&pairs)
            } else {
                pairs
                    .iter()
                    .map(|(t, p)| self.index.evaluate_target(t, p))
                    .collect()
            };
            for ((id, _), hits) in items.iter().zip(answers) {
                for hit in hits {
                    out.push(PackageFinding {
                        package_version_id: *id,
                        advisory_id: self.db_ids[hit.advisory as usize],
                        affected_idx: i64::from(hit.affected),
                    });
                }
            }
        }
        out
    }
}

/// The host streams whose data comes from `data_stream`: itself, and for RHEL its rebuilds.
pub fn host_streams(data_stream: &str) -> Vec<String> {
    let mut out = vec![data_stream.to_owned()];
    if let Ok(s) = data_stream.parse::<OsStream>()
        && s.distro() == Distro::Rhel
    {
        for d in [Distro::Centos, Distro::Alma, Distro::Rocky, Distro::Oracle] {
            out.push(OsStream::new(d, s.release()).to_string());
        }
    }
    out
}

/// Keeps the findings that apply to a host with `modules` enabled (module-stream entries apply
/// only where that stream is enabled: reported by the host, or inferred for hosts that report
/// none, see `ingest::effective_modules`), one per (package version, advisory): an advisory
/// keeps one entry per module-stream condition until the host's streams are known
/// (`AdvisoryIndex::evaluate_target`); the first in the store's order is kept.
#[must_use]
pub fn applicable(findings: Vec<HostFinding>, modules: &[String]) -> Vec<HostFinding> {
    let mut seen: FxHashSet<(PackageVersionId, AdvisoryDbId)> = FxHashSet::default();
    findings
        .into_iter()
        .filter(|f| {
            f.module
                .as_ref()
                .is_none_or(|m| modules.iter().any(|h| h == m))
                && seen.insert((f.package_version_id, f.advisory_id))
        })
        .collect()
}

/// An excepted CVE, when its exception expires, and the version as the exception wrote it.
type ExceptedCve = (String, Option<OffsetDateTime>, String);

/// `version` without its epoch (`1:1.0.2k-19.el7` → `1.0.2k-19.el7`; rpm and dpkg alike).
#[must_use]
pub fn without_epoch(version: &str) -> &str {
    match version.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => version,
    }
}

/// Whether an exception written for version `written` applies to the installed `installed`:
/// the same string; or `written` names no epoch and equals `installed` without its epoch
/// (`1.0.2k-19.el7` matches `1:1.0.2k-19.el7`, as `rpm -q` prints versions without epochs);
/// or `written` says epoch `0:` and `installed` has none. An exception that names a non-zero
/// epoch matches only that epoch.
#[must_use]
pub fn exception_version_matches(written: &str, installed: &str) -> bool {
    if written == installed {
        return true;
    }
    let (w, i) = (without_epoch(written), without_epoch(installed));
    if w != i {
        return false;
    }
    fn epoch(v: &str) -> Option<&str> {
        (v.len() > without_epoch(v).len()).then(|| v.split(':').next().unwrap_or(""))
    }
    match (epoch(written), epoch(installed)) {
        (None, _) => true,
        (Some(we), None) => we.trim_start_matches('0').is_empty(),
        (Some(we), Some(ie)) => we.trim_start_matches('0') == ie.trim_start_matches('0'),
    }
}

/// The operator's CVE tags and exceptions, as counts, report-back and the fleet index use
/// them.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Enabled tag names per CVE.
    tags: FxHashMap<String, Vec<String>>,
    /// Exceptions: (stream, package, version without epoch) → CVEs with their expiry.
    exceptions: FxHashMap<(String, String, String), Vec<ExceptedCve>>,
    /// Every tag (enabled or not) as stored: the fleet index shows them.
    all_tags: Arc<[CveTag]>,
    /// Every exception as stored.
    all_exceptions: Arc<[CveException]>,
}

impl Policy {
    /// Builds the policy from every tag and exception.
    #[must_use]
    pub fn new(tags: Vec<CveTag>, exceptions: Vec<CveException>) -> Self {
        let mut p = Policy::default();
        for t in tags.iter().filter(|t| t.enabled) {
            p.tags.entry(t.cve.clone()).or_default().push(t.tag.clone());
        }
        for e in &exceptions {
            p.exceptions
                .entry((
                    e.stream.clone(),
                    e.package.clone(),
                    without_epoch(&e.version).to_owned(),
                ))
                .or_default()
                .push((e.cve.clone(), e.expires_at, e.version.clone()));
        }
        p.all_tags = tags.into();
        p.all_exceptions = exceptions.into();
        p
    }

    /// Whether this policy was built from exactly these tags and exceptions.
    #[must_use]
    pub fn built_from(&self, tags: &[CveTag], exceptions: &[CveException]) -> bool {
        *self.all_tags == *tags && *self.all_exceptions == *exceptions
    }

    /// Every tag, enabled or not, in the store's order.
    #[must_use]
    pub fn all_tags(&self) -> &Arc<[CveTag]> {
        &self.all_tags
    }

    /// Every exception, in the store's order.
    #[must_use]
    pub fn all_exceptions(&self) -> &Arc<[CveException]> {
        &self.all_exceptions
    }

    /// Whether any exception exists (counts then need package names and versions).
    #[must_use]
    pub fn has_exceptions(&self) -> bool {
        !self.exceptions.is_empty()
    }

    /// The enabled tags of a CVE.
    #[must_use]
    pub fn tags_of(&self, cve: &str) -> &[String] {
        self.tags.get(cve).map_or(&[], Vec::as_slice)
    }

    /// Whether an exception in force at `now` says `cve` does not apply to `name` at `version`
    /// on `stream` (the versions compared by [`exception_version_matches`]).
    #[must_use]
    pub fn excepted(
        &self,
        stream: &str,
        name: &str,
        version: &str,
        cve: &str,
        now: OffsetDateTime,
    ) -> bool {
        self.exceptions
            .get(&(
                stream.to_owned(),
                name.to_owned(),
                without_epoch(version).to_owned(),
            ))
            .is_some_and(|v| {
                v.iter().any(|(c, exp, written)| {
                    c == cve
                        && exp.is_none_or(|e| e > now)
                        && exception_version_matches(written, version)
                })
            })
    }
}

/// One installed package version of a host, for
/// [`host_counts_and_exposures`](crate::history::host_counts_and_exposures).
pub struct CountItem<'a> {
    /// Its answer.
    pub answer: &'a [(u32, u32)],
    /// Name and version, needed only when exceptions exist.
    pub package: Option<(&'a str, &'a str)>,
}

/// The number of (package version, advisory) findings that apply to a host with `modules`
/// enabled — what [`applicable`] keeps of the stored findings.
#[must_use]
pub fn applicable_count(
    evaluator: &Evaluator,
    modules: &[String],
    items: &[CountItem<'_>],
) -> usize {
    let advisories = evaluator.index().advisories();
    items
        .iter()
        .map(|i| {
            // Answers are sorted by (advisory, entry): one finding per advisory.
            let mut last: Option<u32> = None;
            i.answer
                .iter()
                .filter(|(pos, idx)| {
                    let applies = advisories
                        .get(*pos as usize)
                        .and_then(|a| a.affected.get(*idx as usize))
                        .and_then(|e| e.module.as_ref())
                        .is_none_or(|m| modules.iter().any(|h| h == m));
                    let new = last != Some(*pos);
                    if applies && new {
                        last = Some(*pos);
                    }
                    applies && new
                })
                .count()
        })
        .sum()
}

#[cfg(test)]
mod exception_version_tests {
    use super::exception_version_matches as m;

    #[test]
    fn an_exception_without_epoch_matches_any_epoch() {
        assert!(m("1.0.2k-19.el7", "1:1.0.2k-19.el7"));
        assert!(m("1.0.2k-19.el7", "1.0.2k-19.el7"));
        assert!(m("0:1.0.2k-19.el7", "1.0.2k-19.el7"));
        assert!(m("1:1.0.2k-19.el7", "1:1.0.2k-19.el7"));
        assert!(!m("2:1.0.2k-19.el7", "1:1.0.2k-19.el7"));
        assert!(!m("0:1.0.2k-19.el7", "1:1.0.2k-19.el7"));
        assert!(!m("1.0.2k-19.el7", "1:1.0.2k-21.el7"));
        assert!(!m("1.0.2k-19", "1:1.0.2k-19.el7"));
    }
}
