//! Alpine secdb JSON (`https://secdb.alpinelinux.org/v3.19/main.json`).
//!
//! `{"distroversion": "v3.11", "reponame": "main", "packages": [{"pkg": {"name": "openssl",
//! "secfixes": {"1.1.1d-r2": ["CVE-2019-1547", ...], "0": ["CVE-..."]}}}]}`.
//!
//! Model: one [`Advisory`] per issue id in the document's stream (`alpine:3.11`, the `v`
//! stripped), with one entry per package and version that names it.
//!
//! - **Package kind.** secdb names are `APKBUILD` `pkgname`s, i.e. *origin* packages: the
//!   fixes for `openssl` cover the binaries `libcrypto3` and `libssl3` built from it. The
//!   entries are therefore [`PackageKind::Source`](pakiti_core::advisory::PackageKind::Source); the matcher relates an installed binary
//!   to its origin through the agent's `source` field (apk's `o:` origin) or a source map, and
//!   falls back to the binary's own name, which equals the origin for most packages.
//! - **Statuses.** A version key is the first fixed version ([`Status::Fixed`]). The key `0`
//!   is Alpine's convention for "never affected in this branch" ([`Status::NotAffected`]).
//! - **Ids.** A secfix value is free text: usually `CVE-…`, sometimes `CVE-… XSA-…`, several
//!   CVEs, misspellings (`CVE_2018-…`, `CVE 2018-…`, `CVE-2017-17434-1`) or other ids only
//!   (`XSA-207`, `ZBX-11023`, `wnpa-sec-2017-18`, `GHSA-…`). Every CVE id found is one
//!   advisory; a value without any CVE becomes one advisory named by its first id token
//!   (placeholders like `CVE-????-?????` skipped); the raw text is kept in the title.
//! - **Wolfi.** Wolfi publishes the same layout without `distroversion`. Wolfi is not a
//!   [`Distro`], so such a document yields no records and one problem saying so, unless
//!   `opts.stream` names the stream to use.

use std::collections::HashMap;
use std::io::BufRead;

use pakiti_core::advisory::{Advisory, Affected, Status};
use pakiti_core::stream::{Distro, OsStream};
use serde::Deserialize;

use crate::{FeedError, ParseOptions, Parsed, Problem};

const SOURCE: &str = "alpine-secdb";

#[derive(Deserialize)]
struct RawDb {
    #[serde(default)]
    distroversion: Option<String>,
    #[serde(default)]
    urlprefix: Option<String>,
    packages: serde_json::Value,
}

#[derive(Deserialize)]
struct RawEntry {
    pkg: RawPkg,
}

