//! Unit tests of the update index and candidate selection.

use super::*;
use crate::stream::Distro;

/// (repo name, priority, security, [(name, version, arch)]).
type TestRepo<'a> = (&'a str, i32, bool, &'a [(&'a str, &'a str, &'a str)]);

fn deb_index(repos: &[TestRepo<'_>]) -> (AvailableIndex, OsStream) {
    let stream = OsStream::new(Distro::Debian, "bookworm");
    let mut idx = AvailableIndex::new();
    for (name, priority, security, entries) in repos {
        let id = idx.add_repo(Repo {
            name: (*name).into(),
            stream: stream.clone(),
            arch: Some("amd64".into()),
            priority: *priority,
            security: *security,
        });
        for (n, v, a) in *entries {
            idx.add(id, n, v, a, false, None);
        }
    }
    (idx, stream)
}

#[track_caller]
fn check(
    idx: &AvailableIndex,
    stream: &OsStream,
    pkg: (&str, &str, &str),
    want: Option<(&str, bool)>,
) {
    let p = InstalledPackage::new(pkg.0, pkg.1, pkg.2);
    let got = idx
        .newest(&Scope::stream(stream), &p)
        .map(|u| (u.version, u.security));
    assert_eq!(got, want, "{pkg:?}");
}

#[test]
fn apt_pinning() {
    let (idx, s) = deb_index(&[
        (
            "main",
            500,
            false,
            &[
                ("a", "1.0-1", "amd64"),
                ("b", "2.0-1", "all"),
                ("c", "1:0.5-1", "amd64"),
                ("d", "1.0-1", "amd64"),
            ],
        ),
        (
            "security",
            500,
            true,
            &[
                ("a", "1.0-1+deb12u1", "amd64"),
                ("d", "1.0-1+deb12u1", "amd64"),
            ],
        ),
        ("updates", 500, false, &[("d", "1.0-1+deb12u2", "amd64")]),
        (
            "backports",
            100,
            false,
            &[
                ("a", "2.0-1~bpo12+1", "amd64"),
                ("e", "3.0-1~bpo12+1", "amd64"),
            ],
        ),
        (
            "experimental",
            1,
            false,
            &[("a", "9.0-1", "amd64"), ("f", "9.0-1", "amd64")],
        ),
    ]);
    // Security beats main; backports (100) and experimental (1) lose against 500.
    check(
        &idx,
        &s,
        ("a", "1.0-1", "amd64"),
        Some(("1.0-1+deb12u1", true)),
    );
    check(&idx, &s, ("a", "1.0-1+deb12u1", "amd64"), None);
    // Installed from backports (priority 100 = the backports version): backports upgrades it.
    check(
        &idx,
        &s,
        ("a", "1.5-1~bpo12+1", "amd64"),
        Some(("2.0-1~bpo12+1", false)),
    );
    // Installed version only in backports' 100 and main's older: no downgrade.
    check(&idx, &s, ("b", "3.0", "all"), None);
    // Epochs count: 1:0.5 is newer than 2.0.
    check(&idx, &s, ("c", "2.0-1", "amd64"), Some(("1:0.5-1", false)));
    // A security fix folded into a newer point update is still a security upgrade, but
    // not by Pakiti 2's literal rule.
    check(
        &idx,
        &s,
        ("d", "1.0-1", "amd64"),
        Some(("1.0-1+deb12u2", true)),
    );
    let u = idx
        .newest(
            &Scope::stream(&s),
            &InstalledPackage::new("d", "1.0-1", "amd64"),
        )
        .unwrap();
    assert!(!u.candidate_security);
    assert_eq!(
        u.report_line(&InstalledPackage::new("d", "1.0-1", "amd64")),
        "d 1.0-1+deb12u2 SEC 1.0-1"
    );
    check(
        &idx,
        &s,
        ("d", "1.0-1+deb12u1", "amd64"),
        Some(("1.0-1+deb12u2", false)),
    );
    // Locally installed (not in any suite, priority 100) vs backports 100: backports wins.
    check(
        &idx,
        &s,
        ("e", "2.0-1", "amd64"),
        Some(("3.0-1~bpo12+1", false)),
    );
    // Experimental only: priority 1 never beats the installed 100.
    check(&idx, &s, ("f", "1.0", "amd64"), None);
    check(&idx, &s, ("zzz", "1.0", "amd64"), None);
}

#[test]
fn rpm_arches_modules_and_installonly() {
    let stream = OsStream::new(Distro::Rocky, "8");
    let mut idx = AvailableIndex::new();
    let base = idx.add_repo(Repo {
        name: "baseos".into(),
        stream: stream.clone(),
        arch: Some("x86_64".into()),
        priority: -99,
        security: false,
    });
    idx.add(base, "glibc", "2.28-151.el8", "x86_64", false, None);
    idx.add(base, "glibc", "2.28-164.el8", "i686", false, None);
    idx.add(base, "glibc", "2.28-160.el8", "x86_64", false, None);
    idx.add_security_marker(base, "glibc", "2.28-155.el8", "x86_64", None);
    idx.add(base, "tzdata", "2023c-1.el8", "noarch", false, None);
    idx.add(base, "kernel", "4.18.0-305.el8", "x86_64", true, None);
    idx.add(
        base,
        "nodejs",
        "1:10.24.0-1.module+el8",
        "x86_64",
        false,
        Some("nodejs:10"),
    );
    idx.add(
        base,
        "nodejs",
        "1:12.22.5-1.module+el8",
        "x86_64",
        true,
        Some("nodejs:12"),
    );
    idx.add(base, "squid", "7:4.15-1.el8", "x86_64", false, None);
    let scope = Scope::stream(&stream);
    let newest = |n: &str, v: &str, a: &str, modules: &[String]| {
        let s = Scope { modules, ..scope };
        idx.newest(&s, &InstalledPackage::new(n, v, a))
            .map(|u| (u.version.to_owned(), u.security))
    };
    assert_eq!(
        newest("glibc", "2.28-150.el8", "x86_64", &[]),
        Some(("2.28-160.el8".into(), true))
    );
    assert_eq!(
        newest("glibc", "2.28-155.el8", "x86_64", &[]),
        Some(("2.28-160.el8".into(), false))
    );
    assert_eq!(
        newest("glibc", "2.28-150.el8", "i686", &[]),
        Some(("2.28-164.el8".into(), false))
    );
    assert_eq!(
        newest("tzdata", "2021a-1.el8", "noarch", &[]),
        Some(("2023c-1.el8".into(), false))
    );
    // Epoch 1 beats an epoch-less higher version.
    assert_eq!(
        newest("nodejs", "0:14.0-1", "x86_64", &["nodejs:12".into()]),
        Some(("1:12.22.5-1.module+el8".into(), true))
    );
    assert_eq!(
        newest("nodejs", "1:10.1-1", "x86_64", &["nodejs:10".into()]),
        Some(("1:10.24.0-1.module+el8".into(), false))
    );
    // No stream enabled: modular packages are invisible.
    assert_eq!(newest("nodejs", "1:10.1-1", "x86_64", &[]), None);
    // Host of another arch: the x86_64 repository does not serve it.
    let s = Scope {
        arch: Some("aarch64"),
        ..scope
    };
    assert_eq!(
        idx.newest(
            &s,
            &InstalledPackage::new("tzdata", "2021a-1.el8", "noarch")
        ),
        None
    );
    // Install-only kernels: only the newest installed is compared.
    let pkgs = [
        InstalledPackage::new("kernel", "4.18.0-240.el8", "x86_64"),
        InstalledPackage::new("kernel", "4.18.0-305.el8", "x86_64"),
        InstalledPackage::new("squid", "7:4.14-1.el8", "x86_64"),
    ];
    let host = HostPackages {
        stream: Some(&stream),
        arch: Some("x86_64"),
        packages: &pkgs,
        modules: &[],
    };
    let one = idx.host_updates(&host);
    assert!(one.covered);
    assert_eq!(
        one.updates
            .iter()
            .map(|(i, u)| (*i, u.version))
            .collect::<Vec<_>>(),
        [(2, "7:4.15-1.el8")]
    );
    let pkgs2 = [InstalledPackage::new("kernel", "4.18.0-240.el8", "x86_64")];
    let host2 = HostPackages {
        packages: &pkgs2,
        ..host
    };
    let fleet = idx.fleet_updates(&[
        host,
        host2,
        HostPackages {
            stream: None,
            ..host
        },
    ]);
    assert_eq!(fleet[0].updates, one.updates);
    assert_eq!(fleet[1].updates.len(), 1);
    assert_eq!(fleet[1].security_count(), 1);
    assert!(!fleet[2].covered);
}

/// rpm-md `updateinfo` severities: the most severe advisory between the installed version
/// (exclusive) and the candidate (inclusive) is the upgrade's, an older marker still counts
/// when a newer one lies past the candidate, and versions outside the range never do.
#[test]
fn advisory_severity_of_an_upgrade() {
    let stream = OsStream::new(Distro::Rocky, "8");
    let mut idx = AvailableIndex::new();
    let base = idx.add_repo(Repo {
        name: "baseos".into(),
        stream: stream.clone(),
        arch: None,
        priority: -99,
        security: false,
    });
    let adv = |id, severity| Some(AdvisoryRef { id, severity });
    let mut add = |version, installable, security, advisory| {
        idx.add_entry(
            base,
            &NewEntry {
                name: "openssl",
                version,
                arch: "x86_64",
                security,
                module: None,
                installable,
                advisory,
            },
        );
    };
    add(
        "1:1.1.1k-5.el8",
        true,
        false,
        adv("RLBA-2022:0001", Some("None")),
    );
    add(
        "1:1.1.1k-6.el8",
        true,
        false,
        adv("RLSA-2022:0002", Some("Moderate")),
    );
    add(
        "1:1.1.1k-6.el8",
        false,
        true,
        adv("RLSA-2022:0002", Some("Moderate")),
    );
    add(
        "1:1.1.1k-3.el8",
        false,
        true,
        adv("RLSA-2021:0003", Some("Critical")),
    );
    add(
        "1:1.1.1k-4.el8",
        false,
        true,
        adv("RLSA-2021:0004", Some("Important")),
    );
    // Listed by an advisory but beyond the candidate (not in the repository).
    add(
        "1:1.1.1k-9.el8",
        false,
        true,
        adv("RLSA-2023:0009", Some("Critical")),
    );
    let newest = |v: &str| {
        idx.newest(
            &Scope::stream(&stream),
            &InstalledPackage::new("openssl", v, "x86_64"),
        )
        .map(|u| {
            (
                u.version,
                u.security,
                u.advisory.map(|a| (a.id, a.severity)),
            )
        })
    };
    assert_eq!(
        newest("1:1.1.1k-2.el8"),
        Some((
            "1:1.1.1k-6.el8",
            true,
            Some(("RLSA-2021:0003", Some("Critical")))
        ))
    );
    assert_eq!(
        newest("1:1.1.1k-3.el8"),
        Some((
            "1:1.1.1k-6.el8",
            true,
            Some(("RLSA-2021:0004", Some("Important")))
        ))
    );
    assert_eq!(
        newest("1:1.1.1k-4.el8"),
        Some((
            "1:1.1.1k-6.el8",
            true,
            Some(("RLSA-2022:0002", Some("Moderate")))
        ))
    );
    assert_eq!(newest("1:1.1.1k-6.el8"), None);
    assert_eq!(severity_rank(Some("CRITICAL")), 4);
    assert_eq!(severity_rank(Some("None")), 0);
    assert_eq!(severity_rank(None), 0);
}
