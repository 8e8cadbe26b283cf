//! What the agent collects: host facts (hostname, OS, kernel, arch, CPU) and installed packages
//! from rpm, dpkg-query or the apk database, plus enabled dnf module streams.
//!
//! Each source has a parser that is a plain function of the tool's output (tested on real
//! output) and a thin runner that calls the tool and turns a failure into an error that shows
//! the tool's own stderr.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// An installed package as the agent reads it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Package {
    /// Binary package name.
    pub name: String,
    /// Full version: rpm `E:V-R` (epoch always present, `0` when none), dpkg and apk verbatim.
    pub version: String,
    /// Architecture.
    pub arch: String,
    /// Source package name when the package manager says it.
    pub source: Option<String>,
}

/// The package managers the agent reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packager {
    /// rpm (RHEL family, SUSE, Fedora, Amazon).
    Rpm,
    /// dpkg (Debian, Ubuntu).
    Dpkg,
    /// apk (Alpine).
    Apk,
}

impl Packager {
    /// The name used in reports (`rpm`, `dpkg`, `apk`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Packager::Rpm => "rpm",
            Packager::Dpkg => "dpkg",
            Packager::Apk => "apk",
        }
    }
}

impl fmt::Display for Packager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Collection failed.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The tool could not be started.
    #[error("cannot run {tool}")]
    Spawn {
        /// The command.
        tool: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The tool ran and failed; its stderr is shown.
    #[error("{tool} failed ({status}): {stderr}")]
    Failed {
        /// The command.
        tool: String,
        /// Its exit status.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// The tool's output is not what we expect.
    #[error("{tool} output line {line}: {reason}")]
    Output {
        /// The command.
        tool: String,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// A file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The package manager ran but listed nothing: an empty report would wrongly look clean.
    #[error("{tool} listed no installed packages")]
    Empty {
        /// The command.
        tool: String,
    },
    /// No package manager was found.
    #[error("no package manager found (looked for rpm, dpkg-query and the apk database)")]
    NoPackager,
}

/// Where package managers keep their databases, so that tests can point at a built one.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    /// `rpm --dbpath`.
    pub rpm_dbpath: Option<PathBuf>,
    /// `dpkg-query --admindir`.
    pub dpkg_admindir: Option<PathBuf>,
    /// The apk installed database (default `/lib/apk/db/installed`).
    pub apk_db: Option<PathBuf>,
    /// The dnf module configuration directory (default `/etc/dnf/modules.d`).
    pub dnf_modules_dir: Option<PathBuf>,
    /// A directory standing in for `/` when reading `/etc` release files and `/proc`, so that
    /// tests can give the agent another machine's files; `None` reads the real ones.
    pub root: Option<PathBuf>,
}

const RPM_QUERYFORMAT: &str =
    "%{NAME}\\t%{EPOCH}:%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\n";
const DPKG_FORMAT: &str =
    "${db:Status-Abbrev}\\t${Package}\\t${Version}\\t${Architecture}\\t${source:Package}\\n";

fn run(mut cmd: Command) -> Result<String, CollectError> {
    let tool = format!("{cmd:?}");
    let out = cmd.output().map_err(|source| CollectError::Spawn {
        tool: tool.clone(),
        source,
    })?;
    if !out.status.success() {
        return Err(CollectError::Failed {
            tool,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Finds the package manager of this machine: rpm when its database exists, else dpkg, else apk.
#[must_use]
pub fn detect_packager(src: &Sources) -> Option<Packager> {
    let exists = |p: &str| Path::new(p).exists();
    if src.rpm_dbpath.is_some()
        || ((exists("/var/lib/rpm") || exists("/usr/lib/sysimage/rpm")) && which("rpm"))
    {
        // Debian machines may have the rpm tool (and an empty /var/lib/rpm) but no rpm packages:
        // dpkg wins there, decided by the caller when rpm reports nothing.
        return Some(Packager::Rpm);
    }
    if src.dpkg_admindir.is_some() || (exists("/var/lib/dpkg/status") && which("dpkg-query")) {
        return Some(Packager::Dpkg);
    }
    if src.apk_db.is_some() || exists("/lib/apk/db/installed") {
        return Some(Packager::Apk);
    }
    None
}

fn which(tool: &str) -> bool {
    ["/bin", "/usr/bin", "/sbin", "/usr/sbin", "/usr/local/bin"]
        .iter()
        .any(|d| Path::new(d).join(tool).is_file())
}

/// Collects the installed packages: the detected package manager first; when rpm lists
/// nothing (a Debian machine with the rpm tool installed), dpkg, then apk.
///
/// # Errors
/// No package manager, or the one found fails (its stderr is in the error).
pub fn collect_packages(src: &Sources) -> Result<(Packager, Vec<Package>), CollectError> {
    let first = detect_packager(src).ok_or(CollectError::NoPackager)?;
    match packages(first, src) {
        Ok(p) => Ok((first, p)),
        Err(CollectError::Empty { tool }) if first == Packager::Rpm => {
            for next in [Packager::Dpkg, Packager::Apk] {
                let usable = match next {
                    Packager::Dpkg => {
                        src.dpkg_admindir.is_some()
                            || std::path::Path::new("/var/lib/dpkg/status").exists()
                    }
                    _ => {
                        src.apk_db.is_some()
                            || std::path::Path::new("/lib/apk/db/installed").exists()
                    }
                };
                if usable {
                    return packages(next, src).map(|p| (next, p));
                }
            }
            Err(CollectError::Empty { tool })
        }
        Err(e) => Err(e),
    }
}

/// Reads the installed packages with `packager`.
///
/// # Errors
/// The tool fails (its stderr is in the error) or prints something unexpected.
pub fn packages(packager: Packager, src: &Sources) -> Result<Vec<Package>, CollectError> {
    let pkgs = read_packages(packager, src)?;
    if pkgs.is_empty() {
        return Err(CollectError::Empty {
            tool: packager.name().to_owned(),
        });
    }
    Ok(pkgs)
}

fn read_packages(packager: Packager, src: &Sources) -> Result<Vec<Package>, CollectError> {
    match packager {
        Packager::Rpm => {
            let mut cmd = Command::new("rpm");
            cmd.arg("-qa").arg("--queryformat").arg(RPM_QUERYFORMAT);
            if let Some(db) = &src.rpm_dbpath {
                cmd.arg("--dbpath").arg(db);
            }
            parse_rpm(&run(cmd)?)
        }
        Packager::Dpkg => {
            let mut cmd = Command::new("dpkg-query");
            if let Some(dir) = &src.dpkg_admindir {
                cmd.arg(format!("--admindir={}", dir.display()));
            }
            cmd.arg("-W").arg("-f").arg(DPKG_FORMAT);
            parse_dpkg(&run(cmd)?)
        }
        Packager::Apk => {
            let path = src
                .apk_db
                .clone()
                .unwrap_or_else(|| src.path("/lib/apk/db/installed"));
            let text = std::fs::read_to_string(&path)
                .map_err(|source| CollectError::Read { path, source })?;
            Ok(parse_apk_db(&text))
        }
    }
}

/// Parses `rpm -qa --queryformat '%{NAME}\t%{EPOCH}:%{VERSION}-%{RELEASE}\t%{ARCH}\t%{SOURCERPM}\n'`.
/// `(none)` epochs become `0`; `gpg-pubkey` pseudo-packages are dropped, as Pakiti does.
///
/// # Errors
/// A line without the four fields.
pub fn parse_rpm(out: &str) -> Result<Vec<Package>, CollectError> {
    let mut pkgs = Vec::new();
    for (i, line) in out.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 4 {
            return Err(CollectError::Output {
                tool: "rpm".into(),
                line: i + 1,
                reason: format!("expected 4 tab-separated fields, got {}", f.len()),
            });
        }
        if f[0] == "gpg-pubkey" {
            continue;
        }
        let version = f[1]
            .strip_prefix("(none):")
            .map_or_else(|| f[1].to_owned(), |v| format!("0:{v}"));
        let source = (f[3] != "(none)" && !f[3].is_empty()).then(|| srpm_name(f[3]).to_owned());
        pkgs.push(Package {
            name: f[0].to_owned(),
            version,
            arch: f[2].to_owned(),
            source,
        });
    }
    pkgs.sort();
    Ok(pkgs)
}

/// The name part of a source rpm file name (`openssl-1.1.1k-9.el8.src.rpm` → `openssl`).
fn srpm_name(srpm: &str) -> &str {
    let base = srpm.strip_suffix(".rpm").unwrap_or(srpm);
    let base = base.rsplit_once('.').map_or(base, |(b, _arch)| b);
    // name-version-release: drop the last two dash-separated parts.
    let mut it = base.rmatch_indices('-');
    match (it.next(), it.next()) {
        (Some(_), Some((i, _))) => &base[..i],
        _ => base,
    }
}

/// Parses `dpkg-query -W -f '${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\t${source:Package}\n'`,
/// keeping installed packages only (current state `i`, or `W`/`t`: installed with triggers
/// awaited or pending). Config-files-only and half-installed packages are not installed.
///
/// # Errors
/// A line without the five fields.
pub fn parse_dpkg(out: &str) -> Result<Vec<Package>, CollectError> {
    let mut pkgs = Vec::new();
    for (i, line) in out.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 5 {
            return Err(CollectError::Output {
                tool: "dpkg-query".into(),
                line: i + 1,
                reason: format!("expected 5 tab-separated fields, got {}", f.len()),
            });
        }
        let state = f[0].as_bytes().get(1).copied().unwrap_or(b' ');
        if !matches!(state, b'i' | b'W' | b't') {
            continue;
        }
        pkgs.push(Package {
            name: f[1].to_owned(),
            version: f[2].to_owned(),
            arch: f[3].to_owned(),
            source: (!f[4].is_empty()).then(|| f[4].to_owned()),
        });
    }
    pkgs.sort();
    Ok(pkgs)
}

/// Parses the apk installed database (`/lib/apk/db/installed`: `P:` name, `V:` version,
/// `A:` arch, `o:` origin, one blank-line-separated block per package).
#[must_use]
pub fn parse_apk_db(text: &str) -> Vec<Package> {
    let mut pkgs = Vec::new();
    let mut cur = Package {
        name: String::new(),
        version: String::new(),
        arch: String::new(),
        source: None,
    };
    let mut flush = |cur: &mut Package| {
        if !cur.name.is_empty() {
            pkgs.push(std::mem::replace(
                cur,
                Package {
                    name: String::new(),
                    version: String::new(),
                    arch: String::new(),
                    source: None,
                },
            ));
        }
    };
    for line in text.lines() {
        if line.is_empty() {
            flush(&mut cur);
            continue;
        }
        match line.split_once(':') {
            Some(("P", v)) => cur.name = v.to_owned(),
            Some(("V", v)) => cur.version = v.to_owned(),
            Some(("A", v)) => cur.arch = v.to_owned(),
            Some(("o", v)) => cur.source = Some(v.to_owned()),
            _ => {}
        }
    }
    flush(&mut cur);
    pkgs.sort();
    pkgs
}

/// Enabled dnf module streams (`nodejs:18`) from `/etc/dnf/modules.d/*.module` files
/// (`[name]`, `stream=`, `state=enabled`); none when the directory does not exist.
#[must_use]
pub fn dnf_modules(src: &Sources) -> Vec<String> {
    let dir = src
        .dnf_modules_dir
        .clone()
        .unwrap_or_else(|| src.path("/etc/dnf/modules.d"));
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        if e.path().extension().is_some_and(|x| x == "module")
            && let Ok(text) = std::fs::read_to_string(e.path())
        {
            out.extend(parse_dnf_module_file(&text));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Parses one dnf `.module` file: every section whose `state` is `enabled` and that names a
/// `stream` gives `name:stream`.
#[must_use]
pub fn parse_dnf_module_file(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut section: Option<(String, Option<String>, bool)> = None;
    let mut finish = |s: Option<(String, Option<String>, bool)>| {
        if let Some((name, Some(stream), true)) = s
            && !stream.is_empty()
        {
            out.push(format!("{name}:{stream}"));
        }
    };
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            finish(section.take());
            section = Some((name.to_owned(), None, false));
        } else if let Some((k, v)) = line.split_once('=')
            && let Some(s) = section.as_mut()
        {
            match k.trim() {
                "stream" => s.1 = Some(v.trim().to_owned()),
                "state" => s.2 = v.trim() == "enabled",
                _ => {}
            }
        }
    }
    finish(section);
    out
}

/// What the agent reports about the machine itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostFacts {
    /// Fully qualified host name (`hostname --fqdn`, else the kernel's host name).
    pub hostname: String,
    /// The OS string the old servers expect (see [`os_string`]).
    pub os: String,
    /// `/etc/os-release` `ID`, when the file exists.
    pub os_id: Option<String>,
    /// `/etc/os-release` `VERSION_ID`, when the file exists (empty on rolling releases).
    pub os_version_id: Option<String>,
    /// Running kernel release (`uname -r`).
    pub kernel: String,
    /// Machine hardware name (`uname -m`).
    pub arch: String,
    /// Distinct CPU model names from `/proc/cpuinfo`, joined by `, `.
    pub cpu: Option<String>,
}

impl Sources {
    fn path(&self, abs: &str) -> PathBuf {
        match &self.root {
            Some(root) => root.join(abs.trim_start_matches('/')),
            None => PathBuf::from(abs),
        }
    }

    fn read(&self, abs: &str) -> Option<String> {
        std::fs::read_to_string(self.path(abs)).ok()
    }
}

/// Collects the host facts: host name, OS, kernel, arch and CPU model.
///
/// With [`Sources::root`] set, everything is read from files under it (`proc/sys/kernel/…`)
/// and no command is run, so the result depends on those files only.
#[must_use]
pub fn host_facts(src: &Sources) -> HostFacts {
    let os_release = src.read("/etc/os-release").map(|t| parse_os_release(&t));
    let os = os_string(src, os_release.as_ref());
    let kernel_file = |name: &str| {
        src.read(&format!("/proc/sys/kernel/{name}"))
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let hostname = if src.root.is_some() {
        kernel_file("hostname")
    } else {
        fqdn().or_else(|| kernel_file("hostname"))
    }
    .unwrap_or_else(|| "localhost".to_owned());
    let kernel = kernel_file("osrelease")
        .or_else(|| src.root.is_none().then(|| uname("-r")).flatten())
        .unwrap_or_default();
    let arch = src
        .read("/proc/sys/kernel/arch")
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| src.root.is_none().then(|| uname("-m")).flatten())
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    let cpu = src.read("/proc/cpuinfo").and_then(|t| cpu_models(&t));
    HostFacts {
        hostname,
        os,
        os_id: os_release.as_ref().map(|r| r.id.clone()),
        os_version_id: os_release.as_ref().map(|r| r.version_id.clone()),
        kernel,
        arch,
        cpu,
    }
}

/// `hostname --fqdn`, then `hostname --long`, as the Perl client does; `None` when neither
/// gives a name.
fn fqdn() -> Option<String> {
    for flag in ["--fqdn", "--long"] {
        if let Ok(out) = Command::new("hostname").arg(flag).output()
            && out.status.success()
        {
            let name = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if !name.is_empty() && !name.contains(char::is_whitespace) {
                return Some(name);
            }
        }
    }
    None
}

fn uname(flag: &str) -> Option<String> {
    let out = Command::new("uname").arg(flag).output().ok()?;
    let s = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !s.is_empty()).then_some(s)
}

/// The fields of `/etc/os-release` the agent uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OsReleaseFile {
    /// `ID` (`debian`, `rhel`, `rocky`, `alpine`).
    pub id: String,
    /// `VERSION_ID` (`12`, `9.3`); empty when absent.
    pub version_id: String,
    /// `NAME` (`Debian GNU/Linux`).
    pub name: String,
    /// `PRETTY_NAME` (`Debian GNU/Linux 12 (bookworm)`).
    pub pretty_name: String,
}

