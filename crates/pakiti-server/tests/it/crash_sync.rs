//! Issue #15 "Crash", vendor data: `pakiti feed import` of a big real OVAL file and `pakiti
//! repo sync` of a real apt index served over HTTP, each SIGKILLed at a random moment, five
//! times over one store. After each kill, and again after a server has started on the store
//! and finished what the kill left, the feed (its advisory ids, counts and the feed
//! generation) or the repository (its entries and counts) is exactly the old data or exactly
//! the new, never part of each; the store passes its integrity checks. On SQLite and, with
//! `PAKITI_TEST_POSTGRES_URL`, PostgreSQL.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use pakiti_test_support::{TestDatabase, databases, fixtures, shared_data};
use rand::Rng;

use crate::crash::{check_integrity, cli, serve, spawn, wait_recovered};

/// Kills per scenario.
const KILLS: usize = 5;

/// A feed as the store holds it: the feed generation, the advisories' ids, and the feed's
/// advisory and affected counts.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FeedState {
    generation: i64,
    ids: Vec<String>,
    counts: (i64, i64),
}

async fn feed_state(url: &str) -> FeedState {
    let store = pakiti_store::open(url).await.unwrap();
    let generation = store.feed_generation().await.unwrap();
    let mut ids: Vec<String> = store
        .load_advisories()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.advisory.id)
        .collect();
    ids.sort();
    let feeds = store.list_feeds().await.unwrap();
    assert_eq!(feeds.len(), 1);
    let counts = (feeds[0].advisory_count, feeds[0].affected_count);
    store.close().await;
    FeedState {
        generation,
        ids,
        counts,
    }
}

/// Starts a server on the store, waits until it has finished what a kill left (stale keys,
/// pending hosts), and kills it.
async fn restart(db: &TestDatabase, dir: &Path) {
    let (p, _) = serve(db, dir, &[]).await;
    wait_recovered(&db.url).await;
    p.kill();
}

/// `pakiti feed import` of the full Red Hat 8 OVAL (4,130 definitions) over the demo's
/// excerpt of it, and back, killed at random moments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_15_sigkill_during_a_feed_import_leaves_old_or_new_data() {
    let files = [
        fixtures().join("demo/rhel-8.oval.xml.bz2"),
        shared_data().join("oval/redhat/rhel-8-including-unpatched.oval.xml.bz2"),
    ];
    let args = |f: usize| {
        vec![
            "feed".to_owned(),
            "import".to_owned(),
            files[f].display().to_string(),
            "--name".to_owned(),
            "rhel-8".to_owned(),
            // The excerpt has far fewer advisories than the full file.
            "--force".to_owned(),
        ]
    };
    for db in databases().await {
        let dir = tempfile::tempdir().unwrap();
        let run = |f: usize| {
            let a = args(f);
            cli(
                &db,
                dir.path(),
                &a.iter().map(String::as_str).collect::<Vec<_>>(),
            );
        };
        // Each file's data, from complete imports.
        run(0);
        let old = feed_state(&db.url).await;
        let t = Instant::now();
        run(1);
        let took = t.elapsed();
        let new = feed_state(&db.url).await;
        assert!(new.ids.len() > 1_000 && old.ids.len() < new.ids.len() / 2);
        let data = |s: &FeedState| (s.ids.clone(), s.counts);
        let by_file = [data(&old), data(&new)];
        let mut current = 1;
        let mut before = new;
        let mut rng = rand::rng();
        let mut outcomes = Vec::new();
        for k in 0..KILLS {
            let target = 1 - current;
            let a = args(target);
            let mut p = spawn(
                &db,
                dir.path(),
                &a.iter().map(String::as_str).collect::<Vec<_>>(),
                &[],
            );
            let kill_at = took.mul_f64(rng.random_range(0.2..1.2));
            tokio::time::sleep(kill_at).await;
            let finished = p.child.try_wait().unwrap().is_some();
            p.kill();
            let after = feed_state(&db.url).await;
            let outcome = if after == before {
                assert!(
                    !finished,
                    "{}: a finished import changed nothing",
                    db.backend
                );
                "old"
            } else {
                assert_eq!(
                    data(&after),
                    by_file[target],
                    "{}: kill {k} at {kill_at:?}: neither old nor new",
                    db.backend
                );
                assert!(after.generation > before.generation, "{}", db.backend);
                current = target;
                "new"
            };
            check_integrity(&db.url).await;
            restart(&db, dir.path()).await;
            assert_eq!(
                feed_state(&db.url).await,
                after,
                "{}: after restart",
                db.backend
            );
            check_integrity(&db.url).await;
            outcomes.push(format!(
                "{:?} → {outcome}{}",
                kill_at,
                if finished { " (had exited)" } else { "" }
            ));
            before = after;
        }
        eprintln!(
            "crash feed import ({}): full import {took:?}; kills: {}",
            db.backend,
            outcomes.join(", ")
        );
        db.finish().await;
    }
}

