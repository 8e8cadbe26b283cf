//! Property tests: every comparator is a total order on realistic versions, and the dpkg
//! `&str` comparison agrees with the parsed type.

use pakiti_core::version::Scheme;
use pakiti_core::version::deb::{self, DebVersion};
use pakiti_core::version::rpm::rpmvercmp;
use proptest::prelude::*;
use std::cmp::Ordering;

/// rpm fragments as they appear in versions and releases, plus the odd separators.
const RPM_VERSION: &str =
    "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}([a-z]{1,3}[0-9]?)?(~rc[0-9])?(\\^git[0-9]{1,2})?";
const RPM_EVR: &str = "([0-9]:)?[0-9]{1,2}(\\.[0-9]{1,2}){0,2}[a-c]?(~rc[0-9])?(\\^[0-9])?(-[0-9]{1,2}(\\.el[0-9](_[0-9])?)?)?";
const RPM_CHAOS: &str = "[0-9a-c.~^_+-]{0,8}";
const DEB_VERSION: &str = "([0-9]{1,2}:)?[0-9]{1,3}(\\.[0-9a-z]{1,3}){0,3}(~[a-z0-9]{1,3})?(\\+[a-z0-9.~]{1,4})?(-[0-9a-z.+~]{1,5})?";
const DEB_CHAOS: &str = "[0-9][0-9a-c.+~]{0,6}(-[0-9a-c.+~]{1,4})?";
const APK_VERSION: &str = "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}[a-z]?(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]{0,2}){0,2}(~[0-9a-f]{1,4})?(-r[0-9]{1,2})?";

/// Asserts reflexivity, antisymmetry and transitivity of `cmp` on `a`, `b`, `c`, and that
/// sorting `more` gives a sequence that never decreases.
fn total_order(
    cmp: impl Fn(&str, &str) -> Ordering,
    a: &str,
    b: &str,
    c: &str,
    more: &mut [String],
) {
    for x in [a, b, c] {
        assert_eq!(cmp(x, x), Ordering::Equal, "{x:?}");
    }
    for (x, y) in [(a, b), (b, c), (a, c)] {
        assert_eq!(cmp(x, y), cmp(y, x).reverse(), "{x:?} vs {y:?}");
    }
    let (ab, bc, ac) = (cmp(a, b), cmp(b, c), cmp(a, c));
    if ab != Ordering::Greater && bc != Ordering::Greater {
        assert_ne!(ac, Ordering::Greater, "{a:?} <= {b:?} <= {c:?}");
        if ab == Ordering::Equal && bc == Ordering::Equal {
            assert_eq!(ac, Ordering::Equal, "{a:?} = {b:?} = {c:?}");
        }
    }
    more.sort_by(|x, y| cmp(x, y));
    for i in 0..more.len() {
        for j in i + 1..more.len() {
            assert_ne!(cmp(&more[i], &more[j]), Ordering::Greater, "{more:?}");
        }
    }
}

proptest! {
    #[test]
    fn rpmvercmp_total(a in RPM_VERSION, b in RPM_VERSION, c in RPM_VERSION,
                       mut more in prop::collection::vec(RPM_VERSION, 0..8)) {
        total_order(rpmvercmp, &a, &b, &c, &mut more);
    }

    #[test]
    fn rpmvercmp_total_on_odd_separators(a in RPM_CHAOS, b in RPM_CHAOS, c in RPM_CHAOS,
                                         mut more in prop::collection::vec(RPM_CHAOS, 0..8)) {
        total_order(rpmvercmp, &a, &b, &c, &mut more);
    }

    #[test]
    fn rpm_evr_total(a in RPM_EVR, b in RPM_EVR, c in RPM_EVR,
                     mut more in prop::collection::vec(RPM_EVR, 0..8)) {
        for v in [&a, &b, &c] {
            prop_assert_eq!(Scheme::Rpm.validate(v), Ok(()));
        }
        total_order(|x, y| Scheme::Rpm.compare(x, y), &a, &b, &c, &mut more);
    }

    /// Numbers of any length compare by value, leading zeros ignored.
    #[test]
    fn numeric_segments_compare_by_value(x in 0u128..u128::MAX, y in 0u128..u128::MAX,
                                         zx in 0usize..3, zy in 0usize..3) {
        let (sx, sy) = (format!("{}{x}", "0".repeat(zx)), format!("{}{y}", "0".repeat(zy)));
        prop_assert_eq!(rpmvercmp(&sx, &sy), x.cmp(&y));
        prop_assert_eq!(deb::compare(&format!("1.{sx}"), &format!("1.{sy}")), x.cmp(&y));
    }

    #[test]
    fn dpkg_total(a in DEB_VERSION, b in DEB_VERSION, c in DEB_VERSION,
                  mut more in prop::collection::vec(DEB_VERSION, 0..8)) {
        total_order(deb::compare, &a, &b, &c, &mut more);
    }

    #[test]
    fn dpkg_total_on_odd_characters(a in DEB_CHAOS, b in DEB_CHAOS, c in DEB_CHAOS,
                                    mut more in prop::collection::vec(DEB_CHAOS, 0..8)) {
        total_order(deb::compare, &a, &b, &c, &mut more);
    }

    /// `compare` on strings equals comparing the parsed values; Display round-trips.
    #[test]
    fn dpkg_str_compare_equals_parsed(a in DEB_VERSION, b in DEB_CHAOS) {
        let pa = DebVersion::parse(&a).expect("generated versions are valid");
        let pb = DebVersion::parse(&b).expect("generated versions are valid");
        prop_assert_eq!(deb::compare(&a, &b), pa.cmp(&pb));
        prop_assert_eq!(deb::compare(&b, &a), pb.cmp(&pa));
        for (text, parsed) in [(&a, &pa), (&b, &pb)] {
            let shown = parsed.to_string();
            prop_assert_eq!(&shown, text);
            let again = DebVersion::parse(&shown).expect("display output parses");
            prop_assert_eq!(again.as_str(), parsed.as_str());
            prop_assert_eq!((again.epoch(), again.upstream(), again.revision()),
                            (parsed.epoch(), parsed.upstream(), parsed.revision()));
            prop_assert_eq!(&again, parsed);
        }
    }

    #[test]
    fn apk_total(a in APK_VERSION, b in APK_VERSION, c in APK_VERSION,
                 mut more in prop::collection::vec(APK_VERSION, 0..8)) {
        for v in [&a, &b, &c] {
            prop_assert_eq!(Scheme::Apk.validate(v), Ok(()));
        }
        total_order(|x, y| Scheme::Apk.compare(x, y), &a, &b, &c, &mut more);
    }
}
