//! The matcher: installed packages + advisories → findings, as a pure function.
//!
//! [`AdvisoryIndex`] indexes affected entries by (stream, package name). Evaluating one
//! installed package touches only the entries for its name in its stream. Fleets share most
//! package versions, so [`AdvisoryIndex::match_fleet`] evaluates each distinct
//! (stream, name, version, arch, source) once and reuses the answer for every host that has it;
//! the server does the same with its stored package-version ids.

use std::borrow::Cow;

use rayon::prelude::*;
use rustc_hash::FxHashMap;

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

/// Compares a rebuild's installed version with RHEL's version of the same package, as
/// `rpm` would if the rebuild had kept Red Hat's release tag.
///
/// Rebuilds differ from RHEL's release tags in two ways only, and only those are undone:
/// a debranding tag after the dist tag (`.el8_4.rocky`, `.el8.alma`), and CentOS's dist tag
/// `.el7.centos`, which replaces RHEL's `.el7_9` (CentOS's `67.el7.centos.6` is RHEL's
/// `67.el7_9.6`; Pakiti issues #138 and #153, where CentOS hosts were always shown
/// vulnerable). So the tags are dropped from both sides, and the minor release (`_9`) of
/// RHEL's version is dropped only when the installed version has a tag in its place. Two
/// versions without such tags compare exactly as rpm compares them: normalising never
/// changes the order rpm gives two versions of one stream (issue 12 item 5: Rocky's
/// `1.33.0-3.el8_1.2` stays older than RHEL's fix `1.33.0-3.el8_2.1`).
#[must_use]
pub fn rebuild_compare(installed: &str, vendor: &str) -> std::cmp::Ordering {
    // Borrowed all the way for versions without tags: this runs per comparison.
    let (i, minorless) = strip_rebuild_tags(installed);
    let (v, _) = strip_rebuild_tags(vendor);
    let without_minor;
    let v: &str = if minorless {
        without_minor = strip_minor(&v);
        &without_minor
    } else {
        &v
    };
    crate::advisory::compare_installed(crate::version::Scheme::Rpm, &i, v)
}

/// The rebuild debranding tags that follow a Red Hat dist tag.
const REBUILD_TAGS: [&str; 3] = [".centos", ".rocky", ".alma"];

/// Drops `.centos`/`.rocky`/`.alma` after `.elN` or `.elN_M`; the flag says whether one
/// directly followed `.elN` (CentOS's dist tag `.el7.centos`, which has no minor release).
fn strip_rebuild_tags(version: &str) -> (Cow<'_, str>, bool) {
    let mut minorless = false;
    let out = rewrite_dist_tags(version, |rest, minor| {
        for tag in REBUILD_TAGS {
            if rest.starts_with(tag) {
                if !minor {
                    minorless = true;
                }
                return (tag.len(), false);
            }
        }
        (0, false)
    });
    (out, minorless)
}

/// `.elN_M` → `.elN`.
fn strip_minor(version: &str) -> Cow<'_, str> {
    rewrite_dist_tags(version, |_, minor| (0, minor))
}

/// Rewrites every `.elN[_M]` dist tag of `version`: `f(rest, has_minor)` is given what
/// follows the tag and says how many bytes of it to drop and whether to drop the `_M`.
fn rewrite_dist_tags(
    version: &str,
    mut f: impl FnMut(&str, bool) -> (usize, bool),
) -> Cow<'_, str> {
    let b = version.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i + 3 < b.len() {
        if b[i] == b'.' && b[i + 1] == b'e' && b[i + 2] == b'l' && b[i + 3].is_ascii_digit() {
            let mut j = i + 3;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let major_end = j;
            let has_minor = j + 1 < b.len() && b[j] == b'_' && b[j + 1].is_ascii_digit();
            if has_minor {
                j += 1;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
            }
            let (drop_after, drop_minor) = f(&version[j..], has_minor);
            let drop_minor = drop_minor && has_minor;
            if drop_after > 0 || drop_minor {
                let o = out.get_or_insert_with(|| String::with_capacity(version.len()));
                o.push_str(&version[copied..if drop_minor { major_end } else { j }]);
                copied = j + drop_after;
            }
            i = j + drop_after;
        } else {
            i += 1;
        }
    }
    match out {
        None => Cow::Borrowed(version),
        Some(mut o) => {
            o.push_str(&version[copied..]);
            Cow::Owned(o)
        }
    }
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
    advisories: Vec<Advisory>,
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

