//! What an operator's monitoring reads, through a real server: `/metrics` (parsed strictly,
//! counters moved by exactly the reports sent), who may read it, `/readyz` against a closed
//! store, and `pakiti check` as a real process against the API and directly on the store,
//! for each plugin exit code.

use std::collections::BTreeMap;
use std::process::{Command, Output};

use pakiti_server::settings::AuthMode;
use pakiti_test_support::databases;

use crate::support::{TestServer, report};

const DSA: (&str, &str) = ("debian-list", "dsa-bullseye.list");

/// One scrape: `name{labels}` (labels sorted, as written) → value.
type Samples = BTreeMap<String, f64>;

/// Parses an OpenMetrics/Prometheus text exposition strictly: every line is a `# HELP`,
/// `# TYPE`, `# UNIT` or the final `# EOF`, or a sample `name{k="v",…} value` whose family
/// was typed before; names and label names are valid, values are numbers; no sample twice.
fn parse(text: &str) -> Samples {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars().enumerate().all(|(i, c)| {
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
            })
    };
    let mut typed: Vec<(String, String)> = Vec::new();
    let mut out = Samples::new();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.last(),
        Some(&"# EOF"),
        "the exposition ends with # EOF"
    );
    for line in &lines[..lines.len() - 1] {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let kind = parts.next().unwrap();
            let name = parts.next().unwrap_or("");
            assert!(
                matches!(kind, "HELP" | "TYPE" | "UNIT"),
                "bad line {line:?}"
            );
            assert!(name_ok(name), "bad metric name in {line:?}");
            if kind == "TYPE" {
                let t = parts.next().unwrap_or("");
                assert!(
                    matches!(
                        t,
                        "counter" | "gauge" | "histogram" | "info" | "unknown" | "summary"
                    ),
                    "bad type in {line:?}"
                );
                typed.push((name.to_owned(), t.to_owned()));
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let name = series.split('{').next().unwrap();
        assert!(name_ok(name), "bad sample name in {line:?}");
        if let Some(labels) = series.strip_prefix(name)
            && !labels.is_empty()
        {
            let inner = labels
                .strip_prefix('{')
                .and_then(|l| l.strip_suffix('}'))
                .unwrap_or_else(|| panic!("bad labels in {line:?}"));
            for pair in inner.split("\",") {
                let (k, v) = pair.split_once("=\"").unwrap_or_else(|| panic!("{line:?}"));
                assert!(name_ok(k), "bad label name in {line:?}");
                assert!(!v.contains('\n'), "{line:?}");
            }
        }
        let family_typed = typed.iter().any(|(f, t)| {
            name == f
                || (t == "counter"
                    && (name == format!("{f}_total") || name == format!("{f}_created")))
                || (t == "histogram"
                    && [
                        format!("{f}_bucket"),
                        format!("{f}_sum"),
                        format!("{f}_count"),
                        format!("{f}_created"),
                    ]
                    .contains(&name.to_owned()))
        });
        assert!(family_typed, "sample {line:?} has no # TYPE before it");
        assert!(
            out.insert(series.to_owned(), value).is_none(),
            "sample {series} twice"
        );
    }
    out
}

fn get(s: &Samples, series: &str) -> f64 {
    s.get(series).copied().unwrap_or(0.0)
}

