//! What a document is about, recognised from its content (issue 12 item 3): real vendor files
//! of different releases and kinds get different keys and default names; two snapshots of
//! one feed get the same.

use std::io::{BufReader, Read};

use pakiti_feeds::{FeedIdentity, FeedKind, ParseOptions, decompress};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/");

fn identity(rel: &str) -> FeedIdentity {
    let file = std::fs::File::open(format!("{DATA}{rel}")).unwrap();
    let mut data = Vec::new();
    decompress::reader(BufReader::new(file))
        .unwrap()
        .read_to_end(&mut data)
        .unwrap();
    let kind = FeedKind::detect(&data).unwrap_or_else(|| panic!("{rel}: kind not recognised"));
    let parsed = kind.parse(&data[..], &ParseOptions::default()).unwrap();
    FeedIdentity::of(kind, &data[..data.len().min(64 * 1024)], &parsed.records)
}

#[track_caller]
fn check(rel: &str, name: &str, key: &str) {
    let id = identity(rel);
    assert_eq!(
        (id.default_name().as_str(), id.key().as_str()),
        (name, key),
        "{rel}"
    );
}

/// Issue 12 item 3: every Ubuntu OVAL used to become feed `com`, every DSA/DLA list `list`,
/// and importing focal replaced bionic.
#[test]
fn issue_12_feed_names_come_from_the_content() {
    check(
        "oval/ubuntu/com.ubuntu.focal.cve.oval.xml.bz2",
        "ubuntu-20.04-oval",
        "ubuntu-oval ubuntu:20.04 series=CVE",
    );
    check(
        "oval/ubuntu/com.ubuntu.bionic.cve.oval.xml.bz2",
        "ubuntu-18.04-oval",
        "ubuntu-oval ubuntu:18.04 series=CVE",
    );
    check(
        "oval/ubuntu/com.ubuntu.trusty.cve.oval.xml.bz2",
        "ubuntu-14.04-oval",
        "ubuntu-oval ubuntu:14.04 series=CVE",
    );
    // An older snapshot of focal is the same feed: it may replace the newer one's content.
    check(
        "oval/ubuntu/snapshot-2021-02-24/com.ubuntu.focal.cve.oval.xml.bz2",
        "ubuntu-20.04-oval",
        "ubuntu-oval ubuntu:20.04 series=CVE",
    );
    // A USN OVAL is another feed than a CVE OVAL (its entries name no stream pakiti reads,
    // so only the kind and series say what it is).
    check(
        "oval/ubuntu/usn-normalized/com.ubuntu.jammy.usn.oval.xml.xz",
        "ubuntu-oval-usn",
        "ubuntu-oval - series=USN",
    );
    check(
        "debian-tracker/data/DSA/list",
        "debian-dsa",
        "debian-list debian:* series=DSA",
    );
    check(
        "debian-tracker/data/DLA/list",
        "debian-dla",
        "debian-list debian:* series=DLA",
    );
    check(
        "oval/redhat/rhel-7-including-unpatched.oval.xml.bz2",
        "rhel-7-oval",
        "redhat-oval rhel:7",
    );
    check(
        "oval/redhat/rhel-8-including-unpatched.oval.xml.bz2",
        "rhel-8-oval",
        "redhat-oval rhel:8",
    );
    check(
        "secdb/alpine-secdb-json/v3.19/main.json",
        "alpine-3.19-secdb-main",
        "alpine-secdb alpine:3.19 repository=main",
    );
    check(
        "secdb/alpine-secdb-json/v3.19/community.json",
        "alpine-3.19-secdb-community",
        "alpine-secdb alpine:3.19 repository=community",
    );
}
