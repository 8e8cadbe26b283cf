//! The advisory model: what every vendor feed is parsed into.
//!
//! An [`Advisory`] (RHSA, DSA, USN, a CVE record, an OSV entry ...) names CVEs and lists
//! [`Affected`] entries: one package in one OS stream, with a [`Status`]. Whether an installed
//! version is affected has exactly one definition, [`Affected::is_affected`]: introduced
//! inclusive, fixed exclusive.

use std::cmp::Ordering;
use std::fmt;

use crate::stream::OsStream;
use crate::version::Scheme;

/// A vendor's severity rating, mapped onto one scale.
///
/// Red Hat's Important maps to `High` and Moderate to `Medium`; Debian's "unimportant" and
/// Ubuntu's "negligible" map to `Low`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// The vendor gave none, or one we do not know.
    #[default]
    Unknown,
    /// Low, negligible, unimportant.
    Low,
    /// Medium, moderate.
    Medium,
    /// High, important.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// Maps a vendor's word onto the scale (case-insensitive); unknown words give `Unknown`.
    #[must_use]
    pub fn from_vendor(word: &str) -> Self {
        match word.trim().to_ascii_lowercase().as_str() {
            "critical" | "urgent" => Severity::Critical,
            "high" | "important" => Severity::High,
            "medium" | "moderate" => Severity::Medium,
            "low" | "negligible" | "unimportant" | "minor" => Severity::Low,
            _ => Severity::Unknown,
        }
    }

    /// The lowercase name (`critical`, `high`, `medium`, `low`, `unknown`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an affected entry names a binary package or a source package.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PackageKind {
    /// A binary package as installed (`libssl3`, `openssl-libs`).
    Binary,
    /// A source package (`openssl`); it matches every binary built from it.
    Source,
}

/// What the vendor says about one package in one stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Versions before this one are affected; this one and later are fixed.
    Fixed(String),
    /// Affected, and no fixed version exists yet (Red Hat "Affected", "Fix deferred").
    Unfixed,
    /// Affected, and the vendor has said it will not fix it.
    WillNotFix,
    /// Not affected (kept so that the UI can say so; never matches).
    NotAffected,
    /// Affected, and the release is out of support: no fix will come.
    EndOfLife,
    /// Affected, and the vendor decided to ignore the issue (Ubuntu's "ignored": related to
    /// the CVE, but no fix is planned for this release).
    Ignored,
}

impl Status {
    /// A short lowercase name (`fixed`, `unfixed`, `will-not-fix`, `not-affected`, `end-of-life`,
    /// `ignored`).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Status::Fixed(_) => "fixed",
            Status::Unfixed => "unfixed",
            Status::WillNotFix => "will-not-fix",
            Status::NotAffected => "not-affected",
            Status::EndOfLife => "end-of-life",
            Status::Ignored => "ignored",
        }
    }

    /// The fixed version, when there is one.
    #[must_use]
    pub fn fixed_version(&self) -> Option<&str> {
        match self {
            Status::Fixed(v) => Some(v),
            _ => None,
        }
    }
}

/// One package in one OS stream that an advisory speaks about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Affected {
    /// The stream the entry applies to.
    pub stream: OsStream,
    /// The package name.
    pub package: String,
    /// Binary or source package.
    pub kind: PackageKind,
    /// Architectures the entry is limited to; empty means every architecture.
    pub arches: Vec<String>,
    /// A module stream (`nodejs:18`) that must be enabled on the host for the entry to apply
    /// (RHEL 8+ modularity); `None` for ordinary packages.
    pub module: Option<String>,
    /// The first affected version (inclusive); `None` means every version before the fix.
    pub introduced: Option<String>,
    /// The last affected version (inclusive); `None` means no upper bound besides the status.
    /// OVAL `evr equals X` (kernel live patches) is `introduced = last_affected = X`: exactly
    /// that version, never "X and later".
    pub last_affected: Option<String>,
    /// What the vendor says.
    pub status: Status,
}

impl Affected {
    /// A binary-package entry with no arch, module or introduced limits.
    #[must_use]
    pub fn binary(stream: OsStream, package: impl Into<String>, status: Status) -> Self {
        Affected {
            stream,
            package: package.into(),
            kind: PackageKind::Binary,
            arches: Vec::new(),
            module: None,
            introduced: None,
            last_affected: None,
            status,
        }
    }

    /// A source-package entry with no arch, module or introduced limits.
    #[must_use]
    pub fn source(stream: OsStream, package: impl Into<String>, status: Status) -> Self {
        Affected {
            kind: PackageKind::Source,
            ..Affected::binary(stream, package, status)
        }
    }

    /// Whether `installed` (a full version of the stream's scheme) is affected.
    ///
    /// This is the one definition used everywhere: affected when
    /// `introduced <= installed <= last_affected` (each bound only when given) and, for
    /// `Fixed(v)`, `installed < v`; `Unfixed`, `WillNotFix`, `EndOfLife` and `Ignored` affect every
    /// version in the bounds; `NotAffected` affects none. Versions are compared with
    /// [`compare_installed`], so an rpm version without an epoch (`rpm -qa`) takes the
    /// vendor's.
    #[must_use]
    pub fn is_affected(&self, scheme: Scheme, installed: &str) -> bool {
        self.is_affected_by(|vendor| compare_installed(scheme, installed, vendor))
    }

