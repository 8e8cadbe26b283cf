//! Notifications (#14 part 6): rules that watch the fleet, and the durable outbox their
//! messages are delivered from, by e-mail ([`smtp`]) and signed webhooks ([`webhook`]).
//!
//! - **Detection** ([`rules`]) runs on the server's periodic tick ([`tick`], called by
//!   `jobs::tick`): for each enabled rule it computes what is true now (exposures of hosts in
//!   the rule's scope to tagged / KEV / critical CVEs from the fleet index and the CVE facts,
//!   hosts not reporting for N days, feeds and repositories whose last sync failed, refused
//!   reports) as *subjects*, and compares them with the rule's durable `notify_seen` rows.
//!   What is new is recorded and queued in one store transaction, so neither a restart nor
//!   another tick sends it again, and nothing is lost between detection and queueing. A
//!   rule's first evaluation records what is already true without sending it
//!   (`[notify] baseline`).
//! - **Digest** rules collect their events in a backlog that becomes one message per
//!   destination at `[notify] digest_hour` (UTC) each day.
//! - **Delivery** ([`deliver_due`], looped by [`run`]): due outbox rows are claimed (a
//!   compare-and-set on the row, so servers sharing a database send each once), sent, and
//!   either marked sent or given a `last_error` and a next attempt with exponential backoff,
//!   until `[notify] max_attempts`. A killed server resumes from the rows.

pub mod rules;
pub mod smtp;
pub mod webhook;

use std::time::Duration;

use pakiti_store::{NewOutboxEntry, NotifyRule, OutboxEntry};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::api_types::rfc3339;
use crate::state::AppState;

/// Trigger names, as rules, forms and the API spell them.
pub const TRIGGERS: &[&str] = &[
    "tagged",
    "kev",
    "critical",
    "not-reporting",
    "sync-failing",
    "refused",
];

/// One thing a rule tells about.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Event {
    /// `exposure`, `not-reporting`, `sync-failing`, `refused` or `test`.
    pub kind: String,
    /// The host, when the event is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The CVE (exposures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cve: Option<String>,
    /// Why it matched: `tagged:<tag>`, `kev`, `critical`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// One line for people.
    pub text: String,
    /// When it was detected (RFC 3339).
    pub detected_at: String,
}

/// The JSON body of a webhook (and what an e-mail is rendered from).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Message {
    /// The rule's name.
    pub rule: String,
    /// The rule's id.
    pub rule_id: i64,
    /// `immediate`, `digest` or `test`.
    pub mode: String,
    /// The events.
    pub events: Vec<Event>,
    /// When the message was made (RFC 3339).
    pub created_at: String,
}

impl Message {
    /// The e-mail subject and summary line.
    #[must_use]
    pub fn subject(&self) -> String {
        match (self.mode.as_str(), self.events.as_slice()) {
            ("test", _) => format!("[pakiti] {}: test message", self.rule),
            ("digest", ev) => format!(
                "[pakiti] {}: daily digest, {} event(s)",
                self.rule,
                ev.len()
            ),
            (_, [one]) => format!("[pakiti] {}: {}", self.rule, one.text),
            (_, ev) => format!("[pakiti] {}: {} new event(s)", self.rule, ev.len()),
        }
    }

    /// The e-mail body.
    #[must_use]
    pub fn text(&self) -> String {
        let mut out = format!(
            "pakiti notification rule \"{}\" ({}), {}:\n\n",
            self.rule, self.mode, self.created_at
        );
        for e in &self.events {
            out.push_str("- ");
            out.push_str(&e.text);
            out.push('\n');
        }
        out
    }
}

/// The outbox rows of `msg` for every destination of `rule`.
///
/// # Errors
/// The message does not serialize (it always does).
pub fn outbox_rows(rule: &NotifyRule, msg: &Message) -> anyhow::Result<Vec<NewOutboxEntry>> {
    let payload = serde_json::to_string(msg)?;
    let subject = msg.subject();
    let mut out: Vec<NewOutboxEntry> = rule
        .emails
        .iter()
        .map(|to| NewOutboxEntry {
            rule_id: Some(rule.id),
            rule_name: rule.name.clone(),
            kind: "email".into(),
            destination: to.clone(),
            subject: subject.clone(),
            payload: payload.clone(),
        })
        .collect();
    if let Some(url) = rule.webhook_url.as_ref().filter(|u| !u.is_empty()) {
        out.push(NewOutboxEntry {
            rule_id: Some(rule.id),
            rule_name: rule.name.clone(),
            kind: "webhook".into(),
            destination: url.clone(),
            subject,
            payload,
        });
    }
    Ok(out)
}

/// A message of `rule` with `events`, made at `now`.
#[must_use]
pub fn message(rule: &NotifyRule, mode: &str, events: Vec<Event>, now: OffsetDateTime) -> Message {
    Message {
        rule: rule.name.clone(),
        rule_id: rule.id,
        mode: mode.to_owned(),
        events,
        created_at: rfc3339(now),
    }
}

