//! `pakiti bench`: the performance figures the issues ask for, measured on the real data in
//! `shared/data/`.
//!
//! Benchmarks are commands, not timed tests: they print figures for a person (and the closing
//! notes of issues) to read, and never fail a build because the machine was busy.

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use pakiti_core::advisory::Advisory;
use pakiti_core::matcher::{AdvisoryIndex, HostInventory};
use pakiti_core::package::InstalledPackage;
use pakiti_core::stream::{Distro, OsStream};
use pakiti_core::version::Scheme;
use pakiti_feeds::{FeedKind, ParseOptions, decompress};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::sample::{self, HostList};

/// The full vendor files of `shared/data` used as "a large advisory set", with their kinds.
pub const FULL_FEEDS: &[(&str, &str)] = &[
    (
        "redhat-oval",
        "oval/redhat/rhel-7-including-unpatched.oval.xml.bz2",
    ),
    (
        "redhat-oval",
        "oval/redhat/rhel-8-including-unpatched.oval.xml.bz2",
    ),
    ("redhat-oval", "oval/redhat/com.redhat.rhsa-RHEL5.xml.bz2"),
    (
        "ubuntu-oval",
        "oval/ubuntu/com.ubuntu.trusty.cve.oval.xml.bz2",
    ),
    (
        "ubuntu-oval",
        "oval/ubuntu/com.ubuntu.bionic.cve.oval.xml.bz2",
    ),
    (
        "ubuntu-oval",
        "oval/ubuntu/com.ubuntu.focal.cve.oval.xml.bz2",
    ),
    ("suse-oval", "oval/suse/opensuse.leap.15.3.xml.gz"),
    ("debian-list", "debian-tracker/data/DSA/list"),
    ("debian-list", "debian-tracker/data/DLA/list"),
    (
        "alpine-secdb",
        "secdb/alpine-secdb-json-converted/v3.11/main.json",
    ),
    ("csaf", "csaf/redhat-vex/example_vex.jsonl.xz"),
    ("csaf", "csaf/redhat-csaf/RHSA-2023%3A7700.json.xz"),
];

/// [`FULL_FEEDS`] under the data directory `data`: (kind, path).
#[must_use]
pub fn full_feed_files(data: &Path) -> Vec<(String, PathBuf)> {
    FULL_FEEDS
        .iter()
        .map(|(kind, file)| ((*kind).to_owned(), data.join(file)))
        .collect()
}

/// The `q`-th percentile (nearest rank) of sorted `v`.
#[must_use]
pub fn percentile(v: &[Duration], q: usize) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v[((v.len() - 1) * q).div_ceil(100)]
}

/// Bytes in MiB.
#[must_use]
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

/// Reads and decompresses a file, then parses it as `kind`; returns the advisories, the
/// problem count and the parse time (after decompression).
///
/// # Errors
/// The file is unreadable or the parser rejects it.
pub fn parse_file(kind: FeedKind, path: &Path) -> Result<(Vec<Advisory>, usize, Duration)> {
    let raw = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let data =
        decompress::to_vec(&raw).with_context(|| format!("decompressing {}", path.display()))?;
    let start = Instant::now();
    let parsed = kind
        .parse(BufReader::new(&data[..]), &ParseOptions::default())
        .with_context(|| format!("parsing {} as {kind}", path.display()))?;
    Ok((parsed.records, parsed.problems.len(), start.elapsed()))
}

/// Peak resident memory of this process so far, in MiB (Linux `VmHWM`).
#[must_use]
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// `pakiti bench vercmp`: compares per second for each scheme, on the oracle vectors.
///
/// # Errors
/// The vector files are missing.
pub fn vercmp(data: &Path, out: &mut impl Write) -> Result<()> {
    writeln!(out, "scheme  pairs   compares/s (one core)")?;
    for (scheme, file) in [
        (Scheme::Rpm, "vercmp/rpm-oracle-evr-20k.tsv"),
        (Scheme::Deb, "vercmp/dpkg-oracle-20k.tsv"),
        (Scheme::Apk, "vercmp/apk-oracle-20k.tsv"),
    ] {
        let text =
            std::fs::read_to_string(data.join(file)).with_context(|| format!("reading {file}"))?;
        let pairs: Vec<(&str, &str)> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let mut it = l.split('\t');
                Some((it.next()?, it.next()?))
            })
            .collect();
        let rounds = 200;
        let start = Instant::now();
        let mut sink = 0i64;
        for _ in 0..rounds {
            for (a, b) in &pairs {
                sink += scheme.compare(std::hint::black_box(a), std::hint::black_box(b)) as i64;
            }
        }
        let secs = start.elapsed().as_secs_f64();
        let n = (pairs.len() * rounds) as f64;
        std::hint::black_box(sink);
        writeln!(
            out,
            "{:<7} {:>6}  {:>12.0}",
            scheme.name(),
            pairs.len(),
            n / secs
        )?;
    }
    Ok(())
}