    /// [`Affected::is_affected`] with the comparison of the installed version against each of
    /// the vendor's versions supplied by the caller (`cmp(vendor)` is installed <=> vendor).
    /// Used when a rebuild's host is matched against upstream data
    /// ([`crate::matcher::rebuild_compare`]).
    #[must_use]
    pub fn is_affected_by(&self, cmp: impl Fn(&str) -> Ordering) -> bool {
        if let Some(intro) = &self.introduced
            && cmp(intro).is_lt()
        {
            return false;
        }
        if let Some(last) = &self.last_affected
            && cmp(last).is_gt()
        {
            return false;
        }
        match &self.status {
            Status::Fixed(fixed) => cmp(fixed).is_lt(),
            Status::Unfixed | Status::WillNotFix | Status::EndOfLife | Status::Ignored => true,
            Status::NotAffected => false,
        }
    }

    /// Whether the entry lists exactly the installed version as its fixed, introduced or last
    /// affected version (`cmp(vendor)` is installed <=> vendor), as module-stream inference
    /// needs.
    #[must_use]
    pub fn lists_version(&self, cmp: impl Fn(&str) -> Ordering) -> bool {
        self.status
            .fixed_version()
            .into_iter()
            .chain(self.introduced.as_deref())
            .chain(self.last_affected.as_deref())
            .any(|v| cmp(v).is_eq())
    }

    /// Whether the entry applies to a package of architecture `arch`.
    ///
    /// An unknown arch (empty, `unknown`, `N/A`) is taken to match: a missing field in a report
    /// must never turn a vulnerable package into a clean one.
    #[must_use]
    pub fn applies_to_arch(&self, arch: &str) -> bool {
        self.arches.is_empty()
            || matches!(arch, "" | "unknown" | "N/A" | "(none)")
            || self.arches.iter().any(|a| a == arch)
    }
}

/// Compares an installed version with a vendor's version of the same scheme.
///
/// This is [`Scheme::compare`], except that an rpm installed version without an epoch
/// (`rpm -qa` prints none, so the epoch is unknown) is compared with the vendor's epoch: the
/// installed package of a stream keeps its epoch, so the vendor's is the best guess, and
/// assuming `0` would flag every package with an epoch for every historical advisory.
/// Agents' reports always carry the epoch (`0:` included), so this applies only to such lists.
#[must_use]
pub fn compare_installed(scheme: Scheme, installed: &str, vendor: &str) -> Ordering {
    match scheme {
        Scheme::Rpm => crate::version::rpm::compare_installed(installed, vendor),
        Scheme::Deb | Scheme::Apk => scheme.compare(installed, vendor),
    }
}

/// A vendor advisory or vulnerability record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Advisory {
    /// The vendor's identifier (`RHSA-2023:7700`, `DSA-5404-1`, `CVE-2023-0286`, `ALSA-2023:7549`).
    pub id: String,
    /// The feed kind it came from (`redhat-oval`, `debian-tracker`, `osv`, ...).
    pub source: String,
    /// A one-line title.
    pub title: String,
    /// The vendor's severity.
    pub severity: Severity,
    /// The CVE ids it covers (may be empty for bug-fix advisories).
    pub cves: Vec<String>,
    /// Reference URLs (vendor page first).
    pub references: Vec<String>,
    /// When it was issued, as an ISO 8601 date (`2023-12-05`).
    pub issued: Option<String>,
    /// When it was last updated, as an ISO 8601 date.
    pub updated: Option<String>,
    /// The packages it speaks about.
    pub affected: Vec<Affected>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::Distro;

    fn entry(status: Status, introduced: Option<&str>) -> Affected {
        let mut a = Affected::binary(OsStream::new(Distro::Debian, "12"), "openssl", status);
        a.introduced = introduced.map(str::to_owned);
        a
    }

    #[test]
    fn fixed_is_exclusive_and_introduced_inclusive() {
        let a = entry(Status::Fixed("3.0.11-1~deb12u2".into()), Some("3.0.0-1"));
        assert!(a.is_affected(Scheme::Deb, "3.0.0-1"));
        assert!(a.is_affected(Scheme::Deb, "3.0.11-1~deb12u1"));
        assert!(!a.is_affected(Scheme::Deb, "3.0.11-1~deb12u2"));
        assert!(!a.is_affected(Scheme::Deb, "2.9-1"));
    }

    #[test]
    fn statuses() {
        assert!(entry(Status::Unfixed, None).is_affected(Scheme::Deb, "1.0"));
        assert!(entry(Status::WillNotFix, None).is_affected(Scheme::Deb, "1.0"));
        assert!(entry(Status::EndOfLife, None).is_affected(Scheme::Deb, "1.0"));
        assert!(entry(Status::Ignored, None).is_affected(Scheme::Deb, "1.0"));
        assert!(!entry(Status::NotAffected, None).is_affected(Scheme::Deb, "1.0"));
    }

    #[test]
    fn unknown_arch_matches() {
        let mut a = entry(Status::Unfixed, None);
        a.arches = vec!["x86_64".into()];
        assert!(a.applies_to_arch("x86_64"));
        assert!(a.applies_to_arch("unknown"));
        assert!(!a.applies_to_arch("aarch64"));
    }

    #[test]
    fn severity_words() {
        assert_eq!(Severity::from_vendor("Important"), Severity::High);
        assert_eq!(Severity::from_vendor("negligible"), Severity::Low);
        assert_eq!(Severity::from_vendor("whatever"), Severity::Unknown);
    }
}
