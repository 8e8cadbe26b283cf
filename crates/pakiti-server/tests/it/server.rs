//! The real server on 127.0.0.1, fed real reports of every wire format built from
//! `shared/data/hosts/lists/`, against SQLite and (with `PAKITI_TEST_POSTGRES_URL`) PostgreSQL.
//!
//! Findings are checked exactly against what the pure matcher says for the same feeds and
//! packages: the server's store, interning, evaluation and joins must change nothing.

use std::io::Write;

use pakiti_api::report::Mode;
use pakiti_api::{json, protocol4, protocol5};
use pakiti_server::settings::Evaluation;
use pakiti_test_support::databases;

use crate::support::{TestServer, expected_findings, report, served_findings};

const RHEL8: (&str, &str) = ("redhat-oval", "rhel-8.oval.xml.bz2");
const DSA: (&str, &str) = ("debian-list", "dsa-bullseye.list");
const FOCAL: (&str, &str) = ("ubuntu-oval", "focal.oval.xml.bz2");

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Protocol 5 (Pakiti 3's Perl client): stored, evaluated exactly, reported back (over
/// HTTPS: report-back lines are sent only there, as Pakiti 3 does).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol5_report_is_stored_and_evaluated() {
    let pki = crate::pki::Pki::new();
    for db in databases().await {
        let s = TestServer::start(db, |st| st.tls = pki.tls_settings(None)).await;
        s.import_feed("rhel-8", RHEL8.0, RHEL8.1).await;
        let mut r = report("rhel_80", "wn042.example.org");
        let body = protocol5::render(&r);
        let (status, text) = s
            .post_https(
                &pki.client(None),
                "?protocol=5&mode=store-and-report",
                "application/x-www-form-urlencoded",
                body.into_bytes(),
            )
            .await;
        assert_eq!(status, 200, "{}: {text}", s.backend());
        assert!(text.starts_with("OK\n"), "{text}");
        // Report-back lines: the host's critical/high CVEs, Pakiti 3's tab-separated form.
        assert!(
            text.lines().skip(1).all(|l| l.split('\t').count() == 5),
            "{text}"
        );
        assert!(
            text.lines().count() > 1,
            "rhel_80 has high-severity findings"
        );
        let (_, host) = s.get_json("/api/v1/hosts/wn042.example.org").await;
        assert_eq!(host["os_stream"], "rhel:8");
        assert_eq!(host["covered"], true);
        assert_eq!(host["host_group"], "site-a");
        r.packages.retain(|p| p.name != "gpg-pubkey");
        assert_eq!(
            host["packages"].as_u64().unwrap() as usize,
            r.packages.len()
        );
        let want = expected_findings(&r, &[RHEL8]);
        assert!(
            want.len() > 100,
            "the fixture has findings for rhel_80: {}",
            want.len()
        );
        assert_eq!(
            served_findings(&s, "wn042.example.org").await,
            want,
            "{}",
            s.backend()
        );
        assert!(host["cve_count"].as_i64().unwrap() > 0);
        s.finish().await;
    }
}

