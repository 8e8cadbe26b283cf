//! Building the fleet index from the store's bulk reads and the evaluator's and policy's
//! advisories, tags and exceptions ([`Fleet::build`], called by [`Fleet::load`]).

use super::hostlist::HostListBuilder;
use super::*;

impl Fleet {
    #[allow(clippy::too_many_lines)]
    pub(super) fn build(
        hosts: impl Iterator<Item = Result<pakiti_store::FleetHost, pakiti_store::StoreError>>,
        findings: Vec<pakiti_store::StreamFinding>,
        packages: Vec<(i64, pakiti_core::package::InstalledPackage)>,
        evaluator: &Evaluator,
        tags: Arc<[CveTag]>,
        exceptions: Arc<[CveException]>,
        covers: &dyn Fn(&str) -> bool,
    ) -> anyhow::Result<Fleet> {
        let now = OffsetDateTime::now_utc();
        let mut strings = Strings::default();
        // (stream, package version) → [(advisory db id, affected idx)]
        let mut by_key: FxHashMap<(u32, u32), Vec<(i64, u32)>> = FxHashMap::default();
        let mut referenced: FxHashSet<(i64, u32)> = FxHashSet::default();
        for f in findings {
            let stream = strings.intern(&f.stream);
            let idx = small(f.finding.affected_idx);
            by_key
                .entry((stream, small(f.finding.package_version_id)))
                .or_default()
                .push((f.finding.advisory_id, idx));
            referenced.insert((f.finding.advisory_id, idx));
        }
        let mut advisories = Vec::new();
        let mut adv_index: FxHashMap<i64, u32> = FxHashMap::default();
        let mut affected = FxHashMap::default();
        for (id, advisory) in evaluator.stored_advisories() {
            let has_refs = advisory
                .affected
                .iter()
                .enumerate()
                .any(|(i, _)| referenced.contains(&(id, u32::try_from(i).unwrap_or(u32::MAX))));
            if !has_refs {
                continue;
            }
            let a = u32::try_from(advisories.len()).unwrap_or(u32::MAX);
            adv_index.insert(id, a);
            for (i, e) in advisory.affected.iter().enumerate() {
                let i = u32::try_from(i).unwrap_or(u32::MAX);
                if referenced.contains(&(id, i)) {
                    affected.insert(
                        (a, i),
                        FAffected {
                            fixed: match &e.status {
                                Status::Fixed(v) => Some(v.as_str().into()),
                                _ => None,
                            },
                            status: status_word(&e.status),
                            module: e.module.as_deref().map(|m| strings.intern(m)),
                        },
                    );
                }
            }
            let cves = if advisory.cves.is_empty() {
                vec![strings.intern(&advisory.id)]
            } else {
                advisory.cves.iter().map(|c| strings.intern(c)).collect()
            };
            advisories.push(FAdvisory {
                vendor_id: strings.intern(&advisory.id),
                title: advisory.title.as_str().into(),
                source: strings.intern(&advisory.source),
                severity: advisory.severity,
                cves,
                references: advisory
                    .references
                    .iter()
                    .map(|r| r.as_str().into())
                    .collect(),
            });
        }
        // The module streams (sorted, distinct) that entries of each (stream, package version)
        // list name, for the lists that name any (most name none).
        let key_modules: FxHashMap<(u32, u32), Box<[u32]>> = by_key
            .iter()
            .filter_map(|(key, list)| {
                let mut mods: Vec<u32> = list
                    .iter()
                    .filter_map(|&(adv_db, idx)| {
                        let a = *adv_index.get(&adv_db)?;
                        affected[&(a, idx)].module
                    })
                    .collect();
                mods.sort_unstable();
                mods.dedup();
                (!mods.is_empty()).then(|| (*key, mods.into_boxed_slice()))
            })
            .collect();
        let mut pkg_map = FxHashMap::default();
        let mut with_source: FxHashSet<u32> = FxHashSet::default();
        for (id, p) in packages {
            if p.source.is_some() {
                with_source.insert(small(id));
            }
            pkg_map.insert(
                small(id),
                FPackage {
                    name: strings.intern(&p.name),
                    version: p.version.into(),
                    arch: strings.intern(&p.arch),
                },
            );
        }
        // Active exceptions: (cve, package name, version without epoch, stream) → indexes
        // (`evaluate::exception_version_matches` decides among them).
        let mut exc: FxHashMap<(u32, u32, Box<str>, u32), Vec<usize>> = FxHashMap::default();
        for (i, e) in exceptions.iter().enumerate() {
            if e.active_at(now) {
                let key = (
                    strings.intern(&e.cve),
                    strings.intern(&e.package),
                    Box::<str>::from(crate::evaluate::without_epoch(&e.version)),
                    strings.intern(&e.stream),
                );
                exc.entry(key).or_default().push(i);
            }
        }
        let mut fhosts = Vec::new();
        let mut host_index = FxHashMap::default();
        let mut host_groups: Vec<Box<[u32]>> = Vec::new();
        let mut groups: Vec<Box<[FFinding]>> = Vec::new();
        let mut group_exceptions: Vec<Vec<usize>> = Vec::new();
        let mut group_index: FxHashMap<(u32, u32, Box<[u32]>), u32> = FxHashMap::default();
        // Whether the evaluator has data for a stream, by interned stream.
        let mut covered: FxHashMap<u32, bool> = FxHashMap::default();
        let mut cves: Vec<FCve> = Vec::new();
        // Each CVE's hosts and fixable hosts, as they are found (hosts in index order).
        let mut cve_hosts: Vec<(HostListBuilder, HostListBuilder)> = Vec::new();
        let mut cve_index: FxHashMap<u32, u32> = FxHashMap::default();
        let mut applied_exceptions: FxHashMap<u32, Vec<usize>> = FxHashMap::default();
        // Per group: its CVEs (indexes into `cves`), distinct, each with whether some finding
        // of it has a fixed version.
        let mut group_cves: Vec<Box<[(u32, bool)]>> = Vec::new();
        for h in hosts {
            let h = h?;
            let hi = u32::try_from(fhosts.len()).unwrap_or(u32::MAX);
            host_index.insert(h.id, hi);
            let stream = h.stream.as_deref().map(|s| strings.intern(s));
            let modules: Vec<u32> = h.modules.iter().map(|m| strings.intern(m)).collect();
            let pkgs: Box<[u32]> = h.package_ids.iter().map(|&p| small(p)).collect();
            let old: Vec<u32> = h.old_kernels.iter().map(|&p| small(p)).collect();
            let mut mine: Vec<u32> = Vec::new();
            // Distinct CVEs of this host, and of those the ones some finding can fix.
            let (mut host_cves, mut fixable_cves) = (0u32, 0u32);
            if let Some(st) = stream {
                // Old kernels' findings are not the host's (`Host::old_kernels`).
                for &pv in pkgs.iter().filter(|pv| !old.contains(pv)) {
                    let Some(list) = by_key.get(&(st, pv)) else {
                        continue;
                    };
                    // The module streams of this list that the host has: with the stream and
                    // the version, they decide the group.
                    let mods: Box<[u32]> =
                        key_modules.get(&(st, pv)).map_or_else(Box::default, |ms| {
                            ms.iter().copied().filter(|m| modules.contains(m)).collect()
                        });
                    let key = (st, pv, mods);
                    let g = if let Some(&g) = group_index.get(&key) {
                        g
                    } else {
                        let (findings, excepted) = group_findings(
                            list,
                            &adv_index,
                            &affected,
                            &advisories,
                            &key.2,
                            pv,
                            pkg_map.get(&pv),
                            st,
                            &exc,
                            &exceptions,
                        );
                        let g = u32::try_from(groups.len()).unwrap_or(u32::MAX);
                        group_cves.push(cve_entries(
                            &findings,
                            &advisories,
                            &affected,
                            &mut cves,
                            &mut cve_hosts,
                            &mut cve_index,
                        ));
                        groups.push(findings);
                        group_exceptions.push(excepted);
                        group_index.insert(key, g);
                        g
                    };
                    if !group_exceptions[g as usize].is_empty() {
                        applied_exceptions
                            .entry(hi)
                            .or_default()
                            .extend_from_slice(&group_exceptions[g as usize]);
                    }
                    if groups[g as usize].is_empty() {
                        continue;
                    }
                    mine.push(g);
                    // Each of the group's CVEs once (its advisories and severity were taken
                    // when the group was made): a push that adds the host is a CVE new to it.
                    for &(ci, fixed) in &group_cves[g as usize] {
                        let (hosts, fixable) = &mut cve_hosts[ci as usize];
                        if hosts.push(hi) {
                            host_cves += 1;
                        }
                        if fixed && fixable.push(hi) {
                            fixable_cves += 1;
                        }
                    }
                }
            }
            if let Some(v) = applied_exceptions.get_mut(&hi) {
                v.sort_unstable();
                v.dedup();
            }
            let unfixed_cves = host_cves - fixable_cves;
            host_groups.push(mine.into_boxed_slice());
            fhosts.push(FHost {
                id: h.id,
                hostname: strings.intern(&h.hostname),
                group: h.group.as_deref().map(|g| strings.intern(g)),
                domain: h.domain.as_deref().map(|d| strings.intern(d)),
                os: strings.intern(&h.os_name),
                covered: stream.is_some_and(|st| {
                    *covered.entry(st).or_insert_with(|| covers(strings.str(st)))
                }),
                reports_sources: pkgs.iter().any(|p| with_source.contains(p)),
                stream,
                arch: strings.intern(&h.arch),
                modules: modules.into_boxed_slice(),
                packages: pkgs,
                fixable_cves,
                unfixed_cves,
            });
        }
        let tagged_cves: FxHashSet<u32> = tags
            .iter()
            .filter(|t| t.enabled)
            .filter_map(|t| strings.get(&t.cve))
            .collect();
        for (c, (hosts, fixable)) in cves.iter_mut().zip(cve_hosts) {
            c.hosts = hosts.finish();
            c.fixable_hosts = fixable.finish();
        }
        fhosts.shrink_to_fit();
        host_groups.shrink_to_fit();
        groups.shrink_to_fit();
        Ok(Fleet {
            tagged_cves,
            strings,
            hosts: fhosts,
            host_index,
            advisories,
            affected,
            packages: pkg_map,
            cves,
            cve_index,
            groups,
            host_groups,
            applied_exceptions,
            tags,
            exceptions,
            built_at: now,
            risks: parking_lot::Mutex::default(),
        })
    }
}

