//! CVE tags and exceptions (and the shared server secrets): rows and statements.

use crate::db::{is_unique_violation, on};
use crate::error::StoreError;
use crate::model::{CveException, CveTag, CveTagId, ExceptionId, NewCveTag, NewException};
use crate::shared::{from_ts, ts};
use crate::store::Store;
use time::OffsetDateTime;

pub(crate) const TAG_COLUMNS: &str = "id, cve, tag, reason, info_url, enabled, author, created_at";
pub(crate) const EXCEPTION_COLUMNS: &str =
    "id, cve, package, version, stream, reason, author, created_at, expires_at";

#[derive(sqlx::FromRow)]
pub(crate) struct TagRow {
    id: i64,
    cve: String,
    tag: String,
    reason: String,
    info_url: Option<String>,
    enabled: bool,
    author: String,
    created_at: i64,
}

impl TagRow {
    pub(crate) fn into_tag(self) -> Result<CveTag, StoreError> {
        Ok(CveTag {
            id: self.id,
            cve: self.cve,
            tag: self.tag,
            reason: self.reason,
            info_url: self.info_url,
            enabled: self.enabled,
            author: self.author,
            created_at: from_ts(self.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ExceptionRow {
    id: i64,
    cve: String,
    package: String,
    version: String,
    stream: String,
    reason: String,
    author: String,
    created_at: i64,
    expires_at: Option<i64>,
}

impl ExceptionRow {
    pub(crate) fn into_exception(self) -> Result<CveException, StoreError> {
        Ok(CveException {
            id: self.id,
            cve: self.cve,
            package: self.package,
            version: self.version,
            stream: self.stream,
            reason: self.reason,
            author: self.author,
            created_at: from_ts(self.created_at)?,
            expires_at: self.expires_at.map(from_ts).transpose()?,
        })
    }
}

/// Rejects empty required fields (the database would store them, but they mean nothing).
pub(crate) fn require(fields: &[(&str, &str)]) -> Result<(), StoreError> {
    for (name, value) in fields {
        if value.trim().is_empty() {
            return Err(StoreError::Invalid(format!("{name} must not be empty")));
        }
    }
    Ok(())
}

impl Store {
    /// The secret stored under `name`, storing `candidate` first if there is none: every
    /// server sharing the database gets the same value, and it survives restarts.
    pub async fn shared_secret(&self, name: &str, candidate: &str) -> Result<String, StoreError> {
        on!(&self.write, p => sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(candidate)
            .execute(p).await.map(|r| r.rows_affected()))?;
        let (value,): (String,) = on!(&self.write, p => sqlx::query_as("SELECT value FROM server_secrets WHERE name = $1")
                .bind(name)
                .fetch_one(p).await)?;
        Ok(value)
    }

    /// Tags a CVE; [`StoreError::Duplicate`] when it already carries a tag of that name.
    pub async fn create_cve_tag(&self, tag: &NewCveTag) -> Result<CveTag, StoreError> {
        require(&[
            ("cve", &tag.cve),
            ("tag", &tag.tag),
            ("author", &tag.author),
        ])?;
        let res = on!(&self.write, p => sqlx::query_as::<_, TagRow>(&format!(
            "INSERT INTO cve_tags (cve, tag, reason, info_url, enabled, author, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {TAG_COLUMNS}"
        ))
        .bind(&tag.cve)
        .bind(&tag.tag)
        .bind(&tag.reason)
        .bind(&tag.info_url)
        .bind(tag.enabled)
        .bind(&tag.author)
        .bind(ts(OffsetDateTime::now_utc()))
        .fetch_one(p).await);
        match res {
            Ok(row) => row.into_tag(),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Duplicate(format!(
                "{} is already tagged {}",
                tag.cve, tag.tag
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Every tag, by CVE then tag name.
    pub async fn list_cve_tags(&self) -> Result<Vec<CveTag>, StoreError> {
        on!(&self.read, p => sqlx::query_as::<_, TagRow>(&format!(
            "SELECT {TAG_COLUMNS} FROM cve_tags ORDER BY cve, tag, id"
        ))
        .fetch_all(p).await)?
        .into_iter()
        .map(TagRow::into_tag)
        .collect()
    }

    /// Enables or disables a tag; `None` if it does not exist.
    pub async fn set_cve_tag_enabled(
        &self,
        id: CveTagId,
        enabled: bool,
    ) -> Result<Option<CveTag>, StoreError> {
        on!(&self.write, p => sqlx::query_as::<_, TagRow>(&format!(
            "UPDATE cve_tags SET enabled = $2 WHERE id = $1 RETURNING {TAG_COLUMNS}"
        ))
        .bind(id)
        .bind(enabled)
        .fetch_optional(p).await)?
        .map(TagRow::into_tag)
        .transpose()
    }

    /// Deletes a tag, returning it; `None` if it did not exist.
    pub async fn delete_cve_tag(&self, id: CveTagId) -> Result<Option<CveTag>, StoreError> {
        on!(&self.write, p => sqlx::query_as::<_, TagRow>(&format!(
            "DELETE FROM cve_tags WHERE id = $1 RETURNING {TAG_COLUMNS}"
        ))
        .bind(id)
        .fetch_optional(p).await)?
        .map(TagRow::into_tag)
        .transpose()
    }

    /// Creates an exception; [`StoreError::Duplicate`] when one exists for the same CVE,
    /// package, version and stream.
    pub async fn create_exception(&self, e: &NewException) -> Result<CveException, StoreError> {
        require(&[
            ("cve", &e.cve),
            ("package", &e.package),
            ("version", &e.version),
            ("stream", &e.stream),
            ("author", &e.author),
        ])?;
        let res = on!(&self.write, p => sqlx::query_as::<_, ExceptionRow>(&format!(
            "INSERT INTO exceptions (cve, package, version, stream, reason, author, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {EXCEPTION_COLUMNS}"
        ))
        .bind(&e.cve)
        .bind(&e.package)
        .bind(&e.version)
        .bind(&e.stream)
        .bind(&e.reason)
        .bind(&e.author)
        .bind(ts(OffsetDateTime::now_utc()))
        .bind(e.expires_at.map(ts))
        .fetch_one(p).await);
        match res {
            Ok(row) => row.into_exception(),
            Err(err) if is_unique_violation(&err) => Err(StoreError::Duplicate(format!(
                "an exception for {} in {} {} on {} already exists",
                e.cve, e.package, e.version, e.stream
            ))),
            Err(err) => Err(err.into()),
        }
    }

    /// Every exception (expired ones too), by CVE, package, version, stream.
    pub async fn list_exceptions(&self) -> Result<Vec<CveException>, StoreError> {
        on!(&self.read, p => sqlx::query_as::<_, ExceptionRow>(&format!(
            "SELECT {EXCEPTION_COLUMNS} FROM exceptions ORDER BY cve, package, version, stream, id"
        ))
        .fetch_all(p).await)?
        .into_iter()
        .map(ExceptionRow::into_exception)
        .collect()
    }

    /// Deletes an exception, returning it; `None` if it did not exist.
    pub async fn delete_exception(
        &self,
        id: ExceptionId,
    ) -> Result<Option<CveException>, StoreError> {
        on!(&self.write, p => sqlx::query_as::<_, ExceptionRow>(&format!(
            "DELETE FROM exceptions WHERE id = $1 RETURNING {EXCEPTION_COLUMNS}"
        ))
        .bind(id)
        .fetch_optional(p).await)?
        .map(ExceptionRow::into_exception)
        .transpose()
    }
}
