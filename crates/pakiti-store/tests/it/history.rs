//! The exposure history, hosts added and retired, the daily fleet snapshot and per-report
//! package lists (issue 14 part 5).

use pakiti_core::advisory::Severity;
use pakiti_core::package::InstalledPackage;
use pakiti_store::{
    ChangeKind, ChangesQuery, ExposureCause, ExposureContext, ExposureNow, FinishReport,
    HostCounts, HostFacts, HostIdentity, HostScope, NewReport, ReportMeta, SavedReport, Store,
};
use time::OffsetDateTime;

use crate::support::{at, for_each_backend, stream};

fn facts(group: &str) -> HostFacts {
    HostFacts {
        domain: Some("example.org".into()),
        group: Some(group.into()),
        os_name: "Rocky Linux 8.9".into(),
        stream: Some(stream("rhel:8")),
        arch: "x86_64".into(),
        kernel: "4.18.0-513.el8.x86_64".into(),
        tag: None,
        packager: "rpm".into(),
        reboot_needed: false,
        modules: Vec::new(),
        module_streams: pakiti_store::ModuleStreams::Reported,
        problems: pakiti_store::ReportProblems::default(),
        old_kernels: Vec::new(),
    }
}

async fn save(
    s: &Store,
    host: &str,
    group: &str,
    secs: i64,
    hash: &str,
    packages: &[InstalledPackage],
) -> SavedReport {
    s.save_report(NewReport {
        identity: &HostIdentity {
            hostname: host.into(),
            client_id: None,
        },
        facts: &facts(group),
        meta: &ReportMeta {
            received_at: at(secs),
            hash: hash.into(),
            via_proxy: false,
            proxy_name: None,
            site: Some(group.into()),
            tag: None,
        },
        packages,
    })
    .await
    .expect("save report")
}

fn exp(cve: &str, severity: Severity, fixed: Option<&str>) -> ExposureNow {
    ExposureNow {
        cve: cve.into(),
        severity,
        advisory: format!("RHSA-{cve}"),
        fixed_version: fixed.map(str::to_owned),
        fix_issued: fixed.map(|_| "2023-11-10".to_owned()),
    }
}

/// Finishes `r` at `secs` with `exposures` as the host's CVE set.
async fn finish(s: &Store, r: &SavedReport, secs: i64, exposures: Vec<ExposureNow>) {
    let counts = HostCounts {
        cves: i64::try_from(exposures.len()).unwrap(),
        ..HostCounts::default()
    };
    let done = s
        .finish_reports(&[FinishReport {
            report: r.report_id,
            host: r.host_id,
            processed_at: at(secs),
            counts,
            stream: None,
            evaluated: vec![],
            findings: vec![],
            updates: None,
            generation: None,
            exposures: Some(exposures),
        }])
        .await
        .expect("finish report");
    assert_eq!(done, [true]);
}

fn q(since: OffsetDateTime, until: OffsetDateTime, scope: &HostScope) -> ChangesQuery<'_> {
    ChangesQuery {
        since,
        until,
        scope,
    }
}

fn pkg(name: &str, version: &str) -> InstalledPackage {
    InstalledPackage::new(name, version, "x86_64")
}

