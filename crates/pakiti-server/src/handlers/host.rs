//! One host: `GET /api/v1/hosts/{hostname}` and the page `/hosts/{hostname}` with its tabs
//! (patches, packages, history). [`host_detail`] answers both; [`patch_list`] turns the
//! host's findings into "install these updates" rows.

use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use pakiti_store::Host;
use serde::Deserialize;

use crate::api_types::{
    ApiFinding, ApiHostDetail, ApiHostTag, ApiPackage, ApiPatch, ApiPatchCve, ApiPatchPackage,
    ApiReport, ApiReportProblem, ApiUpdate, api_exception, rfc3339,
};
use crate::auth::Viewer;
use crate::error::AppError;
use crate::handlers::hosts::{api_host, nonempty};
use crate::state::AppState;
use crate::web::{VERSION, enc, render};
use pakiti_engine::evaluate;

/// A patch row being gathered: the row, the risk of each CVE, the best risk.
struct PatchAcc {
    patch: ApiPatch,
    cve_risks: Vec<pakiti_core::risk::Risk>,
    best: Option<pakiti_core::risk::Risk>,
    severity: pakiti_core::advisory::Severity,
}

/// The host's findings as patches: one row per (advisory, source package), the fixable ones
/// ("install these updates") and the unfixed ones apart, each sorted most urgent first by
/// the risk order (`Risk::max` of its CVEs). Findings of old kernels and (package version,
/// CVE) pairs an exception in force covers are left out, as in the host's counts.
#[must_use]
pub fn patch_list(
    findings: &[pakiti_store::HostFinding],
    host: &Host,
    policy: &evaluate::Policy,
    facts: &pakiti_core::risk::CveFactsIndex,
    now: time::OffsetDateTime,
) -> (Vec<ApiPatch>, Vec<ApiPatch>) {
    use pakiti_core::risk::Risk;
    use std::collections::BTreeMap;
    let stream = host.facts.stream.as_ref().map(ToString::to_string);
    let scheme = host
        .facts
        .stream
        .as_ref()
        .map(pakiti_core::stream::OsStream::scheme);
    let mut groups: BTreeMap<(bool, String, String), PatchAcc> = BTreeMap::new();
    for f in findings {
        if host
            .old_kernels
            .binary_search(&f.package_version_id)
            .is_ok()
        {
            continue;
        }
        let ids: Vec<String> = if f.cves.is_empty() {
            vec![f.vendor_id.clone()]
        } else {
            f.cves.clone()
        };
        let cves: Vec<String> = ids
            .into_iter()
            .filter(|c| {
                !stream.as_deref().is_some_and(|s| {
                    policy.excepted(s, &f.package.name, &f.package.version, c, now)
                })
            })
            .collect();
        if cves.is_empty() {
            continue;
        }
        let fixable = f.fixed_version.is_some();
        let source = f
            .package
            .source
            .clone()
            .unwrap_or_else(|| f.package.name.clone());
        let acc = groups
            .entry((fixable, f.vendor_id.clone(), source.clone()))
            .or_insert_with(|| PatchAcc {
                patch: ApiPatch {
                    source,
                    advisory: f.vendor_id.clone(),
                    title: f.title.clone(),
                    fixed_version: None,
                    status: f.status.clone(),
                    packages: Vec::new(),
                    cves: Vec::new(),
                    risk: String::new(),
                    severity: String::new(),
                },
                cve_risks: Vec::new(),
                best: None,
                severity: f.severity,
            });
        acc.severity = acc.severity.max(f.severity);
        if !acc.patch.packages.iter().any(|p| {
            p.name == f.package.name
                && p.arch == f.package.arch
                && p.installed_version == f.package.version
        }) {
            acc.patch.packages.push(ApiPatchPackage {
                name: f.package.name.clone(),
                installed_version: f.package.version.clone(),
                arch: f.package.arch.clone(),
                fixed_version: f.fixed_version.clone(),
            });
        }
        if let Some(v) = &f.fixed_version {
            let higher = match (&acc.patch.fixed_version, scheme) {
                (None, _) => true,
                (Some(cur), Some(sch)) => sch.compare(v, cur).is_gt(),
                (Some(_), None) => false,
            };
            if higher {
                acc.patch.fixed_version = Some(v.clone());
            }
        }
        for c in cves {
            if acc.patch.cves.iter().any(|x| x.cve == c) {
                continue;
            }
            let tagged = !policy.tags_of(&c).is_empty();
            let fx = facts.get(&c);
            let risk = Risk::of(tagged, fx, f.severity, fixable);
            acc.best = Some(acc.best.map_or(risk, |b| b.max(risk)));
            acc.cve_risks.push(risk);
            acc.patch.cves.push(ApiPatchCve {
                cve: c,
                severity: f.severity.as_str().to_owned(),
                tagged,
                kev: risk.kev,
                epss: risk.epss,
                risk: risk.class().to_owned(),
            });
        }
    }
    let mut fixable = Vec::new();
    let mut unfixed = Vec::new();
    let mut rows: Vec<(Risk, PatchAcc)> = groups
        .into_iter()
        .filter_map(|((fx, _, _), mut acc)| {
            let best = acc.best?;
            let mut order: Vec<usize> = (0..acc.patch.cves.len()).collect();
            order.sort_by(|&a, &b| {
                acc.cve_risks[b]
                    .partial_cmp(&acc.cve_risks[a])
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then_with(|| acc.patch.cves[a].cve.cmp(&acc.patch.cves[b].cve))
            });
            acc.patch.cves = order.iter().map(|&i| acc.patch.cves[i].clone()).collect();
            acc.patch.risk = best.class().to_owned();
            acc.patch.severity = acc.severity.as_str().to_owned();
            if fx {
                acc.patch.status = "fixed".to_owned();
            }
            Some((best, acc))
        })
        .collect();
    rows.sort_by(|(a, x), (b, y)| {
        b.partial_cmp(a)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| x.patch.source.cmp(&y.patch.source))
            .then_with(|| x.patch.advisory.cmp(&y.patch.advisory))
    });
    for (_, acc) in rows {
        if acc.patch.fixed_version.is_some() {
            fixable.push(acc.patch);
        } else {
            unfixed.push(acc.patch);
        }
    }
    (fixable, unfixed)
}

