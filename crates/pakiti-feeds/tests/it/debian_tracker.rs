//! The two real excerpts of the security-tracker JSON.

use pakiti_core::advisory::{PackageKind, Severity, Status};
use pakiti_feeds::ParseOptions;

use crate::debian_data::open;

fn statuses(a: &pakiti_core::advisory::Advisory) -> Vec<(String, String, Status)> {
    a.affected
        .iter()
        .map(|e| {
            (
                e.package.clone(),
                e.stream.release().to_owned(),
                e.status.clone(),
            )
        })
        .collect()
}

#[test]
fn vulnerablecode_excerpt() {
    let p = pakiti_feeds::debian::tracker::parse(
        open("debian-tracker/excerpts/vulnerablecode-debian.json"),
        &ParseOptions::default(),
    )
    .unwrap();
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    let ids: Vec<&str> = p.records.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "CVE-2014-8242",
            "CVE-2009-1382",
            "CVE-2009-2459",
            "TEMP-0000000-A2EB44",
            "CVE-2021-37231",
            "CVE-2021-37232",
        ]
    );
    assert_eq!(
        p.records.iter().map(|a| a.affected.len()).sum::<usize>(),
        18
    );
    let librsync = &p.records[0];
    assert_eq!(librsync.source, "debian-tracker");
    assert_eq!(librsync.severity, Severity::Low);
    assert!(
        librsync
            .title
            .starts_with("librsync before 1.0.0 uses a truncated MD4")
    );
    assert_eq!(
        librsync.references,
        [
            "https://security-tracker.debian.org/tracker/CVE-2014-8242",
            "https://bugs.debian.org/776246",
        ]
    );
    // `<no-dsa>` minor issue: still affected.
    assert!(
        librsync
            .affected
            .iter()
            .all(|e| e.status == Status::Unfixed)
    );
    assert!(
        librsync
            .affected
            .iter()
            .all(|e| e.kind == PackageKind::Source)
    );
    assert!(p.records[3].cves.is_empty());
    let atomic = &p.records[4];
    assert_eq!(atomic.severity, Severity::Unknown);
    let s = statuses(atomic);
    assert_eq!(
        s[0],
        (
            "atomicparsley".into(),
            "bookworm".into(),
            Status::Fixed("20210715.151551.e7ad03a-1".into())
        )
    );
    assert_eq!(
        s[1],
        ("atomicparsley".into(), "bullseye".into(), Status::Unfixed)
    );
}

#[test]
fn vunnel_excerpt() {
    let p = pakiti_feeds::debian::tracker::parse(
        open("debian-tracker/excerpts/vunnel-debian.json"),
        &ParseOptions::default(),
    )
    .unwrap();
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert_eq!(p.records.len(), 7);
    assert_eq!(
        p.records.iter().map(|a| a.affected.len()).sum::<usize>(),
        25
    );
    let by_id = |id: &str| p.records.iter().find(|a| a.id == id).unwrap();
    // `high**`: NVD's rating, used as it stands.
    assert_eq!(by_id("CVE-2008-7220").severity, Severity::High);
    // Fixed version 0: never affected.
    let proto = by_id("CVE-2007-2383");
    assert_eq!(proto.severity, Severity::Low);
    assert!(
        proto
            .affected
            .iter()
            .all(|e| e.status == Status::NotAffected)
    );
    let chromium = statuses(by_id("CVE-2022-0456"));
    assert_eq!(
        chromium,
        [
            (
                "chromium".into(),
                "bookworm".into(),
                Status::Fixed("98.0.4758.80-1".into())
            ),
            (
                "chromium".into(),
                "bullseye".into(),
                Status::Fixed("98.0.4758.80-1~deb11u1".into())
            ),
            ("chromium".into(), "buster".into(), Status::EndOfLife),
            (
                "chromium".into(),
                "sid".into(),
                Status::Fixed("98.0.4758.80-1".into())
            ),
            ("chromium".into(), "stretch".into(), Status::EndOfLife),
        ]
    );
    let sope = by_id("CVE-2025-53603");
    assert_eq!(sope.affected[0].stream.to_string(), "debian:bookworm");
    assert_eq!(
        sope.affected[0].status,
        Status::Fixed("5.8.0-1+deb12u1".into())
    );
    // `"releases": []`: the CVE is kept, with no entry.
    assert!(by_id("CVE-2022-0358").affected.is_empty());
}

/// Issue 14: Debian findings must not all be "unknown". Every urgency word of the real
/// tracker JSON (`low`, `medium`, `high**`, `low**`, `unimportant`, `not yet assigned`,
/// `end-of-life`) gives the severity the tracker means, per CVE.
#[test]
fn severities_from_the_tracker_urgency() {
    let mut got: Vec<(String, Severity)> = Vec::new();
    for file in [
        "debian-tracker/excerpts/vulnerablecode-debian.json",
        "debian-tracker/excerpts/vunnel-debian.json",
    ] {
        let p = pakiti_feeds::debian::tracker::parse(open(file), &ParseOptions::default()).unwrap();
        assert!(p.problems.is_empty(), "{file}: {:?}", p.problems);
        got.extend(p.records.iter().map(|a| (a.id.clone(), a.severity)));
    }
    got.sort_by(|a, b| a.0.cmp(&b.0));
    let want = [
        ("CVE-2005-3111", Severity::Medium),   // medium
        ("CVE-2007-2383", Severity::Low),      // unimportant
        ("CVE-2008-7220", Severity::High),     // high**
        ("CVE-2009-1382", Severity::Medium),   // medium
        ("CVE-2009-2459", Severity::Medium),   // medium
        ("CVE-2013-1444", Severity::Low),      // low**
        ("CVE-2014-8242", Severity::Low),      // low
        ("CVE-2021-37231", Severity::Unknown), // not yet assigned
        ("CVE-2021-37232", Severity::Unknown), // not yet assigned
        ("CVE-2022-0456", Severity::Unknown),  // not yet assigned, end-of-life
        ("CVE-2025-53603", Severity::Unknown), // not yet assigned
    ];
    for (id, sev) in want {
        let found = got.iter().find(|(i, _)| i == id);
        assert_eq!(found.map(|f| f.1), Some(sev), "{id}");
    }
    let rated = got.iter().filter(|(_, s)| *s != Severity::Unknown).count();
    assert!(rated >= 7, "{got:?}");
}
