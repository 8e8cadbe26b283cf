//! The list of feed kinds and the one entry point that dispatches to their parsers.

use std::fmt;
use std::io::BufRead;

use pakiti_core::advisory::Advisory;
use pakiti_core::risk::{CveFacts, Epss, Kev};
use pakiti_core::stream::OsStream;

use crate::{FeedError, Parsed};

/// Options that apply to every parser.
#[derive(Clone, Debug, Default)]
pub struct ParseOptions {
    /// The stream the document is about, when the document itself does not say (or says it in
    /// a way the site wants to override, e.g. mapping Rocky to RHEL data).
    pub stream: Option<OsStream>,
}

/// A kind of vendor feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FeedKind {
    /// Red Hat OVAL v2 (`rhel-N-including-unpatched.oval.xml.bz2`) and the older RHSA OVAL v1.
    RedhatOval,
    /// Ubuntu CVE OVAL (`com.ubuntu.<codename>.cve.oval.xml.bz2`).
    UbuntuOval,
    /// SUSE / openSUSE OVAL.
    SuseOval,
    /// CSAF advisories and CSAF VEX documents (Red Hat, SUSE); one document or JSON lines.
    Csaf,
    /// Debian security tracker JSON (`/tracker/data/json`).
    DebianTracker,
    /// Debian DSA / DLA list text (`data/DSA/list`, `data/DLA/list`).
    DebianList,
    /// Alpine secdb JSON (`main.json`, `community.json`).
    AlpineSecdb,
    /// OSV JSON (one record, an array, or JSON lines).
    Osv,
    /// CISA Known Exploited Vulnerabilities catalogue JSON: prioritisation facts, no advisories.
    CisaKev,
    /// FIRST EPSS scores CSV: prioritisation facts, no advisories.
    Epss,
}

/// What a prioritisation feed says about one CVE ([`FeedKind::parse_facts`]).
#[derive(Clone, Debug, PartialEq)]
pub struct CveFactRecord {
    /// The CVE, upper case.
    pub cve: String,
    /// What the feed says (only its own fields are set).
    pub facts: CveFacts,
}

impl FeedKind {
    /// Every kind.
    pub const ALL: [FeedKind; 10] = [
        FeedKind::RedhatOval,
        FeedKind::UbuntuOval,
        FeedKind::SuseOval,
        FeedKind::Csaf,
        FeedKind::DebianTracker,
        FeedKind::DebianList,
        FeedKind::AlpineSecdb,
        FeedKind::Osv,
        FeedKind::CisaKev,
        FeedKind::Epss,
    ];

