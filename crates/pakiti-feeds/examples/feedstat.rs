//! Parses one feed file and prints counts, parse time (after decompression) and peak memory.
//!
//! Usage: `cargo run --release -p pakiti-feeds --example feedstat -- KIND FILE [problems]`
//! where KIND is `redhat-oval`, `ubuntu-oval` or `suse-oval`. The file is decompressed into
//! memory first, so the time printed is the parse alone.
#![expect(clippy::print_stdout, reason = "a measurement tool prints its results")]

use std::time::Instant;

use pakiti_feeds::{ParseOptions, decompress, oval};

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(kind), Some(path)) = (args.get(1), args.get(2)) else {
        return Err("usage: feedstat KIND FILE [problems]".into());
    };
    let raw = std::fs::read(path)?;
    let data = decompress::to_vec(&raw)?;
    drop(raw);
    let rss_before = peak_rss_kib().unwrap_or(0);
    let opts = ParseOptions::default();
    let start = Instant::now();
    let report = match kind.as_str() {
        "redhat-oval" => oval::redhat::parse_with_report(&data[..], &opts)?,
        "ubuntu-oval" => oval::ubuntu::parse_with_report(&data[..], &opts)?,
        "suse-oval" => oval::suse::parse_with_report(&data[..], &opts)?,
        other => return Err(format!("unknown kind {other}").into()),
    };
    let elapsed = start.elapsed();
    let affected: usize = report.parsed.records.iter().map(|a| a.affected.len()).sum();
    println!("file         {path}");
    println!("bytes        {}", data.len());
    println!("definitions  {}", report.definitions);
    println!("advisories   {}", report.parsed.records.len());
    println!("affected     {affected}");
    println!("problems     {}", report.parsed.problems.len());
    println!("parse time   {:.3} s", elapsed.as_secs_f64());
    println!(
        "peak rss     {} MiB (decompressed input alone: {} MiB)",
        peak_rss_kib().unwrap_or(0) / 1024,
        rss_before / 1024
    );
    if args.get(3).map(String::as_str) == Some("problems") {
        for p in &report.parsed.problems {
            println!(
                "problem\t{}\t{}",
                p.record.as_deref().unwrap_or("-"),
                p.message
            );
        }
    }
    Ok(())
}
