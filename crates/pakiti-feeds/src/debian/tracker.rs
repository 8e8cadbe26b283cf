//! The Debian security tracker JSON (`https://security-tracker.debian.org/tracker/data/json`).
//!
//! The document is an object: source package → issue id (`CVE-…` or `TEMP-…`) →
//! `{description, scope, debianbug, releases: {codename: {status, fixed_version, urgency,
//! nodsa, nodsa_reason, repositories}}}`. It is about 70 MB, so it is read with a streaming
//! visitor: only one issue's raw JSON is alive at a time, and the output advisories are the
//! only full copy of the data.
//!
//! One [`Advisory`] per issue id (all packages of one CVE merged into its affected list), with
//! one [`PackageKind::Source`] entry per package and release (stream `debian:<codename>`).
//!
//! Status mapping, following the tracker's own semantics:
//! - `resolved` with `fixed_version` `0` → [`Status::NotAffected`] (the tracker writes `0`
//!   when no version in the release was ever vulnerable); `resolved` with a version →
//!   [`Status::Fixed`];
//! - `open` with urgency `end-of-life` → [`Status::EndOfLife`] (the package is out of security
//!   support in that release);
//! - `open` with `nodsa_reason` `ignored` → [`Status::WillNotFix`]: the tracker's `<ignored>`
//!   tag means the team decided the issue will not be fixed in that release;
//! - any other `open` (including `<no-dsa>` minor issues, with an empty `nodsa_reason`, and
//!   `postponed`, which may still be fixed in a point release) → [`Status::Unfixed`];
//! - `undetermined` → [`Status::Unfixed`] (not yet known to be safe).
//!
//! Unknown statuses, unknown `nodsa_reason`s and `resolved` without a version are problems
//! and are taken as `Unfixed`: a wrong "not vulnerable" is the worst outcome. Urgency
//! `unimportant` stays affected (it is a rating, not a verdict) with [`Severity::Low`].
//!
//! [`PackageKind::Source`]: pakiti_core::advisory::PackageKind::Source
//! [`Severity::Low`]: pakiti_core::advisory::Severity::Low

use std::collections::HashMap;
use std::fmt;
use std::io::BufRead;

use pakiti_core::advisory::{Advisory, Affected, Status};
use pakiti_core::stream::{Distro, OsStream};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::debian::{tracker_url, urgency_severity};
use crate::{FeedError, ParseOptions, Parsed, Problem};

const SOURCE: &str = "debian-tracker";

/// Parses the tracker JSON.
///
/// `opts.stream` is ignored: every entry names its own release.
///
/// # Errors
/// Reading failed, the JSON is malformed, or it is not an object of objects (a format change),
/// or it holds no issue at all.
pub fn parse<R: BufRead>(reader: R, opts: &ParseOptions) -> Result<Parsed<Advisory>, FeedError> {
    let _ = opts;
    let mut builder = Builder::default();
    let mut de = serde_json::Deserializer::from_reader(reader);
    Top(&mut builder)
        .deserialize(&mut de)
        .map_err(|e| json_error(&e))?;
    de.end().map_err(|e| json_error(&e))?;
    if builder.advisories.is_empty() {
        return Err(FeedError::Format {
            expected: "debian security tracker json",
            reason: "no issues in the document".into(),
        });
    }
    Ok(Parsed {
        records: builder.advisories,
        problems: builder.problems,
    })
}

fn json_error(e: &serde_json::Error) -> FeedError {
    if e.is_io() {
        FeedError::Io(std::io::Error::other(e.to_string()))
    } else {
        FeedError::Json(e.to_string())
    }
}

#[derive(Default)]
struct Builder {
    index: HashMap<String, usize>,
    advisories: Vec<Advisory>,
    problems: Vec<Problem>,
}

#[derive(Deserialize)]
struct RawIssue {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    debianbug: Option<serde_json::Value>,
    #[serde(default)]
    releases: Releases,
}

#[derive(Deserialize)]
struct RawRelease {
    status: String,
    #[serde(default)]
    fixed_version: Option<String>,
    #[serde(default)]
    urgency: Option<String>,
    #[serde(default)]
    nodsa_reason: Option<String>,
}

/// The `releases` object in document order. PHP-style encoders write an empty object as `[]`,
/// which the real feed does (`chromium-browser`/`CVE-2022-0358`); a non-empty array is noted.
#[derive(Default)]
struct Releases {
    entries: Vec<(String, RawRelease)>,
    stray_array_items: usize,
}

impl<'de> Deserialize<'de> for Releases {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Releases;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of releases")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Releases, A::Error> {
                let mut entries = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, RawRelease>()? {
                    entries.push((k, v));
                }
                Ok(Releases {
                    entries,
                    stray_array_items: 0,
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Releases, A::Error> {
                let mut n = 0;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(Releases {
                    entries: Vec::new(),
                    stray_array_items: n,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// The top-level object: package → issues.
struct Top<'a>(&'a mut Builder);

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of source packages")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(package) = map.next_key::<String>()? {
            map.next_value_seed(Package {
                builder: self.0,
                name: &package,
            })?;
        }
        Ok(())
    }
}

/// One package's object: issue id → issue.
struct Package<'a> {
    builder: &'a mut Builder,
    name: &'a str,
}

impl<'de> DeserializeSeed<'de> for Package<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Package<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of issues")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(id) = map.next_key::<String>()? {
            // The issue goes through a `Value` so that one odd issue is a problem, not the end
            // of the whole document.
            let value: serde_json::Value = map.next_value()?;
            match RawIssue::deserialize(value) {
                Ok(issue) => self.builder.add(self.name, &id, issue),
                Err(e) => self.builder.problems.push(Problem::new(
                    Some(id.clone()),
                    format!("package {}: unreadable issue: {e}", self.name),
                )),
            }
        }
        Ok(())
    }
}

