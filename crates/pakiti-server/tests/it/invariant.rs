//! The evaluation invariant (issue #12): whatever sequence of feed imports (adding, changing
//! and removing advisories, here or in another process, or cut short by a crash), feed
//! removals, exceptions, reports and restarts a server went through, every host's findings,
//! counts and coverage flags, the CVE list and the CVE host search equal what a fresh server
//! computes from the final state alone (its feeds, exceptions and each host's last report).
//! On SQLite and (with `PAKITI_TEST_POSTGRES_URL`) PostgreSQL. The open (host, CVE) exposures
//! of the history (issue 14 part 5) are part of what is compared: at every end state they are
//! exactly each host's CVE set.
//!
//! The feeds are variants of the real AlmaLinux OSV advisories in `fixtures/demo/alma.osv.json`
//! (the same records under the `Rocky Linux:8` ecosystem for the second feed); the hosts report
//! subsets of the real `fixtures/demo/hosts/alma_8.tsv` package list as AlmaLinux 8 or Rocky
//! Linux 8.

use std::collections::{BTreeMap, BTreeSet};

use pakiti_api::report::{Mode, Package, Packager, Report};
use pakiti_core::stream::Distro;
use pakiti_server::jobs::{self, feeds};
use pakiti_server::settings::Settings;
use pakiti_server::state::AppState;
use pakiti_store::{NewException, NewFeed};
use pakiti_test_support::{TestDatabase, databases, fixtures};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;

use crate::support::TestServer;

/// The advisories of the fixture, as JSON records.
fn alma_osv() -> Vec<Value> {
    serde_json::from_slice(&std::fs::read(fixtures().join("demo/alma.osv.json")).unwrap()).unwrap()
}

/// Number of advisories in the fixture.
pub(crate) const ADVISORIES: usize = 9;

/// The two feeds: name and the OSV ecosystem its records are published under.
const FEEDS: [(&str, &str); 2] = [("alma-osv", "AlmaLinux:8"), ("rocky-osv", "Rocky Linux:8")];

/// The hosts: name and whether it runs Rocky Linux (else AlmaLinux).
const HOSTS: [(&str, bool); 4] = [
    ("alma1.example.org", false),
    ("alma2.example.org", false),
    ("rocky1.example.org", true),
    ("rocky2.example.org", true),
];

/// One import of a feed: per advisory of the fixture, 0 = absent, 1 = as published,
/// 2 = changed (its fixed versions dropped, so every version is affected, and one CVE fewer),
/// 3 = changed (only its first package left).
pub(crate) fn feed_body(feed: usize, variant: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (mut a, &v) in alma_osv().into_iter().zip(variant) {
        match v {
            0 => continue,
            1 => {}
            2 => {
                for aff in a["affected"].as_array_mut().unwrap() {
                    for r in aff["ranges"].as_array_mut().unwrap() {
                        r["events"]
                            .as_array_mut()
                            .unwrap()
                            .retain(|e| e.get("fixed").is_none());
                    }
                }
                if let Some(rel) = a.get_mut("related").and_then(Value::as_array_mut)
                    && !rel.is_empty()
                {
                    rel.remove(0);
                }
            }
            _ => a["affected"].as_array_mut().unwrap().truncate(1),
        }
        for aff in a["affected"].as_array_mut().unwrap() {
            aff["package"]["ecosystem"] = FEEDS[feed].1.into();
        }
        out.push(a);
    }
    serde_json::to_vec_pretty(&out).unwrap()
}

/// The version a report gives the packages the advisories name (below every fix).
const OLD: &str = "0.1-1.el8";

