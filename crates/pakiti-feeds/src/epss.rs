//! FIRST EPSS daily scores (`epss_scores-YYYY-MM-DD.csv[.gz]`): one [`EpssScore`] per CVE.
//!
//! Every header FIRST has published is read: `cve,epss` (2021-04), `cve,epss,percentile`
//! (2021-09), and either preceded by a `#model_version:…,score_date:…` comment line (2022 on).
//! Any other header is a [`FeedError::Format`]: a new column layout must be loud. A row whose
//! CVE or numbers do not read is a [`Problem`].

use std::io::BufRead;

use crate::kev::is_cve;
use crate::{FeedError, Parsed, Problem};

/// One CVE's score.
#[derive(Clone, Debug, PartialEq)]
pub struct EpssScore {
    /// The CVE, upper case.
    pub cve: String,
    /// Probability of exploitation activity in the next 30 days, 0.0 – 1.0.
    pub score: f32,
    /// The score's percentile among all CVEs, 0.0 – 1.0 (absent from the 2021-04 format).
    pub percentile: Option<f32>,
}

/// What the comment line said, if the file has one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EpssHeader {
    /// `model_version`.
    pub model_version: Option<String>,
    /// `score_date`.
    pub score_date: Option<String>,
}

/// Reads the `#model_version:…,score_date:…` comment line.
fn read_comment(line: &str) -> EpssHeader {
    let mut h = EpssHeader::default();
    for part in line.trim_start_matches('#').split(',') {
        if let Some((k, v)) = part.split_once(':') {
            match k.trim() {
                "model_version" => h.model_version = Some(v.trim().to_owned()),
                "score_date" => h.score_date = Some(v.trim().to_owned()),
                _ => {}
            }
        }
    }
    h
}

fn unit(s: &str) -> Option<f32> {
    let v: f32 = s.trim().parse().ok()?;
    (0.0..=1.0).contains(&v).then_some(v)
}

/// Parses a (decompressed) EPSS CSV.
///
/// # Errors
/// Unreadable, an unknown header, or no rows.
pub fn parse<R: BufRead>(reader: R) -> Result<Parsed<EpssScore>, FeedError> {
    parse_with_header(reader).map(|(p, _)| p)
}

/// [`parse`], also returning what the comment line said.
///
/// # Errors
/// As [`parse`].
pub fn parse_with_header<R: BufRead>(
    reader: R,
) -> Result<(Parsed<EpssScore>, EpssHeader), FeedError> {
    let format = |reason: String| FeedError::Format {
        expected: "FIRST EPSS CSV",
        reason,
    };
    let mut lines = reader.lines();
    let mut header = EpssHeader::default();
    let mut columns = None;
    for line in lines.by_ref() {
        let line = line?;
        let line = line.trim_start_matches('\u{feff}').trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('#') {
            header = read_comment(line);
            continue;
        }
        columns = Some(line.to_owned());
        break;
    }
    let Some(columns) = columns else {
        return Err(format("empty document".to_owned()));
    };
    let with_percentile = match columns.as_str() {
        "cve,epss,percentile" => true,
        "cve,epss" => false,
        other => {
            let shown: String = other.chars().take(80).collect();
            return Err(format(format!(
                "header {shown:?} is not cve,epss[,percentile]"
            )));
        }
    };
    let mut out = Parsed::default();
    for (n, line) in lines.enumerate() {
        let line = line?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut f = line.split(',');
        let (cve, score, pct) = (f.next(), f.next(), f.next());
        let extra = f.next().is_some();
        let cve = cve.unwrap_or_default().trim().to_ascii_uppercase();
        let row = n + 2;
        if !is_cve(&cve) {
            out.problems.push(Problem::new(
                None::<String>,
                format!("row {row}: not a CVE name"),
            ));
            continue;
        }
        let score = score.and_then(unit);
        let percentile = if with_percentile {
            match pct.and_then(unit) {
                Some(p) => Some(p),
                None => {
                    out.problems
                        .push(Problem::new(Some(cve), "skipped: percentile is not 0 – 1"));
                    continue;
                }
            }
        } else {
            None
        };
        let Some(score) = score.filter(|_| !extra && (with_percentile || pct.is_none())) else {
            out.problems.push(Problem::new(
                Some(cve),
                "skipped: the epss score is not 0 – 1 or the row has other columns",
            ));
            continue;
        };
        out.records.push(EpssScore {
            cve,
            score,
            percentile,
        });
    }
    if out.records.is_empty() {
        return Err(format("no scores".to_owned()));
    }
    Ok((out, header))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_headers_and_the_comment_line() {
        let (p, h) = parse_with_header(
            &b"#model_version:v2023.03.01,score_date:2023-03-07T00:00:00+0000\ncve,epss,percentile\nCVE-2020-5902,0.97567,0.99995\n"[..],
        )
        .unwrap();
        assert_eq!(h.model_version.as_deref(), Some("v2023.03.01"));
        assert_eq!(p.records[0].percentile, Some(0.99995));
        let p = parse(&b"cve,epss\nCVE-2020-5902,0.65117\ncve-2018-19571,2\n"[..]).unwrap();
        assert_eq!(p.records.len(), 1);
        assert_eq!(p.records[0].percentile, None);
        assert_eq!(p.problems.len(), 1);
    }

    #[test]
    fn another_header_is_a_format_error() {
        for doc in [
            &b"cve,score,percentile\nCVE-2020-5902,0.9,0.9\n"[..],
            &b"#model_version:x\n"[..],
            &b""[..],
            &b"cve,epss,percentile\n"[..],
        ] {
            assert!(
                matches!(parse(doc), Err(FeedError::Format { .. })),
                "{}",
                String::from_utf8_lossy(doc)
            );
        }
    }
}
