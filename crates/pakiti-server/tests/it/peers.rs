//! The real Pakiti clients that sites run today, unmodified from `../shared/peers/`, against
//! our server over HTTPS with a test CA made in the test (issue #11). Each test checks what
//! the client printed (the server's reply as the client shows it) and that the host was
//! stored with exactly the packages of the machine: `dpkg-query` here, or an rpm database
//! built with rpmbuild and read through an `rpm` wrapper that adds `--dbpath`. Names and
//! versions must be byte-equal, `+` intact.
//!
//! The Pakiti 2 client reads its options only from `/etc/pakiti2/pakiti2-client.conf`. To
//! give it a test configuration without touching the machine's `/etc`, it runs in a private
//! mount namespace (`unshare -m`, root) where `/etc` is an overlay of the real one and a
//! tmpfs holding only `pakiti2/pakiti2-client.conf`: the client and everything it calls
//! (hostname, openssl, curl, dpkg-query) see the real machine plus that one file.
//!
//! What the clients need: bash, openssl, curl, hostname, dpkg-query, util-linux `unshare`,
//! Perl with libwww-perl and liblwp-protocol-https-perl, rpmbuild and rpm (`.ci/run`
//! installs them). A missing tool fails the test with its name.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use pakiti_server::settings::{ClientAuth, OsRule};
use pakiti_test_support::databases;

use crate::pki::{PROXY_DN, Pki};
use crate::support::TestServer;

/// The longest a client may run.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);

fn peers() -> PathBuf {
    pakiti_test_support::shared_data().join("../peers")
}

fn pakiti2_client() -> PathBuf {
    peers().join("pakiti2-client/pakiti2-client")
}

fn egi_client() -> PathBuf {
    peers().join("pakiti2-client/pakiti-client-3.0.0-egi")
}

fn pakiti3_client() -> PathBuf {
    peers().join("pakiti3-client/pakiti-client")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `cmd` with `stdin`, killing it after [`CLIENT_TIMEOUT`].
fn run(mut cmd: Command, stdin: &[u8]) -> Output {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} ran longer than {CLIENT_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = writer.join();
    child.wait_with_output().unwrap()
}

/// The host name the clients report (`hostname -f`, as the Pakiti 2 clients ask).
fn hostname() -> String {
    let out = Command::new("hostname")
        .arg("-f")
        .output()
        .expect("hostname is installed");
    text(&out.stdout).trim().to_owned()
}

/// What `dpkg-query` lists as installed: (name, version), sorted.
fn dpkg_installed() -> Vec<(String, String)> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Status}\t${Package}\t${Version}\n"])
        .output()
        .expect("dpkg-query is installed (a Debian-family machine)");
    let mut v: Vec<(String, String)> = text(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            let (status, name, version) = (f.next()?, f.next()?, f.next()?);
            (status == "install ok installed").then(|| (name.to_owned(), version.to_owned()))
        })
        .collect();
    v.sort();
    assert!(v.len() > 50, "dpkg-query lists this machine's packages");
    v
}

