//! Test databases for both backends and data builders.

use std::sync::atomic::{AtomicU32, Ordering};

use pakiti_core::advisory::{Advisory, Affected, Severity, Status};
use pakiti_core::stream::OsStream;
use pakiti_store::{AnyStore, NewFeed, Store, SyncRecord, SyncStatus};
use tempfile::TempDir;
use time::OffsetDateTime;

/// One backend under test.
pub(crate) struct TestDb {
    pub(crate) store: AnyStore,
    /// How to open a second, independent store on the same database ("another process").
    pub(crate) url: String,
    pub(crate) backend: &'static str,
    _dir: Option<TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    /// Drops the PostgreSQL test database (only reached when the test passed).
    pub(crate) async fn finish(self) {
        self.store.close().await;
        if let Some((admin, name)) = self.pg {
            let store = sqlx_admin(&admin).await;
            sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&store)
                .await
                .expect("drop test database");
            store.close().await;
        }
    }
}

async fn sqlx_admin(url: &str) -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .expect("connect to PAKITI_TEST_POSTGRES_URL")
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// SQLite always; PostgreSQL too when `PAKITI_TEST_POSTGRES_URL` is set.
pub(crate) async fn backends() -> Vec<TestDb> {
    let mut out = vec![sqlite().await];
    if let Ok(admin) = std::env::var("PAKITI_TEST_POSTGRES_URL") {
        let name = format!(
            "pakiti_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000_000
        );
        let pool = sqlx_admin(&admin).await;
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&pool)
            .await
            .expect("create test database");
        pool.close().await;
        let url = with_database(&admin, &name);
        let store = pakiti_store::open(&url).await.expect("open postgres store");
        out.push(TestDb {
            store,
            url,
            backend: "postgres",
            _dir: None,
            pg: Some((admin, name)),
        });
    }
    out
}

pub(crate) async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("pakiti.db").display());
    let store = pakiti_store::open(&url).await.expect("open sqlite store");
    TestDb {
        store,
        url,
        backend: "sqlite",
        _dir: Some(dir),
        pg: None,
    }
}

/// `admin` with its database name replaced by `name`.
fn with_database(admin: &str, name: &str) -> String {
    let (base, query) = admin
        .split_once('?')
        .map_or((admin, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
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

pub(crate) async fn feed(store: &AnyStore, name: &str) -> i64 {
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
