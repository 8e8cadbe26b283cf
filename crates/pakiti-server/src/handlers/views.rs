//! The JSON API beyond hosts: CVEs, CVE tags, exceptions, groups, domains, OSes, feeds and
//! statistics. Each list answers `?format=csv` / `?format=json` with every row in scope; the
//! pages in [`crate::web`] build on the same functions.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use pakiti_store::{CveException, CveTag, NewCveTag, NewException, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::auth::Viewer;
use crate::error::AppError;
use crate::export::{self, CsvRow, FormatQuery, join, opt};
use crate::fleet::{self, GroupBy};
use crate::handlers::api::rfc3339;
use crate::state::AppState;

fn list<T: CsvRow + Serialize>(
    q: &FormatQuery,
    name: &str,
    rows: &[T],
) -> Result<Response, AppError> {
    Ok(export::export(q.format.unwrap_or_default(), name, rows)?
        .unwrap_or_else(|| Json(rows).into_response()))
}

// ---- CVEs ----

/// A CVE in the fleet.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiCve {
    /// CVE id.
    pub cve: String,
    /// Highest severity.
    pub severity: String,
    /// Hosts (in the viewer's scope) that have it.
    pub hosts: usize,
    /// Advisories naming it.
    pub advisories: Vec<String>,
    /// Enabled tags.
    pub tags: Vec<String>,
}

impl CsvRow for ApiCve {
    const HEADER: &'static [&'static str] = &["cve", "severity", "hosts", "advisories", "tags"];
    fn fields(&self) -> Vec<String> {
        vec![
            self.cve.clone(),
            self.severity.clone(),
            self.hosts.to_string(),
            join(&self.advisories),
            join(&self.tags),
        ]
    }
}

/// The CVEs present on hosts in the viewer's scope, most widespread first.
///
/// # Errors
/// The fleet index cannot be built.
pub async fn cve_rows(state: &AppState, viewer: &Viewer) -> Result<Vec<ApiCve>, AppError> {
    let fleet = fleet::current(state).await?;
    Ok(fleet
        .cves(&viewer.scope)
        .into_iter()
        .map(|c| ApiCve {
            cve: c.cve,
            severity: c.severity.as_str().to_owned(),
            hosts: c.hosts,
            advisories: c.advisories,
            tags: c.tags,
        })
        .collect())
}

/// `GET /api/v1/cves`.
///
/// # Errors
/// See [`cve_rows`].
pub async fn cves(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    list(&q, "cves", &cve_rows(&state, &viewer).await?)
}

/// An advisory on the CVE page.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiAdvisory {
    /// Vendor id.
    pub id: String,
    /// Feed kind.
    pub source: String,
    /// Title.
    pub title: String,
    /// Severity.
    pub severity: String,
    /// Links (vendor tracker first).
    pub references: Vec<String>,
}

/// A package carrying the CVE on one host.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiAffectedPackage {
    /// Name.
    pub package: String,
    /// Installed version.
    pub version: String,
    /// Arch.
    pub arch: String,
    /// The advisory that says so.
    pub advisory: String,
    /// Fixed version.
    pub fixed_version: Option<String>,
    /// Status word.
    pub status: String,
}

/// A host affected by the CVE.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiAffectedHost {
    /// Hostname.
    pub hostname: String,
    /// Host group.
    pub host_group: Option<String>,
    /// OS stream.
    pub os_stream: Option<String>,
    /// Packages.
    pub packages: Vec<ApiAffectedPackage>,
}

/// One CVE.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiCveDetail {
    /// CVE id.
    pub cve: String,
    /// Highest severity.
    pub severity: String,
    /// Advisories naming it.
    pub advisories: Vec<ApiAdvisory>,
    /// Tags on it.
    pub tags: Vec<ApiTag>,
    /// Affected hosts in scope (the page lists at most 500; the API all of them).
    pub hosts: Vec<ApiAffectedHost>,
    /// Number of affected hosts in scope.
    pub host_count: usize,
}