#[tokio::test]
async fn exposures_follow_the_hosts_cve_set_with_causes() {
    for_each_backend!(|db| {
        let s = &db.store;
        let all = HostScope::All;
        let r1 = save(s, "a", "site-a", 0, "h1", &[pkg("openssl", "1.0-1")]).await;
        finish(
            s,
            &r1,
            10,
            vec![
                exp("CVE-1", Severity::High, Some("1.1-1")),
                exp("CVE-2", Severity::Low, None),
            ],
        )
        .await;
        let h = r1.host_id;
        assert_eq!(
            s.open_exposures().await.unwrap(),
            [(h, "CVE-1".to_owned()), (h, "CVE-2".to_owned())],
            "{}",
            db.backend
        );
        // The host updated openssl: CVE-1 ends (cause report), CVE-2's fix became known,
        // CVE-3 begins.
        let r2 = save(s, "a", "site-a", 100, "h2", &[pkg("openssl", "1.1-1")]).await;
        finish(
            s,
            &r2,
            110,
            vec![
                exp("CVE-2", Severity::Low, Some("2.0-1")),
                exp("CVE-3", Severity::Critical, None),
            ],
        )
        .await;
        assert_eq!(
            s.open_exposures().await.unwrap(),
            [(h, "CVE-2".to_owned()), (h, "CVE-3".to_owned())]
        );
        let rows = s.host_exposures(h).await.unwrap();
        let one = rows.iter().find(|e| e.cve == "CVE-1").unwrap();
        assert_eq!(one.ended_at, Some(at(110)));
        assert_eq!(one.ended_cause.as_deref(), Some("report"));
        assert_eq!(one.ended_report, Some(r2.report_id));
        assert_eq!(one.began_report, Some(r1.report_id));
        assert_eq!(one.severity, "high");
        assert_eq!(one.host_group.as_deref(), Some("site-a"));
        let two = rows.iter().find(|e| e.cve == "CVE-2").unwrap();
        assert_eq!(two.fixed_version.as_deref(), Some("2.0-1"));
        assert_eq!(two.fix_known_at, Some(at(110)));
        assert_eq!(two.ended_at, None);

        // Changes in a window around the second report.
        let changes = s.changes(&q(at(50), at(200), &all)).await.unwrap();
        let kinds: Vec<(ChangeKind, Option<&str>, Option<&str>)> = changes
            .iter()
            .map(|c| (c.kind, c.cve.as_deref(), c.cause.as_deref()))
            .collect();
        assert_eq!(
            kinds,
            [
                (ChangeKind::Gained, Some("CVE-3"), Some("report")),
                (ChangeKind::Lost, Some("CVE-1"), Some("report")),
                (ChangeKind::Advisory, None, None),
            ]
        );
        assert_eq!(changes[2].advisory.as_deref(), Some("RHSA-CVE-3"));
        // From the start: the host was added too.
        let changes = s.changes(&q(at(0), at(200), &all)).await.unwrap();
        assert!(
            changes
                .iter()
                .any(|c| c.kind == ChangeKind::HostAdded && c.hostname.as_deref() == Some("a"))
        );
        // Another group's viewer sees none of it.
        let other = HostScope::Restricted {
            groups: vec!["site-b".into()],
            domains: vec![],
            hosts: vec![],
        };
        assert!(
            s.changes(&q(at(0), at(200), &other))
                .await
                .unwrap()
                .is_empty()
        );

        // Time to patch: CVE-1's fix was issued 2023-11-10 (1699574400), fixed at at(110).
        let ttp = s.time_to_patch(&q(at(0), at(200), &all)).await.unwrap();
        assert_eq!(ttp.len(), 1);
        assert_eq!(ttp[0].group.as_deref(), Some("site-a"));
        assert_eq!(ttp[0].fixed, 1);
        let want = (1_700_000_110.0 - 1_699_574_400.0) / 86_400.0;
        assert!((ttp[0].median_days - want).abs() < 1e-9, "{ttp:?}");

        // A feed change withdraws CVE-2: ended with cause feed; counts written with it.
        let ctx = ExposureContext {
            at: at(300),
            cause: ExposureCause::Feed,
            report: None,
            generation: 7,
        };
        let (g, l) = s
            .update_hosts_counts_and_exposures(
                &[(
                    h,
                    HostCounts {
                        cves: 1,
                        ..HostCounts::default()
                    },
                )],
                &[(h, vec![exp("CVE-3", Severity::Critical, None)])],
                &ctx,
            )
            .await
            .unwrap();
        assert_eq!((g, l), (0, 1));
        assert_eq!(s.get_host(h).await.unwrap().unwrap().counts.cves, 1);
        let changes = s.changes(&q(at(250), at(350), &all)).await.unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].kind, ChangeKind::Lost);
        assert_eq!(changes[0].cause.as_deref(), Some("feed"));
        // Only report-ended exposures count for time to patch.
        let ttp = s.time_to_patch(&q(at(250), at(350), &all)).await.unwrap();
        assert!(ttp.is_empty());
    });
}

