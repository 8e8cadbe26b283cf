//! The `pakiti` command as a user runs it: `scan` and `feed`, through the real binary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pakiti_test_support::{fixtures, shared_data};

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

fn p(path: std::path::PathBuf) -> String {
    path.display().to_string()
}

/// `rpm -qa` output against Red Hat OVAL: JSON lines, one object per finding.
#[test]
fn scan_rpm_qa_against_oval_as_json() {
    let out = pakiti(&[
        "scan",
        &p(shared_data().join("hosts/lists/rhel_80.rpm-qa.txt")),
        "--feed",
        &p(fixtures().join("demo/rhel-8.oval.xml.bz2")),
        "--stream",
        "rhel:8",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect();
    assert!(lines.len() > 100, "{}", lines.len());
    for l in &lines {
        for key in [
            "advisory",
            "cves",
            "package",
            "installed_version",
            "status",
            "severity",
        ] {
            assert!(l.get(key).is_some(), "{key} missing in {l}");
        }
        assert!(
            l["status"] != "fixed" || l["fixed_version"].is_string(),
            "{l}"
        );
    }
    // glibc 2.28-18.el8 is older than RHSA-2019:3513's 0:2.28-72.el8 (checked by hand in the XML).
    // `rpm -qa` prints no epoch: the version is shown as listed and the finding says the
    // advisory's epoch was assumed (issue 12 item 8; it used to show an invented `0:`).
    assert!(lines.iter().any(|l| l["package"] == "glibc"
        && l["advisory"] == "RHSA-2019:3513"
        && l["fixed_version"] == "0:2.28-72.el8"
        && l["installed_version"] == "2.28-18.el8"
        && l["epoch_assumed"] == true));
    assert!(
        text(&out.stderr).contains("rhel:8: "),
        "{}",
        text(&out.stderr)
    );
}

/// A Debian `dpkg-query -W` list against the DSA list: binaries match source advisories
/// through the Packages index (libssl1.1 ← openssl).
#[test]
fn scan_dpkg_with_a_packages_index() {
    let list = shared_data().join("hosts/lists/debian_11.dpkg-query.txt");
    let feed = fixtures().join("demo/dsa-bullseye.list");
    let index = shared_data()
        .join("repos/apt/deb.debian.org_debian_dists_bullseye_main_binary-amd64_Packages.xz");
    let base = [
        "scan",
        &p(list),
        "--feed",
        &p(feed),
        "--os",
        "Debian GNU/Linux 11",
        "--format",
        "csv",
    ];
    let without = pakiti(&base);
    assert_eq!(without.status.code(), Some(0), "{}", text(&without.stderr));
    let mut args = base.to_vec();
    let index = p(index);
    args.extend(["--packages-index", &index]);
    let with = pakiti(&args);
    assert_eq!(with.status.code(), Some(0), "{}", text(&with.stderr));
    let csv = text(&with.stdout);
    assert!(csv.starts_with(
        "package,arch,installed_version,advisory,severity,status,fixed_version,cves,epoch_assumed\n"
    ));
    let ssl: Vec<&str> = csv
        .lines()
        .filter(|l| l.starts_with("libssl1.1,"))
        .collect();
    assert!(ssl.iter().any(|l| l.contains(",DSA-5103-1,")), "{csv}");
    assert!(
        !text(&without.stdout)
            .lines()
            .any(|l| l.starts_with("libssl1.1,"))
    );
    assert!(csv.lines().count() > text(&without.stdout).lines().count());
    // Without an index the binary-only list is not silently clean: a warning says why.
    assert!(
        text(&without.stderr).contains("warning: source names unknown"),
        "{}",
        text(&without.stderr)
    );
    assert!(!text(&with.stderr).contains("source names unknown"));
    // A Sources index (the demo's bullseye excerpt) maps the same binaries.
    let mut args = base.to_vec();
    let sources = p(fixtures().join("demo/demo-bullseye_main_source_Sources.xz"));
    args.extend(["--packages-index", &sources]);
    let with_sources = pakiti(&args);
    assert_eq!(
        with_sources.status.code(),
        Some(0),
        "{}",
        text(&with_sources.stderr)
    );
    assert!(
        text(&with_sources.stdout)
            .lines()
            .any(|l| l.starts_with("libssl1.1,") && l.contains(",DSA-5103-1,")),
        "{}",
        text(&with_sources.stdout)
    );
    assert!(!text(&with_sources.stderr).contains("source names unknown"));
}

/// Findings of `scan` as (package, advisory) pairs, and its standard error.
fn scan_pairs(
    input: &std::path::Path,
    feed: &str,
    stream: &str,
) -> (Vec<(String, String)>, String) {
    let out = pakiti(&[
        "scan",
        &p(input.to_path_buf()),
        "--feed",
        feed,
        "--stream",
        stream,
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut pairs: Vec<(String, String)> = text(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["package"].as_str().unwrap().to_owned(),
                v["advisory"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    pairs.sort();
    (pairs, text(&out.stderr))
}

/// Issue 12 item 8: an `rpm -qa` list has no epochs; `scan` compares each version with the
/// advisory's epoch, says so once, and finds what the same host listed with its epochs
/// (`--queryformat "'%{NAME}' '%{EPOCH}:%{VERSION}' '%{RELEASE}' '%{ARCH}'"`) gets. Taking 0
/// flagged every package with an epoch (bind, openssl, perl…) for every advisory naming it.
#[test]
fn issue_12_scan_rpm_qa_assumes_the_advisorys_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let tsv = std::fs::read_to_string(shared_data().join("hosts/lists/rhel_73.tsv")).unwrap();
    let mut quoted = String::new();
    for l in tsv.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let c: Vec<&str> = l.split('\t').collect();
        let e = if c[1].is_empty() { "(none)" } else { c[1] };
        quoted.push_str(&format!(
            "'{}' '{e}:{}' '{}' '{}'\n",
            c[0], c[2], c[3], c[4]
        ));
    }
    let with_epochs = dir.path().join("rhel_73.quoted.txt");
    std::fs::write(&with_epochs, quoted).unwrap();
    let feed = p(shared_data().join("oval/redhat/rhel-7-including-unpatched.oval.xml.bz2"));
    let (want, err_epochs) = scan_pairs(&with_epochs, &feed, "rhel:7");
    let (got, err_qa) = scan_pairs(
        &shared_data().join("hosts/lists/rhel_73.rpm-qa.txt"),
        &feed,
        "rhel:7",
    );
    assert_eq!(got, want);
    assert_eq!(err_qa.matches("epoch assumed").count(), 1, "{err_qa}");
    assert!(!err_epochs.contains("epoch assumed"), "{err_epochs}");
}

/// Issue 12 item 10: `scan` validates versions as `vercmp` does (it did not check at all), and
/// reads dpkg epochs written with a sign as dpkg does.
#[test]
fn issue_12_scan_validates_versions() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, "bash\t5.1-2+deb11u1\nlibfoo\tnot-a-version\n").unwrap();
    let out = pakiti(&[
        "scan",
        &p(bad.clone()),
        "--feed",
        &p(fixtures().join("demo/dsa-bullseye.list")),
        "--os",
        "Debian GNU/Linux 11",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("not valid dpkg versions"), "{err}");
    assert!(err.contains("libfoo"), "{err}");
    // `+1:` is epoch 1 to dpkg (strtol); accepted and compared as such.
    let vercmp = pakiti(&["vercmp", "dpkg", "+1:1.0", "1:1.0"]);
    assert_eq!(text(&vercmp.stdout), "0\n", "{}", text(&vercmp.stderr));
    let signed = dir.path().join("signed.txt");
    std::fs::write(&signed, "bash\t+0:5.1-2+deb11u1\n").unwrap();
    let out = pakiti(&[
        "scan",
        &p(signed),
        "--feed",
        &p(fixtures().join("demo/dsa-bullseye.list")),
        "--os",
        "Debian GNU/Linux 11",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // rpm epochs above 2^32 are compared, not refused.
    let vercmp = pakiti(&["vercmp", "rpm", "4294967297:1.0", "4294967296:2.0"]);
    assert_eq!(text(&vercmp.stdout), "1\n", "{}", text(&vercmp.stderr));
}

/// A host whose OS has no data in the feeds is "not covered" (exit 3), never clean.
#[test]
fn scan_not_covered_is_not_clean() {
    let out = pakiti(&[
        "scan",
        &p(shared_data().join("hosts/lists/alpine_319.apk-list.txt")),
        "--feed",
        &p(fixtures().join("demo/rhel-8.oval.xml.bz2")),
        "--stream",
        "alpine:3.19",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("not covered"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    // No stream at all: a clear error, not a guess.
    let out = pakiti(&[
        "scan",
        &p(shared_data().join("hosts/lists/alpine_319.apk-list.txt")),
        "--feed",
        &p(fixtures().join("demo/rhel-8.oval.xml.bz2")),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--stream"),
        "{}",
        text(&out.stderr)
    );
}

/// `feed import`, `list`, a count drop that is refused, and `remove`.
#[test]
fn feed_import_list_drop_remove() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("p.db").display());
    let dsa = p(fixtures().join("demo/dsa-bullseye.list"));
    let out = pakiti(&["--database", &db, "feed", "import", &dsa, "--name", "dsa"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("dsa: imported 410 advisories"),
        "{}",
        text(&out.stdout)
    );
    let out = pakiti(&["--database", &db, "feed", "list", "--json"]);
    let feeds: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(feeds[0]["name"], "dsa");
    assert_eq!(feeds[0]["kind"], "auto");
    assert_eq!(feeds[0]["advisories"], 410);
    assert_eq!(feeds[0]["last_sync"]["status"], "ok");
    // A source that suddenly yields far less is not applied.
    let small: String = std::fs::read_to_string(fixtures().join("demo/dsa-bullseye.list"))
        .unwrap()
        .lines()
        .take(40)
        .map(|l| format!("{l}\n"))
        .collect();
    let small_path = dir.path().join("small.list");
    std::fs::write(&small_path, small).unwrap();
    let out = pakiti(&[
        "--database",
        &db,
        "feed",
        "import",
        &p(small_path),
        "--name",
        "dsa",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("dropped from 410"),
        "{}",
        text(&out.stdout)
    );
    let out = pakiti(&["--database", &db, "feed", "list", "--json"]);
    let feeds: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(feeds[0]["advisories"], 410, "the old advisories stay");
    assert_eq!(feeds[0]["last_sync"]["status"], "failed");
    let out = pakiti(&["--database", &db, "feed", "remove", "dsa"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = pakiti(&["--database", &db, "feed", "list", "--json"]);
    assert_eq!(text(&out.stdout).trim(), "[]");
}

/// A tiny HTTP server on 127.0.0.1 that serves one file with an `ETag` and answers 304 to a
/// matching `If-None-Match`; counts requests and 304s. Stops after `max` requests.
fn etag_server(body: Vec<u8>, max: usize) -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/feed.xml.bz2", listener.local_addr().unwrap());
    let (requests, not_modified) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (r, n) = (requests.clone(), not_modified.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(max) {
            let Ok(mut stream) = stream else { break };
            r.fetch_add(1, Ordering::SeqCst);
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut inm = false;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if line
                    .to_ascii_lowercase()
                    .starts_with("if-none-match: \"v1\"")
                {
                    inm = true;
                }
            }
            if inm {
                n.fetch_add(1, Ordering::SeqCst);
                let _ = stream.write_all(
                    b"HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nConnection: close\r\n\r\n",
                );
            } else {
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(&body);
            }
            let _ = stream.flush();
            let mut rest = Vec::new();
            let _ = stream.take(0).read_to_end(&mut rest);
        }
    });
    (url, requests, not_modified)
}

/// `feed add` + `feed sync` over HTTP: a conditional GET makes an unchanged feed cost nothing.
#[test]
fn feed_sync_over_http_with_conditional_get() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("p.db").display());
    let body = std::fs::read(fixtures().join("demo/focal.oval.xml.bz2")).unwrap();
    let (url, requests, not_modified) = etag_server(body, 4);
    let out = pakiti(&[
        "--database",
        &db,
        "feed",
        "add",
        "focal",
        "--kind",
        "ubuntu-oval",
        "--url",
        &url,
        "--interval",
        "6h",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = pakiti(&["--database", &db, "feed", "sync"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("focal: imported 175 advisories"),
        "{}",
        text(&out.stdout)
    );
    let out = pakiti(&["--database", &db, "feed", "sync", "focal"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("focal: unchanged"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(requests.load(Ordering::SeqCst), 2);
    assert_eq!(not_modified.load(Ordering::SeqCst), 1);
    // A source that cannot be reached is a recorded failure, and exit 1.
    let out = pakiti(&[
        "--database",
        &db,
        "feed",
        "add",
        "gone",
        "--kind",
        "osv",
        "--url",
        "http://127.0.0.1:9/nothing.json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let out = pakiti(&["--database", &db, "feed", "sync", "gone"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("gone: FAILED"),
        "{}",
        text(&out.stdout)
    );
}

/// `pakiti user …` bootstraps the first admin and manages grants and tokens, through the real
/// binary against an SQLite file.
#[test]
fn user_commands_bootstrap_an_admin() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("p.db").display());
    let run = |args: &[&str], stdin: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pakiti"))
            .args(["--database", &db])
            .args(args)
            .env("PAKITI_LOG", "warn")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        c.wait_with_output().unwrap()
    };
    let out = run(
        &["user", "add", "root", "--admin", "--password-stdin"],
        "s3cret\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "added root (admin)\n");
    let out = run(&["user", "add", "root"], "");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("exists"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["user", "add", "CN=Alice,O=Example"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(
        &[
            "user",
            "grant",
            "CN=Alice,O=Example",
            "--group",
            "prague",
            "--host",
            "WN01.example.org",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&["user", "list"], "");
    assert_eq!(
        text(&out.stdout),
        "CN=Alice,O=Example\tgroup:prague host:wn01.example.org\nroot\tadmin: everything\n"
    );
    let out = run(
        &["user", "revoke", "CN=Alice,O=Example", "--group", "prague"],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(
        &["user", "revoke", "CN=Alice,O=Example", "--group", "prague"],
        "",
    );
    assert!(!out.status.success(), "no such grant any more");
    let out = run(&["user", "token", "root", "--name", "ci"], "");
    let token = text(&out.stdout);
    assert!(
        token.starts_with("pakiti_") && token.trim().len() == 71,
        "{token}"
    );
    let out = run(&["user", "remove", "CN=Alice,O=Example"], "");
    assert!(out.status.success());
    let out = run(&["user", "list"], "");
    assert_eq!(text(&out.stdout), "root\tadmin: everything\n");
    // With built-in accounts, the last admin cannot be removed.
    let out = Command::new(env!("CARGO_BIN_EXE_pakiti"))
        .args(["--database", &db, "user", "remove", "root"])
        .env("PAKITI_LOG", "warn")
        .env("PAKITI_AUTH__MODE", "accounts")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("root not removed: root is the last enabled administrator"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["user", "list"], "");
    assert_eq!(text(&out.stdout), "root\tadmin: everything\n");
}
