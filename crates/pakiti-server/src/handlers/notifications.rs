//! Notification rules and their outbox (administrators only): the `/notifications` page and
//! forms (create, test-send, delete) and `/api/v1/notifications/…`. Detection and delivery
//! are in [`crate::notify`].

use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use pakiti_store::{NewNotifyRule, NotifyRule, OutboxEntry};
use serde::Deserialize;

use crate::api_types::{
    AdminRefusals, ApiNewNotifyRule, ApiNotifyRule, ApiOutboxEntry, ApiTestSend, rfc3339,
};
use crate::auth::{Admin, AdminForm, NoFields};
use crate::error::AppError;
use crate::notify::{self, TRIGGERS};
use crate::state::AppState;
use crate::web::{VERSION, render};

fn api_rule(r: &NotifyRule) -> ApiNotifyRule {
    ApiNotifyRule {
        id: r.id,
        name: r.name.clone(),
        enabled: r.enabled,
        groups: r.scope_groups.clone(),
        domains: r.scope_domains.clone(),
        triggers: r.triggers.clone(),
        not_reporting_days: r.silent_days,
        mode: r.mode.clone(),
        emails: r.emails.clone(),
        webhook_url: r.webhook_url.clone(),
        webhook_secret_set: r.webhook_secret.as_ref().is_some_and(|s| !s.is_empty()),
        author: r.author.clone(),
        created_at: rfc3339(r.created_at),
        baselined_at: r.baselined_at.map(rfc3339).unwrap_or_default(),
    }
}

fn outbox_view(e: &OutboxEntry) -> ApiOutboxEntry {
    let open = e.sent_at.is_none() && !e.gave_up;
    ApiOutboxEntry {
        id: e.id,
        rule_id: e.rule_id,
        rule: e.rule_name.clone(),
        kind: e.kind.clone(),
        destination: e.destination.clone(),
        subject: e.subject.clone(),
        status: e.status().to_owned(),
        attempts: e.attempts,
        next_attempt_at: if open {
            rfc3339(e.next_attempt_at)
        } else {
            String::new()
        },
        last_error: e.last_error.clone(),
        created_at: rfc3339(e.created_at),
        sent_at: e.sent_at.map(rfc3339).unwrap_or_default(),
    }
}

fn clean(list: &[String]) -> Vec<String> {
    let mut out: Vec<String> = list
        .iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    out.dedup();
    out
}

/// Checks and creates a rule (shared by the form and the API).
///
/// # Errors
/// Bad input or a taken name (400), a store failure.
pub async fn create_rule(
    state: &AppState,
    input: &ApiNewNotifyRule,
    author: &str,
) -> Result<NotifyRule, AppError> {
    let name = input.name.trim();
    if name.is_empty() {
        return Err(AppError::BadRequest("the rule needs a name".into()));
    }
    let triggers = clean(&input.triggers);
    if triggers.is_empty() {
        return Err(AppError::BadRequest(format!(
            "the rule needs a trigger: {}",
            TRIGGERS.join(", ")
        )));
    }
    if let Some(t) = triggers.iter().find(|t| !TRIGGERS.contains(&t.as_str())) {
        return Err(AppError::BadRequest(format!(
            "unknown trigger {t:?}: {}",
            TRIGGERS.join(", ")
        )));
    }
    if !matches!(input.mode.as_str(), "immediate" | "digest") {
        return Err(AppError::BadRequest(format!(
            "unknown mode {:?}: immediate or digest",
            input.mode
        )));
    }
    if input.not_reporting_days < 1 {
        return Err(AppError::BadRequest(
            "not_reporting_days must be at least 1".into(),
        ));
    }
    let emails = clean(&input.emails);
    if let Some(bad) = emails.iter().find(|e| !notify::smtp::valid_address(e)) {
        return Err(AppError::BadRequest(format!(
            "{bad:?} is not an e-mail address"
        )));
    }
    let url = input
        .webhook_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    let secret = input
        .webhook_secret
        .as_deref()
        .filter(|s| !s.trim().is_empty());
    if let Some(u) = url {
        match reqwest::Url::parse(u) {
            Ok(p) if matches!(p.scheme(), "http" | "https") && p.host().is_some() => {}
            _ => {
                return Err(AppError::BadRequest(format!(
                    "the webhook URL {u:?} is not an http(s) URL"
                )));
            }
        }
        if secret.is_none() {
            return Err(AppError::BadRequest(
                "a webhook needs a secret (its messages are signed with it)".into(),
            ));
        }
    }
    if emails.is_empty() && url.is_none() {
        return Err(AppError::BadRequest(
            "the rule needs a destination: e-mail addresses or a webhook URL".into(),
        ));
    }
    Ok(state
        .store
        .create_notify_rule(&NewNotifyRule {
            name: name.to_owned(),
            enabled: input.enabled,
            scope_groups: clean(&input.groups),
            scope_domains: clean(&input.domains),
            triggers,
            silent_days: input.not_reporting_days,
            mode: input.mode.clone(),
            emails,
            webhook_url: url.map(str::to_owned),
            webhook_secret: url.and(secret).map(str::to_owned),
            author: author.to_owned(),
        })
        .await?)
}

