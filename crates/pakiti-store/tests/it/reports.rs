//! Hosts, reports, interning, findings and retention.

use pakiti_core::package::InstalledPackage;
use pakiti_store::Store;
use pakiti_store::{
    FeedUpdate, FinishReport, HostCounts, HostFacts, HostFilter, HostIdentity, HostScope, HostSort,
    HostSortKey, NewReport, PackageFinding, Page, ReportMeta, SavedReport, StoreError,
};

use time::OffsetDateTime;

use crate::support::{at, feed, for_each_backend, ok_sync, rhsa, set_enabled, stream};

pub(crate) fn id(hostname: &str, client_id: Option<&str>) -> HostIdentity {
    HostIdentity {
        hostname: hostname.into(),
        client_id: client_id.map(str::to_owned),
    }
}

pub(crate) fn facts(s: &str) -> HostFacts {
    HostFacts {
        domain: Some("example.org".into()),
        group: Some("site-a".into()),
        os_name: "Rocky Linux 8.9".into(),
        stream: Some(stream(s)),
        arch: "x86_64".into(),
        kernel: "4.18.0-513.el8.x86_64".into(),
        tag: Some("prod".into()),
        packager: "rpm".into(),
        reboot_needed: false,
        modules: vec!["nodejs:18".into(), "perl:5.26".into()],
        module_streams: pakiti_store::ModuleStreams::Reported,
        problems: pakiti_store::ReportProblems::default(),
        old_kernels: Vec::new(),
    }
}

fn meta(secs: i64, hash: &str) -> ReportMeta {
    ReportMeta {
        received_at: at(secs),
        hash: hash.into(),
        via_proxy: false,
        proxy_name: None,
        site: Some("site-a".into()),
        tag: None,
    }
}

pub(crate) fn pkg(name: &str, version: &str) -> InstalledPackage {
    InstalledPackage::new(name, version, "x86_64")
}

pub(crate) async fn save(
    s: &Store,
    identity: &HostIdentity,
    facts: &HostFacts,
    secs: i64,
    hash: &str,
    packages: &[InstalledPackage],
) -> SavedReport {
    s.save_report(NewReport {
        identity,
        facts,
        meta: &meta(secs, hash),
        packages,
    })
    .await
    .expect("save report")
}

/// Marks `r` processed at `when` with `counts`, as ingest's finish does.
pub(crate) async fn processed(
    s: &Store,
    r: &SavedReport,
    when: OffsetDateTime,
    counts: HostCounts,
) {
    let done = s
        .finish_reports(&[FinishReport {
            report: r.report_id,
            host: r.host_id,
            processed_at: when,
            counts,
            stream: None,
            evaluated: vec![],
            findings: vec![],
            updates: None,
            generation: None,
            exposures: None,
        }])
        .await
        .expect("finish report");
    assert_eq!(done, [true]);
}

#[tokio::test]
async fn host_identity() {
    for_each_backend!(|db| {
        let s = &db.store;
        let f = facts("rhel:8");
        let p = [pkg("bash", "5.0-1.el8")];
        let a = save(s, &id("web1", Some("c-1")), &f, 1, "h1", &p).await;
        assert!(a.new_host);
        // Same client id, new hostname: the same host, renamed.
        let b = save(s, &id("web1-renamed", Some("c-1")), &f, 2, "h2", &p).await;
        assert!(!b.new_host);
        assert_eq!(a.host_id, b.host_id);
        let host = s.get_host(a.host_id).await.unwrap().unwrap();
        assert_eq!(host.hostname, "web1-renamed");
        assert_eq!(host.client_id.as_deref(), Some("c-1"));
        assert_eq!(host.facts.modules, ["nodejs:18", "perl:5.26"]);
        // Same hostname, another client id: another host.
        let c = save(s, &id("web1-renamed", Some("c-2")), &f, 3, "h3", &p).await;
        assert_ne!(c.host_id, a.host_id);
        // No client id: the hostname identifies the host.
        let d = save(s, &id("db1", None), &f, 4, "h4", &p).await;
        let e = save(s, &id("db1", None), &f, 5, "h5", &p).await;
        assert_eq!(d.host_id, e.host_id);
        assert!(d.new_host && !e.new_host);
        // A host first seen without a client id is adopted when the agent starts sending one.
        let g = save(s, &id("db1", Some("c-3")), &f, 6, "h6", &p).await;
        assert_eq!(g.host_id, d.host_id);
        assert_eq!(
            s.get_host(d.host_id)
                .await
                .unwrap()
                .unwrap()
                .client_id
                .as_deref(),
            Some("c-3")
        );
        let state = s
            .host_state(&id("whatever", Some("c-3")))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(state.id, d.host_id);
        assert_eq!(state.last_report_hash.as_deref(), Some("h6"));
        assert_eq!(state.stream.as_deref(), Some("rhel:8"));
        assert_eq!(s.host_state(&id("nobody", None)).await.unwrap(), None);
        let all = s
            .list_hosts(&HostFilter::default(), HostSort::default(), Page::default())
            .await
            .unwrap();
        assert_eq!(all.total, 3);
        assert!(matches!(
            s.save_report(NewReport {
                identity: &id("", None),
                facts: &f,
                meta: &meta(1, "x"),
                packages: &p
            })
            .await,
            Err(StoreError::Invalid(_))
        ));
    });
}