/// One CVE's advisories, tags and affected hosts (in scope).
///
/// # Errors
/// No advisory in the fleet names it (404).
pub async fn cve_detail(
    state: &AppState,
    viewer: &Viewer,
    cve: &str,
    limit: usize,
) -> Result<ApiCveDetail, AppError> {
    let fleet = fleet::current(state).await?;
    // A CVE that only hosts outside the viewer's scope have answers exactly like one no
    // host has: the page must not tell a restricted user that it exists elsewhere.
    let d = fleet
        .cve_limited(cve, &viewer.scope, limit)
        .filter(|d| d.host_total > 0)
        .ok_or_else(|| AppError::NotFound(format!("{cve} is not present in the fleet")))?;
    Ok(ApiCveDetail {
        cve: d.cve,
        severity: d.severity.as_str().to_owned(),
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
        hosts: d
            .hosts
            .into_iter()
            .map(|h| ApiAffectedHost {
                hostname: h.hostname,
                host_group: h.group,
                os_stream: h.stream,
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
            .collect(),
    })
}

/// `GET /api/v1/cves/{cve}`.
///
/// # Errors
/// See [`cve_detail`].
pub async fn cve(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(cve): Path<String>,
) -> Result<Json<ApiCveDetail>, AppError> {
    Ok(Json(cve_detail(&state, &viewer, &cve, usize::MAX).await?))
}

// ---- CVE tags ----

/// A CVE tag.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiTag {
    /// Id (for PATCH and DELETE).
    pub id: i64,
    /// CVE.
    pub cve: String,
    /// Tag name.
    pub tag: String,
    /// Why.
    pub reason: String,
    /// Link.
    pub info_url: Option<String>,
    /// Whether it counts.
    pub enabled: bool,
    /// Who.
    pub author: String,
    /// When, RFC 3339.
    pub created_at: String,
}

/// The API form of a tag.
#[must_use]
pub fn api_tag(t: &CveTag) -> ApiTag {
    ApiTag {
        id: t.id,
        cve: t.cve.clone(),
        tag: t.tag.clone(),
        reason: t.reason.clone(),
        info_url: t.info_url.clone(),
        enabled: t.enabled,
        author: t.author.clone(),
        created_at: rfc3339(t.created_at),
    }
}

impl CsvRow for ApiTag {
    const HEADER: &'static [&'static str] = &[
        "id",
        "cve",
        "tag",
        "reason",
        "info_url",
        "enabled",
        "author",
        "created_at",
    ];
    fn fields(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.cve.clone(),
            self.tag.clone(),
            self.reason.clone(),
            opt(self.info_url.as_ref()),
            self.enabled.to_string(),
            self.author.clone(),
            self.created_at.clone(),
        ]
    }
}

