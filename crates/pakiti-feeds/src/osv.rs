//! OSV JSON (<https://ossf.github.io/osv-schema/>) for Linux distributions: one record, an
//! array of records, or JSON lines.
//!
//! One [`Advisory`] per record (id = the OSV id: `ALSA-2023:7549`, `DSA-3029-1`,
//! `UBUNTU-CVE-2021-3782`, `USN-5614-1` ...), with one entry per affected package, stream and
//! range.
//!
//! **Ecosystems → streams and package kinds:**
//! - `AlmaLinux:8` → `alma:8`, `Rocky Linux:9` → `rocky:9`: binary rpm names (`kernel-core`,
//!   `krb5-libs`), [`PackageKind::Binary`].
//! - `Debian:12` → `debian:bookworm`: source names (purls say `arch=source`), `Source`.
//! - `Ubuntu:22.04:LTS`, `Ubuntu:24.10` → `ubuntu:22.04`: source names (purls say
//!   `arch=source`; binaries are listed separately), `Source`. `Ubuntu:Pro:16.04:LTS` (ESM)
//!   maps to the same plain stream: a host without Ubuntu Pro that runs the last non-ESM
//!   version is below the ESM fixed version and so is, correctly, reported affected; where a
//!   record has both a plain and a Pro entry, either one matching reports the package. Other
//!   Ubuntu variants (FIPS, realtime ...) ship different builds and are problems.
//! - `Alpine:v3.19` → `alpine:3.19`: origin names, `Source`.
//! - `SUSE:Linux Enterprise <product> 15 SP5` → `sles:15.5` (`sles:12` without an SP), and
//!   `SUSE:Package Hub 12` (community packages installed on SLES) the same way;
//!   `openSUSE:Leap 15.5` → `opensuse:15.5`, `openSUSE:Tumbleweed` → `opensuse:tumbleweed`.
//!   SUSE names the source rpm of the update (the binaries are listed in
//!   `ecosystem_specific`), so these are `Source`.
//! - Anything else is a problem (the entry is skipped, never an error).
//!
//! **Ranges.** Only `ECOSYSTEM` ranges are read. Each introduced/fixed pair is one entry
//! ([`Status::Fixed`], `introduced: "0"` → no lower bound); an introduced without a fix is
//! [`Status::Unfixed`] from that version. `last_affected` has no exact [`Status`] (it would
//! need "fixed in the next version after"), so it becomes `Unfixed` from the introduced
//! version plus a problem: over-reporting, never a wrong "not vulnerable". A `versions` list
//! with no usable range is likewise `Unfixed` plus a problem; next to ranges it is redundant
//! (the Debian and Ubuntu lists enumerate versions below the fix) and is not used.
//!
//! **Severity**, first found: a record severity of type `Ubuntu`, `ecosystem_specific`
//! `ubuntu_priority`, a `database_specific` `severity` word, the Red Hat style summary prefix
//! (`Important: kernel security update`, Alma and Rocky), then the highest CVSS v3 base score
//! band; otherwise unknown.
//!
//! **CVEs** come from the id, `aliases`, `upstream` and `related`, including the embedded
//! form (`UBUNTU-CVE-2021-3782`, `DEBIAN-CVE-2022-1292` → the CVE).
//!
//! `opts.stream` is ignored: OSV records name their ecosystems per entry.

mod cvss;

use std::io::BufRead;

use pakiti_core::advisory::{Advisory, Affected, PackageKind, Severity, Status};
use pakiti_core::stream::{Distro, OsStream};
use serde::{Deserialize, Deserializer};

use crate::{FeedError, ParseOptions, Parsed, Problem};

const SOURCE: &str = "osv";

/// Parses OSV JSON: one record, an array of records, or records one per line.
///
/// # Errors
/// Reading failed, or the JSON is malformed. A record of the wrong shape is a problem.
pub fn parse<R: BufRead>(
    mut reader: R,
    opts: &ParseOptions,
) -> Result<Parsed<Advisory>, FeedError> {
    let _ = opts;
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes)?;
    let mut values: Vec<serde_json::Value> = Vec::new();
    for v in serde_json::Deserializer::from_slice(&bytes).into_iter::<serde_json::Value>() {
        match v.map_err(|e| FeedError::Json(e.to_string()))? {
            serde_json::Value::Array(items) => values.extend(items),
            other => values.push(other),
        }
    }
    drop(bytes);
    if values.is_empty() {
        return Err(FeedError::Format {
            expected: "osv json",
            reason: "no record in the document".into(),
        });
    }
    let mut out = Parsed::default();
    for (i, value) in values.into_iter().enumerate() {
        let id_hint = value.get("id").and_then(|v| v.as_str()).map(str::to_owned);
        match RawRecord::deserialize(value) {
            Ok(rec) => {
                if let Some(adv) = convert(rec, &mut out.problems) {
                    out.records.push(adv);
                }
            }
            Err(e) => out.problems.push(Problem::new(
                Some(id_hint.unwrap_or_else(|| format!("record {i}"))),
                format!("not an osv record: {e}"),
            )),
        }
    }
    Ok(out)
}

fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize)]
struct RawRecord {
    id: String,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    details: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    aliases: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    upstream: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    related: Vec<String>,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    modified: Option<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    severity: Vec<RawSeverity>,
    #[serde(default, deserialize_with = "nullable")]
    affected: Vec<RawAffected>,
    #[serde(default, deserialize_with = "nullable")]
    references: Vec<RawReference>,
    #[serde(default)]
    database_specific: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Deserialize)]
struct RawReference {
    #[serde(rename = "type", default)]
    kind: String,
    url: String,
}

#[derive(Deserialize)]
struct RawAffected {
    #[serde(default)]
    package: Option<RawPackage>,
    #[serde(default, deserialize_with = "nullable")]
    ranges: Vec<RawRange>,
    #[serde(default, deserialize_with = "nullable")]
    versions: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    severity: Vec<RawSeverity>,
    #[serde(default)]
    ecosystem_specific: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawPackage {
    ecosystem: String,
    name: String,
}

#[derive(Deserialize)]
struct RawRange {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default, deserialize_with = "nullable")]
    events: Vec<serde_json::Map<String, serde_json::Value>>,
}

fn convert(rec: RawRecord, problems: &mut Vec<Problem>) -> Option<Advisory> {
    let id = rec.id.trim().to_owned();
    if rec.withdrawn.is_some() {
        problems.push(Problem::new(Some(id), "withdrawn record skipped"));
        return None;
    }
    let mut cves = Vec::new();
    for text in std::iter::once(&id)
        .chain(&rec.aliases)
        .chain(&rec.upstream)
        .chain(&rec.related)
    {
        for cve in find_cves(text) {
            if !cves.contains(&cve) {
                cves.push(cve);
            }
        }
    }
    let mut references: Vec<&RawReference> = rec.references.iter().collect();
    // Vendor page first: the ADVISORY references, in document order.
    references.sort_by_key(|r| r.kind != "ADVISORY");
    let title = rec
        .summary
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .or_else(|| {
            rec.details
                .as_deref()
                .and_then(|d| d.lines().map(str::trim).find(|l| !l.is_empty()))
        })
        .unwrap_or(&id)
        .to_owned();
    let severity = record_severity(&rec);
    let mut affected = Vec::new();
    let mut unknown_ecosystems: Vec<&str> = Vec::new();
    for (ai, a) in rec.affected.iter().enumerate() {
        let Some(pkg) = &a.package else {
            problems.push(Problem::new(
                Some(id.clone()),
                format!("affected[{ai}] has no package"),
            ));
            continue;
        };
        let Some((stream, kind)) = ecosystem(&pkg.ecosystem) else {
            if !unknown_ecosystems.contains(&pkg.ecosystem.as_str()) {
                unknown_ecosystems.push(&pkg.ecosystem);
                problems.push(Problem::new(
                    Some(id.clone()),
                    format!("unknown ecosystem {:?}, its entries skipped", pkg.ecosystem),
                ));
            }
            continue;
        };
        let mut add = |introduced: Option<String>, status: Status| {
            let entry = Affected {
                stream: stream.clone(),
                package: pkg.name.clone(),
                kind,
                arches: Vec::new(),
                module: None,
                introduced,
                last_affected: None,
                status,
            };
            if !affected.contains(&entry) {
                affected.push(entry);
            }
        };
        let mut produced = false;
        for range in &a.ranges {
            if range.kind != "ECOSYSTEM" {
                problems.push(Problem::new(
                    Some(id.clone()),
                    format!("{}: {} range ignored", pkg.name, range.kind),
                ));
                continue;
            }
            let mut open: Option<Option<String>> = None;
            for event in &range.events {
                for (key, value) in event {
                    let version = value.as_str().map(str::trim).unwrap_or_default();
                    match key.as_str() {
                        "introduced" => {
                            // Events are sorted; a second introduced inside an open interval
                            // changes nothing.
                            if open.is_none() {
                                open = Some(
                                    (version != "0" && !version.is_empty())
                                        .then(|| version.to_owned()),
                                );
                            }
                        }
                        "fixed" => {
                            let intro = open.take().unwrap_or_else(|| {
                                problems.push(Problem::new(
                                    Some(id.clone()),
                                    format!("{}: fixed {version:?} without introduced", pkg.name),
                                ));
                                None
                            });
                            produced = true;
                            if version.is_empty() {
                                problems.push(Problem::new(
                                    Some(id.clone()),
                                    format!("{}: empty fixed version, taken as unfixed", pkg.name),
                                ));
                                add(intro, Status::Unfixed);
                            } else {
                                add(intro, Status::Fixed(version.to_owned()));
                            }
                        }
                        "last_affected" => {
                            let intro = open.take().unwrap_or_default();
                            produced = true;
                            problems.push(Problem::new(
                                Some(id.clone()),
                                format!(
                                    "{} in {stream}: last_affected {version:?} has no exact status, taken as unfixed",
                                    pkg.name
                                ),
                            ));
                            add(intro, Status::Unfixed);
                        }
                        "limit" => {}
                        other => problems.push(Problem::new(
                            Some(id.clone()),
                            format!("{}: unknown range event {other:?}", pkg.name),
                        )),
                    }
                }
            }
            if let Some(intro) = open {
                produced = true;
                add(intro, Status::Unfixed);
            }
        }
        if !produced {
            let why = if a.versions.is_empty() {
                "no ranges and no versions"
            } else {
                "a versions list without an ecosystem range"
            };
            problems.push(Problem::new(
                Some(id.clone()),
                format!("{} in {stream}: {why}, taken as unfixed", pkg.name),
            ));
            add(None, Status::Unfixed);
        }
    }
    if rec.affected.is_empty() {
        problems.push(Problem::new(
            Some(id.clone()),
            "record without affected packages",
        ));
    }
    Some(Advisory {
        source: SOURCE.to_owned(),
        title,
        severity,
        cves,
        references: references.into_iter().map(|r| r.url.clone()).collect(),
        issued: rec.published.as_deref().and_then(date_part),
        updated: rec.modified.as_deref().and_then(date_part),
        affected,
        id,
    })
}

