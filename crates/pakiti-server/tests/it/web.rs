//! The pages, the JSON API, exports and the OpenAPI document, against a real server over the
//! demo data, on SQLite and PostgreSQL.

use std::collections::BTreeSet;

use pakiti_engine::fleet::Fleet;
use pakiti_store::{HostScope, NewRepository, SyncRecord, SyncStatus};
use serde_json::Value;

use crate::support::TestServer;

async fn text(s: &TestServer, path: &str) -> (u16, String) {
    let r = s
        .client
        .get(format!("{}{path}", s.base))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// POSTs a form as a browser would: with the CSRF token the server put in its pages (an
/// empty `csrf` field in `fields` is replaced by it).
async fn form(s: &TestServer, path: &str, fields: &[(&str, &str)]) -> u16 {
    let page = s
        .client
        .get(format!("{}/tags", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("a form with a CSRF token") + marker.len();
    let token = &page[start..start + page[start..].find('"').unwrap()];
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|&(k, v)| {
            if k == "csrf" && v.is_empty() {
                (k, token)
            } else {
                (k, v)
            }
        })
        .collect();
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}{path}", s.base))
        .form(&fields)
        .send()
        .await
        .unwrap();
    r.status().as_u16()
}

fn names(v: &Value, list: &str) -> BTreeSet<String> {
    v[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["hostname"].as_str().unwrap().to_owned())
        .collect()
}

fn csv_rows(body: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_reader(body.as_bytes());
    let header = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_filters_exports_tags_and_exceptions() {
    for db in pakiti_test_support::databases().await {
        let s = TestServer::start(db, |_| {}).await;
        let b = s.backend();
        pakiti_server::demo::populate(&s.state).await.unwrap();
        let (_, all) = s.get_json("/api/v1/hosts?limit=1000").await;
        let total = all["total"].as_i64().unwrap();
        assert!(total >= 42, "{b}");

        // Every page renders.
        let first = all["hosts"][0]["hostname"].as_str().unwrap().to_owned();
        let (_, cves) = s.get_json("/api/v1/cves").await;
        let top = cves[0].clone();
        let cve = top["cve"].as_str().unwrap().to_owned();
        for (path, needle) in [
            ("/hosts?sort=-cves&vulnerable=true", "Hosts"),
            (&format!("/hosts/{first}") as &str, "Report history"),
            ("/cves", cve.as_str()),
            (&format!("/cves/{cve}"), "Affected hosts"),
            ("/tags", "Critical"),
            ("/tags/Critical", "Hosts affected"),
            ("/exceptions", "Add exception"),
            ("/groups", "Host groups"),
            ("/domains", "example.org"),
            ("/oses", "OS-stream rules"),
            ("/feeds", "Advisories"),
            ("/stats", "<svg"),
            ("/packages/bash", "Installed versions"),
        ] {
            let (status, html) = text(&s, path).await;
            assert_eq!(status, 200, "{b} {path}: {html}");
            assert!(html.contains(needle), "{b} {path} lacks {needle}");
        }

        // Repositories: a repository with a failed sync shows on the page, in the CSV and JSON.
        let repo = s
            .state
            .store
            .create_repository(&NewRepository {
                name: "deb12-security".into(),
                kind: "apt".into(),
                url: "http://deb.example.org/debian-security bookworm-security main".into(),
                stream: "debian:12".into(),
                arch: Some("amd64".into()),
                security: Some(true),
                priority: Some(600),
                enabled: true,
                interval_secs: 3600,
            })
            .await
            .unwrap();
        s.state
            .store
            .record_repository_sync(
                repo.id,
                &SyncRecord {
                    at: time::OffsetDateTime::now_utc(),
                    status: SyncStatus::Failed,
                    error: Some("connection refused".into()),
                    duration_ms: 5,
                    etag: None,
                    last_modified: None,
                    checksum: None,
                },
            )
            .await
            .unwrap();
        let (status, html) = text(&s, "/repositories").await;
        assert_eq!(status, 200, "{b}");
        for needle in [
            "deb12-security",
            "debian:12",
            "amd64",
            "600",
            "failed",
            "connection refused",
        ] {
            assert!(html.contains(needle), "{b} /repositories lacks {needle}");
        }
        assert!(
            html.contains("href=\"/repositories\">Repositories</a>"),
            "nav link"
        );
        let (status, body) = text(&s, "/repositories?format=csv").await;
        assert_eq!(status, 200, "{b}");
        let (header, rows) = csv_rows(&body);
        assert_eq!(header[0], "name");
        // The demo's bullseye Sources excerpt, then this one (by name).
        assert_eq!(rows.len(), 2, "{b}");
        let col = |c: &str| header.iter().position(|h| h == c).unwrap();
        assert_eq!(rows[0][col("name")], "deb12-security");
        assert_eq!(rows[1][col("name")], "demo-bullseye-sources");
        assert_eq!(rows[0][col("security")], "true");
        assert_eq!(rows[0][col("last_status")], "failed");
        assert_eq!(rows[0][col("packages")], "0");
        let (_, repos) = s.get_json("/api/v1/repositories").await;
        assert_eq!(repos[0]["name"], "deb12-security", "{b}");
        assert_eq!(repos[0]["priority"], 600);
        assert_eq!(repos[0]["last_error"], "connection refused");

        // The package page: its host rows agree with the API's version counts and missing
        // hosts; the host page links its installed packages to it.
        let (_, report) = s.get_json("/api/v1/packages/bash").await;
        let (status, rows) = s.get_json("/packages/bash?format=json").await;
        assert_eq!(status, 200, "{b}");
        let rows = rows.as_array().unwrap();
        let installed: i64 = report["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["hosts"].as_i64().unwrap())
            .sum();
        assert!(installed > 0, "{b}: the demo has bash");
        assert_eq!(
            rows.iter().filter(|r| r["status"] != "missing").count() as i64,
            installed,
            "{b}"
        );
        let missing: BTreeSet<String> = rows
            .iter()
            .filter(|r| r["status"] == "missing")
            .map(|r| r["hostname"].as_str().unwrap().to_owned())
            .collect();
        let want: BTreeSet<String> = report["missing"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(missing, want, "{b}");
        let (_, by_pkg) = s.get_json("/api/v1/hosts?limit=1000&package=bash").await;
        let with: BTreeSet<String> = rows
            .iter()
            .filter(|r| r["status"] != "missing")
            .map(|r| r["hostname"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(with, names(&by_pkg, "hosts"), "{b}");
        let (status, body) = text(&s, "/packages/bash?format=csv").await;
        assert_eq!(status, 200);
        let (header, csv) = csv_rows(&body);
        assert_eq!(header[0], "hostname");
        assert_eq!(csv.len(), rows.len());
        let (_, html) = text(&s, "/packages/bash").await;
        let one = rows[0]["hostname"].as_str().unwrap();
        assert!(html.contains(&format!("href=\"/hosts/{one}\"")), "{b}");
        let (_, html) = text(&s, &format!("/hosts/{one}?tab=packages")).await;
        assert!(
            html.contains("href=\"/packages/bash\""),
            "{b}: host page links packages"
        );
        let (status, group) = s
            .get_json("/api/v1/packages/bash?group=no-such-group")
            .await;
        assert_eq!(status, 200);
        assert_eq!(group["versions"], serde_json::json!([]));

        // The CVE filter agrees with the CVE page and its host count.
        let n = top["hosts"].as_i64().unwrap();
        let (_, by_cve) = s
            .get_json(&format!("/api/v1/hosts?limit=1000&cve={cve}"))
            .await;
        assert_eq!(by_cve["total"].as_i64().unwrap(), n, "{b}");
        let (_, detail) = s.get_json(&format!("/api/v1/cves/{cve}")).await;
        assert_eq!(names(&by_cve, "hosts"), names(&detail, "hosts"), "{b}");
        let pkg = detail["hosts"][0]["packages"][0].clone();
        let pkg_name = pkg["package"].as_str().unwrap().to_owned();
        let (_, by_pkg) = s
            .get_json(&format!(
                "/api/v1/hosts?limit=1000&package={}",
                pkg_name.replace('+', "%2B")
            ))
            .await;
        let with_pkg: BTreeSet<String> = detail["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| {
                h["packages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["package"] == pkg_name.as_str())
            })
            .map(|h| h["hostname"].as_str().unwrap().to_owned())
            .collect();
        assert!(!with_pkg.is_empty());
        assert!(
            names(&by_pkg, "hosts").is_superset(&with_pkg),
            "{b} {pkg_name}"
        );
        // TLD filter, OS filter, not covered (the demo's Alpine hosts).
        let (_, org) = s.get_json("/api/v1/hosts?tld=cz,org").await;
        assert_eq!(
            org["total"].as_i64().unwrap(),
            total
                - i64::from(
                    all["hosts"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|h| !h["hostname"].as_str().unwrap().ends_with(".org"))
                )
        );
        let (_, cz) = s.get_json("/api/v1/hosts?tld=cz").await;
        assert_eq!(cz["total"], 0);
        let (_, uncovered) = s
            .get_json("/api/v1/hosts?not_covered=true&limit=1000")
            .await;
        let want: BTreeSet<String> = all["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["covered"] == false)
            .map(|h| h["hostname"].as_str().unwrap().to_owned())
            .collect();
        assert!(!want.is_empty());
        assert_eq!(names(&uncovered, "hosts"), want, "{b}");
        let (_, alpine) = s.get_json("/api/v1/hosts?os=alpine&limit=1000").await;
        assert!(alpine["total"].as_i64().unwrap() > 0);
        let (status, _) = s.get_json("/api/v1/hosts?sort=-tagged").await;
        assert_eq!(status, 200);
        let (status, _) = s.get_json("/api/v1/hosts?sort=nonsense").await;
        assert_eq!(status, 400);

        // Exports: everything matching, CSV and JSON agree with the API.
        let (_, body) = text(&s, "/hosts?vulnerable=true&format=csv").await;
        let (header, rows) = csv_rows(&body);
        assert_eq!(header[0], "hostname");
        let (_, vuln) = s.get_json("/api/v1/hosts?vulnerable=true&limit=1000").await;
        assert_eq!(rows.len() as i64, vuln["total"].as_i64().unwrap(), "{b}");
        let (_, json) = s.get_json("/hosts?vulnerable=true&format=json").await;
        assert_eq!(json.as_array().unwrap().len(), rows.len());
        let (_, body) = text(&s, "/api/v1/hosts?format=csv&limit=1").await;
        assert_eq!(
            csv_rows(&body).1.len() as i64,
            total,
            "exports ignore paging"
        );
        let (_, body) = text(&s, "/cves?format=csv").await;
        let (header, rows) = csv_rows(&body);
        assert_eq!(
            header,
            [
                "cve",
                "severity",
                "hosts",
                "fixable_hosts",
                "unfixed_hosts",
                "fixable",
                "advisories",
                "tags",
                "risk",
                "kev",
                "kev_date_added",
                "kev_due_date",
                "kev_ransomware",
                "epss",
                "epss_percentile",
                "cvss"
            ]
        );
        assert_eq!(rows.len(), cves.as_array().unwrap().len());
        assert_eq!(rows[0][0], cve);
        for list in [
            "groups",
            "domains",
            "oses",
            "feeds",
            "stats",
            "tags",
            "exceptions",
        ] {
            let (status, body) = text(&s, &format!("/{list}?format=csv")).await;
            assert_eq!(status, 200, "{list}");
            let (_, json) = s.get_json(&format!("/api/v1/{list}?format=json")).await;
            assert_eq!(
                csv_rows(&body).1.len(),
                json.as_array().unwrap().len(),
                "{list}"
            );
        }
        let (_, groups) = s.get_json("/api/v1/groups").await;
        let sum: i64 = groups
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["hosts"].as_i64().unwrap())
            .sum();
        assert_eq!(sum, total);

        // A tag created through the form shows on the tag page and filters hosts.
        assert_eq!(
            form(
                &s,
                "/tags",
                &[
                    ("csrf", ""),
                    ("cve", &cve),
                    ("tag", "Critical"),
                    ("reason", "exploited"),
                    ("info_url", "")
                ]
            )
            .await,
            303
        );
        let (_, report) = s.get_json("/api/v1/tags/Critical").await;
        assert_eq!(report["hosts"].as_array().unwrap().len() as i64, n, "{b}");
        assert!(!report["groups"].as_array().unwrap().is_empty());
        let (_, tagged) = s
            .get_json("/api/v1/hosts?cve_tag=critical&limit=1000")
            .await;
        assert_eq!(tagged["total"].as_i64().unwrap(), n);
        let (_, cves2) = s.get_json("/api/v1/cves").await;
        assert_eq!(cves2[0]["tags"], serde_json::json!(["Critical"]));
        // Duplicate: 400. Through the API: create, disable, delete.
        assert_eq!(
            form(
                &s,
                "/tags",
                &[("csrf", ""), ("cve", &cve), ("tag", "Critical")]
            )
            .await,
            400
        );
        let r = s
            .client
            .post(format!("{}/api/v1/tags", s.base))
            .header("content-type", "application/json")
            .body(serde_json::json!({"cve": cve, "tag": "High", "reason": "api"}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        let id = serde_json::from_str::<Value>(&r.text().await.unwrap()).unwrap()["id"]
            .as_i64()
            .unwrap();
        let r = s
            .client
            .patch(format!("{}/api/v1/tags/{id}", s.base))
            .header("content-type", "application/json")
            .body(serde_json::json!({"enabled": false}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let (_, high) = s.get_json("/api/v1/hosts?cve_tag=High").await;
        assert_eq!(high["total"], 0, "a disabled tag selects nothing");
        let r = s
            .client
            .delete(format!("{}/api/v1/tags/{id}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 204);
        let (_, tags) = s.get_json("/api/v1/tags").await;
        assert_eq!(tags.as_array().unwrap().len(), 1);
        // The toggle form disables the Critical tag.
        let crit = tags[0]["id"].as_i64().unwrap().to_string();
        assert_eq!(
            form(
                &s,
                "/tags/toggle",
                &[("csrf", ""), ("id", &crit), ("enabled", "false")]
            )
            .await,
            303
        );
        let (_, tagged) = s.get_json("/api/v1/hosts?cve_tag=Critical").await;
        assert_eq!(tagged["total"], 0);

        // An exception for one package version removes the CVE from the hosts that have it.
        let stream = detail["hosts"][0]["os_stream"].as_str().unwrap().to_owned();
        let version = pkg["version"].as_str().unwrap().to_owned();
        assert_eq!(
            form(
                &s,
                "/exceptions",
                &[
                    ("csrf", ""),
                    ("cve", &cve),
                    ("package", &pkg_name),
                    ("version", &version),
                    ("os_stream", &stream),
                    ("reason", "mitigated"),
                    ("expires_at", "2099-12-31"),
                ],
            )
            .await,
            303
        );
        let (_, after) = s.get_json(&format!("/api/v1/cves/{cve}")).await;
        let still: Vec<&Value> = after["hosts"]
            .as_array()
            .map(|v| v.iter().collect())
            .unwrap_or_default();
        assert!(!still.is_empty() || after.is_null());
        for h in &still {
            for p in h["packages"].as_array().unwrap() {
                assert!(
                    !(h["os_stream"] == stream.as_str()
                        && p["package"] == pkg_name.as_str()
                        && p["version"] == version.as_str()),
                    "{b}: excepted package still listed"
                );
            }
        }
        let excepted = detail["hosts"][0]["hostname"].as_str().unwrap();
        let (_, host) = s.get_json(&format!("/api/v1/hosts/{excepted}")).await;
        assert_eq!(host["exceptions"][0]["cve"], cve.as_str());
        let (_, exc) = s.get_json("/api/v1/exceptions").await;
        assert_eq!(exc[0]["author"], "admin");
        assert_eq!(exc[0]["expires_at"], "2099-12-31T00:00:00Z");
        let r = s
            .client
            .delete(format!("{}/api/v1/exceptions/{}", s.base, exc[0]["id"]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 204);
        let (_, back) = s.get_json(&format!("/api/v1/cves/{cve}")).await;
        assert_eq!(names(&back, "hosts"), names(&detail, "hosts"), "{b}");
        let r = s
            .client
            .post(format!("{}/api/v1/exceptions", s.base))
            .header("content-type", "application/json").body(serde_json::json!({"cve": cve, "package": "x", "version": "1", "os_stream": "nonsense"}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400);
        s.finish().await;
    }
}

/// A restricted viewer's CVE counts, CVE pages and tag pages cover only their hosts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_index_honours_restricted_scopes() {
    for db in pakiti_test_support::databases().await {
        let s = TestServer::start(db, |_| {}).await;
        pakiti_server::demo::populate(&s.state).await.unwrap();
        let fleet = Fleet::load(
            &s.state.store,
            &s.state.engine.evaluator(),
            &s.state.engine.policy(),
        )
        .await
        .unwrap();
        let (_, all) = s.get_json("/api/v1/hosts?limit=1000").await;
        let group = all["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|h| h["host_group"].as_str())
            .unwrap()
            .to_owned();
        let in_group: BTreeSet<String> = all["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["host_group"] == group.as_str())
            .map(|h| h["hostname"].as_str().unwrap().to_owned())
            .collect();
        let scope = HostScope::Restricted {
            groups: vec![group.clone()],
            domains: vec![],
            hosts: vec![],
        };
        let everyone = fleet.cves(&HostScope::All);
        let mine = fleet.cves(&scope);
        assert!(!mine.is_empty());
        assert!(mine.len() <= everyone.len());
        for c in &mine {
            let d = fleet.cve(&c.cve, &scope).unwrap();
            assert_eq!(d.hosts.len(), c.hosts);
            assert!(d.hosts.iter().all(|h| in_group.contains(&h.hostname)));
            let full = everyone.iter().find(|e| e.cve == c.cve).unwrap();
            assert!(full.hosts >= c.hosts);
        }
        let nobody = HostScope::Restricted {
            groups: vec![],
            domains: vec![],
            hosts: vec![],
        };
        assert!(fleet.cves(&nobody).is_empty());
        let sets = fleet.host_sets(pakiti_engine::fleet::GroupBy::Group, &scope);
        assert_eq!(sets.len(), 1);
        assert_eq!(sets[0].hosts, in_group.len());
        s.finish().await;
    }
}

/// The golden copy of the OpenAPI document in `docs/`.
const OPENAPI_GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");

/// `docs/openapi.json` is exactly the document generated from the handlers
/// (`pakiti_server::router::openapi`), so it cannot drift; `PAKITI_BLESS=1` rewrites it.
#[test]
fn openapi_golden_copy_is_generated_from_the_handlers() {
    let generated = serde_json::to_string_pretty(&pakiti_server::router::openapi()).unwrap() + "\n";
    if std::env::var_os("PAKITI_BLESS").is_some() {
        std::fs::write(OPENAPI_GOLDEN, &generated).unwrap();
    }
    let golden = std::fs::read_to_string(OPENAPI_GOLDEN).unwrap();
    assert!(
        golden == generated,
        "docs/openapi.json differs from the document the handlers generate; run the test with \
         PAKITI_BLESS=1 and review the diff"
    );
}

/// `docs/openapi.json` documents exactly the router's API routes, and what the server answers
/// on each GET path has the documented top-level shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_matches_the_server() {
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(OPENAPI_GOLDEN).unwrap()).unwrap();
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            if method != "parameters" {
                documented.insert((method.clone(), path.clone()));
            }
        }
    }
    let routed: BTreeSet<(String, String)> =
        pakiti_server::router::api_routes().into_iter().collect();
    assert_eq!(documented, routed);
    assert_eq!(
        routed.len(),
        45,
        "35 routes (with /api/v1/changes, the report diff, GET /api/v1/summary, DELETE of one \
         host, /api/v1/check, /api/v1/limits, /api/v1/housekeeping, /api/v1/audit and the six \
         of /api/v1/notifications), and the ten of /api/v1/users"
    );

    let s = TestServer::start(pakiti_test_support::TestDatabase::sqlite(), |_| {}).await;
    pakiti_server::demo::populate(&s.state).await.unwrap();
    pakiti_server::handlers::users::create_user(&s.state, "alice", None, false)
        .await
        .unwrap();
    // A notification rule, so that `/api/v1/notifications/rules/{id}` has one to show.
    let r = s
        .client
        .post(format!("{}/api/v1/notifications/rules", s.base))
        .header("content-type", "application/json")
        .body(
            serde_json::json!({
                "name": "tagged", "triggers": ["tagged"], "emails": ["sec@example.org"]
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
    let (_, hosts) = s.get_json("/api/v1/hosts").await;
    let (_, cves) = s.get_json("/api/v1/cves").await;
    let host = hosts["hosts"][0]["hostname"].as_str().unwrap().to_owned();
    let cve = cves[0]["cve"].as_str().unwrap().to_owned();
    let schemas = &doc["components"]["schemas"];
    let resolve = |v: &Value| -> Value {
        match v["$ref"].as_str() {
            Some(r) => schemas[r.trim_start_matches("#/components/schemas/")].clone(),
            None => v.clone(),
        }
    };
    // A `#[serde(flatten)]`ed struct is `allOf` its parts: one object with all their fields.
    let merge = |v: Value| -> Value {
        let Some(parts) = v["allOf"].as_array() else {
            return v;
        };
        let mut properties = serde_json::Map::new();
        let mut required = Vec::new();
        for p in parts {
            let p = resolve(p);
            if let Some(props) = p["properties"].as_object() {
                properties.extend(props.clone());
            }
            if let Some(r) = p["required"].as_array() {
                required.extend(r.iter().cloned());
            }
        }
        serde_json::json!({"type": "object", "properties": properties, "required": required})
    };
    // GETs first: the other methods change what they read (DELETE removes alice).
    let mut ordered: Vec<&(String, String)> = routed.iter().collect();
    ordered.sort_by_key(|(m, _)| m != "get");
    for (method, path) in ordered {
        let url = path
            .replace("{hostname}", &host)
            .replace("{cve}", &cve)
            .replace("{tag}", "Critical")
            .replace(
                "{name}",
                if path.starts_with("/api/v1/users/") {
                    "alice"
                } else {
                    "bash"
                },
            )
            .replace("{kind}", "group")
            .replace("{value}", "physics")
            .replace("{id}", "1");
        // The report diff compares two reports of the host: its last one with itself.
        let url = if path.ends_with("/diff") {
            let h = s
                .state
                .store
                .get_host_by_name(&host)
                .await
                .unwrap()
                .unwrap();
            let r = s.state.store.host_reports(h.id, 1).await.unwrap()[0].id;
            format!("{url}?from={r}&to={r}")
        } else {
            url
        };
        if method != "get" {
            // Routed: the handler answers (whatever it thinks of an empty body), not axum's
            // fallback (404 without a body) or a wrong method (405).
            let r = s
                .client
                .request(
                    method.to_uppercase().parse().unwrap(),
                    format!("{}{url}", s.base),
                )
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body = r.text().await.unwrap();
            assert_ne!(status, 405, "{method} {url}");
            assert!(
                status != 404 || !body.is_empty(),
                "{method} {url}: not routed"
            );
            continue;
        }
        let (status, body) = s.get_json(&url).await;
        assert_eq!(status, 200, "{url}");
        let schema = merge(resolve(
            &doc["paths"][path.as_str()]["get"]["responses"]["200"]["content"]["application/json"]
                ["schema"],
        ));
        let (schema, value) = if schema["type"] == "array" {
            let items = merge(resolve(&schema["items"]));
            assert!(body.is_array(), "{url}: not an array");
            match body.as_array().unwrap().first() {
                Some(v) => (items, v.clone()),
                None => continue,
            }
        } else {
            (schema, body)
        };
        assert_eq!(schema["type"], "object", "{path}");
        for field in schema["required"].as_array().unwrap() {
            let f = field.as_str().unwrap();
            assert!(value.get(f).is_some(), "{url}: missing {f} in {value}");
        }
        for key in value.as_object().unwrap().keys() {
            assert!(
                schema["properties"].get(key).is_some(),
                "{url}: undocumented field {key}"
            );
        }
    }
    s.finish().await;
}

/// A duplicate key is one status (400) on every path: a taken user name through the form and
/// through the API, a duplicate tag through the form and through the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_is_a_bad_request_on_every_path() {
    let s = TestServer::start(pakiti_test_support::TestDatabase::sqlite(), |_| {}).await;
    let post_json = |path: &str, body: Value| {
        s.client
            .post(format!("{}{path}", s.base))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let r = post_json("/api/v1/users", serde_json::json!({"name": "carol"}))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let r = post_json("/api/v1/users", serde_json::json!({"name": "carol"}))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(body["status"], 400);
    assert!(body["error"].as_str().unwrap().contains("carol"), "{body}");
    assert_eq!(
        form(&s, "/users", &[("csrf", ""), ("name", "carol")]).await,
        400
    );
    let tag = serde_json::json!({"cve": "CVE-2024-0001", "tag": "High"});
    let r = post_json("/api/v1/tags", tag.clone()).await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let r = post_json("/api/v1/tags", tag).await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(
        form(
            &s,
            "/tags",
            &[("csrf", ""), ("cve", "CVE-2024-0001"), ("tag", "High")]
        )
        .await,
        400
    );
    s.finish().await;
}
