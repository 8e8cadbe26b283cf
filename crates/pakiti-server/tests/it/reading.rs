//! Issue 11, item 2: the server reads what the Pakiti 2/3 servers read of the real clients'
//! requests — the bash clients' `%2b` escapes and their openssl method's short
//! `Content-Length` — sent as raw bytes over real TCP connections to a real server on
//! 127.0.0.1, against SQLite and (with `PAKITI_TEST_POSTGRES_URL`) PostgreSQL.

use std::io::Write as _;

use pakiti_api::protocol4;
use pakiti_api::report::{Mode, Report};
use pakiti_test_support::databases;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{TestServer, expected_findings, report, served_findings};

const DSA: (&str, &str) = ("debian-list", "dsa-bullseye.list");
const RHEL8: (&str, &str) = ("redhat-oval", "rhel-8.oval.xml.bz2");

/// The bash clients' package file: protocol-4 lines with `+` escaped as `%2b` by `sed`.
fn pkgs_file(r: &Report) -> String {
    protocol4::render_pkgs(&r.packages, &r.packager).replace('+', "%2b")
}

/// The request `pakiti2-client` pipes into `openssl s_client` (connection_method = openssl):
/// an HTTP/1.0 head with bare `\n` line ends, a urlencoded body whose fields are raw but for
/// `+` → `%2b` in the kernel, `pkgs=`, the newline `echo -e` adds and the package file; the
/// announced `Content-Length` is `$(echo -n ${POST_DATA} | wc -m) + $(wc -c < file) - 1`,
/// two bytes short of the body.
fn openssl_method_request(r: &Report) -> Vec<u8> {
    let post_data = format!(
        "type={}&host={}&os={}&arch={}&tag={}&kernel={}&version=4&report={}&proxy=0&pkgs=",
        r.packager,
        r.hostname,
        r.os,
        r.arch,
        r.tag.as_deref().unwrap_or(""),
        r.kernel.replace('+', "%2b"),
        r.mode.as_digit(),
    );
    let file = pkgs_file(r);
    let words: Vec<&str> = post_data.split_whitespace().collect();
    let length = words.join(" ").chars().count() + file.len() - 1;
    format!(
        "POST /feed/ HTTP/1.0\nContent-Type: application/x-www-form-urlencoded\n\
         Content-Length: {length}\n\n{post_data}\n{file}"
    )
    .into_bytes()
}

/// The multipart body `curl -F type=… -F pkgs=<file` sends (connection_method = curl).
fn curl_method_body(r: &Report, boundary: &str) -> Vec<u8> {
    let fields = [
        ("type", r.packager.to_string()),
        ("host", r.hostname.clone()),
        ("tag", r.tag.clone().unwrap_or_default()),
        ("kernel", r.kernel.replace('+', "%2b")),
        ("arch", r.arch.clone()),
        ("version", "4".to_owned()),
        ("os", r.os.clone()),
        ("report", r.mode.as_digit().to_owned()),
        ("proxy", "0".to_owned()),
    ];
    let mut body = Vec::new();
    for (k, v) in fields {
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        )
        .unwrap();
    }
    write!(
        body,
        "--{boundary}\r\nContent-Disposition: form-data; name=\"pkgs\"; filename=\"tmp.XXXX\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n{}\r\n--{boundary}--\r\n",
        pkgs_file(r)
    )
    .unwrap();
    body
}