    /// The kind's name on the command line and in the store.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            FeedKind::RedhatOval => "redhat-oval",
            FeedKind::UbuntuOval => "ubuntu-oval",
            FeedKind::SuseOval => "suse-oval",
            FeedKind::Csaf => "csaf",
            FeedKind::DebianTracker => "debian-tracker",
            FeedKind::DebianList => "debian-list",
            FeedKind::AlpineSecdb => "alpine-secdb",
            FeedKind::Osv => "osv",
            FeedKind::CisaKev => "cisa-kev",
            FeedKind::Epss => "epss",
        }
    }

    /// A prioritisation feed (KEV, EPSS): it gives facts about CVEs
    /// ([`FeedKind::parse_facts`]), not advisories, and its imports change no finding.
    #[must_use]
    pub fn is_prioritisation(self) -> bool {
        matches!(self, FeedKind::CisaKev | FeedKind::Epss)
    }

    /// Whether a feed kind name (as stored) is a prioritisation kind.
    #[must_use]
    pub fn is_prioritisation_name(name: &str) -> bool {
        FeedKind::from_name(name).is_some_and(FeedKind::is_prioritisation)
    }

    /// Parses [`FeedKind::name`].
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        FeedKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Recognises a (decompressed) document's kind from its first bytes (a few KiB are
    /// enough): OVAL by its generator/namespace, CSAF by `csaf_version`, OSV by its
    /// `affected`/`schema_version` keys, Alpine secdb by `distroversion`, the DSA/DLA lists by
    /// their `[date] DSA-` headers, the tracker JSON as an object of package names.
    #[must_use]
    pub fn detect(head: &[u8]) -> Option<FeedKind> {
        let text = String::from_utf8_lossy(&head[..head.len().min(64 * 1024)]);
        let t = text.trim_start_matches('\u{feff}').trim_start();
        if t.starts_with('<') {
            if !t.contains("oval_definitions") {
                return None;
            }
            let lower = t.to_ascii_lowercase();
            return if lower.contains("canonical") || lower.contains("com.ubuntu") {
                Some(FeedKind::UbuntuOval)
            } else if lower.contains("suse") {
                Some(FeedKind::SuseOval)
            } else if lower.contains("red hat") || lower.contains("redhat") {
                Some(FeedKind::RedhatOval)
            } else {
                None
            };
        }
        let first = t.lines().next().unwrap_or_default();
        if first.starts_with("#model_version")
            || first.trim_end() == "cve,epss"
            || first.trim_end() == "cve,epss,percentile"
        {
            return Some(FeedKind::Epss);
        }
        if first.starts_with('[') && (first.contains("] DSA-") || first.contains("] DLA-")) {
            return Some(FeedKind::DebianList);
        }
        if t.starts_with('{') || t.starts_with('[') {
            return if t.contains("\"catalogVersion\"") && t.contains("\"vulnerabilities\"") {
                Some(FeedKind::CisaKev)
            } else if t.contains("\"csaf_version\"") {
                Some(FeedKind::Csaf)
            } else if t.contains("\"distroversion\"") {
                Some(FeedKind::AlpineSecdb)
            } else if t.contains("\"affected\"")
                && (t.contains("\"schema_version\"") || t.contains("\"modified\""))
            {
                Some(FeedKind::Osv)
            } else if t.contains("\"releases\"") {
                Some(FeedKind::DebianTracker)
            } else {
                None
            };
        }
        None
    }

    /// Parses a (decompressed) document of this kind.
    ///
    /// # Errors
    /// The document is unreadable or not of this kind at all.
    pub fn parse<R: BufRead>(
        self,
        reader: R,
        opts: &ParseOptions,
    ) -> Result<Parsed<Advisory>, FeedError> {
        match self {
            FeedKind::RedhatOval => crate::oval::redhat::parse(reader, opts),
            FeedKind::UbuntuOval => crate::oval::ubuntu::parse(reader, opts),
            FeedKind::SuseOval => crate::oval::suse::parse(reader, opts),
            FeedKind::Csaf => crate::csaf::parse(reader, opts),
            FeedKind::DebianTracker => crate::debian::tracker::parse(reader, opts),
            FeedKind::DebianList => crate::debian::list::parse(reader, opts),
            FeedKind::AlpineSecdb => crate::alpine::parse(reader, opts),
            FeedKind::Osv => crate::osv::parse(reader, opts),
            FeedKind::CisaKev | FeedKind::Epss => Err(FeedError::Format {
                expected: "vulnerability feed",
                reason: format!("{self} is a prioritisation feed: it gives facts, not advisories"),
            }),
        }
    }

    /// Parses a (decompressed) prioritisation document of this kind into per-CVE facts.
    ///
    /// # Errors
    /// The document is unreadable or not of this kind at all, or this is not a
    /// prioritisation kind.
    pub fn parse_facts<R: BufRead>(self, reader: R) -> Result<Parsed<CveFactRecord>, FeedError> {
        match self {
            FeedKind::CisaKev => {
                let p = crate::kev::parse(reader)?;
                Ok(Parsed {
                    records: p
                        .records
                        .into_iter()
                        .map(|e| CveFactRecord {
                            cve: e.cve,
                            facts: CveFacts {
                                kev: Some(Kev {
                                    date_added: e.date_added,
                                    due_date: e.due_date,
                                    ransomware: e.ransomware,
                                }),
                                ..CveFacts::default()
                            },
                        })
                        .collect(),
                    problems: p.problems,
                })
            }
            FeedKind::Epss => {
                let p = crate::epss::parse(reader)?;
                Ok(Parsed {
                    records: p
                        .records
                        .into_iter()
                        .map(|e| CveFactRecord {
                            cve: e.cve,
                            facts: CveFacts {
                                epss: Some(Epss {
                                    score: e.score,
                                    percentile: e.percentile.unwrap_or(f32::NAN),
                                }),
                                ..CveFacts::default()
                            },
                        })
                        .collect(),
                    problems: p.problems,
                })
            }
            _ => Err(FeedError::Format {
                expected: "prioritisation feed",
                reason: format!("{self} is a vulnerability feed"),
            }),
        }
    }
}

/// What a feed document is about, recognised from its content: its kind, the OS streams its
/// entries name, and the advisory series (`DSA`, `DLA`, `USN`, `CVE` ...) when every advisory
/// belongs to one. Two documents with the same [`FeedIdentity::key`] are versions of one feed
/// (an older and a newer focal OVAL); different keys are different feeds (focal and bionic,
/// the DSA and the DLA list), which must not replace each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedIdentity {
    /// The recognised kind.
    pub kind: FeedKind,
    /// The streams the entries name, sorted.
    pub streams: Vec<OsStream>,
    /// The advisory series, for the kinds whose documents it tells apart (the DSA and the DLA
    /// list; Ubuntu's CVE and USN OVAL): the id prefix most advisories have.
    pub series: Option<String>,
    /// The repository a secdb document is for (`main`, `community`).
    pub repository: Option<String>,
}

