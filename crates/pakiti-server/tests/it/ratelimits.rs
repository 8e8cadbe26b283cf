//! Issue 15 item 4: the rate limits of `POST /feed/` (per client address, trusted proxies
//! spared or keyed on the address they forward) and of API tokens, and the limits page, through
//! real servers on 127.0.0.1 over SQLite and (with `PAKITI_TEST_POSTGRES_URL`) PostgreSQL.

use pakiti_api::json;
use pakiti_test_support::databases;
use reqwest::StatusCode;

use crate::authz::{Cred, accounts, get, login};
use crate::support::{TestServer, report};

/// A small real report for `host` (the limiter does not look at the body).
fn small(host: &str) -> Vec<u8> {
    let mut r = report("rhel_80", host);
    r.packages.truncate(5);
    json::render(&r).into_bytes()
}

/// A client whose connections come from `source` (a loopback address).
fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(Some(source.parse().unwrap()))
        .build()
        .unwrap()
}

/// `POST /feed/` from `client`: status, `Retry-After`, body.
async fn post_from(
    s: &TestServer,
    client: &reqwest::Client,
    host: &str,
    forwarded_for: Option<&str>,
) -> (u16, Option<u64>, String) {
    let mut rb = client
        .post(format!("{}/feed/", s.base))
        .header("content-type", "application/json")
        .body(small(host));
    if let Some(f) = forwarded_for {
        rb = rb.header("x-forwarded-for", f);
    }
    let r = rb.send().await.unwrap();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (r.status().as_u16(), retry, r.text().await.unwrap())
}

/// The value of one sample of `/metrics`.
async fn metric(s: &TestServer, sample: &str) -> Option<f64> {
    let text = s
        .client
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(sample))
        .and_then(|v| v.trim().parse().ok())
}

/// Past the burst, a client address gets 429 with `Retry-After` and the reason, its report is
/// not stored, the first refusal of the episode is listed as a refused report and every one is
/// counted; another address is not affected; with the limit off (the default) nothing is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_15_feed_rate_limit_answers_429_with_retry_after_after_the_burst() {
    for db in databases().await {
        let s = TestServer::start(db, |st| {
            st.limits.feed_rate_per_minute = 1;
            st.limits.feed_burst = 3;
        })
        .await;
        let be = s.backend();
        let one = client_from("127.0.0.1");
        for i in 0..3 {
            let (st, retry, text) = post_from(&s, &one, &format!("b{i}.example.org"), None).await;
            assert_eq!((st, retry), (200, None), "{be}: burst {i}: {text}");
        }
        for i in 3..6 {
            let (st, retry, text) = post_from(&s, &one, &format!("b{i}.example.org"), None).await;
            assert_eq!(st, 429, "{be}: {i}: {text}");
            let retry = retry.expect("Retry-After");
            assert!((1..=60).contains(&retry), "{be}: Retry-After {retry}");
            assert!(
                text.starts_with(
                    "ERROR: rate limited: more than 1 reports a minute (burst 3) from 127.0.0.1"
                ),
                "{be}: {text}"
            );
        }
        assert_eq!(
            s.host_total().await,
            3,
            "{be}: refused reports are not stored"
        );
        let (_, refused) = s.get_json("/api/v1/reports/refused").await;
        let rows = refused["reports"].as_array().unwrap();
        assert_eq!(
            rows.len(),
            1,
            "{be}: one refusal recorded per episode: {refused}"
        );
        assert_eq!(rows[0]["status"], 429, "{be}");
        assert_eq!(rows[0]["peer"], "127.0.0.1", "{be}");
        assert!(
            rows[0]["reason"]
                .as_str()
                .unwrap()
                .starts_with("rate limited"),
            "{be}: {refused}"
        );
        assert_eq!(
            metric(
                &s,
                "pakiti_reports_refused_total{protocol=\"unknown\",reason=\"rate_limited\"}"
            )
            .await,
            Some(3.0),
            "{be}"
        );
        // Another address has its own bucket.
        let two = client_from("127.0.0.2");
        let (st, _, text) = post_from(&s, &two, "other.example.org", None).await;
        assert_eq!(st, 200, "{be}: {text}");
        // A client's own X-Forwarded-For is not believed: still its address's bucket.
        let (st, _, _) = post_from(&s, &one, "b9.example.org", Some("198.51.100.9")).await;
        assert_eq!(st, 429, "{be}");
        s.finish().await;
    }
    // Off by default.
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        let be = s.backend();
        assert_eq!(s.state.settings.limits.feed_rate_per_minute, 0);
        let one = client_from("127.0.0.1");
        for i in 0..25 {
            let (st, retry, text) = post_from(&s, &one, &format!("o{i}.example.org"), None).await;
            assert_eq!((st, retry), (200, None), "{be}: {i}: {text}");
        }
        assert_eq!(s.host_total().await, 25, "{be}");
        s.finish().await;
    }
}

