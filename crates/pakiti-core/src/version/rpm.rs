//! rpm version comparison: `rpmvercmp()` and `[epoch:]version[-release]` (EVR) ordering as rpm 4.18 does it.
//!
//! Sources followed line by line: rpm `rpmio/rpmvercmp.c` (`rpmvercmp`) and `rpmio/rpmver.c`
//! (`parseEVR`, `rpmverParse`, `rpmverCmp`), rpm-software-management/rpm. Both functions here work
//! on borrowed `&str` and never allocate: the matcher calls them millions of times.
//!
//! Behaviour worth knowing, all of it rpm's:
//! * Versions are split into runs of ASCII digits and runs of ASCII letters; every other byte
//!   (including every non-ASCII byte) is a separator whose identity does not matter.
//! * `~` sorts before anything, even the end of the string (`1.0~rc1 < 1.0`).
//! * `^` sorts after the end of the string but before any other segment (`1.0 < 1.0^git1 < 1.0.1`).
//! * A numeric segment is newer than an alphabetic one; numeric segments are compared without
//!   leading zeros, by length and then digit by digit, so they never overflow.
//! * In an EVR a missing epoch counts as `0`, and a missing release is *older* than any release
//!   (`rpmverCmp` gives `1.0-1 > 1.0`), unlike the dependency-range check `rpmverOverlap`.

use std::cmp::Ordering;

/// Returns the byte at `i`, or NUL past the end, as C's NUL-terminated strings would.
#[inline(always)]
fn at(s: &[u8], i: usize) -> u8 {
    match s.get(i) {
        Some(&c) => c,
        None => 0,
    }
}

/// True for the bytes `rpmvercmp` skips between segments: anything but ASCII letters, digits,
/// `~`, `^` and the terminating NUL.
#[inline(always)]
fn is_separator(c: u8) -> bool {
    c != 0 && !c.is_ascii_alphanumeric() && c != b'~' && c != b'^'
}

/// Compares two version (or release) strings exactly as rpm 4.18 `rpmvercmp()` does.
///
/// No epoch or release splitting happens here; see [`compare_evr`] for full EVRs. An embedded
/// NUL byte ends the string, as it would in C.
#[must_use]
pub fn rpmvercmp(a: &str, b: &str) -> Ordering {
    let a = a.as_bytes();
    let b = b.as_bytes();
    if a == b {
        return Ordering::Equal;
    }
    let (mut one, mut two) = (0usize, 0usize);

    while at(a, one) != 0 || at(b, two) != 0 {
        while is_separator(at(a, one)) {
            one += 1;
        }
        while is_separator(at(b, two)) {
            two += 1;
        }
        let (ca, cb) = (at(a, one), at(b, two));

        // The tilde sorts before everything else, even the end of the string.
        if ca == b'~' || cb == b'~' {
            if ca != b'~' {
                return Ordering::Greater;
            }
            if cb != b'~' {
                return Ordering::Less;
            }
            one += 1;
            two += 1;
            continue;
        }

        // The caret is like the tilde, except that a string that has ended sorts lower.
        if ca == b'^' || cb == b'^' {
            if ca == 0 {
                return Ordering::Less;
            }
            if cb == 0 {
                return Ordering::Greater;
            }
            if ca != b'^' {
                return Ordering::Greater;
            }
            if cb != b'^' {
                return Ordering::Less;
            }
            one += 1;
            two += 1;
            continue;
        }

        if ca == 0 || cb == 0 {
            break;
        }

        // Take the longest run of one kind, decided by the first string's segment.
        let isnum = ca.is_ascii_digit();
        let (mut end1, mut end2) = (one, two);
        if isnum {
            while at(a, end1).is_ascii_digit() {
                end1 += 1;
            }
            while at(b, end2).is_ascii_digit() {
                end2 += 1;
            }
        } else {
            while at(a, end1).is_ascii_alphabetic() {
                end1 += 1;
            }
            while at(b, end2).is_ascii_alphabetic() {
                end2 += 1;
            }
        }

        // Segments of different kinds: numeric is newer than alphabetic.
        if two == end2 {
            return if isnum {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }

        let (mut s1, mut s2) = (one, two);
        if isnum {
            // Leading zeros do not count; then the longer number wins.
            while s1 < end1 && a[s1] == b'0' {
                s1 += 1;
            }
            while s2 < end2 && b[s2] == b'0' {
                s2 += 1;
            }
            let (len1, len2) = (end1 - s1, end2 - s2);
            if len1 != len2 {
                return len1.cmp(&len2);
            }
        }
        match a[s1..end1].cmp(&b[s2..end2]) {
            Ordering::Equal => {}
            other => return other,
        }
        one = end1;
        two = end2;
    }

    match (at(a, one), at(b, two)) {
        (0, 0) => Ordering::Equal,
        (0, _) => Ordering::Less,
        _ => Ordering::Greater,
    }
}

/// An rpm `[epoch:]version[-release]` split the way `rpmverParse()` splits it, borrowing the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Evr<'a> {
    /// The digits before the first `:` when the string starts with digits and a colon; an empty
    /// epoch (`:1.0`) is reported as `"0"`, as rpm does.
    pub epoch: Option<&'a str>,
    /// Everything between the epoch and the last `-`.
    pub version: &'a str,
    /// Everything after the last `-` (possibly empty), if there is a `-`.
    pub release: Option<&'a str>,
}