/// `pakiti bench feeds`: parse time and peak memory of each full vendor file, each in a
/// fresh process so that peaks do not add up.
///
/// # Errors
/// The current executable cannot be re-run.
pub fn feeds(data: &Path, out: &mut impl Write) -> Result<()> {
    let exe = std::env::current_exe().context("locating the pakiti executable")?;
    writeln!(
        out,
        "{:<58} {:>7} {:>8} {:>9} {:>9} {:>9}",
        "file", "MB", "records", "problems", "parse s", "peak MiB"
    )?;
    for (kind, file) in FULL_FEEDS {
        let output = Command::new(&exe)
            .args(["bench", "feed-file", "--kind", kind, "--data"])
            .arg(data)
            .arg(file)
            .output()
            .context("running pakiti bench feed-file")?;
        let line = String::from_utf8_lossy(&output.stdout);
        if output.status.success() {
            write!(out, "{line}")?;
        } else {
            writeln!(
                out,
                "{file:<58} failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )?;
        }
    }
    Ok(())
}

/// One line of `pakiti bench feeds`, measured in this process.
///
/// # Errors
/// The file cannot be read or parsed.
pub fn feed_file(kind: FeedKind, data: &Path, file: &str, out: &mut impl Write) -> Result<()> {
    let path = data.join(file);
    let size = std::fs::metadata(&path)?.len();
    let raw = std::fs::read(&path)?;
    let plain = decompress::to_vec(&raw)?.len();
    drop(raw);
    let (advisories, problems, took) = parse_file(kind, &path)?;
    let _ = size;
    writeln!(
        out,
        "{:<58} {:>7.1} {:>8} {:>9} {:>9.3} {:>9.0}",
        file,
        plain as f64 / 1e6,
        advisories.len(),
        problems,
        took.as_secs_f64(),
        peak_rss_mib().unwrap_or(f64::NAN)
    )?;
    Ok(())
}

/// The stream whose vendor data a sample host is matched against: the Red Hat rebuilds use
/// RHEL data, as Pakiti does.
fn data_stream(list: &HostList) -> Option<OsStream> {
    let own = list.stream()?;
    Some(match own.distro() {
        Distro::Centos | Distro::Alma | Distro::Rocky | Distro::Oracle => {
            OsStream::new(Distro::Rhel, own.release())
        }
        _ => own,
    })
}

/// A synthetic fleet: `hosts` hosts cycling through the real lists whose stream has data, each
/// padded to about `per_host` packages with packages of same-scheme lists, and with a share of
/// versions moved to a neighbouring version (`jitter`), so that hosts share most but not all
/// package versions as real fleets do.
#[must_use]
pub fn build_fleet(
    lists: &[HostList],
    covered: &dyn Fn(&OsStream) -> bool,
    hosts: usize,
    per_host: usize,
    jitter: f64,
    seed: u64,
) -> Vec<(OsStream, Vec<InstalledPackage>)> {
    let bases: Vec<(&HostList, OsStream)> = lists
        .iter()
        .filter_map(|l| data_stream(l).filter(|s| covered(s)).map(|s| (l, s)))
        .collect();
    if bases.is_empty() {
        return Vec::new();
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut fleet = Vec::with_capacity(hosts);
    for i in 0..hosts {
        let (base, stream) = &bases[i % bases.len()];
        let mut pkgs: Vec<InstalledPackage> = base.packages.clone();
        // Pad from other lists of the same scheme (rpm hosts get rpm packages...).
        let mut donor = i;
        while pkgs.len() < per_host {
            donor += 1;
            let other = &lists[donor % lists.len()];
            if data_stream(other).is_some_and(|s| s.scheme() == stream.scheme())
                && other.name != base.name
            {
                let need = per_host - pkgs.len();
                let have: rustc_hash::FxHashSet<&str> =
                    pkgs.iter().map(|p| p.name.as_str()).collect();
                let extra: Vec<InstalledPackage> = other
                    .packages
                    .iter()
                    .filter(|p| !have.contains(p.name.as_str()))
                    .take(need)
                    .cloned()
                    .collect();
                pkgs.extend(extra);
            }
            if donor > i + lists.len() * 2 {
                break;
            }
        }
        jitter_versions(&mut pkgs, jitter, &mut rng);
        fleet.push((stream.clone(), pkgs));
    }
    fleet
}

/// Moves each package's version, with probability `share`, to a neighbour up to two steps
/// away ([`sample::jitter_version`]): hosts of one base list that differ as real ones do.
pub(crate) fn jitter_versions(pkgs: &mut [InstalledPackage], share: f64, rng: &mut StdRng) {
    for p in pkgs {
        if rng.random_bool(share) {
            p.version = sample::jitter_version(&p.version, rng.random_range(-2..=2));
        }
    }
}

/// `pakiti bench match`: matches a fleet built from the real host lists against the full
/// vendor files.
///
/// # Errors
/// The data files are missing or unparsable.
pub fn matching(data: &Path, hosts: usize, per_host: usize, out: &mut impl Write) -> Result<()> {
    let mut advisories = Vec::new();
    let load = Instant::now();
    for (kind, file) in FULL_FEEDS {
        let kind = FeedKind::from_name(kind).context("unknown kind")?;
        match parse_file(kind, &data.join(file)) {
            Ok((mut a, _, _)) => advisories.append(&mut a),
            Err(e) => writeln!(out, "skipping {file}: {e:#}")?,
        }
    }
    if advisories.is_empty() {
        bail!("no advisories could be loaded from {}", data.display());
    }
    let entries: usize = advisories.iter().map(|a| a.affected.len()).sum();
    writeln!(
        out,
        "advisory set: {} advisories, {} affected entries (parsed in {:.2} s)",
        advisories.len(),
        entries,
        load.elapsed().as_secs_f64()
    )?;
    let t = Instant::now();
    let index = AdvisoryIndex::new(advisories);
    writeln!(out, "index built in {:.3} s", t.elapsed().as_secs_f64())?;

    let lists = sample::load_lists(&data.join("hosts/lists"))?;
    let fleet = build_fleet(
        &lists,
        &|s| index.covers(s),
        hosts,
        per_host,
        0.1,
        20_261_124,
    );
    let total: usize = fleet.iter().map(|(_, p)| p.len()).sum();
    let no_modules: Vec<String> = Vec::new();
    let inventories: Vec<HostInventory<'_>> = fleet
        .iter()
        .map(|(s, p)| HostInventory {
            stream: Some(s),
            packages: p,
            modules: &no_modules,
        })
        .collect();
    let mut streams: Vec<String> = fleet.iter().map(|(s, _)| s.to_string()).collect();
    streams.sort();
    streams.dedup();
    writeln!(
        out,
        "fleet: {} hosts, {} installed packages ({:.0} per host), streams {}",
        fleet.len(),
        total,
        total as f64 / fleet.len().max(1) as f64,
        streams.join(" ")
    )?;
    let t = Instant::now();
    let results = index.match_fleet(&inventories);
    let took = t.elapsed();
    let findings: usize = results.iter().map(|r| r.findings.len()).sum();
    let vulnerable = results.iter().filter(|r| !r.findings.is_empty()).count();
    writeln!(
        out,
        "matched {} hosts in {:.3} s ({:.0} hosts/s, {:.1} M packages/s on {} threads): {} findings, {} vulnerable hosts",
        fleet.len(),
        took.as_secs_f64(),
        fleet.len() as f64 / took.as_secs_f64(),
        total as f64 / took.as_secs_f64() / 1e6,
        rayon_threads(),
        findings,
        vulnerable
    )?;
    Ok(())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Where `--data` points when not given.
#[must_use]
pub fn data_dir(arg: Option<PathBuf>) -> PathBuf {
    arg.unwrap_or_else(sample::default_data_dir)
}

/// `pakiti bench …`: what to measure (the subcommands of `pakiti bench`).
#[derive(Subcommand)]
pub enum BenchWhat {
    /// Import time of the bookworm Packages index into a store, and update computation for a
    /// fleet built from the real host lists.
    Repos {
        /// The shared data directory (default: ../shared/data).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Number of hosts.
        #[arg(long, default_value_t = 10_000)]
        hosts: usize,
    },
    /// Version compares per second for rpm, dpkg and apk.
    Vercmp {
        /// The shared data directory (default: ../shared/data).
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Parse time and peak memory of each full vendor file.
    Feeds {
        /// The shared data directory (default: ../shared/data).
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// One file of `bench feeds`, measured in this process.
    #[command(hide = true)]
    FeedFile {
        /// The feed kind.
        #[arg(long)]
        kind: String,
        /// The shared data directory.
        #[arg(long)]
        data: Option<PathBuf>,
        /// The file, relative to the data directory.
        file: String,
    },
    /// Match a fleet built from the real host lists against the full vendor files.
    Match {
        /// The shared data directory (default: ../shared/data).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Number of hosts.
        #[arg(long, default_value_t = 10_000)]
        hosts: usize,
        /// Packages per host.
        #[arg(long, default_value_t = 800)]
        packages: usize,
    },
    /// Server time of the hosts page and the CVE pages with many hosts in the store
    /// (p50/p99 over loopback), on SQLite and, when PAKITI_BENCH_POSTGRES_URL (or
    /// PAKITI_TEST_POSTGRES_URL) is set, PostgreSQL.
    Web {
        /// The shared data directory (default: ../shared/data).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Hosts in the store.
        #[arg(long, default_value_t = 10_000)]
        hosts: usize,
        /// Packages per host.
        #[arg(long, default_value_t = 800)]
        packages: usize,
        /// Requests per page.
        #[arg(long, default_value_t = 200)]
        requests: usize,
        /// `demo` (trimmed fixtures, seconds to import) or `full` (the full vendor files).
        #[arg(long, default_value = "demo")]
        feeds: String,
    },
    /// Report ingest through the real server: first, changed and unchanged reports per second,
    /// p50/p99 latency, store size, and a full re-evaluation after every feed changed.
    ///
    /// With the global `--database URL`, measures that (empty) store; without it, SQLite in a
    /// temp directory and, when PAKITI_BENCH_POSTGRES_URL (or PAKITI_TEST_POSTGRES_URL) names
    /// a PostgreSQL admin connection, a fresh database there (dropped afterwards). Run with
    /// PAKITI_LOG=warn to keep the per-report log lines out of the measurement.
    Ingest {
        /// The shared data directory (default: ../shared/data).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Hosts that report over HTTP.
        #[arg(long, default_value_t = 1000)]
        hosts: usize,
        /// Hosts in the store for the re-evaluation phase (0 skips it).
        #[arg(long, default_value_t = 10_000)]
        reeval_hosts: usize,
        /// Concurrent client connections.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Packages per host.
        #[arg(long, default_value_t = 800)]
        packages: usize,
    },
    /// Report ingest with the server in its own process, loaded as the real clients load it:
    /// one fresh connection per report. Prints, per phase (first, changed, unchanged, and
    /// after a restart), reports/s, p50/p99, the CPU per report of the server and of
    /// PostgreSQL (from /proc), the servers' RSS and the store's size, then checks every host
    /// against a from-scratch evaluation (fails on a mismatch).
    ///
    /// With the global `--database URL`, measures that (empty) store; without it, SQLite in a
    /// temp directory, and with `--postgres` also a fresh database on the server that
    /// PAKITI_BENCH_POSTGRES_URL (or PAKITI_TEST_POSTGRES_URL) names (dropped afterwards).
    Load {
        /// The shared data directory (default: ../shared/data).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Distinct hosts.
        #[arg(long, default_value_t = 1000)]
        hosts: usize,
        /// Concurrent senders, each one connection (one report) at a time.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Server processes on the one store (the scale-out shape; reports are spread over
        /// them round-robin).
        #[arg(long, default_value_t = 1)]
        servers: usize,
        /// Only host lists whose file name starts with this (`rhel_8`, `debian_12`).
        #[arg(long)]
        lists: Option<String>,
        /// Measure PostgreSQL too (after SQLite).
        #[arg(long)]
        postgres: bool,
        /// Skip the from-scratch check at the end.
        #[arg(long)]
        no_check: bool,
        /// `full` (the full vendor files) or `demo` (the built-in trimmed feeds: a smoke test).
        #[arg(long, default_value = "full")]
        feeds: String,
        /// Import every feed at the start instead of holding one back (full: the DLA list;
        /// demo: the OSV file) and importing it through the first server during the
        /// `changed` phase, with the check that every server converges and that the
        /// re-evaluation runs once.
        #[arg(long)]
        no_feed_update: bool,
        /// Requests per page kind in the page-latency phase after `unchanged` (0: none).
        #[arg(long, default_value_t = 50)]
        page_requests: usize,
        /// Run the servers under valgrind's callgrind (profiles written to this directory)
        /// and print each phase's instructions per report: a figure the machine's other load
        /// does not move (valgrind hides the CPU's SHA extensions: SHA-256 is counted in
        /// software). Expect everything to take ~50× longer (use a few hundred hosts).
        #[arg(long, value_name = "DIR")]
        callgrind: Option<PathBuf>,
        /// The `pakiti` executable the servers run (default: this one): compare two builds
        /// under one load generator.
        #[arg(long, value_name = "PATH")]
        server_exe: Option<PathBuf>,
    },
}
