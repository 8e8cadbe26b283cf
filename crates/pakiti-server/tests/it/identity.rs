//! Issue 16 D17: a host is bound to the first identity that reported it, and a report for it
//! under another identity is an identity conflict (policy off / warn / hold). Real servers on
//! 127.0.0.1 over SQLite and (with `PAKITI_TEST_POSTGRES_URL`) PostgreSQL; the identities are
//! client-certificate DNs passed by a believed front proxy (loopback), as nginx passes them.

use pakiti_api::report::Report;
use pakiti_server::identity::Policy;
use pakiti_test_support::databases;

use crate::support::{TestServer, report};

const HOST: &str = "bound.example.org";

/// `POST /feed/` of `r` as an old (protocol 4) client behind a TLS proxy that passes `dn`.
async fn post_as(s: &TestServer, r: &Report, dn: &str) -> (u16, String) {
    s.post(
        "",
        "application/x-www-form-urlencoded",
        &[("x-ssl-client-s-dn", dn)],
        pakiti_api::protocol4::to_urlencoded(r).into_bytes(),
    )
    .await
}

/// The host's kernel and package count as the API shows them.
async fn inventory(s: &TestServer) -> (String, i64) {
    let (st, v) = s.get_json(&format!("/api/v1/hosts/{HOST}")).await;
    assert_eq!(st, 200, "{v}");
    (
        v["kernel"].as_str().unwrap().to_owned(),
        v["packages"].as_i64().unwrap(),
    )
}

/// The genuine report and an intruder's: another kernel and half the packages.
fn reports() -> (Report, Report) {
    let good = report("rhel_80", HOST);
    let mut other = good.clone();
    other.kernel = "9.9.9-intruder.el8.x86_64".into();
    other.packages.truncate(good.packages.len() / 2);
    (good, other)
}

async fn conflicts(s: &TestServer) -> serde_json::Value {
    let (st, v) = s.get_json("/api/v1/identity-conflicts").await;
    assert_eq!(st, 200, "{v}");
    v
}

/// Warn (the default): a report under the bound identity passes without a conflict; one under
/// another identity is stored as usual and the conflict is recorded and shown.
#[tokio::test]
async fn issue_16_identity_conflict_warn_records_and_stores() {
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        let be = s.backend();
        let (good, other) = reports();
        assert_eq!(
            post_as(&s, &good, "CN=bound.example.org,O=Site").await.0,
            200
        );
        let mut again = good.clone();
        again.kernel = "4.18.0-999.el8.x86_64".into();
        assert_eq!(
            post_as(&s, &again, "CN=bound.example.org,O=Site").await.0,
            200
        );
        assert_eq!(conflicts(&s).await["total"], 0, "{be}: same identity");
        assert_eq!(inventory(&s).await.0, again.kernel, "{be}");
        // The very bytes of the host's last report, from another identity: not a silent replay.
        assert_eq!(post_as(&s, &again, "CN=intruder,O=Elsewhere").await.0, 200);
        assert_eq!(conflicts(&s).await["total"], 1, "{be}: identical bytes");
        assert_eq!(post_as(&s, &other, "CN=intruder,O=Elsewhere").await.0, 200);
        assert_eq!(
            inventory(&s).await,
            (
                other.kernel.clone(),
                i64::try_from(other.packages.len()).unwrap()
            ),
            "{be}: warn stores the report"
        );
        let v = conflicts(&s).await;
        assert_eq!(v["total"], 2, "{be}: {v}");
        let c = &v["conflicts"][0];
        assert_eq!(c["hostname"], HOST);
        assert_eq!(c["expected"], "dn:CN=bound.example.org,O=Site");
        assert_eq!(c["seen"], "dn:CN=intruder,O=Elsewhere");
        assert_eq!(c["peer"], "127.0.0.1");
        assert_eq!(c["status"], "stored");
        let page = s
            .client
            .get(format!("{}/identity-conflicts", s.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("dn:CN=intruder,O=Elsewhere"), "{be}: {page}");
        s.finish().await;
    }
}