#[tokio::test]
async fn packages_are_interned_and_evaluated_once_per_stream() {
    for_each_backend!(|db| {
        let s = &db.store;
        let f8 = facts("rhel:8");
        let shared = [pkg("bash", "5.0-1.el8"), pkg("curl", "7.61-1.el8")];
        let mut first = shared.to_vec();
        first.push(pkg("kernel", "4.18.0-1.el8"));
        first.push(pkg("kernel", "4.18.0-2.el8"));
        first.push(pkg("bash", "5.0-1.el8")); // duplicate line in the report
        let mut with_source = pkg("openssl-libs", "1:3.0.7-25.el8");
        with_source.source = Some("openssl".into());
        first.push(with_source.clone());
        let a = save(s, &id("a", None), &f8, 1, "ha", &first).await;
        assert_eq!(a.package_ids.len(), 6);
        assert_eq!(a.package_ids[0], a.package_ids[4]);
        assert_ne!(a.package_ids[2], a.package_ids[3]);
        let mut distinct = a.package_ids.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(a.unevaluated, distinct);
        assert_eq!(s.get_host(a.host_id).await.unwrap().unwrap().pkg_count, 5);
        let stored = s.host_packages(a.host_id).await.unwrap();
        assert_eq!(stored.len(), 5);
        assert!(stored.iter().any(|(_, p)| *p == with_source));
        assert!(
            stored
                .iter()
                .any(|(_, p)| *p == pkg("kernel", "4.18.0-2.el8"))
        );

        // Nothing matched: all evaluated, no findings.
        s.store_package_findings("rhel:8", &a.unevaluated, &[])
            .await
            .unwrap();

        let mut second = shared.to_vec();
        second.push(pkg("zsh", "5.5-1.el8"));
        let b = save(s, &id("b", None), &f8, 2, "hb", &second).await;
        assert_eq!(&b.package_ids[..2], &a.package_ids[..2]);
        assert_eq!(b.unevaluated, vec![b.package_ids[2]]);
        // The same versions on another stream are evaluated separately.
        let c = save(s, &id("c", None), &facts("rhel:9"), 3, "hc", &shared).await;
        assert_eq!(&c.package_ids[..], &a.package_ids[..2]);
        let mut expected = c.package_ids.clone();
        expected.sort_unstable();
        assert_eq!(c.unevaluated, expected);
        // A host with no stream has nothing to evaluate.
        let mut nostream = facts("rhel:8");
        nostream.stream = None;
        let d = save(s, &id("d", None), &nostream, 4, "hd", &shared).await;
        assert!(d.unevaluated.is_empty());

        let found = s
            .evaluated_package_versions("rhel:8", &["openssl".into(), "curl".into()])
            .await
            .unwrap();
        let names: Vec<&str> = found.iter().map(|(_, p)| p.name.as_str()).collect();
        assert_eq!(names, ["curl", "openssl-libs"]);
        assert!(
            s.evaluated_package_versions("rhel:9", &["curl".into()])
                .await
                .unwrap()
                .is_empty()
        );

        let mut hosts = s
            .hosts_with_packages("rhel:8", &[a.package_ids[2]])
            .await
            .unwrap();
        assert_eq!(hosts, vec![a.host_id]);
        hosts = s
            .hosts_with_packages("rhel:8", &[a.package_ids[1]])
            .await
            .unwrap();
        assert_eq!(hosts, vec![a.host_id, b.host_id]);

        // A second process (its own caches) sees the same ids and evaluation state.
        let other = pakiti_store::open(&db.url).await.unwrap();
        let e = save(&other, &id("e", None), &f8, 5, "he", &second).await;
        assert_eq!(e.package_ids, b.package_ids);
        assert_eq!(e.unevaluated, b.unevaluated);
        other
            .store_package_findings("rhel:8", &e.unevaluated, &[])
            .await
            .unwrap();
        other.close().await;
        let f = save(s, &id("f", None), &f8, 6, "hf", &second).await;
        assert!(f.unevaluated.is_empty());

        // Re-saving with fewer packages replaces the installed set.
        save(s, &id("a", None), &f8, 5, "ha2", &shared).await;
        assert_eq!(s.host_packages(a.host_id).await.unwrap().len(), 2);
        assert_eq!(s.get_host(a.host_id).await.unwrap().unwrap().pkg_count, 2);
    });
}

#[tokio::test]
async fn findings_join_and_follow_feed_changes() {
    for_each_backend!(|db| {
        let s = &db.store;
        let fid = feed(s, "rhel").await;
        let mut bash_adv = rhsa("RHSA-1", "8", "bash", "5.0-2.el8");
        bash_adv.cves = vec!["CVE-2024-1".into(), "CVE-2024-2".into()];
        let curl_adv = rhsa("RHSA-2", "8", "curl", "7.61-2.el8");
        s.replace_feed_advisories(fid, &[bash_adv.clone(), curl_adv.clone()], &ok_sync(1))
            .await
            .unwrap();
        let adv = s.load_advisories().await.unwrap();
        let r = save(
            s,
            &id("a", None),
            &facts("rhel:8"),
            1,
            "h",
            &[
                pkg("bash", "5.0-1.el8"),
                pkg("curl", "7.61-1.el8"),
                pkg("zsh", "1-1"),
            ],
        )
        .await;
        let findings = [
            PackageFinding {
                package_version_id: r.package_ids[0],
                advisory_id: adv[0].id,
                affected_idx: 0,
            },
            PackageFinding {
                package_version_id: r.package_ids[1],
                advisory_id: adv[1].id,
                affected_idx: 0,
            },
        ];
        s.store_package_findings("rhel:8", &r.unevaluated, &findings)
            .await
            .unwrap();
        let got = s.host_findings(r.host_id).await.unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].package, pkg("bash", "5.0-1.el8"));
        assert_eq!(got[0].vendor_id, "RHSA-1");
        assert_eq!(got[0].cves, ["CVE-2024-1", "CVE-2024-2"]);
        assert_eq!(got[0].status, "fixed");
        assert_eq!(got[0].fixed_version.as_deref(), Some("5.0-2.el8"));
        assert_eq!(got[0].title, "bash security update");
        assert_eq!(got[1].vendor_id, "RHSA-2");

        // Re-evaluating replaces earlier answers; findings for advisories that vanished
        // meanwhile are dropped instead of failing.
        s.store_package_findings(
            "rhel:8",
            &[r.package_ids[1]],
            &[PackageFinding {
                package_version_id: r.package_ids[1],
                advisory_id: 999_999,
                affected_idx: 0,
            }],
        )
        .await
        .unwrap();
        let got = s.host_findings(r.host_id).await.unwrap();
        assert_eq!(got.len(), 1);
        s.store_package_findings("rhel:8", &[r.package_ids[1]], &findings[1..])
            .await
            .unwrap();

        // A changed advisory loses its findings (its keys are stale); others keep theirs.
        let mut curl_fixed_later = curl_adv.clone();
        curl_fixed_later.affected[0].status =
            pakiti_core::advisory::Status::Fixed("7.61-3.el8".into());
        let out = s
            .replace_feed_advisories(fid, &[bash_adv.clone(), curl_fixed_later], &ok_sync(2))
            .await
            .unwrap();
        assert_eq!(out.changed_keys.len(), 1);
        let got = s.host_findings(r.host_id).await.unwrap();
        assert_eq!(
            got.iter().map(|f| f.vendor_id.as_str()).collect::<Vec<_>>(),
            ["RHSA-1"]
        );

        // Disabled feeds' findings are not shown.
        s.update_feed(
            fid,
            &FeedUpdate {
                enabled: Some(false),
                ..FeedUpdate::default()
            },
        )
        .await
        .unwrap();
        assert!(s.host_findings(r.host_id).await.unwrap().is_empty());
        assert!(matches!(
            s.host_findings(12345).await,
            Err(StoreError::NotFound { .. })
        ));
    });
}