/// The CVEs of a new group's `findings` as (index into `cves`, whether some finding of it has
/// a fixed version), distinct: CVEs first seen are added to `cves` (and their host lists to
/// `cve_hosts`), and each CVE takes the group's advisories naming it (its severity the highest
/// of them), in the order a walk over every host's findings would meet them.
fn cve_entries(
    findings: &[FFinding],
    advisories: &[FAdvisory],
    affected: &FxHashMap<(u32, u32), FAffected>,
    cves: &mut Vec<FCve>,
    cve_hosts: &mut Vec<(HostListBuilder, HostListBuilder)>,
    cve_index: &mut FxHashMap<u32, u32>,
) -> Box<[(u32, bool)]> {
    let mut out: Vec<(u32, bool)> = Vec::with_capacity(findings.len());
    for f in findings {
        let a = f.advisory;
        let ci = *cve_index.entry(f.cve).or_insert_with(|| {
            cves.push(FCve {
                name: f.cve,
                severity: Severity::Unknown,
                advisories: Vec::new(),
                hosts: HostList::default(),
                fixable_hosts: HostList::default(),
            });
            cve_hosts.push(Default::default());
            u32::try_from(cves.len() - 1).unwrap_or(u32::MAX)
        });
        let c = &mut cves[ci as usize];
        if !c.advisories.contains(&a) {
            c.advisories.push(a);
            if advisories[a as usize].severity > c.severity {
                c.severity = advisories[a as usize].severity;
            }
        }
        out.push((ci, affected[&(a, f.affected)].fixed.is_some()));
    }
    // Fixable wins among one CVE's entries: sorted by CVE, fixable first, keep the first.
    out.sort_unstable_by(|x, y| x.0.cmp(&y.0).then(y.1.cmp(&x.1)));
    out.dedup_by_key(|e| e.0);
    out.into_boxed_slice()
}

