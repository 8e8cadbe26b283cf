//! The in-memory report every wire format parses into and renders from.

use std::fmt;

use crate::WireError;

/// The package manager of the reporting host; decides how package versions are read.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Packager {
    /// rpm (RHEL and clones, Fedora, Amazon, SUSE): versions are `E:V-R`.
    Rpm,
    /// dpkg (Debian, Ubuntu): versions are the `Version` field verbatim.
    Dpkg,
    /// apk (Alpine): versions are `V-rN` verbatim.
    Apk,
    /// BSD `pkg` (sent by the Perl client on FreeBSD).
    Pkg,
    /// Anything else the client named (`svmon`, or empty when the client did not say).
    Unknown(String),
}

impl Packager {
    /// Reads a packager name as clients send it (`rpm`, `dpkg`, `apk`, `pkg`); never fails.
    #[must_use]
    pub fn from_name(name: &str) -> Self {
        match name.trim() {
            "rpm" => Packager::Rpm,
            "dpkg" => Packager::Dpkg,
            "apk" => Packager::Apk,
            "pkg" => Packager::Pkg,
            other => Packager::Unknown(other.to_owned()),
        }
    }

    /// The name as sent on the wire.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Packager::Rpm => "rpm",
            Packager::Dpkg => "dpkg",
            Packager::Apk => "apk",
            Packager::Pkg => "pkg",
            Packager::Unknown(s) => s,
        }
    }

    /// Brings a package version into this packager's canonical form: for rpm the epoch is made
    /// explicit (`1.0-1` → `0:1.0-1`, `(none):1.0-1` → `0:1.0-1`); other packagers keep it verbatim.
    #[must_use]
    pub fn normalize_version(&self, version: &str) -> String {
        match self {
            Packager::Rpm => normalize_rpm_version(version),
            _ => version.to_owned(),
        }
    }
}

impl fmt::Display for Packager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the server is asked to do with a report (Pakiti's "processing mode").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Store the report, answer only `OK` (`0`, `store-only`; the default).
    #[default]
    StoreOnly,
    /// Store the report and send back the findings (`1`, `store-and-report`).
    StoreAndReport,
    /// Only send back the findings, store nothing (`2`, `report-only`).
    ReportOnly,
}

impl Mode {
    /// Parses `0`/`1`/`2` or `store-only`/`store-and-report`/`report-only`; anything else is an
    /// error naming `field` (Pakiti answers such a request with `ERROR`).
    pub fn parse(field: &str, value: &str) -> Result<Self, WireError> {
        match value.trim() {
            "0" | "store-only" => Ok(Mode::StoreOnly),
            "1" | "store-and-report" => Ok(Mode::StoreAndReport),
            "2" | "report-only" => Ok(Mode::ReportOnly),
            other => Err(WireError::field(
                field,
                format!(
                    "unsupported processing mode {other:?} (expected 0, 1, 2, store-only, store-and-report or report-only)"
                ),
            )),
        }
    }

    /// The protocol-4 `report` digit (`0`, `1`, `2`).
    #[must_use]
    pub fn as_digit(self) -> &'static str {
        match self {
            Mode::StoreOnly => "0",
            Mode::StoreAndReport => "1",
            Mode::ReportOnly => "2",
        }
    }

    /// The protocol-5 name (`store-only`, `store-and-report`, `report-only`).
    #[must_use]
    pub fn as_name(self) -> &'static str {
        match self {
            Mode::StoreOnly => "store-only",
            Mode::StoreAndReport => "store-and-report",
            Mode::ReportOnly => "report-only",
        }
    }

    /// Whether the server keeps the report.
    #[must_use]
    pub fn stores(self) -> bool {
        self != Mode::ReportOnly
    }

    /// Whether the client wants the findings back.
    #[must_use]
    pub fn reports_back(self) -> bool {
        self != Mode::StoreOnly
    }
}

/// The structured `/etc/os-release` fields, when the agent sends them (our JSON report only).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct OsRelease {
    /// `ID`, e.g. `rocky`, `debian`, `alpine`.
    pub id: String,
    /// `VERSION_ID`, e.g. `9.3`, `12`, `3.19.1`; empty when the file has none (Debian sid, Arch).
    pub version_id: String,
}

/// One installed package as reported.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Package {
    /// Binary package name.
    pub name: String,
    /// Full version in the packager's scheme: rpm `E:V-R` with the epoch always present (as the
    /// old clients send it, see [`Packager::normalize_version`]), dpkg `Version` verbatim (epoch
    /// only when the package has one), apk verbatim (`1.36.1-r15`).
    pub version: String,
    /// Architecture (`x86_64`, `noarch`, `amd64`, `all`); empty when the format carries none.
    pub arch: String,
    /// Source package name, when the agent reports it.
    pub source: Option<String>,
}

