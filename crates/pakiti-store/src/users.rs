//! Users, host grants, sessions and API tokens: the values, their rows, and the statements.
//!
//! The store never sees a secret: session and API tokens arrive as SHA-256 hex digests and
//! passwords as argon2 PHC strings; hashing is the server's job.

use crate::db::{Tx, is_unique_violation, on};
use crate::error::StoreError;
use crate::shared::{from_ts, ts};
use crate::store::Store;
use time::OffsetDateTime;

/// A user's database id.
pub type UserId = i64;
/// An API token's database id.
pub type ApiTokenId = i64;

/// A user, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Database id.
    pub id: UserId,
    /// Unique name (the login name, the proxy's user header or the certificate DN).
    pub name: String,
    /// The argon2 PHC string; `None` when the user cannot log in with a password.
    pub password_hash: Option<String>,
    /// Sees every host and administers the server.
    pub admin: bool,
    /// A disabled user is refused everywhere.
    pub disabled: bool,
    /// When it was created.
    pub created_at: OffsetDateTime,
}

/// A user to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewUser {
    /// Unique, non-empty name.
    pub name: String,
    /// The argon2 PHC string, if any.
    pub password_hash: Option<String>,
    /// Administrator.
    pub admin: bool,
}

/// Changes to a user; `None` fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserUpdate {
    /// `Some(None)` removes the password.
    pub password_hash: Option<Option<String>>,
    /// Administrator flag.
    pub admin: Option<bool>,
    /// Disabled flag.
    pub disabled: Option<bool>,
}

/// What a grant names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GrantKind {
    /// A host group.
    Group,
    /// A DNS domain.
    Domain,
    /// A hostname.
    Host,
}

impl GrantKind {
    /// `group`, `domain`, `host`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            GrantKind::Group => "group",
            GrantKind::Domain => "domain",
            GrantKind::Host => "host",
        }
    }

    /// The kind named `s`.
    #[must_use]
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "group" => Some(GrantKind::Group),
            "domain" => Some(GrantKind::Domain),
            "host" => Some(GrantKind::Host),
            _ => None,
        }
    }
}

/// One thing a user may see: a host group, a domain or a host.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Grant {
    /// What it names.
    pub kind: GrantKind,
    /// The group, domain or hostname (hostnames lower case).
    pub value: String,
}

/// A live browser session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// Its user.
    pub user: User,
    /// The session's CSRF token.
    pub csrf: String,
    /// When it ends.
    pub expires_at: OffsetDateTime,
}

/// An API token's metadata (never the token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiToken {
    /// Database id.
    pub id: ApiTokenId,
    /// Its user.
    pub user_id: UserId,
    /// A label.
    pub name: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it last authenticated a request.
    pub last_used_at: Option<OffsetDateTime>,
}

pub(crate) const USER_COLUMNS: &str = "id, name, password_hash, admin, disabled, created_at";
pub(crate) const TOKEN_COLUMNS: &str = "id, user_id, name, created_at, last_used_at";

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: i64,
    name: String,
    password_hash: Option<String>,
    admin: bool,
    disabled: bool,
    created_at: i64,
}

