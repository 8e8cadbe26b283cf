//! The durable report queue.

use std::collections::BTreeSet;

use time::Duration;

use crate::support::{at, for_each_backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_claimers_never_share_a_report() {
    for_each_backend!(|db| {
        // A second store on the same database stands for a second server process.
        let other = pakiti_store::open(&db.url).await.unwrap();
        let mut queued = BTreeSet::new();
        for i in 0..200u32 {
            queued.insert(
                db.store
                    .enqueue_report(&i.to_be_bytes(), at(0))
                    .await
                    .unwrap(),
            );
        }
        assert_eq!(db.store.queue_len().await.unwrap(), 200);
        let claim_all = |store: pakiti_store::Store, worker: &'static str| async move {
            let mut mine = Vec::new();
            loop {
                let got = store
                    .claim_reports(worker, 7, Duration::minutes(5), at(10))
                    .await
                    .unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|r| (r.id, r.payload, r.attempts)));
            }
        };
        let (a, b) = tokio::join!(
            tokio::spawn(claim_all(db.store.clone(), "w1")),
            tokio::spawn(claim_all(other.clone(), "w2")),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        let ids_a: BTreeSet<i64> = a.iter().map(|r| r.0).collect();
        let ids_b: BTreeSet<i64> = b.iter().map(|r| r.0).collect();
        assert_eq!(ids_a.len(), a.len());
        assert!(
            ids_a.is_disjoint(&ids_b),
            "{}: a report was claimed twice",
            db.backend
        );
        assert_eq!(
            ids_a.union(&ids_b).copied().collect::<BTreeSet<_>>(),
            queued
        );
        assert!(a.iter().chain(&b).all(|r| r.2 == 1 && r.1.len() == 4));
        eprintln!(
            "{}: w1 claimed {}, w2 claimed {}",
            db.backend,
            a.len(),
            b.len()
        );
        other.close().await;
    });
}

#[tokio::test]
async fn expired_leases_are_reclaimed() {
    for_each_backend!(|db| {
        let s = &db.store;
        let first = s.enqueue_report(b"one", at(0)).await.unwrap();
        let second = s.enqueue_report(b"two", at(1)).await.unwrap();
        let got = s
            .claim_reports("w1", 10, Duration::seconds(60), at(10))
            .await
            .unwrap();
        assert_eq!(
            got.iter().map(|r| r.id).collect::<Vec<_>>(),
            [first, second]
        );
        assert_eq!(got[0].payload, b"one");
        // While the lease runs, nobody else gets them.
        assert!(
            s.claim_reports("w2", 10, Duration::seconds(60), at(69))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(s.complete_report(first).await.unwrap());
        assert!(!s.complete_report(first).await.unwrap());
        // w1 died holding `second`: after the lease it goes to w2, marked as a retry.
        let got = s
            .claim_reports("w2", 10, Duration::seconds(60), at(71))
            .await
            .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].id, second);
        assert_eq!(got[0].attempts, 2);
        assert!(s.complete_report(second).await.unwrap());
        assert_eq!(s.queue_len().await.unwrap(), 0);
        assert!(
            s.claim_reports("w2", 10, Duration::seconds(60), at(1000))
                .await
                .unwrap()
                .is_empty()
        );
    });
}
