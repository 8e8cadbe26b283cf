//! Issue 11, item 2: the server reads what the Pakiti 2/3 servers read of the real clients'
//! requests — the bash clients' `%2b` escapes and their openssl method's short
//! `Content-Length` — sent as raw bytes over real TCP connections to a real server on
//! 127.0.0.1, against SQLite and (with `PAKITI_TEST_POSTGRES_URL`) PostgreSQL.

use std::io::Write as _;

use pakiti_api::report::{Mode, Report};
use pakiti_api::{protocol4, protocol5};
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

/// The openssl method's request with the announced length `extra` bytes longer than the body.
fn longer_announced(r: &Report, extra: usize) -> Vec<u8> {
    let req = String::from_utf8(openssl_method_request(r)).unwrap();
    let (head, body) = req.split_once("\n\n").unwrap();
    let head: String = head
        .lines()
        .map(|l| match l.strip_prefix("Content-Length: ") {
            Some(_) => format!("Content-Length: {}", body.len() + extra),
            None => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    format!("{head}\n\n{body}").into_bytes()
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

async fn page(s: &TestServer, path: &str) -> (u16, String) {
    let r = s
        .client
        .get(format!("{}{path}", s.base))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn hostnames_of(v: &serde_json::Value) -> Vec<String> {
    let mut out: Vec<String> = v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["hostname"].as_str().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

/// Issue 11: a line that cannot be read is skipped, counted and kept with the report, for
/// protocol 4, protocol 5 and JSON; the report is stored with every readable package; the host
/// page, the hosts list (filter "last report had problems") and the API show it; a clean
/// report clears it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_11_unreadable_lines_are_stored_and_shown() {
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        let be = s.backend();
        let r = report("debian_11", "p4-bad-line.example.org");
        let n = r.packages.len();

        // Protocol 4 (urlencoded, as our client encodes it) with a broken line in the middle.
        let mut fields = protocol4::to_fields(&r);
        let pkgs = &mut fields.iter_mut().find(|(k, _)| *k == "pkgs").unwrap().1;
        let mut lines: Vec<String> = pkgs.lines().map(str::to_owned).collect();
        lines.insert(5, "'broken' '1.0' ''".to_owned());
        *pkgs = lines.join("\n") + "\n";
        let body = fields
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    v.replace('%', "%25")
                        .replace('+', "%2B")
                        .replace('&', "%26")
                        .replace(' ', "+")
                        .replace('\n', "%0A")
                )
            })
            .collect::<Vec<_>>()
            .join("&");
        let (status, text) = s
            .post(
                "",
                "application/x-www-form-urlencoded",
                &[],
                body.into_bytes(),
            )
            .await;
        assert_eq!((status, text.as_str()), (200, "OK\n"), "{be}");

        // Protocol 5, cut short: no final `#`, the last line cut inside its version.
        let mut r5 = report("rhel_80", "p5-truncated.example.org");
        r5.packages.retain(|p| p.name != "gpg-pubkey");
        let full = protocol5::render(&r5);
        let cut = &full[..full.len() - 6];
        let (status, text) = s
            .post("?protocol=5", "text/plain", &[], cut.as_bytes().to_vec())
            .await;
        assert_eq!((status, text.as_str()), (200, "OK\n"), "{be}");

        // JSON with an entry lacking its version.
        let mut rj = report("debian_11", "json-bad-entry.example.org");
        rj.packages
            .push(pakiti_api::Package::new("nover", "", "amd64"));
        let (status, text) = s
            .post(
                "",
                "application/json",
                &[("accept", "application/json")],
                pakiti_api::json::render(&rj).into_bytes(),
            )
            .await;
        assert_eq!(status, 200, "{be}");
        let reply = pakiti_api::json::JsonReply::parse(text.as_bytes()).unwrap();
        assert!(reply.stored);
        assert_eq!(
            reply.message.as_deref(),
            Some(
                format!(
                    "1 line(s) of the report could not be read and were skipped; line {}: \
                     packages[{}]: empty package name or version",
                    rj.packages.len(),
                    rj.packages.len() - 1
                )
                .as_str()
            )
        );

        // A clean host, for the filter.
        let (status, _) = s
            .post_protocol4(&report("debian_11", "clean.example.org"))
            .await;
        assert_eq!(status, 200);

        let (_, h) = s.get_json("/api/v1/hosts/p4-bad-line.example.org").await;
        assert_eq!(h["packages"].as_u64().unwrap() as usize, n, "{be}");
        assert_eq!(h["report_problems"], 1, "{be}");
        let p = &h["report_problem_lines"][0];
        assert_eq!(p["line"], 6);
        assert_eq!(p["reason"], "expected four quoted tokens, found 3");
        assert_eq!(p["excerpt"], "'broken' '1.0' ''");
        assert_eq!(h["reports"][0]["problems"], 1);
        assert_eq!(
            installed(&s, "p4-bad-line.example.org").await,
            sorted_packages(&r)
        );

        let (_, h5) = s.get_json("/api/v1/hosts/p5-truncated.example.org").await;
        assert_eq!(
            h5["packages"].as_u64().unwrap() as usize,
            r5.packages.len() - 1,
            "{be}: the cut last line is not stored"
        );
        assert_eq!(h5["report_problems"], 1);
        assert!(
            h5["report_problem_lines"][0]["reason"]
                .as_str()
                .unwrap()
                .starts_with("missing the final '#'")
        );
        let (_, hj) = s.get_json("/api/v1/hosts/json-bad-entry.example.org").await;
        assert_eq!(hj["report_problems"], 1);
        assert_eq!(hj["report_problem_lines"][0]["line"], rj.packages.len());

        // The hosts list: filter and count, API and page.
        let (_, list) = s.get_json("/api/v1/hosts?report_problems=true").await;
        assert_eq!(
            hostnames_of(&list),
            [
                "json-bad-entry.example.org",
                "p4-bad-line.example.org",
                "p5-truncated.example.org"
            ],
            "{be}"
        );
        let (_, all) = s.get_json("/api/v1/hosts").await;
        assert_eq!(all["total"], 4);
        let (status, html) = page(&s, "/hosts?report_problems=true").await;
        assert_eq!(status, 200);
        assert!(html.contains("p4-bad-line.example.org") && !html.contains("clean.example.org"));
        assert!(html.contains("1 unreadable line(s)"));
        assert!(html.contains("last report had problems"));
        let (status, html) = page(&s, "/hosts/p4-bad-line.example.org").await;
        assert_eq!(status, 200);
        assert!(html.contains("Unreadable lines in the last report"), "{be}");
        assert!(html.contains("expected four quoted tokens, found 3"));
        assert!(
            html.contains("&#39;broken&#39; &#39;1.0&#39; &#39;&#39;")
                || html.contains("'broken' '1.0' ''")
        );

        // The same report again (unchanged) keeps its problems; a clean one clears them.
        let (status, _) = s
            .post("?protocol=5", "text/plain", &[], cut.as_bytes().to_vec())
            .await;
        assert_eq!(status, 200);
        let (_, h5) = s.get_json("/api/v1/hosts/p5-truncated.example.org").await;
        assert_eq!(h5["report_problems"], 1);
        assert_eq!(h5["reports"][0]["problems"], 1);
        assert_eq!(h5["reports"][0]["changed"], false);
        let (status, _) = s.post_protocol5(&r5).await;
        assert_eq!(status, 200);
        let (_, h5) = s.get_json("/api/v1/hosts/p5-truncated.example.org").await;
        assert_eq!(h5["report_problems"], 0, "{be}");
        assert_eq!(h5["report_problem_lines"].as_array().unwrap().len(), 0);
        assert_eq!(h5["packages"].as_u64().unwrap() as usize, r5.packages.len());
        let (_, list) = s.get_json("/api/v1/hosts?report_problems=true").await;
        assert_eq!(list["total"], 2, "{be}");
        s.finish().await;
    }
}

