//! Candidate selection as the package managers do it: which available version `apt`, `dnf`
//! or `apk` would upgrade an installed package to.
//!
//! - **apt** (Debian scheme): every version has a pin priority, the highest of the suites that
//!   carry it (500 for a normal suite, 100 for `NotAutomatic: yes` + `ButAutomaticUpgrades:
//!   yes` suites such as backports, 1 for `NotAutomatic: yes` alone such as experimental); the
//!   installed version has at least 100 (dpkg's status file). The candidate is the version
//!   with the highest priority, ties broken by the higher version; a version lower than the
//!   installed one is never a candidate (apt downgrades only with pins ≥ 1000, out of scope).
//! - **dnf/yum and apk**: the highest version among the best-priority repositories that
//!   carry the name (dnf's `priority=`, mapped so that a higher number wins), epochs included.
//! - **Arches** ([`arch_compatible`]): rpm `noarch` updates and is updated by any arch, Debian
//!   `all` likewise; otherwise the arch must be equal (an `x86_64` package is never updated by
//!   an `i686` one). An unknown installed arch (`""`, `unknown`) accepts any.

use crate::version::Scheme;

/// apt's default pin priority of a normal suite.
pub const APT_PRIORITY_DEFAULT: i32 = 500;
/// apt's priority of the installed version (dpkg status) and of `ButAutomaticUpgrades` suites.
pub const APT_PRIORITY_INSTALLED: i32 = 100;
/// apt's priority of a `NotAutomatic: yes` suite (experimental).
pub const APT_PRIORITY_NOT_AUTOMATIC: i32 = 1;

#[derive(Clone, Debug)]
pub(super) struct Entry {
    pub(super) version: Box<str>,
    pub(super) arch: Box<str>,
    pub(super) repo: u32,
    /// Cached from the repo, to keep the hot loop on one cache line.
    pub(super) priority: i32,
    pub(super) security: bool,
    /// False for versions known only from an advisory (rpm-md `updateinfo`), which mark
    /// security fixes but are not offered for installation.
    pub(super) installable: bool,
    /// Interned `module:stream` for rpm modular packages.
    pub(super) module: Option<u32>,
    /// Interned advisory (rpm-md `updateinfo`) that lists exactly this version.
    pub(super) advisory: Option<u32>,
}

/// Whether a package of arch `avail` can replace an installed one of arch `installed`.
#[must_use]
pub fn arch_compatible(installed: &str, avail: &str) -> bool {
    installed == avail
        || matches!(installed, "" | "unknown" | "(none)" | "noarch" | "all")
        || matches!(avail, "noarch" | "all" | "")
}

/// apt's candidate among `entries` for an installed version; `None` when it is the
/// installed version.
pub(super) fn apt_candidate<'e>(
    entries: impl Iterator<Item = &'e Entry>,
    installed: &str,
) -> Option<&'e Entry> {
    let mut installed_priority = APT_PRIORITY_INSTALLED;
    let mut best: Option<&Entry> = None;
    for e in entries {
        let to_installed = Scheme::Deb.compare(&e.version, installed);
        if to_installed.is_eq() {
            // A version's priority is the highest of the files that carry it (markers are
            // not files, but an advisory only lists what a suite carried).
            if e.installable {
                installed_priority = installed_priority.max(e.priority);
            }
            continue;
        }
        if to_installed.is_lt() || !e.installable {
            continue;
        }
        best = match best {
            None => Some(e),
            Some(b) => {
                let better = e.priority > b.priority
                    || (e.priority == b.priority
                        && Scheme::Deb.compare(&e.version, &b.version).is_gt());
                Some(if better { e } else { b })
            }
        };
    }
    best.filter(|b| b.priority >= installed_priority)
}

/// dnf's (and apk's) candidate: the highest version among the best-priority repositories
/// carrying the name; `None` when it is not newer than the installed version.
pub(super) fn dnf_candidate<'e>(
    scheme: Scheme,
    entries: impl Iterator<Item = &'e Entry> + Clone,
    installed: &str,
) -> Option<&'e Entry> {
    let top = entries
        .clone()
        .filter(|e| e.installable)
        .map(|e| e.priority)
        .max()?;
    let best = entries
        .filter(|e| e.installable && e.priority == top)
        .max_by(|a, b| scheme.compare(&a.version, &b.version))?;
    scheme
        .compare(&best.version, installed)
        .is_gt()
        .then_some(best)
}
