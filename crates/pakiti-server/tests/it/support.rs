//! A real server on 127.0.0.1 over a real store, and reports built from the real host lists.

use std::path::PathBuf;
use std::sync::Arc;

use pakiti_api::report::{Mode, Package, Packager, Report};
use pakiti_core::matcher::{AdvisoryIndex, HostInventory};
use pakiti_core::package::InstalledPackage;
use pakiti_server::jobs::feeds;
use pakiti_server::settings::Settings;
use pakiti_server::state::AppState;
use pakiti_server::tls::TlsReloader;
use pakiti_store::NewFeed;
use pakiti_test_support::TestDatabase;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A running server.
pub(crate) struct TestServer {
    pub(crate) base: String,
    /// `https://localhost:PORT` when the settings configure `[tls]` (served beside `base`).
    pub(crate) https: Option<String>,
    /// The TLS configuration being served, to reload it.
    pub(crate) tls: Option<Arc<TlsReloader>>,
    tls_stop: Option<oneshot::Sender<()>>,
    tls_task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pub(crate) state: AppState,
    pub(crate) client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    db: TestDatabase,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server on 127.0.0.1:0 over `db`; `tweak` adjusts the settings.
    pub(crate) async fn start(db: TestDatabase, tweak: impl FnOnce(&mut Settings)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings {
            database_url: db.url.clone(),
            data_dir: dir.path().to_owned(),
            sync_feeds: false,
            sync_repos: false,
            report_key: Some(pakiti_test_support::fixtures().join("smime/server.key.pem")),
            ..Settings::default()
        };
        tweak(&mut settings);
        // As `pakiti serve` does: the tests' clients and servers share one process.
        pakiti_server::listen::raise_open_files_limit();
        let state = pakiti_server::cmd::serve::open_state(settings)
            .await
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(pakiti_server::serve(listener, state.clone(), async move {
            let _ = rx.await;
        }));
        let (mut https, mut tls, mut tls_stop, mut tls_task) = (None, None, None, None);
        if state.settings.tls.enabled() {
            let reloader = Arc::new(TlsReloader::new(&state.settings.tls).unwrap());
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            https = Some(format!(
                "https://localhost:{}",
                listener.local_addr().unwrap().port()
            ));
            let (tx, rx) = oneshot::channel::<()>();
            tls_task = Some(tokio::spawn(pakiti_server::tls::serve_tls(
                listener,
                state.clone(),
                reloader.clone(),
                async move {
                    let _ = rx.await;
                },
            )));
            tls = Some(reloader);
            tls_stop = Some(tx);
        }
        TestServer {
            base,
            https,
            tls,
            tls_stop,
            tls_task,
            state,
            client: reqwest::Client::new(),
            stop: Some(tx),
            task,
            db,
            _dir: dir,
        }
    }

    /// The store's URL.
    pub(crate) fn url(&self) -> &str {
        &self.db.url
    }

