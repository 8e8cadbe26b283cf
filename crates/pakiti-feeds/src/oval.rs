//! OVAL definitions: the generic streaming reader and the vendor interpretations.
//!
//! One streaming pass (quick-xml events, no DOM) reads definitions, tests, objects, states and
//! variables into compact records (`document`); `reduce` then evaluates each definition's
//! criteria tree against them and turns it into [`Advisory`] records with per-stream
//! [`Affected`](pakiti_core::advisory::Affected) entries, the same way for every vendor.
//! What differs per vendor is in the vendor's module, as its implementation of
//! `reduce::Conventions`: [`redhat`] (the `redhat-release` platform, dnf module streams, the
//! kernel's grubenv check), [`ubuntu`] (the `/etc/lsb-release` codename, criterion comments:
//! ignored and end-of-life packages, architecture-limited kernel sources), [`suse`] (release
//! packages of SLES, openSUSE Leap and Leap Micro to streams).

use std::io::BufRead;

use pakiti_core::advisory::Advisory;

use crate::{FeedError, ParseOptions, Parsed};

mod boolean;
mod document;
mod reduce;

pub mod redhat;
pub mod suse;
pub mod ubuntu;

/// A parse with the document's own count of definitions, for completeness checks.
#[derive(Debug)]
pub struct Report {
    /// Every `<definition>` element read (inventory definitions included).
    pub definitions: usize,
    /// The advisories (one per non-inventory definition) and the problems met.
    pub parsed: Parsed<Advisory>,
}

fn parse_report<R: BufRead>(
    reader: R,
    opts: &ParseOptions,
    conventions: &dyn reduce::Conventions,
) -> Result<Report, FeedError> {
    let expected = conventions.source();
    let doc = document::read(reader, expected)?;
    if doc.definitions.is_empty() {
        return Err(FeedError::Format {
            expected,
            reason: "no <definition> elements".into(),
        });
    }
    let parsed = reduce::advisories(&doc, conventions, opts.stream.as_ref());
    Ok(Report {
        definitions: doc.definitions.len(),
        parsed,
    })
}