/// The packages the server stored for `host`: (name, version), sorted.
async fn stored(s: &TestServer, host: &str) -> Vec<(String, String)> {
    let (status, h) = s.get_json(&format!("/api/v1/hosts/{host}")).await;
    assert_eq!(
        status,
        200,
        "{host} is stored ({}): {}",
        s.backend(),
        h["error"]
    );
    let mut v: Vec<(String, String)> = h["installed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["version"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Asserts two package lists are equal, naming the first differences.
#[track_caller]
fn assert_same(got: &[(String, String)], want: &[(String, String)], what: &str) {
    if got != want {
        let missing: Vec<_> = want.iter().filter(|p| !got.contains(p)).take(5).collect();
        let extra: Vec<_> = got.iter().filter(|p| !want.contains(p)).take(5).collect();
        panic!(
            "{what}: stored {} packages, the machine has {}; missing {missing:?}; unexpected {extra:?}",
            got.len(),
            want.len()
        );
    }
}

/// `localhost:PORT` of the server's HTTPS listener, as Pakiti 2's `servers_name` wants it.
fn server_name(s: &TestServer) -> String {
    s.https
        .as_deref()
        .unwrap()
        .trim_start_matches("https://")
        .to_owned()
}

/// Runs the real `pakiti2-client` with `conf` as its `/etc/pakiti2/pakiti2-client.conf`
/// (see the module comment), `stdin`, and `path` put first on `PATH`.
fn run_pakiti2(conf: &str, stdin: &[u8], path: Option<&Path>) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let conf_file = dir.path().join("pakiti2-client.conf");
    std::fs::write(&conf_file, conf).unwrap();
    let script = r#"set -e
mkdir -p "$1/ovl"
mount -t tmpfs pakiti-test "$1/ovl"
mkdir -p "$1/ovl/upper/pakiti2" "$1/ovl/work"
cp "$2" "$1/ovl/upper/pakiti2/pakiti2-client.conf"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/ovl/upper,workdir=$1/ovl/work" /etc
shift 2
exec "$@""#;
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c", script, "sh"])
        .arg(dir.path())
        .arg(&conf_file)
        .arg(pakiti2_client());
    if let Some(p) = path {
        let old = std::env::var("PATH").unwrap_or_default();
        cmd.env("PATH", format!("{}:{old}", p.display()));
    }
    let out = run(cmd, stdin);
    let err = text(&out.stderr);
    assert!(
        !err.contains("unshare failed") && !err.contains("mount:"),
        "the Pakiti 2 client reads only /etc/pakiti2/pakiti2-client.conf; giving it a test one \
         needs a private mount namespace (unshare -m and overlayfs, as root): {err}"
    );
    out
}

/// A `pakiti2-client.conf` for the server at `server`. The client keeps the blanks around
/// `=` in `ca_certificate` and `host_cert` (it strips them only from some keys), so those two
/// are written without.
fn pakiti2_conf(
    server: &str,
    pki: &Pki,
    method: &str,
    report: u8,
    proxy: bool,
    host_cert: Option<&str>,
) -> String {
    let mut c = format!(
        "servers_name = {server}\nserver_url = /feed/\nca_certificate={}\nconnection_method = {method}\ntag = TEST\nreport = {report}\nis_proxy = {}\n",
        pki.path("certs").display(),
        u8::from(proxy)
    );
    if let Some(name) = host_cert {
        c.push_str(&format!(
            "host_cert={}\n",
            pki.path(&format!("{name}.combined.pem")).display()
        ));
    }
    c
}

/// What a Pakiti 2 client printed, for messages.
fn shown(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// The reply lines a client printed, without the openssl method's s_client chatter.
fn reply_lines(out: &Output) -> Vec<String> {
    text(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("read R BLOCK"))
        .map(str::to_owned)
        .collect()
}

/// Imports the bookworm apt indexes of `../shared/data/repos/apt` as repositories, so that
/// protocol-4 `report = 1` answers carry Pakiti 2's upgrade lines.
async fn import_bookworm(s: &TestServer) {
    use pakiti_server::jobs::{feeds::NoProgress, repos};
    use pakiti_store::{NewRepository, SyncStatus};
    for prefix in [
        "deb.debian.org_debian_dists_bookworm",
        "deb.debian.org_debian_dists_bookworm-updates",
        "deb.debian.org_debian-security_dists_bookworm-security",
    ] {
        let url = pakiti_test_support::shared_data()
            .join(format!("repos/apt/{prefix}_main_binary-amd64_Packages.xz"))
            .display()
            .to_string();
        let repo = s
            .state
            .store
            .create_repository(&NewRepository {
                name: prefix.into(),
                kind: "apt".into(),
                url,
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
    }
}

/// Pakiti 2's upgrade lines for `host` as the server lists its updates:
/// `name newversion SEC|ORD installedversion`, sorted.
async fn upgrade_lines(s: &TestServer, host: &str) -> Vec<String> {
    let (_, h) = s.get_json(&format!("/api/v1/hosts/{host}")).await;
    let mut v: Vec<String> = h["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            format!(
                "{} {} {} {}",
                u["name"].as_str().unwrap(),
                u["available"].as_str().unwrap(),
                if u["security"].as_bool().unwrap() {
                    "SEC"
                } else {
                    "ORD"
                },
                u["installed"].as_str().unwrap()
            )
        })
        .collect();
    v.sort();
    v
}

/// `pakiti2-client` (Pakiti 2.1.6, protocol 4) with both connection methods and `report`
/// 0 and 1, on this Debian machine with the bookworm repositories imported: the host is
/// stored with exactly dpkg-query's packages (the `openssl` method's short Content-Length and
/// the `curl` method's `%2b` absorbed); with `report = 1` the client prints Pakiti 2's upgrade
/// lines, exactly the updates the server shows for the host, then `OK`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pakiti2_client_both_methods_report_0_and_1() {
    let pki = Pki::new();
    let want = dpkg_installed();
    assert!(
        want.iter().any(|(n, v)| n.contains('+') || v.contains('+')),
        "this machine has packages with + in name or version, the curl method's quirk"
    );
    let host = hostname();
    for db in databases().await {
        let s = TestServer::start(db, |st| st.tls = pki.tls_settings(None)).await;
        import_bookworm(&s).await;
        for method in ["openssl", "curl"] {
            for report in [0, 1] {
                let conf = pakiti2_conf(&server_name(&s), &pki, method, report, false, None);
                let out = tokio::task::spawn_blocking(move || run_pakiti2(&conf, b"", None))
                    .await
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{method} report={report}: {}",
                    shown(&out)
                );
                assert_same(
                    &stored(&s, &host).await,
                    &want,
                    &format!("pakiti2-client {method} report={report} ({})", s.backend()),
                );
                let mut lines = reply_lines(&out);
                if report == 1 {
                    assert_eq!(
                        lines.pop().as_deref(),
                        Some("OK"),
                        "{method}: the answer ends with OK: {}",
                        shown(&out)
                    );
                    lines.sort();
                    assert_eq!(
                        lines,
                        upgrade_lines(&s, &host).await,
                        "{method}: the upgrade lines as the client prints them"
                    );
                } else {
                    assert_eq!(lines, Vec::<String>::new(), "{}", shown(&out));
                }
            }
        }
        let (_, h) = s.get_json(&format!("/api/v1/hosts/{host}")).await;
        assert_eq!(h["os_stream"], "debian:bookworm", "{}", h["os"]);
        s.finish().await;
    }
}

