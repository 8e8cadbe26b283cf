//! The `pakiti` command: server, feed management, offline scan, version comparison, benchmarks.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use pakiti_core::stream::OsStream;
use pakiti_core::version::Scheme;
use pakiti_feeds::FeedKind;
use pakiti_server::cmd;
use pakiti_server::cmd::scan::{Format, ScanArgs};
use pakiti_server::settings::Settings;

/// Patch-status and vulnerability monitor for fleets of Linux hosts.
///
/// Hosts report their installed packages (Pakiti 2/3 clients or pakiti-client) to
/// `POST /feed/`; the server matches them against vendor vulnerability feeds and shows which
/// hosts lack which patches and are exposed to which CVEs.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Where the settings and the store are.
#[derive(Args)]
struct Global {
    /// A TOML settings file (see `pakiti default-config`).
    #[arg(long, global = true, env = "PAKITI_CONFIG")]
    config: Option<PathBuf>,
    /// The store: sqlite://PATH or postgres://USER@HOST/DB (default: an SQLite file in the data
    /// directory).
    #[arg(long, global = true)]
    database: Option<String>,
    /// Where the SQLite file and other state live (default: ./pakiti-data).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Fill an empty store with sample feeds and hosts built from real data shipped in
        /// the repository, and report this machine itself.
        #[arg(long)]
        demo: bool,
    },
    /// Manage vulnerability feeds.
    Feed {
        #[command(subcommand)]
        what: FeedCommand,
    },
    /// Check one host's package list offline against vendor feed files.
    ///
    /// The input may be `rpm -qa` or `dpkg-query -W` output, an apk listing, or a Pakiti
    /// report (protocol 5 text, protocol 4 stdout format, JSON). Exit codes: 0 scanned
    /// (findings or not), 1 error, 3 the host's OS has no data in the feeds (not covered).
    Scan {
        /// The package list or report; `-` reads standard input.
        input: PathBuf,
        /// A vendor feed file (OVAL, CSAF, tracker JSON, DSA/DLA list, secdb, OSV; any
        /// compression). Repeat for several.
        #[arg(long = "feed", required = true)]
        feeds: Vec<PathBuf>,
        /// The feeds' kind when it cannot be recognised from the content.
        #[arg(long, value_parser = parse_kind)]
        feed_kind: Option<FeedKind>,
        /// The host's OS stream (`rhel:8`, `debian:bookworm`, `ubuntu:22.04`, `alpine:3.19`).
        #[arg(long)]
        stream: Option<OsStream>,
        /// An OS string to recognise the stream from (`Rocky Linux 9.3`).
        #[arg(long)]
        os: Option<String>,
        /// A Debian/Ubuntu `Packages` index mapping binary packages to source packages.
        #[arg(long = "packages-index")]
        packages_indexes: Vec<PathBuf>,
        /// Output format: a table, JSON lines (one object per finding) or CSV.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Compare two versions as rpm, dpkg or apk-tools do: prints -1, 0 or 1.
    ///
    /// Without A and B, reads `A<TAB>B` lines on standard input and prints one result per
    /// line. An invalid version is an error naming it (exit 2), never a guess.
    Vercmp {
        /// Version scheme: rpm, dpkg (or deb), apk.
        #[arg(value_parser = parse_scheme)]
        scheme: Scheme,
        /// First version; omit both to read pairs from standard input.
        #[arg(requires = "b")]
        a: Option<String>,
        /// Second version.
        b: Option<String>,
    },
    /// Print the commented example settings file.
    DefaultConfig,
    /// Measure performance on the real data in shared/data (figures for the issues).
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
}

