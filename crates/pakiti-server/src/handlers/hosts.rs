//! Hosts list: `GET /api/v1/hosts` (filters, sorting, paging, `?format=csv`) and the page
//! `/hosts`. [`query_hosts`] answers both, and the front page counts its numbers with it.
//! One host's page and API are in `host.rs`, retiring and deleting hosts in `retire.rs`.

use askama::Template;
use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use pakiti_store::{Host, HostFilter, HostId, HostSort, HostSortKey, Page};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api_types::{ApiHost, ApiHostPage, SeverityCounts, rfc3339};
use crate::auth::Viewer;
use crate::error::AppError;
use crate::export::{self, Format};
use crate::state::AppState;
use crate::web::{SortLink, VERSION, enc, render, with};
use pakiti_core::risk::{RISK_ORDER_EXPLAINED, Risk};
use std::cmp::Ordering;

/// A query parameter that an HTML form submits empty (`not_reporting_days=`) is absent, not
/// malformed.
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

/// Query parameters of `GET /api/v1/hosts`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct HostsQuery {
    /// Substring of the hostname.
    pub search: Option<String>,
    /// Exact host group.
    pub group: Option<String>,
    /// Exact OS stream.
    pub stream: Option<String>,
    /// Exact domain.
    pub domain: Option<String>,
    /// Exact tag.
    pub tag: Option<String>,
    /// Only hosts with CVEs.
    #[serde(deserialize_with = "empty_as_none")]
    pub vulnerable: Option<bool>,
    /// Substring of the reported OS name.
    pub os: Option<String>,
    /// Hosts that have this CVE.
    pub cve: Option<String>,
    /// Hosts with a CVE carrying this (enabled) tag.
    pub cve_tag: Option<String>,
    /// Hosts with a package of this name installed.
    pub package: Option<String>,
    /// Only hosts that need a reboot.
    #[serde(deserialize_with = "empty_as_none")]
    pub reboot: Option<bool>,
    /// Only hosts whose last report is older than this many days.
    #[serde(deserialize_with = "empty_as_none")]
    pub not_reporting_days: Option<i64>,
    /// Only hosts no imported data covers.
    #[serde(deserialize_with = "empty_as_none")]
    pub not_covered: Option<bool>,
    /// Only hosts with a tagged CVE.
    #[serde(deserialize_with = "empty_as_none")]
    pub tagged: Option<bool>,
    /// Only hosts with security updates pending.
    #[serde(deserialize_with = "empty_as_none")]
    pub security_updates: Option<bool>,
    /// Only hosts whose module streams are known this way: `reported`, `inferred`, `unknown`.
    pub module_streams: Option<String>,
    /// Only hosts whose last report had lines that could not be read.
    #[serde(deserialize_with = "empty_as_none")]
    pub report_problems: Option<bool>,
    /// `true`: only hosts with at least one CVE for which a fixed version exists; `false`:
    /// only hosts whose CVEs all lack a fixed version.
    #[serde(deserialize_with = "empty_as_none")]
    pub fixable: Option<bool>,
    /// Only hosts exposed to a `tagged` or `kev` (CISA Known Exploited) CVE with a fixed
    /// version available (the front page's numbers).
    pub exposed: Option<String>,
    /// Only hosts whose reports since this date (`YYYY-MM-DD` or RFC 3339) counted more CVEs
    /// than before it (the front page's "new exposures").
    pub exposed_since: Option<String>,
    /// List retired hosts instead of the hosts in service.
    #[serde(deserialize_with = "empty_as_none")]
    pub retired: Option<bool>,
    /// Comma-separated top-level domains (`cz,de`).
    pub tld: Option<String>,
    /// `risk` (the default: the host's most urgent CVE first, see the risk order text),
    /// `hostname`, `group`, `os`, `last_report`, `cves`, `critical`, `high`, `tagged`,
    /// `packages`, `security_updates`; `-` prefix sorts descending. Ties are broken by risk.
    pub sort: Option<String>,
    /// `csv` or `json`: every matching host instead of a page.
    pub format: Option<Format>,
    /// Rows to skip.
    #[serde(deserialize_with = "empty_as_none")]
    pub offset: Option<i64>,
    /// Page size (default 100, at most 1000).
    #[serde(deserialize_with = "empty_as_none")]
    pub limit: Option<i64>,
}