/// "Pakiti Client 3.0.0" (EGI's bash client, protocol 4, command-line options) with both
/// methods, with and without `-r`: stored exactly, and the client's own check of the answer
/// (it wants exactly `OK`) reports success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn egi_client_both_methods() {
    let pki = Pki::new();
    let want = dpkg_installed();
    let host = hostname();
    // Its `-a CA_PATH` option is broken (it reads `$OPT_ARG`), so the CA path comes from a
    // configuration file given with `-c`, as sites did.
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("pakiti.conf");
    std::fs::write(
        &conf,
        format!("ca_certificate = {}\n", pki.path("certs").display()),
    )
    .unwrap();
    for db in databases().await {
        let s = TestServer::start(db, |st| st.tls = pki.tls_settings(None)).await;
        for method in ["openssl", "curl"] {
            for report in [false, true] {
                let mut cmd = Command::new(egi_client());
                cmd.args(["-s", &server_name(&s), "-m", method, "-t", "EGI", "-c"])
                    .arg(&conf);
                if report {
                    cmd.arg("-r");
                }
                let out = tokio::task::spawn_blocking(move || run(cmd, b""))
                    .await
                    .unwrap();
                assert!(out.status.success(), "{method}: {}", shown(&out));
                let lines = reply_lines(&out);
                assert_eq!(
                    lines.last().map(String::as_str),
                    Some("OK: Pakiti reported correctly to 1 server(s)"),
                    "{method} -r={report}: {}",
                    shown(&out)
                );
                if report {
                    assert_eq!(lines[..lines.len() - 1], ["OK"], "{}", shown(&out));
                }
                assert_same(
                    &stored(&s, &host).await,
                    &want,
                    &format!("3.0.0-egi {method} -r={report} ({})", s.backend()),
                );
            }
        }
        s.finish().await;
    }
}

