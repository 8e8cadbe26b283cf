//! The cross-process re-evaluation lock.

use std::time::Duration;

use crate::support::for_each_backend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_reevaluates_at_a_time_and_a_dead_holder_frees_the_lock() {
    for_each_backend!(|db| {
        // A second store on the same database stands for a second server process.
        let other = pakiti_store::open(&db.url).await.unwrap();
        let held = db.store.lock_reevaluation().await.unwrap();
        let waiter = {
            let other = other.clone();
            tokio::spawn(async move { other.lock_reevaluation().await.unwrap() })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !waiter.is_finished(),
            "{}: a second process took the lock while the first held it",
            db.backend
        );
        held.release().await.unwrap();
        let second = tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .expect("the lock was not handed on after release")
            .unwrap();
        // Dropped without release (the holder died mid-way): the lock is free again.
        drop(second);
        let third = tokio::time::timeout(Duration::from_secs(10), db.store.lock_reevaluation())
            .await
            .expect("a dropped holder kept the lock")
            .unwrap();
        third.release().await.unwrap();
        // Released properly, the PostgreSQL connection goes back to the pool unlocked: the
        // other store can take the lock at once.
        let again = tokio::time::timeout(Duration::from_secs(10), other.lock_reevaluation())
            .await
            .expect("a released lock stayed taken")
            .unwrap();
        again.release().await.unwrap();
        other.close().await;
    });
}