/// One host with its findings, updates, packages, tags, exceptions and reports, when the
/// viewer may see it.
///
/// # Errors
/// Unknown host (404) or a store failure (500).
pub async fn host_detail(
    state: &AppState,
    viewer: &Viewer,
    hostname: &str,
) -> Result<ApiHostDetail, AppError> {
    let host = state
        .store
        .get_host_by_name(&hostname.to_ascii_lowercase())
        .await
        .map_err(anyhow::Error::from)?
        // Hosts outside the viewer's scope do not exist for them (404, not 403).
        .filter(|h| viewer.scope.allows(h))
        .ok_or_else(|| AppError::NotFound(format!("no host named {hostname}")))?;
    let findings = state
        .store
        .host_findings(host.id)
        .await
        .map_err(anyhow::Error::from)?;
    let findings = evaluate::applicable(findings, &host.facts.modules);
    let (patches, unfixed) = patch_list(
        &findings,
        &host,
        &state.engine.policy(),
        &state.engine.cve_facts(),
        time::OffsetDateTime::now_utc(),
    );
    let retired_at = state.store.host_retired_at(host.id).await?.map(rfc3339);
    let fleet = state.engine.fleet().await?;
    let packages = state.store.host_packages(host.id).await?;
    let mut api = api_host(&host, &state.engine.evaluator());
    if packages.iter().any(|(_, p)| p.source.is_some()) {
        api.source_names_unknown = false;
    }
    let mut installed = Vec::with_capacity(packages.len());
    let mut old_kernels = Vec::new();
    for (id, p) in packages {
        let p = ApiPackage {
            name: p.name,
            version: p.version,
            arch: p.arch,
        };
        if host.old_kernels.binary_search(&id).is_ok() {
            old_kernels.push(ApiPackage {
                name: p.name.clone(),
                version: p.version.clone(),
                arch: p.arch.clone(),
            });
        }
        installed.push(p);
    }
    let reports = state
        .store
        .host_reports(host.id, 50)
        .await?
        .into_iter()
        .map(|r| ApiReport {
            id: r.id,
            received_at: rfc3339(r.received_at),
            packages: r.pkg_count,
            changed: r.changed,
            proxy: r.proxy_name.filter(|_| r.via_proxy),
            cve_count: r.cve_count,
            problems: r.problem_count,
        })
        .collect();
    let updates =
        pakiti_engine::updates::stored_host_updates(&state.store, state.engine.updates(), &host)
            .await
            .map_err(anyhow::Error::from)?
            .into_iter()
            .map(|r| ApiUpdate {
                name: r.line.name,
                installed: r.line.installed_version,
                available: r.line.new_version,
                security: r.line.security,
                advisory: r.advisory,
                severity: r.severity,
            })
            .collect();
    let report_problem_lines = host
        .facts
        .problems
        .lines
        .iter()
        .map(|p| ApiReportProblem {
            line: p.line,
            reason: p.reason.clone(),
            excerpt: p.excerpt.clone(),
        })
        .collect();
    Ok(ApiHostDetail {
        patches,
        unfixed,
        retired_at,
        report_problem_lines,
        updates,
        installed,
        old_kernels,
        cve_tags: fleet
            .host_tags(&host)
            .into_iter()
            .map(|(cve, tag)| ApiHostTag { cve, tag })
            .collect(),
        exceptions: fleet
            .host_exceptions(&host)
            .iter()
            .map(api_exception)
            .collect(),
        reports,
        host: api,
        findings: findings
            .into_iter()
            .map(|f| ApiFinding {
                package: f.package.name,
                installed_version: f.package.version,
                arch: f.package.arch,
                advisory: f.vendor_id,
                title: f.title,
                severity: f.severity.as_str().to_owned(),
                cves: f.cves,
                status: f.status,
                fixed_version: f.fixed_version,
            })
            .collect(),
    })
}