#[derive(Subcommand)]
enum FeedCommand {
    /// Add a feed: a URL (downloaded on sync) or a local file.
    Add {
        /// A unique name (`rhel-8-oval`).
        name: String,
        /// The feed kind (redhat-oval, ubuntu-oval, suse-oval, csaf, debian-tracker,
        /// debian-list, alpine-secdb, osv) or `auto` to recognise it from the content.
        #[arg(long, default_value = "auto")]
        kind: String,
        /// Where to get it: https://…, http://…, or a local path.
        #[arg(long)]
        url: String,
        /// The OS stream the data is for, when the data does not say (`rhel:8`).
        #[arg(long)]
        stream: Option<String>,
        /// How often to sync: 6h, 1d, 3600 …
        #[arg(long, default_value = "1d", value_parser = cmd::feed::parse_interval)]
        interval: i64,
        /// Add it disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// List feeds with their last sync, counts and errors.
    List {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove a feed and its advisories.
    Remove {
        /// The feed's name.
        name: String,
    },
    /// Download and import feeds (all enabled ones when none are named). Exit code 1 when any
    /// failed.
    Sync {
        /// Feed names.
        names: Vec<String>,
        /// Import even if unchanged, or if the advisory count dropped by more than half.
        #[arg(long)]
        force: bool,
    },
    /// Import a local file into a feed, creating the feed when it does not exist.
    Import {
        /// The file (any compression).
        file: PathBuf,
        /// The feed's name (default: the file name up to its first dot).
        #[arg(long)]
        name: Option<String>,
        /// The kind, when creating the feed (default: recognised from the content).
        #[arg(long)]
        kind: Option<String>,
        /// The OS stream, when creating the feed and the data does not say.
        #[arg(long)]
        stream: Option<String>,
        /// Import even if the advisory count dropped by more than half.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum BenchWhat {
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
}

fn parse_scheme(name: &str) -> Result<Scheme, String> {
    Scheme::from_name(name)
        .ok_or_else(|| format!("unknown version scheme {name:?} (rpm, dpkg, apk)"))
}

fn parse_kind(s: &str) -> Result<FeedKind, String> {
    FeedKind::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = FeedKind::ALL.iter().map(|k| k.name()).collect();
        format!("unknown feed kind {s:?}; one of: {}", names.join(", "))
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PAKITI_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn settings(g: &Global) -> anyhow::Result<Settings> {
    let mut s = Settings::load(g.config.as_deref(), std::env::vars())?;
    if let Some(d) = &g.database {
        s.database_url.clone_from(d);
    }
    if let Some(d) = &g.data_dir {
        s.data_dir.clone_from(d);
    }
    Ok(s)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Serve { listen, demo } => {
            let mut s = settings(&cli.global)?;
            if let Some(l) = listen {
                s.listen = l;
            }
            runtime()?.block_on(cmd::serve::run(s, demo))?;
        }
        Command::Feed { what } => {
            let s = settings(&cli.global)?;
            let ok = runtime()?.block_on(async {
                let state = cmd::serve::open_state(s).await?;
                let ok = match what {
                    FeedCommand::Add {
                        name,
                        kind,
                        url,
                        stream,
                        interval,
                        disabled,
                    } => {
                        let new = pakiti_store::NewFeed {
                            name,
                            kind,
                            url,
                            stream,
                            enabled: !disabled,
                            interval_secs: interval,
                        };
                        cmd::feed::add(&state, new, &mut out).await.map(|()| true)
                    }
                    FeedCommand::List { json } => {
                        cmd::feed::list(&state, json, &mut out).await.map(|()| true)
                    }
                    FeedCommand::Remove { name } => cmd::feed::remove(&state, &name, &mut out)
                        .await
                        .map(|()| true),
                    FeedCommand::Sync { names, force } => {
                        cmd::feed::sync(&state, &names, force, &mut out).await
                    }
                    FeedCommand::Import {
                        file,
                        name,
                        kind,
                        stream,
                        force,
                    } => {
                        cmd::feed::import(&state, &file, name, kind, stream, force, &mut out).await
                    }
                };
                state.store.close().await;
                ok
            })?;
            if !ok {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Scan {
            input,
            feeds,
            feed_kind,
            stream,
            os,
            packages_indexes,
            format,
        } => {
            let args = ScanArgs {
                input,
                feeds,
                feed_kind,
                stream,
                os,
                packages_indexes,
                format,
            };
            let code = cmd::scan::run(&args, &mut out, &mut std::io::stderr().lock())?;
            return Ok(ExitCode::from(code));
        }
        Command::Vercmp { scheme, a, b } => {
            let pair = a.as_deref().zip(b.as_deref());
            let input = std::io::BufReader::with_capacity(64 * 1024, std::io::stdin().lock());
            let code = cmd::vercmp::run(scheme, pair, input, out, std::io::stderr().lock());
            return Ok(ExitCode::from(code));
        }
        Command::DefaultConfig => {
            use std::io::Write;
            write!(out, "{}", pakiti_server::settings::EXAMPLE)?;
        }
        Command::Bench { what } => match what {
            BenchWhat::Vercmp { data } => {
                cmd::bench::vercmp(&cmd::bench::data_dir(data), &mut out)?
            }
            BenchWhat::Feeds { data } => cmd::bench::feeds(&cmd::bench::data_dir(data), &mut out)?,
            BenchWhat::FeedFile { kind, data, file } => {
                let kind = FeedKind::from_name(&kind)
                    .with_context(|| format!("unknown feed kind {kind}"))?;
                cmd::bench::feed_file(kind, &cmd::bench::data_dir(data), &file, &mut out)?;
            }
            BenchWhat::Match {
                data,
                hosts,
                packages,
            } => {
                cmd::bench::matching(&cmd::bench::data_dir(data), hosts, packages, &mut out)?;
            }
            BenchWhat::Ingest {
                data,
                hosts,
                reeval_hosts,
                concurrency,
                packages,
            } => {
                let mut args = cmd::bench_ingest::IngestArgs::full(
                    cmd::bench::data_dir(data),
                    hosts,
                    reeval_hosts,
                    concurrency,
                );
                args.packages = packages;
                runtime()?.block_on(cmd::bench_ingest::run(
                    cli.global.database.clone(),
                    &args,
                    &mut out,
                ))?;
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}