#[tokio::test]
async fn retired_hosts_end_their_exposures_and_snapshots_carry_silent_hosts() {
    for_each_backend!(|db| {
        let s = &db.store;
        let all = HostScope::All;
        // at(6400) is 2023-11-15T00:00:00Z: "day 1".
        let day = |n: i64, h: i64| 6_400 + (n - 1) * 86_400 + h * 3_600;
        let date = |n: i64| at(day(n, 0)).date();
        let a = save(s, "a", "site-a", day(1, 1), "a1", &[pkg("x", "1")]).await;
        finish(
            s,
            &a,
            day(1, 1),
            vec![exp("CVE-1", Severity::High, Some("2"))],
        )
        .await;
        let b = save(s, "b", "site-b", day(1, 1), "b1", &[pkg("y", "1")]).await;
        finish(
            s,
            &b,
            day(1, 1),
            vec![
                exp("CVE-2", Severity::Low, None),
                exp("CVE-3", Severity::Critical, None),
            ],
        )
        .await;
        assert_eq!(s.sync_history_hosts(at(day(1, 2)), 0).await.unwrap(), 0);
        // Only a reports again (day 2); b stays silent.
        let a2 = save(
            s,
            "a",
            "site-a",
            day(2, 1),
            "a2",
            &[pkg("x", "1"), pkg("z", "1")],
        )
        .await;
        finish(
            s,
            &a2,
            day(2, 1),
            vec![exp("CVE-1", Severity::High, Some("2"))],
        )
        .await;
        // Days 1–4 ended by day 5: written once.
        assert_eq!(s.finalize_fleet_snapshots(date(5), 400).await.unwrap(), 4);
        assert_eq!(s.finalize_fleet_snapshots(date(5), 400).await.unwrap(), 0);
        let days = s.fleet_days(date(1), at(day(5, 12)), &all).await.unwrap();
        assert_eq!(days.len(), 5, "{days:?}");
        let row = |d: &pakiti_store::FleetDay| {
            (
                d.hosts,
                d.exposed_hosts,
                d.open_exposures,
                d.critical,
                d.fixable,
                d.not_reporting,
            )
        };
        assert_eq!(days[0].day, Some(date(1)));
        assert_eq!(row(&days[0]), (2, 2, 3, 1, 1, 0));
        assert_eq!(row(&days[1]), (2, 2, 3, 1, 1, 0));
        // Day 3: b has not reported for two days, and still counts with its exposures.
        assert_eq!(row(&days[2]), (2, 2, 3, 1, 1, 1));
        assert_eq!(row(&days[3]), (2, 2, 3, 1, 1, 2));
        // Today, live.
        assert_eq!(days[4].day, Some(date(5)));
        assert_eq!(row(&days[4]), (2, 2, 3, 1, 1, 2));
        // A viewer of host a only.
        let only_a = HostScope::Restricted {
            groups: vec![],
            domains: vec![],
            hosts: vec!["a".into()],
        };
        let days = s
            .fleet_days(date(1), at(day(5, 12)), &only_a)
            .await
            .unwrap();
        assert_eq!(row(&days[0]), (1, 1, 1, 0, 1, 0));
        assert_eq!(row(&days[4]), (1, 1, 1, 0, 1, 1));

        // b is deleted: the tick retires it and ends its exposures.
        assert!(s.delete_host(b.host_id).await.unwrap());
        assert_eq!(s.sync_history_hosts(at(day(5, 13)), 3).await.unwrap(), 1);
        assert_eq!(
            s.open_exposures().await.unwrap(),
            [(a.host_id, "CVE-1".to_owned())]
        );
        let changes = s
            .changes(&q(at(day(5, 0)), at(day(6, 0)), &all))
            .await
            .unwrap();
        let kinds: Vec<(ChangeKind, Option<&str>, Option<&str>)> = changes
            .iter()
            .map(|c| (c.kind, c.hostname.as_deref(), c.cause.as_deref()))
            .collect();
        assert_eq!(
            kinds,
            [
                (ChangeKind::Lost, Some("b"), Some("retired")),
                (ChangeKind::Lost, Some("b"), Some("retired")),
                (ChangeKind::HostRetired, Some("b"), None),
            ]
        );
        // Its history stays in the past days; from day 6 on it is gone.
        assert_eq!(s.finalize_fleet_snapshots(date(7), 400).await.unwrap(), 2);
        let days = s.fleet_days(date(4), at(day(7, 1)), &all).await.unwrap();
        assert_eq!(row(&days[0]).0, 2);
        assert_eq!(row(&days[2]), (1, 1, 1, 0, 1, 1));
    });
}

