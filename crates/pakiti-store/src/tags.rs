//! Rows and statements for CVE tags and exceptions, shared by both backends (the SQL is the
//! same in SQLite and PostgreSQL).

use crate::error::StoreError;
use crate::model::{CveException, CveTag};
use crate::shared::from_ts;

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