/// Protocol 4 (Pakiti 2 clients), multipart as curl -F sends it, and the bash client's
/// barely-encoded urlencoded "openssl method" body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol4_multipart_and_urlencoded() {
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        s.import_feed("dsa", DSA.0, DSA.1).await;
        let r = report("debian_11", "mail1.example.org");
        let boundary = "------------------------d74496d66958873e";
        let mut body = Vec::new();
        for (k, v) in protocol4::to_fields(&r) {
            write!(
                body,
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
            )
            .unwrap();
        }
        write!(body, "--{boundary}--\r\n").unwrap();
        let (status, text) = s
            .post(
                "",
                &format!("multipart/form-data; boundary={boundary}"),
                &[],
                body,
            )
            .await;
        assert_eq!(status, 200, "{}: {text}", s.backend());
        assert_eq!(text, "OK\n");
        let want = expected_findings(&r, &[DSA]);
        assert!(!want.is_empty());
        assert_eq!(
            served_findings(&s, "mail1.example.org").await,
            want,
            "{}",
            s.backend()
        );

        // The openssl method: spaces and '&' unescaped, only '+' as %2b, pkgs last and raw.
        let mut r2 = report("debian_11", "mail2.example.org");
        r2.os = "Debian GNU/Linux 11 (bullseye) & more".into();
        let fields = protocol4::to_fields(&r2);
        let mut raw = String::new();
        for (k, v) in &fields {
            if *k != "pkgs" {
                raw.push_str(&format!("{k}={}&", v.replace('+', "%2b")));
            }
        }
        let pkgs = fields.iter().find(|(k, _)| *k == "pkgs").unwrap();
        raw.push_str(&format!("pkgs={}", pkgs.1.replace('+', "%2b")));
        let (status, text) = s
            .post(
                "",
                "application/x-www-form-urlencoded",
                &[],
                raw.into_bytes(),
            )
            .await;
        assert_eq!(status, 200, "{text}");
        let (_, host) = s.get_json("/api/v1/hosts/mail2.example.org").await;
        assert_eq!(host["os"], "Debian GNU/Linux 11 (bullseye) & more");
        assert_eq!(host["os_stream"], "debian:bullseye");
        assert_eq!(served_findings(&s, "mail2.example.org").await, want);
        s.finish().await;
    }
}

/// Our JSON report, gzip-compressed, with a JSON reply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_report_gzip() {
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        s.import_feed("focal", FOCAL.0, FOCAL.1).await;
        let mut r = report("ubuntu_2004", "ui1.example.org");
        r.host_id = Some("9c1d-client-id".into());
        let body = gzip(json::render(&r).as_bytes());
        let (status, text) = s
            .post(
                "",
                "application/json",
                &[("content-encoding", "gzip"), ("accept", "application/json")],
                body,
            )
            .await;
        assert_eq!(status, 200, "{}: {text}", s.backend());
        let reply = json::JsonReply::parse(text.as_bytes()).unwrap();
        assert!(reply.stored);
        assert_eq!(reply.host, "ui1.example.org");
        let want = expected_findings(&r, &[FOCAL]);
        assert_eq!(
            reply.findings as usize,
            served_findings(&s, "ui1.example.org").await.len()
        );
        assert_eq!(
            served_findings(&s, "ui1.example.org").await,
            want,
            "{}",
            s.backend()
        );
        // The same client id under a new name is the same host (Pakiti issue #158).
        r.hostname = "ui1-renamed.example.org".into();
        let (status, _) = s
            .post("", "application/json", &[], json::render(&r).into_bytes())
            .await;
        assert_eq!(status, 200);
        assert_eq!(s.host_total().await, 1);
        s.finish().await;
    }
}

/// S/MIME-encrypted protocol 5, as `pakiti-client --encrypt` (openssl smime) sends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_protocol5() {
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        let body =
            std::fs::read(pakiti_test_support::fixtures().join("smime/report.aes256.der")).unwrap();
        let (status, text) = s
            .post(
                "?protocol=5",
                "application/x-www-form-urlencoded",
                &[],
                body,
            )
            .await;
        assert_eq!(status, 200, "{}: {text}", s.backend());
        let plain =
            std::fs::read_to_string(pakiti_test_support::fixtures().join("smime/report.txt"))
                .unwrap();
        let parsed = protocol5::parse(plain.as_bytes()).unwrap();
        let (_, host) = s
            .get_json(&format!("/api/v1/hosts/{}", parsed.hostname))
            .await;
        assert_eq!(
            host["packages"].as_u64().unwrap() as usize,
            parsed.packages.len()
        );
        // No data imported: the host is stored but not covered, never "clean".
        assert_eq!(host["covered"], false);
        s.finish().await;
    }
}

