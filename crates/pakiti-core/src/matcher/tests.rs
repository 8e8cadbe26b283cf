//! The matcher's unit tests: index, evaluation, modules, fleets and rebuilds together.

use super::*;
use crate::advisory::{Advisory, Affected};
use crate::advisory::{Severity, Status};
use crate::package::InstalledPackage;
use crate::stream::Distro;
use crate::stream::OsStream;

fn rhel8() -> OsStream {
    OsStream::new(Distro::Rhel, "8")
}
fn bookworm() -> OsStream {
    OsStream::new(Distro::Debian, "bookworm")
}

fn advisory(id: &str, affected: Vec<Affected>) -> Advisory {
    Advisory {
        id: id.into(),
        source: "test".into(),
        severity: Severity::High,
        cves: vec![format!("CVE-{id}")],
        affected,
        ..Advisory::default()
    }
}

fn index() -> AdvisoryIndex {
    let mut nodejs = Affected::binary(
        rhel8(),
        "nodejs",
        Status::Fixed("1:18.2-1.module+el8".into()),
    );
    nodejs.module = Some("nodejs:18".into());
    let mut x86 = Affected::binary(rhel8(), "kernel", Status::Fixed("0:4.18.0-500.el8".into()));
    x86.arches = vec!["x86_64".into()];
    AdvisoryIndex::new(vec![
        advisory(
            "A1",
            vec![
                Affected::binary(
                    rhel8(),
                    "openssl-libs",
                    Status::Fixed("1:1.1.1k-9.el8".into()),
                ),
                Affected::binary(rhel8(), "openssl", Status::Fixed("1:1.1.1k-9.el8".into())),
            ],
        ),
        advisory("A2", vec![nodejs]),
        advisory("A3", vec![x86]),
        advisory(
            "A4",
            vec![Affected::source(
                bookworm(),
                "openssl",
                Status::Fixed("3.0.11-1~deb12u2".into()),
            )],
        ),
        advisory(
            "A5",
            vec![Affected::binary(bookworm(), "bash", Status::NotAffected)],
        ),
        advisory(
            "A6",
            vec![Affected::binary(bookworm(), "zlib1g", Status::WillNotFix)],
        ),
    ])
}

fn ids(index: &AdvisoryIndex, hits: &[Hit]) -> Vec<String> {
    hits.iter().map(|h| index.advisory(*h).id.clone()).collect()
}

#[test]
fn fixed_version_bounds() {
    let idx = index();
    let old = InstalledPackage::new("openssl-libs", "1:1.1.1k-8.el8", "x86_64");
    let new = InstalledPackage::new("openssl-libs", "1:1.1.1k-9.el8", "x86_64");
    assert_eq!(ids(&idx, &idx.evaluate(&rhel8(), &old)), ["A1"]);
    assert!(idx.evaluate(&rhel8(), &new).is_empty());
    // Another stream's data never applies.
    assert!(
        idx.evaluate(&OsStream::new(Distro::Rhel, "9"), &old)
            .is_empty()
    );
}

#[test]
fn arch_limits_and_unknown_arch() {
    let idx = index();
    let x = InstalledPackage::new("kernel", "0:4.18.0-400.el8", "x86_64");
    let a = InstalledPackage::new("kernel", "0:4.18.0-400.el8", "aarch64");
    let u = InstalledPackage::new("kernel", "0:4.18.0-400.el8", "");
    assert_eq!(ids(&idx, &idx.evaluate(&rhel8(), &x)), ["A3"]);
    assert!(idx.evaluate(&rhel8(), &a).is_empty());
    assert_eq!(ids(&idx, &idx.evaluate(&rhel8(), &u)), ["A3"]);
}

#[test]
fn source_entries_match_binaries_through_the_source_name() {
    let mut idx = index();
    let reported = InstalledPackage {
        source: Some("openssl".into()),
        ..InstalledPackage::new("libssl3", "3.0.11-1~deb12u1", "amd64")
    };
    assert_eq!(ids(&idx, &idx.evaluate(&bookworm(), &reported)), ["A4"]);
    let unreported = InstalledPackage::new("libssl3", "3.0.11-1~deb12u1", "amd64");
    assert!(idx.evaluate(&bookworm(), &unreported).is_empty());
    assert!(idx.lacks_source_map(&bookworm()));
    idx.add_source_map(&bookworm(), [("libssl3", "openssl")]);
    assert!(!idx.lacks_source_map(&bookworm()));
    assert_eq!(ids(&idx, &idx.evaluate(&bookworm(), &unreported)), ["A4"]);
    // A package named like the source matches directly.
    let src = InstalledPackage::new("openssl", "3.0.11-1~deb12u1", "amd64");
    assert_eq!(ids(&idx, &idx.evaluate(&bookworm(), &src)), ["A4"]);
}

