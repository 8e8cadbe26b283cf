//! CISA Known Exploited Vulnerabilities catalogue (`known_exploited_vulnerabilities.json`,
//! schema in `shared/data/prioritisation/cisa-kev/`): one [`KevEntry`] per CVE.
//!
//! The document is an object with `catalogVersion` and a `vulnerabilities` array; a document
//! without them is a [`FeedError::Format`] (a format change is loud, never a silent zero). An
//! entry without a valid `cveID` or `dateAdded` is a [`Problem`], the rest is kept.

use std::io::Read;

use serde::Deserialize;

use crate::{FeedError, Parsed, Problem};

/// One CVE of the catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KevEntry {
    /// `cveID`, upper case.
    pub cve: String,
    /// `dateAdded` (`YYYY-MM-DD`).
    pub date_added: String,
    /// `dueDate` (`YYYY-MM-DD`).
    pub due_date: Option<String>,
    /// `knownRansomwareCampaignUse` is `Known`.
    pub ransomware: bool,
}

#[derive(Deserialize)]
struct RawCatalogue {
    #[serde(rename = "catalogVersion")]
    catalog_version: Option<String>,
    vulnerabilities: Option<Vec<serde_json::Value>>,
}

#[derive(Deserialize)]
struct RawEntry {
    #[serde(rename = "cveID")]
    cve_id: String,
    #[serde(rename = "dateAdded")]
    date_added: String,
    #[serde(rename = "dueDate")]
    due_date: Option<String>,
    #[serde(rename = "knownRansomwareCampaignUse")]
    ransomware: Option<String>,
}

/// Whether `s` looks like `YYYY-MM-DD`.
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// Whether `s` is a CVE name (`CVE-YYYY-NNNN…`).
pub(crate) fn is_cve(s: &str) -> bool {
    let mut parts = s.splitn(3, '-');
    parts.next().is_some_and(|p| p.eq_ignore_ascii_case("CVE"))
        && parts
            .next()
            .is_some_and(|y| y.len() == 4 && y.bytes().all(|c| c.is_ascii_digit()))
        && parts
            .next()
            .is_some_and(|n| n.len() >= 4 && n.bytes().all(|c| c.is_ascii_digit()))
}

/// Parses the catalogue.
///
/// # Errors
/// Not JSON, or not the KEV catalogue (no `catalogVersion` or no `vulnerabilities` array).
pub fn parse<R: Read>(reader: R) -> Result<Parsed<KevEntry>, FeedError> {
    let raw: RawCatalogue =
        serde_json::from_reader(reader).map_err(|e| FeedError::Json(e.to_string()))?;
    let format = |reason: &str| FeedError::Format {
        expected: "CISA KEV catalogue",
        reason: reason.to_owned(),
    };
    if raw.catalog_version.is_none() {
        return Err(format("no catalogVersion"));
    }
    let Some(vulns) = raw.vulnerabilities else {
        return Err(format("no vulnerabilities array"));
    };
    let mut out = Parsed::default();
    for v in vulns {
        let id = v.get("cveID").and_then(|c| c.as_str()).map(str::to_owned);
        let e: RawEntry = match serde_json::from_value(v) {
            Ok(e) => e,
            Err(err) => {
                out.problems
                    .push(Problem::new(id, format!("skipped: {err}")));
                continue;
            }
        };
        let cve = e.cve_id.trim().to_ascii_uppercase();
        if !is_cve(&cve) {
            out.problems
                .push(Problem::new(Some(e.cve_id), "skipped: not a CVE name"));
            continue;
        }
        if !is_date(&e.date_added) {
            out.problems.push(Problem::new(
                Some(cve),
                format!("skipped: dateAdded {:?} is not YYYY-MM-DD", e.date_added),
            ));
            continue;
        }
        let due_date = e.due_date.filter(|d| is_date(d));
        out.records.push(KevEntry {
            cve,
            date_added: e.date_added,
            due_date,
            ransomware: e
                .ransomware
                .is_some_and(|r| r.trim().eq_ignore_ascii_case("known")),
        });
    }
    if out.records.is_empty() {
        return Err(format("no entries"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_entries_and_flags_bad_ones() {
        let doc = br#"{"catalogVersion":"1","vulnerabilities":[
            {"cveID":"CVE-2021-44228","dateAdded":"2021-12-10","dueDate":"2021-12-24","knownRansomwareCampaignUse":"Known"},
            {"cveID":"CVE-2020-0001","dateAdded":"2020-01-01","knownRansomwareCampaignUse":"Unknown"},
            {"cveID":"nope","dateAdded":"2020-01-01"},
            {"cveID":"CVE-2020-0002","dateAdded":"yesterday"},
            {"dateAdded":"2020-01-01"}
        ]}"#;
        let p = parse(&doc[..]).unwrap();
        assert_eq!(p.records.len(), 2);
        assert_eq!(p.problems.len(), 3);
        assert!(p.records[0].ransomware);
        assert_eq!(p.records[0].due_date.as_deref(), Some("2021-12-24"));
        assert!(!p.records[1].ransomware);
        assert_eq!(p.records[1].due_date, None);
    }

    #[test]
    fn another_document_is_a_format_error() {
        assert!(matches!(
            parse(&br#"{"vulnerabilities":[]}"#[..]),
            Err(FeedError::Format { .. })
        ));
        assert!(matches!(
            parse(&br#"{"catalogVersion":"1","vulns":[]}"#[..]),
            Err(FeedError::Format { .. })
        ));
        assert!(matches!(
            parse(&br#"{"catalogVersion":"1","vulnerabilities":[]}"#[..]),
            Err(FeedError::Format { .. })
        ));
        assert!(matches!(parse(&b"[1,"[..]), Err(FeedError::Json(_))));
    }
}
