//! `pakiti bench load` on a tiny fleet, as a user runs it: the benchmark starts two `pakiti
//! serve` child processes on one store, sends every phase over fresh connections, imports a
//! feed update through the first server while both ingest, checks that both converge and that
//! the update was re-evaluated once, measures the pages, restarts the servers, and ends with
//! the from-scratch check (no timing assertions: the machine may be busy).

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
        "--servers",
        "2",
        "--page-requests",
        "3",
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
        // The feed update went through server 0, both servers converged, and the command
        // (which fails otherwise) saw the re-evaluation run in one process.
        let update = text
            .lines()
            .find(|l| l.starts_with(&format!("{backend}: feed update (")))
            .unwrap_or_else(|| panic!("no {backend} feed update line in:\n{text}"));
        assert!(update.contains("imported through server 0"), "{update}");
        for k in 0..2 {
            assert!(
                text.contains(&format!("{backend}:   server {k}: ")),
                "no re-evaluation figures of server {k} in:\n{text}"
            );
        }
        assert!(
            text.contains(&format!("{backend}:   /packages/{{name}}")),
            "{text}"
        );
        assert!(
            text.contains(&format!("{backend}: worst page p99")),
            "{text}"
        );
        assert!(text.contains("first /cves after the start"), "{text}");
    }
}