impl UserRow {
    pub(crate) fn into_user(self) -> Result<User, StoreError> {
        Ok(User {
            id: self.id,
            name: self.name,
            password_hash: self.password_hash,
            admin: self.admin,
            disabled: self.disabled,
            created_at: from_ts(self.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SessionRow {
    #[sqlx(flatten)]
    user: UserRow,
    csrf: String,
    expires_at: i64,
}

impl SessionRow {
    pub(crate) fn into_session(self) -> Result<Session, StoreError> {
        Ok(Session {
            user: self.user.into_user()?,
            csrf: self.csrf,
            expires_at: from_ts(self.expires_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow {
    id: i64,
    user_id: i64,
    name: String,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl TokenRow {
    pub(crate) fn into_token(self) -> Result<ApiToken, StoreError> {
        Ok(ApiToken {
            id: self.id,
            user_id: self.user_id,
            name: self.name,
            created_at: from_ts(self.created_at)?,
            last_used_at: self.last_used_at.map(from_ts).transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct GrantRow {
    kind: String,
    value: String,
}

impl GrantRow {
    pub(crate) fn into_grant(self) -> Result<Grant, StoreError> {
        Ok(Grant {
            kind: GrantKind::from_name(&self.kind)
                .ok_or_else(|| StoreError::corrupt("grant kind", self.kind.clone()))?,
            value: self.value,
        })
    }
}

pub(crate) fn check_name(name: &str) -> Result<(), StoreError> {
    if name.trim().is_empty() {
        return Err(StoreError::Invalid("a user needs a name".into()));
    }
    Ok(())
}

/// Fails with `LastAdmin` when `id` is the only enabled administrator, holding the enabled
/// administrators' rows locked for the rest of the transaction `tx`.
async fn keeps_an_admin(tx: &mut Tx, id: UserId) -> Result<(), StoreError> {
    let admins: Vec<(i64, String)> = on!(&mut *tx, t => sqlx::query_as(&format!(
        "SELECT id, name FROM users WHERE admin AND NOT disabled ORDER BY id{}",
        DB::LOCK
    ))
    .fetch_all(&mut **t)
    .await)?;
    if let [(only, name)] = &admins[..]
        && *only == id
    {
        return Err(StoreError::LastAdmin(name.clone()));
    }
    Ok(())
}

impl Store {
    /// Creates a user; [`StoreError::Duplicate`] when the name is taken.
    pub async fn create_user(&self, user: &NewUser) -> Result<User, StoreError> {
        check_name(&user.name)?;
        let res = on!(&self.write, p => sqlx::query_as::<_, UserRow>(&format!(
            "INSERT INTO users (name, password_hash, admin, disabled, created_at) \
             VALUES ($1, $2, $3, FALSE, $4) RETURNING {}",
            USER_COLUMNS
        ))
        .bind(&user.name)
        .bind(&user.password_hash)
        .bind(user.admin)
        .bind(ts(OffsetDateTime::now_utc()))
        .fetch_one(p).await);
        match res {
            Ok(row) => row.into_user(),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Duplicate(format!(
                "a user named {} exists",
                user.name
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// The user named `name`.
    pub async fn get_user_by_name(&self, name: &str) -> Result<Option<User>, StoreError> {
        on!(&self.read, p => sqlx::query_as::<_, UserRow>(&format!(
            "SELECT {} FROM users WHERE name = $1",
            USER_COLUMNS
        ))
        .bind(name)
        .fetch_optional(p).await)?
        .map(UserRow::into_user)
        .transpose()
    }

    /// Every user, by name.
    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        on!(&self.read, p => sqlx::query_as::<_, UserRow>(&format!(
            "SELECT {} FROM users ORDER BY name",
            USER_COLUMNS
        ))
        .fetch_all(p).await)?
        .into_iter()
        .map(UserRow::into_user)
        .collect()
    }

    /// Changes a user; `None` if it does not exist. A new password or disabling the user ends
    /// its sessions. With `keep_an_admin`, demoting or disabling the last enabled
    /// administrator fails with [`StoreError::LastAdmin`], checked in the same transaction
    /// (the enabled administrators' rows are locked), so concurrent requests cannot both pass.
    pub async fn update_user(
        &self,
        id: UserId,
        update: &UserUpdate,
        keep_an_admin: bool,
    ) -> Result<Option<User>, StoreError> {
        let (set_pw, pw) = match &update.password_hash {
            Some(p) => (true, p.clone()),
            None => (false, None),
        };
        let mut tx = self.begin().await?;
        if keep_an_admin && (update.admin == Some(false) || update.disabled == Some(true)) {
            keeps_an_admin(&mut tx, id).await?;
        }
        let res = on!(&mut tx, t => sqlx::query_as::<_, UserRow>(&format!(
            "UPDATE users SET \
             password_hash = CASE WHEN $2 THEN $3 ELSE password_hash END, \
             admin = COALESCE($4, admin), disabled = COALESCE($5, disabled) \
             WHERE id = $1 RETURNING {}",
            USER_COLUMNS
        ))
        .bind(id)
        .bind(set_pw)
        .bind(pw)
        .bind(update.admin)
        .bind(update.disabled)
        .fetch_optional(&mut **t).await)?;
        if update.disabled == Some(true) || set_pw {
            // Whoever held the old password or the account loses their sessions.
            on!(&mut tx, t => sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id)
                .execute(&mut **t).await.map(|r| r.rows_affected()))?;
        }
        tx.commit().await?;
        res.map(UserRow::into_user).transpose()
    }

    /// Deletes a user with its grants, sessions and tokens; `false` if it did not exist. With
    /// `keep_an_admin`, deleting the last enabled administrator fails with
    /// [`StoreError::LastAdmin`] (checked as in [`Store::update_user`]).
    pub async fn delete_user(&self, id: UserId, keep_an_admin: bool) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        if keep_an_admin {
            keeps_an_admin(&mut tx, id).await?;
        }
        for table in ["user_grants", "sessions", "api_tokens"] {
            on!(&mut tx, t => sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
                .bind(id)
                .execute(&mut **t).await.map(|r| r.rows_affected()))?;
        }
        let n = on!(&mut tx, t => sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&mut **t).await.map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(n > 0)
    }

    /// The user's grants, by kind then value.
    pub async fn user_grants(&self, id: UserId) -> Result<Vec<Grant>, StoreError> {
        on!(&self.read, p => sqlx::query_as::<_, GrantRow>(
            "SELECT kind, value FROM user_grants WHERE user_id = $1 ORDER BY kind, value",
        )
        .bind(id)
        .fetch_all(p).await)?
        .into_iter()
        .map(GrantRow::into_grant)
        .collect()
    }

    /// Grants the user a group, domain or host; `false` if it already had it (or no such user).
    pub async fn add_grant(&self, id: UserId, grant: &Grant) -> Result<bool, StoreError> {
        if grant.value.trim().is_empty() {
            return Err(StoreError::Invalid("a grant needs a value".into()));
        }
        let n = on!(&self.write, p => sqlx::query(
            "INSERT INTO user_grants (user_id, kind, value) \
             SELECT id, $2, $3 FROM users WHERE id = $1 \
             ON CONFLICT (user_id, kind, value) DO NOTHING",
        )
        .bind(id)
        .bind(grant.kind.as_str())
        .bind(&grant.value)
        .execute(p).await.map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Takes a grant away; `false` if the user did not have it.
    pub async fn remove_grant(&self, id: UserId, grant: &Grant) -> Result<bool, StoreError> {
        let n = on!(&self.write, p => sqlx::query(
            "DELETE FROM user_grants WHERE user_id = $1 AND kind = $2 AND value = $3",
        )
        .bind(id)
        .bind(grant.kind.as_str())
        .bind(&grant.value)
        .execute(p).await.map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Records a session (by the SHA-256 hex of its cookie token) with its CSRF token, and
    /// sweeps expired ones.
    pub async fn create_session(
        &self,
        token_hash: &str,
        user: UserId,
        csrf: &str,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let now = OffsetDateTime::now_utc();
        // Expired sessions are swept whenever someone logs in.
        on!(&self.write, p => sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(ts(now))
            .execute(p).await.map(|r| r.rows_affected()))?;
        on!(&self.write, p => sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user)
        .bind(csrf)
        .bind(ts(now))
        .bind(ts(expires_at))
        .execute(p).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The unexpired session with that token hash, whose user is not disabled.
    pub async fn get_session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Session>, StoreError> {
        on!(&self.read, p => sqlx::query_as::<_, SessionRow>(
            "SELECT u.id, u.name, u.password_hash, u.admin, u.disabled, u.created_at, \
             s.csrf, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND NOT u.disabled",
        )
        .bind(token_hash)
        .bind(ts(now))
        .fetch_optional(p).await)?
        .map(SessionRow::into_session)
        .transpose()
    }

    /// Ends a session; `false` if there was none.
    pub async fn delete_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        let n = on!(&self.write, p => sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(p).await.map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Records an API token (by the SHA-256 hex of the token).
    pub async fn create_api_token(
        &self,
        user: UserId,
        token_hash: &str,
        name: &str,
    ) -> Result<ApiToken, StoreError> {
        on!(&self.write, p => sqlx::query_as::<_, TokenRow>(&format!(
            "INSERT INTO api_tokens (token_hash, user_id, name, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING {}",
            TOKEN_COLUMNS
        ))
        .bind(token_hash)
        .bind(user)
        .bind(name)
        .bind(ts(OffsetDateTime::now_utc()))
        .fetch_one(p).await)?
        .into_token()
    }

    /// A user's tokens, oldest first.
    pub async fn list_api_tokens(&self, user: UserId) -> Result<Vec<ApiToken>, StoreError> {
        on!(&self.read, p => sqlx::query_as::<_, TokenRow>(&format!(
            "SELECT {} FROM api_tokens WHERE user_id = $1 ORDER BY id",
            TOKEN_COLUMNS
        ))
        .bind(user)
        .fetch_all(p).await)?
        .into_iter()
        .map(TokenRow::into_token)
        .collect()
    }

    /// Revokes (deletes) a token; `false` if it did not exist.
    pub async fn revoke_api_token(&self, id: ApiTokenId) -> Result<bool, StoreError> {
        let n = on!(&self.write, p => sqlx::query("DELETE FROM api_tokens WHERE id = $1")
            .bind(id)
            .execute(p).await.map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// The (enabled) user a token hash belongs to, recording its use at `now`.
    pub async fn user_by_api_token(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<User>, StoreError> {
        let user: Option<i64> = on!(&self.write, p => sqlx::query_scalar(
            "UPDATE api_tokens SET last_used_at = $2 WHERE token_hash = $1 RETURNING user_id",
        )
        .bind(token_hash)
        .bind(ts(now))
        .fetch_optional(p).await)?;
        let Some(user) = user else {
            return Ok(None);
        };
        on!(&self.write, p => sqlx::query_as::<_, UserRow>(&format!(
            "SELECT {} FROM users WHERE id = $1 AND NOT disabled",
            USER_COLUMNS
        ))
        .bind(user)
        .fetch_optional(p).await)?
        .map(UserRow::into_user)
        .transpose()
    }
}