#[tokio::test]
async fn report_package_lists_are_kept_per_report() {
    for_each_backend!(|db| {
        let s = &db.store;
        let r1 = save(
            s,
            "a",
            "g",
            0,
            "h1",
            &[pkg("a", "1"), pkg("b", "1"), pkg("c", "1")],
        )
        .await;
        finish(s, &r1, 1, vec![]).await;
        let touch = s
            .touch_unchanged_report(
                r1.host_id,
                &ReportMeta {
                    received_at: at(50),
                    hash: "h1".into(),
                    via_proxy: false,
                    proxy_name: None,
                    site: None,
                    tag: None,
                },
            )
            .await
            .unwrap();
        let r3 = save(
            s,
            "a",
            "g",
            100,
            "h3",
            &[pkg("a", "2"), pkg("b", "1"), pkg("d", "1")],
        )
        .await;
        let other = save(s, "other", "g", 100, "o1", &[pkg("a", "1")]).await;
        let sorted = |mut v: Vec<i64>| {
            v.sort_unstable();
            v
        };
        let first = sorted(r1.package_ids.clone());
        let third = sorted(r3.package_ids.clone());
        let h = r1.host_id;
        assert_eq!(
            s.report_package_ids(h, r1.report_id).await.unwrap(),
            Some(first.clone())
        );
        // An unchanged report has its predecessor's list.
        assert_eq!(s.report_package_ids(h, touch).await.unwrap(), Some(first));
        assert_eq!(
            s.report_package_ids(h, r3.report_id).await.unwrap(),
            Some(third.clone())
        );
        // Not this host's report.
        assert_eq!(
            s.report_package_ids(h, other.report_id).await.unwrap(),
            None
        );
        // Keep one list per host: the first report's is gone, and so is the touch's.
        assert_eq!(s.prune_report_packages(1).await.unwrap(), 1);
        assert_eq!(s.report_package_ids(h, r1.report_id).await.unwrap(), None);
        assert_eq!(s.report_package_ids(h, touch).await.unwrap(), None);
        assert_eq!(
            s.report_package_ids(h, r3.report_id).await.unwrap(),
            Some(third)
        );
    });
}

/// A fresh SQLite store and a plain connection to its file, for `EXPLAIN QUERY PLAN`.
async fn sqlite_connection() -> (crate::support::TestDb, sqlx::sqlite::SqliteConnection) {
    use sqlx::Connection;
    let db = crate::support::sqlite().await;
    let path = db.url.trim_start_matches("sqlite://").to_owned();
    let conn = sqlx::sqlite::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new().filename(&path),
    )
    .await
    .expect("connect");
    (db, conn)
}

/// A report's finish reads its host's open exposures; on SQLite (no statistics until the
/// housekeeping's ANALYZE) that read once went through the `ended_at` index — every open
/// exposure of the fleet, in every report, so ingest slowed as the fleet grew (issue 17). The
/// statements below are those of `history::sets::open_sets_in` and the retire path; their plans must
/// look the host up, never walk the fleet's open exposures.
#[tokio::test]
async fn a_hosts_open_exposures_are_found_by_host_not_by_walking_the_fleet() {
    use sqlx::Connection;
    let (db, mut conn) = sqlite_connection().await;
    for (sql, bind) in [
        (
            "SELECT id, host_id, hostname, host_group, domain, details, fix_known_at, began_at, \
             began_cause, began_report, began_generation, ended_at, ended_cause, ended_report \
             FROM exposures WHERE ended_at IS NULL AND host_id IN (SELECT value FROM json_each($1))",
            "[1, 2]",
        ),
        (
            "UPDATE exposures SET ended_at = 1, ended_cause = 'retired', ended_generation = 1 \
             WHERE ended_at IS NULL AND host_id = $1",
            "1",
        ),
    ] {
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                .bind(bind)
                .fetch_all(&mut conn)
                .await
                .expect("explain");
        let plan: Vec<&str> = plan.iter().map(|r| r.3.as_str()).collect();
        assert!(
            plan.iter()
                .any(|p| p.starts_with("SEARCH exposures USING") && p.contains("host_id=?")),
            "{sql}: {plan:?}"
        );
        assert!(
            !plan.iter().any(|p| p.contains("exposures_ended")),
            "{sql}: {plan:?}"
        );
    }
    conn.close().await.expect("close");
    db.finish().await;
}

