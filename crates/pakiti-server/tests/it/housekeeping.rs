//! Issue 15 item 3: housekeeping (report retention, the purge of silent hosts, the run log),
//! `pakiti backup` / `pakiti restore` round trips and `pakiti migrate --check`, on SQLite and
//! (with `PAKITI_TEST_POSTGRES_URL`) PostgreSQL, through the real server and the real binary.
//!
//! Data: the AlmaLinux OSV advisories and host list of `fixtures/demo` (`invariant.rs`).

use std::process::Output;

use pakiti_server::jobs::housekeeping::{self, Options};
use pakiti_store::ReportMeta;
use pakiti_test_support::{POSTGRES_ENV, TestDatabase, databases};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::invariant::{ADVISORIES, host_report, import};
use crate::support::TestServer;

const ALMA1: &str = "alma1.example.org";
const ALMA2: &str = "alma2.example.org";

/// Runs the `pakiti` binary (off the async runtime's worker threads).
async fn pakiti(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_pakiti"))
            .args(&args)
            .env("PAKITI_LOG", "warn")
            .output()
            .expect("run pakiti")
    })
    .await
    .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A server over `db` with the AlmaLinux feed imported and evaluated.
async fn server(
    db: TestDatabase,
    tweak: impl FnOnce(&mut pakiti_server::settings::Settings),
) -> TestServer {
    let s = TestServer::start(db, tweak).await;
    assert!(import(&s.state, 0, &[1; ADVISORIES]).await);
    s.state.engine.reevaluate().await.unwrap();
    s
}

async fn send(s: &TestServer, host: usize, variant: u8) {
    let (st, body) = s.post_protocol5(&host_report(host, variant)).await;
    assert_eq!(st, 200, "{}: {body}", s.backend());
}

