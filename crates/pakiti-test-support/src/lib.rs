//! Test databases and data paths shared by the integration tests of the other crates.
//!
//! [`databases`] gives a temp-file SQLite database always, and a fresh PostgreSQL database too
//! when `PAKITI_TEST_POSTGRES_URL` names an admin connection (CI sets it). A PostgreSQL
//! database is dropped by [`TestDatabase::finish`], which a test calls when it passed; a failed
//! test leaves it for inspection.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tempfile::TempDir;

/// The environment variable that names the PostgreSQL admin URL for tests.
pub const POSTGRES_ENV: &str = "PAKITI_TEST_POSTGRES_URL";

/// One database under test.
pub struct TestDatabase {
    /// Its URL (`sqlite://…` or `postgres://…`).
    pub url: String,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    _dir: Option<TempDir>,
    pg: Option<(String, String)>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

async fn admin_pool(url: &str) -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {POSTGRES_ENV}: {e}"))
}

impl TestDatabase {
    /// A new SQLite file in a temp directory (removed with the value).
    ///
    /// # Panics
    /// When no temp directory can be made.
    #[must_use]
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        TestDatabase {
            url: format!("sqlite://{}", dir.path().join("pakiti.db").display()),
            backend: "sqlite",
            _dir: Some(dir),
            pg: None,
        }
    }

    /// A new, empty PostgreSQL database on the server `admin` points at.
    ///
    /// # Panics
    /// When the server cannot be reached or the database cannot be created.
    pub async fn postgres(admin: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "pakiti_test_{}_{}_{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let pool = admin_pool(admin).await;
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&pool)
            .await
            .expect("create test database");
        pool.close().await;
        TestDatabase {
            url: with_database(admin, &name),
            backend: "postgres",
            _dir: None,
            pg: Some((admin.to_owned(), name)),
        }
    }

    /// Drops the PostgreSQL database (call when the test passed); nothing for SQLite.
    ///
    /// # Panics
    /// When the database cannot be dropped.
    pub async fn finish(self) {
        if let Some((admin, name)) = &self.pg {
            let pool = admin_pool(admin).await;
            sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&pool)
                .await
                .expect("drop test database");
            pool.close().await;
        }
    }
}

/// SQLite always; PostgreSQL too when [`POSTGRES_ENV`] is set.
pub async fn databases() -> Vec<TestDatabase> {
    let mut out = vec![TestDatabase::sqlite()];
    if let Ok(admin) = std::env::var(POSTGRES_ENV) {
        out.push(TestDatabase::postgres(&admin).await);
    }
    out
}

/// `admin` with its database name replaced by `name`.
#[must_use]
pub fn with_database(admin: &str, name: &str) -> String {
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

/// `shared/data/` beside the repository.
#[must_use]
pub fn shared_data() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"))
}

/// The repository's `fixtures/` directory.
#[must_use]
pub fn fixtures() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures"))
}

static PORTS: AtomicU32 = AtomicU32::new(0);

/// A free TCP port on 127.0.0.1 for a server a test starts in another process (which has to
/// be told its port). The port comes from below the kernel's ephemeral range (32768–60999 on
/// Linux), so no socket bound to port 0 — the servers other tests start in this process — can
/// take it between this check and the child's bind; the start is spread by the process id and
/// each call takes the next, so parallel tests and test processes do not pick the same one.
pub fn spare_port() -> u16 {
    const LOW: u32 = 10_000;
    const SPAN: u32 = 22_000;
    let start = std::process::id().wrapping_mul(7_919) % SPAN;
    for _ in 0..SPAN {
        let n = PORTS.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(LOW + (start + n) % SPAN).expect("below 32,000");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port on 127.0.0.1 between {LOW} and {}", LOW + SPAN);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            with_database("postgres://u@h:5432/test", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
