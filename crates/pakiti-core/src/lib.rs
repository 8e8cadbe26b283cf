//! The pure core of pakiti: version comparison, the advisory model and the matcher.
//!
//! Nothing in this crate does I/O, async or database access. Vendor feeds are parsed into these
//! types by `pakiti-feeds`; the server stores them and calls [`matcher`] to turn a host's
//! installed packages into findings.
//!
//! ```
//! use pakiti_core::version::Scheme;
//! use std::cmp::Ordering;
//!
//! assert_eq!(Scheme::Rpm.compare("1.0~rc1", "1.0"), Ordering::Less);
//! assert_eq!(Scheme::Deb.compare("1:1.0-1", "2.0-1"), Ordering::Greater);
//! ```
#![warn(missing_docs)]

pub mod advisory;
pub mod kernel;
pub mod matcher;
pub mod osname;
pub mod package;
pub mod risk;
pub mod stream;
pub mod updates;
pub mod version;
