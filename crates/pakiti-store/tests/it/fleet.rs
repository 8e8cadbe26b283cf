//! The fleet index's bulk reads across their pages.

use pakiti_core::package::InstalledPackage;
use pakiti_store::PackageFinding;

use crate::reports::{facts, id, save};
use crate::support::{feed, for_each_backend, ok_sync, rhsa, set_enabled};

/// `fleet_findings` reads 50,000 findings a statement and `fleet_packages` 20,000 package
/// versions, each page one aggregated text row: more than two pages of each, a page boundary
/// inside one package version's findings, text JSON must escape, several streams, and a
/// disabled feed's findings left out — all equal to what was stored, in key order.
#[tokio::test]
async fn fleet_reads_whole_across_pages() {
    for_each_backend!(|db| {
        let s = &db.store;
        let on = feed(s, "on").await;
        let advisories = [
            rhsa("RHSA-1", "8", "p", "1"),
            rhsa("RHSA-2", "8", "p", "1"),
            rhsa("RHSA-3", "8", "p", "1"),
        ];
        s.replace_feed_advisories(on, &advisories, &ok_sync(1))
            .await
            .unwrap();
        let off = feed(s, "off").await;
        s.replace_feed_advisories(off, &[rhsa("RHSA-9", "8", "p", "1")], &ok_sync(1))
            .await
            .unwrap();
        let loaded = s.load_advisories().await.unwrap();
        let adv = |vendor: &str| loaded.iter().find(|a| a.advisory.id == vendor).unwrap().id;
        let (a1, a2, a3, a9) = (adv("RHSA-1"), adv("RHSA-2"), adv("RHSA-3"), adv("RHSA-9"));

        // 45,000 package versions (three pages of 20,000 and a part), with names JSON escapes.
        let odd = [
            "quo\"te",
            "back\\slash",
            "[br,ack]",
            "tab\there",
            "ünï",
            "del\u{7f}",
            "nl\n",
        ];
        let packages: Vec<InstalledPackage> = (0..45_000)
            .map(|i| {
                let mut p = InstalledPackage::new(
                    format!("{}-{i}", odd[i % odd.len()]),
                    format!("1:{i}.0-1"),
                    "x86_64",
                );
                if i % 3 == 0 {
                    p.source = Some(format!("src\"{i}"));
                }
                p
            })
            .collect();
        let saved = save(s, &id("big", None), &facts("rhel:8"), 10, "h", &packages).await;
        let ids = &saved.package_ids;
        assert_eq!(ids.len(), packages.len());

        // rhel:8: three findings for each of 40,000 versions (120,000: pages end at 50,000 and
        // 100,000, inside a version's findings), the disabled feed's on every tenth.
        let mut rhel = Vec::new();
        for &pv in &ids[..40_000] {
            for (advisory_id, affected_idx) in [(a1, 0), (a1, 3), (a2, 1)] {
                rhel.push(PackageFinding {
                    package_version_id: pv,
                    advisory_id,
                    affected_idx,
                });
            }
            if pv % 10 == 0 {
                rhel.push(PackageFinding {
                    package_version_id: pv,
                    advisory_id: a9,
                    affected_idx: 0,
                });
            }
        }
        s.store_package_findings("rhel:8", &ids[..40_000], &rhel)
            .await
            .unwrap();
        // Two more streams, sorting before and after it.
        let few = |advisory_id| -> Vec<PackageFinding> {
            ids[40_000..40_010]
                .iter()
                .map(|&package_version_id| PackageFinding {
                    package_version_id,
                    advisory_id,
                    affected_idx: 2,
                })
                .collect()
        };
        s.store_package_findings("centos:8", &ids[40_000..40_010], &few(a3))
            .await
            .unwrap();
        s.store_package_findings("rocky:8", &ids[40_000..40_010], &few(a2))
            .await
            .unwrap();
        set_enabled(s, off, false).await;

        let mut want: Vec<(String, i64, i64, i64)> = [
            ("rhel:8", &rhel),
            ("centos:8", &few(a3)),
            ("rocky:8", &few(a2)),
        ]
        .into_iter()
        .flat_map(|(stream, list)| {
            list.iter().filter(|f| f.advisory_id != a9).map(move |f| {
                (
                    stream.to_owned(),
                    f.package_version_id,
                    f.advisory_id,
                    f.affected_idx,
                )
            })
        })
        .collect();
        want.sort();
        let got: Vec<(String, i64, i64, i64)> = s
            .fleet_findings()
            .await
            .unwrap()
            .into_iter()
            .map(|f| {
                (
                    f.stream,
                    f.finding.package_version_id,
                    f.finding.advisory_id,
                    f.finding.affected_idx,
                )
            })
            .collect();
        assert_eq!(got.len(), 120_020, "{}", db.backend);
        assert!(
            got == want,
            "{}: findings differ from what was stored",
            db.backend
        );

        let mut want: Vec<(i64, &InstalledPackage)> = ids.iter().copied().zip(&packages).collect();
        want.sort_by_key(|(id, _)| *id);
        let got = s.fleet_packages().await.unwrap();
        assert_eq!(got.len(), want.len(), "{}", db.backend);
        for ((gid, gp), (wid, wp)) in got.iter().zip(&want) {
            assert_eq!((gid, gp), (wid, *wp), "{}", db.backend);
        }
    });
}

/// `fleet_packages` warms the report path's cache of interned ids (a server's fleet index is
/// built from it at start): a fresh process that read it saves reports with exactly the ids
/// the store holds — versions whose fields trade places (version and arch, source and none)
/// keep their own ids — and new versions are still interned.
#[tokio::test]
async fn fleet_packages_warm_the_interning_cache() {
    for_each_backend!(|db| {
        let s = &db.store;
        let mut packages = vec![
            InstalledPackage::new("p", "1.0", "x86_64"),
            InstalledPackage::new("p", "x86_64", "1.0"),
            InstalledPackage::new("p1.0", "x86_64", ""),
            InstalledPackage::new("p", "1.0x86_64", ""),
        ];
        let mut sourced = InstalledPackage::new("p", "1.0", "x86_64");
        sourced.source = Some("src".into());
        packages.push(sourced);
        let first = save(s, &id("one", None), &facts("rhel:8"), 10, "h1", &packages).await;
        let distinct: std::collections::HashSet<i64> = first.package_ids.iter().copied().collect();
        assert_eq!(distinct.len(), packages.len(), "{:?}", first.package_ids);

        let other = pakiti_store::open(&db.url).await.unwrap();
        assert_eq!(other.fleet_packages().await.unwrap().len(), packages.len());
        let mut more = packages.clone();
        more.reverse();
        more.push(InstalledPackage::new("q", "2.0", "noarch"));
        let second = save(&other, &id("two", None), &facts("rhel:8"), 20, "h2", &more).await;
        for (p, got) in more.iter().zip(&second.package_ids) {
            if let Some(i) = packages.iter().position(|q| q == p) {
                assert_eq!(*got, first.package_ids[i], "{p:?}");
            }
        }
        let new_id = *second.package_ids.last().unwrap();
        assert!(!first.package_ids.contains(&new_id));
        other.close().await;
    });
}
