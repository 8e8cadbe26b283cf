//! Issue 14, parts 1 and 2: prioritisation feeds (CISA KEV, FIRST EPSS) imported from files
//! through `pakiti feed import`, CVSS from the vulnerability feeds, and the risk order,
//! fixable / unfixed counts and filters of `/api/v1/cves`, `/api/v1/hosts`, their pages and
//! exports; CVE 404 messages. Real server, real store, SQLite and PostgreSQL.

use pakiti_server::cmd::feed::{ImportArgs, import};
use pakiti_test_support::{databases, shared_data};
use serde_json::Value;

use crate::support::{TestServer, report};

const RHEL8: (&str, &str) = ("redhat-oval", "rhel-8.oval.xml.bz2");

fn sev(s: &str) -> u8 {
    match s {
        "critical" => 4,
        "high" => 3,
        "medium" => 2,
        "low" => 1,
        _ => 0,
    }
}

/// The documented risk key of an `/api/v1/cves` row (`RISK_ORDER_EXPLAINED`).
fn key(c: &Value) -> (bool, bool, u8, bool, f64, u8) {
    let s = sev(c["severity"].as_str().unwrap());
    (
        !c["tags"].as_array().unwrap().is_empty(),
        c["kev"].as_bool().unwrap(),
        s.saturating_sub(2),
        c["fixable"].as_bool().unwrap(),
        c["epss"].as_f64().unwrap_or(-1.0),
        s,
    )
}

fn assert_risk_order(rows: &[Value], what: &str) {
    for w in rows.windows(2) {
        let (a, b) = (key(&w[0]), key(&w[1]));
        assert!(
            a.partial_cmp(&b) != Some(std::cmp::Ordering::Less),
            "{what}: {} {a:?} before {} {b:?}",
            w[0]["cve"],
            w[1]["cve"]
        );
    }
}

async fn cli_import(s: &TestServer, file: &std::path::Path) -> String {
    let mut out = Vec::new();
    let ok = import(&s.state, file, ImportArgs::default(), &mut out)
        .await
        .unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(ok, "{}: {out}", s.backend());
    out
}

