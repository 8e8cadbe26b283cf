//! Integration tests of `pakiti-core`: the version comparators against the real tools' vectors.
//!
//! Every row of every file in `shared/data/vercmp/` is checked here (row counts are asserted, so
//! a truncated or reformatted file fails loudly), plus spec-ordered tables and property tests.

mod apk;
mod deb;
mod ordering;
mod props;
mod rpm;

use std::cmp::Ordering;

/// The directory holding the version-comparison vectors, beside the repository.
const VERCMP_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/vercmp/");

/// Reads a vector file whole.
pub(crate) fn read_file(name: &str) -> String {
    let path = format!("{VERCMP_DIR}{name}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// Returns the data rows of a TSV vector file: every line not starting with `#`, split on TAB.
/// Empty fields are kept (some rpm vectors compare the empty string).
pub(crate) fn rows(name: &str) -> Vec<Vec<String>> {
    read_file(name)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

/// Parses an expected-result column: `-1`, `0` or `1`.
#[track_caller]
pub(crate) fn ordering(s: &str) -> Ordering {
    match s.trim() {
        "-1" => Ordering::Less,
        "0" => Ordering::Equal,
        "1" => Ordering::Greater,
        other => panic!("bad expected value {other:?}"),
    }
}

/// Checks `cmp(left, right)` (and the reversed pair) for every `left right expected [...]` row of
/// a file, asserting the row count; `skip` decides which rows are excluded (they are returned so
/// the caller can account for them).
#[track_caller]
pub(crate) fn check_pairs(
    name: &str,
    expected_rows: usize,
    cmp: impl Fn(&str, &str) -> Ordering,
    skip: impl Fn(&str, &str) -> bool,
) -> Vec<(String, String)> {
    let rows = rows(name);
    assert_eq!(rows.len(), expected_rows, "{name}: row count");
    let mut failures = Vec::new();
    let mut skipped = Vec::new();
    for row in &rows {
        assert!(row.len() >= 3, "{name}: short row {row:?}");
        let (a, b, want) = (row[0].as_str(), row[1].as_str(), ordering(&row[2]));
        if skip(a, b) {
            skipped.push((a.to_owned(), b.to_owned()));
            continue;
        }
        let got = cmp(a, b);
        let back = cmp(b, a);
        if got != want || back != want.reverse() {
            failures.push(format!(
                "{a:?} vs {b:?}: want {want:?}, got {got:?} / reversed {back:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{name}: {} of {} rows wrong, e.g.:\n{}",
        failures.len(),
        rows.len(),
        failures[..failures.len().min(20)].join("\n")
    );
    skipped
}

/// Asserts that `cmp` orders `versions` exactly as listed: each entry is a group of versions
/// that compare equal, groups in strictly increasing order. Every pair is checked both ways.
#[track_caller]
pub(crate) fn assert_spec_order(cmp: impl Fn(&str, &str) -> Ordering, groups: &[&[&str]]) {
    for (i, gi) in groups.iter().enumerate() {
        for (j, gj) in groups.iter().enumerate() {
            let want = i.cmp(&j);
            for a in *gi {
                for b in *gj {
                    assert_eq!(cmp(a, b), want, "{a:?} vs {b:?}");
                }
            }
        }
    }
}
