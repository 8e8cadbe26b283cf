//! Malformed input fails with an error that names the field or line; a malformed package line
//! is skipped and kept with the report under its line number and reason.

use pakiti_api::{Mode, WireError, json, protocol4, protocol5};

/// The first unreadable line of a report with this package list, as `pkgs line N: reason`.
fn p4_err(pkgs: &str) -> String {
    let r = protocol4::parse_fields(&[("host", "h"), ("pkgs", pkgs)]).unwrap();
    let p = r.unreadable.lines.first().expect("an unreadable line");
    format!("pkgs line {}: {}", p.line, p.reason)
}

#[test]
fn protocol4_bad_package_lines() {
    let three = "'a' '0:1' '1' 'x86_64'\n\n'b' '0:1' '1' 'x86_64'\n'c' '0:1' '1'\n";
    assert_eq!(
        p4_err(three),
        "pkgs line 4: expected four quoted tokens, found 3"
    );
    assert_eq!(
        p4_err("'a' '0:1' '1' 'x86_64\n"),
        "pkgs line 1: unterminated quote after token 3"
    );
    assert_eq!(
        p4_err("a 0:1 1 x86_64\n"),
        "pkgs line 1: expected a quoted token at \"a 0:1 1 x86_64\""
    );
    assert_eq!(
        p4_err("'a''0:1' '1' 'x'\n"),
        "pkgs line 1: expected whitespace after token 1"
    );
    assert_eq!(
        p4_err("'' '0:1' '1' 'x'\n"),
        "pkgs line 1: empty package name"
    );
    assert_eq!(
        p4_err("'a' '' '1' 'x'\n"),
        "pkgs line 1: empty version for package \"a\""
    );
    assert_eq!(
        p4_err("<N='a' V='1' R='1'/>"),
        "pkgs line 1: expected a quoted token at \"<N='a' V='1' R='1'/>\""
    );
}

