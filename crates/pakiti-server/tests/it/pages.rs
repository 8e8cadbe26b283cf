//! Issue 14 parts 3, 4 and 7 through a real server over the demo data: the front page's
//! numbers (scope, links), the host page's patch list (grouping, risk order, filters, tabs),
//! retiring and deleting hosts (API, form, CLI), HTML errors for browsers, and exceptions
//! written without an epoch.

use std::collections::BTreeSet;

use pakiti_core::risk::{CveFacts, CveFactsIndex, Kev};
use pakiti_server::api_types::ExceptionInput;
use pakiti_server::auth::Viewer;
use pakiti_store::NewCveTag;
use pakiti_test_support::{TestDatabase, databases};
use reqwest::StatusCode;
use serde_json::Value;

use crate::authz::{Cred, demo_server, get, login};
use crate::support::TestServer;

async fn json(s: &TestServer, cred: &Cred, path: &str) -> Value {
    let (st, body, _) = get(s, cred, path).await;
    assert_eq!(st, StatusCode::OK, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

async fn tag(s: &TestServer, cve: &str) {
    s.state
        .store
        .create_cve_tag(&NewCveTag {
            cve: cve.into(),
            tag: "Critical".into(),
            reason: "the site watches it".into(),
            info_url: None,
            enabled: true,
            author: "test".into(),
        })
        .await
        .unwrap();
    s.state.engine.refresh_all_counts().await.unwrap();
    s.state.engine.refresh_fleet_now().await.unwrap();
}

fn kev(cves: &[&str]) -> CveFactsIndex {
    let mut f = CveFactsIndex::default();
    for c in cves {
        f.insert(
            (*c).to_owned(),
            CveFacts {
                kev: Some(Kev {
                    date_added: "2024-01-01".into(),
                    due_date: None,
                    ransomware: false,
                }),
                ..CveFacts::default()
            },
        );
    }
    f
}

/// Hostnames of every host (in service) `cred` sees.
async fn visible(s: &TestServer, cred: &Cred, qs: &str) -> Vec<String> {
    let sep = if qs.is_empty() { "" } else { "&" };
    let v = json(s, cred, &format!("/api/v1/hosts?limit=1000{sep}{qs}")).await;
    v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["hostname"].as_str().unwrap().to_owned())
        .collect()
}

fn item<'a>(summary: &'a Value, key: &str) -> &'a Value {
    summary["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {summary}"))
}

