//! CVE tags: `GET/POST /api/v1/tags`, `GET/PATCH/DELETE /api/v1/tags/{tag}`, the pages
//! `/tags` (list, create, enable/disable, delete) and `/tags/{tag}` (Pakiti's "CVE Tags"
//! report). Changes are an administrator's ([`AdminForm`], [`Admin`]) and refresh every host's
//! counts.

use crate::api_types::AdminRefusals;
use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use pakiti_core::advisory::Severity;
use pakiti_core::risk::{RISK_ORDER_EXPLAINED, Risk, effective_severity};
use pakiti_store::{CveTag, NewCveTag};
use serde::Deserialize;
use std::cmp::Ordering;

use crate::api_types::{
    ApiCveRisk, ApiTag, ApiTagGroup, ApiTagHost, ApiTagReport, ApiTaggedCve, TagInput, TagPatch,
    api_tag,
};
use crate::auth::{Admin, AdminForm, Viewer};
use crate::error::AppError;
use crate::export::{self, FormatQuery};

use crate::state::AppState;
use crate::web::{IdForm, VERSION, render};

pub(crate) async fn after_change(state: &AppState) -> Result<(), AppError> {
    state.engine.refresh_all_counts().await?;
    state.engine.refresh_fleet_now().await?;
    Ok(())
}

/// Creates a tag and refreshes the counts (the caller checked that the viewer is an admin).
///
/// # Errors
/// A bad or duplicate tag (400), a store failure.
pub async fn create(
    state: &AppState,
    viewer: &Viewer,
    input: TagInput,
) -> Result<CveTag, AppError> {
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
        .await?;
    after_change(state).await?;
    Ok(created)
}

/// Enables or disables a tag (the caller checked that the viewer is an admin).
///
/// # Errors
/// Unknown tag (404), a store failure.
pub async fn set_enabled(state: &AppState, id: i64, enabled: bool) -> Result<CveTag, AppError> {
    let t = state
        .store
        .set_cve_tag_enabled(id, enabled)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no tag {id}")))?;
    after_change(state).await?;
    Ok(t)
}

/// Deletes a tag (the caller checked that the viewer is an admin).
///
/// # Errors
/// Unknown tag (404), a store failure.
pub async fn delete(state: &AppState, id: i64) -> Result<(), AppError> {
    state
        .store
        .delete_cve_tag(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no tag {id}")))?;
    after_change(state).await
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
    let fleet = state.engine.fleet().await?;
    let facts = state.engine.cve_facts();
    let d = fleet.tag(tag, &viewer.scope);
    // Each CVE's severity and fixable hosts in scope, for its risk.
    let in_scope: std::collections::HashMap<String, (Severity, usize)> = fleet
        .cves(&viewer.scope)
        .into_iter()
        .map(|c| (c.cve, (c.severity, c.fixable_hosts)))
        .collect();
    let cve_risk = |cve: &str, enabled: bool| {
        let (severity, fixable) = in_scope.get(cve).copied().unwrap_or((Severity::Unknown, 0));
        let fx = facts.get(cve);
        let risk = Risk::of(enabled, fx, effective_severity(severity, fx), fixable > 0);
        (risk, fixable, ApiCveRisk::of(fx, &risk))
    };
    let mut cves: Vec<(Risk, ApiTaggedCve)> = d
        .cves
        .iter()
        .map(|(t, n)| {
            let (risk, fixable, api) = cve_risk(&t.cve, t.enabled);
            (
                risk,
                ApiTaggedCve {
                    tag: api_tag(t),
                    hosts: *n,
                    fixable_hosts: if t.enabled { fixable } else { 0 },
                    risk: api,
                },
            )
        })
        .collect();
    cves.sort_by(|(ra, a), (rb, b)| {
        rb.partial_cmp(ra)
            .unwrap_or(Ordering::Equal)
            .then(b.hosts.cmp(&a.hosts))
            .then(a.tag.cve.cmp(&b.tag.cve))
    });
    let rank: std::collections::HashMap<String, usize> = cves
        .iter()
        .enumerate()
        .map(|(i, (_, c))| (c.tag.cve.clone(), i))
        .collect();
    let mut hosts: Vec<(Option<Risk>, ApiTagHost)> = d
        .hosts
        .into_iter()
        .map(|(id, hostname, host_group, mut cves)| {
            cves.sort_by_key(|c| rank.get(c).copied().unwrap_or(usize::MAX));
            let counts = fleet.host_fix_counts(id);
            let risk = fleet.host_risk_memo(id, &facts);
            let n = |x: usize| i64::try_from(x).unwrap_or(i64::MAX);
            (
                risk,
                ApiTagHost {
                    hostname,
                    host_group,
                    cves,
                    risk: risk.map(|r| r.class().to_owned()),
                    fixable_cves: counts.map(|c| n(c.0)),
                    unfixed_cves: counts.map(|c| n(c.1)),
                },
            )
        })
        .collect();
    // Most urgent first; the fleet lists by name, which stays the order within a tie.
    hosts.sort_by(|(ra, _), (rb, _)| match (ra, rb) {
        (Some(a), Some(b)) => b.partial_cmp(a).unwrap_or(Ordering::Equal),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    });
    Ok(ApiTagReport {
        tag: d.tag,
        cves: cves.into_iter().map(|(_, c)| c).collect(),
        hosts: hosts.into_iter().map(|(_, h)| h).collect(),
        groups: d
            .groups
            .into_iter()
            .map(|(host_group, hosts)| ApiTagGroup { host_group, hosts })
            .collect(),
    })
}

/// `GET /api/v1/tags`.
///
/// # Errors
/// A store failure.
#[utoipa::path(
    get,
    path = "/api/v1/tags",
    operation_id = "tags_list",
    tag = "tags",
    params(FormatQuery),
    responses(
        (status = 200, description = "Every CVE tag", body = Vec<ApiTag>)
    )
)]
pub async fn api_list(
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
    export::list(&q, "cve-tags", &rows)
}

