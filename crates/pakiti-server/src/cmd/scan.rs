//! `pakiti scan`: check one host's package list offline against vendor feed files.
//!
//! Reads what agents send (`rpm -qa`, `dpkg-query -W`, apk listings, and the Pakiti report
//! formats: protocol 5 text, the protocol 4 stdout format, our JSON) and prints the findings as
//! a table, JSON lines (one object per finding) or CSV.
//!
//! Every version is validated as `pakiti vercmp` validates it. `rpm -qa` lists carry no epoch:
//! their versions are kept without one and compared with each advisory's epoch, and such
//! findings are marked "epoch assumed" (`?:` in the table, `epoch_assumed` in JSON and CSV).
//! Hosts that list no module streams get them inferred from their module packages.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use pakiti_api::report::{Packager, Report};
use pakiti_api::{json, listing, protocol4, protocol5};
use pakiti_core::advisory::Advisory;
use pakiti_core::matcher::{AdvisoryIndex, HostInventory};
use pakiti_core::osname;
use pakiti_core::package::InstalledPackage;
use pakiti_core::stream::OsStream;
use pakiti_core::version::Scheme;
use pakiti_feeds::{FeedKind, ParseOptions, decompress};

/// Output formats of `pakiti scan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned table for people.
    Table,
    /// One JSON object per finding, one per line.
    Json,
    /// CSV with a header line.
    Csv,
}

/// What `pakiti scan` was asked to do.
#[derive(Clone, Debug)]
pub struct ScanArgs {
    /// The package list or report; `-` for standard input.
    pub input: PathBuf,
    /// Vendor feed files (any compression).
    pub feeds: Vec<PathBuf>,
    /// The feeds' kind, when it cannot be recognised from the content.
    pub feed_kind: Option<FeedKind>,
    /// The OS stream (`rhel:8`, `debian:bookworm`), overriding what the input says.
    pub stream: Option<OsStream>,
    /// An OS string to recognise the stream from (`Rocky Linux 9.3`).
    pub os: Option<String>,
    /// Debian/Ubuntu `Packages` or `Sources` indexes that map binary packages to their source
    /// packages.
    pub packages_indexes: Vec<PathBuf>,
    /// Output format.
    pub format: Format,
}

/// Exit code when the host's stream has no data in the given feeds ("not covered").
pub const EXIT_NOT_COVERED: u8 = 3;

/// Reads a package list or report in any of the formats agents send.
///
/// # Errors
/// The text is in no known format, or has lines that cannot be read (with their numbers).
pub fn read_input(text: &str) -> Result<Report> {
    let t = text.trim_start();
    if t.starts_with('#') {
        return protocol5::parse(text.as_bytes()).context("reading a protocol 5 report");
    }
    if t.starts_with('{') {
        return json::parse(text.as_bytes()).context("reading a JSON report");
    }
    if t.lines().next().is_some_and(|l| l.contains("type=\"")) {
        return protocol4::parse_stdout(text).context("reading a protocol 4 report");
    }
    let parsed = listing::parse(text);
    if let Some(e) = parsed.errors.first() {
        bail!(
            "{} line(s) of the {:?} listing could not be read; first: line {}: {}",
            parsed.errors.len(),
            parsed.format,
            e.line,
            e.reason
        );
    }
    if parsed.packages.is_empty() {
        bail!("no packages found in the input");
    }
    let mut packages = parsed.to_packages();
    if parsed.format == listing::ListingFormat::RpmQa {
        // `rpm -qa` prints no epoch: it is unknown, not 0 (issue 12 item 8). A version without
        // `E:` is compared with the advisory's epoch (`compare_installed`).
        for (p, l) in packages.iter_mut().zip(&parsed.packages) {
            p.version = match &l.release {
                Some(r) => format!("{}-{r}", l.version),
                None => l.version.clone(),
            };
        }
    }
    Ok(Report {
        packager: parsed.format.packager(),
        packages,
        ..Report::default()
    })
}

/// Loads feed files, recognising their kind from the content unless `kind` is given.
///
/// # Errors
/// A file is unreadable, of an unknown kind, or rejected by its parser.
pub fn load_feeds(
    files: &[PathBuf],
    kind: Option<FeedKind>,
    err: &mut impl Write,
) -> Result<Vec<Advisory>> {
    let mut all = Vec::new();
    for file in files {
        let raw = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let data = decompress::to_vec(&raw)
            .with_context(|| format!("decompressing {}", file.display()))?;
        let kind = match kind.or_else(|| FeedKind::detect(&data)) {
            Some(k) => k,
            None => bail!(
                "{}: cannot tell the feed kind; pass --feed-kind",
                file.display()
            ),
        };
        let parsed = kind
            .parse(&data[..], &ParseOptions::default())
            .with_context(|| format!("parsing {} as {kind}", file.display()))?;
        writeln!(
            err,
            "{}: {} advisories ({kind}){}",
            file.display(),
            parsed.records.len(),
            if parsed.problems.is_empty() {
                String::new()
            } else {
                format!(", {} problems", parsed.problems.len())
            }
        )?;
        all.extend(parsed.records);
    }
    Ok(all)
}