async fn scrape(s: &TestServer, auth: Option<&str>) -> (u16, String) {
    let mut req = s.client.get(format!("{}/metrics", s.base));
    if let Some(t) = auth {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Tags the most widespread CVE of the fleet as `watch` (reading the list as `token`'s user,
/// or the anonymous administrator of auth mode `none`); returns the CVE.
async fn tag_a_cve(s: &TestServer, token: Option<&str>) -> String {
    s.state.engine.fleet_up_to_date().await.unwrap();
    let mut req = s.client.get(format!("{}/api/v1/cves", s.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let text = req.send().await.unwrap().text().await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cve = v[0]["cve"]
        .as_str()
        .unwrap_or_else(|| panic!("no CVE in {v}"))
        .to_owned();
    let input = serde_json::from_value(
        serde_json::json!({"cve": cve, "tag": "watch", "reason": "monitoring test"}),
    )
    .unwrap();
    pakiti_server::handlers::tags::create(
        &s.state,
        &pakiti_server::auth::Viewer::anonymous_admin(),
        input,
    )
    .await
    .unwrap();
    cve
}

/// Counters move by exactly the reports sent, per protocol and reason; the gauges say what
/// the store holds (feed, hosts by state, pools, RSS).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_every_report_exactly() {
    for db in databases().await {
        let s = TestServer::start(db, |st| {
            st.metrics.cache_secs = 0;
        })
        .await;
        let be = s.backend();
        let (status, text) = scrape(&s, None).await;
        assert_eq!(status, 200, "{be}: {text}");
        let before = parse(&text);
        s.import_feed("dsa", DSA.0, DSA.1).await;

        let a = report("debian_11", "mon-a.example.org");
        let b = report("debian_11", "mon-b.example.org");
        assert_eq!(s.post_protocol4(&a).await.0, 200);
        assert_eq!(s.post_protocol5(&b).await.0, 200);
        // The same report again: unchanged.
        assert_eq!(s.post_protocol5(&b).await.0, 200);
        // Unreadable protocol 5 (no package line): refused, 400.
        let (st, body) = s
            .post(
                "?protocol=5",
                "text/plain",
                &[],
                b"garbage without a host\n".to_vec(),
            )
            .await;
        assert_eq!(st, 400, "{body}");

        let (status, text) = scrape(&s, None).await;
        assert_eq!(status, 200);
        let after = parse(&text);
        let moved = |series: &str| get(&after, series) - get(&before, series);
        assert_eq!(
            moved(r#"pakiti_reports_received_total{protocol="4"}"#),
            1.0,
            "{be}\n{text}"
        );
        assert_eq!(
            moved(r#"pakiti_reports_received_total{protocol="5"}"#),
            3.0,
            "{be}"
        );
        assert_eq!(
            moved(r#"pakiti_reports_accepted_total{protocol="4"}"#),
            1.0,
            "{be}"
        );
        assert_eq!(
            moved(r#"pakiti_reports_accepted_total{protocol="5"}"#),
            2.0,
            "{be}"
        );
        assert_eq!(
            moved(r#"pakiti_reports_refused_total{protocol="5",reason="bad_request"}"#),
            1.0,
            "{be}"
        );
        assert_eq!(
            moved(r#"pakiti_reports_processed_total{result="saved"}"#),
            2.0,
            "{be}"
        );
        assert_eq!(
            moved(r#"pakiti_reports_processed_total{result="unchanged"}"#),
            1.0,
            "{be}"
        );
        // Processing was timed for the two saved reports at least (the unchanged one may
        // have been recognised by its bytes without processing).
        let timed = moved("pakiti_ingest_duration_seconds_count");
        assert!((2.0..=3.0).contains(&timed), "{be}: {timed}");
        assert!(get(&after, "pakiti_ingest_duration_seconds_sum") > 0.0);
        assert!(get(&after, r#"pakiti_writer_batch_size_count{queue="save"}"#) >= 1.0);
        assert_eq!(
            get(&after, r#"pakiti_writer_queue_length{queue="save"}"#),
            0.0
        );
        assert_eq!(get(&after, "pakiti_async_queue_length"), 0.0);
        // Re-evaluation work done in this process (issue 17: one server of several does it).
        for series in [
            "pakiti_reevaluations_total",
            "pakiti_reevaluated_package_versions_total",
            "pakiti_reevaluated_hosts_total",
            "pakiti_reevaluation_seconds_total",
        ] {
            assert!(after.contains_key(series), "{be}: no {series}");
        }
        // The feed, the evaluator, hosts by state.
        let advisories = get(&after, r#"pakiti_feed_records{feed="dsa"}"#);
        assert!(advisories > 100.0, "{be}: {advisories}");
        assert!(after.contains_key(r#"pakiti_feed_age_seconds{feed="dsa"}"#));
        assert_eq!(
            get(&after, r#"pakiti_feed_last_sync_failed{feed="dsa"}"#),
            0.0
        );
        assert!(get(&after, "pakiti_evaluator_advisories") > 100.0);
        assert!(get(&after, "pakiti_evaluator_generation") >= 1.0);
        assert_eq!(get(&after, r#"pakiti_hosts{state="total"}"#), 2.0, "{be}");
        assert_eq!(get(&after, r#"pakiti_hosts{state="reporting"}"#), 2.0);
        assert_eq!(get(&after, r#"pakiti_hosts{state="stale"}"#), 0.0);
        assert_eq!(get(&after, r#"pakiti_hosts{state="vulnerable"}"#), 2.0);
        assert_eq!(get(&after, r#"pakiti_hosts{state="not_covered"}"#), 0.0);
        assert_eq!(get(&after, r#"pakiti_hosts{state="tagged"}"#), 0.0);
        let pool = if be == "sqlite" { "write" } else { "main" };
        assert!(
            get(
                &after,
                &format!(r#"pakiti_db_pool_connections{{pool="{pool}",state="max"}}"#)
            ) >= 1.0,
            "{be}"
        );
        assert!(get(&after, "process_resident_memory_bytes") > 1_000_000.0);

        // A tag on one of the hosts' CVEs: both hosts have it (same packages).
        tag_a_cve(&s, None).await;
        let after_tag = parse(&scrape(&s, None).await.1);
        assert_eq!(
            get(&after_tag, r#"pakiti_hosts{state="tagged"}"#),
            2.0,
            "{be}"
        );
        s.finish().await;
    }
}

/// `/metrics` answers the metrics token or an administrator on the main listener; on the
/// metrics listener anyone unless a token is set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_refused_without_the_token_or_an_admin() {
    let db = databases().await.into_iter().next().unwrap();
    let s = TestServer::start(db, |st| {
        st.auth.mode = AuthMode::Accounts;
        st.metrics.token = Some("metrics-s3cret".into());
    })
    .await;
    let h = pakiti_server::handlers::users::create_user;
    let root = h(&s.state, "root", Some("root-pw"), true).await.unwrap();
    let alice = h(&s.state, "alice", Some("alice-pw"), false).await.unwrap();
    let mk = pakiti_server::handlers::users::create_token;
    let (_, root_token) = mk(&s.state, &root, "t").await.unwrap();
    let (_, alice_token) = mk(&s.state, &alice, "t").await.unwrap();

    let (st, body) = scrape(&s, None).await;
    assert_eq!(st, 401, "{body}");
    assert!(!body.contains("pakiti_reports"), "{body}");
    let (st, body) = scrape(&s, Some("wrong")).await;
    assert_eq!(st, 401, "{body}");
    assert!(!body.contains("pakiti_reports"), "{body}");
    let (st, body) = scrape(&s, Some(&alice_token)).await;
    assert_eq!(st, 403, "a viewer who is not an administrator: {body}");
    let (st, body) = scrape(&s, Some("metrics-s3cret")).await;
    assert_eq!(st, 200, "{body}");
    parse(&body);
    let (st, body) = scrape(&s, Some(&root_token)).await;
    assert_eq!(st, 200, "{body}");

    // The metrics listener: token required when set…
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(pakiti_server::handlers::ops::serve_metrics(
        listener,
        s.state.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    let r = s
        .client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = s
        .client
        .get(format!("{base}/metrics"))
        .bearer_auth(&root_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "only the metrics token counts there");
    let r = s
        .client
        .get(format!("{base}/metrics"))
        .bearer_auth("metrics-s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    parse(&r.text().await.unwrap());
    for p in ["/healthz", "/readyz"] {
        let r = s.client.get(format!("{base}{p}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{p}");
    }
    // Nothing else is served there.
    let r = s.client.get(format!("{base}/hosts")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let _ = stop.send(());
    task.await.unwrap().unwrap();
    s.finish().await;

    // …and open without one (the site binds it to its monitoring network).
    let db = databases().await.into_iter().next().unwrap();
    let s = TestServer::start(db, |st| st.auth.mode = AuthMode::Accounts).await;
    let (st, _) = scrape(&s, None).await;
    assert_eq!(st, 401, "the main listener still wants an administrator");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(pakiti_server::handlers::ops::serve_metrics(
        listener,
        s.state.clone(),
        async move {
            let _ = stopped.await;
        },
    ));
    let r = s
        .client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let _ = stop.send(());
    task.await.unwrap().unwrap();
    s.finish().await;
}

/// `/readyz` is 200 while the store answers, 503 with a reason and `Retry-After` once it
/// does not; `/healthz` stays 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_when_the_store_is_gone() {
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        let be = s.backend();
        let r = s
            .client
            .get(format!("{}/readyz", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{be}");
        assert!(r.text().await.unwrap().starts_with("ready: "));
        s.state.store.close().await;
        let r = s
            .client
            .get(format!("{}/readyz", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 503, "{be}");
        assert!(r.headers().contains_key("retry-after"));
        let body = r.text().await.unwrap();
        assert!(
            body.starts_with("not ready: the store is unreachable"),
            "{be}: {body}"
        );
        let r = s
            .client
            .get(format!("{}/healthz", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{be}");
        s.finish().await;
    }
}

fn pakiti(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pakiti"));
    c.args(args)
        .env("PAKITI_LOG", "warn")
        .env_remove("PAKITI_TOKEN")
        .env_remove("PAKITI_BLESS");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run pakiti")
}

/// The status line of a run, its exit code asserted.
fn line(out: &Output, code: i32) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().count(), 1, "one status line: {stdout:?}");
    stdout.trim_end().to_owned()
}

/// `pakiti check` as Nagios runs it, against the API with a token and directly on the store:
/// 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, each with its status line and performance data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_command_exit_codes_via_api_and_store() {
    for db in databases().await {
        let s = TestServer::start(db, |st| st.auth.mode = AuthMode::Accounts).await;
        let be = s.backend();
        let root = pakiti_server::handlers::users::create_user(&s.state, "root", None, true)
            .await
            .unwrap();
        let (_, token) = pakiti_server::handlers::users::create_token(&s.state, &root, "nagios")
            .await
            .unwrap();
        let url = s.base.clone();
        let db_url = s.url().to_owned();
        let api = |extra: &[&str]| -> Output {
            let mut args = vec!["check", "--url", &url, "--token", &token];
            args.extend_from_slice(extra);
            pakiti(&args, &[])
        };

        // No feed yet: exposure cannot be judged, so UNKNOWN (never OK).
        let out = api(&[]);
        let l = line(&out, 3);
        assert!(
            l.starts_with("PAKITI UNKNOWN - 0 of 0 hosts exposed to tagged CVEs; no enabled vulnerability feed"),
            "{be}: {l}"
        );

        s.import_feed("dsa", DSA.0, DSA.1).await;
        let a = report("debian_11", "chk-a.example.org");
        assert_eq!(s.post_protocol4(&a).await.0, 200);
        let mut b = report("debian_11", "chk-b.example.org");
        b.site = Some("other".into());
        assert_eq!(s.post_protocol4(&b).await.0, 200);

        // OK: no tag yet.
        let l = line(&api(&[]), 0);
        assert!(
            l.starts_with("PAKITI OK - 0 of 2 hosts exposed to tagged CVEs | hosts=2;;;0 exposed=0;;0;0;2 not_reporting=0;;;0;2 not_covered=0;;;0;2 pending=0;;;0;2 source_age="),
            "{be}: {l}"
        );
        assert!(l.ends_with(" refused=0;;;0"), "{be}: {l}");

        tag_a_cve(&s, Some(&token)).await;
        // CRITICAL by default (-c 0): both hosts have the tagged CVE.
        let l = line(&api(&[]), 2);
        assert!(
            l.starts_with("PAKITI CRITICAL - 2 of 2 hosts exposed to tagged CVEs (chk-a.example.org, chk-b.example.org) | hosts=2;;;0 exposed=2;;0;0;2 "),
            "{be}: {l}"
        );
        // WARNING: above -w, not above -c.
        let l = line(&api(&["-w", "1", "-c", "5"]), 1);
        assert!(
            l.starts_with("PAKITI WARNING - 2 of 2 hosts exposed to tagged CVEs (chk-a.example.org, chk-b.example.org) | hosts=2;;;0 exposed=2;1;5;0;2 "),
            "{be}: {l}"
        );
        // Per group and per host, by tag name.
        let l = line(&api(&["--group", "other", "--tag", "watch"]), 2);
        assert!(
            l.starts_with("PAKITI CRITICAL - 1 of 1 hosts exposed to CVEs tagged \"watch\" (chk-b.example.org) | "),
            "{be}: {l}"
        );
        let l = line(&api(&["--tag", "nothing-has-this"]), 0);
        assert!(
            l.starts_with("PAKITI OK - 0 of 2 hosts exposed to CVEs tagged \"nothing-has-this\" |"),
            "{be}: {l}"
        );
        let l = line(&api(&["--host", "no-such.example.org"]), 3);
        assert!(
            l.contains("host no-such.example.org is not known"),
            "{be}: {l}"
        );
        // Not reporting (0 days: every host) and a refused report.
        let (st, _) = s
            .post("?protocol=5", "text/plain", &[], b"garbage\n".to_vec())
            .await;
        assert_eq!(st, 400);
        let l = line(
            &api(&[
                "--tag",
                "nothing-has-this",
                "--not-reporting-days",
                "0",
                "--not-reporting-warning",
                "1",
                "--refused-critical",
                "0",
            ]),
            2,
        );
        assert!(
            l.starts_with("PAKITI CRITICAL - 0 of 2 hosts exposed to CVEs tagged \"nothing-has-this\"; 1 reports refused in 24 h; 2 hosts not reporting for 0 days | "),
            "{be}: {l}"
        );
        assert!(l.contains(" not_reporting=2;1;;0;2 "), "{be}: {l}");
        assert!(l.ends_with(" refused=1;;0;0"), "{be}: {l}");
        // Feed age in hours: just imported, so fine at 1 h.
        let l = line(&api(&["-c", "5", "--source-age-critical", "1"]), 0);
        assert!(l.contains(" source_age="), "{l}");

        // UNKNOWN: a wrong token, a bad severity, a bad flag, nothing listening.
        let out = pakiti(&["check", "--url", &url, "--token", "wrong"], &[]);
        let l = line(&out, 3);
        assert!(l.starts_with("PAKITI UNKNOWN - "), "{l}");
        assert!(l.contains("401"), "{l}");
        let l = line(&api(&["--severity", "dire"]), 3);
        assert!(l.contains("unknown severity"), "{l}");
        let l = line(&api(&["--no-such-flag"]), 3);
        assert!(l.starts_with("PAKITI UNKNOWN - "), "{l}");
        let l = line(
            &pakiti(
                &["check", "--url", "http://127.0.0.1:9", "--timeout", "5"],
                &[],
            ),
            3,
        );
        assert!(l.contains("cannot reach"), "{l}");
        // The token from the environment.
        let l = line(
            &pakiti(
                &["check", "--url", &url, "-c", "5"],
                &[("PAKITI_TOKEN", &token)],
            ),
            0,
        );
        assert!(l.starts_with("PAKITI OK - 2 of 2 hosts"), "{l}");

        // Directly on the store: the same answers.
        let store = |extra: &[&str]| -> Output {
            let mut args = vec!["--database", &db_url, "check"];
            args.extend_from_slice(extra);
            pakiti(&args, &[])
        };
        let l = line(&store(&[]), 2);
        assert!(
            l.starts_with("PAKITI CRITICAL - 2 of 2 hosts exposed to tagged CVEs (chk-a.example.org, chk-b.example.org) | hosts=2;;;0 exposed=2;;0;0;2 "),
            "{be}: {l}"
        );
        line(&store(&["-w", "0", "-c", "2"]), 1);
        line(&store(&["--kev", "-c", "5"]), 3);
        let l = line(
            &store(&["--severity", "low", "--domain", "example.org", "-c", "5"]),
            0,
        );
        assert!(
            l.starts_with("PAKITI OK - 2 of 2 hosts exposed to CVEs of severity low or worse or unknown (chk-a.example.org, chk-b.example.org) | "),
            "{be}: {l}"
        );
        // The DSA list gives no severity: such CVEs count, whatever the severity asked.
        let l = line(&store(&["--severity", "critical", "--group", "other"]), 2);
        assert!(l.starts_with("PAKITI CRITICAL - 1 of 1 hosts exposed to CVEs of severity critical or worse or unknown (chk-b.example.org) | "), "{be}: {l}");
        s.finish().await;
    }
    // An empty store: no feed, UNKNOWN.
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("empty.db").display());
    let l = line(&pakiti(&["--database", &db, "check"], &[]), 3);
    assert!(l.contains("no enabled vulnerability feed"), "{l}");
}