/// A tag to create.
#[derive(Debug, Deserialize)]
pub struct TagInput {
    /// CVE id.
    pub cve: String,
    /// Tag name (`Critical`, `High` or any other).
    pub tag: String,
    /// Why.
    #[serde(default)]
    pub reason: String,
    /// Link.
    #[serde(default)]
    pub info_url: Option<String>,
    /// Whether it counts (default true).
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A change to a tag.
#[derive(Debug, Deserialize)]
pub struct TagPatch {
    /// Enable or disable.
    pub enabled: bool,
}

fn store_conflict(e: StoreError) -> AppError {
    match e {
        StoreError::Duplicate(m) | StoreError::Invalid(m) => AppError::BadRequest(m),
        other => other.into(),
    }
}

async fn after_change(state: &AppState) -> Result<(), AppError> {
    crate::jobs::reevaluate::refresh_all_counts(state).await?;
    fleet::refresh_now(state).await?;
    Ok(())
}

/// Creates a tag (admins only) and refreshes the counts.
///
/// # Errors
/// Not an admin (403), a bad or duplicate tag (400), a store failure.
pub async fn create_tag_for(
    state: &AppState,
    viewer: &Viewer,
    input: TagInput,
) -> Result<CveTag, AppError> {
    viewer.require_admin()?;
    let cve = input.cve.trim().to_ascii_uppercase();
    let tag = input.tag.trim().to_owned();
    if cve.is_empty() || tag.is_empty() {
        return Err(AppError::BadRequest("a tag needs a CVE and a name".into()));
    }
    let created = state
        .store
        .create_cve_tag(&NewCveTag {
            cve,
            tag,
            reason: input.reason.trim().to_owned(),
            info_url: input
                .info_url
                .map(|u| u.trim().to_owned())
                .filter(|u| !u.is_empty()),
            enabled: input.enabled.unwrap_or(true),
            author: viewer.author(),
        })
        .await
        .map_err(store_conflict)?;
    after_change(state).await?;
    Ok(created)
}

/// Enables or disables a tag (admins only).
///
/// # Errors
/// Not an admin, unknown tag (404), a store failure.
pub async fn set_tag_enabled_for(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
    enabled: bool,
) -> Result<CveTag, AppError> {
    viewer.require_admin()?;
    let t = state
        .store
        .set_cve_tag_enabled(id, enabled)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no tag {id}")))?;
    after_change(state).await?;
    Ok(t)
}

/// Deletes a tag (admins only).
///
/// # Errors
/// Not an admin, unknown tag (404), a store failure.
pub async fn delete_tag_for(state: &AppState, viewer: &Viewer, id: i64) -> Result<(), AppError> {
    viewer.require_admin()?;
    state
        .store
        .delete_cve_tag(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no tag {id}")))?;
    after_change(state).await
}

/// `GET /api/v1/tags`.
///
/// # Errors
/// A store failure.
pub async fn tags(
    State(state): State<AppState>,
    _viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let rows: Vec<ApiTag> = state
        .store
        .list_cve_tags()
        .await?
        .iter()
        .map(api_tag)
        .collect();
    list(&q, "cve-tags", &rows)
}

/// `POST /api/v1/tags`.
///
/// # Errors
/// See [`create_tag_for`].
pub async fn create_tag(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Json(input): Json<TagInput>,
) -> Result<Response, AppError> {
    viewer.check_api_csrf(&headers)?;
    let t = create_tag_for(&state, &viewer, input).await?;
    Ok((StatusCode::CREATED, Json(api_tag(&t))).into_response())
}

fn tag_id(s: &str) -> Result<i64, AppError> {
    s.parse()
        .map_err(|_| AppError::BadRequest(format!("{s:?} is not a tag id")))
}

/// `PATCH /api/v1/tags/{tag}` (`tag` is the numeric id).
///
/// # Errors
/// See [`set_tag_enabled_for`].
pub async fn patch_tag(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(p): Json<TagPatch>,
) -> Result<Json<ApiTag>, AppError> {
    viewer.check_api_csrf(&headers)?;
    let t = set_tag_enabled_for(&state, &viewer, tag_id(&id)?, p.enabled).await?;
    Ok(Json(api_tag(&t)))
}

/// `DELETE /api/v1/tags/{tag}` (`tag` is the numeric id).
///
/// # Errors
/// See [`delete_tag_for`].
pub async fn delete_tag(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    viewer.check_api_csrf(&headers)?;
    delete_tag_for(&state, &viewer, tag_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A host on a tag page.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiTagHost {
    /// Hostname.
    pub hostname: String,
    /// Group.
    pub host_group: Option<String>,
    /// Its CVEs carrying the tag.
    pub cves: Vec<String>,
}

impl CsvRow for ApiTagHost {
    const HEADER: &'static [&'static str] = &["hostname", "host_group", "cves"];
    fn fields(&self) -> Vec<String> {
        vec![
            self.hostname.clone(),
            opt(self.host_group.as_ref()),
            join(&self.cves),
        ]
    }
}

/// A group on a tag page.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiTagGroup {
    /// Group (`null`: ungrouped hosts).
    pub host_group: Option<String>,
    /// Affected hosts.
    pub hosts: usize,
}

/// A tagged CVE with its host count.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiTaggedCve {
    /// The tag row.
    #[serde(flatten)]
    pub tag: ApiTag,
    /// Hosts in scope with the CVE (0 when the tag is disabled).
    pub hosts: usize,
}

/// Pakiti's "CVE Tags" report for one tag name.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiTagReport {
    /// Tag name.
    pub tag: String,
    /// CVEs carrying it.
    pub cves: Vec<ApiTaggedCve>,
    /// Affected hosts in scope.
    pub hosts: Vec<ApiTagHost>,
    /// Affected groups.
    pub groups: Vec<ApiTagGroup>,
}