/// Writes `request` to the server over a fresh TCP connection and reads the answer until the
/// server closes it (HTTP/1.0); the client never half-closes, as `openssl s_client -quiet`.
async fn raw_exchange(s: &TestServer, request: &[u8]) -> (u16, String) {
    let addr = s.base.strip_prefix("http://").unwrap();
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The host's installed packages as the API shows them, sorted.
async fn installed(s: &TestServer, hostname: &str) -> Vec<(String, String, String)> {
    let (status, host) = s.get_json(&format!("/api/v1/hosts/{hostname}")).await;
    assert_eq!(status, 200, "{host}");
    let mut out: Vec<(String, String, String)> = host["installed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["version"].as_str().unwrap().to_owned(),
                p["arch"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn sorted_packages(r: &Report) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = r
        .packages
        .iter()
        .map(|p| (p.name.clone(), p.version.clone(), p.arch.clone()))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `pakiti2-client` with `connection_method = openssl`: HTTP/1.0, a Content-Length two bytes
/// short, so the last package line arrives without its closing quote and newline. The host
/// is stored with exactly the packages sent, the last one and every `+` included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_11_openssl_method_short_content_length() {
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        s.import_feed("dsa", DSA.0, DSA.1).await;
        let mut r = report("debian_11", "p2-openssl.example.org");
        r.kernel = format!("{}+", r.kernel);
        r.os = "Debian GNU/Linux 11 (bullseye)".into();
        r.mode = Mode::StoreAndReport;
        let last = r.packages.last().unwrap().clone();
        let (status, body) = raw_exchange(&s, &openssl_method_request(&r)).await;
        assert_eq!(status, 200, "{}: {body}", s.backend());
        assert!(body.ends_with("OK\n") || body.ends_with("OK"), "{body}");
        let stored = installed(&s, "p2-openssl.example.org").await;
        assert_eq!(stored, sorted_packages(&r), "{}", s.backend());
        assert!(stored.contains(&(last.name, last.version, last.arch)));
        assert!(stored.iter().any(|p| p.1.contains("+deb11u")));
        let (_, host) = s.get_json("/api/v1/hosts/p2-openssl.example.org").await;
        assert_eq!(host["kernel"], r.kernel.as_str());
        assert_eq!(host["os_stream"], "debian:bullseye");
        let want = expected_findings(&r, &[DSA]);
        assert!(!want.is_empty());
        assert_eq!(served_findings(&s, "p2-openssl.example.org").await, want);
        s.finish().await;
    }
}

/// `pakiti2-client` with `connection_method = curl`: multipart, `+` sent as `%2b` in names,
/// versions and the kernel. Debian versions with `+` are read (not refused), rpm names such
/// as `libstdc++` are stored as such, and the findings are those of the real versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_11_curl_method_percent_escapes() {
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        s.import_feed("dsa", DSA.0, DSA.1).await;
        s.import_feed("rhel-8", RHEL8.0, RHEL8.1).await;
        let boundary = "------------------------3a9f1c0e5b7d2468";
        for (list, host) in [
            ("debian_11", "p2-curl-deb.example.org"),
            ("rhel_80", "p2-curl-rpm.example.org"),
        ] {
            let mut r = report(list, host);
            r.kernel = format!("{}+", r.kernel);
            let (status, text) = s
                .post(
                    "",
                    &format!("multipart/form-data; boundary={boundary}"),
                    &[],
                    curl_method_body(&r, boundary),
                )
                .await;
            assert_eq!(status, 200, "{}: {list}: {text}", s.backend());
            assert_eq!(text, "OK\n");
            let stored = installed(&s, host).await;
            assert_eq!(stored, sorted_packages(&r), "{}: {list}", s.backend());
            assert!(
                !stored
                    .iter()
                    .any(|p| p.0.contains('%') || p.1.contains('%'))
            );
            let (_, h) = s.get_json(&format!("/api/v1/hosts/{host}")).await;
            assert_eq!(h["kernel"], r.kernel.as_str());
            let feeds: &[(&str, &str)] = if list.starts_with("debian") {
                &[DSA]
            } else {
                &[RHEL8]
            };
            assert_eq!(
                served_findings(&s, host).await,
                expected_findings(&r, feeds)
            );
        }
        let rpm = installed(&s, "p2-curl-rpm.example.org").await;
        assert!(
            rpm.iter().any(|p| p.0 == "libstdc++"),
            "libstdc++ stored by its name"
        );
        s.finish().await;
    }
}
