//! CSAF advisories, CSAF VEX and OpenVEX documents from `shared/data/csaf/`: every file parsed,
//! exact counts per file, and values checked by hand against the raw JSON.

use pakiti_core::advisory::{Advisory, Affected, PackageKind, Severity, Status};
use pakiti_core::matcher::{AdvisoryIndex, HostInventory};
use pakiti_core::package::InstalledPackage;
use pakiti_core::stream::OsStream;
use pakiti_feeds::csaf::{self, Stats};
use pakiti_feeds::{FeedError, ParseOptions, Parsed, decompress};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/csaf");

fn load(rel: &str) -> (Parsed<Advisory>, Stats) {
    let path = format!("{DATA}/{rel}");
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let data = decompress::to_vec(&raw).unwrap();
    csaf::parse_with_stats(&data[..], &ParseOptions::default())
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn parse_str(json: &str) -> Result<Parsed<Advisory>, FeedError> {
    csaf::parse(json.as_bytes(), &ParseOptions::default())
}

fn stream(s: &str) -> OsStream {
    s.parse().unwrap()
}

/// The entries of `adv` for `package` in `stream`.
fn entries<'a>(adv: &'a Advisory, stream_key: &str, package: &str) -> Vec<&'a Affected> {
    let s = stream(stream_key);
    adv.affected
        .iter()
        .filter(|e| e.stream == s && e.package == package)
        .collect()
}

/// The one entry of `adv` for (`stream`, `package`, `kind`).
#[track_caller]
fn one<'a>(adv: &'a Advisory, stream_key: &str, package: &str, kind: PackageKind) -> &'a Affected {
    let found: Vec<_> = entries(adv, stream_key, package)
        .into_iter()
        .filter(|e| e.kind == kind)
        .collect();
    assert_eq!(found.len(), 1, "{stream_key} {package} {kind:?}: {found:?}");
    found[0]
}

/// (file, advisories, affected entries, problems, skipped-platform refs, deleted markers).
const COUNTS: &[(&str, usize, usize, usize, usize, usize)] = &[
    ("redhat-csaf/RHSA-2023%3A7700.json.xz", 1, 0, 0, 10923, 0),
    ("redhat-csaf/cve-2021-0084.json", 1, 8, 0, 0, 0),
    ("redhat-csaf/cve-2024-22047.json", 1, 0, 0, 1, 0),
    ("redhat-csaf/rhsa-2022-0011.json", 1, 0, 0, 15, 0),
    ("redhat-csaf/rhsa-2023_3821.json.xz", 1, 51, 0, 0, 0),
    ("redhat-csaf/rhsa-2023_7025.json.xz", 1, 53, 0, 0, 0),
    ("redhat-csaf/rhsa-2024_0811.json.xz", 1, 10, 0, 330, 0),
    ("redhat-csaf/rhsa-2024_1431.json.xz", 1, 46, 0, 0, 0),
    ("redhat-vex/CVE-2024-1597.json.xz", 1, 15, 0, 2121, 0),
    ("redhat-vex/cve-2022-38752.json.xz", 1, 1, 0, 2408, 0),
    ("redhat-vex/cve-2023-38545.json.xz", 1, 35, 0, 362, 0),
    ("redhat-vex/cve-2023-4154.json.xz", 1, 130, 0, 35, 0),
    ("redhat-vex/cve-2023-42670.json.xz", 1, 130, 0, 35, 0),
    ("redhat-vex/cve-2024-24786-simple.json.xz", 1, 0, 0, 1, 0),
    ("redhat-vex/example_vex.jsonl.xz", 6, 30, 2, 2298, 2),
    ("suse-csaf/suse-su-403.json.xz", 1, 51, 0, 1026, 0),
    ("suse-csaf-vex/cve-2023-5568.json.xz", 1, 421, 0, 311, 0),
    ("ubuntu-vex/CVE-2016-20013.json.xz", 1, 678, 0, 0, 0),
    ("ubuntu-vex/CVE-2023-38545.json.xz", 1, 104, 0, 0, 0),
];

