//! Notification rules and the outbox (`/api/v1/notifications/…`, administrators).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A notification rule (never its webhook secret).
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ApiNotifyRule {
    /// Id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Evaluated on the server's tick.
    pub enabled: bool,
    /// Host groups in scope (with `domains` both empty: every host).
    pub groups: Vec<String>,
    /// DNS domains in scope.
    pub domains: Vec<String>,
    /// `tagged`, `kev`, `critical` (new exposure of a host to such a CVE), `not-reporting`,
    /// `sync-failing` (a feed's or repository's last sync failed), `refused` (a refused report).
    pub triggers: Vec<String>,
    /// Days without a report before `not-reporting` fires.
    pub not_reporting_days: i64,
    /// `immediate` or `digest` (daily, at `[notify] digest_hour` UTC).
    pub mode: String,
    /// E-mail recipients.
    pub emails: Vec<String>,
    /// Webhook URL.
    pub webhook_url: Option<String>,
    /// Whether a webhook secret is set.
    pub webhook_secret_set: bool,
    /// Who created it.
    pub author: String,
    /// RFC 3339.
    pub created_at: String,
    /// When its first evaluation recorded what was already true (RFC 3339; empty before).
    pub baselined_at: String,
}

fn yes() -> bool {
    true
}

fn two() -> i64 {
    2
}

fn immediate() -> String {
    "immediate".into()
}

/// A rule to create.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiNewNotifyRule {
    /// Unique name.
    pub name: String,
    /// Evaluated (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Host groups in scope.
    #[serde(default)]
    pub groups: Vec<String>,
    /// DNS domains in scope.
    #[serde(default)]
    pub domains: Vec<String>,
    /// At least one of `tagged`, `kev`, `critical`, `not-reporting`, `sync-failing`, `refused`.
    pub triggers: Vec<String>,
    /// Days without a report for `not-reporting` (default 2, as Pakiti 3 highlighted).
    #[serde(default = "two")]
    pub not_reporting_days: i64,
    /// `immediate` (default) or `digest`.
    #[serde(default = "immediate")]
    pub mode: String,
    /// E-mail recipients.
    #[serde(default)]
    pub emails: Vec<String>,
    /// Webhook URL (http or https).
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// The webhook's shared secret (required with a URL): the HMAC-SHA256 key of
    /// `X-Pakiti-Signature`.
    #[serde(default)]
    pub webhook_secret: Option<String>,
}

/// One message to one destination in the outbox.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ApiOutboxEntry {
    /// Id (sent as `X-Pakiti-Delivery` to webhooks).
    pub id: i64,
    /// The rule (absent once deleted).
    pub rule_id: Option<i64>,
    /// The rule's name.
    pub rule: String,
    /// `email` or `webhook`.
    pub kind: String,
    /// Address or URL.
    pub destination: String,
    /// Summary (the e-mail subject).
    pub subject: String,
    /// `pending`, `retrying`, `sent` or `failed` (given up).
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Next attempt (RFC 3339; empty once sent or given up).
    pub next_attempt_at: String,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// Queued (RFC 3339).
    pub created_at: String,
    /// Delivered (RFC 3339; empty before).
    pub sent_at: String,
}

/// What a test-send queued.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiTestSend {
    /// Messages queued (one per destination).
    pub queued: usize,
}
