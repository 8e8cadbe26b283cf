//! OpenVEX documents (Ubuntu's `vex/cve/*/CVE-*.json`): not CSAF, but the same question answered.
//!
//! Each statement gives a status for a list of purls `pkg:deb/ubuntu/<name>@<version>?arch=<arch>&distro=<codename>`.
//! `fixed` → [`Status::Fixed`] at the named version (Ubuntu names the version in the archive,
//! which may be later than the first fixed one: errs towards "vulnerable"); `affected` →
//! [`Status::Unfixed`], [`Status::WillNotFix`] ("decided to not fix it") or [`Status::EndOfLife`]
//! ("no longer supported") from the action statement; `not_affected` → [`Status::NotAffected`];
//! `under_investigation` → [`Status::Unfixed`]. `arch=source` gives source entries. ESM pockets
//! (`esm-infra/xenial`) map to their release's stream.

use std::collections::{BTreeMap, BTreeSet};

use pakiti_core::advisory::{Advisory, Affected, PackageKind, Status};
use pakiti_core::stream::{Distro, OsStream};

use super::raw::RawDoc;
use super::{SOURCE, status_from_key, status_key};
use crate::{FeedError, Parsed, Problem};

/// Whether the document is OpenVEX (`@context` names openvex.dev).
pub(super) fn is_openvex(doc: &RawDoc) -> bool {
    doc.context
        .as_ref()
        .and_then(|c| c.as_str())
        .is_some_and(|c| c.contains("openvex"))
}

/// Converts one OpenVEX document into advisories, one per vulnerability it speaks about.
pub(super) fn convert(doc: RawDoc, out: &mut Parsed<Advisory>) -> Result<(), FeedError> {
    let Some(statements) = doc.statements else {
        return Err(FeedError::Format {
            expected: "openvex",
            reason: "no statements".into(),
        });
    };
    let updated = doc
        .last_updated
        .as_deref()
        .or(doc.timestamp.as_deref())
        .and_then(|t| super::iso_date(Some(t)));
    let mut by_vuln: BTreeMap<String, Advisory> = BTreeMap::new();
    type Key = (OsStream, String, u8, (u8, String));
    let mut entries: BTreeMap<String, BTreeMap<Key, Option<BTreeSet<String>>>> = BTreeMap::new();
    let mut skipped = 0usize;
    let mut unknown_status: BTreeSet<String> = BTreeSet::new();
    for st in &statements {
        let Some(name) = st
            .vulnerability
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        else {
            out.problems.push(Problem::new(
                doc.id.clone(),
                "openvex statement without a vulnerability name skipped",
            ));
            continue;
        };
        by_vuln.entry(name.to_owned()).or_insert_with(|| Advisory {
            id: name.to_owned(),
            source: SOURCE.into(),
            title: st
                .vulnerability
                .description
                .as_deref()
                .map(|d| {
                    d.lines()
                        .next()
                        .unwrap_or_default()
                        .chars()
                        .take(200)
                        .collect()
                })
                .unwrap_or_default(),
            cves: if name.starts_with("CVE-") {
                vec![name.to_owned()]
            } else {
                Vec::new()
            },
            references: st
                .vulnerability
                .aliases
                .iter()
                .filter(|a| a.starts_with("http"))
                .cloned()
                .collect(),
            issued: super::iso_date(st.timestamp.as_deref()),
            updated: updated.clone(),
            ..Advisory::default()
        });
        let action = st
            .action_statement
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let base_status = match st.status.as_str() {
            "fixed" => None,
            "affected" if action.contains("no longer supported") => Some(Status::EndOfLife),
            "affected" if action.contains("not to fix") || action.contains("not fix") => {
                Some(Status::WillNotFix)
            }
            "affected" | "under_investigation" => Some(Status::Unfixed),
            "not_affected" => Some(Status::NotAffected),
            other => {
                unknown_status.insert(other.to_owned());
                Some(Status::Unfixed)
            }
        };
        let vuln_entries = entries.entry(name.to_owned()).or_default();
        for p in &st.products {
            let Some(pkg) = deb_purl(&p.id) else {
                skipped += 1;
                continue;
            };
            let status = match &base_status {
                Some(s) => s.clone(),
                None => match &pkg.version {
                    Some(v) => Status::Fixed(v.clone()),
                    None => {
                        skipped += 1;
                        continue;
                    }
                },
            };
            let source = pkg.arch.as_deref() == Some("source");
            let key = (pkg.stream, pkg.name, u8::from(source), status_key(&status));
            let slot = vuln_entries
                .entry(key)
                .or_insert_with(|| Some(BTreeSet::new()));
            match pkg.arch.filter(|_| !source) {
                Some(a) => {
                    if let Some(set) = slot {
                        set.insert(a);
                    }
                }
                None => *slot = None,
            }
        }
    }
    if skipped > 0 {
        out.problems.push(Problem::new(
            doc.id.clone(),
            format!("{skipped} openvex products are not ubuntu deb purls with a known release (or fixed without a version); left out"),
        ));
    }
    for s in unknown_status {
        out.problems.push(Problem::new(
            doc.id.clone(),
            format!("unknown openvex status {s:?}; taken as affected"),
        ));
    }
    for (name, mut adv) in by_vuln {
        adv.affected = entries
            .remove(&name)
            .unwrap_or_default()
            .into_iter()
            .map(|((stream, package, source, status), arches)| Affected {
                stream,
                package,
                kind: if source == 1 {
                    PackageKind::Source
                } else {
                    PackageKind::Binary
                },
                arches: arches.map(|a| a.into_iter().collect()).unwrap_or_default(),
                module: None,
                introduced: None,
                last_affected: None,
                status: status_from_key(status),
            })
            .collect();
        out.records.push(adv);
    }
    Ok(())
}

struct DebPackage {
    stream: OsStream,
    name: String,
    version: Option<String>,
    arch: Option<String>,
}

/// `pkg:deb/ubuntu/curl@7.81.0-1ubuntu1.24?arch=source&distro=jammy`.
fn deb_purl(purl: &str) -> Option<DebPackage> {
    let rest = purl.strip_prefix("pkg:deb/")?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (ns, nv) = path.split_once('/')?;
    let distro = Distro::from_id(ns)?;
    let (name, version) = match nv.split_once('@') {
        Some((n, v)) => (n, Some(super::component::percent_decode(v))),
        None => (nv, None),
    };
    let mut arch = None;
    let mut release = None;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("arch", a)) => arch = Some(a.to_owned()),
            Some(("distro", d)) => release = Some(super::component::percent_decode(d)),
            _ => {}
        }
    }
    // `esm-infra/xenial` → `xenial`.
    let release = release?;
    let codename = release.rsplit('/').next().unwrap_or(&release);
    let stream = OsStream::new(distro, codename);
    // An unknown codename stays a codename; refuse it rather than invent a stream.
    if distro == Distro::Ubuntu && pakiti_core::stream::ubuntu_version(codename).is_none() {
        return None;
    }
    Some(DebPackage {
        stream,
        name: super::component::percent_decode(name),
        version: version.filter(|v| !v.is_empty()),
        arch,
    })
}
