//! Package listings sysadmins already have as text, for `pakiti scan`.
//!
//! Supported formats ([`ListingFormat`]):
//! * `rpm -qa` default output, `NAME-VERSION-RELEASE.ARCH`. The arch is split at the last `.`
//!   (only when that suffix is a known rpm arch), the release at the last `-`, the version at the
//!   previous `-` (rpm forbids `-` inside version and release, so this split is exact). **The
//!   epoch is not in this output**: [`ListedPackage::epoch`] is `None` and the rpm version
//!   compares as epoch 0, which under-states packages with an epoch (prefer
//!   `--queryformat` with `%{EPOCH}`). A line whose suffix is not a known arch is parsed as
//!   `N-V-R` with no arch and listed in [`Listing::ambiguous`].
//! * `rpm -qa --queryformat "'%{NAME}' '%{EPOCH}:%{VERSION}' '%{RELEASE}' '%{ARCH}'\n"`
//!   (the protocol-4 quoting; also the three-token form without arch).
//! * `dpkg-query -W` (`name<TAB>version`) and `-f '${Package} ${Version} ${Architecture}\n'`
//!   (whitespace-separated; a `name:arch` package name is split).
//! * `apk list --installed` (`name-ver-rN arch {origin} (license) [installed]`) and
//!   `apk info -v` (`name-ver-rN`).
//!
//! Parsing never drops a line silently: each line yields a package or a [`LineError`].
//! Blank lines and lines starting with `#` are skipped.

use crate::report::join_rpm_version;
use crate::{Package, Packager};

/// A listing's text format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ListingFormat {
    /// `rpm -qa` default output: `NAME-VERSION-RELEASE.ARCH`.
    RpmQa,
    /// `rpm -qa --queryformat` with protocol-4 quoting.
    RpmQuoted,
    /// `dpkg-query -W` (tab or whitespace separated `name version [arch]`).
    DpkgQuery,
    /// `apk list --installed`.
    ApkList,
    /// `apk info -v`: `name-ver-rN`.
    ApkInfo,
}

impl ListingFormat {
    /// The packager whose versions the listing holds.
    #[must_use]
    pub fn packager(self) -> Packager {
        match self {
            ListingFormat::RpmQa | ListingFormat::RpmQuoted => Packager::Rpm,
            ListingFormat::DpkgQuery => Packager::Dpkg,
            ListingFormat::ApkList | ListingFormat::ApkInfo => Packager::Apk,
        }
    }
}

/// One package read from a listing.
///
/// For rpm formats the version is split (`epoch`, `version`, `release`); for dpkg and apk
/// `version` is the full version verbatim and `epoch`/`release` are `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedPackage {
    /// 1-based line number in the listing.
    pub line: usize,
    /// Package name.
    pub name: String,
    /// rpm epoch; `None` when absent or unknown (`rpm -qa` default output never shows it).
    pub epoch: Option<String>,
    /// rpm upstream version, or the full dpkg/apk version.
    pub version: String,
    /// rpm release.
    pub release: Option<String>,
    /// Architecture, when the format has one (`dpkg-query` data may say `unknown`, kept verbatim).
    pub arch: Option<String>,
    /// Origin/source package (apk `{origin}`).
    pub source: Option<String>,
}

impl ListedPackage {
    /// The full version in [`crate::Package`] form for `packager`: rpm `E:V-R` (epoch `0` when
    /// unknown), otherwise the version verbatim.
    #[must_use]
    pub fn full_version(&self, packager: &Packager) -> String {
        match (packager, &self.release) {
            (Packager::Rpm, release) => join_rpm_version(
                self.epoch.as_deref().unwrap_or(""),
                &self.version,
                release.as_deref().unwrap_or(""),
            ),
            (_, Some(r)) => format!("{}-{r}", self.version),
            (_, None) => self.version.clone(),
        }
    }

    /// Converts to a report package (arch empty when unknown).
    #[must_use]
    pub fn to_package(&self, packager: &Packager) -> Package {
        Package {
            name: self.name.clone(),
            version: self.full_version(packager),
            arch: self.arch.clone().unwrap_or_default(),
            source: self.source.clone(),
        }
    }
}

/// A line that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// Why, lowercase.
    pub reason: String,
}

/// The result of parsing a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    /// The format used.
    pub format: ListingFormat,
    /// Packages, in listing order.
    pub packages: Vec<ListedPackage>,
    /// Lines that could not be read.
    pub errors: Vec<LineError>,
    /// Line numbers of `rpm -qa` lines whose arch could not be told apart from the release
    /// (parsed as `N-V-R` without arch).
    pub ambiguous: Vec<usize>,
}