async fn find_rule(state: &AppState, id: i64) -> Result<NotifyRule, AppError> {
    state
        .store
        .get_notify_rule(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no notification rule {id}")))
}

/// A rule as the page shows it.
struct RuleView {
    rule: ApiNotifyRule,
    scope: String,
    triggers: String,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    version: &'static str,
    csrf: String,
    rules: Vec<RuleView>,
    outbox: Vec<ApiOutboxEntry>,
    queued: Option<usize>,
    digest_hour: u8,
    smtp_host: String,
}

/// `?queued=` after a test-send.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PageQuery {
    /// Messages a test-send queued.
    pub queued: Option<usize>,
}

/// `GET /notifications`: the rules, a form to add one, and the outbox.
///
/// # Errors
/// Not an admin (403), a store failure.
pub async fn page(
    State(state): State<AppState>,
    Admin(viewer): Admin,
    Query(q): Query<PageQuery>,
) -> Result<Response, AppError> {
    let rules = state
        .store
        .list_notify_rules()
        .await?
        .iter()
        .map(|r| RuleView {
            scope: if r.scope_groups.is_empty() && r.scope_domains.is_empty() {
                "every host".to_owned()
            } else {
                r.scope_groups
                    .iter()
                    .map(|g| format!("group {g}"))
                    .chain(r.scope_domains.iter().map(|d| format!("domain {d}")))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            triggers: r
                .triggers
                .iter()
                .map(|t| {
                    if t == "not-reporting" {
                        format!("not-reporting ({} days)", r.silent_days)
                    } else {
                        t.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join(", "),
            rule: api_rule(r),
        })
        .collect();
    let outbox = state
        .store
        .list_notifications(200)
        .await?
        .iter()
        .map(outbox_view)
        .collect();
    render(&NotificationsPage {
        version: VERSION,
        csrf: viewer.csrf,
        rules,
        outbox,
        queued: q.queued,
        digest_hour: state.settings.notify.digest_hour,
        smtp_host: state.settings.notify.smtp.host.clone(),
    })
}

/// The add-rule form: lists are comma- or space-separated; one checkbox per trigger.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RuleForm {
    name: String,
    groups: String,
    domains: String,
    emails: String,
    webhook_url: String,
    webhook_secret: String,
    mode: String,
    not_reporting_days: String,
    trigger_tagged: Option<String>,
    trigger_kev: Option<String>,
    trigger_critical: Option<String>,
    trigger_not_reporting: Option<String>,
    trigger_sync_failing: Option<String>,
    trigger_refused: Option<String>,
}

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `POST /notifications`.
///
/// # Errors
/// Not an admin, bad CSRF (403), bad input (400).
pub async fn create_form(
    State(state): State<AppState>,
    AdminForm(viewer, f): AdminForm<RuleForm>,
) -> Result<Response, AppError> {
    let triggers = [
        ("tagged", &f.trigger_tagged),
        ("kev", &f.trigger_kev),
        ("critical", &f.trigger_critical),
        ("not-reporting", &f.trigger_not_reporting),
        ("sync-failing", &f.trigger_sync_failing),
        ("refused", &f.trigger_refused),
    ]
    .into_iter()
    .filter(|(_, v)| v.is_some())
    .map(|(t, _)| t.to_owned())
    .collect();
    let days = f.not_reporting_days.trim();
    let input = ApiNewNotifyRule {
        name: f.name,
        enabled: true,
        groups: words(&f.groups),
        domains: words(&f.domains),
        triggers,
        not_reporting_days: if days.is_empty() {
            2
        } else {
            days.parse().map_err(|_| {
                AppError::BadRequest(format!("not-reporting days {days:?} is not a number"))
            })?
        },
        mode: if f.mode.is_empty() {
            "immediate".into()
        } else {
            f.mode
        },
        emails: words(&f.emails),
        webhook_url: Some(f.webhook_url),
        webhook_secret: Some(f.webhook_secret),
    };
    create_rule(&state, &input, &viewer.author()).await?;
    Ok(Redirect::to("/notifications").into_response())
}

/// `POST /notifications/{id}/test`: a test message to every destination of the rule.
///
/// # Errors
/// Not an admin, bad CSRF (403), unknown rule (404).
pub async fn test_form(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(_, NoFields {}): AdminForm<NoFields>,
) -> Result<Response, AppError> {
    let rule = find_rule(&state, id).await?;
    let n = notify::test_send(&state, &rule).await?;
    Ok(Redirect::to(&format!("/notifications?queued={n}")).into_response())
}

/// `POST /notifications/{id}/delete`.
///
/// # Errors
/// Not an admin, bad CSRF (403), unknown rule (404).
pub async fn delete_form(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(_, NoFields {}): AdminForm<NoFields>,
) -> Result<Response, AppError> {
    if !state.store.delete_notify_rule(id).await? {
        return Err(AppError::NotFound(format!("no notification rule {id}")));
    }
    Ok(Redirect::to("/notifications").into_response())
}

/// Every notification rule.
///
/// # Errors
/// Not an admin (403), a store failure.
#[utoipa::path(
    get,
    path = "/api/v1/notifications/rules",
    operation_id = "notification_rules_list",
    tag = "notifications",
    responses(
        (status = 200, description = "Every rule, by name", body = Vec<ApiNotifyRule>),
        AdminRefusals
    )
)]
pub async fn api_list_rules(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Vec<ApiNotifyRule>>, AppError> {
    Ok(Json(
        state
            .store
            .list_notify_rules()
            .await?
            .iter()
            .map(api_rule)
            .collect(),
    ))
}

/// Creates a notification rule.
///
/// # Errors
/// Not an admin (403), bad input or a taken name (400).
#[utoipa::path(
    post,
    path = "/api/v1/notifications/rules",
    operation_id = "notification_rules_create",
    tag = "notifications",
    request_body = ApiNewNotifyRule,
    responses(
        (status = 201, description = "The new rule", body = ApiNotifyRule),
        (status = 400, description = "Bad input or a duplicate name"),
        AdminRefusals
    )
)]
pub async fn api_create_rule(
    State(state): State<AppState>,
    Admin(viewer): Admin,
    Json(input): Json<ApiNewNotifyRule>,
) -> Result<Response, AppError> {
    let rule = create_rule(&state, &input, &viewer.author()).await?;
    Ok((StatusCode::CREATED, Json(api_rule(&rule))).into_response())
}

