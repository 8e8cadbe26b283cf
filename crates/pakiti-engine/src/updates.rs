//! Repository-based update detection in the server: the in-memory
//! [`AvailableIndex`] built from the stored repositories, a host's updates (Pakiti 2's
//! `name newversion SEC|ORD installed` lines, the host page's list, the cached counts). The
//! bulk refresh of a stream's hosts after a repository changed is
//! [`Engine::refresh_stream`](crate::Engine::refresh_stream).
//!
//! Updates are not stored per host: they are computed from the index on demand (each distinct
//! package version once per fleet, see [`AvailableIndex::fleet_updates`]); only the two counts
//! the host list shows are cached on the host.

use std::collections::BTreeMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use pakiti_api::reply::UpgradeLine;
use pakiti_core::package::InstalledPackage;
use pakiti_core::stream::OsStream;
use pakiti_core::updates::{
    AdvisoryRef, AvailableIndex, HostPackages, HostUpdates, NewEntry, Repo,
};
use pakiti_core::version::Scheme;
use pakiti_store::Store;
use pakiti_store::{Host, HostId, HostUpdateCounts, RepoEntry, Repository};

/// dnf's default repository priority (99), as the update model's "higher wins" number.
pub const DNF_DEFAULT_PRIORITY: i64 = -99;

/// Binary → source package names per Debian/Ubuntu stream, from the imported `Packages`
/// (`Source:` fields) and `Sources` (`Binary:` fields) indexes (agents of protocols 4 and 5
/// send no source names; Debian advisories name sources).
pub type SourceMaps = BTreeMap<OsStream, BTreeMap<String, String>>;

/// The shared, swappable index (the engine holds one; the evaluator carries a clone for
/// ingest), with the source maps the advisory matcher uses. Swaps are lock-free; readers get
/// a snapshot.
#[derive(Clone, Default)]
pub struct UpdatesHandle {
    index: Arc<ArcSwap<AvailableIndex>>,
    sources: Arc<ArcSwap<SourceMaps>>,
}

impl UpdatesHandle {
    /// The index in force.
    #[must_use]
    pub fn get(&self) -> Arc<AvailableIndex> {
        self.index.load_full()
    }

    /// The source maps in force.
    #[must_use]
    pub fn sources(&self) -> Arc<SourceMaps> {
        self.sources.load_full()
    }

    /// Swaps in a new index and source maps; says whether the source maps changed.
    pub fn set(&self, index: AvailableIndex, sources: SourceMaps) -> bool {
        self.index.store(Arc::new(index));
        let old = self.sources.swap(Arc::new(sources));
        *old != **self.sources.load()
    }
}

/// The binary → source maps of the stored Debian/Ubuntu repositories.
#[must_use]
pub fn source_maps(loaded: &[(Repository, Vec<RepoEntry>)]) -> SourceMaps {
    let mut out = SourceMaps::new();
    for (r, entries) in loaded {
        let Ok(stream) = r.stream.parse::<OsStream>() else {
            continue;
        };
        if stream.scheme() != Scheme::Deb {
            continue;
        }
        let map = out.entry(stream).or_default();
        for e in entries {
            if let Some(src) = &e.source {
                map.insert(e.name.clone(), src.clone());
            }
        }
    }
    out.retain(|_, m| !m.is_empty());
    out
}

/// The model's view of a stored repository; `None` when its stream key does not parse.
#[must_use]
pub fn model_repo(r: &Repository) -> Option<Repo> {
    let stream: OsStream = r.stream.parse().ok()?;
    let default = match stream.scheme() {
        Scheme::Deb => i64::from(pakiti_core::updates::APT_PRIORITY_DEFAULT),
        Scheme::Rpm | Scheme::Apk => DNF_DEFAULT_PRIORITY,
    };
    let priority = r.priority.or(r.meta_priority).unwrap_or(default);
    Some(Repo {
        name: r.name.clone(),
        stream,
        arch: r.arch.clone(),
        priority: i32::try_from(priority).unwrap_or(i32::MAX),
        security: r.is_security(),
    })
}

/// Builds the index from what the store loaded.
#[must_use]
pub fn build_index(loaded: &[(Repository, Vec<RepoEntry>)]) -> AvailableIndex {
    let mut index = AvailableIndex::new();
    for (r, entries) in loaded {
        let Some(model) = model_repo(r) else {
            tracing::warn!(repo = %r.name, stream = %r.stream, "repository with an unknown stream skipped");
            continue;
        };
        let id = index.add_repo(model);
        for e in entries {
            if e.is_source_pair() {
                // A `Sources` name pair: only for the source map, never an available version.
                continue;
            }
            index.add_entry(
                id,
                &NewEntry {
                    name: &e.name,
                    version: &e.version,
                    arch: &e.arch,
                    // A marker always marks a security fix (only security advisories make them).
                    security: e.security || !e.installable,
                    module: e.module.as_deref(),
                    installable: e.installable,
                    advisory: e.advisory.as_deref().map(|id| AdvisoryRef {
                        id,
                        severity: e.severity.as_deref(),
                    }),
                },
            );
        }
    }
    index
}

