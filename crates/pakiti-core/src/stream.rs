//! OS streams: the unit vendor data is published for ("RHEL 8", "Debian bookworm", "Alpine 3.19").
//!
//! A stream is a distribution plus a release key in that distribution's own convention:
//! the major version for the Red Hat family, SUSE's `major.minor`/`major` as published, the
//! codename for Debian, `YY.MM` for Ubuntu and `major.minor` for Alpine. Its text form is
//! `distro:release` (`rhel:8`, `debian:bookworm`, `ubuntu:22.04`, `alpine:3.19`).

use std::fmt;
use std::str::FromStr;

use crate::version::Scheme;

/// A Linux distribution whose vendor data pakiti understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Distro {
    /// Red Hat Enterprise Linux.
    Rhel,
    /// CentOS Linux and CentOS Stream.
    Centos,
    /// AlmaLinux.
    Alma,
    /// Rocky Linux.
    Rocky,
    /// Oracle Linux.
    Oracle,
    /// Fedora.
    Fedora,
    /// Amazon Linux.
    Amazon,
    /// SUSE Linux Enterprise Server / Desktop.
    Sles,
    /// openSUSE Leap, Leap Micro and Tumbleweed.
    Opensuse,
    /// Debian.
    Debian,
    /// Ubuntu.
    Ubuntu,
    /// Alpine Linux.
    Alpine,
}

impl Distro {
    /// Every distro, in display order.
    pub const ALL: [Distro; 12] = [
        Distro::Rhel,
        Distro::Centos,
        Distro::Alma,
        Distro::Rocky,
        Distro::Oracle,
        Distro::Fedora,
        Distro::Amazon,
        Distro::Sles,
        Distro::Opensuse,
        Distro::Debian,
        Distro::Ubuntu,
        Distro::Alpine,
    ];

    /// The short identifier used in stream keys (`rhel`, `debian`, ...).
    #[must_use]
    pub fn id(self) -> &'static str {
        match self {
            Distro::Rhel => "rhel",
            Distro::Centos => "centos",
            Distro::Alma => "alma",
            Distro::Rocky => "rocky",
            Distro::Oracle => "oracle",
            Distro::Fedora => "fedora",
            Distro::Amazon => "amazon",
            Distro::Sles => "sles",
            Distro::Opensuse => "opensuse",
            Distro::Debian => "debian",
            Distro::Ubuntu => "ubuntu",
            Distro::Alpine => "alpine",
        }
    }

    /// A human name ("Red Hat Enterprise Linux").
    #[must_use]
    pub fn display_name(self) -> &'static str {
        match self {
            Distro::Rhel => "Red Hat Enterprise Linux",
            Distro::Centos => "CentOS",
            Distro::Alma => "AlmaLinux",
            Distro::Rocky => "Rocky Linux",
            Distro::Oracle => "Oracle Linux",
            Distro::Fedora => "Fedora",
            Distro::Amazon => "Amazon Linux",
            Distro::Sles => "SUSE Linux Enterprise",
            Distro::Opensuse => "openSUSE",
            Distro::Debian => "Debian",
            Distro::Ubuntu => "Ubuntu",
            Distro::Alpine => "Alpine Linux",
        }
    }

    /// The version scheme of the distro's package manager.
    #[must_use]
    pub fn scheme(self) -> Scheme {
        match self {
            Distro::Debian | Distro::Ubuntu => Scheme::Deb,
            Distro::Alpine => Scheme::Apk,
            _ => Scheme::Rpm,
        }
    }

    /// Parses [`Distro::id`] (case-insensitive; a few common aliases too).
    #[must_use]
    pub fn from_id(id: &str) -> Option<Self> {
        let id = id.trim().to_ascii_lowercase();
        let d = match id.as_str() {
            "rhel" | "redhat" | "red hat" => Distro::Rhel,
            "centos" => Distro::Centos,
            "alma" | "almalinux" => Distro::Alma,
            "rocky" | "rocky linux" => Distro::Rocky,
            "oracle" | "ol" | "oraclelinux" => Distro::Oracle,
            "fedora" => Distro::Fedora,
            "amazon" | "amzn" | "amazonlinux" => Distro::Amazon,
            "sles" | "suse" | "sled" => Distro::Sles,
            "opensuse" | "opensuse-leap" | "opensuse-tumbleweed" => Distro::Opensuse,
            "debian" => Distro::Debian,
            "ubuntu" => Distro::Ubuntu,
            "alpine" => Distro::Alpine,
            _ => return None,
        };
        Some(d)
    }
}

impl fmt::Display for Distro {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A distribution release that vendor data is published for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OsStream {
    distro: Distro,
    release: Box<str>,
}

impl OsStream {
    /// Builds a stream, normalising the release key: Debian numbers become codenames
    /// (`12` → `bookworm`), Ubuntu codenames become numbers (`jammy` → `22.04`), and the
    /// Red Hat family keeps only the major version (`8.4` → `8`).
    #[must_use]
    pub fn new(distro: Distro, release: &str) -> Self {
        let release = release.trim().to_ascii_lowercase();
        let release = match distro {
            Distro::Debian => debian_codename(&release).map_or(release.clone(), str::to_owned),
            Distro::Ubuntu => ubuntu_version(&release).map_or(release.clone(), str::to_owned),
            Distro::Rhel
            | Distro::Centos
            | Distro::Alma
            | Distro::Rocky
            | Distro::Oracle
            | Distro::Fedora => release.split('.').next().unwrap_or_default().to_owned(),
            Distro::Amazon | Distro::Sles | Distro::Opensuse | Distro::Alpine => release,
        };
        OsStream {
            distro,
            release: release.into_boxed_str(),
        }
    }