/// Bad input: a clear 4xx and an unchanged store; unreadable lines are skipped and counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_reports_are_rejected_and_change_nothing() {
    for db in databases().await {
        let s = TestServer::start(db, |st| st.max_report_bytes = 64 * 1024).await;
        let good = protocol5::render(&report("rhel_80", "ok.example.org"));
        let truncated = good[..good.len() - 3].to_owned(); // no closing '#'
        let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
            (
                "?protocol=5&mode=sometimes",
                "text/plain",
                good.clone().into_bytes(),
                400,
                "mode",
            ),
            (
                "",
                "application/json",
                b"{\"report_version\": 99}".to_vec(),
                400,
                "report_version",
            ),
            ("", "application/json", b"{not json".to_vec(), 400, ""),
            (
                "",
                "application/x-www-form-urlencoded",
                b"host=&pkgs=".to_vec(),
                400,
                "host",
            ),
            (
                "",
                "application/x-www-form-urlencoded",
                Vec::new(),
                400,
                "empty",
            ),
            ("?protocol=5", "text/plain", vec![b'#'; 200 * 1024], 413, ""),
            (
                "",
                "application/json",
                b"\x1f\x8bnot gzip".to_vec(),
                400,
                "",
            ),
        ];
        for (query, ct, body, want, needle) in cases {
            let headers: &[(&str, &str)] = if body.starts_with(b"\x1f\x8b") {
                &[("content-encoding", "gzip")]
            } else {
                &[]
            };
            let (status, text) = s.post(query, ct, headers, body).await;
            assert_eq!(status, want, "{query} {ct}: {text}");
            if want != 413 {
                assert!(text.starts_with("ERROR"), "{text}");
                assert!(text.contains(needle), "{text} should mention {needle}");
            }
        }
        assert_eq!(s.host_total().await, 0, "nothing was stored");
        // Issue 11: a body without its final '#' is stored without its last line, which may
        // be cut, and that line is counted; a dpkg version that dpkg rejects is skipped and
        // counted, naming the package (both were refused whole before).
        let (status, text) = s
            .post("?protocol=5", "text/plain", &[], truncated.into_bytes())
            .await;
        assert_eq!(status, 200, "{text}");
        let mut ok = report("rhel_80", "ok.example.org");
        ok.packages.retain(|p| p.name != "gpg-pubkey");
        let (_, host) = s.get_json("/api/v1/hosts/ok.example.org").await;
        assert_eq!(
            host["packages"].as_u64().unwrap() as usize,
            ok.packages.len() - 1
        );
        assert_eq!(host["report_problems"], 1);
        let mut r = report("debian_11", "bad.example.org");
        r.packages[0].version = "1.0 beta".into();
        let (status, text) = s
            .post("", "application/json", &[], json::render(&r).into_bytes())
            .await;
        assert_eq!(status, 200, "{text}");
        let (_, host) = s.get_json("/api/v1/hosts/bad.example.org").await;
        assert_eq!(
            host["packages"].as_u64().unwrap() as usize,
            r.packages.len() - 1
        );
        assert_eq!(host["report_problems"], 1);
        let reason = host["report_problem_lines"][0]["reason"].as_str().unwrap();
        assert!(reason.contains(&r.packages[0].name), "{reason}");
        s.finish().await;
    }
}

/// Proxy submissions only from trusted proxies; report-only stores nothing; an unchanged
/// report keeps the host as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxies_modes_and_unchanged_reports() {
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        let mut r = report("rhel_73", "behind-proxy.example.org");
        r.proxy = true;
        let body = protocol4::to_urlencoded(&r).into_bytes();
        let (status, text) = s
            .post("", "application/x-www-form-urlencoded", &[], body.clone())
            .await;
        assert_eq!(status, 403, "{text}");
        assert!(text.contains("trusted proxy"), "{text}");
        assert_eq!(s.host_total().await, 0);
        s.finish().await;
    }
    for db in databases().await {
        let s = TestServer::start(db, |st| {
            st.proxies.addresses = vec!["127.0.0.0/8".parse().unwrap()]
        })
        .await;
        let mut r = report("rhel_73", "behind-proxy.example.org");
        r.proxy = true;
        let (status, text) = s.post_protocol4(&r).await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(s.host_total().await, 1);

        let mut ro = report("rhel_80", "dry-run.example.org");
        ro.mode = Mode::ReportOnly;
        let (status, text) = s
            .post(
                "?protocol=5&mode=report-only",
                "text/plain",
                &[],
                protocol5::render(&ro).into_bytes(),
            )
            .await;
        assert_eq!(status, 200, "{text}");
        assert!(text.starts_with("OK"));
        assert_eq!(s.host_total().await, 1, "report-only stores nothing");

        let same = report("rhel_80", "same.example.org");
        let distinct: std::collections::BTreeSet<_> = same
            .packages
            .iter()
            .filter(|p| p.name != "gpg-pubkey")
            .map(|p| (&p.name, &p.version, &p.arch))
            .collect();
        let p5 = protocol5::render(&same).into_bytes();
        for _ in 0..3 {
            let (status, text) = s.post("?protocol=5", "text/plain", &[], p5.clone()).await;
            assert_eq!(status, 200, "{text}");
        }
        let (_, h) = s.get_json("/api/v1/hosts/same.example.org").await;
        assert_eq!(h["packages"].as_u64().unwrap() as usize, distinct.len());
        assert_eq!(s.host_total().await, 2);
        s.finish().await;
    }
}

