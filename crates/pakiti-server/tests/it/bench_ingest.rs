//! `pakiti bench ingest` on a tiny fleet: every phase sends every report, and the figures are
//! sane (no timing assertions: the machine may be busy).

use pakiti_server::cmd::bench_ingest::{IngestArgs, measure};
use pakiti_test_support::{databases, fixtures, shared_data};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_benchmark_runs_every_phase() {
    for db in databases().await {
        let args = IngestArgs {
            hosts: 5,
            reeval_hosts: 8,
            concurrency: 2,
            packages: 200,
            data: shared_data(),
            feeds: vec![(
                "redhat-oval".to_owned(),
                fixtures().join("demo/rhel-8.oval.xml.bz2"),
            )],
        };
        let mut log = Vec::new();
        let f = measure(&db.url, &args, &mut log).await.unwrap();
        let log = String::from_utf8(log).unwrap();
        assert_eq!(f.backend, db.backend);
        assert!(f.advisories > 100, "{log}");
        assert!(f.baseline_bytes > 0);
        assert!(f.packages_per_host >= 200.0, "{}", f.packages_per_host);
        let names: Vec<&str> = f.phases.iter().map(|p| p.name).collect();
        assert_eq!(names, ["first", "changed", "unchanged"]);
        for p in &f.phases {
            assert_eq!(p.reports, 5, "{log}");
            assert!(p.rate() > 0.0);
            assert!(p.p50 <= p.p99);
            assert!(p.size_bytes > f.baseline_bytes, "{}: {log}", p.name);
        }
        let r = f.reevaluation.expect("re-evaluation phase");
        assert_eq!(r.hosts, 8);
        // Every host has rhel:8 packages named by the feed, so every host is refreshed.
        assert_eq!(r.outcome.hosts, 8, "{log}");
        assert!(r.outcome.keys > 100, "{:?}", r.outcome);
        assert!(r.outcome.package_versions > 0, "{:?}", r.outcome);
        assert!(log.contains("re-evaluation of 8 hosts"), "{log}");
        db.finish().await;
    }
}
