//! Issues 16 and 17: `/packages/{name}` at fleet scale. Its installed versions come from the
//! in-memory fleet index, not from each host's stored package list (at 30,000 hosts reading
//! them took minutes for a package every host has), and its host tables are cut to a page
//! while the exports keep every row. Real servers on 127.0.0.1, SQLite and (with
//! `PAKITI_TEST_POSTGRES_URL`) PostgreSQL.

use pakiti_test_support::databases;

use crate::hostile::get_text;
use crate::support::{TestServer, report};

/// Overwrites the stored package list of every host whose name `which` (an SQL condition on
/// `hostname`) accepts with a blob that cannot be decoded; the number of lists damaged.
async fn damage_package_lists(s: &TestServer, which: &str) -> u64 {
    let damage = format!(
        "UPDATE host_packages SET ids = $1 WHERE host_id IN \
         (SELECT id FROM hosts WHERE {which})"
    );
    // The same statement through either backend's pool.
    macro_rules! run {
        ($pool:ty) => {{
            let pool = <$pool>::connect(s.url()).await.unwrap();
            let n = sqlx::query(&damage)
                .bind(vec![0x7fu8])
                .execute(&pool)
                .await
                .unwrap()
                .rows_affected();
            pool.close().await;
            n
        }};
    }
    if s.url().starts_with("postgres") {
        run!(sqlx::PgPool)
    } else {
        run!(sqlx::SqlitePool)
    }
}

/// D16: `/packages/{name}` reads the package lists of the hosts that have the package, not of
/// every host. Measured by damaging, after the fleet index is built, the stored package list of
/// every host without `bash` (a blob that cannot be decoded): a page that read them all would
/// fail (500); one that reads only the hosts with the package answers 200 and lists them.
#[tokio::test]
async fn issue_16_package_page_reads_only_the_hosts_that_have_the_package() {
    const WITHOUT: usize = 30;
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        let be = s.backend();
        let with = report("rhel_80", "has-bash.example.org");
        assert!(with.packages.iter().any(|p| p.name == "bash"));
        assert_eq!(s.post_protocol4(&with).await.0, 200, "{be}");
        for i in 0..WITHOUT {
            let mut r = report("rhel_80", &format!("no-bash-{i}.example.org"));
            r.packages.retain(|p| p.name != "bash");
            assert_eq!(s.post_protocol4(&r).await.0, 200, "{be}");
        }
        s.state.engine.fleet_up_to_date().await.unwrap();
        let (st, before) = get_text(&s, "/packages/bash").await;
        assert_eq!(st, 200, "{be}: {before}");
        // Damage every package list but the one host's.
        let damaged = damage_package_lists(&s, "hostname <> 'has-bash.example.org'").await;
        assert_eq!(damaged, WITHOUT as u64, "{be}");
        // The damage is real: reading one of those lists fails.
        let damaged_host = s
            .state
            .store
            .host_state(&pakiti_store::HostIdentity {
                hostname: "no-bash-0.example.org".into(),
                client_id: None,
            })
            .await
            .unwrap()
            .unwrap();
        assert!(
            s.state.store.host_packages(damaged_host.id).await.is_err(),
            "{be}"
        );
        let (st, body) = get_text(&s, "/packages/bash").await;
        assert_eq!(st, 200, "{be}: read a host without the package: {body}");
        assert!(body.contains("has-bash.example.org"), "{be}");
        let (st, v) = s.get_json("/api/v1/packages/bash").await;
        assert_eq!(st, 200, "{be}: read a host without the package: {v}");
        assert_eq!(v["missing"].as_array().unwrap().len(), WITHOUT, "{be}: {v}");
        s.finish().await;
    }
}

/// Issue 17: once the fleet index holds the hosts, the page and the API read no host's
/// package list at all (every stored list is damaged and both still answer with the versions);
/// a host that reported after the index was built is read from the store; the page's host
/// tables are cut to 500 rows with a note while the CSV export holds every host.
#[tokio::test]
async fn issue_17_package_page_answers_from_the_fleet_index_and_pages_its_tables() {
    const HOSTS: usize = 505;
    for db in databases().await {
        let s = TestServer::start(db, |_| {}).await;
        let be = s.backend();
        let full = report("rhel_80", "full.example.org");
        let bash = full
            .packages
            .iter()
            .find(|p| p.name == "bash")
            .unwrap()
            .clone();
        assert_eq!(s.post_protocol4(&full).await.0, 200, "{be}");
        // Small hosts: bash and two other packages each.
        for i in 0..HOSTS {
            let mut r = report("rhel_80", &format!("small-{i:03}.example.org"));
            let keep: Vec<_> = r.packages.iter().take(2).cloned().collect();
            r.packages = keep;
            r.packages.push(bash.clone());
            assert_eq!(s.post_protocol4(&r).await.0, 200, "{be}");
        }
        s.state.engine.fleet_up_to_date().await.unwrap();
        let damaged = damage_package_lists(&s, "1 = 1").await;
        assert_eq!(damaged, HOSTS as u64 + 1, "{be}");
        let (st, v) = s.get_json("/api/v1/packages/bash").await;
        assert_eq!(st, 200, "{be}: read a stored package list: {v}");
        let versions = v["versions"].as_array().unwrap();
        assert_eq!(versions.len(), 1, "{be}: {v}");
        assert_eq!(versions[0]["version"], bash.version.as_str(), "{be}: {v}");
        assert_eq!(versions[0]["hosts"], HOSTS + 1, "{be}: {v}");
        // A host the index does not know yet is read from the store.
        let late = report("rhel_80", "late.example.org");
        assert_eq!(s.post_protocol4(&late).await.0, 200, "{be}");
        let (st, v) = s.get_json("/api/v1/packages/bash").await;
        assert_eq!(st, 200, "{be}: {v}");
        assert_eq!(v["versions"][0]["hosts"], HOSTS + 2, "{be}: {v}");
        // The page cuts its host table; the export does not.
        let (st, html) = get_text(&s, "/packages/bash").await;
        assert_eq!(st, 200, "{be}: {html}");
        let total = HOSTS + 2;
        assert!(
            html.contains(&format!("All hosts <small>{total}</small>")),
            "{be}: {html}"
        );
        assert!(
            html.contains(&format!(
                "The first 500 are shown; the CSV and JSON exports hold all {total}."
            )),
            "{be}"
        );
        // Rows are by hostname: full and late first, then 498 of the small hosts.
        let rows = html.matches("<tr><td><a href=\"/hosts/").count();
        assert_eq!(rows, 500, "{be}");
        assert!(html.contains("/hosts/small-497.example.org\""), "{be}");
        assert!(!html.contains("/hosts/small-498.example.org\""), "{be}");
        let (st, csv) = get_text(&s, "/packages/bash?format=csv").await;
        assert_eq!(st, 200, "{be}");
        assert_eq!(
            csv.lines().count(),
            total + 1,
            "{be}: header and one row per host"
        );
        s.finish().await;
    }
}
