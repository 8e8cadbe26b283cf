//! Real `pakiti` processes killed with SIGKILL between two durable steps (issue #16 D2 and
//! D15), and what a restarted server makes of the store. The process is stopped exactly
//! there by the test-only crash point (`PAKITI_TEST_CRASH_POINT`, `src/crashpoint.rs`), then
//! killed; nothing of it runs after the kill, as after a crash or an OOM kill.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pakiti_test_support::{TestDatabase, databases, fixtures};

use crate::invariant::{ADVISORIES, feed_body, host_report};
use crate::support::{expected_findings, report};

const RHEL8: (&str, &str) = ("redhat-oval", "rhel-8.oval.xml.bz2");

/// A running `pakiti` process with its stderr lines.
pub(crate) struct Proc {
    pub(crate) child: Child,
    pub(crate) lines: mpsc::Receiver<String>,
    pub(crate) seen: Vec<String>,
}

pub(crate) fn spawn(db: &TestDatabase, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Proc {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pakiti"));
    c.args(args)
        .env("PAKITI_LOG", "warn")
        .env("PAKITI_DATABASE_URL", &db.url)
        .env("PAKITI_DATA_DIR", dir)
        .env("PAKITI_SYNC_FEEDS", "false")
        .env("PAKITI_SYNC_REPOS", "false")
        .env_remove("PAKITI_TEST_CRASH_POINT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().expect("run pakiti");
    let stderr = child.stderr.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Proc {
        child,
        lines,
        seen: Vec::new(),
    }
}

impl Proc {
    /// Waits until `n` stderr lines contain `needle`.
    pub(crate) fn wait_for(&mut self, needle: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.seen.iter().filter(|l| l.contains(needle)).count() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(_) => panic!("no {n} × {needle:?} on stderr: {:#?}", self.seen),
            }
        }
    }

    /// SIGTERM (a clean stop), and the process must exit successfully.
    pub(crate) fn stop(mut self) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        assert!(self.child.wait().unwrap().success());
    }

    /// SIGKILL.
    pub(crate) fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// `pakiti serve` on a free port of 127.0.0.1, answering `/healthz`; returns it and its base