#[tokio::test]
async fn unchanged_reports_take_the_cheap_path() {
    for_each_backend!(|db| {
        let s = &db.store;
        let p = [pkg("bash", "5.0-1.el8"), pkg("curl", "7.61-1.el8")];
        let r = save(s, &id("a", Some("c")), &facts("rhel:8"), 10, "same", &p).await;
        let counts = HostCounts {
            cves: 4,
            high: 3,
            low: 1,
            ..HostCounts::default()
        };
        processed(s, &r, at(11), counts).await;
        let state = s.host_state(&id("a", Some("c"))).await.unwrap().unwrap();
        assert_eq!(state.last_report_hash.as_deref(), Some("same"));
        let rid = s
            .touch_unchanged_report(state.id, &meta(500, "same"))
            .await
            .unwrap();
        assert!(rid > r.report_id);
        let host = s.get_host(r.host_id).await.unwrap().unwrap();
        assert_eq!(host.last_report_at, at(500));
        assert_eq!(host.first_seen, at(10));
        assert_eq!(host.pkg_count, 2);
        assert_eq!(host.counts.cves, 4);
        assert_eq!(host.counts.high, 3);
        assert_eq!(s.host_packages(r.host_id).await.unwrap().len(), 2);
        // Group commit: many unchanged reports in one transaction; a vanished host is `None`.
        let batch = s
            .touch_unchanged_reports(&[
                (r.host_id, meta(600, "same")),
                (9999, meta(600, "x")),
                (r.host_id, meta(550, "same")),
            ])
            .await
            .unwrap();
        assert_eq!(batch.len(), 3);
        assert!(batch[0].is_some() && batch[1].is_none() && batch[2].is_some());
        // An older report arriving late does not move last_report_at back.
        assert_eq!(
            s.get_host(r.host_id).await.unwrap().unwrap().last_report_at,
            at(600)
        );
        assert!(matches!(
            s.touch_unchanged_report(9999, &meta(1, "x")).await,
            Err(StoreError::NotFound { .. })
        ));
    });
}

#[tokio::test]
async fn listing_sorting_and_deleting_hosts() {
    for_each_backend!(|db| {
        let s = &db.store;
        let p = [pkg("bash", "5.0-1.el8")];
        let mut ids = Vec::new();
        for (i, name) in ["web-01", "Web-02", "db-01", "mail_01"].iter().enumerate() {
            let mut f = facts(if i % 2 == 0 { "rhel:8" } else { "debian:12" });
            if i == 3 {
                f.group = None;
                f.tag = None;
            }
            let secs = i64::try_from(i).unwrap();
            let r = save(s, &id(name, None), &f, 100 + secs, "h", &p).await;
            s.update_hosts_counts(&[(
                r.host_id,
                HostCounts {
                    cves: secs * 10,
                    critical: 3 - secs,
                    ..HostCounts::default()
                },
            )])
            .await
            .unwrap();
            ids.push(r.host_id);
        }
        let names = |page: &pakiti_store::HostPage| {
            page.hosts
                .iter()
                .map(|h| h.hostname.clone())
                .collect::<Vec<_>>()
        };
        let all = s
            .list_hosts(&HostFilter::default(), HostSort::default(), Page::default())
            .await
            .unwrap();
        assert_eq!(all.total, 4);
        assert_eq!(names(&all), ["Web-02", "db-01", "mail_01", "web-01"]);
        let web = HostFilter {
            hostname_contains: Some("WEB".into()),
            ..HostFilter::default()
        };
        let page = s
            .list_hosts(&web, HostSort::default(), Page::default())
            .await
            .unwrap();
        assert_eq!(page.total, 2);
        // LIKE wildcards in the search text are literal.
        let underscore = HostFilter {
            hostname_contains: Some("_".into()),
            ..HostFilter::default()
        };
        let page = s
            .list_hosts(&underscore, HostSort::default(), Page::default())
            .await
            .unwrap();
        assert_eq!(names(&page), ["mail_01"]);
        let by_cves = HostSort {
            key: HostSortKey::Cves,
            descending: true,
        };
        let page = s
            .list_hosts(
                &HostFilter::default(),
                by_cves,
                Page {
                    offset: 1,
                    limit: 2,
                },
            )
            .await
            .unwrap();
        assert_eq!(page.total, 4);
        assert_eq!(names(&page), ["db-01", "Web-02"]);
        let deb = HostFilter {
            stream: Some("debian:bookworm".into()),
            ..HostFilter::default()
        };
        let page = s
            .list_hosts(&deb, HostSort::default(), Page::default())
            .await
            .unwrap();
        assert_eq!(names(&page), ["Web-02", "mail_01"]);
        let site = HostFilter {
            group: Some("site-a".into()),
            vulnerable_only: true,
            tag: Some("prod".into()),
            domain: Some("example.org".into()),
            ..HostFilter::default()
        };
        let page = s
            .list_hosts(
                &site,
                HostSort {
                    key: HostSortKey::LastReport,
                    descending: false,
                },
                Page::default(),
            )
            .await
            .unwrap();
        assert_eq!(names(&page), ["Web-02", "db-01"]);
        assert_eq!(page.hosts[1].group.as_deref(), Some("site-a"));
        // Authorization scopes: nothing granted shows nothing; grants are a union.
        let nothing = HostFilter {
            scope: HostScope::Restricted {
                groups: vec![],
                domains: vec![],
                hosts: vec![],
            },
            ..HostFilter::default()
        };
        let none = s
            .list_hosts(&nothing, HostSort::default(), Page::default())
            .await
            .unwrap();
        assert_eq!(none.total, 0);
        let granted = HostFilter {
            scope: HostScope::Restricted {
                groups: vec!["no-such-group".into()],
                domains: vec![],
                hosts: vec!["mail_01".into()],
            },
            ..HostFilter::default()
        };
        let mine = s
            .list_hosts(&granted, HostSort::default(), Page::default())
            .await
            .unwrap();
        assert_eq!(names(&mine), ["mail_01"]);
        assert!(granted.scope.allows(&mine.hosts[0]));
        assert!(!nothing.scope.allows(&mine.hosts[0]));
        assert_eq!(page.hosts[1].facts.kernel, "4.18.0-513.el8.x86_64");

        let host = s.get_host_by_name("db-01").await.unwrap().unwrap();
        assert_eq!(host.id, ids[2]);
        assert_eq!(host.counts.critical, 1);
        assert_eq!(s.get_host_by_name("nope").await.unwrap(), None);
        assert!(s.delete_host(ids[2]).await.unwrap());
        assert!(!s.delete_host(ids[2]).await.unwrap());
        assert_eq!(s.get_host(ids[2]).await.unwrap(), None);
        assert!(s.host_packages(ids[2]).await.unwrap().is_empty());
        let all = s
            .list_hosts(&HostFilter::default(), HostSort::default(), Page::default())
            .await
            .unwrap();
        assert_eq!(all.total, 3);
    });
}