/// Queues a test message to every destination of `rule` and starts delivering it; returns
/// how many messages were queued.
///
/// # Errors
/// The store fails.
pub async fn test_send(state: &AppState, rule: &NotifyRule) -> anyhow::Result<usize> {
    let now = OffsetDateTime::now_utc();
    let ev = Event {
        kind: "test".into(),
        host: None,
        cve: None,
        reasons: Vec::new(),
        text: format!(
            "test message of rule \"{}\": this destination receives its notifications",
            rule.name
        ),
        detected_at: rfc3339(now),
    };
    let rows = outbox_rows(rule, &message(rule, "test", vec![ev], now))?;
    state.store.enqueue_notifications(&rows, now).await?;
    let st = state.clone();
    tokio::spawn(async move {
        if let Err(e) = deliver_due(&st, OffsetDateTime::now_utc()).await {
            tracing::warn!(error = format!("{e:#}"), "delivering notifications failed");
        }
    });
    Ok(rows.len())
}

/// The notification step of the server's tick: detect and queue (every enabled rule), make
/// the digests that are due, deliver what is due. Errors are logged; the next tick retries.
pub async fn tick(state: &AppState, now: OffsetDateTime) {
    if let Err(e) = rules::evaluate(state, now).await {
        tracing::error!(error = format!("{e:#}"), "notification rules failed");
    }
    if let Err(e) = rules::digests(state, now).await {
        tracing::error!(error = format!("{e:#}"), "notification digests failed");
    }
    if let Err(e) = deliver_due(state, now).await {
        tracing::error!(error = format!("{e:#}"), "delivering notifications failed");
    }
}

/// The delay before attempt `attempts + 1` after `attempts` failed ones: `retry_secs`
/// doubled per failure, at most 6 h.
#[must_use]
pub fn backoff(retry_secs: u64, attempts: i64) -> time::Duration {
    let exp = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    let secs = retry_secs.max(1).saturating_mul(1u64 << exp).min(6 * 3600);
    time::Duration::seconds(i64::try_from(secs).unwrap_or(6 * 3600))
}

/// Delivers the outbox rows due at `now`; returns how many were delivered.
///
/// # Errors
/// The store fails.
pub async fn deliver_due(state: &AppState, now: OffsetDateTime) -> anyhow::Result<usize> {
    let cfg = &state.settings.notify;
    let timeout = Duration::from_secs(cfg.timeout_secs.max(1));
    let due = state.store.due_notifications(now, 50).await?;
    let mut sent = 0;
    for e in due {
        let lease =
            now + time::Duration::seconds(i64::try_from(cfg.timeout_secs).unwrap_or(30) + 60);
        if !state.store.claim_notification(&e, lease).await? {
            continue;
        }
        match deliver(state, &e, timeout).await {
            Ok(()) => {
                state
                    .store
                    .notification_sent(e.id, OffsetDateTime::now_utc())
                    .await?;
                sent += 1;
            }
            Err(err) => {
                let attempts = e.attempts + 1;
                let give_up = attempts >= i64::from(cfg.max_attempts.max(1));
                let msg = format!("{err:#}");
                tracing::warn!(
                    outbox = e.id,
                    kind = e.kind,
                    destination = e.destination,
                    attempts,
                    error = msg,
                    "notification not delivered"
                );
                state
                    .store
                    .notification_failed(
                        e.id,
                        &msg,
                        now + backoff(cfg.retry_secs, attempts),
                        give_up,
                    )
                    .await?;
            }
        }
    }
    Ok(sent)
}

async fn deliver(state: &AppState, e: &OutboxEntry, timeout: Duration) -> anyhow::Result<()> {
    let msg: Message = serde_json::from_str(&e.payload)?;
    match e.kind.as_str() {
        "email" => {
            smtp::send(
                &state.settings.notify.smtp,
                &e.destination,
                &msg,
                e.id,
                timeout,
            )
            .await
        }
        "webhook" => {
            let rule = match e.rule_id {
                Some(id) => state.store.get_notify_rule(id).await?,
                None => None,
            };
            let secret = rule
                .and_then(|r| r.webhook_secret)
                .ok_or_else(|| anyhow::anyhow!("the rule was deleted: no secret to sign with"))?;
            webhook::post(&e.destination, &secret, &e.payload, e.id, timeout).await
        }
        other => anyhow::bail!("unknown destination kind {other:?}"),
    }
}

/// The sender loop: delivers due messages every `[notify] send_interval_secs`.
pub async fn run(state: AppState) {
    let every = Duration::from_secs(state.settings.notify.send_interval_secs.max(1));
    loop {
        if let Err(e) = deliver_due(&state, OffsetDateTime::now_utc()).await {
            tracing::error!(error = format!("{e:#}"), "delivering notifications failed");
        }
        tokio::time::sleep(every).await;
    }
}