impl FeedIdentity {
    /// Recognises a parsed document. `head` is the start of the decompressed document (for
    /// fields the advisories do not keep, such as secdb's `reponame`).
    #[must_use]
    pub fn of(kind: FeedKind, head: &[u8], records: &[Advisory]) -> Self {
        let mut streams: Vec<OsStream> = Vec::new();
        for a in records {
            for e in &a.affected {
                if !streams.contains(&e.stream) {
                    streams.push(e.stream.clone());
                }
            }
        }
        streams.sort_by_key(ToString::to_string);
        let prefix = |id: &str| -> String {
            id.split(['-', ':'])
                .next()
                .unwrap_or_default()
                .to_ascii_uppercase()
        };
        // The most common prefix, not one every advisory has: a document may hold a few
        // odd ids (an OVAL id where no CVE is named), and a newer version of the same feed
        // must keep its key.
        let series = matches!(kind, FeedKind::DebianList | FeedKind::UbuntuOval)
            .then(|| {
                let mut counts: std::collections::BTreeMap<String, usize> =
                    std::collections::BTreeMap::new();
                for a in records {
                    let p = prefix(&a.id);
                    if !p.is_empty() && p.chars().all(|c| c.is_ascii_alphabetic()) {
                        *counts.entry(p).or_default() += 1;
                    }
                }
                counts.into_iter().max_by_key(|(_, n)| *n).map(|(p, _)| p)
            })
            .flatten();
        let repository = (kind == FeedKind::AlpineSecdb)
            .then(|| json_string_field(head, "reponame"))
            .flatten();
        FeedIdentity {
            kind,
            streams,
            series,
            repository,
        }
    }

    /// The distros of the streams, in order, each once.
    fn distros(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = Vec::new();
        for s in &self.streams {
            let d = s.distro().id();
            if !v.contains(&d) {
                v.push(d);
            }
        }
        v
    }

    /// The one stream of a document of a kind published per release (OVAL, secdb); `None`
    /// for kinds that span releases (the DSA list, the tracker, CSAF, OSV), whose documents
    /// gain and lose releases over time, and for documents naming several streams.
    fn release(&self) -> Option<&OsStream> {
        let per_release = matches!(
            self.kind,
            FeedKind::RedhatOval
                | FeedKind::UbuntuOval
                | FeedKind::SuseOval
                | FeedKind::AlpineSecdb
        );
        match self.streams.as_slice() {
            [one] if per_release => Some(one),
            _ => None,
        }
    }

    /// What must stay the same for a new document to replace a feed's advisories: kind,
    /// series, repository, the distros, and the release for kinds published per release.
    #[must_use]
    pub fn key(&self) -> String {
        let release = match (self.release(), self.streams.is_empty()) {
            (Some(one), _) => one.to_string(),
            (None, true) => "-".to_owned(),
            (None, false) => format!("{}:*", self.distros().join("+")),
        };
        let mut key = format!("{} {release}", self.kind.name());
        if let Some(s) = &self.series {
            key.push_str(" series=");
            key.push_str(s);
        }
        if let Some(r) = &self.repository {
            key.push_str(" repository=");
            key.push_str(r);
        }
        key
    }

    /// A feed name made from the content: distro and release, kind, and what tells apart
    /// documents of one kind (`ubuntu-20.04-oval`, `rhel-7-oval`, `debian-dsa`, `debian-dla`,
    /// `debian-tracker`, `alpine-3.19-secdb-main`, `ubuntu-22.04-oval-usn`). Names of
    /// documents with different keys differ.
    #[must_use]
    pub fn default_name(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(one) = self.release() {
            parts.push(one.distro().id().to_owned());
            parts.push(one.release().to_owned());
        } else if !self.streams.is_empty() {
            parts.push(self.distros().join("-"));
        }
        let kind = self.kind.name();
        if parts.is_empty() {
            // No stream named: the kind says the vendor.
            parts.push(kind.to_owned());
        }
        let tail = match self.kind {
            _ if parts.len() == 1 && parts[0] == kind => "",
            FeedKind::DebianList => "",
            FeedKind::RedhatOval | FeedKind::UbuntuOval | FeedKind::SuseOval => "oval",
            FeedKind::DebianTracker => "tracker",
            FeedKind::AlpineSecdb => "secdb",
            FeedKind::Csaf | FeedKind::Osv | FeedKind::CisaKev | FeedKind::Epss => kind,
        };
        if !tail.is_empty() {
            parts.push(tail.to_owned());
        }
        // The series a kind usually has is left out of the name; any other is said.
        let usual = match self.kind {
            FeedKind::UbuntuOval => Some("CVE"),
            _ => None,
        };
        if let Some(s) = self.series.as_deref().filter(|s| Some(*s) != usual) {
            parts.push(s.to_ascii_lowercase());
        }
        if let Some(r) = &self.repository {
            parts.push(r.clone());
        }
        parts
            .join("-")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect()
    }
}

