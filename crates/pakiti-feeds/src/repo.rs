//! Package repository metadata (APT, rpm-md, APK) and loading it into the update model
//! ([`pakiti_core::updates::AvailableIndex`]), for Pakiti 2's "newer version available /
//! security update" view.
//!
//! Parsers take bytes or readers, like every parser in this crate; fetching, signature
//! checks and scheduling belong to the server's jobs.
//!
//! ```no_run
//! use pakiti_core::stream::{Distro, OsStream};
//! use pakiti_core::updates::{AvailableIndex, Scope};
//! use pakiti_feeds::{debian::index::parse_packages, decompress, repo};
//! let release = repo::apt::parse_release(&std::fs::read("InRelease").unwrap()).unwrap();
//! let packages_xz = std::fs::read("main_binary-amd64_Packages.xz").unwrap();
//! release.verify_index("main/binary-amd64/Packages", &packages_xz).unwrap();
//! let packages = parse_packages(decompress::reader(&packages_xz[..]).unwrap()).unwrap();
//! let stream = OsStream::new(Distro::Debian, "bookworm");
//! let mut index = AvailableIndex::new();
//! let id = index.add_repo(repo::apt_repo("bookworm main", &stream, "amd64", &release));
//! repo::add_apt_packages(&mut index, id, &packages.records);
//! ```

pub mod apk;
pub mod apt;
pub mod bench;
pub mod modulemd;
pub mod rpmmd;

use pakiti_core::stream::OsStream;
use pakiti_core::updates::{AdvisoryRef, AvailableIndex, NewEntry, Repo, RepoId, severity_rank};
use rustc_hash::FxHashMap;

use crate::debian::index::BinaryPackage;

/// A [`Repo`] for an APT suite: apt's default priority from its `NotAutomatic` /
/// `ButAutomaticUpgrades` flags, security from its suite name or label.
#[must_use]
pub fn apt_repo(name: &str, stream: &OsStream, arch: &str, release: &apt::Release) -> Repo {
    Repo {
        name: name.to_owned(),
        stream: stream.clone(),
        arch: Some(arch.to_owned()),
        priority: release.apt_priority(),
        security: release.is_security(),
    }
}

/// Adds every stanza of a `Packages` index to `repo`.
pub fn add_apt_packages(index: &mut AvailableIndex, repo: RepoId, packages: &[BinaryPackage]) {
    for p in packages {
        index.add(repo, &p.package, &p.version, &p.architecture, false, None);
    }
}

/// Adds an APKINDEX's packages to `repo`.
pub fn add_apk_packages(index: &mut AvailableIndex, repo: RepoId, packages: &[apk::ApkPackage]) {
    for p in packages {
        index.add(repo, &p.name, &p.version, &p.arch, false, None);
    }
}

/// The advisory of each package version an rpm-md `updateinfo` lists, keyed by (name, evr,
/// arch), source rpms left out; when several advisories list one version, the most severe
/// (then the first) wins.
#[must_use]
pub fn advisories_by_nevra(
    updates: &[rpmmd::UpdateInfo],
) -> FxHashMap<(&str, String, &str), &rpmmd::UpdateInfo> {
    let mut out: FxHashMap<(&str, String, &str), &rpmmd::UpdateInfo> = FxHashMap::default();
    for u in updates {
        for p in u.packages.iter().filter(|p| p.arch != "src") {
            out.entry((p.name.as_str(), p.evr(), p.arch.as_str()))
                .and_modify(|old| {
                    if severity_rank(u.severity.as_deref()) > severity_rank(old.severity.as_deref())
                    {
                        *old = u;
                    }
                })
                .or_insert(u);
        }
    }
    out
}

/// The update model's view of an advisory.
#[must_use]
pub fn advisory_ref(u: &rpmmd::UpdateInfo) -> AdvisoryRef<'_> {
    AdvisoryRef {
        id: &u.id,
        severity: u.severity.as_deref(),
    }
}

/// Adds an rpm-md repository: its `primary` packages (source rpms left out), each tagged with
/// its module stream when `modules.yaml` lists it as an artifact and with the advisory that
/// lists it, and the packages of its security advisories as security markers (an upgrade
/// past them is a security upgrade).
pub fn add_rpm_repo(
    index: &mut AvailableIndex,
    repo: RepoId,
    packages: &[rpmmd::RpmPackage],
    updates: &[rpmmd::UpdateInfo],
    modules: Option<&modulemd::Modules>,
) {
    let mut module_of: FxHashMap<(&str, String, &str), String> = FxHashMap::default();
    for m in modules.map(|m| m.streams.as_slice()).unwrap_or_default() {
        for a in &m.artifacts {
            if let Some((name, evr, arch)) = modulemd::split_nevra(a) {
                module_of.insert((name, evr, arch), m.key());
            }
        }
    }
    let advisory_of = advisories_by_nevra(updates);
    for p in packages.iter().filter(|p| p.arch != "src") {
        let evr = p.evr();
        let key = (p.name.as_str(), evr, p.arch.as_str());
        let module = module_of.get(&key);
        index.add_entry(
            repo,
            &NewEntry {
                name: &p.name,
                version: &key.1,
                arch: &p.arch,
                security: false,
                module: module.map(String::as_str),
                installable: true,
                advisory: advisory_of.get(&key).map(|u| advisory_ref(u)),
            },
        );
    }
    for u in updates
        .iter()
        .filter(|u| u.kind == rpmmd::UpdateKind::Security)
    {
        for p in u.packages.iter().filter(|p| p.arch != "src") {
            let evr = p.evr();
            let module = p.module.as_deref().or_else(|| {
                module_of
                    .get(&(p.name.as_str(), evr.clone(), p.arch.as_str()))
                    .map(String::as_str)
            });
            index.add_entry(
                repo,
                &NewEntry {
                    name: &p.name,
                    version: &evr,
                    arch: &p.arch,
                    security: true,
                    module,
                    installable: false,
                    advisory: Some(advisory_ref(u)),
                },
            );
        }
    }
}