/// A host's report. Variant 0 is the real list (patched against every advisory of the
/// fixture); the others put every package the advisories name at [`OLD`] (adding some that
/// the list lacks), and variants 1–3 also drop a third of the other packages each (a
/// different third).
pub(crate) fn host_report(host: usize, variant: u8) -> Report {
    let list = pakiti_server::sample::load_list(&fixtures().join("demo/hosts/alma_8.tsv")).unwrap();
    let named: BTreeSet<String> = alma_osv()
        .iter()
        .flat_map(|a| a["affected"].as_array().unwrap().clone())
        .map(|aff| aff["package"]["name"].as_str().unwrap().to_owned())
        .collect();
    let (hostname, rocky) = HOSTS[host];
    let os = if rocky {
        format!("{} {}", Distro::Rocky.display_name(), list.release)
    } else {
        list.os_name()
    };
    let weight = |name: &str| name.bytes().map(u32::from).sum::<u32>() + u32::from(variant);
    let mut packages: Vec<Package> = list
        .packages
        .iter()
        .filter(|p| {
            !(1..=3).contains(&variant) || named.contains(&p.name) || weight(&p.name) % 3 != 0
        })
        .map(|p| {
            let version = if variant > 0 && named.contains(&p.name) {
                OLD.to_owned()
            } else {
                p.version.clone()
            };
            Package::new(p.name.clone(), version, "x86_64".to_owned())
        })
        .collect();
    if variant > 0 {
        for name in &named {
            if weight(name) % 2 == 0 && !list.packages.iter().any(|p| p.name == *name) {
                packages.push(Package::new(
                    name.clone(),
                    OLD.to_owned(),
                    "x86_64".to_owned(),
                ));
            }
        }
    }
    Report {
        hostname: hostname.into(),
        os,
        arch: "x86_64".into(),
        kernel: list.kernel.clone(),
        site: Some("site-a".into()),
        packager: Packager::Rpm,
        mode: Mode::StoreOnly,
        packages,
        ..Report::default()
    }
}

/// Exceptions the sequences may add and remove: the first CVE of each advisory that has CVEs,
/// on its first package at [`OLD`], for AlmaLinux or Rocky Linux hosts in turn.
fn exception_candidates() -> Vec<NewException> {
    let mut out = Vec::new();
    for a in alma_osv() {
        let Some(cve) = a
            .get("related")
            .and_then(Value::as_array)
            .and_then(|r| r.first())
            .and_then(Value::as_str)
        else {
            continue;
        };
        let stream = if out.len() % 2 == 0 {
            "alma:8"
        } else {
            "rocky:8"
        };
        out.push(NewException {
            cve: cve.to_owned(),
            package: a["affected"][0]["package"]["name"]
                .as_str()
                .unwrap()
                .to_owned(),
            version: OLD.to_owned(),
            stream: stream.into(),
            reason: "mitigated".into(),
            author: "test".into(),
            expires_at: None,
        });
    }
    out
}

/// One step of a sequence.
#[derive(Clone, Debug)]
enum Op {
    /// Imports a variant of a feed (creating the feed if needed): in the server, or in
    /// another process (`elsewhere`, as `pakiti feed import` does) that the server notices on
    /// its next tick, or in another process that dies after the import committed and before
    /// its re-evaluation (`crash`), after which the server restarts.
    Import {
        feed: usize,
        variant: Vec<u8>,
        elsewhere: bool,
        crash: bool,
    },
    /// Removes a feed (here or elsewhere).
    Remove { feed: usize, elsewhere: bool },
    /// A host reports (protocol 5, as Pakiti 3 clients send).
    Report { host: usize, variant: u8 },
    /// Adds the exception if absent, else deletes it.
    Exception(usize),
    /// The server restarts.
    Restart,
}

fn op(exceptions: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (
            0..FEEDS.len(),
            proptest::collection::vec(0u8..4, ADVISORIES),
            any::<bool>(),
            proptest::bool::weighted(0.2),
        )
            .prop_map(|(feed, variant, elsewhere, crash)| Op::Import {
                feed,
                variant,
                elsewhere,
                crash,
            }),
        1 => (0..FEEDS.len(), any::<bool>()).prop_map(|(feed, elsewhere)| Op::Remove { feed, elsewhere }),
        4 => (0..HOSTS.len(), 0u8..5).prop_map(|(host, variant)| Op::Report { host, variant }),
        1 => (0..exceptions).prop_map(Op::Exception),
        1 => Just(Op::Restart),
    ]
}

