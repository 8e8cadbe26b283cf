//! Real `Packages` and `Sources` indexes, and source-package advisories matched through the
//! binary → source map.

use pakiti_core::matcher::{AdvisoryIndex, HostInventory};
use pakiti_core::package::InstalledPackage;
use pakiti_core::stream::{Distro, OsStream};
use pakiti_feeds::ParseOptions;
use pakiti_feeds::debian::index::{self, BinaryPackage};

use crate::debian_data::{data, open};

const BOOKWORM: &str =
    "repos/apt/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.xz";
const BULLSEYE: &str =
    "repos/apt/deb.debian.org_debian_dists_bullseye_main_binary-amd64_Packages.xz";

fn packages(rel: &str) -> Vec<BinaryPackage> {
    let p = index::parse_packages(open(rel)).unwrap();
    assert!(p.problems.is_empty(), "{rel}: {:?}", p.problems);
    p.records
}

#[test]
fn every_packages_index_parses_completely() {
    // Stanza counts from SOURCES.md (and `grep -c '^Package:'`).
    for (name, stanzas) in [
        (
            "archive.ubuntu.com_ubuntu_dists_focal_main_binary-amd64_Packages.xz",
            6090,
        ),
        (
            "archive.ubuntu.com_ubuntu_dists_noble_main_binary-amd64_Packages.xz",
            6099,
        ),
        (
            "deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages.xz",
            3016,
        ),
        (
            "deb.debian.org_debian-security_dists_bullseye-security_main_binary-amd64_Packages.xz",
            3816,
        ),
        (
            "deb.debian.org_debian-security_dists_trixie-security_main_binary-amd64_Packages.xz",
            2493,
        ),
        (
            "deb.debian.org_debian_dists_bookworm-updates_main_binary-amd64_Packages.xz",
            38,
        ),
        (
            "deb.debian.org_debian_dists_trixie_main_binary-amd64_Packages.xz",
            68829,
        ),
        (
            "security.ubuntu.com_ubuntu_dists_focal-security_main_binary-amd64_Packages.xz",
            20031,
        ),
        (
            "security.ubuntu.com_ubuntu_dists_noble-security_main_binary-amd64_Packages.xz",
            6142,
        ),
    ] {
        assert_eq!(
            packages(&format!("repos/apt/{name}")).len(),
            stanzas,
            "{name}"
        );
    }
}

#[test]
fn bookworm_packages_spot_checks() {
    let pkgs = packages(BOOKWORM);
    assert_eq!(pkgs.len(), 63440);
    let libssl3 = pkgs.iter().find(|p| p.package == "libssl3").unwrap();
    assert_eq!(libssl3.source, "openssl");
    assert_eq!(libssl3.source_version, None);
    assert_eq!(libssl3.architecture, "amd64");
    let first = &pkgs[0];
    assert_eq!(
        (first.package.as_str(), first.version.as_str()),
        ("0ad", "0.0.26-3")
    );
    assert_eq!(first.source, "0ad");
    // `Source: name (version)` (binNMUs): 12530 stanzas, counted with grep.
    assert_eq!(
        pkgs.iter().filter(|p| p.source_version.is_some()).count(),
        12530
    );
    let qt = pkgs.iter().find(|p| p.package == "2048-qt").unwrap();
    assert_eq!(
        (qt.source.as_str(), qt.source_version.as_deref()),
        ("2048-qt", Some("0.1.6-2"))
    );
    let map: Vec<(&str, &str)> = index::source_map(&pkgs).collect();
    assert!(map.contains(&("libssl3", "openssl")));
    assert!(map.iter().all(|(b, s)| b != s));
}

#[test]
fn sources_indexes() {
    let p = index::parse_sources(open("repos/apt-excerpts/Bullseye-Sources.gz")).unwrap();
    assert_eq!((p.records.len(), p.problems.len()), (39, 0));
    let data0ad = p.records.iter().find(|s| s.package == "0ad-data").unwrap();
    assert_eq!(data0ad.version, "0.0.23.1-1.1");
    assert_eq!(data0ad.binaries, ["0ad-data", "0ad-data-common"]);
    let p = index::parse_sources(open(
        "repos/apt-excerpts/packages.gardenlinux.io_gardenlinux_dists_experimental_main_source_Sources.xz",
    ))
    .unwrap();
    assert_eq!((p.records.len(), p.problems.len()), (1312, 0));
    let acl = &p.records[0];
    assert_eq!(
        (acl.package.as_str(), acl.version.as_str()),
        ("acl", "2.3.2-2")
    );
    assert_eq!(
        acl.binaries,
        ["acl", "libacl1-dev", "libacl1", "acl-udeb", "libacl1-udeb"]
    );
    let map: Vec<_> = index::source_map_from_sources(&p.records).collect();
    assert!(map.contains(&("libacl1", "acl")));
}

