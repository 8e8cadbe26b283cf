//! Repository metadata parsers on the real files of `shared/data/repos/`: every APT
//! Release/InRelease (with checksum verification of each Packages index), the apt excerpts,
//! and every rpm-md file (repomd, updateinfo, modules.yaml), plus a small APKINDEX.tar.gz.

use std::io::Read;

use pakiti_feeds::debian::index;
use pakiti_feeds::repo::apk;
use pakiti_feeds::repo::apt::{self, ChecksumError};
use pakiti_feeds::repo::modulemd;
use pakiti_feeds::repo::rpmmd::{self, UpdateKind};

use crate::debian_data::{data, open};

fn bytes(rel: &str) -> Vec<u8> {
    let p = data(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn decompressed(rel: &str) -> Vec<u8> {
    let mut out = Vec::new();
    open(rel).read_to_end(&mut out).unwrap();
    out
}

/// (file prefix, signed, Suite, Codename, SHA256 entries, Packages stanzas)
const APT: &[(&str, bool, &str, &str, usize, usize)] = &[
    (
        "archive.ubuntu.com_ubuntu_dists_focal",
        true,
        "focal",
        "focal",
        899,
        6090,
    ),
    (
        "archive.ubuntu.com_ubuntu_dists_noble",
        true,
        "noble",
        "noble",
        870,
        6099,
    ),
    (
        "deb.debian.org_debian-security_dists_bookworm-security",
        true,
        "oldstable-security",
        "bookworm-security",
        292,
        3016,
    ),
    (
        "deb.debian.org_debian-security_dists_bullseye-security",
        true,
        "oldoldstable-security",
        "bullseye-security",
        230,
        3816,
    ),
    (
        "deb.debian.org_debian-security_dists_trixie-security",
        true,
        "stable-security",
        "trixie-security",
        372,
        2493,
    ),
    (
        "deb.debian.org_debian_dists_bookworm-updates",
        true,
        "oldstable-updates",
        "bookworm-updates",
        480,
        38,
    ),
    (
        "deb.debian.org_debian_dists_bookworm",
        true,
        "oldstable",
        "bookworm",
        772,
        63440,
    ),
    (
        "deb.debian.org_debian_dists_bullseye",
        true,
        "oldoldstable",
        "bullseye",
        390,
        58657,
    ),
    (
        "deb.debian.org_debian_dists_trixie",
        true,
        "stable",
        "trixie",
        720,
        68829,
    ),
    (
        "security.ubuntu.com_ubuntu_dists_focal-security",
        true,
        "focal-security",
        "focal",
        418,
        20031,
    ),
    (
        "security.ubuntu.com_ubuntu_dists_noble-security",
        true,
        "noble-security",
        "noble",
        414,
        6142,
    ),
];

fn release_path(prefix: &str) -> String {
    ["_InRelease", "_Release"]
        .iter()
        .map(|s| format!("repos/apt/{prefix}{s}"))
        .find(|p| data(p).exists())
        .unwrap_or_else(|| panic!("no release file for {prefix}"))
}

#[test]
fn every_apt_release_and_packages_index() {
    for &(prefix, signed, suite, codename, entries, stanzas) in APT {
        let rel = apt::parse_release(&bytes(&release_path(prefix))).unwrap();
        assert_eq!(rel.signed, signed, "{prefix}");
        assert_eq!(rel.suite.as_deref(), Some(suite), "{prefix}");
        assert_eq!(rel.codename.as_deref(), Some(codename), "{prefix}");
        assert_eq!(rel.sha256.len(), entries, "{prefix}");
        assert!(rel.problems.is_empty(), "{prefix}: {:?}", rel.problems);
        assert!(rel.architectures.iter().any(|a| a == "amd64"), "{prefix}");
        assert!(rel.date.is_some(), "{prefix}");
        assert_eq!(rel.is_security(), suite.ends_with("-security"), "{prefix}");
        assert_eq!(rel.apt_priority(), 500, "{prefix}");

        let rel_xz = format!("repos/apt/{prefix}_main_binary-amd64_Packages.xz");
        let xz = bytes(&rel_xz);
        // The stored .xz files were recompressed after `apt-get update` (apt keeps its lists
        // in lz4), so the compressed entry cannot match; the decompressed index matches the
        // uncompressed entry byte for byte, which `verify_index` falls back to.
        let listed = rel.checksum("main/binary-amd64/Packages.xz").unwrap();
        assert_ne!(
            listed.size,
            xz.len() as u64,
            "{prefix}: fixture is not recompressed"
        );
        assert!(matches!(
            rel.verify("main/binary-amd64/Packages.xz", &xz),
            Err(ChecksumError::Size { .. })
        ));
        rel.verify_index("main/binary-amd64/Packages", &xz)
            .unwrap_or_else(|e| panic!("{prefix}: {e}"));
        let plain = decompressed(&rel_xz);
        rel.verify("main/binary-amd64/Packages", &plain).unwrap();
        let mut corrupt = plain.clone();
        corrupt[100] ^= 1;
        assert!(matches!(
            rel.verify("main/binary-amd64/Packages", &corrupt),
            Err(ChecksumError::Sha256 { .. })
        ));

        let parsed = index::parse_packages(&plain[..]).unwrap();
        assert_eq!(parsed.records.len(), stanzas, "{prefix}");
        assert!(parsed.problems.is_empty(), "{prefix}");
    }
}

#[test]
fn bookworm_security_release_by_hand() {
    let rel = apt::parse_release(&bytes(
        "repos/apt/deb.debian.org_debian-security_dists_bookworm-security_InRelease",
    ))
    .unwrap();
    assert_eq!(rel.origin.as_deref(), Some("Debian"));
    assert_eq!(rel.label.as_deref(), Some("Debian-Security"));
    assert_eq!(rel.date.as_deref(), Some("Sat, 21 Nov 2026 00:53:02 UTC"));
    assert_eq!(
        rel.valid_until.as_deref(),
        Some("Sat, 28 Nov 2026 00:53:02 UTC")
    );
    assert_eq!(
        rel.architectures,
        ["amd64", "arm64", "armhf", "i386", "ppc64el"]
    );
    assert_eq!(
        rel.components,
        [
            "updates/main",
            "updates/contrib",
            "updates/non-free-firmware",
            "updates/non-free"
        ]
    );
    assert!(rel.acquire_by_hash);
    let e = rel.checksum("main/binary-amd64/Packages.xz").unwrap();
    assert_eq!(e.size, 378_100);
    assert_eq!(
        e.sha256,
        "8575ec1f224d635ce30646a2a1388bee267a7f37fae3f997687643c9ebb8fb43"
    );
}

#[test]
fn apt_excerpts() {
    // (file, Suite, Codename, SHA256 entries, NotAutomatic, ButAutomaticUpgrades, priority)
    for (file, suite, codename, entries, na, bau, prio) in [
        (
            "debian-security_dists_bookworm-security_Release",
            "stable-security",
            "bookworm-security",
            412,
            false,
            false,
            500,
        ),
        (
            "debian_dists_bookworm-backports_Release",
            "stable-backports",
            "bookworm-backports",
            488,
            true,
            true,
            100,
        ),
        (
            "debian_dists_bookworm_Release",
            "stable",
            "bookworm",
            772,
            false,
            false,
            500,
        ),
        (
            "debian_dists_sid_Release",
            "unstable",
            "sid",
            1005,
            false,
            false,
            500,
        ),
    ] {
        let rel = apt::parse_release(&bytes(&format!("repos/apt-excerpts/{file}"))).unwrap();
        assert!(!rel.signed, "{file}");
        assert_eq!(rel.suite.as_deref(), Some(suite), "{file}");
        assert_eq!(rel.codename.as_deref(), Some(codename), "{file}");
        assert_eq!(rel.sha256.len(), entries, "{file}");
        assert_eq!(
            (rel.not_automatic, rel.but_automatic_upgrades),
            (na, bau),
            "{file}"
        );
        assert_eq!(rel.apt_priority(), prio, "{file}");
        assert!(rel.problems.is_empty(), "{file}");
    }
    let bullseye = index::parse_sources(open("repos/apt-excerpts/Bullseye-Sources.gz")).unwrap();
    let garden = index::parse_sources(open(
        "repos/apt-excerpts/packages.gardenlinux.io_gardenlinux_dists_experimental_main_source_Sources.xz",
    ))
    .unwrap();
    // `grep -c '^Package:'` on the decompressed files.
    let count = |rel: &str| {
        String::from_utf8_lossy(&decompressed(rel))
            .lines()
            .filter(|l| l.starts_with("Package:"))
            .count()
    };
    assert_eq!(
        bullseye.records.len(),
        count("repos/apt-excerpts/Bullseye-Sources.gz")
    );
    assert_eq!(
        garden.records.len(),
        count(
            "repos/apt-excerpts/packages.gardenlinux.io_gardenlinux_dists_experimental_main_source_Sources.xz"
        )
    );
    assert!(bullseye.problems.is_empty() && garden.problems.is_empty());
}

#[test]
fn every_repomd() {
    // (file, data entries, revision present, primary location)
    for (file, n, primary) in [
        ("almalinux9-BaseOS-x86_64/repodata/repomd.xml", 2, true),
        ("amazon-linux/repomd_valid.xml", 6, false),
        ("amazon-linux/test_repomd.xml", 6, false),
        ("epel8-Everything-x86_64/repodata/repomd.xml", 10, true),
        (
            "fedora35-updates-Everything-x86_64/repodata/repomd.xml",
            16,
            true,
        ),
        (
            "fedora35-updates-Modular-x86_64/repodata/repomd.xml",
            9,
            true,
        ),
        ("rocky-AppStream-x86_64/repodata/repomd.xml", 10, true),
    ] {
        let (p, _rev) = rpmmd::parse_repomd_full(open(&format!("repos/rpm-md/{file}"))).unwrap();
        assert_eq!(p.records.len(), n, "{file}");
        assert!(p.problems.is_empty(), "{file}");
        let repomd = rpmmd::Repomd {
            revision: None,
            data: p.records,
        };
        assert_eq!(repomd.get("primary").is_some(), primary, "{file}");
        assert!(repomd.get("updateinfo").is_some(), "{file}");
    }
    let (p, rev) = rpmmd::parse_repomd_full(open(
        "repos/rpm-md/fedora35-updates-Modular-x86_64/repodata/repomd.xml",
    ))
    .unwrap();
    assert_eq!(rev.as_deref(), Some("1642733004"));
    let primary = &p.records[0];
    assert_eq!(primary.kind, "primary");
    assert_eq!(
        primary.location,
        "repodata/f37bc6f3a31f62514fd1abfa9317bfce8533e2f03b26a7e00e3550c3c84e9b84-primary.xml.gz"
    );
    assert_eq!(
        primary.checksum,
        Some((
            "sha256".into(),
            "f37bc6f3a31f62514fd1abfa9317bfce8533e2f03b26a7e00e3550c3c84e9b84".into()
        ))
    );
    assert_eq!(
        primary.open_checksum,
        Some((
            "sha256".into(),
            "a1ec0184871e22fa3f0ba180f02e58a9d492e581eb7dc92a63ac80c3fe8ebf46".into()
        ))
    );
    assert_eq!(
        (primary.size, primary.open_size, primary.timestamp),
        (Some(305_912), Some(3_407_814), Some(1_642_733_004))
    );
    let modules = p.records.iter().find(|d| d.kind == "modules").unwrap();
    assert_eq!(modules.location, "repodata/modules.yaml.gz");
    assert!(rpmmd::parse_repomd(&b"<metadata/>"[..]).is_err());
}

#[test]
fn every_updateinfo() {
    // (file, updates, security, packages incl. src, modules, distinct CVE refs) — counted
    // independently with a script over the decompressed XML.
    for (file, updates, security, packages, modules, cves) in [
        (
            "almalinux9-BaseOS-x86_64/repodata/106ba7d2cc8d0ba45aebfe29e32dbbc6ac0bb0378413184d62e6198d13fedb76-updateinfo.xml.gz",
            2,
            1,
            2,
            0,
            1,
        ),
        ("amazon-linux/amazon_linux_1_updateinfo.xml", 2, 2, 19, 0, 2),
        ("amazon-linux/amazon_linux_2_updateinfo.xml", 2, 2, 18, 0, 3),
        ("amazon-linux/updateinfo_2_items.xml.gz", 2, 2, 22, 0, 16),
        ("amazon-linux/updateinfo_AL2023.xml.gz", 1, 1, 61, 0, 2),
        (
            "epel8-Everything-x86_64/repodata/updateinfo.xml.bz2",
            1,
            1,
            22,
            0,
            0,
        ),
        (
            "fedora35-updates-Everything-x86_64/repodata/updateinfo.xml.xz",
            3,
            3,
            39,
            0,
            0,
        ),
        (
            "fedora35-updates-Modular-x86_64/repodata/updateinfo.xml.xz",
            2,
            2,
            0,
            0,
            0,
        ),
        (
            "rocky-8.4-AppStream-x86_64/repodata/3-updateinfo.xml.gz",
            2,
            2,
            41,
            0,
            3,
        ),
        (
            "rocky-8.4-BaseOS-x86_64/repodata/2-updateinfo.xml.gz",
            3,
            3,
            46,
            0,
            7,
        ),
        (
            "rocky-AppStream-x86_64/repodata/updateinfo.xml.gz",
            1,
            1,
            2,
            0,
            1,
        ),
        ("rocky-misc/updateinfo.xml", 4, 3, 7, 1, 5),
    ] {
        let p = rpmmd::parse_updateinfo(open(&format!("repos/rpm-md/{file}"))).unwrap();
        assert!(p.problems.is_empty(), "{file}: {:?}", p.problems);
        let u = &p.records;
        assert_eq!(u.len(), updates, "{file}");
        assert_eq!(
            u.iter().filter(|u| u.kind == UpdateKind::Security).count(),
            security,
            "{file}"
        );
        assert_eq!(
            u.iter().map(|u| u.packages.len()).sum::<usize>(),
            packages,
            "{file}"
        );
        assert_eq!(
            u.iter().map(|u| u.modules.len()).sum::<usize>(),
            modules,
            "{file}"
        );
        assert_eq!(
            u.iter().map(|u| u.cves.len()).sum::<usize>(),
            cves,
            "{file}"
        );
    }
}

#[test]
fn updateinfo_by_hand() {
    let p = rpmmd::parse_updateinfo(open(
        "repos/rpm-md/rocky-AppStream-x86_64/repodata/updateinfo.xml.gz",
    ))
    .unwrap();
    let u = &p.records[0];
    assert_eq!(u.id, "RLSA-2021:1979");
    assert_eq!(u.kind, UpdateKind::Security);
    assert_eq!(u.severity.as_deref(), Some("Important"));
    assert_eq!(u.title, "Important: squid:4 security update");
    assert_eq!(u.issued.as_deref(), Some("2021-07-22 03:16:49"));
    assert_eq!(u.updated.as_deref(), Some("2021-05-18 00:00:00"));
    assert_eq!(u.cves, ["CVE-2020-25097"]);
    assert_eq!(u.packages[0].name, "libecap");
    assert_eq!(u.packages[0].evr(), "1.0.1-2.module+el8.4.0+404+316a0dc5");
    assert_eq!(u.packages[0].arch, "x86_64");
    assert_eq!(u.packages[0].module, None);

    let misc = rpmmd::parse_updateinfo(open("repos/rpm-md/rocky-misc/updateinfo.xml")).unwrap();
    let bugfix = &misc.records[0];
    assert_eq!(
        (bugfix.id.as_str(), &bugfix.kind, bugfix.severity.as_deref()),
        ("RLBA-2021:2580", &UpdateKind::Bugfix, Some("None"))
    );
    let ruby = misc.records.iter().find(|u| !u.modules.is_empty()).unwrap();
    let m = &ruby.modules[0];
    assert_eq!(
        (
            m.name.as_str(),
            m.stream.as_str(),
            m.version.as_str(),
            m.context.as_str(),
            m.arch.as_str()
        ),
        ("ruby", "2.6", "8060020220628150300", "d63f516d", "x86_64")
    );
    assert!(
        ruby.packages
            .iter()
            .all(|p| p.module.as_deref() == Some("ruby:2.6"))
    );
    assert_eq!(ruby.packages[0].name, "rubygem-abrt");

    let al2 = rpmmd::parse_updateinfo(open(
        "repos/rpm-md/amazon-linux/amazon_linux_2_updateinfo.xml",
    ))
    .unwrap();
    assert_eq!(al2.records[0].id, "ALAS2-2018-939");
    assert_eq!(al2.records[0].severity.as_deref(), Some("critical"));
    assert_eq!(al2.records[0].issued.as_deref(), Some("2018-01-11 21:05"));

    let f35 = rpmmd::parse_updateinfo(open(
        "repos/rpm-md/fedora35-updates-Everything-x86_64/repodata/updateinfo.xml.xz",
    ))
    .unwrap();
    assert_eq!(f35.records[0].id, "FEDORA-2021-c6f471ce0f");
    assert_eq!(f35.records[0].severity.as_deref(), Some("Low"));
}

/// (file, modulemd documents as (name:stream, artifacts), defaults as (module, stream))
type ModulesCase<'a> = (
    &'a str,
    &'a [(&'a str, usize)],
    &'a [(&'a str, Option<&'a str>)],
);

