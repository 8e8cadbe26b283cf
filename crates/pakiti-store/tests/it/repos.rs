//! Repositories: CRUD, package replacement, sync history, loading, host update counts.

use pakiti_core::package::InstalledPackage;
use pakiti_store::{
    HostFacts, HostIdentity, HostUpdateCounts, NewReport, NewRepository, RepoContent, RepoEntry,
    ReportMeta, StoreError, SyncRecord, SyncStatus,
};

use crate::support::{at, for_each_backend, ok_sync, stream};

fn new_repo(name: &str, stream: &str) -> NewRepository {
    NewRepository {
        name: name.into(),
        kind: "apt".into(),
        url: format!("http://deb.example.invalid/{name}"),
        stream: stream.into(),
        arch: Some("amd64".into()),
        security: None,
        priority: None,
        enabled: true,
        interval_secs: 3600,
    }
}

fn entry(name: &str, version: &str, security: bool, installable: bool) -> RepoEntry {
    RepoEntry {
        name: name.into(),
        version: version.into(),
        arch: "amd64".into(),
        source: (name == "libssl3").then(|| "openssl".to_owned()),
        security,
        installable,
        module: (name == "nodejs").then(|| "nodejs:18".to_owned()),
        advisory: (name == "nodejs").then(|| "RLSA-2024:0001".to_owned()),
        severity: (name == "nodejs").then(|| "Important".to_owned()),
    }
}

#[tokio::test]
async fn repository_crud_sync_and_load() {
    for_each_backend!(|db| {
        let s = &db.store;
        let main = s
            .create_repository(&new_repo("bookworm", "debian:12"))
            .await
            .unwrap();
        assert_eq!(main.stream, "debian:12");
        assert_eq!(main.last_sync, None);
        assert_eq!(main.package_count, 0);
        assert!(!main.is_security());
        assert!(matches!(
            s.create_repository(&new_repo("bookworm", "debian:12"))
                .await,
            Err(StoreError::Duplicate(_))
        ));
        let mut sec = new_repo("bookworm-security", "debian:12");
        sec.security = Some(true);
        sec.priority = Some(600);
        let sec = s.create_repository(&sec).await.unwrap();
        assert!(sec.is_security());
        assert_eq!(sec.priority, Some(600));
        let names: Vec<String> = s
            .list_repositories()
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["bookworm", "bookworm-security"]);

        let content = RepoContent {
            meta_security: false,
            meta_priority: Some(500),
            entries: vec![
                entry("libssl3", "3.0.15-1~deb12u1", false, true),
                entry("nodejs", "1:18.19.0-1", true, false),
                entry("bash", "5.2.15-2+b7", true, true),
            ],
        };
        s.replace_repository_packages(main.id, &content, &ok_sync(10))
            .await
            .unwrap();
        let got = s.get_repository(main.id).await.unwrap().unwrap();
        assert_eq!(got.package_count, 3);
        assert_eq!(got.security_count, 2);
        assert_eq!(got.meta_priority, Some(500));
        assert_eq!(got.last_sync, Some(ok_sync(10)));
        // A failure keeps the packages and the validators.
        let failed = SyncRecord {
            at: at(20),
            status: SyncStatus::Failed,
            error: Some("connection refused".into()),
            duration_ms: 5,
            etag: None,
            last_modified: None,
            checksum: None,
        };
        s.record_repository_sync(main.id, &failed).await.unwrap();
        let got = s.get_repository(main.id).await.unwrap().unwrap();
        assert_eq!(got.package_count, 3);
        let last = got.last_sync.unwrap();
        assert_eq!(last.status, SyncStatus::Failed);
        assert_eq!(last.etag, ok_sync(10).etag);
        assert!(
            s.record_repository_sync(main.id, &ok_sync(30))
                .await
                .is_err()
        );
        let runs = s.repository_runs(main.id, 10).await.unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].record.status, SyncStatus::Failed);
        assert_eq!(runs[1].package_count, 3);

        let loaded = s.load_repository_packages().await.unwrap();
        assert_eq!(loaded.len(), 2);
        assert_eq!(loaded[0].0.id, main.id);
        assert_eq!(loaded[0].1, content.entries);
        assert!(loaded[1].1.is_empty());

        // Replacing is whole: the old entries go. A `Sources` name pair survives the round
        // trip as a pair (neither a package nor a security marker).
        let smaller = RepoContent {
            entries: vec![
                entry("bash", "5.2.15-2+b8", false, true),
                RepoEntry::source_pair("libssl1.1", "openssl", "1.1.1w-0+deb11u1"),
            ],
            ..RepoContent::default()
        };
        s.replace_repository_packages(main.id, &smaller, &ok_sync(40))
            .await
            .unwrap();
        let loaded = s.load_repository_packages().await.unwrap();
        assert_eq!(loaded[0].1, smaller.entries);
        assert!(loaded[0].1[1].is_source_pair());
        assert!(!loaded[0].1[1].security && !loaded[0].1[1].installable);
        assert_eq!(loaded[0].1[1].source.as_deref(), Some("openssl"));

        assert!(s.delete_repository(sec.id).await.unwrap());
        assert!(!s.delete_repository(sec.id).await.unwrap());
        assert_eq!(s.list_repositories().await.unwrap().len(), 1);
        assert!(matches!(
            s.replace_repository_packages(sec.id, &smaller, &ok_sync(50))
                .await,
            Err(StoreError::NotFound { .. })
        ));
    });
}

#[tokio::test]
async fn host_update_counts() {
    for_each_backend!(|db| {
        let s = &db.store;
        let facts = HostFacts {
            domain: None,
            group: None,
            os_name: "Debian GNU/Linux 12 (bookworm)".into(),
            stream: Some(stream("debian:12")),
            arch: "amd64".into(),
            kernel: "6.1.0-18-amd64".into(),
            tag: None,
            packager: "dpkg".into(),
            reboot_needed: false,
            modules: vec![],
            module_streams: pakiti_store::ModuleStreams::Reported,
            problems: pakiti_store::ReportProblems::default(),
            old_kernels: Vec::new(),
        };
        let mut ids = Vec::new();
        for (i, name) in ["a", "b"].iter().enumerate() {
            let saved = s
                .save_report(NewReport {
                    identity: &HostIdentity {
                        hostname: (*name).into(),
                        client_id: None,
                    },
                    facts: &facts,
                    meta: &ReportMeta {
                        received_at: at(i64::try_from(i).unwrap()),
                        hash: format!("h{i}"),
                        via_proxy: false,
                        proxy_name: None,
                        site: None,
                        tag: None,
                    },
                    packages: &[InstalledPackage::new("bash", "5.2.15-2+b2", "amd64")],
                })
                .await
                .unwrap();
            ids.push(saved.host_id);
        }
        let hosts = s.stream_hosts("debian:bookworm").await.unwrap();
        assert_eq!(hosts.iter().map(|h| h.id).collect::<Vec<_>>(), ids);
        assert!(s.stream_hosts("debian:bullseye").await.unwrap().is_empty());
        assert_eq!(hosts[0].updates, HostUpdateCounts::default());
        let c = HostUpdateCounts {
            security: 3,
            other: 7,
        };
        s.set_host_updates(&[(ids[1], c)]).await.unwrap();
        assert_eq!(s.get_host(ids[1]).await.unwrap().unwrap().updates, c);
        assert_eq!(
            s.get_host(ids[0]).await.unwrap().unwrap().updates,
            HostUpdateCounts::default()
        );
    });
}
