//! Findings for real hosts (`shared/data/hosts/lists`) against the real OVAL files.

use pakiti_core::advisory::Status;
use pakiti_core::matcher::{AdvisoryIndex, HostInventory};
use pakiti_core::package::InstalledPackage;
use pakiti_core::stream::OsStream;
use pakiti_feeds::{ParseOptions, oval};

use crate::oval::load;

const HOSTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/hosts/lists/"
);

/// Reads `name epoch version release arch candidate` lines; the version is `E:V-R` for rpm
/// (epoch 0 when empty) and the dpkg version for Debian/Ubuntu.
fn host(file: &str, rpm: bool) -> Vec<InstalledPackage> {
    let text = std::fs::read_to_string(format!("{HOSTS}{file}")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            let (name, epoch, version, release, arch) = (c[0], c[1], c[2], c[3], c[4]);
            let v = if rpm {
                let e = if epoch.is_empty() { "0" } else { epoch };
                format!("{e}:{version}-{release}")
            } else {
                let e = if epoch.is_empty() {
                    String::new()
                } else {
                    format!("{epoch}:")
                };
                let r = if release.is_empty() {
                    String::new()
                } else {
                    format!("-{release}")
                };
                format!("{e}{version}{r}")
            };
            InstalledPackage::new(name, v, arch)
        })
        .collect()
}

struct Found {
    pairs: Vec<(String, String, String)>,
}

fn findings(
    feed: &str,
    parse: fn(&[u8]) -> Vec<pakiti_core::advisory::Advisory>,
    hostfile: &str,
    rpm: bool,
    stream: &str,
) -> Found {
    let index = AdvisoryIndex::new(parse(&load(feed)));
    let pkgs = host(hostfile, rpm);
    let stream: OsStream = stream.parse().unwrap();
    let res = index.match_host(&HostInventory {
        stream: Some(&stream),
        packages: &pkgs,
        modules: &[],
    });
    assert!(res.covered);
    Found {
        pairs: res
            .findings
            .iter()
            .map(|f| {
                // Entries with a lower bound depend on the comparator too.
                let kind = if f.affected.introduced.is_some() {
                    "bounded"
                } else {
                    f.affected.status.kind()
                };
                (
                    pkgs[f.package].name.clone(),
                    f.advisory.id.clone(),
                    kind.to_owned(),
                )
            })
            .collect(),
    }
}

fn rh(x: &[u8]) -> Vec<pakiti_core::advisory::Advisory> {
    oval::redhat::parse(x, &ParseOptions::default())
        .unwrap()
        .records
}
fn ub(x: &[u8]) -> Vec<pakiti_core::advisory::Advisory> {
    oval::ubuntu::parse(x, &ParseOptions::default())
        .unwrap()
        .records
}

fn has(f: &Found, pkg: &str, adv: &str) -> bool {
    f.pairs.iter().any(|(p, a, _)| p == pkg && a == adv)
}

/// Findings whose answer does not depend on the version comparator (unfixed, will not fix,
/// end of life): exact regression numbers. Fixed-version findings are checked case by case.
fn unfixed(f: &Found) -> usize {
    f.pairs
        .iter()
        .filter(|(_, _, s)| s != "fixed" && s != "bounded")
        .count()
}

#[test]
fn rhel80_host_against_rhel8_oval() {
    let f = findings(
        "redhat/rhel-8-including-unpatched.oval.xml.bz2",
        rh,
        "rhel_80.tsv",
        true,
        "rhel:8",
    );
    // glibc 0:2.28-18.el8 is older than RHSA-2019:3513's 0:2.28-72.el8.
    assert!(has(&f, "glibc", "RHSA-2019:3513"));
    // sudo 0:1.8.25p1-3.el8 is older than RHSA-2019:3694's 0:1.8.25p1-8.el8_1.
    assert!(has(&f, "sudo", "RHSA-2019:3694"));
    assert_eq!(unfixed(&f), UNFIXED_RHEL80);
    let _ = Status::Unfixed;
}

#[test]
fn package_at_the_fixed_version_is_not_found() {
    let index = AdvisoryIndex::new(rh(&load("redhat/rhel-8-including-unpatched.oval.xml.bz2")));
    let stream: OsStream = "rhel:8".parse().unwrap();
    let at_fix = [InstalledPackage::new("glibc", "0:2.28-72.el8", "x86_64")];
    let older = [InstalledPackage::new("glibc", "0:2.28-18.el8", "x86_64")];
    let ids = |pkgs: &[InstalledPackage]| -> Vec<String> {
        index
            .match_host(&HostInventory {
                stream: Some(&stream),
                packages: pkgs,
                modules: &[],
            })
            .findings
            .iter()
            .map(|f| f.advisory.id.clone())
            .collect()
    };
    assert!(!ids(&at_fix).iter().any(|i| i == "RHSA-2019:3513"));
    assert!(ids(&older).iter().any(|i| i == "RHSA-2019:3513"));
}

#[test]
fn rhel73_host_against_rhel7_oval() {
    let f = findings(
        "redhat/rhel-7-including-unpatched.oval.xml.bz2",
        rh,
        "rhel_73.tsv",
        true,
        "rhel:7",
    );
    assert_eq!(unfixed(&f), UNFIXED_RHEL73);
}

#[test]
fn ubuntu_hosts() {
    let f = findings(
        "ubuntu/com.ubuntu.focal.cve.oval.xml.bz2",
        ub,
        "ubuntu_2004.tsv",
        false,
        "ubuntu:20.04",
    );
    // bash: CVE-2019-18276 has no fixed version for focal in this file (dpkginfo test, no state).
    assert!(
        f.pairs
            .iter()
            .any(|(p, a, s)| p == "bash" && a == "CVE-2019-18276" && s == "unfixed")
    );
    assert_eq!(unfixed(&f), UNFIXED_FOCAL);
    let f = findings(
        "ubuntu/com.ubuntu.bionic.cve.oval.xml.bz2",
        ub,
        "ubuntu_1804.tsv",
        false,
        "ubuntu:18.04",
    );
    assert_eq!(unfixed(&f), UNFIXED_BIONIC);
}

const UNFIXED_RHEL80: usize = 1218;
const UNFIXED_RHEL73: usize = 2602;
const UNFIXED_FOCAL: usize = 429;
const UNFIXED_BIONIC: usize = 617;