impl<'a> Evr<'a> {
    /// Splits an EVR string exactly as rpm 4.18 `parseEVR()` does; it cannot fail.
    ///
    /// The epoch is the leading run of digits only when a `:` follows it, so `1.0:2` has no epoch
    /// and `1.0:2` is its version; the release starts after the *last* `-`.
    #[must_use]
    pub fn parse(evr: &'a str) -> Self {
        let bytes = evr.as_bytes();
        let s = bytes
            .iter()
            .position(|c| !c.is_ascii_digit())
            .unwrap_or(bytes.len());
        let se = bytes[s..].iter().rposition(|&c| c == b'-').map(|k| s + k);
        let (epoch, vstart) = if bytes.get(s) == Some(&b':') {
            (Some(if s == 0 { "0" } else { &evr[..s] }), s + 1)
        } else {
            (None, 0)
        };
        match se {
            Some(k) => Evr {
                epoch,
                version: &evr[vstart..k],
                release: Some(&evr[k + 1..]),
            },
            None => Evr {
                epoch,
                version: &evr[vstart..],
                release: None,
            },
        }
    }

    /// Compares two parsed EVRs as `rpmverCmp()` does: epoch (missing = `"0"`), then version,
    /// then release, where a missing release is older than any present one.
    #[must_use]
    pub fn compare(&self, other: &Evr<'_>) -> Ordering {
        rpmvercmp(self.epoch.unwrap_or("0"), other.epoch.unwrap_or("0"))
            .then_with(|| rpmvercmp(self.version, other.version))
            .then_with(|| match (self.release, other.release) {
                (None, None) => Ordering::Equal,
                (Some(_), None) => Ordering::Greater,
                (None, Some(_)) => Ordering::Less,
                (Some(r1), Some(r2)) => rpmvercmp(r1, r2),
            })
    }
}

/// Compares two EVR strings: `rpmverCmp(rpmverParse(a), rpmverParse(b))` (lua `rpm.vercmp`).
#[must_use]
pub fn compare_evr(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    Evr::parse(a).compare(&Evr::parse(b))
}

/// Compares an installed EVR with a vendor's, taking the vendor's epoch when the installed one
/// has none (`rpm -qa` output never shows the epoch, so it is unknown, not `0`).
#[must_use]
pub fn compare_installed(installed: &str, vendor: &str) -> Ordering {
    let i = Evr::parse(installed);
    if i.epoch.is_some() {
        return compare_evr(installed, vendor);
    }
    let mut v = Evr::parse(vendor);
    v.epoch = None;
    i.compare(&v)
}

/// Whether an installed EVR has no epoch, so that [`compare_installed`] assumes the vendor's.
#[must_use]
pub fn epoch_unknown(installed: &str) -> bool {
    Evr::parse(installed).epoch.is_none()
}

