//! dpkg vectors: `dpkg --compare-versions` results and dpkg's `parseversion()` expectations.

use crate::{check_pairs, ordering, rows};
use pakiti_core::version::Scheme;
use pakiti_core::version::deb::{self, DebVersion, DebVersionError};

fn never(_: &str, _: &str) -> bool {
    false
}

/// Checks a compare file three ways: `deb::compare`, `Scheme::Deb`, and parse-then-`Ord` (for
/// rows where both sides parse); returns how many rows had a version `DebVersion::parse` rejects.
#[track_caller]
fn check_file(name: &str, expected_rows: usize) -> usize {
    check_pairs(name, expected_rows, deb::compare, never);
    check_pairs(name, expected_rows, |a, b| Scheme::Deb.compare(a, b), never);
    let mut unparsable = 0;
    for row in rows(name) {
        match (DebVersion::parse(&row[0]), DebVersion::parse(&row[1])) {
            (Ok(a), Ok(b)) => assert_eq!(a.cmp(&b), ordering(&row[2]), "{row:?}"),
            (a, b) => {
                // Only dpkg's warning-level errors may appear in compare vectors: dpkg itself
                // compared these rows after warning.
                for e in [a.err(), b.err()].into_iter().flatten() {
                    assert!(e.is_warning(), "{row:?}: {e}");
                }
                unparsable += 1;
            }
        }
    }
    unparsable
}

#[test]
fn dpkg_own_test_cases() {
    assert_eq!(check_file("dpkg.tsv", 52), 0);
}

#[test]
fn osv_scalibr_hand_written() {
    assert_eq!(check_file("dpkg-osv-scalibr.tsv", 30), 0);
}

#[test]
fn osv_scalibr_generated_real_debian_chains() {
    assert_eq!(check_file("dpkg-osv-scalibr-generated.tsv", 14_442), 0);
}

#[test]
fn oracle_20k() {
    assert_eq!(check_file("dpkg-oracle-20k.tsv", 20_000), 0);
}

/// Undoes the escaping of `dpkg-parse.tsv`'s input column: `\t` is TAB and `\\` a backslash.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('t') => out.push('\t'),
                Some('\\') => out.push('\\'),
                other => panic!("bad escape {other:?} in {s:?}"),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn parse_expectations_from_dpkg_t_version_c() {
    let rows = rows("dpkg-parse.tsv");
    assert_eq!(rows.len(), 80);
    let (mut ok, mut error, mut warn) = (0, 0, 0);
    for row in &rows {
        let input = unescape(&row[0]);
        let parsed = DebVersion::parse(&input);
        match row[1].as_str() {
            "ok" => {
                let v = parsed.unwrap_or_else(|e| panic!("{input:?}: {e}"));
                let epoch: u32 = row[2].parse().unwrap();
                assert_eq!(
                    (v.epoch(), v.upstream(), v.revision()),
                    (epoch, &*row[3], &*row[4])
                );
                assert_eq!(Scheme::Deb.validate(&input), Ok(()));
                ok += 1;
            }
            "error" => {
                let e = parsed.expect_err(&input);
                assert!(!e.is_warning(), "{input:?} gave warning-level {e}");
                assert!(Scheme::Deb.validate(&input).is_err());
                error += 1;
            }
            "warn" => {
                let e = parsed.expect_err(&input);
                assert!(e.is_warning(), "{input:?} gave hard error {e}");
                assert!(Scheme::Deb.validate(&input).is_err());
                warn += 1;
            }
            other => panic!("bad result column {other:?}"),
        }
    }
    assert_eq!((ok, error, warn), (17, 12, 51));
}

#[test]
fn parse_error_reasons_are_dpkgs() {
    use DebVersionError as E;
    let cases: &[(&str, DebVersionError)] = &[
        ("", E::Empty),
        (" \t", E::Empty),
        ("0:0 0-1", E::EmbeddedSpaces),
        (":1.0", E::EpochEmpty),
        ("a:0-0", E::EpochEmpty),
        ("1a:0", E::EpochNotNumber),
        ("-1:0-1", E::EpochNegative),
        ("999999999999999999999999:0-1", E::EpochTooBig),
        ("2147483648:1", E::EpochTooBig),
        ("0:", E::NothingAfterColon),
        ("1.0-", E::RevisionEmpty),
        ("-0", E::UpstreamEmpty),
        ("0:-0", E::UpstreamEmpty),
        ("0:abc3-0", E::UpstreamNotDigit),
        ("0:0!-0", E::InvalidUpstreamChar),
        ("0:0-0:0", E::InvalidRevisionChar),
        ("1.0-a_b", E::InvalidRevisionChar),
    ];
    for (input, want) in cases {
        assert_eq!(DebVersion::parse(input).unwrap_err(), *want, "{input:?}");
    }
    assert_eq!(
        Scheme::Deb.validate("1.0-").unwrap_err().to_string(),
        "invalid dpkg version \"1.0-\": revision number is empty"
    );
}

#[test]
fn equality_is_dpkgs_and_display_round_trips() {
    let a = DebVersion::parse("1.0").unwrap();
    let b = DebVersion::parse("0:1.00-0").unwrap();
    assert_eq!(a, b);
    assert_eq!(b.to_string(), "0:1.00-0");
    assert_eq!(
        DebVersion::parse(&b.to_string()).unwrap().as_str(),
        "0:1.00-0"
    );
    let big = DebVersion::parse("1.123456789012345678901234567890").unwrap();
    let bigger = DebVersion::parse("1.123456789012345678901234567891").unwrap();
    assert!(big < bigger);
}