#[test]
fn every_file_parses_with_exact_counts() {
    let mut seen = 0;
    for dir in [
        "redhat-csaf",
        "redhat-vex",
        "suse-csaf",
        "suse-csaf-vex",
        "ubuntu-vex",
    ] {
        for entry in std::fs::read_dir(format!("{DATA}/{dir}")).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let rel = format!("{dir}/{name}");
            let Some(&(_, advisories, affected, problems, skipped, deleted)) =
                COUNTS.iter().find(|c| c.0 == rel)
            else {
                panic!("{rel} has no expected counts");
            };
            let (parsed, stats) = load(&rel);
            let got = (
                parsed.records.len(),
                parsed
                    .records
                    .iter()
                    .map(|a| a.affected.len())
                    .sum::<usize>(),
                parsed.problems.len(),
                stats.skipped_platform,
                stats.deleted,
            );
            assert_eq!(
                got,
                (advisories, affected, problems, skipped, deleted),
                "{rel}: {:?}",
                parsed.problems
            );
            assert_eq!(stats.skipped_not_rpm, 0, "{rel}");
            for adv in &parsed.records {
                assert_eq!(adv.source, "csaf");
                assert!(!adv.cves.is_empty(), "{rel} {}", adv.id);
                assert!(adv.issued.is_some(), "{rel} {}", adv.id);
                for e in &adv.affected {
                    // Source entries match installed binaries: never limited to arch `src`.
                    if e.kind == PackageKind::Source {
                        assert!(e.arches.is_empty(), "{rel} {e:?}");
                    }
                    assert!(!e.arches.iter().any(|a| a == "src"), "{rel} {e:?}");
                }
            }
            seen += 1;
        }
    }
    assert_eq!(seen, COUNTS.len());
}

#[test]
fn rhsa_2024_0811_sudo_main_streams_only() {
    let (parsed, _) = load("redhat-csaf/rhsa-2024_0811.json.xz");
    let adv = &parsed.records[0];
    assert_eq!(adv.id, "RHSA-2024:0811");
    assert_eq!(adv.title, "Red Hat Security Advisory: sudo security update");
    assert_eq!(adv.severity, Severity::Medium);
    assert_eq!(
        adv.cves,
        ["CVE-2023-28486", "CVE-2023-28487", "CVE-2023-42465"]
    );
    assert_eq!(adv.issued.as_deref(), Some("2024-02-14"));
    assert_eq!(adv.updated.as_deref(), Some("2025-09-10"));
    assert_eq!(
        adv.references[0],
        "https://access.redhat.com/errata/RHSA-2024:0811"
    );
    // `pkg:rpm/redhat/sudo@1.9.5p2-1.el8_9?arch=x86_64` under BaseOS-8.9.0.Z.MAIN.
    let sudo8 = one(adv, "rhel:8", "sudo", PackageKind::Binary);
    assert_eq!(sudo8.status, Status::Fixed("1.9.5p2-1.el8_9".into()));
    assert_eq!(sudo8.arches, ["aarch64", "ppc64le", "s390x", "x86_64"]);
    assert_eq!(sudo8.module, None);
    let src8 = one(adv, "rhel:8", "sudo", PackageKind::Source);
    assert_eq!(src8.status, Status::Fixed("1.9.5p2-1.el8_9".into()));
    let sudo9 = one(adv, "rhel:9", "sudo", PackageKind::Binary);
    assert_eq!(sudo9.status, Status::Fixed("1.9.5p2-10.el9_3".into()));
    // The EUS builds (1.9.5p2-1.el8_6, -1.el8_8, -7.el9_0.4, -9.el9_2.2) are not main-stream fixes.
    assert!(adv.affected.iter().all(|e| matches!(
        e.status.fixed_version(),
        Some("1.9.5p2-1.el8_9" | "1.9.5p2-10.el9_3")
    )));
}