/// The API form of a stored host; `evaluator` says whether data covers it.
///
/// `source_names_unknown` is set from the stream alone (the evaluator has no source map for a
/// stream with source-package advisories); callers that know the host's packages clear it
/// when the host reported source names ([`refine_source_names`]).
#[must_use]
pub fn api_host(h: &Host, evaluator: &pakiti_engine::evaluate::Evaluator) -> ApiHost {
    ApiHost {
        source_names_unknown: h
            .facts
            .stream
            .as_ref()
            .is_some_and(|s| evaluator.index().lacks_source_map(s)),
        covered: h
            .facts
            .stream
            .as_ref()
            .is_some_and(|s| !evaluator.index().targets(s).is_empty()),
        repository_data: h.facts.stream.as_ref().is_some_and(|s| {
            let arch = pakiti_engine::updates::repo_arch(s, &h.facts.arch);
            evaluator
                .updates()
                .get()
                .covers(&pakiti_core::updates::Scope {
                    stream: s,
                    arch: arch.as_deref(),
                    modules: &h.facts.modules,
                })
        }),
        module_streams: h.facts.module_streams.api_word().to_owned(),
        modules: h.facts.modules.clone(),
        evaluation_pending: h.evaluation_pending,
        hostname: h.hostname.clone(),
        host_group: h.group.clone(),
        domain: h.facts.domain.clone(),
        os: h.facts.os_name.clone(),
        os_stream: h.facts.stream.as_ref().map(ToString::to_string),
        arch: h.facts.arch.clone(),
        kernel: h.facts.kernel.clone(),
        tag: h.facts.tag.clone(),
        packages: h.pkg_count,
        cve_count: h.counts.cves,
        cves_by_severity: SeverityCounts {
            critical: h.counts.critical,
            high: h.counts.high,
            medium: h.counts.medium,
            low: h.counts.low,
            unknown: h.counts.unknown,
        },
        tagged_count: h.counts.tagged,
        vulnerable_packages: h.counts.vulnerable_packages,
        reboot_needed: h.facts.reboot_needed,
        last_report: rfc3339(h.last_report_at),
        security_updates: h.updates.security,
        other_updates: h.updates.other,
        report_problems: h.facts.problems.count,
        fixable_cves: None,
        unfixed_cves: None,
        risk: None,
    }
}

/// Fills in the fixable / unfixed CVE counts and risk class of hosts from the fleet index
/// (`stored` and `hosts` in the same order); returns each host's risk for sorting.
fn fill_risk(
    fleet: &pakiti_engine::fleet::Fleet,
    facts: &std::sync::Arc<pakiti_core::risk::CveFactsIndex>,
    stored: &[Host],
    hosts: &mut [ApiHost],
) -> Vec<Option<Risk>> {
    stored
        .iter()
        .zip(hosts.iter_mut())
        .map(|(h, a)| {
            if let Some((fixable, unfixed)) = fleet.host_fix_counts(h.id) {
                a.fixable_cves = Some(i64::try_from(fixable).unwrap_or(i64::MAX));
                a.unfixed_cves = Some(i64::try_from(unfixed).unwrap_or(i64::MAX));
            }
            let risk = fleet.host_risk_memo(h.id, facts);
            a.risk = risk.map(|r| r.class().to_owned());
            risk
        })
        .collect()
}

