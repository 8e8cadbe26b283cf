//! Malformed input fails with an error that names the field or line.

use pakiti_api::{Mode, WireError, json, protocol4, protocol5};

fn p4_err(pkgs: &str) -> String {
    protocol4::parse_fields(&[("host", "h"), ("pkgs", pkgs)])
        .unwrap_err()
        .to_string()
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
    let err = protocol5::parse(b"#\nhost: h\n#\nbash\t0:1-1\n#\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "report line 4: expected name<TAB>version<TAB>arch, found 2 fields"
    );
    let err = protocol5::parse(b"#\nhost: h\n#\nok\t1\tx\n\xff\xfe\n").unwrap_err();
    assert_eq!(err, WireError::NotUtf8 { line: 5 });
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
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "field packages[0]: empty package name or version"
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
