//! `--output` writes exactly what `pakiti_api` parses back, in each protocol.

use pakiti_api::{Packager, json, protocol4, protocol5};

use crate::support::{client, dpkg_count, text};

fn written(args: &[&str]) -> (tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let mut all = args.to_vec();
    let out_s = out.to_str().unwrap().to_owned();
    all.extend(["--output", &out_s, "--site", "SITE-1", "--tag", "t1"]);
    let o = client(dir.path(), &all, None);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    assert_eq!(stdout, "", "quiet on success");
    assert_eq!(stderr, "", "quiet on success");
    let bytes = std::fs::read(&out).unwrap();
    (dir, bytes)
}

#[test]
fn json_output_parses_back() {
    let (dir, bytes) = written(&["--protocol", "json"]);
    let r = json::parse(&bytes).unwrap();
    assert_eq!(r.packages.len(), dpkg_count());
    assert_eq!(r.packager, Packager::Dpkg);
    assert_eq!(r.site.as_deref(), Some("SITE-1"));
    assert_eq!(r.tag.as_deref(), Some("t1"));
    assert!(r.os_release.is_some());
    // The host id was created and is what the report carries.
    let id = std::fs::read_to_string(dir.path().join("host-id")).unwrap();
    assert_eq!(r.host_id.as_deref(), Some(id.trim()));
    assert_eq!(id.trim().len(), 36);
    // A second run keeps the id.
    let (_, again) = written(&["--protocol", "json"]);
    assert_ne!(
        json::parse(&again).unwrap().host_id,
        r.host_id,
        "other dir, other id"
    );
    let o = client(dir.path(), &["--protocol", "json", "--output", "-"], None);
    assert_eq!(
        json::parse(&o.stdout).unwrap().host_id.as_deref(),
        Some(id.trim())
    );
}

#[test]
fn protocol5_output_parses_back() {
    let (_dir, bytes) = written(&["--protocol", "5"]);
    let body = String::from_utf8(bytes.clone()).unwrap();
    assert!(body.starts_with("#\narch: "), "{body:.80}");
    let r = protocol5::parse(&bytes).unwrap();
    assert_eq!(r.packages.len(), dpkg_count());
    assert_eq!(r.site.as_deref(), Some("SITE-1"));
    // Rendering the parsed report again gives the same bytes: nothing was lost.
    assert_eq!(protocol5::render(&r), body);
}

#[test]
fn protocol4_output_parses_back() {
    let (_dir, bytes) = written(&["--protocol", "4"]);
    let r = protocol4::parse_stdout(&String::from_utf8(bytes).unwrap()).unwrap();
    assert_eq!(r.packages.len(), dpkg_count());
    assert_eq!(r.packager, Packager::Dpkg);
    assert_eq!(r.tag.as_deref(), Some("t1"));
}

/// With neither a server nor --output the report goes to stdout (as the Pakiti 3 client).
#[test]
fn no_server_prints_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let o = client(
        dir.path(),
        &["--protocol", "5", "--host", "h.example.org"],
        None,
    );
    assert!(o.status.success());
    let r = protocol5::parse(&o.stdout).unwrap();
    assert_eq!(r.hostname, "h.example.org");
}

#[test]
fn help_documents_exit_codes_and_protocol_rule() {
    let dir = tempfile::tempdir().unwrap();
    let o = client(dir.path(), &["--help"], None);
    let (out, _) = text(&o);
    assert!(o.status.success());
    for s in [
        "0  success",
        "1  partial success",
        "2  failure",
        "protocol 4",
        "protocol 5",
        "--rndsleep",
        "--disable-tls-checks",
        "--no-protocol-version",
    ] {
        assert!(out.contains(s), "--help lacks {s:?}");
    }
    let o = client(dir.path(), &["--bogus"], None);
    assert_eq!(o.status.code(), Some(2));
}