/// The report of tag name `tag` in the viewer's scope.
///
/// # Errors
/// The fleet index cannot be built.
pub async fn tag_report(
    state: &AppState,
    viewer: &Viewer,
    tag: &str,
) -> Result<ApiTagReport, AppError> {
    let d = fleet::current(state).await?.tag(tag, &viewer.scope);
    Ok(ApiTagReport {
        tag: d.tag,
        cves: d
            .cves
            .iter()
            .map(|(t, n)| ApiTaggedCve {
                tag: api_tag(t),
                hosts: *n,
            })
            .collect(),
        hosts: d
            .hosts
            .into_iter()
            .map(|(_, hostname, host_group, cves)| ApiTagHost {
                hostname,
                host_group,
                cves,
            })
            .collect(),
        groups: d
            .groups
            .into_iter()
            .map(|(host_group, hosts)| ApiTagGroup { host_group, hosts })
            .collect(),
    })
}

/// `GET /api/v1/tags/{tag}` (`tag` is the tag name).
///
/// # Errors
/// See [`tag_report`].
pub async fn tag(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(tag): Path<String>,
) -> Result<Json<ApiTagReport>, AppError> {
    Ok(Json(tag_report(&state, &viewer, &tag).await?))
}

// ---- exceptions ----

/// An exception.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiException {
    /// Id (for DELETE).
    pub id: i64,
    /// CVE.
    pub cve: String,
    /// Binary package name.
    pub package: String,
    /// Exact version.
    pub version: String,
    /// OS stream.
    pub os_stream: String,
    /// Why.
    pub reason: String,
    /// Who.
    pub author: String,
    /// When, RFC 3339.
    pub created_at: String,
    /// Expiry, RFC 3339.
    pub expires_at: Option<String>,
    /// Whether it is in force now.
    pub active: bool,
}

/// The API form of an exception.
#[must_use]
pub fn api_exception(e: &CveException) -> ApiException {
    ApiException {
        id: e.id,
        cve: e.cve.clone(),
        package: e.package.clone(),
        version: e.version.clone(),
        os_stream: e.stream.clone(),
        reason: e.reason.clone(),
        author: e.author.clone(),
        created_at: rfc3339(e.created_at),
        expires_at: e.expires_at.map(rfc3339),
        active: e.active_at(OffsetDateTime::now_utc()),
    }
}

impl CsvRow for ApiException {
    const HEADER: &'static [&'static str] = &[
        "id",
        "cve",
        "package",
        "version",
        "os_stream",
        "reason",
        "author",
        "created_at",
        "expires_at",
        "active",
    ];
    fn fields(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.cve.clone(),
            self.package.clone(),
            self.version.clone(),
            self.os_stream.clone(),
            self.reason.clone(),
            self.author.clone(),
            self.created_at.clone(),
            opt(self.expires_at.as_ref()),
            self.active.to_string(),
        ]
    }
}

/// An exception to create.
#[derive(Debug, Deserialize)]
pub struct ExceptionInput {
    /// CVE.
    pub cve: String,
    /// Binary package name.
    pub package: String,
    /// Exact installed version.
    pub version: String,
    /// OS stream (`rhel:8`).
    pub os_stream: String,
    /// Why.
    #[serde(default)]
    pub reason: String,
    /// Expiry: RFC 3339 or a date (`2026-12-31`); empty for never.
    #[serde(default)]
    pub expires_at: Option<String>,
}