/// The final state a sequence leaves, which is all a fresh server is given.
#[derive(Default)]
struct Model {
    /// Feed → its advisories as last imported (`None`: created, nothing imported).
    feeds: BTreeMap<usize, Option<Vec<u8>>>,
    exceptions: BTreeMap<usize, i64>,
    reports: BTreeMap<usize, u8>,
}

/// A second state over the server's store: another `pakiti` process.
async fn other_process(url: &str) -> AppState {
    let dir = tempfile::tempdir().unwrap();
    pakiti_server::cmd::serve::open_state(Settings {
        database_url: url.to_owned(),
        data_dir: dir.path().to_owned(),
        sync_feeds: false,
        sync_repos: false,
        ..Settings::default()
    })
    .await
    .unwrap()
}

/// Imports a variant of a feed into `state`'s store, creating the feed when missing; says
/// whether anything was imported (a variant without advisories is refused).
pub(crate) async fn import(state: &AppState, feed: usize, variant: &[u8]) -> bool {
    let name = FEEDS[feed].0;
    let existing = state
        .store
        .list_feeds()
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.name == name);
    let f = match existing {
        Some(f) => f,
        None => state
            .store
            .create_feed(&NewFeed {
                name: name.into(),
                kind: feeds::AUTO_KIND.into(),
                url: format!("{name}.json"),
                stream: None,
                enabled: true,
                interval_secs: 86_400,
            })
            .await
            .unwrap(),
    };
    let fetched = feeds::Fetched {
        body: Some(feed_body(feed, variant)),
        ..feeds::Fetched::default()
    };
    let out = feeds::import(state, &f, fetched, true, &feeds::NoProgress)
        .await
        .unwrap();
    out.error.is_none()
}

async fn remove(state: &AppState, feed: usize) {
    if let Some(f) = state
        .store
        .list_feeds()
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.name == FEEDS[feed].0)
    {
        state.store.delete_feed(f.id).await.unwrap();
    }
}

/// Runs one sequence against a server over `db`, then a fresh server over `fresh` given only
/// the final state, and compares what they show.
async fn check_sequence(db: TestDatabase, fresh: TestDatabase, ops: &[Op]) {
    let candidates = exception_candidates();
    let mut s = TestServer::start(db, |_| {}).await;
    let mut m = Model::default();
    for op in ops {
        match op {
            Op::Import {
                feed,
                variant,
                elsewhere,
                crash,
            } => {
                if *elsewhere || *crash {
                    let other = other_process(s.url()).await;
                    let imported = import(&other, *feed, variant).await;
                    if !*crash {
                        other.engine.reevaluate().await.unwrap();
                    }
                    other.store.close().await;
                    record_import(&mut m, *feed, variant, imported);
                    if *crash {
                        s = s.restart().await;
                    } else {
                        jobs::tick(&s.state).await;
                    }
                } else {
                    let imported = import(&s.state, *feed, variant).await;
                    record_import(&mut m, *feed, variant, imported);
                    s.state.engine.reevaluate().await.unwrap();
                }
            }
            Op::Remove { feed, elsewhere } => {
                if *elsewhere {
                    let other = other_process(s.url()).await;
                    remove(&other, *feed).await;
                    other.engine.reevaluate().await.unwrap();
                    other.store.close().await;
                    jobs::tick(&s.state).await;
                } else {
                    remove(&s.state, *feed).await;
                    s.state.engine.reevaluate().await.unwrap();
                }
                m.feeds.remove(feed);
            }
            Op::Report { host, variant } => {
                let (status, text) = s.post_protocol5(&host_report(*host, *variant)).await;
                assert_eq!(status, 200, "{text}");
                m.reports.insert(*host, *variant);
            }
            Op::Exception(i) => {
                if let Some(id) = m.exceptions.remove(i) {
                    s.state.store.delete_exception(id).await.unwrap();
                } else {
                    let e = s
                        .state
                        .store
                        .create_exception(&candidates[*i])
                        .await
                        .unwrap();
                    m.exceptions.insert(*i, e.id);
                }
                // What the exception pages and API do after a change.
                s.state.engine.refresh_all_counts().await.unwrap();
                s.state.engine.refresh_fleet_now().await.unwrap();
            }
            Op::Restart => s = s.restart().await,
        }
    }

    let f = TestServer::start(fresh, |_| {}).await;
    for (feed, variant) in &m.feeds {
        let name = FEEDS[*feed].0;
        match variant {
            Some(v) => assert!(import(&f.state, *feed, v).await, "{name}"),
            None => {
                // Created, nothing imported: an empty feed.
                f.state
                    .store
                    .create_feed(&NewFeed {
                        name: name.into(),
                        kind: feeds::AUTO_KIND.into(),
                        url: format!("{name}.json"),
                        stream: None,
                        enabled: true,
                        interval_secs: 86_400,
                    })
                    .await
                    .unwrap();
            }
        }
    }
    for i in m.exceptions.keys() {
        f.state
            .store
            .create_exception(&candidates[*i])
            .await
            .unwrap();
    }
    f.state.engine.refresh_all_counts().await.unwrap();
    f.state.engine.reevaluate().await.unwrap();
    for (host, variant) in &m.reports {
        let (status, text) = f.post_protocol5(&host_report(*host, *variant)).await;
        assert_eq!(status, 200, "{text}");
    }

    let hosts: Vec<&str> = m.reports.keys().map(|h| HOSTS[*h].0).collect();
    let got = snapshot(&s, &hosts).await;
    let want = snapshot(&f, &hosts).await;
    for (key, w) in &want {
        assert_eq!(
            got.get(key),
            Some(w),
            "{}: {key} differs from a from-scratch evaluation after {ops:#?}",
            s.backend()
        );
    }
    assert_eq!(got.len(), want.len(), "{}", s.backend());
    s.finish().await;
    f.finish().await;
}

