//! Issue 14 part 5: the exposure history through the real server — `/api/v1/changes` with
//! causes (a report, a feed update, a package update), time to patch, the report diff and the
//! daily fleet snapshot — on SQLite and (with `PAKITI_TEST_POSTGRES_URL`) PostgreSQL.
//!
//! Data: the real AlmaLinux OSV advisories and host list of `fixtures/demo` (as in
//! `invariant.rs`); advisory 3 (ALSA-2022:8194, libtiff) and 8 (ALSA-2024:2433, avahi) are the
//! ones a feed update adds and withdraws.

use std::collections::{BTreeMap, BTreeSet};

use pakiti_test_support::databases;
use serde_json::Value;

use crate::invariant::{ADVISORIES, host_report, import};
use crate::support::TestServer;

const HOST: &str = "alma1.example.org";

fn set(v: &Value, kind: &str, cause: &str) -> BTreeSet<String> {
    v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == kind && c["cause"] == cause)
        .map(|c| {
            assert_eq!(c["hostname"], HOST, "{c}");
            c["cve"].as_str().unwrap().to_owned()
        })
        .collect()
}

async fn open(s: &TestServer, host: i64) -> BTreeSet<String> {
    s.state
        .store
        .open_exposures()
        .await
        .unwrap()
        .into_iter()
        .filter(|(h, _)| *h == host)
        .map(|(_, c)| c)
        .collect()
}