/// Module streams inferred from a host's installed packages ([`AdvisoryIndex::infer_modules`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InferredModules {
    /// Streams inferred (`nodejs:10`), sorted.
    pub streams: Vec<String>,
    /// Installed module packages that advisories speak about but whose stream could not be
    /// inferred, sorted.
    pub unknown: Vec<String>,
}

/// The module build tag of an rpm version (`module+el8.0.0+4214+49953fda`), shared by every
/// package of one module build; `None` for packages that are not from a module.
#[must_use]
pub fn module_build_tag(version: &str) -> Option<&str> {
    let i = version
        .find("module+")
        .or_else(|| version.find("module_"))?;
    Some(&version[i..])
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
        let mut streams: FxHashMap<OsStream, StreamIndex> = FxHashMap::default();
        for (ai, adv) in advisories.iter().enumerate() {
            for (ei, entry) in adv.affected.iter().enumerate() {
                let s = streams.entry(entry.stream.clone()).or_default();
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
                map.entry(entry.package.as_str().into())
                    .or_default()
                    .push(hit);
            }
        }
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
    pub fn advisories(&self) -> &[Advisory] {
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

    /// Infers the enabled module streams of a host that reported none (`rpm -qa` lists and
    /// every Pakiti 2/3 client send none), from its installed module packages (issue 12
    /// item 2). A module build's packages share their release's `module+…` tag; the build
    /// belongs to stream `m` when one of its packages has exactly a version that an entry
    /// conditioned on `m` lists as fixed, introduced or last affected, and no entry lists it
    /// for another stream of the same module.
    /// Builds that advisories speak about but whose stream cannot be told this way are
    /// returned as unknown: their module advisories cannot be matched, so the host's count is
    /// a lower bound. "No information" is never taken as "no module".
    #[must_use]
    pub fn infer_modules(
        &self,
        stream: &OsStream,
        packages: &[InstalledPackage],
    ) -> InferredModules {
        let targets = self.targets(stream);
        // Module build tag → (streams seen, whether any advisory conditions its packages on
        // a module, package names).
        let mut builds: Vec<(&str, Vec<&str>, bool, Vec<&str>)> = Vec::new();
        for p in packages {
            let Some(tag) = module_build_tag(&p.version) else {
                continue;
            };
            let pos = match builds.iter().position(|b| b.0 == tag) {
                Some(i) => i,
                None => {
                    builds.push((tag, Vec::new(), false, Vec::new()));
                    builds.len() - 1
                }
            };
            let mut listed: Vec<&str> = Vec::new();
            let mut relevant = false;
            for t in &targets {
                let Some(entries) = self
                    .streams
                    .get(&t.stream)
                    .and_then(|s| s.by_binary.get(p.name.as_str()))
                else {
                    continue;
                };
                let scheme = t.stream.scheme();
                for &hit in entries {
                    let e = self.affected(hit);
                    let Some(m) = e.module.as_deref() else {
                        continue;
                    };
                    relevant = true;
                    let exact = if t.rebuild {
                        e.lists_version(|v| rebuild_compare(&p.version, v))
                    } else {
                        e.lists_version(|v| {
                            crate::advisory::compare_installed(scheme, &p.version, v)
                        })
                    };
                    if exact && !listed.contains(&m) {
                        listed.push(m);
                    }
                }
            }
            let b = &mut builds[pos];
            b.2 |= relevant;
            b.3.push(&p.name);
            // A version listed for two streams of one module (`nodejs:10`, `nodejs:12`) says
            // nothing about that module; listed for streams of different modules (Red Hat
            // lists mariadb's builds under `mariadb:10.3` and `mariadb-devel:10.3`), it
            // belongs to each.
            let module_of = |m: &str| m.split_once(':').map_or(m, |(n, _)| n).to_owned();
            for m in &listed {
                let same_module = listed
                    .iter()
                    .filter(|o| module_of(o) == module_of(m))
                    .count();
                if same_module == 1 && !b.1.contains(m) {
                    b.1.push(m);
                }
            }
        }
        let mut out = InferredModules::default();
        for (_, streams, relevant, names) in builds {
            if !streams.is_empty() {
                out.streams.extend(streams.iter().map(|m| (*m).to_owned()));
            } else if relevant {
                out.unknown.extend(names.iter().map(|n| (*n).to_owned()));
            }
        }
        out.streams.sort();
        out.streams.dedup();
        out.unknown.sort();
        out.unknown.dedup();
        out
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisory::{Severity, Status};
    use crate::stream::Distro;

    fn rhel8() -> OsStream {
        OsStream::new(Distro::Rhel, "8")
    }
    fn bookworm() -> OsStream {
        OsStream::new(Distro::Debian, "bookworm")
    }

    fn advisory(id: &str, affected: Vec<Affected>) -> Advisory {
        Advisory {
            id: id.into(),
            source: "test".into(),
            severity: Severity::High,
            cves: vec![format!("CVE-{id}")],
            affected,
            ..Advisory::default()
        }
    }

    fn index() -> AdvisoryIndex {
        let mut nodejs = Affected::binary(
            rhel8(),
            "nodejs",
            Status::Fixed("1:18.2-1.module+el8".into()),
        );
        nodejs.module = Some("nodejs:18".into());
        let mut x86 = Affected::binary(rhel8(), "kernel", Status::Fixed("0:4.18.0-500.el8".into()));
        x86.arches = vec!["x86_64".into()];
        AdvisoryIndex::new(vec![
            advisory(
                "A1",
                vec![
                    Affected::binary(
                        rhel8(),
                        "openssl-libs",
                        Status::Fixed("1:1.1.1k-9.el8".into()),
                    ),
                    Affected::binary(rhel8(), "openssl", Status::Fixed("1:1.1.1k-9.el8".into())),
                ],
            ),
            advisory("A2", vec![nodejs]),
            advisory("A3", vec![x86]),
            advisory(
                "A4",
                vec![Affected::source(
                    bookworm(),
                    "openssl",
                    Status::Fixed("3.0.11-1~deb12u2".into()),
                )],
            ),
            advisory(
                "A5",
                vec![Affected::binary(bookworm(), "bash", Status::NotAffected)],
            ),
            advisory(
                "A6",
                vec![Affected::binary(bookworm(), "zlib1g", Status::WillNotFix)],
            ),
        ])
    }

    fn ids(index: &AdvisoryIndex, hits: &[Hit]) -> Vec<String> {
        hits.iter().map(|h| index.advisory(*h).id.clone()).collect()
    }

    #[test]
    fn fixed_version_bounds() {
        let idx = index();
        let old = InstalledPackage::new("openssl-libs", "1:1.1.1k-8.el8", "x86_64");
        let new = InstalledPackage::new("openssl-libs", "1:1.1.1k-9.el8", "x86_64");
        assert_eq!(ids(&idx, &idx.evaluate(&rhel8(), &old)), ["A1"]);
        assert!(idx.evaluate(&rhel8(), &new).is_empty());
        // Another stream's data never applies.
        assert!(
            idx.evaluate(&OsStream::new(Distro::Rhel, "9"), &old)
                .is_empty()
        );
    }

    #[test]
    fn arch_limits_and_unknown_arch() {
        let idx = index();
        let x = InstalledPackage::new("kernel", "0:4.18.0-400.el8", "x86_64");
        let a = InstalledPackage::new("kernel", "0:4.18.0-400.el8", "aarch64");
        let u = InstalledPackage::new("kernel", "0:4.18.0-400.el8", "");
        assert_eq!(ids(&idx, &idx.evaluate(&rhel8(), &x)), ["A3"]);
        assert!(idx.evaluate(&rhel8(), &a).is_empty());
        assert_eq!(ids(&idx, &idx.evaluate(&rhel8(), &u)), ["A3"]);
    }

    #[test]
    fn source_entries_match_binaries_through_the_source_name() {
        let mut idx = index();
        let reported = InstalledPackage {
            source: Some("openssl".into()),
            ..InstalledPackage::new("libssl3", "3.0.11-1~deb12u1", "amd64")
        };
        assert_eq!(ids(&idx, &idx.evaluate(&bookworm(), &reported)), ["A4"]);
        let unreported = InstalledPackage::new("libssl3", "3.0.11-1~deb12u1", "amd64");
        assert!(idx.evaluate(&bookworm(), &unreported).is_empty());
        assert!(idx.lacks_source_map(&bookworm()));
        idx.add_source_map(&bookworm(), [("libssl3", "openssl")]);
        assert!(!idx.lacks_source_map(&bookworm()));
        assert_eq!(ids(&idx, &idx.evaluate(&bookworm(), &unreported)), ["A4"]);
        // A package named like the source matches directly.
        let src = InstalledPackage::new("openssl", "3.0.11-1~deb12u1", "amd64");
        assert_eq!(ids(&idx, &idx.evaluate(&bookworm(), &src)), ["A4"]);
    }

    #[test]
    fn statuses_without_fix() {
        let idx = index();
        let bash = InstalledPackage::new("bash", "5.2.15-2+b2", "amd64");
        let zlib = InstalledPackage::new("zlib1g", "1:1.2.13.dfsg-1", "amd64");
        assert!(idx.evaluate(&bookworm(), &bash).is_empty());
        assert_eq!(ids(&idx, &idx.evaluate(&bookworm(), &zlib)), ["A6"]);
    }

    #[test]
    fn modules_apply_only_when_enabled() {
        let idx = index();
        let pkgs = [InstalledPackage::new(
            "nodejs",
            "1:18.1-1.module+el8",
            "x86_64",
        )];
        let stream = rhel8();
        let none = idx.match_host(&HostInventory {
            stream: Some(&stream),
            packages: &pkgs,
            modules: &[],
        });
        assert!(none.findings.is_empty());
        assert!(none.covered);
        let enabled = ["nodejs:18".to_owned()];
        let with = idx.match_host(&HostInventory {
            stream: Some(&stream),
            packages: &pkgs,
            modules: &enabled,
        });
        assert_eq!(with.findings.len(), 1);
        assert_eq!(with.findings[0].advisory.id, "A2");
    }

    #[test]
    fn uncovered_hosts_are_not_clean() {
        let idx = index();
        let pkgs = [InstalledPackage::new("bash", "1", "x86_64")];
        let alpine = OsStream::new(Distro::Alpine, "3.19");
        let r = idx.match_host(&HostInventory {
            stream: Some(&alpine),
            packages: &pkgs,
            modules: &[],
        });
        assert!(!r.covered);
        let r = idx.match_host(&HostInventory {
            stream: None,
            packages: &pkgs,
            modules: &[],
        });
        assert!(!r.covered);
    }

    #[test]
    fn kernels_keep_every_installed_version() {
        let idx = index();
        let pkgs = [
            InstalledPackage::new("kernel", "0:4.18.0-400.el8", "x86_64"),
            InstalledPackage::new("kernel", "0:4.18.0-500.el8", "x86_64"),
            InstalledPackage::new("kernel", "0:4.18.0-300.el8", "x86_64"),
        ];
        let stream = rhel8();
        let r = idx.match_host(&HostInventory {
            stream: Some(&stream),
            packages: &pkgs,
            modules: &[],
        });
        let affected: Vec<usize> = r.findings.iter().map(|f| f.package).collect();
        assert_eq!(affected, [0, 2]);
    }

    #[test]
    fn fleet_equals_host_by_host() {
        let idx = index();
        let a = [
            InstalledPackage::new("openssl-libs", "1:1.1.1k-8.el8", "x86_64"),
            InstalledPackage::new("nodejs", "1:18.1-1.module+el8", "x86_64"),
        ];
        let b = [InstalledPackage::new(
            "openssl-libs",
            "1:1.1.1k-8.el8",
            "x86_64",
        )];
        let stream = rhel8();
        let modules = ["nodejs:18".to_owned()];
        let hosts = [
            HostInventory {
                stream: Some(&stream),
                packages: &a,
                modules: &modules,
            },
            HostInventory {
                stream: Some(&stream),
                packages: &b,
                modules: &[],
            },
            HostInventory {
                stream: Some(&stream),
                packages: &a,
                modules: &[],
            },
            HostInventory {
                stream: None,
                packages: &a,
                modules: &[],
            },
        ];
        let fleet = idx.match_fleet(&hosts);
        for (host, got) in hosts.iter().zip(&fleet) {
            let want = idx.match_host(host);
            let key = |r: &HostResult<'_>| -> Vec<(usize, String)> {
                r.findings
                    .iter()
                    .map(|f| (f.package, f.advisory.id.clone()))
                    .collect()
            };
            assert_eq!(key(got), key(&want));
            assert_eq!(got.covered, want.covered);
        }
        assert_eq!(fleet[0].findings.len(), 2);
        assert_eq!(fleet[2].findings.len(), 1);
    }

    #[test]
    fn rebuild_release_tags() {
        use std::cmp::Ordering::{Equal, Greater, Less};
        // CentOS's `.el7.centos` stands for RHEL's `.el7_9`: the same build compares equal.
        assert_eq!(
            rebuild_compare("1:1.0.2k-67.el7.centos.6", "1:1.0.2k-67.el7_4.6"),
            Equal
        );
        assert_eq!(
            rebuild_compare("1:1.0.2k-67.el7.centos.6", "1:1.0.2k-67.el7_4.7"),
            Less
        );
        // Debranding tags after the minor release are dropped, the minor release is kept.
        assert_eq!(rebuild_compare("1.2-3.el8_4.rocky", "1.2-3.el8_4"), Equal);
        assert_eq!(rebuild_compare("1.2-3.el8_4.alma", "1.2-3.el8_5"), Less);
        assert_eq!(rebuild_compare("1.2-3.el8", "1.2-3.el8"), Equal);
        assert_eq!(
            rebuild_compare("2.0-1.module+el8.4.0+1", "2.0-1.module+el8.4.0+1"),
            Equal
        );
        // Issue 12 item 5: without rebuild tags the order is rpm's (normalising `_M` away
        // made Rocky's `el8_1.2` newer than RHEL's fix `el8_2.1`).
        assert_eq!(
            rebuild_compare("0:1.33.0-3.el8_1.2", "0:1.33.0-3.el8_2.1"),
            Less
        );
        assert_eq!(
            rebuild_compare("0:7.4p1-16.el7_4.1", "0:7.4p1-16.el7_5"),
            Less
        );
        assert_eq!(
            rebuild_compare("0:7.4p1-16.el7_9.1", "0:7.4p1-16.el7_5"),
            Greater
        );
    }

    #[test]
    fn one_finding_per_advisory_after_the_module_check() {
        // Issue 12 item 1: the first branch names `nodejs:14`, the second `nodejs:10`.
        let entry = |m: &str| {
            let mut e = Affected::binary(rhel8(), "nodejs", Status::Unfixed);
            e.module = Some(m.into());
            e
        };
        let idx = AdvisoryIndex::new(vec![advisory(
            "CVE-2021-27290",
            vec![entry("nodejs:14"), entry("nodejs:10"), entry("nodejs:12")],
        )]);
        let pkgs = [InstalledPackage::new(
            "nodejs",
            "1:10.14.1-1.module+el8.0.0+2632+6c5111ed",
            "x86_64",
        )];
        let stream = rhel8();
        for (enabled, want) in [("nodejs:10", 1), ("nodejs:14", 1), ("nodejs:16", 0)] {
            let modules = [enabled.to_owned()];
            let host = HostInventory {
                stream: Some(&stream),
                packages: &pkgs,
                modules: &modules,
            };
            let r = idx.match_host(&host);
            assert_eq!(r.findings.len(), want, "{enabled}");
            let fleet = idx.match_fleet(&[host]);
            assert_eq!(fleet[0].findings.len(), want, "{enabled}");
        }
    }

    #[test]
    fn equals_means_equality() {
        // Issue 12 item 7: `kernel equals X` is X only, never "X and later".
        let mut e = Affected::binary(rhel8(), "kernel", Status::Unfixed);
        e.introduced = Some("0:3.10.0-1160.el7".into());
        e.last_affected = Some("0:3.10.0-1160.el7".into());
        assert!(e.is_affected(crate::version::Scheme::Rpm, "0:3.10.0-1160.el7"));
        assert!(!e.is_affected(crate::version::Scheme::Rpm, "0:3.10.0-1160.83.1.el7"));
        assert!(!e.is_affected(crate::version::Scheme::Rpm, "0:3.10.0-1127.el7"));
    }

    #[test]
    fn module_streams_inferred_from_exact_versions() {
        let entry = |m: &str, fixed: &str| {
            let mut e = Affected::binary(rhel8(), "nodejs", Status::Fixed(fixed.into()));
            e.module = Some(m.into());
            e
        };
        let idx = AdvisoryIndex::new(vec![
            advisory(
                "A",
                vec![entry(
                    "nodejs:10",
                    "1:10.16.3-2.module+el8.0.0+4214+49953fda",
                )],
            ),
            advisory(
                "B",
                vec![entry(
                    "nodejs:12",
                    "1:12.14.1-1.module+el8.1.0+5466+30f75629",
                )],
            ),
        ]);
        let stream = rhel8();
        let pkgs = [
            InstalledPackage::new(
                "nodejs",
                "1:10.16.3-2.module+el8.0.0+4214+49953fda",
                "x86_64",
            ),
            // Same build, not named by any advisory: attributed through its build tag.
            InstalledPackage::new(
                "npm",
                "1:6.9.0-1.10.16.3.2.module+el8.0.0+4214+49953fda",
                "x86_64",
            ),
            InstalledPackage::new("bash", "0:4.4.19-7.el8", "x86_64"),
        ];
        let got = idx.infer_modules(&stream, &pkgs);
        assert_eq!(got.streams, ["nodejs:10"]);
        assert!(got.unknown.is_empty());
        // A build whose version no advisory lists: unknown, never "no module".
        let other = [InstalledPackage::new(
            "nodejs",
            "1:10.14.1-1.module+el8.0.0+2632+6c5111ed",
            "x86_64",
        )];
        let got = idx.infer_modules(&stream, &other);
        assert!(got.streams.is_empty());
        assert_eq!(got.unknown, ["nodejs"]);
        // rpm -qa gives no epoch: the vendor's is taken.
        let qa = [InstalledPackage::new(
            "nodejs",
            "10.16.3-2.module+el8.0.0+4214+49953fda",
            "x86_64",
        )];
        assert_eq!(idx.infer_modules(&stream, &qa).streams, ["nodejs:10"]);
    }

    #[test]
    fn rebuilds_use_upstream_data_with_normalised_releases() {
        let idx = index();
        let rocky = OsStream::new(Distro::Rocky, "8");
        let t = idx.targets(&rocky);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].stream, rhel8());
        assert!(t[0].rebuild);
        assert!(
            idx.targets(&OsStream::new(Distro::Alpine, "3.19"))
                .is_empty()
        );
        // An RHEL host's own data is used as is.
        let own = idx.targets(&rhel8());
        assert_eq!(own.len(), 1);
        assert!(!own[0].rebuild);
        // A CentOS host with a dist-tag release is not vulnerable to the RHEL fix it has.
        let centos_pkg = [InstalledPackage::new(
            "openssl-libs",
            "1:1.1.1k-9.el8.centos",
            "x86_64",
        )];
        let c8 = OsStream::new(Distro::Centos, "8");
        let r = idx.match_host(&HostInventory {
            stream: Some(&c8),
            packages: &centos_pkg,
            modules: &[],
        });
        assert!(r.covered);
        assert!(r.findings.is_empty());
        let old = [InstalledPackage::new(
            "openssl-libs",
            "1:1.1.1k-8.el8.centos",
            "x86_64",
        )];
        let r = idx.match_host(&HostInventory {
            stream: Some(&c8),
            packages: &old,
            modules: &[],
        });
        assert_eq!(r.findings.len(), 1);
    }
}