/// A host reported before any feed is "not covered"; importing a feed re-evaluates it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_import_reevaluates_stored_hosts() {
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        let r = report("rocky_8", "wn1.example.org");
        let (status, _) = s.post_protocol5(&r).await;
        assert_eq!(status, 200);
        let (_, h) = s.get_json("/api/v1/hosts/wn1.example.org").await;
        assert_eq!(h["covered"], false);
        assert_eq!(h["cve_count"], 0);
        s.import_feed("rhel-8", RHEL8.0, RHEL8.1).await;
        let (_, h) = s.get_json("/api/v1/hosts/wn1.example.org").await;
        assert_eq!(h["os_stream"], "rocky:8");
        assert_eq!(h["covered"], true, "Rocky is matched against RHEL data");
        assert!(h["cve_count"].as_i64().unwrap() > 0);
        assert_eq!(
            served_findings(&s, "wn1.example.org").await,
            expected_findings(&r, &[RHEL8])
        );
        s.finish().await;
    }
}

/// Asynchronous mode: acknowledged once queued durably, evaluated by a worker step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_mode_queues_then_evaluates() {
    for db in databases().await {
        let s = TestServer::start(db, |st| st.evaluation = Evaluation::Async).await;
        s.import_feed("rhel-8", RHEL8.0, RHEL8.1).await;
        let r = report("rhel_80", "queued.example.org");
        let (status, text) = s.post_protocol5(&r).await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(s.host_total().await, 0, "not evaluated yet");
        let n = pakiti_server::worker::run_once(&s.state, "test-worker", 10)
            .await
            .unwrap();
        assert_eq!(n, 1);
        let mut r = r;
        r.packages.retain(|p| p.name != "gpg-pubkey");
        assert_eq!(
            served_findings(&s, "queued.example.org").await,
            expected_findings(&r, &[RHEL8])
        );
        assert_eq!(
            pakiti_server::worker::run_once(&s.state, "test-worker", 10)
                .await
                .unwrap(),
            0
        );
        s.finish().await;
    }
}