/// A host reports old packages, a feed update adds one advisory and withdraws another, the
/// host updates its packages: `/api/v1/changes?since=` shows each exposure gained and lost
/// with its cause, the advisory that newly affects the fleet, the host added, and the median
/// time to patch of the host's group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_show_gained_and_lost_with_their_causes() {
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        let be = s.backend();
        let since = "2000-01-01";
        let mut first = vec![1u8; ADVISORIES];
        first[3] = 0;
        assert!(import(&s.state, 0, &first).await);
        s.state.engine.reevaluate().await.unwrap();
        // The host reports every named package at an old version.
        let (st, text) = s.post_protocol5(&host_report(0, 1)).await;
        assert_eq!(st, 200, "{text}");
        let host = s.state.store.get_host_by_name(HOST).await.unwrap().unwrap();
        let after_report = open(&s, host.id).await;
        assert!(!after_report.is_empty(), "{be}");
        assert_eq!(after_report.len() as i64, host.counts.cves, "{be}");
        let (st, v) = s.get_json(&format!("/api/v1/changes?since={since}")).await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(set(&v, "gained", "report"), after_report, "{be}");
        assert_eq!(v["counts"]["hosts_added"], 1, "{be}");
        assert!(
            v["changes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["kind"] == "host_added" && c["hostname"] == HOST),
            "{be}"
        );

        // The feed adds ALSA-2022:8194 and withdraws ALSA-2024:2433.
        let mut second = vec![1u8; ADVISORIES];
        second[8] = 0;
        assert!(import(&s.state, 0, &second).await);
        s.state.engine.reevaluate().await.unwrap();
        let after_feed = open(&s, host.id).await;
        let (_, v) = s.get_json(&format!("/api/v1/changes?since={since}")).await;
        let gained_feed = set(&v, "gained", "feed");
        let lost_feed = set(&v, "lost", "feed");
        assert!(
            gained_feed.contains("CVE-2022-0561"),
            "{be}: {gained_feed:?}"
        );
        assert!(lost_feed.contains("CVE-2023-38469"), "{be}: {lost_feed:?}");
        assert_eq!(
            gained_feed,
            after_feed.difference(&after_report).cloned().collect(),
            "{be}"
        );
        assert_eq!(
            lost_feed,
            after_report.difference(&after_feed).cloned().collect(),
            "{be}"
        );
        assert!(
            v["changes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["kind"] == "advisory" && c["advisory"] == "ALSA-2022:8194"),
            "{be}: the new advisory affects the fleet"
        );
        let host = s.state.store.get_host_by_name(HOST).await.unwrap().unwrap();
        assert_eq!(after_feed.len() as i64, host.counts.cves, "{be}");

        // The host installs the updates (the real list is patched against every advisory).
        let (st, text) = s.post_protocol5(&host_report(0, 0)).await;
        assert_eq!(st, 200, "{text}");
        let host = s.state.store.get_host_by_name(HOST).await.unwrap().unwrap();
        assert_eq!(host.counts.cves, 0, "{be}");
        assert!(open(&s, host.id).await.is_empty(), "{be}");
        let (_, v) = s.get_json(&format!("/api/v1/changes?since={since}")).await;
        assert_eq!(set(&v, "lost", "report"), after_feed, "{be}");
        assert_eq!(
            v["counts"]["lost"].as_u64().unwrap() as usize,
            after_feed.len() + lost_feed.len(),
            "{be}"
        );
        // Time to patch: the site's exposures fixed by the report (each had a fixed version).
        let ttp = v["time_to_patch"].as_array().unwrap();
        assert_eq!(ttp.len(), 1, "{be}: {ttp:?}");
        assert_eq!(ttp[0]["group"], "site-a");
        let fixable = v["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["kind"] == "lost" && c["cause"] == "report" && c["fixable"] == true)
            .count();
        assert!(fixable > 0, "{be}");
        assert_eq!(ttp[0]["fixed"].as_u64().unwrap() as usize, fixable, "{be}");
        // The fixes were issued long before today.
        assert!(ttp[0]["median_days"].as_f64().unwrap() > 300.0, "{be}");

        // Paging, a kind filter, exports, bad input.
        let total = v["total"].as_i64().unwrap();
        let (_, p) = s
            .get_json(&format!("/api/v1/changes?since={since}&limit=2&offset=1"))
            .await;
        assert_eq!(p["changes"].as_array().unwrap().len(), 2);
        assert_eq!(p["total"].as_i64().unwrap(), total);
        assert_eq!(p["changes"][0], v["changes"][1]);
        let (_, k) = s
            .get_json(&format!(
                "/api/v1/changes?since={since}&kind=lost&limit=1000"
            ))
            .await;
        assert!(
            k["changes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["kind"] == "lost")
        );
        let csv = s
            .client
            .get(format!(
                "{}/api/v1/changes?since={since}&format=csv",
                s.base
            ))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            csv.starts_with("at,kind,hostname,group,cve,advisory,severity"),
            "{csv}"
        );
        assert_eq!(csv.lines().count() as i64, total + 1, "{be}");
        for bad in [
            "since=yesterday",
            "until=2000-01-01&since=2001-01-01",
            "kind=odd",
        ] {
            let (st, e) = s.get_json(&format!("/api/v1/changes?{bad}")).await;
            assert_eq!(st, 400, "{bad}: {e}");
        }
        // The default window (24 h) holds all of it; a window in the past holds nothing.
        let (_, d) = s.get_json("/api/v1/changes").await;
        assert_eq!(d["total"].as_i64().unwrap(), total, "{be}");
        let (_, old) = s
            .get_json("/api/v1/changes?since=2000-01-01&until=2000-01-02T00:00:00Z")
            .await;
        assert_eq!(old["total"], 0);
        // The page.
        let html = s
            .client
            .get(format!("{}/changes?since={since}", s.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains("CVE-2022-0561") && html.contains("site-a"),
            "{be}"
        );

        // Deleting the host: the tick retires it in the history.
        assert!(s.state.store.delete_host(host.id).await.unwrap());
        pakiti_server::jobs::tick(&s.state).await;
        let (_, v) = s.get_json(&format!("/api/v1/changes?since={since}")).await;
        assert_eq!(v["counts"]["hosts_retired"], 1, "{be}");
        s.finish().await;
    }
}

/// The diff between two reports of a host: packages added, removed and changed as the two
/// lists say, CVEs gained and lost; a report of another host is not found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_diff_counts_packages_and_cves() {
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        let be = s.backend();
        assert!(import(&s.state, 0, &[1u8; ADVISORIES]).await);
        s.state.engine.reevaluate().await.unwrap();
        let clean = host_report(0, 0);
        let old = host_report(0, 2);
        for r in [&clean, &old] {
            let (st, text) = s.post_protocol5(r).await;
            assert_eq!(st, 200, "{text}");
        }
        let (st, text) = s.post_protocol5(&host_report(1, 0)).await;
        assert_eq!(st, 200, "{text}");
        let host = s.state.store.get_host_by_name(HOST).await.unwrap().unwrap();
        let other = s
            .state
            .store
            .get_host_by_name("alma2.example.org")
            .await
            .unwrap()
            .unwrap();
        let mut reports = s.state.store.host_reports(host.id, 10).await.unwrap();
        reports.reverse();
        let (from, to) = (reports[0].id, reports[1].id);
        // What the two lists say, by (name, arch).
        let by_name = |r: &pakiti_api::report::Report| -> BTreeMap<String, String> {
            r.packages
                .iter()
                .map(|p| (p.name.clone(), p.version.clone()))
                .collect()
        };
        let (a, b) = (by_name(&clean), by_name(&old));
        let added = b.keys().filter(|k| !a.contains_key(*k)).count();
        let removed = a.keys().filter(|k| !b.contains_key(*k)).count();
        let changed = b
            .iter()
            .filter(|(k, v)| a.get(*k).is_some_and(|x| x != *v))
            .count();
        assert!(
            added > 0 && removed > 0 && changed > 0,
            "{added} {removed} {changed}"
        );
        let (st, d) = s
            .get_json(&format!("/api/v1/hosts/{HOST}/diff?from={from}&to={to}"))
            .await;
        assert_eq!(st, 200, "{d}");
        assert_eq!(d["added"].as_array().unwrap().len(), added, "{be}");
        assert_eq!(d["removed"].as_array().unwrap().len(), removed, "{be}");
        assert_eq!(d["changed"].as_array().unwrap().len(), changed, "{be}");
        // From a clean list to an old one: every CVE the host has now was gained.
        let gained: BTreeSet<String> = d["cves_gained"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(gained, open(&s, host.id).await, "{be}");
        assert!(!gained.is_empty());
        assert_eq!(d["cves_lost"].as_array().unwrap().len(), 0);
        // And back.
        let (_, back) = s
            .get_json(&format!("/api/v1/hosts/{HOST}/diff?from={to}&to={from}"))
            .await;
        assert_eq!(back["added"].as_array().unwrap().len(), removed);
        assert_eq!(back["cves_lost"], d["cves_gained"]);
        // The page, labelled with how CVEs were computed.
        let html = s
            .client
            .get(format!("{}/hosts/{HOST}/diff?from={from}&to={to}", s.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains(&format!("<span id=\"changed-count\">{changed}</span>")),
            "{be}"
        );
        assert!(html.contains("evaluated with the vulnerability data"));
        // Another host's report, a missing id, an unknown host.
        let other_report = s.state.store.host_reports(other.id, 1).await.unwrap()[0].id;
        let (st, _) = s
            .get_json(&format!(
                "/api/v1/hosts/{HOST}/diff?from={from}&to={other_report}"
            ))
            .await;
        assert_eq!(st, 404);
        let (st, _) = s
            .get_json(&format!("/api/v1/hosts/{HOST}/diff?to={to}"))
            .await;
        assert_eq!(st, 400);
        let (st, _) = s
            .get_json(&format!(
                "/api/v1/hosts/nope.example.org/diff?from={from}&to={to}"
            ))
            .await;
        assert_eq!(st, 404);
        s.finish().await;
    }
}

/// `/api/v1/stats` is the fleet snapshot: every host, reporting or not, with its open
/// exposures by severity and fixable; a scoped viewer sees their hosts' only (the authz
/// table covers the scope of `/changes` and `/stats`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_every_host_with_its_open_exposures() {
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        let be = s.backend();
        assert!(import(&s.state, 0, &[1u8; ADVISORIES]).await);
        s.state.engine.reevaluate().await.unwrap();
        for (h, variant) in [(0, 1), (1, 0), (2, 3)] {
            let (st, text) = s.post_protocol5(&host_report(h, variant)).await;
            assert_eq!(st, 200, "{text}");
        }
        pakiti_server::jobs::tick(&s.state).await;
        let (st, v) = s.get_json("/api/v1/stats").await;
        assert_eq!(st, 200, "{v}");
        let today = v.as_array().unwrap().last().unwrap().clone();
        let open = s.state.store.open_exposures().await.unwrap();
        let exposed: BTreeSet<i64> = open.iter().map(|(h, _)| *h).collect();
        assert_eq!(today["hosts"], 3, "{be}: {today}");
        assert_eq!(today["cves"].as_u64().unwrap() as usize, open.len(), "{be}");
        assert_eq!(
            today["vulnerable_hosts"].as_u64().unwrap() as usize,
            exposed.len(),
            "{be}"
        );
        let by_sev: u64 = ["critical", "high", "medium", "low", "unknown"]
            .iter()
            .map(|k| today[k].as_u64().unwrap())
            .sum();
        assert_eq!(by_sev, today["cves"].as_u64().unwrap());
        assert_eq!(
            today["fixable"].as_u64().unwrap() + today["unfixed"].as_u64().unwrap(),
            today["cves"].as_u64().unwrap()
        );
        assert_eq!(today["not_reporting"], 0);
        s.finish().await;
    }
}
