//! CVEs: `GET /api/v1/cves`, `GET /api/v1/cves/{cve}` and the pages `/cves`, `/cves/{cve}`.
//! [`cve_rows`] and [`cve_detail`] answer both. Lists are in the risk order
//! ([`pakiti_core::risk::Risk`]) by default and carry each CVE's KEV, EPSS and CVSS data.

use std::cmp::Ordering;

use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use pakiti_core::advisory::Severity;
use pakiti_core::risk::{RISK_ORDER_EXPLAINED, Risk, effective_severity};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api_types::{
    ApiAdvisory, ApiAffectedHost, ApiAffectedPackage, ApiCve, ApiCveDetail, ApiCveRisk, api_tag,
};
use crate::auth::Viewer;
use crate::error::AppError;
use crate::export::{self, Format};

use crate::state::AppState;
use crate::web::{VERSION, render};

/// A query parameter that an HTML form submits empty (`fixable=`) is absent, not malformed.
fn empty_as_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let s: Option<String> = Option::deserialize(d)?;
    match s.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

/// Query parameters of `GET /api/v1/cves` and `/cves`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct CvesQuery {
    /// `true`: only CVEs with a fixed version on at least one host in scope; `false`: only
    /// CVEs no host in scope has a fixed version for.
    #[serde(deserialize_with = "empty_as_none")]
    pub fixable: Option<bool>,
    /// `risk` (the default: most urgent first, see `RISK_ORDER_EXPLAINED`), `cve`, `hosts`,
    /// `severity`, `epss`, `cvss`, `kev_date_added`; `-` prefix reverses. Ties are broken by
    /// risk.
    pub sort: Option<String>,
    /// `csv` or `json`: every row as a download.
    pub format: Option<Format>,
}

/// A column `/cves` sorts by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CveSort {
    Risk,
    Cve,
    Hosts,
    Severity,
    Epss,
    Cvss,
    KevDateAdded,
}

fn parse_sort(s: Option<&str>) -> Result<(CveSort, bool), AppError> {
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok((CveSort::Risk, false));
    };
    let (reverse, key) = match s.strip_prefix('-') {
        Some(k) => (true, k),
        None => (false, s),
    };
    let key = match key {
        "risk" => CveSort::Risk,
        "cve" => CveSort::Cve,
        "hosts" => CveSort::Hosts,
        "severity" => CveSort::Severity,
        "epss" => CveSort::Epss,
        "cvss" => CveSort::Cvss,
        "kev_date_added" => CveSort::KevDateAdded,
        other => {
            return Err(AppError::BadRequest(format!(
                "unknown sort key {other:?}: one of risk, cve, hosts, severity, epss, cvss, \
                 kev_date_added"
            )));
        }
    };
    Ok((key, reverse))
}

fn severity_rank(s: &str) -> Severity {
    Severity::from_vendor(s)
}

/// The order of a column: most urgent / largest first for numbers, alphabetical for names.
fn by_column(key: CveSort, a: &ApiCve, b: &ApiCve) -> Ordering {
    let f = |v: Option<f32>| v.unwrap_or(-1.0);
    match key {
        CveSort::Risk => Ordering::Equal,
        CveSort::Cve => a.cve.cmp(&b.cve),
        CveSort::Hosts => b.hosts.cmp(&a.hosts),
        CveSort::Severity => severity_rank(&b.severity).cmp(&severity_rank(&a.severity)),
        CveSort::Epss => f(b.risk.epss).total_cmp(&f(a.risk.epss)),
        CveSort::Cvss => f(b.risk.cvss).total_cmp(&f(a.risk.cvss)),
        // Most recently added first; CVEs not in KEV last.
        CveSort::KevDateAdded => b.risk.kev_date_added.cmp(&a.risk.kev_date_added),
    }
}