/// The findings of package version `pv` on stream `st` from its stored entries `list`, for a
/// host with the module streams `mods` (those of the list it has), and the active exceptions
/// that removed some of them (indexes into `exceptions`). One finding per advisory after the
/// module check (an advisory keeps one entry per module-stream condition:
/// `evaluate::applicable`).
#[allow(clippy::too_many_arguments)]
fn group_findings(
    list: &[(i64, u32)],
    adv_index: &FxHashMap<i64, u32>,
    affected: &FxHashMap<(u32, u32), FAffected>,
    advisories: &[FAdvisory],
    mods: &[u32],
    pv: u32,
    package: Option<&FPackage>,
    st: u32,
    exc: &FxHashMap<(u32, u32, Box<str>, u32), Vec<usize>>,
    exceptions: &[CveException],
) -> (Box<[FFinding]>, Vec<usize>) {
    let mut out = Vec::new();
    let mut excepted = Vec::new();
    let mut seen: Vec<u32> = Vec::new();
    for &(adv_db, idx) in list {
        let Some(&a) = adv_index.get(&adv_db) else {
            continue;
        };
        let aff = &affected[&(a, idx)];
        if aff.module.is_some_and(|m| !mods.contains(&m)) || seen.contains(&a) {
            continue;
        }
        seen.push(a);
        for &cve in &advisories[a as usize].cves {
            if !exc.is_empty()
                && let Some(p) = package
                && let Some(&e) = exc
                    .get(&(
                        cve,
                        p.name,
                        Box::<str>::from(crate::evaluate::without_epoch(&p.version)),
                        st,
                    ))
                    .and_then(|v| {
                        v.iter().find(|&&i| {
                            crate::evaluate::exception_version_matches(
                                &exceptions[i].version,
                                &p.version,
                            )
                        })
                    })
            {
                excepted.push(e);
                continue;
            }
            out.push(FFinding {
                cve,
                package: pv,
                advisory: a,
                affected: idx,
            });
        }
    }
    (out.into_boxed_slice(), excepted)
}
