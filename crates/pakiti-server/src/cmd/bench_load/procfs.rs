//! What `pakiti bench load` reads from `/proc`: CPU time and resident memory of the servers,
//! the benchmark itself and PostgreSQL's processes.

use std::time::Duration;

/// CPU time (user + system) of a process from `/proc/PID/stat`.
pub(super) fn cpu_of(pid: u32) -> Option<Duration> {
    cpu_fields(pid, 2)
}

/// CPU time of a process and of its children that ended and were waited for (`cutime`,
/// `cstime`): PostgreSQL's backends end with their connections, and their CPU would leave
/// the sum with them (a phase of short-lived connections read 0 ms of database CPU).
fn cpu_with_ended_children_of(pid: u32) -> Option<Duration> {
    cpu_fields(pid, 4)
}

/// The sum of the first `n` CPU fields of `/proc/PID/stat` from utime on (utime, stime,
/// cutime, cstime), in clock ticks of 10 ms.
fn cpu_fields(pid: u32, n: usize) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime, stime, cutime and cstime are fields 14 to 17 of the line, 12 to 15 after the name.
    let mut ticks = 0u64;
    for i in 11..11 + n {
        ticks += f.get(i)?.parse::<u64>().ok()?;
    }
    Some(Duration::from_millis(ticks * 10))
}

/// Summed CPU of every process whose command name is `postgres`, with the ended backends
/// the postmaster waited for.
pub(super) fn postgres_cpu() -> Duration {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .filter_map(cpu_with_ended_children_of)
        .sum()
}

/// `VmRSS` of a process, in bytes.
pub(super) fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn the_cpu_of_ended_children_stays_counted() {
        let me = std::process::id();
        let children = || {
            let with = cpu_with_ended_children_of(me).unwrap();
            let own = cpu_of(me).unwrap();
            assert!(with >= own);
            with - own
        };
        let before = children();
        // A child that burns CPU and is waited for: its time moves to our cutime/cstime.
        let ok = std::process::Command::new("sh")
            .arg("-c")
            .arg("i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done")
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let after = children();
        assert!(
            after.saturating_sub(before) >= Duration::from_millis(20),
            "{before:?} -> {after:?}: the ended child's CPU is not counted"
        );
    }

    #[test]
    fn own_cpu_and_rss_are_read_from_proc() {
        let pid = std::process::id();
        // Burn a little CPU so that at least one tick is counted.
        let t = Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        assert!(cpu_of(pid).is_some_and(|c| c > Duration::ZERO));
        assert!(rss_of(pid) > 1_000_000);
        assert!(cpu_of(u32::MAX).is_none());
    }
}
