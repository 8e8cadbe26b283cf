//! Notifications (#14): rules, the "already told" subjects of each rule, the digest backlog
//! and the durable outbox the server's sender delivers from.
//!
//! Detection (in the server) compares what is true now with [`Store::notify_seen`]; what is
//! new goes, in one transaction ([`Store::notify_commit`]), into `notify_seen` and into the
//! outbox (immediate rules) or the digest backlog (digest rules). A crash between detection and
//! commit only repeats the detection; after the commit nothing is detected twice, and every
//! queued message survives a restart.

use std::collections::HashSet;

use time::OffsetDateTime;

use crate::db::{is_unique_violation, on};
use crate::error::StoreError;
use crate::shared::{from_ts, ts};
use crate::store::Store;
use crate::tags::require;

/// A rule's database id.
pub type NotifyRuleId = i64;
/// An outbox row's database id.
pub type OutboxId = i64;

/// A notification rule as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyRule {
    /// Database id.
    pub id: NotifyRuleId,
    /// Unique name.
    pub name: String,
    /// Disabled rules are not evaluated (test-send still works).
    pub enabled: bool,
    /// Host groups in scope; with `scope_domains` both empty, every host.
    pub scope_groups: Vec<String>,
    /// DNS domains in scope.
    pub scope_domains: Vec<String>,
    /// `tagged`, `kev`, `critical`, `not-reporting`, `sync-failing`, `refused`.
    pub triggers: Vec<String>,
    /// `not-reporting`: days without a report.
    pub silent_days: i64,
    /// `immediate` or `digest`.
    pub mode: String,
    /// E-mail recipients.
    pub emails: Vec<String>,
    /// Webhook URL.
    pub webhook_url: Option<String>,
    /// Webhook shared secret (HMAC-SHA256 key).
    pub webhook_secret: Option<String>,
    /// Who created it.
    pub author: String,
    /// When.
    pub created_at: OffsetDateTime,
    /// When the first evaluation recorded what was already true (without sending it).
    pub baselined_at: Option<OffsetDateTime>,
    /// When the last digest was made (digest rules).
    pub last_digest_at: Option<OffsetDateTime>,
}

/// A rule to create.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewNotifyRule {
    /// Unique name.
    pub name: String,
    /// Evaluated?
    pub enabled: bool,
    /// Host groups in scope.
    pub scope_groups: Vec<String>,
    /// DNS domains in scope.
    pub scope_domains: Vec<String>,
    /// Triggers.
    pub triggers: Vec<String>,
    /// Days without a report for `not-reporting`.
    pub silent_days: i64,
    /// `immediate` or `digest`.
    pub mode: String,
    /// E-mail recipients.
    pub emails: Vec<String>,
    /// Webhook URL.
    pub webhook_url: Option<String>,
    /// Webhook secret.
    pub webhook_secret: Option<String>,
    /// Who creates it.
    pub author: String,
}

/// One message to one destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Database id.
    pub id: OutboxId,
    /// The rule (`None` once deleted).
    pub rule_id: Option<NotifyRuleId>,
    /// The rule's name when queued.
    pub rule_name: String,
    /// `email` or `webhook`.
    pub kind: String,
    /// The address or URL.
    pub destination: String,
    /// A one-line summary (the e-mail subject).
    pub subject: String,
    /// The message (JSON: the webhook body; the e-mail is rendered from it).
    pub payload: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// When the sender tries next.
    pub next_attempt_at: OffsetDateTime,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// When queued.
    pub created_at: OffsetDateTime,
    /// When delivered.
    pub sent_at: Option<OffsetDateTime>,
    /// Given up after the configured number of attempts.
    pub gave_up: bool,
}

impl OutboxEntry {
    /// `sent`, `failed` (given up), `retrying` (an attempt failed) or `pending`.
    #[must_use]
    pub fn status(&self) -> &'static str {
        if self.sent_at.is_some() {
            "sent"
        } else if self.gave_up {
            "failed"
        } else if self.attempts > 0 {
            "retrying"
        } else {
            "pending"
        }
    }
}

/// A message to queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOutboxEntry {
    /// The rule.
    pub rule_id: Option<NotifyRuleId>,
    /// Its name.
    pub rule_name: String,
    /// `email` or `webhook`.
    pub kind: String,
    /// The address or URL.
    pub destination: String,
    /// A one-line summary.
    pub subject: String,
    /// The message.
    pub payload: String,
}