/// A version the host's scheme cannot read (a dpkg version with a space) is skipped and
/// counted like an unreadable line; the rest of the report is stored and evaluated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_11_unreadable_version_is_skipped_and_counted() {
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        s.import_feed("dsa", DSA.0, DSA.1).await;
        let mut r = report("debian_11", "bad-version.example.org");
        let good = r.clone();
        r.packages
            .insert(3, pakiti_api::Package::new("weird", "1.0 beta", "amd64"));
        let (status, text) = s.post_protocol5(&r).await;
        assert_eq!(status, 200, "{}: {text}", s.backend());
        let (_, h) = s.get_json("/api/v1/hosts/bad-version.example.org").await;
        assert_eq!(h["report_problems"], 1);
        let p = &h["report_problem_lines"][0];
        assert!(
            p["reason"].as_str().unwrap().starts_with("package weird: "),
            "{p}"
        );
        assert_eq!(
            installed(&s, "bad-version.example.org").await,
            sorted_packages(&good)
        );
        assert_eq!(
            served_findings(&s, "bad-version.example.org").await,
            expected_findings(&good, &[DSA])
        );
        s.finish().await;
    }
}

/// A malformed report: query, content type, body, the status answered, the host name recorded
/// and what the recorded reason says.
type Case<'a> = (&'a str, &'a str, Vec<u8>, u16, Option<&'a str>, &'a str);