#[test]
fn statuses_without_fix() {
    let idx = index();
    let bash = InstalledPackage::new("bash", "5.2.15-2+b2", "amd64");
    let zlib = InstalledPackage::new("zlib1g", "1:1.2.13.dfsg-1", "amd64");
    assert!(idx.evaluate(&bookworm(), &bash).is_empty());
    assert_eq!(ids(&idx, &idx.evaluate(&bookworm(), &zlib)), ["A6"]);
}

#[test]
fn modules_apply_only_when_enabled() {
    let idx = index();
    let pkgs = [InstalledPackage::new(
        "nodejs",
        "1:18.1-1.module+el8",
        "x86_64",
    )];
    let stream = rhel8();
    let none = idx.match_host(&HostInventory {
        stream: Some(&stream),
        packages: &pkgs,
        modules: &[],
    });
    assert!(none.findings.is_empty());
    assert!(none.covered);
    let enabled = ["nodejs:18".to_owned()];
    let with = idx.match_host(&HostInventory {
        stream: Some(&stream),
        packages: &pkgs,
        modules: &enabled,
    });
    assert_eq!(with.findings.len(), 1);
    assert_eq!(with.findings[0].advisory.id, "A2");
}

#[test]
fn uncovered_hosts_are_not_clean() {
    let idx = index();
    let pkgs = [InstalledPackage::new("bash", "1", "x86_64")];
    let alpine = OsStream::new(Distro::Alpine, "3.19");
    let r = idx.match_host(&HostInventory {
        stream: Some(&alpine),
        packages: &pkgs,
        modules: &[],
    });
    assert!(!r.covered);
    let r = idx.match_host(&HostInventory {
        stream: None,
        packages: &pkgs,
        modules: &[],
    });
    assert!(!r.covered);
}

#[test]
fn kernels_keep_every_installed_version() {
    let idx = index();
    let pkgs = [
        InstalledPackage::new("kernel", "0:4.18.0-400.el8", "x86_64"),
        InstalledPackage::new("kernel", "0:4.18.0-500.el8", "x86_64"),
        InstalledPackage::new("kernel", "0:4.18.0-300.el8", "x86_64"),
    ];
    let stream = rhel8();
    let r = idx.match_host(&HostInventory {
        stream: Some(&stream),
        packages: &pkgs,
        modules: &[],
    });
    let affected: Vec<usize> = r.findings.iter().map(|f| f.package).collect();
    assert_eq!(affected, [0, 2]);
}

#[test]
fn fleet_equals_host_by_host() {
    let idx = index();
    let a = [
        InstalledPackage::new("openssl-libs", "1:1.1.1k-8.el8", "x86_64"),
        InstalledPackage::new("nodejs", "1:18.1-1.module+el8", "x86_64"),
    ];
    let b = [InstalledPackage::new(
        "openssl-libs",
        "1:1.1.1k-8.el8",
        "x86_64",
    )];
    let stream = rhel8();
    let modules = ["nodejs:18".to_owned()];
    let hosts = [
        HostInventory {
            stream: Some(&stream),
            packages: &a,
            modules: &modules,
        },
        HostInventory {
            stream: Some(&stream),
            packages: &b,
            modules: &[],
        },
        HostInventory {
            stream: Some(&stream),
            packages: &a,
            modules: &[],
        },
        HostInventory {
            stream: None,
            packages: &a,
            modules: &[],
        },
    ];
    let fleet = idx.match_fleet(&hosts);
    for (host, got) in hosts.iter().zip(&fleet) {
        let want = idx.match_host(host);
        let key = |r: &HostResult<'_>| -> Vec<(usize, String)> {
            r.findings
                .iter()
                .map(|f| (f.package, f.advisory.id.clone()))
                .collect()
        };
        assert_eq!(key(got), key(&want));
        assert_eq!(got.covered, want.covered);
    }
    assert_eq!(fleet[0].findings.len(), 2);
    assert_eq!(fleet[2].findings.len(), 1);
}

#[test]
fn one_finding_per_advisory_after_the_module_check() {
    // Issue 12 item 1: the first branch names `nodejs:14`, the second `nodejs:10`.
    let entry = |m: &str| {
        let mut e = Affected::binary(rhel8(), "nodejs", Status::Unfixed);
        e.module = Some(m.into());
        e
    };
    let idx = AdvisoryIndex::new(vec![advisory(
        "CVE-2021-27290",
        vec![entry("nodejs:14"), entry("nodejs:10"), entry("nodejs:12")],
    )]);
    let pkgs = [InstalledPackage::new(
        "nodejs",
        "1:10.14.1-1.module+el8.0.0+2632+6c5111ed",
        "x86_64",
    )];
    let stream = rhel8();
    for (enabled, want) in [("nodejs:10", 1), ("nodejs:14", 1), ("nodejs:16", 0)] {
        let modules = [enabled.to_owned()];
        let host = HostInventory {
            stream: Some(&stream),
            packages: &pkgs,
            modules: &modules,
        };
        let r = idx.match_host(&host);
        assert_eq!(r.findings.len(), want, "{enabled}");
        let fleet = idx.match_fleet(&[host]);
        assert_eq!(fleet[0].findings.len(), want, "{enabled}");
    }
}

