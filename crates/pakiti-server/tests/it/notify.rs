//! Notifications (#14 part 6) through a real server, a real SMTP sink and a real webhook
//! listener, both on 127.0.0.1 and started here: rules fire once (not again after another
//! tick or a restart), respect their scope, batch in digests, retry failing destinations
//! with the error on the page, and the test-send button delivers.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use pakiti_server::settings::{Settings, SmtpSecurity};
use pakiti_store::{HostScope, NewCveTag};
use pakiti_test_support::databases;
use sha2::Sha256;
use time::OffsetDateTime;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::support::{TestServer, report};

/// One mail the sink accepted.
#[derive(Clone, Debug)]
pub(crate) struct Mail {
    pub(crate) from: String,
    pub(crate) to: Vec<String>,
    pub(crate) data: String,
}

/// A tiny SMTP server: records MAIL FROM, RCPT TO and DATA; with `fail` set it answers
/// MAIL FROM with a temporary error.
pub(crate) struct SmtpSink {
    pub(crate) port: u16,
    pub(crate) mails: Arc<Mutex<Vec<Mail>>>,
    pub(crate) fail: Arc<AtomicBool>,
}

fn angle(s: &str) -> String {
    match (s.find('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => s[a + 1..b].to_owned(),
        _ => s.trim().to_owned(),
    }
}

impl SmtpSink {
    pub(crate) async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let fail = Arc::new(AtomicBool::new(false));
        let (m, f) = (mails.clone(), fail.clone());
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let (m, f) = (m.clone(), f.clone());
                tokio::spawn(async move {
                    let (r, mut w) = conn.into_split();
                    let mut r = BufReader::new(r);
                    let _ = w.write_all(b"220 sink ESMTP\r\n").await;
                    let (mut from, mut to) = (String::new(), Vec::new());
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                            break;
                        }
                        let up = line.to_ascii_uppercase();
                        let answer: &[u8] = if up.starts_with("EHLO") {
                            b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
                        } else if up.starts_with("HELO") {
                            b"250 sink\r\n"
                        } else if up.starts_with("MAIL FROM:") {
                            if f.load(Ordering::SeqCst) {
                                b"451 4.3.0 sink is failing on purpose\r\n"
                            } else {
                                from = angle(&line);
                                to.clear();
                                b"250 OK\r\n"
                            }
                        } else if up.starts_with("RCPT TO:") {
                            to.push(angle(&line));
                            b"250 OK\r\n"
                        } else if up.starts_with("DATA") {
                            let _ = w.write_all(b"354 go ahead\r\n").await;
                            let mut data = String::new();
                            loop {
                                let mut l = String::new();
                                if r.read_line(&mut l).await.unwrap_or(0) == 0 {
                                    return;
                                }
                                if l == ".\r\n" {
                                    break;
                                }
                                data.push_str(l.strip_prefix('.').unwrap_or(&l));
                            }
                            m.lock().unwrap().push(Mail {
                                from: from.clone(),
                                to: std::mem::take(&mut to),
                                data,
                            });
                            b"250 queued\r\n"
                        } else if up.starts_with("QUIT") {
                            let _ = w.write_all(b"221 bye\r\n").await;
                            break;
                        } else {
                            b"250 OK\r\n"
                        };
                        if w.write_all(answer).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        SmtpSink { port, mails, fail }
    }

    pub(crate) fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }
}

/// One webhook call the listener accepted (its signature verified).
#[derive(Clone, Debug)]
pub(crate) struct Call {
    pub(crate) body: serde_json::Value,
    pub(crate) delivery: String,
}

#[derive(Clone)]
struct HookState {
    secret: String,
    calls: Arc<Mutex<Vec<Call>>>,
    bad: Arc<AtomicUsize>,
    fail: Arc<AtomicBool>,
}

