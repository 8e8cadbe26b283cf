//! The engine end to end: advisories in, a report ingested, the fleet index built from the
//! evaluator and policy in memory, ingest's error kinds.

use pakiti_api::report::{Package, Report};
use pakiti_core::advisory::{Advisory, Affected, Severity, Status};
use pakiti_engine::Engine;
use pakiti_engine::ingest::{self, IngestError, Origin};
use pakiti_engine::osrules::OsRules;
use pakiti_store::{HostScope, NewCveTag, NewFeed, SyncRecord, SyncStatus};

const CVE: &str = "CVE-2024-0001";

fn advisory() -> Advisory {
    Advisory {
        id: "RHSA-2024:0001".into(),
        source: "redhat-oval".into(),
        title: "openssl security update".into(),
        severity: Severity::High,
        cves: vec![CVE.into()],
        references: vec!["https://access.redhat.com/errata/RHSA-2024:0001".into()],
        affected: vec![Affected::binary(
            "rhel:9".parse().unwrap(),
            "openssl",
            Status::Fixed("1:3.0.7-1.el9".into()),
        )],
        ..Advisory::default()
    }
}

fn report(hostname: &str) -> Report {
    Report {
        hostname: hostname.into(),
        os: "Rocky Linux release 9.3 (Blue Onyx)".into(),
        arch: "x86_64".into(),
        kernel: "5.14.0-362.el9.x86_64".into(),
        packages: vec![
            Package {
                name: "openssl".into(),
                version: "1:3.0.1-1.el9".into(),
                arch: "x86_64".into(),
                source: None,
            },
            Package {
                name: "bash".into(),
                version: "0:5.1.8-6.el9".into(),
                arch: "x86_64".into(),
                source: None,
            },
        ],
        ..Report::default()
    }
}

fn origin() -> Origin {
    Origin {
        received_at: time::OffsetDateTime::now_utc(),
        peer: None,
        client_dn: None,
        trusted_proxy: false,
    }
}

/// A successful sync now, of content `checksum`.
fn synced(checksum: &str) -> SyncRecord {
    SyncRecord {
        at: time::OffsetDateTime::now_utc(),
        status: SyncStatus::Ok,
        error: None,
        duration_ms: 1,
        etag: None,
        last_modified: None,
        checksum: Some(checksum.into()),
    }
}

async fn import(store: &pakiti_store::Store) {
    let feed = store
        .create_feed(&NewFeed {
            name: "test".into(),
            kind: "redhat-oval".into(),
            url: "file:///dev/null".into(),
            stream: None,
            enabled: true,
            interval_secs: 86_400,
        })
        .await
        .unwrap();
    store
        .replace_feed_advisories(feed.id, &[advisory()], &synced("one"))
        .await
        .unwrap();
}