async fn text(s: &TestServer, path: &str) -> (u16, String) {
    let r = s
        .client
        .get(format!("{}{path}", s.base))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kev_epss_cvss_and_the_risk_order() {
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        let b = s.backend();
        s.import_feed("rhel-8", RHEL8.0, RHEL8.1).await;
        for host in ["a.example.org", "b.example.org"] {
            let (status, body) = s.post_protocol4(&report("rhel_80", host)).await;
            assert_eq!(status, 200, "{b}: {body}");
        }
        s.state.engine.fleet_up_to_date().await.unwrap();
        let (_, before) = s.get_json("/api/v1/cves").await;
        let before = before.as_array().unwrap().clone();
        assert!(before.len() > 50, "{b}: {}", before.len());
        // CVSS comes with the vulnerability feed (Red Hat OVAL `cvss3`): every CVE here is
        // a Red Hat one and most carry a score.
        let scored = before.iter().filter(|c| c["cvss"].is_number()).count();
        assert!(
            scored * 2 > before.len(),
            "{b}: {scored} of {}",
            before.len()
        );
        assert!(
            before
                .iter()
                .all(|c| c["kev"] == false && c["epss"].is_null())
        );

        // KEV and EPSS from files, through `pakiti feed import` (auto-detected kinds).
        let generation = s.state.store.feed_generation().await.unwrap();
        let kev =
            shared_data().join("prioritisation/cisa-kev/known_exploited_vulnerabilities.json.xz");
        let out = cli_import(&s, &kev).await;
        assert!(out.contains("imported facts on 1404 CVEs"), "{b}: {out}");
        assert!(!out.contains("re-evaluated"), "{b}: {out}");
        let excerpt =
            shared_data().join("prioritisation/epss/epss_scores-2026-09-29.head-tail-excerpt.csv");
        let out = cli_import(&s, &excerpt).await;
        assert!(out.contains("imported facts on 1071 CVEs"), "{b}: {out}");
        // EPSS scores for CVEs of this fleet (the real excerpt has none of them): a file in
        // the 2021-04 format (no percentile) for half of them, the current one for the rest.
        let dir = tempfile::tempdir().unwrap();
        let mut csv = String::from(
            "#model_version:v2023.03.01,score_date:2023-03-07T00:00:00+0000\ncve,epss,percentile\n",
        );
        for (i, c) in before.iter().enumerate() {
            let score = f64::from(u32::try_from(i % 97).unwrap()) / 100.0;
            csv.push_str(&format!("{},{score:.5},0.5\n", c["cve"].as_str().unwrap()));
        }
        let fleet_epss = dir.path().join("epss_scores-fleet.csv");
        std::fs::write(&fleet_epss, csv).unwrap();
        let mut out = Vec::new();
        let args = ImportArgs {
            name: Some("epss-fleet".into()),
            ..ImportArgs::default()
        };
        assert!(import(&s.state, &fleet_epss, args, &mut out).await.unwrap());
        // Prioritisation imports change no finding: nothing for a tick to re-evaluate.
        assert_eq!(
            s.state.store.feed_generation().await.unwrap(),
            generation,
            "{b}"
        );
        assert!(!s.state.engine.feeds_changed().await.unwrap(), "{b}");
        assert!(!s.state.engine.evaluator_behind().await.unwrap(), "{b}");
        assert!(!s.state.engine.cve_facts_changed().await.unwrap(), "{b}");

        // A tagged CVE first, whatever its data.
        let last = before.last().unwrap()["cve"].as_str().unwrap().to_owned();
        s.state
            .store
            .create_cve_tag(&pakiti_store::NewCveTag {
                cve: last.clone(),
                tag: "Critical".into(),
                reason: "site policy".into(),
                info_url: None,
                enabled: true,
                author: "test".into(),
            })
            .await
            .unwrap();
        s.state.engine.refresh_fleet_now().await.unwrap();

        let (status, rows) = s.get_json("/api/v1/cves").await;
        assert_eq!(status, 200, "{b}");
        let rows = rows.as_array().unwrap().clone();
        assert_eq!(rows.len(), before.len(), "{b}");
        assert_eq!(rows[0]["cve"], last.as_str(), "{b}");
        assert_eq!(rows[0]["risk"], "tagged", "{b}");
        assert_risk_order(&rows, b);
        let kev_rows: Vec<&Value> = rows.iter().filter(|c| c["kev"] == true).collect();
        assert!(!kev_rows.is_empty(), "{b}: some CVE of RHEL 8.0 is in KEV");
        for c in &kev_rows {
            assert!(c["kev_date_added"].as_str().unwrap().len() == 10, "{c}");
            assert!(c["kev_ransomware"].is_boolean(), "{c}");
        }
        // CVE-2021-3156 (sudo "Baron Samedit"): KEV, added 2022-04-06.
        if let Some(sudo) = rows.iter().find(|c| c["cve"] == "CVE-2021-3156") {
            assert_eq!(sudo["kev"], true);
            assert_eq!(sudo["kev_date_added"], "2022-04-06");
        }
        assert!(rows.iter().all(|c| c["epss"].is_number()), "{b}");
        assert!(rows.iter().all(|c| c["epss_percentile"] == 0.5), "{b}");
        let kev_pos = rows.iter().position(|c| c["risk"] == "kev").unwrap();
        assert!(rows[kev_pos..].iter().all(|c| c["risk"] != "tagged"), "{b}");
        // Each advisory once per row.
        for c in &rows {
            let a: Vec<&str> = c["advisories"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            let mut d = a.clone();
            d.sort_unstable();
            d.dedup();
            assert_eq!(a.len(), d.len(), "{b}: {c}");
            let hosts = c["hosts"].as_u64().unwrap();
            assert_eq!(
                c["fixable_hosts"].as_u64().unwrap() + c["unfixed_hosts"].as_u64().unwrap(),
                hosts
            );
        }

        // fixable=true / false split the list.
        let (_, fixable) = s.get_json("/api/v1/cves?fixable=true").await;
        let (_, unfixed) = s.get_json("/api/v1/cves?fixable=false").await;
        let (fixable, unfixed) = (fixable.as_array().unwrap(), unfixed.as_array().unwrap());
        assert!(!fixable.is_empty(), "{b}");
        assert!(fixable.iter().all(|c| c["fixable"] == true));
        assert!(unfixed.iter().all(|c| c["fixable"] == false));
        assert_eq!(fixable.len() + unfixed.len(), rows.len(), "{b}");
        assert_risk_order(fixable, b);
        let (status, _) = s.get_json("/api/v1/cves?fixable=maybe").await;
        assert_eq!(status, 400, "{b}");
        // A column sort breaks its ties by risk.
        let (_, by_hosts) = s.get_json("/api/v1/cves?sort=hosts").await;
        let by_hosts = by_hosts.as_array().unwrap();
        assert_eq!(
            by_hosts[0]["cve"],
            last.as_str(),
            "{b}: every CVE is on both hosts"
        );
        let (status, _) = s.get_json("/api/v1/cves?sort=nope").await;
        assert_eq!(status, 400);

        // The CVE page's API carries the same data.
        let top = rows[0]["cve"].as_str().unwrap();
        let (status, d) = s.get_json(&format!("/api/v1/cves/{top}")).await;
        assert_eq!(status, 200, "{b}");
        assert_eq!(d["risk"], "tagged");
        assert!(d["fixable_hosts"].is_number());
        assert!(d["hosts"][0]["fixable"].is_boolean());

        // Hosts: counts of fixable and unfixed CVEs, risk class, the filter.
        let (_, hosts) = s.get_json("/api/v1/hosts").await;
        let h = &hosts["hosts"][0];
        let (fx, un) = (
            h["fixable_cves"].as_i64().unwrap(),
            h["unfixed_cves"].as_i64().unwrap(),
        );
        assert_eq!(fx + un, h["cve_count"].as_i64().unwrap(), "{b}: {h}");
        assert_eq!(
            usize::try_from(fx).unwrap(),
            fixable.len(),
            "{b}: both hosts have the same packages"
        );
        assert_eq!(h["risk"], "tagged");
        let (_, only_fixable) = s.get_json("/api/v1/hosts?fixable=true").await;
        assert_eq!(only_fixable["total"], 2, "{b}");
        let (_, only_unfixed) = s.get_json("/api/v1/hosts?fixable=false").await;
        assert_eq!(only_unfixed["total"], 0, "{b}");
        let (status, _) = s.get_json("/api/v1/hosts?sort=risk").await;
        assert_eq!(status, 200);

        // Exports carry the new columns.
        let (status, csv) = text(&s, "/api/v1/cves?format=csv").await;
        assert_eq!(status, 200);
        let header = csv.lines().next().unwrap();
        for col in [
            "fixable",
            "fixable_hosts",
            "unfixed_hosts",
            "risk",
            "kev",
            "kev_date_added",
            "kev_due_date",
            "kev_ransomware",
            "epss",
            "epss_percentile",
            "cvss",
        ] {
            assert!(header.split(',').any(|c| c == col), "{col} in {header}");
        }
        assert_eq!(csv.lines().count(), rows.len() + 1);
        let (_, csv) = text(&s, "/cves?format=csv&fixable=true").await;
        assert_eq!(csv.lines().count(), fixable.len() + 1, "{b}");
        let (_, csv) = text(&s, "/api/v1/hosts?format=csv").await;
        let header = csv.lines().next().unwrap();
        assert!(header.contains("fixable_cves") && header.contains("unfixed_cves"));
        let (_, json) = s.get_json("/cves?format=json").await;
        assert_eq!(json[0]["risk"], "tagged");

        // Pages explain the order and show the columns.
        for path in ["/cves", "/hosts", "/tags/Critical", &format!("/cves/{top}")] {
            let (status, html) = text(&s, path).await;
            assert_eq!(status, 200, "{path}");
            assert!(
                html.contains("Risk order: CVEs tagged by this site first"),
                "{path}"
            );
        }
        let (_, html) = text(&s, "/cves").await;
        assert!(html.contains("EPSS") && html.contains("KEV") && html.contains("CVSS"));

        // The feeds list shows the prioritisation feeds.
        let (_, feeds) = s.get_json("/api/v1/feeds").await;
        let kev_feed = feeds
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "cisa-kev")
            .unwrap();
        assert_eq!(kev_feed["prioritisation"], true, "{feeds}");
        assert_eq!(kev_feed["advisories"], 1404);

        // A CVE no feed names vs one no host has.
        let (status, e) = s.get_json("/api/v1/cves/CVE-1999-0001").await;
        assert_eq!(status, 404);
        assert!(
            e.to_string().contains("not in any imported feed"),
            "{b}: {e}"
        );
        let on_hosts: Vec<&str> = rows.iter().map(|c| c["cve"].as_str().unwrap()).collect();
        let elsewhere = s
            .state
            .engine
            .evaluator()
            .stored_advisories()
            .flat_map(|(_, a)| a.cves.clone())
            .find(|c| !on_hosts.contains(&c.as_str()))
            .unwrap();
        let (status, e) = s.get_json(&format!("/api/v1/cves/{elsewhere}")).await;
        assert_eq!(status, 404);
        assert!(
            e.to_string().contains("affects no host you may see"),
            "{b}: {e}"
        );
        let (status, html) = text(&s, "/cves/CVE-1999-0001").await;
        assert_eq!(status, 404);
        assert!(html.contains("not in any imported feed"), "{html}");

        // Another server sharing the database sees the facts at its start, and a removal
        // is picked up by the tick.
        let s = s.restart().await;
        let (_, again) = s.get_json("/api/v1/cves").await;
        assert_eq!(again[0]["risk"], "tagged");
        assert!(again.as_array().unwrap().iter().any(|c| c["kev"] == true));
        let kev_id = s
            .state
            .store
            .list_feeds()
            .await
            .unwrap()
            .into_iter()
            .find(|f| f.name == "cisa-kev")
            .unwrap()
            .id;
        s.state.store.delete_feed(kev_id).await.unwrap();
        assert!(s.state.engine.cve_facts_changed().await.unwrap());
        pakiti_server::jobs::tick(&s.state).await;
        s.state.engine.fleet_up_to_date().await.unwrap();
        let (_, gone) = s.get_json("/api/v1/cves").await;
        assert!(
            gone.as_array().unwrap().iter().all(|c| c["kev"] == false),
            "{b}"
        );
        s.finish().await;
    }
}

