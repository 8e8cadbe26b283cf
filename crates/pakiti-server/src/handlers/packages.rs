//! `GET /api/v1/packages/{name}?group=G`: Pakiti 2's "outdated / missing packages" data for
//! one package name across the hosts the viewer may see: the versions installed (with host
//! counts), the newest version available per OS stream (from the imported repositories), the
//! hosts behind it, and the hosts of those streams that lack the package.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use pakiti_core::package::InstalledPackage;
use pakiti_core::stream::OsStream;
use pakiti_core::updates::Scope;
use pakiti_store::{Host, HostFilter, HostSort, Page};
use serde::{Deserialize, Serialize};

use crate::auth::Viewer;
use crate::error::AppError;
use crate::export::{CsvRow, opt};
use crate::state::AppState;

/// Query parameters.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PackageQuery {
    /// Only hosts of this host group.
    pub group: Option<String>,
}

/// An installed version and how many hosts have it.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct VersionCount {
    /// The stream the hosts are on.
    pub stream: Option<String>,
    /// Installed version.
    pub version: String,
    /// Hosts with it.
    pub hosts: usize,
}

/// The newest version the repositories of a stream offer to the hosts that have the package.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StreamNewest {
    /// The stream.
    pub stream: String,
    /// Whether any repository serves the stream.
    pub covered: bool,
    /// The newest candidate version (`None` when not covered).
    pub newest: Option<String>,
}

/// A host whose installed version is older than what its repositories offer.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutdatedHost {
    /// Host name.
    pub hostname: String,
    /// Its stream.
    pub stream: Option<String>,
    /// Installed version.
    pub installed: String,
    /// What its package manager would install.
    pub available: String,
    /// Whether that upgrade brings a security fix.
    pub security: bool,
}

/// The answer.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PackageReport {
    /// The package name.
    pub name: String,
    /// Installed versions per stream, with host counts.
    pub versions: Vec<VersionCount>,
    /// Newest available per stream.
    pub newest: Vec<StreamNewest>,
    /// Hosts behind the newest available.
    pub outdated: Vec<OutdatedHost>,
    /// Hosts of the same streams without the package.
    pub missing: Vec<String>,
}

async fn visible_hosts(
    state: &AppState,
    viewer: &Viewer,
    group: Option<String>,
) -> Result<Vec<Host>, AppError> {
    let filter = HostFilter {
        group: group.filter(|g| !g.is_empty()),
        scope: viewer.scope.clone(),
        ..HostFilter::default()
    };
    let mut out = Vec::new();
    loop {
        let page = state
            .store
            .list_hosts(
                &filter,
                HostSort::default(),
                Page {
                    offset: i64::try_from(out.len()).unwrap_or(i64::MAX),
                    limit: 1000,
                },
            )
            .await
            .map_err(anyhow::Error::from)?;
        let n = page.hosts.len();
        out.extend(page.hosts);
        if n == 0 || i64::try_from(out.len()).unwrap_or(i64::MAX) >= page.total {
            break;
        }
    }
    Ok(out)
}

/// One host row of the package page and its exports: a host that has the package (one row
/// per installed instance) or, with `status` `missing`, a host of the same streams without it.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PackageHost {
    /// Host name.
    pub hostname: String,
    /// Its stream.
    pub stream: Option<String>,
    /// Installed version (empty when missing).
    pub installed: String,
    /// Installed arch (empty when missing).
    pub arch: String,
    /// What its package manager would install, when newer than `installed`.
    pub available: Option<String>,
    /// Whether that upgrade brings a security fix.
    pub security: bool,
    /// `outdated`, `current`, `not-covered` (no repository serves the host) or `missing`.
    pub status: String,
}

impl CsvRow for PackageHost {
    const HEADER: &'static [&'static str] = &[
        "hostname",
        "stream",
        "installed",
        "arch",
        "available",
        "security",
        "status",
    ];
    fn fields(&self) -> Vec<String> {
        vec![
            self.hostname.clone(),
            opt(self.stream.as_ref()),
            self.installed.clone(),
            self.arch.clone(),
            opt(self.available.as_ref()),
            self.security.to_string(),
            self.status.clone(),
        ]
    }
}

/// `GET /api/v1/packages/{name}`.
///
/// # Errors
/// A store failure (500).
pub async fn get_package(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    Query(q): Query<PackageQuery>,
) -> Result<Json<PackageReport>, AppError> {
    Ok(Json(
        package_report(&state, &viewer, name, q.group).await?.0,
    ))
}