/// The CVEs present on hosts in the viewer's scope, in risk order (most urgent first), or by
/// the column `q.sort` names with ties broken by risk; `q.fixable` filters.
///
/// # Errors
/// The fleet index cannot be built; an unknown sort key (400).
pub async fn cve_rows(
    state: &AppState,
    viewer: &Viewer,
    q: &CvesQuery,
) -> Result<Vec<ApiCve>, AppError> {
    let (key, reverse) = parse_sort(q.sort.as_deref())?;
    let fleet = state.engine.fleet().await?;
    let facts = state.engine.cve_facts();
    let mut rows: Vec<(Risk, ApiCve)> = fleet
        .cves(&viewer.scope)
        .into_iter()
        .filter(|c| q.fixable.is_none_or(|want| (c.fixable_hosts > 0) == want))
        .map(|c| {
            let fx = facts.get(&c.cve);
            let severity = effective_severity(c.severity, fx);
            let fixable = c.fixable_hosts > 0;
            let risk = Risk::of(!c.tags.is_empty(), fx, severity, fixable);
            let row = ApiCve {
                risk: ApiCveRisk::of(fx, &risk),
                severity: severity.as_str().to_owned(),
                hosts: c.hosts,
                fixable_hosts: c.fixable_hosts,
                unfixed_hosts: c.hosts - c.fixable_hosts.min(c.hosts),
                fixable,
                advisories: c.advisories,
                tags: c.tags,
                cve: c.cve,
            };
            (risk, row)
        })
        .collect();
    rows.sort_by(|(ra, a), (rb, b)| {
        let col = by_column(key, a, b);
        let col = if reverse { col.reverse() } else { col };
        let risk = rb.partial_cmp(ra).unwrap_or(Ordering::Equal);
        let risk = if reverse && key == CveSort::Risk {
            risk.reverse()
        } else {
            risk
        };
        col.then(risk)
            .then(b.hosts.cmp(&a.hosts))
            .then(a.cve.cmp(&b.cve))
    });
    Ok(rows.into_iter().map(|(_, r)| r).collect())
}

/// Why a CVE has no page for this viewer: no imported feed names it at all, or it affects no
/// host the viewer may see (which also covers hosts outside their scope: the answer must not
/// tell a restricted user that it exists elsewhere).
fn not_found(state: &AppState, cve: &str) -> AppError {
    let wanted = cve.trim();
    let known = state.engine.evaluator().stored_advisories().any(|(_, a)| {
        a.id.eq_ignore_ascii_case(wanted) || a.cves.iter().any(|c| c.eq_ignore_ascii_case(wanted))
    });
    if known {
        AppError::NotFound(format!(
            "{wanted} is in the imported feeds but affects no host you may see"
        ))
    } else {
        AppError::NotFound(format!("{wanted} is not in any imported feed"))
    }
}

/// One CVE's advisories, tags and affected hosts (in scope), with its prioritisation data.
///
/// # Errors
/// No host in scope has it (404; the message says whether any feed names it).
pub async fn cve_detail(
    state: &AppState,
    viewer: &Viewer,
    cve: &str,
    limit: usize,
) -> Result<ApiCveDetail, AppError> {
    let fleet = state.engine.fleet().await?;
    let found = fleet
        .cve_limited(cve, &viewer.scope, limit)
        .or_else(|| fleet.cve_limited(&cve.trim().to_ascii_uppercase(), &viewer.scope, limit))
        .filter(|d| d.host_total > 0);
    let Some(d) = found else {
        return Err(not_found(state, cve));
    };
    let facts = state.engine.cve_facts();
    let fx = facts.get(&d.cve);
    let severity = effective_severity(d.severity, fx);
    let tagged = d.tags.iter().any(|t| t.enabled);
    let risk = Risk::of(tagged, fx, severity, d.fixable_hosts > 0);
    let mut hosts: Vec<ApiAffectedHost> = d
        .hosts
        .into_iter()
        .map(|h| ApiAffectedHost {
            hostname: h.hostname,
            host_group: h.group,
            os_stream: h.stream,
            fixable: h.packages.iter().any(|p| p.fixed_version.is_some()),
            packages: h
                .packages
                .into_iter()
                .map(|p| ApiAffectedPackage {
                    package: p.package,
                    version: p.version,
                    arch: p.arch,
                    advisory: p.advisory,
                    fixed_version: p.fixed_version,
                    status: p.status,
                })
                .collect(),
        })
        .collect();
    // The risk order within one CVE: hosts where a fix exists first, then by name.
    hosts.sort_by(|a, b| b.fixable.cmp(&a.fixable).then(a.hostname.cmp(&b.hostname)));
    Ok(ApiCveDetail {
        cve: d.cve,
        severity: severity.as_str().to_owned(),
        risk: ApiCveRisk::of(fx, &risk),
        fixable_hosts: d.fixable_hosts,
        advisories: d
            .advisories
            .into_iter()
            .map(|a| ApiAdvisory {
                id: a.id,
                source: a.source,
                title: a.title,
                severity: a.severity.as_str().to_owned(),
                references: a.references,
            })
            .collect(),
        tags: d.tags.iter().map(api_tag).collect(),
        host_count: d.host_total,
        hosts,
    })
}

