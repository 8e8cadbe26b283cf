//! Upgrades that move data: a store written by an earlier schema keeps what it held.

use std::borrow::Cow;
use std::str::FromStr;

use pakiti_store::HostScope;

use crate::support::at;

/// Legacy (0018–0023) exposures: 17,000 CVEs on host 1 (so the interned detail ids need one-,
/// two- and three-byte varints in the converted blobs), all open, one with a fixed version
/// known since at(5); and one ended exposure on host 2.
const LEGACY: &str = "WITH RECURSIVE c (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 17000) \
    INSERT INTO exposures (host_id, hostname, host_group, domain, cve, severity, advisory, \
    fixed_version, fix_issued, fix_known_at, began_at, began_cause, began_report, \
    began_generation) \
    SELECT 1, 'a.example.org', 'site-a', 'example.org', 'CVE-2024-' || CAST(10000 + i AS TEXT), \
    CASE WHEN i % 2 = 0 THEN 'high' ELSE 'low' END, 'RHSA-' || CAST(i % 7 AS TEXT), \
    CASE WHEN i = 1 THEN '1.1-1' ELSE NULL END, CASE WHEN i = 1 THEN '2023-11-10' ELSE NULL END, \
    CASE WHEN i = 1 THEN 1700000005 ELSE NULL END, 1700000000, 'report', 10, 3 FROM c";

const LEGACY_ENDED: &str = "INSERT INTO exposures (host_id, hostname, host_group, domain, cve, \
    severity, advisory, fixed_version, fix_issued, fix_known_at, began_at, began_cause, \
    began_report, began_generation, ended_at, ended_cause, ended_report, ended_generation) \
    VALUES (2, 'b.example.org', NULL, NULL, 'CVE-2023-1', 'critical', 'DSA-1', '2.0-1', NULL, \
    1700000000, 1700000000, 'feed', NULL, 1, 1700000100, 'report', 11, 2)";

/// `m` without the migrations from `version` on: the schema an earlier release left.
fn before(mut m: sqlx::migrate::Migrator, version: i64) -> sqlx::migrate::Migrator {
    m.migrations = Cow::Owned(
        m.migrations
            .iter()
            .filter(|x| x.version < version)
            .cloned()
            .collect(),
    );
    m
}

/// Issue 17: migration 0024 turns one row per (host, CVE) into exposure sets. Every exposure
/// an earlier store held is there afterwards, with what the feeds said and its causes.
#[tokio::test]
async fn exposures_written_before_the_sets_survive_the_upgrade() {
    for db in pakiti_test_support::databases().await {
        // The store as the previous release left it: migrations up to 0023.
        match db.backend {
            "sqlite" => {
                let m = before(sqlx::migrate!("./migrations/sqlite"), 24);
                let opts = sqlx::sqlite::SqliteConnectOptions::from_str(&db.url)
                    .unwrap()
                    .create_if_missing(true);
                let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
                m.run(&pool).await.unwrap();
                sqlx::query(LEGACY).execute(&pool).await.unwrap();
                sqlx::query(LEGACY_ENDED).execute(&pool).await.unwrap();
                pool.close().await;
            }
            _ => {
                let m = before(sqlx::migrate!("./migrations/postgres"), 24);
                let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
                m.run(&pool).await.unwrap();
                sqlx::query(LEGACY).execute(&pool).await.unwrap();
                sqlx::query(LEGACY_ENDED).execute(&pool).await.unwrap();
                pool.close().await;
            }
        }
        let s = pakiti_store::open(&db.url).await.expect("upgrade");
        let be = db.backend;

        let open = s.open_exposures().await.unwrap();
        assert_eq!(open.len(), 17_000, "{be}");
        let mut want: Vec<(i64, String)> = (1..=17_000)
            .map(|i| (1, format!("CVE-2024-{}", 10_000 + i)))
            .collect();
        want.sort();
        assert_eq!(open, want, "{be}");

        let rows = s.host_exposures(1).await.unwrap();
        assert_eq!(rows.len(), 17_000, "{be}");
        let first = rows.iter().find(|e| e.cve == "CVE-2024-10001").unwrap();
        assert_eq!(first.severity, "low", "{be}");
        assert_eq!(first.advisory, "RHSA-1", "{be}");
        assert_eq!(first.fixed_version.as_deref(), Some("1.1-1"), "{be}");
        assert_eq!(first.fix_issued.as_deref(), Some("2023-11-10"), "{be}");
        assert_eq!(first.fix_known_at, Some(at(5)), "{be}");
        assert_eq!(first.began_at, at(0), "{be}");
        assert_eq!(first.began_cause, "report", "{be}");
        assert_eq!(first.began_report, Some(10), "{be}");
        assert_eq!(first.host_group.as_deref(), Some("site-a"), "{be}");
        let last = rows.iter().find(|e| e.cve == "CVE-2024-27000").unwrap();
        assert_eq!(
            (last.severity.as_str(), last.advisory.as_str()),
            ("high", "RHSA-4"),
            "{be}"
        );
        assert_eq!(last.fixed_version, None, "{be}");

        let ended = s.host_exposures(2).await.unwrap();
        assert_eq!(ended.len(), 1, "{be}");
        let e = &ended[0];
        assert_eq!(
            (
                e.cve.as_str(),
                e.severity.as_str(),
                e.advisory.as_str(),
                e.fixed_version.as_deref(),
                e.fix_issued.as_deref(),
            ),
            ("CVE-2023-1", "critical", "DSA-1", Some("2.0-1"), None),
            "{be}"
        );
        assert_eq!(e.ended_at, Some(at(100)), "{be}");
        assert_eq!(e.ended_cause.as_deref(), Some("report"), "{be}");
        assert_eq!(e.ended_report, Some(11), "{be}");
        assert_eq!(e.began_cause, "feed", "{be}");

        // The window's changes read the converted rows (the ended one is a loss by report).
        let changes = s
            .changes(&pakiti_store::ChangesQuery {
                since: at(50),
                until: at(200),
                scope: &HostScope::All,
            })
            .await
            .unwrap();
        assert_eq!(changes.len(), 1, "{be}: {changes:?}");
        assert_eq!(changes[0].cve.as_deref(), Some("CVE-2023-1"), "{be}");
        s.close().await;
        db.finish().await;
    }
}
