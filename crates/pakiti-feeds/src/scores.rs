//! CVSS base scores per CVE, read from the vulnerability feeds that carry them, for the CVE
//! facts (the risk order): Red Hat OVAL (`<cve cvss3="7.5/CVSS:3.1/…">`), Ubuntu OVAL
//! (`cvss_score="…"`), CSAF and VEX (`vulnerabilities[].scores[].cvss_v3.baseScore`, else
//! `cvss_v2`), OSV (`severity` CVSS v3 vectors, scored by [`crate::osv`]).
//!
//! A second, light pass over a document the feed's parser already read: advisories do not
//! carry scores (the matcher does not need them). Pure: bytes in, `(CVE, score)` out, the
//! highest score per CVE; a document without scores gives none, never an error.

use std::collections::HashMap;

use serde_json::Value;

use crate::FeedKind;
use crate::kev::is_cve;

/// The highest CVSS base score per CVE in a (decompressed) document of `kind`, sorted by CVE.
#[must_use]
pub fn cvss_by_cve(kind: FeedKind, data: &[u8]) -> Vec<(String, f32)> {
    let mut best: HashMap<String, f32> = HashMap::new();
    let mut add = |cve: &str, score: f32| {
        let cve = cve.trim().to_ascii_uppercase();
        if is_cve(&cve) && (0.0..=10.0).contains(&score) && score > 0.0 {
            let e = best.entry(cve).or_insert(score);
            if score > *e {
                *e = score;
            }
        }
    };
    match kind {
        FeedKind::RedhatOval | FeedKind::UbuntuOval | FeedKind::SuseOval => oval(data, &mut add),
        FeedKind::Csaf => json_values(data, |v| csaf(v, &mut add)),
        FeedKind::Osv => json_values(data, |v| crate::osv::cvss_of_record(v, &mut add)),
        _ => {}
    }
    let mut out: Vec<(String, f32)> = best.into_iter().collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Every JSON value of a document (one, an array of them, or JSON lines).
fn json_values(data: &[u8], mut f: impl FnMut(&Value)) {
    for v in serde_json::Deserializer::from_slice(data).into_iter::<Value>() {
        match v {
            Ok(Value::Array(items)) => items.iter().for_each(&mut f),
            Ok(other) => f(&other),
            Err(_) => return,
        }
    }
}

fn csaf(doc: &Value, add: &mut impl FnMut(&str, f32)) {
    let Some(vulns) = doc.get("vulnerabilities").and_then(Value::as_array) else {
        return;
    };
    for v in vulns {
        let Some(cve) = v.get("cve").and_then(Value::as_str) else {
            continue;
        };
        let scores = v.get("scores").and_then(Value::as_array);
        let pick = |key: &str| {
            scores
                .into_iter()
                .flatten()
                .filter_map(|s| s.get(key)?.get("baseScore")?.as_f64())
                .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))
        };
        if let Some(s) = pick("cvss_v3").or_else(|| pick("cvss_v2")) {
            #[allow(clippy::cast_possible_truncation)]
            add(cve, s as f32);
        }
    }
}

/// The value of attribute `name` in the text of one start tag.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = tag;
    loop {
        let at = rest.find(name)?;
        let before = rest[..at].chars().last();
        let after = &rest[at + name.len()..];
        if before.is_none_or(char::is_whitespace)
            && let Some(v) = after.strip_prefix("=\"")
        {
            return v.find('"').map(|end| &v[..end]);
        }
        rest = after;
    }
}

/// `<cve …>CVE-…</cve>` elements with a score attribute: Red Hat's `cvss3="7.5/CVSS:3.1/…"`
/// (else `cvss2`), Ubuntu's `cvss_score="7.5"`.
fn oval(data: &[u8], add: &mut impl FnMut(&str, f32)) {
    let text = String::from_utf8_lossy(data);
    let mut rest: &str = &text;
    while let Some(at) = rest.find("<cve ") {
        rest = &rest[at + 5..];
        let Some(close) = rest.find('>') else {
            return;
        };
        let tag = &rest[..close];
        let body = &rest[close + 1..];
        let Some(end) = body.find("</cve>") else {
            continue;
        };
        let cve = body[..end].trim();
        let lead = |v: &str| {
            v.split('/')
                .next()
                .and_then(|s| s.trim().parse::<f32>().ok())
        };
        let score = attr(tag, "cvss3")
            .and_then(lead)
            .or_else(|| attr(tag, "cvss_score").and_then(|v| v.trim().parse().ok()))
            .or_else(|| attr(tag, "cvss2").and_then(lead));
        if let Some(s) = score {
            add(cve, s);
        }
        rest = &body[end..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oval_cve_attributes() {
        let doc = br#"<x><cve cvss3="7.5/CVSS:3.1/AV:N" href="h">CVE-2013-7488</cve>
            <cve cvss2="5.4/AV:N" cvss3="8.8/CVSS:3.0/AV:N" impact="low">CVE-2015-8540</cve>
            <cve href="x" cvss_score="6.1" cvss_vector="v">CVE-2020-0001</cve>
            <cve cvss3="9.8/CVSS:3.1" href="h">CVE-2013-7488</cve>
            <cve href="x">CVE-2020-0002</cve></x>"#;
        let s = cvss_by_cve(FeedKind::RedhatOval, doc);
        assert_eq!(
            s,
            vec![
                ("CVE-2013-7488".to_owned(), 9.8),
                ("CVE-2015-8540".to_owned(), 8.8),
                ("CVE-2020-0001".to_owned(), 6.1),
            ]
        );
    }

    #[test]
    fn csaf_scores() {
        let doc = br#"{"document":{},"vulnerabilities":[
            {"cve":"CVE-2023-38545","scores":[{"cvss_v3":{"baseScore":9.8}},{"cvss_v2":{"baseScore":10.0}}]},
            {"cve":"CVE-2023-1234","scores":[{"cvss_v2":{"baseScore":4.3}}]},
            {"cve":"CVE-2023-2"}]}"#;
        let s = cvss_by_cve(FeedKind::Csaf, doc);
        assert_eq!(
            s,
            vec![
                ("CVE-2023-1234".to_owned(), 4.3),
                ("CVE-2023-38545".to_owned(), 9.8)
            ]
        );
    }
}