#[tokio::test]
async fn retention_keeps_each_hosts_latest_report() {
    for_each_backend!(|db| {
        let s = &db.store;
        let p = [pkg("bash", "5.0-1.el8")];
        let a = save(s, &id("a", None), &facts("rhel:8"), 0, "h", &p).await;
        // Evaluated (a report still pending evaluation is never touched as unchanged).
        processed(s, &a, at(0), HostCounts::default()).await;
        for i in 1..=5 {
            s.touch_unchanged_report(a.host_id, &meta(i * 100, "h"))
                .await
                .unwrap();
        }
        let b = save(s, &id("b", None), &facts("rhel:8"), 50, "h", &p).await;
        // Reports at 0,100,...,500 for a and 50 for b; prune before 350: a's 0,100,200,300 go,
        // b's only report stays although it is old.
        assert_eq!(s.prune_reports(at(350)).await.unwrap(), 4);
        assert_eq!(s.prune_reports(at(350)).await.unwrap(), 0);
        assert_eq!(s.prune_reports(at(10_000)).await.unwrap(), 1);
        assert!(s.get_host(b.host_id).await.unwrap().is_some());
    });
}

#[tokio::test]
async fn fleet_reads_and_host_filters() {
    for_each_backend!(|db| {
        let s = &db.store;
        let fid = feed(s, "rhel").await;
        s.replace_feed_advisories(
            fid,
            &[rhsa("RHSA-1", "8", "bash", "5.0-2.el8")],
            &ok_sync(1),
        )
        .await
        .unwrap();
        let adv = s.load_advisories().await.unwrap();
        let mut f = facts("rhel:8");
        f.reboot_needed = true;
        let a = save(
            s,
            &id("a.example.cz", None),
            &f,
            86_400 * 3,
            "h",
            &[pkg("bash", "5.0-1.el8"), pkg("zsh", "1-1")],
        )
        .await;
        let mut g = facts("rhel:8");
        g.group = None;
        g.os_name = "Debian GNU/Linux 12".into();
        let b = save(
            s,
            &id("b.example.de", None),
            &g,
            86_400 * 5,
            "h2",
            &[pkg("zsh", "1-1")],
        )
        .await;
        let c = save(s, &id("c.example.org", None), &g, 86_400 * 5, "h3", &[]).await;
        s.store_package_findings(
            "rhel:8",
            &a.unevaluated,
            &[PackageFinding {
                package_version_id: a.package_ids[0],
                advisory_id: adv[0].id,
                affected_idx: 0,
            }],
        )
        .await
        .unwrap();
        let a_counts = HostCounts {
            cves: 4,
            tagged: 1,
            ..HostCounts::default()
        };
        processed(s, &a, at(86_400 * 3 + 1), a_counts).await;
        processed(s, &b, at(86_400 * 5 + 1), HostCounts::default()).await;

        let hosts = s.fleet_hosts().await.unwrap();
        assert_eq!(hosts.len(), 3, "{}", db.backend);
        assert_eq!(hosts[0].hostname, "a.example.cz");
        let mut want = a.package_ids.clone();
        want.sort_unstable();
        assert_eq!(hosts[0].package_ids, want);
        assert_eq!(hosts[0].group.as_deref(), Some("site-a"));
        assert_eq!(hosts[0].modules, ["nodejs:18", "perl:5.26"]);
        assert!(hosts[2].package_ids.is_empty());
        let findings = s.fleet_findings().await.unwrap();
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].stream, "rhel:8");
        assert_eq!(findings[0].finding.package_version_id, a.package_ids[0]);
        let pkgs = s.fleet_packages().await.unwrap();
        assert_eq!(pkgs.len(), 2);
        assert_eq!(pkgs[0].1.name, "bash");
        // Disabled feeds' findings are not part of the fleet.
        s.update_feed(
            fid,
            &FeedUpdate {
                enabled: Some(false),
                ..FeedUpdate::default()
            },
        )
        .await
        .unwrap();
        assert!(s.fleet_findings().await.unwrap().is_empty());

        let history = s.host_reports(a.host_id, 10).await.unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].cve_count, Some(4));
        assert_eq!(history[0].pkg_count, 2);

        let days = s.exposure_by_day(at(0), &HostScope::All).await.unwrap();
        assert_eq!(days.len(), 2, "{days:?}");
        assert_eq!(
            (days[0].hosts, days[0].vulnerable_hosts, days[0].cves),
            (1, 1, 4)
        );
        assert_eq!(
            (days[1].hosts, days[1].vulnerable_hosts, days[1].cves),
            (1, 0, 0)
        );
        let scoped = s
            .exposure_by_day(
                at(0),
                &HostScope::Restricted {
                    groups: vec![],
                    domains: vec![],
                    hosts: vec!["b.example.de".into()],
                },
            )
            .await
            .unwrap();
        assert_eq!(scoped.len(), 1);

        let list = |f: HostFilter| async move {
            s.list_hosts(&f, HostSort::default(), Page::default())
                .await
                .unwrap()
                .hosts
                .into_iter()
                .map(|h| h.hostname)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            list(HostFilter {
                tlds: vec!["cz".into(), ".de".into()],
                ..HostFilter::default()
            })
            .await,
            ["a.example.cz", "b.example.de"]
        );
        assert_eq!(
            list(HostFilter {
                host_ids: Some(vec![b.host_id, c.host_id]),
                ..HostFilter::default()
            })
            .await,
            ["b.example.de", "c.example.org"]
        );
        assert!(
            list(HostFilter {
                host_ids: Some(vec![]),
                ..HostFilter::default()
            })
            .await
            .is_empty()
        );
        assert_eq!(
            list(HostFilter {
                os_contains: Some("debian".into()),
                ..HostFilter::default()
            })
            .await,
            ["b.example.de", "c.example.org"]
        );
        assert_eq!(
            list(HostFilter {
                reboot_needed: true,
                ..HostFilter::default()
            })
            .await,
            ["a.example.cz"]
        );
        assert_eq!(
            list(HostFilter {
                tagged_only: true,
                ..HostFilter::default()
            })
            .await,
            ["a.example.cz"]
        );
        // Pending updates, as a finish writes them: the filter and the sort.
        s.finish_reports(&[FinishReport {
            report: c.report_id,
            host: c.host_id,
            processed_at: at(86_400 * 5 + 2),
            counts: HostCounts::default(),
            stream: None,
            evaluated: vec![],
            findings: vec![],
            updates: Some(pakiti_store::HostUpdateCounts {
                security: 2,
                other: 7,
            }),
            generation: None,
            exposures: None,
        }])
        .await
        .unwrap();
        assert_eq!(
            list(HostFilter {
                security_updates_only: true,
                ..HostFilter::default()
            })
            .await,
            ["c.example.org"]
        );
        let by_updates = s
            .list_hosts(
                &HostFilter::default(),
                HostSort {
                    key: HostSortKey::SecurityUpdates,
                    descending: true,
                },
                Page::default(),
            )
            .await
            .unwrap();
        assert_eq!(by_updates.hosts[0].hostname, "c.example.org");
        assert_eq!(
            list(HostFilter {
                last_report_before: Some(at(86_400 * 4)),
                ..HostFilter::default()
            })
            .await,
            ["a.example.cz"]
        );
        let by_group = s
            .list_hosts(
                &HostFilter::default(),
                HostSort {
                    key: HostSortKey::Group,
                    descending: true,
                },
                Page::default(),
            )
            .await
            .unwrap();
        assert_eq!(by_group.total, 3);
        for key in [HostSortKey::High, HostSortKey::Tagged, HostSortKey::Os] {
            let page = s
                .list_hosts(
                    &HostFilter::default(),
                    HostSort {
                        key,
                        descending: false,
                    },
                    Page::default(),
                )
                .await
                .unwrap();
            assert_eq!(page.total, 3);
        }
        // The hosts list's column order comes as ids with runs of equal column values
        // (issue 17): the same order as `list_hosts`, runs split exactly where the column
        // changes.
        let column = |k: HostSortKey, h: &pakiti_store::Host| -> String {
            match k {
                HostSortKey::Hostname => h.hostname.clone(),
                HostSortKey::LastReport => h.last_report_at.unix_timestamp().to_string(),
                HostSortKey::Cves => h.counts.cves.to_string(),
                HostSortKey::Critical => h.counts.critical.to_string(),
                HostSortKey::Packages => h.pkg_count.to_string(),
                HostSortKey::High => h.counts.high.to_string(),
                HostSortKey::Tagged => h.counts.tagged.to_string(),
                HostSortKey::Group => format!("{:?}", h.group),
                HostSortKey::Os => h.facts.os_name.clone(),
                HostSortKey::SecurityUpdates => {
                    format!("{} {}", h.updates.security, h.updates.other)
                }
            }
        };
        let mut tied_somewhere = false;
        for key in [
            HostSortKey::Hostname,
            HostSortKey::LastReport,
            HostSortKey::Cves,
            HostSortKey::Critical,
            HostSortKey::Packages,
            HostSortKey::High,
            HostSortKey::Tagged,
            HostSortKey::Group,
            HostSortKey::Os,
            HostSortKey::SecurityUpdates,
        ] {
            for descending in [false, true] {
                let sort = HostSort { key, descending };
                let full = s
                    .list_hosts(&HostFilter::default(), sort, Page::default())
                    .await
                    .unwrap()
                    .hosts;
                let runs = s
                    .list_host_runs(&HostFilter::default(), sort)
                    .await
                    .unwrap();
                let ids: Vec<_> = full.iter().map(|h| h.id).collect();
                assert_eq!(runs.ids, ids, "{sort:?}");
                assert_eq!(runs.starts.first(), Some(&0), "{sort:?}");
                for i in 1..full.len() {
                    let same = column(key, &full[i]) == column(key, &full[i - 1]);
                    tied_somewhere |= same;
                    assert_eq!(
                        runs.starts.contains(&i),
                        !same,
                        "{sort:?}: host {i} {:?} after {:?}",
                        column(key, &full[i]),
                        column(key, &full[i - 1])
                    );
                }
                let covered: usize = runs.ranges().map(|r| r.len()).sum();
                assert_eq!(covered, full.len());
            }
        }
        assert!(
            tied_somewhere,
            "some column ties, or the runs are not tested"
        );
        let none = s
            .list_host_runs(
                &HostFilter {
                    hostname_contains: Some("no such host".into()),
                    ..HostFilter::default()
                },
                HostSort::default(),
            )
            .await
            .unwrap();
        assert_eq!(none, pakiti_store::HostRuns::default());
    });
}