/// Runs the Pakiti 3 Perl client with `args`, trusting the test CA.
fn run_pakiti3(pki: &Pki, args: &[&str]) -> Output {
    let mut cmd = Command::new("perl");
    cmd.arg(pakiti3_client())
        .args(args)
        .env("PERL_LWP_SSL_CA_FILE", pki.path("ca.cert.pem"))
        .env("HTTPS_CA_FILE", pki.path("ca.cert.pem"));
    let out = run(cmd, b"");
    let err = text(&out.stderr);
    assert!(
        !err.contains("Can't locate LWP"),
        "the Pakiti 3 client needs libwww-perl and liblwp-protocol-https-perl: {err}"
    );
    out
}

/// The Pakiti 3 Perl client (v3.0.4, protocol 5) over HTTPS in store-only, store-and-report
/// and report-only modes, and S/MIME-encrypted over plain HTTP (as its documentation
/// recommends): stored exactly (report-only stores nothing), and the reply it prints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pakiti3_client_modes_and_encryption() {
    let pki = Pki::new();
    let want = dpkg_installed();
    let cert = pakiti_test_support::fixtures().join("smime/server.cert.pem");
    for db in databases().await {
        // The default TestServer has the S/MIME report key of fixtures/smime.
        let s = TestServer::start(db, |st| st.tls = pki.tls_settings(None)).await;
        let url = format!("{}/feed/", s.https.as_deref().unwrap());
        for (mode, host) in [
            ("store-only", "p3-store.example.org"),
            ("store-and-report", "p3-report.example.org"),
            ("report-only", "p3-ro.example.org"),
        ] {
            let out = run_pakiti3(&pki, &["--url", &url, "--mode", mode, "--host", host]);
            assert!(out.status.success(), "{mode}: {}", shown(&out));
            assert_eq!(text(&out.stdout), "OK\n", "{mode}: {}", shown(&out));
            if mode == "report-only" {
                let (status, _) = s.get_json(&format!("/api/v1/hosts/{host}")).await;
                assert_eq!(status, 404, "report-only stores nothing");
            } else {
                assert_same(&stored(&s, host).await, &want, &format!("pakiti3 {mode}"));
            }
        }
        let plain = format!("{}/feed/", s.base);
        let cert_arg = cert.display().to_string();
        let out = run_pakiti3(
            &pki,
            &[
                "--url",
                &plain,
                "--encrypt",
                &cert_arg,
                "--host",
                "p3-enc.example.org",
            ],
        );
        assert!(out.status.success(), "encrypted: {}", shown(&out));
        assert_eq!(text(&out.stdout), "OK\n", "{}", shown(&out));
        assert_same(
            &stored(&s, "p3-enc.example.org").await,
            &want,
            &format!("pakiti3 encrypted ({})", s.backend()),
        );
        s.finish().await;
    }
}