/// Issue 17: the history step of every 30 s tick reads the exposures table by host only. At
/// 50,000 hosts it holds ~28 million rows; two full scans per tick held SQLite's one writer
/// for tens of seconds and made ingest slow down as the fleet grew.
#[tokio::test]
async fn the_history_tick_reads_exposures_by_host_only() {
    use sqlx::Connection;
    let (db, mut conn) = sqlite_connection().await;
    // The statements of `Store::sync_history_hosts` that touch `exposures`.
    for sql in [
        "WITH RECURSIVE ids (id) AS ( \
           SELECT MIN(host_id) FROM exposures \
           UNION ALL \
           SELECT (SELECT MIN(e.host_id) FROM exposures e WHERE e.host_id > ids.id) \
           FROM ids WHERE ids.id IS NOT NULL) \
         SELECT id FROM ids WHERE id IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM hosts h WHERE h.id = ids.id) \
         AND NOT EXISTS (SELECT 1 FROM history_hosts hh WHERE hh.host_id = ids.id)",
        "INSERT INTO history_hosts (host_id, hostname, host_group, domain, first_seen, retired_at) \
         SELECT e.host_id, MAX(e.hostname), MAX(e.host_group), MAX(e.domain), MIN(e.began_at), 1 \
         FROM exposures e WHERE e.host_id IN (SELECT value FROM json_each('[1, 2]')) \
         GROUP BY e.host_id ON CONFLICT (host_id) DO NOTHING",
        "UPDATE exposures SET ended_at = 1, ended_cause = 'retired', ended_generation = 1 \
         WHERE ended_at IS NULL AND host_id IN (SELECT value FROM json_each('[1, 2]'))",
    ] {
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                .fetch_all(&mut conn)
                .await
                .expect("explain");
        let plan: Vec<&str> = plan.iter().map(|r| r.3.as_str()).collect();
        assert!(
            plan.iter().any(|p| p.starts_with("SEARCH exposures")
                || p.starts_with("SEARCH e ")
                || p.contains("MIN/MAX")),
            "{sql}: {plan:?}"
        );
        assert!(
            !plan.iter().any(|p| p.starts_with("SCAN exposures")
                || p.starts_with("SCAN e ")
                || *p == "SCAN e"),
            "{sql}: {plan:?}"
        );
    }
    conn.close().await.expect("close");
    db.finish().await;
}

/// Statistics taken while the store is nearly empty (the first housekeeping tick analyzes at
/// once) must not steer a large store's plans: with `exposures` analyzed at 24 rows, SQLite
/// read a report's host's open exposures by scanning every exposure of the fleet, and ingest
/// stalled at 6,000 hosts (issue 17). After `Store::analyze` on a small store the read still
/// looks the host up.
#[tokio::test]
async fn statistics_of_a_nearly_empty_store_do_not_turn_host_lookups_into_scans() {
    use sqlx::Connection;
    let (db, mut conn) = sqlite_connection().await;
    for i in 0..24 {
        sqlx::query(
            "INSERT INTO exposures (host_id, hostname, details, n, critical, high, medium, low, \
             unknown, fixable, began_at, began_cause, began_generation) \
             VALUES ($1, 'h', $2, 1, 0, 1, 0, 0, 0, 0, 1, 'report', 1)",
        )
        .bind(i % 3)
        .bind(vec![1u8, u8::try_from(i + 1).unwrap()])
        .execute(&mut conn)
        .await
        .expect("insert");
    }
    conn.close().await.expect("close");
    db.store.analyze().await.expect("analyze");
    let mut conn = sqlx::sqlite::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new().filename(db.url.trim_start_matches("sqlite://")),
    )
    .await
    .expect("connect");
    let (stats,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'exposures'")
            .fetch_one(&mut conn)
            .await
            .expect("stats");
    assert_eq!(stats, 0, "a 24-row table keeps no statistics");
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(
        "EXPLAIN QUERY PLAN SELECT id, host_id, hostname, host_group, domain, details, \
         fix_known_at, began_at, began_cause, began_report, began_generation, ended_at, \
         ended_cause, ended_report FROM exposures \
         WHERE ended_at IS NULL AND host_id IN (SELECT value FROM json_each($1))",
    )
    .bind("[1, 2]")
    .fetch_all(&mut conn)
    .await
    .expect("explain");
    let plan: Vec<&str> = plan.iter().map(|r| r.3.as_str()).collect();
    assert!(
        plan.iter().any(|p| p.starts_with("SEARCH exposures")),
        "{plan:?}"
    );
    assert!(
        !plan.iter().any(|p| p.starts_with("SCAN exposures")),
        "{plan:?}"
    );
    conn.close().await.expect("close");
    db.finish().await;
}