/// One refusal per malformed-report class: answered with a 4xx and `ERROR: reason`, nothing
/// stored for the host, and recorded (host name if readable, peer address, protocol, status,
/// reason, time), shown on `/reports/refused` and in `/api/v1/reports/refused`; only the
/// newest `refused_reports_kept` are kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_11_refused_reports_are_recorded_and_shown() {
    for db in databases().await {
        let s = TestServer::start(db, |st| {
            st.max_report_bytes = 64 * 1024;
            st.refused_reports_kept = 7;
        })
        .await;
        let be = s.backend();
        let form = "application/x-www-form-urlencoded";
        // (query, content type, body, expected status, host name recorded, reason contains)
        let big = format!(
            "#\nhost: big.example.org\n#\n{}#\n",
            "bash\t0:4.2.46-34.el7\tx86_64\n".repeat(4000)
        );
        let cases: Vec<Case> = vec![
            // Protocol 5 whose header is not closed: the header cannot be read.
            (
                "?protocol=5",
                "text/plain",
                b"#\nhost: hdr.example.org\nkernel: 5.14\n".to_vec(),
                400,
                Some("hdr.example.org"),
                "missing '#' closing the header",
            ),
            // Protocol 5 with no readable package line.
            (
                "?protocol=5",
                "text/plain",
                b"#\nhost: nopkg.example.org\nsystem: Rocky Linux 9\n#\ngarbage\n#\n".to_vec(),
                400,
                Some("nopkg.example.org"),
                "no readable package: 1 line(s) could not be read; line 5: expected name<TAB>version<TAB>arch, found 1 fields",
            ),
            // Protocol 4 with an empty package list.
            (
                "",
                form,
                b"type=rpm&host=empty.example.org&os=Rocky+Linux+9&pkgs=".to_vec(),
                400,
                Some("empty.example.org"),
                "no readable package: the package list is empty",
            ),
            // Protocol 4 without a host name.
            (
                "",
                form,
                b"type=rpm&os=Rocky+Linux+9&pkgs=%27a%27+%270%3A1%27+%271%27+%27x86_64%27".to_vec(),
                400,
                None,
                "empty host",
            ),
            // Protocol 4 with a header field that is not UTF-8.
            (
                "",
                form,
                b"type=rpm&host=utf.example.org&os=Rocky%FF&pkgs=%27a%27+%270%3A1%27+%271%27+%27x86_64%27".to_vec(),
                400,
                Some("utf.example.org"),
                "field os: value is not valid utf-8",
            ),
            // A proxy submission from an untrusted address.
            (
                "",
                form,
                b"type=rpm&host=proxied.example.org&proxy=1&pkgs=%27a%27+%270%3A1%27+%271%27+%27x86_64%27".to_vec(),
                403,
                Some("proxied.example.org"),
                "not a trusted proxy",
            ),
            // Too large.
            ("?protocol=5", "text/plain", big.into_bytes(), 413, None, "larger than"),
            // JSON that is not a report.
            ("", "application/json", b"{\"hello\": 1}".to_vec(), 400, None, "report_version"),
        ];
        for (query, ct, body, status, host, reason) in &cases {
            let (st, text) = s.post(query, ct, &[], body.clone()).await;
            assert_eq!(st, *status, "{be}: {reason}: {text}");
            assert!(text.starts_with("ERROR: "), "{text}");
            if let Some(h) = host {
                let (st, _) = s.get_json(&format!("/api/v1/hosts/{h}")).await;
                assert_eq!(st, 404, "{be}: nothing stored for {h}");
            }
        }
        let (status, page_json) = s.get_json("/api/v1/reports/refused").await;
        assert_eq!(status, 200);
        assert_eq!(page_json["total"], 7, "{be}: only the newest 7 are kept");
        let rows = page_json["reports"].as_array().unwrap();
        assert_eq!(rows.len(), 7);
        // Newest first: the last case first; the first case was dropped by the retention.
        for (row, (_, _, _, status, host, reason)) in rows.iter().zip(cases.iter().rev()) {
            assert_eq!(row["status"], *status, "{be}: {row}");
            assert_eq!(row["hostname"].as_str(), *host, "{be}: {row}");
            assert!(
                row["reason"].as_str().unwrap().contains(reason),
                "{be}: {row} lacks {reason}"
            );
            assert_eq!(row["peer"], "127.0.0.1");
            assert!(row["received_at"].as_str().unwrap().ends_with('Z'));
        }
        assert_eq!(rows[0]["protocol"], "json");
        assert_eq!(rows[2]["protocol"], "4 (urlencoded)");
        assert_eq!(rows[6]["protocol"], "5");
        assert!(!rows.iter().any(|r| r["hostname"] == "hdr.example.org"));

        let (status, html) = page(&s, "/reports/refused").await;
        assert_eq!(status, 200);
        assert!(html.contains("Refused reports"));
        assert!(html.contains("nopkg.example.org") && html.contains("not a trusted proxy"));
        assert!(html.contains("127.0.0.1"));
        let (_, html) = page(&s, "/hosts").await;
        assert!(
            html.contains("href=\"/reports/refused\""),
            "linked from the nav"
        );
        s.finish().await;
    }
}