/// `GET /api/v1/hosts/{hostname}`.
///
/// # Errors
/// Unknown host (404) or a store failure (500).
#[utoipa::path(get, path = "/api/v1/hosts/{hostname}", operation_id = "hosts_get", tag = "hosts",
    params(("hostname" = String, Path, description = "Host name (case-insensitive)")),
    responses((status = 200, description = "The host with its findings", body = ApiHostDetail),
        (status = 404, description = "No such host in the viewer's scope")))]
pub async fn api_get(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(hostname): Path<String>,
) -> Result<Json<ApiHostDetail>, AppError> {
    Ok(Json(host_detail(&state, &viewer, &hostname).await?))
}

/// Query parameters of the host page.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct HostPageQuery {
    /// `patches` (the default), `packages` or `history`.
    pub tab: Option<String>,
    /// Patches: `risk` (the default, most urgent first), `package`, `advisory`, `cves` (most
    /// CVEs first), `severity`.
    pub sort: Option<String>,
    /// Patches: only rows whose package, advisory or CVE contains this text.
    pub q: Option<String>,
    /// Patches: only rows of this risk class (`tagged`, `kev`, `critical`, `high`, `epss`,
    /// `other`).
    pub risk: Option<String>,
}

/// A report of the history tab, with the link to its diff against the previous one.
struct HistoryRow<'a> {
    r: &'a ApiReport,
    diff: Option<String>,
}

#[derive(Template)]
#[template(path = "host.html")]
struct HostPage<'a> {
    version: &'static str,
    d: &'a ApiHostDetail,
    tab: &'a str,
    q: &'a HostPageQuery,
    patches: Vec<&'a ApiPatch>,
    unfixed: Vec<&'a ApiPatch>,
    history: Vec<HistoryRow<'a>>,
    admin: bool,
    csrf: &'a str,
    here: String,
    sorts: Vec<(&'static str, &'static str, String)>,
}

impl HostPage<'_> {
    fn s(v: Option<&String>) -> &str {
        v.map_or("", String::as_str)
    }
}