/// The string value of `"field": "value"` in the first bytes of a JSON document.
fn json_string_field(head: &[u8], field: &str) -> Option<String> {
    let text = String::from_utf8_lossy(&head[..head.len().min(64 * 1024)]);
    let at = text.find(&format!("\"{field}\""))?;
    let rest = text[at + field.len() + 2..]
        .trim_start()
        .strip_prefix(':')?;
    let rest = rest.trim_start().strip_prefix('"')?;
    let value = &rest[..rest.find('"')?];
    (!value.is_empty()).then(|| value.to_owned())
}

impl fmt::Display for FeedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in FeedKind::ALL {
            assert_eq!(FeedKind::from_name(k.name()), Some(k));
        }
        assert_eq!(FeedKind::from_name("nope"), None);
    }

    #[test]
    fn detects_kinds_from_content() {
        let cases: [(&[u8], Option<FeedKind>); 12] = [
            (br#"{"title": "CISA Catalog", "catalogVersion": "2025.08.25", "count": 1, "vulnerabilities": [{"cveID": "CVE-1"}]}"#, Some(FeedKind::CisaKev)),
            (b"#model_version:v2023.03.01,score_date:2023-03-07T00:00:00+0000\ncve,epss,percentile\n", Some(FeedKind::Epss)),
            (b"cve,epss\nCVE-2020-5902,0.65117\n", Some(FeedKind::Epss)),
            (b"cve,epss,percentile\r\nCVE-2020-5902,0.65117,0.9\r\n", Some(FeedKind::Epss)),
            (br#"<?xml version="1.0"?><oval_definitions xmlns="x"><generator><oval:product_name>Red Hat OVAL Patch Definition Merger</oval:product_name>"#, Some(FeedKind::RedhatOval)),
            (br#"<oval_definitions><generator><oval:product_name>Canonical CVE OVAL Generator</oval:product_name>"#, Some(FeedKind::UbuntuOval)),
            (br#"<oval_definitions><generator><oval:product_name>Marcus Updateinfo to OVAL Converter</oval:product_name></generator><definitions><definition id="oval:org.opensuse.security:def:1">"#, Some(FeedKind::SuseOval)),
            (br#"{"document": {"csaf_version": "2.0"}}"#, Some(FeedKind::Csaf)),
            (br#"{"distroversion": "v3.11", "packages": []}"#, Some(FeedKind::AlpineSecdb)),
            (br#"{"schema_version": "1.6.0", "id": "ALSA-2023:1", "affected": []}"#, Some(FeedKind::Osv)),
            (b"[05 Mar 2023] DSA-5365-1 curl - security update\n", Some(FeedKind::DebianList)),
            (b"hello", None),
        ];
        for (data, want) in cases {
            assert_eq!(
                FeedKind::detect(data),
                want,
                "{}",
                String::from_utf8_lossy(data)
            );
        }
    }

    #[test]
    fn identity_keys_of_multi_release_kinds_do_not_follow_the_releases() {
        use pakiti_core::advisory::{Affected, Status};
        let adv = |id: &str, release: &str| Advisory {
            id: id.to_owned(),
            affected: vec![Affected::source(
                OsStream::new(pakiti_core::stream::Distro::Debian, release),
                "curl",
                Status::Unfixed,
            )],
            ..Advisory::default()
        };
        let one = [adv("DSA-1-1", "11")];
        let two = [adv("DSA-1-1", "11"), adv("DSA-2-1", "10")];
        let (a, b) = (
            FeedIdentity::of(FeedKind::DebianList, b"", &one),
            FeedIdentity::of(FeedKind::DebianList, b"", &two),
        );
        assert_eq!(a.key(), b.key());
        assert_eq!(a.key(), "debian-list debian:* series=DSA");
        assert_eq!(a.default_name(), "debian-dsa");
        let dla = FeedIdentity::of(FeedKind::DebianList, b"", &[adv("DLA-3-1", "10")]);
        assert_ne!(dla.key(), a.key());
        // An OVAL file is published per release: its release is part of the key.
        let oval = FeedIdentity::of(FeedKind::UbuntuOval, b"", &[]);
        assert_eq!(oval.key(), "ubuntu-oval -");
    }
}
