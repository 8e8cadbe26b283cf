//! Users, host grants, sessions and API tokens: the values, their rows, and the statements,
//! which are the same SQL on SQLite and PostgreSQL (the [`users_impl!`] macro expands them
//! inside each backend's `Store` impl with that backend's pools).
//!
//! The store never sees a secret: session and API tokens arrive as SHA-256 hex digests and
//! passwords as argon2 PHC strings; hashing is the server's job.

use time::OffsetDateTime;

use crate::error::StoreError;
use crate::shared::from_ts;

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

/// Fails with `LastAdmin` when `$id` is the only enabled administrator, holding the enabled
/// administrators' rows locked (`$lock`) for the rest of the transaction `$tx`.
macro_rules! check_keeps_an_admin {
    ($tx:ident, $id:expr, $lock:literal) => {{
        let admins: Vec<(i64, String)> = sqlx::query_as(concat!(
            "SELECT id, name FROM users WHERE admin AND NOT disabled ORDER BY id",
            $lock
        ))
        .fetch_all(&mut *$tx)
        .await?;
        if let [(only, name)] = &admins[..] {
            if *only == $id {
                return Err(StoreError::LastAdmin(name.clone()));
            }
        }
    }};
}
pub(crate) use check_keeps_an_admin;

/// The `Store` methods of the users section, for a backend whose write pool is `$w` and read
/// pool `$r` (fields of `self`); `$lock` locks the rows a `SELECT` returns until the
/// transaction ends (`FOR UPDATE` on PostgreSQL; empty on SQLite, whose write transactions
/// begin `IMMEDIATE` and so already exclude every other writer).
macro_rules! users_impl {
    ($w:ident, $r:ident, $lock:literal) => {
        async fn create_user(&self, user: &NewUser) -> Result<User, StoreError> {
            crate::users::check_name(&user.name)?;
            let res = sqlx::query_as::<_, crate::users::UserRow>(&format!(
                "INSERT INTO users (name, password_hash, admin, disabled, created_at) \
                 VALUES ($1, $2, $3, FALSE, $4) RETURNING {}",
                crate::users::USER_COLUMNS
            ))
            .bind(&user.name)
            .bind(&user.password_hash)
            .bind(user.admin)
            .bind(ts(OffsetDateTime::now_utc()))
            .fetch_one(&self.$w)
            .await;
            match res {
                Ok(row) => row.into_user(),
                Err(e) if is_unique_violation(&e) => Err(StoreError::Duplicate(format!(
                    "a user named {} exists",
                    user.name
                ))),
                Err(e) => Err(e.into()),
            }
        }

        async fn get_user_by_name(&self, name: &str) -> Result<Option<User>, StoreError> {
            sqlx::query_as::<_, crate::users::UserRow>(&format!(
                "SELECT {} FROM users WHERE name = $1",
                crate::users::USER_COLUMNS
            ))
            .bind(name)
            .fetch_optional(&self.$r)
            .await?
            .map(crate::users::UserRow::into_user)
            .transpose()
        }

        async fn list_users(&self) -> Result<Vec<User>, StoreError> {
            sqlx::query_as::<_, crate::users::UserRow>(&format!(
                "SELECT {} FROM users ORDER BY name",
                crate::users::USER_COLUMNS
            ))
            .fetch_all(&self.$r)
            .await?
            .into_iter()
            .map(crate::users::UserRow::into_user)
            .collect()
        }

        async fn update_user(
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
                crate::users::check_keeps_an_admin!(tx, id, $lock);
            }
            let res = sqlx::query_as::<_, crate::users::UserRow>(&format!(
                "UPDATE users SET \
                 password_hash = CASE WHEN $2 THEN $3 ELSE password_hash END, \
                 admin = COALESCE($4, admin), disabled = COALESCE($5, disabled) \
                 WHERE id = $1 RETURNING {}",
                crate::users::USER_COLUMNS
            ))
            .bind(id)
            .bind(set_pw)
            .bind(pw)
            .bind(update.admin)
            .bind(update.disabled)
            .fetch_optional(&mut *tx)
            .await?;
            if update.disabled == Some(true) || set_pw {
                // Whoever held the old password or the account loses their sessions.
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            res.map(crate::users::UserRow::into_user).transpose()
        }

        async fn delete_user(&self, id: UserId, keep_an_admin: bool) -> Result<bool, StoreError> {
            let mut tx = self.begin().await?;
            if keep_an_admin {
                crate::users::check_keeps_an_admin!(tx, id, $lock);
            }
            for table in ["user_grants", "sessions", "api_tokens"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            let n = sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(n > 0)
        }

        async fn user_grants(&self, id: UserId) -> Result<Vec<Grant>, StoreError> {
            sqlx::query_as::<_, crate::users::GrantRow>(
                "SELECT kind, value FROM user_grants WHERE user_id = $1 ORDER BY kind, value",
            )
            .bind(id)
            .fetch_all(&self.$r)
            .await?
            .into_iter()
            .map(crate::users::GrantRow::into_grant)
            .collect()
        }

        async fn add_grant(&self, id: UserId, grant: &Grant) -> Result<bool, StoreError> {
            if grant.value.trim().is_empty() {
                return Err(StoreError::Invalid("a grant needs a value".into()));
            }
            let n = sqlx::query(
                "INSERT INTO user_grants (user_id, kind, value) \
                 SELECT id, $2, $3 FROM users WHERE id = $1 \
                 ON CONFLICT (user_id, kind, value) DO NOTHING",
            )
            .bind(id)
            .bind(grant.kind.as_str())
            .bind(&grant.value)
            .execute(&self.$w)
            .await?
            .rows_affected();
            Ok(n > 0)
        }

        async fn remove_grant(&self, id: UserId, grant: &Grant) -> Result<bool, StoreError> {
            let n = sqlx::query(
                "DELETE FROM user_grants WHERE user_id = $1 AND kind = $2 AND value = $3",
            )
            .bind(id)
            .bind(grant.kind.as_str())
            .bind(&grant.value)
            .execute(&self.$w)
            .await?
            .rows_affected();
            Ok(n > 0)
        }

        async fn create_session(
            &self,
            token_hash: &str,
            user: UserId,
            csrf: &str,
            expires_at: OffsetDateTime,
        ) -> Result<(), StoreError> {
            let now = OffsetDateTime::now_utc();
            // Expired sessions are swept whenever someone logs in.
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                .bind(ts(now))
                .execute(&self.$w)
                .await?;
            sqlx::query(
                "INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(token_hash)
            .bind(user)
            .bind(csrf)
            .bind(ts(now))
            .bind(ts(expires_at))
            .execute(&self.$w)
            .await?;
            Ok(())
        }

        async fn get_session(
            &self,
            token_hash: &str,
            now: OffsetDateTime,
        ) -> Result<Option<Session>, StoreError> {
            sqlx::query_as::<_, crate::users::SessionRow>(
                "SELECT u.id, u.name, u.password_hash, u.admin, u.disabled, u.created_at, \
                 s.csrf, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.token_hash = $1 AND s.expires_at > $2 AND NOT u.disabled",
            )
            .bind(token_hash)
            .bind(ts(now))
            .fetch_optional(&self.$r)
            .await?
            .map(crate::users::SessionRow::into_session)
            .transpose()
        }

        async fn delete_session(&self, token_hash: &str) -> Result<bool, StoreError> {
            let n = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(token_hash)
                .execute(&self.$w)
                .await?
                .rows_affected();
            Ok(n > 0)
        }

        async fn create_api_token(
            &self,
            user: UserId,
            token_hash: &str,
            name: &str,
        ) -> Result<ApiToken, StoreError> {
            sqlx::query_as::<_, crate::users::TokenRow>(&format!(
                "INSERT INTO api_tokens (token_hash, user_id, name, created_at) \
                 VALUES ($1, $2, $3, $4) RETURNING {}",
                crate::users::TOKEN_COLUMNS
            ))
            .bind(token_hash)
            .bind(user)
            .bind(name)
            .bind(ts(OffsetDateTime::now_utc()))
            .fetch_one(&self.$w)
            .await?
            .into_token()
        }

        async fn list_api_tokens(&self, user: UserId) -> Result<Vec<ApiToken>, StoreError> {
            sqlx::query_as::<_, crate::users::TokenRow>(&format!(
                "SELECT {} FROM api_tokens WHERE user_id = $1 ORDER BY id",
                crate::users::TOKEN_COLUMNS
            ))
            .bind(user)
            .fetch_all(&self.$r)
            .await?
            .into_iter()
            .map(crate::users::TokenRow::into_token)
            .collect()
        }

        async fn revoke_api_token(&self, id: ApiTokenId) -> Result<bool, StoreError> {
            let n = sqlx::query("DELETE FROM api_tokens WHERE id = $1")
                .bind(id)
                .execute(&self.$w)
                .await?
                .rows_affected();
            Ok(n > 0)
        }

        async fn user_by_api_token(
            &self,
            token_hash: &str,
            now: OffsetDateTime,
        ) -> Result<Option<User>, StoreError> {
            let user: Option<i64> = sqlx::query_scalar(
                "UPDATE api_tokens SET last_used_at = $2 WHERE token_hash = $1 RETURNING user_id",
            )
            .bind(token_hash)
            .bind(ts(now))
            .fetch_optional(&self.$w)
            .await?;
            let Some(user) = user else {
                return Ok(None);
            };
            sqlx::query_as::<_, crate::users::UserRow>(&format!(
                "SELECT {} FROM users WHERE id = $1 AND NOT disabled",
                crate::users::USER_COLUMNS
            ))
            .bind(user)
            .fetch_optional(&self.$w)
            .await?
            .map(crate::users::UserRow::into_user)
            .transpose()
        }
    };
}

pub(crate) use users_impl;
