//! OSV records of six distributions: every real record parsed, spot checks by hand.

use pakiti_core::advisory::{Advisory, PackageKind, Severity, Status};
use pakiti_feeds::ParseOptions;

use crate::debian_data::{files_under, open};

fn one(rel: &str) -> (Advisory, Vec<String>) {
    let p = pakiti_feeds::osv::parse(open(rel), &ParseOptions::default()).unwrap();
    assert_eq!(p.records.len(), 1, "{rel}");
    let problems = p.problems.iter().map(|p| p.message.clone()).collect();
    (p.records.into_iter().next().unwrap(), problems)
}

#[test]
fn every_record_parses_with_exact_problems() {
    let files = files_under("osv");
    assert_eq!(files.len(), 35);
    let mut entries = 0;
    let mut problems = Vec::new();
    for f in &files {
        let p = pakiti_feeds::osv::parse(open(f), &ParseOptions::default()).unwrap();
        assert_eq!(p.records.len(), 1, "{f}");
        entries += p.records[0].affected.len();
        problems.extend(p.problems.into_iter().map(|p| p.message));
    }
    // Alma 56, Alpine 9, Debian 5, Rocky 275, SUSE 6, Ubuntu 144 (UBUNTU-CVE-2020-0305: 54
    // affected, less the 7 FIPS ones).
    assert_eq!(entries, 495);
    assert_eq!(
        problems,
        [
            "record without affected packages",
            "unknown ecosystem \"Ubuntu:Pro:FIPS:16.04:LTS\", its entries skipped",
            "unknown ecosystem \"Ubuntu:Pro:FIPS-updates:18.04:LTS\", its entries skipped",
            "unknown ecosystem \"Ubuntu:Pro:FIPS:18.04:LTS\", its entries skipped",
        ]
    );
}

#[test]
fn alma_names_binaries_and_rates_from_the_summary() {
    let (a, problems) = one("osv/almalinux/ALSA-2023%3A7549.json");
    assert!(problems.is_empty());
    assert_eq!(a.id, "ALSA-2023:7549");
    assert_eq!(a.source, "osv");
    assert_eq!(a.severity, Severity::High);
    assert_eq!(a.issued.as_deref(), Some("2023-11-28"));
    assert_eq!(a.cves.len(), 7);
    assert_eq!(a.affected.len(), 24);
    let core = a
        .affected
        .iter()
        .find(|e| e.package == "kernel-core")
        .unwrap();
    assert_eq!(core.stream.to_string(), "alma:8");
    assert_eq!(core.kind, PackageKind::Binary);
    assert_eq!(core.introduced, None);
    assert_eq!(core.status, Status::Fixed("4.18.0-513.9.1.el8_9".into()));
}

#[test]
fn rocky_keeps_epochs_and_both_streams() {
    let (a, _) = one("osv/rocky/RLSA-2021_3891.json");
    assert_eq!(a.affected[0].package, "java-11-openjdk");
    assert_eq!(
        a.affected[0].status,
        Status::Fixed("1:11.0.13.0.8-1.el8_4".into())
    );
    assert_eq!(a.severity, Severity::High);
    let (b, _) = one("osv/rocky/RLSA-2024%3A8121.json");
    let streams: Vec<String> = b.affected.iter().map(|e| e.stream.to_string()).collect();
    assert_eq!(streams, ["rocky:9", "rocky:8"]);
    let (c, _) = one("osv/rocky/RLSA-2025%3A9318.json");
    assert_eq!(c.affected.len(), 265);
    assert_eq!(c.cves, ["CVE-2019-10086", "CVE-2025-48734"]);
}

#[test]
fn debian_names_sources() {
    let (a, _) = one("osv/debian/DLA-3008-1.json");
    assert_eq!(a.cves, ["CVE-2022-1292"]);
    assert_eq!(a.title, "openssl - security update");
    let e = &a.affected[0];
    assert_eq!(e.stream.to_string(), "debian:stretch");
    assert_eq!(e.kind, PackageKind::Source);
    assert_eq!(e.status, Status::Fixed("1.1.0l-1~deb9u6".into()));
    let (b, _) = one("osv/debian/DSA-3029-1.json");
    assert_eq!(b.affected[0].stream.to_string(), "debian:wheezy");
    assert_eq!(
        b.references[0],
        "https://www.debian.org/security/2014/dsa-3029"
    );
}

#[test]
fn ubuntu_pro_unfixed_and_priorities() {
    let (a, _) = one("osv/ubuntu/UBUNTU-CVE-2021-3782.json");
    assert_eq!(a.severity, Severity::Medium);
    assert_eq!(a.cves, ["CVE-2021-3782"]);
    let esm = &a.affected[0];
    assert_eq!(esm.stream.to_string(), "ubuntu:16.04");
    assert_eq!(esm.package, "wayland");
    assert_eq!(
        esm.status,
        Status::Fixed("1.12.0-1~ubuntu16.04.3+esm1".into())
    );
    // No fixed event: every version from introduced on is affected.
    let (b, _) = one("osv/ubuntu/UBUNTU-CVE-2016-20013.json");
    assert_eq!(b.severity, Severity::Low);
    assert!(b.affected.iter().all(|e| e.status == Status::Unfixed));
    let (c, _) = one("osv/ubuntu/UBUNTU-CVE-2024-51988.json");
    assert_eq!(c.severity, Severity::Medium);
    let (d, _) = one("osv/ubuntu/USN-5614-1.json");
    assert_eq!(d.cves, ["CVE-2021-3782"]);
}

#[test]
fn alpine_suse_and_cvss() {
    let (a, _) = one("osv/alpine/ALPINE-CVE-2025-26519.json");
    // CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:H/I:H/A:H = 7.0.
    assert_eq!(a.severity, Severity::High);
    let e = &a.affected[3];
    assert_eq!(e.stream.to_string(), "alpine:3.19");
    assert_eq!(e.introduced.as_deref(), Some("0.9.13"));
    assert_eq!(e.status, Status::Fixed("1.2.4_git20230717-r5".into()));
    let (b, _) = one("osv/suse/openSUSE-SU-2016%3A1623-1.json");
    assert_eq!(b.affected.len(), 6);
    assert_eq!(b.affected[0].stream.to_string(), "sles:12");
    assert_eq!(
        b.affected[0].status,
        Status::Fixed("51.0.2704.103-85.3".into())
    );
    let (c, problems) = one("osv/suse/SUSE-SU-2015%3A0011-2.json");
    assert!(c.affected.is_empty());
    assert_eq!(c.cves.len(), 7);
    assert_eq!(problems.len(), 1);
}
