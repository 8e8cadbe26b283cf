//! Spec-ordered tables: each list is in strictly increasing order (inner slices compare equal),
//! and every pair is asserted both ways.

use crate::assert_spec_order;
use pakiti_core::version::Scheme;
use pakiti_core::version::apk;
use pakiti_core::version::rpm::rpmvercmp;

/// rpm versioning rules: <https://rpm-software-management.github.io/rpm/manual/dependencies.html>
/// (`~` before everything, `^` after the end but before any other segment) and rpm's
/// `tests/rpmvercmp.at`.
#[test]
fn rpmvercmp_spec_order() {
    assert_spec_order(
        rpmvercmp,
        &[
            &["~"],
            &[""],
            &["a"],
            &["1.0~~"],
            &["1.0~rc1", "1_0~rc_1"],
            &["1.0~rc2"],
            &["1.0", "1.0.", "1_0", "001.000", "1..0", "1.0α"],
            &["1.0^"],
            &["1.0^git1"],
            &["1.0^git2"],
            &["1.0a", "1.0.a", "1.0+a"],
            &["1.0b"],
            &["1.0.1"],
            &["1.0.9"],
            &["1.0.10", "1.0.010"],
            &["1.1"],
            &["2"],
            &["10"],
            &["18446744073709551616"],
            &["18446744073709551616.1"],
            &["123456789012345678901234567890"],
        ],
    );
}

/// `rpmverCmp` on full EVRs: missing epoch = 0, missing release older than any release.
#[test]
fn rpm_evr_spec_order() {
    assert_spec_order(
        |a, b| Scheme::Rpm.compare(a, b),
        &[
            &["0.9-1"],
            &["1.0~rc1-1"],
            &["1.0", "0:1.0", "00:1.0"],
            &["1.0-0"],
            &["1.0-1", "0:1.0-1"],
            &["1.0-1.el9"],
            &["1.0-1.el9_4"],
            &["1.0-2"],
            &["1.0.1-1"],
            &["1:0.1-1", "01:0.1-1"],
            &["2:0-0"],
        ],
    );
}

/// deb-version(5), <https://manpages.debian.org/bookworm/dpkg-dev/deb-version.5.en.html>:
/// "`~~` < `~~a` < `~` < the empty part < `a`", letters before non-letters, numbers by value.
#[test]
fn dpkg_spec_order() {
    assert_spec_order(
        |a, b| Scheme::Deb.compare(a, b),
        &[
            &["0.9"],
            &["1.0~~"],
            &["1.0~~a"],
            &["1.0~"],
            &["1.0~rc1-1"],
            &["1.0", "1.00", "0:1.0", "1.0-0", " 1.0\t", "1.0-00"],
            &["1.0-1~bpo12+1"],
            &["1.0-1"],
            &["1.0-1+b1"],
            &["1.0-1+deb12u1"],
            &["1.0-1.1"],
            &["1.0-2"],
            &["1.0a"],
            &["1.0+dfsg-1"],
            &["1.0.1"],
            &["1.0.10", "1.0.010"],
            &["1.0.123456789012345678901234567890"],
            &["10"],
            &["1:0.1"],
            &["2:0"],
            &["10:0", "010:0"],
        ],
    );
}

/// apk-tools version grammar (`src/version.c`): suffix order
/// `_alpha < _beta < _pre < _rc < none < _cvs < _svn < _git < _hg < _p`, then `-r`, `~hash`,
/// letters and further digits sort after the end.
#[test]
fn apk_spec_order() {
    assert_spec_order(
        apk::compare,
        &[
            &["1.0_alpha"],
            &["1.0_alpha1"],
            &["1.0_alpha2_p1"],
            &["1.0_beta"],
            &["1.0_pre1"],
            &["1.0_rc1"],
            &["1.0"],
            &["1.0-r0"],
            &["1.0-r1"],
            &["1.0-r10"],
            &["1.0~0a"],
            &["1.0~0a-r1"],
            &["1.0~1"],
            &["1.0_cvs"],
            &["1.0_svn"],
            &["1.0_git20240101"],
            &["1.0_hg"],
            &["1.0_p1"],
            &["1.0_p2"],
            &["1.0a"],
            &["1.0z"],
            &["1.0.1"],
            &["1.01"],
            &["1.010"],
            &["1.1"],
            &["1.10"],
            &["2"],
            &["18446744073709551615"],
        ],
    );
    // apk parses numbers into a u64 that wraps, as apk-tools does.
    assert_eq!(
        apk::compare("18446744073709551616", "0"),
        std::cmp::Ordering::Equal
    );
}

#[test]
fn apk_fuzzy_prefix_match() {
    use std::cmp::Ordering::{Equal, Greater, Less};
    assert_eq!(apk::compare_fuzzy("3.6.9", "3.6"), Equal);
    assert_eq!(apk::compare_fuzzy("3.6_pre1", "3.6"), Equal);
    assert_eq!(apk::compare_fuzzy("3.6", "3.6.9"), Less);
    assert_eq!(apk::compare_fuzzy("3.7", "3.6"), Greater);
    assert_eq!(apk::compare_fuzzy("3.60", "3.6"), Greater);
}
