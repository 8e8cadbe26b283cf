//! Sending to tiny scripted HTTP servers on 127.0.0.1: retries with backoff, no retry on
//! 4xx, partial success, and what each protocol puts on the wire.

use std::io::Read;
use std::time::Instant;

use pakiti_api::{Mode, json, protocol4, protocol5};

use crate::support::{Tiny, client, dead_url, dpkg_count, text};

#[test]
fn retries_5xx_with_backoff_then_succeeds() {
    let srv = Tiny::start(vec![(503, "ERROR: busy"), (500, "ERROR"), (200, "OK\n")]);
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let o = client(
        dir.path(),
        &[
            "--url",
            &srv.url,
            "--retries",
            "3",
            "--retry-delay-ms",
            "100",
        ],
        None,
    );
    let elapsed = t.elapsed();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(out, "");
    assert_eq!(srv.requests().len(), 3);
    // 100 ms, then 200 ms.
    assert!(elapsed.as_millis() >= 300, "{elapsed:?}");
}

#[test]
fn gives_up_after_the_retries() {
    let srv = Tiny::start(vec![(502, "ERROR: bad gateway")]);
    let dir = tempfile::tempdir().unwrap();
    let o = client(
        dir.path(),
        &[
            "--url",
            &srv.url,
            "--retries",
            "2",
            "--retry-delay-ms",
            "10",
        ],
        None,
    );
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(srv.requests().len(), 3, "one try and two retries");
    assert!(err.contains("HTTP 502: ERROR: bad gateway"), "{err}");
}

#[test]
fn no_retry_on_4xx() {
    let srv = Tiny::start(vec![(400, "ERROR: bad report line 3"), (200, "OK\n")]);
    let dir = tempfile::tempdir().unwrap();
    let o = client(
        dir.path(),
        &[
            "--url",
            &srv.url,
            "--retries",
            "3",
            "--retry-delay-ms",
            "10",
        ],
        None,
    );
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(srv.requests().len(), 1);
    assert!(err.contains("HTTP 400: ERROR: bad report line 3"), "{err}");
}