/// The sort asked for: `None` is the risk order (the default, or `risk`; `true`: reversed).
fn parse_sort(s: Option<&str>) -> Result<(Option<HostSort>, bool), AppError> {
    let Some(s) = s.filter(|s| !s.is_empty()) else {
        return Ok((None, false));
    };
    let (descending, key) = match s.strip_prefix('-') {
        Some(k) => (true, k),
        None => (false, s),
    };
    let key = match key {
        "risk" => return Ok((None, descending)),
        "hostname" => HostSortKey::Hostname,
        "last_report" => HostSortKey::LastReport,
        "cves" => HostSortKey::Cves,
        "critical" => HostSortKey::Critical,
        "packages" => HostSortKey::Packages,
        "high" => HostSortKey::High,
        "tagged" => HostSortKey::Tagged,
        "group" => HostSortKey::Group,
        "os" => HostSortKey::Os,
        "security_updates" => HostSortKey::SecurityUpdates,
        other => {
            return Err(AppError::BadRequest(format!(
                "unknown sort key {other:?}: one of risk, hostname, group, os, last_report, \
                 cves, critical, high, tagged, packages, security_updates"
            )));
        }
    };
    Ok((Some(HostSort { key, descending }), false))
}

pub(crate) fn nonempty(s: Option<&String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn intersect(acc: Option<Vec<i64>>, ids: Vec<i64>) -> Option<Vec<i64>> {
    let mut ids = ids;
    ids.sort_unstable();
    Some(match acc {
        None => ids,
        Some(a) => a
            .into_iter()
            .filter(|i| ids.binary_search(i).is_ok())
            .collect(),
    })
}

/// The store filter for a hosts query: plain fields go to SQL, CVE / tag / package /
/// coverage searches are answered by the fleet index as a list of host ids.
///
/// # Errors
/// The fleet index cannot be built.
pub async fn host_filter(
    state: &AppState,
    viewer: &Viewer,
    q: &HostsQuery,
) -> Result<HostFilter, AppError> {
    let mut host_ids = None;
    let cve = nonempty(q.cve.as_ref());
    let cve_tag = nonempty(q.cve_tag.as_ref());
    let package = nonempty(q.package.as_ref());
    let not_covered = q.not_covered.unwrap_or(false);
    let exposed = nonempty(q.exposed.as_ref());
    if let Some(since) = nonempty(q.exposed_since.as_ref()) {
        let since = crate::web::parse_since(&since).map_err(AppError::BadRequest)?;
        // The exposure history: hosts with an exposure that began since then and is open.
        host_ids = intersect(
            host_ids,
            state.store.hosts_with_open_exposures_since(since).await?,
        );
    }
    if let Some(e) = &exposed {
        let fleet = state.engine.fleet().await?;
        let ids = match e.as_str() {
            "tagged" => {
                let policy = state.engine.policy();
                fleet.hosts_exposed(true, |c| !policy.tags_of(c).is_empty())
            }
            "kev" => {
                let facts = state.engine.cve_facts();
                fleet.hosts_exposed(true, |c| facts.get(c).is_some_and(|f| f.kev.is_some()))
            }
            other => {
                return Err(AppError::BadRequest(format!(
                    "unknown exposed {other:?}: one of tagged, kev"
                )));
            }
        };
        host_ids = intersect(host_ids, ids);
    }
    if cve.is_some() || cve_tag.is_some() || package.is_some() || not_covered || q.fixable.is_some()
    {
        let fleet = state.engine.fleet().await?;
        if let Some(c) = &cve {
            host_ids = intersect(host_ids, fleet.hosts_with_cve(c));
        }
        if let Some(t) = &cve_tag {
            host_ids = intersect(host_ids, fleet.hosts_with_tag(t));
        }
        if let Some(p) = &package {
            host_ids = intersect(host_ids, fleet.hosts_with_package(p));
        }
        if not_covered {
            host_ids = intersect(host_ids, fleet.hosts_not_covered());
        }
        if let Some(f) = q.fixable {
            host_ids = intersect(host_ids, fleet.hosts_by_fixable(f));
        }
    }
    let module_streams = match nonempty(q.module_streams.as_ref()).as_deref() {
        None => None,
        Some(w @ ("reported" | "inferred" | "unknown")) => {
            Some(pakiti_store::ModuleStreams::parse(w))
        }
        Some(other) => {
            return Err(AppError::BadRequest(format!(
                "unknown module_streams {other:?}: one of reported, inferred, unknown"
            )));
        }
    };
    Ok(HostFilter {
        module_streams,
        hostname_contains: nonempty(q.search.as_ref()),
        stream: nonempty(q.stream.as_ref()),
        group: nonempty(q.group.as_ref()),
        domain: nonempty(q.domain.as_ref()),
        tag: nonempty(q.tag.as_ref()),
        vulnerable_only: q.vulnerable.unwrap_or(false),
        host_ids,
        os_contains: nonempty(q.os.as_ref()),
        reboot_needed: q.reboot.unwrap_or(false),
        last_report_before: q
            .not_reporting_days
            .filter(|d| *d > 0)
            .map(|d| time::OffsetDateTime::now_utc() - time::Duration::days(d)),
        tlds: q
            .tld
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(|t| t.trim().trim_start_matches('.').to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect(),
        tagged_only: q.tagged.unwrap_or(false),
        security_updates_only: q.security_updates.unwrap_or(false),
        report_problems_only: q.report_problems.unwrap_or(false),
        scope: viewer.scope.clone(),
        retired: q.retired.unwrap_or(false),
    })
}

/// How many hosts `q` matches: the total of [`query_hosts`] without ordering or reading any
/// host (the front page counts eight lists).
///
/// # Errors
/// Bad parameters (400) or a store failure (500).
pub async fn count_hosts(
    state: &AppState,
    viewer: &Viewer,
    q: &HostsQuery,
) -> Result<i64, AppError> {
    let filter = host_filter(state, viewer, q).await?;
    Ok(state.store.count_hosts(&filter).await?)
}

/// A page of hosts for `q` (`all`: every matching host, for exports).
///
/// # Errors
/// Bad parameters (400) or a store failure (500).
pub async fn query_hosts(
    state: &AppState,
    viewer: &Viewer,
    q: &HostsQuery,
    all: bool,
) -> Result<ApiHostPage, AppError> {
    let filter = host_filter(state, viewer, q).await?;
    let page = if all {
        Page {
            offset: 0,
            limit: i64::MAX,
        }
    } else {
        Page {
            offset: q.offset.unwrap_or(0).max(0),
            limit: q.limit.unwrap_or(100).clamp(1, 1000),
        }
    };
    let (sort, risk_reversed) = parse_sort(q.sort.as_deref())?;
    // Every matching host's id (risk order) or sort keys (a column) are read and ordered
    // here, ties broken by risk; then only the page's hosts are read in full.
    let fleet = state.engine.fleet().await?;
    let facts = state.engine.cve_facts();
    let risk_cmp = |x: Option<Risk>, y: Option<Risk>| match (x, y) {
        (Some(x), Some(y)) => y.partial_cmp(&x).unwrap_or(Ordering::Equal),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    let ordered: Vec<HostId> = match sort {
        None => {
            let ids = state
                .store
                .list_host_ids(&filter, HostSort::default())
                .await?;
            let mut ranked: Vec<(HostId, Option<Risk>)> = ids
                .into_iter()
                .map(|id| (id, fleet.host_risk_memo(id, &facts)))
                .collect();
            if risk_reversed {
                ranked.sort_by(|a, b| risk_cmp(b.1, a.1));
            } else {
                ranked.sort_by(|a, b| risk_cmp(a.1, b.1));
            }
            ranked.into_iter().map(|(id, _)| id).collect()
        }
        Some(s) => {
            // The store orders by the column and says where hosts tie on it; only the runs
            // of ties that reach into the page are ordered by risk (a sort by hostname has
            // none).
            let runs = state.store.list_host_runs(&filter, s).await?;
            let mut ids = runs.ids.clone();
            let first = usize::try_from(page.offset).unwrap_or(usize::MAX);
            let end = first.saturating_add(usize::try_from(page.limit).unwrap_or(usize::MAX));
            for r in runs.ranges() {
                if r.len() < 2 || r.end <= first || r.start >= end {
                    continue;
                }
                let mut ranked: Vec<(HostId, Option<Risk>)> = runs.ids[r.clone()]
                    .iter()
                    .map(|&id| (id, fleet.host_risk_memo(id, &facts)))
                    .collect();
                ranked.sort_by(|a, b| risk_cmp(a.1, b.1));
                for (slot, (id, _)) in ids[r].iter_mut().zip(ranked) {
                    *slot = id;
                }
            }
            ids
        }
    };
    let total = i64::try_from(ordered.len()).unwrap_or(i64::MAX);
    let skip = usize::try_from(page.offset).unwrap_or(usize::MAX);
    let take = usize::try_from(page.limit).unwrap_or(usize::MAX);
    let ids: Vec<HostId> = ordered.iter().skip(skip).take(take).copied().collect();
    let mut rows: std::collections::HashMap<HostId, Host> = if ids.is_empty() {
        std::collections::HashMap::new()
    } else {
        let mut f = filter.clone();
        // A page of every host (the exports) reads them by the filter, not by a list of ids.
        if ids.len() < ordered.len() {
            f.host_ids = Some(ids.clone());
        }
        state
            .store
            .list_hosts(
                &f,
                HostSort::default(),
                Page {
                    offset: 0,
                    limit: i64::MAX,
                },
            )
            .await?
            .hosts
            .into_iter()
            .map(|h| (h.id, h))
            .collect()
    };
    // A host gone between the two reads is left out.
    let stored: Vec<Host> = ids.iter().filter_map(|id| rows.remove(id)).collect();
    let evaluator = state.engine.evaluator();
    let mut hosts: Vec<ApiHost> = stored.iter().map(|h| api_host(h, &evaluator)).collect();
    fill_risk(&fleet, &facts, &stored, &mut hosts);
    refine_source_names(state, &stored, &mut hosts).await?;
    Ok(ApiHostPage {
        hosts,
        total,
        offset: page.offset,
        limit: page.limit.min(total.max(1)),
    })
}

/// Clears `source_names_unknown` of hosts that reported source names with their packages
/// (the fleet index knows which); only consulted when some host of the page is flagged.
///
/// # Errors
/// The fleet index cannot be built.
pub async fn refine_source_names(
    state: &AppState,
    stored: &[Host],
    hosts: &mut [ApiHost],
) -> Result<(), AppError> {
    if !hosts.iter().any(|h| h.source_names_unknown) {
        return Ok(());
    }
    let fleet = state.engine.fleet().await?;
    for (h, a) in stored.iter().zip(hosts.iter_mut()) {
        if a.source_names_unknown && fleet.host_reports_sources(h.id) == Some(true) {
            a.source_names_unknown = false;
        }
    }
    Ok(())
}

/// `GET /api/v1/hosts` (`?format=csv` for every matching host as CSV).
///
/// # Errors
/// Bad parameters (400) or a store failure (500).
#[utoipa::path(
    get,
    path = "/api/v1/hosts",
    operation_id = "hosts_list",
    tag = "hosts",
    params(HostsQuery),
    responses(
        (status = 200, description = "A page of hosts; with `?format=csv` every matching host as CSV", body = ApiHostPage),
        (status = 400, description = "A malformed filter or an unknown sort key")
    )
)]
pub async fn api_list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<HostsQuery>,
) -> Result<Response, AppError> {
    match q.format.unwrap_or_default() {
        Format::Csv => {
            let page = query_hosts(&state, &viewer, &q, true).await?;
            crate::export::csv("hosts", &page.hosts)
        }
        _ => Ok(Json(query_hosts(&state, &viewer, &q, false).await?).into_response()),
    }
}