fn record_import(m: &mut Model, feed: usize, variant: &[u8], imported: bool) {
    let e = m.feeds.entry(feed).or_insert(None);
    if imported {
        *e = Some(variant.to_vec());
    }
}

/// What a server shows, in comparable form: each host's coverage, counts and findings, the
/// hosts listed as not covered, the CVE list, and the hosts the CVE search finds per CVE.
async fn snapshot(s: &TestServer, hosts: &[&str]) -> BTreeMap<String, Value> {
    // Read the fleet index as the store now is (pages answer a stale one once while it
    // rebuilds in the background); this does not mark it stale.
    s.state.engine.fleet_up_to_date().await.unwrap();
    let mut out = BTreeMap::new();
    for h in hosts {
        let (status, v) = s.get_json(&format!("/api/v1/hosts/{h}")).await;
        assert_eq!(status, 200, "{v}");
        for k in [
            "os_stream",
            "covered",
            "evaluation_pending",
            "source_names_unknown",
            "packages",
            "cve_count",
            "cves_by_severity",
            "tagged_count",
            "vulnerable_packages",
        ] {
            out.insert(format!("host {h} {k}"), v[k].clone());
        }
        let mut findings: Vec<String> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(Value::to_string)
            .collect();
        findings.sort();
        out.insert(format!("host {h} findings"), findings.into());
        // Issue 14 part 5: the open exposures are the host's CVE set — as many as its
        // counts count, and the same as a from-scratch evaluation gives.
        let id = s.state.store.get_host_by_name(h).await.unwrap().unwrap().id;
        let open: Vec<String> = s
            .state
            .store
            .open_exposures()
            .await
            .unwrap()
            .into_iter()
            .filter(|(host, _)| *host == id)
            .map(|(_, cve)| cve)
            .collect();
        assert_eq!(
            Some(open.len() as u64),
            v["cve_count"].as_u64(),
            "{h}: open exposures {open:?} vs cve_count {}",
            v["cve_count"]
        );
        out.insert(format!("host {h} open exposures"), open.into());
    }
    let names = |v: &Value| -> Value {
        let mut n: Vec<String> = v["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["hostname"].as_str().unwrap().to_owned())
            .collect();
        n.sort();
        n.into()
    };
    let (_, v) = s
        .get_json("/api/v1/hosts?not_covered=true&limit=1000")
        .await;
    out.insert("not covered".into(), names(&v));
    let (status, cves) = s.get_json("/api/v1/cves").await;
    assert_eq!(status, 200, "{cves}");
    let mut list: Vec<Value> = cves.as_array().unwrap().clone();
    for c in &mut list {
        if let Some(a) = c["advisories"].as_array_mut() {
            a.sort_by_key(Value::to_string);
        }
    }
    list.sort_by_key(|c| c["cve"].as_str().unwrap().to_owned());
    for c in &list {
        let cve = c["cve"].as_str().unwrap();
        let (_, v) = s
            .get_json(&format!("/api/v1/hosts?cve={cve}&limit=1000"))
            .await;
        out.insert(format!("cve search {cve}"), names(&v));
    }
    out.insert("cves".into(), list.into());
    out
}

async fn fresh_like(db: &TestDatabase) -> TestDatabase {
    match db.backend {
        "postgres" => {
            TestDatabase::postgres(&std::env::var(pakiti_test_support::POSTGRES_ENV).unwrap()).await
        }
        _ => TestDatabase::sqlite(),
    }
}

/// The invariant, on random sequences (a bounded number per backend).
#[test]
fn random_sequences_end_where_a_from_scratch_evaluation_does() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let backends: Vec<&'static str> = rt.block_on(async {
        let mut v = Vec::new();
        for db in databases().await {
            v.push(db.backend);
            db.finish().await;
        }
        v
    });
    let exceptions = exception_candidates().len();
    for backend in backends {
        // A PostgreSQL case costs two fresh databases (about 1 s each): fewer, longer
        // sequences there, so that each backend takes well under a minute.
        let (cases, longest) = if backend == "postgres" {
            (5, 20)
        } else {
            (12, 16)
        };
        let mut runner = TestRunner::new(Config {
            cases,
            max_shrink_iters: 24,
            failure_persistence: None,
            ..Config::default()
        });
        let strategy = proptest::collection::vec(op(exceptions), 1..longest);
        let result = runner.run(&strategy, |ops| {
            rt.block_on(async {
                let db = match backend {
                    "postgres" => {
                        TestDatabase::postgres(
                            &std::env::var(pakiti_test_support::POSTGRES_ENV).unwrap(),
                        )
                        .await
                    }
                    _ => TestDatabase::sqlite(),
                };
                let fresh = fresh_like(&db).await;
                check_sequence(db, fresh, &ops).await;
            });
            Ok(())
        });
        if let Err(e) = result {
            panic!("{backend}: {e}");
        }
    }
}

