//! Repository-based update detection end to end: `pakiti repo` through the real binary (local
//! files, and a 127.0.0.1 HTTP server answering 200 then 304), and the real server answering a
//! protocol-4 `report=1` with Pakiti 2's `name newversion SEC|ORD installed` lines.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pakiti_api::report::Mode;
use pakiti_api::{protocol4, reply};
use pakiti_core::package::InstalledPackage;
use pakiti_core::stream::{Distro, OsStream};
use pakiti_core::updates::{AvailableIndex, HostPackages};
use pakiti_server::jobs::{feeds::NoProgress, repos};
use pakiti_store::{NewRepository, SyncStatus};
use pakiti_test_support::{databases, shared_data};

use crate::support::{TestServer, report};

const BOOKWORM: [&str; 3] = [
    "deb.debian.org_debian_dists_bookworm",
    "deb.debian.org_debian_dists_bookworm-updates",
    "deb.debian.org_debian-security_dists_bookworm-security",
];

fn apt_dir() -> PathBuf {
    shared_data().join("repos/apt")
}

fn packages_file(prefix: &str) -> String {
    apt_dir()
        .join(format!("{prefix}_main_binary-amd64_Packages.xz"))
        .display()
        .to_string()
}

fn pakiti(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pakiti"))
        .args(args)
        .env("PAKITI_LOG", "warn")
        .output()
        .expect("run pakiti")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `repo import` of apt list files, `list`, an unchanged re-import, `remove`.
#[test]
fn repo_import_list_remove() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("p.db").display());
    let sec = packages_file(BOOKWORM[2]);
    let out = pakiti(&[
        "--database",
        &db,
        "repo",
        "import",
        &sec,
        "--stream",
        "debian:12",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let name = "deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64";
    assert!(
        text(&out.stdout).starts_with(&format!("{name}: ok, 3016 packages (3016 security)")),
        "{}",
        text(&out.stdout)
    );
    let out = pakiti(&["--database", &db, "repo", "import", &sec]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{name}: unchanged\n"));
    let out = pakiti(&["--database", &db, "repo", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["name"], name);
    assert_eq!(list[0]["kind"], "apt");
    assert_eq!(list[0]["stream"], "debian:bookworm");
    assert_eq!(list[0]["arch"], "amd64");
    assert_eq!(list[0]["security"], true, "from the Release file's suite");
    assert_eq!(list[0]["package_count"], 3016);
    assert_eq!(list[0]["last_status"], "unchanged");
    // A corrupt index fails its Release checksum: recorded, nothing replaced, exit 1.
    let bad_dir = dir.path().join("lists");
    std::fs::create_dir(&bad_dir).unwrap();
    let prefix = BOOKWORM[0];
    std::fs::copy(
        apt_dir().join(format!("{prefix}_InRelease")),
        bad_dir.join(format!("{prefix}_InRelease")),
    )
    .unwrap();
    let bad = bad_dir.join(format!("{prefix}_main_binary-amd64_Packages"));
    std::fs::write(&bad, "Package: evil\nVersion: 1\nArchitecture: amd64\n\n").unwrap();
    let out = pakiti(&[
        "--database",
        &db,
        "repo",
        "import",
        &bad.display().to_string(),
        "--stream",
        "debian:bookworm",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("FAILED"),
        "{}",
        text(&out.stdout)
    );
    assert!(text(&out.stdout).contains("size"), "{}", text(&out.stdout));
    let out = pakiti(&["--database", &db, "repo", "remove", name]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = pakiti(&["--database", &db, "repo", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["last_status"], "failed");
}

/// Serves `files` (path → body) on 127.0.0.1: an `ETag` per file, 304 to a matching
/// `If-None-Match`, 404 for anything else. Counts 304s.
fn repo_server(files: Vec<(String, Vec<u8>)>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let not_modified = Arc::new(AtomicUsize::new(0));
    let n = not_modified.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            let path = first.split_whitespace().nth(1).unwrap_or("").to_owned();
            let mut inm = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("if-none-match: ") {
                    inm = Some(v.trim().to_owned());
                }
            }
            match files.iter().position(|(p, _)| *p == path) {
                Some(i) if inm.as_deref() == Some(&format!("\"v{i}\"")) => {
                    n.fetch_add(1, Ordering::SeqCst);
                    let _ = write!(
                        stream,
                        "HTTP/1.1 304 Not Modified\r\nETag: \"v{i}\"\r\nConnection: close\r\n\r\n"
                    );
                }
                Some(i) => {
                    let body = &files[i].1;
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nETag: \"v{i}\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(body);
                }
                None => {
                    let _ = stream.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
            }
            let _ = stream.flush();
            let mut rest = Vec::new();
            let _ = stream.take(0).read_to_end(&mut rest);
        }
    });
    (base, not_modified)
}

/// `repo add` + `repo sync` over HTTP: Release checked, Packages.xz verified, then a 304.
#[test]
fn repo_sync_over_http_with_conditional_get() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("p.db").display());
    let prefix = BOOKWORM[2];
    let (base, not_modified) = repo_server(vec![
        (
            "/debian-security/dists/bookworm-security/InRelease".into(),
            std::fs::read(apt_dir().join(format!("{prefix}_InRelease"))).unwrap(),
        ),
        (
            "/debian-security/dists/bookworm-security/main/binary-amd64/Packages.xz".into(),
            std::fs::read(packages_file(prefix)).unwrap(),
        ),
    ]);
    let url = format!("{base}/debian-security/dists/bookworm-security/main");
    let out = pakiti(&[
        "--database",
        &db,
        "repo",
        "add",
        "bookworm-security",
        "--kind",
        "apt",
        "--url",
        &url,
        "--stream",
        "debian:bookworm",
        "--arch",
        "amd64",
        "--interval",
        "6h",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = pakiti(&["--database", &db, "repo", "sync"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).starts_with("bookworm-security: ok, 3016 packages (3016 security)"),
        "{}",
        text(&out.stdout)
    );
    // The Release lists main/source/Sources.xz; this mirror has no sources: a note, not a
    // failure (the Packages index names the source of each of its binaries).
    assert!(
        text(&out.stdout).contains(
            "bookworm-security: note: the Release file lists main/source/Sources but it is not at"
        ),
        "{}",
        text(&out.stdout)
    );
    let out = pakiti(&["--database", &db, "repo", "sync", "bookworm-security"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "bookworm-security: unchanged\n");
    assert_eq!(not_modified.load(Ordering::SeqCst), 1);
    // A repository that is not there: recorded failure, exit 1.
    let out = pakiti(&[
        "--database",
        &db,
        "repo",
        "add",
        "gone",
        "--kind",
        "apt",
        "--url",
        &format!("{base}/debian/dists/nowhere/main"),
        "--stream",
        "debian:bookworm",
        "--arch",
        "amd64",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let out = pakiti(&["--database", &db, "repo", "sync", "gone"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("gone: FAILED: no InRelease or Release"),
        "{}",
        text(&out.stdout)
    );
}

/// The pure model's answer for the same packages (the parser-level path of pakiti-feeds).
fn expected_lines(packages: &[InstalledPackage]) -> Vec<reply::UpgradeLine> {
    let stream = OsStream::new(Distro::Debian, "bookworm");
    let mut index = AvailableIndex::new();
    pakiti_feeds::repo::bench::load_apt_fixtures(
        &shared_data(),
        std::slice::from_ref(&stream),
        &mut index,
    )
    .unwrap();
    let r = index.host_updates(&HostPackages {
        stream: Some(&stream),
        arch: Some("amd64"),
        packages,
        modules: &[],
    });
    r.updates
        .iter()
        .map(|(i, u)| reply::UpgradeLine {
            name: packages[*i].name.clone(),
            new_version: u.version.to_owned(),
            security: u.security,
            installed_version: packages[*i].version.clone(),
        })
        .collect()
}

/// A Debian 12 host reporting with protocol 4 `report=1` gets exactly the upgrades apt would
/// make from the imported bookworm suites, `SEC` where a security suite is involved; the
/// host list and host page show them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol4_report_back_lists_upgrades() {
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        // A host that reported before the repositories existed gets its counts on import.
        let mut early = report("debian_12", "early.example.org");
        early.mode = Mode::StoreOnly;
        let (status, _) = s.post_protocol4(&early).await;
        assert_eq!(status, 200);
        let mut hosts_refreshed = 0;
        for prefix in BOOKWORM {
            let repo = s
                .state
                .store
                .create_repository(&NewRepository {
                    name: prefix.into(),
                    kind: "apt".into(),
                    url: packages_file(prefix),
                    stream: "debian:bookworm".into(),
                    arch: Some("amd64".into()),
                    security: None,
                    priority: None,
                    enabled: true,
                    interval_secs: 86_400,
                })
                .await
                .unwrap();
            let out = repos::sync(&s.state, &repo, false, &NoProgress)
                .await
                .unwrap();
            assert_eq!(out.status, SyncStatus::Ok, "{:?}", out.error);
            hosts_refreshed += out.hosts;
        }
        assert_eq!(hosts_refreshed, 3);

        let mut r = report("debian_12", "deb12.example.org");
        r.mode = Mode::StoreAndReport;
        let body = protocol4::to_urlencoded(&r);
        let (status, answer) = s
            .post(
                "",
                "application/x-www-form-urlencoded",
                &[],
                body.clone().into_bytes(),
            )
            .await;
        assert_eq!(status, 200, "{}: {answer}", s.backend());
        let sent = protocol4::parse_urlencoded(body.as_bytes()).unwrap();
        let packages: Vec<InstalledPackage> = sent
            .packages
            .iter()
            .map(|p| InstalledPackage::new(&p.name, &p.version, &p.arch))
            .collect();
        let expected = expected_lines(&packages);
        assert_eq!(answer, reply::render_v2(&expected), "{}", s.backend());
        let sec = expected.iter().filter(|l| l.security).count();
        assert!(
            sec > 0 && sec < expected.len(),
            "{sec} of {}",
            expected.len()
        );
        // Checked by hand against the indexes: bookworm has libssl3 3.0.20-1~deb12u2,
        // bookworm-updates 3.0.17-1~deb12u2, bookworm-security 3.0.22-1~deb12u2 (the
        // candidate, from a security suite); tzdata's newest, 2026f-0+deb12u1, is in
        // bookworm-security too (bookworm has 2026b, bookworm-updates 2025b).
        let line = |name: &str| {
            answer
                .lines()
                .find(|l| l.starts_with(&format!("{name} ")))
                .unwrap_or_else(|| panic!("no line for {name} in {answer}"))
                .to_owned()
        };
        assert_eq!(
            line("libssl3"),
            "libssl3 3.0.22-1~deb12u2 SEC 3.0.18-1~deb12u2"
        );
        assert_eq!(line("tzdata"), "tzdata 2026f-0+deb12u1 SEC 2024b-0+deb12u1");
        // bash 5.2.15-2+b13 is only in bookworm (a point release): ordinary.
        assert_eq!(line("bash"), "bash 5.2.15-2+b13 ORD 5.2.15-2+b7");
        assert!(answer.ends_with("\nOK"), "{answer}");

        // The host list and page.
        let (_, hosts) = s.get_json("/api/v1/hosts?search=deb12").await;
        assert_eq!(hosts["hosts"][0]["security_updates"], sec as u64);
        assert_eq!(
            hosts["hosts"][0]["other_updates"],
            (expected.len() - sec) as u64
        );
        // "Security updates pending": the filter and the sort, API and page.
        let (_, pending) = s
            .get_json("/api/v1/hosts?security_updates=true&sort=-security_updates")
            .await;
        let pending = pending["hosts"].as_array().unwrap();
        assert!(pending.iter().any(|h| h["hostname"] == "deb12.example.org"));
        assert!(
            pending
                .iter()
                .all(|h| h["security_updates"].as_u64().unwrap() > 0)
        );
        let (_, all) = s.get_json("/api/v1/hosts?limit=1000").await;
        let without = all["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["security_updates"] == 0)
            .count();
        assert_eq!(
            pending.len() + without,
            all["hosts"].as_array().unwrap().len()
        );
        let page = s
            .client
            .get(format!("{}/hosts?security_updates=true", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.text().await.unwrap().contains("deb12.example.org"));
        let (_, early_host) = s.get_json("/api/v1/hosts/early.example.org").await;
        let (_, host) = s.get_json("/api/v1/hosts/deb12.example.org").await;
        assert_eq!(early_host["security_updates"], host["security_updates"]);
        let updates = host["updates"].as_array().unwrap();
        assert_eq!(updates.len(), expected.len());
        for (u, e) in updates.iter().zip(&expected) {
            assert_eq!(u["name"], e.name.as_str());
            assert_eq!(u["installed"], e.installed_version.as_str());
            assert_eq!(u["available"], e.new_version.as_str());
            assert_eq!(u["security"], e.security);
        }
        let page = s
            .client
            .get(format!("{}/hosts", s.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("Updates (sec/other)"), "{page}");
        // The outdated / missing packages data.
        let (status, pkg) = s.get_json("/api/v1/packages/libssl3").await;
        assert_eq!(status, 200);
        assert_eq!(pkg["versions"][0]["stream"], "debian:bookworm");
        assert_eq!(pkg["versions"][0]["version"], "3.0.18-1~deb12u2");
        assert_eq!(pkg["versions"][0]["hosts"], 2);
        assert_eq!(pkg["newest"][0]["stream"], "debian:bookworm");
        assert_eq!(pkg["newest"][0]["covered"], true);
        assert_eq!(pkg["newest"][0]["newest"], "3.0.22-1~deb12u2");
        let outdated: Vec<&str> = pkg["outdated"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["hostname"].as_str().unwrap())
            .collect();
        assert_eq!(outdated, ["deb12.example.org", "early.example.org"]);
        assert_eq!(pkg["outdated"][0]["available"], "3.0.22-1~deb12u2");
        assert_eq!(pkg["outdated"][0]["security"], true);
        assert_eq!(pkg["missing"].as_array().unwrap().len(), 0);
        let (_, pkg) = s.get_json("/api/v1/packages/libssl3?group=nowhere").await;
        assert_eq!(pkg["versions"].as_array().unwrap().len(), 0);
        assert!(
            page.contains(&format!("{sec}/{}", expected.len() - sec)),
            "{page}"
        );
        s.finish().await;
    }
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A local rpm-md repository: the real AlmaLinux 9 BaseOS updateinfo (ALSA-2022:4940 for xz,
/// Important; ALBA-2023:0123 for curl, bugfix) with a primary.xml listing its two packages
/// and the xz source rpm; repomd.xml carries their real checksums.
fn alma_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let repodata = dir.path().join("repodata");
    std::fs::create_dir(&repodata).unwrap();
    let real = shared_data().join("repos/rpm-md/almalinux9-BaseOS-x86_64/repodata");
    let updateinfo_name =
        "106ba7d2cc8d0ba45aebfe29e32dbbc6ac0bb0378413184d62e6198d13fedb76-updateinfo.xml.gz";
    let updateinfo = std::fs::read(real.join(updateinfo_name)).unwrap();
    std::fs::write(repodata.join(updateinfo_name), &updateinfo).unwrap();
    let pkg = |name: &str, arch: &str, rel: &str, ver: &str| {
        format!(
            "<package type=\"rpm\"><name>{name}</name><arch>{arch}</arch>\
             <version epoch=\"0\" ver=\"{ver}\" rel=\"{rel}\"/>\
             <format><rpm:sourcerpm>{name}-{ver}-{rel}.src.rpm</rpm:sourcerpm></format></package>\n"
        )
    };
    let primary = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata xmlns=\"http://linux.duke.edu/metadata/common\" \
         xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"3\">\n{}{}{}</metadata>\n",
        pkg("xz", "x86_64", "8.el9_0", "5.2.5"),
        pkg("xz", "src", "8.el9_0", "5.2.5"),
        pkg("curl", "x86_64", "23.el9", "7.76.1"),
    );
    let primary = gzip(primary.as_bytes());
    std::fs::write(repodata.join("primary.xml.gz"), &primary).unwrap();
    let repomd = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<repomd xmlns=\"http://linux.duke.edu/metadata/repo\">\n\
         <revision>1</revision>\n\
         <data type=\"primary\"><checksum type=\"sha256\">{}</checksum><location href=\"repodata/primary.xml.gz\"/></data>\n\
         <data type=\"updateinfo\"><checksum type=\"sha256\">{}</checksum><location href=\"repodata/{updateinfo_name}\"/></data>\n\
         </repomd>\n",
        sha256_hex(&primary),
        sha256_hex(&updateinfo),
    );
    std::fs::write(repodata.join("repomd.xml"), repomd).unwrap();

    dir
}

/// Creates and syncs the repository of [`alma_repo`] for stream `alma:9`.
async fn import_alma_repo(s: &TestServer, dir: &std::path::Path) {
    let repo = s
        .state
        .store
        .create_repository(&NewRepository {
            name: "alma9-baseos".into(),
            kind: "rpmmd".into(),
            url: dir.display().to_string(),
            stream: "alma:9".into(),
            arch: Some("x86_64".into()),
            security: None,
            priority: None,
            enabled: true,
            interval_secs: 86_400,
        })
        .await
        .unwrap();
    let out = repos::sync(&s.state, &repo, false, &NoProgress)
        .await
        .unwrap();
    assert_eq!(out.status, SyncStatus::Ok, "{:?}", out.error);
    // Two packages (the source rpm left out) and the advisory's security marker.
    assert_eq!((out.packages, out.security), (3, 1));
}

fn alma_report(hostname: &str) -> pakiti_api::report::Report {
    pakiti_api::report::Report {
        hostname: hostname.into(),
        os: "AlmaLinux release 9.1 (Lime Lynx)".into(),
        arch: "x86_64".into(),
        kernel: "5.14.0-162.6.1.el9_1.x86_64".into(),
        packager: pakiti_api::report::Packager::Rpm,
        mode: Mode::StoreAndReport,
        packages: vec![
            pakiti_api::report::Package::new("curl", "7.76.1-19.el9", "x86_64"),
            pakiti_api::report::Package::new("xz", "5.2.5-7.el9", "x86_64"),
            pakiti_api::report::Package::new("bash", "5.1.8-4.el9", "x86_64"),
        ],
        ..Default::default()
    }
}

const ALMA_UPGRADES: &str =
    "curl 7.76.1-23.el9 ORD 7.76.1-19.el9\nxz 5.2.5-8.el9_0 SEC 5.2.5-7.el9\nOK";

/// Asynchronous evaluation: a protocol-4 `report=1` client still gets its upgrade lines at
/// once (computed from the repository index, no evaluation needed), while the report itself
/// waits in the queue; a store-only report gets a bare `OK`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_mode_reports_back_upgrades() {
    let dir = alma_repo();
    for db in databases().await {
        let s = TestServer::start(db, |st| {
            st.evaluation = pakiti_server::settings::Evaluation::Async;
        })
        .await;
        import_alma_repo(&s, dir.path()).await;
        let r = alma_report("queued-alma.example.org");
        let (status, answer) = s.post_protocol4(&r).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer, ALMA_UPGRADES, "{}", s.backend());
        let (st, _) = s.get_json("/api/v1/hosts/queued-alma.example.org").await;
        assert_eq!(st, 404, "queued, not evaluated yet");
        let mut quiet = alma_report("quiet-alma.example.org");
        quiet.mode = Mode::StoreOnly;
        let (status, answer) = s.post_protocol4(&quiet).await;
        assert_eq!((status, answer.trim_end()), (200, "OK"));
        let n = pakiti_server::worker::run_once(&s.state, "test-worker", 10)
            .await
            .unwrap();
        assert_eq!(n, 2);
        let (_, host) = s.get_json("/api/v1/hosts/queued-alma.example.org").await;
        assert_eq!(host["security_updates"], 1, "{}", s.backend());
        assert_eq!(host["other_updates"], 1);
        s.finish().await;
    }
}

/// An rpm-md repository with updateinfo: updateinfo's security advisory makes the xz upgrade
/// `SEC`, the bugfix one leaves curl `ORD`; primary's checksum is checked against repomd.xml.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpmmd_repository_with_updateinfo() {
    let dir = alma_repo();
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        import_alma_repo(&s, dir.path()).await;
        let r = alma_report("alma.example.org");
        let (status, answer) = s.post_protocol4(&r).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer, ALMA_UPGRADES, "{}", s.backend());
        let (_, host) = s.get_json("/api/v1/hosts/alma.example.org").await;
        assert_eq!(host["security_updates"], 1);
        assert_eq!(host["other_updates"], 1);
        // Issue #7: each update carries the updateinfo advisory and its severity as written.
        let updates = host["updates"].as_array().unwrap();
        let by_name = |n: &str| updates.iter().find(|u| u["name"] == n).unwrap().clone();
        assert_eq!(by_name("xz")["advisory"], "ALSA-2022:4940");
        assert_eq!(by_name("xz")["severity"], "Important");
        assert_eq!(by_name("curl")["advisory"], "ALBA-2023:0123");
        assert_eq!(by_name("curl")["severity"], "None");
        let page = s
            .client
            .get(format!("{}/hosts/alma.example.org", s.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("<td>ALSA-2022:4940</td>"), "{page}");
        assert!(
            page.contains("<td class=\"sev-important\">Important</td>"),
            "{page}"
        );
        // The index rebuilt from the stored blob (a restart) keeps them.
        s.state.engine.reload_repositories().await.unwrap();
        let (_, host) = s.get_json("/api/v1/hosts/alma.example.org").await;
        let updates = host["updates"].as_array().unwrap();
        let xz = updates.iter().find(|u| u["name"] == "xz").unwrap();
        assert_eq!(xz["severity"], "Important");
        s.finish().await;
    }
}

/// This machine (when it has apt): its own apt lists imported with `pakiti repo import`, its
/// `dpkg-query` list reported with protocol 4 `report=1`, answered with the same upgrades and
/// candidate versions as `apt list --upgradable`.
#[test]
fn this_machine_matches_apt_list_upgradable() {
    let lists = std::path::Path::new("/var/lib/apt/lists");
    if !std::path::Path::new("/usr/bin/apt").exists() {
        // Not a Debian-family machine: there is no apt to compare with.
        return;
    }
    let run = |cmd: &str, args: &[&str]| {
        let out = Command::new(cmd).args(args).output().unwrap();
        assert!(out.status.success(), "{cmd} {args:?}");
        text(&out.stdout)
    };
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap();
    let field = |k: &str| {
        os_release
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(|v| v.trim_matches('"').to_owned())
    };
    let stream = format!(
        "{}:{}",
        field("ID").unwrap(),
        field("VERSION_CODENAME")
            .or_else(|| field("VERSION_ID"))
            .unwrap()
    );
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("p.db").display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(lists)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains("_binary-") && n.contains("_Packages"))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "run apt-get update first");
    for f in &files {
        let out = pakiti(&[
            "--database",
            &db,
            "repo",
            "import",
            &f.display().to_string(),
            "--stream",
            &stream,
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    // The installed set, as a protocol-4 report, through the real server.
    let installed: Vec<pakiti_api::report::Package> = run(
        "dpkg-query",
        &[
            "-W",
            "-f",
            "${Package}\t${Version}\t${Architecture}\t${db:Status-Abbrev}\n",
        ],
    )
    .lines()
    .filter_map(|l| {
        let f: Vec<&str> = l.split('\t').collect();
        let state = f.get(3)?.as_bytes().get(1).copied()?;
        (state != b'n' && state != b'c').then(|| pakiti_api::report::Package::new(f[0], f[1], f[2]))
    })
    .collect();
    let native = run("dpkg", &["--print-architecture"]).trim().to_owned();
    let r = pakiti_api::report::Report {
        hostname: "this-machine".into(),
        os: field("PRETTY_NAME").unwrap(),
        arch: native,
        kernel: run("uname", &["-r"]).trim().to_owned(),
        packager: pakiti_api::report::Packager::Dpkg,
        mode: Mode::StoreAndReport,
        packages: installed,
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let answer = rt.block_on(async {
        let settings = pakiti_server::settings::Settings {
            database_url: db.clone(),
            data_dir: dir.path().to_owned(),
            sync_feeds: false,
            sync_repos: false,
            ..Default::default()
        };
        let state = pakiti_server::cmd::serve::open_state(settings)
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(pakiti_server::serve(
            listener,
            state.clone(),
            std::future::pending(),
        ));
        let answer = reqwest::Client::new()
            .post(format!("{base}/feed/"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(protocol4::to_urlencoded(&r))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        server.abort();
        answer
    });
    let ours: std::collections::BTreeSet<(String, String)> = answer
        .lines()
        .filter(|l| *l != "OK")
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f.len(), 4, "{l}");
            (f[0].to_owned(), f[1].to_owned())
        })
        .collect();
    assert!(answer.ends_with("OK"), "{answer}");
    let apt: std::collections::BTreeSet<(String, String)> = run("apt", &["list", "--upgradable"])
        .lines()
        .filter(|l| l.contains("[upgradable from"))
        .map(|l| {
            let name = l.split('/').next().unwrap().to_owned();
            let version = l.split_whitespace().nth(1).unwrap().to_owned();
            (name, version)
        })
        .collect();
    assert_eq!(ours, apt);
}

/// Adds the bullseye apt list `prefix` (from shared/data) as an amd64 repository and syncs it.
async fn sync_bullseye_list(state: &pakiti_server::state::AppState, prefix: &str) {
    let repo = state
        .store
        .create_repository(&NewRepository {
            name: prefix.into(),
            kind: "apt".into(),
            url: packages_file(prefix),
            stream: "debian:bullseye".into(),
            arch: Some("amd64".into()),
            security: None,
            priority: None,
            enabled: true,
            interval_secs: 86_400,
        })
        .await
        .unwrap();
    let out = repos::sync(state, &repo, false, &NoProgress).await.unwrap();
    assert_eq!(out.status, SyncStatus::Ok, "{:?}", out.error);
}

/// Protocol 5 sends no source names: a Debian 11 host's libssl1.1 matches the `openssl` DSAs
/// only through the imported bullseye Packages index's binary → source map.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_packages_index_maps_binaries_to_sources() {
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        s.import_feed("dsa", "debian-list", "dsa-bullseye.list")
            .await;
        let send = |hostname: &'static str| {
            let mut r = report("debian_11", hostname);
            r.mode = Mode::StoreOnly;
            pakiti_api::protocol5::render(&r).into_bytes()
        };
        let openssl_findings = |host: &serde_json::Value| -> Vec<String> {
            host["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["package"] == "libssl1.1")
                .map(|f| f["advisory"].as_str().unwrap().to_owned())
                .collect()
        };
        let (status, _) = s
            .post("?protocol=5", "text/plain", &[], send("before.example.org"))
            .await;
        assert_eq!(status, 200);
        let (_, before) = s.get_json("/api/v1/hosts/before.example.org").await;
        assert!(
            openssl_findings(&before).is_empty(),
            "no source name, no match"
        );

        for prefix in [
            "deb.debian.org_debian_dists_bullseye",
            "deb.debian.org_debian-security_dists_bullseye-security",
        ] {
            sync_bullseye_list(&s.state, prefix).await;
        }
        // The host that reported before the import is re-evaluated by it; a new host gets the
        // same answer.
        let (status, _) = s
            .post("?protocol=5", "text/plain", &[], send("after.example.org"))
            .await;
        assert_eq!(status, 200);
        for hostname in ["before.example.org", "after.example.org"] {
            let (_, host) = s.get_json(&format!("/api/v1/hosts/{hostname}")).await;
            let mut found = openssl_findings(&host);
            found.sort();
            found.dedup();
            for dsa in ["DSA-5139-1", "DSA-5169-1", "DSA-5343-1"] {
                assert!(
                    found.iter().any(|f| f == dsa),
                    "{hostname}: {dsa} not in {found:?}"
                );
            }
            assert!(host["cve_count"].as_i64().unwrap() > before["cve_count"].as_i64().unwrap());
        }
        s.finish().await;
    }
}

/// Several servers on one database: a repository synced by one is picked up by the others'
/// housekeeping tick (update index and binary → source maps), not only at their restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repositories_synced_elsewhere_are_picked_up_by_the_tick() {
    for db in databases().await {
        let a = TestServer::start(db, |_| {}).await;
        let b = pakiti_server::cmd::serve::open_state((*a.state.settings).clone())
            .await
            .unwrap();
        let bullseye: pakiti_core::stream::OsStream = "debian:bullseye".parse().unwrap();
        sync_bullseye_list(&a.state, "deb.debian.org_debian_dists_bullseye").await;
        assert_eq!(
            a.state
                .engine
                .evaluator()
                .index()
                .source_of(&bullseye, "libssl1.1"),
            Some("openssl")
        );
        assert!(b.engine.repositories_changed().await.unwrap());
        assert_eq!(
            b.engine
                .evaluator()
                .index()
                .source_of(&bullseye, "libssl1.1"),
            None
        );
        pakiti_server::jobs::tick(&b).await;
        assert!(!b.engine.repositories_changed().await.unwrap());
        assert_eq!(
            b.engine
                .evaluator()
                .index()
                .source_of(&bullseye, "libssl1.1"),
            Some("openssl"),
            "{}",
            a.backend()
        );
        b.store.close().await;
        a.finish().await;
    }
}

/// Old agents (protocol 4) send binary names only, and the DSA list names source packages: a
/// Debian 11 host's `libssl1.1` is flagged "source names unknown" (not silently clean) while
/// no repository of bullseye is imported, and gets the `openssl` DSAs once a local `Sources`
/// index is imported with `pakiti repo import` (checksum-checked against its Release file: a
/// mismatch fails the import loudly and changes nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol4_host_matches_through_imported_sources_index() {
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        s.import_feed("dsa", "debian-list", "dsa-bullseye.list")
            .await;
        let send = |hostname: &'static str| {
            let mut r = report("debian_11", hostname);
            r.mode = Mode::StoreOnly;
            assert!(r.packages.iter().all(|p| p.source.is_none()));
            protocol4::to_urlencoded(&r).into_bytes()
        };
        let form = "application/x-www-form-urlencoded";
        let openssl_findings = |host: &serde_json::Value| -> Vec<String> {
            let mut v: Vec<String> = host["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["package"] == "libssl1.1")
                .map(|f| f["advisory"].as_str().unwrap().to_owned())
                .collect();
            v.sort();
            v.dedup();
            v
        };
        let (status, _) = s.post("", form, &[], send("before.example.org")).await;
        assert_eq!(status, 200);
        let (_, before) = s.get_json("/api/v1/hosts/before.example.org").await;
        assert!(
            openssl_findings(&before).is_empty(),
            "no source name, no match"
        );
        assert_eq!(before["covered"], true);
        assert_eq!(before["source_names_unknown"], true, "{}", s.backend());
        let stream = before["os_stream"].as_str().unwrap().to_owned();
        let (_, list) = s.get_json("/api/v1/hosts").await;
        assert_eq!(list["hosts"][0]["source_names_unknown"], true);
        let page = |path: &'static str| {
            let url = format!("{}{path}", s.base);
            let client = s.client.clone();
            async move { client.get(url).send().await.unwrap().text().await.unwrap() }
        };
        assert!(
            page("/hosts/before.example.org")
                .await
                .contains("source names unknown")
        );
        assert!(page("/hosts").await.contains("source names unknown"));
        let feeds = page("/feeds").await;
        assert!(
            feeds.contains(&format!("{stream}: advisories name source packages")),
            "{feeds}"
        );

        // A Sources list as apt names them, with its suite's Release file next to it.
        let dir = tempfile::tempdir().unwrap();
        let sources = std::fs::read(
            pakiti_test_support::fixtures().join("demo/demo-bullseye_main_source_Sources.xz"),
        )
        .unwrap();
        let path = dir
            .path()
            .join("mirror_debian_dists_bullseye_main_source_Sources.xz");
        std::fs::write(&path, &sources).unwrap();
        let release = |sha: &str| {
            format!(
                "Origin: Debian\nSuite: oldoldstable\nCodename: bullseye\nComponents: main\n\
                 SHA256:\n {sha} {} main/source/Sources.xz\n",
                sources.len()
            )
        };
        let release_path = dir.path().join("mirror_debian_dists_bullseye_Release");
        std::fs::write(&release_path, release(&"0".repeat(64))).unwrap();
        let args = pakiti_server::cmd::repo::ImportArgs {
            path: path.clone(),
            name: None,
            kind: None,
            stream: Some("debian:bullseye".into()),
            arch: None,
            security: None,
            force: false,
        };
        let mut out = Vec::new();
        let ok = pakiti_server::cmd::repo::import(&s.state, args.clone(), &mut out)
            .await
            .unwrap();
        let printed = text(&out);
        assert!(!ok, "{printed}");
        assert!(
            printed.contains("FAILED") && printed.contains("main/source/Sources"),
            "{printed}"
        );
        let (_, still) = s.get_json("/api/v1/hosts/before.example.org").await;
        assert!(openssl_findings(&still).is_empty());
        assert_eq!(still["source_names_unknown"], true);

        std::fs::write(&release_path, release(&sha256_hex(&sources))).unwrap();
        let mut out = Vec::new();
        let ok = pakiti_server::cmd::repo::import(&s.state, args, &mut out)
            .await
            .unwrap();
        let printed = text(&out);
        assert!(ok, "{printed}");
        assert!(
            printed.starts_with("mirror_debian_dists_bullseye_main_source: ok, 0 packages"),
            "{printed}"
        );
        assert!(!printed.contains("not checksum-verified"), "{printed}");
        let repo =
            pakiti_server::cmd::repo::find(&s.state, "mirror_debian_dists_bullseye_main_source")
                .await
                .unwrap();
        assert_eq!(repo.arch, None);

        // The host that reported before is re-evaluated by the import; a new one matches too.
        let (status, _) = s.post("", form, &[], send("after.example.org")).await;
        assert_eq!(status, 200);
        for hostname in ["before.example.org", "after.example.org"] {
            let (_, host) = s.get_json(&format!("/api/v1/hosts/{hostname}")).await;
            let found = openssl_findings(&host);
            for dsa in ["DSA-5139-1", "DSA-5169-1", "DSA-5343-1"] {
                assert!(
                    found.iter().any(|f| f == dsa),
                    "{hostname}: {dsa} not in {found:?}"
                );
            }
            assert_eq!(host["source_names_unknown"], false);
            assert!(host["cve_count"].as_i64().unwrap() > before["cve_count"].as_i64().unwrap());
        }
        // Other releases of the DSA list (buster) still lack a map; bullseye no longer does.
        let feeds = page("/feeds").await;
        assert!(
            !feeds.contains(&format!("{stream}: advisories name source packages")),
            "{feeds}"
        );
        // The name pairs are not packages: no updates appear from a Sources-only repository.
        let (_, host) = s.get_json("/api/v1/hosts/after.example.org").await;
        assert!(host["updates"].as_array().unwrap().is_empty());
        s.finish().await;
    }
}