#[tokio::test]
async fn ingest_evaluate_and_fleet_from_memory() {
    for db in pakiti_test_support::databases().await {
        let b = db.backend;
        let store = pakiti_store::open(&db.url).await.unwrap();
        let engine = Engine::new(store.clone(), OsRules::default())
            .await
            .unwrap();
        assert_eq!(engine.evaluator().advisory_count(), 0, "{b}");

        // An import elsewhere (here: straight into the store) is noticed and caught up.
        import(&store).await;
        assert!(engine.feeds_changed().await.unwrap(), "{b}");
        assert!(engine.evaluator_behind().await.unwrap(), "{b}");
        engine.catch_up().await.unwrap();
        assert!(!engine.evaluator_behind().await.unwrap(), "{b}");
        assert!(!engine.feeds_changed().await.unwrap(), "{b}");
        assert_eq!(engine.evaluator().advisory_count(), 1, "{b}");

        let out = ingest::process(&engine, &report("h1.example.org"), &origin())
            .await
            .unwrap();
        assert!(out.stored, "{b}");
        assert_eq!(out.stream.as_deref(), Some("rocky:9"), "{b}");
        assert_eq!(out.findings, 1, "{b}");
        let identity = ingest::identity_of(&report("h1.example.org"));
        let host = store.host_state(&identity).await.unwrap();
        let host = host.expect("stored host").id;

        // The same report again is recognised as unchanged.
        let again = ingest::process(&engine, &report("h1.example.org"), &origin())
            .await
            .unwrap();
        assert!(again.unchanged, "{b}");

        let fleet = engine.fleet_up_to_date().await.unwrap();
        assert_eq!(fleet.hosts_with_cve(CVE), vec![host], "{b}");
        let detail = fleet.cve(CVE, &HostScope::All).expect("the CVE");
        assert_eq!(detail.advisories[0].id, "RHSA-2024:0001", "{b}");
        assert_eq!(detail.advisories[0].title, "openssl security update", "{b}");
        assert_eq!(detail.hosts[0].packages[0].package, "openssl", "{b}");
        assert!(fleet.cve_tags(CVE).is_empty(), "{b}");
        // The memoised risk (the hosts list sorts the fleet by it) is the risk, and follows a
        // change of the CVE facts (a new index, here one that puts the CVE in KEV).
        let facts = engine.cve_facts();
        assert!(fleet.host_risk(host, &facts).is_some(), "{b}");
        assert_eq!(
            fleet.host_risk_memo(host, &facts),
            fleet.host_risk(host, &facts),
            "{b}"
        );
        let mut kev = pakiti_core::risk::CveFactsIndex::default();
        kev.insert(
            CVE.into(),
            pakiti_core::risk::CveFacts {
                kev: Some(pakiti_core::risk::Kev::default()),
                ..Default::default()
            },
        );
        let kev = std::sync::Arc::new(kev);
        assert_ne!(
            fleet.host_risk(host, &kev),
            fleet.host_risk(host, &facts),
            "{b}: KEV changes the risk"
        );
        assert_eq!(
            fleet.host_risk_memo(host, &kev),
            fleet.host_risk(host, &kev),
            "{b}"
        );
        assert_eq!(fleet.host_risk_memo(-1, &kev), None, "{b}");

        // Tags come from the policy in force, not from the store: a tag stored by someone
        // else shows once the policy is reloaded (the server's tick does it every 30 s).
        store
            .create_cve_tag(&NewCveTag {
                cve: CVE.into(),
                tag: "Critical".into(),
                reason: "test".into(),
                info_url: None,
                enabled: true,
                author: "test".into(),
            })
            .await
            .unwrap();
        let fleet = engine.fleet_up_to_date().await.unwrap();
        assert!(fleet.cve_tags(CVE).is_empty(), "{b}: read from memory");
        engine.reload_policy().await.unwrap();
        let fleet = engine.fleet_up_to_date().await.unwrap();
        assert_eq!(fleet.cve_tags(CVE), vec!["Critical".to_owned()], "{b}");
        assert_eq!(engine.policy().tags_of(CVE), ["Critical".to_owned()], "{b}");
        // A reload that finds nothing new keeps the index.
        engine.reload_policy().await.unwrap();
        let same = engine.fleet().await.unwrap();
        assert!(std::sync::Arc::ptr_eq(&fleet, &same), "{b}");

        // Re-evaluation with nothing stale does nothing, and the counts stay.
        let r = engine.reevaluate().await.unwrap();
        assert_eq!(r.keys, 0, "{b}");
        assert_eq!(engine.refresh_counts(None).await.unwrap(), 1, "{b}");
        db.finish().await;
    }
}

#[tokio::test]
async fn ingest_errors_say_whose_fault() {
    for db in pakiti_test_support::databases().await {
        let b = db.backend;
        let store = pakiti_store::open(&db.url).await.unwrap();
        let engine = Engine::new(store, OsRules::default()).await.unwrap();
        let err = ingest::process(&engine, &report("  "), &origin())
            .await
            .unwrap_err();
        assert!(matches!(err, IngestError::Invalid(_)), "{b}: {err:?}");
        assert!(!err.is_transient(), "{b}");

        let mut empty = report("h2");
        empty.packages.clear();
        let err = ingest::process(&engine, &empty, &origin())
            .await
            .unwrap_err();
        assert!(matches!(err, IngestError::Invalid(_)), "{b}: {err:?}");

        let mut proxied = report("h3");
        proxied.proxy = true;
        let err = ingest::process(&engine, &proxied, &origin())
            .await
            .unwrap_err();
        assert!(
            matches!(err, IngestError::NotTrustedProxy(_)),
            "{b}: {err:?}"
        );
        assert!(IngestError::FeedsKeptChanging.is_transient());
        db.finish().await;
    }
}