async fn report_ids(s: &TestServer, hostname: &str) -> Vec<i64> {
    let h = s
        .state
        .store
        .get_host_by_name(hostname)
        .await
        .unwrap()
        .unwrap();
    s.state
        .store
        .host_reports(h.id, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect()
}

async fn hostnames(s: &TestServer) -> Vec<String> {
    let (st, v) = s.get_json("/api/v1/hosts").await;
    assert_eq!(st, 200, "{v}");
    let mut names: Vec<String> = v["hosts"]
        .as_array()
        .unwrap_or_else(|| panic!("no hosts list in {v}"))
        .iter()
        .map(|h| h["hostname"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// Reports beyond `reports_kept` go, then reports older than `report_max_age_days` — never a
/// host's last one; a dry run counts exactly what the run then deletes and deletes nothing;
/// every run is in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_by_count_and_age_keeps_each_hosts_last_report() {
    for db in databases().await {
        let s = server(db, |st| {
            st.housekeeping.reports_kept = 2;
            st.housekeeping.report_max_age_days = Some(90);
        })
        .await;
        let be = s.backend();
        // alma1: four changed reports; alma2: one.
        for v in 0..4 {
            send(&s, 0, v).await;
        }
        send(&s, 1, 1).await;
        let all = report_ids(&s, ALMA1).await;
        assert_eq!(all.len(), 4, "{be}");
        let now = OffsetDateTime::now_utc();

        let dry = Options {
            dry_run: true,
            vacuum: false,
        };
        let r = housekeeping::run(&s.state, now, "test", dry).await.unwrap();
        assert_eq!((r.reports_deleted, r.dry_run), (2, true), "{be}");
        assert_eq!(
            report_ids(&s, ALMA1).await,
            all,
            "{be}: a dry run deletes nothing"
        );

        // By count: the newest two of alma1 stay (host_reports is newest first).
        let r = housekeeping::run(&s.state, now, "test", Options::default())
            .await
            .unwrap();
        assert_eq!(r.reports_deleted, 2, "{be}");
        assert!(r.error.is_none(), "{be}: {:?}", r.error);
        assert_eq!(report_ids(&s, ALMA1).await, all[..2], "{be}");
        assert_eq!(report_ids(&s, ALMA2).await.len(), 1, "{be}");
        if be == "sqlite" {
            assert!(r.maintenance.contains(&"checkpoint".to_owned()), "{r:?}");
            assert!(r.maintenance.contains(&"analyze".to_owned()), "{r:?}");
        }

        // By age, 91 days later: every report is old, each host's last one stays.
        let later = now + Duration::days(91);
        let r = housekeeping::run(&s.state, later, "test", Options::default())
            .await
            .unwrap();
        assert_eq!(r.reports_deleted, 1, "{be}");
        assert_eq!(report_ids(&s, ALMA1).await, all[..1], "{be}");
        assert_eq!(report_ids(&s, ALMA2).await.len(), 1, "{be}");
        assert_eq!(hostnames(&s).await, [ALMA1, ALMA2], "{be}");
        let (st, v) = s.get_json(&format!("/api/v1/hosts/{ALMA1}")).await;
        assert_eq!(st, 200, "{be}: {v}");

        // The log, newest first.
        let runs = s.state.store.housekeeping_runs(10).await.unwrap();
        let deleted: Vec<(u64, bool)> = runs
            .iter()
            .map(|r| (r.reports_deleted, r.dry_run))
            .collect();
        assert_eq!(deleted, [(1, false), (2, false), (2, true)], "{be}");
        assert!(runs.iter().all(|r| r.started_by == "test"), "{be}");
        s.finish().await;
    }
}

/// `purge_hosts_not_seen_days`: the server's tick deletes a host silent for longer, with its
/// history; the host is gone from the lists, the purge is in the run log and shown by
/// `pakiti housekeeping show`; a host seen since stays, and the next tick does not run again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_of_hosts_not_seen_is_recorded_and_shown() {
    for db in databases().await {
        let s = server(db, |st| st.housekeeping.purge_hosts_not_seen_days = 30).await;
        let be = s.backend();
        send(&s, 0, 1).await;
        send(&s, 1, 1).await;
        let now = OffsetDateTime::now_utc();
        // alma2 reports again (unchanged) 20 days later.
        let h2 = s
            .state
            .store
            .get_host_by_name(ALMA2)
            .await
            .unwrap()
            .unwrap();
        let meta = ReportMeta {
            received_at: now + Duration::days(20),
            hash: h2.last_report_hash.clone().unwrap(),
            via_proxy: false,
            proxy_name: None,
            site: None,
            tag: None,
        };
        s.state
            .store
            .touch_unchanged_report(h2.id, &meta)
            .await
            .unwrap();
        let h1 = s
            .state
            .store
            .get_host_by_name(ALMA1)
            .await
            .unwrap()
            .unwrap();
        assert!(
            s.state
                .store
                .open_exposures()
                .await
                .unwrap()
                .iter()
                .any(|(h, _)| *h == h1.id),
            "{be}"
        );

        let later = now + Duration::days(31);
        pakiti_server::jobs::housekeeping::tick(&s.state, later).await;
        assert_eq!(hostnames(&s).await, [ALMA2], "{be}");
        let (st, _) = s.get_json(&format!("/api/v1/hosts/{ALMA1}")).await;
        assert_eq!(st, 404, "{be}");
        assert!(
            s.state
                .store
                .get_host_by_name(ALMA1)
                .await
                .unwrap()
                .is_none(),
            "{be}"
        );
        assert!(
            s.state
                .store
                .host_exposures(h1.id)
                .await
                .unwrap()
                .is_empty(),
            "{be}: the purged host's history goes with it"
        );
        let runs = s.state.store.housekeeping_runs(10).await.unwrap();
        assert_eq!(runs.len(), 1, "{be}: {runs:?}");
        let names: Vec<&str> = runs[0].purged.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, [ALMA1], "{be}");
        assert_eq!(
            runs[0].purged[0].1.unix_timestamp(),
            h1.last_report_at.unix_timestamp()
        );
        assert_eq!(runs[0].started_by, "tick");
        // The tick analyzes SQLite, and PostgreSQL when its autovacuum is off (nothing else
        // would: issue 17).
        let ours = be == "sqlite" || s.state.store.autovacuum_off().await.unwrap();
        assert_eq!(
            runs[0].maintenance.contains(&"analyze".to_owned()),
            ours,
            "{be}: {runs:?}"
        );

        // Not due again on the next tick.
        pakiti_server::jobs::housekeeping::tick(&s.state, later + Duration::seconds(30)).await;
        assert_eq!(
            s.state.store.housekeeping_runs(10).await.unwrap().len(),
            1,
            "{be}"
        );

        // What an administrator sees: the API (single-user mode: everyone is the admin) …
        let (st, v) = s.get_json("/api/v1/housekeeping").await;
        assert_eq!(st, 200, "{be}: {v}");
        assert_eq!(v[0]["purged_hosts"][0]["hostname"], ALMA1, "{be}: {v}");
        assert_eq!(v[0]["started_by"], "tick", "{be}: {v}");
        // … and the shell.
        let dir = tempfile::tempdir().unwrap();
        let out = pakiti(args(&[
            "housekeeping",
            "show",
            "--database",
            s.url(),
            "--data-dir",
            &dir.path().display().to_string(),
        ]))
        .await;
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{be}: {stdout}{}", text(&out.stderr));
        assert!(
            stdout.contains(&format!("purged host {ALMA1}")),
            "{be}: {stdout}"
        );
        assert!(stdout.contains("deleted 0 reports"), "{be}: {stdout}");
        s.finish().await;
    }
}

/// With the default settings nothing is purged and no host loses its only report, however
/// long the hosts have been silent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_by_default_purges_nothing() {
    for db in databases().await {
        let s = server(db, |_| {}).await;
        let be = s.backend();
        send(&s, 0, 1).await;
        send(&s, 1, 1).await;
        let much_later = OffsetDateTime::now_utc() + Duration::days(1000);
        let r = housekeeping::run(&s.state, much_later, "test", Options::default())
            .await
            .unwrap();
        assert!(r.purged.is_empty(), "{be}: {r:?}");
        assert_eq!((r.reports_deleted, r.exposures_deleted), (0, 0), "{be}");
        assert_eq!(hostnames(&s).await, [ALMA1, ALMA2], "{be}");
        s.finish().await;
    }
}

