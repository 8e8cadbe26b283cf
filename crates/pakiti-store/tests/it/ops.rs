//! What the readiness probe and `/metrics` ask the store: `ping` and the pools' use.

use crate::support::for_each_backend;

/// `ping` answers while the store is open and fails once it is closed; every pool has a
/// positive maximum and never more open or idle connections than that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_and_pool_usage() {
    for_each_backend!(|db| {
        db.store.ping().await.unwrap();
        let usage = db.store.pool_usage();
        let names: Vec<&str> = usage.iter().map(|p| p.pool).collect();
        if db.backend == "sqlite" {
            assert_eq!(names, ["write", "read"]);
        } else {
            assert_eq!(names, ["main"]);
        }
        for p in &usage {
            assert!(p.max >= 1, "{p:?}");
            assert!(p.open <= p.max && p.idle <= p.open, "{p:?}");
        }
        assert!(
            usage.iter().any(|p| p.open >= 1),
            "ping used a connection: {usage:?}"
        );
        db.store.close().await;
        assert!(db.store.ping().await.is_err(), "{}", db.backend);
    });
}

/// The write-ahead-log position benchmarks read: PostgreSQL's moves forward with a write,
/// SQLite has none.
#[tokio::test]
async fn wal_position_moves_with_writes_on_postgresql() {
    for_each_backend!(|db| {
        let before = db.store.wal_bytes().await.unwrap();
        crate::support::feed(&db.store, "wal").await;
        let after = db.store.wal_bytes().await.unwrap();
        match db.backend {
            "sqlite" => assert_eq!((before, after), (None, None)),
            _ => {
                let (Some(b), Some(a)) = (before, after) else {
                    panic!("{}: no WAL position", db.backend);
                };
                assert!(a > b, "{}: {b} → {a}", db.backend);
            }
        }
    });
}
