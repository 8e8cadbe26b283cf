//! The repository benchmark behind `pakiti bench repos`: import time of a real `Packages`
//! index and update computation for a fleet built from real host lists with jitter.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pakiti_core::package::InstalledPackage;
use pakiti_core::stream::{Distro, OsStream};
use pakiti_core::updates::{AvailableIndex, HostPackages, RepoId};

use crate::FeedError;
use crate::debian::index::{BinaryPackage, parse_packages};

/// A host list of `shared/data/hosts/lists/*.tsv`: the stream from its header and, per
/// package, the candidate update the scan saw (`None` when the column is empty).
#[derive(Clone, Debug)]
pub struct HostList {
    /// The host's stream.
    pub stream: OsStream,
    /// The scan date from the header (`scannedAt`).
    pub scanned_at: Option<String>,
    /// Installed packages, with the scan's candidate update.
    pub packages: Vec<(InstalledPackage, Option<String>)>,
}

/// Parses a host list TSV (`# host=… family=debian release=12 scannedAt=…` header, then
/// `name epoch version release arch candidate_update`). Full versions are
/// `[epoch:]version[-release]`; for dpkg lists the release column is empty.
///
/// # Errors
/// No header with a known `family` and `release`.
pub fn parse_host_list(text: &str) -> Result<HostList, FeedError> {
    let bad = |reason: String| FeedError::Format {
        expected: "host list tsv",
        reason,
    };
    let header = text
        .lines()
        .next()
        .filter(|l| l.starts_with("# host="))
        .ok_or_else(|| bad("no `# host=` header".into()))?;
    let kv = |k: &str| {
        header
            .split_whitespace()
            .find_map(|w| w.strip_prefix(k).and_then(|w| w.strip_prefix('=')))
    };
    let distro = kv("family")
        .and_then(Distro::from_id)
        .ok_or_else(|| bad(format!("unknown family in {header:?}")))?;
    let release = kv("release").ok_or_else(|| bad(format!("no release in {header:?}")))?;
    let mut packages = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 6 {
            continue;
        }
        let mut version = String::new();
        if !f[1].is_empty() && f[1] != "0" {
            version.push_str(f[1]);
            version.push(':');
        }
        version.push_str(f[2]);
        if !f[3].is_empty() {
            version.push('-');
            version.push_str(f[3]);
        }
        let candidate = Some(f[5].to_owned()).filter(|c| !c.is_empty());
        packages.push((InstalledPackage::new(f[0], version, f[4]), candidate));
    }
    Ok(HostList {
        stream: OsStream::new(distro, release),
        scanned_at: kv("scannedAt").map(str::to_owned),
        packages,
    })
}

/// The apt suites of `shared/data/repos/apt/` as (stream, file prefix of the Release or
/// InRelease file, file name of the Packages index).
pub const APT_SUITES: &[(Distro, &str, &str)] = &[
    (
        Distro::Debian,
        "bookworm",
        "deb.debian.org_debian_dists_bookworm",
    ),
    (
        Distro::Debian,
        "bookworm",
        "deb.debian.org_debian_dists_bookworm-updates",
    ),
    (
        Distro::Debian,
        "bookworm",
        "deb.debian.org_debian-security_dists_bookworm-security",
    ),
    (
        Distro::Debian,
        "bullseye",
        "deb.debian.org_debian_dists_bullseye",
    ),
    (
        Distro::Debian,
        "bullseye",
        "deb.debian.org_debian-security_dists_bullseye-security",
    ),
    (
        Distro::Debian,
        "trixie",
        "deb.debian.org_debian_dists_trixie",
    ),
    (
        Distro::Debian,
        "trixie",
        "deb.debian.org_debian-security_dists_trixie-security",
    ),
    (
        Distro::Ubuntu,
        "focal",
        "archive.ubuntu.com_ubuntu_dists_focal",
    ),
    (
        Distro::Ubuntu,
        "focal",
        "security.ubuntu.com_ubuntu_dists_focal-security",
    ),
    (
        Distro::Ubuntu,
        "noble",
        "archive.ubuntu.com_ubuntu_dists_noble",
    ),
    (
        Distro::Ubuntu,
        "noble",
        "security.ubuntu.com_ubuntu_dists_noble-security",
    ),
];

/// Loads the apt suites of `<data>/repos/apt/` whose stream is in `streams` (all when
/// empty) into `index`, as amd64 `main` repositories; returns each repository's stanzas.
///
/// # Errors
/// A file is missing or does not parse, or a Packages index fails its checksum.
pub fn load_apt_fixtures(
    data: &Path,
    streams: &[OsStream],
    index: &mut AvailableIndex,
) -> Result<Vec<(RepoId, Vec<BinaryPackage>)>, FeedError> {
    let mut out = Vec::new();
    let dir = data.join("repos/apt");
    for &(distro, release, prefix) in APT_SUITES {
        let stream = OsStream::new(distro, release);
        if !streams.is_empty() && !streams.contains(&stream) {
            continue;
        }
        let rel_path = ["_InRelease", "_Release"]
            .iter()
            .map(|s| dir.join(format!("{prefix}{s}")))
            .find(|p| p.exists())
            .ok_or_else(|| {
                FeedError::Io(std::io::Error::other(format!(
                    "no release file for {prefix}"
                )))
            })?;
        let release = super::apt::parse_release(&read(&rel_path)?)?;
        let xz = read(&dir.join(format!("{prefix}_main_binary-amd64_Packages.xz")))?;
        let text = crate::decompress::to_vec(&xz)?;
        // The fixtures were recompressed after download: verify the decompressed index.
        release
            .verify("main/binary-amd64/Packages", &text)
            .map_err(|e| FeedError::Io(std::io::Error::other(e.to_string())))?;
        let parsed = parse_packages(&text[..])?;
        let name = release
            .codename
            .clone()
            .or_else(|| release.suite.clone())
            .unwrap_or_default();
        let id = index.add_repo(super::apt_repo(
            &format!("{name} main"),
            &stream,
            "amd64",
            &release,
        ));
        super::add_apt_packages(index, id, &parsed.records);
        out.push((id, parsed.records));
    }
    Ok(out)
}

