//! The in-memory fleet index: which host has which CVE, through which package and advisory.
//!
//! Installed sets are stored as one compressed id list per host, so SQL cannot join hosts to
//! package versions; the CVE pages, the CVE / CVE-tag / package host searches and the tag
//! pages are answered from this index instead. It is built from bulk store reads
//! of hosts, findings and package versions ([`Store::fleet_hosts`], [`Store::fleet_findings`],
//! [`Store::fleet_packages`]) and from what the engine already holds in memory: the advisories
//! of the [`Evaluator`] and the tags and exceptions of the [`Policy`] in force (never re-read
//! from the store). The [`Engine`](crate::Engine) holds it in a [`FleetCell`] and swaps it on
//! rebuild: requests keep the index they started with.
//!
//! Rebuilds are stale-while-revalidate: a change (a report, a re-evaluation, a tag or an
//! exception) marks the index stale; the next request answers from the old one and starts
//! one background rebuild, at most one per second. Only the very first request waits.
//! Tag and exception changes rebuild before answering so that the next page shows them.
//!
//! Memory stays small: ids are `u32` indexes, strings are interned once, and only the
//! affected entries that some finding references are kept.

mod answers;
mod build;
mod hostlist;
mod memory;
mod named;

use hostlist::HostList;

use named::Named;

pub use answers::{
    AdvisoryInfo, AffectedHost, AffectedPackage, CveDetail, CveSummary, GroupBy, HostSet, TagDetail,
};

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pakiti_core::advisory::{Severity, Status};
use pakiti_core::risk::{CveFactsIndex, Risk, effective_severity};
use pakiti_store::Store;
use pakiti_store::{CveException, CveTag, Host, HostId, HostScope};
use rustc_hash::{FxHashMap, FxHashSet};
use time::OffsetDateTime;

use arc_swap::ArcSwapOption;

use crate::evaluate::{Evaluator, Policy};

/// Interned strings.
#[derive(Default)]
struct Strings {
    list: Vec<Box<str>>,
    index: FxHashMap<Box<str>, u32>,
}

impl Strings {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = u32::try_from(self.list.len()).unwrap_or(u32::MAX);
        self.list.push(s.into());
        self.index.insert(s.into(), i);
        i
    }

    fn get(&self, s: &str) -> Option<u32> {
        self.index.get(s).copied()
    }

    fn str(&self, i: u32) -> &str {
        &self.list[i as usize]
    }
}

struct FHost {
    id: HostId,
    hostname: u32,
    group: Option<u32>,
    domain: Option<u32>,
    os: u32,
    stream: Option<u32>,
    covered: bool,
    /// Architecture and enabled module streams (what the update index is asked under).
    arch: u32,
    modules: Box<[u32]>,
    /// Whether any of its packages came with a source name (JSON agents send them; protocols
    /// 4 and 5 do not).
    reports_sources: bool,
    packages: Box<[u32]>,
    /// Distinct CVEs with a fixed version available on this host, and without one.
    fixable_cves: u32,
    unfixed_cves: u32,
}

struct FAdvisory {
    vendor_id: u32,
    title: Box<str>,
    source: u32,
    severity: Severity,
    cves: Vec<u32>,
    references: Vec<Box<str>>,
}

struct FAffected {
    fixed: Option<Box<str>>,
    status: &'static str,
    module: Option<u32>,
}

struct FPackage {
    name: u32,
    version: Box<str>,
    arch: u32,
}

#[derive(Clone, Copy)]
struct FFinding {
    cve: u32,
    package: u32,
    advisory: u32,
    affected: u32,
}

struct FCve {
    name: u32,
    severity: Severity,
    advisories: Vec<u32>,
    /// Host indexes, ascending, distinct.
    hosts: HostList,
    /// The hosts (indexes, ascending, distinct) where some finding of it has a fixed version.
    fixable_hosts: HostList,
}

/// What [`Fleet::host_facts`] knows of a host.
pub struct FleetHostFacts<'a> {
    /// Hostname.
    pub hostname: &'a str,
    /// Stream key, if the OS is known.
    pub stream: Option<&'a str>,
    /// Architecture.
    pub arch: &'a str,
    /// Enabled module streams.
    pub modules: Vec<String>,
}

