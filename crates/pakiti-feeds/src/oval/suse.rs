//! SUSE and openSUSE OVAL (`opensuse.leap.15.3.xml`, `suse.linux.enterprise.server.15.xml`)
//! into advisories: SUSE's conventions for the reduction in `reduce.rs`.
//!
//! - **Platform**: the product's release package (`openSUSE-release`, `sles-release`,
//!   `sle-module-basesystem-release` …) with a `version` condition and no `evr`; which stream
//!   each product maps to is `suse_platform`'s table.
//! - **Severities**: critical, important, moderate, low, none (as Red Hat).
//! - CVE references are written `Mitre CVE-2004-2771`; `reduce.rs` takes the id from them.

use std::io::BufRead;

use pakiti_core::advisory::Advisory;
use pakiti_core::stream::{Distro, OsStream};

use super::document::Item;
use super::reduce::{Conventions, Platform};
use super::{Report, parse_report};
use crate::{FeedError, ParseOptions, Parsed};

/// Parses a (decompressed) document into advisories and per-definition problems.
///
/// # Errors
/// The XML is malformed, the root element is not `oval_definitions`, or the document has no
/// definitions.
pub fn parse<R: BufRead>(reader: R, opts: &ParseOptions) -> Result<Parsed<Advisory>, FeedError> {
    parse_with_report(reader, opts).map(|r| r.parsed)
}

/// Like [`parse`], with the number of `<definition>` elements read.
///
/// # Errors
/// As [`parse`].
pub fn parse_with_report<R: BufRead>(reader: R, opts: &ParseOptions) -> Result<Report, FeedError> {
    parse_report(reader, opts, &Suse)
}

/// SUSE's [`Conventions`].
struct Suse;

impl Conventions for Suse {
    fn source(&self) -> &'static str {
        "suse-oval"
    }

    fn severities(&self) -> &'static [&'static str] {
        &["critical", "important", "moderate", "low", "none", ""]
    }

    fn platform(&self, object: &Item, states: &[&Item]) -> Option<Platform> {
        let name = object.field("name")?;
        if name.var_ref.is_some() || !name.value.ends_with("-release") {
            return None;
        }
        if states.iter().any(|s| s.field("evr").is_some()) {
            return None;
        }
        let version = states.iter().find_map(|s| s.field("version"))?;
        Some(suse_platform(&name.value, &version.value))
    }
}

/// Maps a SUSE release package and its version to a stream.
///
/// SUSE tests the platform with the product's release package (`openSUSE-release`,
/// `sles-release`, `SLES_SAP-release`, `sle-module-basesystem-release` ...) and its rpm
/// `version`, which is `15` for SLES 15 GA and `15.3` for 15 SP3. The stream key is that
/// version as published (`sles:15`, `sles:15.3`), because service packs ship different package
/// versions and a host knows its own `VERSION_ID` (`15.3`) from `/etc/os-release`. Every SLE
/// product and module built on SLES (SAP, HPC, RT, LTSS, Desktop, modules) maps to the same
/// `sles` stream: they share the base packages. openSUSE Leap maps to `opensuse:15.3`;
/// openSUSE Leap Micro, whose release package is `openSUSE-release` with version `5.x`, maps
/// to `opensuse:micro-5.3`. Any other product (SUSE Manager, CaaSP ...) has no stream.
fn suse_platform(name: &str, version: &str) -> Platform {
    let lower = name.to_ascii_lowercase();
    let version = version.trim();
    if lower == "opensuse-release" || lower == "opensuse-leap-release" {
        if version.starts_with("15.") || version.starts_with("42.") {
            return Platform::Stream(OsStream::new(Distro::Opensuse, version));
        }
        if version.starts_with("5.") || version.starts_with("6.") {
            return Platform::Stream(OsStream::new(Distro::Opensuse, &format!("micro-{version}")));
        }
        return Platform::Other;
    }
    if lower == "opensuse-leap-micro-release" {
        return Platform::Stream(OsStream::new(Distro::Opensuse, &format!("micro-{version}")));
    }
    if lower.starts_with("sle")
        && !version.is_empty()
        && version.chars().all(|c| c.is_ascii_digit() || c == '.')
    {
        return Platform::Stream(OsStream::new(Distro::Sles, version));
    }
    Platform::Other
}
