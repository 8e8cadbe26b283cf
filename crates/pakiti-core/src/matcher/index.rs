//! [`AdvisoryIndex`]: affected entries indexed by (stream, package name), and the evaluation of
//! installed packages against them, one host ([`AdvisoryIndex::match_host`]) or a whole fleet
//! with each distinct package version evaluated once ([`AdvisoryIndex::match_fleet`]).

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::sync::Arc;

use super::rebuild::rebuild_compare;
use crate::advisory::{Advisory, Affected, PackageKind};
use crate::package::InstalledPackage;
use crate::stream::OsStream;

/// A reference to one affected entry of one advisory in an [`AdvisoryIndex`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hit {
    /// Index of the advisory ([`AdvisoryIndex::advisory`]).
    pub advisory: u32,
    /// Index of the entry in the advisory's `affected` list.
    pub affected: u32,
}

/// The data a host is matched against: its own stream's, or, for a rebuild of RHEL with no
/// data of its own, RHEL's with release tags normalised (see [`rebuild_compare`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    /// The stream whose advisories apply.
    pub stream: OsStream,
    /// Whether versions are compared through [`rebuild_compare`].
    pub rebuild: bool,
}

#[derive(Default)]
struct StreamIndex {
    by_binary: FxHashMap<Box<str>, Vec<Hit>>,
    by_source: FxHashMap<Box<str>, Vec<Hit>>,
    /// Binary name → source name, from the distribution's package indexes, for agents that do
    /// not report source names.
    source_of: FxHashMap<Box<str>, Box<str>>,
}

/// Advisories indexed for matching.
pub struct AdvisoryIndex {
    /// Shared, so that an index rebuilt after a feed update takes the unchanged advisories
    /// of the one before without copying them.
    advisories: Vec<Arc<Advisory>>,
    streams: FxHashMap<OsStream, StreamIndex>,
}

/// What a host reports, as the matcher needs it.
#[derive(Clone, Copy, Debug)]
pub struct HostInventory<'a> {
    /// The host's OS stream; `None` when its OS maps to no known stream.
    pub stream: Option<&'a OsStream>,
    /// Installed packages; several versions of one name (kernels) are all kept.
    pub packages: &'a [InstalledPackage],
    /// Enabled module streams (`nodejs:18`): reported by the agent, or for hosts that report
    /// none, inferred ([`AdvisoryIndex::infer_modules`]). Module entries apply only to these.
    pub modules: &'a [String],
}

/// One installed package affected by one advisory.
#[derive(Clone, Copy, Debug)]
pub struct Finding<'i> {
    /// Index of the package in [`HostInventory::packages`].
    pub package: usize,
    /// The advisory.
    pub advisory: &'i Advisory,
    /// The entry that matched (its status says fixed-in version, unfixed, will not fix ...).
    pub affected: &'i Affected,
}

/// The result of matching one host.
#[derive(Clone, Debug)]
pub struct HostResult<'i> {
    /// Whether any imported data covers the host's stream. A host that is not covered is
    /// "not covered", never "clean".
    pub covered: bool,
    /// Findings, ordered by package index then advisory.
    pub findings: Vec<Finding<'i>>,
}

impl AdvisoryIndex {
    /// Indexes `advisories`. Entries with status `NotAffected` are kept in the advisories but
    /// not indexed, as they can never match.
    #[must_use]
    pub fn new(advisories: Vec<Advisory>) -> Self {
        Self::from_shared(advisories.into_iter().map(Arc::new).collect())
    }