/// URL.
pub(crate) async fn serve(db: &TestDatabase, dir: &Path, env: &[(&str, &str)]) -> (Proc, String) {
    let port = pakiti_test_support::spare_port();
    let listen = format!("127.0.0.1:{port}");
    let mut all = vec![("PAKITI_LISTEN", listen.as_str())];
    all.extend_from_slice(env);
    let p = spawn(db, dir, &["serve"], &all);
    let base = format!("http://{listen}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await
            && r.status() == 200
        {
            return (p, base);
        }
        assert!(Instant::now() < deadline, "pakiti serve did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) fn cli(db: &TestDatabase, dir: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_pakiti"))
        .args(args)
        .env("PAKITI_LOG", "warn")
        .env("PAKITI_DATABASE_URL", &db.url)
        .env("PAKITI_DATA_DIR", dir)
        .env_remove("PAKITI_TEST_CRASH_POINT")
        .output()
        .expect("run pakiti");
    assert!(
        out.status.success(),
        "pakiti {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub(crate) async fn post(base: &str, r: &pakiti_api::report::Report) -> (u16, String) {
    let resp = reqwest::Client::new()
        .post(format!("{base}/feed/?protocol=5"))
        .header("content-type", "text/plain")
        .body(pakiti_api::protocol5::render(r))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

pub(crate) async fn host(base: &str, name: &str) -> serde_json::Value {
    let r = reqwest::get(format!("{base}/api/v1/hosts/{name}"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    serde_json::from_str(&r.text().await.unwrap()).unwrap()
}

/// Polls a host until `done` holds of it (a starting server finishes outstanding work in the
/// background).
async fn host_when(
    base: &str,
    name: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let h = host(base, name).await;
        if done(&h) {
            return h;
        }
        assert!(Instant::now() < deadline, "never reached: {h:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(crate) fn findings(h: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = h["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["package"].as_str().unwrap().to_owned(),
                f["installed_version"].as_str().unwrap().to_owned(),
                f["advisory"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A host of the crash test with a kernel older than the running one installed beside it.
const OLD_KERNEL_HOST: &str = "crash-old-kernel.example.org";

/// The report the crash test's host `name` sends: rocky 8's, and for [`OLD_KERNEL_HOST`] an
/// older `kernel-core` too (4.18.0-80, RHEL 8.0's; the host runs 4.18.0-305.3.1).
fn crash_report(name: &str) -> pakiti_api::report::Report {
    let mut r = report("rocky_8", name);
    if name == OLD_KERNEL_HOST {
        r.packages.push(pakiti_api::report::Package::new(
            "kernel-core",
            "4.18.0-80.el8",
            "x86_64",
        ));
    }
    r
}

/// Issue #16 D2: reports saved but not evaluated when the server is killed are evaluated by
/// the next server, which shows them as "evaluation pending" (never clean) until then; the
/// agent's identical re-send is not taken for "unchanged and clean".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_d2_a_server_killed_between_save_and_evaluation() {
    for db in databases().await {
        let dir = tempfile::tempdir().unwrap();
        let oval = fixtures().join("demo").join(RHEL8.1);
        cli(
            &db,
            dir.path(),
            &["feed", "import", oval.to_str().unwrap(), "--name", "rhel-8"],
        );
        let (mut p, base) = serve(
            &db,
            dir.path(),
            &[("PAKITI_TEST_CRASH_POINT", "after-save")],
        )
        .await;
        let names = [
            "crash1.example.org",
            "crash2.example.org",
            "crash3.example.org",
            OLD_KERNEL_HOST,
        ];
        let mut posts = Vec::new();
        for name in names {
            let base = base.clone();
            posts.push(tokio::spawn(async move {
                reqwest::Client::new()
                    .post(format!("{base}/feed/?protocol=5"))
                    .header("content-type", "text/plain")
                    .body(pakiti_api::protocol5::render(&crash_report(name)))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            }));
        }
        p.wait_for("crash point after-save reached", names.len());
        p.kill();
        for t in posts {
            let answer = t.await.unwrap();
            assert!(
                answer.is_err(),
                "answered before its evaluation: {answer:?}"
            );
        }
        // The crash is reproduced: saved, not evaluated.
        let store = pakiti_store::open(&db.url).await.unwrap();
        for name in names {
            let h = store.get_host_by_name(name).await.unwrap().unwrap();
            assert!(h.evaluation_pending, "{}: {name}", db.backend);
            assert_eq!(h.counts.cves, 0);
        }
        assert_eq!(
            store.pending_evaluations().await.unwrap().len(),
            names.len()
        );
        store.close().await;

        let (p, base) = serve(&db, dir.path(), &[]).await;
        let want = expected_findings(&report("rocky_8", "x"), &[RHEL8]);
        assert!(!want.is_empty());
        for name in names {
            let h = host_when(&base, name, |h| h["evaluation_pending"] == false).await;
            if name == OLD_KERNEL_HOST {
                continue;
            }
            assert_eq!(h["covered"], true);
            assert!(
                h["cve_count"].as_i64().unwrap() > 0,
                "{}: {h:#}",
                db.backend
            );
            assert_eq!(findings(&h), want, "{}: {name}", db.backend);
        }
        // A pending report is finished as ingest evaluates it: an installed kernel older
        // than the running one does not count (issue 17: the tick's finish counted it). The
        // same report sent to the running server is the reference; the same again with the
        // running kernel unknown (nothing is old then) shows the old kernel has findings.
        let recovered =
            host_when(&base, OLD_KERNEL_HOST, |h| h["evaluation_pending"] == false).await;
        assert_eq!(
            recovered["old_kernels"][0]["name"], "kernel-core",
            "{recovered:#}"
        );
        let mut control = crash_report(OLD_KERNEL_HOST);
        control.hostname = "control.example.org".into();
        let (status, text) = post(&base, &control).await;
        assert_eq!(status, 200, "{text}");
        let mut unknown = crash_report(OLD_KERNEL_HOST);
        unknown.hostname = "unknown-kernel.example.org".into();
        unknown.kernel = "unknown".into();
        let (status, text) = post(&base, &unknown).await;
        assert_eq!(status, 200, "{text}");
        let control = host(&base, "control.example.org").await;
        let unknown = host(&base, "unknown-kernel.example.org").await;
        assert!(
            unknown["cve_count"].as_i64().unwrap() > control["cve_count"].as_i64().unwrap(),
            "{}: the old kernel has findings of its own",
            db.backend
        );
        assert_eq!(
            recovered["cve_count"], control["cve_count"],
            "{}: finished after a restart as at ingest",
            db.backend
        );
        assert_eq!(recovered["cves_by_severity"], control["cves_by_severity"]);
        // The agent sends the same report again: still evaluated, nothing lost.
        let before = host(&base, names[0]).await;
        let (status, text) = post(&base, &report("rocky_8", names[0])).await;
        assert_eq!(status, 200, "{text}");
        let after = host(&base, names[0]).await;
        assert_eq!(after["cve_count"], before["cve_count"]);
        assert_eq!(after["evaluation_pending"], false);
        p.kill();
        db.finish().await;
    }
}

/// Issue #16 D15: `pakiti feed import` killed after its import committed and before its
/// re-evaluation leaves the work in the store (the stale keys); a server started afterwards
/// finishes it, and every host ends evaluated against the new data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_d15_a_feed_import_killed_before_its_reevaluation() {
    for db in databases().await {
        let dir = tempfile::tempdir().unwrap();
        let mut few = vec![0u8; ADVISORIES];
        few[0] = 1;
        few[2] = 1;
        let small = dir.path().join("alma-small.json");
        let full = dir.path().join("alma-full.json");
        std::fs::write(&small, feed_body(0, &few)).unwrap();
        std::fs::write(&full, feed_body(0, &[1; ADVISORIES])).unwrap();
        cli(
            &db,
            dir.path(),
            &["feed", "import", small.to_str().unwrap(), "--name", "alma"],
        );
        let (p, base) = serve(&db, dir.path(), &[]).await;
        let (status, text) = post(&base, &host_report(0, 4)).await;
        assert_eq!(status, 200, "{text}");
        let old = host(&base, "alma1.example.org").await["cve_count"]
            .as_i64()
            .unwrap();
        p.kill();

        let mut imp = spawn(
            &db,
            dir.path(),
            &["feed", "import", full.to_str().unwrap(), "--name", "alma"],
            &[("PAKITI_TEST_CRASH_POINT", "after-import")],
        );
        imp.wait_for("crash point after-import reached", 1);
        imp.kill();
        // The crash is reproduced: the import committed, the hosts not re-evaluated.
        let store = pakiti_store::open(&db.url).await.unwrap();
        assert!(!store.stale_keys().await.unwrap().keys.is_empty());
        let h = store
            .get_host_by_name("alma1.example.org")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(h.counts.cves, old, "{}", db.backend);
        store.close().await;

        let (p, base) = serve(&db, dir.path(), &[]).await;
        // The same packages, evaluated from scratch against the new data.
        let mut twin = host_report(0, 4);
        twin.hostname = "twin.example.org".into();
        let (status, text) = post(&base, &twin).await;
        assert_eq!(status, 200, "{text}");
        let want = host(&base, "twin.example.org").await;
        assert!(want["cve_count"].as_i64().unwrap() > old);
        let h = host_when(&base, "alma1.example.org", |h| {
            h["cve_count"] == want["cve_count"]
        })
        .await;
        assert_eq!(findings(&h), findings(&want), "{}", db.backend);
        assert_eq!(h["vulnerable_packages"], want["vulnerable_packages"]);
        let store = pakiti_store::open(&db.url).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !store.stale_keys().await.unwrap().keys.is_empty() {
            assert!(Instant::now() < deadline, "stale keys never cleared");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        store.close().await;
        p.kill();
        db.finish().await;
    }
}

/// Read-only SQL on a test database, for the integrity checks below (questions the store's
/// API has no reason to answer).
pub(crate) enum Raw {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl Raw {
    pub(crate) async fn open(url: &str) -> Raw {
        use sqlx::Connection;
        if url.starts_with("sqlite:") {
            Raw::Sqlite(sqlx::SqliteConnection::connect(url).await.unwrap())
        } else {
            Raw::Postgres(sqlx::PgConnection::connect(url).await.unwrap())
        }
    }

    /// The one number `sql` selects.
    pub(crate) async fn count(&mut self, sql: &str) -> i64 {
        match self {
            Raw::Sqlite(c) => sqlx::query_scalar::<_, i64>(sql).fetch_one(c).await,
            Raw::Postgres(c) => sqlx::query_scalar::<_, i64>(sql).fetch_one(c).await,
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    pub(crate) async fn close(self) {
        use sqlx::Connection;
        match self {
            Raw::Sqlite(c) => c.close().await.unwrap(),
            Raw::Postgres(c) => c.close().await.unwrap(),
        }
    }
}

/// What must hold of every store at rest: each count is of rows that break a rule.
const BROKEN: &[(&str, &str)] = &[
    (
        "report without its host",
        "SELECT COUNT(*) FROM reports r WHERE NOT EXISTS \
         (SELECT 1 FROM hosts h WHERE h.id = r.host_id)",
    ),
    (
        "host without a report",
        "SELECT COUNT(*) FROM hosts h WHERE NOT EXISTS \
         (SELECT 1 FROM reports r WHERE r.host_id = h.id)",
    ),
    (
        "host without its installed set",
        "SELECT COUNT(*) FROM hosts h WHERE NOT EXISTS \
         (SELECT 1 FROM host_packages p WHERE p.host_id = h.id)",
    ),
    (
        "installed set without its host",
        "SELECT COUNT(*) FROM host_packages p WHERE NOT EXISTS \
         (SELECT 1 FROM hosts h WHERE h.id = p.host_id)",
    ),
    (
        "pending report that is not the host's",
        "SELECT COUNT(*) FROM hosts h WHERE h.pending_report IS NOT NULL AND NOT EXISTS \
         (SELECT 1 FROM reports r WHERE r.id = h.pending_report AND r.host_id = h.id)",
    ),
    (
        "host whose package count is not its last report's",
        "SELECT COUNT(*) FROM hosts h WHERE h.pkg_count <> (SELECT r.pkg_count FROM reports r \
         WHERE r.host_id = h.id ORDER BY r.id DESC LIMIT 1)",
    ),
    (
        "report package list without its report",
        "SELECT COUNT(*) FROM report_packages p WHERE NOT EXISTS \
         (SELECT 1 FROM reports r WHERE r.id = p.report_id AND r.host_id = p.host_id)",
    ),
    (
        "finding of a package version never evaluated",
        "SELECT COUNT(*) FROM package_findings f WHERE NOT EXISTS (SELECT 1 FROM \
         evaluated_packages e WHERE e.stream = f.stream \
         AND e.package_version_id = f.package_version_id)",
    ),
    (
        "finding of a missing advisory",
        "SELECT COUNT(*) FROM package_findings f WHERE NOT EXISTS \
         (SELECT 1 FROM advisories a WHERE a.id = f.advisory_id)",
    ),
    (
        "advisory without its feed",
        "SELECT COUNT(*) FROM advisories a WHERE NOT EXISTS \
         (SELECT 1 FROM feeds f WHERE f.id = a.feed_id)",
    ),
    (
        "affected entry without its advisory",
        "SELECT COUNT(*) FROM affected x WHERE NOT EXISTS \
         (SELECT 1 FROM advisories a WHERE a.id = x.advisory_id)",
    ),
    (
        "feed whose advisory count is not its advisories'",
        "SELECT COUNT(*) FROM feeds f WHERE f.advisory_count <> \
         (SELECT COUNT(*) FROM advisories a WHERE a.feed_id = f.id)",
    ),
    (
        "open exposure of a missing host",
        "SELECT COUNT(*) FROM exposures x WHERE x.ended_at IS NULL AND NOT EXISTS \
         (SELECT 1 FROM hosts h WHERE h.id = x.host_id)",
    ),
];

/// The store's integrity checks: SQLite's own (`integrity_check`, `foreign_key_check`) and,
/// on both engines, the rules of [`BROKEN`].
pub(crate) async fn check_integrity(url: &str) {
    let mut raw = Raw::open(url).await;
    if let Raw::Sqlite(c) = &mut raw {
        let ok: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&mut *c)
            .await
            .unwrap();
        assert_eq!(ok, ["ok"]);
        let broken = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(&mut *c)
            .await
            .unwrap();
        assert!(broken.is_empty(), "{} foreign keys broken", broken.len());
    }
    for (rule, sql) in BROKEN {
        assert_eq!(raw.count(sql).await, 0, "{rule} ({url})");
    }
    raw.close().await;
}

/// Waits until no host waits for its evaluation and no feed change for its re-evaluation (a
/// starting server finishes what a crash left in the background).
pub(crate) async fn wait_recovered(url: &str) {
    let store = pakiti_store::open(url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !store.pending_evaluations().await.unwrap().is_empty()
        || !store.stale_keys().await.unwrap().keys.is_empty()
    {
        assert!(Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    store.close().await;
}

/// Hosts the agents of one ingest iteration report.
const INGEST_AGENTS: usize = 40;
/// Different package lists the agents send.
const VARIANTS: usize = 8;
/// Kills per scenario.
const KILLS: usize = 5;

/// The real Rocky Linux 8 host list, without a different eighth of it per variant (variant 0
/// keeps it whole).
fn variant_report(variant: usize, name: &str) -> pakiti_api::report::Report {
    let mut r = report("rocky_8", name);
    if variant > 0 {
        r.packages
            .retain(|p| p.name.bytes().map(usize::from).sum::<usize>() % VARIANTS != variant);
    }
    r
}

/// What a host's page says that evaluation decides, to compare with a from-scratch one.
fn evaluated_view(h: &serde_json::Value) -> serde_json::Value {
    let mut v = serde_json::Map::new();
    for k in [
        "packages",
        "covered",
        "evaluation_pending",
        "cve_count",
        "cves_by_severity",
        "tagged_count",
        "vulnerable_packages",
        "reboot_needed",
        "fixable_cves",
        "unfixed_cves",
    ] {
        v.insert(k.into(), h[k].clone());
    }
    v.insert("findings".into(), serde_json::json!(findings(h)));
    serde_json::Value::Object(v)
}

/// Issue #15 "Crash", ingest: agents send reports while the server is SIGKILLed at a random
/// moment, `KILLS` times over one store. After each restart every acknowledged report is
/// there with all its packages, every stored report is evaluated exactly as a fresh server
/// evaluates it, and the store passes its integrity checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_15_sigkill_during_ingest_loses_no_acknowledged_report() {
    use rand::Rng;
    // The from-scratch answers, per variant, from a server that never crashed.
    let fresh = crate::support::TestServer::start(TestDatabase::sqlite(), |_| {}).await;
    fresh.import_feed("rhel-8", RHEL8.0, RHEL8.1).await;
    let mut want = Vec::new();
    for v in 0..VARIANTS {
        let name = format!("fresh{v}.example.org");
        let (status, text) = fresh.post_protocol5(&variant_report(v, &name)).await;
        assert_eq!(status, 200, "{text}");
        want.push(evaluated_view(
            &fresh.get_json(&format!("/api/v1/hosts/{name}")).await.1,
        ));
    }
    fresh.finish().await;
    assert!(want[0]["cve_count"].as_i64().unwrap() > 0);

    for db in databases().await {
        let dir = tempfile::tempdir().unwrap();
        let oval = fixtures().join("demo").join(RHEL8.1);
        cli(
            &db,
            dir.path(),
            &["feed", "import", oval.to_str().unwrap(), "--name", "rhel-8"],
        );
        // Host name → (variant, acknowledged).
        let mut sent: std::collections::BTreeMap<String, (usize, bool)> = Default::default();
        let mut rng = rand::rng();
        for k in 0..KILLS {
            let (p, base) = serve(&db, dir.path(), &[]).await;
            let started = Instant::now();
            let agents: Vec<_> = (0..INGEST_AGENTS)
                .map(|i| {
                    let (base, v) = (base.clone(), (i + k) % VARIANTS);
                    let name = format!("crash{k}-{i}.example.org");
                    let body = pakiti_api::protocol5::render(&variant_report(v, &name));
                    tokio::spawn(async move {
                        // Spread over about two seconds, so a kill lands among them.
                        tokio::time::sleep(Duration::from_millis(50 * i as u64)).await;
                        let acked = reqwest::Client::new()
                            .post(format!("{base}/feed/?protocol=5"))
                            .header("content-type", "text/plain")
                            .body(body)
                            .send()
                            .await
                            .is_ok_and(|r| r.status() == 200);
                        (name, v, acked)
                    })
                })
                .collect();
            let kill_at = Duration::from_millis(rng.random_range(100..2_500));
            tokio::time::sleep(kill_at).await;
            p.kill();
            let killed = started.elapsed();
            let mut acked = 0;
            for a in agents {
                let (name, v, ok) = a.await.unwrap();
                acked += usize::from(ok);
                sent.insert(name, (v, ok));
            }

            let (p, base) = serve(&db, dir.path(), &[]).await;
            wait_recovered(&db.url).await;
            let mut stored_unacked = 0;
            for (name, &(v, ok)) in &sent {
                let r = reqwest::get(format!("{base}/api/v1/hosts/{name}"))
                    .await
                    .unwrap();
                if r.status() == 404 {
                    assert!(!ok, "{}: acknowledged {name} lost", db.backend);
                    continue;
                }
                stored_unacked += usize::from(!ok);
                let h: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
                assert_eq!(
                    evaluated_view(&h),
                    want[v],
                    "{}: {name} after kill {k}",
                    db.backend
                );
            }
            check_integrity(&db.url).await;
            eprintln!(
                "crash ingest ({}): kill {k} at {killed:?}: {acked}/{INGEST_AGENTS} acknowledged \
                 before it, {stored_unacked} stored without an answer (of all so far); every \
                 host evaluated as from scratch",
                db.backend
            );
            p.kill();
        }
        db.finish().await;
    }
}
