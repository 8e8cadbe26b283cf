//! The agent-style listings parse completely and agree with the TSV rows.

use pakiti_api::Packager;
use pakiti_api::listing::{self, ListingFormat};

use crate::support::{host_lists, lists_dir};

#[test]
fn every_listing_parses_and_matches_its_tsv() {
    let mut checked = (0, 0, 0);
    for list in host_lists() {
        let (file, format) = match list.packager() {
            Packager::Rpm => (format!("{}.rpm-qa.txt", list.host), ListingFormat::RpmQa),
            Packager::Dpkg => (
                format!("{}.dpkg-query.txt", list.host),
                ListingFormat::DpkgQuery,
            ),
            _ => (
                format!("{}.apk-list.txt", list.host),
                ListingFormat::ApkInfo,
            ),
        };
        let text = std::fs::read_to_string(lists_dir().join(&file)).expect("listing file");
        assert_eq!(listing::detect(&text), Some(format), "{file}");
        let parsed = listing::parse(&text);
        assert_eq!(parsed.format, format, "{file}");
        assert!(
            parsed.errors.is_empty(),
            "{file}: {:?}",
            &parsed.errors[..parsed.errors.len().min(3)]
        );
        assert_eq!(parsed.packages.len(), list.rows.len(), "{file}");
        // No rpm -qa line in the real data is ambiguous.
        assert_eq!(parsed.ambiguous.len(), 0, "{file}");

        for (p, row) in parsed.packages.iter().zip(&list.rows) {
            assert_eq!(p.name, row.name, "{file} line {}", p.line);
            match format {
                ListingFormat::RpmQa => {
                    assert_eq!(p.epoch, None, "{file} line {}", p.line);
                    assert_eq!(p.version, row.version, "{file} line {}", p.line);
                    assert_eq!(
                        p.release.as_deref(),
                        Some(row.release.as_str()),
                        "{file} line {}",
                        p.line
                    );
                    assert_eq!(
                        p.arch.as_deref(),
                        Some(row.arch.as_str()),
                        "{file} line {}",
                        p.line
                    );
                    checked.0 += 1;
                }
                ListingFormat::DpkgQuery => {
                    assert_eq!(p.version, list.full_version(row), "{file} line {}", p.line);
                    // vuls did not record dpkg architectures; the listing says `unknown`.
                    assert_eq!(p.arch.as_deref(), Some("unknown"), "{file} line {}", p.line);
                    checked.1 += 1;
                }
                _ => {
                    assert_eq!(p.version, row.version, "{file} line {}", p.line);
                    checked.2 += 1;
                }
            }
        }
        // Without epochs, rpm -qa gives the report version with epoch 0.
        let pkgs = parsed.to_packages();
        if format == ListingFormat::RpmQa {
            let no_epoch = list.rows.iter().filter(|r| r.epoch.is_empty()).count();
            let same = pkgs
                .iter()
                .zip(&list.rows)
                .filter(|(p, r)| p.version == list.full_version(r))
                .count();
            assert_eq!(same, no_epoch, "{file}");
        }
    }
    assert_eq!(checked, (13_534, 5_900, 18));
}

#[test]
fn rpm_quoted_listing() {
    let text = "'bash' '(none):4.2.46' '34.el7' 'x86_64'\n'openssl-libs' '1:1.0.2k' '19.el7' 'x86_64'\n\
                'gpg-pubkey' '0:f4a80eb5' '53a7ff4b' '0'\n'zsh' '0:5.0' '1'\n";
    let l = listing::parse(text);
    assert_eq!(l.format, ListingFormat::RpmQuoted);
    assert!(l.errors.is_empty(), "{:?}", l.errors);
    type Row<'a> = (
        &'a str,
        Option<&'a str>,
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
    );
    let got: Vec<Row<'_>> = l
        .packages
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.epoch.as_deref(),
                p.version.as_str(),
                p.release.as_deref(),
                p.arch.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("bash", None, "4.2.46", Some("34.el7"), Some("x86_64")),
            (
                "openssl-libs",
                Some("1"),
                "1.0.2k",
                Some("19.el7"),
                Some("x86_64")
            ),
            (
                "gpg-pubkey",
                Some("0"),
                "f4a80eb5",
                Some("53a7ff4b"),
                Some("0")
            ),
            ("zsh", Some("0"), "5.0", Some("1"), None),
        ]
    );
    assert_eq!(l.to_packages()[1].version, "1:1.0.2k-19.el7");
}