/// Parses `/etc/os-release` (`KEY=value` lines, values optionally quoted with `"` or `'`).
#[must_use]
pub fn parse_os_release(text: &str) -> OsReleaseFile {
    let mut r = OsReleaseFile::default();
    for line in text.lines() {
        let Some((k, v)) = line.trim().split_once('=') else {
            continue;
        };
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(v)
            .replace("\\\"", "\"");
        match k.trim() {
            "ID" => r.id = v,
            "VERSION_ID" => r.version_id = v,
            "NAME" => r.name = v,
            "PRETTY_NAME" => r.pretty_name = v,
            _ => {}
        }
    }
    r
}

/// The OS string, as the Pakiti servers' OS-group rules expect it.
///
/// `/etc/redhat-release` or `/etc/fedora-release` first (Pakiti 3's Red Hat groups match
/// `Red Hat Enterprise Linux release 8.9 (Ootpa)`, which `PRETTY_NAME` does not spell the
/// same way); then `/etc/os-release` (`PRETTY_NAME`, else `NAME VERSION_ID`); then the old
/// release files of machines without os-release (`/etc/SuSE-release`, `/etc/lsb-release`,
/// `/etc/debian_version`); else `unknown`.
#[must_use]
pub fn os_string(src: &Sources, os_release: Option<&OsReleaseFile>) -> String {
    for f in ["/etc/redhat-release", "/etc/fedora-release"] {
        if let Some(t) = src.read(f).map(|t| one_line(&t)).filter(|t| !t.is_empty()) {
            return t;
        }
    }
    if let Some(r) = os_release {
        if !r.pretty_name.is_empty() {
            return one_line(&r.pretty_name);
        }
        if !r.name.is_empty() {
            return one_line(&format!("{} {}", r.name, r.version_id));
        }
    }
    if let Some(line) = src.read("/etc/SuSE-release").and_then(|t| {
        t.lines()
            .find(|l| l.to_ascii_lowercase().contains("suse"))
            .map(one_line)
    }) {
        return line;
    }
    if let Some(t) = src.read("/etc/lsb-release") {
        let desc = t
            .lines()
            .find_map(|l| l.strip_prefix("DISTRIB_DESCRIPTION="));
        if let Some(d) = desc
            .map(|d| one_line(d.trim_matches('"')))
            .filter(|d| !d.is_empty())
        {
            return d;
        }
    }
    if let Some(v) = src
        .read("/etc/debian_version")
        .map(|t| one_line(&t))
        .filter(|t| !t.is_empty())
    {
        return format!("Debian {v}");
    }
    "unknown".to_owned()
}

