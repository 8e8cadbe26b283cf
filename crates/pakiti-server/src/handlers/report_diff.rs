//! What changed on a host between two of its reports: `GET /api/v1/hosts/{hostname}/diff`
//! and the `/hosts/{hostname}/diff` page (`?from={report_id}&to={report_id}`), from one query
//! function ([`diff`]).
//!
//! Packages come from the per-report package lists the store keeps (the newest N changed
//! reports per host, `history.report_packages_kept`; an unchanged report has its predecessor's
//! list), so the package diff is exact. CVEs gained and lost are both lists evaluated with
//! the vulnerability data and exceptions in force now: a difference is due to the packages,
//! not to a feed that changed between the reports (that is on `/changes`, cause `feed`).

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api_types::{ApiDiffPackage, ApiPackageChange, ApiReportDiff, rfc3339};
use crate::auth::Viewer;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::{VERSION, render};

/// The two reports to compare.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    /// The earlier report's id.
    pub from: Option<String>,
    /// The later report's id.
    pub to: Option<String>,
}

/// The label of how CVEs are computed.
pub const CVES_BASIS: &str = "both package lists evaluated with the vulnerability data and exceptions in force now (installed kernels older than the host's running kernel left out)";

fn report_id(name: &str, v: Option<&str>) -> Result<i64, AppError> {
    let v = v.map(str::trim).filter(|v| !v.is_empty()).ok_or_else(|| {
        AppError::BadRequest(format!("{name}= is required: a report id of the host"))
    })?;
    v.parse()
        .map_err(|_| AppError::BadRequest(format!("{name}={v:?} is not a report id")))
}

type Versions = BTreeMap<(String, String), BTreeSet<String>>;