impl Listing {
    /// The packages in [`crate::Package`] form.
    #[must_use]
    pub fn to_packages(&self) -> Vec<Package> {
        let packager = self.format.packager();
        self.packages
            .iter()
            .map(|p| p.to_package(&packager))
            .collect()
    }
}

/// Architectures `rpm -qa` may print as the last `.`-suffix.
const RPM_ARCHES: &[&str] = &[
    "noarch",
    "x86_64",
    "x86_64_v2",
    "x86_64_v3",
    "x86_64_v4",
    "i386",
    "i486",
    "i586",
    "i686",
    "athlon",
    "geode",
    "pentium3",
    "pentium4",
    "ia32e",
    "amd64",
    "ia64",
    "aarch64",
    "armv5tel",
    "armv6l",
    "armv6hl",
    "armv7l",
    "armv7hl",
    "armv7hnl",
    "armhfp",
    "ppc",
    "ppc64",
    "ppc64le",
    "ppc64p7",
    "ppc64pseries",
    "ppc64iseries",
    "s390",
    "s390x",
    "riscv64",
    "loongarch64",
    "mips",
    "mipsel",
    "mips64",
    "mips64el",
    "sparc",
    "sparcv9",
    "sparc64",
    "alpha",
    "src",
    "nosrc",
    "(none)",
];

/// Guesses the format from the first lines (up to 50 non-blank, non-comment lines; the format
/// most of them look like wins). `None` for an empty listing.
#[must_use]
pub fn detect(text: &str) -> Option<ListingFormat> {
    let mut votes: Vec<(ListingFormat, usize)> = Vec::new();
    for line in content_lines(text).take(50).map(|(_, l)| l) {
        let f = classify(line);
        match votes.iter_mut().find(|(g, _)| *g == f) {
            Some((_, n)) => *n += 1,
            None => votes.push((f, 1)),
        }
    }
    // Ties go to the format seen first.
    let mut best: Option<(ListingFormat, usize)> = None;
    for (f, n) in votes {
        if best.is_none_or(|(_, m)| n > m) {
            best = Some((f, n));
        }
    }
    best.map(|(f, _)| f)
}

/// The format one line looks like.
fn classify(line: &str) -> ListingFormat {
    if line.starts_with('\'') {
        return ListingFormat::RpmQuoted;
    }
    if line.contains('{') || line.ends_with(']') {
        return ListingFormat::ApkList;
    }
    if line.contains('\t') || line.split_whitespace().nth(1).is_some() {
        return ListingFormat::DpkgQuery;
    }
    if apk_rel_suffix(line) {
        ListingFormat::ApkInfo
    } else {
        ListingFormat::RpmQa
    }
}