/// Whitespace runs become one space; non-printable characters go (as the Perl client's `strip`).
fn one_line(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

/// The distinct `model name` values of `/proc/cpuinfo`, in order, joined by `, `; `None` when
/// there is none (many ARM kernels do not say).
#[must_use]
pub fn cpu_models(cpuinfo: &str) -> Option<String> {
    let mut models: Vec<String> = Vec::new();
    for line in cpuinfo.lines() {
        if let Some((k, v)) = line.split_once(':')
            && k.trim() == "model name"
        {
            let v = one_line(v);
            if !v.is_empty() && !models.contains(&v) {
                models.push(v);
            }
        }
    }
    (!models.is_empty()).then(|| models.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpm_output() {
        let out = "bash\t(none):4.2.46-34.el7\tx86_64\tbash-4.2.46-34.el7.src.rpm\n\
                   openssl-libs\t1:1.0.2k-19.el7\tx86_64\topenssl-1.0.2k-19.el7.src.rpm\n\
                   gpg-pubkey\t(none):f4a80eb5-53a7ff4b\t(none)\t(none)\n";
        let p = parse_rpm(out).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].version, "0:4.2.46-34.el7");
        assert_eq!(p[1].version, "1:1.0.2k-19.el7");
        assert_eq!(p[1].source.as_deref(), Some("openssl"));
        assert!(parse_rpm("just one field\n").is_err());
    }

    #[test]
    fn srpm_names() {
        assert_eq!(srpm_name("openssl-1.1.1k-9.el8.src.rpm"), "openssl");
        assert_eq!(
            srpm_name("python3-dnf-plugin-4.0-1.el8.src.rpm"),
            "python3-dnf-plugin"
        );
    }

    #[test]
    fn dpkg_output_keeps_installed_only() {
        let out = "ii \tbash\t5.2.15-2+b2\tamd64\tbash\n\
                   rc \told\t1.0\tamd64\told\n\
                   iU \thalf\t1.0\tamd64\t\n\
                   iW \ttrig\t2.0\tall\t\n";
        let p = parse_dpkg(out).unwrap();
        let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["bash", "trig"]);
        assert_eq!(p[1].source, None);
    }

    #[test]
    fn apk_db() {
        let db = "C:Q1abc\nP:musl\nV:1.2.4_git20230717-r4\nA:x86_64\no:musl\n\nP:libcrypto3\nV:3.1.4-r5\nA:x86_64\no:openssl\n";
        let p = parse_apk_db(db);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name, "libcrypto3");
        assert_eq!(p[0].source.as_deref(), Some("openssl"));
        assert_eq!(p[1].version, "1.2.4_git20230717-r4");
    }

    #[test]
    fn dnf_module_files() {
        let text = "[nodejs]\nname=nodejs\nstream=18\nprofiles=\nstate=enabled\n\n[perl]\nname=perl\nstream=5.26\nstate=disabled\n";
        assert_eq!(parse_dnf_module_file(text), ["nodejs:18"]);
    }
}