/// The front page counts, for each viewer, exactly the hosts the list it links to shows;
/// a viewer granted one group sees that group's numbers, the administrator the fleet's; the
/// tagged and KEV numbers count hosts with a fixed version for such a CVE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn front_page_numbers_follow_scope_and_links() {
    for db in databases().await {
        let s = demo_server(db).await;
        let be = s.backend();
        let root = Cred::Cookie(login(&s, "root", "root-pw").await.unwrap());
        let alice = Cred::Cookie(login(&s, "alice", "alice-pw").await.unwrap());
        s.state.engine.fleet_up_to_date().await.unwrap();
        // Only some demo hosts have fixed versions (Red Hat 8 and Debian, both in prague): a
        // fixable CVE of a Red Hat host to tag, one of a Debian host for KEV.
        let first_fix = |d: &Value| -> String {
            d["patches"][0]["cves"][0]["cve"]
                .as_str()
                .unwrap_or_else(|| panic!("{be}: a patch in {}", d["hostname"]))
                .to_owned()
        };
        let web = visible(
            &s,
            &root,
            "vulnerable=true&os=Red%20Hat%20Enterprise%20Linux%208",
        )
        .await;
        let mail = visible(&s, &root, "vulnerable=true&os=Debian").await;
        let tagged_cve = first_fix(&json(&s, &root, &format!("/api/v1/hosts/{}", web[0])).await);
        let kev_cve = first_fix(&json(&s, &root, &format!("/api/v1/hosts/{}", mail[0])).await);
        tag(&s, &tagged_cve).await;
        s.state.engine.set_cve_facts(kev(&[&kev_cve]));

        let mut by_viewer = Vec::new();
        for cred in [&root, &alice] {
            let sum = json(&s, cred, "/api/v1/summary").await;
            assert_eq!(
                sum["hosts"].as_u64().unwrap() as usize,
                visible(&s, cred, "").await.len(),
                "{be}"
            );
            for i in sum["items"].as_array().unwrap() {
                let link = i["link"].as_str().unwrap();
                if let Some(qs) = link.strip_prefix("/hosts?") {
                    let listed = visible(&s, cred, qs).await;
                    assert_eq!(
                        i["count"].as_u64().unwrap() as usize,
                        listed.len(),
                        "{be} {}: the link lists as many hosts as the number says",
                        i["key"]
                    );
                    // The page form of the link answers too.
                    let (st, body, _) = get(&s, cred, link).await;
                    assert_eq!(st, StatusCode::OK, "{be} {link}: {body}");
                }
            }
            by_viewer.push(sum);
        }
        let (admin, scoped) = (&by_viewer[0], &by_viewer[1]);
        // The tagged CVE's hosts with a fix: every one carries the CVE, and alice's are the
        // prague ones among the admin's.
        let tagged_all = visible(&s, &root, "exposed=tagged").await;
        assert!(tagged_all.contains(&web[0]), "{be} {tagged_all:?}");
        let with_cve: BTreeSet<String> = visible(&s, &root, &format!("cve={tagged_cve}"))
            .await
            .into_iter()
            .collect();
        assert!(tagged_all.iter().all(|h| with_cve.contains(h)), "{be}");
        assert_eq!(
            item(admin, "exposed_tagged")["count"].as_u64().unwrap() as usize,
            tagged_all.len()
        );
        let tagged_alice = visible(&s, &alice, "exposed=tagged").await;
        assert!(
            tagged_alice
                .iter()
                .all(|h| h.ends_with(".prague.example.org")),
            "{be} {tagged_alice:?}"
        );
        assert_eq!(
            tagged_alice.len(),
            tagged_all
                .iter()
                .filter(|h| h.ends_with(".prague.example.org"))
                .count(),
            "{be}"
        );
        // KEV: the Debian host is exposed (with a fix) to the KEV CVE.
        assert!(
            item(admin, "exposed_kev")["count"].as_u64().unwrap() >= 1,
            "{be}"
        );
        assert!(
            visible(&s, &root, "exposed=kev").await.contains(&mail[0]),
            "{be}"
        );
        // Without KEV data, nobody is exposed to KEV.
        s.state.engine.set_cve_facts(CveFactsIndex::default());
        assert!(visible(&s, &root, "exposed=kev").await.is_empty(), "{be}");
        s.state.engine.set_cve_facts(kev(&[&kev_cve]));
        assert!(admin["cve_facts_known"].as_u64().unwrap() >= 1);
        assert!(scoped["hosts"].as_u64().unwrap() < admin["hosts"].as_u64().unwrap());
        // A new host reporting now, with CVEs: the one new exposure since just before it; not
        // in alice's scope (no group).
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let since = time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let (st, body) = s
            .post_protocol5(&crate::support::report("centos_7", "fresh.example.net"))
            .await;
        assert_eq!(st, 200, "{body}");
        let enc = |t: &str| t.replace(':', "%3A").replace('+', "%2B");
        let q = format!("/api/v1/summary?since={}", enc(&since));
        let now_admin = json(&s, &root, &q).await;
        let now_alice = json(&s, &alice, &q).await;
        assert_eq!(item(&now_admin, "new_exposures")["count"], 1, "{be}");
        assert_eq!(item(&now_alice, "new_exposures")["count"], 0, "{be}");
        assert_eq!(
            visible(&s, &root, &format!("exposed_since={}", enc(&since))).await,
            ["fresh.example.net"],
            "{be}"
        );
        let tomorrow = (time::OffsetDateTime::now_utc() + time::Duration::days(1)).date();
        let later = json(&s, &root, &format!("/api/v1/summary?since={tomorrow}")).await;
        assert_eq!(item(&later, "new_exposures")["count"], 0, "{be}");
        assert!(
            later["changes_link"]
                .as_str()
                .unwrap()
                .starts_with("/changes?since=")
        );
        // Refused reports: the demo recorded one per group and one for an unknown host.
        assert_eq!(item(admin, "refused_reports")["count"], 3, "{be}");
        assert_eq!(item(scoped, "refused_reports")["count"], 1, "{be}");
        // A bad date is a clear 400.
        let (st, body, _) = get(&s, &root, "/api/v1/summary?since=yesterday").await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.contains("since"), "{body}");
        // The page shows the same numbers with their links, relative times with the timestamp.
        let (st, html, _) = get(&s, &alice, "/?since=2020-01-01").await;
        assert_eq!(st, StatusCode::OK);
        let scoped = json(&s, &alice, "/api/v1/summary?since=2020-01-01").await;
        for i in scoped["items"].as_array().unwrap() {
            let row = format!(
                "<a class=\"count\" href=\"{}\">{}</a>",
                i["link"].as_str().unwrap().replace('&', "&amp;"),
                i["count"]
            );
            assert!(html.contains(&row), "{be}: {row} in the page");
        }
        assert!(html.contains("<time datetime=\""), "{be}");
        s.finish().await;
    }
}

