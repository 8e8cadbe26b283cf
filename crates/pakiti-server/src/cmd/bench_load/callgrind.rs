//! `pakiti bench load --callgrind`: the servers' instruction counts per phase, through
//! `callgrind_control` (counts zeroed at a phase's start, dumped at its end).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Zeroes the counts of every server in `pids`.
pub(super) fn zero(pids: &[u32]) -> Result<()> {
    for &pid in pids {
        control(pid, "-z")?;
    }
    Ok(())
}

/// Dumps the counts of every server in `pids` since [`zero`] and returns the instructions
/// summed over them.
pub(super) fn dump_total(dir: &Path, pids: &[u32]) -> Result<u64> {
    let mut total = 0;
    for &pid in pids {
        control(pid, "-d")?;
        total += last_dump_total(dir, pid)?;
    }
    Ok(total)
}

/// Runs `callgrind_control OPTION PID`.
fn control(pid: u32, option: &str) -> Result<()> {
    let out = Command::new("callgrind_control")
        .arg(option)
        .arg(pid.to_string())
        .output()
        .context("running callgrind_control (valgrind is needed for --callgrind)")?;
    if !out.status.success() {
        bail!(
            "callgrind_control {option} {pid} exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The instruction total of the newest callgrind dump of `pid` in `dir`: the highest-numbered
/// `callgrind.out.PID.N` (each `-d` writes the next number), read from its `totals:` line (the
/// sum of the costs it lists; its `summary:` can be garbage when counts were zeroed while
/// threads sat in calls).
fn last_dump_total(dir: &Path, pid: u32) -> Result<u64> {
    let prefix = format!("callgrind.out.{pid}.");
    let mut newest: Option<(u64, PathBuf)> = None;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let part = entry
            .file_name()
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix)?.parse::<u64>().ok());
        if let Some(part) = part
            && newest.as_ref().is_none_or(|(n, _)| part > *n)
        {
            newest = Some((part, entry.path()));
        }
    }
    let (_, path) =
        newest.with_context(|| format!("no callgrind dump of {pid} in {}", dir.display()))?;
    let text = std::fs::read_to_string(&path)?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix("totals:")
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .with_context(|| format!("no totals in {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The newest dump of the process (highest part number, not the newest file or the last
    /// name in text order) is read, by its `totals:` line (its `summary:` can underflow when
    /// counts were zeroed while threads sat in calls).
    #[test]
    fn callgrind_totals_come_from_the_newest_dump() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, body: &str| std::fs::write(dir.path().join(name), body).unwrap();
        write("callgrind.out.42.1", "version: 1\nsummary: 5\ntotals: 5\n");
        write(
            "callgrind.out.42.2",
            "version: 1\nevents: Ir\nsummary: 18446744071807876162\ntotals: 3501205185\n",
        );
        write("callgrind.out.43.9", "totals: 7\n");
        write("callgrind.out.420.3", "totals: 8\n");
        assert_eq!(last_dump_total(dir.path(), 42).unwrap(), 3_501_205_185);
        assert!(last_dump_total(dir.path(), 44).is_err());
        write("callgrind.out.42.10", "totals: 11\n");
        write("callgrind.out.42.9", "totals: 10\n");
        assert_eq!(last_dump_total(dir.path(), 42).unwrap(), 11);
        write("callgrind.out.45", "summary: 3\n");
        assert!(last_dump_total(dir.path(), 45).is_err());
    }
}