#[test]
fn dpkg_tab_and_multiarch_forms() {
    let l = listing::parse("adduser\t3.134\nlibc6:amd64\t2.36-9+deb12u4\nbash 5.2.15-2+b2 amd64\n");
    assert_eq!(l.format, ListingFormat::DpkgQuery);
    assert!(l.errors.is_empty());
    let got: Vec<(&str, &str, Option<&str>)> = l
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str(), p.arch.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("adduser", "3.134", None),
            ("libc6", "2.36-9+deb12u4", Some("amd64")),
            ("bash", "5.2.15-2+b2", Some("amd64"))
        ]
    );
}

#[test]
fn apk_list_installed() {
    let text = "musl-1.2.4_git20230717-r4 x86_64 {musl} (MIT) [installed]\n\
                openssh-server-9.6_p1-r1 x86_64 {openssh} (BSD) [installed]\n\
                busybox-1.36.1-r19 x86_64 {busybox} (GPL-2.0-only) [upgradable from: busybox-1.36.1-r15]\n\
                zlib-1.3-r2 x86_64 {zlib} (Zlib)\n";
    let l = listing::parse(text);
    assert_eq!(l.format, ListingFormat::ApkList);
    let got: Vec<(&str, &str, Option<&str>, Option<&str>)> = l
        .packages
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.version.as_str(),
                p.arch.as_deref(),
                p.source.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("musl", "1.2.4_git20230717-r4", Some("x86_64"), Some("musl")),
            (
                "openssh-server",
                "9.6_p1-r1",
                Some("x86_64"),
                Some("openssh")
            ),
        ]
    );
    let errs: Vec<(usize, &str)> = l
        .errors
        .iter()
        .map(|e| (e.line, e.reason.as_str()))
        .collect();
    assert_eq!(
        errs,
        vec![
            (
                3,
                "package not marked [installed] (status [upgradable from: busybox-1.36.1-r15])"
            ),
            (4, "missing [installed] status: run apk list --installed"),
        ]
    );
}

#[test]
fn rpm_qa_ambiguous_and_bad_lines_are_reported() {
    let text = "bash-4.2.46-34.el7.x86_64\ngpg-pubkey-c2a1e572-668fe8ef\nfoo-1.0-1.el7\nnodash.x86_64\n\
                # comment\n\nkernel-3.10.0-1160.el7.x86_64\n";
    let l = listing::parse_as(text, ListingFormat::RpmQa);
    assert_eq!(l.packages.len(), 4);
    assert_eq!(l.ambiguous, vec![2, 3]);
    let gpg = &l.packages[1];
    assert_eq!(
        (
            gpg.name.as_str(),
            gpg.version.as_str(),
            gpg.release.as_deref(),
            gpg.arch.as_deref()
        ),
        ("gpg-pubkey", "c2a1e572", Some("668fe8ef"), None)
    );
    let foo = &l.packages[2];
    assert_eq!(
        (
            foo.name.as_str(),
            foo.version.as_str(),
            foo.release.as_deref()
        ),
        ("foo", "1.0", Some("1.el7"))
    );
    assert_eq!(l.errors.len(), 1);
    assert_eq!(l.errors[0].line, 4);
    assert_eq!(
        l.errors[0].reason,
        "expected name-version-release.arch, found \"nodash.x86_64\""
    );
    assert_eq!(l.packages[3].line, 7);
}
