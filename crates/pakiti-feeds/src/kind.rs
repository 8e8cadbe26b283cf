//! The list of feed kinds and the one entry point that dispatches to their parsers.

use std::fmt;
use std::io::BufRead;

use pakiti_core::advisory::Advisory;
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
}

impl FeedKind {
    /// Every kind.
    pub const ALL: [FeedKind; 8] = [
        FeedKind::RedhatOval,
        FeedKind::UbuntuOval,
        FeedKind::SuseOval,
        FeedKind::Csaf,
        FeedKind::DebianTracker,
        FeedKind::DebianList,
        FeedKind::AlpineSecdb,
        FeedKind::Osv,
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
        }
    }

    /// Parses [`FeedKind::name`].
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        FeedKind::ALL.into_iter().find(|k| k.name() == name)
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
        let _ = (reader, opts);
        Err(FeedError::Format {
            expected: self.name(),
            reason: "parser not wired yet".into(),
        })
    }
}

impl fmt::Display for FeedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
