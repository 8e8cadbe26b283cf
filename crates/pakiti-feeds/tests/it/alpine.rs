//! Alpine secdb: the converted official v3.3–v3.11 data, two real JSON excerpts and Wolfi.

use pakiti_core::advisory::{PackageKind, Status};
use pakiti_core::stream::OsStream;
use pakiti_feeds::ParseOptions;

use crate::debian_data::{files_under, open};

#[test]
fn every_secdb_file_parses() {
    // (records, problems, entries), counted independently (Python over the same JSON).
    let expected: &[(&str, usize, usize, usize)] = &[
        ("v3.10/community.json", 692, 0, 719),
        ("v3.10/main.json", 1110, 0, 1178),
        ("v3.11/community.json", 829, 0, 894),
        ("v3.11/main.json", 1123, 0, 1199),
        // `"packages": ""` (an empty YAML value in the conversion): no records, one problem.
        ("v3.3/community.json", 0, 1, 0),
        ("v3.3/main.json", 458, 0, 461),
        ("v3.4/community.json", 14, 0, 14),
        ("v3.4/main.json", 666, 0, 671),
        ("v3.5/community.json", 98, 0, 102),
        ("v3.5/main.json", 801, 0, 825),
        ("v3.6/community.json", 195, 0, 216),
        // heimdal 7.4.0-r0 has `""` instead of a list.
        ("v3.6/main.json", 868, 1, 896),
        ("v3.7/community.json", 378, 0, 410),
        ("v3.7/main.json", 1037, 0, 1080),
        ("v3.8/community.json", 462, 0, 484),
        ("v3.8/main.json", 1089, 0, 1137),
        ("v3.9/community.json", 575, 0, 600),
        ("v3.9/main.json", 1059, 0, 1119),
    ];
    let files = files_under("secdb/alpine-secdb-json-converted");
    assert_eq!(files.len(), expected.len());
    for (file, (name, records, problems, entries)) in files.iter().zip(expected) {
        assert!(file.ends_with(name), "{file}");
        let p = pakiti_feeds::alpine::parse(open(file), &ParseOptions::default()).unwrap();
        let got = (
            p.records.len(),
            p.problems.len(),
            p.records.iter().map(|a| a.affected.len()).sum::<usize>(),
        );
        assert_eq!(
            got,
            (*records, *problems, *entries),
            "{file}: {:?}",
            p.problems
        );
        let release = name.split('/').next().unwrap().trim_start_matches('v');
        let stream = format!("alpine:{release}");
        assert!(
            p.records
                .iter()
                .flat_map(|a| &a.affected)
                .all(|e| e.stream.to_string() == stream)
        );
    }
}

#[test]
fn spot_checks_v3_11_main() {
    let p = pakiti_feeds::alpine::parse(
        open("secdb/alpine-secdb-json-converted/v3.11/main.json"),
        &ParseOptions::default(),
    )
    .unwrap();
    let by_id = |id: &str| p.records.iter().find(|a| a.id == id).unwrap();
    let a = by_id("CVE-2019-14904");
    assert_eq!(a.cves, ["CVE-2019-14904"]);
    assert_eq!(a.source, "alpine-secdb");
    assert_eq!(a.affected.len(), 1);
    let e = &a.affected[0];
    assert_eq!(
        (e.package.as_str(), e.kind),
        ("ansible", PackageKind::Source)
    );
    assert_eq!(e.status, Status::Fixed("2.9.3-r0".into()));
    // Free text: `CVE-????-?????  XSA-295` is kept under the XSA id.
    let xsa = by_id("XSA-295");
    assert!(xsa.cves.is_empty());
    assert_eq!(xsa.affected[0].package, "xen");
    assert_eq!(xsa.affected[0].status, Status::Fixed("4.12.1-r0".into()));
}

#[test]
fn excerpts_and_wolfi() {
    let p = pakiti_feeds::alpine::parse(
        open("secdb/alpine-json-excerpts/v3_15_main_truncated.json"),
        &ParseOptions::default(),
    )
    .unwrap();
    assert_eq!(p.records.len(), 7);
    assert!(p.problems.is_empty());
    let zero = p.records.iter().find(|a| a.id == "CVE-2021-42373").unwrap();
    assert_eq!(zero.affected[0].stream.to_string(), "alpine:3.15");
    assert_eq!(zero.affected[0].status, Status::NotAffected);
    let p = pakiti_feeds::alpine::parse(
        open("secdb/alpine-json-excerpts/v3.10-community.json"),
        &ParseOptions::default(),
    )
    .unwrap();
    assert_eq!((p.records.len(), p.problems.len()), (9, 0));

    // Wolfi has no distroversion and is not a supported distro: no records, one problem.
    let w = pakiti_feeds::alpine::parse(
        open("secdb/wolfi-excerpt/security.json"),
        &ParseOptions::default(),
    )
    .unwrap();
    assert!(w.records.is_empty());
    assert_eq!(w.problems.len(), 1);
    assert!(w.problems[0].message.contains("wolfi"));
    // A site can still say which stream to use.
    let opts = ParseOptions {
        stream: Some("alpine:3.17".parse::<OsStream>().unwrap()),
    };
    let w = pakiti_feeds::alpine::parse(open("secdb/wolfi-excerpt/security.json"), &opts).unwrap();
    assert!(!w.records.is_empty());
    assert!(w.problems.is_empty());
}