#[tokio::test]
async fn batched_ingest_writes() {
    for_each_backend!(|db| {
        let s = &db.store;
        let fid = feed(s, "rhel").await;
        s.replace_feed_advisories(
            fid,
            &[rhsa("RHSA-1", "8", "bash", "5.0-2.el8")],
            &ok_sync(1),
        )
        .await
        .unwrap();
        let adv = s.load_advisories().await.unwrap();
        let f = facts("rhel:8");
        let (ia, ib) = (id("a", None), id("b", None));
        let (ma, mb) = (meta(10, "ha"), meta(11, "hb"));
        let pa = [pkg("bash", "5.0-1.el8"), pkg("zsh", "1-1")];
        let pb = [pkg("bash", "5.0-1.el8"), pkg("curl", "7-1")];
        // Two reports sharing a never-seen package version, in one transaction.
        let saved = s
            .save_reports(&[
                NewReport {
                    identity: &ia,
                    facts: &f,
                    meta: &ma,
                    packages: &pa,
                },
                NewReport {
                    identity: &ib,
                    facts: &f,
                    meta: &mb,
                    packages: &pb,
                },
            ])
            .await
            .unwrap();
        assert_eq!(saved.len(), 2);
        assert_eq!(saved[0].package_ids[0], saved[1].package_ids[0]);
        assert_eq!(saved[0].unevaluated.len(), 2);
        assert_eq!(saved[1].unevaluated.len(), 2);
        let bash = saved[0].package_ids[0];
        let finding = PackageFinding {
            package_version_id: bash,
            advisory_id: adv[0].id,
            affected_idx: 0,
        };
        let counts = HostCounts {
            cves: 1,
            high: 1,
            tagged: 1,
            vulnerable_packages: 1,
            ..HostCounts::default()
        };
        s.finish_reports(&[FinishReport {
            report: saved[0].report_id,
            host: saved[0].host_id,
            processed_at: at(12),
            counts,
            stream: Some("rhel:8".into()),
            evaluated: saved[0].unevaluated.clone(),
            findings: vec![finding],
            updates: Some(pakiti_store::HostUpdateCounts {
                security: 2,
                other: 3,
            }),
            generation: None,
            exposures: None,
        }])
        .await
        .unwrap();
        let a = s.get_host(saved[0].host_id).await.unwrap().unwrap();
        assert_eq!(a.counts, counts);
        assert_eq!((a.updates.security, a.updates.other), (2, 3));
        assert_eq!(
            s.package_findings("rhel:8", &saved[1].package_ids)
                .await
                .unwrap(),
            [finding]
        );
        assert!(
            s.package_findings("debian:bookworm", &[bash])
                .await
                .unwrap()
                .is_empty()
        );
        // The shared version is now evaluated for the stream; only curl is new for b.
        let again = s
            .save_reports(&[NewReport {
                identity: &ib,
                facts: &f,
                meta: &meta(13, "hb2"),
                packages: &pb,
            }])
            .await
            .unwrap();
        assert_eq!(again[0].unevaluated, [saved[1].package_ids[1]]);

        let sets = s.installed_sets(None).await.unwrap();
        assert_eq!(sets.len(), 2);
        assert_eq!(sets[0].host, saved[0].host_id);
        assert_eq!(sets[0].stream.as_deref(), Some("rhel:8"));
        assert_eq!(sets[0].modules, ["nodejs:18", "perl:5.26"]);
        let mut want = saved[0].package_ids.clone();
        want.sort_unstable();
        assert_eq!(sets[0].ids, want);
        let one = s.installed_sets(Some(&[saved[1].host_id])).await.unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].host, saved[1].host_id);
        // By stream: the sets of that stream's hosts, exactly; none of other streams.
        let of_stream = s
            .installed_sets_of_streams(&["debian:12".into(), "rhel:8".into()])
            .await
            .unwrap();
        assert_eq!(of_stream, sets);
        for other in [vec!["rhel:9".to_owned()], vec![]] {
            assert!(
                s.installed_sets_of_streams(&other)
                    .await
                    .unwrap()
                    .is_empty()
            );
        }
        let names = s.package_versions(&[bash, 987_654]).await.unwrap();
        assert_eq!(names, [(bash, pkg("bash", "5.0-1.el8"))]);

        // Bulk counts skip deleted hosts.
        assert!(s.delete_host(saved[1].host_id).await.unwrap());
        s.update_hosts_counts(&[
            (saved[0].host_id, HostCounts::default()),
            (saved[1].host_id, counts),
        ])
        .await
        .unwrap();
        let a = s.get_host(saved[0].host_id).await.unwrap().unwrap();
        assert_eq!(a.counts, HostCounts::default());

        // All or nothing: a batch with one bad report saves none.
        let empty = id("", None);
        let err = s
            .save_reports(&[
                NewReport {
                    identity: &id("c", None),
                    facts: &f,
                    meta: &meta(14, "hc"),
                    packages: &pa,
                },
                NewReport {
                    identity: &empty,
                    facts: &f,
                    meta: &meta(14, "hd"),
                    packages: &pa,
                },
            ])
            .await;
        assert!(err.is_err());
        assert_eq!(s.get_host_by_name("c").await.unwrap(), None);
        // A finish naming a missing report fails and writes nothing.
        let bad = s
            .finish_reports(&[FinishReport {
                report: 999_999,
                host: saved[0].host_id,
                processed_at: at(15),
                counts,
                stream: None,
                evaluated: vec![],
                findings: vec![],
                updates: None,
                generation: None,
                exposures: None,
            }])
            .await;
        assert!(matches!(bad, Err(StoreError::NotFound { .. })));
        let a = s.get_host(saved[0].host_id).await.unwrap().unwrap();
        assert_eq!(a.counts, HostCounts::default());
    });
}