/// Issue 17: exposures are stored as sets. A host's 300 CVEs are one row; a report that ends
/// two, makes a fix known for one and adds one splits that row (kept, ended, fixed) and adds
/// one; every exposure keeps its own beginning, end and causes.
#[tokio::test]
async fn exposures_are_stored_as_sets_split_where_they_part() {
    use sqlx::Connection;
    for_each_backend!(|db| {
        let s = &db.store;
        let be = db.backend;
        let cve = |i: usize| format!("CVE-2024-{i:05}");
        let set = |range: std::ops::Range<usize>, fixed_at: Option<usize>| -> Vec<ExposureNow> {
            range
                .map(|i| {
                    let sev = if i % 2 == 0 {
                        Severity::High
                    } else {
                        Severity::Low
                    };
                    exp(&cve(i), sev, (Some(i) == fixed_at).then_some("9.9-1"))
                })
                .collect()
        };
        let r1 = save(s, "a", "site-a", 0, "h1", &[pkg("openssl", "1.0-1")]).await;
        finish(s, &r1, 10, set(0..300, None)).await;
        let h = r1.host_id;
        let rows = |url: String| async move {
            if be != "sqlite" {
                return None;
            }
            let mut c = sqlx::sqlite::SqliteConnection::connect_with(
                &sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(url.trim_start_matches("sqlite://")),
            )
            .await
            .unwrap();
            let n: (i64, i64) =
                sqlx::query_as("SELECT COUNT(*), COALESCE(SUM(n), 0) FROM exposures")
                    .fetch_one(&mut c)
                    .await
                    .unwrap();
            c.close().await.unwrap();
            Some(n)
        };
        if let Some(n) = rows(db.url.clone()).await {
            assert_eq!(n, (1, 300), "one row for a report's 300 CVEs");
        }
        // CVE 0 and 1 end, CVE 2's fix becomes known, CVE 300 begins.
        let r2 = save(s, "a", "site-a", 100, "h2", &[pkg("openssl", "1.1-1")]).await;
        finish(s, &r2, 110, set(2..301, Some(2))).await;
        if let Some(n) = rows(db.url.clone()).await {
            assert_eq!(n, (4, 301), "kept, ended, fixed, new");
        }
        let open = s.open_exposures().await.unwrap();
        let want: Vec<(i64, String)> = (2..301).map(|i| (h, cve(i))).collect();
        assert_eq!(open, want, "{be}");
        let all = s.host_exposures(h).await.unwrap();
        assert_eq!(all.len(), 301, "{be}");
        let get = |i: usize| all.iter().find(|e| e.cve == cve(i)).unwrap();
        for i in [0, 1] {
            let e = get(i);
            assert_eq!(e.began_at, at(10), "{be}");
            assert_eq!(e.began_report, Some(r1.report_id), "{be}");
            assert_eq!(e.ended_at, Some(at(110)), "{be}");
            assert_eq!(e.ended_cause.as_deref(), Some("report"), "{be}");
            assert_eq!(e.ended_report, Some(r2.report_id), "{be}");
        }
        assert_eq!(get(0).severity, "high", "{be}");
        assert_eq!(get(1).severity, "low", "{be}");
        let fixed = get(2);
        assert_eq!(
            (fixed.began_at, fixed.ended_at, fixed.fix_known_at),
            (at(10), None, Some(at(110))),
            "{be}"
        );
        assert_eq!(fixed.fixed_version.as_deref(), Some("9.9-1"), "{be}");
        let kept = get(3);
        assert_eq!(
            (kept.began_at, kept.ended_at, kept.fixed_version.as_deref()),
            (at(10), None, None),
            "{be}"
        );
        let new = get(300);
        assert_eq!(
            (new.began_at, new.began_report, new.ended_at),
            (at(110), Some(r2.report_id), None),
            "{be}"
        );
        // Everything ends: every set is ended, none is lost.
        let r3 = save(s, "a", "site-a", 200, "h3", &[pkg("openssl", "3.0-1")]).await;
        finish(s, &r3, 210, vec![]).await;
        assert!(s.open_exposures().await.unwrap().is_empty(), "{be}");
        let all = s.host_exposures(h).await.unwrap();
        assert_eq!(all.len(), 301, "{be}");
        assert_eq!(
            all.iter().filter(|e| e.ended_at == Some(at(210))).count(),
            299,
            "{be}"
        );
        if let Some(n) = rows(db.url.clone()).await {
            assert_eq!(n, (4, 301), "ended where they stood");
        }
    });
}