fn severity_rank(s: &str) -> u8 {
    match s {
        "critical" => 0,
        "high" => 1,
        "medium" => 2,
        "low" => 3,
        _ => 4,
    }
}

/// Runs a scan, writing findings to `out` and notes to `err`; returns the exit code.
///
/// # Errors
/// Unreadable input or feeds, or no way to tell the OS stream.
pub fn run(args: &ScanArgs, out: &mut impl Write, err: &mut impl Write) -> Result<u8> {
    let text = if args.input.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading standard input")?
    } else {
        std::fs::read_to_string(&args.input)
            .with_context(|| format!("reading {}", args.input.display()))?
    };
    let report = read_input(&text)?;
    let stream = match (&args.stream, &args.os) {
        (Some(s), _) => s.clone(),
        (None, Some(os)) => osname::detect(os).with_context(|| format!("unknown OS {os:?}; pass --stream"))?,
        (None, None) => osname::detect(&report.os).with_context(|| {
            format!(
                "cannot tell the OS stream from {:?}: pass --stream (e.g. rhel:8, debian:bookworm) or --os",
                report.os
            )
        })?,
    };
    if matches!(
        report.packager,
        Packager::Rpm | Packager::Dpkg | Packager::Apk
    ) {
        let scheme = stream.scheme().name();
        let packager = report.packager.as_str();
        if scheme != packager {
            bail!("the input lists {packager} packages but stream {stream} uses {scheme}");
        }
    }
    // Versions are checked as `pakiti vercmp` checks them: an order computed from a version the
    // real tool rejects would be a guess.
    let scheme = stream.scheme();
    let invalid: Vec<String> = report
        .packages
        .iter()
        .filter_map(|p| {
            pakiti_engine::ingest::check_version(scheme, &p.version)
                .err()
                .map(|e| format!("{}: {e}", p.name))
        })
        .collect();
    if let Some(first) = invalid.first() {
        bail!(
            "{} package version(s) are not valid {scheme} versions; first: {first}",
            invalid.len()
        );
    }
    let advisories = load_feeds(&args.feeds, args.feed_kind, err)?;
    let mut index = AdvisoryIndex::new(advisories);
    for file in &args.packages_indexes {
        let raw = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let data = decompress::to_vec(&raw)?;
        // A `Sources` index names the binaries of each source (`Binary`); a `Packages` index
        // names the source of each binary (`Source`).
        let is_sources = pakiti_feeds::debian::index::stanzas(&String::from_utf8_lossy(&data))
            .next()
            .is_some_and(|st| st.field("Binary").is_some());
        if is_sources {
            let parsed = pakiti_feeds::debian::index::parse_sources(&data[..])
                .with_context(|| format!("parsing {}", file.display()))?;
            index.add_source_map(
                &stream,
                pakiti_feeds::debian::index::source_map_from_sources(&parsed.records),
            );
        } else {
            let parsed = pakiti_feeds::debian::index::parse_packages(&data[..])
                .with_context(|| format!("parsing {}", file.display()))?;
            index.add_source_map(
                &stream,
                pakiti_feeds::debian::index::source_map(&parsed.records),
            );
        }
    }
    let packages: Vec<InstalledPackage> = report
        .packages
        .iter()
        .map(|p| InstalledPackage {
            name: p.name.clone(),
            version: p.version.clone(),
            arch: p.arch.clone(),
            source: p.source.clone(),
        })
        .collect();
    let modules = if report.module_streams.is_empty() {
        let inferred = index.infer_modules(&stream, &packages);
        if !inferred.streams.is_empty() {
            writeln!(
                err,
                "module streams inferred from installed module packages (the input lists none): {}",
                inferred.streams.join(" ")
            )?;
        }
        if !inferred.unknown.is_empty() {
            writeln!(
                err,
                "warning: module streams unknown: the stream of {} could not be inferred; their \
                 module advisories are missed (report module streams, e.g. with pakiti-client)",
                inferred.unknown.join(", ")
            )?;
        }
        inferred.streams
    } else {
        report.module_streams.clone()
    };
    let result = index.match_host(&HostInventory {
        stream: Some(&stream),
        packages: &packages,
        modules: &modules,
    });
    if !result.covered {
        writeln!(
            err,
            "not covered: the feeds given have no data for {stream}; this host is NOT known to be clean"
        )?;
        return Ok(EXIT_NOT_COVERED);
    }
    if index.lacks_source_map(&stream) && packages.iter().all(|p| p.source.is_none()) {
        writeln!(
            err,
            "warning: source names unknown: the feeds name source packages for {stream} but the \
             input gives binary names only; add the release's Packages or Sources index with \
             --packages-index, or findings such as openssl's for libssl3 are missed"
        )?;
    }
    let mut rows: Vec<Row<'_>> = result
        .findings
        .iter()
        .map(|f| {
            let p = &packages[f.package];
            Row {
                package: &p.name,
                arch: &p.arch,
                installed: &p.version,
                epoch_assumed: scheme == Scheme::Rpm
                    && pakiti_core::version::rpm::epoch_unknown(&p.version),
                advisory: &f.advisory.id,
                severity: f.advisory.severity.as_str(),
                status: f.affected.status.kind(),
                fixed: f.affected.status.fixed_version().unwrap_or(""),
                cves: &f.advisory.cves,
                title: &f.advisory.title,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        (severity_rank(a.severity), a.package, a.advisory).cmp(&(
            severity_rank(b.severity),
            b.package,
            b.advisory,
        ))
    });
    match args.format {
        Format::Table => write_table(&rows, out)?,
        Format::Json => {
            for r in &rows {
                let obj = serde_json::json!({
                    "advisory": r.advisory,
                    "cves": r.cves,
                    "package": r.package,
                    "arch": r.arch,
                    "installed_version": r.installed,
                    "epoch_assumed": r.epoch_assumed,
                    "fixed_version": if r.fixed.is_empty() { None } else { Some(r.fixed) },
                    "status": r.status,
                    "severity": r.severity,
                    "title": r.title,
                });
                writeln!(out, "{obj}")?;
            }
        }
        Format::Csv => {
            writeln!(
                out,
                "package,arch,installed_version,advisory,severity,status,fixed_version,cves,epoch_assumed"
            )?;
            for r in &rows {
                writeln!(
                    out,
                    "{},{},{},{},{},{},{},{},{}",
                    csv(r.package),
                    csv(r.arch),
                    csv(r.installed),
                    csv(r.advisory),
                    r.severity,
                    r.status,
                    csv(r.fixed),
                    csv(&r.cves.join(" ")),
                    r.epoch_assumed
                )?;
            }
        }
    }
    let assumed = rows.iter().filter(|r| r.epoch_assumed).count();
    if assumed > 0 {
        writeln!(
            err,
            "epoch assumed: the input gives no epochs (rpm -qa prints none); {assumed} of {} \
             findings compare the installed version with the advisory's epoch (marked ?: / \
             epoch_assumed); list packages with --queryformat '%{{EPOCH}}:...' to be sure",
            rows.len()
        )?;
    }
    let cves: std::collections::BTreeSet<&str> = rows
        .iter()
        .flat_map(|r| r.cves.iter().map(String::as_str))
        .collect();
    writeln!(
        err,
        "{stream}: {} packages, {} findings, {} distinct CVEs",
        packages.len(),
        rows.len(),
        cves.len()
    )?;
    Ok(0)
}

