//! Feeds, advisory replacement, loading and stale keys.

use pakiti_core::advisory::{Advisory, Affected, PackageKind, Severity, Status};
use pakiti_store::{FeedUpdate, StoreError, StreamPackage, SyncRecord, SyncStatus};

use crate::support::{at, feed, for_each_backend, new_feed, ok_sync, rhsa, set_enabled, stream};

fn key(s: &str, p: &str) -> StreamPackage {
    StreamPackage {
        stream: s.into(),
        package: p.into(),
    }
}

#[tokio::test]
async fn feed_crud() {
    for_each_backend!(|db| {
        let s = &db.store;
        let created = s.create_feed(&new_feed("rhel8")).await.unwrap();
        assert_eq!(created.name, "rhel8");
        assert!(created.enabled);
        assert_eq!(created.last_sync, None);
        assert_eq!(created.advisory_count, 0);
        let dup = s.create_feed(&new_feed("rhel8")).await;
        assert!(
            matches!(dup, Err(StoreError::DuplicateFeed(n)) if n == "rhel8"),
            "{}",
            db.backend
        );
        let other = s.create_feed(&new_feed("debian")).await.unwrap();
        let names: Vec<String> = s
            .list_feeds()
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(names, ["debian", "rhel8"]);
        assert_eq!(s.get_feed(created.id).await.unwrap(), Some(created.clone()));

        let updated = s
            .update_feed(
                created.id,
                &FeedUpdate {
                    url: Some("/srv/oval/rhel8.xml".into()),
                    stream: Some(Some("rhel:8".into())),
                    enabled: Some(false),
                    interval_secs: Some(60),
                },
            )
            .await
            .unwrap();
        assert_eq!(updated.url, "/srv/oval/rhel8.xml");
        assert_eq!(updated.stream.as_deref(), Some("rhel:8"));
        assert!(!updated.enabled);
        assert_eq!(updated.interval_secs, 60);
        assert_eq!(updated.created_at, created.created_at);
        let cleared = s
            .update_feed(
                created.id,
                &FeedUpdate {
                    stream: Some(None),
                    ..FeedUpdate::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(cleared.stream, None);
        assert_eq!(cleared.url, "/srv/oval/rhel8.xml");
        assert!(matches!(
            s.update_feed(9999, &FeedUpdate::default()).await,
            Err(StoreError::NotFound { what: "feed", .. })
        ));

        assert!(s.delete_feed(other.id).await.unwrap());
        assert!(!s.delete_feed(other.id).await.unwrap());
        assert_eq!(s.get_feed(other.id).await.unwrap(), None);
        assert_eq!(s.list_feeds().await.unwrap().len(), 1);
    });
}

/// Every field and variant the model has, to check that loading gives back exactly what was
/// stored.
fn rich_advisories() -> Vec<Advisory> {
    let mut a = rhsa("RHSA-2024:0001", "8", "openssl-libs", "1:3.0.7-25.el8");
    a.cves = vec![
        "CVE-2023-5678".into(),
        "CVE-2023-0286".into(),
        "CVE-2024-0727".into(),
    ];
    a.references = vec![String::new(), "https://x.invalid/a b".into()];
    a.updated = Some("2024-02-03".into());
    a.severity = Severity::Critical;
    let mut src = Affected::source(stream("debian:bookworm"), "openssl", Status::Unfixed);
    src.arches = vec!["amd64".into(), "arm64".into()];
    src.introduced = Some("3.0.0-1".into());
    let mut module = Affected::binary(stream("rhel:8"), "nodejs", Status::WillNotFix);
    module.module = Some("nodejs:18".into());
    a.affected.extend([
        src,
        module,
        Affected::binary(stream("ubuntu:22.04"), "curl", Status::NotAffected),
        Affected::binary(stream("alpine:3.19"), "musl", Status::EndOfLife),
        Affected::binary(
            stream("sles:15.5"),
            "kernel-default",
            Status::Fixed("5.14.21".into()),
        ),
    ]);
    let b = Advisory {
        id: "DSA-5404-1".into(),
        source: "debian-tracker".into(),
        title: "chromium — security update with \"quotes\" and ünïcode".into(),
        severity: Severity::Unknown,
        cves: Vec::new(),
        references: Vec::new(),
        issued: None,
        updated: None,
        affected: Vec::new(),
    };
    // A vendor id repeated within one feed is kept as two advisories.
    let mut c = rhsa("RHSA-2024:0001", "9", "openssl-libs", "1:3.0.7-26.el9");
    c.severity = Severity::Low;
    vec![a, b, c]
}

#[tokio::test]
async fn replace_and_load_round_trip() {
    for_each_backend!(|db| {
        let s = &db.store;
        let f = feed(s, "rhel").await;
        let advisories = rich_advisories();
        let out = s
            .replace_feed_advisories(f, &advisories, &ok_sync(10))
            .await
            .unwrap();
        assert_eq!(out.advisory_count, 3);
        assert_eq!(out.affected_count, 7);
        assert_eq!(out.upserted, 3);
        assert_eq!(out.removed, 0);
        assert_eq!(
            out.changed_keys,
            vec![
                key("alpine:3.19", "musl"),
                key("debian:bookworm", "openssl"),
                key("rhel:8", "nodejs"),
                key("rhel:8", "openssl-libs"),
                key("rhel:9", "openssl-libs"),
                key("sles:15.5", "kernel-default"),
                key("ubuntu:22.04", "curl"),
            ]
        );
        let loaded = s.load_advisories().await.unwrap();
        let values: Vec<Advisory> = loaded.iter().map(|l| l.advisory.clone()).collect();
        assert_eq!(values, advisories, "{}", db.backend);
        assert!(loaded.iter().all(|l| l.feed_id == f));
        assert!(loaded.windows(2).all(|w| w[0].id < w[1].id));

        let feed = s.get_feed(f).await.unwrap().unwrap();
        assert_eq!(feed.advisory_count, 3);
        assert_eq!(feed.affected_count, 7);
        assert_eq!(feed.last_sync, Some(ok_sync(10)));
        let runs = s.feed_runs(f, 10).await.unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].changed_keys, 7);
        assert_eq!(runs[0].record, ok_sync(10));

        // The same data again: nothing changes, ids stay.
        let again = s
            .replace_feed_advisories(f, &advisories, &ok_sync(20))
            .await
            .unwrap();
        assert_eq!(again.upserted, 0);
        assert!(again.changed_keys.is_empty());
        assert_eq!(s.load_advisories().await.unwrap(), loaded);
    });
}