/// `GET /api/v1/cves`.
///
/// # Errors
/// See [`cve_rows`].
#[utoipa::path(
    get,
    path = "/api/v1/cves",
    operation_id = "cves_list",
    tag = "cves",
    params(CvesQuery),
    responses(
        (status = 200, description = "The CVEs on hosts in the viewer's scope, in risk order (most urgent first; see the risk_order text of the pages), with their KEV, EPSS and CVSS data and fixable/unfixed host counts", body = Vec<ApiCve>),
        (status = 400, description = "A malformed filter or an unknown sort key")
    )
)]
pub async fn api_list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<CvesQuery>,
) -> Result<Response, AppError> {
    let rows = cve_rows(&state, &viewer, &q).await?;
    let fq = export::FormatQuery { format: q.format };
    export::list(&fq, "cves", &rows)
}

/// `GET /api/v1/cves/{cve}`.
///
/// # Errors
/// See [`cve_detail`].
#[utoipa::path(
    get,
    path = "/api/v1/cves/{cve}",
    operation_id = "cves_get",
    tag = "cves",
    params(("cve" = String, Path, description = "CVE id")),
    responses(
        (status = 200, description = "One CVE: advisories, tags, affected hosts", body = ApiCveDetail),
        (status = 404, description = "No host in the viewer's scope has it; the message says whether any imported feed names it")
    )
)]
pub async fn api_get(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(cve): Path<String>,
) -> Result<Json<ApiCveDetail>, AppError> {
    Ok(Json(cve_detail(&state, &viewer, &cve, usize::MAX).await?))
}

#[derive(Template)]
#[template(path = "cves.html")]
struct CvesPage {
    version: &'static str,
    cves: Vec<ApiCve>,
    risk_order: &'static str,
    fixable: Option<bool>,
    sort: String,
}

impl CvesPage {
    /// The query string of this view with `sort` set to `key` (the same key again reverses).
    fn sort_href(&self, key: &str) -> String {
        let sort = if self.sort == key {
            format!("-{key}")
        } else {
            key.to_owned()
        };
        let mut qs = format!("?sort={sort}");
        if let Some(f) = self.fixable {
            qs.push_str(&format!("&fixable={f}"));
        }
        qs
    }

    /// The query string of this view with `extra` added (exports, filters).
    fn with(&self, extra: &str) -> String {
        let mut parts: Vec<String> = Vec::new();
        if !self.sort.is_empty() {
            parts.push(format!("sort={}", self.sort));
        }
        if let Some(f) = self.fixable {
            parts.push(format!("fixable={f}"));
        }
        if !extra.is_empty() {
            parts.push(extra.to_owned());
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        }
    }

    /// The query string of this view with the `fixable` filter set to `value` (`""`: none).
    fn with_fixable(&self, value: &str) -> String {
        let mut parts: Vec<String> = Vec::new();
        if !self.sort.is_empty() {
            parts.push(format!("sort={}", self.sort));
        }
        if !value.is_empty() {
            parts.push(format!("fixable={value}"));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        }
    }

    fn pct(v: &Option<f32>) -> String {
        v.map(|x| format!("{:.1}%", x * 100.0)).unwrap_or_default()
    }

    fn num(v: &Option<f32>) -> String {
        v.map(|x| format!("{x:.1}")).unwrap_or_default()
    }
}

/// The CVEs present in the fleet.
///
/// # Errors
/// The fleet index cannot be built.
pub async fn list_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<CvesQuery>,
) -> Result<Response, AppError> {
    let rows = cve_rows(&state, &viewer, &q).await?;
    if let Some(r) = export::export(q.format.unwrap_or_default(), "cves", &rows)? {
        return Ok(r);
    }
    render(&CvesPage {
        version: VERSION,
        cves: rows,
        risk_order: RISK_ORDER_EXPLAINED,
        fixable: q.fixable,
        sort: q.sort.clone().unwrap_or_default(),
    })
}

#[derive(Template)]
#[template(path = "cve.html")]
struct CvePage {
    version: &'static str,
    d: ApiCveDetail,
    risk_order: &'static str,
    csrf: String,
    default_tags: [&'static str; 2],
}

/// One CVE.
///
/// # Errors
/// Not present in the fleet (404).
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(cve): Path<String>,
) -> Result<Response, AppError> {
    let d = cve_detail(&state, &viewer, &cve, 500).await?;
    render(&CvePage {
        version: VERSION,
        d,
        risk_order: RISK_ORDER_EXPLAINED,
        csrf: viewer.csrf.clone(),
        default_tags: pakiti_store::DEFAULT_TAGS,
    })
}