impl Package {
    /// A package with no source name.
    #[must_use]
    pub fn new(
        name: impl Into<String>,
        version: impl Into<String>,
        arch: impl Into<String>,
    ) -> Self {
        Package {
            name: name.into(),
            version: version.into(),
            arch: arch.into(),
            source: None,
        }
    }
}

/// A host's report: header fields plus the installed packages.
///
/// Optional fields are `None` when the client did not send them or sent them empty; the old
/// protocols' placeholder defaults (`unknown`) are filled in by their parsers, see
/// [`crate::protocol4`].
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Report {
    /// The reporting host's name (`hostname -f`); never empty after parsing.
    pub hostname: String,
    /// A client-generated stable host id (our agent only), so a host keeps its identity when its
    /// name or address changes.
    pub host_id: Option<String>,
    /// The free-form OS string, e.g. `CentOS Linux release 7.9.2009 (Core)`, `Debian GNU/Linux 12`.
    pub os: String,
    /// Structured os-release fields, when the agent sends them.
    pub os_release: Option<OsRelease>,
    /// `uname -m`.
    pub arch: String,
    /// CPU model name(s) (protocol 5 `cpu`).
    pub cpu: Option<String>,
    /// `uname -r`.
    pub kernel: String,
    /// Site / host group.
    pub site: Option<String>,
    /// Free-form admin tag.
    pub tag: Option<String>,
    /// The package manager.
    pub packager: Packager,
    /// What the server should do with the report.
    pub mode: Mode,
    /// Whether the sender is a proxy submitting on behalf of `hostname` (protocol 4 `proxy=1`).
    pub proxy: bool,
    /// The host's IP address as the client reports it.
    pub ip: Option<String>,
    /// Installed packages, in the order received.
    pub packages: Vec<Package>,
    /// Enabled dnf module streams (`nodejs:18`).
    pub module_streams: Vec<String>,
    /// The package lines that could not be read: skipped, counted and kept with the report.
    pub unreadable: Unreadable,
}

/// How many characters of an unreadable line [`LineProblem::excerpt`] keeps.
pub const EXCERPT_CHARS: usize = 120;

/// How many unreadable lines a report keeps in detail; every one is counted.
pub const KEPT_PROBLEMS: usize = 50;

/// A line of a report that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LineProblem {
    /// 1-based line number in the part of the report it belongs to (the `pkgs` field of a
    /// protocol-4 form, the body of a protocol-5 report, the index in a JSON `packages` array).
    pub line: usize,
    /// Why it could not be read, e.g. `expected four quoted tokens, found 3`.
    pub reason: String,
    /// The start of the line as received ([`EXCERPT_CHARS`] characters at most, control
    /// characters replaced by spaces).
    pub excerpt: String,
}

/// The lines of a report that could not be read: all are counted, the first [`KEPT_PROBLEMS`]
/// are kept with their line number, reason and an excerpt.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Unreadable {
    /// How many lines could not be read.
    pub count: usize,
    /// The first of them.
    pub lines: Vec<LineProblem>,
}

impl Unreadable {
    /// Counts an unreadable line, keeping it in detail while fewer than [`KEPT_PROBLEMS`] are.
    pub fn push(&mut self, line: usize, reason: impl Into<String>, raw: &str) {
        self.count += 1;
        if self.lines.len() < KEPT_PROBLEMS {
            self.lines.push(LineProblem {
                line,
                reason: reason.into(),
                excerpt: excerpt(raw),
            });
        }
    }

