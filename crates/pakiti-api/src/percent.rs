//! `%XX` escapes as the old Pakiti servers read them (PHP `urldecode`) and as pakiti writes
//! them, on top of the `percent-encoding` crate.
//!
//! Old clients' quirks are part of the protocol: a `%` not followed by two hex digits stays a
//! literal `%` (what `percent-encoding` and PHP both do), and whether a literal `+` means a
//! space depends on who built the body ([`Plus`]).

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

/// What a literal `+` stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plus {
    /// A space, as in every form-encoded body (`x-www-form-urlencoded`).
    Space,
    /// A `+`: the body was built by hand (spaces are sent raw, so `+` never stands for one),
    /// or the value came from a multipart field, which is not form-encoded.
    Literal,
}

/// The bytes of `s` with `%XX` decoded, and `+` turned into a space when `plus` says so.
pub(crate) fn decode_bytes(s: &str, plus: Plus) -> Cow<'_, [u8]> {
    if plus == Plus::Space && s.contains('+') {
        // `%2B` is decoded after the replacement, so an escaped `+` stays a `+`.
        let spaced = s.replace('+', " ");
        let bytes: Vec<u8> = percent_encoding::percent_decode_str(&spaced).collect();
        return Cow::Owned(bytes);
    }
    percent_encoding::percent_decode_str(s).into()
}

/// Like [`decode_bytes`], as UTF-8; `None` when the decoded bytes are not UTF-8.
pub(crate) fn decode(s: &str, plus: Plus) -> Option<String> {
    match decode_bytes(s, plus) {
        Cow::Borrowed(b) => std::str::from_utf8(b).ok().map(str::to_owned),
        Cow::Owned(b) => String::from_utf8(b).ok(),
    }
}

/// PHP `urldecode` (`+` is a space), keeping `s` as sent when its escapes are not UTF-8.
pub(crate) fn urldecode_or_keep(s: &str) -> String {
    decode(s, Plus::Space).unwrap_or_else(|| s.to_owned())
}

/// Everything but the RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`) is escaped.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes everything but RFC 3986 unreserved characters (upper-case hex digits).
pub(crate) fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_escapes_stay_literal() {
        for (input, want) in [
            ("100%", "100%"),
            ("%4", "%4"),
            ("%zz1", "%zz1"),
            ("%%41", "%A"),
            ("%+1", "%+1"),
            ("a%2bb", "a+b"),
            ("a%2Bb", "a+b"),
        ] {
            assert_eq!(
                decode(input, Plus::Literal).as_deref(),
                Some(want),
                "{input}"
            );
        }
    }

    #[test]
    fn plus_is_a_space_only_in_form_encoding() {
        assert_eq!(decode("a+b%2B", Plus::Space).as_deref(), Some("a b+"));
        assert_eq!(decode("a+b%2B", Plus::Literal).as_deref(), Some("a+b+"));
        assert_eq!(decode("%ff", Plus::Space), None);
        assert_eq!(urldecode_or_keep("%ff+"), "%ff+");
    }

    #[test]
    fn encodes_all_but_unreserved() {
        assert_eq!(encode("a b+c/~é"), "a%20b%2Bc%2F~%C3%A9");
        assert_eq!(
            decode(&encode("x = 'y' & z\n"), Plus::Space).as_deref(),
            Some("x = 'y' & z\n")
        );
    }
}