/// Issue 17: no package list is stored whole: the newest is the host's current list, older
/// ones are reverse deltas.
/// Every list reads back exactly, and a list whose newer neighbour is gone reads as unknown,
/// never as another report's list.
#[tokio::test]
async fn report_package_lists_are_reverse_deltas_that_read_back_exactly() {
    use sqlx::Connection;
    for_each_backend!(|db| {
        let s = &db.store;
        let be = db.backend;
        let names = ["a", "b", "c", "d", "e", "f", "g", "h"];
        let mut saved = Vec::new();
        for r in 0..6_usize {
            // Each report drops one package, updates one and adds one.
            let pkgs: Vec<InstalledPackage> = names
                .iter()
                .enumerate()
                .filter(|(i, _)| (i + r) % 4 != 0)
                .map(|(i, n)| pkg(n, &format!("{}-1", if i == r { 2 } else { 1 })))
                .collect();
            let rep = save(
                s,
                "a",
                "g",
                100 * i64::try_from(r).unwrap(),
                &format!("h{r}"),
                &pkgs,
            )
            .await;
            let mut ids = rep.package_ids.clone();
            ids.sort_unstable();
            ids.dedup();
            saved.push((rep, ids));
        }
        let h = saved[0].0.host_id;
        for (rep, ids) in &saved {
            assert_eq!(
                s.report_package_ids(h, rep.report_id)
                    .await
                    .unwrap()
                    .as_ref(),
                Some(ids),
                "{be}"
            );
        }
        if be == "sqlite" {
            let mut c = sqlx::sqlite::SqliteConnection::connect_with(
                &sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(db.url.trim_start_matches("sqlite://")),
            )
            .await
            .unwrap();
            let (whole, current, deltas): (i64, i64, i64) = sqlx::query_as(
                "SELECT SUM(base IS NULL), SUM(base = -1), SUM(base > 0) FROM report_packages",
            )
            .fetch_one(&mut c)
            .await
            .unwrap();
            assert_eq!(
                (whole, current, deltas),
                (0, 1, 5),
                "no list whole: the newest is the host's current list, the others deltas"
            );
            // The fourth list goes (as if its report were deleted): it and the older ones
            // are unknown; the newer ones still read back.
            sqlx::query("DELETE FROM report_packages WHERE report_id = $1")
                .bind(saved[3].0.report_id)
                .execute(&mut c)
                .await
                .unwrap();
            c.close().await.unwrap();
            for (i, (rep, ids)) in saved.iter().enumerate() {
                let got = s.report_package_ids(h, rep.report_id).await.unwrap();
                if i > 3 {
                    assert_eq!(got.as_ref(), Some(ids), "list {i}");
                } else {
                    assert_eq!(got, None, "list {i}");
                }
            }
        }
    });
}
