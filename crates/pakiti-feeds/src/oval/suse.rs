//! SUSE and openSUSE OVAL (`opensuse.leap.15.3.xml`, `suse.linux.enterprise.server.15.xml`) into advisories.

use std::io::BufRead;

use pakiti_core::advisory::Advisory;

use super::{Report, parse_report, reduce::Vendor};
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
    parse_report(reader, opts, Vendor::Suse, "suse-oval")
}
