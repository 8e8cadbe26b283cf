//! The process-local caches of the hot report path.

use std::collections::HashMap;
use std::sync::Arc;

/// Process-local caches of facts that never change once committed, so that the hot report
/// path skips most lookups:
///
/// - a package version's id (`package_versions` rows are never updated or deleted);
/// - that a (stream, package version) was evaluated (markers are never deleted: a feed change
///   re-evaluates through `stale_keys` and replaces findings, not markers);
/// - an exposure detail's id and what it is (`exposure_details` rows are never updated or
///   deleted).
///
/// Entries are added only after the transaction that wrote or read them commits. Another
/// process's additions are simply not cached and get looked up. The caches are dropped
/// wholesale when they grow past a bound.
#[derive(Debug, Default)]
pub(crate) struct Caches {
    /// Agents' strings as keys: a seeded hasher (foldhash), fast and not floodable.
    packages: std::sync::Mutex<HashMap<Box<[u8]>, i64, foldhash::fast::RandomState>>,
    /// The store's own ids: the unseeded Fx hash.
    evaluated: std::sync::Mutex<HashMap<Box<str>, rustc_hash::FxHashSet<i64>>>,
    details: std::sync::Mutex<DetailCache>,
}

/// What one exposure is, as the feeds said it when it began (or when its fix became known).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Detail {
    pub(crate) cve: String,
    pub(crate) severity: String,
    pub(crate) advisory: String,
    pub(crate) fixed_version: Option<String>,
    pub(crate) fix_issued: Option<String>,
}

/// A [`Detail`] borrowed from what names it: maps of details are looked up with it, so the
/// hot report path copies no string to find an id (issue 17's profile: ~8% of a first
/// report's CPU went to cloning and SipHashing details).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct DetailRef<'a> {
    pub(crate) cve: &'a str,
    pub(crate) severity: &'a str,
    pub(crate) advisory: &'a str,
    pub(crate) fixed_version: Option<&'a str>,
    pub(crate) fix_issued: Option<&'a str>,
}

impl Detail {
    /// This detail, borrowed.
    pub(crate) fn view(&self) -> DetailRef<'_> {
        DetailRef {
            cve: &self.cve,
            severity: &self.severity,
            advisory: &self.advisory,
            fixed_version: self.fixed_version.as_deref(),
            fix_issued: self.fix_issued.as_deref(),
        }
    }
}

// Hashed as its borrowed form, so that a `DetailRef` finds it in a map (`Equivalent`).
impl std::hash::Hash for Detail {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.view().hash(state);
    }
}

impl DetailRef<'_> {
    /// An owned copy.
    pub(crate) fn to_detail(self) -> Detail {
        Detail {
            cve: self.cve.to_owned(),
            severity: self.severity.to_owned(),
            advisory: self.advisory.to_owned(),
            fixed_version: self.fixed_version.map(str::to_owned),
            fix_issued: self.fix_issued.map(str::to_owned),
        }
    }
}

impl hashbrown::Equivalent<Arc<Detail>> for DetailRef<'_> {
    fn equivalent(&self, key: &Arc<Detail>) -> bool {
        *self == key.view()
    }
}

/// Interned details by what they are: what [`crate::Store::intern_details`] returns.
pub(crate) type DetailIds = hashbrown::HashMap<Arc<Detail>, i64, rustc_hash::FxBuildHasher>;

/// Exposure details both ways.
#[derive(Debug, Default)]
struct DetailCache {
    by_key: DetailIds,
    by_id: rustc_hash::FxHashMap<i64, Arc<Detail>>,
}

const CACHE_LIMIT: usize = 2_000_000;

/// An unambiguous cache key: every field length-prefixed (agent-supplied names may contain
/// any byte).
pub(crate) fn package_cache_key(k: &(&str, &str, &str, &str)) -> Box<[u8]> {
    let mut out = Vec::with_capacity(16 + k.0.len() + k.1.len() + k.2.len() + k.3.len());
    for f in [k.0, k.1, k.2, k.3] {
        out.extend_from_slice(&u32::try_from(f.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(f.as_bytes());
    }
    out.into_boxed_slice()
}

impl Caches {
    /// Cached ids (`None` where unknown), one per key.
    pub(crate) fn package_ids(&self, keys: &[Box<[u8]>]) -> Vec<Option<i64>> {
        let map = self
            .packages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.iter().map(|k| map.get(k).copied()).collect()
    }

    pub(crate) fn add_packages(&self, entries: impl IntoIterator<Item = (Box<[u8]>, i64)>) {
        let mut map = self
            .packages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() > CACHE_LIMIT {
            map.clear();
        }
        map.extend(entries);
    }

    /// Adds committed package versions read in bulk (the fleet index's read at start), as far
    /// as they fit under the bound: warming never clears what reports put in.
    pub(crate) fn warm_packages(&self, entries: impl IntoIterator<Item = (Box<[u8]>, i64)>) {
        let mut map = self
            .packages
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (key, id) in entries {
            if map.len() >= CACHE_LIMIT {
                break;
            }
            map.insert(key, id);
        }
    }

    /// `ids` minus those known to be evaluated for `stream`.
    pub(crate) fn not_known_evaluated(&self, stream: &str, ids: &[i64]) -> Vec<i64> {
        let map = self
            .evaluated
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match map.get(stream) {
            None => ids.to_vec(),
            Some(set) => ids.iter().copied().filter(|id| !set.contains(id)).collect(),
        }
    }

    pub(crate) fn add_evaluated(&self, stream: &str, ids: impl IntoIterator<Item = i64>) {
        let mut map = self
            .evaluated
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.values().map(rustc_hash::FxHashSet::len).sum::<usize>() > CACHE_LIMIT {
            map.clear();
        }
        match map.get_mut(stream) {
            Some(set) => set.extend(ids),
            None => {
                map.insert(stream.into(), ids.into_iter().collect());
            }
        }
    }

    /// Cached details of `keys` with their ids (`None` where unknown).
    pub(crate) fn detail_ids(&self, keys: &[DetailRef<'_>]) -> Vec<Option<(Arc<Detail>, i64)>> {
        let map = self
            .details
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.iter()
            .map(|k| {
                map.by_key
                    .get_key_value(k)
                    .map(|(d, id)| (Arc::clone(d), *id))
            })
            .collect()
    }

    /// The cached details of `ids`, and the ids not cached.
    pub(crate) fn details_of(
        &self,
        ids: &[i64],
    ) -> (rustc_hash::FxHashMap<i64, Arc<Detail>>, Vec<i64>) {
        let map = self
            .details
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut found =
            rustc_hash::FxHashMap::with_capacity_and_hasher(ids.len(), Default::default());
        let mut missing = Vec::new();
        for id in ids {
            match map.by_id.get(id) {
                Some(d) => {
                    found.insert(*id, Arc::clone(d));
                }
                None => missing.push(*id),
            }
        }
        (found, missing)
    }

    /// Adds committed details; returns them shared.
    pub(crate) fn add_details(
        &self,
        entries: impl IntoIterator<Item = (i64, Detail)>,
    ) -> Vec<(i64, Arc<Detail>)> {
        let mut map = self
            .details
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.by_id.len() > CACHE_LIMIT {
            map.by_id.clear();
            map.by_key.clear();
        }
        entries
            .into_iter()
            .map(|(id, d)| {
                let d = Arc::clone(map.by_id.entry(id).or_insert_with(|| Arc::new(d)));
                map.by_key.insert(Arc::clone(&d), id);
                (id, d)
            })
            .collect()
    }
}