/// `pakiti serve --demo`: sample feeds and hosts through the real import and ingest paths,
/// plus this machine; a store with data is left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_populates_a_fresh_store_once() {
    let s = TestServer::start(pakiti_test_support::TestDatabase::sqlite(), |_| {}).await;
    let summary = pakiti_server::demo::populate(&s.state).await.unwrap();
    assert!(summary.contains("42 hosts"), "{summary}");
    let (_, page) = s.get_json("/api/v1/hosts?limit=1000").await;
    let hosts = page["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 42);
    let covered = hosts.iter().filter(|h| h["covered"] == true).count();
    let vulnerable = hosts
        .iter()
        .filter(|h| h["cve_count"].as_i64().unwrap() > 0)
        .count();
    assert!(vulnerable >= 30, "{vulnerable}");
    assert!(covered > vulnerable);
    assert!(
        hosts.iter().any(|h| h["covered"] == false),
        "the Alpine hosts have no data"
    );
    // The Debian hosts report binary names only; the demo's bullseye Sources excerpt maps
    // them to the source names the DSAs use.
    assert!(
        summary.contains("demo-bullseye-sources (1446 source names)"),
        "{summary}"
    );
    let (_, mail) = s.get_json("/api/v1/hosts/mail01.prague.example.org").await;
    assert_eq!(mail["source_names_unknown"], false);
    let openssl: Vec<&str> = mail["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["package"] == "libssl1.1")
        .map(|f| f["advisory"].as_str().unwrap())
        .collect();
    assert!(openssl.contains(&"DSA-5139-1"), "{openssl:?}");
    assert!(hosts.iter().all(|h| h["source_names_unknown"] == false));
    // #14: the RHEL 7 hosts get findings with a fix (RHSA patch definitions), not only
    // unpatched CVE definitions.
    let (_, legacy) = s.get_json("/api/v1/hosts/legacy01.brno.example.org").await;
    let rhsa_fixed = legacy["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["advisory"].as_str().unwrap().starts_with("RHSA-") && f["fixed_version"].is_string()
        })
        .count();
    assert!(
        rhsa_fixed >= 20,
        "{rhsa_fixed} RHSA findings with a fix on a CentOS 7 host"
    );
    // #14: `serve --demo` adds a site's policy: CVE tags and an exception.
    let (tag_count, exception_count) = pakiti_server::demo::site_policy(&s.state).await.unwrap();
    assert!(tag_count >= 3, "{tag_count}");
    assert_eq!(exception_count, 1);
    // #14: KEV imported with the demo: the sudo CVE the demo hosts carry is flagged.
    let (_, cves) = s.get_json("/api/v1/cves").await;
    let list = cves.get("cves").unwrap_or(&cves).as_array().unwrap();
    let sudo = list.iter().find(|c| c["cve"] == "CVE-2021-3156").unwrap();
    assert_eq!(sudo["kev"], true, "{sudo}");
    assert_eq!(list[0]["risk"], "tagged", "tagged CVEs first: {}", list[0]);
    // #14: site policy (tags, an exception) and some history.
    let (_, tags) = s.get_json("/api/v1/tags").await;
    assert!(tags.as_array().is_some_and(|t| t.len() >= 3), "{tags}");
    let (_, exceptions) = s.get_json("/api/v1/exceptions").await;
    assert_eq!(exceptions.as_array().map(Vec::len), Some(1), "{exceptions}");
    assert_eq!(
        legacy["reports"].as_array().map(Vec::len),
        Some(3),
        "{legacy}"
    );
    let now = time::OffsetDateTime::now_utc();
    let quiet = hosts
        .iter()
        .filter(|h| {
            let last = time::OffsetDateTime::parse(
                h["last_report"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap();
            now - last > time::Duration::days(2)
        })
        .count();
    assert!(quiet >= 4, "{quiet} hosts not reporting for 2 days");
    let again = pakiti_server::demo::populate(&s.state).await.unwrap();
    assert!(again.contains("nothing added"), "{again}");
    let html = s
        .client
        .get(format!("{}/hosts", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("web01.prague.example.org"));
    assert!(html.contains("not covered"));
    s.finish().await;
}

/// Site OS rules map OS strings the built-in detection does not know.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_os_rules_map_unknown_os_strings() {
    let s = TestServer::start(pakiti_test_support::TestDatabase::sqlite(), |st| {
        st.os_rules = vec![pakiti_server::settings::OsRule {
            pattern: r"^MyCorp Enterprise (\d+)".into(),
            stream: "rhel:$1".into(),
        }];
    })
    .await;
    s.import_feed("rhel-8", RHEL8.0, RHEL8.1).await;
    let mut r = report("rhel_80", "corp1.example.org");
    r.os = "MyCorp Enterprise 8 (Hardened)".into();
    let (status, text) = s.post_protocol5(&r).await;
    assert_eq!(status, 200, "{text}");
    let (_, h) = s.get_json("/api/v1/hosts/corp1.example.org").await;
    assert_eq!(h["os_stream"], "rhel:8");
    assert_eq!(h["covered"], true);
    assert!(h["cve_count"].as_i64().unwrap() > 0);
    s.finish().await;
}

/// CVE tags and exceptions change counts (at ingest and after a change) and report-back
/// (over HTTPS, where report-back lines are sent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_and_exceptions_change_counts_and_report_back() {
    use pakiti_store::{NewCveTag, NewException};
    let pki = crate::pki::Pki::new();
    for db in databases().await {
        let s = TestServer::start(db, |st| st.tls = pki.tls_settings(None)).await;
        s.import_feed("rhel-8", RHEL8.0, RHEL8.1).await;
        let r = report("rocky_8", "tagged.example.org");
        let body = protocol5::render(&r).into_bytes();
        let (status, _) = s.post("?protocol=5", "text/plain", &[], body.clone()).await;
        assert_eq!(status, 200);
        let (_, h) = s.get_json("/api/v1/hosts/tagged.example.org").await;
        let before = h["cve_count"].as_i64().unwrap();
        assert_eq!(h["tagged_count"], 0);
        // A CVE found in exactly one installed package version, and another CVE to tag.
        let findings = h["findings"].as_array().unwrap();
        let mut seen: std::collections::BTreeMap<String, Vec<(String, String)>> =
            std::collections::BTreeMap::new();
        for f in findings {
            for c in f["cves"].as_array().unwrap() {
                let e = seen.entry(c.as_str().unwrap().to_owned()).or_default();
                let pv = (
                    f["package"].as_str().unwrap().to_owned(),
                    f["installed_version"].as_str().unwrap().to_owned(),
                );
                if !e.contains(&pv) {
                    e.push(pv);
                }
            }
        }
        let (excepted, pv) = seen
            .iter()
            .find(|(_, v)| v.len() == 1)
            .map(|(c, v)| (c.clone(), v[0].clone()))
            .expect("a CVE in one package version");
        let tagged = seen.keys().find(|c| **c != excepted).unwrap().clone();
        let store = &s.state.store;
        store
            .create_cve_tag(&NewCveTag {
                cve: tagged.clone(),
                tag: "Audit".into(),
                reason: "site policy".into(),
                info_url: None,
                enabled: true,
                author: "test".into(),
            })
            .await
            .unwrap();
        store
            .create_exception(&NewException {
                cve: excepted.clone(),
                package: pv.0.clone(),
                version: pv.1.clone(),
                stream: "rocky:8".into(),
                reason: "mitigated".into(),
                author: "test".into(),
                expires_at: None,
            })
            .await
            .unwrap();
        let refreshed = s.state.engine.refresh_all_counts().await.unwrap();
        assert_eq!(refreshed, 1);
        let (_, h) = s.get_json("/api/v1/hosts/tagged.example.org").await;
        assert_eq!(h["cve_count"].as_i64().unwrap(), before - 1, "{excepted}");
        assert_eq!(h["tagged_count"], 1);

        // A new host with the same packages gets the same counts at ingest.
        let twin = report("rocky_8", "twin.example.org");
        let (status, text) = s
            .post_https(
                &pki.client(None),
                "?protocol=5&mode=store-and-report",
                "text/plain",
                protocol5::render(&twin).into_bytes(),
            )
            .await;
        assert_eq!(status, 200, "{text}");
        let (_, t) = s.get_json("/api/v1/hosts/twin.example.org").await;
        assert_eq!(t["cve_count"].as_i64().unwrap(), before - 1);
        assert_eq!(t["tagged_count"], 1);
        // Report-back: the tagged CVE with its tag; the excepted one never.
        assert!(
            text.lines()
                .any(|l| l.ends_with(&format!("\t{tagged}\tAudit"))),
            "{text}"
        );
        assert!(!text.contains(&format!("\t{excepted}\t")), "{text}");
        s.finish().await;
    }
}

/// Proxy trust by forward-confirmed reverse DNS name, and a client-DN header believed only
/// from the configured TLS front proxies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_trust_by_hostname_and_front_proxy_dn() {
    let mut r = report("rhel_73", "via-named-proxy.example.org");
    r.proxy = true;
    let body = protocol4::to_urlencoded(&r).into_bytes();
    let form = "application/x-www-form-urlencoded";
    for db in databases().await {
        let s = TestServer::start(db, |st| st.proxies.hostnames = vec!["localhost".into()]).await;
        let (status, text) = s.post("", form, &[], body.clone()).await;
        assert_eq!(status, 200, "127.0.0.1 is localhost, both ways: {text}");
        s.finish().await;
    }
    for db in databases().await {
        let s = TestServer::start(db, |st| {
            st.proxies.hostnames = vec!["proxy.example.org".into()];
            st.proxies.certificate_dns = vec!["CN=proxy".into()];
            st.proxies.dn_header_from = vec!["192.0.2.1".parse().unwrap()];
        })
        .await;
        let (status, text) = s.post("", form, &[], body.clone()).await;
        assert_eq!(status, 403, "{text}");
        // The DN header comes from 127.0.0.1, not from the configured front proxy.
        let (status, text) = s
            .post("", form, &[("x-ssl-client-s-dn", "CN=proxy")], body.clone())
            .await;
        assert_eq!(status, 403, "{text}");
        assert_eq!(s.host_total().await, 0);
        s.finish().await;
    }
    for db in databases().await {
        // No front proxy configured: loopback's DN header is believed.
        let s = TestServer::start(db, |st| {
            st.proxies.certificate_dns = vec!["CN=proxy".into()]
        })
        .await;
        let (status, text) = s
            .post("", form, &[("x-ssl-client-s-dn", "CN=proxy")], body.clone())
            .await;
        assert_eq!(status, 200, "{text}");
        s.finish().await;
    }
}