/// Issue 17, scale-out: several servers on one database notice the same import; one of them
/// re-matches, the others wait for it and find nothing left (the work is not done N times).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_sharing_a_database_reevaluate_an_import_once() {
    for db in pakiti_test_support::databases().await {
        let b = db.backend;
        let store = pakiti_store::open(&db.url).await.unwrap();
        import(&store).await;
        let engines = [
            Engine::new(
                pakiti_store::open(&db.url).await.unwrap(),
                OsRules::default(),
            )
            .await
            .unwrap(),
            Engine::new(
                pakiti_store::open(&db.url).await.unwrap(),
                OsRules::default(),
            )
            .await
            .unwrap(),
        ];
        let out = ingest::process(&engines[0], &report("h1.example.org"), &origin())
            .await
            .unwrap();
        assert_eq!(out.findings, 1, "{b}");
        // The advisory changes behind both servers' backs: its keys are stale.
        let feed = store.list_feeds().await.unwrap().remove(0);
        let mut changed = advisory();
        changed.severity = Severity::Critical;
        changed.affected[0].status = Status::Fixed("1:3.0.8-1.el9".into());
        store
            .replace_feed_advisories(feed.id, &[changed], &synced("two"))
            .await
            .unwrap();
        assert!(!store.stale_keys().await.unwrap().keys.is_empty(), "{b}");
        // A third process is re-evaluating: both servers' ticks start and wait for it.
        let busy = store.lock_reevaluation().await.unwrap();
        let runs: Vec<_> = engines
            .iter()
            .map(|e| {
                let e = e.clone();
                tokio::spawn(async move { e.reevaluate().await.unwrap() })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(
            runs.iter().all(|r| !r.is_finished()),
            "{b}: a server re-evaluated while another process held the lock"
        );
        busy.release().await.unwrap();
        let mut did = Vec::new();
        for r in runs {
            did.push(r.await.unwrap());
        }
        assert_eq!(
            did.iter().filter(|r| r.keys > 0).count(),
            1,
            "{b}: exactly one server re-matches: {did:?}"
        );
        assert_eq!(
            engines
                .iter()
                .map(|e| e.metrics().reevaluations.get())
                .sum::<u64>(),
            1,
            "{b}"
        );
        assert!(store.stale_keys().await.unwrap().keys.is_empty(), "{b}");
        // Both evaluators are on the new data and the host's counts follow it.
        for e in &engines {
            assert!(!e.evaluator_behind().await.unwrap(), "{b}");
        }
        let host = store
            .host_state(&ingest::identity_of(&report("h1.example.org")))
            .await
            .unwrap()
            .expect("stored host");
        let host = store.get_host(host.id).await.unwrap().expect("host");
        assert_eq!(host.counts.critical, 1, "{b}: {:?}", host.counts);
        db.finish().await;
    }
}

/// Issue 17: a reload after an import reads only the advisories that changed and copies the
/// rest from the evaluator in force; the result is the evaluator a full load builds.
#[tokio::test]
async fn an_evaluator_brought_up_to_date_equals_one_built_from_scratch() {
    use pakiti_engine::evaluate::Evaluator;
    for db in pakiti_test_support::databases().await {
        let b = db.backend;
        let store = pakiti_store::open(&db.url).await.unwrap();
        import(&store).await;
        let feed = store.list_feeds().await.unwrap().remove(0);
        let numbered = |i: u32| Advisory {
            id: format!("RHSA-2024:{i:04}"),
            affected: vec![Affected::binary(
                "rhel:9".parse().unwrap(),
                format!("pkg{i}"),
                Status::Fixed(format!("1.{i}-1.el9")),
            )],
            ..advisory()
        };
        let mut advisories: Vec<Advisory> = (1..=20).map(numbered).collect();
        store
            .replace_feed_advisories(feed.id, &advisories, &synced("two"))
            .await
            .unwrap();
        let engine = Engine::new(store.clone(), OsRules::default())
            .await
            .unwrap();
        assert_eq!(engine.evaluator().advisory_count(), 20, "{b}");

        advisories[4].severity = Severity::Critical;
        advisories.remove(9);
        advisories.push(numbered(21));
        store
            .replace_feed_advisories(feed.id, &advisories, &synced("three"))
            .await
            .unwrap();
        engine.reload_advisories().await.unwrap();
        let scratch = Evaluator::new(store.load_advisories().await.unwrap());
        let ours = engine.evaluator();
        let of = |e: &Evaluator| -> Vec<(i64, Advisory)> {
            e.stored_advisories()
                .map(|(id, a)| (id, a.clone()))
                .collect()
        };
        assert_eq!(of(&ours), of(&scratch), "{b}");
        assert_eq!(ours.held(), scratch.held(), "{b}");
        assert_eq!(ours.advisory_count(), 20, "{b}");
        db.finish().await;
    }
}
