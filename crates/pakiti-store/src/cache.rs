//! The process-local caches of the hot report path.

use std::collections::HashMap;

/// Process-local caches of facts that never change once committed, so that the hot report
/// path skips most lookups:
///
/// - a package version's id (`package_versions` rows are never updated or deleted);
/// - that a (stream, package version) was evaluated (markers are never deleted: a feed change
///   re-evaluates through `stale_keys` and replaces findings, not markers).
///
/// Entries are added only after the transaction that wrote or read them commits. Another
/// process's additions are simply not cached and get looked up. The caches are dropped
/// wholesale when they grow past a bound.
#[derive(Debug, Default)]
pub(crate) struct Caches {
    packages: std::sync::Mutex<HashMap<Box<[u8]>, i64>>,
    evaluated: std::sync::Mutex<HashMap<Box<str>, std::collections::HashSet<i64>>>,
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
        if map
            .values()
            .map(std::collections::HashSet::len)
            .sum::<usize>()
            > CACHE_LIMIT
        {
            map.clear();
        }
        match map.get_mut(stream) {
            Some(set) => set.extend(ids),
            None => {
                map.insert(stream.into(), ids.into_iter().collect());
            }
        }
    }
}
