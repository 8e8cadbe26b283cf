//! Debian archive indexes: `Packages` (binary) and `Sources` (source), deb822 stanzas.
//!
//! Used to map binary package names to source names for source-package advisories
//! ([`source_map`] feeds `AdvisoryIndex::add_source_map`) and, later, to find the newest
//! available version of a package in a repository. Every stanza is kept, including several
//! versions of one package, so that callers can pick what they need.
//!
//! The stanza reader ([`stanzas`], [`Stanza`]) works on borrowed text and is reusable for
//! any deb822 file (`Release`, dpkg `status`).

use std::io::BufRead;

use crate::{FeedError, Parsed, Problem};

/// A binary package stanza of a `Packages` index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BinaryPackage {
    /// `Package`.
    pub package: String,
    /// `Version`.
    pub version: String,
    /// `Architecture` (`amd64`, `all`); empty when the stanza has none.
    pub architecture: String,
    /// The source package name: `Source` without its version, or `package` when absent.
    pub source: String,
    /// The source version when `Source: name (version)` gives one (binNMUs and the like);
    /// `None` means it equals `version`.
    pub source_version: Option<String>,
}

/// A source package stanza of a `Sources` index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourcePackage {
    /// `Package`.
    pub package: String,
    /// `Version`.
    pub version: String,
    /// The binary packages it builds (`Binary`, comma separated).
    pub binaries: Vec<String>,
}

/// One deb822 stanza: a borrowed slice of the document.
#[derive(Clone, Copy, Debug)]
pub struct Stanza<'a> {
    text: &'a str,
}

impl<'a> Stanza<'a> {
    /// The stanza's raw text.
    #[must_use]
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The fields in order, as (name, value). A folded value keeps its continuation lines
    /// (newline and leading space included); the value is trimmed at both ends.
    #[must_use]
    pub fn fields(&self) -> Fields<'a> {
        Fields { rest: self.text }
    }

    /// The value of the first field called `name` (case-insensitive, as deb822 says).
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&'a str> {
        self.fields()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

/// Iterator over the fields of a [`Stanza`].
#[derive(Clone, Debug)]
pub struct Fields<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Fields<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let (line, after) = split_line(self.rest);
            // A continuation line with no field before it, or a comment: skip it.
            if line.starts_with([' ', '\t', '#']) {
                self.rest = after;
                continue;
            }
            let Some(colon) = line.find(':') else {
                self.rest = after;
                continue;
            };
            let name = &line[..colon];
            let value_start = colon + 1;
            // Extend over continuation lines.
            let mut end = line.len();
            let mut tail = after;
            while tail.starts_with([' ', '\t']) {
                let (cont, next) = split_line(tail);
                // `cont` starts where `tail` starts; its end is measured from `self.rest`.
                end = self.rest.len() - tail.len() + cont.len();
                tail = next;
            }
            let value = self.rest[value_start..end].trim();
            self.rest = tail;
            return Some((name.trim(), value));
        }
    }
}

/// The first line of `s` (without its newline) and the rest after the newline.
fn split_line(s: &str) -> (&str, &str) {
    match s.find('\n') {
        Some(i) => (s[..i].trim_end_matches('\r'), &s[i + 1..]),
        None => (s.trim_end_matches('\r'), ""),
    }
}

/// Iterator over the stanzas of a deb822 document.
#[derive(Clone, Debug)]
pub struct Stanzas<'a> {
    rest: &'a str,
}

/// The stanzas of a deb822 document (separated by blank lines).
#[must_use]
pub fn stanzas(text: &str) -> Stanzas<'_> {
    Stanzas { rest: text }
}

impl<'a> Iterator for Stanzas<'a> {
    type Item = Stanza<'a>;

    fn next(&mut self) -> Option<Stanza<'a>> {
        // Skip blank lines.
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let (line, after) = split_line(self.rest);
            if line.trim().is_empty() {
                self.rest = after;
            } else {
                break;
            }
        }
        let start = self.rest;
        let mut tail = self.rest;
        while !tail.is_empty() {
            let (line, after) = split_line(tail);
            if line.trim().is_empty() {
                break;
            }
            tail = after;
        }
        let len = start.len() - tail.len();
        self.rest = tail;
        Some(Stanza {
            text: start[..len].trim_end(),
        })
    }
}

fn read_text<R: BufRead>(mut reader: R) -> Result<String, FeedError> {
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes)?;
    // Descriptions in old indexes are sometimes Latin-1; the fields used here are ASCII.
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

fn required<'a>(st: &Stanza<'a>, name: &str, problems: &mut Vec<Problem>) -> Option<&'a str> {
    let value = st.field(name).filter(|v| !v.is_empty());
    if value.is_none() {
        let record = st.field("Package");
        let head: String = st.text().chars().take(60).collect();
        problems.push(Problem::new(
            record,
            format!("stanza without {name}, skipped: {head:?}"),
        ));
    }
    value
}

