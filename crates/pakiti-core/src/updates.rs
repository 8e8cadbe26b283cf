//! Repository-based update detection: the newest version a host's package manager would install.
//!
//! [`AvailableIndex`] holds, per OS stream and package name, the versions the stream's
//! repositories offer. [`AvailableIndex::newest`] answers "what would `apt`/`dnf`/`apk` upgrade
//! this installed package to, and does that upgrade bring a security fix?" — Pakiti 2's
//! "outdated packages" view. It is pure and allocation-free per query; fleets are evaluated
//! with each distinct (scope, name, version, arch) computed once ([`AvailableIndex::fleet_updates`]),
//! the same design as [`crate::matcher`].
//!
//! Candidate selection follows the package managers (apt pin priorities, dnf and apk
//! repository priorities, compatible arches): `updates/candidate.rs`. Tests: `updates/tests.rs`.

mod candidate;
#[cfg(test)]
mod tests;

use rayon::prelude::*;
use rustc_hash::FxHashMap;

pub use self::candidate::{
    APT_PRIORITY_DEFAULT, APT_PRIORITY_INSTALLED, APT_PRIORITY_NOT_AUTOMATIC, arch_compatible,
};
use self::candidate::{Entry, apt_candidate, dnf_candidate};

use crate::package::InstalledPackage;
use crate::stream::OsStream;
use crate::version::Scheme;

/// The index of a repository in an [`AvailableIndex`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoId(pub u32);

/// A repository as the update model needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repo {
    /// A human name (`debian bookworm-security main amd64`).
    pub name: String,
    /// The OS stream whose hosts use it.
    pub stream: OsStream,
    /// The machine arch it serves (`amd64`, `x86_64`); `None` serves every host of the stream.
    pub arch: Option<String>,
    /// Preference: higher wins. apt pin priority for Debian (see the `APT_PRIORITY_*`
    /// constants); for dnf use `-(dnf priority)` (dnf's default 99 becomes -99).
    pub priority: i32,
    /// Every package in it is a security update (Debian/Ubuntu `*-security` suites).
    pub security: bool,
}

/// An advisory (rpm-md `updateinfo` `<update>`) as update detection keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdvisoryRef<'a> {
    /// The advisory id (`RLSA-2021:1979`, `FEDORA-2022-…`).
    pub id: &'a str,
    /// Its severity as the vendor writes it (`Important`, `critical`, `None`), when given.
    pub severity: Option<&'a str>,
}

/// The rank of an advisory severity word, for "the most severe advisory an upgrade brings":
/// Critical 4, Important/High 3, Moderate/Medium 2, Low 1, anything else (`None`, unknown) 0.
/// Case-insensitive, since vendors differ (`Important`, `important`, `CRITICAL`).
#[must_use]
pub fn severity_rank(severity: Option<&str>) -> u8 {
    let Some(s) = severity else { return 0 };
    let s = s.trim();
    if s.eq_ignore_ascii_case("critical") {
        4
    } else if s.eq_ignore_ascii_case("important") || s.eq_ignore_ascii_case("high") {
        3
    } else if s.eq_ignore_ascii_case("moderate") || s.eq_ignore_ascii_case("medium") {
        2
    } else if s.eq_ignore_ascii_case("low") {
        1
    } else {
        0
    }
}

/// One version a repository offers or an advisory names, for [`AvailableIndex::add_entry`].
#[derive(Clone, Copy, Debug)]
pub struct NewEntry<'a> {
    /// Binary package name.
    pub name: &'a str,
    /// Full version in the stream's scheme.
    pub version: &'a str,
    /// Package arch.
    pub arch: &'a str,
    /// A security update on top of the repository's own flag.
    pub security: bool,
    /// `name:stream` for rpm modular packages.
    pub module: Option<&'a str>,
    /// False for a version known only from an advisory (a marker, never a candidate).
    pub installable: bool,
    /// The advisory that lists exactly this version, if any.
    pub advisory: Option<AdvisoryRef<'a>>,
}

#[derive(Default)]
struct StreamAvail {
    by_name: FxHashMap<Box<str>, Vec<Entry>>,
}