/// The in-memory fleet index.
pub struct Fleet {
    strings: Strings,
    hosts: Vec<FHost>,
    host_index: FxHashMap<HostId, u32>,
    advisories: Vec<FAdvisory>,
    affected: FxHashMap<(u32, u32), FAffected>,
    packages: FxHashMap<u32, FPackage>,
    cves: Vec<FCve>,
    cve_index: FxHashMap<u32, u32>,
    /// Finding groups shared by hosts: the findings of one package version on one stream
    /// (under one set of the module streams its advisories name). A host's findings are
    /// those of its groups, so hosts on the same versions hold one copy (issue 17: 19 KB per
    /// host as a list of its own at 10,000 hosts).
    groups: Vec<Box<[FFinding]>>,
    /// Each host's finding groups, in package-version order.
    host_groups: Vec<Box<[u32]>>,
    applied_exceptions: FxHashMap<u32, Vec<usize>>,
    tags: Arc<[CveTag]>,
    /// Names (interned) of the CVEs carrying an enabled tag.
    tagged_cves: FxHashSet<u32>,
    exceptions: Arc<[CveException]>,
    /// When it was built.
    pub built_at: OffsetDateTime,
    /// Every host's risk (by host index) under the CVE facts it was computed with
    /// ([`Fleet::host_risk_memo`]): the hosts list sorts the whole fleet by risk on every
    /// request, and computing it walks every finding of every host (issue 17: seconds at
    /// 30,000 hosts). Holding the facts' `Arc` keeps their address from being reused.
    risks: parking_lot::Mutex<Option<RiskMemo>>,
}

/// The CVE facts every host's risk was computed with, and the risks by host index.
type RiskMemo = (Arc<CveFactsIndex>, Arc<[Option<Risk>]>);

fn status_word(s: &Status) -> &'static str {
    match s {
        Status::Fixed(_) => "fixed",
        Status::Unfixed => "unfixed",
        Status::WillNotFix => "will-not-fix",
        Status::NotAffected => "not-affected",
        Status::EndOfLife => "end-of-life",
        Status::Ignored => "ignored",
    }
}

fn small(i: i64) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

impl Fleet {
    /// Builds the index: hosts, findings and package versions read from the store;
    /// advisories, tags and exceptions taken from the evaluator and policy in force.
    ///
    /// # Errors
    /// The store fails.
    pub async fn load(
        store: &Store,
        evaluator: &Evaluator,
        policy: &Policy,
    ) -> anyhow::Result<Fleet> {
        let started = Instant::now();
        let hosts = store.fleet_hosts_packed().await?;
        let hosts_read = started.elapsed();
        let findings = store.fleet_findings().await?;
        let findings_read = started.elapsed() - hosts_read;
        let packages = store.fleet_packages().await?;
        let read = started.elapsed();
        let covers = |stream: &str| {
            stream
                .parse()
                .is_ok_and(|s| !evaluator.index().targets(&s).is_empty())
        };
        let fleet = Fleet::build(
            hosts.into_iter().map(pakiti_store::PackedFleetHost::unpack),
            findings,
            packages,
            evaluator,
            policy.all_tags().clone(),
            policy.all_exceptions().clone(),
            &covers,
        )?;
        tracing::debug!(
            hosts_ms = hosts_read.as_millis(),
            findings_ms = findings_read.as_millis(),
            packages_ms = (read - hosts_read - findings_read).as_millis(),
            build_ms = (started.elapsed() - read).as_millis(),
            "fleet index loaded"
        );
        Ok(fleet)
    }

    fn allows(&self, scope: &HostScope, h: &FHost) -> bool {
        match scope {
            HostScope::All => true,
            HostScope::Restricted {
                groups,
                domains,
                hosts,
            } => {
                let s = |i: Option<u32>| i.map(|i| self.strings.str(i));
                s(h.group).is_some_and(|g| groups.iter().any(|x| x == g))
                    || s(h.domain).is_some_and(|d| domains.iter().any(|x| x == d))
                    || hosts.iter().any(|x| x == self.strings.str(h.hostname))
            }
        }
    }

    fn mask(&self, scope: &HostScope) -> Option<Vec<bool>> {
        if scope.is_all() {
            return None;
        }
        Some(self.hosts.iter().map(|h| self.allows(scope, h)).collect())
    }