/// The JSON of the pages a backup must give back.
async fn pages(s: &TestServer) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        "/api/v1/hosts".to_owned(),
        format!("/api/v1/hosts/{ALMA1}"),
        "/api/v1/hosts/rocky1.example.org".to_owned(),
        "/api/v1/cves".to_owned(),
    ] {
        let (st, v) = s.get_json(&path).await;
        assert_eq!(st, 200, "{path}: {v}");
        out.push(v);
    }
    out
}

/// Deletes the store: the SQLite file (with its WAL), or drops and recreates the PostgreSQL
/// database.
async fn wipe(db: &TestDatabase) {
    if let Some(file) = pakiti_store::sqlite_file(&db.url).unwrap() {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = file.as_os_str().to_owned();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
        assert!(!file.exists());
    } else {
        let admin = std::env::var(POSTGRES_ENV).unwrap();
        let name = db
            .url
            .rsplit('/')
            .next()
            .unwrap()
            .split('?')
            .next()
            .unwrap();
        pakiti_store::Store::drop_database(&admin, name)
            .await
            .unwrap();
        pakiti_store::Store::create_database(&admin, name)
            .await
            .unwrap();
    }
}

/// `pakiti backup` of a running server's store, the store wiped, `pakiti restore`: a new server
/// over the restored store serves the same hosts list, host pages and CVE list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_wipe_restore_serves_the_same_pages() {
    for db in databases().await {
        let s = server(db, |_| {}).await;
        let be = s.backend();
        for h in 0..4 {
            send(&s, h, 1).await;
        }
        let before = pages(&s).await;
        assert_eq!(before[0]["total"], 4, "{be}");
        assert!(
            !before[3].as_array().unwrap().is_empty(),
            "{be}: {}",
            before[3]
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pakiti.backup").display().to_string();
        let url = s.url().to_owned();

        // Online: the server is running.
        let out = pakiti(args(&["backup", &file, "--database", &url])).await;
        assert!(out.status.success(), "{be}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains("backed up"), "{be}");
        // A backup never overwrites.
        let out = pakiti(args(&["backup", &file, "--database", &url])).await;
        assert!(!out.status.success(), "{be}");

        let db = s.stop().await;
        wipe(&db).await;
        let out = pakiti(args(&["migrate", "--check", "--database", &url])).await;
        assert_eq!(out.status.code(), Some(1), "{be}: {}", text(&out.stdout));

        let out = pakiti(args(&["restore", &file, "--database", &url])).await;
        assert!(
            out.status.success(),
            "{be}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        assert!(text(&out.stdout).contains("restored"), "{be}");
        let out = pakiti(args(&["migrate", "--check", "--database", &url])).await;
        assert_eq!(out.status.code(), Some(0), "{be}: {}", text(&out.stdout));

        let s = TestServer::start(db, |_| {}).await;
        let after = pages(&s).await;
        for (b, a) in before.iter().zip(&after) {
            assert_eq!(b, a, "{be}");
        }
        s.finish().await;
    }
}

/// Adds a migration this binary does not know, as a newer pakiti would have.
async fn add_future_migration(url: &str) {
    const SQL: &str = "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
                       execution_time) VALUES (99999, 'from the future', TRUE, $1, 0)";
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(SQL)
            .bind(vec![0u8])
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(SQL)
            .bind(vec![0u8])
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
}

/// `pakiti migrate --check`: 1 with the pending migrations listed on a fresh store, 0 once
/// `pakiti migrate` applied them, 2 when the store has a migration this binary lacks or
/// cannot be reached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_check_exit_codes() {
    for db in databases().await {
        let be = db.backend;
        let url = db.url.clone();
        let check = || pakiti(args(&["migrate", "--check", "--database", &url]));
        let out = check().await;
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{be}: {stdout}{}",
            text(&out.stderr)
        );
        assert!(stdout.contains("pending: 0001 (initial)"), "{be}: {stdout}");
        assert!(
            stdout.contains("pending: 0021 (housekeeping)"),
            "{be}: {stdout}"
        );
        if be == "sqlite" {
            let file = pakiti_store::sqlite_file(&url).unwrap().unwrap();
            assert!(!file.exists(), "--check creates nothing");
        }

        let out = pakiti(args(&["migrate", "--database", &url])).await;
        assert_eq!(out.status.code(), Some(0), "{be}: {}", text(&out.stderr));
        let out = check().await;
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{be}: {stdout}");
        assert!(stdout.contains("UP TO DATE"), "{be}: {stdout}");

        add_future_migration(&url).await;
        let out = check().await;
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{be}: {stdout}");
        assert!(stdout.contains("99999"), "{be}: {stdout}");
        let out = pakiti(args(&["migrate", "--database", &url])).await;
        assert_eq!(out.status.code(), Some(2), "{be}");
        db.finish().await;
    }
    let out = pakiti(args(&[
        "migrate",
        "--check",
        "--database",
        "postgres://postgres@127.0.0.1:1/unreachable",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
}

/// `pakiti restore` refuses to replace the SQLite file of a running `pakiti serve` (the server
/// would go on writing to the replaced file), and restores once the server has stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refuses_the_store_of_a_running_server() {
    let db = TestDatabase::sqlite();
    let url = db.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let (p, _base) = crate::crash::serve(&db, dir.path(), &[]).await;
    let file = dir.path().join("pakiti.backup").display().to_string();
    let out = pakiti(args(&["backup", &file, "--database", &url])).await;
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = pakiti(args(&["restore", &file, "--database", &url])).await;
    assert!(!out.status.success(), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("a pakiti server is running on"),
        "{}",
        text(&out.stderr)
    );

    p.stop();
    let out = pakiti(args(&["restore", &file, "--database", &url])).await;
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("restored"));
}