#[derive(Template)]
#[template(path = "hosts.html")]
struct HostsPage {
    version: &'static str,
    hosts: Vec<ApiHost>,
    total: i64,
    q: HostsQuery,
    cols: Vec<SortLink>,
    filter_qs: String,
    prev: Option<String>,
    next: Option<String>,
    first: i64,
    last: i64,
    risk_order: &'static str,
}

impl HostsPage {
    fn s(v: Option<&String>) -> &str {
        v.map_or("", String::as_str)
    }
}

/// The query string of `q`'s filters (not sort, offset or format).
pub(crate) fn filter_qs(q: &HostsQuery) -> String {
    let mut parts = Vec::new();
    let mut add = |k: &str, v: Option<&String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            parts.push(format!("{k}={}", enc(v)));
        }
    };
    add("search", q.search.as_ref());
    add("group", q.group.as_ref());
    add("stream", q.stream.as_ref());
    add("domain", q.domain.as_ref());
    add("tag", q.tag.as_ref());
    add("os", q.os.as_ref());
    add("cve", q.cve.as_ref());
    add("cve_tag", q.cve_tag.as_ref());
    add("package", q.package.as_ref());
    add("tld", q.tld.as_ref());
    add("module_streams", q.module_streams.as_ref());
    add("exposed", q.exposed.as_ref());
    add("exposed_since", q.exposed_since.as_ref());
    for (k, v) in [
        ("vulnerable", q.vulnerable),
        ("reboot", q.reboot),
        ("not_covered", q.not_covered),
        ("tagged", q.tagged),
        ("security_updates", q.security_updates),
        ("report_problems", q.report_problems),
        ("retired", q.retired),
    ] {
        if v == Some(true) {
            parts.push(format!("{k}=true"));
        }
    }
    if let Some(f) = q.fixable {
        parts.push(format!("fixable={f}"));
    }
    if let Some(d) = q.not_reporting_days.filter(|d| *d > 0) {
        parts.push(format!("not_reporting_days={d}"));
    }
    parts.join("&")
}

