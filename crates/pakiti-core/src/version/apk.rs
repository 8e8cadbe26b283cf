//! Alpine apk-tools 3 version validation and ordering.
//!
//! Source followed: apk-tools `src/version.c` (`token_next`, `token_cmp`, `apk_version_validate`,
//! `apk_version_compare_fuzzy`), alpinelinux/apk-tools, checked against its `test/unit/version.data`.
//!
//! Grammar: `digit{.digit}...{letter}{_suffix{#}}...{~hash}{-r#}`. Tokens are compared pairwise
//! while both versions have the same kind of token:
//! * numbers numerically, except that a dotted component with a leading zero on either side is
//!   compared as a string (Gentoo rule: `1.01 < 1.1`, `1.001 < 1.01`);
//! * a single letter by its code; suffixes in the order
//!   `_alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p`;
//! * a `~hash` (lowercase hex) as a string; `-rN` numerically.
//!
//! When one version runs out of tokens or has a different kind of token next, a pre-release
//! suffix next makes that side older; otherwise the version that goes on is newer
//! (`1.0 < 1.0-r1 < 1.0.1`, `1.0 < 1.0a`, `1.0 < 1.0_p1`), and a token that may not follow at all
//! (an invalid version) is older than the end.
//!
//! Numbers are parsed into a `u64` that wraps on overflow, exactly as apk-tools does.

use std::cmp::Ordering;

const INITIAL_DIGIT: u8 = 0;
const DIGIT: u8 = 1;
const LETTER: u8 = 2;
const SUFFIX: u8 = 3;
const SUFFIX_NO: u8 = 4;
const COMMIT_HASH: u8 = 5;
const REVISION_NO: u8 = 6;
const END: u8 = 7;
const INVALID: u8 = 8;

const SUFFIX_INVALID: u8 = 0;
const SUFFIX_NONE: u8 = 5;

/// Suffix names in apk's order; index = apk's `SUFFIX_*` value (`NONE` = 5 is the pivot).
const SUFFIXES: [&[u8]; 11] = [
    b"", b"alpha", b"beta", b"pre", b"rc", b"", b"cvs", b"svn", b"git", b"hg", b"p",
];

/// apk's `suffix_value()`: the rank of a `_suffix` word, `SUFFIX_INVALID` when unknown.
fn suffix_value(word: &[u8]) -> u8 {
    let val = match word.first() {
        Some(b'a') => 1,
        Some(b'b') => 2,
        Some(b'c') => 6,
        Some(b'g') => 8,
        Some(b'h') => 9,
        Some(b'p') if word.len() > 1 => 3,
        Some(b'p') => 10,
        Some(b'r') => 4,
        Some(b's') => 7,
        _ => return SUFFIX_INVALID,
    };
    if SUFFIXES[usize::from(val)] == word {
        val
    } else {
        SUFFIX_INVALID
    }
}

/// One token of a version and the tokenizer position: apk's `struct token_state` plus its blob.
#[derive(Clone, Copy)]
struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
    token: u8,
    suffix: u8,
    number: u64,
    start: usize,
    end: usize,
}

impl<'a> Lexer<'a> {
    /// apk's `token_first()`: the leading number.
    fn first(s: &'a [u8]) -> Self {
        let mut l = Lexer {
            s,
            pos: 0,
            token: INITIAL_DIGIT,
            suffix: SUFFIX_INVALID,
            number: 0,
            start: 0,
            end: 0,
        };
        l.parse_digits();
        l
    }

    fn value(&self) -> &'a [u8] {
        &self.s[self.start..self.end]
    }

    /// apk's `token_parse_digits()`: digits into a wrapping `u64`; none at all is invalid.
    fn parse_digits(&mut self) {
        let start = self.pos;
        let mut n = 0u64;
        while let Some(&c) = self.s.get(self.pos) {
            if !c.is_ascii_digit() {
                break;
            }
            n = n.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
            self.pos += 1;
        }
        self.number = n;
        self.start = start;
        self.end = self.pos;
        if start == self.pos {
            self.token = INVALID;
        }
    }

    /// Takes the longest run of bytes satisfying `pred` as the token's value.
    fn span(&mut self, pred: impl Fn(u8) -> bool) {
        self.start = self.pos;
        while self.s.get(self.pos).is_some_and(|&c| pred(c)) {
            self.pos += 1;
        }
        self.end = self.pos;
    }

    /// apk's `token_next()`: the next token, checking that it may follow the previous one.
    fn next(&mut self) {
        let Some(&c) = self.s.get(self.pos) else {
            self.token = END;
            return;
        };
        match c {
            b'a'..=b'z' => {
                if self.token > DIGIT {
                    self.token = INVALID;
                    return;
                }
                self.start = self.pos;
                self.pos += 1;
                self.end = self.pos;
                self.token = LETTER;
            }
            b'.' | b'0'..=b'9' => {
                if c == b'.' {
                    if self.token > DIGIT {
                        self.token = INVALID;
                        return;
                    }
                    self.pos += 1;
                }
                self.token = match self.token {
                    INITIAL_DIGIT | DIGIT => DIGIT,
                    SUFFIX => SUFFIX_NO,
                    _ => {
                        self.token = INVALID;
                        return;
                    }
                };
                self.parse_digits();
            }
            b'_' => {
                if self.token > SUFFIX_NO {
                    self.token = INVALID;
                    return;
                }
                self.pos += 1;
                self.span(|c| c.is_ascii_lowercase());
                self.suffix = suffix_value(self.value());
                self.token = if self.suffix == SUFFIX_INVALID {
                    INVALID
                } else {
                    SUFFIX
                };
            }
            b'~' => {
                if self.token >= COMMIT_HASH {
                    self.token = INVALID;
                    return;
                }
                self.pos += 1;
                self.span(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
                self.token = if self.start == self.end {
                    INVALID
                } else {
                    COMMIT_HASH
                };
            }
            b'-' => {
                if self.token >= REVISION_NO || self.s.get(self.pos + 1) != Some(&b'r') {
                    self.token = INVALID;
                    return;
                }
                self.pos += 2;
                self.token = REVISION_NO;
                self.parse_digits();
            }
            _ => self.token = INVALID,
        }
    }
}

