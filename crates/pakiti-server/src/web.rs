//! Server-rendered pages (askama templates, escaped by default; no JavaScript needed).
//!
//! Each page takes the [`Viewer`] and shows only what its scope allows; every list page also
//! answers `?format=csv` and `?format=json` with every matching row (see [`crate::export`]).
//! Forms carry the viewer's CSRF token and redirect back (303) after a change.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::auth::{self, Viewer};
use crate::error::AppError;
use crate::export::{self, FormatQuery};
use crate::fleet::GroupBy;
use crate::handlers::api::{self, ApiHost, ApiHostDetail, HostsQuery};
use crate::handlers::packages::{self, PackageHost, PackageReport};
use crate::handlers::views::{
    self, ApiCve, ApiCveDetail, ApiException, ApiExposureDay, ApiFeed, ApiHostSet, ApiRepository,
    ApiTag, ApiTagReport, ExceptionInput, TagInput,
};
use crate::state::AppState;

pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

pub(crate) fn render(t: &impl Template) -> Result<Response, AppError> {
    let html = t
        .render()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("template: {e}")))?;
    Ok(Html(html).into_response())
}

/// Percent-encodes a query-string value.
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b',' | b':') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A sortable column header.
pub struct SortLink {
    /// Label.
    pub label: &'static str,
    /// Link target (query string).
    pub href: String,
    /// `▲`, `▼` or empty.
    pub arrow: &'static str,
    /// Right-aligned.
    pub num: bool,
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
}

impl HostsPage {
    fn s(v: Option<&String>) -> &str {
        v.map_or("", String::as_str)
    }
}

/// The query string of `q`'s filters (not sort, offset or format).
fn filter_qs(q: &HostsQuery) -> String {
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
    for (k, v) in [
        ("vulnerable", q.vulnerable),
        ("reboot", q.reboot),
        ("not_covered", q.not_covered),
        ("tagged", q.tagged),
        ("security_updates", q.security_updates),
        ("report_problems", q.report_problems),
    ] {
        if v == Some(true) {
            parts.push(format!("{k}=true"));
        }
    }
    if let Some(d) = q.not_reporting_days.filter(|d| *d > 0) {
        parts.push(format!("not_reporting_days={d}"));
    }
    parts.join("&")
}

/// `?qs&extra` (for templates).
#[must_use]
pub fn qs_for(qs: &str, extra: &str) -> String {
    with(qs, extra)
}

fn with(qs: &str, extra: &str) -> String {
    match (qs.is_empty(), extra.is_empty()) {
        (true, _) => format!("?{extra}"),
        (false, true) => format!("?{qs}"),
        (false, false) => format!("?{qs}&{extra}"),
    }
}

/// The hosts page (`/`, `/hosts`).
///
/// # Errors
/// Bad parameters or a store failure.
pub async fn hosts(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<HostsQuery>,
) -> Result<Response, AppError> {
    let format = q.format.unwrap_or_default();
    if format != export::Format::Html {
        let page = api::query_hosts(&state, &viewer, &q, true).await?;
        return Ok(export::export(format, "hosts", &page.hosts)?.unwrap_or_default());
    }
    let page = api::query_hosts(&state, &viewer, &q, false).await?;
    let fqs = filter_qs(&q);
    let sort = q.sort.clone().unwrap_or_default();
    let cols = [
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
    })
}

#[derive(Template)]
#[template(path = "host.html")]
struct HostPage {
    version: &'static str,
    d: ApiHostDetail,
}

/// One host's page.
///
/// # Errors
/// Unknown host (or one outside the viewer's scope) or a store failure.
pub async fn host(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(hostname): Path<String>,
) -> Result<Response, AppError> {
    let d = api::get_host(State(state), viewer, Path(hostname)).await?.0;
    render(&HostPage {
        version: VERSION,
        d,
    })
}

#[derive(Template)]
#[template(path = "cves.html")]
struct CvesPage {
    version: &'static str,
    cves: Vec<ApiCve>,
}

/// The CVEs present in the fleet.
///
/// # Errors
/// The fleet index cannot be built.
pub async fn cves(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let rows = views::cve_rows(&state, &viewer).await?;
    if let Some(r) = export::export(q.format.unwrap_or_default(), "cves", &rows)? {
        return Ok(r);
    }
    render(&CvesPage {
        version: VERSION,
        cves: rows,
    })
}