/// Disabling a feed removes its findings from every host at the next re-evaluation, and
/// enabling it brings them back (only changed answers are rewritten, and their hosts
/// refreshed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_and_enabling_a_feed_reevaluates_hosts() {
    use pakiti_store::FeedUpdate;
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        s.import_feed("rhel-8", RHEL8.0, RHEL8.1).await;
        let r = report("rocky_8", "toggle.example.org");
        let (status, _) = s.post_protocol5(&r).await;
        assert_eq!(status, 200);
        let (_, h) = s.get_json("/api/v1/hosts/toggle.example.org").await;
        let cves = h["cve_count"].as_i64().unwrap();
        assert!(cves > 0);
        let want = expected_findings(&r, &[RHEL8]);
        let feed = s.state.store.list_feeds().await.unwrap().remove(0);
        let set = |enabled: bool| FeedUpdate {
            enabled: Some(enabled),
            ..FeedUpdate::default()
        };
        s.state
            .store
            .update_feed(feed.id, &set(false))
            .await
            .unwrap();
        let off = s.state.engine.reevaluate().await.unwrap();
        assert_eq!(off.hosts, 1);
        assert!(off.changed_answers > 0);
        let (_, h) = s.get_json("/api/v1/hosts/toggle.example.org").await;
        assert_eq!(h["cve_count"], 0);
        assert!(served_findings(&s, "toggle.example.org").await.is_empty());
        s.state
            .store
            .update_feed(feed.id, &set(true))
            .await
            .unwrap();
        let on = s.state.engine.reevaluate().await.unwrap();
        assert_eq!(on.changed_answers, off.changed_answers);
        let (_, h) = s.get_json("/api/v1/hosts/toggle.example.org").await;
        assert_eq!(h["cve_count"].as_i64().unwrap(), cves);
        assert_eq!(served_findings(&s, "toggle.example.org").await, want);
        // Stale keys with nothing changed: everything re-matched, nothing written.
        s.state
            .store
            .update_feed(feed.id, &set(false))
            .await
            .unwrap();
        s.state
            .store
            .update_feed(feed.id, &set(true))
            .await
            .unwrap();
        let noop = s.state.engine.reevaluate().await.unwrap();
        assert!(noop.package_versions > 0);
        assert_eq!((noop.changed_answers, noop.hosts), (0, 0));
        s.finish().await;
    }
}