/// A changed EPSS header is refused loudly: recorded as a failed import, no facts replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_prioritisation_file_fails_loudly() {
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        let b = s.backend();
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("epss.csv");
        std::fs::write(&good, "cve,epss\nCVE-2020-5902,0.65117\n").unwrap();
        let mut out = Vec::new();
        let args = || ImportArgs {
            name: Some("epss".into()),
            kind: Some("epss".into()),
            ..ImportArgs::default()
        };
        assert!(import(&s.state, &good, args(), &mut out).await.unwrap());
        let bad = dir.path().join("epss2.csv");
        std::fs::write(&bad, "cve,score\nCVE-2020-5902,0.9\n").unwrap();
        let mut out = Vec::new();
        let ok = import(&s.state, &bad, args(), &mut out).await.unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(!ok, "{b}: {out}");
        assert!(
            out.contains("FAILED") && out.contains("cve,epss"),
            "{b}: {out}"
        );
        let facts = s.state.engine.cve_facts();
        assert!((facts.get("CVE-2020-5902").unwrap().epss.unwrap().score - 0.65117).abs() < 1e-6);
        let (_, feeds) = s.get_json("/api/v1/feeds").await;
        assert_eq!(feeds[0]["last_status"], "failed", "{b}: {feeds}");
        s.finish().await;
    }
}