#[test]
fn rhsa_2023_3821_module_stream() {
    let (parsed, _) = load("redhat-csaf/rhsa-2023_3821.json.xz");
    let adv = &parsed.records[0];
    assert_eq!(adv.id, "RHSA-2023:3821");
    // `pkg:rpm/redhat/ruby@2.7.8-139.module%2Bel8.8.0%2B18745%2Bf1bef313?arch=aarch64&rpmmod=ruby:2.7:...`
    let ruby = one(adv, "rhel:8", "ruby", PackageKind::Binary);
    assert_eq!(ruby.module.as_deref(), Some("ruby:2.7"));
    assert_eq!(
        ruby.status,
        Status::Fixed("2.7.8-139.module+el8.8.0+18745+f1bef313".into())
    );
    assert_eq!(
        ruby.arches,
        ["aarch64", "i686", "ppc64le", "s390x", "x86_64"]
    );
    let bigdecimal = one(adv, "rhel:8", "rubygem-bigdecimal", PackageKind::Binary);
    assert_eq!(
        bigdecimal.status,
        Status::Fixed("2.0.0-139.module+el8.8.0+18745+f1bef313".into())
    );
    assert!(
        adv.affected
            .iter()
            .all(|e| e.module.as_deref() == Some("ruby:2.7"))
    );
}

#[test]
fn rhsa_2023_7700_is_quarkus_only() {
    // A layered-product advisory: 993 Maven artifacts of "Red Hat build of Quarkus", no RHEL stream.
    let (parsed, stats) = load("redhat-csaf/RHSA-2023%3A7700.json.xz");
    let adv = &parsed.records[0];
    assert_eq!(adv.id, "RHSA-2023:7700");
    assert_eq!(adv.severity, Severity::High);
    assert_eq!(adv.cves.len(), 11);
    assert_eq!(adv.cves[0], "CVE-2023-2976");
    assert!(adv.affected.is_empty());
    // 11 vulnerabilities × (1 fixed + 992 known_not_affected).
    assert_eq!(stats.skipped_platform, 11 * 993);
}

#[test]
fn rhsa_2022_0011_old_names_with_epoch_are_eus_only() {
    // `telnet-1:0.17-65.el7_6.x86_64` on AUS/E4S/TUS 7.6 only: no main-stream entry.
    let (parsed, stats) = load("redhat-csaf/rhsa-2022-0011.json");
    assert!(parsed.records[0].affected.is_empty());
    assert_eq!(stats.skipped_platform, 15);
}

#[test]
fn vex_will_not_fix_and_module_component() {
    let (parsed, _) = load("redhat-vex/CVE-2024-1597.json.xz");
    let adv = &parsed.records[0];
    assert_eq!(adv.id, "CVE-2024-1597");
    assert_eq!(adv.cves, ["CVE-2024-1597"]);
    assert_eq!(adv.severity, Severity::High);
    // `red_hat_enterprise_linux_8:postgresql-jdbc::libreoffice:flatpak`, no_fix_planned "Will not fix".
    let wnf: Vec<_> = entries(adv, "rhel:8", "postgresql-jdbc")
        .into_iter()
        .filter(|e| e.status == Status::WillNotFix)
        .collect();
    assert_eq!(wnf.len(), 2, "{wnf:?}");
    assert!(
        wnf.iter()
            .all(|e| e.module.as_deref() == Some("libreoffice:flatpak"))
    );
    assert!(wnf.iter().any(|e| e.kind == PackageKind::Source));
    // `AppStream-8.9.0.Z.MAIN:postgresql-jdbc-0:42.2.14-3.el8_9.noarch`.
    let fixed: Vec<_> = entries(adv, "rhel:8", "postgresql-jdbc")
        .into_iter()
        .filter(|e| e.kind == PackageKind::Binary && e.status.kind() == "fixed")
        .collect();
    assert_eq!(fixed.len(), 1);
    assert_eq!(fixed[0].status, Status::Fixed("42.2.14-3.el8_9".into()));
    assert_eq!(fixed[0].arches, ["noarch"]);
    assert_eq!(fixed[0].module, None);
    let fixed9 = entries(adv, "rhel:9", "postgresql-jdbc");
    assert!(
        fixed9
            .iter()
            .any(|e| e.status == Status::Fixed("42.2.28-1.el9_3".into()))
    );
}