/// The same bytes again take the no-parse unchanged path; a host deleted meanwhile is
/// saved again in full rather than lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_bodies_are_recorded_and_deleted_hosts_come_back() {
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        s.import_feed("rhel-8", RHEL8.0, RHEL8.1).await;
        let r = report("rocky_8", "same-bytes.example.org");
        let body = protocol5::render(&r).into_bytes();
        for _ in 0..3 {
            let (status, text) = s.post("?protocol=5", "text/plain", &[], body.clone()).await;
            assert_eq!((status, text.trim()), (200, "OK"));
        }
        let host = s
            .state
            .store
            .get_host_by_name("same-bytes.example.org")
            .await
            .unwrap()
            .unwrap();
        let cves = host.counts.cves;
        assert!(cves > 0);
        let (_, h) = s.get_json("/api/v1/hosts/same-bytes.example.org").await;
        assert_eq!(h["cve_count"].as_i64().unwrap(), cves);
        assert!(s.state.store.delete_host(host.id).await.unwrap());
        let (status, _) = s.post("?protocol=5", "text/plain", &[], body.clone()).await;
        assert_eq!(status, 200);
        let again = s
            .state
            .store
            .get_host_by_name("same-bytes.example.org")
            .await
            .unwrap()
            .expect("the host is saved again");
        assert_eq!(again.counts.cves, cves);
        assert_eq!(
            served_findings(&s, "same-bytes.example.org").await,
            expected_findings(&r, &[RHEL8])
        );
        s.finish().await;
    }
}

