//! Issue 15: the audit log is appended, filtered by actor and action prefix, paged newest
//! first, and bounded to the newest `keep` rows (0 keeps every one).

use pakiti_store::{AuditFilter, NewAuditEntry};

use crate::support::{at, for_each_backend};

fn entry(i: i64, actor: &str, action: &str) -> NewAuditEntry {
    NewAuditEntry {
        at: at(1_000 + i),
        actor: actor.into(),
        via: "api".into(),
        action: action.into(),
        target: format!("name=u{i}"),
        detail: String::new(),
        status: "200".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_15_audit_log_filters_pages_and_bounds() {
    for_each_backend!(|db| {
        let s = &db.store;
        let all = AuditFilter::default();
        s.record_audit(&entry(0, "root", "POST /api/v1/users"), 0)
            .await
            .unwrap();
        s.record_audit(&entry(1, "alice", "login"), 0)
            .await
            .unwrap();
        s.record_audit(&entry(2, "root", "DELETE /api/v1/users/{name}"), 0)
            .await
            .unwrap();
        s.record_audit(&entry(3, "root", "POST /api/v1/users/{name}/tokens"), 0)
            .await
            .unwrap();
        let (rows, total) = s.audit_entries(&all, 0, 10).await.unwrap();
        assert_eq!(total, 4);
        assert_eq!(
            rows[0].entry,
            entry(3, "root", "POST /api/v1/users/{name}/tokens")
        );
        assert!(rows.windows(2).all(|w| w[0].id > w[1].id));
        let by_actor = AuditFilter {
            actor: Some("alice".into()),
            action: None,
        };
        let (rows, total) = s.audit_entries(&by_actor, 0, 10).await.unwrap();
        assert_eq!((rows.len(), total), (1, 1));
        assert_eq!(rows[0].entry.action, "login");
        let by_action = AuditFilter {
            actor: Some("root".into()),
            action: Some("POST /api/v1/users".into()),
        };
        let (rows, total) = s.audit_entries(&by_action, 0, 1).await.unwrap();
        assert_eq!(total, 2);
        assert_eq!(rows[0].entry.target, "name=u3");
        let (rows, _) = s.audit_entries(&by_action, 1, 1).await.unwrap();
        assert_eq!(rows[0].entry.target, "name=u0");
        // Bounded: the newest 2 are kept.
        s.record_audit(&entry(4, "root", "login"), 2).await.unwrap();
        let (rows, total) = s.audit_entries(&all, 0, 10).await.unwrap();
        assert_eq!(total, 2);
        let targets: Vec<&str> = rows.iter().map(|r| r.entry.target.as_str()).collect();
        assert_eq!(targets, ["name=u4", "name=u3"]);
    });
}
