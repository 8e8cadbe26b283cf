//! Sample fleets built from the real host package lists in `shared/data/hosts/lists/`.
//!
//! Used by `pakiti bench` and the demo data: each `<host>.tsv` there is one real host
//! (name, epoch, version, release, arch, candidate update), scanned by vuls.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use pakiti_core::package::InstalledPackage;
use pakiti_core::stream::{Distro, OsStream};

/// One real host's package list.
#[derive(Clone, Debug)]
pub struct HostList {
    /// File stem (`rhel_80`).
    pub name: String,
    /// The distro family as vuls recorded it (`redhat`, `debian`, `opensuse.leap` ...).
    pub family: String,
    /// The release (`8.0`, `12`, `3.19.0`).
    pub release: String,
    /// The running kernel (`uname -r`).
    pub kernel: String,
    /// Installed packages with full versions in the family's scheme.
    pub packages: Vec<InstalledPackage>,
}

impl HostList {
    /// The distro of the list's family, if pakiti knows it.
    #[must_use]
    pub fn distro(&self) -> Option<Distro> {
        Some(match self.family.as_str() {
            "redhat" => Distro::Rhel,
            "centos" => Distro::Centos,
            "alma" => Distro::Alma,
            "rocky" => Distro::Rocky,
            "oracle" => Distro::Oracle,
            "fedora" => Distro::Fedora,
            "amazon" => Distro::Amazon,
            "debian" => Distro::Debian,
            "ubuntu" => Distro::Ubuntu,
            "alpine" => Distro::Alpine,
            "opensuse" | "opensuse.leap" => Distro::Opensuse,
            "suse.linux.enterprise.server" => Distro::Sles,
            _ => return None,
        })
    }

    /// The list's own OS stream (`rocky:8` for a Rocky host).
    #[must_use]
    pub fn stream(&self) -> Option<OsStream> {
        let distro = self.distro()?;
        let release = match distro {
            // Alpine data is per minor release; SUSE per major.minor (service pack).
            Distro::Alpine | Distro::Sles | Distro::Opensuse => self
                .release
                .split('.')
                .take(2)
                .collect::<Vec<_>>()
                .join("."),
            _ => self.release.clone(),
        };
        Some(OsStream::new(distro, &release))
    }

    /// A human OS name like the agents send (`Red Hat Enterprise Linux 8.0`).
    #[must_use]
    pub fn os_name(&self) -> String {
        match self.distro() {
            Some(d) => format!("{} {}", d.display_name(), self.release),
            None => format!("{} {}", self.family, self.release),
        }
    }
}

/// The default location of the shared data: `../shared/data` beside the repository.
#[must_use]
pub fn default_data_dir() -> PathBuf {
    for base in [Path::new(".."), Path::new("../.."), Path::new("../../..")] {
        let p = base.join("shared/data");
        if p.is_dir() {
            return p;
        }
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"))
}

/// Parses one `<host>.tsv` list.
///
/// # Errors
/// The file is unreadable or a line does not have six tab-separated columns.
pub fn load_list(path: &Path) -> Result<HostList> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let name = path.file_stem().unwrap_or_default().to_string_lossy();
    parse_list(&name, &text).with_context(|| path.display().to_string())
}