/// `repo add` without `--arch` over HTTP: the suite's `Sources.xz` only, checked against the
/// InRelease the server serves; a Sources index that does not match is a loud failure, and
/// one the Release does not list leaves nothing to import.
#[test]
fn sources_only_repository_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("p.db").display());
    let sources = std::fs::read(
        pakiti_test_support::fixtures().join("demo/demo-bullseye_main_source_Sources.xz"),
    )
    .unwrap();
    let release = |sha: &str, path: &str| {
        format!(
            "Origin: Debian\nSuite: oldoldstable\nCodename: bullseye\nComponents: main\n\
             SHA256:\n {sha} {} {path}\n",
            sources.len()
        )
        .into_bytes()
    };
    let good = sha256_hex(&sources);
    let (base, _) = repo_server(vec![
        (
            "/good/dists/bullseye/InRelease".into(),
            release(&good, "main/source/Sources.xz"),
        ),
        (
            "/good/dists/bullseye/main/source/Sources.xz".into(),
            sources.clone(),
        ),
        (
            "/bad/dists/bullseye/InRelease".into(),
            release(&"1".repeat(64), "main/source/Sources.xz"),
        ),
        (
            "/bad/dists/bullseye/main/source/Sources.xz".into(),
            sources.clone(),
        ),
        (
            "/unlisted/dists/bullseye/InRelease".into(),
            release(&good, "main/binary-amd64/Packages.xz"),
        ),
    ]);
    for mirror in ["good", "bad", "unlisted"] {
        let out = pakiti(&[
            "--database",
            &db,
            "repo",
            "add",
            mirror,
            "--kind",
            "apt",
            "--url",
            &format!("{base}/{mirror}/dists/bullseye/main"),
            "--stream",
            "debian:bullseye",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let out = pakiti(&["--database", &db, "repo", "sync", "good"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).starts_with("good: ok, 0 packages (0 security), 1446 source names"),
        "{}",
        text(&out.stdout)
    );
    let out = pakiti(&["--database", &db, "repo", "sync", "bad"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains(
            "bad: FAILED: checking against the Release file: main/source/Sources.xz: sha256"
        ),
        "{}",
        text(&out.stdout)
    );
    let out = pakiti(&["--database", &db, "repo", "sync", "unlisted"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("unlisted: FAILED: nothing to import"),
        "{}",
        text(&out.stdout)
    );
}