fn parse_expiry(s: Option<&str>) -> Result<Option<OffsetDateTime>, AppError> {
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(Some(t));
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &fmt)
        .map(|d| Some(d.midnight().assume_utc()))
        .map_err(|_| AppError::BadRequest(format!("expiry {s:?}: use 2026-12-31 or RFC 3339")))
}

/// Creates an exception (admins only) and refreshes the counts.
///
/// # Errors
/// Not an admin, bad input or a duplicate (400), a store failure.
pub async fn create_exception_for(
    state: &AppState,
    viewer: &Viewer,
    input: ExceptionInput,
) -> Result<CveException, AppError> {
    viewer.require_admin()?;
    let e = NewException {
        cve: input.cve.trim().to_ascii_uppercase(),
        package: input.package.trim().to_owned(),
        version: input.version.trim().to_owned(),
        stream: input.os_stream.trim().to_owned(),
        reason: input.reason.trim().to_owned(),
        author: viewer.author(),
        expires_at: parse_expiry(input.expires_at.as_deref())?,
    };
    if e.cve.is_empty() || e.package.is_empty() || e.version.is_empty() || e.stream.is_empty() {
        return Err(AppError::BadRequest(
            "an exception needs a CVE, a package, a version and an OS stream".into(),
        ));
    }
    if e.stream.parse::<pakiti_core::stream::OsStream>().is_err() {
        return Err(AppError::BadRequest(format!(
            "{:?} is not an OS stream (distro:release, e.g. rhel:8)",
            e.stream
        )));
    }
    let created = state
        .store
        .create_exception(&e)
        .await
        .map_err(store_conflict)?;
    after_change(state).await?;
    Ok(created)
}

/// Deletes an exception (admins only).
///
/// # Errors
/// Not an admin, unknown id (404), a store failure.
pub async fn delete_exception_for(
    state: &AppState,
    viewer: &Viewer,
    id: i64,
) -> Result<(), AppError> {
    viewer.require_admin()?;
    state
        .store
        .delete_exception(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no exception {id}")))?;
    after_change(state).await
}

/// `GET /api/v1/exceptions`.
///
/// # Errors
/// A store failure.
pub async fn exceptions(
    State(state): State<AppState>,
    _viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let rows: Vec<ApiException> = state
        .store
        .list_exceptions()
        .await?
        .iter()
        .map(api_exception)
        .collect();
    list(&q, "exceptions", &rows)
}

/// `POST /api/v1/exceptions`.
///
/// # Errors
/// See [`create_exception_for`].
pub async fn create_exception(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Json(input): Json<ExceptionInput>,
) -> Result<Response, AppError> {
    viewer.check_api_csrf(&headers)?;
    let e = create_exception_for(&state, &viewer, input).await?;
    Ok((StatusCode::CREATED, Json(api_exception(&e))).into_response())
}

/// `DELETE /api/v1/exceptions/{id}`.
///
/// # Errors
/// See [`delete_exception_for`].
pub async fn delete_exception(
    State(state): State<AppState>,
    viewer: Viewer,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    viewer.check_api_csrf(&headers)?;
    delete_exception_for(&state, &viewer, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- groups, domains, OSes ----

/// Hosts sharing a group, a domain or an OS.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiHostSet {
    /// Group, domain or OS name (`null`: none).
    pub name: Option<String>,
    /// OS stream (OS listing only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub os_stream: Option<String>,
    /// Whether data covers the stream (OS listing only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub covered: Option<bool>,
    /// Hosts in scope.
    pub hosts: usize,
    /// Hosts with at least one CVE.
    pub vulnerable_hosts: usize,
    /// Distinct CVEs.
    pub cves: usize,
}

impl CsvRow for ApiHostSet {
    const HEADER: &'static [&'static str] = &[
        "name",
        "os_stream",
        "covered",
        "hosts",
        "vulnerable_hosts",
        "cves",
    ];
    fn fields(&self) -> Vec<String> {
        vec![
            opt(self.name.as_ref()),
            opt(self.os_stream.as_ref()),
            self.covered.map(|c| c.to_string()).unwrap_or_default(),
            self.hosts.to_string(),
            self.vulnerable_hosts.to_string(),
            self.cves.to_string(),
        ]
    }
}

/// Hosts in the viewer's scope grouped `by`.
///
/// # Errors
/// The fleet index cannot be built.
pub async fn host_sets(
    state: &AppState,
    viewer: &Viewer,
    by: GroupBy,
) -> Result<Vec<ApiHostSet>, AppError> {
    let fleet = fleet::current(state).await?;
    Ok(fleet
        .host_sets(by, &viewer.scope)
        .into_iter()
        .map(|s| ApiHostSet {
            name: s.name,
            os_stream: if by == GroupBy::Os { s.stream } else { None },
            covered: (by == GroupBy::Os).then_some(s.covered),
            hosts: s.hosts,
            vulnerable_hosts: s.vulnerable_hosts,
            cves: s.cves,
        })
        .collect())
}

/// `GET /api/v1/groups`.
///
/// # Errors
/// See [`host_sets`].
pub async fn groups(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    list(
        &q,
        "groups",
        &host_sets(&state, &viewer, GroupBy::Group).await?,
    )
}

/// `GET /api/v1/domains`.
///
/// # Errors
/// See [`host_sets`].
pub async fn domains(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    list(
        &q,
        "domains",
        &host_sets(&state, &viewer, GroupBy::Domain).await?,
    )
}

/// `GET /api/v1/oses`.
///
/// # Errors
/// See [`host_sets`].
pub async fn oses(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    list(&q, "oses", &host_sets(&state, &viewer, GroupBy::Os).await?)
}

// ---- feeds ----

/// A feed's status.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiFeed {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// URL or path.
    pub url: String,
    /// Stream override.
    pub os_stream: Option<String>,
    /// Enabled.
    pub enabled: bool,
    /// Last sync, RFC 3339.
    pub last_sync: Option<String>,
    /// Last sync status.
    pub last_status: Option<String>,
    /// Last error.
    pub last_error: Option<String>,
    /// Advisories stored.
    pub advisories: i64,
    /// Affected entries stored.
    pub affected: i64,
}

