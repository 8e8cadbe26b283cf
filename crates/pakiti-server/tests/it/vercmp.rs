//! `pakiti vercmp` through the real binary: pair mode, stream mode on whole vector files, errors.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const VERCMP_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/vercmp/");

/// Runs `pakiti vercmp ARGS...` with `stdin` as its input.
fn pakiti_vercmp(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pakiti"))
        .arg("vercmp")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pakiti");
    let mut input = child.stdin.take().expect("stdin");
    let stdin = stdin.to_owned();
    // Write from another thread so a full stdout pipe cannot deadlock us.
    let writer = std::thread::spawn(move || input.write_all(stdin.as_bytes()));
    let output = child.wait_with_output().expect("wait for pakiti");
    // The binary may stop reading early (on an error line), which breaks the pipe: fine.
    let _ = writer.join().expect("writer thread");
    output
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("UTF-8 output")
}

#[test]
fn pair_mode_prints_minus_one_zero_one() {
    for (scheme, a, b, want) in [
        ("rpm", "1.0~rc1", "1.0", "-1\n"),
        ("rpm", "1:1.0-1", "2.0-1", "1\n"),
        ("dpkg", "1.0-1", "1.0-1+b1", "-1\n"),
        ("deb", "1.00", "0:1.0-0", "0\n"),
        ("apk", "1.0_rc1-r0", "1.0-r0", "-1\n"),
        ("apk", "1.0_p1", "1.0-r9", "1\n"),
    ] {
        let out = pakiti_vercmp(&[scheme, a, b], "");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{scheme} {a} {b}: {}",
            text(&out.stderr)
        );
        assert_eq!(text(&out.stdout), want, "{scheme} {a} {b}");
        assert_eq!(text(&out.stderr), "");
    }
}

/// Feeds the left/right columns of an oracle file to stream mode and checks every answer
/// against the oracle's expected column.
fn stream_matches_oracle(scheme: &str, file: &str, rows: usize) {
    let data = std::fs::read_to_string(format!("{VERCMP_DIR}{file}")).expect("vector file");
    let mut input = String::new();
    let mut expected = String::new();
    for line in data.lines().filter(|l| !l.starts_with('#')) {
        let mut fields = line.split('\t');
        let (a, b, want) = (
            fields.next().unwrap(),
            fields.next().unwrap(),
            fields.next().unwrap(),
        );
        input.push_str(&format!("{a}\t{b}\n"));
        expected.push_str(&format!("{want}\n"));
    }
    assert_eq!(expected.lines().count(), rows);
    let out = pakiti_vercmp(&[scheme], &input);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    let got = text(&out.stdout);
    assert_eq!(got.lines().count(), rows);
    for (n, (g, w)) in got.lines().zip(expected.lines()).enumerate() {
        assert_eq!(g, w, "{file} row {}", n + 1);
    }
}

#[test]
fn stream_mode_rpm_evr_oracle() {
    stream_matches_oracle("rpm", "rpm-oracle-evr-20k.tsv", 20_000);
}

#[test]
fn stream_mode_dpkg_oracle() {
    stream_matches_oracle("dpkg", "dpkg-oracle-20k.tsv", 20_000);
}

#[test]
fn stream_mode_apk_oracle() {
    stream_matches_oracle("apk", "apk-oracle-20k.tsv", 20_000);
}

#[test]
fn invalid_version_in_pair_mode_exits_2() {
    let out = pakiti_vercmp(&["dpkg", "1.0-", "1.0"], "");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(
        text(&out.stderr),
        "pakiti vercmp: invalid dpkg version \"1.0-\": revision number is empty\n"
    );
}

#[test]
fn invalid_version_in_stream_mode_names_the_line_and_exits_2() {
    let out = pakiti_vercmp(
        &["apk"],
        "1.0\t1.1\n1.2-r1\t1.2-r0\n5.1p1-r0\t5.1-r0\n2\t1\n",
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout), "-1\n1\n");
    let err = text(&out.stderr);
    assert!(
        err.starts_with("pakiti vercmp: line 3: invalid apk version \"5.1p1-r0\": "),
        "{err}"
    );
}

#[test]
fn malformed_line_and_unknown_scheme() {
    let out = pakiti_vercmp(&["rpm"], "1.0 1.1\n");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "pakiti vercmp: line 1: expected two versions separated by one TAB, got \"1.0 1.1\"\n"
    );
    let out = pakiti_vercmp(&["pacman", "1", "2"], "");
    assert_eq!(out.status.code(), Some(2), "clap usage errors exit 2");
    assert!(text(&out.stderr).contains("unknown version scheme \"pacman\""));
    let out = pakiti_vercmp(&["rpm", "1.0"], "");
    assert_eq!(out.status.code(), Some(2), "A without B is a usage error");
}