#[derive(Deserialize)]
struct RawPkg {
    name: String,
    #[serde(default)]
    secfixes: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Parses one secdb JSON document (`main.json`, `community.json`).
///
/// `opts.stream`, when set, replaces the document's `distroversion`.
///
/// # Errors
/// Reading failed, the JSON is malformed or has no `packages` array, or it names no stream
/// and is not a Wolfi document.
pub fn parse<R: BufRead>(reader: R, opts: &ParseOptions) -> Result<Parsed<Advisory>, FeedError> {
    let db: RawDb = serde_json::from_reader(reader).map_err(|e| FeedError::Json(e.to_string()))?;
    let mut out = Parsed::default();
    let stream = match (&opts.stream, db.distroversion.as_deref().map(str::trim)) {
        (Some(s), _) => s.clone(),
        (None, Some(v)) if !v.is_empty() => {
            OsStream::new(Distro::Alpine, v.strip_prefix('v').unwrap_or(v))
        }
        (None, _) => {
            if db.urlprefix.as_deref().is_some_and(|u| u.contains("wolfi")) {
                out.problems.push(Problem::new(
                    None::<String>,
                    format!(
                        "wolfi secdb ({} packages) skipped: wolfi is not a supported distro",
                        db.packages.as_array().map_or(0, Vec::len)
                    ),
                ));
                return Ok(out);
            }
            return Err(FeedError::Format {
                expected: "alpine secdb json",
                reason: "no distroversion".into(),
            });
        }
    };
    let packages = match db.packages {
        serde_json::Value::Array(items) => items,
        // The YAML-derived files write an empty package list as `""`.
        serde_json::Value::String(s) if s.trim().is_empty() => {
            out.problems.push(Problem::new(
                None::<String>,
                "packages is an empty string, not a list: no packages",
            ));
            Vec::new()
        }
        other => {
            return Err(FeedError::Format {
                expected: "alpine secdb json",
                reason: format!("packages is not a list: {other}"),
            });
        }
    };
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, raw) in packages.into_iter().enumerate() {
        let entry = match RawEntry::deserialize(raw) {
            Ok(e) => e,
            Err(e) => {
                out.problems.push(Problem::new(
                    None::<String>,
                    format!("packages[{i}]: unreadable package: {e}"),
                ));
                continue;
            }
        };
        let pkg = entry.pkg.name;
        let Some(secfixes) = entry.pkg.secfixes else {
            out.problems
                .push(Problem::new(Some(pkg), "package without secfixes"));
            continue;
        };
        for (version, ids) in secfixes {
            let version = version.trim();
            let status = if version == "0" {
                Status::NotAffected
            } else {
                Status::Fixed(version.to_owned())
            };
            let texts: Vec<&str> = match &ids {
                serde_json::Value::Array(a) => {
                    a.iter().filter_map(serde_json::Value::as_str).collect()
                }
                _ => Vec::new(),
            };
            let non_strings = ids.as_array().map_or(1, |a| a.len() - texts.len());
            if non_strings > 0 {
                out.problems.push(Problem::new(
                    Some(pkg.clone()),
                    format!("{version}: secfix list is not a list of strings"),
                ));
            }
            for text in texts {
                let ids = issue_ids(text);
                if ids.is_empty() {
                    out.problems.push(Problem::new(
                        Some(pkg.clone()),
                        format!("{version}: no issue id in {text:?}"),
                    ));
                }
                for (id, is_cve) in ids {
                    let next = out.records.len();
                    let ai = *index.entry(id.clone()).or_insert(next);
                    if ai == next {
                        out.records.push(Advisory {
                            references: if is_cve {
                                vec![format!("https://security.alpinelinux.org/vuln/{id}")]
                            } else {
                                Vec::new()
                            },
                            cves: if is_cve { vec![id.clone()] } else { Vec::new() },
                            id,
                            source: SOURCE.to_owned(),
                            title: format!("{pkg}: {}", text.trim()),
                            ..Advisory::default()
                        });
                    }
                    let adv = &mut out.records[ai];
                    let entry = Affected::source(stream.clone(), pkg.as_str(), status.clone());
                    if !adv.affected.contains(&entry) {
                        adv.affected.push(entry);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The issue ids in one secfix text, with whether each is a CVE: every CVE found, or else
/// the first id-like token.
fn issue_ids(text: &str) -> Vec<(String, bool)> {
    let cves = crate::osv::find_cves(text);
    if !cves.is_empty() {
        return cves.into_iter().map(|c| (c, true)).collect();
    }
    text.split_whitespace()
        .map(|t| t.trim_matches(|c: char| !c.is_ascii_alphanumeric()))
        .find(|t| {
            !t.is_empty()
                && !t.contains('?')
                && t.contains('-')
                && t.starts_with(|c: char| c.is_ascii_alphabetic())
        })
        .map(|t| vec![(t.to_owned(), false)])
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_free_text() {
        assert_eq!(
            issue_ids("CVE-2016-9932 XSA-200"),
            [("CVE-2016-9932".to_owned(), true)]
        );
        assert_eq!(
            issue_ids("CVE-????-?????  XSA-295"),
            [("XSA-295".to_owned(), false)]
        );
        assert_eq!(
            issue_ids("CVE 2018-16859"),
            [("CVE-2018-16859".to_owned(), true)]
        );
        assert_eq!(
            issue_ids("CVE_2018-1000"),
            [("CVE-2018-1000".to_owned(), true)]
        );
        assert_eq!(
            issue_ids("CVE-2017-17434-1"),
            [("CVE-2017-17434".to_owned(), true)]
        );
        assert_eq!(
            issue_ids("wnpa-sec-2017-18"),
            [("wnpa-sec-2017-18".to_owned(), false)]
        );
        assert!(issue_ids("").is_empty());
    }

    #[test]
    fn zero_is_not_affected() {
        let doc = r#"{"distroversion": "v3.15", "packages": [{"pkg": {"name": "busybox", "secfixes": {
            "0": ["CVE-2021-42373"], "1.27.2-r4": ["CVE-2017-16544 CVE-2017-15873"]}}}]}"#;
        let p = parse(doc.as_bytes(), &ParseOptions::default()).unwrap();
        assert!(p.problems.is_empty());
        assert_eq!(p.records.len(), 3);
        let a = &p.records[0];
        assert_eq!(a.id, "CVE-2021-42373");
        assert_eq!(a.affected[0].stream.to_string(), "alpine:3.15");
        assert_eq!(a.affected[0].status, Status::NotAffected);
        for bad in [
            r#"{"distroversion": "v3.1"}"#,
            r#"{"distroversion": "v3.1", "packages": 5}"#,
            "[]",
        ] {
            assert!(
                parse(bad.as_bytes(), &ParseOptions::default()).is_err(),
                "{bad}"
            );
        }
    }
}
