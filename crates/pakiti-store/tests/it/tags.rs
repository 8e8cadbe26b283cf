//! CVE tags and exceptions.

use pakiti_store::{NewCveTag, NewException, StoreError};

use crate::support::{at, for_each_backend};

fn tag(cve: &str, name: &str) -> NewCveTag {
    NewCveTag {
        cve: cve.into(),
        tag: name.into(),
        reason: "exploited <in the wild>".into(),
        info_url: Some("https://example.org/x".into()),
        enabled: true,
        author: "alice".into(),
    }
}

fn exception(cve: &str, version: &str) -> NewException {
    NewException {
        cve: cve.into(),
        package: "openssl".into(),
        version: version.into(),
        stream: "rhel:8".into(),
        reason: "mitigated".into(),
        author: "bob".into(),
        expires_at: Some(at(3600)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_are_created_listed_toggled_and_deleted() {
    for_each_backend!(|db| {
        let s = &db.store;
        let a = s.create_cve_tag(&tag("CVE-2023-2", "High")).await.unwrap();
        let b = s
            .create_cve_tag(&tag("CVE-2023-1", "Critical"))
            .await
            .unwrap();
        let c = s
            .create_cve_tag(&tag("CVE-2023-2", "Critical"))
            .await
            .unwrap();
        assert_eq!(a.reason, "exploited <in the wild>", "{}", db.backend);
        assert_eq!(a.info_url.as_deref(), Some("https://example.org/x"));
        assert!(a.enabled);
        // Unique (cve, tag).
        let dup = s.create_cve_tag(&tag("CVE-2023-2", "High")).await;
        assert!(matches!(dup, Err(StoreError::Duplicate(_))), "{dup:?}");
        let empty = s.create_cve_tag(&tag("", "High")).await;
        assert!(matches!(empty, Err(StoreError::Invalid(_))), "{empty:?}");
        let list = s.list_cve_tags().await.unwrap();
        let ids: Vec<i64> = list.iter().map(|t| t.id).collect();
        assert_eq!(ids, vec![b.id, c.id, a.id], "{}", db.backend);
        let off = s.set_cve_tag_enabled(a.id, false).await.unwrap().unwrap();
        assert!(!off.enabled);
        assert!(!s.list_cve_tags().await.unwrap()[2].enabled);
        assert_eq!(s.set_cve_tag_enabled(9999, false).await.unwrap(), None);
        assert_eq!(
            s.delete_cve_tag(b.id).await.unwrap().unwrap().cve,
            "CVE-2023-1"
        );
        assert_eq!(s.delete_cve_tag(b.id).await.unwrap(), None);
        assert_eq!(s.list_cve_tags().await.unwrap().len(), 2);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exceptions_are_created_listed_and_deleted() {
    for_each_backend!(|db| {
        let s = &db.store;
        let e1 = s
            .create_exception(&exception("CVE-2023-9", "1.1.1k-7.el8"))
            .await
            .unwrap();
        let mut forever = exception("CVE-2023-9", "1.1.1k-9.el8");
        forever.expires_at = None;
        let e2 = s.create_exception(&forever).await.unwrap();
        assert_eq!(e1.expires_at, Some(at(3600)), "{}", db.backend);
        assert_eq!(e2.expires_at, None);
        assert!(e1.active_at(at(3599)));
        assert!(!e1.active_at(at(3600)));
        assert!(e2.active_at(at(1_000_000)));
        let dup = s
            .create_exception(&exception("CVE-2023-9", "1.1.1k-7.el8"))
            .await;
        assert!(matches!(dup, Err(StoreError::Duplicate(_))), "{dup:?}");
        let list = s.list_exceptions().await.unwrap();
        assert_eq!(list, vec![e1.clone(), e2.clone()], "{}", db.backend);
        assert_eq!(s.delete_exception(e1.id).await.unwrap(), Some(e1.clone()));
        assert_eq!(s.delete_exception(e1.id).await.unwrap(), None);
        assert_eq!(s.list_exceptions().await.unwrap(), vec![e2]);
    });
}
