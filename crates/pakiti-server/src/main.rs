//! The `pakiti` command.
use clap::{Parser, Subcommand};

/// Patch-status and vulnerability monitor for fleets of Linux hosts.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {}
}
