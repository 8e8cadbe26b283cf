//! End to end: the real `pakiti-client` binary against the real pakiti server on 127.0.0.1,
//! in every protocol, checked through the server's JSON API.

use pakiti_server::settings::Settings;
use std::path::Path;

use crate::support::{client, dpkg_count, fixtures, text};

struct Server {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn start(dir: &Path) -> Server {
    let settings = Settings {
        database_url: format!("sqlite://{}/p.db", dir.display()),
        data_dir: dir.to_owned(),
        report_key: Some(fixtures().join("smime/server.key.pem")),
        sync_feeds: false,
        ..Settings::default()
    };
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let state = pakiti_server::cmd::serve::open_state(settings)
                .await
                .unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            pakiti_server::serve(listener, state, async move {
                let _ = stop_rx.await;
            })
            .await
            .unwrap();
        });
    });
    let addr = addr_rx.recv().expect("the server starts");
    Server {
        base: format!("http://{addr}"),
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

fn host(base: &str, name: &str) -> serde_json::Value {
    let mut resp = ureq::get(&format!("{base}/api/v1/hosts/{name}"))
        .call()
        .expect("the host is stored");
    serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap()
}

#[test]
fn every_protocol_stores_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start(dir.path());
    let feed = format!("{}/feed/", srv.base);
    let n = dpkg_count();
    let cert = fixtures().join("smime/server.cert.pem");
    let cases: [(&str, Vec<&str>); 4] = [
        ("e2e-json.example.org", vec!["--protocol", "json"]),
        ("e2e-p5.example.org", vec![]),
        ("e2e-p4.example.org", vec!["--protocol", "4"]),
        (
            "e2e-smime.example.org",
            vec!["--encrypt", cert.to_str().unwrap()],
        ),
    ];
    for (name, extra) in &cases {
        let mut args = vec![
            "--url",
            feed.as_str(),
            "--host",
            name,
            "--site",
            "E2E",
            "--tag",
            "t",
        ];
        args.extend(extra.iter().copied());
        let o = client(dir.path(), &args, None);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{name}: {err}");
        assert_eq!(out, "", "{name}: store-only prints nothing");
        let h = host(&srv.base, name);
        assert_eq!(h["hostname"], *name);
        assert_eq!(h["packages"].as_u64(), Some(n as u64), "{name}: {h}");
        assert_eq!(h["host_group"], "E2E", "{name}");
        assert_eq!(h["tag"], "t", "{name}");
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        assert_eq!(h["kernel"], kernel.trim(), "{name}");
    }
}

/// rpm collection end to end: a real rpm database built with rpmbuild, on a (fake-root)
/// RHEL 8 host with a dnf module stream, sent as JSON.
#[test]
fn rpm_host_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rpmdb");
    crate::collect::rpm_database(dir.path(), &db);
    let root = dir.path().join("root");
    for (path, text) in [
        (
            "etc/redhat-release",
            "Red Hat Enterprise Linux release 8.9 (Ootpa)\n",
        ),
        (
            "etc/os-release",
            "NAME=\"Red Hat Enterprise Linux\"\nID=\"rhel\"\nVERSION_ID=\"8.9\"\n",
        ),
        (
            "etc/dnf/modules.d/nodejs.module",
            "[nodejs]\nname=nodejs\nstream=18\nstate=enabled\n",
        ),
        ("proc/sys/kernel/osrelease", "4.18.0-513.5.1.el8_9.x86_64\n"),
    ] {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let out = client(
        dir.path(),
        &[
            "--protocol",
            "json",
            "--root",
            root.to_str().unwrap(),
            "--rpm-dbpath",
            db.to_str().unwrap(),
            "--output",
            "-",
        ],
        None,
    );
    let r = pakiti_api::json::parse(&out.stdout).unwrap();
    assert_eq!(r.module_streams, ["nodejs:18"]);
    assert_eq!(r.os, "Red Hat Enterprise Linux release 8.9 (Ootpa)");
    let srv = start(dir.path());
    let feed = format!("{}/feed/", srv.base);
    let o = client(
        dir.path(),
        &[
            "--url",
            &feed,
            "--protocol",
            "json",
            "--host",
            "e2e-rpm.example.org",
            "--root",
            root.to_str().unwrap(),
            "--rpm-dbpath",
            db.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let h = host(&srv.base, "e2e-rpm.example.org");
    assert_eq!(h["packages"].as_u64(), Some(3), "{h}");
    assert_eq!(h["kernel"], "4.18.0-513.5.1.el8_9.x86_64");
    assert_eq!(h["os"], "Red Hat Enterprise Linux release 8.9 (Ootpa)");
}
