//! Authentication and authorization through a real server: who may read which hosts through
//! every page, export and API route, tokens, CSRF, the proxy and certificate modes.
//!
//! The route tables below are the list of everything that reads hosts. ADD EVERY NEW ROUTE
//! THAT LISTS, COUNTS OR SHOWS HOSTS HERE (pages, `?format=csv|json` exports, API calls).

use pakiti_server::settings::{AuthMode, Settings};
use pakiti_store::{Grant, GrantKind};
use pakiti_test_support::{TestDatabase, databases};
use reqwest::StatusCode;

use crate::support::TestServer;

/// Routes that list or count hosts. `shows_hosts`: the answer names the hosts it covers, so
/// user A's must name one of A's hosts.
pub(crate) struct ListRoute {
    pub(crate) path: &'static str,
    pub(crate) shows_hosts: bool,
}

pub(crate) const LIST_ROUTES: &[ListRoute] = &[
    // The front page and its API count hosts without naming them.
    ListRoute {
        path: "/",
        shows_hosts: false,
    },
    ListRoute {
        path: "/?since=2020-01-01",
        shows_hosts: false,
    },
    ListRoute {
        path: "/api/v1/summary",
        shows_hosts: false,
    },
    ListRoute {
        path: "/hosts?exposed=tagged",
        shows_hosts: false,
    },
    ListRoute {
        path: "/hosts?exposed_since=2020-01-01",
        shows_hosts: true,
    },
    ListRoute {
        path: "/hosts?retired=true",
        shows_hosts: false,
    },
    ListRoute {
        path: "/hosts",
        shows_hosts: true,
    },
    ListRoute {
        path: "/hosts?vulnerable=true",
        shows_hosts: true,
    },
    ListRoute {
        path: "/hosts?search=example.org&sort=-cves",
        shows_hosts: true,
    },
    ListRoute {
        path: "/hosts?group=brno",
        shows_hosts: false,
    },
    ListRoute {
        path: "/api/v1/hosts?limit=1000",
        shows_hosts: true,
    },
    ListRoute {
        path: "/api/v1/hosts?group=brno",
        shows_hosts: false,
    },
    ListRoute {
        path: "/api/v1/hosts?domain=brno.example.org",
        shows_hosts: false,
    },
    ListRoute {
        path: "/api/v1/hosts?search=web",
        shows_hosts: true,
    },
    // The pages and exports of the rest of the web UI.
    ListRoute {
        path: "/hosts?format=csv",
        shows_hosts: true,
    },
    ListRoute {
        path: "/hosts?format=json",
        shows_hosts: true,
    },
    ListRoute {
        path: "/api/v1/hosts?format=csv",
        shows_hosts: true,
    },
    ListRoute {
        path: "/hosts?package=bash",
        shows_hosts: true,
    },
    ListRoute {
        path: "/hosts?tld=org",
        shows_hosts: true,
    },
    ListRoute {
        path: "/cves",
        shows_hosts: false,
    },
    ListRoute {
        path: "/cves?format=csv",
        shows_hosts: false,
    },
    ListRoute {
        path: "/api/v1/cves",
        shows_hosts: false,
    },
    ListRoute {
        path: "/tags",
        shows_hosts: false,
    },
    ListRoute {
        path: "/exceptions",
        shows_hosts: false,
    },
    ListRoute {
        path: "/groups",
        shows_hosts: false,
    },
    ListRoute {
        path: "/groups?format=json",
        shows_hosts: false,
    },
    ListRoute {
        path: "/api/v1/groups",
        shows_hosts: false,
    },
    ListRoute {
        path: "/domains",
        shows_hosts: false,
    },
    ListRoute {
        path: "/api/v1/domains",
        shows_hosts: false,
    },
    ListRoute {
        path: "/oses",
        shows_hosts: false,
    },
    ListRoute {
        path: "/api/v1/oses",
        shows_hosts: false,
    },
    ListRoute {
        path: "/stats",
        shows_hosts: false,
    },
    ListRoute {
        path: "/api/v1/stats",
        shows_hosts: false,
    },
    // Issue 14 part 5: every change names its host (host added, exposures gained); a page
    // holds 100 changes, so the pages list hosts added (exports hold every change).
    ListRoute {
        path: "/changes?since=2000-01-01&kind=host_added",
        shows_hosts: true,
    },
    ListRoute {
        path: "/changes?since=2000-01-01&format=csv",
        shows_hosts: true,
    },
    ListRoute {
        path: "/api/v1/changes?since=2000-01-01&kind=host_added",
        shows_hosts: true,
    },
    ListRoute {
        path: "/api/v1/changes?since=2000-01-01&format=json",
        shows_hosts: true,
    },
    // `pakiti check`'s summary (counts, and the names of exposed hosts).
    ListRoute {
        path: "/api/v1/check",
        shows_hosts: false,
    },
    ListRoute {
        path: "/api/v1/check?group=brno&severity=low",
        shows_hosts: false,
    },
    ListRoute {
        path: "/packages/bash",
        shows_hosts: true,
    },
    ListRoute {
        path: "/packages/bash?format=csv",
        shows_hosts: true,
    },
    ListRoute {
        path: "/api/v1/packages/bash",
        shows_hosts: false,
    },
    ListRoute {
        path: "/repositories",
        shows_hosts: false,
    },
    ListRoute {
        path: "/repositories?format=json",
        shows_hosts: false,
    },
    ListRoute {
        path: "/api/v1/repositories",
        shows_hosts: false,
    },
    ListRoute {
        path: "/reports/refused",
        shows_hosts: true,
    },
    ListRoute {
        path: "/reports/refused?format=json",
        shows_hosts: true,
    },
    ListRoute {
        path: "/reports/refused?format=csv",
        shows_hosts: true,
    },
    ListRoute {
        path: "/api/v1/reports/refused",
        shows_hosts: true,
    },
];