/// Checks an EVR string conservatively.
///
/// rpm itself compares almost anything, so this rejects what rpm cannot have produced or where
/// its ordering would silently mislead:
/// * the empty string (`rpmverParse` returns NULL for it);
/// * whitespace and control characters (rpm header strings are NUL-terminated and dependency
///   strings are split on whitespace);
/// * non-ASCII bytes (rpmbuild refuses them, and `rpmvercmp` treats them all as one separator,
///   so `1.α` equals `1.β`);
/// * an empty epoch (`:1.0`), an empty version or an empty release (`1.0-`).
///
/// Epochs of any length are accepted: rpm compares them as digit strings (`rpmvercmp`, leading
/// zeros ignored), so `99999999999:1.0` is valid and newer than `4294967296:1.0`.
///
/// # Errors
/// The reason the version is rejected, lowercase.
pub fn validate(v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Err("empty version".to_owned());
    }
    // Fast path first: printable ASCII without space is all real EVRs contain.
    if !v.bytes().all(|c| c.is_ascii_graphic()) {
        if let Some(c) = v.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("contains whitespace or control character {c:?}"));
        }
        if let Some(c) = v.chars().find(|c| !c.is_ascii()) {
            return Err(format!(
                "contains non-ASCII character {c:?}, which rpm ignores when comparing"
            ));
        }
    }
    let evr = Evr::parse(v);
    if v.starts_with(':') {
        return Err("empty epoch before ':'".to_owned());
    }
    if evr.version.is_empty() {
        return Err("empty version part".to_owned());
    }
    if evr.release == Some("") {
        return Err("empty release after '-'".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_splits_like_rpm() {
        let e = Evr::parse("1:2.0-3.el9");
        assert_eq!(
            (e.epoch, e.version, e.release),
            (Some("1"), "2.0", Some("3.el9"))
        );
        let e = Evr::parse(":2.0");
        assert_eq!((e.epoch, e.version, e.release), (Some("0"), "2.0", None));
        let e = Evr::parse("1.0:2-a-b");
        assert_eq!(
            (e.epoch, e.version, e.release),
            (None, "1.0:2-a", Some("b"))
        );
        let e = Evr::parse("+2-");
        assert_eq!((e.epoch, e.version, e.release), (None, "+2", Some("")));
    }

    #[test]
    fn unknown_epoch_takes_the_vendors() {
        // `rpm -qa` prints `bind-9.11.4-26.P2.el7`; the package's epoch (32) is unknown.
        assert_eq!(
            compare_installed("9.11.4-26.P2.el7", "32:9.11.4-26.P2.el7_9.2"),
            Ordering::Less
        );
        assert_eq!(
            compare_installed("9.11.4-26.P2.el7_9.2", "32:9.11.4-26.P2.el7_9.2"),
            Ordering::Equal
        );
        assert_eq!(
            compare_installed("9.11.4-26.P2.el7_9.3", "32:9.11.4-26.P2.el7_9.2"),
            Ordering::Greater
        );
        // A known epoch, `0:` included, is compared as always.
        assert_eq!(
            compare_installed("0:9.11.4-26.P2.el7_9.3", "32:9.11.4-26.P2.el7_9.2"),
            Ordering::Less
        );
        assert!(epoch_unknown("1.0-1"));
        assert!(!epoch_unknown("0:1.0-1"));
    }

    #[test]
    fn validate_reasons() {
        assert_eq!(validate("1:2.0-3"), Ok(()));
        assert!(validate("").is_err());
        assert!(validate("1.0 -1").is_err());
        assert!(validate("1.α").is_err());
        assert!(validate(":1.0").is_err());
        // Epochs of any length compare as rpm compares them (issue 12 item 10).
        assert_eq!(validate("99999999999:1.0"), Ok(()));
        assert_eq!(
            compare_evr("99999999999:1.0", "4294967296:1.0"),
            Ordering::Greater
        );
        assert_eq!(
            compare_evr("0004294967296:1.0", "4294967296:1.0"),
            Ordering::Equal
        );
        assert!(validate("1:-1").is_err());
        assert!(validate("1.0-").is_err());
    }
}