/// Issue 17: a column sort reads the hosts' ids with where the column's values tie as one
/// row, and orders only the ties by risk; the order is the same whole and page by page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_17_a_column_sort_breaks_ties_by_risk_page_by_page() {
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        let b = s.backend();
        s.import_feed("rhel-8", RHEL8.0, RHEL8.1).await;
        for (list, host) in [
            ("debian_12", "a.example.org"),
            ("rhel_80", "z.example.org"),
            ("debian_12", "b.example.org"),
        ] {
            let (status, body) = s.post_protocol4(&report(list, host)).await;
            assert_eq!(status, 200, "{b}: {body}");
        }
        s.state.engine.fleet_up_to_date().await.unwrap();
        let names = |v: &Value| -> Vec<String> {
            v["hosts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["hostname"].as_str().unwrap().to_owned())
                .collect()
        };
        // Every host is in site-a: one run of ties, the vulnerable host first, then the
        // store's order (hostname, ascending or descending with the column).
        for (sort, want) in [
            ("group", ["z.example.org", "a.example.org", "b.example.org"]),
            (
                "-group",
                ["z.example.org", "b.example.org", "a.example.org"],
            ),
            (
                "hostname",
                ["a.example.org", "b.example.org", "z.example.org"],
            ),
            (
                "-hostname",
                ["z.example.org", "b.example.org", "a.example.org"],
            ),
            (
                "packages",
                ["a.example.org", "b.example.org", "z.example.org"],
            ),
        ] {
            let (status, all) = s.get_json(&format!("/api/v1/hosts?sort={sort}")).await;
            assert_eq!(status, 200, "{b}: {sort}");
            assert_eq!(all["total"], 3, "{b}: {sort}");
            let all = names(&all);
            if sort == "packages" {
                // Both Debian hosts have the same list: a run of two, by hostname (same
                // risk); the RHEL host has more packages.
                let (_, d) = s.get_json("/api/v1/hosts?sort=hostname").await;
                let counts: Vec<i64> = d["hosts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| h["packages"].as_i64().unwrap())
                    .collect();
                assert_eq!(counts[0], counts[1], "{b}");
                assert!(counts[2] > counts[0], "{b}: {counts:?}");
            }
            assert_eq!(all, want, "{b}: sort={sort}");
            let mut paged = Vec::new();
            for offset in 0..3 {
                let (status, p) = s
                    .get_json(&format!(
                        "/api/v1/hosts?sort={sort}&limit=1&offset={offset}"
                    ))
                    .await;
                assert_eq!(status, 200, "{b}");
                assert_eq!(p["total"], 3, "{b}");
                paged.extend(names(&p));
            }
            assert_eq!(paged, all, "{b}: sort={sort}, one host per page");
        }
    }
}
