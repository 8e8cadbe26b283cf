//! The audit log: one row per administrative change (who, what, when, through what, with
//! which outcome), appended by the server's audit middleware, its log-in handler and the CLI's
//! admin commands, read newest first by `/audit` and `GET /api/v1/audit`.
//!
//! The table keeps the newest `keep` rows (`[log] audit_kept`, 0 keeps everything), so a
//! flood of requests costs bounded space. What goes in is chosen by the callers: never a
//! password, a token or a CSRF value.

use crate::db::on;
use crate::error::StoreError;
use crate::journal::keep_newest;
use crate::shared::{from_ts, ts};
use crate::store::Store;
use time::OffsetDateTime;

/// An audit entry to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAuditEntry {
    /// When the change was made.
    pub at: OffsetDateTime,
    /// Who made it: a user name, `admin` (single-user mode), `cli:$USER`, `-` when unknown.
    pub actor: String,
    /// `web`, `api` or `cli`.
    pub via: String,
    /// The method and route (`POST /users/{name}/admin`), the command (`user add`), `login`.
    pub action: String,
    /// What it changed: the route's parameters (`name=alice`) or the command's object.
    pub target: String,
    /// Anything else worth keeping that is not a secret (the client address, `token`).
    pub detail: String,
    /// The HTTP status answered, or `ok` / `error` / `failed`.
    pub status: String,
}

/// An audit entry as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Database id (newer rows have larger ids).
    pub id: i64,
    /// The entry itself.
    pub entry: NewAuditEntry,
}

/// Which entries to read: all, or those of one actor and/or whose action starts with a prefix.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Exactly this actor.
    pub actor: Option<String>,
    /// Actions starting with this (`login`, `POST /users`, `user`).
    pub action: Option<String>,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    at: i64,
    actor: String,
    via: String,
    action: String,
    target: String,
    detail: String,
    status: String,
}

impl AuditRow {
    fn into_entry(self) -> Result<AuditEntry, StoreError> {
        Ok(AuditEntry {
            id: self.id,
            entry: NewAuditEntry {
                at: from_ts(self.at)?,
                actor: self.actor,
                via: self.via,
                action: self.action,
                target: self.target,
                detail: self.detail,
                status: self.status,
            },
        })
    }
}

/// The filter's condition, shared by the count and the page (`$1` actor, `$2` action prefix).
const WHERE: &str = "($1 IS NULL OR actor = $1) \
     AND ($2 IS NULL OR substr(action, 1, length($2)) = $2)";

impl Store {
    /// Appends an audit entry and drops all but the newest `keep` entries (0 keeps every one).
    pub async fn record_audit(&self, entry: &NewAuditEntry, keep: i64) -> Result<i64, StoreError> {
        let mut tx = self.begin().await?;
        let (id,): (i64,) = on!(&mut tx, t => sqlx::query_as(
            "INSERT INTO audit_log (at, actor, via, action, target, detail, status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(ts(entry.at))
        .bind(&entry.actor)
        .bind(&entry.via)
        .bind(&entry.action)
        .bind(&entry.target)
        .bind(&entry.detail)
        .bind(&entry.status)
        .fetch_one(&mut **t).await)?;
        if keep > 0 {
            keep_newest(&mut tx, "audit_log", id, keep).await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// Audit entries matching `filter`, newest first (`offset`, `limit`), and how many match.
    pub async fn audit_entries(
        &self,
        filter: &AuditFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<AuditEntry>, i64), StoreError> {
        let (total,): (i64,) = on!(&self.read, p => sqlx::query_as(
            &format!("SELECT COUNT(*) FROM audit_log WHERE {WHERE}")
        )
        .bind(&filter.actor)
        .bind(&filter.action)
        .fetch_one(p)
        .await)?;
        let rows: Vec<AuditRow> = on!(&self.read, p => sqlx::query_as(&format!(
            "SELECT id, at, actor, via, action, target, detail, status FROM audit_log \
             WHERE {WHERE} ORDER BY id DESC LIMIT $3 OFFSET $4"
        ))
        .bind(&filter.actor)
        .bind(&filter.action)
        .bind(limit.max(0))
        .bind(offset.max(0))
        .fetch_all(p)
        .await)?;
        let items = rows
            .into_iter()
            .map(AuditRow::into_entry)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((items, total))
    }
}