/// `POST /api/v1/tags`.
///
/// # Errors
/// Not an admin or a bad CSRF token (403); see [`create`].
#[utoipa::path(
    post,
    path = "/api/v1/tags",
    operation_id = "tags_create",
    tag = "tags",
    request_body = TagInput,
    responses(
        (status = 201, description = "The new tag", body = ApiTag),
        (status = 400, description = "A bad or duplicate tag"),
        AdminRefusals
    )
)]
pub async fn api_create(
    State(state): State<AppState>,
    Admin(viewer): Admin,
    Json(input): Json<TagInput>,
) -> Result<Response, AppError> {
    let t = create(&state, &viewer, input).await?;
    Ok((StatusCode::CREATED, Json(api_tag(&t))).into_response())
}

fn tag_id(s: &str) -> Result<i64, AppError> {
    s.parse()
        .map_err(|_| AppError::BadRequest(format!("{s:?} is not a tag id")))
}

/// `PATCH /api/v1/tags/{tag}` (`tag` is the numeric id).
///
/// # Errors
/// Not an admin or a bad CSRF token (403); see [`set_enabled`].
#[utoipa::path(
    patch,
    path = "/api/v1/tags/{tag}",
    operation_id = "tags_patch",
    tag = "tags",
    params(("tag" = i64, Path, description = "Tag id")),
    request_body = TagPatch,
    responses(
        (status = 200, description = "The changed tag", body = ApiTag),
        (status = 404, description = "No such tag"),
        AdminRefusals
    )
)]
pub async fn api_patch(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
    Json(p): Json<TagPatch>,
) -> Result<Json<ApiTag>, AppError> {
    let t = set_enabled(&state, tag_id(&id)?, p.enabled).await?;
    Ok(Json(api_tag(&t)))
}

/// `DELETE /api/v1/tags/{tag}` (`tag` is the numeric id).
///
/// # Errors
/// Not an admin or a bad CSRF token (403); see [`delete`].
#[utoipa::path(
    delete,
    path = "/api/v1/tags/{tag}",
    operation_id = "tags_delete",
    tag = "tags",
    params(("tag" = i64, Path, description = "Tag id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such tag"),
        AdminRefusals
    )
)]
pub async fn api_delete(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    delete(&state, tag_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/tags/{tag}` (`tag` is the tag name).
///
/// # Errors
/// See [`tag_report`].
#[utoipa::path(
    get,
    path = "/api/v1/tags/{tag}",
    operation_id = "tags_get",
    tag = "tags",
    params(("tag" = String, Path, description = "Tag name")),
    responses(
        (status = 200, description = "The report of one tag name, as Pakiti's CVE Tags page", body = ApiTagReport)
    )
)]
pub async fn api_get(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(tag): Path<String>,
) -> Result<Json<ApiTagReport>, AppError> {
    Ok(Json(tag_report(&state, &viewer, &tag).await?))
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
pub async fn list_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let tags: Vec<ApiTag> = state
        .store
        .list_cve_tags()
        .await?
        .iter()
        .map(api_tag)
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
pub async fn create_form(
    State(state): State<AppState>,
    AdminForm(viewer, f): AdminForm<TagForm>,
) -> Result<Response, AppError> {
    create(
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

/// `POST /tags/toggle`.
///
/// # Errors
/// CSRF, admin or store failures.
pub async fn toggle_form(
    State(state): State<AppState>,
    AdminForm(_, f): AdminForm<IdForm>,
) -> Result<Response, AppError> {
    set_enabled(&state, f.id, f.enabled.unwrap_or(false)).await?;
    Ok(Redirect::to("/tags").into_response())
}

/// `POST /tags/delete`.
///
/// # Errors
/// CSRF, admin or store failures.
pub async fn delete_form(
    State(state): State<AppState>,
    AdminForm(_, f): AdminForm<IdForm>,
) -> Result<Response, AppError> {
    delete(&state, f.id).await?;
    Ok(Redirect::to("/tags").into_response())
}

#[derive(Template)]
#[template(path = "tag.html")]
struct TagPage {
    version: &'static str,
    d: ApiTagReport,
    risk_order: &'static str,
}

/// The page of one tag name: its CVEs, affected hosts and groups (Pakiti's "CVE Tags").
///
/// # Errors
/// The fleet index cannot be built.
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(tag): Path<String>,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let d = tag_report(&state, &viewer, &tag).await?;
    if let Some(r) = export::export(q.format.unwrap_or_default(), "tag-hosts", &d.hosts)? {
        return Ok(r);
    }
    render(&TagPage {
        version: VERSION,
        d,
        risk_order: RISK_ORDER_EXPLAINED,
    })
}
