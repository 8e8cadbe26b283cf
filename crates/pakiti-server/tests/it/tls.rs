//! HTTPS served by pakiti itself (issue #11): a test CA made here with the openssl CLI,
//! plain HTTP and HTTPS side by side, required and optional client certificates, report
//! proxies and users known by their certificate DN, certificates reloaded without a restart,
//! and tagged-CVE report-back only over HTTPS (as Pakiti 3).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pakiti_api::{json, protocol4, protocol5};
use pakiti_server::settings::{AuthMode, ClientAuth};
use pakiti_store::NewUser;
use pakiti_test_support::databases;

use crate::pki::{self, CLIENT_DN, CLIENT_DN_RFC4514, PROXY_DN, Pki};
use crate::support::{TestServer, report};

const RHEL8: (&str, &str) = ("redhat-oval", "rhel-8.oval.xml.bz2");

/// Tagged-CVE report-back lines go only over HTTPS; plain HTTP on the other listener gets
/// a bare `OK` for the same report (Pakiti 3 behaves so: the lines say what a host is exposed
/// to). The report is stored either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_back_lines_only_over_https() {
    let pki = Pki::new();
    let https = pki.client(None);
    for db in databases().await {
        let s = TestServer::start(db, |st| st.tls = pki.tls_settings(None)).await;
        s.import_feed("rhel-8", RHEL8.0, RHEL8.1).await;
        let r = report("rhel_80", "wn042.example.org");
        let body = protocol5::render(&r).into_bytes();
        let (status, text) = s
            .post_https(
                &https,
                "?protocol=5&mode=store-and-report",
                "text/plain",
                body.clone(),
            )
            .await;
        assert_eq!(status, 200, "{}: {text}", s.backend());
        assert!(text.starts_with("OK\n"), "{text}");
        assert!(
            text.lines().count() > 1 && text.lines().skip(1).all(|l| l.split('\t').count() == 5),
            "rhel_80 has critical/high findings, reported back over HTTPS: {text}"
        );
        let mut plain = r.clone();
        plain.hostname = "wn043.example.org".into();
        let (status, text) = s
            .post(
                "?protocol=5&mode=store-and-report",
                "text/plain",
                &[],
                protocol5::render(&plain).into_bytes(),
            )
            .await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(text, "OK\n", "no report-back lines over plain HTTP");
        // A TLS front proxy (believed: loopback, `[proxies] dn_header_from` unset) that says
        // the client came over HTTPS gets them.
        let (status, text) = s
            .post(
                "?protocol=5&mode=store-and-report",
                "text/plain",
                &[("x-forwarded-proto", "https")],
                protocol5::render(&plain).into_bytes(),
            )
            .await;
        assert_eq!(status, 200, "{text}");
        assert!(text.lines().count() > 1, "via a TLS front proxy: {text}");
        // Our JSON reply likewise: the count, but no lines, over plain HTTP.
        let mut j = r.clone();
        j.hostname = "wn044.example.org".into();
        j.mode = pakiti_api::report::Mode::StoreAndReport;
        let (status, text) = s
            .post(
                "",
                "application/json",
                &[("accept", "application/json")],
                json::render(&j).into_bytes(),
            )
            .await;
        assert_eq!(status, 200, "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(v["findings"].as_u64().unwrap() > 0, "{text}");
        assert!(
            v["report_back"].as_array().is_none_or(Vec::is_empty),
            "{text}"
        );
        let r = https
            .post(format!("{}/feed/", s.https.as_deref().unwrap()))
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(json::render(&j))
            .send()
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        assert!(
            v["report_back"].as_array().is_some_and(|a| !a.is_empty()),
            "the same JSON report over HTTPS: {v}"
        );
        for h in ["wn042", "wn043", "wn044"] {
            let (status, host) = s.get_json(&format!("/api/v1/hosts/{h}.example.org")).await;
            assert_eq!(status, 200, "{h} stored: {host}");
            assert!(host["cve_count"].as_i64().unwrap() > 0);
        }
        s.finish().await;
    }
}