/// The feed generation moves with every change to what advisories say, and a finish computed
/// at an older generation writes nothing (no answer from an older index is ever stored).
#[tokio::test]
async fn finish_refuses_answers_older_than_the_feeds() {
    for_each_backend!(|db| {
        let s = &db.store;
        let g0 = s.feed_generation().await.unwrap();
        let fid = feed(s, "rhel").await;
        let advisories = [rhsa("RHSA-1", "8", "bash", "5.0-2.el8")];
        s.replace_feed_advisories(fid, &advisories, &ok_sync(1))
            .await
            .unwrap();
        let g1 = s.feed_generation().await.unwrap();
        assert_eq!(g1, g0 + 1, "an import that changed keys bumps it");
        assert_eq!(s.stale_keys().await.unwrap().seq, g1, "stale keys carry it");
        s.replace_feed_advisories(fid, &advisories, &ok_sync(2))
            .await
            .unwrap();
        assert_eq!(s.feed_generation().await.unwrap(), g1, "nothing changed");
        s.clear_stale_keys(g1).await.unwrap();
        let f = facts("rhel:8");
        let saved = save(s, &id("a", None), &f, 10, "h1", &[pkg("bash", "5.0-1.el8")]).await;
        let adv = s.load_advisories().await.unwrap();
        let finish = |generation| FinishReport {
            report: saved.report_id,
            host: saved.host_id,
            processed_at: at(11),
            counts: HostCounts {
                cves: 1,
                ..HostCounts::default()
            },
            stream: Some("rhel:8".into()),
            evaluated: saved.unevaluated.clone(),
            findings: vec![PackageFinding {
                package_version_id: saved.package_ids[0],
                advisory_id: adv[0].id,
                affected_idx: 0,
            }],
            updates: None,
            generation: Some(generation),
            exposures: None,
        };
        // Another server disables the feed: the generation moves on.
        set_enabled(s, fid, false).await;
        let g2 = s.feed_generation().await.unwrap();
        assert_eq!(g2, g1 + 1);
        // Answers computed with the index of g1: refused, nothing written.
        assert_eq!(s.finish_reports(&[finish(g1)]).await.unwrap(), [false]);
        let h = s.get_host(saved.host_id).await.unwrap().unwrap();
        assert_eq!(h.counts, HostCounts::default());
        assert!(
            s.package_findings("rhel:8", &saved.package_ids)
                .await
                .unwrap()
                .is_empty()
        );
        let again = save(s, &id("a", None), &f, 12, "h2", &[pkg("bash", "5.0-1.el8")]).await;
        assert_eq!(
            again.unevaluated, saved.package_ids,
            "still to be evaluated"
        );
        // At the current generation: written (the newer report's first: an older report's
        // counts are not written while a newer one awaits its evaluation).
        let newer = FinishReport {
            report: again.report_id,
            ..finish(g2)
        };
        assert_eq!(
            s.finish_reports(&[newer, finish(g2 + 5)]).await.unwrap(),
            [true, true]
        );
        let h = s.get_host(saved.host_id).await.unwrap().unwrap();
        assert_eq!(h.counts.cves, 1);
    });
}