/// The versions the repositories of each stream offer, indexed for [`AvailableIndex::newest`].
#[derive(Default)]
pub struct AvailableIndex {
    repos: Vec<Repo>,
    streams: FxHashMap<OsStream, StreamAvail>,
    modules: Vec<Box<str>>,
    module_ids: FxHashMap<Box<str>, u32>,
    /// Interned advisories: (id, severity).
    advisories: Vec<(Box<str>, Option<Box<str>>)>,
    advisory_ids: FxHashMap<(Box<str>, Option<Box<str>>), u32>,
}

/// The host-level context of a query: which repositories and module streams apply.
#[derive(Clone, Copy, Debug)]
pub struct Scope<'a> {
    /// The host's OS stream.
    pub stream: &'a OsStream,
    /// The host's machine arch (`amd64`, `x86_64`); `None` uses every repository of the stream.
    pub arch: Option<&'a str>,
    /// Enabled module streams (`nodejs:18`): modular packages of other streams are invisible,
    /// and an enabled stream hides non-modular packages of the same name (dnf's modular
    /// filtering).
    pub modules: &'a [String],
}

impl<'a> Scope<'a> {
    /// A scope with every repository of `stream` and no module streams enabled.
    #[must_use]
    pub fn stream(stream: &'a OsStream) -> Self {
        Scope {
            stream,
            arch: None,
            modules: &[],
        }
    }
}

/// The upgrade a package manager would perform for one installed package.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Update<'i> {
    /// The candidate version (full version in the stream's scheme).
    pub version: &'i str,
    /// The repository the candidate comes from (the preferred one when several carry it).
    pub repo: RepoId,
    /// The upgrade brings a security fix: the candidate, or a version between the installed
    /// one (exclusive) and the candidate (inclusive), comes from a security repository or is
    /// listed by a security advisory. A superset of [`Update::candidate_security`]: a Debian
    /// security fix later folded into a point release still counts.
    pub security: bool,
    /// Pakiti 2's literal rule: the candidate version itself is provided by a security
    /// repository or listed by a security advisory.
    pub candidate_security: bool,
    /// The most severe advisory (rpm-md `updateinfo`, any type) listing a version between the
    /// installed one (exclusive) and the candidate (inclusive): what the upgrade brings at
    /// worst. Ties go to the newer version. `None` when no advisory lists one (apt, apk,
    /// repositories without `updateinfo`).
    pub advisory: Option<AdvisoryRef<'i>>,
}

impl Update<'_> {
    /// Pakiti 2's report-back line for protocol-4 clients: `name newversion SEC|ORD installed`.
    #[must_use]
    pub fn report_line(&self, installed: &InstalledPackage) -> String {
        format!(
            "{} {} {} {}",
            installed.name,
            self.version,
            if self.security { "SEC" } else { "ORD" },
            installed.version
        )
    }
}

/// What a host reports, as update detection needs it.
#[derive(Clone, Copy, Debug)]
pub struct HostPackages<'a> {
    /// The host's OS stream; `None` when its OS maps to no known stream.
    pub stream: Option<&'a OsStream>,
    /// The host's machine arch, when known.
    pub arch: Option<&'a str>,
    /// Installed packages.
    pub packages: &'a [InstalledPackage],
    /// Enabled module streams (`nodejs:18`).
    pub modules: &'a [String],
}

/// The updates of one host.
#[derive(Clone, Debug, Default)]
pub struct HostUpdates<'i> {
    /// Whether any repository serves the host's stream (and arch). A host that is not covered
    /// is "unknown", never "up to date".
    pub covered: bool,
    /// (index into [`HostPackages::packages`], update), ordered by package index. When a name
    /// and arch is installed in several versions (kernels), only the highest one is compared.
    pub updates: Vec<(usize, Update<'i>)>,
}

impl HostUpdates<'_> {
    /// How many of the updates bring a security fix.
    #[must_use]
    pub fn security_count(&self) -> usize {
        self.updates.iter().filter(|(_, u)| u.security).count()
    }
}

impl AvailableIndex {
    /// An empty index.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a repository; its entries are added with [`AvailableIndex::add`].
    ///
    /// # Panics
    /// More than 2^32 repositories.
    pub fn add_repo(&mut self, repo: Repo) -> RepoId {
        self.streams.entry(repo.stream.clone()).or_default();
        self.repos.push(repo);
        RepoId(u32::try_from(self.repos.len() - 1).expect("fewer than 2^32 repositories"))
    }

