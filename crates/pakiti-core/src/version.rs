//! Version schemes and their comparators: rpm, dpkg and apk-tools.
//!
//! Each comparator agrees exactly with its real tool (rpm 4.18 `rpmvercmp`/`rpmverCmp`,
//! dpkg 1.21 `dpkg --compare-versions`, apk-tools 3 `apk version -t`); the vectors in
//! `shared/data/vercmp/` are the proof. Comparison works on `&str` without allocating, because
//! the matcher calls it millions of times.

pub mod apk;
pub mod deb;
pub mod rpm;

use std::cmp::Ordering;
use std::fmt;

/// A package version scheme: which tool's ordering applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    /// rpm `[epoch:]version[-release]`, compared as `rpmverCmp` does.
    Rpm,
    /// Debian `[epoch:]upstream[-revision]`, compared as deb-version(5) says.
    Deb,
    /// Alpine apk-tools versions (`1.2.3_rc1-r0`).
    Apk,
}

impl Scheme {
    /// The scheme's short name as used on the command line and in the wire formats.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Rpm => "rpm",
            Scheme::Deb => "dpkg",
            Scheme::Apk => "apk",
        }
    }

    /// Parses a scheme name: `rpm`, `dpkg` (or `deb`), `apk`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "rpm" => Some(Scheme::Rpm),
            "dpkg" | "deb" | "debian" => Some(Scheme::Deb),
            "apk" | "alpine" => Some(Scheme::Apk),
            _ => None,
        }
    }

    /// Checks that `version` is one the real tool accepts, with the reason when it does not.
    ///
    /// # Errors
    /// A [`VersionError`] naming the version and why it is invalid.
    pub fn validate(self, version: &str) -> Result<(), VersionError> {
        let reason = match self {
            Scheme::Rpm => rpm::validate(version),
            Scheme::Deb => deb::validate(version),
            Scheme::Apk => apk::validate(version),
        };
        match reason {
            Ok(()) => Ok(()),
            Err(reason) => Err(VersionError {
                scheme: self,
                version: version.to_owned(),
                reason,
            }),
        }
    }

    /// Compares two full versions of this scheme.
    ///
    /// The order is total on any input so that sorting never panics, but it is only
    /// meaningful for versions that [`Scheme::validate`] accepts.
    #[must_use]
    pub fn compare(self, a: &str, b: &str) -> Ordering {
        match self {
            Scheme::Rpm => rpm::compare_evr(a, b),
            Scheme::Deb => deb::compare(a, b),
            Scheme::Apk => apk::compare(a, b),
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A version string that its scheme rejects.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {scheme} version {version:?}: {reason}")]
pub struct VersionError {
    /// The scheme whose rules were applied.
    pub scheme: Scheme,
    /// The rejected input.
    pub version: String,
    /// Why it was rejected, lowercase, no trailing period.
    pub reason: String,
}