/// The report on package `name` over the hosts `viewer` may see (of `group`, if given), and
/// its host rows (every host with the package, then the hosts missing it).
///
/// # Errors
/// A store failure (500).
pub async fn package_report(
    state: &AppState,
    viewer: &Viewer,
    name: String,
    group: Option<String>,
) -> Result<(PackageReport, Vec<PackageHost>), AppError> {
    let hosts = visible_hosts(state, viewer, group).await?;
    let index = state.updates().get();
    // Only hosts that have the package are read (the fleet index knows which), so the cost
    // follows the hosts with the package, not the whole fleet. A host the index does not
    // know yet (it reported after the index was built) is read too.
    let fleet = crate::fleet::current(state).await?;
    let has: std::collections::HashSet<pakiti_store::HostId> =
        fleet.hosts_with_package(&name).into_iter().collect();
    let mut with: Vec<(&Host, Vec<InstalledPackage>)> = Vec::new();
    let mut without: Vec<&Host> = Vec::new();
    for h in &hosts {
        if !has.contains(&h.id) && fleet.host_reports_sources(h.id).is_some() {
            without.push(h);
            continue;
        }
        let pkgs: Vec<InstalledPackage> = state
            .store
            .host_packages(h.id)
            .await
            .map_err(anyhow::Error::from)?
            .into_iter()
            .map(|(_, p)| p)
            .filter(|p| p.name == name)
            .collect();
        if pkgs.is_empty() {
            without.push(h);
        } else {
            with.push((h, pkgs));
        }
    }
    let key = |s: Option<&OsStream>| s.map(ToString::to_string);
    let mut versions: BTreeMap<(Option<String>, String), usize> = BTreeMap::new();
    let mut newest: BTreeMap<String, (OsStream, bool, Option<String>)> = BTreeMap::new();
    let mut outdated = Vec::new();
    let mut rows = Vec::new();
    for (h, pkgs) in &with {
        let stream = h.facts.stream.as_ref();
        for p in pkgs {
            *versions
                .entry((key(stream), p.version.clone()))
                .or_default() += 1;
        }
        let row = |available: Option<&str>, security: bool, status: &str, p: &InstalledPackage| {
            PackageHost {
                hostname: h.hostname.clone(),
                stream: key(stream),
                installed: p.version.clone(),
                arch: p.arch.clone(),
                available: available.map(str::to_owned),
                security,
                status: status.to_owned(),
            }
        };
        let Some(stream) = stream else {
            rows.extend(pkgs.iter().map(|p| row(None, false, "not-covered", p)));
            continue;
        };
        let arch = crate::updates::repo_arch(stream, &h.facts.arch);
        let scope = Scope {
            stream,
            arch: arch.as_deref(),
            modules: &h.facts.modules,
        };
        let covered = index.covers(&scope);
        let entry = newest
            .entry(stream.to_string())
            .or_insert_with(|| (stream.clone(), false, None));
        entry.1 |= covered;
        if !covered {
            rows.extend(pkgs.iter().map(|p| row(None, false, "not-covered", p)));
            continue;
        }
        let scheme = stream.scheme();
        for p in pkgs {
            let candidate = match index.newest(&scope, p) {
                Some(u) => {
                    rows.push(row(Some(u.version), u.security, "outdated", p));
                    outdated.push(OutdatedHost {
                        hostname: h.hostname.clone(),
                        stream: Some(stream.to_string()),
                        installed: p.version.clone(),
                        available: u.version.to_owned(),
                        security: u.security,
                    });
                    u.version.to_owned()
                }
                None => {
                    rows.push(row(None, false, "current", p));
                    p.version.clone()
                }
            };
            if entry
                .2
                .as_deref()
                .is_none_or(|n| scheme.compare(&candidate, n).is_gt())
            {
                entry.2 = Some(candidate);
            }
        }
    }
    let streams_with: std::collections::BTreeSet<String> = newest.keys().cloned().collect();
    let missing: Vec<&Host> = without
        .into_iter()
        .filter(|h| {
            h.facts
                .stream
                .as_ref()
                .is_some_and(|s| streams_with.contains(&s.to_string()))
        })
        .collect();
    rows.extend(missing.iter().map(|h| PackageHost {
        hostname: h.hostname.clone(),
        stream: h.facts.stream.as_ref().map(ToString::to_string),
        installed: String::new(),
        arch: String::new(),
        available: None,
        security: false,
        status: "missing".to_owned(),
    }));
    let report = PackageReport {
        versions: versions
            .into_iter()
            .map(|((stream, version), hosts)| VersionCount {
                stream,
                version,
                hosts,
            })
            .collect(),
        newest: newest
            .into_iter()
            .map(|(stream, (_, covered, newest))| StreamNewest {
                stream,
                covered,
                newest,
            })
            .collect(),
        outdated,
        missing: missing.iter().map(|h| h.hostname.clone()).collect(),
        name,
    };
    Ok((report, rows))
}