/// `2023-11-28T00:00:00Z` → `2023-11-28`.
fn date_part(ts: &str) -> Option<String> {
    let d = ts.get(..10)?;
    let ok = d.bytes().enumerate().all(|(i, b)| {
        if i == 4 || i == 7 {
            b == b'-'
        } else {
            b.is_ascii_digit()
        }
    });
    ok.then(|| d.to_owned())
}

/// The CVSS v3 base scores of one OSV record (a JSON value), given to `add` for each CVE it
/// names (its id, aliases and upstream ids): for [`crate::scores`].
pub(crate) fn cvss_of_record(rec: &serde_json::Value, add: &mut impl FnMut(&str, f32)) {
    let vectors = |v: Option<&serde_json::Value>| -> Vec<f64> {
        v.and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .filter(|s| s.get("type").and_then(serde_json::Value::as_str) == Some("CVSS_V3"))
            .filter_map(|s| s.get("score")?.as_str().and_then(cvss::base_score))
            .collect()
    };
    let mut scores = vectors(rec.get("severity"));
    for a in rec
        .get("affected")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
    {
        scores.extend(vectors(a.get("severity")));
    }
    let Some(best) = scores.into_iter().reduce(f64::max) else {
        return;
    };
    let mut names: Vec<&str> = rec
        .get("id")
        .and_then(serde_json::Value::as_str)
        .into_iter()
        .collect();
    for key in ["aliases", "upstream"] {
        names.extend(
            rec.get(key)
                .and_then(serde_json::Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(serde_json::Value::as_str),
        );
    }
    for n in names {
        // `UBUNTU-CVE-2021-3782` names CVE-2021-3782.
        let n = n.find("CVE-").map_or(n, |at| &n[at..]);
        #[allow(clippy::cast_possible_truncation)]
        add(n, best as f32);
    }
}

fn record_severity(rec: &RawRecord) -> Severity {
    let word = |s: &str| Some(Severity::from_vendor(s)).filter(|s| *s != Severity::Unknown);
    if let Some(s) = rec
        .severity
        .iter()
        .filter(|s| s.kind == "Ubuntu")
        .find_map(|s| word(&s.score))
    {
        return s;
    }
    let ubuntu_priority = rec.affected.iter().find_map(|a| {
        a.ecosystem_specific
            .as_ref()?
            .get("ubuntu_priority")?
            .as_str()
            .and_then(word)
    });
    if let Some(s) = ubuntu_priority {
        return s;
    }
    if let Some(s) = rec
        .database_specific
        .as_ref()
        .and_then(|d| d.get("severity")?.as_str().and_then(word))
    {
        return s;
    }
    if let Some((prefix, _)) = rec.summary.as_deref().and_then(|s| s.split_once(':'))
        && let Some(s) = word(prefix)
    {
        return s;
    }
    rec.severity
        .iter()
        .chain(rec.affected.iter().flat_map(|a| &a.severity))
        .filter(|s| s.kind == "CVSS_V3")
        .filter_map(|s| cvss::base_score(&s.score))
        .map(cvss::severity)
        .max()
        .unwrap_or(Severity::Unknown)
}

/// Maps an OSV ecosystem string onto a stream and the kind of package names it uses.
fn ecosystem(eco: &str) -> Option<(OsStream, PackageKind)> {
    let (name, rest) = eco.split_once(':')?;
    let rest = rest.trim();
    match name {
        "AlmaLinux" => Some((
            OsStream::new(Distro::Alma, release_number(rest)?),
            PackageKind::Binary,
        )),
        "Rocky Linux" => Some((
            OsStream::new(Distro::Rocky, release_number(rest)?),
            PackageKind::Binary,
        )),
        "Debian" => Some((
            OsStream::new(Distro::Debian, release_number(rest)?),
            PackageKind::Source,
        )),
        "Alpine" => {
            let v = rest.strip_prefix('v').unwrap_or(rest);
            Some((
                OsStream::new(Distro::Alpine, release_number(v)?),
                PackageKind::Source,
            ))
        }
        "Ubuntu" => {
            let parts: Vec<&str> = rest.split(':').collect();
            let version = match parts.as_slice() {
                [v] | [v, "LTS"] | ["Pro", v] | ["Pro", v, "LTS"] => *v,
                _ => return None,
            };
            let ok = version.len() == 5
                && version.bytes().enumerate().all(|(i, b)| {
                    if i == 2 {
                        b == b'.'
                    } else {
                        b.is_ascii_digit()
                    }
                });
            ok.then(|| (OsStream::new(Distro::Ubuntu, version), PackageKind::Source))
        }
        "SUSE" => {
            let product = rest
                .strip_prefix("Linux Enterprise ")
                .or_else(|| rest.strip_prefix("Package Hub "))?;
            let (major, sp) = suse_version(product)?;
            let release = match sp {
                Some(sp) => format!("{major}.{sp}"),
                None => major.to_owned(),
            };
            Some((OsStream::new(Distro::Sles, &release), PackageKind::Source))
        }
        "openSUSE" => {
            if rest == "Tumbleweed" {
                return Some((
                    OsStream::new(Distro::Opensuse, "tumbleweed"),
                    PackageKind::Source,
                ));
            }
            let v = rest.strip_prefix("Leap ")?;
            Some((
                OsStream::new(Distro::Opensuse, release_number(v)?),
                PackageKind::Source,
            ))
        }
        _ => None,
    }
}

/// `8`, `15.5`: digits and dots only.
fn release_number(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.is_empty()
        && s.starts_with(|c: char| c.is_ascii_digit())
        && s.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
    .then_some(s)
}

/// The trailing `15 SP5` / `12` of a SUSE product name: (major, service pack).
fn suse_version(product: &str) -> Option<(&str, Option<&str>)> {
    let words: Vec<&str> = product.split_whitespace().collect();
    match words.as_slice() {
        [.., major, sp] if sp.starts_with("SP") && release_number(major).is_some() => {
            let n = &sp[2..];
            (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then_some((*major, Some(n)))
        }
        [.., major] if release_number(major).is_some() && !major.contains('.') => {
            Some((*major, None))
        }
        _ => None,
    }
}

/// Whether `s` is exactly a CVE id (`CVE-2023-1234`).
pub(crate) fn is_cve(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("CVE-") else {
        return false;
    };
    let Some((year, num)) = rest.split_once('-') else {
        return false;
    };
    year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && num.len() >= 4
        && num.bytes().all(|b| b.is_ascii_digit())
}

/// Every CVE id in free text, normalised to `CVE-YYYY-NNNN`: accepts `CVE-`, `CVE_` and
/// `CVE ` before the year, and ids embedded in longer tokens (`UBUNTU-CVE-2021-3782`,
/// `CVE-2017-17434-1`, `CVE-2018-1234.patch`).
pub(crate) fn find_cves(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut out: Vec<String> = Vec::new();
    let mut from = 0;
    while let Some(pos) = text[from..].find("CVE") {
        let start = from + pos;
        from = start + 3;
        let mut i = start + 3;
        if !matches!(bytes.get(i), Some(b'-' | b'_' | b' ')) {
            continue;
        }
        i += 1;
        let year_start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i - year_start != 4 || bytes.get(i) != Some(&b'-') {
            continue;
        }
        i += 1;
        let num_start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i - num_start < 4 {
            continue;
        }
        let cve = format!(
            "CVE-{}-{}",
            &text[year_start..year_start + 4],
            &text[num_start..i]
        );
        if !out.contains(&cve) {
            out.push(cve);
        }
        from = i;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecosystems() {
        let s = |e: &str| ecosystem(e).map(|(s, k)| (s.to_string(), k));
        assert_eq!(
            s("AlmaLinux:8"),
            Some(("alma:8".into(), PackageKind::Binary))
        );
        assert_eq!(
            s("Rocky Linux:9"),
            Some(("rocky:9".into(), PackageKind::Binary))
        );
        assert_eq!(
            s("Debian:12"),
            Some(("debian:bookworm".into(), PackageKind::Source))
        );
        assert_eq!(
            s("Ubuntu:22.04:LTS"),
            Some(("ubuntu:22.04".into(), PackageKind::Source))
        );
        assert_eq!(
            s("Ubuntu:Pro:16.04:LTS"),
            Some(("ubuntu:16.04".into(), PackageKind::Source))
        );
        assert_eq!(
            s("Ubuntu:25.10"),
            Some(("ubuntu:25.10".into(), PackageKind::Source))
        );
        assert_eq!(s("Ubuntu:Pro:FIPS-updates:22.04:LTS"), None);
        assert_eq!(
            s("Alpine:v3.19"),
            Some(("alpine:3.19".into(), PackageKind::Source))
        );
        assert_eq!(
            s("SUSE:Linux Enterprise Server 15 SP5"),
            Some(("sles:15.5".into(), PackageKind::Source))
        );
        assert_eq!(
            s("SUSE:Linux Enterprise Desktop 12"),
            Some(("sles:12".into(), PackageKind::Source))
        );
        assert_eq!(
            s("SUSE:Package Hub 12"),
            Some(("sles:12".into(), PackageKind::Source))
        );
        assert_eq!(
            s("openSUSE:Leap 15.5"),
            Some(("opensuse:15.5".into(), PackageKind::Source))
        );
        assert_eq!(
            s("openSUSE:Tumbleweed"),
            Some(("opensuse:tumbleweed".into(), PackageKind::Source))
        );
        assert_eq!(s("openSUSE:Leap Micro 5.3"), None);
        assert_eq!(s("PyPI"), None);
        assert_eq!(s("Red Hat:enterprise_linux:9"), None);
    }

    #[test]
    fn cve_finding() {
        assert!(is_cve("CVE-2021-3782"));
        assert!(!is_cve("CVE-21-3782"));
        assert_eq!(find_cves("UBUNTU-CVE-2021-3782"), ["CVE-2021-3782"]);
        assert_eq!(
            find_cves("a CVE-2018-1234.patch CVE_2019-12345"),
            ["CVE-2018-1234", "CVE-2019-12345"]
        );
        assert!(find_cves("CVE-????-?????").is_empty());
    }

    #[test]
    fn ranges_and_json_lines() {
        let doc = r#"{"id": "X-1", "affected": [{"package": {"ecosystem": "Debian:12", "name": "a"},
              "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}, {"introduced": "2.0"}, {"fixed": "2.5"}, {"introduced": "3.0"}]},
                         {"type": "GIT", "events": [{"introduced": "abc"}]},
                         {"type": "ECOSYSTEM", "events": [{"introduced": "4.0"}, {"last_affected": "4.2"}]}]}]}
            {"id": "X-2", "withdrawn": "2020-01-01T00:00:00Z"}
            [{"id": "X-3", "summary": "Important: x", "affected": [{"package": {"ecosystem": "Gentoo:1", "name": "b"}}]}]"#;
        let p = parse(doc.as_bytes(), &ParseOptions::default()).unwrap();
        assert_eq!(p.records.len(), 2);
        let got: Vec<_> = p.records[0]
            .affected
            .iter()
            .map(|e| (e.introduced.clone(), e.status.clone()))
            .collect();
        assert_eq!(
            got,
            [
                (None, Status::Fixed("1.0".into())),
                (Some("2.0".into()), Status::Fixed("2.5".into())),
                (Some("3.0".into()), Status::Unfixed),
                (Some("4.0".into()), Status::Unfixed),
            ]
        );
        assert_eq!(p.records[1].severity, Severity::High);
        // GIT range, last_affected, withdrawn, unknown ecosystem.
        assert_eq!(p.problems.len(), 4, "{:?}", p.problems);
    }
}
