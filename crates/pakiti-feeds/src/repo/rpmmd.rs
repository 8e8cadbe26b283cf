//! rpm-md (yum/dnf) repository metadata: `repomd.xml`, `primary.xml` and `updateinfo.xml`,
//! read with a streaming XML reader (primary files reach hundreds of MB).
//!
//! The yum `primary.sqlite` variant is out of scope: every rpm-md repository also publishes
//! `primary.xml`, which dnf itself reads.

use std::io::BufRead;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::{FeedError, Parsed, Problem};

/// One `<data>` entry of `repomd.xml`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepomdData {
    /// The `type` attribute (`primary`, `updateinfo`, `modules`, `primary_zck`, ...).
    pub kind: String,
    /// `location/@href`, relative to the repository root.
    pub location: String,
    /// `checksum`: (type, hex) of the file as stored (compressed).
    pub checksum: Option<(String, String)>,
    /// `open-checksum`: (type, hex) of the decompressed file.
    pub open_checksum: Option<(String, String)>,
    /// `size` of the stored file.
    pub size: Option<u64>,
    /// `open-size` of the decompressed file.
    pub open_size: Option<u64>,
    /// `timestamp`.
    pub timestamp: Option<u64>,
}

/// A parsed `repomd.xml`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Repomd {
    /// `revision`.
    pub revision: Option<String>,
    /// The data files, in document order.
    pub data: Vec<RepomdData>,
}

impl Repomd {
    /// The entry of a data type (`primary`, `updateinfo`, `modules`).
    #[must_use]
    pub fn get(&self, kind: &str) -> Option<&RepomdData> {
        self.data.iter().find(|d| d.kind == kind)
    }
}

/// A package of `primary.xml`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RpmPackage {
    /// `name`.
    pub name: String,
    /// `arch` (`x86_64`, `noarch`, `src`).
    pub arch: String,
    /// `version/@epoch` (`0` when absent).
    pub epoch: String,
    /// `version/@ver`.
    pub version: String,
    /// `version/@rel`.
    pub release: String,
    /// `format/rpm:sourcerpm` (`bash-5.1-2.fc35.src.rpm`), when present.
    pub sourcerpm: Option<String>,
}

/// `[epoch:]version-release`, the epoch left out when it is `0` or empty.
#[must_use]
pub fn evr(epoch: &str, version: &str, release: &str) -> String {
    let mut s = String::with_capacity(epoch.len() + version.len() + release.len() + 2);
    if !epoch.is_empty() && epoch != "0" {
        s.push_str(epoch);
        s.push(':');
    }
    s.push_str(version);
    if !release.is_empty() {
        s.push('-');
        s.push_str(release);
    }
    s
}

impl RpmPackage {
    /// The full version as hosts report it: `[epoch:]version-release`.
    #[must_use]
    pub fn evr(&self) -> String {
        evr(&self.epoch, &self.version, &self.release)
    }
}

/// The kind of an `updateinfo` advisory (`type` attribute).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpdateKind {
    /// `security`.
    Security,
    /// `bugfix`.
    Bugfix,
    /// `enhancement`.
    Enhancement,
    /// `newpackage`.
    NewPackage,
    /// Anything else, as written.
    Other(String),
}

impl UpdateKind {
    fn parse(s: &str) -> Self {
        match s.to_ascii_lowercase().as_str() {
            "security" => UpdateKind::Security,
            "bugfix" => UpdateKind::Bugfix,
            "enhancement" => UpdateKind::Enhancement,
            "newpackage" => UpdateKind::NewPackage,
            _ => UpdateKind::Other(s.to_owned()),
        }
    }
}

/// A package listed by an `updateinfo` advisory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdatePackage {
    /// `@name`.
    pub name: String,
    /// `@epoch` (`0` when absent).
    pub epoch: String,
    /// `@version`.
    pub version: String,
    /// `@release`.
    pub release: String,
    /// `@arch`.
    pub arch: String,
    /// The module stream of its collection (`squid:4`), when the collection names one.
    pub module: Option<String>,
}

impl UpdatePackage {
    /// `[epoch:]version-release`.
    #[must_use]
    pub fn evr(&self) -> String {
        evr(&self.epoch, &self.version, &self.release)
    }
}

