//! Debian version parsing and ordering, as dpkg 1.21 does it.
//!
//! Spec: deb-version(5), <https://manpages.debian.org/bookworm/dpkg-dev/deb-version.5.en.html>.
//! Sources followed: dpkg `lib/dpkg/parsehelp.c` (`parseversion`) and `lib/dpkg/version.c`
//! (`order`, `verrevcmp`, `dpkg_version_compare`), guillemj/dpkg.
//!
//! A version is `[epoch:]upstream[-revision]`: the epoch is the number before the *first* `:`,
//! the revision is everything after the *last* `-`. Within upstream and revision, runs of
//! non-digits are compared character by character with `~` before everything (even the end),
//! then the end, then letters, then everything else; runs of digits are compared as numbers of
//! any length (leading zeros ignored, no overflow).

use std::cmp::Ordering;
use std::fmt;

/// Why dpkg rejects a version string; the messages are dpkg's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DebVersionError {
    /// Nothing but blanks.
    #[error("version string is empty")]
    Empty,
    /// Blanks inside the version (leading and trailing blanks are trimmed).
    #[error("version string has embedded spaces")]
    EmbeddedSpaces,
    /// A `:` with no digits before it.
    #[error("epoch in version is empty")]
    EpochEmpty,
    /// Something other than digits before the first `:`.
    #[error("epoch in version is not number")]
    EpochNotNumber,
    /// A minus sign before the epoch digits.
    #[error("epoch in version is negative")]
    EpochNegative,
    /// An epoch above `i32::MAX` (dpkg stores it in an `int`).
    #[error("epoch in version is too big")]
    EpochTooBig,
    /// Nothing after the epoch's `:`.
    #[error("nothing after colon in version number")]
    NothingAfterColon,
    /// A trailing `-` with nothing after it.
    #[error("revision number is empty")]
    RevisionEmpty,
    /// The upstream part is empty (e.g. `-1` or `0:-1`).
    #[error("version number is empty")]
    UpstreamEmpty,
    /// The upstream part does not start with a digit (a warning-level error in dpkg).
    #[error("version number does not start with digit")]
    UpstreamNotDigit,
    /// A character outside `[A-Za-z0-9.+~:-]` in the upstream part (warning-level in dpkg).
    #[error("invalid character in version number")]
    InvalidUpstreamChar,
    /// A character outside `[A-Za-z0-9.+~]` in the revision (warning-level in dpkg).
    #[error("invalid character in revision number")]
    InvalidRevisionChar,
}

impl DebVersionError {
    /// True for the errors dpkg reports only as warnings (`dpkg --compare-versions` warns and
    /// still compares). We reject them all the same: Debian archives never contain such versions,
    /// and a rejected version is better than a guessed order.
    #[must_use]
    pub fn is_warning(self) -> bool {
        matches!(
            self,
            Self::UpstreamNotDigit | Self::InvalidUpstreamChar | Self::InvalidRevisionChar
        )
    }
}

/// A parsed, valid Debian version. Ordered and compared as dpkg does, so `1.0 == 1.00`.
///
/// `Display` prints the input exactly (minus the leading and trailing blanks dpkg ignores), so
/// parsing the displayed text gives back an identical value.
#[derive(Clone, Debug)]
pub struct DebVersion {
    text: Box<str>,
    epoch: u32,
    upstream_start: usize,
    upstream_end: usize,
}

/// The three parts of a Debian version string, borrowed, as `parseversion` finds them (no checks).
#[derive(Clone, Copy)]
struct Parts<'a> {
    /// The digits (or whatever is there) before the first `:`; empty without an epoch.
    epoch: &'a [u8],
    upstream: &'a [u8],
    revision: &'a [u8],
    /// Whether a `-` was present (an empty revision after it is an error).
    has_revision: bool,
    has_colon: bool,
}

/// dpkg's `c_isblank`: space and tab.
fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

fn trim_blanks(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&c| !is_blank(c)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&c| !is_blank(c))
        .map_or(start, |e| e + 1);
    &s[start..end]
}

fn split(s: &[u8]) -> Parts<'_> {
    let (epoch, rest, has_colon) = match s.iter().position(|&c| c == b':') {
        Some(c) => (&s[..c], &s[c + 1..], true),
        None => (&s[..0], s, false),
    };
    let (upstream, revision, has_revision) = match rest.iter().rposition(|&c| c == b'-') {
        Some(h) => (&rest[..h], &rest[h + 1..], true),
        None => (rest, &rest[rest.len()..], false),
    };
    Parts {
        epoch,
        upstream,
        revision,
        has_revision,
        has_colon,
    }
}