/// Ends with `-r<digits>` (apk's package release).
fn apk_rel_suffix(s: &str) -> bool {
    s.rsplit_once("-r")
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Non-blank, non-comment lines with their 1-based numbers.
fn content_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split('\n')
        .map(|l| l.trim_end_matches('\r'))
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

/// Parses a listing, detecting its format (an empty text is an empty `rpm -qa` listing).
#[must_use]
pub fn parse(text: &str) -> Listing {
    parse_as(text, detect(text).unwrap_or(ListingFormat::RpmQa))
}

/// Parses a listing in a given format.
#[must_use]
pub fn parse_as(text: &str, format: ListingFormat) -> Listing {
    let mut listing = Listing {
        format,
        packages: Vec::new(),
        errors: Vec::new(),
        ambiguous: Vec::new(),
    };
    for (n, line) in content_lines(text) {
        let parsed = match format {
            ListingFormat::RpmQa => rpm_qa(n, line, &mut listing.ambiguous),
            ListingFormat::RpmQuoted => rpm_quoted(n, line),
            ListingFormat::DpkgQuery => dpkg(n, line),
            ListingFormat::ApkList => apk_list(n, line),
            ListingFormat::ApkInfo => apk_nvr(n, line, None, None),
        };
        match parsed {
            Ok(p) => listing.packages.push(p),
            Err(reason) => listing.errors.push(LineError { line: n, reason }),
        }
    }
    listing
}

fn rpm_qa(n: usize, line: &str, ambiguous: &mut Vec<usize>) -> Result<ListedPackage, String> {
    if line.contains(char::is_whitespace) {
        return Err("expected one word name-version-release.arch".to_owned());
    }
    let (nvr, arch) = match line.rsplit_once('.') {
        Some((nvr, arch)) if RPM_ARCHES.contains(&arch) => (nvr, Some(arch.to_owned())),
        _ => {
            ambiguous.push(n);
            (line, None)
        }
    };
    let err = || format!("expected name-version-release.arch, found {line:?}");
    let (nv, release) = nvr.rsplit_once('-').ok_or_else(err)?;
    let (name, version) = nv.rsplit_once('-').ok_or_else(err)?;
    if name.is_empty() || version.is_empty() || release.is_empty() {
        return Err(err());
    }
    Ok(ListedPackage {
        line: n,
        name: name.to_owned(),
        epoch: None,
        version: version.to_owned(),
        release: Some(release.to_owned()),
        arch,
        source: None,
    })
}

fn rpm_quoted(n: usize, line: &str) -> Result<ListedPackage, String> {
    let packages =
        crate::protocol4::parse_pkgs(line, &Packager::Rpm, crate::protocol4::PkgsFormat::V4)
            .or_else(|_| {
                crate::protocol4::parse_pkgs(line, &Packager::Rpm, crate::protocol4::PkgsFormat::V3)
            })
            .map_err(|e| match e {
                crate::WireError::PkgsLine { reason, .. } => reason,
                other => other.to_string(),
            })?;
    let [p] = &packages[..] else {
        return Err("expected one package per line".to_owned());
    };
    // Re-read the quoted epoch: `(none)` and a missing epoch mean no epoch, `0` is kept.
    let raw_epoch = line
        .split('\'')
        .nth(3)
        .and_then(|t| t.split_once(':'))
        .map(|(e, _)| e);
    let evr = crate::report::split_rpm_version(&p.version);
    Ok(ListedPackage {
        line: n,
        name: p.name.clone(),
        epoch: match raw_epoch {
            None | Some("(none)" | "") => None,
            Some(e) => Some(e.to_owned()),
        },
        version: evr.version,
        release: Some(evr.release),
        arch: (!p.arch.is_empty()).then(|| p.arch.clone()),
        source: None,
    })
}

fn dpkg(n: usize, line: &str) -> Result<ListedPackage, String> {
    let fields: Vec<&str> = if line.contains('\t') {
        line.split('\t').map(str::trim).collect()
    } else {
        line.split_whitespace().collect()
    };
    let (name, version, arch) = match fields[..] {
        [name, version] => (name, version, None),
        [name, version, arch] => (name, version, Some(arch)),
        _ => {
            return Err(format!(
                "expected 'name version [arch]', found {} fields",
                fields.len()
            ));
        }
    };
    if name.is_empty() || version.is_empty() {
        return Err("empty package name or version".to_owned());
    }
    // `${binary:Package}` prints `name:arch` for multi-arch packages.
    let (name, arch) = match (name.split_once(':'), arch) {
        (Some((n, a)), None) => (n, Some(a)),
        (Some((n, _)), Some(a)) => (n, Some(a)),
        (None, a) => (name, a),
    };
    Ok(ListedPackage {
        line: n,
        name: name.to_owned(),
        epoch: None,
        version: version.to_owned(),
        release: None,
        arch: arch.map(str::to_owned),
        source: None,
    })
}

fn apk_list(n: usize, line: &str) -> Result<ListedPackage, String> {
    let mut words = line.split_whitespace();
    let nvr = words.next().ok_or("empty line")?;
    let arch = words
        .next()
        .ok_or("expected 'name-ver-rN arch {origin} (license) [installed]'")?;
    let origin = line
        .split_once('{')
        .and_then(|(_, r)| r.split_once('}'))
        .map(|(o, _)| o.to_owned());
    // The status is the last bracketed group; anything but `[installed]` means the listed
    // version is not the one on the host (`[upgradable from: ...]` lists the new version).
    match line.rsplit_once('[').map(|(_, s)| s.trim_end_matches(']')) {
        Some(s) if s.starts_with("installed") => {}
        Some(s) => return Err(format!("package not marked [installed] (status [{s}])")),
        None => return Err("missing [installed] status: run apk list --installed".to_owned()),
    }
    apk_nvr(n, nvr, Some(arch.to_owned()), origin)
}

fn apk_nvr(
    n: usize,
    nvr: &str,
    arch: Option<String>,
    source: Option<String>,
) -> Result<ListedPackage, String> {
    let err = || format!("expected name-version-rN, found {nvr:?}");
    if nvr.contains(char::is_whitespace) || !apk_rel_suffix(nvr) {
        return Err(err());
    }
    let (nv, rel) = nvr.rsplit_once('-').ok_or_else(err)?;
    let (name, ver) = nv.rsplit_once('-').ok_or_else(err)?;
    if name.is_empty() || ver.is_empty() {
        return Err(err());
    }
    Ok(ListedPackage {
        line: n,
        name: name.to_owned(),
        epoch: None,
        version: format!("{ver}-{rel}"),
        release: None,
        arch,
        source,
    })
}
