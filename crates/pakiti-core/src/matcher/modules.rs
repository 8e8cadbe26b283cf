//! Module streams (dnf modules, `nodejs:18`) inferred for hosts that report none, from the
//! module build tags of their installed packages and the versions advisories list.
//!
//! Module-stream entries apply only to hosts with that stream enabled; `rpm -qa` lists and
//! every Pakiti 2/3 client report no streams, so without this inference their module
//! advisories could never match. What cannot be inferred is returned as unknown, never as
//! "no module".

use super::index::AdvisoryIndex;
use super::rebuild::rebuild_compare;
use crate::package::InstalledPackage;
use crate::stream::OsStream;

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
    // The first `module+`, else the first `module_`: one pass over the bytes (this runs for
    // every package of every report; a substring search sets up a searcher per call).
    let b = version.as_bytes();
    let mut underscore = None;
    for (i, _) in b.iter().enumerate().filter(|(_, c)| **c == b'm') {
        if b[i..].starts_with(b"module") {
            match b.get(i + 6) {
                Some(b'+') => return Some(&version[i..]),
                Some(b'_') if underscore.is_none() => underscore = Some(i),
                _ => {}
            }
        }
    }
    underscore.map(|i| &version[i..])
}

impl AdvisoryIndex {
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
                let Some(entries) = self.binary_entries(&t.stream, &p.name) else {
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
}

#[cfg(test)]
mod tests {
    use super::module_build_tag;

    /// The first `module+`, else the first `module_`, as two substring searches would find.
    #[test]
    fn build_tags() {
        for v in [
            "0:1.14.1-1.module+el8.0.0+4214+49953fda",
            "0:2.4-1.module_el8.6.0+1087+b42c8331",
            "0:1-1.module_a.module+b",
            "0:1-1.module+a.module_b",
            "0:1-1.mmodule+x",
            "0:1-1.modul",
            "0:1-1.module",
            "0:1-1.modulemodule_x",
            "0:2.4.37-47.el8",
            "",
        ] {
            let expected = v
                .find("module+")
                .or_else(|| v.find("module_"))
                .map(|i| &v[i..]);
            assert_eq!(module_build_tag(v), expected, "{v:?}");
        }
        assert_eq!(
            module_build_tag("0:1-1.module_a.module+b"),
            Some("module+b")
        );
    }
}