#[test]
fn every_modules_yaml() {
    let cases: [ModulesCase<'_>; 3] = [
        (
            "fedora35-updates-Modular-x86_64/repodata/modules.yaml.gz",
            &[("nodejs:12", 29)],
            &[("nodejs", None)],
        ),
        (
            "rocky-8.4-AppStream-x86_64/repodata/3-modules.yaml.xz",
            &[
                ("nodejs:12", 12),
                ("nodejs:12", 12),
                ("nodejs:14", 12),
                ("nodejs:14", 12),
            ],
            &[],
        ),
        (
            "rocky-AppStream-x86_64/repodata/modules.yaml.xz",
            &[("squid:4", 9)],
            &[("squid", Some("4"))],
        ),
    ];
    for (file, streams, defaults) in cases {
        let p = modulemd::parse_modules(&decompressed(&format!("repos/rpm-md/{file}"))).unwrap();
        assert!(p.problems.is_empty(), "{file}: {:?}", p.problems);
        let m = &p.records[0];
        let got: Vec<(String, usize)> = m
            .streams
            .iter()
            .map(|s| (s.key(), s.artifacts.len()))
            .collect();
        let want: Vec<(String, usize)> =
            streams.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect();
        assert_eq!(got, want, "{file}");
        let got: Vec<(&str, Option<&str>)> = m
            .defaults
            .iter()
            .map(|d| (d.module.as_str(), d.stream.as_deref()))
            .collect();
        assert_eq!(got, defaults, "{file}");
    }
    let p = modulemd::parse_modules(&decompressed(
        "repos/rpm-md/rocky-AppStream-x86_64/repodata/modules.yaml.xz",
    ))
    .unwrap();
    let squid = &p.records[0].streams[0];
    assert_eq!(
        (
            squid.version.as_str(),
            squid.context.as_str(),
            squid.arch.as_str()
        ),
        ("8050020211109223548", "b4937e53", "x86_64")
    );
    assert_eq!(
        squid.artifacts[6],
        "squid-7:4.15-1.module+el8.5.0+705+218dec94.x86_64"
    );
}