/// A host no one has: its refused reports are shown to admins only.
const STRANGER: &str = "stranger.example.org";

/// Routes that show one host; `{host}` is replaced by a hostname. Another group's host must
/// answer 404 (not 403: names do not leak).
pub(crate) const HOST_ROUTES: &[&str] = &["/hosts/{host}", "/api/v1/hosts/{host}"];

/// Group A is `prague`, group B is `brno` (the demo's sites).
const A: &str = "prague";
const B: &str = "brno";

pub(crate) fn accounts(s: &mut Settings) {
    s.auth.mode = AuthMode::Accounts;
}

/// A client session: a cookie from `POST /login`, or a bearer token.
#[derive(Clone)]
pub(crate) enum Cred {
    Cookie(String),
    Bearer(String),
    Nothing,
}

pub(crate) fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let (kv, _) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = kv.split_once('=')?;
            (k == name).then(|| val.to_owned())
        })
}

/// The value of the hidden `csrf` field of the first form in `html`.
pub(crate) fn csrf_of(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[i..i + html[i..].find('"').unwrap()].to_owned()
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", pakiti_server::auth::urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Logs in through the form; returns the session cookie value.
pub(crate) async fn login(
    s: &TestServer,
    user: &str,
    password: &str,
) -> Result<String, StatusCode> {
    let c = no_redirects();
    let r = c.get(format!("{}/login", s.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let pre = set_cookie(&r, "pakiti_login_csrf").expect("pre-session cookie");
    let csrf = csrf_of(&r.text().await.unwrap());
    let r = c
        .post(format!("{}/login", s.base))
        .header("cookie", format!("pakiti_login_csrf={pre}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("user", user),
            ("password", password),
            ("csrf", &csrf),
            ("next", "/hosts"),
        ]))
        .send()
        .await
        .unwrap();
    if r.status() != StatusCode::SEE_OTHER {
        return Err(r.status());
    }
    let cookie = set_cookie(&r, "pakiti_session").expect("session cookie");
    let attrs = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        attrs.contains("HttpOnly") && attrs.contains("SameSite=Lax"),
        "{attrs}"
    );
    Ok(cookie)
}

pub(crate) async fn get(
    s: &TestServer,
    cred: &Cred,
    path: &str,
) -> (StatusCode, String, Option<String>) {
    let mut rb = no_redirects().get(format!("{}{path}", s.base));
    match cred {
        Cred::Cookie(c) => rb = rb.header("cookie", format!("pakiti_session={c}")),
        Cred::Bearer(t) => rb = rb.bearer_auth(t),
        Cred::Nothing => {}
    }
    let r = rb.send().await.unwrap();
    let loc = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (r.status(), r.text().await.unwrap(), loc)
}

pub(crate) async fn post_form(
    s: &TestServer,
    cookie: &str,
    path: &str,
    pairs: &[(&str, &str)],
) -> StatusCode {
    no_redirects()
        .post(format!("{}{path}", s.base))
        .header("cookie", format!("pakiti_session={cookie}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs))
        .send()
        .await
        .unwrap()
        .status()
}

/// A demo store with an admin `root`, user `alice` granted group A, and `bob` with nothing.
pub(crate) async fn demo_server(db: TestDatabase) -> TestServer {
    let s = TestServer::start(db, accounts).await;
    pakiti_server::demo::populate(&s.state).await.unwrap();
    let h = pakiti_server::handlers::users::create_user;
    h(&s.state, "root", Some("root-pw"), true).await.unwrap();
    let alice = h(&s.state, "alice", Some("alice-pw"), false).await.unwrap();
    h(&s.state, "bob", Some("bob-pw"), false).await.unwrap();
    let g = Grant {
        kind: GrantKind::Group,
        value: A.into(),
    };
    assert!(s.state.store.add_grant(alice.id, &g).await.unwrap());
    // Refused reports naming a host of each group and an unknown host.
    let a = hostnames(&s, A).await;
    let b = hostnames(&s, B).await;
    for name in [a[0].as_str(), b[0].as_str(), STRANGER] {
        let refused = pakiti_store::NewRefusedReport {
            received_at: time::OffsetDateTime::now_utc(),
            hostname: Some(name.to_owned()),
            peer: Some("192.0.2.7".into()),
            protocol: "5".into(),
            status: 400,
            reason: format!("report for {name}: no readable package: the package list is empty"),
        };
        s.state
            .store
            .record_refused_report(&refused, 100)
            .await
            .unwrap();
    }
    s
}

async fn hostnames(s: &TestServer, group: &str) -> Vec<String> {
    let f = pakiti_store::HostFilter {
        group: Some(group.into()),
        ..Default::default()
    };
    let page = pakiti_store::Page {
        offset: 0,
        limit: 1000,
    };
    let hosts = s
        .state
        .store
        .list_hosts(&f, Default::default(), page)
        .await
        .unwrap();
    assert!(hosts.total > 0, "the demo has hosts in {group}");
    hosts.hosts.into_iter().map(|h| h.hostname).collect()
}

/// A user granted group A sees A's hosts and none of B's, through every route, with a session
/// cookie and with an API token; an admin sees both; a user without grants sees none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_of_group_a_cannot_read_group_b() {
    for db in databases().await {
        let s = demo_server(db).await;
        let be = s.backend();
        let a_hosts = hostnames(&s, A).await;
        let b_hosts = hostnames(&s, B).await;
        let alice_cookie = login(&s, "alice", "alice-pw").await.unwrap();
        let alice = s
            .state
            .store
            .get_user_by_name("alice")
            .await
            .unwrap()
            .unwrap();
        let (_, alice_token) = pakiti_server::handlers::users::create_token(&s.state, &alice, "t")
            .await
            .unwrap();
        let root = Cred::Cookie(login(&s, "root", "root-pw").await.unwrap());
        let bob = Cred::Cookie(login(&s, "bob", "bob-pw").await.unwrap());

        for cred in [
            Cred::Cookie(alice_cookie.clone()),
            Cred::Bearer(alice_token.clone()),
        ] {
            for r in LIST_ROUTES {
                let (st, body, _) = get(&s, &cred, r.path).await;
                assert_eq!(st, StatusCode::OK, "{be} {}: {body}", r.path);
                for b in &b_hosts {
                    assert!(!body.contains(b.as_str()), "{be} {} leaks {b}", r.path);
                }
                if r.shows_hosts {
                    assert!(
                        a_hosts.iter().any(|a| body.contains(a.as_str())),
                        "{be} {} shows none of A's hosts",
                        r.path
                    );
                }
            }
            for t in HOST_ROUTES {
                for b in &b_hosts {
                    let (st, body, _) = get(&s, &cred, &t.replace("{host}", b)).await;
                    assert_eq!(st, StatusCode::NOT_FOUND, "{be} {t} {b}: {body}");
                    assert!(!body.contains("packages"), "{body}");
                }
                let (st, body, _) = get(&s, &cred, &t.replace("{host}", &a_hosts[0])).await;
                assert_eq!(st, StatusCode::OK, "{be} {t}: {body}");
                assert!(body.contains(a_hosts[0].as_str()));
            }
            // Filtering by B's group yields nothing at all.
            let (_, body, _) = get(&s, &cred, "/api/v1/hosts?group=brno").await;
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["total"], 0, "{be}");
            let (_, body, _) = get(&s, &cred, "/api/v1/hosts?limit=1000").await;
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["total"].as_u64().unwrap() as usize, a_hosts.len(), "{be}");
        }
        // The admin sees both groups everywhere.
        for r in LIST_ROUTES
            .iter()
            .filter(|r| r.shows_hosts && !r.path.contains("search=web"))
        {
            let (st, body, _) = get(&s, &root, r.path).await;
            assert_eq!(st, StatusCode::OK, "{be} {}", r.path);
            assert!(
                b_hosts.iter().any(|b| body.contains(b.as_str())),
                "{be} admin {}",
                r.path
            );
        }
        for t in HOST_ROUTES {
            let (st, _, _) = get(&s, &root, &t.replace("{host}", &b_hosts[0])).await;
            assert_eq!(st, StatusCode::OK, "{be} admin {t}");
        }
        // Refusals of unknown hosts: admins only.
        for p in ["/reports/refused", "/api/v1/reports/refused"] {
            let (_, body, _) = get(&s, &root, p).await;
            assert!(body.contains(STRANGER), "{be} admin {p}");
            let (_, body, _) = get(&s, &Cred::Cookie(alice_cookie.clone()), p).await;
            assert!(!body.contains(STRANGER), "{be} {p} leaks {STRANGER}");
            let (_, body, _) = get(&s, &bob, p).await;
            assert!(
                !body.contains(STRANGER) && !body.contains(a_hosts[0].as_str()),
                "{be} {p}"
            );
        }
        // Identity conflicts (issue 16 D17): admins only.
        for p in ["/identity-conflicts", "/api/v1/identity-conflicts"] {
            let (st, _, _) = get(&s, &root, p).await;
            assert_eq!(st, StatusCode::OK, "{be} admin {p}");
            let (st, _, _) = get(&s, &Cred::Cookie(alice_cookie.clone()), p).await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{be} {p}");
            let (st, _, _) = get(&s, &bob, p).await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{be} {p}");
        }
        // A user without grants sees no host.
        let (_, body, _) = get(&s, &bob, "/api/v1/hosts?limit=1000").await;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["total"], 0, "{be}");
        // Without credentials: pages send to the log-in form, the API answers 401.
        for r in LIST_ROUTES {
            let (st, body, loc) = get(&s, &Cred::Nothing, r.path).await;
            if r.path.starts_with("/api/") {
                assert_eq!(st, StatusCode::UNAUTHORIZED, "{be} {}", r.path);
            } else {
                assert_eq!(st, StatusCode::SEE_OTHER, "{be} {}", r.path);
                assert!(
                    loc.unwrap()
                        == format!(
                            "/login?next={}",
                            r.path
                                .replace('?', "%3F")
                                .replace('=', "%3D")
                                .replace('&', "%26")
                        ),
                    "{}",
                    r.path
                );
            }
            assert!(b_hosts.iter().all(|b| !body.contains(b.as_str())));
        }
        for t in HOST_ROUTES {
            let (st, _, _) = get(&s, &Cred::Nothing, &t.replace("{host}", &b_hosts[0])).await;
            assert!(
                matches!(st, StatusCode::UNAUTHORIZED | StatusCode::SEE_OTHER),
                "{t}"
            );
        }
        // Users pages and API are for admins only.
        for p in [
            "/users",
            "/users?format=csv",
            "/api/v1/users",
            "/users/alice",
            "/api/v1/users/alice",
        ] {
            let (st, _, _) = get(&s, &Cred::Cookie(alice_cookie.clone()), p).await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{be} {p}");
            let (st, _, _) = get(&s, &Cred::Bearer(alice_token.clone()), p).await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{be} {p}");
            let (st, body, _) = get(&s, &root, p).await;
            assert_eq!(st, StatusCode::OK, "{be} {p}");
            assert!(body.contains("alice"), "{p}");
        }
        // Notification rules, their outbox, the housekeeping log and the audit log are for admins
        // only.
        for p in [
            "/notifications",
            "/api/v1/notifications/rules",
            "/api/v1/notifications/outbox",
            "/api/v1/housekeeping",
            "/audit",
            "/audit?format=csv",
            "/api/v1/audit",
        ] {
            let (st, _, _) = get(&s, &Cred::Cookie(alice_cookie.clone()), p).await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{be} {p}");
            let (st, _, _) = get(&s, &Cred::Bearer(alice_token.clone()), p).await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{be} {p}");
            let (st, _, _) = get(&s, &root, p).await;
            assert_eq!(st, StatusCode::OK, "{be} {p}");
        }
        // The limits page and its API (issue 15) are for admins only.
        for p in ["/limits", "/api/v1/limits"] {
            let (st, _, _) = get(&s, &Cred::Cookie(alice_cookie.clone()), p).await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{be} {p}");
            let (st, _, _) = get(&s, &Cred::Bearer(alice_token.clone()), p).await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{be} {p}");
            let (st, body, _) = get(&s, &root, p).await;
            assert_eq!(st, StatusCode::OK, "{be} {p}");
            assert!(body.contains("limits.max_packages"), "{be} {p}");
            let (st, _, _) = get(&s, &Cred::Nothing, p).await;
            assert!(
                matches!(st, StatusCode::UNAUTHORIZED | StatusCode::SEE_OTHER),
                "{be} {p}"
            );
        }
        // The agents' endpoint stays open.
        let r = s
            .client
            .get(format!("{}/healthz", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        s.finish().await;
    }
}

/// Log-in failures, CSRF on forms, tokens shown once and revoked, log-out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_csrf_tokens_and_logout() {
    let s = TestServer::start(TestDatabase::sqlite(), accounts).await;
    let h = pakiti_server::handlers::users::create_user;
    h(&s.state, "root", Some("s3cret"), true).await.unwrap();
    assert_eq!(
        login(&s, "root", "wrong").await,
        Err(StatusCode::UNAUTHORIZED)
    );
    assert_eq!(
        login(&s, "nobody", "s3cret").await,
        Err(StatusCode::UNAUTHORIZED)
    );
    // A log-in form posted without the pre-session cookie is refused.
    let r = no_redirects()
        .post(format!("{}/login", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("user=root&password=s3cret&csrf=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let root = login(&s, "root", "s3cret").await.unwrap();
    let cred = Cred::Cookie(root.clone());
    let (st, page, _) = get(&s, &cred, "/users").await;
    assert_eq!(st, StatusCode::OK);
    let csrf = csrf_of(&page);
    assert_eq!(csrf.len(), 64);

    // Every form POST needs the session's CSRF token.
    let new = [("name", "carol"), ("password", "pw"), ("csrf", "")];
    assert_eq!(
        post_form(&s, &root, "/users", &new).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post_form(&s, &root, "/users", &new[..2]).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post_form(
            &s,
            &root,
            "/users",
            &[
                ("name", "carol"),
                ("password", "pw"),
                ("csrf", "0".repeat(64).as_str())
            ]
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert!(
        s.state
            .store
            .get_user_by_name("carol")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        post_form(
            &s,
            &root,
            "/users",
            &[("name", "carol"), ("password", "pw"), ("csrf", &csrf)]
        )
        .await,
        StatusCode::SEE_OTHER
    );
    for (path, pairs) in [
        (
            "/users/carol/grants",
            vec![("kind", "group"), ("value", "physics")],
        ),
        (
            "/users/carol/grants",
            vec![("kind", "host"), ("value", "Web01.Prague.Example.Org")],
        ),
        (
            "/users/carol/grants/remove",
            vec![("kind", "group"), ("value", "physics")],
        ),
        ("/users/carol/password", vec![("password", "new-pw")]),
    ] {
        let mut without = pairs.clone();
        without.push(("csrf", "bad"));
        assert_eq!(
            post_form(&s, &root, path, &without).await,
            StatusCode::FORBIDDEN,
            "{path}"
        );
        let mut with = pairs.clone();
        with.push(("csrf", &csrf));
        assert_eq!(
            post_form(&s, &root, path, &with).await,
            StatusCode::SEE_OTHER,
            "{path}"
        );
    }
    let (_, v, _) = get(&s, &cred, "/api/v1/users/carol").await;
    let v: serde_json::Value = serde_json::from_str(&v).unwrap();
    assert_eq!(
        v["grants"],
        serde_json::json!(["host:web01.prague.example.org"])
    );
    assert!(login(&s, "carol", "pw").await.is_err());
    let carol = login(&s, "carol", "new-pw").await.unwrap();

    // A token is shown once on the page, works as a bearer, and stops working when revoked.
    let r = no_redirects()
        .post(format!("{}/users/carol/tokens", s.base))
        .header("cookie", format!("pakiti_session={root}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("name=ci&csrf={csrf}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    let i = html.find("id=\"new-token\">").unwrap() + 15;
    let token = html[i..i + html[i..].find('<').unwrap()].to_owned();
    assert!(token.starts_with("pakiti_"), "{token}");
    let (st, _, _) = get(&s, &Cred::Bearer(token.clone()), "/api/v1/hosts").await;
    assert_eq!(st, StatusCode::OK);
    let (_, again, _) = get(&s, &cred, "/users/carol").await;
    assert!(!again.contains(&token), "shown only once");
    let (st, _, _) = get(&s, &Cred::Bearer("pakiti_forged".into()), "/api/v1/hosts").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let id = s
        .state
        .store
        .list_api_tokens(
            s.state
                .store
                .get_user_by_name("carol")
                .await
                .unwrap()
                .unwrap()
                .id,
        )
        .await
        .unwrap()[0]
        .id;
    assert_eq!(
        post_form(
            &s,
            &root,
            &format!("/users/carol/tokens/{id}/revoke"),
            &[("csrf", "no")]
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post_form(
            &s,
            &root,
            &format!("/users/carol/tokens/{id}/revoke"),
            &[("csrf", &csrf)]
        )
        .await,
        StatusCode::SEE_OTHER
    );
    let (st, _, _) = get(&s, &Cred::Bearer(token.clone()), "/api/v1/hosts").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "revoked");

    // The JSON API: a bearer call needs no CSRF token, a cookie call does.
    let (_, root_token) = pakiti_server::handlers::users::create_token(
        &s.state,
        &s.state
            .store
            .get_user_by_name("root")
            .await
            .unwrap()
            .unwrap(),
        "api",
    )
    .await
    .unwrap();
    let body =
        serde_json::json!({"name": "dave", "admin": false, "grants": ["domain:brno.example.org"]});
    let r = no_redirects()
        .post(format!("{}/api/v1/users", s.base))
        .header("cookie", format!("pakiti_session={root}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = no_redirects()
        .post(format!("{}/api/v1/users", s.base))
        .header("cookie", format!("pakiti_session={root}"))
        .header("x-csrf-token", &csrf)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = no_redirects()
        .delete(format!(
            "{}/api/v1/users/dave/grants/domain/brno.example.org",
            s.base
        ))
        .bearer_auth(&root_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: serde_json::Value = r.json_text().await;
    assert_eq!(v["grants"], serde_json::json!([]));

    // Log-out needs the CSRF token and ends the session.
    let (_, page, _) = get(&s, &Cred::Cookie(carol.clone()), "/logout").await;
    let carol_csrf = csrf_of(&page);
    assert_ne!(carol_csrf, csrf, "per-session tokens");
    assert_eq!(
        post_form(&s, &carol, "/logout", &[("csrf", &csrf)]).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post_form(&s, &carol, "/logout", &[("csrf", &carol_csrf)]).await,
        StatusCode::SEE_OTHER
    );
    let (st, _, loc) = get(&s, &Cred::Cookie(carol), "/hosts").await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert_eq!(loc.as_deref(), Some("/login?next=/hosts"));
    s.finish().await;
}

trait JsonText {
    async fn json_text(self) -> serde_json::Value;
}

impl JsonText for reqwest::Response {
    async fn json_text(self) -> serde_json::Value {
        serde_json::from_str(&self.text().await.unwrap()).unwrap()
    }
}

/// Proxy and certificate modes: the user header counts only from `proxy_addresses`; unknown
/// users get nothing; bearer tokens still work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_and_tls_headers_only_from_trusted_proxies() {
    for (mode, header, name) in [
        (AuthMode::Proxy, "X-Remote-User", "alice"),
        (
            AuthMode::Tls,
            "X-SSL-Client-S-DN",
            "CN=Alice Example,O=Example,C=CZ",
        ),
    ] {
        for trusted in [true, false] {
            let s = TestServer::start(TestDatabase::sqlite(), |st| {
                st.auth.mode = mode;
                st.auth.proxy_addresses = if trusted {
                    vec!["10.0.0.0/8".parse().unwrap(), "127.0.0.1".parse().unwrap()]
                } else {
                    vec!["192.0.2.0/24".parse().unwrap()]
                };
            })
            .await;
            let h = pakiti_server::handlers::users::create_user;
            let u = h(&s.state, name, None, false).await.unwrap();
            s.state
                .store
                .add_grant(
                    u.id,
                    &Grant {
                        kind: GrantKind::Group,
                        value: "prague".into(),
                    },
                )
                .await
                .unwrap();
            let ask = |who: &str| {
                no_redirects()
                    .get(format!("{}/api/v1/hosts", s.base))
                    .header(header, who.to_owned())
                    .send()
            };
            let st = ask(name).await.unwrap().status();
            if trusted {
                assert_eq!(st, StatusCode::OK, "{mode:?}");
                assert_eq!(
                    ask("mallory").await.unwrap().status(),
                    StatusCode::FORBIDDEN,
                    "unknown user"
                );
                // The pages get a CSRF token bound to the user.
                let r = no_redirects()
                    .get(format!("{}/logout", s.base))
                    .header(header, name)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(csrf_of(&r.text().await.unwrap()).len(), 64);
            } else {
                assert_eq!(
                    st,
                    StatusCode::UNAUTHORIZED,
                    "{mode:?}: header from an untrusted peer"
                );
                let r = no_redirects()
                    .get(format!("{}/hosts", s.base))
                    .header(header, name)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    r.status(),
                    StatusCode::UNAUTHORIZED,
                    "no log-in form in {mode:?} mode"
                );
            }
            let (_, token) = pakiti_server::handlers::users::create_token(&s.state, &u, "t")
                .await
                .unwrap();
            let r = no_redirects()
                .get(format!("{}/api/v1/hosts", s.base))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "bearer in {mode:?}");
            s.finish().await;
        }
    }
}

/// Single-user mode: no log-in, everyone is the admin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mode_none_is_single_user() {
    let s = TestServer::start(TestDatabase::sqlite(), |_| {}).await;
    let (st, _, _) = get(&s, &Cred::Nothing, "/users").await;
    assert_eq!(st, StatusCode::OK);
    let (st, _, _) = get(&s, &Cred::Nothing, "/login").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // Forms still need the page's CSRF token: another site must not post to a local server.
    let (_, page, _) = get(&s, &Cred::Nothing, "/users").await;
    let csrf = csrf_of(&page);
    assert_eq!(csrf.len(), 64);
    let post = |body: String| {
        no_redirects()
            .post(format!("{}/users", s.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    assert_eq!(
        post("name=eve".into()).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(format!("name=eve&csrf={csrf}"))
            .await
            .unwrap()
            .status(),
        StatusCode::SEE_OTHER
    );
    // Scripts need no token in single-user mode (JSON needs a CORS preflight cross-site).
    let r = no_redirects()
        .post(format!("{}/api/v1/users", s.base))
        .header("content-type", "application/json")
        .body(r#"{"name": "frank"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    s.finish().await;
}

/// Stateless servers behind a load balancer: a form rendered by one server (proxy mode: the
/// token is derived, not stored with a session) is accepted by another on the same database,
/// as by a restarted one; a made-up token is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csrf_tokens_hold_across_servers_sharing_a_database() {
    for db in databases().await {
        let tweak = |st: &mut Settings| {
            st.auth.mode = AuthMode::Proxy;
            st.auth.proxy_addresses = vec!["127.0.0.1".parse().unwrap()];
        };
        let a = TestServer::start(db, tweak).await;
        pakiti_server::handlers::users::create_user(&a.state, "alice", None, true)
            .await
            .unwrap();
        // Server B: same settings and database, its own process state.
        let b_state = pakiti_server::cmd::serve::open_state((*a.state.settings).clone())
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let b_base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let b_task = tokio::spawn(pakiti_server::serve(
            listener,
            b_state.clone(),
            async move {
                let _ = rx.await;
            },
        ));
        let page = no_redirects()
            .get(format!("{}/tags", a.base))
            .header("X-Remote-User", "alice")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let token = csrf_of(&page);
        let post = |token: String| {
            no_redirects()
                .post(format!("{b_base}/tags"))
                .header("X-Remote-User", "alice")
                .form(&[
                    ("csrf", token),
                    ("cve", "CVE-2024-0001".into()),
                    ("tag", "Critical".into()),
                    ("reason", String::new()),
                    ("info_url", String::new()),
                ])
                .send()
        };
        let r = post(token).await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", a.backend());
        let r = post("0".repeat(64)).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "a made-up token");
        let _ = stop.send(());
        b_task.await.unwrap().unwrap();
        b_state.store.close().await;
        a.finish().await;
    }
}