impl CsvRow for ApiFeed {
    const HEADER: &'static [&'static str] = &[
        "name",
        "kind",
        "url",
        "os_stream",
        "enabled",
        "last_sync",
        "last_status",
        "last_error",
        "advisories",
        "affected",
    ];
    fn fields(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.kind.clone(),
            self.url.clone(),
            opt(self.os_stream.as_ref()),
            self.enabled.to_string(),
            opt(self.last_sync.as_ref()),
            opt(self.last_status.as_ref()),
            opt(self.last_error.as_ref()),
            self.advisories.to_string(),
            self.affected.to_string(),
        ]
    }
}

/// Every feed's status.
///
/// # Errors
/// A store failure.
pub async fn feed_rows(state: &AppState) -> Result<Vec<ApiFeed>, AppError> {
    Ok(state
        .store
        .list_feeds()
        .await?
        .into_iter()
        .map(|f| ApiFeed {
            name: f.name,
            kind: f.kind.to_string(),
            url: f.url,
            os_stream: f.stream,
            enabled: f.enabled,
            last_sync: f.last_sync.as_ref().map(|s| rfc3339(s.at)),
            last_status: f.last_sync.as_ref().map(|s| s.status.as_str().to_owned()),
            last_error: f.last_sync.as_ref().and_then(|s| s.error.clone()),
            advisories: f.advisory_count,
            affected: f.affected_count,
        })
        .collect())
}

/// `GET /api/v1/feeds`.
///
/// # Errors
/// A store failure.
pub async fn feeds(
    State(state): State<AppState>,
    _viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    list(&q, "feeds", &feed_rows(&state).await?)
}

// ---- repositories ----