/// A webhook listener (axum on 127.0.0.1) that checks `X-Pakiti-Signature` against its own
/// HMAC-SHA256 of `"<X-Pakiti-Timestamp>.<body>"`; with `fail` set it answers 500.
pub(crate) struct HookListener {
    pub(crate) url: String,
    pub(crate) secret: String,
    pub(crate) calls: Arc<Mutex<Vec<Call>>>,
    /// Calls whose signature or timestamp did not verify.
    pub(crate) bad: Arc<AtomicUsize>,
    pub(crate) fail: Arc<AtomicBool>,
}

async fn hook(
    State(st): State<HookState>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    if st.fail.load(Ordering::SeqCst) {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "listener failing on purpose".into(),
        );
    }
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let ts = h("x-pakiti-timestamp");
    let mut mac = Hmac::<Sha256>::new_from_slice(st.secret.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(&body);
    let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let fresh = ts
        .parse::<i64>()
        .is_ok_and(|t| (OffsetDateTime::now_utc().unix_timestamp() - t).abs() < 300);
    if h("x-pakiti-signature") != want || !fresh || h("content-type") != "application/json" {
        st.bad.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::UNAUTHORIZED, "bad signature".into());
    }
    st.calls.lock().unwrap().push(Call {
        body: serde_json::from_slice(&body).unwrap(),
        delivery: h("x-pakiti-delivery"),
    });
    (StatusCode::OK, "ok".into())
}