/// Binary → source pairs from real `Sources` indexes (what `pakiti repo import` of a Sources
/// file stores): only binaries named unlike their source, each with the source that builds it.
#[test]
fn sources_index_source_maps() {
    let p = index::parse_sources(open("repos/apt-excerpts/Bullseye-Sources.gz")).unwrap();
    let map: Vec<(&str, &str)> = index::source_map_from_sources(&p.records).collect();
    // 39 sources build 54 binaries; 19 of them are named unlike their source (counted
    // independently with a few lines of Python over the decompressed file).
    let binaries: usize = p.records.iter().map(|s| s.binaries.len()).sum();
    assert_eq!((binaries, map.len()), (54, 19));
    assert!(map.iter().all(|(b, s)| b != s));
    for pair in [
        ("389-ds-base-libs", "389-ds-base"),
        ("python3-lib389", "389-ds-base"),
        ("cockpit-389-ds", "389-ds-base"),
        ("0ad-data-common", "0ad-data"),
    ] {
        assert!(map.contains(&pair), "{pair:?} not in {map:?}");
    }
    assert!(!map.iter().any(|(b, _)| *b == "abcm2ps"));

    let p = index::parse_sources(open(
        "repos/apt-excerpts/packages.gardenlinux.io_gardenlinux_dists_experimental_main_source_Sources.xz",
    ))
    .unwrap();
    let map: Vec<(&str, &str)> = index::source_map_from_sources(&p.records).collect();
    // 1312 sources, 5557 binaries, 4824 named unlike their source (same independent count).
    assert_eq!(map.len(), 4824);
    for pair in [
        ("libssl3t64", "openssl"),
        ("libssl-dev", "openssl"),
        ("libacl1", "acl"),
    ] {
        assert!(map.contains(&pair), "{pair:?}");
    }
    // A source-package advisory for openssl reaches `libssl3t64` only through the map, and
    // the index says so while the map is missing.
    let trixie = OsStream::new(Distro::Debian, "13");
    let adv = pakiti_core::advisory::Advisory {
        id: "DSA-0000-1".into(),
        source: "test".into(),
        affected: vec![pakiti_core::advisory::Affected::source(
            trixie.clone(),
            "openssl",
            pakiti_core::advisory::Status::Fixed("3.3.3-1".into()),
        )],
        ..pakiti_core::advisory::Advisory::default()
    };
    let mut idx = AdvisoryIndex::new(vec![adv]);
    let host = [InstalledPackage::new("libssl3t64", "3.3.2-1gl0", "amd64")];
    let inv = HostInventory {
        stream: Some(&trixie),
        packages: &host,
        modules: &[],
    };
    assert!(idx.lacks_source_map(&trixie));
    assert!(idx.match_host(&inv).findings.is_empty());
    idx.add_source_map(&trixie, map);
    assert!(!idx.lacks_source_map(&trixie));
    assert_eq!(idx.match_host(&inv).findings.len(), 1);
}

#[test]
fn stanza_reader_reads_release_files() {
    let text =
        std::fs::read_to_string(data("repos/apt-excerpts/debian_dists_bookworm_Release")).unwrap();
    let st: Vec<_> = index::stanzas(&text).collect();
    assert_eq!(st.len(), 1);
    assert_eq!(st[0].field("Codename"), Some("bookworm"));
    assert!(st[0].field("SHA256").unwrap().lines().count() > 100);
}

fn host(rel: &str) -> Vec<InstalledPackage> {
    std::fs::read_to_string(data(rel))
        .unwrap()
        .lines()
        .map(|l| {
            let mut f = l.split_whitespace();
            InstalledPackage::new(f.next().unwrap(), f.next().unwrap(), f.next().unwrap_or(""))
        })
        .collect()
}

/// The DSA list's openssl entries for bullseye reach the binary `libssl1.1` only through the
/// `Packages` index's source map. Every one of the five fixed versions (1.1.1k-1+deb11u1 …
/// 1.1.1n-0+deb11u4) is above the host's 1.1.1k-1 under dpkg ordering (and plain string
/// ordering), so the assertions hold whatever comparator is plugged in.
#[test]
fn dsa_openssl_matches_libssl_through_the_source_map() {
    let dsa = pakiti_feeds::debian::list::parse(
        open("debian-tracker/data/DSA/list"),
        &ParseOptions::default(),
    )
    .unwrap();
    let bullseye = OsStream::new(Distro::Debian, "11");
    let pkgs = host("hosts/lists/debian_11.dpkg-query.txt");
    let libssl = pkgs.iter().position(|p| p.name == "libssl1.1").unwrap();
    let openssl = pkgs.iter().position(|p| p.name == "openssl").unwrap();
    assert_eq!(pkgs[libssl].version, "1.1.1k-1");
    let inventory = HostInventory {
        stream: Some(&bullseye),
        packages: &pkgs,
        modules: &[],
    };
    let hits_for = |index: &AdvisoryIndex, i: usize| -> Vec<String> {
        let mut ids: Vec<String> = index
            .match_host(&inventory)
            .findings
            .iter()
            .filter(|f| f.package == i)
            .map(|f| f.advisory.id.clone())
            .collect();
        ids.sort();
        ids
    };
    let expected = [
        "DSA-4963-1",
        "DSA-5103-1",
        "DSA-5139-1",
        "DSA-5169-1",
        "DSA-5343-1",
    ];

    let mut index = AdvisoryIndex::new(dsa.records);
    assert!(index.covers(&bullseye));
    // Without the map, only the binary named like its source is found.
    assert!(hits_for(&index, libssl).is_empty());
    assert_eq!(hits_for(&index, openssl), expected);

    let binaries = packages(BULLSEYE);
    assert_eq!(binaries.len(), 58657);
    index.add_source_map(&bullseye, index::source_map(&binaries));
    assert_eq!(hits_for(&index, libssl), expected);
    assert_eq!(hits_for(&index, openssl), expected);
}
