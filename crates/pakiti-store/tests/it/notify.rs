//! Notification rules, seen subjects, the digest backlog and the outbox.

use pakiti_store::{NewNotifyRule, NewOutboxEntry, StoreError};
use time::OffsetDateTime;

use crate::support::for_each_backend;

fn rule(name: &str) -> NewNotifyRule {
    NewNotifyRule {
        name: name.into(),
        enabled: true,
        scope_groups: vec!["prague".into(), "brno".into()],
        scope_domains: vec![],
        triggers: vec!["tagged".into(), "kev".into()],
        silent_days: 2,
        mode: "immediate".into(),
        emails: vec!["a@example.org".into()],
        webhook_url: Some("http://127.0.0.1/h".into()),
        webhook_secret: Some("s".into()),
        author: "alice".into(),
    }
}

fn msg(rule_id: i64, to: &str) -> NewOutboxEntry {
    NewOutboxEntry {
        rule_id: Some(rule_id),
        rule_name: "r".into(),
        kind: "email".into(),
        destination: to.into(),
        subject: "s".into(),
        payload: "{}".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_rules_seen_digest_and_outbox() {
    for_each_backend!(|db| {
        let s = &db.store;
        let be = db.backend;
        let r = s.create_notify_rule(&rule("r")).await.unwrap();
        assert_eq!(r.scope_groups, ["prague", "brno"], "{be}");
        assert_eq!(r.triggers, ["tagged", "kev"]);
        assert_eq!(r.baselined_at, None);
        assert_eq!(r.last_digest_at, Some(r.created_at));
        let dup = s.create_notify_rule(&rule("r")).await;
        assert!(matches!(dup, Err(StoreError::Duplicate(_))), "{be} {dup:?}");
        let mut none = rule("n");
        none.triggers.clear();
        assert!(matches!(
            s.create_notify_rule(&none).await,
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(s.list_notify_rules().await.unwrap(), vec![r.clone()]);

        // Baseline: subjects recorded, nothing queued.
        let t0 = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        s.notify_commit(r.id, &["a".into(), "b".into()], &[], &[], true, t0)
            .await
            .unwrap();
        let seen = s.notify_seen(r.id).await.unwrap();
        assert_eq!(seen.len(), 2, "{be}");
        assert_eq!(
            s.get_notify_rule(r.id).await.unwrap().unwrap().baselined_at,
            Some(t0)
        );
        // New subject + a message, atomically.
        s.notify_commit(
            r.id,
            &["b".into(), "c".into()],
            &[msg(r.id, "x@example.org")],
            &[],
            false,
            t0,
        )
        .await
        .unwrap();
        assert_eq!(s.notify_seen(r.id).await.unwrap().len(), 3);
        // Everything already seen (another server got there first): nothing queued.
        s.notify_commit(
            r.id,
            &["c".into()],
            &[msg(r.id, "dup@example.org")],
            &[],
            false,
            t0,
        )
        .await
        .unwrap();
        let out = s.list_notifications(10).await.unwrap();
        assert_eq!(out.len(), 1, "{be}");
        assert_eq!(out[0].status(), "pending");
        s.notify_forget(r.id, &["c".into()]).await.unwrap();
        assert!(!s.notify_seen(r.id).await.unwrap().contains("c"));

        // Digest backlog.
        s.notify_commit(
            r.id,
            &["d".into()],
            &[],
            &["e1".into(), "e2".into()],
            false,
            t0,
        )
        .await
        .unwrap();
        let backlog = s.notify_digest_backlog(r.id).await.unwrap();
        assert_eq!(
            backlog.iter().map(|(_, e)| e.as_str()).collect::<Vec<_>>(),
            ["e1", "e2"]
        );
        let t1 = t0 + time::Duration::days(1);
        s.notify_digest_done(r.id, backlog[1].0, &[msg(r.id, "digest@example.org")], t1)
            .await
            .unwrap();
        assert!(s.notify_digest_backlog(r.id).await.unwrap().is_empty());
        assert_eq!(
            s.get_notify_rule(r.id)
                .await
                .unwrap()
                .unwrap()
                .last_digest_at,
            Some(t1)
        );

        // Due rows, a claim, a failure with backoff, a delivery.
        let due = s.due_notifications(t0, 10).await.unwrap();
        assert_eq!(due.len(), 1, "{be}: only the row due at t0");
        let lease = t0 + time::Duration::minutes(5);
        assert!(s.claim_notification(&due[0], lease).await.unwrap());
        assert!(
            !s.claim_notification(&due[0], lease).await.unwrap(),
            "claimed once"
        );
        s.notification_failed(
            due[0].id,
            "451 later",
            t0 + time::Duration::minutes(1),
            false,
        )
        .await
        .unwrap();
        let e = s
            .list_notifications(10)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.id == due[0].id)
            .unwrap();
        assert_eq!(
            (e.status(), e.attempts, e.last_error.as_deref()),
            ("retrying", 1, Some("451 later"))
        );
        assert!(s.due_notifications(t0, 10).await.unwrap().is_empty());
        let due = s.due_notifications(t1, 10).await.unwrap();
        assert_eq!(due.len(), 2);
        s.notification_sent(due[0].id, t1).await.unwrap();
        s.notification_failed(due[1].id, "gone", t1, true)
            .await
            .unwrap();
        assert!(
            s.due_notifications(t1 + time::Duration::days(9), 10)
                .await
                .unwrap()
                .is_empty()
        );
        let statuses: Vec<&str> = s
            .list_notifications(10)
            .await
            .unwrap()
            .iter()
            .map(|e| e.status())
            .collect::<Vec<_>>()
            .into_iter()
            .collect();
        assert!(
            statuses.contains(&"sent") && statuses.contains(&"failed"),
            "{be} {statuses:?}"
        );

        // Deleting the rule keeps its outbox rows, without the rule.
        assert!(s.delete_notify_rule(r.id).await.unwrap());
        assert!(!s.delete_notify_rule(r.id).await.unwrap());
        assert!(
            s.list_notifications(10)
                .await
                .unwrap()
                .iter()
                .all(|e| e.rule_id.is_none())
        );
        assert!(s.notify_seen(r.id).await.unwrap().is_empty());
    });
}