#[derive(Template)]
#[template(path = "cve.html")]
struct CvePage {
    version: &'static str,
    d: ApiCveDetail,
    csrf: String,
    default_tags: [&'static str; 2],
}

/// One CVE.
///
/// # Errors
/// Not present in the fleet (404).
pub async fn cve(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(cve): Path<String>,
) -> Result<Response, AppError> {
    let d = views::cve_detail(&state, &viewer, &cve, 500).await?;
    render(&CvePage {
        version: VERSION,
        d,
        csrf: viewer.csrf.clone(),
        default_tags: pakiti_store::DEFAULT_TAGS,
    })
}

#[derive(Template)]
#[template(path = "tags.html")]
struct TagsPage {
    version: &'static str,
    tags: Vec<ApiTag>,
    names: Vec<String>,
    csrf: String,
    default_tags: [&'static str; 2],
}

/// The CVE tags: list, create, enable/disable, delete.
///
/// # Errors
/// A store failure.
pub async fn tags(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let tags: Vec<ApiTag> = pakiti_store::Store::list_cve_tags(&state.store)
        .await?
        .iter()
        .map(views::api_tag)
        .collect();
    if let Some(r) = export::export(q.format.unwrap_or_default(), "cve-tags", &tags)? {
        return Ok(r);
    }
    let mut names: Vec<String> = pakiti_store::DEFAULT_TAGS
        .iter()
        .map(|s| (*s).to_owned())
        .chain(tags.iter().map(|t| t.tag.clone()))
        .collect();
    names.sort();
    names.dedup();
    render(&TagsPage {
        version: VERSION,
        tags,
        names,
        csrf: viewer.csrf.clone(),
        default_tags: pakiti_store::DEFAULT_TAGS,
    })
}

/// The tag-creation form.
#[derive(Debug, Deserialize)]
pub struct TagForm {
    /// CSRF token.
    #[serde(default)]
    pub csrf: String,
    /// CVE.
    pub cve: String,
    /// Tag name.
    pub tag: String,
    /// Why.
    #[serde(default)]
    pub reason: String,
    /// Link.
    #[serde(default)]
    pub info_url: String,
}

/// `POST /tags`.
///
/// # Errors
/// CSRF, admin, input or store failures.
pub async fn create_tag(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(f): Form<TagForm>,
) -> Result<Response, AppError> {
    auth::check_csrf(&viewer, &f.csrf)?;
    views::create_tag_for(
        &state,
        &viewer,
        TagInput {
            cve: f.cve,
            tag: f.tag,
            reason: f.reason,
            info_url: Some(f.info_url),
            enabled: Some(true),
        },
    )
    .await?;
    Ok(Redirect::to("/tags").into_response())
}

/// A form acting on one row by id.
#[derive(Debug, Deserialize)]
pub struct IdForm {
    /// CSRF token.
    #[serde(default)]
    pub csrf: String,
    /// Row id.
    pub id: i64,
    /// For toggles: the new state.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// `POST /tags/toggle`.
///
/// # Errors
/// CSRF, admin or store failures.
pub async fn toggle_tag(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(f): Form<IdForm>,
) -> Result<Response, AppError> {
    auth::check_csrf(&viewer, &f.csrf)?;
    views::set_tag_enabled_for(&state, &viewer, f.id, f.enabled.unwrap_or(false)).await?;
    Ok(Redirect::to("/tags").into_response())
}

/// `POST /tags/delete`.
///
/// # Errors
/// CSRF, admin or store failures.
pub async fn delete_tag(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(f): Form<IdForm>,
) -> Result<Response, AppError> {
    auth::check_csrf(&viewer, &f.csrf)?;
    views::delete_tag_for(&state, &viewer, f.id).await?;
    Ok(Redirect::to("/tags").into_response())
}

#[derive(Template)]
#[template(path = "tag.html")]
struct TagPage {
    version: &'static str,
    d: ApiTagReport,
}

/// The page of one tag name: its CVEs, affected hosts and groups (Pakiti's "CVE Tags").
///
/// # Errors
/// The fleet index cannot be built.
pub async fn tag(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(tag): Path<String>,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let d = views::tag_report(&state, &viewer, &tag).await?;
    if let Some(r) = export::export(q.format.unwrap_or_default(), "tag-hosts", &d.hosts)? {
        return Ok(r);
    }
    render(&TagPage {
        version: VERSION,
        d,
    })
}

#[derive(Template)]
#[template(path = "exceptions.html")]
struct ExceptionsPage {
    version: &'static str,
    exceptions: Vec<ApiException>,
    csrf: String,
}

/// The exceptions: list, create, delete.
///
/// # Errors
/// A store failure.
pub async fn exceptions(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let rows: Vec<ApiException> = pakiti_store::Store::list_exceptions(&state.store)
        .await?
        .iter()
        .map(views::api_exception)
        .collect();
    if let Some(r) = export::export(q.format.unwrap_or_default(), "exceptions", &rows)? {
        return Ok(r);
    }
    render(&ExceptionsPage {
        version: VERSION,
        exceptions: rows,
        csrf: viewer.csrf.clone(),
    })
}

/// The exception-creation form.
#[derive(Debug, Deserialize)]
pub struct ExceptionForm {
    /// CSRF token.
    #[serde(default)]
    pub csrf: String,
    /// CVE.
    pub cve: String,
    /// Package name.
    pub package: String,
    /// Version.
    pub version: String,
    /// OS stream.
    pub os_stream: String,
    /// Why.
    #[serde(default)]
    pub reason: String,
    /// Expiry date.
    #[serde(default)]
    pub expires_at: String,
}

/// `POST /exceptions`.
///
/// # Errors
/// CSRF, admin, input or store failures.
pub async fn create_exception(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(f): Form<ExceptionForm>,
) -> Result<Response, AppError> {
    auth::check_csrf(&viewer, &f.csrf)?;
    views::create_exception_for(
        &state,
        &viewer,
        ExceptionInput {
            cve: f.cve,
            package: f.package,
            version: f.version,
            os_stream: f.os_stream,
            reason: f.reason,
            expires_at: Some(f.expires_at),
        },
    )
    .await?;
    Ok(Redirect::to("/exceptions").into_response())
}

/// `POST /exceptions/delete`.
///
/// # Errors
/// CSRF, admin or store failures.
pub async fn delete_exception(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(f): Form<IdForm>,
) -> Result<Response, AppError> {
    auth::check_csrf(&viewer, &f.csrf)?;
    views::delete_exception_for(&state, &viewer, f.id).await?;
    Ok(Redirect::to("/exceptions").into_response())
}

#[derive(Template)]
#[template(path = "sets.html")]
struct SetsPage {
    version: &'static str,
    title: &'static str,
    param: &'static str,
    os: bool,
    sets: Vec<ApiHostSet>,
    rules: Vec<(String, String)>,
}

async fn sets_page(
    state: &AppState,
    viewer: &Viewer,
    q: &FormatQuery,
    by: GroupBy,
) -> Result<Response, AppError> {
    let (title, param, name) = match by {
        GroupBy::Group => ("Host groups", "group", "groups"),
        GroupBy::Domain => ("Domains", "domain", "domains"),
        GroupBy::Os => ("Operating systems", "os", "oses"),
    };
    let sets = views::host_sets(state, viewer, by).await?;
    if let Some(r) = export::export(q.format.unwrap_or_default(), name, &sets)? {
        return Ok(r);
    }
    render(&SetsPage {
        version: VERSION,
        title,
        param,
        os: by == GroupBy::Os,
        sets,
        rules: if by == GroupBy::Os {
            state
                .settings
                .os_rules
                .iter()
                .map(|r| (r.pattern.clone(), r.stream.clone()))
                .collect()
        } else {
            Vec::new()
        },
    })
}

/// `/groups`.
///
/// # Errors
/// The fleet index cannot be built.
pub async fn groups(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    sets_page(&state, &viewer, &q, GroupBy::Group).await
}

/// `/domains`.
///
/// # Errors
/// The fleet index cannot be built.
pub async fn domains(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    sets_page(&state, &viewer, &q, GroupBy::Domain).await
}

/// `/oses`: OS names, their streams and the site's OS-stream rules.
///
/// # Errors
/// The fleet index cannot be built.
pub async fn oses(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    sets_page(&state, &viewer, &q, GroupBy::Os).await
}

#[derive(Template)]
#[template(path = "feeds.html")]
struct FeedsPage {
    version: &'static str,
    feeds: Vec<ApiFeed>,
    /// Streams with source-package advisories but no binary → source map.
    source_gaps: Vec<String>,
}

/// `/feeds`: status of each feed (read-only).
///
/// # Errors
/// A store failure.
pub async fn feeds(
    State(state): State<AppState>,
    _viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let rows = views::feed_rows(&state).await?;
    if let Some(r) = export::export(q.format.unwrap_or_default(), "feeds", &rows)? {
        return Ok(r);
    }
    render(&FeedsPage {
        version: VERSION,
        feeds: rows,
        source_gaps: state.evaluator().source_map_gaps(),
    })
}

#[derive(Template)]
#[template(path = "repositories.html")]
struct RepositoriesPage {
    version: &'static str,
    repos: Vec<ApiRepository>,
}

/// `/repositories`: every package repository and its last sync (read-only, no host data).
///
/// # Errors
/// A store failure.
pub async fn repositories(
    State(state): State<AppState>,
    _viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let rows = views::repository_rows(&state).await?;
    if let Some(r) = export::export(q.format.unwrap_or_default(), "repositories", &rows)? {
        return Ok(r);
    }
    render(&RepositoriesPage {
        version: VERSION,
        repos: rows,
    })
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
}

/// `/packages/{name}`: Pakiti 2's "outdated / missing packages" page for one package name,
/// over the hosts the viewer may see; `?format=csv|json` exports its host rows.
///
/// # Errors
/// A store failure.
pub async fn package(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    Query(q): Query<PackagePageQuery>,
) -> Result<Response, AppError> {
    let group = q.group.clone().filter(|g| !g.is_empty());
    let (r, rows) = packages::package_report(&state, &viewer, name.clone(), group.clone()).await?;
    let file = format!("package-{name}");
    if let Some(resp) = export::export(q.format.unwrap_or_default(), &file, &rows)? {
        return Ok(resp);
    }
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
    })
}

#[derive(Template)]
#[template(path = "stats.html")]
struct StatsPage {
    version: &'static str,
    days: Vec<ApiExposureDay>,
    chart: Chart,
}

/// An SVG line chart's geometry.
pub struct Chart {
    /// Width.
    pub width: i64,
    /// Height.
    pub height: i64,
    /// Polyline points of the CVE sum.
    pub cves: String,
    /// Polyline points of vulnerable hosts (scaled to their own maximum).
    pub hosts: String,
    /// Largest CVE sum.
    pub max_cves: i64,
    /// Largest vulnerable-host count.
    pub max_hosts: i64,
    /// First and last day.
    pub from: String,
    /// Last day.
    pub to: String,
}

fn chart(days: &[ApiExposureDay]) -> Chart {
    let (w, h) = (720_i64, 200_i64);
    let max_cves = days.iter().map(|d| d.cves).max().unwrap_or(0).max(1);
    let max_hosts = days
        .iter()
        .map(|d| d.vulnerable_hosts)
        .max()
        .unwrap_or(0)
        .max(1);
    let n = i64::try_from(days.len()).unwrap_or(1).max(2) - 1;
    let pts = |f: &dyn Fn(&ApiExposureDay) -> i64, max: i64| {
        days.iter()
            .enumerate()
            .map(|(i, d)| {
                let x = 40 + i64::try_from(i).unwrap_or(0) * (w - 50) / n;
                let y = h - 20 - f(d) * (h - 30) / max;
                format!("{x},{y}")
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    Chart {
        width: w,
        height: h,
        cves: pts(&|d| d.cves, max_cves),
        hosts: pts(&|d| d.vulnerable_hosts, max_hosts),
        max_cves,
        max_hosts,
        from: days.first().map(|d| d.day.clone()).unwrap_or_default(),
        to: days.last().map(|d| d.day.clone()).unwrap_or_default(),
    }
}

/// `/stats`: fleet exposure over time.
///
/// # Errors
/// A store failure.
pub async fn stats(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let days = views::exposure(&state, &viewer).await?;
    if let Some(r) = export::export(q.format.unwrap_or_default(), "exposure", &days)? {
        return Ok(r);
    }
    render(&StatsPage {
        version: VERSION,
        chart: chart(&days),
        days,
    })
}

/// The stylesheet.
pub async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../static/pakiti.css"),
    )
}

/// The `Content-Security-Policy` of every answer: no scripts at all, styles from the
/// stylesheet (and the few `style=` attributes), forms only to this server, never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers to every answer (a handler's own value wins): CSP,
/// `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy: same-origin`.
pub async fn security_headers(mut resp: axum::response::Response) -> axum::response::Response {
    use axum::http::HeaderValue;
    let h = resp.headers_mut();
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "same-origin"),
    ] {
        if !h.contains_key(name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    }
    resp
}