/// `client_auth = required` with a hashed CA directory: a certificate from the CA is
/// accepted (and the report stored), no certificate or one from another CA fails the
/// handshake and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_client_certificate() {
    let pki = Pki::new();
    let r = report("debian_12", "mtls.example.org");
    let body = protocol5::render(&r).into_bytes();
    for db in databases().await {
        let s = TestServer::start(db, |st| {
            st.tls = pki.tls_settings(Some(ClientAuth::Required));
        })
        .await;
        let url = format!("{}/feed/?protocol=5", s.https.as_deref().unwrap());
        for who in [None, Some("stranger")] {
            let e = pki
                .client(who)
                .post(&url)
                .body(body.clone())
                .send()
                .await
                .expect_err("the handshake must fail");
            assert!(e.is_connect() || e.is_request(), "{who:?}: {e:?}");
        }
        assert_eq!(
            s.host_total().await,
            0,
            "nothing stored without a good certificate"
        );
        let (status, text) = s
            .post_https(
                &pki.client(Some("client")),
                "?protocol=5",
                "text/plain",
                body.clone(),
            )
            .await;
        assert_eq!(status, 200, "{}: {text}", s.backend());
        assert_eq!(text, "OK\n");
        let (_, host) = s.get_json("/api/v1/hosts/mtls.example.org").await;
        assert_eq!(
            host["packages"].as_u64().unwrap() as usize,
            r.packages.len(),
            "{host}"
        );
        s.finish().await;
    }
}

/// A report proxy trusted by its client-certificate DN, verified by pakiti itself (no front
/// proxy): in the legacy form grid sites write and in RFC 4514 form. Other certificates,
/// and none, may not report for other hosts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_proxy_trusted_by_certificate_dn() {
    let pki = Pki::new();
    let mut r = report("rhel_73", "behind-proxy.example.org");
    r.proxy = true;
    let body = protocol4::to_urlencoded(&r).into_bytes();
    let form = "application/x-www-form-urlencoded";
    for configured in [
        PROXY_DN,
        "CN=proxy.example.org,O=Pakiti Tests,DC=example,DC=org",
    ] {
        for db in databases().await {
            let s = TestServer::start(db, |st| {
                st.tls = pki.tls_settings(Some(ClientAuth::Optional));
                st.proxies.certificate_dns = vec![configured.into()];
            })
            .await;
            for who in [None, Some("client")] {
                let (status, text) = s.post_https(&pki.client(who), "", form, body.clone()).await;
                assert_eq!(status, 403, "{who:?} is no trusted proxy: {text}");
            }
            assert_eq!(s.host_total().await, 0);
            let (status, text) = s
                .post_https(&pki.client(Some("proxy")), "", form, body.clone())
                .await;
            assert_eq!(status, 200, "{configured}: {text}");
            let (_, host) = s.get_json("/api/v1/hosts/behind-proxy.example.org").await;
            assert!(
                !host["reports"][0]["proxy"].is_null(),
                "stored as via a proxy: {host}"
            );
            s.finish().await;
        }
    }
}

/// `[auth] mode = "tls"` without a front proxy: the verified client certificate's DN is the
/// user (either DN form); no certificate is 401, an unknown DN 403, a DN header from a peer
/// not in `proxy_addresses` is ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_auth_mode_reads_the_client_certificate() {
    let pki = Pki::new();
    for user in [CLIENT_DN_RFC4514, CLIENT_DN] {
        for db in databases().await {
            let s = TestServer::start(db, |st| {
                st.tls = pki.tls_settings(Some(ClientAuth::Optional));
                // The CA as one PEM file here (the other tests use the hashed directory).
                st.tls.client_ca = Some(pki.path("ca.cert.pem"));
                st.auth.mode = AuthMode::Tls;
            })
            .await;
            s.state
                .store
                .create_user(&NewUser {
                    name: user.into(),
                    password_hash: None,
                    admin: true,
                })
                .await
                .unwrap();
            let url = format!("{}/api/v1/hosts", s.https.as_deref().unwrap());
            let get = |who: Option<&'static str>| {
                let (client, url) = (pki.client(who), url.clone());
                async move { client.get(url).send().await.unwrap().status().as_u16() }
            };
            assert_eq!(get(Some("client")).await, 200, "{user}");
            assert_eq!(get(None).await, 401);
            assert_eq!(get(Some("proxy")).await, 403, "a DN pakiti has no user for");
            let r = s
                .client
                .get(format!("{}/api/v1/hosts", s.base))
                .header("x-ssl-client-s-dn", user)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 401, "header from an untrusted peer");
            s.finish().await;
        }
    }
}