#[tokio::test]
async fn replace_updates_removes_and_keeps_ids() {
    for_each_backend!(|db| {
        let s = &db.store;
        let f = feed(s, "rhel").await;
        let other = feed(s, "other").await;
        let keep = rhsa("RHSA-1", "8", "bash", "5.0-1.el8");
        let change = rhsa("RHSA-2", "8", "curl", "7.61-1.el8");
        let drop = rhsa("RHSA-3", "9", "glibc", "2.34-1.el9");
        let foreign = rhsa("RHSA-9", "9", "zlib", "1.2-1.el9");
        s.replace_feed_advisories(other, std::slice::from_ref(&foreign), &ok_sync(1))
            .await
            .unwrap();
        s.replace_feed_advisories(
            f,
            &[keep.clone(), change.clone(), drop.clone()],
            &ok_sync(2),
        )
        .await
        .unwrap();
        let before = s.load_advisories().await.unwrap();
        let id_of = |v: &[pakiti_store::StoredAdvisory], vid: &str| {
            v.iter().find(|a| a.advisory.id == vid).map(|a| a.id)
        };

        let mut changed = change.clone();
        changed.affected[0].status = Status::Fixed("7.61-2.el8".into());
        changed.affected[0].package = "libcurl".into();
        let added = rhsa("RHSA-4", "8", "sudo", "1.9-1.el8");
        let out = s
            .replace_feed_advisories(
                f,
                &[added.clone(), changed.clone(), keep.clone()],
                &ok_sync(3),
            )
            .await
            .unwrap();
        assert_eq!(out.advisory_count, 3);
        assert_eq!(out.upserted, 2);
        assert_eq!(out.removed, 1);
        assert_eq!(
            out.changed_keys,
            vec![
                key("rhel:8", "curl"),
                key("rhel:8", "libcurl"),
                key("rhel:8", "sudo"),
                key("rhel:9", "glibc"),
            ]
        );
        let after = s.load_advisories().await.unwrap();
        assert_eq!(after.len(), 4);
        assert_eq!(id_of(&after, "RHSA-1"), id_of(&before, "RHSA-1"));
        assert_eq!(id_of(&after, "RHSA-2"), id_of(&before, "RHSA-2"));
        assert_eq!(id_of(&after, "RHSA-9"), id_of(&before, "RHSA-9"));
        assert_eq!(id_of(&after, "RHSA-3"), None);
        let mine: Vec<&Advisory> = after
            .iter()
            .filter(|a| a.feed_id == f)
            .map(|a| &a.advisory)
            .collect();
        assert_eq!(mine.len(), 3);
        assert!(mine.contains(&&changed) && mine.contains(&&keep) && mine.contains(&&added));
        assert_eq!(s.get_feed(f).await.unwrap().unwrap().advisory_count, 3);
        assert_eq!(s.feed_runs(f, 10).await.unwrap().len(), 2);
    });
}