    /// [`AdvisoryIndex::new`] over advisories shared with another index.
    #[must_use]
    pub fn from_shared(advisories: Vec<Arc<Advisory>>) -> Self {
        // Built over borrowed keys first, so that a stream and a package name are copied
        // once per distinct key rather than once per entry (a reload after a feed update
        // builds this over every advisory: ~57,000 with the full feeds).
        #[derive(Default)]
        struct Building<'a> {
            by_binary: FxHashMap<&'a str, Vec<Hit>>,
            by_source: FxHashMap<&'a str, Vec<Hit>>,
        }
        fn owned(m: FxHashMap<&str, Vec<Hit>>) -> FxHashMap<Box<str>, Vec<Hit>> {
            let mut out = FxHashMap::with_capacity_and_hasher(m.len(), Default::default());
            out.extend(m.into_iter().map(|(k, v)| (Box::<str>::from(k), v)));
            out
        }
        let mut building: FxHashMap<&OsStream, Building<'_>> = FxHashMap::default();
        for (ai, adv) in advisories.iter().enumerate() {
            for (ei, entry) in adv.affected.iter().enumerate() {
                // A stream named only by entries that are not affected is still known.
                let s = building.entry(&entry.stream).or_default();
                if matches!(entry.status, crate::advisory::Status::NotAffected) {
                    continue;
                }
                let map = match entry.kind {
                    PackageKind::Binary => &mut s.by_binary,
                    PackageKind::Source => &mut s.by_source,
                };
                let hit = Hit {
                    advisory: u32::try_from(ai).expect("fewer than 2^32 advisories"),
                    affected: u32::try_from(ei).expect("fewer than 2^32 entries"),
                };
                map.entry(entry.package.as_str()).or_default().push(hit);
            }
        }
        let streams = building
            .into_iter()
            .map(|(stream, b)| {
                let index = StreamIndex {
                    by_binary: owned(b.by_binary),
                    by_source: owned(b.by_source),
                    source_of: FxHashMap::default(),
                };
                (stream.clone(), index)
            })
            .collect();
        AdvisoryIndex {
            advisories,
            streams,
        }
    }

    /// Adds binary → source name pairs for `stream` (from its `Packages` index), so that
    /// source-package entries match binaries whose agent did not say their source.
    pub fn add_source_map<I, B, S>(&mut self, stream: &OsStream, pairs: I)
    where
        I: IntoIterator<Item = (B, S)>,
        B: Into<Box<str>>,
        S: Into<Box<str>>,
    {
        let s = self.streams.entry(stream.clone()).or_default();
        for (bin, src) in pairs {
            s.source_of.insert(bin.into(), src.into());
        }
    }

    /// The source name `stream`'s binary → source map gives `binary`, if any.
    #[must_use]
    pub fn source_of(&self, stream: &OsStream, binary: &str) -> Option<&str> {
        self.streams
            .get(stream)
            .and_then(|s| s.source_of.get(binary))
            .map(AsRef::as_ref)
    }

    /// Whether any advisory speaks about `stream`.
    #[must_use]
    pub fn covers(&self, stream: &OsStream) -> bool {
        self.streams
            .get(stream)
            .is_some_and(|s| !s.by_binary.is_empty() || !s.by_source.is_empty())
    }

    /// Whether `stream` has source-package entries (Debian tracker, DSA lists, Debian OSV)
    /// but no binary → source map at all: a host of it whose agent reports no source names
    /// (protocols 4 and 5) matches those entries only for binaries named like their source,
    /// so its CVE count is a lower bound, not an answer.
    #[must_use]
    pub fn lacks_source_map(&self, stream: &OsStream) -> bool {
        self.streams
            .get(stream)
            .is_some_and(|s| !s.by_source.is_empty() && s.source_of.is_empty())
    }

    /// The streams the index has data for.
    pub fn streams(&self) -> impl Iterator<Item = &OsStream> {
        self.streams.keys()
    }

    /// All advisories, in index order.
    #[must_use]
    pub fn advisories(&self) -> &[Arc<Advisory>] {
        &self.advisories
    }

    /// The advisory behind a hit.
    #[must_use]
    pub fn advisory(&self, hit: Hit) -> &Advisory {
        &self.advisories[hit.advisory as usize]
    }

    /// The affected entry behind a hit.
    #[must_use]
    pub fn affected(&self, hit: Hit) -> &Affected {
        &self.advisories[hit.advisory as usize].affected[hit.affected as usize]
    }

    /// The data a host of stream `own` is matched against: its own stream when the index
    /// covers it, and for a rebuild of RHEL also RHEL's data in rebuild mode (a rebuild's own
    /// data, such as AlmaLinux's OSV records, may be partial; missing a CVE is worse than
    /// naming it under two advisories). Empty when nothing covers the host: "not covered".
    #[must_use]
    pub fn targets(&self, own: &OsStream) -> Vec<Target> {
        let mut out = Vec::new();
        if self.covers(own) {
            out.push(Target {
                stream: own.clone(),
                rebuild: false,
            });
        }
        if let Some(up) = own.upstream().filter(|up| self.covers(up)) {
            out.push(Target {
                stream: up,
                rebuild: true,
            });
        }
        out
    }

    /// Evaluates one installed package against `stream`'s own data: every advisory whose entry
    /// for this name and arch says the version is affected, at most one hit per advisory.
    ///
    /// Module-stream conditions are not checked here (they depend on the host, not the
    /// package): use [`AdvisoryIndex::applies_to_modules`] per host.
    #[must_use]
    pub fn evaluate(&self, stream: &OsStream, pkg: &InstalledPackage) -> Vec<Hit> {
        self.evaluate_target(
            &Target {
                stream: stream.clone(),
                rebuild: false,
            },
            pkg,
        )
    }

    /// Evaluates one installed package against a [`Target`].
    #[must_use]
    pub fn evaluate_target(&self, target: &Target, pkg: &InstalledPackage) -> Vec<Hit> {
        let Some(s) = self.streams.get(&target.stream) else {
            return Vec::new();
        };
        let scheme = target.stream.scheme();
        let installed = pkg.version.as_str();
        let mut hits = Vec::new();
        let mut collect = |entries: &[Hit]| {
            for &hit in entries {
                let entry = self.affected(hit);
                if !entry.applies_to_arch(&pkg.arch) {
                    continue;
                }
                let affected = if target.rebuild {
                    entry.is_affected_by(|v| rebuild_compare(installed, v))
                } else {
                    entry.is_affected(scheme, installed)
                };
                if affected {
                    hits.push(hit);
                }
            }
        };
        if let Some(entries) = s.by_binary.get(pkg.name.as_str()) {
            collect(entries);
        }
        if !s.by_source.is_empty() {
            let source = pkg
                .source
                .as_deref()
                .or_else(|| s.source_of.get(pkg.name.as_str()).map(AsRef::as_ref))
                .unwrap_or(pkg.name.as_str());
            if let Some(entries) = s.by_source.get(source) {
                collect(entries);
            }
        }
        if hits.len() > 1 {
            hits.sort_unstable();
            // Several entries of one advisory (per arch, per module) can match; one finding
            // per advisory is what a person wants to read. Entries are kept in feed order, so
            // the first match of each advisory wins — but one per module-stream condition,
            // because which of them applies depends on the host (issue 12 item 1: a CVE whose
            // first branch names `nodejs:14` must still reach a host with `nodejs:10`). Hosts
            // keep one per advisory after the module check ([`AdvisoryIndex::applicable`]).
            let mut kept: Vec<Hit> = Vec::with_capacity(hits.len());
            for h in hits {
                let module = &self.affected(h).module;
                let dup = kept
                    .iter()
                    .rev()
                    .take_while(|k| k.advisory == h.advisory)
                    .any(|k| self.affected(*k).module == *module);
                if !dup {
                    kept.push(h);
                }
            }
            hits = kept;
        }
        hits
    }

    /// The hits of one package that apply to a host with `modules` enabled, at most one per
    /// advisory (the first in feed order).
    #[must_use]
    pub fn applicable(&self, hits: &[Hit], modules: &[String]) -> Vec<Hit> {
        let mut out: Vec<Hit> = Vec::with_capacity(hits.len());
        for &h in hits {
            if self.applies_to_modules(h, modules) && !out.iter().any(|o| o.advisory == h.advisory)
            {
                out.push(h);
            }
        }
        out
    }

    /// Whether a hit's module condition holds for a host with `modules` enabled.
    #[must_use]
    pub fn applies_to_modules(&self, hit: Hit, modules: &[String]) -> bool {
        match &self.affected(hit).module {
            None => true,
            Some(m) => modules.iter().any(|h| h == m),
        }
    }

    /// The entries of one binary package name in `stream`'s own data.
    pub(super) fn binary_entries(&self, stream: &OsStream, name: &str) -> Option<&[Hit]> {
        self.streams
            .get(stream)
            .and_then(|s| s.by_binary.get(name))
            .map(Vec::as_slice)
    }

    /// Evaluates many packages in parallel; `out[i]` answers `items[i]`.
    #[must_use]
    pub fn evaluate_many(&self, items: &[(&Target, &InstalledPackage)]) -> Vec<Vec<Hit>> {
        items
            .par_iter()
            .with_min_len(256)
            .map(|(t, p)| self.evaluate_target(t, p))
            .collect()
    }

    /// Matches one host.
    #[must_use]
    pub fn match_host<'i>(&'i self, host: &HostInventory<'_>) -> HostResult<'i> {
        let targets = host.stream.map(|s| self.targets(s)).unwrap_or_default();
        let mut findings = Vec::new();
        for (i, pkg) in host.packages.iter().enumerate() {
            for target in &targets {
                for hit in self.applicable(&self.evaluate_target(target, pkg), host.modules) {
                    findings.push(self.finding(i, hit));
                }
            }
        }
        HostResult {
            covered: !targets.is_empty(),
            findings,
        }
    }

    fn finding(&self, package: usize, hit: Hit) -> Finding<'_> {
        Finding {
            package,
            advisory: self.advisory(hit),
            affected: self.affected(hit),
        }
    }

    /// Matches a whole fleet, evaluating each distinct (stream, name, version, arch, source)
    /// once. `out[i]` answers `hosts[i]` and equals `self.match_host(&hosts[i])`.
    #[must_use]
    pub fn match_fleet<'i>(&'i self, hosts: &[HostInventory<'_>]) -> Vec<HostResult<'i>> {
        // Targets: few and shared, so hosts refer to them by index and package versions are
        // interned per target (no target hashing per package).
        let mut all_targets: Vec<Target> = Vec::new();
        let host_targets: Vec<Vec<usize>> = hosts
            .iter()
            .map(|h| {
                h.stream
                    .map(|s| self.targets(s))
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| match all_targets.iter().position(|x| *x == t) {
                        Some(i) => i,
                        None => {
                            all_targets.push(t);
                            all_targets.len() - 1
                        }
                    })
                    .collect()
            })
            .collect();
        let n_targets = all_targets.len();

        // Interning in parallel: each chunk of hosts interns into its own maps, then the
        // chunks' distinct entries are merged into global ids.
        let threads = rayon::current_num_threads().max(1);
        let chunk = hosts.len().div_ceil(threads).max(1);
        let locals: Vec<LocalIntern<'_>> = hosts
            .par_chunks(chunk)
            .zip(host_targets.par_chunks(chunk))
            .map(|(hs, ts)| LocalIntern::build(hs, ts, n_targets))
            .collect();
        let mut global: Vec<FxHashMap<&InstalledPackage, u32>> =
            vec![FxHashMap::default(); n_targets];
        let mut distinct: Vec<(&Target, &InstalledPackage)> = Vec::new();
        let remaps: Vec<Vec<u32>> = locals
            .iter()
            .map(|l| {
                l.distinct
                    .iter()
                    .map(|&(t, p)| {
                        *global[t].entry(p).or_insert_with(|| {
                            distinct.push((&all_targets[t], p));
                            u32::try_from(distinct.len() - 1).expect("fewer than 2^32 packages")
                        })
                    })
                    .collect()
            })
            .collect();
        drop(global);
        let answers = self.evaluate_many(&distinct);
        let findings_of = |host: &HostInventory<'_>, ids: &[(u32, u32)], remap: &[u32]| {
            let mut findings = Vec::new();
            for &(i, local) in ids {
                for hit in self.applicable(&answers[remap[local as usize] as usize], host.modules) {
                    findings.push(self.finding(i as usize, hit));
                }
            }
            findings
        };
        let mut out = Vec::with_capacity(hosts.len());
        for ((l, remap), (hs, ts)) in locals
            .iter()
            .zip(&remaps)
            .zip(hosts.chunks(chunk).zip(host_targets.chunks(chunk)))
        {
            let part: Vec<HostResult<'i>> = hs
                .par_iter()
                .zip(l.per_host.par_iter())
                .zip(ts.par_iter())
                .map(|((host, ids), t)| HostResult {
                    covered: !t.is_empty(),
                    findings: findings_of(host, ids, remap),
                })
                .collect();
            out.extend(part);
        }
        out
    }
}