/// Issue #16 D2: a saved report is pending until its evaluation is written; a pending host is
/// listed for recovery, its identical re-send is not taken for unchanged, and an older
/// report's evaluation never overwrites the counts while a newer one is pending.
#[tokio::test]
async fn issue_16_d2_saved_reports_are_pending_until_evaluated() {
    for_each_backend!(|db| {
        let s = &db.store;
        let f = facts("rhel:8");
        let p = [pkg("bash", "5.0-1.el8")];
        let host = id("pending1", None);
        let a = save(s, &host, &f, 1, "h1", &p).await;
        assert!(
            s.get_host(a.host_id)
                .await
                .unwrap()
                .unwrap()
                .evaluation_pending
        );
        assert_eq!(
            s.pending_evaluations().await.unwrap(),
            [(a.host_id, a.report_id)]
        );
        assert_eq!(
            s.touch_unchanged_reports(&[(a.host_id, meta(2, "h1"))])
                .await
                .unwrap(),
            [None],
            "a pending host's re-send is saved in full"
        );
        let counts = |cves| HostCounts {
            cves,
            ..HostCounts::default()
        };
        processed(s, &a, at(3), counts(5)).await;
        let h = s.get_host(a.host_id).await.unwrap().unwrap();
        assert!(!h.evaluation_pending);
        assert_eq!(h.counts.cves, 5);
        assert!(s.pending_evaluations().await.unwrap().is_empty());
        assert!(
            s.touch_unchanged_reports(&[(a.host_id, meta(4, "h1"))])
                .await
                .unwrap()[0]
                .is_some()
        );
        // Two reports in flight: the older one's answer arrives last.
        let b = save(s, &host, &f, 5, "h2", &p).await;
        let c = save(s, &host, &f, 6, "h3", &p).await;
        processed(s, &b, at(7), counts(7)).await;
        let h = s.get_host(a.host_id).await.unwrap().unwrap();
        assert!(
            h.evaluation_pending,
            "{}: the newer report is pending",
            db.backend
        );
        assert_eq!(h.counts.cves, 5, "{}: an older report's counts", db.backend);
        processed(s, &c, at(8), counts(9)).await;
        let h = s.get_host(a.host_id).await.unwrap().unwrap();
        assert!(!h.evaluation_pending);
        assert_eq!(h.counts.cves, 9);
    });
}