    /// Whether every line was read.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// The first [`EXCERPT_CHARS`] characters of `raw`, control characters as spaces, with `…`
/// when cut.
#[must_use]
pub fn excerpt(raw: &str) -> String {
    let mut out: String = raw
        .chars()
        .take(EXCERPT_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if raw.chars().nth(EXCERPT_CHARS).is_some() {
        out.push('…');
    }
    out
}

impl Default for Packager {
    fn default() -> Self {
        Packager::Unknown(String::new())
    }
}

/// Version tag of [`Report::canonical_bytes`]; bump it when the layout changes so stored hashes
/// are not compared across layouts.
const CANONICAL_TAG: &str = "pakiti-report-canonical-v1";

impl Report {
    /// Refuses a report with no readable package: storing it would show the host as having
    /// nothing installed, hence nothing vulnerable.
    ///
    /// # Errors
    /// [`WireError::NoReadablePackage`], naming the first unreadable line if there is one.
    pub fn require_packages(&self) -> Result<(), WireError> {
        if !self.packages.is_empty() {
            return Ok(());
        }
        let detail = match self.unreadable.lines.first() {
            None => "the package list is empty".to_owned(),
            Some(p) => format!(
                "{} line(s) could not be read; line {}: {}",
                self.unreadable.count, p.line, p.reason
            ),
        };
        Err(WireError::NoReadablePackage(detail))
    }

    /// A stable byte string describing the report's content, for the server to hash and compare
    /// with the previous report of the same host ("nothing changed" short-cut).
    ///
    /// Guarantees:
    /// * packages and module streams are sorted first, so the bytes do **not** depend on the
    ///   order the client listed them in;
    /// * per-request fields are left out: [`Report::mode`] and [`Report::proxy`] describe the
    ///   request, not the host (nothing in a report is a timestamp);
    /// * every field is length-prefixed, so no two different reports share bytes.
    #[must_use]
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.packages.len() * 48);
        put(&mut out, CANONICAL_TAG);
        put(&mut out, &self.hostname);
        put_opt(&mut out, self.host_id.as_deref());
        put(&mut out, &self.os);
        match &self.os_release {
            Some(r) => {
                put(&mut out, "os-release");
                put(&mut out, &r.id);
                put(&mut out, &r.version_id);
            }
            None => put(&mut out, "no-os-release"),
        }
        put(&mut out, &self.arch);
        put_opt(&mut out, self.cpu.as_deref());
        put(&mut out, &self.kernel);
        put_opt(&mut out, self.site.as_deref());
        put_opt(&mut out, self.tag.as_deref());
        put(&mut out, self.packager.as_str());
        put_opt(&mut out, self.ip.as_deref());

        let mut streams: Vec<&str> = self.module_streams.iter().map(String::as_str).collect();
        streams.sort_unstable();
        put(&mut out, &streams.len().to_string());
        for s in streams {
            put(&mut out, s);
        }

        let mut pkgs: Vec<&Package> = self.packages.iter().collect();
        pkgs.sort_unstable();
        put(&mut out, &pkgs.len().to_string());
        for p in pkgs {
            put(&mut out, &p.name);
            put(&mut out, &p.version);
            put(&mut out, &p.arch);
            put_opt(&mut out, p.source.as_deref());
        }
        // Only a report with unreadable lines says so: the bytes of every other report stay
        // what they were, so stored hashes keep matching.
        if !self.unreadable.is_empty() {
            put(&mut out, "unreadable");
            put(&mut out, &self.unreadable.count.to_string());
            for p in &self.unreadable.lines {
                put(&mut out, &p.line.to_string());
                put(&mut out, &p.reason);
                put(&mut out, &p.excerpt);
            }
        }
        out
    }
}

/// Appends `s` as a netstring (`len:bytes,`).
fn put(out: &mut Vec<u8>, s: &str) {
    // Runs four times for every package of every report: no `String` per length.
    out.extend_from_slice(itoa::Buffer::new().format(s.len()).as_bytes());
    out.push(b':');
    out.extend_from_slice(s.as_bytes());
    out.push(b',');
}

/// Appends an optional string; `None` and `Some("")` stay distinct.
fn put_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => {
            out.push(b'+');
            put(out, s);
        }
        None => out.push(b'-'),
    }
}

/// The host name a report names, found without parsing it: for recording a report that is
/// refused (its header or package list could not be read), so that a site sees which host
/// failed. Looks for a protocol-5 `host:` line, a form field `host=` (urlencoded) or
/// `name="host"` (multipart), or a JSON `"hostname"`; `None` when none is found or the value is
/// empty, longer than 255 characters or holds control characters.
#[must_use]
pub fn sniff_hostname(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(1 << 20)]);
    let found = text
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("host:")
                .map(|v| v.split_whitespace().next().unwrap_or("").to_owned())
        })
        .or_else(|| {
            let start = if text.starts_with("host=") {
                Some(5)
            } else {
                text.find("&host=").map(|i| i + 6)
            }?;
            let v = &text[start..];
            let v = &v[..v.find(['&', '\n']).unwrap_or(v.len())];
            Some(crate::percent::urldecode_or_keep(v))
        })
        .or_else(|| {
            let i = text.find("name=\"host\"")?;
            let v = &text[i..];
            let v = &v[v.find("\r\n\r\n")? + 4..];
            Some(v[..v.find("\r\n").unwrap_or(v.len())].to_owned())
        })
        .or_else(|| {
            let i = text.find("\"hostname\"")?;
            let v = text[i + 10..].trim_start().strip_prefix(':')?.trim_start();
            let v = v.strip_prefix('"')?;
            Some(v[..v.find('"')?].to_owned())
        })?;
    let found = found.trim();
    (!found.is_empty() && found.chars().count() <= 255 && !found.chars().any(char::is_control))
        .then(|| found.to_owned())
}