#[test]
fn partial_success_and_failure_exit_codes() {
    let good = Tiny::start(vec![(200, "OK\n")]);
    let dead = dead_url();
    let dead2 = dead_url();
    let dead = &dead.url;
    let dir = tempfile::tempdir().unwrap();
    let args = |urls: &[&str]| {
        let mut a = vec![
            "--retries",
            "1",
            "--retry-delay-ms",
            "10",
            "--server-rep-stats",
        ];
        for u in urls {
            a.extend(["--url", u]);
        }
        a.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let run = |urls: &[&str]| {
        let a = args(urls);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        client(dir.path(), &a, None)
    };
    let o = run(&[&good.url, dead]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(dead), "{err}");
    assert!(err.contains("only to 1/2 server(s)"), "{err}");
    assert_eq!(out, "");
    assert_eq!(good.requests().len(), 1);

    let o = run(&[dead, &dead2.url]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("failed to report to any server"));

    let o = run(&[&good.url]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(text(&o).0, "OK: Pakiti reported correctly to 1 server(s)\n");
}

/// Protocol 5 (implied by --url alone): query string, text body, report-back printed.
#[test]
fn protocol5_on_the_wire() {
    let srv = Tiny::start(vec![(
        200,
        "OK\nopenssl\t3.0.11-1~deb12u2\tamd64\tCVE-2023-5678\tHigh\n",
    )]);
    let dir = tempfile::tempdir().unwrap();
    let o = client(
        dir.path(),
        &[
            "--url",
            &srv.url,
            "--mode",
            "store-and-report",
            "--site",
            "S",
        ],
        None,
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(
        out,
        "openssl\t3.0.11-1~deb12u2\tamd64\tCVE-2023-5678\tHigh\n"
    );
    let req = &srv.requests()[0];
    assert_eq!(req.target, "/feed/?mode=store-and-report&protocol=5");
    assert_eq!(
        req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let r = protocol5::parse(&req.body).unwrap();
    assert_eq!(r.packages.len(), dpkg_count());
    assert_eq!(r.site.as_deref(), Some("S"));

    let o = client(
        dir.path(),
        &["--url", &srv.url, "--no-protocol-version"],
        None,
    );
    assert!(o.status.success());
    assert_eq!(srv.requests()[1].target, "/feed/?mode=store-only");
}

/// Our JSON: gzip body, JSON accept header, the JSON reply's report-back printed.
#[test]
fn json_on_the_wire() {
    let srv = Tiny::start(vec![(
        200,
        r#"{"status":"ok","stored":true,"host":"h","findings":1,"report_back":["bash\t5.2\tamd64\tCVE-1\tHigh"]}"#,
    )]);
    let dir = tempfile::tempdir().unwrap();
    let o = client(
        dir.path(),
        &["--url", &srv.url, "--protocol", "json", "--mode", "1"],
        None,
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(out, "bash\t5.2\tamd64\tCVE-1\tHigh\n");
    let req = &srv.requests()[0];
    assert_eq!(req.target, "/feed/");
    assert_eq!(req.header("content-encoding"), Some("gzip"));
    assert_eq!(req.header("accept"), Some("application/json"));
    let mut body = Vec::new();
    flate2::read::GzDecoder::new(&req.body[..])
        .read_to_end(&mut body)
        .unwrap();
    let r = json::parse(&body).unwrap();
    assert_eq!(r.mode, Mode::StoreAndReport);
    assert_eq!(r.packages.len(), dpkg_count());
    assert!(r.host_id.is_some());

    // A JSON error reply is a failure even with HTTP 200.
    let srv = Tiny::start(vec![(200, r#"{"status":"error","message":"no"}"#)]);
    let o = client(dir.path(), &["--url", &srv.url, "--protocol", "json"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("not accept the report: no"));
}

/// Protocol 4: urlencoded form; the body must end with OK.
#[test]
fn protocol4_on_the_wire_and_proxy_mode() {
    let srv = Tiny::start(vec![(200, "OK")]);
    let dir = tempfile::tempdir().unwrap();
    let o = client(
        dir.path(),
        &["--url", &srv.url, "--protocol", "4", "--tag", "T"],
        None,
    );
    assert!(o.status.success(), "{}", text(&o).1);
    let req = &srv.requests()[0];
    let r = protocol4::parse_urlencoded(&req.body).unwrap();
    assert_eq!(r.packages.len(), dpkg_count());
    assert_eq!(r.tag.as_deref(), Some("T"));
    assert!(!r.proxy);

    // Pakiti 2 proxy mode: a host without access writes the stdout format, the proxy
    // submits it from stdin with proxy=1.
    let carried = client(
        dir.path(),
        &[
            "--protocol",
            "4",
            "--host",
            "hidden.example.org",
            "--output",
            "-",
        ],
        None,
    );
    assert!(carried.status.success());
    let o = client(
        dir.path(),
        &["--url", &srv.url, "--is-proxy"],
        Some(&carried.stdout),
    );
    assert!(o.status.success(), "{}", text(&o).1);
    let r = protocol4::parse_urlencoded(&srv.requests()[1].body).unwrap();
    assert_eq!(r.hostname, "hidden.example.org");
    assert!(r.proxy);

    let bad = Tiny::start(vec![(200, "Error: database")]);
    let o = client(dir.path(), &["--url", &bad.url, "--protocol", "4"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("Error: database"));
}

/// Pakiti 3 proxy-like mode: --input re-sends a report written with --output; --site wins.
#[test]
fn input_forwards_with_site_override() {
    let srv = Tiny::start(vec![(200, "OK\n")]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.txt");
    let o = client(
        dir.path(),
        &[
            "--protocol",
            "5",
            "--site",
            "OLD",
            "--host",
            "far.example.org",
            "--output",
            file.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success());
    let o = client(
        dir.path(),
        &[
            "--url",
            &srv.url,
            "--input",
            file.to_str().unwrap(),
            "--site",
            "NEW",
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o).1);
    let r = protocol5::parse(&srv.requests()[0].body).unwrap();
    assert_eq!(r.hostname, "far.example.org");
    assert_eq!(r.site.as_deref(), Some("NEW"));
    assert_eq!(r.packages.len(), dpkg_count());
}

/// A broken package manager's stderr reaches the user, and nothing is sent.
#[test]
fn collection_failure_shows_stderr() {
    let srv = Tiny::start(vec![(200, "OK\n")]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("status"), "Package: broken\nnot a field\n").unwrap();
    let o = client(
        dir.path(),
        &[
            "--url",
            &srv.url,
            "--dpkg-admindir",
            dir.path().to_str().unwrap(),
        ],
        None,
    );
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err.contains("dpkg-query") && err.contains("failed"),
        "{err}"
    );
    assert!(srv.requests().is_empty());
}