struct Row<'a> {
    package: &'a str,
    arch: &'a str,
    installed: &'a str,
    /// The input gave no epoch (`rpm -qa`): compared with the advisory's.
    epoch_assumed: bool,
    advisory: &'a str,
    severity: &'a str,
    status: &'a str,
    fixed: &'a str,
    cves: &'a [String],
    title: &'a str,
}

fn csv(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn write_table(rows: &[Row<'_>], out: &mut impl Write) -> Result<()> {
    let header = [
        "PACKAGE",
        "INSTALLED",
        "ADVISORY",
        "SEVERITY",
        "FIXED IN / STATUS",
        "CVES",
    ];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            let cves = if r.cves.len() > 3 {
                format!("{} (+{})", r.cves[..3].join(" "), r.cves.len() - 3)
            } else {
                r.cves.join(" ")
            };
            [
                r.package.to_owned(),
                if r.epoch_assumed {
                    format!("?:{}", r.installed)
                } else {
                    r.installed.to_owned()
                },
                r.advisory.to_owned(),
                r.severity.to_owned(),
                if r.fixed.is_empty() {
                    r.status.to_owned()
                } else {
                    r.fixed.to_owned()
                },
                cves,
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for c in &cells {
        for (w, v) in widths.iter_mut().zip(c) {
            *w = (*w).max(v.len());
        }
    }
    let line = |vals: [&str; 6], out: &mut dyn Write| -> std::io::Result<()> {
        let mut s = String::new();
        for (i, (v, w)) in vals.iter().zip(widths).enumerate() {
            if i + 1 == vals.len() {
                s.push_str(v);
            } else {
                s.push_str(&format!("{v:<w$}  "));
            }
        }
        writeln!(out, "{}", s.trim_end())
    };
    line(header, out)?;
    for c in &cells {
        line([&c[0], &c[1], &c[2], &c[3], &c[4], &c[5]], out)?;
    }
    Ok(())
}