#[test]
fn vex_out_of_support_scope_is_end_of_life() {
    let (parsed, _) = load("redhat-vex/cve-2022-38752.json.xz");
    let adv = &parsed.records[0];
    // `red_hat_enterprise_linux_7:snakeyaml`: bare component = source package.
    assert_eq!(adv.affected.len(), 1);
    let e = one(adv, "rhel:7", "snakeyaml", PackageKind::Source);
    assert_eq!(e.status, Status::EndOfLife);
    assert!(e.arches.is_empty());
}

#[test]
fn vex_curl_fixed_and_not_affected() {
    let (parsed, _) = load("redhat-vex/cve-2023-38545.json.xz");
    let adv = &parsed.records[0];
    // 9.3 main and 9.2 MAIN.EUS (main CPE) both fix curl; the higher one decides in the matcher.
    let curl9: Vec<_> = entries(adv, "rhel:9", "curl")
        .into_iter()
        .filter(|e| e.kind == PackageKind::Binary)
        .map(|e| e.status.clone())
        .collect();
    assert_eq!(
        curl9,
        [
            Status::Fixed("7.76.1-23.el9_2.4".into()),
            Status::Fixed("7.76.1-26.el9_3.2".into())
        ]
    );
    let curl8 = one(adv, "rhel:8", "curl", PackageKind::Binary);
    assert_eq!(curl8.status, Status::NotAffected);
    let libcurl_devel = entries(adv, "rhel:9", "libcurl-devel");
    assert!(
        libcurl_devel
            .iter()
            .any(|e| e.arches.contains(&"i686".to_owned()))
    );
}

#[test]
fn example_vex_jsonl() {
    let (parsed, stats) = load("redhat-vex/example_vex.jsonl.xz");
    assert_eq!(stats.documents, 6);
    assert_eq!(stats.deleted, 2);
    let ids: Vec<_> = parsed.records.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "CVE-2023-42670",
            "CVE-2023-42670",
            "CVE-2023-42669",
            "CVE-2023-4154",
            "CVE-2023-4091",
            "CVE-2023-3961"
        ]
    );
    assert_eq!(parsed.problems[0].record.as_deref(), Some("CVE-2023-0030"));
    let adv = &parsed.records[2];
    // known_affected + none_available "Affected" for 8 and 9, "Out of support scope" for 6 and 7.
    assert_eq!(
        one(adv, "rhel:8", "samba", PackageKind::Source).status,
        Status::Unfixed
    );
    assert_eq!(
        one(adv, "rhel:9", "samba", PackageKind::Source).status,
        Status::Unfixed
    );
    assert_eq!(
        one(adv, "rhel:7", "samba", PackageKind::Source).status,
        Status::EndOfLife
    );
    assert_eq!(
        one(adv, "rhel:6", "samba4", PackageKind::Source).status,
        Status::EndOfLife
    );
}