fn read(p: &Path) -> Result<Vec<u8>, FeedError> {
    std::fs::read(p).map_err(|e| {
        FeedError::Io(std::io::Error::new(
            e.kind(),
            format!("{}: {e}", p.display()),
        ))
    })
}

/// Figures of one benchmark run.
#[derive(Clone, Debug)]
pub struct BenchReport {
    /// Stanzas of the bookworm `Packages` index.
    pub stanzas: usize,
    /// xz decompression of the bookworm `Packages` index.
    pub decompress: Duration,
    /// Parsing its text.
    pub parse: Duration,
    /// Adding its stanzas to an [`AvailableIndex`].
    pub index: Duration,
    /// Loading every apt fixture suite (decompress + verify + parse + index).
    pub load_all: Duration,
    /// Hosts in the fleet.
    pub hosts: usize,
    /// Installed packages over all hosts.
    pub packages: usize,
    /// Computing the fleet's updates.
    pub fleet: Duration,
    /// Updates found over all hosts.
    pub updates: usize,
    /// Security updates found over all hosts.
    pub security_updates: usize,
}

/// Runs the benchmark on `data` (the `shared/data` directory) with a fleet of `hosts` hosts
/// made from the Debian and Ubuntu host lists: each host copies one list, then a
/// deterministic jitter makes about one package in eight an older build (`~jN` suffix) and
/// drops about one in fifty.
///
/// # Errors
/// A data file is missing or does not parse.
pub fn bench_repos(data: &Path, hosts: usize) -> Result<BenchReport, FeedError> {
    use std::io::Read;
    let bookworm = read(
        &data.join("repos/apt/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.xz"),
    )?;
    let t = Instant::now();
    let mut text = Vec::new();
    crate::decompress::reader(&bookworm[..])?.read_to_end(&mut text)?;
    let decompress = t.elapsed();
    let t = Instant::now();
    let parsed = parse_packages(&text[..])?;
    let parse = t.elapsed();
    let stream = OsStream::new(Distro::Debian, "bookworm");
    let t = Instant::now();
    let mut one = AvailableIndex::new();
    let id = one.add_repo(pakiti_core::updates::Repo {
        name: "bookworm main".into(),
        stream,
        arch: Some("amd64".into()),
        priority: pakiti_core::updates::APT_PRIORITY_DEFAULT,
        security: false,
    });
    super::add_apt_packages(&mut one, id, &parsed.records);
    let index_time = t.elapsed();
    drop(one);

    let t = Instant::now();
    let mut index = AvailableIndex::new();
    load_apt_fixtures(data, &[], &mut index)?;
    let load_all = t.elapsed();

    let lists: Vec<HostList> = fleet_lists(data)?;
    let fleet = jittered_fleet(&lists, hosts);
    let inventories: Vec<HostPackages<'_>> = fleet
        .iter()
        .map(|(s, p)| HostPackages {
            stream: Some(s),
            arch: Some("amd64"),
            packages: p,
            modules: &[],
        })
        .collect();
    let t = Instant::now();
    let results = index.fleet_updates(&inventories);
    let fleet_time = t.elapsed();
    Ok(BenchReport {
        stanzas: parsed.records.len(),
        decompress,
        parse,
        index: index_time,
        load_all,
        hosts: fleet.len(),
        packages: fleet.iter().map(|(_, p)| p.len()).sum(),
        fleet: fleet_time,
        updates: results.iter().map(|r| r.updates.len()).sum(),
        security_updates: results.iter().map(|r| r.security_count()).sum(),
    })
}

/// The Debian and Ubuntu host lists that have apt fixtures.
fn fleet_lists(data: &Path) -> Result<Vec<HostList>, FeedError> {
    let dir: PathBuf = data.join("hosts/lists");
    [
        "debian_11",
        "debian_12",
        "debian_13",
        "ubuntu_2004",
        "ubuntu_2404",
    ]
    .iter()
    .map(|n| {
        let bytes = read(&dir.join(format!("{n}.tsv")))?;
        parse_host_list(&String::from_utf8_lossy(&bytes))
    })
    .collect()
}

/// `n` hosts copied round-robin from `lists`, with deterministic jitter.
#[must_use]
pub fn jittered_fleet(lists: &[HostList], n: usize) -> Vec<(OsStream, Vec<InstalledPackage>)> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        // xorshift64*: deterministic, no dependency.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    if lists.is_empty() {
        return Vec::new();
    }
    (0..n)
        .map(|i| {
            let list = &lists[i % lists.len()];
            let mut pkgs = Vec::with_capacity(list.packages.len());
            for (p, _) in &list.packages {
                let r = next();
                if r % 50 == 0 {
                    continue;
                }
                let mut p = p.clone();
                if (r >> 8) % 8 == 0 {
                    p.version.push_str(&format!("~j{}", (r >> 16) % 4));
                }
                pkgs.push(p);
            }
            (list.stream.clone(), pkgs)
        })
        .collect()
}