impl HookListener {
    pub(crate) async fn start(secret: &str) -> HookListener {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let st = HookState {
            secret: secret.to_owned(),
            calls: Arc::new(Mutex::new(Vec::new())),
            bad: Arc::new(AtomicUsize::new(0)),
            fail: Arc::new(AtomicBool::new(false)),
        };
        let out = HookListener {
            url,
            secret: secret.to_owned(),
            calls: st.calls.clone(),
            bad: st.bad.clone(),
            fail: st.fail.clone(),
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(st);
        tokio::spawn(async move { axum::serve(listener, app).await });
        out
    }

    pub(crate) fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

/// Settings sending e-mail to `sink` in plain SMTP.
pub(crate) fn smtp_to(sink_port: u16) -> impl FnOnce(&mut Settings) {
    move |s: &mut Settings| {
        s.notify.smtp.host = "127.0.0.1".into();
        s.notify.smtp.port = sink_port;
        s.notify.smtp.security = SmtpSecurity::None;
        s.notify.smtp.from = "pakiti@example.org".into();
    }
}

/// Polls `cond` for up to 20 s.
pub(crate) async fn wait_for(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..400 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// `POST /api/v1/notifications/rules` with `body`; returns status and answer.
async fn create_rule(s: &TestServer, body: serde_json::Value) -> (u16, serde_json::Value) {
    let r = s
        .client
        .post(format!("{}/api/v1/notifications/rules", s.base))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    let text = r.text().await.unwrap_or_default();
    (
        st,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

async fn outbox(s: &TestServer) -> Vec<serde_json::Value> {
    let (st, v) = s.get_json("/api/v1/notifications/outbox").await;
    assert_eq!(st, 200);
    v.as_array().unwrap().clone()
}

/// Reports `list` as `host` of group `site` over HTTP (protocol 4).
async fn report_host(s: &TestServer, list: &str, host: &str, site: &str) {
    let mut r = report(list, host);
    r.site = Some(site.into());
    let (st, text) = s.post_protocol4(&r).await;
    assert_eq!(st, 200, "{text}");
}

/// A host of group brno reports; one of its CVEs is tagged; returns that CVE.
async fn tag_a_cve_of(s: &TestServer, host: &str) -> String {
    report_host(s, "rhel_80", host, "brno").await;
    let fleet = s.state.engine.fleet_up_to_date().await.unwrap();
    let cve = fleet
        .cves(&HostScope::All)
        .into_iter()
        .find(|c| c.cve.starts_with("CVE-"))
        .expect("the rhel_80 host has CVEs")
        .cve;
    s.state
        .store
        .create_cve_tag(&NewCveTag {
            cve: cve.clone(),
            tag: "Critical".into(),
            reason: "site policy".into(),
            info_url: None,
            enabled: true,
            author: "test".into(),
        })
        .await
        .unwrap();
    s.state.engine.refresh_fleet_now().await.unwrap();
    cve
}

/// A host reports with a tagged CVE after the rule exists: one e-mail and one signed webhook,
/// naming only the host in the rule's group; not again after another tick nor a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_tagged_exposure_delivers_once_within_scope() {
    for db in databases().await {
        let sink = SmtpSink::start().await;
        let hook = HookListener::start("s3cret-hook").await;
        let s = TestServer::start(db, smtp_to(sink.port)).await;
        let be = s.backend();
        s.import_feed("rhel-8", "redhat-oval", "rhel-8.oval.xml.bz2")
            .await;
        let cve = tag_a_cve_of(&s, "b1.brno.example.org").await;
        let (st, rule) = create_rule(
            &s,
            serde_json::json!({
                "name": "prague tagged",
                "groups": ["prague"],
                "triggers": ["tagged"],
                "emails": ["sec@example.org", "ops@example.org"],
                "webhook_url": hook.url,
                "webhook_secret": hook.secret,
            }),
        )
        .await;
        assert_eq!(st, 201, "{be} {rule}");
        assert_eq!(rule["webhook_secret_set"], true);
        assert!(
            rule.get("webhook_secret").is_none(),
            "the secret is never shown"
        );
        // First evaluation: the baseline (the brno host is out of scope anyway).
        pakiti_server::notify::tick(&s.state, OffsetDateTime::now_utc()).await;
        assert!(outbox(&s).await.is_empty(), "{be}");
        // A prague host reports with the tagged CVE; another brno host too (out of scope).
        report_host(&s, "rhel_80", "p1.prague.example.org", "prague").await;
        report_host(&s, "rhel_80", "b2.brno.example.org", "brno").await;
        pakiti_server::notify::tick(&s.state, OffsetDateTime::now_utc()).await;
        wait_for("two mails and one webhook", || {
            sink.mails().len() == 2 && hook.calls().len() == 1
        })
        .await;
        let mails = sink.mails();
        let mut rcpts: Vec<String> = mails.iter().flat_map(|m| m.to.clone()).collect();
        rcpts.sort();
        assert_eq!(rcpts, ["ops@example.org", "sec@example.org"], "{be}");
        for m in &mails {
            assert_eq!(m.from, "pakiti@example.org");
            assert!(m.data.contains("p1.prague.example.org"), "{be} {}", m.data);
            assert!(m.data.contains(&cve), "{be}");
            assert!(
                !m.data.contains("brno.example.org"),
                "{be} scope: {}",
                m.data
            );
            assert!(
                m.data.contains(
                    "Subject: [pakiti] prague tagged: p1.prague.example.org is exposed to"
                )
            );
        }
        let call = &hook.calls()[0];
        assert_eq!(hook.bad.load(Ordering::SeqCst), 0, "{be}: bad signatures");
        let events = call.body["events"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{be} {}", call.body);
        assert_eq!(events[0]["kind"], "exposure");
        assert_eq!(events[0]["host"], "p1.prague.example.org");
        assert_eq!(events[0]["cve"], cve.as_str());
        assert_eq!(events[0]["reasons"][0], "tagged:Critical");
        assert_eq!(call.body["rule"], "prague tagged");
        assert_eq!(call.body["mode"], "immediate");
        let rows = outbox(&s).await;
        assert_eq!(rows.len(), 3, "{be}");
        assert!(
            rows.iter()
                .all(|r| r["status"] == "sent" && r["attempts"] == 1),
            "{be} {rows:?}"
        );
        assert!(
            rows.iter()
                .any(|r| r["id"].as_i64().map(|i| i.to_string()) == Some(call.delivery.clone()))
        );
        // Another tick: nothing new.
        pakiti_server::notify::tick(&s.state, OffsetDateTime::now_utc()).await;
        // A restart (its first housekeeping step evaluates the rules again): nothing new.
        let s = s.restart().await;
        pakiti_server::notify::tick(&s.state, OffsetDateTime::now_utc()).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(outbox(&s).await.len(), 3, "{be}: re-sent after a restart");
        assert_eq!(sink.mails().len(), 2, "{be}");
        assert_eq!(hook.calls().len(), 1, "{be}");
        s.finish().await;
    }
}

/// Digest rules collect their events and send one message per destination at the digest
/// hour, with every event in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_digest_batches_events() {
    for db in databases().await {
        let sink = SmtpSink::start().await;
        let hook = HookListener::start("digest-secret").await;
        let s = TestServer::start(db, smtp_to(sink.port)).await;
        let be = s.backend();
        s.import_feed("rhel-8", "redhat-oval", "rhel-8.oval.xml.bz2")
            .await;
        let cve = tag_a_cve_of(&s, "b1.brno.example.org").await;
        let (st, rule) = create_rule(
            &s,
            serde_json::json!({
                "name": "daily",
                "triggers": ["tagged", "kev"],
                "mode": "digest",
                "emails": ["sec@example.org"],
                "webhook_url": hook.url,
                "webhook_secret": hook.secret,
            }),
        )
        .await;
        assert_eq!(st, 201, "{be} {rule}");
        let now = OffsetDateTime::now_utc();
        pakiti_server::notify::tick(&s.state, now).await;
        report_host(&s, "rhel_80", "p1.prague.example.org", "prague").await;
        pakiti_server::notify::tick(&s.state, now).await;
        report_host(&s, "rhel_80", "p2.prague.example.org", "prague").await;
        pakiti_server::notify::tick(&s.state, now).await;
        assert!(
            outbox(&s).await.is_empty(),
            "{be}: a digest rule sent at once"
        );
        // The next digest time.
        let next =
            pakiti_server::notify::rules::digest_due(now, s.state.settings.notify.digest_hour)
                + time::Duration::days(1)
                + time::Duration::minutes(1);
        pakiti_server::notify::tick(&s.state, next).await;
        wait_for("one digest mail and webhook", || {
            sink.mails().len() == 1 && hook.calls().len() == 1
        })
        .await;
        let body = &hook.calls()[0].body;
        assert_eq!(body["mode"], "digest", "{be}");
        let hosts: Vec<&str> = body["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["host"].as_str().unwrap())
            .collect();
        assert_eq!(hosts.len(), 2, "{be} {body}");
        assert!(
            hosts.contains(&"p1.prague.example.org") && hosts.contains(&"p2.prague.example.org")
        );
        let mail = &sink.mails()[0];
        assert!(
            mail.data.contains("daily digest, 2 event(s)"),
            "{be} {}",
            mail.data
        );
        assert!(mail.data.contains(&cve));
        // The same digest time again: nothing more.
        pakiti_server::notify::tick(&s.state, next + time::Duration::minutes(5)).await;
        assert_eq!(outbox(&s).await.len(), 2, "{be}");
        s.finish().await;
    }
}

/// A failing SMTP server and a failing webhook: the outbox keeps the messages, shows the
/// errors (API and page), retries later with backoff and delivers once they work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_failing_destination_is_retried_and_shown() {
    for db in databases().await {
        let sink = SmtpSink::start().await;
        let hook = HookListener::start("retry-secret").await;
        sink.fail.store(true, Ordering::SeqCst);
        hook.fail.store(true, Ordering::SeqCst);
        let s = TestServer::start(db, smtp_to(sink.port)).await;
        let be = s.backend();
        let (st, rule) = create_rule(
            &s,
            serde_json::json!({
                "name": "retry",
                "triggers": ["sync-failing"],
                "emails": ["sec@example.org"],
                "webhook_url": hook.url,
                "webhook_secret": hook.secret,
            }),
        )
        .await;
        assert_eq!(st, 201, "{be} {rule}");
        let r = s
            .client
            .post(format!(
                "{}/api/v1/notifications/rules/{}/test",
                s.base, rule["id"]
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let rows = loop {
            let rows = outbox(&s).await;
            if rows.len() == 2 && rows.iter().all(|r| r["status"] == "retrying") {
                break rows;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let err = |kind: &str| {
            rows.iter().find(|r| r["kind"] == kind).unwrap()["last_error"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        assert!(
            err("email").contains("sink is failing on purpose"),
            "{be} {}",
            err("email")
        );
        assert!(err("webhook").contains("500"), "{be} {}", err("webhook"));
        assert!(err("webhook").contains("listener failing on purpose"));
        let page = s
            .client
            .get(format!("{}/notifications", s.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("sink is failing on purpose"), "{be}");
        assert!(page.contains("listener failing on purpose"), "{be}");
        assert!(page.contains("retrying"));
        // Not due yet: nothing is attempted.
        let now = OffsetDateTime::now_utc();
        assert_eq!(
            pakiti_server::notify::deliver_due(&s.state, now)
                .await
                .unwrap(),
            0
        );
        // The destinations recover; after the backoff both are delivered.
        sink.fail.store(false, Ordering::SeqCst);
        hook.fail.store(false, Ordering::SeqCst);
        let later = now + time::Duration::hours(1);
        assert_eq!(
            pakiti_server::notify::deliver_due(&s.state, later)
                .await
                .unwrap(),
            2,
            "{be}"
        );
        assert_eq!(sink.mails().len(), 1);
        assert_eq!(hook.calls().len(), 1);
        assert_eq!(hook.calls()[0].body["mode"], "test");
        let rows = outbox(&s).await;
        assert!(
            rows.iter()
                .all(|r| r["status"] == "sent" && r["attempts"] == 2),
            "{be} {rows:?}"
        );
        assert!(rows.iter().all(|r| r["last_error"].is_null()));
        s.finish().await;
    }
}

/// The backoff doubles from `retry_secs` and stops at 6 h; a message is given up after
/// `max_attempts`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_gives_up_after_max_attempts() {
    use pakiti_server::notify::backoff;
    assert_eq!(backoff(60, 1).whole_seconds(), 60);
    assert_eq!(backoff(60, 2).whole_seconds(), 120);
    assert_eq!(backoff(60, 5).whole_seconds(), 960);
    assert_eq!(backoff(60, 30).whole_seconds(), 6 * 3600);
    let hook = HookListener::start("x").await;
    hook.fail.store(true, Ordering::SeqCst);
    let s = TestServer::start(pakiti_test_support::TestDatabase::sqlite(), |st| {
        st.notify.max_attempts = 2;
    })
    .await;
    let (st, rule) = create_rule(
        &s,
        serde_json::json!({"name": "w", "triggers": ["refused"], "webhook_url": hook.url, "webhook_secret": "x"}),
    )
    .await;
    assert_eq!(st, 201, "{rule}");
    let rule = s
        .state
        .store
        .get_notify_rule(rule["id"].as_i64().unwrap())
        .await
        .unwrap()
        .unwrap();
    let rows = pakiti_server::notify::outbox_rows(
        &rule,
        &pakiti_server::notify::message(&rule, "test", Vec::new(), OffsetDateTime::now_utc()),
    )
    .unwrap();
    let now = OffsetDateTime::now_utc();
    s.state
        .store
        .enqueue_notifications(&rows, now)
        .await
        .unwrap();
    pakiti_server::notify::deliver_due(&s.state, now)
        .await
        .unwrap();
    assert_eq!(outbox(&s).await[0]["status"], "retrying");
    pakiti_server::notify::deliver_due(&s.state, now + time::Duration::days(1))
        .await
        .unwrap();
    let row = &outbox(&s).await[0];
    assert_eq!(row["status"], "failed", "{row}");
    assert_eq!(row["attempts"], 2);
    assert_eq!(row["next_attempt_at"], "");
    // Given up: never attempted again.
    hook.fail.store(false, Ordering::SeqCst);
    assert_eq!(
        pakiti_server::notify::deliver_due(&s.state, now + time::Duration::days(30))
            .await
            .unwrap(),
        0
    );
    s.finish().await;
}

/// Rules are created through the HTML form and test-sent with the button's form (CSRF
/// checked); bad rules are refused with a clear error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_test_send_button_delivers() {
    for db in databases().await {
        let sink = SmtpSink::start().await;
        let hook = HookListener::start("form-secret").await;
        let s = TestServer::start(db, smtp_to(sink.port)).await;
        let be = s.backend();
        let client = crate::authz::no_redirects();
        let page = client
            .get(format!("{}/notifications", s.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = csrf_of(&page);
        let form = [
            ("csrf", csrf.as_str()),
            ("name", "form rule"),
            ("groups", "prague, brno"),
            ("trigger_kev", "on"),
            ("trigger_not_reporting", "on"),
            ("not_reporting_days", "3"),
            ("mode", "immediate"),
            ("emails", "a@example.org"),
            ("webhook_url", hook.url.as_str()),
            ("webhook_secret", hook.secret.as_str()),
        ];
        let r = client
            .post(format!("{}/notifications", s.base))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{be}");
        let (_, rules) = s.get_json("/api/v1/notifications/rules").await;
        let rule = &rules[0];
        assert_eq!(rule["groups"], serde_json::json!(["prague", "brno"]));
        assert_eq!(
            rule["triggers"],
            serde_json::json!(["kev", "not-reporting"])
        );
        assert_eq!(rule["not_reporting_days"], 3);
        let id = rule["id"].as_i64().unwrap();
        // Without the CSRF token: refused, nothing queued.
        let r = client
            .post(format!("{}/notifications/{id}/test", s.base))
            .form(&[("csrf", "wrong")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{be}");
        assert!(outbox(&s).await.is_empty());
        let r = client
            .post(format!("{}/notifications/{id}/test", s.base))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{be}");
        assert_eq!(
            r.headers()["location"].to_str().unwrap(),
            "/notifications?queued=2"
        );
        wait_for("the test mail and webhook", || {
            sink.mails().len() == 1 && hook.calls().len() == 1
        })
        .await;
        assert!(
            sink.mails()[0]
                .data
                .contains("Subject: [pakiti] form rule: test message")
        );
        assert_eq!(sink.mails()[0].to, ["a@example.org"]);
        assert_eq!(hook.calls()[0].body["mode"], "test");
        assert_eq!(hook.bad.load(Ordering::SeqCst), 0);
        // Bad rules: a clear 400.
        for (body, want) in [
            (
                serde_json::json!({"name": "x", "triggers": ["sometimes"], "emails": ["a@example.org"]}),
                "unknown trigger",
            ),
            (
                serde_json::json!({"name": "x", "triggers": ["kev"], "emails": ["not an address"]}),
                "not an e-mail address",
            ),
            (
                serde_json::json!({"name": "x", "triggers": ["kev"], "webhook_url": "http://127.0.0.1/h"}),
                "needs a secret",
            ),
            (
                serde_json::json!({"name": "x", "triggers": ["kev"]}),
                "needs a destination",
            ),
            (
                serde_json::json!({"name": "x", "triggers": ["kev"], "mode": "weekly", "emails": ["a@example.org"]}),
                "unknown mode",
            ),
            (
                serde_json::json!({"name": "form rule", "triggers": ["kev"], "emails": ["a@example.org"]}),
                "already exists",
            ),
        ] {
            let (st, v) = create_rule(&s, body).await;
            assert_eq!(st, 400, "{be} {want}");
            assert!(v.to_string().contains(want), "{be} {v}");
        }
        // Delete through its form.
        let r = client
            .post(format!("{}/notifications/{id}/delete", s.base))
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let (_, rules) = s.get_json("/api/v1/notifications/rules").await;
        assert_eq!(rules, serde_json::json!([]));
        assert_eq!(outbox(&s).await.len(), 2, "outbox rows outlive their rule");
        s.finish().await;
    }
}

/// The CSRF token of the first form of a page.
pub(crate) fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    page[at..].split('"').next().unwrap().to_owned()
}