/// Builds a package with the real rpmbuild and records it in the rpm database `db`.
fn rpm_install(
    dir: &Path,
    db: &Path,
    name: &str,
    epoch: Option<u32>,
    version: &str,
    release: &str,
    arch: &str,
) {
    let spec = dir.join(format!("{name}.spec"));
    let epoch_line = epoch.map(|e| format!("Epoch: {e}\n")).unwrap_or_default();
    std::fs::write(
        &spec,
        format!("Name: {name}\nVersion: {version}\nRelease: {release}\n{epoch_line}Summary: t\nLicense: MIT\nBuildArch: {arch}\n%description\nt\n%files\n"),
    )
    .unwrap();
    let out = dir.join("out");
    let st = Command::new("rpmbuild")
        .arg("--define")
        .arg(format!("_topdir {}", dir.join("top").display()))
        .arg("--define")
        .arg(format!("_rpmdir {}", out.display()))
        .args(["--quiet", "-bb"])
        .arg(&spec)
        .status()
        .expect("rpmbuild is installed (apt-get install rpm)");
    assert!(st.success(), "rpmbuild {name}");
    let file = out
        .join(arch)
        .join(format!("{name}-{version}-{release}.{arch}.rpm"));
    let st = Command::new("rpm")
        .arg("--dbpath")
        .arg(db)
        .args([
            "-i",
            "--justdb",
            "--nodeps",
            "--ignorearch",
            "--ignoreos",
            "--quiet",
        ])
        .arg(&file)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "installing {}", file.display());
}

/// An rpm database of a RHEL 8 host with `+` in a name and in a release, and a directory
/// with an `rpm` wrapper that reads it (`rpm --dbpath DB "$@"`).
struct RpmHost {
    _dir: tempfile::TempDir,
    bin: PathBuf,
    db: PathBuf,
}

impl RpmHost {
    fn new() -> RpmHost {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        std::fs::create_dir(&db).unwrap();
        let st = Command::new("rpm")
            .arg("--dbpath")
            .arg(&db)
            .arg("--initdb")
            .status()
            .expect("rpm is installed (apt-get install rpm)");
        assert!(st.success());
        let d = dir.path();
        rpm_install(d, &db, "openssl-libs", Some(1), "1.1.1c", "2.el8", "x86_64");
        rpm_install(d, &db, "libstdc++", None, "8.5.0", "4.el8_5", "x86_64");
        rpm_install(
            d,
            &db,
            "nodejs-docs",
            Some(1),
            "10.24.0",
            "1.module+el8.3.0+10166+b07ac28e",
            "noarch",
        );
        rpm_install(d, &db, "bash", None, "4.4.19", "12.el8", "x86_64");
        let bin = d.join("bin");
        std::fs::create_dir(&bin).unwrap();
        let wrapper = bin.join("rpm");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec /usr/bin/rpm --dbpath '{}' \"$@\"\n",
                db.display()
            ),
        )
        .unwrap();
        let st = Command::new("chmod")
            .arg("755")
            .arg(&wrapper)
            .status()
            .unwrap();
        assert!(st.success());
        RpmHost { _dir: dir, bin, db }
    }

    /// What rpm lists: (name, epoch:version-release), sorted.
    fn installed(&self) -> Vec<(String, String)> {
        let out = Command::new("rpm")
            .arg("--dbpath")
            .arg(&self.db)
            .args([
                "-qa",
                "--queryformat",
                "%{NAME}\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\n",
            ])
            .output()
            .unwrap();
        let mut v: Vec<(String, String)> = text(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        v.sort();
        assert_eq!(v.len(), 4, "{v:?}");
        v
    }
}

/// The OS rule that makes this Debian machine's rpm reports a RHEL 8 host, so that the RHEL 8
/// fixture feed has findings for them.
fn as_rhel8(st: &mut pakiti_server::settings::Settings) {
    st.os_rules = vec![OsRule {
        pattern: "debian".into(),
        stream: "rhel:8".into(),
    }];
}

