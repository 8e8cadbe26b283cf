//! Ubuntu CVE OVAL (`com.ubuntu.<codename>.cve.oval.xml`) into advisories: Ubuntu's
//! conventions for the reduction in `reduce.rs`, kernel definitions included.
//!
//! - **Platform**: a `textfilecontent54_test` on `/etc/lsb-release` whose state's
//!   `subexpression` is the release codename (`ubuntu:focal`); an unknown codename is still a
//!   stream of its own.
//! - **Criterion comments** say what the test cannot (`criterion_hint`): Ubuntu writes
//!   `linux-meta-riscv: while related to the CVE in some way, a decision has been made to
//!   ignore this issue (note: 'was needs-triage now end-of-life')` and tests only that the
//!   binaries exist; the comment makes such an entry "ignored" or "end of life" instead of
//!   "unfixed".
//! - **Kernel definitions**: many kernel source packages (`linux`, `linux-meta-riscv`,
//!   `linux-raspi` …) build binaries of the same names (`linux-image-generic`); a source whose
//!   name says its architecture limits its entries to that architecture
//!   (`ubuntu_source_arches`), so an amd64 host does not get the riscv64 kernel's CVEs.
//! - **Severities**: critical, high, medium, low, negligible, untriaged.

use std::io::BufRead;

use pakiti_core::advisory::Advisory;
use pakiti_core::stream::{Distro, OsStream};

use super::document::Item;
use super::reduce::{Conventions, FileCheck, Hint, HintStatus, Platform};
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
    parse_report(reader, opts, &Ubuntu)
}

/// Ubuntu's [`Conventions`].
struct Ubuntu;

impl Conventions for Ubuntu {
    fn source(&self) -> &'static str {
        "ubuntu-oval"
    }

    fn severities(&self) -> &'static [&'static str] {
        &[
            "critical",
            "high",
            "medium",
            "low",
            "negligible",
            "untriaged",
            "",
        ]
    }

    fn text_file(&self, path: &str, states: &[&Item]) -> Option<FileCheck> {
        if path != "/etc/lsb-release" {
            return None;
        }
        let code = states.iter().find_map(|s| s.field("subexpression"))?;
        // An unknown codename stays a codename; it is still a stream of its own.
        Some(FileCheck::Platform(Platform::Stream(OsStream::new(
            Distro::Ubuntu,
            &code.value,
        ))))
    }

    /// Reads an Ubuntu criterion comment; `None` when it adds nothing to the test.
    fn criterion_hint(&self, comment: &str) -> Option<Hint> {
        let source = comment
            .split_whitespace()
            .next()
            .map(|w| w.trim_end_matches(':'))
            .unwrap_or_default();
        let status = if comment.contains("a decision has been made to ignore this issue") {
            // The tracker's `ignored (was needed now end-of-life)`: the release went out of
            // standard support before a fix.
            if comment.contains("now end-of-life") {
                Some(HintStatus::EndOfLife)
            } else {
                Some(HintStatus::Ignored)
            }
        } else {
            None
        };
        let arches = ubuntu_source_arches(source);
        (status.is_some() || arches.is_some()).then_some(Hint { status, arches })
    }
}

/// The architectures an Ubuntu kernel source package is built for, when it is built for a
/// few only. Its binaries share names with the generic kernel's (`linux-meta-riscv` builds
/// `linux-image-generic` for riscv64 only), so without this an amd64 host would get every
/// CVE of the riscv64 kernel. Only sources whose name says their architecture are listed;
/// any other source keeps matching every architecture.
fn ubuntu_source_arches(source: &str) -> Option<Vec<String>> {
    let linux = source.starts_with("linux-");
    if linux && source.split('-').any(|w| w == "riscv") {
        Some(vec!["riscv64".to_owned()])
    } else if linux && source.split('-').any(|w| w == "raspi" || w == "raspi2") {
        Some(vec!["arm64".to_owned(), "armhf".to_owned()])
    } else {
        None
    }
}