#[test]
fn suse_advisory() {
    let (parsed, _) = load("suse-csaf/suse-su-403.json.xz");
    let adv = &parsed.records[0];
    assert_eq!(adv.id, "SUSE-SU-403");
    // aggregate_severity.text is null: the highest threat impact ("critical") is used.
    assert_eq!(adv.severity, Severity::Critical);
    assert_eq!(adv.cves.len(), 54);
    assert_eq!(adv.issued.as_deref(), Some("2014-10-24"));
    // `libopenssl0_9_8-0.9.8j-0.66.1.i586` on "SUSE Linux Enterprise Server LTSS 11 SP1".
    let e = one(adv, "sles:11.1", "libopenssl0_9_8", PackageKind::Binary);
    assert_eq!(e.status, Status::Fixed("0.9.8j-0.66.1".into()));
    assert_eq!(e.arches, ["i586", "s390x", "x86_64"]);
    // The Teradata build (`cpe:/o:suse:sles:11:sp1:teradata`) is skipped, not folded into 11.1.
    assert_eq!(entries(adv, "sles:11.1", "openssl").len(), 1);
    let counts = |s: &str| {
        adv.affected
            .iter()
            .filter(|e| e.stream == stream(s))
            .count()
    };
    assert_eq!(
        (counts("sles:11.1"), counts("sles:12"), counts("sles:12.1")),
        (7, 22, 22)
    );
}

#[test]
fn suse_vex_known_not_affected_with_spaces() {
    let (parsed, _) = load("suse-csaf-vex/cve-2023-5568.json.xz");
    let adv = &parsed.records[0];
    assert_eq!(adv.id, "CVE-2023-5568");
    // `openSUSE Tumbleweed:samba-4.19.2+git.322.7e9201cef5-1.1`: no arch in SUSE VEX names.
    let e = one(adv, "opensuse:tumbleweed", "samba", PackageKind::Binary);
    assert_eq!(
        e.status,
        Status::Fixed("4.19.2+git.322.7e9201cef5-1.1".into())
    );
    assert!(e.arches.is_empty());
    // The status key is spelt "known not affected" in this file.
    let not_affected = adv
        .affected
        .iter()
        .filter(|e| e.status == Status::NotAffected)
        .count();
    assert_eq!(not_affected, 390);
    assert_eq!(
        one(adv, "sles:15.5", "samba-client", PackageKind::Binary).status,
        Status::NotAffected
    );
}

#[test]
fn ubuntu_openvex() {
    let (parsed, stats) = load("ubuntu-vex/CVE-2023-38545.json.xz");
    assert_eq!(stats.openvex_documents, 1);
    let adv = &parsed.records[0];
    assert_eq!(adv.id, "CVE-2023-38545");
    let e = one(adv, "ubuntu:22.04", "curl", PackageKind::Binary);
    assert_eq!(e.status, Status::Fixed("7.81.0-1ubuntu1.24".into()));
    assert_eq!(
        e.arches,
        [
            "amd64", "arm64", "armhf", "i386", "ppc64el", "riscv64", "s390x"
        ]
    );
    let src = one(adv, "ubuntu:22.04", "curl", PackageKind::Source);
    assert_eq!(src.status, Status::Fixed("7.81.0-1ubuntu1.24".into()));
    // "This package (for the given release) is no longer supported."
    let xenial: Vec<_> = entries(adv, "ubuntu:16.04", "curl")
        .into_iter()
        .filter(|e| e.kind == PackageKind::Source)
        .map(|e| e.status.clone())
        .collect();
    assert!(xenial.contains(&Status::EndOfLife), "{xenial:?}");
    let (parsed, _) = load("ubuntu-vex/CVE-2016-20013.json.xz");
    let adv = &parsed.records[0];
    // "... the Ubuntu Security Team decided to not fix it."
    assert_eq!(
        one(adv, "ubuntu:14.04", "dietlibc", PackageKind::Source).status,
        Status::WillNotFix
    );
}

