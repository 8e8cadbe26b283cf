//! The `pakiti` command.
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use pakiti_feeds::FeedKind;
use pakiti_server::cmd;

/// Patch-status and vulnerability monitor for fleets of Linux hosts.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure performance on the real data in shared/data (figures for the issues).
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match cli.command {
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
        },
    }
    Ok(ExitCode::SUCCESS)
}
