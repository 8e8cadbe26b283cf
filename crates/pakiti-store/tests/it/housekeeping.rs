//! Issue 15 housekeeping in the store: retention statements, hosts not seen, the run log,
//! task claims, SQLite maintenance and the migration status.

use pakiti_store::{HostCounts, HousekeepingRun, ReportRetention, Store};

use crate::reports::{facts, id, pkg, processed, save};
use crate::support::{at, for_each_backend};

/// Issue 15 housekeeping: retention by count and by age (a dry run counts what the run
/// deletes), never a host's last report; hosts not seen; the run log; task claims; the
/// migration status of a migrated store.
#[tokio::test]
async fn housekeeping_retention_run_log_and_claims() {
    for_each_backend!(|db| {
        let s = &db.store;
        let be = db.backend;
        let p = [pkg("bash", "5.0-1.el8")];
        let mut a_ids = Vec::new();
        for i in 0..4 {
            let r = save(
                s,
                &id("a", None),
                &facts("rhel:8"),
                i * 100,
                &format!("h{i}"),
                &p,
            )
            .await;
            processed(s, &r, at(i * 100), HostCounts::default()).await;
            a_ids.push(r.report_id);
        }
        let b = save(s, &id("b", None), &facts("rhel:8"), 50, "h", &p).await;
        let count = ReportRetention {
            keep: 2,
            older_than: None,
        };
        assert_eq!(
            s.prune_report_history(count, true).await.unwrap(),
            2,
            "{be}"
        );
        assert_eq!(
            s.prune_report_history(count, false).await.unwrap(),
            2,
            "{be}"
        );
        assert_eq!(
            s.prune_report_history(count, false).await.unwrap(),
            0,
            "{be}"
        );
        let host_a = s.get_host_by_name("a").await.unwrap().unwrap();
        let kept: Vec<i64> = s
            .host_reports(host_a.id, 10)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(kept, [a_ids[3], a_ids[2]], "{be}");
        // By age: everything is old; each host's last report (b's is pending) stays.
        let age = ReportRetention {
            keep: 0,
            older_than: Some(at(10_000)),
        };
        assert_eq!(s.prune_report_history(age, true).await.unwrap(), 1, "{be}");
        assert_eq!(s.prune_report_history(age, false).await.unwrap(), 1, "{be}");
        assert_eq!(
            s.host_reports(b.host_id, 10).await.unwrap().len(),
            1,
            "{be}"
        );
        assert_eq!(
            s.prune_report_history(ReportRetention::default(), false)
                .await
                .unwrap(),
            0
        );
        assert_eq!(s.prune_ended_exposures(at(10_000), false).await.unwrap(), 0);

        let silent = s.hosts_not_seen_since(at(301)).await.unwrap();
        let names: Vec<&str> = silent.iter().map(|h| h.hostname.as_str()).collect();
        assert_eq!(names, ["b", "a"], "{be}: oldest first");
        assert_eq!(silent[0].last_report_at, at(50));
        assert!(s.hosts_not_seen_since(at(50)).await.unwrap().is_empty());

        let run = HousekeepingRun {
            id: 0,
            started_at: at(1000),
            finished_at: at(1001),
            started_by: "tick".into(),
            dry_run: false,
            reports_deleted: 3,
            exposures_deleted: 0,
            purged: vec![("b".into(), at(50))],
            maintenance: vec!["checkpoint".into(), "analyze".into()],
            error: None,
        };
        let rid = s.record_housekeeping_run(&run).await.unwrap();
        let runs = s.housekeeping_runs(5).await.unwrap();
        assert_eq!(runs, [HousekeepingRun { id: rid, ..run }], "{be}");

        let hour = time::Duration::hours(1);
        assert!(s.claim_housekeeping_task("t", at(0), hour).await.unwrap());
        assert!(!s.claim_housekeeping_task("t", at(60), hour).await.unwrap());
        assert!(
            s.claim_housekeeping_task("t", at(3600), hour)
                .await
                .unwrap()
        );
        assert!(
            !s.claim_housekeeping_task("t", at(3601), hour)
                .await
                .unwrap()
        );

        let status = Store::migration_status(&db.url).await.unwrap();
        assert!(
            status.pending.is_empty() && status.unknown.is_empty(),
            "{be}: {status:?}"
        );
        // Every migration this crate carries is applied: the newest is the highest-numbered
        // file of migrations/sqlite (both backends carry the same numbers).
        let newest = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().into_string().unwrap();
                name.split('_').next().and_then(|n| n.parse::<i64>().ok())
            })
            .max();
        assert!(newest >= Some(21), "{be}: {newest:?}");
        assert_eq!(status.applied.last().map(|m| m.0), newest, "{be}");
        s.checkpoint().await.unwrap();
        s.analyze().await.unwrap();
        s.vacuum().await.unwrap();
    });
}