/// The hosts page (`/`, `/hosts`).
///
/// # Errors
/// Bad parameters or a store failure.
pub async fn list_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<HostsQuery>,
) -> Result<Response, AppError> {
    let format = q.format.unwrap_or_default();
    if format != export::Format::Html {
        let page = query_hosts(&state, &viewer, &q, true).await?;
        return Ok(export::export(format, "hosts", &page.hosts)?.unwrap_or_default());
    }
    let page = query_hosts(&state, &viewer, &q, false).await?;
    let fqs = filter_qs(&q);
    let sort = q.sort.clone().unwrap_or_default();
    let cols = [
        ("Risk", "risk", false, false),
        ("Host", "hostname", false, false),
        ("Group", "group", false, false),
        ("OS", "os", false, false),
        ("Packages", "packages", true, true),
        ("Critical", "critical", true, true),
        ("High", "high", true, true),
        ("Tagged", "tagged", true, true),
        ("CVEs", "cves", true, true),
        ("Last report", "last_report", false, true),
        ("Updates (sec/other)", "security_updates", true, true),
    ]
    .into_iter()
    .map(|(label, key, num, desc_first)| {
        let (arrow, next) = if sort == key {
            ("▲", format!("-{key}"))
        } else if sort == format!("-{key}") {
            ("▼", key.to_owned())
        } else if desc_first {
            ("", format!("-{key}"))
        } else {
            ("", key.to_owned())
        };
        SortLink {
            label,
            href: with(&fqs, &format!("sort={}", enc(&next))),
            arrow,
            num,
        }
    })
    .collect();
    let sort_qs = if sort.is_empty() {
        fqs.clone()
    } else if fqs.is_empty() {
        format!("sort={}", enc(&sort))
    } else {
        format!("{fqs}&sort={}", enc(&sort))
    };
    let next = page.offset + page.limit;
    let prev = (page.offset > 0).then(|| {
        with(
            &sort_qs,
            &format!("offset={}", (page.offset - page.limit).max(0)),
        )
    });
    let next = (next < page.total).then(|| with(&sort_qs, &format!("offset={next}")));
    render(&HostsPage {
        version: VERSION,
        total: page.total,
        first: if page.hosts.is_empty() {
            0
        } else {
            page.offset + 1
        },
        last: page.offset + i64::try_from(page.hosts.len()).unwrap_or(0),
        hosts: page.hosts,
        cols,
        filter_qs: sort_qs,
        prev,
        next,
        q,
        risk_order: RISK_ORDER_EXPLAINED,
    })
}