/// The diff between reports `q.from` and `q.to` of `hostname`, as `viewer` may see it.
///
/// # Errors
/// 404 for a host outside the scope, a report not of this host or whose package list is no
/// longer kept; 400 for a missing or malformed id; a store failure.
pub async fn diff(
    state: &AppState,
    viewer: &Viewer,
    hostname: &str,
    q: &DiffQuery,
) -> Result<ApiReportDiff, AppError> {
    let from = report_id("from", q.from.as_deref())?;
    let to = report_id("to", q.to.as_deref())?;
    let host = state
        .store
        .get_host_by_name(&hostname.to_ascii_lowercase())
        .await?
        // Hosts outside the viewer's scope do not exist for them (404, not 403).
        .filter(|h| viewer.scope.allows(h))
        .ok_or_else(|| AppError::NotFound(format!("no host named {hostname}")))?;
    let kept = state.settings.report_packages_kept;
    let mut lists = Vec::with_capacity(2);
    for r in [from, to] {
        let ids = state
            .store
            .report_package_ids(host.id, r)
            .await?
            .ok_or_else(|| {
                AppError::NotFound(format!(
                    "report {r} is not a report of {} or its package list is no longer kept \
                     (the newest {kept} changed reports of each host are)",
                    host.hostname
                ))
            })?;
        lists.push(ids);
    }
    let mut all: Vec<i64> = lists.iter().flatten().copied().collect();
    all.sort_unstable();
    all.dedup();
    let packages: BTreeMap<i64, pakiti_core::package::InstalledPackage> = state
        .store
        .package_versions(&all)
        .await?
        .into_iter()
        .collect();
    let pkgs_of = |ids: &[i64]| -> Vec<(i64, pakiti_core::package::InstalledPackage)> {
        ids.iter()
            .filter_map(|id| packages.get(id).map(|p| (*id, p.clone())))
            .collect()
    };
    let (a, b) = (pkgs_of(&lists[0]), pkgs_of(&lists[1]));
    let versions = |l: &[(i64, pakiti_core::package::InstalledPackage)]| {
        let mut m: Versions = BTreeMap::new();
        for (_, p) in l {
            m.entry((p.name.clone(), p.arch.clone()))
                .or_default()
                .insert(p.version.clone());
        }
        m
    };
    let (va, vb) = (versions(&a), versions(&b));
    let mut out = ApiReportDiff {
        hostname: host.hostname.clone(),
        from,
        to,
        from_received_at: String::new(),
        to_received_at: String::new(),
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
        cves_gained: Vec::new(),
        cves_lost: Vec::new(),
        cves_basis: CVES_BASIS.to_owned(),
    };
    let one = |(name, arch): &(String, String), v: &BTreeSet<String>| {
        v.iter()
            .map(|version| ApiDiffPackage {
                name: name.clone(),
                version: version.clone(),
                arch: arch.clone(),
            })
            .collect::<Vec<_>>()
    };
    for (k, v) in &vb {
        match va.get(k) {
            None => out.added.extend(one(k, v)),
            Some(old) if old != v => out.changed.push(ApiPackageChange {
                name: k.0.clone(),
                arch: k.1.clone(),
                from: old.iter().cloned().collect::<Vec<_>>().join(" "),
                to: v.iter().cloned().collect::<Vec<_>>().join(" "),
            }),
            Some(_) => {}
        }
    }
    for (k, v) in &va {
        if !vb.contains_key(k) {
            out.removed.extend(one(k, v));
        }
    }
    if let Some(stream) = &host.facts.stream {
        let key = stream.to_string();
        // Installed kernels older than the running one are not findings (as on the host page);
        // the running kernel is the host's now (a report's own is not kept).
        let current = |l: &[(i64, pakiti_core::package::InstalledPackage)]| {
            let pkgs: Vec<pakiti_core::package::InstalledPackage> =
                l.iter().map(|(_, p)| p.clone()).collect();
            let old = pakiti_core::kernel::old_kernels(stream.scheme(), &host.facts.kernel, &pkgs);
            l.iter()
                .zip(old)
                .filter(|(_, o)| !o)
                .map(|(p, _)| p.clone())
                .collect::<Vec<_>>()
        };
        let (a, b) = (current(&a), current(&b));
        let cves = |e: Vec<pakiti_store::ExposureNow>| -> BTreeSet<String> {
            e.into_iter().map(|e| e.cve).collect()
        };
        let ca = cves(
            state
                .engine
                .exposures_of_list(&key, &host.facts.modules, &a)
                .await?,
        );
        let cb = cves(
            state
                .engine
                .exposures_of_list(&key, &host.facts.modules, &b)
                .await?,
        );
        out.cves_gained = cb.difference(&ca).cloned().collect();
        out.cves_lost = ca.difference(&cb).cloned().collect();
    }
    for r in state.store.host_reports(host.id, 100_000).await? {
        if r.id == from {
            out.from_received_at = rfc3339(r.received_at);
        }
        if r.id == to {
            out.to_received_at = rfc3339(r.received_at);
        }
    }
    Ok(out)
}

/// `GET /api/v1/hosts/{hostname}/diff?from=&to=`: packages added, removed and changed and
/// CVEs gained and lost between two reports of the host.
///
/// # Errors
/// See [`diff`].
#[utoipa::path(
    get,
    path = "/api/v1/hosts/{hostname}/diff",
    operation_id = "hosts_report_diff",
    tag = "hosts",
    params(("hostname" = String, Path, description = "Host name"), DiffQuery),
    responses(
        (status = 200, description = "What changed between the two reports", body = ApiReportDiff),
        (status = 400, description = "A missing or malformed report id"),
        (status = 404, description = "No such host in the viewer's scope, or a report not of this host or whose package list is no longer kept")
    )
)]
pub async fn api_get(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(hostname): Path<String>,
    Query(q): Query<DiffQuery>,
) -> Result<Json<ApiReportDiff>, AppError> {
    Ok(Json(diff(&state, &viewer, &hostname, &q).await?))
}

#[derive(Template)]
#[template(path = "report_diff.html")]
struct DiffPage {
    version: &'static str,
    d: ApiReportDiff,
}

/// `/hosts/{hostname}/diff?from=&to=`.
///
/// # Errors
/// See [`diff`].
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(hostname): Path<String>,
    Query(q): Query<DiffQuery>,
) -> Result<Response, AppError> {
    let d = diff(&state, &viewer, &hostname, &q).await?;
    render(&DiffPage {
        version: VERSION,
        d,
    })
}