    /// The distribution.
    #[must_use]
    pub fn distro(&self) -> Distro {
        self.distro
    }

    /// The release key (`8`, `bookworm`, `22.04`, `3.19`).
    #[must_use]
    pub fn release(&self) -> &str {
        &self.release
    }

    /// The stream whose vendor data applies to this one when it has none of its own: Red Hat
    /// Enterprise Linux for its rebuilds (CentOS, AlmaLinux, Rocky, Oracle).
    #[must_use]
    pub fn upstream(&self) -> Option<OsStream> {
        match self.distro {
            Distro::Centos | Distro::Alma | Distro::Rocky | Distro::Oracle => {
                Some(OsStream::new(Distro::Rhel, &self.release))
            }
            _ => None,
        }
    }

    /// The version scheme that applies to this stream's packages.
    #[must_use]
    pub fn scheme(&self) -> Scheme {
        self.distro.scheme()
    }
}

impl fmt::Display for OsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.distro.id(), self.release)
    }
}

/// A stream key that is not `distro:release` with a known distro.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid os stream {0:?}: expected distro:release, e.g. rhel:8 or debian:bookworm")]
pub struct StreamParseError(pub String);

impl FromStr for OsStream {
    type Err = StreamParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (d, r) = s
            .split_once(':')
            .ok_or_else(|| StreamParseError(s.to_owned()))?;
        let distro = Distro::from_id(d).ok_or_else(|| StreamParseError(s.to_owned()))?;
        if r.trim().is_empty() {
            return Err(StreamParseError(s.to_owned()));
        }
        Ok(OsStream::new(distro, r))
    }
}

/// Debian release numbers and their codenames, newest last.
pub const DEBIAN_RELEASES: &[(&str, &str)] = &[
    ("7", "wheezy"),
    ("8", "jessie"),
    ("9", "stretch"),
    ("10", "buster"),
    ("11", "bullseye"),
    ("12", "bookworm"),
    ("13", "trixie"),
    ("14", "forky"),
    ("15", "duke"),
];

/// Ubuntu release numbers and their codenames.
pub const UBUNTU_RELEASES: &[(&str, &str)] = &[
    ("14.04", "trusty"),
    ("16.04", "xenial"),
    ("18.04", "bionic"),
    ("20.04", "focal"),
    ("22.04", "jammy"),
    ("23.10", "mantic"),
    ("24.04", "noble"),
    ("24.10", "oracular"),
    ("25.04", "plucky"),
    ("25.10", "questing"),
    ("26.04", "resolute"),
];

/// The Debian codename for a release number (`12` or `12.5` → `bookworm`), or the codename
/// itself when it is one.
#[must_use]
pub fn debian_codename(release: &str) -> Option<&'static str> {
    let major = release.split('.').next().unwrap_or(release);
    DEBIAN_RELEASES
        .iter()
        .find(|(n, c)| *n == major || *c == release)
        .map(|(_, c)| *c)
}

/// The Ubuntu version for a codename (`jammy` → `22.04`), or the version itself when known.
#[must_use]
pub fn ubuntu_version(release: &str) -> Option<&'static str> {
    UBUNTU_RELEASES
        .iter()
        .find(|(n, c)| *c == release || *n == release || release.starts_with(&format!("{n}.")))
        .map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_release_keys() {
        assert_eq!(
            OsStream::new(Distro::Debian, "12").to_string(),
            "debian:bookworm"
        );
        assert_eq!(
            OsStream::new(Distro::Debian, "12.5").to_string(),
            "debian:bookworm"
        );
        assert_eq!(
            OsStream::new(Distro::Ubuntu, "jammy").to_string(),
            "ubuntu:22.04"
        );
        assert_eq!(
            OsStream::new(Distro::Ubuntu, "22.04.3").to_string(),
            "ubuntu:22.04"
        );
        assert_eq!(OsStream::new(Distro::Rhel, "8.4").to_string(), "rhel:8");
        assert_eq!(
            OsStream::new(Distro::Alpine, "3.19").to_string(),
            "alpine:3.19"
        );
    }

    #[test]
    fn parses_and_prints() {
        for s in [
            "rhel:8",
            "debian:bookworm",
            "ubuntu:22.04",
            "alpine:3.19",
            "sles:15.5",
        ] {
            assert_eq!(s.parse::<OsStream>().unwrap().to_string(), s);
        }
        assert!("nonsense".parse::<OsStream>().is_err());
        assert!("gentoo:1".parse::<OsStream>().is_err());
        assert!("rhel:".parse::<OsStream>().is_err());
    }
}