/// An rpm version split into its parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpmEvr {
    /// The epoch, `0` when absent.
    pub epoch: String,
    /// The upstream version.
    pub version: String,
    /// The release; empty when the version had no `-`.
    pub release: String,
}

/// Splits an rpm version `[E:]V[-R]` into (epoch, version, release).
///
/// The epoch is whatever precedes the first `:` (`(none)` and a missing epoch read as `0`); the
/// release is what follows the **last** `-` (rpm forbids `-` inside version and release).
#[must_use]
pub fn split_rpm_version(full: &str) -> RpmEvr {
    let (epoch, version, release) = rpm_parts(full);
    RpmEvr {
        epoch: epoch.to_owned(),
        version: version.to_owned(),
        release: release.to_owned(),
    }
}

/// [`split_rpm_version`]'s parts, borrowed.
fn rpm_parts(full: &str) -> (&str, &str, &str) {
    let (epoch, rest) = match full.split_once(':') {
        Some((e, rest)) if e.is_empty() || e == "(none)" => ("0", rest),
        Some((e, rest)) => (e, rest),
        None => ("0", full),
    };
    let (version, release) = rest.rsplit_once('-').unwrap_or((rest, ""));
    (epoch, version, release)
}

/// Joins rpm parts into the canonical `E:V-R` (`E:V` when the release is empty); an empty or
/// `(none)` epoch becomes `0`.
#[must_use]
pub fn join_rpm_version(epoch: &str, version: &str, release: &str) -> String {
    let epoch = if epoch.is_empty() || epoch == "(none)" {
        "0"
    } else {
        epoch
    };
    // One allocation, no formatting: `normalize_rpm_version` runs this for every package of
    // every rpm report.
    let mut out = String::with_capacity(epoch.len() + version.len() + release.len() + 2);
    out.push_str(epoch);
    out.push(':');
    out.push_str(version);
    if !release.is_empty() {
        out.push('-');
        out.push_str(release);
    }
    out
}

/// The canonical rpm form of `full`: epoch always present (`(none):` and a missing epoch → `0:`).
#[must_use]
pub fn normalize_rpm_version(full: &str) -> String {
    // Split without copying the parts (this runs for every package of every rpm report).
    let (epoch, version, release) = rpm_parts(full);
    join_rpm_version(epoch, version, release)
}

/// Replaces control characters (newlines, tabs) by spaces, so a header value cannot break a
/// line-oriented format.
pub(crate) fn one_line(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `None` for an empty (or all-blank) value.
pub(crate) fn non_empty(value: &str) -> Option<String> {
    let t = value.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A field is its decimal length, `:`, its bytes and `,` (the canonical bytes, and so
    /// every stored report hash, depend on it).
    #[test]
    fn put_writes_decimal_lengths() {
        for n in [0usize, 1, 9, 10, 99, 100, 12_345, 1 << 20] {
            let s = "x".repeat(n);
            let mut out = Vec::new();
            put(&mut out, &s);
            assert_eq!(out, format!("{n}:{s},").into_bytes());
        }
    }

    #[test]
    fn rpm_split_and_join() {
        let e = split_rpm_version("1:1.0.2k-19.el7");
        assert_eq!(
            (e.epoch.as_str(), e.version.as_str(), e.release.as_str()),
            ("1", "1.0.2k", "19.el7")
        );
        assert_eq!(normalize_rpm_version("(none):2.0-1"), "0:2.0-1");
        assert_eq!(normalize_rpm_version("2.0-1"), "0:2.0-1");
        assert_eq!(normalize_rpm_version("3:2.0"), "3:2.0");
        // The same as splitting and joining, edge cases included.
        for v in [
            "",
            ":",
            "1.0-",
            "-1",
            "a:b:c-d-e",
            "(none):",
            ":1-2",
            "0:1.0-1.el8",
        ] {
            let e = split_rpm_version(v);
            assert_eq!(
                normalize_rpm_version(v),
                join_rpm_version(&e.epoch, &e.version, &e.release),
                "{v:?}"
            );
        }
        assert_eq!(join_rpm_version("", "1", "2"), "0:1-2");
    }
}