fn patch_filter<'a>(
    rows: &'a [ApiPatch],
    q: &HostPageQuery,
) -> Result<Vec<&'a ApiPatch>, AppError> {
    let text = nonempty(q.q.as_ref()).map(|t| t.to_lowercase());
    let risk = nonempty(q.risk.as_ref());
    if let Some(r) = &risk
        && !["tagged", "kev", "critical", "high", "epss", "other"].contains(&r.as_str())
    {
        return Err(AppError::BadRequest(format!(
            "unknown risk {r:?}: one of tagged, kev, critical, high, epss, other"
        )));
    }
    let mut out: Vec<&ApiPatch> = rows
        .iter()
        .filter(|p| risk.as_ref().is_none_or(|r| p.risk == *r))
        .filter(|p| {
            text.as_ref().is_none_or(|t| {
                p.source.to_lowercase().contains(t)
                    || p.advisory.to_lowercase().contains(t)
                    || p.packages.iter().any(|k| k.name.to_lowercase().contains(t))
                    || p.cves.iter().any(|c| c.cve.to_lowercase().contains(t))
            })
        })
        .collect();
    let sev = |p: &ApiPatch| pakiti_core::advisory::Severity::from_vendor(&p.severity);
    match nonempty(q.sort.as_ref()).as_deref() {
        None | Some("risk") => {}
        Some("package") => out.sort_by(|a, b| a.source.cmp(&b.source)),
        Some("advisory") => out.sort_by(|a, b| a.advisory.cmp(&b.advisory)),
        // Stable sorts: ties keep the risk order.
        Some("cves") => out.sort_by_key(|p| std::cmp::Reverse(p.cves.len())),
        Some("severity") => out.sort_by_key(|p| std::cmp::Reverse(sev(p))),
        Some(other) => {
            return Err(AppError::BadRequest(format!(
                "unknown sort {other:?}: one of risk, package, advisory, cves, severity"
            )));
        }
    }
    Ok(out)
}

/// One host's page: `?tab=patches` ("install these updates", then unfixed issues; filter
/// and sort by query parameters), `?tab=packages`, `?tab=history`.
///
/// # Errors
/// Unknown host (or one outside the viewer's scope), a bad parameter or a store failure.
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(hostname): Path<String>,
    Query(q): Query<HostPageQuery>,
) -> Result<Response, AppError> {
    let d = host_detail(&state, &viewer, &hostname).await?;
    let tab = match nonempty(q.tab.as_ref()).as_deref() {
        None | Some("patches") => "patches",
        Some("packages") => "packages",
        Some("history") => "history",
        Some(other) => {
            return Err(AppError::BadRequest(format!(
                "unknown tab {other:?}: one of patches, packages, history"
            )));
        }
    };
    let patches = patch_filter(&d.patches, &q)?;
    let unfixed = patch_filter(&d.unfixed, &q)?;
    let base = format!("/hosts/{}", enc(&d.host.hostname));
    let history = d
        .reports
        .iter()
        .enumerate()
        .map(|(i, r)| HistoryRow {
            r,
            diff: d
                .reports
                .get(i + 1)
                .map(|older| format!("{base}/diff?from={}&to={}", older.id, r.id)),
        })
        .collect();
    let mut keep = Vec::new();
    if let Some(t) = nonempty(q.q.as_ref()) {
        keep.push(format!("q={}", enc(&t)));
    }
    if let Some(r) = nonempty(q.risk.as_ref()) {
        keep.push(format!("risk={}", enc(&r)));
    }
    let sorts = [
        ("risk", "risk"),
        ("package", "package"),
        ("advisory", "advisory"),
        ("CVEs", "cves"),
        ("severity", "severity"),
    ]
    .into_iter()
    .map(|(label, key)| {
        let mut parts = keep.clone();
        parts.push(format!("sort={key}"));
        (label, key, format!("{base}?{}", parts.join("&")))
    })
    .collect();
    render(&HostPage {
        version: VERSION,
        tab,
        q: &q,
        patches,
        unfixed,
        history,
        admin: viewer.admin,
        csrf: &viewer.csrf,
        here: base,
        sorts,
        d: &d,
    })
}
