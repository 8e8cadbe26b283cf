//! Built-in accounts: the last administrator is kept, and failed log-ins are rate limited.

use pakiti_test_support::databases;
use reqwest::StatusCode;

use crate::authz::{Cred, accounts, csrf_of, get, login, no_redirects, post_form};
use crate::support::TestServer;

/// With built-in accounts the last enabled administrator cannot be removed, demoted or
/// disabled, through the pages or the API: 409 with the reason. With a second admin it can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_admin_cannot_be_removed_or_demoted() {
    for db in databases().await {
        let s = TestServer::start(db, accounts).await;
        let h = pakiti_server::handlers::users::create_user;
        let root = h(&s.state, "root", Some("root-pw"), true).await.unwrap();
        let cookie = login(&s, "root", "root-pw").await.unwrap();
        let (_, page, _) = get(&s, &Cred::Cookie(cookie.clone()), "/users").await;
        let csrf = csrf_of(&page);
        let (_, token) = pakiti_server::handlers::users::create_token(&s.state, &root, "t")
            .await
            .unwrap();
        let api = |method: reqwest::Method, body: Option<serde_json::Value>| {
            let mut rb = no_redirects()
                .request(method, format!("{}/api/v1/users/root", s.base))
                .bearer_auth(&token);
            if let Some(b) = body {
                rb = rb
                    .header("content-type", "application/json")
                    .body(b.to_string());
            }
            rb.send()
        };
        for (path, pairs) in [
            ("/users/root/delete", vec![("csrf", csrf.as_str())]),
            (
                "/users/root/admin",
                vec![("csrf", csrf.as_str()), ("admin", "false")],
            ),
        ] {
            let r = no_redirects()
                .post(format!("{}{path}", s.base))
                .header("cookie", format!("pakiti_session={cookie}"))
                .form(&pairs)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CONFLICT, "{path}");
            let body = r.text().await.unwrap();
            assert!(
                body.contains("root is the last enabled administrator"),
                "{path}: {body}"
            );
        }
        for (method, body) in [
            (reqwest::Method::DELETE, None),
            (
                reqwest::Method::PATCH,
                Some(serde_json::json!({"admin": false})),
            ),
            (
                reqwest::Method::PATCH,
                Some(serde_json::json!({"disabled": true})),
            ),
        ] {
            let r = api(method.clone(), body).await.unwrap();
            assert_eq!(r.status(), StatusCode::CONFLICT, "{method}");
            let j: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            assert!(
                j["error"]
                    .as_str()
                    .unwrap()
                    .contains("last enabled administrator"),
                "{j}"
            );
        }
        let u = s
            .state
            .store
            .get_user_by_name("root")
            .await
            .unwrap()
            .unwrap();
        assert!(u.admin && !u.disabled, "{}", s.backend());
        // With a second admin, root can be demoted.
        h(&s.state, "carol", Some("carol-pw"), true).await.unwrap();
        let r = api(
            reqwest::Method::PATCH,
            Some(serde_json::json!({"admin": false})),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let carol = login(&s, "carol", "carol-pw").await.unwrap();
        assert_eq!(
            post_form(&s, &carol, "/users/carol/delete", &[("csrf", "x")]).await,
            StatusCode::FORBIDDEN,
            "CSRF comes first"
        );
        s.finish().await;
    }
}

/// POSTs the log-in form from client address `from` (the server believes `X-Forwarded-For`
/// from 127.0.0.1 in these tests); returns the status, `Retry-After` and the body.
async fn login_from(
    s: &TestServer,
    from: &str,
    user: &str,
    password: &str,
) -> (StatusCode, Option<u64>, String) {
    let c = no_redirects();
    let r = c.get(format!("{}/login", s.base)).send().await.unwrap();
    let pre = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("pakiti_login_csrf="))
        .map(|v| v.split(';').next().unwrap().to_owned())
        .unwrap();
    let csrf = csrf_of(&r.text().await.unwrap());
    let r = c
        .post(format!("{}/login", s.base))
        .header("cookie", format!("pakiti_login_csrf={pre}"))
        .header("x-forwarded-for", format!("203.0.113.250, {from}"))
        .form(&[
            ("user", user),
            ("password", password),
            ("csrf", &csrf),
            ("next", "/hosts"),
        ])
        .send()
        .await
        .unwrap();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (r.status(), retry, r.text().await.unwrap())
}

/// Five failed log-ins from one address, or for one user name, within 15 minutes: the next
/// attempt gets 429 with Retry-After and the page says why, without an argon2 verification
/// (even with the right password). A success clears the user name's count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_rate_limited() {
    let s = TestServer::start(pakiti_test_support::TestDatabase::sqlite(), |st| {
        accounts(st);
        st.auth.proxy_addresses = vec!["127.0.0.1".into()];
    })
    .await;
    let h = pakiti_server::handlers::users::create_user;
    h(&s.state, "root", Some("root-pw"), true).await.unwrap();
    h(&s.state, "alice", Some("alice-pw"), false).await.unwrap();
    let limiter = &s.state.login_limiter;

    // Per address: 198.51.100.1 guesses five names; the sixth attempt is refused.
    for i in 0..5 {
        let (st, _, _) = login_from(&s, "198.51.100.1", &format!("u{i}"), "x").await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let before = limiter.verifications();
    let (st, retry, page) = login_from(&s, "198.51.100.1", "alice", "alice-pw").await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    let retry = retry.expect("Retry-After");
    assert!((890..=900).contains(&retry), "{retry}");
    assert!(page.contains("Too many failed log-ins"), "{page}");
    assert!(page.contains("try again in 15 minutes"), "{page}");
    assert_eq!(
        limiter.verifications(),
        before,
        "no argon2 for a blocked attempt"
    );
    // Another address is not affected.
    let (st, _, _) = login_from(&s, "198.51.100.2", "alice", "alice-pw").await;
    assert_eq!(st, StatusCode::SEE_OTHER);

    // Per user name: four failures for root from four addresses, a success clears them.
    for i in 0..4 {
        let (st, _, _) = login_from(&s, &format!("192.0.2.{i}"), "root", "guess").await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
    }
    let (st, _, _) = login_from(&s, "192.0.2.100", "root", "root-pw").await;
    assert_eq!(
        st,
        StatusCode::SEE_OTHER,
        "the fifth attempt is allowed and succeeds"
    );
    for i in 0..5 {
        let (st, _, _) = login_from(&s, &format!("192.0.2.{}", 10 + i), "root", "guess").await;
        assert_eq!(
            st,
            StatusCode::UNAUTHORIZED,
            "count restarted after the success"
        );
    }
    let before = limiter.verifications();
    let (st, retry, _) = login_from(&s, "192.0.2.99", "root", "root-pw").await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry.is_some());
    assert_eq!(limiter.verifications(), before);
    // A forged X-Forwarded-For prefix does not help: only the last entry counts.
    let (st, _, _) = login_from(&s, "198.51.100.1", "bob", "x").await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    s.finish().await;
}