#[test]
fn protocol4_bad_header_fields() {
    let err = protocol4::parse_fields(&[("host", "h"), ("report", "3")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field report: unsupported processing mode \"3\" (expected 0, 1, 2, store-only, store-and-report or report-only)"
    );
    let err = protocol4::parse_fields(&[("host", "h"), ("proxy", "yes")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field proxy: expected 0 or 1, found \"yes\""
    );
    let err = protocol4::parse_fields(&[("host", "h"), ("version", "5")]).unwrap_err();
    assert_eq!(err, WireError::UnsupportedProtocol("5".to_owned()));
    assert_eq!(
        protocol4::parse_fields(&[("os", "x")]).unwrap_err(),
        WireError::EmptyHost
    );
    assert_eq!(
        protocol4::parse_fields(&[("host", "  ")]).unwrap_err(),
        WireError::EmptyHost
    );
    assert_eq!(
        protocol4::parse_urlencoded(b"host=&os=x&pkgs=").unwrap_err(),
        WireError::EmptyHost
    );
    // The stdout format's version must match the proxy's.
    let err = protocol4::parse_stdout("type=\"rpm\",host=\"h\",version=\"3\"\n\n").unwrap_err();
    assert_eq!(err, WireError::UnsupportedProtocol("3".to_owned()));
    let err = protocol4::parse_stdout("type=\"rpm\",host=\"h,version=\"4\n\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "report line 1: stdout header: unterminated quote in value of host"
    );
}

#[test]
fn protocol5_bad_bodies() {
    let err = protocol5::parse(b"host: h\n#\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "report line 1: missing '#': a report starts with a line '#'"
    );
    let err = protocol5::parse(b"#\nhost: h\nbash\t4.2\tx86_64\n#\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "report line 3: expected 'key: value' in the header"
    );
    // The `#` after the header is missing: package lines must not pass as unknown header keys.
    let err = protocol5::parse(b"#\nhost: h\nbash\t0:1-1\tx86_64\n#\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "report line 3: expected 'key: value' in the header"
    );
    let err = protocol5::parse(b"#\nhost: h\nkernel: 5.14\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "report line 3: missing '#' closing the header"
    );
    let err = protocol5::parse(b"#\nhost: h\npackager: rpm\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "report line 3: missing '#' closing the header"
    );
    assert_eq!(
        protocol5::parse(b"").unwrap_err().to_string(),
        "report line 1: missing '#': the report is empty"
    );
    assert_eq!(
        protocol5::parse(b"#\nsystem: x\n#\n").unwrap_err(),
        WireError::EmptyHost
    );
    assert_eq!(
        protocol5::parse(b"#\nhost:   \n#\n").unwrap_err(),
        WireError::EmptyHost
    );
    // No readable package: refused, naming the line.
    let err = protocol5::parse(b"#\nhost: h\n#\nbash\t0:1-1\n#\n")
        .unwrap()
        .require_packages()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no readable package: 1 line(s) could not be read; \
         line 4: expected name<TAB>version<TAB>arch, found 2 fields"
    );
    // Invalid UTF-8 in a package line: that line is skipped and counted (here it is also the
    // last line of a body without its final `#`).
    let r = protocol5::parse(b"#\nhost: h\n#\nok\t1\tx\n\xff\xfe\n").unwrap();
    assert_eq!(r.packages.len(), 1);
    assert_eq!(r.unreadable.count, 1);
    assert_eq!(r.unreadable.lines[0].line, 5);
    assert_eq!(
        r.unreadable.lines[0].reason,
        "missing the final '#': the report looks truncated, so its last line may be cut \
         (not valid utf-8)"
    );
    // Invalid UTF-8 in the header refuses the report.
    let err = protocol5::parse(b"#\nhost: h\xff\n#\nok\t1\tx\n#\n").unwrap_err();
    assert_eq!(err, WireError::NotUtf8 { line: 2 });
}

#[test]
fn bad_modes() {
    for q in ["mode=3", "mode=store", "report=yes", "mode=Store-Only"] {
        let err = protocol5::parse_query_string(q).unwrap_err();
        assert!(matches!(err, WireError::Field { .. }), "{q}: {err}");
    }
    assert_eq!(Mode::parse("mode", " 2 ").unwrap(), Mode::ReportOnly);
}

#[test]
fn json_versions_and_fields() {
    let err = json::parse(br#"{"report_version": 2, "hostname": "h", "surprise": {"x": 1}}"#)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unsupported report_version 2: this build understands report_version 1"
    );
    let err = json::parse(br#"{"hostname": "h"}"#).unwrap_err();
    assert_eq!(err.to_string(), "field report_version: missing");
    let err = json::parse(br#"{"report_version": "1", "hostname": "h"}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "field report_version: expected an unsigned integer, found \"1\""
    );
    assert_eq!(
        json::parse(br#"{"report_version": 1, "hostname": " "}"#).unwrap_err(),
        WireError::EmptyHost
    );
    let err =
        json::parse(br#"{"report_version": 1, "hostname": "h", "mode": "later"}"#).unwrap_err();
    assert!(
        matches!(err, WireError::Field { ref field, .. } if field == "mode"),
        "{err}"
    );
    let err = json::parse(
        br#"{"report_version": 1, "hostname": "h", "packages": [{"name": "a", "version": ""}]}"#,
    )
    .unwrap()
    .require_packages()
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "no readable package: 1 line(s) could not be read; \
         line 1: packages[0]: empty package name or version"
    );
    assert!(matches!(
        json::parse(b"{not json").unwrap_err(),
        WireError::Json(_)
    ));
}

#[test]
fn json_ignores_unknown_fields_from_newer_agents() {
    let body = br#"{"report_version": 1, "hostname": "h", "packager": "rpm", "future_field": [1, 2],
        "packages": [{"name": "bash", "version": "4.2.46-34.el7", "arch": "x86_64", "sha256": "ab"}]}"#;
    let r = json::parse(body).unwrap();
    assert_eq!(r.packages.len(), 1);
    assert_eq!(r.packages[0].version, "0:4.2.46-34.el7");
    assert_eq!(r.mode, Mode::StoreOnly);
    assert_eq!(r.os, "");
}

/// Issue 11: for every format, a line that cannot be read is skipped, counted and kept (line,
/// reason, excerpt); every readable package is kept.
#[test]
fn issue_11_unreadable_lines_are_skipped_counted_and_kept() {
    // Protocol 4: a bad line among good ones.
    let pkgs = "'a' '0:1' '1' 'x86_64'\n\n'b' '0:1' '1'\n'c' '0:2' '1' 'x86_64'\n";
    let r = protocol4::parse_fields(&[("host", "h"), ("pkgs", pkgs)]).unwrap();
    let names: Vec<&str> = r.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["a", "c"]);
    assert_eq!(r.unreadable.count, 1);
    assert_eq!(
        (
            r.unreadable.lines[0].line,
            r.unreadable.lines[0].reason.as_str(),
            r.unreadable.lines[0].excerpt.as_str()
        ),
        (3, "expected four quoted tokens, found 3", "'b' '0:1' '1'")
    );
    assert!(r.require_packages().is_ok());

    // Protocol 1 (tagged entries): a malformed entry is skipped, the next one read.
    let v1 = "<N='a' V='1' R='1'/><N='b' X='1' R='1'/><N='c' V='2' R='3'/>";
    let r = protocol4::parse_fields(&[("host", "h"), ("version", "1"), ("pkgs", v1)]).unwrap();
    let names: Vec<&str> = r.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["a", "c"]);
    assert_eq!(r.unreadable.count, 1);
    assert_eq!(r.unreadable.lines[0].line, 2);

    // Protocol 5: a bad line among good ones; a body without the final `#` loses its last
    // line (it may be cut: `0:4.2.46-34.el` would read as an older version).
    let body = b"#\nhost: h\npackager: rpm\n#\nbash\t0:4.2.46-34.el7\tx86_64\nbroken\nzsh\t0:5.0-1\tx86_64\nzlib\t0:1.2.7-21.el";
    let r = protocol5::parse(body).unwrap();
    let names: Vec<&str> = r.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["bash", "zsh"]);
    assert_eq!(r.unreadable.count, 2);
    assert_eq!(r.unreadable.lines[0].line, 6);
    assert_eq!(r.unreadable.lines[1].line, 8);
    assert!(
        r.unreadable.lines[1]
            .reason
            .starts_with("missing the final '#'")
    );
    assert_eq!(
        r.unreadable.lines[1].excerpt,
        "zlib\t0:1.2.7-21.el".replace('\t', " ")
    );

    // JSON: an entry without a version.
    let r = json::parse(
        br#"{"report_version": 1, "hostname": "h", "packager": "rpm", "packages": [
            {"name": "a", "version": "1-1", "arch": "x86_64"},
            {"name": "b", "version": "", "arch": "x86_64"}]}"#,
    )
    .unwrap();
    assert_eq!(r.packages.len(), 1);
    assert_eq!(r.unreadable.count, 1);
    assert_eq!(r.unreadable.lines[0].line, 2);

    // Only the first lines are kept in detail, all are counted; excerpts are bounded.
    let long = format!("'{}'\n", "x".repeat(500));
    let many = format!("'a' '0:1' '1' 'x86_64'\n{}", long.repeat(80));
    let r = protocol4::parse_fields(&[("host", "h"), ("pkgs", many.as_str())]).unwrap();
    assert_eq!(r.unreadable.count, 80);
    assert_eq!(r.unreadable.lines.len(), pakiti_api::report::KEPT_PROBLEMS);
    assert_eq!(
        r.unreadable.lines[0].excerpt.chars().count(),
        pakiti_api::report::EXCERPT_CHARS + 1
    );
}

/// A report whose every package line is unreadable, or with no package at all, is refused.
#[test]
fn issue_11_no_readable_package_is_refused() {
    let r = protocol4::parse_fields(&[("host", "h")]).unwrap();
    assert_eq!(
        r.require_packages().unwrap_err().to_string(),
        "no readable package: the package list is empty"
    );
    let r = protocol4::parse_fields(&[("host", "h"), ("pkgs", "garbage\nmore garbage\n")]).unwrap();
    assert_eq!(
        r.require_packages().unwrap_err().to_string(),
        "no readable package: 2 line(s) could not be read; \
         line 1: expected a quoted token at \"garbage\""
    );
}