/// Issue #12 item 4: an update that removes advisories (or changes them so that they no
/// longer apply) lowers the host's counts, the CVE list and the CVE search at once, and they
/// stay right after the host reports again and after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_12_item_4_counts_follow_an_update_that_removes_advisories() {
    for db in databases().await {
        let fresh = fresh_like(&db).await;
        let all = vec![1u8; ADVISORIES];
        // Four advisories removed (kernel, python3-requests, mariadb, avahi), the others
        // unchanged: no stored answer is left to differ from the new one.
        let mut fewer = vec![1u8; ADVISORIES];
        fewer[5..].fill(0);
        check_sequence(
            db,
            fresh,
            &[
                Op::Import {
                    feed: 0,
                    variant: all.clone(),
                    elsewhere: false,
                    crash: false,
                },
                Op::Report {
                    host: 0,
                    variant: 4,
                },
                Op::Import {
                    feed: 0,
                    variant: fewer,
                    elsewhere: false,
                    crash: false,
                },
                Op::Report {
                    host: 0,
                    variant: 4,
                },
                Op::Restart,
            ],
        )
        .await;
    }
}

/// Issue #12 item 4: a host that reported before its stream had data is covered, and its
/// CVEs are listed and searchable, as soon as the server notices an import that another
/// process (`pakiti feed import`) made and re-evaluated itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_12_item_4_an_import_by_another_process_covers_waiting_hosts() {
    for db in databases().await {
        let fresh = fresh_like(&db).await;
        check_sequence(
            db,
            fresh,
            &[
                Op::Report {
                    host: 2,
                    variant: 4,
                },
                // The server builds its fleet index once (the host is "not covered").
                Op::Exception(0),
                Op::Import {
                    feed: 1,
                    variant: vec![1u8; ADVISORIES],
                    elsewhere: true,
                    crash: false,
                },
            ],
        )
        .await;
    }
}