/// The host page's "install these updates": one row per (advisory, source package), each
/// with a fixed version; unfixed issues apart; together exactly the host's CVEs; a tagged CVE
/// first, then a KEV one; filters, sort, tabs and the history's diff links.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_page_groups_patches_by_risk() {
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        pakiti_server::demo::populate(&s.state).await.unwrap();
        s.state.engine.fleet_up_to_date().await.unwrap();
        let be = s.backend();
        let anyone = Cred::Nothing;
        // A Red Hat 8 host: fixed and unfixed findings.
        let hosts = json(
            &s,
            &anyone,
            "/api/v1/hosts?limit=1000&sort=-cves&os=Red%20Hat%20Enterprise%20Linux%208",
        )
        .await;
        let host = hosts["hosts"][0]["hostname"].as_str().unwrap().to_owned();
        let d = json(&s, &anyone, &format!("/api/v1/hosts/{host}")).await;
        let patches = d["patches"].as_array().unwrap();
        let unfixed = d["unfixed"].as_array().unwrap();
        assert!(patches.len() > 3, "{be} {host}: {}", patches.len());
        for p in patches {
            assert!(p["fixed_version"].is_string(), "{be} {p}");
            assert!(!p["packages"].as_array().unwrap().is_empty());
        }
        for p in unfixed {
            assert!(p["fixed_version"].is_null(), "{be} {p}");
        }
        // Every finding is in exactly one row of its advisory, with its package.
        for f in d["findings"].as_array().unwrap() {
            let list = if f["fixed_version"].is_null() {
                unfixed
            } else {
                patches
            };
            let rows: Vec<&Value> = list
                .iter()
                .filter(|p| {
                    p["advisory"] == f["advisory"]
                        && p["packages"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|k| k["name"] == f["package"])
                })
                .collect();
            assert_eq!(rows.len(), 1, "{be} {f}");
        }
        // Together they close exactly the host's CVEs.
        let all: BTreeSet<&str> = patches
            .iter()
            .chain(unfixed)
            .flat_map(|p| p["cves"].as_array().unwrap())
            .map(|c| c["cve"].as_str().unwrap())
            .collect();
        assert_eq!(all.len() as u64, d["cve_count"].as_u64().unwrap(), "{be}");
        // Risk order: tag the CVE of the last patch, make the one before KEV.
        let last = patches.last().unwrap()["cves"][0]["cve"]
            .as_str()
            .unwrap()
            .to_owned();
        // A CVE of no row that also closes `last`.
        let cves_of = |p: &Value| -> Vec<String> {
            p["cves"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["cve"].as_str().unwrap().to_owned())
                .collect()
        };
        let before = patches
            .iter()
            .rev()
            .flat_map(cves_of)
            .find(|c| {
                patches.iter().chain(unfixed).all(|p| {
                    let cs = cves_of(p);
                    !(cs.contains(c) && cs.contains(&last))
                })
            })
            .expect("a CVE apart from the tagged one");
        tag(&s, &last).await;
        s.state.engine.set_cve_facts(kev(&[&before]));
        let d = json(&s, &anyone, &format!("/api/v1/hosts/{host}")).await;
        let p = d["patches"].as_array().unwrap();
        assert_eq!(p[0]["risk"], "tagged", "{be} {}", p[0]);
        assert!(
            p[0]["cves"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["cve"] == last.as_str())
        );
        let kev_row = p
            .iter()
            .position(|r| r["risk"] == "kev")
            .expect("a KEV row");
        assert!(
            p[kev_row]["cves"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["cve"] == before.as_str() && c["kev"] == true)
        );
        assert!(
            p[1..kev_row].iter().all(|r| r["risk"] == "tagged"),
            "{be}: KEV right after the tagged rows"
        );

        // The page: tabs, filter, sort.
        let page = |q: &str| format!("/hosts/{host}{q}");
        let (st, html, _) = get(&s, &anyone, &page("")).await;
        assert_eq!(st, StatusCode::OK);
        assert!(html.contains("Install these updates") && html.contains("Unfixed issues"));
        let rows = |html: &str| html.matches("<tr class=\"patch ").count();
        assert_eq!(
            rows(&html),
            p.len() + d["unfixed"].as_array().unwrap().len(),
            "{be}"
        );
        let (_, html, _) = get(&s, &anyone, &page("?risk=tagged")).await;
        assert_eq!(rows(&html), 1 + p[1..kev_row].len(), "{be}");
        assert!(html.contains(&last));
        let (_, html, _) = get(&s, &anyone, &page(&format!("?q={before}"))).await;
        assert!(rows(&html) >= 1 && html.contains(&before), "{be}");
        let (_, html, _) = get(&s, &anyone, &page("?sort=package")).await;
        assert_eq!(
            rows(&html),
            p.len() + d["unfixed"].as_array().unwrap().len()
        );
        let (st, _, _) = get(&s, &anyone, &page("?sort=bogus")).await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
        let (_, html, _) = get(&s, &anyone, &page("?tab=packages")).await;
        let pkg = d["installed"][0]["name"].as_str().unwrap();
        assert!(html.contains(&format!("/packages/{pkg}")), "{be}");
        assert!(!html.contains("Install these updates"));
        // History: a second report of the host links the pair to the report diff.
        let (_, html, _) = get(&s, &anyone, &page("?tab=history")).await;
        let reports = d["reports"].as_array().unwrap();
        if reports.len() >= 2 {
            let link = format!(
                "/hosts/{host}/diff?from={}&amp;to={}",
                reports[1]["id"], reports[0]["id"]
            );
            // askama escapes `&` as `&#38;` (browsers read both).
            let html = html.replace("&#38;", "&amp;");
            assert!(html.contains(&link), "{be}: {link}");
        } else {
            assert!(!html.contains("/diff?from="));
        }
        assert!(html.contains("<time datetime="), "{be}");
        s.finish().await;
    }
}