/// The clients against an rpm database: `pakiti2-client` with both methods (`+` escaped as
/// `%2b` in names and releases must arrive decoded), and the Pakiti 3 client in
/// store-and-report mode, whose tagged-CVE report-back lines come over HTTPS and not over
/// plain HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_on_an_rpm_database() {
    let pki = Pki::new();
    let rpm = RpmHost::new();
    let want = rpm.installed();
    let host = hostname();
    for db in databases().await {
        let s = TestServer::start(db, |st| {
            st.tls = pki.tls_settings(None);
            as_rhel8(st);
        })
        .await;
        s.import_feed("rhel-8", "redhat-oval", "rhel-8.oval.xml.bz2")
            .await;
        for method in ["openssl", "curl"] {
            let conf = pakiti2_conf(&server_name(&s), &pki, method, 1, false, None);
            let bin = rpm.bin.clone();
            let out = tokio::task::spawn_blocking(move || run_pakiti2(&conf, b"", Some(&bin)))
                .await
                .unwrap();
            assert!(out.status.success(), "{method}: {}", shown(&out));
            assert_eq!(
                reply_lines(&out).last().map(String::as_str),
                Some("OK"),
                "{}",
                shown(&out)
            );
            assert_same(
                &stored(&s, &host).await,
                &want,
                &format!("pakiti2-client rpm {method} ({})", s.backend()),
            );
        }
        let rpm_arg = rpm.bin.join("rpm").display().to_string();
        let https = format!("{}/feed/", s.https.as_deref().unwrap());
        let out = run_pakiti3(
            &pki,
            &[
                "--url",
                &https,
                "--mode",
                "store-and-report",
                "--rpm",
                &rpm_arg,
                "--host",
                "p3-rpm.example.org",
            ],
        );
        assert!(out.status.success(), "{}", shown(&out));
        let reply = text(&out.stdout);
        assert!(reply.starts_with("OK\n"), "{reply}");
        let lines: Vec<&str> = reply.lines().skip(1).collect();
        assert!(
            !lines.is_empty()
                && lines.iter().all(|l| l.split('\t').count() == 5)
                && lines.iter().any(|l| l.starts_with("openssl-libs\t")),
            "openssl-libs 1:1.1.1c-2.el8 has high CVEs in the RHEL 8 data, reported back over HTTPS: {reply}"
        );
        assert_same(
            &stored(&s, "p3-rpm.example.org").await,
            &want,
            "pakiti3 rpm",
        );
        let plain = format!("{}/feed/", s.base);
        let out = run_pakiti3(
            &pki,
            &[
                "--url",
                &plain,
                "--mode",
                "store-and-report",
                "--rpm",
                &rpm_arg,
                "--host",
                "p3-rpm-http.example.org",
            ],
        );
        assert_eq!(
            text(&out.stdout),
            "OK\n",
            "no report-back over plain HTTP: {}",
            shown(&out)
        );
        let (_, h) = s.get_json("/api/v1/hosts/p3-rpm-http.example.org").await;
        assert!(h["cve_count"].as_i64().unwrap() > 0, "{}", h["os_stream"]);
        s.finish().await;
    }
}