/// The host's machine arch in the naming of its stream's repositories (Debian calls
/// `x86_64` `amd64`); `None` when unknown.
#[must_use]
pub fn repo_arch(stream: &OsStream, arch: &str) -> Option<String> {
    let arch = arch.trim();
    if arch.is_empty() || arch == "unknown" {
        return None;
    }
    Some(match (stream.scheme(), arch) {
        (Scheme::Deb, "x86_64") => "amd64".into(),
        (Scheme::Deb, "aarch64") => "arm64".into(),
        (Scheme::Deb, "i686" | "i586" | "i486") => "i386".into(),
        (Scheme::Deb, "armv7l") => "armhf".into(),
        (Scheme::Deb, "ppc64le") => "ppc64el".into(),
        (Scheme::Rpm, "amd64") => "x86_64".into(),
        (Scheme::Rpm, "arm64") => "aarch64".into(),
        _ => arch.to_owned(),
    })
}

/// One available update of a host: Pakiti 2's line plus the advisory it brings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateRow {
    /// The report-back line.
    pub line: UpgradeLine,
    /// The most severe rpm-md advisory between the installed version and the candidate.
    pub advisory: Option<String>,
    /// That advisory's severity as the vendor writes it.
    pub severity: Option<String>,
}

/// One host's updates as rows. rpm versions lose a zero epoch (`0:1.2-3` → `1.2-3`): agents
/// send it, repositories do not, and Pakiti 2 printed `version-release`.
fn rows_of(
    scheme: Scheme,
    result: &HostUpdates<'_>,
    packages: &[InstalledPackage],
) -> Vec<UpdateRow> {
    let show = |v: &str| match scheme {
        Scheme::Rpm => v.strip_prefix("0:").unwrap_or(v).to_owned(),
        Scheme::Deb | Scheme::Apk => v.to_owned(),
    };
    result
        .updates
        .iter()
        .map(|(i, u)| UpdateRow {
            line: UpgradeLine {
                name: packages[*i].name.clone(),
                new_version: show(u.version),
                security: u.security,
                installed_version: show(&packages[*i].version),
            },
            advisory: u.advisory.map(|a| a.id.to_owned()),
            severity: u.advisory.and_then(|a| a.severity.map(str::to_owned)),
        })
        .collect()
}

pub(crate) fn counts_of(result: &HostUpdates<'_>) -> HostUpdateCounts {
    let sec = result.security_count();
    HostUpdateCounts {
        security: i64::try_from(sec).unwrap_or(i64::MAX),
        other: i64::try_from(result.updates.len() - sec).unwrap_or(i64::MAX),
    }
}

/// The updates of one host, computed from `index` (Pakiti 2's report-back lines, in package
/// order).
#[must_use]
pub fn host_lines(
    index: &AvailableIndex,
    stream: Option<&OsStream>,
    arch: &str,
    packages: &[InstalledPackage],
    modules: &[String],
) -> Vec<UpgradeLine> {
    host_rows(index, stream, arch, packages, modules)
        .into_iter()
        .map(|r| r.line)
        .collect()
}

/// The updates of one host with their advisories, in package order.
#[must_use]
pub fn host_rows(
    index: &AvailableIndex,
    stream: Option<&OsStream>,
    arch: &str,
    packages: &[InstalledPackage],
    modules: &[String],
) -> Vec<UpdateRow> {
    let Some(stream) = stream else {
        return Vec::new();
    };
    let arch = repo_arch(stream, arch);
    let result = index.host_updates(&HostPackages {
        stream: Some(stream),
        arch: arch.as_deref(),
        packages,
        modules,
    });
    rows_of(stream.scheme(), &result, packages)
}

/// The hook ingest calls after a report is saved: computes the host's updates, caches its
/// counts, and returns the report-back lines.
///
/// # Errors
/// The store fails.
pub async fn refresh_host(
    store: &Store,
    updates: &UpdatesHandle,
    host: HostId,
    stream: Option<&OsStream>,
    arch: &str,
    packages: &[InstalledPackage],
    modules: &[String],
) -> Result<Vec<UpgradeLine>, pakiti_store::StoreError> {
    let index = updates.get();
    let lines = host_lines(&index, stream, arch, packages, modules);
    let sec = lines.iter().filter(|l| l.security).count();
    let counts = HostUpdateCounts {
        security: i64::try_from(sec).unwrap_or(i64::MAX),
        other: i64::try_from(lines.len() - sec).unwrap_or(i64::MAX),
    };
    store.set_host_updates(&[(host, counts)]).await?;
    Ok(lines)
}

/// The updates of a stored host with their advisories, from the index in force.
///
/// # Errors
/// The store fails.
pub async fn stored_host_updates(
    store: &Store,
    updates: &UpdatesHandle,
    host: &Host,
) -> Result<Vec<UpdateRow>, pakiti_store::StoreError> {
    let packages: Vec<InstalledPackage> = store
        .host_packages(host.id)
        .await?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let index = updates.get();
    Ok(host_rows(
        &index,
        host.facts.stream.as_ref(),
        &host.facts.arch,
        &packages,
        &host.facts.modules,
    ))
}