    /// The repository behind an id.
    #[must_use]
    pub fn repo(&self, id: RepoId) -> &Repo {
        &self.repos[id.0 as usize]
    }

    /// All repositories, in id order.
    #[must_use]
    pub fn repos(&self) -> &[Repo] {
        &self.repos
    }

    /// Adds a version that `repo` offers. `security` marks it a security update on top of the
    /// repository's own flag (rpm-md `updateinfo`); `module` is `name:stream` for rpm modular
    /// packages. Per (repo, name, arch, module, security) only the newest version is kept: an
    /// older one can never be a candidate.
    pub fn add(
        &mut self,
        repo: RepoId,
        name: &str,
        version: &str,
        arch: &str,
        security: bool,
        module: Option<&str>,
    ) {
        self.add_entry(
            repo,
            &NewEntry {
                name,
                version,
                arch,
                security,
                module,
                installable: true,
                advisory: None,
            },
        );
    }

    /// Records that `version` of `name` fixes a security issue (an rpm-md `updateinfo`
    /// security advisory lists it) without offering it for installation: an upgrade past it
    /// is then a security upgrade.
    pub fn add_security_marker(
        &mut self,
        repo: RepoId,
        name: &str,
        version: &str,
        arch: &str,
        module: Option<&str>,
    ) {
        self.add_entry(
            repo,
            &NewEntry {
                name,
                version,
                arch,
                security: true,
                module,
                installable: false,
                advisory: None,
            },
        );
    }

    /// Adds an entry. Installable entries keep only the newest version per (repo, name, arch,
    /// module, security), with that version's advisory. Markers (`installable` false) are
    /// kept one per (version, advisory): an older one can still be the one between the
    /// installed version and the candidate, and so decide the upgrade's security flag and
    /// severity.
    ///
    /// # Panics
    /// More than 2^32 modules or advisories.
    pub fn add_entry(&mut self, repo: RepoId, n: &NewEntry<'_>) {
        let r = &self.repos[repo.0 as usize];
        let scheme = r.stream.scheme();
        let security = n.security || r.security;
        let priority = r.priority;
        let module = n.module.map(|m| match self.module_ids.get(m) {
            Some(&id) => id,
            None => {
                let id = u32::try_from(self.modules.len()).expect("fewer than 2^32 modules");
                self.modules.push(m.into());
                self.module_ids.insert(m.into(), id);
                id
            }
        });
        let advisory = n.advisory.map(|a| {
            let key: (Box<str>, Option<Box<str>>) = (a.id.into(), a.severity.map(Into::into));
            match self.advisory_ids.get(&key) {
                Some(&id) => id,
                None => {
                    let id =
                        u32::try_from(self.advisories.len()).expect("fewer than 2^32 advisories");
                    self.advisories.push(key.clone());
                    self.advisory_ids.insert(key, id);
                    id
                }
            }
        });
        let (name, version, arch, installable) = (n.name, n.version, n.arch, n.installable);
        let advisories = &self.advisories;
        let stream = self.streams.entry(r.stream.clone()).or_default();
        let entries = match stream.by_name.get_mut(name) {
            Some(e) => e,
            None => stream.by_name.entry(name.into()).or_default(),
        };
        for e in entries.iter_mut() {
            if e.repo == repo.0
                && *e.arch == *arch
                && e.module == module
                && e.security == security
                && e.installable == installable
            {
                if installable {
                    match scheme.compare(version, &e.version) {
                        std::cmp::Ordering::Greater => {
                            e.version = version.into();
                            e.advisory = advisory;
                        }
                        std::cmp::Ordering::Equal => {
                            // Several advisories listing one version: keep the most severe.
                            if rank_of(advisories, advisory) > rank_of(advisories, e.advisory) {
                                e.advisory = advisory;
                            }
                        }
                        std::cmp::Ordering::Less => {}
                    }
                    return;
                }
                if scheme.compare(version, &e.version).is_eq() && e.advisory == advisory {
                    return;
                }
            }
        }
        entries.push(Entry {
            version: version.into(),
            arch: arch.into(),
            repo: repo.0,
            priority,
            security,
            installable,
            module,
            advisory,
        });
    }

