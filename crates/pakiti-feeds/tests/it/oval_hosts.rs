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

/// The entries of `cve`'s focal advisory for `package`, as (status, arches).
fn focal_entries(
    advisories: &[pakiti_core::advisory::Advisory],
    cve: &str,
    package: &str,
) -> Vec<(String, Vec<String>)> {
    advisories
        .iter()
        .filter(|a| a.id == cve)
        .flat_map(|a| a.affected.iter())
        .filter(|e| e.package == package)
        .map(|e| (e.status.kind().to_owned(), e.arches.clone()))
        .collect()
}

/// Issue 12 item 11: Ubuntu's "ignored" and "ignored (… now end-of-life)" packages are shown
/// as such; they used to read as "unfixed" (the criterion comment is the only place the
/// CVE OVAL says it: the test only asks whether the package is installed).
#[test]
fn issue_12_ubuntu_ignored_and_end_of_life() {
    let advisories = ub(&load("ubuntu/com.ubuntu.focal.cve.oval.xml.bz2"));
    // "openssh: while related to the CVE in some way, a decision has been made to ignore
    // this issue".
    assert_eq!(
        focal_entries(&advisories, "CVE-2018-15919", "openssh-client"),
        [("ignored".to_owned(), Vec::new())]
    );
    // "linux-meta-riscv: … ignore this issue (note: 'was needs-triage now end-of-life')",
    // beside linux-meta's own "affected and may need fixing".
    assert_eq!(
        focal_entries(&advisories, "CVE-2012-4542", "linux-image-virtual"),
        [
            ("unfixed".to_owned(), Vec::new()),
            ("end-of-life".to_owned(), vec!["riscv64".to_owned()]),
        ]
    );
    // "affected, but a decision has been made to defer addressing it" stays unfixed.
    let mut kinds: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for e in advisories.iter().flat_map(|a| a.affected.iter()) {
        *kinds.entry(e.status.kind()).or_default() += 1;
    }
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        [
            ("end-of-life", 1172),
            ("fixed", 63797),
            ("ignored", 770),
            ("unfixed", 28303)
        ]
    );
    // On the ubuntu_2004 host, the ignored findings are ignored.
    let f = findings(
        "ubuntu/com.ubuntu.focal.cve.oval.xml.bz2",
        ub,
        "ubuntu_2004.tsv",
        false,
        "ubuntu:20.04",
    );
    assert!(
        f.pairs
            .iter()
            .any(|(p, a, s)| p == "openssh-client" && a == "CVE-2018-15919" && s == "ignored")
    );
    let mut by_status: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for (_, _, s) in &f.pairs {
        *by_status.entry(s.as_str()).or_default() += 1;
    }
    // Of the 429 findings that used to be "unfixed" (`UNFIXED_FOCAL`), 42 are ignored and 87
    // end-of-life (the riscv64 kernel's among them: this host's packages carry no arch).
    assert_eq!(
        by_status.into_iter().collect::<Vec<_>>(),
        [("end-of-life", 87), ("ignored", 42), ("unfixed", 300)]
    );
}

/// Issue 12 item 9: Ubuntu's riscv64-only `linux-meta-riscv` (and `linux-riscv`) entries
/// name the same binaries as `linux-meta`; on an amd64 host they must not match. A host whose
/// packages carry no arch still matches them (missing information never hides a finding).
#[test]
fn issue_12_riscv_only_entries_do_not_match_amd64() {
    let index = AdvisoryIndex::new(ub(&load("ubuntu/com.ubuntu.focal.cve.oval.xml.bz2")));
    let stream: OsStream = "ubuntu:20.04".parse().unwrap();
    let unknown = host("ubuntu_2004.tsv", false);
    let amd64: Vec<InstalledPackage> = unknown
        .iter()
        .map(|p| InstalledPackage::new(p.name.clone(), p.version.clone(), "amd64"))
        .collect();
    let cves = |pkgs: &[InstalledPackage]| -> std::collections::BTreeSet<String> {
        index
            .match_host(&HostInventory {
                stream: Some(&stream),
                packages: pkgs,
                modules: &[],
            })
            .findings
            .iter()
            .flat_map(|f| f.advisory.cves.iter().cloned())
            .collect()
    };
    let (all, on_amd64) = (cves(&unknown), cves(&amd64));
    // 89 of the 307 CVEs came only from riscv64 entries.
    assert_eq!((all.len(), on_amd64.len()), (307, 218));
    assert!(on_amd64.is_subset(&all));
    // Every finding on amd64 comes from an entry for every arch or for amd64.
    for f in index
        .match_host(&HostInventory {
            stream: Some(&stream),
            packages: &amd64,
            modules: &[],
        })
        .findings
    {
        assert!(
            f.affected.arches.is_empty() || f.affected.arches.iter().any(|a| a == "amd64"),
            "{} {:?}",
            f.advisory.id,
            f.affected
        );
    }
}