/// A body shorter than its announced `Content-Length` (the client closed its side before
/// sending that much) is read as far as it came: every package it carries is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_11_body_shorter_than_announced() {
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        let r = report("debian_11", "short-body.example.org");
        let addr = s.base.strip_prefix("http://").unwrap();
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(&longer_announced(&r, 5)).await.unwrap();
        conn.shutdown().await.unwrap();
        let mut answer = Vec::new();
        let _ = conn.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.0 200 OK") && answer.ends_with("\r\n\r\nOK\n"),
            "{}: {answer}",
            s.backend()
        );
        // The server closes the connection only after the handler stored the report.
        let stored = installed(&s, "short-body.example.org").await;
        assert_eq!(stored, sorted_packages(&r), "{}", s.backend());
        s.finish().await;
    }
}

/// In asynchronous mode the unreadable lines travel with the queued report and are kept when
/// the worker stores it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_11_unreadable_lines_survive_the_queue() {
    for db in databases().await {
        let s = TestServer::start(db, |st| {
            st.evaluation = pakiti_server::settings::Evaluation::Async;
        })
        .await;
        let mut r = report("rhel_80", "queued-bad.example.org");
        r.packages.retain(|p| p.name != "gpg-pubkey");
        let mut body = protocol5::render(&r);
        body = body.replacen("#\n", "#\nthis is not a package line\n", 2);
        body = body.replacen("#\nthis is not a package line\n", "#\n", 1);
        let (status, text) = s
            .post("?protocol=5", "text/plain", &[], body.into_bytes())
            .await;
        assert_eq!((status, text.as_str()), (200, "OK\n"));
        let n = pakiti_server::worker::run_once(&s.state, "test-worker", 10)
            .await
            .unwrap();
        assert_eq!(n, 1);
        let (_, h) = s.get_json("/api/v1/hosts/queued-bad.example.org").await;
        assert_eq!(h["report_problems"], 1, "{}", s.backend());
        assert_eq!(
            h["report_problem_lines"][0]["excerpt"],
            "this is not a package line"
        );
        assert_eq!(
            installed(&s, "queued-bad.example.org").await,
            sorted_packages(&r)
        );
        s.finish().await;
    }
}
