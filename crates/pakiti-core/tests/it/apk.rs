//! apk vectors: apk-tools' own `version.data`, the oracle file built with apk-tools 3.0.6, and
//! osv-scalibr's Alpine lists (some of whose versions apk-tools 3 rejects).

use crate::{check_pairs, read_file, rows};
use pakiti_core::version::Scheme;
use pakiti_core::version::apk::{compare, compare_fuzzy, validate};
use std::cmp::Ordering;

fn invalid(v: &str) -> bool {
    validate(v).is_err()
}

fn either_invalid(a: &str, b: &str) -> bool {
    invalid(a) || invalid(b)
}

/// Whether `a op b` holds, `op` as in apk's `version.data` (`~` = fuzzy prefix match).
fn holds(a: &str, op: &str, b: &str) -> bool {
    let (ord, allowed): (Ordering, &[Ordering]) = match op {
        "<" => (compare(a, b), &[Ordering::Less]),
        ">" => (compare(a, b), &[Ordering::Greater]),
        "=" => (compare(a, b), &[Ordering::Equal]),
        "~" => (compare_fuzzy(a, b), &[Ordering::Equal]),
        "<~" => (compare_fuzzy(a, b), &[Ordering::Less, Ordering::Equal]),
        ">~" => (compare_fuzzy(a, b), &[Ordering::Greater, Ordering::Equal]),
        other => panic!("unknown operator {other:?}"),
    };
    allowed.contains(&ord)
}

#[test]
fn apk_tools_version_data_relations() {
    let rows = rows("apk.tsv");
    assert_eq!(rows.len(), 754);
    let mut with_invalid = Vec::new();
    for row in &rows {
        let (a, op, b) = (&*row[0], &*row[1], &*row[2]);
        let want = match &*row[3] {
            "true" => true,
            "false" => false,
            other => panic!("bad holds column {other:?}"),
        };
        assert_eq!(holds(a, op, b), want, "{a} {op} {b}");
        if either_invalid(a, b) {
            with_invalid.push(format!("{a} {op} {b}"));
        }
    }
    // apk-tools 3.0.6 `apk version -t` refuses these (no output); the comparison function,
    // which we follow, still orders them as version.data says.
    assert_eq!(
        with_invalid,
        [
            "23_foo > 4_beta",
            "1.0 < 1.0bc",
            "3.6.9_post1 ~ 3.6",
            "3.6.9_post1 ~ 3.8"
        ]
    );
}

#[test]
fn apk_tools_validity_list() {
    let rows = rows("apk-validity.tsv");
    assert_eq!(rows.len(), 31);
    let (mut valid, mut rejected) = (0, 0);
    for row in &rows {
        match &*row[1] {
            "valid" => {
                assert_eq!(validate(&row[0]), Ok(()), "{:?}", row[0]);
                assert_eq!(Scheme::Apk.validate(&row[0]), Ok(()));
                valid += 1;
            }
            "invalid" => {
                assert!(invalid(&row[0]), "{:?} accepted", row[0]);
                rejected += 1;
            }
            other => panic!("bad expectation {other:?}"),
        }
    }
    assert_eq!((valid, rejected), (6, 25));
}

/// The original `version.data` must say exactly what `apk.tsv` and `apk-validity.tsv` say.
#[test]
fn original_version_data_matches_the_tsv_files() {
    let text = read_file("apk-tools-version.data");
    let mut relations = Vec::new();
    let mut validity = Vec::new();
    let mut blank = 0;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] if line.is_empty() => blank += 1,
            [a, op, b] => {
                let (op, holds) = op.strip_prefix('!').map_or((*op, "true"), |o| (o, "false"));
                relations.push(vec![
                    a.to_string(),
                    op.to_owned(),
                    b.to_string(),
                    holds.to_owned(),
                ]);
            }
            [v] => {
                let (v, kind) = v
                    .strip_prefix('!')
                    .map_or((*v, "valid"), |v| (v, "invalid"));
                validity.push(vec![v.to_owned(), kind.to_owned()]);
            }
            other => panic!("unexpected line {other:?}"),
        }
    }
    assert_eq!(blank, 3);
    assert_eq!(relations, rows("apk.tsv"));
    let mut tsv_validity = rows("apk-validity.tsv");
    // `!` alone on a line is the empty version, which the TSV writes as an empty field.
    validity.retain(|r| !r[0].is_empty());
    tsv_validity.retain(|r| !r[0].is_empty());
    assert_eq!(validity.len(), 30);
    assert_eq!(validity, tsv_validity);
}

#[test]
fn oracle_20k() {
    check_pairs("apk-oracle-20k.tsv", 20_000, compare, |_, _| false);
    check_pairs(
        "apk-oracle-20k.tsv",
        20_000,
        |a, b| Scheme::Apk.compare(a, b),
        |_, _| false,
    );
    // apk accepted every version in this file.
    let bad: Vec<String> = rows("apk-oracle-20k.tsv")
        .iter()
        .flat_map(|r| [r[0].clone(), r[1].clone()])
        .filter(|v| invalid(v))
        .collect();
    assert_eq!(bad, Vec::<String>::new());
}

#[test]
fn osv_scalibr_generated_real_alpine_chains() {
    let skipped = check_pairs(
        "apk-osv-scalibr-generated.tsv",
        13_979,
        compare,
        either_invalid,
    );
    // apk-tools 3 rejects one side of exactly these rows (e.g. `5.1p1-r0`); SOURCES.md: 58.
    assert_eq!(skipped.len(), 58);
}

#[test]
fn osv_scalibr_hand_written() {
    let skipped = check_pairs("apk-osv-scalibr.tsv", 778, compare, either_invalid);
    // SOURCES.md: 37 rows involve versions apk 3 rejects (`1.2.0A`, `6.6.2p1`, `1-ruff`, `.1` ...).
    assert_eq!(skipped.len(), 37);
}