/// Parses a `Packages` index (already decompressed).
///
/// A stanza without `Package` or `Version` is a problem and is skipped.
///
/// # Errors
/// Reading failed, or the document has stanzas but none is a binary package (not a
/// `Packages` index). An empty document is an empty index.
pub fn parse_packages<R: BufRead>(reader: R) -> Result<Parsed<BinaryPackage>, FeedError> {
    let text = read_text(reader)?;
    let mut out = Parsed::default();
    let mut seen = 0usize;
    for st in stanzas(&text) {
        seen += 1;
        let (mut package, mut version, mut arch, mut source) = (None, None, None, None);
        for (name, value) in st.fields() {
            match name {
                "Package" => package = Some(value),
                "Version" => version = Some(value),
                "Architecture" => arch = Some(value),
                "Source" => source = Some(value),
                _ => {}
            }
        }
        let (Some(package), Some(version)) = (
            package.filter(|v| !v.is_empty()),
            version.filter(|v| !v.is_empty()),
        ) else {
            // Slow path for the odd stanza: case-insensitive names, precise problem.
            let (Some(package), Some(version)) = (
                required(&st, "Package", &mut out.problems),
                required(&st, "Version", &mut out.problems),
            ) else {
                continue;
            };
            out.records.push(binary(
                package,
                version,
                st.field("Architecture"),
                st.field("Source"),
            ));
            continue;
        };
        out.records.push(binary(package, version, arch, source));
    }
    if seen > 0 && out.records.is_empty() {
        return Err(FeedError::Format {
            expected: "debian packages index",
            reason: format!("{seen} stanzas, none with Package and Version"),
        });
    }
    Ok(out)
}

fn binary(package: &str, version: &str, arch: Option<&str>, source: Option<&str>) -> BinaryPackage {
    let (source, source_version) = match source {
        None | Some("") => (package.to_owned(), None),
        Some(s) => match s.split_once('(') {
            Some((name, ver)) => (
                name.trim().to_owned(),
                Some(ver.trim_end().trim_end_matches(')').trim().to_owned())
                    .filter(|v| !v.is_empty()),
            ),
            None => (s.trim().to_owned(), None),
        },
    };
    BinaryPackage {
        package: package.to_owned(),
        version: version.to_owned(),
        architecture: arch.unwrap_or_default().to_owned(),
        source,
        source_version,
    }
}

/// Parses a `Sources` index (already decompressed).
///
/// A stanza without `Package` or `Version` is a problem and is skipped.
///
/// # Errors
/// Reading failed, or the document has stanzas but none is a source package.
pub fn parse_sources<R: BufRead>(reader: R) -> Result<Parsed<SourcePackage>, FeedError> {
    let text = read_text(reader)?;
    let mut out = Parsed::default();
    let mut seen = 0usize;
    for st in stanzas(&text) {
        seen += 1;
        let (Some(package), Some(version)) = (
            required(&st, "Package", &mut out.problems),
            required(&st, "Version", &mut out.problems),
        ) else {
            continue;
        };
        let binaries = st
            .field("Binary")
            .map(|b| {
                b.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        out.records.push(SourcePackage {
            package: package.to_owned(),
            version: version.to_owned(),
            binaries,
        });
    }
    if seen > 0 && out.records.is_empty() {
        return Err(FeedError::Format {
            expected: "debian sources index",
            reason: format!("{seen} stanzas, none with Package and Version"),
        });
    }
    Ok(out)
}

/// Binary → source name pairs from a `Packages` index, for `AdvisoryIndex::add_source_map`.
///
/// Only binaries whose source name differs are yielded (the matcher already falls back to the
/// binary's own name). When a binary appears with different sources in one index (rare: a
/// binary that moved between source packages), every pair is yielded and the last one wins in
/// the map.
pub fn source_map(packages: &[BinaryPackage]) -> impl Iterator<Item = (&str, &str)> {
    packages
        .iter()
        .filter(|p| p.source != p.package)
        .map(|p| (p.package.as_str(), p.source.as_str()))
}

/// Binary → source name pairs from a `Sources` index (each source's `Binary` list).
pub fn source_map_from_sources(sources: &[SourcePackage]) -> impl Iterator<Item = (&str, &str)> {
    sources.iter().flat_map(|s| {
        s.binaries
            .iter()
            .filter(move |b| **b != s.package)
            .map(move |b| (b.as_str(), s.package.as_str()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_fields_and_sources() {
        let text = "\n\nPackage: a\nVersion: 1\nDescription: x\n y\n .\n z\nSource: b (0.9)\n\n\n\
                    Package: c\r\nVersion: 2\r\nArchitecture: all\r\n\r\nVersion: 3\n";
        let st: Vec<_> = stanzas(text).collect();
        assert_eq!(st.len(), 3);
        assert_eq!(st[0].field("description"), Some("x\n y\n .\n z"));
        assert_eq!(st[0].field("Source"), Some("b (0.9)"));
        let p = parse_packages(text.as_bytes()).unwrap();
        assert_eq!(p.records.len(), 2);
        assert_eq!(p.problems.len(), 1);
        assert_eq!(p.records[0].source, "b");
        assert_eq!(p.records[0].source_version.as_deref(), Some("0.9"));
        assert_eq!(p.records[1].source, "c");
        assert_eq!(p.records[1].architecture, "all");
        assert_eq!(source_map(&p.records).collect::<Vec<_>>(), [("a", "b")]);
    }

    #[test]
    fn binary_list_spans_lines() {
        let text = "Package: s\nBinary: a, b,\n c\nVersion: 1\n";
        let p = parse_sources(text.as_bytes()).unwrap();
        assert_eq!(p.records[0].binaries, ["a", "b", "c"]);
        assert!(parse_packages(&b"Foo: bar\n"[..]).is_err());
        assert!(parse_packages(&b""[..]).unwrap().records.is_empty());
    }
}
