//! The `pakiti` command.
use clap::{Parser, Subcommand};
use pakiti_core::version::Scheme;
use std::io::{BufReader, stderr, stdin, stdout};
use std::process::ExitCode;

/// Patch-status and vulnerability monitor for fleets of Linux hosts.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compare two versions (prints -1, 0 or 1), or `A<TAB>B` lines from stdin, with the exact
    /// ordering of rpm, dpkg or apk-tools; exits 2 on an invalid version.
    Vercmp {
        /// Version scheme: rpm, dpkg (or deb), apk.
        #[arg(value_parser = parse_scheme)]
        scheme: Scheme,
        /// First version; omit both to read pairs from stdin.
        #[arg(requires = "b")]
        a: Option<String>,
        /// Second version.
        b: Option<String>,
    },
}

fn parse_scheme(name: &str) -> Result<Scheme, String> {
    Scheme::from_name(name)
        .ok_or_else(|| format!("unknown version scheme {name:?} (rpm, dpkg, apk)"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Vercmp { scheme, a, b } => {
            let pair = a.as_deref().zip(b.as_deref());
            let input = BufReader::with_capacity(64 * 1024, stdin().lock());
            ExitCode::from(pakiti_server::cmd::vercmp::run(
                scheme,
                pair,
                input,
                stdout().lock(),
                stderr().lock(),
            ))
        }
    }
}