    /// The backend's name, for assertion messages.
    pub(crate) fn backend(&self) -> &'static str {
        self.db.backend
    }

    /// Stops the server and drops a PostgreSQL database (call when the test passed).
    pub(crate) async fn finish(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.task.await.unwrap().unwrap();
        if let Some(tx) = self.tls_stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.tls_task.take() {
            task.await.unwrap().unwrap();
        }
        self.state.store.close().await;
        self.db.finish().await;
    }

    /// Stops the server and closes the store, keeping the database (to back it up, wipe or
    /// restore it from outside).
    pub(crate) async fn stop(mut self) -> TestDatabase {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.task.await.unwrap().unwrap();
        self.state.store.close().await;
        let TestServer { db, .. } = self;
        db
    }

    /// Stops the server and starts a new one over the same store, as a restarted `pakiti
    /// serve` does: a fresh state, then the housekeeping step it runs first
    /// (`jobs::tick`).
    pub(crate) async fn restart(mut self) -> TestServer {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.task.await.unwrap().unwrap();
        self.state.store.close().await;
        let TestServer { db, .. } = self;
        let s = TestServer::start(db, |_| {}).await;
        pakiti_server::jobs::tick(&s.state).await;
        s
    }

    /// Imports a file from `fixtures/demo/` as a feed and re-evaluates.
    pub(crate) async fn import_feed(&self, name: &str, kind: &str, file: &str) {
        let path = pakiti_test_support::fixtures().join("demo").join(file);
        let out = self.import_feed_file(name, kind, &path).await;
        assert!(out.advisories > 100);
    }

    /// Imports `path` as the feed `name` of `kind` (`auto` recognises it), checks that it was
    /// applied, and re-evaluates.
    pub(crate) async fn import_feed_file(
        &self,
        name: &str,
        kind: &str,
        path: &std::path::Path,
    ) -> feeds::ImportOutcome {
        let feed = self
            .state
            .store
            .create_feed(&NewFeed {
                name: name.into(),
                kind: kind.into(),
                url: path.display().to_string(),
                stream: None,
                enabled: true,
                interval_secs: 86_400,
            })
            .await
            .unwrap();
        let fetched = feeds::Fetched {
            body: Some(std::fs::read(path).unwrap()),
            ..feeds::Fetched::default()
        };
        let out = feeds::import(&self.state, &feed, fetched, false, &feeds::NoProgress)
            .await
            .unwrap();
        assert!(out.error.is_none(), "{:?}", out.error);
        self.state.engine.reevaluate().await.unwrap();
        out
    }

    /// `GET path` as JSON.
    pub(crate) async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    /// `POST /feed/{query}` with a body and headers; returns status and body text.
    pub(crate) async fn post(
        &self,
        query: &str,
        content_type: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (u16, String) {
        // A server that refuses a body (413) answers before reading it all and closes the
        // connection; the client may then fail writing the rest before it reads the answer.
        // Real clients see the same race, so try again a few times rather than fail the test.
        let mut last = None;
        for _ in 0..5 {
            let mut req = self
                .client
                .post(format!("{}/feed/{query}", self.base))
                .header("content-type", content_type)
                .body(body.clone());
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            match req.send().await {
                Ok(r) => return (r.status().as_u16(), r.text().await.unwrap()),
                Err(e) => last = Some(e),
            }
        }
        panic!("POST /feed/{query} failed: {last:?}")
    }

    /// `POST /feed/{query}` over HTTPS (the server must have `[tls]`) with `client`.
    pub(crate) async fn post_https(
        &self,
        client: &reqwest::Client,
        query: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, String) {
        let base = self.https.as_deref().expect("the server serves HTTPS");
        let r = client
            .post(format!("{base}/feed/{query}"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// `POST /feed/` of `report` as a protocol-4 client sends it (urlencoded form).
    pub(crate) async fn post_protocol4(&self, report: &Report) -> (u16, String) {
        self.post(
            "",
            "application/x-www-form-urlencoded",
            &[],
            pakiti_api::protocol4::to_urlencoded(report).into_bytes(),
        )
        .await
    }

    /// `POST /feed/?protocol=5` of `report` as a protocol-5 client sends it (plain text).
    pub(crate) async fn post_protocol5(&self, report: &Report) -> (u16, String) {
        self.post(
            "?protocol=5",
            "text/plain",
            &[],
            pakiti_api::protocol5::render(report).into_bytes(),
        )
        .await
    }

    /// Hosts stored, via the API.
    pub(crate) async fn host_total(&self) -> i64 {
        self.get_json("/api/v1/hosts").await.1["total"]
            .as_i64()
            .unwrap()
    }
}

/// `shared/data/hosts/lists/<name>.tsv` as a report.
pub(crate) fn report(list: &str, hostname: &str) -> Report {
    let path: PathBuf = pakiti_test_support::shared_data().join(format!("hosts/lists/{list}.tsv"));
    let l = pakiti_server::sample::load_list(&path).unwrap();
    let packager = match l.stream().unwrap().scheme() {
        pakiti_core::version::Scheme::Deb => Packager::Dpkg,
        pakiti_core::version::Scheme::Apk => Packager::Apk,
        pakiti_core::version::Scheme::Rpm => Packager::Rpm,
    };
    let arch = if packager == Packager::Dpkg {
        "amd64"
    } else {
        "x86_64"
    };
    Report {
        hostname: hostname.into(),
        os: l.os_name(),
        arch: "x86_64".into(),
        kernel: l.kernel.clone(),
        site: Some("site-a".into()),
        tag: Some("workers".into()),
        packager,
        mode: Mode::StoreOnly,
        packages: l
            .packages
            .iter()
            .map(|p| {
                Package::new(
                    p.name.clone(),
                    p.version.clone(),
                    if p.arch == "unknown" || p.arch.is_empty() {
                        arch.to_owned()
                    } else {
                        p.arch.clone()
                    },
                )
            })
            .collect(),
        ..Report::default()
    }
}

/// What the pure matcher says about `report` against the fixture feeds: sorted
/// (package, installed version, advisory id) triples.
pub(crate) fn expected_findings(
    report: &Report,
    feeds: &[(&str, &str)],
) -> Vec<(String, String, String)> {
    let mut advisories = Vec::new();
    for (kind, file) in feeds {
        let raw = std::fs::read(pakiti_test_support::fixtures().join("demo").join(file)).unwrap();
        let data = pakiti_feeds::decompress::to_vec(&raw).unwrap();
        let kind = pakiti_feeds::FeedKind::from_name(kind).unwrap();
        advisories.extend(kind.parse(&data[..], &Default::default()).unwrap().records);
    }
    let index = AdvisoryIndex::new(advisories);
    let packages: Vec<InstalledPackage> = report
        .packages
        .iter()
        .map(|p| InstalledPackage::new(p.name.clone(), p.version.clone(), p.arch.clone()))
        .collect();
    let stream = pakiti_core::osname::detect(&report.os).unwrap();
    let r = index.match_host(&HostInventory {
        stream: Some(&stream),
        packages: &packages,
        modules: &report.module_streams,
    });
    let mut out: Vec<(String, String, String)> = r
        .findings
        .iter()
        .map(|f| {
            (
                packages[f.package].name.clone(),
                packages[f.package].version.clone(),
                f.advisory.id.clone(),
            )
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The findings the server shows for a host, in the same form.
pub(crate) async fn served_findings(
    server: &TestServer,
    hostname: &str,
) -> Vec<(String, String, String)> {
    let (status, host) = server.get_json(&format!("/api/v1/hosts/{hostname}")).await;
    assert_eq!(status, 200, "{host}");
    let mut out: Vec<(String, String, String)> = host["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["package"].as_str().unwrap().to_owned(),
                f["installed_version"].as_str().unwrap().to_owned(),
                f["advisory"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out.dedup();
    out
}