/// A feed change committed behind this server's back (another server sharing the database,
/// or a `pakiti feed` command) before a report's answers are written: the store refuses the
/// answers computed from the older index, the server catches up and evaluates again, so no
/// answer from the old data is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_from_an_index_older_than_the_feeds_are_not_stored() {
    use pakiti_store::FeedUpdate;
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        s.import_feed("rhel-8", RHEL8.0, RHEL8.1).await;
        let before = s.state.engine.evaluator().generation();
        // "Another server" disables the feed; this one has not noticed (no re-evaluation).
        let feed = s.state.store.list_feeds().await.unwrap().remove(0);
        s.state
            .store
            .update_feed(
                feed.id,
                &FeedUpdate {
                    enabled: Some(false),
                    ..FeedUpdate::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(s.state.engine.evaluator().generation(), before);
        let r = report("rocky_8", "race.example.org");
        let (status, text) = s.post_protocol5(&r).await;
        assert_eq!(status, 200, "{text}");
        let (_, h) = s.get_json("/api/v1/hosts/race.example.org").await;
        assert_eq!(
            h["cve_count"],
            0,
            "{}: evaluated with the disabled feed",
            s.backend()
        );
        assert!(served_findings(&s, "race.example.org").await.is_empty());
        assert_eq!(
            s.state.engine.evaluator().generation(),
            s.state.store.feed_generation().await.unwrap(),
            "the server caught up"
        );
        assert!(s.state.store.stale_keys().await.unwrap().keys.is_empty());
        s.finish().await;
    }
}

/// Between a reload and the re-evaluation of the stale keys, stored answers may predate the
/// index: a report's counts match those package versions in memory instead of trusting the
/// stored "clean".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_do_not_trust_answers_awaiting_reevaluation() {
    use pakiti_store::FeedUpdate;
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        s.import_feed("rhel-8", RHEL8.0, RHEL8.1).await;
        let feed = s.state.store.list_feeds().await.unwrap().remove(0);
        let set = |enabled: bool| FeedUpdate {
            enabled: Some(enabled),
            ..FeedUpdate::default()
        };
        s.state
            .store
            .update_feed(feed.id, &set(false))
            .await
            .unwrap();
        s.state.engine.reevaluate().await.unwrap();
        // Evaluated while the feed is off: every answer stored is "clean".
        let (status, _) = s
            .post_protocol5(&report("rocky_8", "first.example.org"))
            .await;
        assert_eq!(status, 200);
        let (_, h) = s.get_json("/api/v1/hosts/first.example.org").await;
        assert_eq!(h["cve_count"], 0);
        s.state
            .store
            .update_feed(feed.id, &set(true))
            .await
            .unwrap();
        // The index is reloaded, the stale keys not yet re-evaluated.
        s.state.engine.reload_advisories().await.unwrap();
        assert!(!s.state.store.stale_keys().await.unwrap().keys.is_empty());
        let (status, _) = s
            .post_protocol5(&report("rocky_8", "second.example.org"))
            .await;
        assert_eq!(status, 200);
        let (_, second) = s.get_json("/api/v1/hosts/second.example.org").await;
        s.state.engine.reevaluate().await.unwrap();
        let (_, first) = s.get_json("/api/v1/hosts/first.example.org").await;
        assert!(first["cve_count"].as_i64().unwrap() > 0);
        assert_eq!(
            second["cve_count"],
            first["cve_count"],
            "{}: counted from stale answers",
            s.backend()
        );
        s.finish().await;
    }
}