/// Issue #12 item 4, Debian: a binary reported without its source name (protocol 5:
/// `libssl1.1`) matches source-package advisories (`openssl` DSAs) through an imported
/// repository's binary → source map; an import that adds such advisories re-matches it too,
/// instead of leaving it "not vulnerable".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_12_item_4_a_source_advisory_update_rematches_mapped_binaries() {
    use pakiti_store::{NewRepository, SyncStatus};
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        let full = std::fs::read_to_string(fixtures().join("demo/dsa-bullseye.list")).unwrap();
        // The same list without the openssl advisories: blocks start with "[date]".
        let mut without = String::new();
        let mut keep = true;
        for line in full.lines() {
            if line.starts_with('[') {
                keep = !line.contains(" openssl ");
            }
            if keep {
                without.push_str(line);
                without.push('\n');
            }
        }
        assert!(without.len() < full.len());
        let feed = s
            .state
            .store
            .create_feed(&NewFeed {
                name: "dsa".into(),
                kind: feeds::AUTO_KIND.into(),
                url: "dsa.list".into(),
                stream: None,
                enabled: true,
                interval_secs: 86_400,
            })
            .await
            .unwrap();
        let import = |body: String| {
            let state = s.state.clone();
            let feed = feed.clone();
            async move {
                let fetched = feeds::Fetched {
                    body: Some(body.into_bytes()),
                    ..feeds::Fetched::default()
                };
                let out = feeds::import(&state, &feed, fetched, true, &feeds::NoProgress)
                    .await
                    .unwrap();
                assert!(out.error.is_none(), "{:?}", out.error);
                state.engine.reevaluate().await.unwrap();
            }
        };
        import(without).await;
        for prefix in [
            "deb.debian.org_debian_dists_bullseye",
            "deb.debian.org_debian-security_dists_bullseye-security",
        ] {
            let repo = s
                .state
                .store
                .create_repository(&NewRepository {
                    name: prefix.into(),
                    kind: "apt".into(),
                    url: pakiti_test_support::shared_data()
                        .join(format!("repos/apt/{prefix}_main_binary-amd64_Packages.xz"))
                        .display()
                        .to_string(),
                    stream: "debian:bullseye".into(),
                    arch: Some("amd64".into()),
                    security: None,
                    priority: None,
                    enabled: true,
                    interval_secs: 86_400,
                })
                .await
                .unwrap();
            let out = jobs::repos::sync(&s.state, &repo, false, &feeds::NoProgress)
                .await
                .unwrap();
            assert_eq!(out.status, SyncStatus::Ok, "{:?}", out.error);
        }
        let (status, _) = s
            .post_protocol5(&crate::support::report("debian_11", "before.example.org"))
            .await;
        assert_eq!(status, 200);
        let libssl = |host: &Value| -> Vec<String> {
            let mut v: Vec<String> = host["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["package"] == "libssl1.1")
                .map(|f| f["advisory"].as_str().unwrap().to_owned())
                .collect();
            v.sort();
            v.dedup();
            v
        };
        let (_, before) = s.get_json("/api/v1/hosts/before.example.org").await;
        assert!(libssl(&before).is_empty(), "no openssl advisory yet");

        import(full).await;
        let (status, _) = s
            .post_protocol5(&crate::support::report("debian_11", "after.example.org"))
            .await;
        assert_eq!(status, 200);
        let (_, after) = s.get_json("/api/v1/hosts/after.example.org").await;
        let (_, again) = s.get_json("/api/v1/hosts/before.example.org").await;
        assert!(
            libssl(&after).iter().any(|a| a == "DSA-5343-1"),
            "{after:#}"
        );
        assert_eq!(libssl(&again), libssl(&after), "{}", s.backend());
        assert_eq!(again["cve_count"], after["cve_count"], "{}", s.backend());
        s.finish().await;
    }
}