impl Builder {
    fn add(&mut self, package: &str, id: &str, issue: RawIssue) {
        let next = self.advisories.len();
        let ai = *self.index.entry(id.to_owned()).or_insert(next);
        if ai == next {
            self.advisories.push(Advisory {
                id: id.to_owned(),
                source: SOURCE.to_owned(),
                cves: if crate::osv::is_cve(id) {
                    vec![id.to_owned()]
                } else {
                    Vec::new()
                },
                references: vec![tracker_url(id)],
                ..Advisory::default()
            });
        }
        let adv = &mut self.advisories[ai];
        if adv.title.is_empty()
            && let Some(d) = &issue.description
        {
            d.lines()
                .next()
                .unwrap_or_default()
                .trim()
                .clone_into(&mut adv.title);
        }
        if let Some(bug) = issue.debianbug.as_ref().and_then(bug_number) {
            let url = format!("https://bugs.debian.org/{bug}");
            if !adv.references.contains(&url) {
                adv.references.push(url);
            }
        }
        if issue.releases.stray_array_items > 0 {
            self.problems.push(Problem::new(
                Some(id),
                format!("package {package}: releases is a non-empty array, not an object"),
            ));
        }
        for (codename, rel) in issue.releases.entries {
            let urgency = rel.urgency.as_deref().unwrap_or("");
            match urgency_severity(urgency) {
                Some(sev) => adv.severity = adv.severity.max(sev),
                None => self.problems.push(Problem::new(
                    Some(id),
                    format!("package {package} in {codename}: unknown urgency {urgency:?}"),
                )),
            }
            let status = match release_status(&rel, urgency) {
                Ok(s) => s,
                Err(why) => {
                    self.problems.push(Problem::new(
                        Some(id),
                        format!("package {package} in {codename}: {why}, taken as unfixed"),
                    ));
                    Status::Unfixed
                }
            };
            adv.affected.push(Affected::source(
                OsStream::new(Distro::Debian, &codename),
                package,
                status,
            ));
        }
    }
}

fn release_status(rel: &RawRelease, urgency: &str) -> Result<Status, String> {
    match rel.status.as_str() {
        "resolved" => match rel.fixed_version.as_deref().map(str::trim) {
            Some("0") => Ok(Status::NotAffected),
            Some(v) if !v.is_empty() => Ok(Status::Fixed(v.to_owned())),
            _ => Err("resolved without a fixed version".into()),
        },
        "open" => {
            if urgency.trim_end_matches('*') == "end-of-life" {
                return Ok(Status::EndOfLife);
            }
            match rel.nodsa_reason.as_deref().unwrap_or("") {
                "ignored" => Ok(Status::WillNotFix),
                "" | "postponed" => Ok(Status::Unfixed),
                other => Err(format!("unknown nodsa_reason {other:?}")),
            }
        }
        "undetermined" => Ok(Status::Unfixed),
        other => Err(format!("unknown status {other:?}")),
    }
}

fn bug_number(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pakiti_core::advisory::Severity;

    #[test]
    fn statuses_and_merging() {
        let doc = r#"{
          "a": {"CVE-2020-1": {"description": "x\ny", "debianbug": 5, "releases": {
              "bookworm": {"status": "resolved", "fixed_version": "0", "urgency": "unimportant"},
              "bullseye": {"status": "open", "urgency": "low**", "nodsa": "x", "nodsa_reason": "ignored"},
              "buster": {"status": "open", "urgency": "end-of-life"},
              "sid": {"status": "undetermined", "urgency": "high"}}}},
          "b": {"CVE-2020-1": {"releases": {"bookworm": {"status": "resolved", "fixed_version": "1.0-1", "urgency": "medium"}}},
                "TEMP-0000000-1": {"releases": []}}
        }"#;
        let p = parse(doc.as_bytes(), &ParseOptions::default()).unwrap();
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(p.records.len(), 2);
        let a = &p.records[0];
        assert_eq!(a.title, "x");
        assert_eq!(a.severity, Severity::High);
        let st: Vec<_> = a
            .affected
            .iter()
            .map(|e| (e.package.as_str(), e.stream.to_string(), e.status.clone()))
            .collect();
        assert_eq!(
            st,
            [
                ("a", "debian:bookworm".to_owned(), Status::NotAffected),
                ("a", "debian:bullseye".to_owned(), Status::WillNotFix),
                ("a", "debian:buster".to_owned(), Status::EndOfLife),
                ("a", "debian:sid".to_owned(), Status::Unfixed),
                (
                    "b",
                    "debian:bookworm".to_owned(),
                    Status::Fixed("1.0-1".into())
                ),
            ]
        );
        assert_eq!(a.references[1], "https://bugs.debian.org/5");
        assert!(p.records[1].cves.is_empty());
    }

    #[test]
    fn odd_issue_is_a_problem() {
        let doc = r#"{"a": {"CVE-1": {"releases": {"x": {"fixed_version": "1"}}}, "CVE-2": {"releases": {"x": {"status": "weird", "urgency": "huge"}}}}}"#;
        let p = parse(doc.as_bytes(), &ParseOptions::default()).unwrap();
        assert_eq!(p.records.len(), 1);
        assert_eq!(p.problems.len(), 3, "{:?}", p.problems);
        assert_eq!(p.records[0].affected[0].status, Status::Unfixed);
        assert!(parse(&b"[1]"[..], &ParseOptions::default()).is_err());
        assert!(parse(&b"{}"[..], &ParseOptions::default()).is_err());
    }
}
