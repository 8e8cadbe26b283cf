//! Built-in accounts: the last administrator is kept, and failed log-ins are rate limited.

use pakiti_store::Store;
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