#[tokio::test]
async fn failure_leaves_advisories_intact() {
    for_each_backend!(|db| {
        let s = &db.store;
        let f = feed(s, "rhel").await;
        let advisories = vec![rhsa("RHSA-1", "8", "bash", "5.0-1.el8")];
        s.replace_feed_advisories(f, &advisories, &ok_sync(1))
            .await
            .unwrap();
        let before = s.load_advisories().await.unwrap();
        let failed = SyncRecord {
            at: at(100),
            status: SyncStatus::Failed,
            error: Some("parse error: unexpected element <foo> at byte 1234".into()),
            duration_ms: 5,
            etag: None,
            last_modified: None,
            checksum: None,
        };
        s.record_feed_sync(f, &failed).await.unwrap();
        assert_eq!(s.load_advisories().await.unwrap(), before);
        let feed = s.get_feed(f).await.unwrap().unwrap();
        let last = feed.last_sync.unwrap();
        assert_eq!(last.status, SyncStatus::Failed);
        assert_eq!(last.error, failed.error);
        assert_eq!(last.at, at(100));
        // The validators of the last good fetch stay for the next conditional GET.
        assert_eq!(last.etag, ok_sync(1).etag);
        assert_eq!(last.checksum, ok_sync(1).checksum);
        assert_eq!(feed.advisory_count, 1);
        let runs = s.feed_runs(f, 10).await.unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].record, failed);
        assert_eq!(runs[0].advisory_count, 0);
        assert!(matches!(
            s.record_feed_sync(f, &ok_sync(3)).await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            s.replace_feed_advisories(4242, &advisories, &ok_sync(1))
                .await,
            Err(StoreError::NotFound { .. })
        ));
        // A value that cannot be stored exactly is rejected before anything is written.
        let mut bad = advisories[0].clone();
        bad.references = vec!["a\nb".into()];
        assert!(matches!(
            s.replace_feed_advisories(f, &[bad], &ok_sync(5)).await,
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(s.load_advisories().await.unwrap(), before);
    });
}

