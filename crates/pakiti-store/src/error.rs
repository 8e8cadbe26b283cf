//! The store's error type.

/// Everything a store operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL names no backend this crate has.
    #[error("unsupported database url scheme: expected sqlite://, sqlite::memory: or postgres://")]
    UnsupportedUrl,
    /// The database rejected or failed a query, or could not be reached.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// Applying the migrations failed.
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A row the caller named does not exist.
    #[error("{what} {id} not found")]
    NotFound {
        /// What was looked for (`feed`, `host`, ...).
        what: &'static str,
        /// The id or name that was looked for.
        id: String,
    },
    /// A feed with this name already exists.
    #[error("a feed named {0:?} already exists")]
    DuplicateFeed(String),
    /// A CVE already carries a tag of this name, or an identical exception exists.
    #[error("already exists: {0}")]
    Duplicate(String),
    /// A stored value could not be turned back into a domain value (an unknown stream key,
    /// status word or a damaged package blob).
    #[error("corrupt stored {what}: {detail}")]
    Corrupt {
        /// Which column or structure.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The change would leave no enabled administrator (the user named is the last one).
    #[error("{0} is the last enabled administrator; make another user an administrator first")]
    LastAdmin(String),
    /// The caller passed a value the store cannot hold (a count that overflows, an empty name).
    #[error("invalid input: {0}")]
    Invalid(String),
}

impl StoreError {
    pub(crate) fn corrupt(what: &'static str, detail: impl Into<String>) -> Self {
        StoreError::Corrupt {
            what,
            detail: detail.into(),
        }
    }

    /// Whether retrying the same transaction may succeed: PostgreSQL aborted it to break a
    /// deadlock (`40P01`) or a serialization conflict (`40001`), or SQLite was busy.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(e)) => {
                matches!(e.code().as_deref(), Some("40P01" | "40001" | "5" | "6"))
            }
            // Every connection busy for the pool's whole acquire timeout: overload, not a bug.
            StoreError::Database(sqlx::Error::PoolTimedOut) => true,
            _ => false,
        }
    }

    pub(crate) fn not_found(what: &'static str, id: impl ToString) -> Self {
        StoreError::NotFound {
            what,
            id: id.to_string(),
        }
    }
}