/// Retiring keeps the host's reports and takes it out of every count and list (hosts, front
/// page, CVE pages); purging deletes it with its history; a new report brings a retired host
/// back; only administrators may; the CLI does the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retire_and_delete_hosts_api_and_cli() {
    for db in databases().await {
        let s = demo_server(db).await;
        let be = s.backend();
        let root = Cred::Cookie(login(&s, "root", "root-pw").await.unwrap());
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
        let root_user = s
            .state
            .store
            .get_user_by_name("root")
            .await
            .unwrap()
            .unwrap();
        let (_, root_token) =
            pakiti_server::handlers::users::create_token(&s.state, &root_user, "t")
                .await
                .unwrap();
        let hosts = visible(&s, &root, "vulnerable=true&sort=-cves").await;
        let total = visible(&s, &root, "").await.len();
        let (gone, purged) = (hosts[0].clone(), hosts[1].clone());
        let d = json(&s, &root, &format!("/api/v1/hosts/{gone}")).await;
        let cve = d["patches"]
            .as_array()
            .unwrap()
            .iter()
            .chain(d["unfixed"].as_array().unwrap())
            .next()
            .expect("a finding")["cves"][0]["cve"]
            .as_str()
            .unwrap()
            .to_owned();
        let cve_hosts = json(&s, &root, &format!("/api/v1/cves/{cve}")).await["host_count"]
            .as_u64()
            .unwrap();
        let id = s
            .state
            .store
            .get_host_by_name(&gone)
            .await
            .unwrap()
            .unwrap()
            .id;
        let delete = |token: &str, path: String| {
            s.client
                .delete(format!("{}{path}", s.base))
                .bearer_auth(token)
                .send()
        };
        // Not an admin: refused.
        let r = delete(&alice_token, format!("/api/v1/hosts/{gone}"))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{be}");
        let r = delete(&root_token, format!("/api/v1/hosts/{gone}?history=later"))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{be}");
        // Retire (history kept).
        let r = delete(&root_token, format!("/api/v1/hosts/{gone}?history=keep"))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{be}");
        assert_eq!(visible(&s, &root, "").await.len(), total - 1, "{be}");
        assert!(!visible(&s, &root, "").await.contains(&gone));
        assert_eq!(visible(&s, &root, "retired=true").await, vec![gone.clone()]);
        assert_eq!(
            json(&s, &root, "/api/v1/summary").await["hosts"]
                .as_u64()
                .unwrap() as usize,
            total - 1
        );
        assert_eq!(
            json(&s, &root, &format!("/api/v1/cves/{cve}")).await["host_count"]
                .as_u64()
                .unwrap(),
            cve_hosts - 1,
            "{be}: the CVE page drops the retired host"
        );
        assert!(
            !s.state.store.host_reports(id, 10).await.unwrap().is_empty(),
            "{be}: kept"
        );
        let d = json(&s, &root, &format!("/api/v1/hosts/{gone}")).await;
        assert!(d["retired_at"].is_string(), "{be}");
        // Purge.
        let pid = s
            .state
            .store
            .get_host_by_name(&purged)
            .await
            .unwrap()
            .unwrap()
            .id;
        let r = delete(&root_token, format!("/api/v1/hosts/{purged}?history=purge"))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{be}");
        assert!(
            s.state
                .store
                .get_host_by_name(&purged)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            s.state
                .store
                .host_reports(pid, 10)
                .await
                .unwrap()
                .is_empty(),
            "{be}: purged"
        );
        assert_eq!(visible(&s, &root, "").await.len(), total - 2);
        let r = delete(&root_token, format!("/api/v1/hosts/{purged}"))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        // A new report from the retired host puts it back in service.
        let rep = crate::support::report("centos_7", &gone);
        let (st, body) = s.post_protocol5(&rep).await;
        assert_eq!(st, 200, "{be}: {body}");
        assert!(
            visible(&s, &root, "").await.contains(&gone),
            "{be}: back in service"
        );
        assert!(s.state.store.host_retired_at(id).await.unwrap().is_none());

        // The CLI, through the real binary on the same database.
        let cli = |args: &[&str]| {
            std::process::Command::new(env!("CARGO_BIN_EXE_pakiti"))
                .args(["--database", s.url()])
                .args(args)
                .env("PAKITI_LOG", "warn")
                .output()
                .unwrap()
        };
        let out = cli(&["host", "retire", &gone]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("retired host"));
        assert_eq!(visible(&s, &root, "").await.len(), total - 2, "{be}");
        assert!(s.state.store.host_retired_at(id).await.unwrap().is_some());
        let out = cli(&["host", "delete", &gone, "--purge-history"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            s.state
                .store
                .get_host_by_name(&gone)
                .await
                .unwrap()
                .is_none()
        );
        assert!(s.state.store.host_reports(id, 10).await.unwrap().is_empty());
        let out = cli(&["host", "delete", "no-such-host.example.org"]);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("no host named"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        s.finish().await;
    }
}

/// A browser (`Accept: text/html`) gets errors as HTML pages — a handler's error, an
/// extractor's rejection, an unknown address — while API clients keep JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_errors_are_html_api_errors_json() {
    let s = TestServer::start(TestDatabase::sqlite(), |_| {}).await;
    let html = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    for (path, status, says) in [
        ("/hosts/no-such-host", 404, "no host named no-such-host"),
        (
            "/api/v1/hosts/no-such-host",
            404,
            "no host named no-such-host",
        ),
        ("/api/v1/hosts?sort=bogus", 400, "unknown sort key"),
        ("/hosts?vulnerable=perhaps", 400, "vulnerable"),
        ("/no/such/page", 404, "There is no page at this address"),
        ("/?since=tomorrow", 400, "since"),
    ] {
        let r = s
            .client
            .get(format!("{}{path}", s.base))
            .header("accept", html)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{path}");
        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/html"), "{path}: {ct}");
        let body = r.text().await.unwrap();
        assert!(body.starts_with("<!doctype html>"), "{path}: {body}");
        assert!(body.contains(says), "{path}: {body}");
        assert!(body.contains("id=\"error-message\""));
        // An API client: JSON as before.
        let r = s
            .client
            .get(format!("{}{path}", s.base))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{path}");
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        assert!(
            !ct.as_deref().unwrap_or("").starts_with("text/html"),
            "{path}: {ct:?}"
        );
    }
    let (st, v) = s.get_json("/api/v1/hosts/no-such-host").await;
    assert_eq!(st, 404);
    assert_eq!(v["status"], 404, "no Accept: JSON");
    s.finish().await;
}