/// A trusted proxy (here an address in `[proxies] addresses`) relays many hosts: it is not
/// limited; with `feed_rate_forwarded_for` each address it forwards (the last
/// `X-Forwarded-For` entry) has its own bucket, and a forged earlier entry changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_15_feed_rate_limit_spares_trusted_proxies_or_keys_on_the_forwarded_address() {
    for db in databases().await {
        let s = TestServer::start(db, |st| {
            st.limits.feed_rate_per_minute = 1;
            st.limits.feed_burst = 2;
            st.proxies.addresses = vec!["127.0.0.3".parse().unwrap()];
        })
        .await;
        let be = s.backend();
        let proxy = client_from("127.0.0.3");
        for i in 0..6 {
            let (st, _, text) = post_from(&s, &proxy, &format!("p{i}.example.org"), None).await;
            assert_eq!(st, 200, "{be}: the proxy is not limited ({i}): {text}");
        }
        let one = client_from("127.0.0.1");
        for i in 0..2 {
            let (st, _, _) = post_from(&s, &one, &format!("c{i}.example.org"), None).await;
            assert_eq!(st, 200, "{be}");
        }
        let (st, retry, _) = post_from(&s, &one, "c2.example.org", None).await;
        assert_eq!((st, retry.is_some()), (429, true), "{be}: others still are");
        s.finish().await;
    }
    for db in databases().await {
        let s = TestServer::start(db, |st| {
            st.limits.feed_rate_per_minute = 1;
            st.limits.feed_burst = 2;
            st.limits.feed_rate_forwarded_for = true;
            st.proxies.addresses = vec!["127.0.0.3".parse().unwrap()];
        })
        .await;
        let be = s.backend();
        let proxy = client_from("127.0.0.3");
        let a = Some("198.51.100.7");
        for i in 0..2 {
            let (st, _, text) = post_from(&s, &proxy, &format!("f{i}.example.org"), a).await;
            assert_eq!(st, 200, "{be}: {text}");
        }
        let (st, retry, text) = post_from(&s, &proxy, "f2.example.org", a).await;
        assert_eq!((st, retry.is_some()), (429, true), "{be}: {text}");
        assert!(text.contains("from 198.51.100.7"), "{be}: {text}");
        // A client cannot escape by forging an entry before the proxy's.
        let forged = Some("203.0.113.1, 198.51.100.7");
        let (st, _, _) = post_from(&s, &proxy, "f3.example.org", forged).await;
        assert_eq!(st, 429, "{be}");
        // Another forwarded client has its own bucket; the proxy's own reports none.
        let (st, _, _) = post_from(&s, &proxy, "g.example.org", Some("198.51.100.8")).await;
        assert_eq!(st, 200, "{be}");
        for i in 0..4 {
            let (st, _, _) = post_from(&s, &proxy, &format!("own{i}.example.org"), None).await;
            assert_eq!(st, 200, "{be}");
        }
        let (_, refused) = s.get_json("/api/v1/reports/refused").await;
        assert_eq!(refused["reports"][0]["peer"], "198.51.100.7", "{be}");
        s.finish().await;
    }
}