#[test]
fn matcher_on_rhsa_with_module_and_version() {
    let mut advisories = load("redhat-csaf/rhsa-2024_0811.json.xz").0.records;
    advisories.extend(load("redhat-csaf/rhsa-2023_3821.json.xz").0.records);
    let index = AdvisoryIndex::new(advisories);
    let rhel8 = stream("rhel:8");
    let packages = [
        // Older than the fix (a prefix of it): affected under any rpm ordering.
        InstalledPackage::new("sudo", "1.9.5p2-1.el8", "x86_64"),
        // Exactly the fixed build.
        InstalledPackage::new("sudo-debuginfo", "1.9.5p2-1.el8_9", "x86_64"),
        // Modular ruby, older build.
        InstalledPackage::new("ruby", "2.7.8-1.module+el8.8.0+1+a", "x86_64"),
    ];
    let with_module = ["ruby:2.7".to_owned()];
    let host = HostInventory {
        stream: Some(&rhel8),
        packages: &packages,
        modules: &with_module,
    };
    let result = index.match_host(&host);
    assert!(result.covered);
    let found: Vec<_> = result
        .findings
        .iter()
        .map(|f| (f.package, f.advisory.id.as_str()))
        .collect();
    assert_eq!(found, [(0, "RHSA-2024:0811"), (2, "RHSA-2023:3821")]);
    // Without the ruby:2.7 module enabled, the modular entry does not apply.
    let host = HostInventory {
        modules: &[],
        ..host
    };
    let found: Vec<_> = index
        .match_host(&host)
        .findings
        .iter()
        .map(|f| f.package)
        .collect();
    assert_eq!(found, [0]);
}

