//! Parsers for vendor vulnerability data, into the [`pakiti_core::advisory`] model.
//!
//! Every parser takes bytes or a reader and returns [`Parsed`]: the records plus a list of
//! per-record [`Problem`]s, so one odd record never loses a whole file. A document that is not
//! the expected format at all (wrong root element, no records where records must be) is a
//! [`FeedError`]: a format change must be loud, never a silent zero. This crate never touches
//! the network or the database.
//!
//! ```no_run
//! use pakiti_feeds::{decompress, FeedKind, ParseOptions};
//! let file = std::fs::File::open("rhel-8-including-unpatched.oval.xml.bz2").unwrap();
//! let reader = decompress::reader(std::io::BufReader::new(file)).unwrap();
//! let parsed = FeedKind::RedhatOval.parse(reader, &ParseOptions::default()).unwrap();
//! println!("{} advisories, {} problems", parsed.records.len(), parsed.problems.len());
//! ```
#![warn(missing_docs)]

pub mod alpine;
pub mod csaf;
pub mod debian;
pub mod decompress;
pub mod epss;
pub mod kev;
pub mod osv;
pub mod oval;
pub mod repo;
pub mod scores;

mod kind;

pub use kind::{CveFactRecord, FeedIdentity, FeedKind, ParseOptions};

/// Records parsed from one document, with the problems met on the way.
#[derive(Debug)]
pub struct Parsed<T> {
    /// The records that parsed.
    pub records: Vec<T>,
    /// Records (or parts of records) that were skipped or degraded, and why.
    pub problems: Vec<Problem>,
}

impl<T> Default for Parsed<T> {
    fn default() -> Self {
        Parsed {
            records: Vec::new(),
            problems: Vec::new(),
        }
    }
}

/// Something wrong with one record; the rest of the document is still used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The record's id (definition id, advisory id, package name), when known.
    pub record: Option<String>,
    /// What was wrong, lowercase, no trailing period.
    pub message: String,
}

impl Problem {
    /// A problem with a record.
    #[must_use]
    pub fn new(record: Option<impl Into<String>>, message: impl Into<String>) -> Self {
        Problem {
            record: record.map(Into::into),
            message: message.into(),
        }
    }
}

/// A document that could not be used at all.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// Reading or decompressing failed.
    #[error("cannot read feed data")]
    Io(#[from] std::io::Error),
    /// The XML is not well-formed.
    #[error("malformed xml at byte {position}: {message}")]
    Xml {
        /// Byte offset of the error.
        position: u64,
        /// The XML parser's message.
        message: String,
    },
    /// The JSON is not well-formed or not of the expected shape.
    #[error("malformed json: {0}")]
    Json(String),
    /// The document is well-formed but not the format this parser reads (a format change).
    #[error("not a {expected} document: {reason}")]
    Format {
        /// The format expected.
        expected: &'static str,
        /// What was found instead.
        reason: String,
    },
}