/// Past its burst an API token gets 429 with `Retry-After` and a JSON error; another token, a
/// session cookie and `/metrics` are not counted against it; off by default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_15_api_token_rate_limit() {
    for db in databases().await {
        let s = TestServer::start(db, |st| {
            accounts(st);
            st.limits.api_token_rate_per_minute = 1;
            st.limits.api_token_burst = 2;
        })
        .await;
        let be = s.backend();
        let root = pakiti_server::handlers::users::create_user(&s.state, "root", Some("pw"), true)
            .await
            .unwrap();
        let (_, t1) = pakiti_server::handlers::users::create_token(&s.state, &root, "a")
            .await
            .unwrap();
        let (_, t2) = pakiti_server::handlers::users::create_token(&s.state, &root, "b")
            .await
            .unwrap();
        let (t1, t2) = (Cred::Bearer(t1), Cred::Bearer(t2));
        for i in 0..2 {
            let (st, body, _) = get(&s, &t1, "/api/v1/hosts").await;
            assert_eq!(st, StatusCode::OK, "{be}: {i}: {body}");
        }
        let r = reqwest::Client::new()
            .get(format!("{}/api/v1/hosts", s.base))
            .bearer_auth(match &t1 {
                Cred::Bearer(t) => t.as_str(),
                _ => unreachable!(),
            })
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "{be}");
        let retry: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry), "{be}: {retry}");
        let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        assert_eq!(v["status"], 429, "{be}: {v}");
        assert!(
            v["error"].as_str().unwrap().starts_with("rate limited"),
            "{be}: {v}"
        );
        // Pages count too.
        let (st, _, _) = get(&s, &t1, "/hosts").await;
        assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{be}");
        // Not /metrics, not another token, not a session.
        let (st, _, _) = get(&s, &t1, "/metrics").await;
        assert_eq!(st, StatusCode::OK, "{be}");
        for _ in 0..2 {
            let (st, _, _) = get(&s, &t2, "/api/v1/hosts").await;
            assert_eq!(st, StatusCode::OK, "{be}");
        }
        let cookie = Cred::Cookie(login(&s, "root", "pw").await.unwrap());
        for _ in 0..5 {
            let (st, _, _) = get(&s, &cookie, "/api/v1/hosts").await;
            assert_eq!(st, StatusCode::OK, "{be}");
        }
        s.finish().await;
    }
    for db in databases().await {
        let s = TestServer::start(db, accounts).await;
        let be = s.backend();
        let root = pakiti_server::handlers::users::create_user(&s.state, "root", Some("pw"), true)
            .await
            .unwrap();
        let (_, t) = pakiti_server::handlers::users::create_token(&s.state, &root, "a")
            .await
            .unwrap();
        let t = Cred::Bearer(t);
        for i in 0..40 {
            let (st, _, _) = get(&s, &t, "/api/v1/hosts").await;
            assert_eq!(st, StatusCode::OK, "{be}: off by default ({i})");
        }
        s.finish().await;
    }
}

/// `/limits` and `GET /api/v1/limits` list every limit with the value in force and its
/// default, to administrators only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_15_limits_page_and_api_for_administrators() {
    for db in databases().await {
        let s = TestServer::start(db, |st| {
            accounts(st);
            st.limits.feed_rate_per_minute = 12;
            st.limits.max_packages = 20_000;
        })
        .await;
        let be = s.backend();
        let h = pakiti_server::handlers::users::create_user;
        let root = h(&s.state, "root", Some("root-pw"), true).await.unwrap();
        h(&s.state, "alice", Some("alice-pw"), false).await.unwrap();
        let (_, token) = pakiti_server::handlers::users::create_token(&s.state, &root, "t")
            .await
            .unwrap();
        let root = Cred::Cookie(login(&s, "root", "root-pw").await.unwrap());
        let alice = Cred::Cookie(login(&s, "alice", "alice-pw").await.unwrap());
        for cred in [root.clone(), Cred::Bearer(token)] {
            let (st, body, _) = get(&s, &cred, "/api/v1/limits").await;
            assert_eq!(st, StatusCode::OK, "{be}: {body}");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            let rows = v.as_array().unwrap();
            let row = |name: &str| {
                rows.iter()
                    .find(|r| r["setting"] == name)
                    .unwrap_or_else(|| panic!("{be}: no {name} in {v}"))
                    .clone()
            };
            let feed = row("limits.feed_rate_per_minute");
            assert_eq!(feed["value"], "12", "{be}");
            assert_eq!(feed["default"], "0", "{be}");
            assert_eq!(feed["unit"], "reports/minute");
            assert_eq!(row("limits.max_packages")["value"], "20000");
            for name in [
                "max_report_bytes",
                "limits.max_body_memory_bytes",
                "limits.body_read_timeout_secs",
                "limits.max_connections_per_address",
                "limits.max_concurrent_decryptions",
                "limits.api_token_rate_per_minute",
                "auth.login_max_failures",
            ] {
                assert!(!row(name)["meaning"].as_str().unwrap().is_empty());
            }
        }
        let (st, html, _) = get(&s, &root, "/limits").await;
        assert_eq!(st, StatusCode::OK, "{be}");
        assert!(
            html.contains("<code>limits.feed_rate_per_minute</code>"),
            "{be}"
        );
        assert!(html.contains("12 <em>(changed)</em>"), "{be}: {html}");
        for p in ["/limits", "/api/v1/limits"] {
            let (st, _, _) = get(&s, &alice, p).await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{be} {p}");
        }
        let (st, _, _) = get(&s, &Cred::Nothing, "/api/v1/limits").await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{be}");
        let (st, _, loc) = get(&s, &Cred::Nothing, "/limits").await;
        assert_eq!(st, StatusCode::SEE_OTHER, "{be}");
        assert_eq!(loc.as_deref(), Some("/login?next=/limits"), "{be}");
        s.finish().await;
    }
}
