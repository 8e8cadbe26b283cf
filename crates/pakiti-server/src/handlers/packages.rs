//! One package across the fleet: `GET /api/v1/packages/{name}?group=G` and the
//! `/packages/{name}` page (Pakiti 2's "outdated / missing packages"), both from
//! [`package_report`]: the versions installed (with host counts), the newest version available
//! per OS stream (from the imported repositories), the hosts behind it, and the hosts of those
//! streams that lack the package.

use std::collections::BTreeMap;

use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use pakiti_core::package::InstalledPackage;
use pakiti_core::stream::OsStream;
use pakiti_core::updates::Scope;
use pakiti_store::{Host, HostFilter, HostSort};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api_types::{OutdatedHost, PackageHost, PackageReport, StreamNewest, VersionCount};
use crate::auth::Viewer;
use crate::error::AppError;
use crate::export;
use crate::state::AppState;
use crate::web::{VERSION, enc, render};

/// Query parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct PackageQuery {
    /// Only hosts of this host group.
    pub group: Option<String>,
}

/// A host as the package report needs it.
struct HostView {
    hostname: String,
    stream: Option<OsStream>,
    arch: String,
    modules: Vec<String>,
}

impl HostView {
    fn of(h: Host) -> HostView {
        HostView {
            hostname: h.hostname,
            stream: h.facts.stream,
            arch: h.facts.arch,
            modules: h.facts.modules,
        }
    }
}

/// `GET /api/v1/packages/{name}`.
///
/// # Errors
/// A store failure (500).
#[utoipa::path(
    get,
    path = "/api/v1/packages/{name}",
    operation_id = "packages_get",
    tag = "packages",
    params(("name" = String, Path, description = "Package name"), PackageQuery),
    responses(
        (status = 200, description = "One package across the hosts in scope", body = PackageReport)
    )
)]
pub async fn api_get(
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
    let filter = HostFilter {
        group: group.filter(|g| !g.is_empty()),
        scope: viewer.scope.clone(),
        ..HostFilter::default()
    };
    // The visible hosts' ids only (one aggregated row, by hostname); their names, facts and
    // installed versions come from the fleet index. Only a host the index does not know yet
    // (it reported after the index was built) is read from the store in full, with its
    // package list.
    let ids = state
        .store
        .list_host_ids(&filter, HostSort::default())
        .await?;
    let index = state.engine.updates().get();
    let fleet = state.engine.fleet().await?;
    let mut installed = fleet.installed_named(&name);
    let mut streams: std::collections::HashMap<String, Option<OsStream>> =
        std::collections::HashMap::new();
    let mut with: Vec<(HostView, Vec<InstalledPackage>)> = Vec::new();
    let mut without: Vec<HostView> = Vec::new();
    for id in ids {
        let (view, pkgs) = if let Some(f) = fleet.host_facts(id) {
            let stream = f.stream.and_then(|s| {
                streams
                    .entry(s.to_owned())
                    .or_insert_with(|| s.parse().ok())
                    .clone()
            });
            let view = HostView {
                hostname: f.hostname.to_owned(),
                stream,
                arch: f.arch.to_owned(),
                modules: f.modules,
            };
            (view, installed.remove(&id).unwrap_or_default())
        } else {
            let Some(h) = state.store.get_host(id).await? else {
                continue;
            };
            let pkgs: Vec<InstalledPackage> = state
                .store
                .host_packages(id)
                .await?
                .into_iter()
                .map(|(_, p)| p)
                .filter(|p| p.name == name)
                .collect();
            (HostView::of(h), pkgs)
        };
        if pkgs.is_empty() {
            without.push(view);
        } else {
            with.push((view, pkgs));
        }
    }
    let key = |s: Option<&OsStream>| s.map(ToString::to_string);
    let mut versions: BTreeMap<(Option<String>, String), usize> = BTreeMap::new();
    let mut newest: BTreeMap<String, (OsStream, bool, Option<String>)> = BTreeMap::new();
    let mut outdated = Vec::new();
    let mut rows = Vec::new();
    for (h, pkgs) in &with {
        let stream = h.stream.as_ref();
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
        let arch = pakiti_engine::updates::repo_arch(stream, &h.arch);
        let scope = Scope {
            stream,
            arch: arch.as_deref(),
            modules: &h.modules,
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
    let missing: Vec<HostView> = without
        .into_iter()
        .filter(|h| {
            h.stream
                .as_ref()
                .is_some_and(|s| streams_with.contains(&s.to_string()))
        })
        .collect();
    rows.extend(missing.iter().map(|h| PackageHost {
        hostname: h.hostname.clone(),
        stream: h.stream.as_ref().map(ToString::to_string),
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

/// Query of `/packages/{name}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PackagePageQuery {
    /// Only hosts of this host group.
    pub group: Option<String>,
    /// Export format (of the host rows).
    pub format: Option<export::Format>,
}

#[derive(Template)]
#[template(path = "package.html")]
struct PackagePage {
    version: &'static str,
    r: PackageReport,
    rows: Vec<PackageHost>,
    group: String,
    export_qs: String,
    name_enc: String,
    /// Totals before the tables were cut to [`PAGE_ROWS`]: outdated, missing, all rows.
    outdated_total: usize,
    missing_total: usize,
    rows_total: usize,
    page_rows: usize,
}

/// Rows shown per host table on the page; the exports and the API give all of them (a
/// package every host has would otherwise render one row per host of the fleet).
const PAGE_ROWS: usize = 500;

/// `/packages/{name}`: Pakiti 2's "outdated / missing packages" page for one package name,
/// over the hosts the viewer may see; `?format=csv|json` exports its host rows.
///
/// # Errors
/// A store failure.
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    Query(q): Query<PackagePageQuery>,
) -> Result<Response, AppError> {
    let group = q.group.clone().filter(|g| !g.is_empty());
    let (mut r, mut rows) = package_report(&state, &viewer, name.clone(), group.clone()).await?;
    let file = format!("package-{name}");
    if let Some(resp) = export::export(q.format.unwrap_or_default(), &file, &rows)? {
        return Ok(resp);
    }
    let (outdated_total, missing_total, rows_total) =
        (r.outdated.len(), r.missing.len(), rows.len());
    r.outdated.truncate(PAGE_ROWS);
    r.missing.truncate(PAGE_ROWS);
    rows.truncate(PAGE_ROWS);
    let group = group.unwrap_or_default();
    let export_qs = if group.is_empty() {
        String::new()
    } else {
        format!("group={}&", enc(&group))
    };
    render(&PackagePage {
        version: VERSION,
        rows,
        name_enc: enc(&r.name),
        group,
        export_qs,
        r,
        outdated_total,
        missing_total,
        rows_total,
        page_rows: PAGE_ROWS,
    })
}