/// The real apt indexes one suite's URL serves, switched between two versions by the test:
/// 0 = bookworm-updates (38 packages), 1 = bookworm (63,440). Each `InRelease` lists its own
/// `Packages.xz`.
fn apt_server(version: Arc<AtomicUsize>) -> String {
    let dir = shared_data().join("repos/apt");
    let files: Vec<[Vec<u8>; 2]> = ["bookworm-updates", "bookworm"]
        .iter()
        .map(|suite| {
            let f = |n: &str| {
                std::fs::read(dir.join(format!("deb.debian.org_debian_dists_{suite}_{n}")))
            };
            [
                f("InRelease").unwrap(),
                f("main_binary-amd64_Packages.xz").unwrap(),
            ]
        })
        .collect();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let v = &files[version.load(Ordering::SeqCst)];
            let body = match first.split_whitespace().nth(1).unwrap_or("") {
                "/debian/dists/bookworm/InRelease" => Some(&v[0]),
                "/debian/dists/bookworm/main/binary-amd64/Packages.xz" => Some(&v[1]),
                _ => None,
            };
            let _ = match body {
                Some(b) => write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    b.len()
                )
                .and_then(|()| stream.write_all(b)),
                None => stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                ),
            };
            let _ = stream.flush();
        }
    });
    base
}

/// A repository as the store holds it: its counts and its entries.
async fn repo_state(url: &str) -> (i64, i64, Vec<(String, String, String)>) {
    let store = pakiti_store::open(url).await.unwrap();
    let mut all = store.load_repository_packages().await.unwrap();
    assert_eq!(all.len(), 1);
    let (repo, entries) = all.pop().unwrap();
    let mut entries: Vec<_> = entries
        .into_iter()
        .map(|e| (e.name, e.version, e.arch))
        .collect();
    entries.sort();
    store.close().await;
    (repo.package_count, repo.security_count, entries)
}

/// `pakiti repo sync` of an apt suite whose index changed between the two real ones, killed
/// at random moments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_15_sigkill_during_a_repository_sync_leaves_old_or_new_data() {
    let version = Arc::new(AtomicUsize::new(0));
    let base = apt_server(version.clone());
    let url = format!("{base}/debian/dists/bookworm/main");
    for db in databases().await {
        let dir = tempfile::tempdir().unwrap();
        cli(
            &db,
            dir.path(),
            &[
                "repo",
                "add",
                "bookworm",
                "--kind",
                "apt",
                "--url",
                &url,
                "--stream",
                "debian:bookworm",
                "--arch",
                "amd64",
            ],
        );
        let sync = ["repo", "sync", "bookworm"];
        version.store(0, Ordering::SeqCst);
        cli(&db, dir.path(), &sync);
        let old = repo_state(&db.url).await;
        version.store(1, Ordering::SeqCst);
        let t = Instant::now();
        cli(&db, dir.path(), &sync);
        let took = t.elapsed();
        let new = repo_state(&db.url).await;
        assert!(
            old.2.len() < 100 && new.2.len() > 60_000,
            "{} {}",
            old.2.len(),
            new.2.len()
        );
        let by_version = [old, new];
        let mut current = 1;
        let mut rng = rand::rng();
        let mut outcomes = Vec::new();
        for k in 0..KILLS {
            let target = 1 - current;
            version.store(target, Ordering::SeqCst);
            let mut p = spawn(&db, dir.path(), &sync, &[]);
            let kill_at = took.mul_f64(rng.random_range(0.2..1.2));
            tokio::time::sleep(kill_at).await;
            let finished = p.child.try_wait().unwrap().is_some();
            p.kill();
            let after = repo_state(&db.url).await;
            let outcome = if after == by_version[current] {
                assert!(!finished, "{}: a finished sync changed nothing", db.backend);
                "old"
            } else {
                assert!(
                    after == by_version[target],
                    "{}: kill {k} at {kill_at:?}: neither old nor new ({} entries, counts {} {})",
                    db.backend,
                    after.2.len(),
                    after.0,
                    after.1
                );
                current = target;
                "new"
            };
            check_integrity(&db.url).await;
            restart(&db, dir.path()).await;
            assert!(
                repo_state(&db.url).await == after,
                "{}: after restart",
                db.backend
            );
            outcomes.push(format!(
                "{kill_at:?} → {outcome}{}",
                if finished { " (had exited)" } else { "" }
            ));
        }
        eprintln!(
            "crash repo sync ({}): full sync {took:?}; kills: {}",
            db.backend,
            outcomes.join(", ")
        );
        db.finish().await;
    }
}