/// apk's `token_cmp()` for two tokens of the same kind.
fn token_cmp(a: &Lexer<'_>, b: &Lexer<'_>) -> Ordering {
    match a.token {
        DIGIT if a.value()[0] == b'0' || b.value()[0] == b'0' => a.value().cmp(b.value()),
        DIGIT | INITIAL_DIGIT | SUFFIX_NO | REVISION_NO => a.number.cmp(&b.number),
        LETTER => a.value()[0].cmp(&b.value()[0]),
        SUFFIX => a.suffix.cmp(&b.suffix),
        _ => a.value().cmp(b.value()),
    }
}

/// apk's `apk_version_compare_fuzzy()`.
fn compare_impl(a: &str, b: &str, fuzzy: bool) -> Ordering {
    // apk treats an empty version as "compares every way"; we put it below everything so that
    // the order stays total.
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        (false, false) => {}
    }
    let mut ta = Lexer::first(a.as_bytes());
    let mut tb = Lexer::first(b.as_bytes());
    while ta.token == tb.token && ta.token < END {
        let r = token_cmp(&ta, &tb);
        if r != Ordering::Equal {
            return r;
        }
        ta.next();
        tb.next();
    }
    if ta.token == tb.token || (tb.token == END && fuzzy) {
        return Ordering::Equal;
    }
    // The leading tokens are equal: the longer version is newer unless what follows is a
    // pre-release suffix; otherwise the kind of token that comes later in the grammar is older.
    if ta.token == SUFFIX && ta.suffix < SUFFIX_NONE {
        return Ordering::Less;
    }
    if tb.token == SUFFIX && tb.suffix < SUFFIX_NONE {
        return Ordering::Greater;
    }
    tb.token.cmp(&ta.token)
}

/// Compares two apk versions as apk-tools 3 `apk_version_compare()` (`apk version -t`) does.
///
/// Meaningful for versions [`validate`] accepts; on others it follows apk-tools (tokens up to
/// the first invalid one decide), except that the empty string sorts below everything. It is a
/// total order on any input.
#[must_use]
pub fn compare(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    compare_impl(a, b, false)
}

/// apk's fuzzy comparison, behind the `~`, `<~` and `>~` dependency operators: `Equal` when `b`
/// is a token-wise prefix of `a` (`3.6.9 ~ 3.6`, `3.6_pre1 ~ 3.6`), otherwise as [`compare`].
#[must_use]
pub fn compare_fuzzy(a: &str, b: &str) -> Ordering {
    compare_impl(a, b, true)
}

/// Checks a version as apk-tools 3 `apk_version_validate()` does.
///
/// # Errors
/// Where and why the version breaks apk's grammar, lowercase.
pub fn validate(v: &str) -> Result<(), String> {
    let mut t = Lexer::first(v.as_bytes());
    let mut prev = 0;
    while t.token < END {
        prev = t.pos;
        t.next();
    }
    if t.token == END {
        return Ok(());
    }
    if v.is_empty() {
        return Err("empty version".to_owned());
    }
    let at = if t.pos == 0 { 0 } else { prev };
    Err(format!(
        "not an apk-tools 3 version (digit{{.digit}}...{{letter}}{{_suffix{{#}}}}...{{~hash}}{{-r#}}): \
         invalid at byte {at}: {:?}",
        v.get(at..).unwrap_or(v)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_values() {
        assert_eq!(suffix_value(b"alpha"), 1);
        assert_eq!(suffix_value(b"pre"), 3);
        assert_eq!(suffix_value(b"p"), 10);
        assert_eq!(suffix_value(b"pa"), SUFFIX_INVALID);
        assert_eq!(suffix_value(b""), SUFFIX_INVALID);
        assert_eq!(suffix_value(b"foo"), SUFFIX_INVALID);
    }

    #[test]
    fn validate_message_names_the_spot() {
        let err = validate("1.2_foo").unwrap_err();
        assert!(err.contains("invalid at byte 3"), "{err}");
        assert_eq!(validate("1.2_rc1~abc-r3"), Ok(()));
    }
}