/// dpkg's `order()`: the weight of a character in a non-digit run. The end of the string and a
/// digit weigh 0, `~` weighs -1, letters their ASCII code, everything else its code + 256.
/// Bytes from 128 up are weighed as x86 dpkg does with its signed `char` (code - 256 + 256).
#[inline(always)]
fn order(c: u8) -> i32 {
    if c.is_ascii_digit() || c == 0 {
        0
    } else if c.is_ascii_alphabetic() {
        i32::from(c)
    } else if c == b'~' {
        -1
    } else if c >= 128 {
        i32::from(c)
    } else {
        i32::from(c) + 256
    }
}

/// dpkg's `verrevcmp()` on an upstream version or a revision.
fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    // dpkg compares C strings: a NUL byte ends them. Cut there too, else the loops below, which
    // read NUL as the end, would stop advancing at an embedded NUL and never end (found by
    // the `version_deb` fuzz target).
    let until_nul = |s: &[u8]| -> usize { s.iter().position(|&c| c == 0).unwrap_or(s.len()) };
    let (a, b) = (&a[..until_nul(a)], &b[..until_nul(b)]);
    let at = |s: &[u8], i: usize| -> u8 { s.get(i).copied().unwrap_or(0) };
    let (mut i, mut j) = (0usize, 0usize);
    while i < a.len() || j < b.len() {
        loop {
            let (ca, cb) = (at(a, i), at(b, j));
            if (ca == 0 || ca.is_ascii_digit()) && (cb == 0 || cb.is_ascii_digit()) {
                break;
            }
            let (oa, ob) = (order(ca), order(cb));
            if oa != ob {
                return oa.cmp(&ob);
            }
            i += 1;
            j += 1;
        }
        while at(a, i) == b'0' {
            i += 1;
        }
        while at(b, j) == b'0' {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while at(a, i).is_ascii_digit() && at(b, j).is_ascii_digit() {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if at(a, i).is_ascii_digit() {
            return Ordering::Greater;
        }
        if at(b, j).is_ascii_digit() {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

/// The epoch text as dpkg's `strtol()` reads it: leading white space (C `isspace`), an
/// optional `+` or `-` sign, then digits. Returns the sign, the digits and where they end
/// (0 when there are no digits, as `strtol` leaves its end pointer at the start then).
fn epoch_number(e: &[u8]) -> (bool, &[u8], usize) {
    let mut i = e
        .iter()
        .position(|&c| !matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .unwrap_or(e.len());
    let negative = e.get(i) == Some(&b'-');
    if matches!(e.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let start = i;
    while e.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    if i == start {
        return (false, &e[..0], 0);
    }
    (negative, &e[start..i], i)
}

/// Compares epoch texts as the numbers dpkg reads from them (`+1` is `1`, `-0` is `0`), of
/// any length: leading zeros dropped, then longer is bigger, then digit by digit. Total on
/// any bytes (a negative number sorts below every other).
fn cmp_epoch(a: &[u8], b: &[u8]) -> Ordering {
    fn key(s: &[u8]) -> (bool, &[u8]) {
        let (negative, digits, _) = epoch_number(s);
        let significant = &digits[digits
            .iter()
            .position(|&c| c != b'0')
            .unwrap_or(digits.len())..];
        (negative && !significant.is_empty(), significant)
    }
    let (na, a) = key(a);
    let (nb, b) = key(b);
    let magnitude = a.len().cmp(&b.len()).then_with(|| a.cmp(b));
    match (na, nb) {
        (false, false) => magnitude,
        (true, true) => magnitude.reverse(),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
    }
}

fn cmp_parts(a: &Parts<'_>, b: &Parts<'_>) -> Ordering {
    cmp_epoch(a.epoch, b.epoch)
        .then_with(|| verrevcmp(a.upstream, b.upstream))
        .then_with(|| verrevcmp(a.revision, b.revision))
}

/// Compares two Debian version strings as `dpkg --compare-versions` does, without allocating.
///
/// For every string [`DebVersion::parse`] accepts, this equals parsing both and comparing. For
/// other strings it is still a total order (it is what dpkg does for its warning-level errors).
#[must_use]
pub fn compare(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    cmp_parts(
        &split(trim_blanks(a.as_bytes())),
        &split(trim_blanks(b.as_bytes())),
    )
}

/// Checks a Debian version with dpkg's rules, warning-level errors included.
///
/// # Errors
/// dpkg's reason, lowercase.
pub fn validate(v: &str) -> Result<(), String> {
    check(v).map(|_| ()).map_err(|e| e.to_string())
}

/// Runs `parseversion`'s checks in dpkg's order; returns the trimmed text, epoch and parts.
fn check(v: &str) -> Result<(&str, u32, Parts<'_>), DebVersionError> {
    let bytes = v.as_bytes();
    let start = bytes.iter().position(|&c| !is_blank(c));
    let Some(start) = start else {
        return Err(DebVersionError::Empty);
    };
    let word_end = bytes[start..]
        .iter()
        .position(|&c| is_blank(c))
        .map_or(bytes.len(), |e| start + e);
    if bytes[word_end..].iter().any(|&c| !is_blank(c)) {
        return Err(DebVersionError::EmbeddedSpaces);
    }
    let text = &v[start..word_end];
    let parts = split(text.as_bytes());
    let mut epoch = 0u32;
    if parts.has_colon {
        // dpkg reads the epoch with strtol(): leading white space and a sign are accepted
        // (`+1:` is epoch 1, `-0:` epoch 0), and its messages are kept for the rest.
        let e = parts.epoch;
        let (negative, digits, end) = epoch_number(e);
        if digits.is_empty() {
            // strtol() parsed nothing: its end pointer is the start of the string.
            return Err(DebVersionError::EpochEmpty);
        }
        if end != e.len() {
            return Err(DebVersionError::EpochNotNumber);
        }
        let significant = &digits[digits
            .iter()
            .position(|&c| c != b'0')
            .unwrap_or(digits.len())..];
        if negative && !significant.is_empty() {
            return Err(DebVersionError::EpochNegative);
        }
        if significant.len() > 10 {
            return Err(DebVersionError::EpochTooBig);
        }
        let value = significant
            .iter()
            .fold(0u64, |acc, &c| acc * 10 + u64::from(c - b'0'));
        epoch = match u32::try_from(value) {
            Ok(x) if x <= i32::MAX as u32 => x,
            _ => return Err(DebVersionError::EpochTooBig),
        };
        if parts.upstream.is_empty() && !parts.has_revision {
            return Err(DebVersionError::NothingAfterColon);
        }
    }
    if parts.has_revision && parts.revision.is_empty() {
        return Err(DebVersionError::RevisionEmpty);
    }
    let Some(&first) = parts.upstream.first() else {
        return Err(DebVersionError::UpstreamEmpty);
    };
    if !first.is_ascii_digit() {
        return Err(DebVersionError::UpstreamNotDigit);
    }
    if parts.upstream[1..]
        .iter()
        .any(|&c| !c.is_ascii_alphanumeric() && !b".-+~:".contains(&c))
    {
        return Err(DebVersionError::InvalidUpstreamChar);
    }
    if parts
        .revision
        .iter()
        .any(|&c| !c.is_ascii_alphanumeric() && !b".+~".contains(&c))
    {
        return Err(DebVersionError::InvalidRevisionChar);
    }
    Ok((text, epoch, parts))
}

impl DebVersion {
    /// Parses a version as dpkg's `parseversion()` does, treating its warnings as errors.
    ///
    /// Leading and trailing blanks (space, tab) are ignored, as dpkg ignores them.
    ///
    /// # Errors
    /// The first problem dpkg would report, in dpkg's order.
    pub fn parse(v: &str) -> Result<DebVersion, DebVersionError> {
        let (text, epoch, parts) = check(v)?;
        // Offsets of the upstream part inside `text`: parts borrow from it.
        let upstream_start = parts.upstream.as_ptr() as usize - text.as_ptr() as usize;
        Ok(DebVersion {
            text: text.into(),
            epoch,
            upstream_start,
            upstream_end: upstream_start + parts.upstream.len(),
        })
    }

    /// The epoch, 0 when absent.
    #[must_use]
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The upstream version (between the epoch's `:` and the last `-`).
    #[must_use]
    pub fn upstream(&self) -> &str {
        &self.text[self.upstream_start..self.upstream_end]
    }

    /// The Debian revision (after the last `-`), empty when absent; dpkg orders an absent
    /// revision like `0`.
    #[must_use]
    pub fn revision(&self) -> &str {
        self.text.get(self.upstream_end + 1..).unwrap_or("")
    }

    /// The version as written (without surrounding blanks).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::str::FromStr for DebVersion {
    type Err = DebVersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DebVersion::parse(s)
    }
}

impl fmt::Display for DebVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Ord for DebVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(self.upstream().as_bytes(), other.upstream().as_bytes()))
            .then_with(|| verrevcmp(self.revision().as_bytes(), other.revision().as_bytes()))
    }
}

impl PartialOrd for DebVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Equality is dpkg's: `1.0` equals `1.00` and `0:1.0-0`.
impl PartialEq for DebVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for DebVersion {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzz_embedded_nul_ends_the_comparison() {
        // The `version_deb` fuzz target's hang: an embedded NUL made `verrevcmp` loop forever.
        // dpkg reads a NUL as the end of the string.
        assert_eq!(compare("1\u{0}", "1\u{0}"), Ordering::Equal);
        assert_eq!(
            compare(
                "2.1.1+dfsg-3",
                "2.1.1+dfsg\u{0}\u{0}\u{0}\u{fffd}.12.3-1ubuntu0.17"
            ),
            compare("2.1.1+dfsg-3", "2.1.1+dfsg")
        );
        assert_eq!(compare("1.0\u{0}9", "1.0"), Ordering::Equal);
        assert_eq!(compare("1.0\u{0}9", "1.1"), Ordering::Less);
    }

    #[test]
    fn parts_and_errors() {
        let v = DebVersion::parse(" 1:2.0-3-4 ").unwrap();
        assert_eq!((v.epoch(), v.upstream(), v.revision()), (1, "2.0-3", "4"));
        assert_eq!(v.to_string(), "1:2.0-3-4");
        let v = DebVersion::parse("2.0").unwrap();
        assert_eq!((v.epoch(), v.upstream(), v.revision()), (0, "2.0", ""));
        assert_eq!(
            DebVersion::parse("0:").unwrap_err(),
            DebVersionError::NothingAfterColon
        );
        assert_eq!(
            DebVersion::parse(":1").unwrap_err(),
            DebVersionError::EpochEmpty
        );
        assert_eq!(
            DebVersion::parse("-1:0").unwrap_err(),
            DebVersionError::EpochNegative
        );
        assert_eq!(
            DebVersion::parse("a:0").unwrap_err(),
            DebVersionError::EpochEmpty
        );
        assert_eq!(
            DebVersion::parse("1a:0").unwrap_err(),
            DebVersionError::EpochNotNumber
        );
        assert_eq!(
            DebVersion::parse("2147483648:0").unwrap_err(),
            DebVersionError::EpochTooBig
        );
        assert_eq!(
            DebVersion::parse("2147483647:0").unwrap().epoch(),
            2_147_483_647
        );
    }

    /// dpkg reads the epoch with `strtol()`, so a sign is accepted (issue 12 item 10);
    /// checked with dpkg 1.21.22: `dpkg --compare-versions 1:1.0 eq +1:1.0` and
    /// `dpkg --compare-versions 1.0 eq -0:1.0` both hold.
    #[test]
    fn signed_epochs_read_as_dpkg_reads_them() {
        assert_eq!(DebVersion::parse("+1:1.0").unwrap().epoch(), 1);
        assert_eq!(DebVersion::parse("-0:1.0").unwrap().epoch(), 0);
        assert_eq!(DebVersion::parse("+01:1.0").unwrap().epoch(), 1);
        assert_eq!(
            DebVersion::parse("-1:1.0").unwrap_err(),
            DebVersionError::EpochNegative
        );
        assert_eq!(
            DebVersion::parse("+:1.0").unwrap_err(),
            DebVersionError::EpochEmpty
        );
        assert_eq!(
            DebVersion::parse("1+:1.0").unwrap_err(),
            DebVersionError::EpochNotNumber
        );
        assert_eq!(compare("+1:1.0", "1:1.0"), Ordering::Equal);
        assert_eq!(compare("-0:1.0", "1.0"), Ordering::Equal);
        assert_eq!(compare("+2:1.0", "1:9.0"), Ordering::Greater);
        assert_eq!(compare("+1:1.0", "2:0.1"), Ordering::Less);
        assert_eq!(
            DebVersion::parse("+1:1.0").unwrap(),
            DebVersion::parse("1:1.0").unwrap()
        );
    }
}