#[test]
fn not_csaf_is_a_format_error() {
    let err = parse_str(r#"{"document": {"title": "x"}}"#).unwrap_err();
    assert!(
        matches!(&err, FeedError::Format { reason, .. } if reason.contains("csaf_version")),
        "{err}"
    );
    let err = parse_str(r#"{"document": {"csaf_version": "1.0"}}"#).unwrap_err();
    assert!(matches!(err, FeedError::Format { .. }), "{err}");
    let err = parse_str(r#"{"@context": "https://openvex.dev/ns/v0.2.0"}"#).unwrap_err();
    assert!(matches!(err, FeedError::Format { .. }), "{err}");
    let err = parse_str("{\"document\": ").unwrap_err();
    assert!(matches!(err, FeedError::Json(_)), "{err}");
}

/// A small Red Hat-style document with the odd cases the real files do not show.
const ODD: &str = r#"{
  "document": {
    "csaf_version": "2.0", "category": "csaf_vex", "title": "odd",
    "publisher": {"name": "Red Hat Product Security", "namespace": "https://www.redhat.com"},
    "tracking": {"id": "CVE-2099-0001", "initial_release_date": "2099-01-02T00:00:00Z",
                 "current_release_date": "2099-01-03T00:00:00Z"}
  },
  "product_tree": {
    "branches": [{"category": "vendor", "name": "Red Hat", "branches": [
      {"category": "product_name", "name": "RHEL 9", "product": {"name": "RHEL 9", "product_id": "rhel9",
        "product_identification_helper": {"cpe": "cpe:/o:redhat:enterprise_linux:9"}}},
      {"category": "product_name", "name": "Mystery", "product": {"name": "Mystery", "product_id": "mystery"}},
      {"category": "product_version", "name": "openssl", "product": {"name": "openssl", "product_id": "openssl"}},
      {"category": "product_version", "name": "bash", "product": {"name": "bash", "product_id": "bash"}},
      {"category": "product_version", "name": "img", "product": {"name": "img", "product_id": "img",
        "product_identification_helper": {"purl": "pkg:oci/ubi9@sha256:abc"}}},
      {"category": "product_version", "name": "nss-3.90.0-3.el9_2.x86_64", "product": {
        "name": "nss-3.90.0-3.el9_2.x86_64", "product_id": "nss-3.90.0-3.el9_2.x86_64",
        "product_identification_helper": {"purl": "pkg:rpm/redhat/nss@3.90.0-3.el9_2?arch=x86_64"}}}
    ]}],
    "relationships": [
      {"category": "default_component_of", "product_reference": "openssl", "relates_to_product_reference": "rhel9",
       "full_product_name": {"name": "openssl on RHEL 9", "product_id": "rhel9:openssl"}},
      {"category": "default_component_of", "product_reference": "bash", "relates_to_product_reference": "rhel9",
       "full_product_name": {"name": "bash on RHEL 9", "product_id": "rhel9:bash"}},
      {"category": "default_component_of", "product_reference": "img", "relates_to_product_reference": "rhel9",
       "full_product_name": {"name": "img on RHEL 9", "product_id": "rhel9:img"}},
      {"category": "default_component_of", "product_reference": "nss-3.90.0-3.el9_2.x86_64",
       "relates_to_product_reference": "rhel9",
       "full_product_name": {"name": "nss", "product_id": "rhel9:nss-3.90.0-3.el9_2.x86_64"}},
      {"category": "default_component_of", "product_reference": "bash", "relates_to_product_reference": "mystery",
       "full_product_name": {"name": "bash on ?", "product_id": "mystery:bash"}},
      {"category": "installed_on", "product_reference": "bash", "relates_to_product_reference": "rhel9",
       "full_product_name": {"name": "bash installed on RHEL 9", "product_id": "rhel9-installed:bash"}}
    ]
  },
  "vulnerabilities": [{
    "cve": "CVE-2099-0001",
    "product_status": {
      "known_affected": ["rhel9:openssl", "rhel9:img", "mystery:bash", "nowhere:zsh"],
      "fixed": ["rhel9:bash", "rhel9:nss-3.90.0-3.el9_2.x86_64"],
      "maybe_affected": ["rhel9:bash"]
    },
    "remediations": [
      {"category": "none_available", "details": "Fix deferred", "product_ids": ["rhel9:openssl"]},
      {"category": "shrug", "details": "?", "product_ids": ["rhel9:openssl"]}
    ],
    "threats": [{"category": "impact", "details": "Moderate"}]
  }]
}"#;

#[test]
fn odd_cases_are_problems_with_conservative_statuses() {
    let (parsed, stats) = csaf::parse_with_stats(ODD.as_bytes(), &ParseOptions::default()).unwrap();
    assert_eq!(parsed.records.len(), 1);
    let adv = &parsed.records[0];
    assert_eq!(adv.severity, Severity::Medium);
    assert_eq!(adv.issued.as_deref(), Some("2099-01-02"));
    assert_eq!(adv.updated.as_deref(), Some("2099-01-03"));
    let got: Vec<_> = adv
        .affected
        .iter()
        .map(|e| {
            (
                e.stream.to_string(),
                e.package.as_str(),
                e.kind,
                e.status.clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            // Unknown status key "maybe_affected": taken as affected (bash "fixed" has no version).
            (
                "rhel:9".to_owned(),
                "bash",
                PackageKind::Source,
                Status::Unfixed
            ),
            (
                "rhel:9".to_owned(),
                "nss",
                PackageKind::Binary,
                Status::Fixed("3.90.0-3.el9_2".into())
            ),
            // "Fix deferred" (and an unknown remediation category) stay unfixed.
            (
                "rhel:9".to_owned(),
                "openssl",
                PackageKind::Source,
                Status::Unfixed
            ),
        ]
    );
    assert_eq!(stats.skipped_not_rpm, 1);
    let messages: Vec<_> = parsed.problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "1 product status references name no package on a platform in the product tree",
            "1 product status references relate to a platform without a cpe",
            "1 fixed products name no package version; left out",
            "unknown product_status \"maybe_affected\"; its products taken as affected",
            "unknown remediation category \"shrug\"; its products keep status unfixed",
            "1 relationships of unknown category \"installed_on\" ignored",
        ]
    );
    assert!(
        parsed
            .problems
            .iter()
            .all(|p| p.record.as_deref() == Some("CVE-2099-0001"))
    );
}

#[test]
fn json_lines_with_a_broken_line_keeps_the_others() {
    let line = ODD.replace('\n', " ");
    let input = format!("{line}\n{{\"document\": 5}}\n{line}\n");
    let parsed = parse_str(&input).unwrap();
    assert_eq!(parsed.records.len(), 2);
    assert!(
        parsed
            .problems
            .iter()
            .any(|p| p.message.starts_with("document 2 skipped"))
    );
}
