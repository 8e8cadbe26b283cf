//! A clean restart keeps what makes an unchanged report cheap (issue 17): the server
//! remembers the exact bytes of each host's last stored report, writes that memory to
//! `<data_dir>/seen-bodies.json` when it stops, and reads it back when it starts, so the
//! nightly unchanged report right after a restart is recorded without being parsed, as before
//! it. A SIGKILL leaves no file, and a stale entry only costs the full path.

use pakiti_api::report::Report;
use pakiti_test_support::databases;

use crate::crash::{post, serve};
use crate::support::report;

/// Posts `r` (protocol 5): it must be stored.
async fn send(base: &str, r: &Report) {
    let (status, text) = post(base, r).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.starts_with("OK"), "{text}");
}

/// Log lines of a report recorded from remembered bytes, without parsing.
const REPLAYED: &str = "same_bytes";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_reports_right_after_a_clean_restart_skip_parsing_as_before_it() {
    for db in databases().await {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("seen-bodies.json");
        let info = [("PAKITI_LOG", "info")];
        let body = report("rhel_80", "restart-1.example.org");
        let other = report("debian_12", "restart-2.example.org");

        let (mut p, base) = serve(&db, dir.path(), &info).await;
        send(&base, &body).await;
        send(&base, &other).await;
        send(&base, &body).await;
        p.wait_for(REPLAYED, 1);
        p.stop();
        assert!(file.exists(), "{}: no {}", db.backend, file.display());

        // Right after the restart: the same bytes are recognised (the file is read, then
        // removed: a crash later must not bring it back).
        let (mut p, base) = serve(&db, dir.path(), &info).await;
        p.wait_for("remembered report bodies read back", 1);
        assert!(!file.exists(), "{}", db.backend);
        send(&base, &body).await;
        send(&base, &other).await;
        p.wait_for(REPLAYED, 2);
        p.stop();
        assert!(file.exists(), "{}", db.backend);

        // Meanwhile another server (its own data directory) stores a changed report of the
        // first host: the remembered bytes are stale, and must not be recorded as its report.
        let elsewhere = tempfile::tempdir().unwrap();
        let (p, base) = serve(&db, elsewhere.path(), &info).await;
        let changed = report("rhel_90", "restart-1.example.org");
        send(&base, &changed).await;
        p.stop();

        let (mut p, base) = serve(&db, dir.path(), &info).await;
        p.wait_for("remembered report bodies read back", 1);
        send(&base, &body).await;
        // The store refused the touch (another hash is the host's last): saved in full.
        p.wait_for("restart-1.example.org", 1);
        let replayed = p.seen.iter().filter(|l| l.contains(REPLAYED)).count();
        assert_eq!(replayed, 0, "{}: {:#?}", db.backend, p.seen);
        let (status, v) = {
            let r = reqwest::get(format!("{base}/api/v1/hosts/restart-1.example.org"))
                .await
                .unwrap();
            let status = r.status();
            let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            (status, v)
        };
        assert_eq!(status, 200);
        assert_eq!(v["os_stream"], "rhel:8", "{}: {v}", db.backend);
        p.stop();
        db.finish().await;
    }
}