/// One chunk of a fleet, interned: per host, (package index, chunk-local id) pairs; per
/// chunk-local id, the (target index, package) it stands for.
struct LocalIntern<'a> {
    per_host: Vec<Vec<(u32, u32)>>,
    distinct: Vec<(usize, &'a InstalledPackage)>,
}

impl<'a> LocalIntern<'a> {
    fn build(hosts: &[HostInventory<'a>], targets: &[Vec<usize>], n_targets: usize) -> Self {
        let mut maps: Vec<FxHashMap<&'a InstalledPackage, u32>> =
            vec![FxHashMap::default(); n_targets];
        let mut distinct = Vec::new();
        let per_host = hosts
            .iter()
            .zip(targets)
            .map(|(h, ts)| {
                let mut v = Vec::with_capacity(h.packages.len() * ts.len());
                for (i, p) in h.packages.iter().enumerate() {
                    let i = u32::try_from(i).expect("fewer than 2^32 packages per host");
                    for &t in ts {
                        let id = *maps[t].entry(p).or_insert_with(|| {
                            distinct.push((t, p));
                            u32::try_from(distinct.len() - 1).expect("fewer than 2^32 packages")
                        });
                        v.push((i, id));
                    }
                }
                v
            })
            .collect();
        LocalIntern { per_host, distinct }
    }
}
