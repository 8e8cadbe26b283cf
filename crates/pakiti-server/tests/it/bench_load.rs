//! `pakiti bench load` on a tiny fleet, as a user runs it: the benchmark starts `pakiti serve`
//! as a child process, sends every phase over fresh connections, restarts the server, and ends
//! with the from-scratch check (no timing assertions: the machine may be busy).

use std::process::Command;

use pakiti_test_support::shared_data;

#[test]
fn load_benchmark_runs_every_phase_against_a_server_process_and_checks_from_scratch() {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pakiti"));
    c.args([
        "bench",
        "load",
        "--hosts",
        "6",
        "--concurrency",
        "2",
        "--feeds",
        "demo",
    ])
    .arg("--data")
    .arg(shared_data())
    .env("PAKITI_LOG", "warn");
    let postgres = std::env::var("PAKITI_TEST_POSTGRES_URL").is_ok_and(|u| !u.is_empty());
    if postgres {
        c.arg("--postgres");
    }
    let out = c.output().expect("run pakiti bench load");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    let backends: &[&str] = if postgres {
        &["sqlite", "postgres"]
    } else {
        &["sqlite"]
    };
    for backend in backends {
        for phase in [
            "first",
            "changed",
            "unchanged",
            "unchanged/restart",
            "changed/restart",
        ] {
            let line = text
                .lines()
                .find(|l| l.split_whitespace().take(2).collect::<Vec<_>>() == [*backend, phase])
                .unwrap_or_else(|| panic!("no {backend} {phase} line in:\n{text}"));
            assert!(line.contains(" 6 in "), "{line}");
            assert!(line.contains("CPU/report: server"), "{line}");
        }
        assert!(
            text.contains(&format!(
                "{backend}: from-scratch check: 6 hosts, 0 mismatches"
            )),
            "{text}"
        );
    }
}