#[tokio::test]
async fn disabled_feeds_are_not_loaded_and_mark_keys_stale() {
    for_each_backend!(|db| {
        let s = &db.store;
        let f = feed(s, "rhel").await;
        s.replace_feed_advisories(
            f,
            &[
                rhsa("RHSA-1", "8", "bash", "5.0-1.el8"),
                rhsa("RHSA-2", "8", "curl", "7-1"),
            ],
            &ok_sync(1),
        )
        .await
        .unwrap();
        let stale = s.stale_keys().await.unwrap();
        assert_eq!(
            stale.keys,
            vec![key("rhel:8", "bash"), key("rhel:8", "curl")]
        );
        s.clear_stale_keys(stale.seq).await.unwrap();
        assert!(s.stale_keys().await.unwrap().keys.is_empty());

        s.update_feed(
            f,
            &FeedUpdate {
                enabled: Some(false),
                ..FeedUpdate::default()
            },
        )
        .await
        .unwrap();
        assert!(s.load_advisories().await.unwrap().is_empty());
        let stale = s.stale_keys().await.unwrap();
        assert_eq!(stale.keys.len(), 2);

        // A key marked again after it was read survives the clear.
        let g = feed(s, "more").await;
        s.replace_feed_advisories(g, &[rhsa("RHSA-3", "8", "bash", "5.1-1.el8")], &ok_sync(2))
            .await
            .unwrap();
        s.clear_stale_keys(stale.seq).await.unwrap();
        assert_eq!(
            s.stale_keys().await.unwrap().keys,
            vec![key("rhel:8", "bash")]
        );

        s.update_feed(
            f,
            &FeedUpdate {
                enabled: Some(true),
                ..FeedUpdate::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(s.load_advisories().await.unwrap().len(), 3);
        assert!(s.delete_feed(g).await.unwrap());
        assert_eq!(s.load_advisories().await.unwrap().len(), 2);
    });
}

/// About the size of the full RHEL 7 OVAL (~8.5k advisories, ~100k affected entries).
#[tokio::test]
async fn bulk_import_is_fast() {
    for_each_backend!(|db| {
        let s = &db.store;
        let f = feed(s, "rhel7").await;
        let advisories: Vec<Advisory> = (0..8_500)
            .map(|i| {
                let mut a = rhsa(&format!("RHSA-2020:{i:05}"), "7", "pkg", "1.0-1.el7");
                a.cves = (0..3)
                    .map(|c| format!("CVE-2020-{:05}", i * 3 + c))
                    .collect();
                a.affected = (0..12)
                    .map(|j| {
                        let mut e = Affected::binary(
                            stream("rhel:7"),
                            format!("package-{}", (i * 7 + j) % 3000),
                            Status::Fixed(format!("{i}.{j}-1.el7")),
                        );
                        e.kind = if j % 5 == 0 {
                            PackageKind::Source
                        } else {
                            PackageKind::Binary
                        };
                        e
                    })
                    .collect();
                a
            })
            .collect();
        let started = std::time::Instant::now();
        let out = s
            .replace_feed_advisories(f, &advisories, &ok_sync(1))
            .await
            .unwrap();
        let import = started.elapsed();
        assert_eq!(out.advisory_count, 8_500);
        assert_eq!(out.affected_count, 102_000);
        let started = std::time::Instant::now();
        let loaded = s.load_advisories().await.unwrap();
        let load = started.elapsed();
        assert_eq!(loaded.len(), 8_500);
        assert_eq!(
            loaded
                .iter()
                .map(|a| a.advisory.affected.len())
                .sum::<usize>(),
            102_000
        );
        // Read a page at a time (20,000 entries), every entry comes back in its place.
        for (got, want) in loaded.iter().zip(&advisories) {
            assert_eq!(got.advisory.id, want.id);
            assert_eq!(got.advisory.affected, want.affected, "{}", want.id);
            assert_eq!(got.advisory.cves, want.cves, "{}", want.id);
        }
        eprintln!(
            "{}: import 8.5k advisories / 102k entries in {import:?}, load in {load:?}",
            db.backend
        );
        // Generous for debug builds; release is several times faster.
        assert!(import.as_secs() < 30, "import took {import:?}");
    });
}

/// Issue 17: after an import, the evaluator re-reads only the advisories it does not hold
/// as they are now; what it holds plus what it read is exactly what a full load returns.
#[tokio::test]
async fn changed_advisories_are_read_alone_and_complete_a_full_load() {
    use std::collections::HashMap;
    for_each_backend!(|db| {
        let s = &db.store;
        let f = feed(s, "rhel").await;
        let g = feed(s, "other").await;
        let mut first: Vec<Advisory> = (1..=10)
            .map(|i| rhsa(&format!("RHSA-{i}"), "8", &format!("pkg{i}"), "1.0-1.el8"))
            .collect();
        s.replace_feed_advisories(f, &first, &ok_sync(1))
            .await
            .unwrap();
        let theirs = [
            rhsa("RHSA-100", "9", "glibc", "2.34-1.el9"),
            rhsa("RHSA-101", "9", "bash", "5.1-1.el9"),
        ];
        s.replace_feed_advisories(g, &theirs, &ok_sync(1))
            .await
            .unwrap();
        let held_of = |v: &[pakiti_store::StoredAdvisory]| -> HashMap<i64, i64> {
            v.iter().map(|a| (a.id, a.digest)).collect()
        };
        // What the holder of `held` (a full load's advisories) assembles from a partial load.
        let assemble = |hold: &[pakiti_store::StoredAdvisory],
                        load: pakiti_store::AdvisoryLoad|
         -> Vec<pakiti_store::StoredAdvisory> {
            let mut read: HashMap<i64, pakiti_store::StoredAdvisory> =
                load.loaded.into_iter().map(|a| (a.id, a)).collect();
            let out = load
                .listing
                .iter()
                .map(|(id, digest)| {
                    let a = read
                        .remove(id)
                        .unwrap_or_else(|| hold.iter().find(|h| h.id == *id).unwrap().clone());
                    assert_eq!(a.digest, *digest, "{}", db.backend);
                    a
                })
                .collect();
            assert!(read.is_empty(), "{}: read but not listed", db.backend);
            out
        };

        // Nothing wanted when everything is held; everything read when nothing is.
        let all = s.load_advisories().await.unwrap();
        assert_eq!(all.len(), 12);
        let none = s.load_advisories_changed(&held_of(&all)).await.unwrap();
        assert!(none.loaded.is_empty(), "{}", db.backend);
        let listed: Vec<(i64, i64)> = all.iter().map(|a| (a.id, a.digest)).collect();
        assert_eq!(none.listing, listed, "{}", db.backend);
        let full = s.load_advisories_changed(&HashMap::new()).await.unwrap();
        assert_eq!(full.loaded, all, "{}", db.backend);

        // One advisory changed, one removed, one added: those two read, by id.
        first[1].affected[0].status = Status::Fixed("1.0-2.el8".into());
        first.remove(2);
        first.push(rhsa("RHSA-11", "8", "sudo", "1.9-1.el8"));
        s.replace_feed_advisories(f, &first, &ok_sync(2))
            .await
            .unwrap();
        let load = s.load_advisories_changed(&held_of(&all)).await.unwrap();
        let read: Vec<&str> = load.loaded.iter().map(|a| a.advisory.id.as_str()).collect();
        assert_eq!(read, ["RHSA-2", "RHSA-11"], "{}", db.backend);
        let now = s.load_advisories().await.unwrap();
        assert_eq!(assemble(&all, load), now, "{}", db.backend);

        // A feed disabled leaves the listing; enabled again, its advisories are read.
        set_enabled(s, g, false).await;
        let off = s.load_advisories_changed(&held_of(&now)).await.unwrap();
        assert!(off.loaded.is_empty(), "{}", db.backend);
        assert_eq!(off.listing.len(), 10, "{}", db.backend);
        let without = s.load_advisories().await.unwrap();
        assert_eq!(assemble(&now, off), without, "{}", db.backend);
        set_enabled(s, g, true).await;
        let on = s.load_advisories_changed(&held_of(&without)).await.unwrap();
        let read: Vec<&str> = on.loaded.iter().map(|a| a.advisory.id.as_str()).collect();
        assert_eq!(read, ["RHSA-100", "RHSA-101"], "{}", db.backend);
        assert_eq!(assemble(&without, on), now, "{}", db.backend);
    });
}

/// The load reads each advisory's CVEs and entries as JSON aggregates, all advisories a page
/// of 2,000 at a time: five pages and a part, text that JSON must escape, entries and CVEs in
/// their stored order, an advisory without CVEs or entries, and the changed ones read by id
/// in chunks of 2,000 — all give back exactly what was stored.
#[tokio::test]
async fn advisories_load_whole_across_pages_with_escaped_text() {
    for_each_backend!(|db| {
        let s = &db.store;
        let f = feed(s, "many").await;
        let odd = "q\"uo\\te, comma ] [ {x} \u{7f} ünï\tcode\n'x'";
        let advisories: Vec<Advisory> = (0..10_001)
            .map(|i| {
                let mut a = rhsa(&format!("RHSA-{i}"), "8", &format!("pkg{i}"), "1.0-1");
                if i % 97 == 0 {
                    a.cves.clear();
                    a.affected.clear();
                    return a;
                }
                a.cves = (0..(i % 5))
                    .map(|k| format!("CVE-2024-{:05}", 99_999 - k * 7 - i % 13))
                    .collect();
                let mut e = Affected::binary(stream("debian:bookworm"), odd, Status::Unfixed);
                e.arches = vec!["a\"r\\ch ü{}".into(), "amd64".into()];
                e.module = (i % 3 == 0).then(|| format!("{odd}:{i}"));
                e.introduced = Some(odd.into());
                e.last_affected = (i % 2 == 0).then(|| "9.9".into());
                // Entries out of name order, to see that their stored order is kept.
                a.affected.insert(0, e);
                a.affected.push(Affected::source(
                    stream("debian:bookworm"),
                    "aaa",
                    Status::Fixed(odd.into()),
                ));
                a
            })
            .collect();
        s.replace_feed_advisories(f, &advisories, &ok_sync(10))
            .await
            .unwrap();
        let loaded = s.load_advisories().await.unwrap();
        let values: Vec<Advisory> = loaded.iter().map(|l| l.advisory.clone()).collect();
        assert_eq!(values.len(), advisories.len(), "{}", db.backend);
        assert_eq!(values, advisories, "{}", db.backend);
        // Holding all but every fourth (fewer than a quarter wanted, so read by id: two
        // chunks of ids and a part).
        let held: std::collections::HashMap<i64, i64> = loaded
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 4 != 1)
            .map(|(_, l)| (l.id, l.digest))
            .collect();
        let load = s.load_advisories_changed(&held).await.unwrap();
        assert_eq!(load.listing.len(), loaded.len());
        let read: Vec<_> = loaded
            .iter()
            .filter(|l| !held.contains_key(&l.id))
            .cloned()
            .collect();
        assert_eq!(load.loaded.len(), 2_500);
        assert_eq!(load.loaded, read, "{}", db.backend);
    });
}