const RULE_COLUMNS: &str = "id, name, enabled, scope_groups, scope_domains, triggers, silent_days, \
     mode, emails, webhook_url, webhook_secret, author, created_at, baselined_at, last_digest_at";
const OUTBOX_COLUMNS: &str = "id, rule_id, rule_name, kind, destination, subject, payload, \
     attempts, next_attempt_at, last_error, created_at, sent_at, gave_up";

fn split(s: &str) -> Vec<String> {
    s.split('\n')
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

fn join(v: &[String]) -> String {
    v.iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(sqlx::FromRow)]
struct RuleRow {
    id: i64,
    name: String,
    enabled: bool,
    scope_groups: String,
    scope_domains: String,
    triggers: String,
    silent_days: i64,
    mode: String,
    emails: String,
    webhook_url: Option<String>,
    webhook_secret: Option<String>,
    author: String,
    created_at: i64,
    baselined_at: Option<i64>,
    last_digest_at: Option<i64>,
}

impl RuleRow {
    fn into_rule(self) -> Result<NotifyRule, StoreError> {
        Ok(NotifyRule {
            id: self.id,
            name: self.name,
            enabled: self.enabled,
            scope_groups: split(&self.scope_groups),
            scope_domains: split(&self.scope_domains),
            triggers: split(&self.triggers),
            silent_days: self.silent_days,
            mode: self.mode,
            emails: split(&self.emails),
            webhook_url: self.webhook_url,
            webhook_secret: self.webhook_secret,
            author: self.author,
            created_at: from_ts(self.created_at)?,
            baselined_at: self.baselined_at.map(from_ts).transpose()?,
            last_digest_at: self.last_digest_at.map(from_ts).transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct OutboxRow {
    id: i64,
    rule_id: Option<i64>,
    rule_name: String,
    kind: String,
    destination: String,
    subject: String,
    payload: String,
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
    created_at: i64,
    sent_at: Option<i64>,
    gave_up: bool,
}

impl OutboxRow {
    fn into_entry(self) -> Result<OutboxEntry, StoreError> {
        Ok(OutboxEntry {
            id: self.id,
            rule_id: self.rule_id,
            rule_name: self.rule_name,
            kind: self.kind,
            destination: self.destination,
            subject: self.subject,
            payload: self.payload,
            attempts: self.attempts,
            next_attempt_at: from_ts(self.next_attempt_at)?,
            last_error: self.last_error,
            created_at: from_ts(self.created_at)?,
            sent_at: self.sent_at.map(from_ts).transpose()?,
            gave_up: self.gave_up,
        })
    }
}

impl Store {
    /// Creates a rule; [`StoreError::Duplicate`] when the name is taken. The rule's last
    /// digest time starts at its creation (the first digest is the next one due).
    pub async fn create_notify_rule(&self, r: &NewNotifyRule) -> Result<NotifyRule, StoreError> {
        require(&[("name", &r.name), ("mode", &r.mode), ("author", &r.author)])?;
        if r.triggers.is_empty() {
            return Err(StoreError::Invalid("a rule needs a trigger".into()));
        }
        let now = ts(OffsetDateTime::now_utc());
        let res = on!(&self.write, p => sqlx::query_as::<_, RuleRow>(&format!(
            "INSERT INTO notify_rules (name, enabled, scope_groups, scope_domains, triggers, \
             silent_days, mode, emails, webhook_url, webhook_secret, author, created_at, \
             last_digest_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) \
             RETURNING {RULE_COLUMNS}"
        ))
        .bind(r.name.trim())
        .bind(r.enabled)
        .bind(join(&r.scope_groups))
        .bind(join(&r.scope_domains))
        .bind(join(&r.triggers))
        .bind(r.silent_days)
        .bind(&r.mode)
        .bind(join(&r.emails))
        .bind(&r.webhook_url)
        .bind(&r.webhook_secret)
        .bind(&r.author)
        .bind(now)
        .fetch_one(p).await);
        match res {
            Ok(row) => row.into_rule(),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Duplicate(format!(
                "a notification rule named {} already exists",
                r.name.trim()
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Every rule, by name.
    pub async fn list_notify_rules(&self) -> Result<Vec<NotifyRule>, StoreError> {
        on!(&self.read, p => sqlx::query_as::<_, RuleRow>(&format!(
            "SELECT {RULE_COLUMNS} FROM notify_rules ORDER BY name, id"
        ))
        .fetch_all(p).await)?
        .into_iter()
        .map(RuleRow::into_rule)
        .collect()
    }

    /// One rule.
    pub async fn get_notify_rule(
        &self,
        id: NotifyRuleId,
    ) -> Result<Option<NotifyRule>, StoreError> {
        on!(&self.read, p => sqlx::query_as::<_, RuleRow>(&format!(
            "SELECT {RULE_COLUMNS} FROM notify_rules WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(p).await)?
        .map(RuleRow::into_rule)
        .transpose()
    }

    /// Deletes a rule with its seen subjects and digest backlog (its outbox rows stay, with
    /// no rule); whether it existed.
    pub async fn delete_notify_rule(&self, id: NotifyRuleId) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        on!(&mut tx, t => sqlx::query("DELETE FROM notify_seen WHERE rule_id = $1")
            .bind(id).execute(&mut **t).await.map(|_| ()))?;
        on!(&mut tx, t => sqlx::query("DELETE FROM notify_digest WHERE rule_id = $1")
            .bind(id).execute(&mut **t).await.map(|_| ()))?;
        on!(&mut tx, t => sqlx::query("UPDATE notify_outbox SET rule_id = NULL WHERE rule_id = $1")
            .bind(id).execute(&mut **t).await.map(|_| ()))?;
        let n = on!(&mut tx, t => sqlx::query("DELETE FROM notify_rules WHERE id = $1")
            .bind(id).execute(&mut **t).await.map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(n > 0)
    }

    /// The subjects rule `id` has already told about (or baselined).
    pub async fn notify_seen(&self, id: NotifyRuleId) -> Result<HashSet<String>, StoreError> {
        let rows: Vec<(String,)> = on!(&self.read, p => sqlx::query_as(
            "SELECT subject FROM notify_seen WHERE rule_id = $1"
        )
        .bind(id)
        .fetch_all(p).await)?;
        Ok(rows.into_iter().map(|(s,)| s).collect())
    }

    /// Records, in one transaction, that rule `id` told about `subjects` at `at`, queues
    /// `outbox` and appends `digest` events to its backlog; with `baseline`, also marks the
    /// rule baselined. Subjects already recorded are left as they are.
    pub async fn notify_commit(
        &self,
        id: NotifyRuleId,
        subjects: &[String],
        outbox: &[NewOutboxEntry],
        digest: &[String],
        baseline: bool,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let at = ts(at);
        let mut tx = self.begin().await?;
        let mut inserted = 0;
        for s in subjects {
            inserted += on!(&mut tx, t => sqlx::query(
                "INSERT INTO notify_seen (rule_id, subject, seen_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (rule_id, subject) DO NOTHING"
            )
            .bind(id).bind(s).bind(at).execute(&mut **t).await.map(|r| r.rows_affected()))?;
        }
        if !subjects.is_empty() && inserted == 0 {
            // Another server sharing the database recorded (and queued) them first.
            tx.commit().await?;
            return Ok(());
        }
        for e in digest {
            on!(&mut tx, t => sqlx::query(
                "INSERT INTO notify_digest (rule_id, event, at) VALUES ($1, $2, $3)"
            )
            .bind(id).bind(e).bind(at).execute(&mut **t).await.map(|_| ()))?;
        }
        insert_outbox(&mut tx, outbox, at).await?;
        if baseline {
            on!(&mut tx, t => sqlx::query(
                "UPDATE notify_rules SET baselined_at = $2 WHERE id = $1 AND baselined_at IS NULL"
            )
            .bind(id).bind(at).execute(&mut **t).await.map(|_| ()))?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Forgets subjects of rule `id` (a condition that ended: the next occurrence is new).
    pub async fn notify_forget(
        &self,
        id: NotifyRuleId,
        subjects: &[String],
    ) -> Result<(), StoreError> {
        if subjects.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        for s in subjects {
            on!(&mut tx, t => sqlx::query(
                "DELETE FROM notify_seen WHERE rule_id = $1 AND subject = $2"
            )
            .bind(id).bind(s).execute(&mut **t).await.map(|_| ()))?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The digest backlog of rule `id`, oldest first, as (row id, event).
    pub async fn notify_digest_backlog(
        &self,
        id: NotifyRuleId,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        Ok(on!(&self.read, p => sqlx::query_as(
            "SELECT id, event FROM notify_digest WHERE rule_id = $1 ORDER BY id"
        )
        .bind(id)
        .fetch_all(p).await)?)
    }

    /// Makes rule `id`'s digest: in one transaction, drops its backlog up to row `upto`,
    /// queues `outbox` and records `at` as its last digest time.
    pub async fn notify_digest_done(
        &self,
        id: NotifyRuleId,
        upto: i64,
        outbox: &[NewOutboxEntry],
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let at = ts(at);
        let mut tx = self.begin().await?;
        on!(&mut tx, t => sqlx::query("DELETE FROM notify_digest WHERE rule_id = $1 AND id <= $2")
            .bind(id).bind(upto).execute(&mut **t).await.map(|_| ()))?;
        insert_outbox(&mut tx, outbox, at).await?;
        on!(&mut tx, t => sqlx::query("UPDATE notify_rules SET last_digest_at = $2 WHERE id = $1")
            .bind(id).bind(at).execute(&mut **t).await.map(|_| ()))?;
        tx.commit().await?;
        Ok(())
    }

    /// Queues messages (due at once).
    pub async fn enqueue_notifications(
        &self,
        outbox: &[NewOutboxEntry],
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        insert_outbox(&mut tx, outbox, ts(at)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Outbox rows due at `now` (not sent, not given up), oldest first.
    pub async fn due_notifications(
        &self,
        now: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        on!(&self.write, p => sqlx::query_as::<_, OutboxRow>(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM notify_outbox WHERE sent_at IS NULL AND gave_up = FALSE \
             AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2"
        ))
        .bind(ts(now))
        .bind(limit)
        .fetch_all(p).await)?
        .into_iter()
        .map(OutboxRow::into_entry)
        .collect()
    }

    /// Claims a due row for one attempt: moves its next attempt to `lease_until` if nobody
    /// else did since it was read (servers sharing a database deliver each row once).
    pub async fn claim_notification(
        &self,
        e: &OutboxEntry,
        lease_until: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let n = on!(&self.write, p => sqlx::query(
            "UPDATE notify_outbox SET next_attempt_at = $3 WHERE id = $1 AND next_attempt_at = $2 \
             AND sent_at IS NULL AND gave_up = FALSE"
        )
        .bind(e.id)
        .bind(ts(e.next_attempt_at))
        .bind(ts(lease_until))
        .execute(p).await.map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Records a delivered row.
    pub async fn notification_sent(
        &self,
        id: OutboxId,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        on!(&self.write, p => sqlx::query(
            "UPDATE notify_outbox SET sent_at = $2, attempts = attempts + 1, last_error = NULL \
             WHERE id = $1"
        )
        .bind(id)
        .bind(ts(at))
        .execute(p).await.map(|_| ()))?;
        Ok(())
    }

    /// Records a failed attempt: the error, the next attempt, or giving up.
    pub async fn notification_failed(
        &self,
        id: OutboxId,
        error: &str,
        next_attempt_at: OffsetDateTime,
        give_up: bool,
    ) -> Result<(), StoreError> {
        on!(&self.write, p => sqlx::query(
            "UPDATE notify_outbox SET attempts = attempts + 1, last_error = $2, \
             next_attempt_at = $3, gave_up = $4 WHERE id = $1"
        )
        .bind(id)
        .bind(error)
        .bind(ts(next_attempt_at))
        .bind(give_up)
        .execute(p).await.map(|_| ()))?;
        Ok(())
    }

    /// The newest outbox rows.
    pub async fn list_notifications(&self, limit: i64) -> Result<Vec<OutboxEntry>, StoreError> {
        on!(&self.read, p => sqlx::query_as::<_, OutboxRow>(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM notify_outbox ORDER BY id DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(p).await)?
        .into_iter()
        .map(OutboxRow::into_entry)
        .collect()
    }
}

async fn insert_outbox(
    tx: &mut crate::db::Tx,
    outbox: &[NewOutboxEntry],
    at: i64,
) -> Result<(), StoreError> {
    for m in outbox {
        on!(&mut *tx, t => sqlx::query(
            "INSERT INTO notify_outbox (rule_id, rule_name, kind, destination, subject, payload, \
             next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)"
        )
        .bind(m.rule_id)
        .bind(&m.rule_name)
        .bind(&m.kind)
        .bind(&m.destination)
        .bind(&m.subject)
        .bind(&m.payload)
        .bind(at)
        .execute(&mut **t).await.map(|_| ()))?;
    }
    Ok(())
}