    fn advisory_rank(&self, advisory: Option<u32>) -> u8 {
        rank_of(&self.advisories, advisory)
    }

    fn advisory_ref(&self, advisory: u32) -> AdvisoryRef<'_> {
        let (id, severity) = &self.advisories[advisory as usize];
        AdvisoryRef {
            id,
            severity: severity.as_deref(),
        }
    }

    /// How many (stream, name) pairs the index holds.
    #[must_use]
    pub fn name_count(&self) -> usize {
        self.streams.values().map(|s| s.by_name.len()).sum()
    }

    /// Whether any repository serves `scope`'s stream and arch.
    #[must_use]
    pub fn covers(&self, scope: &Scope<'_>) -> bool {
        self.repos
            .iter()
            .any(|r| r.stream == *scope.stream && repo_serves(r, scope.arch))
    }

    /// The upgrade a normal package manager would pick for `pkg` on a host of `scope`, or
    /// `None` when the installed version is the candidate (or no repository has the name).
    #[must_use]
    pub fn newest<'i>(&'i self, scope: &Scope<'_>, pkg: &InstalledPackage) -> Option<Update<'i>> {
        let entries = self
            .streams
            .get(scope.stream)?
            .by_name
            .get(pkg.name.as_str())?;
        let scheme = scope.stream.scheme();
        // dnf's modular filtering: an enabled module stream that carries this name hides the
        // non-modular versions of it.
        let modular_active = entries.iter().any(|e| self.module_active(e, scope));
        let visible = |e: &&Entry| {
            let r = &self.repos[e.repo as usize];
            repo_serves(r, scope.arch)
                && arch_compatible(&pkg.arch, &e.arch)
                && match e.module {
                    Some(_) => self.module_active(e, scope),
                    None => !modular_active,
                }
        };
        let installed = pkg.version.as_str();
        let best = match scheme {
            Scheme::Deb => apt_candidate(entries.iter().filter(visible), installed)?,
            Scheme::Rpm | Scheme::Apk => {
                dnf_candidate(scheme, entries.iter().filter(visible), installed)?
            }
        };
        let mut security = false;
        let mut candidate_security = false;
        // (rank, entry) of the most severe advisory in (installed, candidate].
        let mut advisory: Option<(u8, &Entry)> = None;
        for e in entries
            .iter()
            .filter(visible)
            .filter(|e| e.security || e.advisory.is_some())
        {
            let to_candidate = scheme.compare(&e.version, &best.version);
            let in_range = to_candidate.is_eq()
                || (to_candidate.is_lt() && scheme.compare(&e.version, installed).is_gt());
            if !in_range {
                continue;
            }
            if e.security {
                security = true;
                candidate_security |= to_candidate.is_eq();
            }
            if e.advisory.is_some() {
                let rank = self.advisory_rank(e.advisory);
                let better = match advisory {
                    None => true,
                    Some((r, b)) => {
                        rank > r || (rank == r && scheme.compare(&e.version, &b.version).is_gt())
                    }
                };
                if better {
                    advisory = Some((rank, e));
                }
            }
        }
        Some(Update {
            version: &best.version,
            repo: RepoId(best.repo),
            security,
            candidate_security,
            advisory: advisory.and_then(|(_, e)| e.advisory.map(|a| self.advisory_ref(a))),
        })
    }

    fn module_active(&self, e: &Entry, scope: &Scope<'_>) -> bool {
        e.module.is_some_and(|m| {
            let m = &*self.modules[m as usize];
            scope.modules.iter().any(|h| h == m)
        })
    }

    /// The updates of one host.
    #[must_use]
    pub fn host_updates<'i>(&'i self, host: &HostPackages<'_>) -> HostUpdates<'i> {
        let Some(stream) = host.stream else {
            return HostUpdates::default();
        };
        let scope = Scope {
            stream,
            arch: host.arch,
            modules: host.modules,
        };
        let answers: Vec<Option<Update<'i>>> = host
            .packages
            .iter()
            .map(|p| self.newest(&scope, p))
            .collect();
        assemble(self.covers(&scope), stream.scheme(), host.packages, |i| {
            answers[i]
        })
    }

    /// The updates of a whole fleet, evaluating each distinct (stream, host arch, modules,
    /// package) once, in parallel. `out[i]` equals `self.host_updates(&hosts[i])`.
    #[must_use]
    pub fn fleet_updates<'i>(&'i self, hosts: &[HostPackages<'_>]) -> Vec<HostUpdates<'i>> {
        // Scopes are few (stream × arch × module set); intern them first so that the
        // per-package key is cheap to hash.
        let mut scope_ids: FxHashMap<(&OsStream, Option<&str>, &[String]), u32> =
            FxHashMap::default();
        let mut scopes: Vec<Scope<'_>> = Vec::new();
        let host_scope: Vec<Option<u32>> = hosts
            .iter()
            .map(|h| {
                let stream = h.stream?;
                Some(
                    *scope_ids
                        .entry((stream, h.arch, h.modules))
                        .or_insert_with(|| {
                            scopes.push(Scope {
                                stream,
                                arch: h.arch,
                                modules: h.modules,
                            });
                            u32::try_from(scopes.len() - 1).expect("fewer than 2^32 scopes")
                        }),
                )
            })
            .collect();
        let covered: Vec<bool> = scopes.iter().map(|s| self.covers(s)).collect();
        let mut ids: FxHashMap<(u32, &InstalledPackage), u32> = FxHashMap::default();
        let mut distinct: Vec<(u32, &InstalledPackage)> = Vec::new();
        let per_host: Vec<Vec<u32>> = hosts
            .iter()
            .zip(&host_scope)
            .map(|(h, s)| {
                let Some(s) = *s else { return Vec::new() };
                h.packages
                    .iter()
                    .map(|p| {
                        *ids.entry((s, p)).or_insert_with(|| {
                            distinct.push((s, p));
                            u32::try_from(distinct.len() - 1).expect("fewer than 2^32 packages")
                        })
                    })
                    .collect()
            })
            .collect();
        drop(ids);
        let answers: Vec<Option<Update<'i>>> = distinct
            .par_iter()
            .with_min_len(256)
            .map(|&(s, p)| self.newest(&scopes[s as usize], p))
            .collect();
        hosts
            .par_iter()
            .zip(per_host.par_iter())
            .zip(host_scope.par_iter())
            .map(|((h, pkg_ids), s)| match (*s, h.stream) {
                (Some(s), Some(stream)) => {
                    assemble(covered[s as usize], stream.scheme(), h.packages, |i| {
                        answers[pkg_ids[i] as usize]
                    })
                }
                _ => HostUpdates::default(),
            })
            .collect()
    }
}