/// One notification rule.
///
/// # Errors
/// Not an admin (403), unknown rule (404).
#[utoipa::path(
    get,
    path = "/api/v1/notifications/rules/{id}",
    operation_id = "notification_rules_get",
    tag = "notifications",
    params(("id" = i64, Path, description = "Rule id")),
    responses(
        (status = 200, description = "The rule", body = ApiNotifyRule),
        (status = 404, description = "No such rule"),
        AdminRefusals
    )
)]
pub async fn api_get_rule(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<i64>,
) -> Result<Json<ApiNotifyRule>, AppError> {
    Ok(Json(api_rule(&find_rule(&state, id).await?)))
}

/// Deletes a notification rule (its outbox rows stay, without a rule).
///
/// # Errors
/// Not an admin (403), unknown rule (404).
#[utoipa::path(
    delete,
    path = "/api/v1/notifications/rules/{id}",
    operation_id = "notification_rules_delete",
    tag = "notifications",
    params(("id" = i64, Path, description = "Rule id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such rule"),
        AdminRefusals
    )
)]
pub async fn api_delete_rule(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    if state.store.delete_notify_rule(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound(format!("no notification rule {id}")))
    }
}

/// Queues a test message to every destination of a rule and starts delivering it.
///
/// # Errors
/// Not an admin (403), unknown rule (404).
#[utoipa::path(
    post,
    path = "/api/v1/notifications/rules/{id}/test",
    operation_id = "notification_rules_test",
    tag = "notifications",
    params(("id" = i64, Path, description = "Rule id")),
    responses(
        (status = 202, description = "Queued; see the outbox for delivery", body = ApiTestSend),
        (status = 404, description = "No such rule"),
        AdminRefusals
    )
)]
pub async fn api_test_rule(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let rule = find_rule(&state, id).await?;
    let queued = notify::test_send(&state, &rule).await?;
    Ok((StatusCode::ACCEPTED, Json(ApiTestSend { queued })).into_response())
}

/// The newest outbox rows (at most `limit`, default 200), with status and last error.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(default)]
pub struct OutboxQuery {
    /// Rows to return (1–1000, default 200).
    pub limit: Option<i64>,
}

/// The outbox: every message and its delivery status, newest first.
///
/// # Errors
/// Not an admin (403), a store failure.
#[utoipa::path(
    get,
    path = "/api/v1/notifications/outbox",
    operation_id = "notification_outbox",
    tag = "notifications",
    params(OutboxQuery),
    responses(
        (status = 200, description = "Messages, newest first", body = Vec<ApiOutboxEntry>),
        AdminRefusals
    )
)]
pub async fn api_outbox(
    State(state): State<AppState>,
    _admin: Admin,
    Query(q): Query<OutboxQuery>,
) -> Result<Json<Vec<ApiOutboxEntry>>, AppError> {
    let limit = q.limit.unwrap_or(200).clamp(1, 1000);
    Ok(Json(
        state
            .store
            .list_notifications(limit)
            .await?
            .iter()
            .map(outbox_view)
            .collect(),
    ))
}