/// A package repository (update detection) and its last sync.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiRepository {
    /// Name.
    pub name: String,
    /// `apt`, `rpmmd` or `apk`.
    pub kind: String,
    /// URL or path.
    pub url: String,
    /// The OS stream it serves.
    pub stream: String,
    /// The arch it serves (`None`: all).
    pub arch: Option<String>,
    /// Security flag in force (operator override, else metadata).
    pub security: bool,
    /// Priority in force (operator override, else metadata), if any.
    pub priority: Option<i64>,
    /// Enabled.
    pub enabled: bool,
    /// Last sync, RFC 3339.
    pub last_sync: Option<String>,
    /// Last sync status.
    pub last_status: Option<String>,
    /// Last error.
    pub last_error: Option<String>,
    /// Package entries stored.
    pub packages: i64,
}

impl CsvRow for ApiRepository {
    const HEADER: &'static [&'static str] = &[
        "name",
        "kind",
        "url",
        "stream",
        "arch",
        "security",
        "priority",
        "enabled",
        "last_sync",
        "last_status",
        "last_error",
        "packages",
    ];
    fn fields(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.kind.clone(),
            self.url.clone(),
            self.stream.clone(),
            opt(self.arch.as_ref()),
            self.security.to_string(),
            self.priority.map(|p| p.to_string()).unwrap_or_default(),
            self.enabled.to_string(),
            opt(self.last_sync.as_ref()),
            opt(self.last_status.as_ref()),
            opt(self.last_error.as_ref()),
            self.packages.to_string(),
        ]
    }
}

/// Every repository with its last sync (no host data: any viewer may read it).
///
/// # Errors
/// A store failure.
pub async fn repository_rows(state: &AppState) -> Result<Vec<ApiRepository>, AppError> {
    Ok(state
        .store
        .list_repositories()
        .await?
        .into_iter()
        .map(|r| ApiRepository {
            security: r.is_security(),
            priority: r.priority.or(r.meta_priority),
            name: r.name,
            kind: r.kind,
            url: r.url,
            stream: r.stream,
            arch: r.arch,
            enabled: r.enabled,
            last_sync: r.last_sync.as_ref().map(|s| rfc3339(s.at)),
            last_status: r.last_sync.as_ref().map(|s| s.status.as_str().to_owned()),
            last_error: r.last_sync.as_ref().and_then(|s| s.error.clone()),
            packages: r.package_count,
        })
        .collect())
}

/// `GET /api/v1/repositories`.
///
/// # Errors
/// A store failure.
pub async fn repositories(
    State(state): State<AppState>,
    _viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    list(&q, "repositories", &repository_rows(&state).await?)
}

// ---- statistics ----

/// Fleet exposure on one day.
#[derive(Debug, Serialize, Deserialize)]
pub struct ApiExposureDay {
    /// Day, `YYYY-MM-DD`.
    pub day: String,
    /// Hosts that reported.
    pub hosts: i64,
    /// Of those, with at least one CVE.
    pub vulnerable_hosts: i64,
    /// Sum of their CVE counts.
    pub cves: i64,
}

impl CsvRow for ApiExposureDay {
    const HEADER: &'static [&'static str] = &["day", "hosts", "vulnerable_hosts", "cves"];
    fn fields(&self) -> Vec<String> {
        vec![
            self.day.clone(),
            self.hosts.to_string(),
            self.vulnerable_hosts.to_string(),
            self.cves.to_string(),
        ]
    }
}

/// Exposure per day over the last 90 days, in the viewer's scope.
///
/// # Errors
/// A store failure.
pub async fn exposure(state: &AppState, viewer: &Viewer) -> Result<Vec<ApiExposureDay>, AppError> {
    let since = OffsetDateTime::now_utc() - time::Duration::days(90);
    Ok(state
        .store
        .exposure_by_day(since, &viewer.scope)
        .await?
        .into_iter()
        .map(|d| ApiExposureDay {
            day: d.day.to_string(),
            hosts: d.hosts,
            vulnerable_hosts: d.vulnerable_hosts,
            cves: d.cves,
        })
        .collect())
}

/// `GET /api/v1/stats`.
///
/// # Errors
/// A store failure.
pub async fn stats(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    list(&q, "exposure", &exposure(&state, &viewer).await?)
}