/// Hold: a report under another identity leaves the inventory unchanged and is shown; a
/// rejected one is dropped; an accepted one is applied and the host re-bound to its identity.
#[tokio::test]
async fn issue_16_identity_conflict_hold_keeps_the_report_until_accepted() {
    for db in databases().await {
        let s = TestServer::start(db, |st| st.identity.policy = Policy::Hold).await;
        let be = s.backend();
        let (good, other) = reports();
        let bound = "CN=bound.example.org,O=Site";
        assert_eq!(post_as(&s, &good, bound).await.0, 200);
        let before = inventory(&s).await;
        assert_eq!(post_as(&s, &other, "CN=second-intruder").await.0, 200);
        assert_eq!(post_as(&s, &other, "CN=intruder").await.0, 200);
        assert_eq!(inventory(&s).await, before, "{be}: held, not applied");
        let statuses = |v: &serde_json::Value| -> Vec<String> {
            v["conflicts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["status"].as_str().unwrap().to_owned())
                .collect()
        };
        // One held report per host: the newer supersedes the older.
        let v = conflicts(&s).await;
        assert_eq!(statuses(&v), ["held", "superseded"], "{be}: {v}");
        let held = &v["conflicts"][0];
        assert_eq!(held["seen"], "dn:CN=intruder");
        assert_eq!(held["packages"], other.packages.len());
        let page = s
            .client
            .get(format!("{}/identity-conflicts", s.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("dn:CN=intruder"), "{be}: {page}");
        let csrf = page
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("a CSRF token in the form")
            .to_owned();
        let post = |id: &serde_json::Value, what: &str, token: &str| {
            s.client
                .post(format!("{}/identity-conflicts/{id}/{what}", s.base))
                .form(&[("csrf", token)])
                .send()
        };
        // Without the right CSRF token nothing happens.
        let r = post(&held["id"], "accept", "wrong").await.unwrap();
        assert_eq!(r.status().as_u16(), 403, "{be}");
        assert_eq!(inventory(&s).await, before, "{be}");
        // Rejected: dropped, the inventory unchanged.
        let r = post(&held["id"], "reject", &csrf).await.unwrap();
        assert!(
            r.status().is_success() || r.status().is_redirection(),
            "{be}"
        );
        assert_eq!(inventory(&s).await, before, "{be}");
        // Sent again and accepted: applied, and the host now bound to its identity.
        assert_eq!(post_as(&s, &other, "CN=intruder").await.0, 200);
        assert_eq!(inventory(&s).await, before, "{be}: held again");
        let v = conflicts(&s).await;
        let held = v["conflicts"][0].clone();
        assert_eq!(held["status"], "held", "{be}: {v}");
        let r = post(&held["id"], "accept", &csrf).await.unwrap();
        assert!(
            r.status().is_success() || r.status().is_redirection(),
            "{be}"
        );
        assert_eq!(
            inventory(&s).await,
            (
                other.kernel.clone(),
                i64::try_from(other.packages.len()).unwrap()
            ),
            "{be}: accepted and applied"
        );
        let v = conflicts(&s).await;
        assert_eq!(
            statuses(&v),
            ["accepted", "rejected", "superseded"],
            "{be}: {v}"
        );
        // Accepting twice does nothing.
        let r = post(&held["id"], "accept", &csrf).await.unwrap();
        assert_eq!(r.status().as_u16(), 404, "{be}");
        // Re-bound: the accepted identity passes, the old one is now the conflict.
        let mut next = other.clone();
        next.kernel = "4.18.0-1000.el8.x86_64".into();
        assert_eq!(post_as(&s, &next, "CN=intruder").await.0, 200);
        assert_eq!(inventory(&s).await.0, next.kernel, "{be}: re-bound");
        assert_eq!(post_as(&s, &good, bound).await.0, 200);
        assert_eq!(
            inventory(&s).await.0,
            next.kernel,
            "{be}: the old identity is held"
        );
        assert_eq!(conflicts(&s).await["total"], 4, "{be}");
        s.finish().await;
    }
}

/// Off: no identity is checked or recorded (Pakiti 2/3 behaviour).
#[tokio::test]
async fn issue_16_identity_policy_off_checks_nothing() {
    for db in databases().await {
        let s = TestServer::start(db, |st| st.identity.policy = Policy::Off).await;
        let (good, other) = reports();
        assert_eq!(post_as(&s, &good, "CN=a").await.0, 200);
        assert_eq!(post_as(&s, &other, "CN=b").await.0, 200);
        assert_eq!(inventory(&s).await.0, other.kernel);
        assert_eq!(conflicts(&s).await["total"], 0);
        s.finish().await;
    }
}
