//! The full DSA and DLA lists (2023-03-29), counted independently of the parser.

use pakiti_core::advisory::{Advisory, Severity, Status};
use pakiti_feeds::ParseOptions;

use crate::debian_data::{data, open};

fn parse(rel: &str) -> pakiti_feeds::Parsed<Advisory> {
    pakiti_feeds::debian::list::parse(open(rel), &ParseOptions::default()).unwrap()
}

/// Counts lines by plain text matching: dated header lines and `[codename] - ` lines.
fn count_lines(rel: &str) -> (usize, usize) {
    let text = std::fs::read_to_string(data(rel)).unwrap();
    let headers = text
        .lines()
        .filter(|l| {
            l.starts_with('[')
                && l.as_bytes().get(3) == Some(&b' ')
                && l.as_bytes().get(12) == Some(&b']')
        })
        .count();
    let entries = text
        .lines()
        .filter(|l| {
            l.starts_with([' ', '\t']) && l.trim_start().starts_with('[') && l.contains("] - ")
        })
        .count();
    (headers, entries)
}

#[test]
fn dsa_list_complete() {
    let p = parse("debian-tracker/data/DSA/list");
    let (headers, entries) = count_lines("debian-tracker/data/DSA/list");
    assert_eq!((headers, entries), (5406, 6988));
    assert_eq!(p.records.len(), headers);
    assert_eq!(
        p.records.iter().map(|a| a.affected.len()).sum::<usize>(),
        entries
    );
    // One real error in the file: `[woody] - kernel-image-2.4.17-ia64 kernel-image-2.4.17-ia64`
    // (a package name where the version belongs). It is reported and taken as unfixed.
    assert_eq!(p.problems.len(), 1, "{:?}", p.problems);
    assert_eq!(p.problems[0].record.as_deref(), Some("DSA-423"));
    let dsa423 = p.records.iter().find(|a| a.id == "DSA-423").unwrap();
    assert_eq!(dsa423.affected[0].status, Status::Unfixed);
    let not_affected = p
        .records
        .iter()
        .flat_map(|a| &a.affected)
        .filter(|e| e.status == Status::NotAffected)
        .count();
    assert_eq!(not_affected, 55);
    assert!(p.records.iter().all(|a| a.issued.is_some()));

    let first = &p.records[0];
    assert_eq!(first.id, "DSA-5380-1");
    assert_eq!(first.title, "xorg-server - security update");
    assert_eq!(first.issued.as_deref(), Some("2023-03-29"));
    assert_eq!(first.cves, ["CVE-2023-1393"]);
    assert_eq!(first.affected[0].stream.to_string(), "debian:bullseye");
    assert_eq!(first.affected[0].package, "xorg-server");
    assert_eq!(
        first.affected[0].status,
        Status::Fixed("2:1.20.11-1+deb11u6".into())
    );

    let openssl = p.records.iter().find(|a| a.id == "DSA-5139-1").unwrap();
    let got: Vec<(String, Option<&str>)> = openssl
        .affected
        .iter()
        .map(|e| (e.stream.to_string(), e.status.fixed_version()))
        .collect();
    assert_eq!(
        got,
        [
            ("debian:buster".to_owned(), Some("1.1.1n-0+deb10u2")),
            ("debian:bullseye".to_owned(), Some("1.1.1n-0+deb11u2")),
        ]
    );
    // The last entry of the file, without a revision suffix.
    let last = p.records.last().unwrap();
    assert_eq!(last.id, "DSA-135");
    assert_eq!(last.title, "libapache-mod-ssl -- buffer overflow / DoS");
    assert_eq!(last.issued.as_deref(), Some("2002-07-02"));
}

#[test]
fn dla_list_complete() {
    let p = parse("debian-tracker/data/DLA/list");
    let (headers, entries) = count_lines("debian-tracker/data/DLA/list");
    assert_eq!((headers, entries), (3534, 3535));
    assert_eq!(p.records.len(), headers);
    assert_eq!(
        p.records.iter().map(|a| a.affected.len()).sum::<usize>(),
        entries
    );
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    let a = &p.records[0];
    assert_eq!(a.id, "DLA-3380-1");
    assert_eq!(a.cves.len(), 11);
    assert_eq!(a.affected[0].stream.to_string(), "debian:buster");
    assert_eq!(
        a.affected[0].status,
        Status::Fixed("20190114+really20220913-0+deb10u1".into())
    );
}

#[test]
fn vunnel_excerpt_and_annotations() {
    let p = parse("debian-tracker/excerpts/vunnel-DSA");
    assert_eq!(p.records.len(), 10);
    assert!(p.problems.is_empty());
    let libpng = &p.records[1];
    assert_eq!(libpng.id, "DSA-140");
    assert_eq!(libpng.affected.len(), 2);
    assert_eq!(libpng.affected[1].package, "libpng3");
    let notice = p.records.iter().find(|a| a.id == "DSA-3281-1").unwrap();
    assert_eq!(
        notice.title,
        "Debian Security Team PGP/GPG key change notice"
    );
    assert!(notice.affected.is_empty());
    let sope = p.records.last().unwrap();
    assert_eq!(sope.affected[0].stream.to_string(), "debian:bookworm");

    // `(bug #NNN; medium)` annotations in the old part of the DSA list.
    let full = parse("debian-tracker/data/DSA/list");
    let rated = full
        .records
        .iter()
        .filter(|a| a.severity != Severity::Unknown)
        .count();
    assert!(rated > 50, "{rated}");
}