    fn count(mask: Option<&Vec<bool>>, hosts: &HostList) -> usize {
        match mask {
            None => hosts.len(),
            Some(m) => hosts.iter().filter(|&h| m[h as usize]).count(),
        }
    }

    /// The findings of the host at index `hi` (those of its groups).
    fn host_findings(&self, hi: usize) -> impl Iterator<Item = &FFinding> + '_ {
        self.host_groups[hi]
            .iter()
            .flat_map(|&g| self.groups[g as usize].iter())
    }

    fn enabled_tags_of(&self, cve: &str) -> Vec<String> {
        self.tags
            .iter()
            .filter(|t| t.enabled && t.cve == cve)
            .map(|t| t.tag.clone())
            .collect()
    }

    /// Number of (host, CVE, package, advisory) entries indexed.
    #[must_use]
    pub fn finding_count(&self) -> usize {
        self.host_groups
            .iter()
            .flat_map(|gs| gs.iter())
            .map(|&g| self.groups[g as usize].len())
            .sum()
    }

    /// Number of hosts indexed.
    #[must_use]
    pub fn host_count(&self) -> usize {
        self.hosts.len()
    }

    /// The CVEs present on hosts in `scope`, most widespread first.
    #[must_use]
    pub fn cves(&self, scope: &HostScope) -> Vec<CveSummary> {
        let mask = self.mask(scope);
        let mut tags: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for t in self.tags.iter().filter(|t| t.enabled) {
            tags.entry(t.cve.as_str()).or_default().push(t.tag.clone());
        }
        let mut out: Vec<CveSummary> = self
            .cves
            .iter()
            .filter_map(|c| {
                let n = Self::count(mask.as_ref(), &c.hosts);
                if n == 0 {
                    return None;
                }
                let name = self.strings.str(c.name);
                let mut advisories: Vec<String> = Vec::with_capacity(c.advisories.len());
                for &a in &c.advisories {
                    let id = self.strings.str(self.advisories[a as usize].vendor_id);
                    if !advisories.iter().any(|x| x == id) {
                        advisories.push(id.to_owned());
                    }
                }
                Some(CveSummary {
                    cve: name.to_owned(),
                    severity: c.severity,
                    hosts: n,
                    fixable_hosts: Self::count(mask.as_ref(), &c.fixable_hosts),
                    advisories,
                    tags: tags.get(name).cloned().unwrap_or_default(),
                })
            })
            .collect();
        out.sort_by(|a, b| {
            b.hosts
                .cmp(&a.hosts)
                .then(b.severity.cmp(&a.severity))
                .then(b.cve.cmp(&a.cve))
        });
        out
    }

    fn package_info(&self, f: &FFinding) -> AffectedPackage {
        let p = self.packages.get(&f.package);
        let aff = self.affected.get(&(f.advisory, f.affected));
        AffectedPackage {
            package: p.map_or_else(String::new, |p| self.strings.str(p.name).to_owned()),
            version: p.map_or_else(String::new, |p| p.version.to_string()),
            arch: p.map_or_else(String::new, |p| self.strings.str(p.arch).to_owned()),
            advisory: self
                .strings
                .str(self.advisories[f.advisory as usize].vendor_id)
                .to_owned(),
            fixed_version: aff.and_then(|a| a.fixed.as_deref().map(str::to_owned)),
            status: aff.map_or("", |a| a.status).to_owned(),
        }
    }

    /// One CVE: its advisories, tags and the hosts in `scope` that have it. `None` when no
    /// advisory names it.
    #[must_use]
    pub fn cve(&self, cve: &str, scope: &HostScope) -> Option<CveDetail> {
        self.cve_limited(cve, scope, usize::MAX)
    }

    /// [`Fleet::cve`] with at most `limit` hosts (by hostname) listed; `host_total` counts all.
    #[must_use]
    pub fn cve_limited(&self, cve: &str, scope: &HostScope, limit: usize) -> Option<CveDetail> {
        let tags: Vec<CveTag> = self.tags.iter().filter(|t| t.cve == cve).cloned().collect();
        let c = self
            .strings
            .get(cve)
            .and_then(|i| self.cve_index.get(&i))
            .map(|&i| &self.cves[i as usize])?;
        let mut visible: Vec<u32> = c
            .hosts
            .iter()
            .filter(|&hi| self.allows(scope, &self.hosts[hi as usize]))
            .collect();
        let host_total = visible.len();
        let fixable_hosts = c
            .fixable_hosts
            .iter()
            .filter(|&hi| self.allows(scope, &self.hosts[hi as usize]))
            .count();
        visible.sort_by(|&a, &b| {
            self.strings
                .str(self.hosts[a as usize].hostname)
                .cmp(self.strings.str(self.hosts[b as usize].hostname))
        });
        visible.truncate(limit);
        let mut hosts = Vec::with_capacity(visible.len());
        for hi in visible {
            let h = &self.hosts[hi as usize];
            let mut packages: Vec<AffectedPackage> = self
                .host_findings(hi as usize)
                .filter(|f| f.cve == c.name)
                .map(|f| self.package_info(f))
                .collect();
            packages.dedup();
            hosts.push(AffectedHost {
                id: h.id,
                hostname: self.strings.str(h.hostname).to_owned(),
                group: h.group.map(|g| self.strings.str(g).to_owned()),
                stream: h.stream.map(|s| self.strings.str(s).to_owned()),
                packages,
            });
        }
        Some(CveDetail {
            cve: cve.to_owned(),
            severity: c.severity,
            advisories: c
                .advisories
                .iter()
                .map(|&a| {
                    let a = &self.advisories[a as usize];
                    AdvisoryInfo {
                        id: self.strings.str(a.vendor_id).to_owned(),
                        source: self.strings.str(a.source).to_owned(),
                        title: a.title.to_string(),
                        severity: a.severity,
                        references: a.references.iter().map(ToString::to_string).collect(),
                    }
                })
                .collect(),
            tags,
            hosts,
            host_total,
            fixable_hosts,
        })
    }

    /// A host's distinct CVEs with a fixed version available and without one; `None` for a
    /// host the index does not know (reported after it was built).
    #[must_use]
    pub fn host_fix_counts(&self, id: HostId) -> Option<(usize, usize)> {
        self.host_index.get(&id).map(|&hi| {
            let h = &self.hosts[hi as usize];
            (h.fixable_cves as usize, h.unfixed_cves as usize)
        })
    }

    /// The most urgent risk ([`Risk`]) among a host's CVEs, with `facts` the CVE facts in
    /// force; `None` for a host without CVEs or one the index does not know.
    #[must_use]
    pub fn host_risk(&self, id: HostId, facts: &CveFactsIndex) -> Option<Risk> {
        let &hi = self.host_index.get(&id)?;
        self.risk_at(hi as usize, facts)
    }

    /// The risk of the host at index `hi`.
    fn risk_at(&self, hi: usize, facts: &CveFactsIndex) -> Option<Risk> {
        let mut best: Option<Risk> = None;
        for f in self.host_findings(hi) {
            let name = self.strings.str(f.cve);
            let severity = self
                .cve_index
                .get(&f.cve)
                .map_or(Severity::Unknown, |&ci| self.cves[ci as usize].severity);
            let fx = facts.get(name);
            let fixable = self
                .affected
                .get(&(f.advisory, f.affected))
                .is_some_and(|a| a.fixed.is_some());
            let r = Risk::of(
                self.tagged_cves.contains(&f.cve),
                fx,
                effective_severity(severity, fx),
                fixable,
            );
            best = Some(best.map_or(r, |b| b.max(r)));
        }
        best
    }

    /// [`Fleet::host_risk`] of host `id` under `facts`, from every host's risk computed once
    /// per index and facts (the first call after a rebuild or a facts change computes them
    /// all, in parallel).
    #[must_use]
    pub fn host_risk_memo(&self, id: HostId, facts: &Arc<CveFactsIndex>) -> Option<Risk> {
        let &hi = self.host_index.get(&id)?;
        let risks = {
            let mut memo = self.risks.lock();
            match &*memo {
                Some((f, r)) if Arc::ptr_eq(f, facts) => r.clone(),
                _ => {
                    use rayon::prelude::*;
                    let r: Arc<[Option<Risk>]> = (0..self.hosts.len())
                        .into_par_iter()
                        .map(|i| self.risk_at(i, facts))
                        .collect::<Vec<_>>()
                        .into();
                    *memo = Some((facts.clone(), r.clone()));
                    r
                }
            }
        };
        risks.get(hi as usize).copied().flatten()
    }

    /// Ids of hosts with at least one fixable CVE (`true`), or with CVEs of which none is
    /// fixable (`false`).
    #[must_use]
    pub fn hosts_by_fixable(&self, fixable: bool) -> Vec<HostId> {
        self.hosts
            .iter()
            .filter(|h| {
                if fixable {
                    h.fixable_cves > 0
                } else {
                    h.fixable_cves == 0 && h.unfixed_cves > 0
                }
            })
            .map(|h| h.id)
            .collect()
    }

    /// Ids of hosts that have `cve` (for the host search; the listing applies the scope).
    #[must_use]
    pub fn hosts_with_cve(&self, cve: &str) -> Vec<HostId> {
        let cve = cve.trim();
        self.strings
            .get(cve)
            .or_else(|| self.strings.get(&cve.to_ascii_uppercase()))
            .and_then(|i| self.cve_index.get(&i))
            .map(|&i| {
                self.cves[i as usize]
                    .hosts
                    .iter()
                    .map(|h| self.hosts[h as usize].id)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn host_idx_with_tag(&self, tag: &str) -> Vec<u32> {
        let mut out: Vec<u32> = self
            .tags
            .iter()
            .filter(|t| t.enabled && t.tag.eq_ignore_ascii_case(tag))
            .filter_map(|t| self.strings.get(&t.cve))
            .filter_map(|c| self.cve_index.get(&c))
            .flat_map(|&i| self.cves[i as usize].hosts.iter())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Ids of hosts with a CVE carrying the (enabled) tag `tag`.
    #[must_use]
    pub fn hosts_with_tag(&self, tag: &str) -> Vec<HostId> {
        self.host_idx_with_tag(tag)
            .into_iter()
            .map(|h| self.hosts[h as usize].id)
            .collect()
    }

    /// The ids of the indexed package versions named `name`, ascending.
    fn versions_named(&self, name: &str) -> Vec<u32> {
        let Some(n) = self.strings.get(name.trim()) else {
            return Vec::new();
        };
        let mut ids: Vec<u32> = self
            .packages
            .iter()
            .filter(|(_, p)| p.name == n)
            .map(|(&id, _)| id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Ids of hosts with a package named `name` installed (any version).
    #[must_use]
    pub fn hosts_with_package(&self, name: &str) -> Vec<HostId> {
        let named = Named::new(self.versions_named(name));
        self.hosts
            .iter()
            .filter(|h| named.any_in(&h.packages))
            .map(|h| h.id)
            .collect()
    }

    /// Every indexed host's installed versions of the package named `name` (as
    /// `InstalledPackage`s without source), by host id; hosts without it are absent. Answers
    /// `/packages/{name}` without reading any host's package list from the store (issue 17: at
    /// 30,000 hosts reading them took minutes for a package every host has).
    #[must_use]
    pub fn installed_named(
        &self,
        name: &str,
    ) -> FxHashMap<HostId, Vec<pakiti_core::package::InstalledPackage>> {
        let mut out = FxHashMap::default();
        let named = Named::new(self.versions_named(name));
        if named.ids.is_empty() {
            return out;
        }
        // Each version's `InstalledPackage` made once, cloned per host.
        let mut made: FxHashMap<u32, pakiti_core::package::InstalledPackage> = FxHashMap::default();
        let mut found = Vec::new();
        for h in &self.hosts {
            found.clear();
            named.each_in(&h.packages, |i| found.push(i));
            if found.is_empty() {
                continue;
            }
            let pkgs: Vec<_> = found
                .iter()
                .filter_map(|i| {
                    let p = self.packages.get(i)?;
                    Some(
                        made.entry(*i)
                            .or_insert_with(|| {
                                pakiti_core::package::InstalledPackage::new(
                                    self.strings.str(p.name),
                                    &*p.version,
                                    self.strings.str(p.arch),
                                )
                            })
                            .clone(),
                    )
                })
                .collect();
            if !pkgs.is_empty() {
                out.insert(h.id, pkgs);
            }
        }
        out
    }

    /// The hostname, stream key, architecture and enabled module streams of a host the index
    /// knows.
    #[must_use]
    pub fn host_facts(&self, id: HostId) -> Option<FleetHostFacts<'_>> {
        let h = &self.hosts[*self.host_index.get(&id)? as usize];
        Some(FleetHostFacts {
            hostname: self.strings.str(h.hostname),
            stream: h.stream.map(|s| self.strings.str(s)),
            arch: self.strings.str(h.arch),
            modules: h
                .modules
                .iter()
                .map(|&m| self.strings.str(m).to_owned())
                .collect(),
        })
    }

    /// Whether the host reported a source name with any package; `None` for a host the index
    /// does not know (reported after it was built).
    #[must_use]
    pub fn host_reports_sources(&self, id: HostId) -> Option<bool> {
        self.host_index
            .get(&id)
            .map(|&hi| self.hosts[hi as usize].reports_sources)
    }

    /// Ids of hosts with a finding of a CVE that `wanted` accepts — only findings with a fixed
    /// version when `fixable_only` (the front page's "exposed to tagged / KEV CVEs with a fix
    /// available"). Excepted findings are not in the index, so they never count.
    #[must_use]
    pub fn hosts_exposed(&self, fixable_only: bool, wanted: impl Fn(&str) -> bool) -> Vec<HostId> {
        let mut memo: FxHashMap<u32, bool> = FxHashMap::default();
        // Whether a finding group has such a finding, decided once per group (hosts share
        // groups): 0 no, 1 yes, 2 not yet known.
        let mut by_group: Vec<u8> = vec![2; self.groups.len()];
        let mut out = Vec::new();
        for (h, groups) in self.hosts.iter().zip(&self.host_groups) {
            let exposed = groups.iter().any(|&g| {
                let g = g as usize;
                if by_group[g] == 2 {
                    let yes = self.groups[g].iter().any(|f| {
                        let fixable = || {
                            self.affected
                                .get(&(f.advisory, f.affected))
                                .is_some_and(|a| a.fixed.is_some())
                        };
                        *memo
                            .entry(f.cve)
                            .or_insert_with(|| wanted(self.strings.str(f.cve)))
                            && (!fixable_only || fixable())
                    });
                    by_group[g] = u8::from(yes);
                }
                by_group[g] == 1
            });
            if exposed {
                out.push(h.id);
            }
        }
        out
    }

    /// Ids of hosts no imported data covers (unknown OS or a stream no feed speaks about).
    #[must_use]
    pub fn hosts_not_covered(&self) -> Vec<HostId> {
        self.hosts
            .iter()
            .filter(|h| !h.covered)
            .map(|h| h.id)
            .collect()
    }

    /// The page of tag name `tag`: its CVEs, and the hosts and groups in `scope` they affect.
    #[must_use]
    pub fn tag(&self, tag: &str, scope: &HostScope) -> TagDetail {
        let mask = self.mask(scope);
        let cves: Vec<(CveTag, usize)> = self
            .tags
            .iter()
            .filter(|t| t.tag.eq_ignore_ascii_case(tag))
            .map(|t| {
                let n = self
                    .strings
                    .get(&t.cve)
                    .and_then(|c| self.cve_index.get(&c))
                    .map_or(0, |&i| {
                        Self::count(mask.as_ref(), &self.cves[i as usize].hosts)
                    });
                (t.clone(), if t.enabled { n } else { 0 })
            })
            .collect();
        let tagged: FxHashSet<u32> = cves
            .iter()
            .filter(|(t, _)| t.enabled)
            .filter_map(|(t, _)| self.strings.get(&t.cve))
            .collect();
        let mut per_host: BTreeMap<u32, Vec<String>> = BTreeMap::new();
        for &c in &tagged {
            if let Some(&ci) = self.cve_index.get(&c) {
                for hi in self.cves[ci as usize].hosts.iter() {
                    if mask.as_ref().is_none_or(|m| m[hi as usize]) {
                        per_host
                            .entry(hi)
                            .or_default()
                            .push(self.strings.str(c).to_owned());
                    }
                }
            }
        }
        let mut hosts = Vec::with_capacity(per_host.len());
        let mut groups: BTreeMap<Option<String>, usize> = BTreeMap::new();
        for (hi, mut mine) in per_host {
            let h = &self.hosts[hi as usize];
            mine.sort();
            mine.dedup();
            let group = h.group.map(|g| self.strings.str(g).to_owned());
            *groups.entry(group.clone()).or_default() += 1;
            hosts.push((h.id, self.strings.str(h.hostname).to_owned(), group, mine));
        }
        hosts.sort_by(|a, b| a.1.cmp(&b.1));
        TagDetail {
            tag: tag.to_owned(),
            cves,
            hosts,
            groups: groups.into_iter().collect(),
        }
    }

    /// The enabled tags on `host`'s CVEs: (CVE, tag).
    #[must_use]
    pub fn host_tags(&self, host: &Host) -> Vec<(String, String)> {
        let Some(&hi) = self.host_index.get(&host.id) else {
            return Vec::new();
        };
        let mine: FxHashSet<u32> = self.host_findings(hi as usize).map(|f| f.cve).collect();
        let mut out: Vec<(String, String)> = self
            .tags
            .iter()
            .filter(|t| t.enabled)
            .filter(|t| self.strings.get(&t.cve).is_some_and(|c| mine.contains(&c)))
            .map(|t| (t.cve.clone(), t.tag.clone()))
            .collect();
        out.sort();
        out
    }

    /// The exceptions that removed findings from `host`.
    #[must_use]
    pub fn host_exceptions(&self, host: &Host) -> Vec<CveException> {
        self.host_index
            .get(&host.id)
            .and_then(|hi| self.applied_exceptions.get(hi))
            .map(|v| v.iter().map(|&i| self.exceptions[i].clone()).collect())
            .unwrap_or_default()
    }

    /// Hosts in `scope` grouped by group, domain or OS, by name.
    #[must_use]
    pub fn host_sets(&self, by: GroupBy, scope: &HostScope) -> Vec<HostSet> {
        type Key = (Option<u32>, Option<u32>);
        let mut sets: BTreeMap<Key, (HostSet, FxHashSet<u32>)> = BTreeMap::new();
        for (hi, h) in self.hosts.iter().enumerate() {
            if !self.allows(scope, h) {
                continue;
            }
            let key = match by {
                GroupBy::Group => (h.group, None),
                GroupBy::Domain => (h.domain, None),
                GroupBy::Os => (Some(h.os), h.stream),
            };
            let (set, cves) = sets.entry(key).or_insert_with(|| {
                (
                    HostSet {
                        name: key.0.map(|i| self.strings.str(i).to_owned()),
                        stream: key.1.map(|i| self.strings.str(i).to_owned()),
                        covered: h.covered,
                        hosts: 0,
                        vulnerable_hosts: 0,
                        cves: 0,
                    },
                    FxHashSet::default(),
                )
            });
            set.hosts += 1;
            let mut any = false;
            for f in self.host_findings(hi) {
                any = true;
                cves.insert(f.cve);
            }
            if any {
                set.vulnerable_hosts += 1;
            }
        }
        let mut out: Vec<HostSet> = sets
            .into_values()
            .map(|(mut s, c)| {
                s.cves = c.len();
                s
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name).then(a.stream.cmp(&b.stream)));
        out
    }

    /// Enabled tag names of `cve`.
    #[must_use]
    pub fn cve_tags(&self, cve: &str) -> Vec<String> {
        self.enabled_tags_of(cve)
    }
}

/// The fleet index as the engine holds it, with its rebuild bookkeeping (the rebuilds are
/// [`Engine::fleet`](crate::Engine::fleet) and its siblings).
#[derive(Default)]
pub struct FleetCell {
    /// The index in force and the change count it reflects; swapped only by the holder of
    /// `build`.
    pub(crate) current: ArcSwapOption<Built>,
    /// Bumped by every change the index reflects.
    pub(crate) generation: AtomicU64,
    /// Whether a background rebuild is running.
    pub(crate) rebuilding: AtomicBool,
    /// Held by a rebuild; when the last one started.
    pub(crate) build: tokio::sync::Mutex<Option<Instant>>,
}

/// A built index and the change count it reflects.
pub(crate) struct Built {
    pub(crate) generation: u64,
    pub(crate) fleet: Arc<Fleet>,
}

/// The smallest time between two background rebuilds.
pub(crate) const DEBOUNCE: Duration = Duration::from_secs(1);

impl FleetCell {
    /// Marks the index stale (something it reflects changed).
    pub fn mark_stale(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}
