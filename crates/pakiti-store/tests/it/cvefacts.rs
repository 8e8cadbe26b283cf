//! CVE facts (CISA KEV, FIRST EPSS, CVSS): replaced per feed, merged per CVE over enabled
//! feeds, gone with their feed, and never touching advisories or the feed generation.

use pakiti_core::risk::{CveFacts, Epss, Kev};
use pakiti_store::{NewFeed, StoreError};

use crate::support::{feed, for_each_backend, ok_sync};

fn kev(date: &str, ransomware: bool) -> CveFacts {
    CveFacts {
        kev: Some(Kev {
            date_added: date.into(),
            due_date: Some("2025-01-31".into()),
            ransomware,
        }),
        ..CveFacts::default()
    }
}

fn epss(score: f32, percentile: f32) -> CveFacts {
    CveFacts {
        epss: Some(Epss { score, percentile }),
        ..CveFacts::default()
    }
}

fn cvss(score: f32) -> CveFacts {
    CveFacts {
        cvss: Some(score),
        ..CveFacts::default()
    }
}

async fn prio_feed(store: &pakiti_store::Store, name: &str, kind: &str) -> i64 {
    store
        .create_feed(&NewFeed {
            name: name.into(),
            kind: kind.into(),
            url: format!("/data/{name}"),
            stream: None,
            enabled: true,
            interval_secs: 86_400,
        })
        .await
        .unwrap()
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facts_are_replaced_per_feed_and_merged_per_cve() {
    for_each_backend!(|db| {
        let s = &db.store;
        let b = db.backend;
        let k = prio_feed(s, "cisa-kev", "cisa-kev").await;
        let e = prio_feed(s, "epss", "epss").await;
        let oval = feed(s, "rhel-8-oval").await;
        let generation = s.feed_generation().await.unwrap();

        let n = s
            .replace_feed_cve_facts(
                k,
                &[
                    ("CVE-2021-44228".into(), kev("2021-12-10", true)),
                    ("CVE-2014-6271".into(), kev("2022-01-28", false)),
                ],
                Some(&ok_sync(10)),
            )
            .await
            .unwrap();
        assert_eq!(n, 2, "{b}");
        s.replace_feed_cve_facts(
            e,
            &[
                ("CVE-2021-44228".into(), epss(0.94, 0.99)),
                ("CVE-2014-6271".into(), epss(0.5, f32::NAN)),
                ("CVE-2020-0001".into(), epss(0.01, 0.2)),
            ],
            Some(&ok_sync(11)),
        )
        .await
        .unwrap();
        // A vulnerability feed's CVSS rows: two rows of one CVE keep the higher.
        s.replace_feed_cve_facts(
            oval,
            &[
                ("CVE-2021-44228".into(), cvss(9.0)),
                ("CVE-2021-44228".into(), cvss(10.0)),
            ],
            None,
        )
        .await
        .unwrap();

        let index = s.load_cve_facts().await.unwrap();
        assert_eq!(index.len(), 3, "{b}");
        let log4j = index.get("CVE-2021-44228").unwrap();
        let k1 = log4j.kev.as_ref().unwrap();
        assert_eq!(
            (
                k1.date_added.as_str(),
                k1.due_date.as_deref(),
                k1.ransomware
            ),
            ("2021-12-10", Some("2025-01-31"), true),
            "{b}"
        );
        let ep = log4j.epss.unwrap();
        assert!(
            (ep.score - 0.94).abs() < 1e-6 && (ep.percentile - 0.99).abs() < 1e-6,
            "{b}"
        );
        assert_eq!(log4j.cvss, Some(10.0), "{b}");
        // A missing percentile stays missing (NaN in the core type, NULL in the table).
        assert!(
            index
                .get("CVE-2014-6271")
                .unwrap()
                .epss
                .unwrap()
                .percentile
                .is_nan()
        );
        assert!(index.get("CVE-2020-0001").unwrap().kev.is_none());

        // The feed's count and sync are recorded, the advisory generation is untouched.
        let kf = s.get_feed(k).await.unwrap().unwrap();
        assert_eq!(kf.advisory_count, 2, "{b}");
        assert!(kf.is_prioritisation());
        assert_eq!(
            kf.last_sync.as_ref().and_then(|x| x.checksum.as_deref()),
            Some("sha256:10")
        );
        assert_eq!(s.feed_runs(k, 10).await.unwrap().len(), 1, "{b}");
        assert!(!s.get_feed(oval).await.unwrap().unwrap().is_prioritisation());
        assert_eq!(s.feed_generation().await.unwrap(), generation, "{b}");
        assert!(s.stale_keys().await.unwrap().keys.is_empty(), "{b}");

        // A new import replaces the feed's rows.
        s.replace_feed_cve_facts(
            k,
            &[("CVE-2014-6271".into(), kev("2022-01-28", false))],
            Some(&ok_sync(20)),
        )
        .await
        .unwrap();
        let index = s.load_cve_facts().await.unwrap();
        assert!(index.get("CVE-2021-44228").unwrap().kev.is_none(), "{b}");
        assert_eq!(s.feed_cve_fact_count(k).await.unwrap(), 1);

        // A disabled feed's facts do not count; a removed feed's rows go with it.
        crate::support::set_enabled(s, e, false).await;
        let index = s.load_cve_facts().await.unwrap();
        assert!(index.get("CVE-2021-44228").unwrap().epss.is_none(), "{b}");
        assert!(index.get("CVE-2020-0001").is_none(), "{b}");
        assert!(s.delete_feed(k).await.unwrap());
        assert_eq!(s.feed_cve_fact_count(k).await.unwrap(), 0, "{b}");
        assert!(
            s.load_cve_facts()
                .await
                .unwrap()
                .get("CVE-2014-6271")
                .is_none()
        );

        // Errors: an unknown feed, an empty CVE, a failed sync record.
        let missing = s.replace_feed_cve_facts(9999, &[], Some(&ok_sync(1))).await;
        assert!(
            matches!(missing, Err(StoreError::NotFound { .. })),
            "{missing:?}"
        );
        let empty = s
            .replace_feed_cve_facts(oval, &[(" ".into(), cvss(1.0))], None)
            .await;
        assert!(matches!(empty, Err(StoreError::Invalid(_))), "{empty:?}");
        let mut failed = ok_sync(30);
        failed.status = pakiti_store::SyncStatus::Failed;
        let bad = s.replace_feed_cve_facts(oval, &[], Some(&failed)).await;
        assert!(matches!(bad, Err(StoreError::Invalid(_))), "{bad:?}");
    });
}