/// Issue 11: the unreadable lines of a report are kept with it and on the host (its last
/// report's), copied by an unchanged report, replaced by the next saved one, and filterable.
#[tokio::test]
async fn issue_11_report_problems_are_kept() {
    for_each_backend!(|db| {
        let s = &db.store;
        let mut f = facts("rhel:8");
        f.problems = pakiti_store::ReportProblems {
            count: 3,
            lines: vec![
                pakiti_store::ReportProblem {
                    line: 4,
                    reason: "expected four quoted tokens, found 3".into(),
                    excerpt: "'c' '0:1'\t'1'".into(),
                },
                pakiti_store::ReportProblem {
                    line: 9,
                    reason: "final line cut off: the architecture \"x8\" is not one this list has"
                        .into(),
                    excerpt: "'zlib' '0:1' '2' 'x8".into(),
                },
            ],
        };
        let p = [pkg("bash", "5.0-1.el8")];
        let a = save(s, &id("bad", None), &f, 1, "h1", &p).await;
        save(s, &id("good", None), &facts("rhel:8"), 1, "g1", &p).await;
        let host = s.get_host(a.host_id).await.unwrap().unwrap();
        assert_eq!(host.facts.problems.count, 3);
        assert_eq!(host.facts.problems.lines.len(), 2);
        // A tab inside a value is stored as a space.
        assert_eq!(host.facts.problems.lines[0].excerpt, "'c' '0:1' '1'");
        assert_eq!(host.facts.problems.lines[1], f.problems.lines[1]);
        let only = HostFilter {
            report_problems_only: true,
            ..HostFilter::default()
        };
        let listed = s
            .list_hosts(&only, HostSort::default(), Page::default())
            .await
            .unwrap();
        assert_eq!(listed.total, 1);
        assert_eq!(listed.hosts[0].hostname, "bad");
        // An unchanged report copies the count into its report row (once the first one is
        // evaluated: a pending host's re-send is saved in full, issue 16 D2).
        processed(s, &a, at(1), HostCounts::default()).await;
        s.touch_unchanged_report(a.host_id, &meta(2, "h1"))
            .await
            .unwrap();
        let reports = s.host_reports(a.host_id, 10).await.unwrap();
        assert_eq!(
            reports.iter().map(|r| r.problem_count).collect::<Vec<_>>(),
            [3, 3]
        );
        // A clean report clears the host's.
        save(s, &id("bad", None), &facts("rhel:8"), 3, "h2", &p).await;
        let host = s.get_host(a.host_id).await.unwrap().unwrap();
        assert!(host.facts.problems.is_empty());
        assert!(host.facts.problems.lines.is_empty());
        let listed = s
            .list_hosts(&only, HostSort::default(), Page::default())
            .await
            .unwrap();
        assert_eq!(listed.total, 0);
        let reports = s.host_reports(a.host_id, 10).await.unwrap();
        assert_eq!(
            reports.iter().map(|r| r.problem_count).collect::<Vec<_>>(),
            [0, 3, 3]
        );
    });
}

/// Issue 11: refused reports are recorded, listed newest first and paged, and only the newest
/// `keep` are kept.
#[tokio::test]
async fn issue_11_refused_reports_are_bounded() {
    for_each_backend!(|db| {
        let s = &db.store;
        for i in 0..5_i64 {
            let r = pakiti_store::NewRefusedReport {
                received_at: at(100 + i),
                hostname: (i != 2).then(|| format!("h{i}.example.org")),
                peer: Some("192.0.2.1".into()),
                protocol: "5".into(),
                status: 400,
                reason: format!("reason {i}"),
            };
            s.record_refused_report(&r, 3).await.unwrap();
        }
        let (rows, total) = s.refused_reports(0, 10).await.unwrap();
        assert_eq!(total, 3);
        let reasons: Vec<&str> = rows.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(reasons, ["reason 4", "reason 3", "reason 2"]);
        assert_eq!(rows[2].hostname, None);
        assert_eq!(rows[0].hostname.as_deref(), Some("h4.example.org"));
        assert_eq!(rows[0].received_at, at(104));
        assert_eq!(rows[0].status, 400);
        let (page, total) = s.refused_reports(1, 1).await.unwrap();
        assert_eq!(total, 3);
        assert_eq!(page[0].reason, "reason 3");
    });
}

/// Issue 14: a retired host leaves the host lists, their counts and the fleet index, keeps
/// its reports, and comes back in service with its next report.
#[tokio::test]
async fn retired_hosts_leave_the_lists_and_come_back_with_a_report() {
    for_each_backend!(|db| {
        let s = &db.store;
        let p = [pkg("bash", "5.0-1.el8")];
        let a = save(s, &id("a", None), &facts("rhel:8"), 0, "h", &p).await;
        processed(s, &a, at(0), HostCounts::default()).await;
        let b = save(s, &id("b", None), &facts("rhel:8"), 0, "h", &p).await;
        processed(s, &b, at(0), HostCounts::default()).await;
        let names = |retired: bool| async move {
            let f = HostFilter {
                retired,
                ..HostFilter::default()
            };
            let page = s
                .list_hosts(&f, HostSort::default(), Page::default())
                .await
                .unwrap();
            assert_eq!(page.total as usize, page.hosts.len());
            page.hosts
                .into_iter()
                .map(|h| h.hostname)
                .collect::<Vec<_>>()
        };
        assert!(s.retire_host(a.host_id, at(10)).await.unwrap());
        assert!(s.retire_host(a.host_id, at(20)).await.unwrap());
        assert_eq!(s.host_retired_at(a.host_id).await.unwrap(), Some(at(10)));
        assert_eq!(s.host_retired_at(b.host_id).await.unwrap(), None);
        assert!(!s.retire_host(987_654, at(10)).await.unwrap());
        assert_eq!(names(false).await, ["b"]);
        assert_eq!(names(true).await, ["a"]);
        let fleet: Vec<_> = s
            .fleet_hosts()
            .await
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect();
        assert_eq!(fleet, [b.host_id]);
        assert_eq!(s.host_reports(a.host_id, 10).await.unwrap().len(), 1);
        // Its next report (here a changed one) puts it back.
        let a2 = save(s, &id("a", None), &facts("rhel:8"), 30, "h2", &p).await;
        assert_eq!(a2.host_id, a.host_id);
        assert_eq!(s.host_retired_at(a.host_id).await.unwrap(), None);
        assert_eq!(names(false).await, ["a", "b"]);
        // So does an unchanged one.
        processed(s, &a2, at(30), HostCounts::default()).await;
        assert!(s.retire_host(a.host_id, at(40)).await.unwrap());
        s.touch_unchanged_report(a.host_id, &meta(50, "h2"))
            .await
            .unwrap();
        assert_eq!(s.host_retired_at(a.host_id).await.unwrap(), None);
    });
}