/// A minimal ustar header for `name` with `size` bytes.
fn ustar_header(name: &str, size: usize) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

fn tar_member(name: &str, body: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&ustar_header(name, body.len()));
    out.extend_from_slice(body);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn apkindex_tar_gz() {
    // No real APKINDEX is in shared/data: this one is built like apk-tools builds it (a
    // signature tar segment without end blocks, then DESCRIPTION + APKINDEX with end blocks,
    // each its own gzip stream), with package names and versions from the real Alpine 3.11
    // secdb (`secdb/alpine-secdb-yaml/v3.11/main.yaml`: musl 1.1.23-r2, openssl 1.1.1d-r3, busybox 1.30.1-r2; the other fields are made up).
    let mut sig = Vec::new();
    tar_member(
        ".SIGN.RSA.alpine-devel@lists.alpinelinux.org-5d6f.rsa.pub",
        b"not a real signature",
        &mut sig,
    );
    let index_text = "C:Q1SvdUNWx0uamgMbQRmk1q3+EOB5I=\nP:musl\nV:1.1.23-r2\nA:x86_64\nS:383152\nI:614400\nT:the musl c library (libc) implementation\nU:https://musl.libc.org/\nL:MIT\no:musl\nm:Timo Teräs <timo.teras@iki.fi>\nt:1584556453\nc:6ca7d8a4a4ec3a5c0d8a2a0d3dea1bb4f6c3c8a1\n\n\
                      P:libssl1.1\nV:1.1.1d-r3\nA:x86_64\no:openssl\nD:so:libc.musl-x86_64.so.1\n\n\
                      P:busybox\nV:1.30.1-r2\nA:x86_64\no:busybox\n\n";
    let mut body = Vec::new();
    tar_member("DESCRIPTION", b"v3.11.6-1-g3d2d2cf5b0", &mut body);
    tar_member("APKINDEX", index_text.as_bytes(), &mut body);
    body.extend_from_slice(&[0u8; 1024]);
    let mut file = gzip(&sig);
    file.extend(gzip(&body));
    let p = apk::parse_apkindex_tar(&file).unwrap();
    assert!(p.problems.is_empty());
    let got: Vec<(&str, &str, &str, Option<&str>)> = p
        .records
        .iter()
        .map(|r| {
            (
                r.name.as_str(),
                r.version.as_str(),
                r.arch.as_str(),
                r.origin.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("musl", "1.1.23-r2", "x86_64", Some("musl")),
            ("libssl1.1", "1.1.1d-r3", "x86_64", Some("openssl")),
            ("busybox", "1.30.1-r2", "x86_64", Some("busybox")),
        ]
    );
    // A tarball without an APKINDEX member, and a truncated one, are loud errors.
    assert!(apk::parse_apkindex_tar(&gzip(&sig)).is_err());
    let truncated = gzip(&body[..700]);
    assert!(apk::parse_apkindex_tar(&truncated).is_err());
}
