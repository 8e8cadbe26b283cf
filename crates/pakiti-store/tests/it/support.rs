//! Test databases for both backends and data builders.

use pakiti_core::advisory::{Advisory, Affected, Severity, Status};
use pakiti_core::stream::OsStream;
use pakiti_store::Store;
use pakiti_store::{NewFeed, SyncRecord, SyncStatus};
use pakiti_test_support::TestDatabase;
use time::OffsetDateTime;

/// One backend under test.
pub(crate) struct TestDb {
    pub(crate) store: Store,
    /// How to open a second, independent store on the same database ("another process").
    pub(crate) url: String,
    pub(crate) backend: &'static str,
    db: TestDatabase,
}

impl TestDb {
    /// Drops the PostgreSQL test database (only reached when the test passed).
    pub(crate) async fn finish(self) {
        self.store.close().await;
        self.db.finish().await;
    }
}

async fn open(db: TestDatabase) -> TestDb {
    let store = pakiti_store::open(&db.url).await.expect("open store");
    TestDb {
        store,
        url: db.url.clone(),
        backend: db.backend,
        db,
    }
}

/// SQLite always; PostgreSQL too when `PAKITI_TEST_POSTGRES_URL` is set.
pub(crate) async fn backends() -> Vec<TestDb> {
    let mut out = Vec::new();
    for db in pakiti_test_support::databases().await {
        out.push(open(db).await);
    }
    out
}

pub(crate) async fn sqlite() -> TestDb {
    open(TestDatabase::sqlite()).await
}

/// Runs an async check against every backend, dropping PostgreSQL databases afterwards.
macro_rules! for_each_backend {
    (|$db:ident| $body:block) => {
        for $db in crate::support::backends().await {
            $body
            $db.finish().await;
        }
    };
}
pub(crate) use for_each_backend;

pub(crate) fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_700_000_000 + secs).expect("valid timestamp")
}

pub(crate) fn stream(s: &str) -> OsStream {
    s.parse().expect("valid stream")
}

pub(crate) fn new_feed(name: &str) -> NewFeed {
    NewFeed {
        name: name.into(),
        kind: "redhat-oval".into(),
        url: format!("https://example.invalid/{name}.xml"),
        stream: None,
        enabled: true,
        interval_secs: 3600,
    }
}

pub(crate) async fn feed(store: &Store, name: &str) -> i64 {
    store
        .create_feed(&new_feed(name))
        .await
        .expect("create feed")
        .id
}

pub(crate) fn ok_sync(secs: i64) -> SyncRecord {
    SyncRecord {
        at: at(secs),
        status: SyncStatus::Ok,
        error: None,
        duration_ms: 1234,
        etag: Some(format!("\"etag-{secs}\"")),
        last_modified: Some("Tue, 01 Oct 2024 10:00:00 GMT".into()),
        checksum: Some(format!("sha256:{secs}")),
    }
}

/// An RHSA-like advisory fixing `package` in `rhel:<release>` at `fixed`.
pub(crate) fn rhsa(id: &str, release: &str, package: &str, fixed: &str) -> Advisory {
    Advisory {
        id: id.into(),
        source: "redhat-oval".into(),
        title: format!("{package} security update"),
        severity: Severity::High,
        cves: vec![format!("CVE-2024-{}", id.len() * 1000 + package.len())],
        references: vec![format!("https://access.redhat.com/errata/{id}")],
        issued: Some("2024-01-02".into()),
        updated: None,
        affected: vec![Affected::binary(
            stream(&format!("rhel:{release}")),
            package,
            Status::Fixed(fixed.into()),
        )],
    }
}

/// Enables or disables feed `id`.
pub(crate) async fn set_enabled(store: &Store, id: i64, enabled: bool) {
    store
        .update_feed(
            id,
            &pakiti_store::FeedUpdate {
                enabled: Some(enabled),
                ..pakiti_store::FeedUpdate::default()
            },
        )
        .await
        .unwrap();
}