/// An exception written without the installed version's epoch (`1.0.2k-19.el7` for the
/// installed `1:1.0.2k-19.el7`) applies: the finding leaves the host's counts, its patch list
/// and the CVE's page; one naming another epoch does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exception_without_epoch_hides_the_finding() {
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        pakiti_server::demo::populate(&s.state).await.unwrap();
        s.state.engine.fleet_up_to_date().await.unwrap();
        let be = s.backend();
        let anyone = Cred::Nothing;
        // A finding of a package installed with a non-zero epoch, whose CVE only that
        // package carries on the host.
        let hosts = json(&s, &anyone, "/api/v1/hosts?limit=1000&vulnerable=true").await;
        let mut found = None;
        'hosts: for h in hosts["hosts"].as_array().unwrap() {
            let name = h["hostname"].as_str().unwrap();
            let d = json(&s, &anyone, &format!("/api/v1/hosts/{name}")).await;
            let findings = d["findings"].as_array().unwrap();
            for f in findings {
                let v = f["installed_version"].as_str().unwrap();
                let Some((epoch, rest)) = v.split_once(':') else {
                    continue;
                };
                if epoch == "0" || f["fixed_version"].is_null() {
                    continue;
                }
                for c in f["cves"].as_array().unwrap() {
                    let c = c.as_str().unwrap();
                    let carriers = findings
                        .iter()
                        .filter(|g| g["cves"].as_array().unwrap().iter().any(|x| x == c))
                        .filter(|g| g["package"] != f["package"])
                        .count();
                    if carriers == 0 {
                        found = Some((
                            name.to_owned(),
                            d["os_stream"].as_str().unwrap().to_owned(),
                            f["package"].as_str().unwrap().to_owned(),
                            epoch.to_owned(),
                            rest.to_owned(),
                            c.to_owned(),
                            d["cve_count"].as_u64().unwrap(),
                        ));
                        break 'hosts;
                    }
                }
            }
        }
        let (host, stream, package, epoch, rest, cve, count) =
            found.expect("a demo finding of a package with an epoch");
        let except = |version: String| ExceptionInput {
            cve: cve.clone(),
            package: package.clone(),
            version,
            os_stream: stream.clone(),
            reason: "mitigated".into(),
            expires_at: None,
        };
        // The CVE page: 404 once no host has it.
        let cve_hosts = || async {
            let (st, body, _) = get(&s, &anyone, &format!("/api/v1/cves/{cve}")).await;
            if st == StatusCode::NOT_FOUND {
                return 0;
            }
            serde_json::from_str::<Value>(&body).unwrap()["host_count"]
                .as_u64()
                .unwrap()
        };
        let on_cve_page = cve_hosts().await;
        // Another epoch: no effect.
        let other = format!("{}:{rest}", epoch.parse::<u64>().unwrap() + 1);
        let admin = Viewer::anonymous_admin();
        pakiti_server::handlers::exceptions::create(&s.state, &admin, except(other))
            .await
            .unwrap();
        let d = json(&s, &anyone, &format!("/api/v1/hosts/{host}")).await;
        assert_eq!(d["cve_count"].as_u64().unwrap(), count, "{be}");
        // Without the epoch: it applies everywhere.
        pakiti_server::handlers::exceptions::create(&s.state, &admin, except(rest.clone()))
            .await
            .unwrap();
        let d = json(&s, &anyone, &format!("/api/v1/hosts/{host}")).await;
        assert_eq!(
            d["cve_count"].as_u64().unwrap(),
            count - 1,
            "{be}: host counts"
        );
        let in_patches = d["patches"]
            .as_array()
            .unwrap()
            .iter()
            .chain(d["unfixed"].as_array().unwrap())
            .flat_map(|p| p["cves"].as_array().unwrap())
            .any(|c| c["cve"] == cve.as_str());
        assert!(!in_patches, "{be}: the patch list");
        // (Other hosts with the same package version on the stream are excepted too.)
        assert!(cve_hosts().await < on_cve_page, "{be}: the CVE page");
        let listed = json(&s, &anyone, &format!("/api/v1/hosts?cve={cve}&limit=1000")).await;
        assert!(
            !listed["hosts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["hostname"] == host.as_str()),
            "{be}: the fleet index"
        );
        assert!(
            d["exceptions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["version"] == rest.as_str()),
            "{be}: shown as applied"
        );
        s.finish().await;
    }
}
