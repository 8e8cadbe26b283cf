//! Wire types shared by the agent and the server, and the old Pakiti report protocols.
//!
//! Every report format parses into, and renders from, one in-memory [`Report`]:
//!
//! * [`json`]: our own versioned JSON report ([`json::REPORT_VERSION`]) and the server's JSON reply;
//! * [`protocol4`]: the Pakiti 2 bash clients' form POST (multipart fields or the hand-built
//!   `x-www-form-urlencoded` body of the "openssl method"), plus their `stdout`/proxy text format;
//! * [`protocol5`]: the Pakiti 3 Perl client's text body and its `mode`/`protocol` query parameters;
//! * [`listing`]: package listings sysadmins already have (`rpm -qa`, `dpkg-query -W`, `apk`);
//! * [`reply`]: the server's plain-text answers (`OK`, v2 report-back lines, v3 tagged-CVE lines).
//!
//! This crate does no I/O and knows nothing about HTTP: the server decodes multipart bodies and
//! S/MIME envelopes itself and hands this crate the field values or the clear-text body.
//!
//! ```
//! use pakiti_api::{protocol5, Packager};
//!
//! let body = "#\nhost: wn042.example.org\npackager: rpm\nsystem: CentOS Linux release 7.9.2009 (Core)\n\
//!             #\nbash\t0:4.2.46-34.el7\tx86_64\n#\n";
//! let report = protocol5::parse(body.as_bytes()).unwrap();
//! assert_eq!(report.hostname, "wn042.example.org");
//! assert_eq!(report.packager, Packager::Rpm);
//! assert_eq!(report.packages[0].version, "0:4.2.46-34.el7");
//! ```
#![warn(missing_docs)]

mod error;
pub mod json;
pub mod listing;
mod percent;
pub mod protocol4;
pub mod protocol5;
pub mod reply;
pub mod report;

pub use error::WireError;
pub use report::{LineProblem, Mode, OsRelease, Package, Packager, Report, Unreadable};
