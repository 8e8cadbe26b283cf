//! Installed packages as hosts report them.

/// One installed package on a host.
///
/// `version` is the full version in the stream's scheme: `[epoch:]version-release` for rpm,
/// the dpkg `Version` field for Debian, the apk version for Alpine.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstalledPackage {
    /// The binary package name.
    pub name: String,
    /// The full version.
    pub version: String,
    /// The architecture (`x86_64`, `amd64`, `noarch`, `all`); may be empty when unknown.
    pub arch: String,
    /// The source package it was built from, when the agent reports it (dpkg `${source:Package}`,
    /// rpm `SOURCERPM` name).
    pub source: Option<String>,
}

impl InstalledPackage {
    /// A package with no source name.
    #[must_use]
    pub fn new(
        name: impl Into<String>,
        version: impl Into<String>,
        arch: impl Into<String>,
    ) -> Self {
        InstalledPackage {
            name: name.into(),
            version: version.into(),
            arch: arch.into(),
            source: None,
        }
    }
}