#[test]
fn equals_means_equality() {
    // Issue 12 item 7: `kernel equals X` is X only, never "X and later".
    let mut e = Affected::binary(rhel8(), "kernel", Status::Unfixed);
    e.introduced = Some("0:3.10.0-1160.el7".into());
    e.last_affected = Some("0:3.10.0-1160.el7".into());
    assert!(e.is_affected(crate::version::Scheme::Rpm, "0:3.10.0-1160.el7"));
    assert!(!e.is_affected(crate::version::Scheme::Rpm, "0:3.10.0-1160.83.1.el7"));
    assert!(!e.is_affected(crate::version::Scheme::Rpm, "0:3.10.0-1127.el7"));
}

#[test]
fn module_streams_inferred_from_exact_versions() {
    let entry = |m: &str, fixed: &str| {
        let mut e = Affected::binary(rhel8(), "nodejs", Status::Fixed(fixed.into()));
        e.module = Some(m.into());
        e
    };
    let idx = AdvisoryIndex::new(vec![
        advisory(
            "A",
            vec![entry(
                "nodejs:10",
                "1:10.16.3-2.module+el8.0.0+4214+49953fda",
            )],
        ),
        advisory(
            "B",
            vec![entry(
                "nodejs:12",
                "1:12.14.1-1.module+el8.1.0+5466+30f75629",
            )],
        ),
    ]);
    let stream = rhel8();
    let pkgs = [
        InstalledPackage::new(
            "nodejs",
            "1:10.16.3-2.module+el8.0.0+4214+49953fda",
            "x86_64",
        ),
        // Same build, not named by any advisory: attributed through its build tag.
        InstalledPackage::new(
            "npm",
            "1:6.9.0-1.10.16.3.2.module+el8.0.0+4214+49953fda",
            "x86_64",
        ),
        InstalledPackage::new("bash", "0:4.4.19-7.el8", "x86_64"),
    ];
    let got = idx.infer_modules(&stream, &pkgs);
    assert_eq!(got.streams, ["nodejs:10"]);
    assert!(got.unknown.is_empty());
    // A build whose version no advisory lists: unknown, never "no module".
    let other = [InstalledPackage::new(
        "nodejs",
        "1:10.14.1-1.module+el8.0.0+2632+6c5111ed",
        "x86_64",
    )];
    let got = idx.infer_modules(&stream, &other);
    assert!(got.streams.is_empty());
    assert_eq!(got.unknown, ["nodejs"]);
    // rpm -qa gives no epoch: the vendor's is taken.
    let qa = [InstalledPackage::new(
        "nodejs",
        "10.16.3-2.module+el8.0.0+4214+49953fda",
        "x86_64",
    )];
    assert_eq!(idx.infer_modules(&stream, &qa).streams, ["nodejs:10"]);
}

#[test]
fn rebuilds_use_upstream_data_with_normalised_releases() {
    let idx = index();
    let rocky = OsStream::new(Distro::Rocky, "8");
    let t = idx.targets(&rocky);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].stream, rhel8());
    assert!(t[0].rebuild);
    assert!(
        idx.targets(&OsStream::new(Distro::Alpine, "3.19"))
            .is_empty()
    );
    // An RHEL host's own data is used as is.
    let own = idx.targets(&rhel8());
    assert_eq!(own.len(), 1);
    assert!(!own[0].rebuild);
    // A CentOS host with a dist-tag release is not vulnerable to the RHEL fix it has.
    let centos_pkg = [InstalledPackage::new(
        "openssl-libs",
        "1:1.1.1k-9.el8.centos",
        "x86_64",
    )];
    let c8 = OsStream::new(Distro::Centos, "8");
    let r = idx.match_host(&HostInventory {
        stream: Some(&c8),
        packages: &centos_pkg,
        modules: &[],
    });
    assert!(r.covered);
    assert!(r.findings.is_empty());
    let old = [InstalledPackage::new(
        "openssl-libs",
        "1:1.1.1k-8.el8.centos",
        "x86_64",
    )];
    let r = idx.match_host(&HostInventory {
        stream: Some(&c8),
        packages: &old,
        modules: &[],
    });
    assert_eq!(r.findings.len(), 1);
}
