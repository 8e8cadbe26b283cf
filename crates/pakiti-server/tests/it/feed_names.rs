//! Issue 12 item 3: `pakiti feed import` names a new feed after the document's content, never
//! lets a document of another release or kind replace a feed's advisories without
//! `--replace`, and `feed list` shows the recognised kind and the last imported source.
//! Real files from `shared/data`, every backend.

use std::path::{Path, PathBuf};

use pakiti_server::cmd::feed::{self, ImportArgs};
use pakiti_test_support::{databases, shared_data};

use crate::support::TestServer;

async fn import(s: &TestServer, file: &Path, name: Option<&str>, replace: bool) -> (bool, String) {
    let mut out = Vec::new();
    let args = ImportArgs {
        name: name.map(str::to_owned),
        replace,
        ..ImportArgs::default()
    };
    let ok = feed::import(&s.state, file, args, &mut out).await.unwrap();
    (ok, String::from_utf8(out).unwrap())
}

/// (name, advisories) of every feed.
async fn feeds(s: &TestServer) -> Vec<(String, i64)> {
    s.state
        .store
        .list_feeds()
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.name, f.advisory_count))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_12_feed_names_and_replace_guard() {
    let data = shared_data();
    let focal: PathBuf = data.join("oval/ubuntu/com.ubuntu.focal.cve.oval.xml.bz2");
    let trusty = data.join("oval/ubuntu/com.ubuntu.trusty.cve.oval.xml.bz2");
    let dsa = data.join("debian-tracker/data/DSA/list");
    let dla = data.join("debian-tracker/data/DLA/list");
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        let be = s.backend();
        // Default names come from the content: no more `com` and `list` for everything.
        for file in [&focal, &trusty, &dsa, &dla] {
            let (ok, out) = import(&s, file, None, false).await;
            assert!(ok, "{be}: {out}");
        }
        let before = feeds(&s).await;
        let names: Vec<&str> = before.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "debian-dla",
                "debian-dsa",
                "ubuntu-14.04-oval",
                "ubuntu-20.04-oval"
            ],
            "{be}"
        );
        // trusty into focal's feed: refused, focal's advisories stay.
        let (ok, out) = import(&s, &trusty, Some("ubuntu-20.04-oval"), false).await;
        assert!(!ok, "{be}: {out}");
        assert!(
            out.contains("ubuntu-oval ubuntu:14.04") && out.contains("--replace"),
            "{be}: {out}"
        );
        // The DLA list into the DSA feed: refused too, although it is bigger.
        let (ok, out) = import(&s, &dla, Some("debian-dsa"), false).await;
        assert!(!ok, "{be}: {out}");
        assert_eq!(feeds(&s).await, before, "{be}: nothing was replaced");
        // With --replace it becomes the feed's content.
        let (ok, out) = import(&s, &dla, Some("debian-dsa"), true).await;
        assert!(ok, "{be}: {out}");
        let dsa_feed = s
            .state
            .store
            .list_feeds()
            .await
            .unwrap()
            .into_iter()
            .find(|f| f.name == "debian-dsa")
            .unwrap();
        let content = dsa_feed.content.unwrap();
        assert_eq!(content.kind, "debian-list", "{be}");
        assert_eq!(content.key, "debian-list debian:* series=DLA", "{be}");
        assert_eq!(
            content.source,
            std::fs::canonicalize(&dla).unwrap().display().to_string(),
            "{be}"
        );
        // `feed list` shows the recognised kind (the feeds' kind is `auto`) and the source.
        let mut out = Vec::new();
        feed::list(&s.state, false, &mut out).await.unwrap();
        let text = String::from_utf8(out).unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with("ubuntu-14.04-oval "))
            .unwrap_or_else(|| panic!("{be}: {text}"));
        assert!(
            line.contains(" auto ") && line.contains(" ubuntu-oval "),
            "{be}: {line}"
        );
        assert!(
            line.ends_with("com.ubuntu.trusty.cve.oval.xml.bz2"),
            "{be}: {line}"
        );
        let mut out = Vec::new();
        feed::list(&s.state, true, &mut out).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let focal_json = json
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "ubuntu-20.04-oval")
            .unwrap();
        assert_eq!(focal_json["recognised_kind"], "ubuntu-oval", "{be}");
        assert_eq!(
            focal_json["content"], "ubuntu-oval ubuntu:20.04 series=CVE",
            "{be}"
        );
        assert!(
            focal_json["last_source"]
                .as_str()
                .unwrap()
                .ends_with("com.ubuntu.focal.cve.oval.xml.bz2"),
            "{be}"
        );
        s.finish().await;
    }
}
