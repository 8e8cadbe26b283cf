//! rpm vectors: `rpmvercmp` on plain versions and `rpmverCmp` on EVR strings (librpmio 4.18 oracle).

use crate::{check_pairs, rows};
use pakiti_core::version::Scheme;
use pakiti_core::version::rpm::{Evr, compare_evr, rpmvercmp};

fn never(_: &str, _: &str) -> bool {
    false
}

#[test]
fn rpm_upstream_rpmvercmp_at() {
    check_pairs("rpm.tsv", 91, rpmvercmp, never);
}

#[test]
fn rpm_oddities_documented_in_rpmvercmp_at() {
    check_pairs("rpm-oddities.tsv", 12, rpmvercmp, never);
}

#[test]
fn go_rpm_version_cases() {
    check_pairs("rpm-go-rpm-version.tsv", 4489, rpmvercmp, never);
}

#[test]
fn oracle_vercmp_20k() {
    check_pairs("rpm-oracle-vercmp-20k.tsv", 20_000, rpmvercmp, never);
}

#[test]
fn oracle_evr_20k() {
    check_pairs("rpm-oracle-evr-20k.tsv", 20_000, compare_evr, never);
    check_pairs(
        "rpm-oracle-evr-20k.tsv",
        20_000,
        |a, b| Scheme::Rpm.compare(a, b),
        never,
    );
    // These are real EVRs (and mutations of them): all must be valid.
    let invalid: Vec<String> = rows("rpm-oracle-evr-20k.tsv")
        .iter()
        .flat_map(|r| [r[0].clone(), r[1].clone()])
        .filter(|v| Scheme::Rpm.validate(v).is_err())
        .collect();
    assert_eq!(invalid, Vec::<String>::new());
}

#[test]
fn osv_scalibr_evr() {
    check_pairs("rpm-evr-osv-scalibr.tsv", 165, compare_evr, never);
    check_pairs(
        "rpm-evr-osv-scalibr.tsv",
        165,
        |a, b| Scheme::Rpm.compare(a, b),
        never,
    );
    // 9 rows with non-ASCII letters (rpm treats them as separators) and 4 with an empty release
    // (`1-`, `+2-`): rpm compares them, and so do we (checked above), but validate() rejects them.
    let rejected = rows("rpm-evr-osv-scalibr.tsv")
        .iter()
        .filter(|r| Scheme::Rpm.validate(&r[0]).is_err() || Scheme::Rpm.validate(&r[1]).is_err())
        .count();
    assert_eq!(rejected, 13);
}

#[test]
fn evr_parse_matches_rpm_parse_evr() {
    let cases: &[(&str, Option<&str>, &str, Option<&str>)] = &[
        ("1.0", None, "1.0", None),
        ("1:1.0", Some("1"), "1.0", None),
        ("1:1.0-2.el9", Some("1"), "1.0", Some("2.el9")),
        (":1.0", Some("0"), "1.0", None),
        ("1.0-2-3", None, "1.0-2", Some("3")),
        ("0+2-n:1", None, "0+2", Some("n:1")),
        ("+2-:", None, "+2", Some(":")),
        ("1a:2", None, "1a:2", None),
        ("", None, "", None),
    ];
    for &(input, epoch, version, release) in cases {
        let evr = Evr::parse(input);
        assert_eq!(
            (evr.epoch, evr.version, evr.release),
            (epoch, version, release),
            "{input:?}"
        );
    }
}

#[test]
fn missing_release_is_older_and_missing_epoch_is_zero() {
    use std::cmp::Ordering::{Equal, Greater, Less};
    assert_eq!(compare_evr("1.0-1", "1.0"), Greater);
    assert_eq!(compare_evr("0:1.0", "1.0"), Equal);
    assert_eq!(compare_evr("1:1.0", "2.0"), Greater);
    assert_eq!(compare_evr("00:1.0", "1.0"), Equal);
    assert_eq!(compare_evr("1.0-", "1.0"), Greater);
    assert_eq!(compare_evr("1.0-", "1.0-0"), Less);
}

#[test]
fn long_digit_runs_do_not_overflow() {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let big = "123456789012345678901234567890";
    assert_eq!(rpmvercmp(big, "123456789012345678901234567889"), Greater);
    assert_eq!(rpmvercmp(&format!("000{big}"), big), Equal);
    assert_eq!(rpmvercmp("99999999999999999999", big), Less);
}

#[test]
fn validate_rules() {
    assert_eq!(Scheme::Rpm.validate("2:4.18.0-553.el8_10"), Ok(()));
    assert_eq!(Scheme::Rpm.validate("1.0~rc1^git2+x_y"), Ok(()));
    let err = Scheme::Rpm.validate("").unwrap_err();
    assert_eq!(err.to_string(), "invalid rpm version \"\": empty version");
    for bad in ["1.0 1", "1.0\n", "1.α", ":1.0", "1:-1", "1.0-", "-1"] {
        assert!(Scheme::Rpm.validate(bad).is_err(), "{bad:?} accepted");
    }
    // Issue 12 item 10: rpm compares epochs as digit strings (`rpmvercmp`), of any length and
    // with leading zeros ignored; refusing them above 2^32 refused what rpm compares.
    for good in [
        "4294967296:1",
        "99999999999999999999:1.0-1",
        "0004294967296:1",
    ] {
        assert_eq!(Scheme::Rpm.validate(good), Ok(()), "{good:?} refused");
    }
    assert_eq!(
        Scheme::Rpm.compare("4294967297:1", "4294967296:2"),
        std::cmp::Ordering::Greater
    );
    assert_eq!(
        Scheme::Rpm.compare("0004294967296:1", "4294967296:1"),
        std::cmp::Ordering::Equal
    );
}