/// The Pakiti 2 proxy path: one host's `connection_method = stdout` output, carried to a
/// proxy host whose `pakiti2-client` runs with `is_proxy = 1` and a host certificate, for
/// each (method, certificate, whether the server trusts it as a proxy) case. A trusted proxy's
/// report is stored under the reported host with exactly the machine's packages, as sent
/// through a proxy; an untrusted one is refused and stores nothing.
async fn proxy_path(cases: &[(&'static str, &'static str, bool)]) {
    let pki = Pki::new();
    let want = dpkg_installed();
    for db in databases().await {
        let s = TestServer::start(db, |st| {
            st.tls = pki.tls_settings(Some(ClientAuth::Optional));
            st.proxies.certificate_dns = vec![PROXY_DN.into()];
        })
        .await;
        let server = server_name(&s);
        let conf = pakiti2_conf(&server, &pki, "stdout", 0, false, None);
        let out = tokio::task::spawn_blocking(move || run_pakiti2(&conf, b"", None))
            .await
            .unwrap();
        assert!(out.status.success(), "{}", shown(&out));
        let mine = hostname();
        let listing = text(&out.stdout);
        assert!(listing.contains(&format!("host=\"{mine}\"")), "{listing}");
        for &(method, cert, trusted) in cases {
            // The listing of another host: the proxy reports it under that name.
            let behind = format!("wn-{method}.behind-proxy.example.org");
            let input = listing.replace(&format!("host=\"{mine}\""), &format!("host=\"{behind}\""));
            let conf = pakiti2_conf(&server, &pki, method, 1, true, Some(cert));
            let out =
                tokio::task::spawn_blocking(move || run_pakiti2(&conf, input.as_bytes(), None))
                    .await
                    .unwrap();
            assert!(out.status.success(), "{}", shown(&out));
            if trusted {
                assert_eq!(
                    reply_lines(&out).last().map(String::as_str),
                    Some("OK"),
                    "proxy, {method} method: {}",
                    shown(&out)
                );
                assert_same(
                    &stored(&s, &behind).await,
                    &want,
                    &format!("proxy {method} ({})", s.backend()),
                );
                let (_, h) = s.get_json(&format!("/api/v1/hosts/{behind}")).await;
                assert!(
                    !h["reports"][0]["proxy"].is_null(),
                    "via a proxy: {}",
                    h["reports"]
                );
            } else {
                assert!(
                    !reply_lines(&out).iter().any(|l| l == "OK"),
                    "refused: {}",
                    shown(&out)
                );
                let (status, _) = s.get_json(&format!("/api/v1/hosts/{behind}")).await;
                assert_eq!(status, 404, "an untrusted proxy's report is not stored");
            }
        }
        s.finish().await;
    }
}

/// The proxy path with the curl method: a proxy trusted by its certificate DN is stored,
/// another host certificate is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pakiti2_proxy_path_curl() {
    proxy_path(&[("curl", "client", false), ("curl", "proxy", true)]).await;
}

/// The proxy path with the openssl method. The stdout listing has `%2b` turned back into `+`
/// and the proxy does not escape it again, so this raw urlencoded body carries literal `+`
/// in versions (`0.11.0-1+deb12u3`): a `+` there is a plus, never a space (no package name
/// or version has one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pakiti2_proxy_path_openssl() {
    proxy_path(&[("openssl", "proxy", true)]).await;
}

/// A server that requires client certificates: `pakiti2-client` (curl method) with
/// `host_cert` is stored; without it the handshake fails, nothing is stored — and the
/// client still exits 0 (the old clients' quirk: the server side must show what is missing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pakiti2_client_with_a_required_host_certificate() {
    let pki = Pki::new();
    let want = dpkg_installed();
    let host = hostname();
    for db in databases().await {
        let s = TestServer::start(db, |st| {
            st.tls = pki.tls_settings(Some(ClientAuth::Required));
        })
        .await;
        let server = server_name(&s);
        for method in ["curl", "openssl"] {
            let conf = pakiti2_conf(&server, &pki, method, 1, false, None);
            let out = tokio::task::spawn_blocking(move || run_pakiti2(&conf, b"", None))
                .await
                .unwrap();
            assert!(
                out.status.success(),
                "the old client exits 0 anyway: {}",
                shown(&out)
            );
            assert!(
                !reply_lines(&out).iter().any(|l| l == "OK"),
                "{}",
                shown(&out)
            );
            assert_eq!(
                s.host_total().await,
                0,
                "{method} without host_cert stores nothing"
            );
        }
        for method in ["curl", "openssl"] {
            let conf = pakiti2_conf(&server, &pki, method, 1, false, Some("client"));
            let out = tokio::task::spawn_blocking(move || run_pakiti2(&conf, b"", None))
                .await
                .unwrap();
            assert!(out.status.success(), "{}", shown(&out));
            assert_eq!(
                reply_lines(&out).last().map(String::as_str),
                Some("OK"),
                "{}",
                shown(&out)
            );
            assert_same(
                &stored(&s, &host).await,
                &want,
                &format!("{method} with host_cert ({})", s.backend()),
            );
        }
        s.finish().await;
    }
}
