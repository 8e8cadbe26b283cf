//! Red Hat OVAL v2 (`rhel-N-including-unpatched.oval.xml`) and the older RHSA OVAL v1
//! (`com.redhat.rhsa-RHELN.xml`) into advisories: Red Hat's conventions for the reduction in
//! `reduce.rs`.
//!
//! - **Platform**: a `redhat-release*` package (named in the object, or for
//!   `rpmverifyfile_test` in the state) with a `version` condition and no `evr`: its leading
//!   digits are the RHEL major release (`rhel:8`); no version is "any RHEL"; CoreOS's
//!   `redhat-release-coreos` is a platform pakiti has no stream for. `redhat-release is
//!   earlier than …` is an ordinary package check.
//! - **Module streams**: `/etc/dnf/modules.d/NAME.module` matching `stream\s*=\s*S\b` means
//!   `NAME:S` is enabled; entries under it apply only to hosts with that stream.
//! - **Kernel errata**: the next-boot kernel check (a `textfilecontent54_test` on grubenv
//!   under `/boot/grub`) and the running-kernel `uname_test` are taken as satisfied: the
//!   installed-package check alone decides. Live patches (`kernel equals X AND
//!   kpatch-patch-X earlier than Y`) keep the kpatch entry (`reduce.rs`, `entries`).
//! - **Severities**: critical, important, moderate, low, none.
//! - "Not affected" is written as "X is installed AND X is not installed", and unpatched
//!   packages carry an `<affected><resolution>` state; both are read in `reduce.rs`.

use std::io::BufRead;

use pakiti_core::advisory::Advisory;
use pakiti_core::stream::{Distro, OsStream};

use super::document::Item;
use super::reduce::{Conventions, FileCheck, Platform};
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
    parse_report(reader, opts, &Redhat)
}

/// Red Hat's [`Conventions`].
struct Redhat;

impl Conventions for Redhat {
    fn source(&self) -> &'static str {
        "redhat-oval"
    }

    fn severities(&self) -> &'static [&'static str] {
        &["critical", "important", "moderate", "low", "none", ""]
    }

    fn platform(&self, object: &Item, states: &[&Item]) -> Option<Platform> {
        // `redhat-release*` named in the object or (rpmverifyfile) the state.
        let name = states
            .iter()
            .find_map(|s| s.field("name"))
            .or_else(|| object.field("name"))?;
        let n = name.value.trim_start_matches('^');
        // `redhat-release is earlier than ...` is an ordinary package check.
        if !n.starts_with("redhat-release") || states.iter().any(|s| s.field("evr").is_some()) {
            return None;
        }
        if n.starts_with("redhat-release-coreos") {
            return Some(Platform::Other);
        }
        match states.iter().find_map(|s| s.field("version")) {
            None => Some(Platform::Family(Distro::Rhel)),
            Some(v) => {
                let major: String = v
                    .value
                    .trim_start_matches('^')
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                if major.is_empty() {
                    Some(Platform::Other)
                } else {
                    Some(Platform::Stream(OsStream::new(Distro::Rhel, &major)))
                }
            }
        }
    }

    fn text_file(&self, path: &str, states: &[&Item]) -> Option<FileCheck> {
        if let Some(module) = path
            .strip_prefix("/etc/dnf/modules.d/")
            .and_then(|m| m.strip_suffix(".module"))
        {
            let stream = states
                .iter()
                .find_map(|s| s.field("text"))
                .and_then(|t| module_stream(&t.value))?;
            Some(FileCheck::Module(format!("{module}:{stream}")))
        } else if path.starts_with("/boot/grub") {
            Some(FileCheck::Assumed)
        } else {
            None
        }
    }
}

/// Extracts the stream from Red Hat's module pattern `\nstream\s*=\s*7\.2\b...`.
fn module_stream(pattern: &str) -> Option<String> {
    let start = pattern.find("stream\\s*=\\s*")? + "stream\\s*=\\s*".len();
    let rest = &pattern[start..];
    let end = rest.find("\\b").unwrap_or(rest.len());
    let s = rest[..end].replace("\\.", ".");
    (!s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
    .then_some(s)
}