fn rank_of(advisories: &[(Box<str>, Option<Box<str>>)], advisory: Option<u32>) -> u8 {
    advisory.map_or(0, |a| severity_rank(advisories[a as usize].1.as_deref()))
}

fn repo_serves(r: &Repo, host_arch: Option<&str>) -> bool {
    match (&r.arch, host_arch) {
        (Some(ra), Some(ha)) => ra == ha,
        _ => true,
    }
}

/// Builds a host's result from per-package answers, keeping only the highest installed
/// version of each (name, arch).
fn assemble<'i>(
    covered: bool,
    scheme: Scheme,
    packages: &[InstalledPackage],
    answer: impl Fn(usize) -> Option<Update<'i>>,
) -> HostUpdates<'i> {
    let mut updates: Vec<(usize, Update<'i>)> = (0..packages.len())
        .filter_map(|i| answer(i).map(|u| (i, u)))
        .collect();
    if updates.len() > 1 {
        // Several installed versions of one name and arch (install-only kernels): the
        // package manager compares the candidate with the newest installed one.
        let mut newest: FxHashMap<(&str, &str), usize> = FxHashMap::default();
        let mut duplicated = false;
        for (i, p) in packages.iter().enumerate() {
            match newest.entry((p.name.as_str(), p.arch.as_str())) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(i);
                }
                std::collections::hash_map::Entry::Occupied(mut o) => {
                    duplicated = true;
                    if scheme
                        .compare(&p.version, &packages[*o.get()].version)
                        .is_gt()
                    {
                        o.insert(i);
                    }
                }
            }
        }
        if duplicated {
            updates.retain(|(i, _)| {
                let p = &packages[*i];
                newest.get(&(p.name.as_str(), p.arch.as_str())) == Some(i)
            });
        }
    }
    HostUpdates { covered, updates }
}