/// A renewed certificate is served after the file-watch step sees the change, without a
/// restart; a half-written renewal (a key that does not fit) keeps the previous one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_reloads_when_the_files_change() {
    let pki = Pki::new();
    let db = pakiti_test_support::TestDatabase::sqlite();
    let s = TestServer::start(db, |st| st.tls = pki.tls_settings(None)).await;
    let addr = s
        .https
        .as_deref()
        .unwrap()
        .trim_start_matches("https://")
        .to_owned();
    let reloader = s.tls.clone().unwrap();
    let first = pki.server_serial();
    assert_eq!(pki::served_serial(&addr), first);
    assert!(
        !reloader.reload_if_changed().unwrap(),
        "nothing changed yet"
    );
    // Some file systems keep whole-second modification times.
    std::thread::sleep(Duration::from_millis(1100));
    pki.renew_server();
    let second = pki.server_serial();
    assert_ne!(first, second);
    assert!(reloader.reload_if_changed().unwrap());
    assert_eq!(pki::served_serial(&addr), second);
    // A key that does not fit the certificate: an error, and the old pair stays in use.
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::copy(pki.path("client.key.pem"), pki.path("server.key.pem")).unwrap();
    let e = reloader.reload_if_changed().unwrap_err().to_string();
    assert!(e.contains("cannot be used together"), "{e}");
    assert_eq!(pki::served_serial(&addr), second);
    s.finish().await;
}

/// Waits for the line `pakiti is running: open URL…` on the server's stderr; returns the
/// URLs it names.
fn urls_of(stderr: &mut BufReader<std::process::ChildStderr>) -> Vec<String> {
    let mut line = String::new();
    loop {
        line.clear();
        let n = stderr.read_line(&mut line).unwrap();
        assert!(n > 0, "pakiti serve exited before listening");
        if let Some(rest) = line.split("open ").nth(1) {
            let urls = rest.split(" in a browser").next().unwrap();
            return urls.split(" and ").map(str::to_owned).collect();
        }
    }
}

/// `pakiti serve --listen … --tls-listen … --tls-cert … --tls-key …`: plain HTTP and HTTPS
/// side by side from the real binary, and SIGHUP re-reads the certificate (file polling off).
#[test]
fn serve_binary_side_by_side_and_reloads_on_sighup() {
    let pki = Pki::new();
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pakiti"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-listen",
            "127.0.0.1:0",
        ])
        .arg("--tls-cert")
        .arg(pki.path("server.cert.pem"))
        .arg("--tls-key")
        .arg(pki.path("server.key.pem"))
        .arg("--data-dir")
        .arg(data.path())
        .env("PAKITI_LOG", "info")
        .env("PAKITI_SYNC_FEEDS", "false")
        .env("PAKITI_SYNC_REPOS", "false")
        .env("PAKITI_TLS__WATCH_SECS", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pakiti serve");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let urls = urls_of(&mut stderr);
    // Keep reading stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let http = urls
        .iter()
        .find(|u| u.starts_with("http://"))
        .expect("an HTTP URL");
    let https = urls
        .iter()
        .find(|u| u.starts_with("https://"))
        .expect("an HTTPS URL");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let plain = reqwest::get(format!("{http}/healthz")).await.unwrap();
        assert_eq!(plain.text().await.unwrap(), "ok\n");
        let port = https.rsplit(':').next().unwrap();
        let tls = pki
            .client(None)
            .get(format!("https://localhost:{port}/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(tls.text().await.unwrap(), "ok\n");
    });
    let addr = https.trim_start_matches("https://").to_owned();
    let first = pki.server_serial();
    assert_eq!(pki::served_serial(&addr), first);
    pki.renew_server();
    let second = pki.server_serial();
    assert_ne!(first, second);
    let pid = child.id().to_string();
    let st = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    assert!(st.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut served = pki::served_serial(&addr);
    while served != second && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        served = pki::served_serial(&addr);
    }
    assert_eq!(served, second, "SIGHUP re-read the certificate");
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let status = child.wait().unwrap();
    assert!(status.success(), "clean shutdown on SIGTERM: {status}");
}
