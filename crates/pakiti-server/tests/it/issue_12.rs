//! Issue 12 items 1 and 2 through the server: module-stream findings of hosts that report their
//! streams, and of old clients that report none (streams inferred, or flagged unknown).

use pakiti_api::report::{Package, Report};
use pakiti_api::{json, protocol4};
use pakiti_test_support::{databases, fixtures};

use crate::support::{TestServer, report, served_findings};

/// Imports `fixtures/modules/rhel-8-modules.oval.xml.bz2` (RHEL 8 OVAL definitions naming
/// nodejs, mariadb or postgresql; see fixtures/README.md).
async fn import_module_feed(s: &TestServer) {
    let path = fixtures().join("modules/rhel-8-modules.oval.xml.bz2");
    s.import_feed_file("rhel8-modules", "redhat-oval", &path)
        .await;
}

/// The RHEL 8.0 host with nodejs:10, mariadb:10.3 and postgresql:10 packages at versions the
/// advisories list for those streams.
fn modular(hostname: &str, extra: &[(&str, &str)]) -> Report {
    let mut r = report("rhel_80", hostname);
    for (name, version) in extra {
        r.packages.push(Package::new(*name, *version, "x86_64"));
    }
    r
}

const MODULE_PACKAGES: [(&str, &str); 6] = [
    ("nodejs", "1:10.16.3-2.module+el8.0.0+4214+49953fda"),
    ("npm", "1:6.9.0-1.10.16.3.2.module+el8.0.0+4214+49953fda"),
    ("mariadb", "3:10.3.17-1.module+el8.1.0+3974+90eded84"),
    ("mariadb-server", "3:10.3.17-1.module+el8.1.0+3974+90eded84"),
    ("postgresql", "0:10.14-1.module+el8.2.0+7801+be0fed80"),
    (
        "postgresql-server",
        "0:10.14-1.module+el8.2.0+7801+be0fed80",
    ),
];

fn cves(host: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = host["findings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["cves"].as_array().unwrap().iter())
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v.dedup();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_12_module_streams_reported_inferred_unknown() {
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        let form = "application/x-www-form-urlencoded";
        // Before any RHEL 8 data: nothing to infer from, which is "unknown", not "no module".
        let late = modular("late.example.org", &MODULE_PACKAGES);
        let late_body = protocol4::to_urlencoded(&late).into_bytes();
        let (status, body) = s.post("", form, &[], late_body.clone()).await;
        assert_eq!(status, 200, "{body}");
        let (_, l) = s.get_json("/api/v1/hosts/late.example.org").await;
        assert_eq!(l["module_streams"], "unknown", "{}", s.backend());
        import_module_feed(&s).await;
        // The same report again is processed in full (not only touched): inferred now.
        let (status, body) = s.post("", form, &[], late_body).await;
        assert_eq!(status, 200, "{body}");
        let (_, l) = s.get_json("/api/v1/hosts/late.example.org").await;
        assert_eq!(l["module_streams"], "inferred", "{}", s.backend());
        // Our agent (JSON) reports its streams.
        let mut reported = modular("reported.example.org", &MODULE_PACKAGES);
        reported.module_streams = [
            "nodejs:10",
            "mariadb:10.3",
            "mariadb-devel:10.3",
            "postgresql:10",
        ]
        .map(str::to_owned)
        .to_vec();
        let (status, body) = s
            .post(
                "",
                "application/json",
                &[],
                json::render(&reported).into_bytes(),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        // A Pakiti 2 client (protocol 4) sends none: they are inferred.
        let old = modular("old.example.org", &MODULE_PACKAGES);
        let (status, body) = s
            .post("", form, &[], protocol4::to_urlencoded(&old).into_bytes())
            .await;
        assert_eq!(status, 200, "{body}");
        // A build whose version no advisory lists cannot be attributed: unknown.
        let odd = modular(
            "odd.example.org",
            &[("nodejs", "1:10.14.1-1.module+el8.0.0+2632+6c5111ed")],
        );
        let (status, body) = s
            .post("", form, &[], protocol4::to_urlencoded(&odd).into_bytes())
            .await;
        assert_eq!(status, 200, "{body}");

        let (_, a) = s.get_json("/api/v1/hosts/reported.example.org").await;
        let (_, b) = s.get_json("/api/v1/hosts/old.example.org").await;
        let (_, c) = s.get_json("/api/v1/hosts/odd.example.org").await;
        assert_eq!(a["module_streams"], "reported", "{}", s.backend());
        assert_eq!(b["module_streams"], "inferred", "{}", s.backend());
        assert_eq!(c["module_streams"], "unknown", "{}", s.backend());
        assert_eq!(
            b["modules"],
            serde_json::json!([
                "mariadb-devel:10.3",
                "mariadb:10.3",
                "nodejs:10",
                "postgresql:10"
            ])
        );
        // The old client's host gets what the reporting one gets.
        assert_eq!(
            served_findings(&s, "old.example.org").await,
            served_findings(&s, "reported.example.org").await,
            "{}",
            s.backend()
        );
        assert_eq!(a["cve_count"], b["cve_count"]);
        assert!(a["cve_count"].as_i64().unwrap() > 0);
        // Issue 12 item 1: CVE-2021-27290's first branch names nodejs:14.
        assert!(
            cves(&a).contains(&"CVE-2021-27290".to_owned()),
            "{}",
            s.backend()
        );
        assert!(cves(&b).contains(&"CVE-2021-27290".to_owned()));
        // Each (package, advisory) once.
        let findings = a["findings"].as_array().unwrap();
        let mut keys: Vec<(String, String)> = findings
            .iter()
            .map(|f| (f["package"].to_string(), f["advisory"].to_string()))
            .collect();
        let n = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), n);
        // The list filter, and the flag in the list.
        for (word, hosts) in [
            ("inferred", vec!["late.example.org", "old.example.org"]),
            ("unknown", vec!["odd.example.org"]),
            ("reported", vec!["reported.example.org"]),
        ] {
            let (status, list) = s
                .get_json(&format!(
                    "/api/v1/hosts?module_streams={word}&sort=hostname"
                ))
                .await;
            assert_eq!(status, 200, "{list}");
            let got: Vec<&str> = list["hosts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["hostname"].as_str().unwrap())
                .collect();
            assert_eq!(got, hosts, "{word}: {list}");
            assert!(
                list["hosts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|h| h["module_streams"] == word)
            );
        }
        let (status, _) = s.get_json("/api/v1/hosts?module_streams=maybe").await;
        assert_eq!(status, 400);
        // The pages say so.
        let page = |path: &'static str| {
            let client = s.client.clone();
            let url = format!("{}{path}", s.base);
            async move { client.get(url).send().await.unwrap().text().await.unwrap() }
        };
        let hosts = page("/hosts").await;
        assert!(hosts.contains("module streams inferred"), "{hosts}");
        assert!(hosts.contains("module streams unknown"), "{hosts}");
        let host = page("/hosts/odd.example.org").await;
        assert!(host.contains("module streams unknown"), "{host}");
        s.finish().await;
    }
}