/// Parses the text of a `<host>.tsv` list named `name`.
///
/// # Errors
/// A line does not have the five leading tab-separated columns.
pub fn parse_list(name: &str, text: &str) -> Result<HostList> {
    let mut list = HostList {
        name: name.to_owned(),
        family: String::new(),
        release: String::new(),
        kernel: String::new(),
        packages: Vec::new(),
    };
    for (no, line) in text.lines().enumerate() {
        if let Some(header) = line.strip_prefix("# host=") {
            for kv in header.split_whitespace() {
                match kv.split_once('=') {
                    Some(("family", v)) => list.family = v.to_owned(),
                    Some(("release", v)) => list.release = v.to_owned(),
                    Some(("kernel", v)) => list.kernel = v.to_owned(),
                    _ => {}
                }
            }
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 5 {
            bail!(
                "line {}: expected name, epoch, version, release, arch",
                no + 1
            );
        }
        let (name, epoch, version, release, arch) = (cols[0], cols[1], cols[2], cols[3], cols[4]);
        let full = if release.is_empty() {
            // dpkg and apk: the version column is the full version, epoch apart.
            if epoch.is_empty() || epoch == "0" {
                version.to_owned()
            } else {
                format!("{epoch}:{version}")
            }
        } else {
            let e = if epoch.is_empty() { "0" } else { epoch };
            format!("{e}:{version}-{release}")
        };
        list.packages.push(InstalledPackage::new(name, full, arch));
    }
    Ok(list)
}

/// Loads every `*.tsv` list in `dir`, sorted by name.
///
/// # Errors
/// The directory or a list is unreadable.
pub fn load_lists(dir: &Path) -> Result<Vec<HostList>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tsv"))
        .collect();
    paths.sort();
    paths.iter().map(|p| load_list(p)).collect()
}

/// Moves a version to a plausible neighbour by `delta`: the first numeric run of the release
/// (after the last `-`) when there is one, else the last numeric run of the version:
/// `1.2-3.el8` → `1.2-4.el8`, `3.134` → `3.135` (never below zero).
#[must_use]
pub fn jitter_version(version: &str, delta: i64) -> String {
    let bytes = version.as_bytes();
    let (start, end) = match version.rfind('-') {
        Some(dash) => match bytes[dash + 1..].iter().position(u8::is_ascii_digit) {
            Some(off) => {
                let s = dash + 1 + off;
                let e = bytes[s..]
                    .iter()
                    .position(|b| !b.is_ascii_digit())
                    .map_or(bytes.len(), |n| s + n);
                (s, e)
            }
            None => return format!("{version}.{}", delta.unsigned_abs()),
        },
        None => {
            let Some(last) = bytes.iter().rposition(u8::is_ascii_digit) else {
                return format!("{version}.{}", delta.unsigned_abs());
            };
            let s = bytes[..last]
                .iter()
                .rposition(|b| !b.is_ascii_digit())
                .map_or(0, |i| i + 1);
            (s, last + 1)
        }
    };
    let digits = &version[start..end];
    if digits.len() > 9 {
        return version.to_owned();
    }
    let n: i64 = digits.parse().unwrap_or(0);
    let m = (n + delta).max(0);
    format!("{}{}{}", &version[..start], m, &version[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter() {
        assert_eq!(jitter_version("0:1.2-3.el8", 1), "0:1.2-4.el8");
        assert_eq!(jitter_version("3.134", -200), "3.0");
        assert_eq!(jitter_version("1:2.3-4+deb12u1", 1), "1:2.3-5+deb12u1");
        assert_eq!(jitter_version("1.36.1-r15", 1), "1.36.1-r16");
        assert_eq!(jitter_version("abc", 2), "abc.2");
    }

    #[test]
    fn loads_the_real_lists() {
        let lists = load_lists(&default_data_dir().join("hosts/lists")).unwrap();
        assert_eq!(lists.len(), 41);
        let rhel = lists.iter().find(|l| l.name == "rhel_80").unwrap();
        assert_eq!(rhel.stream().unwrap().to_string(), "rhel:8");
        assert!(
            rhel.packages
                .iter()
                .any(|p| p.name == "NetworkManager" && p.version == "1:1.14.0-5.el8")
        );
        let deb = lists.iter().find(|l| l.name == "debian_12").unwrap();
        assert_eq!(deb.stream().unwrap().to_string(), "debian:bookworm");
        assert!(
            deb.packages
                .iter()
                .any(|p| p.name == "adduser" && p.version == "3.134")
        );
        let alpine = lists.iter().find(|l| l.name == "alpine_319").unwrap();
        assert_eq!(alpine.stream().unwrap().to_string(), "alpine:3.19");
        assert!(
            lists.iter().all(|l| l.distro().is_some()),
            "every family is known"
        );
    }
}