/// A module named by an `updateinfo` collection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateModule {
    /// `@name`.
    pub name: String,
    /// `@stream`.
    pub stream: String,
    /// `@version`.
    pub version: String,
    /// `@context`.
    pub context: String,
    /// `@arch`.
    pub arch: String,
}

/// One `<update>` of `updateinfo.xml`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateInfo {
    /// `id` (`RLSA-2021:1979`, `ALAS2-2018-939`, `FEDORA-2022-...`).
    pub id: String,
    /// `@type`.
    pub kind: UpdateKind,
    /// `severity` as written (`Important`, `critical`, `None`), when present.
    pub severity: Option<String>,
    /// `title`.
    pub title: String,
    /// `issued/@date`.
    pub issued: Option<String>,
    /// `updated/@date`.
    pub updated: Option<String>,
    /// CVE ids from `references/reference[@type=cve]` (id, or the href's last CVE).
    pub cves: Vec<String>,
    /// Packages of every collection.
    pub packages: Vec<UpdatePackage>,
    /// Modules of every collection.
    pub modules: Vec<UpdateModule>,
}

/// Attribute value by local name, unescaped.
fn attr(e: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| a.unescape_value().ok().map(std::borrow::Cow::into_owned))
}

/// Callbacks of [`walk`].
trait Handler {
    /// An element opens; `depth` counts from 1 for the root.
    fn open(&mut self, depth: usize, name: &[u8], e: &BytesStart<'_>) -> Result<(), FeedError>;
    /// Whether the text of the element `name` (just opened, at `depth`) is wanted.
    fn wants_text(&self, depth: usize, name: &[u8]) -> bool;
    /// An element closes with its text (empty when not wanted).
    fn close(&mut self, depth: usize, name: &[u8], text: &str);
}

/// Streams the XML of `input` into `h`; the root element must be `root`.
fn walk<R: BufRead, H: Handler>(
    input: R,
    root: &str,
    expected: &'static str,
    h: &mut H,
) -> Result<(), FeedError> {
    let mut reader = Reader::from_reader(input);
    reader.config_mut().trim_text(false);
    let mut buf = Vec::with_capacity(1 << 16);
    let mut stack: Vec<(Box<[u8]>, bool)> = Vec::with_capacity(16);
    let mut text = String::new();
    let mut root_seen = false;
    let xml_err = |reader: &Reader<R>, e: &dyn std::fmt::Display| FeedError::Xml {
        position: reader.error_position(),
        message: e.to_string(),
    };
    loop {
        let ev = match reader.read_event_into(&mut buf) {
            Ok(ev) => ev,
            Err(quick_xml::Error::Io(e)) => {
                return Err(FeedError::Io(std::io::Error::new(e.kind(), e.to_string())));
            }
            Err(e) => return Err(xml_err(&reader, &e)),
        };
        let wants = stack.last().is_some_and(|(_, w)| *w);
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                let name = e.local_name();
                let name = name.as_ref();
                if !root_seen {
                    if name != root.as_bytes() {
                        return Err(FeedError::Format {
                            expected,
                            reason: format!(
                                "root element is <{}>, not <{root}>",
                                String::from_utf8_lossy(name)
                            ),
                        });
                    }
                    root_seen = true;
                }
                let depth = stack.len() + 1;
                h.open(depth, name, e)?;
                let w = h.wants_text(depth, name);
                text.clear();
                if empty {
                    h.close(depth, name, "");
                } else {
                    stack.push((name.into(), w));
                }
            }
            Event::End(_) => {
                let depth = stack.len();
                if let Some((name, _)) = stack.pop() {
                    h.close(depth, &name, text.trim());
                }
                text.clear();
            }
            Event::Text(t) if wants => {
                text.push_str(&t.decode().map_err(|e| xml_err(&reader, &e))?);
            }
            Event::CData(t) if wants => {
                text.push_str(&t.decode().map_err(|e| xml_err(&reader, &e))?);
            }
            Event::GeneralRef(r) if wants => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    text.push(c);
                } else {
                    let name = r.decode().map_err(|e| xml_err(&reader, &e))?;
                    match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(s) => text.push_str(s),
                        None => {
                            return Err(xml_err(&reader, &format!("unknown entity &{name};")));
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !root_seen {
        return Err(FeedError::Format {
            expected,
            reason: "empty document".into(),
        });
    }
    Ok(())
}

/// Parses `repomd.xml`.
///
/// # Errors
/// Malformed XML, or a root that is not `<repomd>`.
pub fn parse_repomd<R: BufRead>(input: R) -> Result<Parsed<RepomdData>, FeedError> {
    Ok(parse_repomd_full(input)?.0)
}

/// Parses `repomd.xml`, with its revision.
///
/// # Errors
/// Malformed XML, or a root that is not `<repomd>`.
pub fn parse_repomd_full<R: BufRead>(
    input: R,
) -> Result<(Parsed<RepomdData>, Option<String>), FeedError> {
    #[derive(Default)]
    struct H {
        out: Parsed<RepomdData>,
        cur: Option<RepomdData>,
        sum_type: Option<String>,
        revision: Option<String>,
    }
    impl Handler for H {
        fn open(&mut self, depth: usize, name: &[u8], e: &BytesStart<'_>) -> Result<(), FeedError> {
            match (depth, name) {
                (2, b"data") => {
                    self.cur = Some(RepomdData {
                        kind: attr(e, b"type").unwrap_or_default(),
                        ..RepomdData::default()
                    });
                }
                (3, b"location") => {
                    if let Some(c) = &mut self.cur {
                        c.location = attr(e, b"href").unwrap_or_default();
                    }
                }
                (3, b"checksum" | b"open-checksum") => {
                    self.sum_type = attr(e, b"type");
                }
                _ => {}
            }
            Ok(())
        }
        fn wants_text(&self, depth: usize, _name: &[u8]) -> bool {
            depth == 3 || depth == 2
        }
        fn close(&mut self, depth: usize, name: &[u8], text: &str) {
            if (depth, name) == (2, b"revision") {
                self.revision = Some(text.to_owned());
                return;
            }
            if (depth, name) == (2, b"data") {
                if let Some(c) = self.cur.take() {
                    if c.kind.is_empty() || c.location.is_empty() {
                        self.out.problems.push(Problem::new(
                            Some(c.kind.clone()),
                            "data entry without type or location, skipped",
                        ));
                    } else {
                        self.out.records.push(c);
                    }
                }
                return;
            }
            let Some(c) = &mut self.cur else { return };
            if depth != 3 {
                return;
            }
            let num = || text.parse::<u64>().ok();
            match name {
                b"checksum" => {
                    c.checksum = Some((self.sum_type.take().unwrap_or_default(), text.into()));
                }
                b"open-checksum" => {
                    c.open_checksum = Some((self.sum_type.take().unwrap_or_default(), text.into()));
                }
                b"size" => c.size = num(),
                b"open-size" => c.open_size = num(),
                b"timestamp" => c.timestamp = num(),
                _ => {}
            }
        }
    }
    let mut h = H::default();
    walk(input, "repomd", "rpm-md repomd.xml", &mut h)?;
    if h.out.records.is_empty() {
        return Err(FeedError::Format {
            expected: "rpm-md repomd.xml",
            reason: "no data entries".into(),
        });
    }
    Ok((h.out, h.revision))
}

/// Parses `primary.xml` (already decompressed), streaming.
///
/// A package without name, arch or version is a problem and is skipped.
///
/// # Errors
/// Malformed XML, or a root that is not `<metadata>`.
pub fn parse_primary<R: BufRead>(input: R) -> Result<Parsed<RpmPackage>, FeedError> {
    #[derive(Default)]
    struct H {
        out: Parsed<RpmPackage>,
        cur: Option<RpmPackage>,
        has_version: bool,
        declared: Option<usize>,
    }
    impl Handler for H {
        fn open(&mut self, depth: usize, name: &[u8], e: &BytesStart<'_>) -> Result<(), FeedError> {
            match (depth, name) {
                (1, _) => {
                    self.declared = attr(e, b"packages").and_then(|n| n.parse().ok());
                }
                (2, b"package") => {
                    self.cur = Some(RpmPackage::default());
                    self.has_version = false;
                }
                (3, b"version") => {
                    if let Some(p) = &mut self.cur {
                        p.epoch = attr(e, b"epoch").unwrap_or_else(|| "0".into());
                        p.version = attr(e, b"ver").unwrap_or_default();
                        p.release = attr(e, b"rel").unwrap_or_default();
                        self.has_version = true;
                    }
                }
                _ => {}
            }
            Ok(())
        }
        fn wants_text(&self, depth: usize, name: &[u8]) -> bool {
            matches!((depth, name), (3, b"name" | b"arch") | (4, b"sourcerpm"))
        }
        fn close(&mut self, depth: usize, name: &[u8], text: &str) {
            match (depth, name) {
                (2, b"package") => {
                    if let Some(p) = self.cur.take() {
                        if p.name.is_empty()
                            || p.arch.is_empty()
                            || !self.has_version
                            || p.version.is_empty()
                        {
                            self.out.problems.push(Problem::new(
                                Some(p.name.clone()),
                                "package without name, arch or version, skipped",
                            ));
                        } else {
                            self.out.records.push(p);
                        }
                    }
                }
                (3, b"name") => {
                    if let Some(p) = &mut self.cur {
                        p.name = text.to_owned();
                    }
                }
                (3, b"arch") => {
                    if let Some(p) = &mut self.cur {
                        p.arch = text.to_owned();
                    }
                }
                (4, b"sourcerpm") => {
                    if let Some(p) = &mut self.cur {
                        p.sourcerpm = Some(text.to_owned()).filter(|s| !s.is_empty());
                    }
                }
                _ => {}
            }
        }
    }
    let mut h = H::default();
    walk(input, "metadata", "rpm-md primary.xml", &mut h)?;
    if let Some(n) = h.declared {
        let seen = h.out.records.len() + h.out.problems.len();
        if n != seen {
            h.out.problems.push(Problem::new(
                None::<String>,
                format!("metadata declares {n} packages, {seen} found"),
            ));
        }
    }
    Ok(h.out)
}

/// The CVE id in a reference: its `id` when it is one, else the last `CVE-…` in its href.
fn cve_of(id: Option<&str>, href: Option<&str>) -> Option<String> {
    if let Some(id) = id.filter(|i| i.starts_with("CVE-")) {
        return Some(id.to_owned());
    }
    let href = href?;
    let at = href.rfind("CVE-")?;
    let tail = &href[at..];
    let end = tail
        .char_indices()
        .skip(4)
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '-'))
        .map_or(tail.len(), |(i, _)| i);
    Some(tail[..end].to_owned()).filter(|c| c.len() > 9)
}

/// Parses `updateinfo.xml` (already decompressed).
///
/// An update without an id is a problem and is skipped; a package without name or version is
/// a problem and is dropped from its update.
///
/// # Errors
/// Malformed XML, or a root that is not `<updates>`.
pub fn parse_updateinfo<R: BufRead>(input: R) -> Result<Parsed<UpdateInfo>, FeedError> {
    #[derive(Default)]
    struct H {
        out: Parsed<UpdateInfo>,
        cur: Option<UpdateInfo>,
        module: Option<String>,
    }
    impl Handler for H {
        fn open(&mut self, depth: usize, name: &[u8], e: &BytesStart<'_>) -> Result<(), FeedError> {
            if (depth, name) == (2, b"update") {
                self.cur = Some(UpdateInfo {
                    id: String::new(),
                    kind: UpdateKind::parse(&attr(e, b"type").unwrap_or_default()),
                    severity: None,
                    title: String::new(),
                    issued: None,
                    updated: None,
                    cves: Vec::new(),
                    packages: Vec::new(),
                    modules: Vec::new(),
                });
                return Ok(());
            }
            let Some(u) = &mut self.cur else {
                return Ok(());
            };
            match (depth, name) {
                (3, b"issued") => u.issued = attr(e, b"date"),
                (3, b"updated") => u.updated = attr(e, b"date"),
                (4, b"reference") => {
                    let is_cve = attr(e, b"type").is_some_and(|t| t.eq_ignore_ascii_case("cve"));
                    let cve = is_cve
                        .then(|| cve_of(attr(e, b"id").as_deref(), attr(e, b"href").as_deref()))
                        .flatten();
                    if let Some(c) = cve.filter(|c| !u.cves.contains(c)) {
                        u.cves.push(c);
                    }
                }
                (4, b"collection") => self.module = None,
                (5, b"module") => {
                    let m = UpdateModule {
                        name: attr(e, b"name").unwrap_or_default(),
                        stream: attr(e, b"stream").unwrap_or_default(),
                        version: attr(e, b"version").unwrap_or_default(),
                        context: attr(e, b"context").unwrap_or_default(),
                        arch: attr(e, b"arch").unwrap_or_default(),
                    };
                    self.module = Some(format!("{}:{}", m.name, m.stream));
                    u.modules.push(m);
                }
                (5, b"package") => {
                    let p = UpdatePackage {
                        name: attr(e, b"name").unwrap_or_default(),
                        epoch: attr(e, b"epoch").unwrap_or_else(|| "0".into()),
                        version: attr(e, b"version").unwrap_or_default(),
                        release: attr(e, b"release").unwrap_or_default(),
                        arch: attr(e, b"arch").unwrap_or_default(),
                        module: self.module.clone(),
                    };
                    if p.name.is_empty() || p.version.is_empty() {
                        self.out.problems.push(Problem::new(
                            Some(u.id.clone()),
                            "package without name or version, dropped",
                        ));
                    } else {
                        u.packages.push(p);
                    }
                }
                _ => {}
            }
            Ok(())
        }
        fn wants_text(&self, depth: usize, name: &[u8]) -> bool {
            depth == 3 && matches!(name, b"id" | b"title" | b"severity")
        }
        fn close(&mut self, depth: usize, name: &[u8], text: &str) {
            if (depth, name) == (2, b"update") {
                if let Some(u) = self.cur.take() {
                    if u.id.is_empty() {
                        self.out.problems.push(Problem::new(
                            Some(u.title.clone()),
                            "update without id, skipped",
                        ));
                    } else {
                        self.out.records.push(u);
                    }
                }
                return;
            }
            let Some(u) = &mut self.cur else { return };
            match (depth, name) {
                (3, b"id") => u.id = text.to_owned(),
                (3, b"title") => u.title = text.to_owned(),
                (3, b"severity") => u.severity = Some(text.to_owned()).filter(|s| !s.is_empty()),
                _ => {}
            }
        }
    }
    let mut h = H::default();
    walk(input, "updates", "rpm-md updateinfo.xml", &mut h)?;
    Ok(h.out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_streaming() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="3">
<package type="rpm"><name>bash</name><arch>x86_64</arch><version epoch="0" ver="5.1.8" rel="2.fc35"/>
<checksum type="sha256" pkgid="YES">ab</checksum><summary>The GNU Bourne Again shell &amp; more</summary>
<format><rpm:license>GPLv3+</rpm:license><rpm:sourcerpm>bash-5.1.8-2.fc35.src.rpm</rpm:sourcerpm>
<rpm:provides><rpm:entry name="bash" flags="EQ" epoch="0" ver="5.1.8" rel="2.fc35"/></rpm:provides></format></package>
<package type="rpm"><name>perl-Errno</name><arch>x86_64</arch><version epoch="0" ver="1.30" rel="477.fc35"/></package>
<package type="rpm"><name>broken</name><arch>noarch</arch></package>
</metadata>"#;
        let p = parse_primary(xml.as_bytes()).unwrap();
        assert_eq!(p.records.len(), 2);
        assert_eq!(p.problems.len(), 1);
        assert_eq!(p.records[0].evr(), "5.1.8-2.fc35");
        assert_eq!(
            p.records[0].sourcerpm.as_deref(),
            Some("bash-5.1.8-2.fc35.src.rpm")
        );
        assert_eq!(p.records[1].sourcerpm, None);
        assert!(parse_primary(&b"<updates/>"[..]).is_err());
        assert_eq!(evr("2", "1.0", "1"), "2:1.0-1");
        assert_eq!(
            cve_of(None, Some("https://x/cve/CVE-2020-25097.json")).as_deref(),
            Some("CVE-2020-25097")
        );
    }
}
