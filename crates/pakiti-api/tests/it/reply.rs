//! The server's answers, byte for byte.

use pakiti_api::json::{JsonReply, ReplyStatus};
use pakiti_api::reply::{self, TaggedCveLine, UpgradeLine};

#[test]
fn v3_reply_exact() {
    assert_eq!(reply::render_v3(&[]), "OK\n");
    let lines = [TaggedCveLine {
        name: "openssl-libs".into(),
        version_release: "1:1.0.2k-19.el7".into(),
        arch: "x86_64".into(),
        cve: "CVE-2023-0286".into(),
        tag: "Critical".into(),
    }];
    let body = reply::render_v3(&lines);
    assert_eq!(
        body,
        "OK\nopenssl-libs\t1:1.0.2k-19.el7\tx86_64\tCVE-2023-0286\tCritical\n"
    );
    assert_eq!(reply::parse_v3(&body).unwrap(), lines);
    assert_eq!(
        reply::parse_v3("ERROR").unwrap_err().to_string(),
        "report line 1: expected OK"
    );
    assert_eq!(
        reply::parse_v3("OK\na\tb\n").unwrap_err().to_string(),
        "report line 2: expected five tab-separated fields, found 2"
    );
    assert_eq!(reply::ERROR, "ERROR");
}

#[test]
fn v2_reply_exact() {
    assert_eq!(reply::render_v2(&[]), "OK");
    let lines = [
        UpgradeLine {
            name: "openssl".into(),
            new_version: "0.9.8e-12.el5_4.6".into(),
            security: true,
            installed_version: "0.9.8e-12.el5".into(),
        },
        UpgradeLine {
            name: "tzdata".into(),
            new_version: "2010l-1.el5".into(),
            security: false,
            installed_version: "2010e-1.el5".into(),
        },
    ];
    let body = reply::render_v2(&lines);
    assert_eq!(
        body,
        "openssl 0.9.8e-12.el5_4.6 SEC 0.9.8e-12.el5\ntzdata 2010l-1.el5 ORD 2010e-1.el5\nOK"
    );
    assert_eq!(reply::parse_v2(&body).unwrap(), lines);
    assert_eq!(
        reply::parse_v2("a b XXX c\nOK").unwrap_err().to_string(),
        "report line 1: expected name newversion SEC|ORD installedversion"
    );
}

#[test]
fn json_reply_round_trip_and_tolerance() {
    let r = JsonReply {
        status: ReplyStatus::Ok,
        stored: true,
        host: "wn042.example.org".into(),
        findings: 3,
        report_back: vec!["openssl-libs\t1:1.0.2k-19.el7\tx86_64\tCVE-2023-0286\tCritical".into()],
        message: None,
    };
    let text = r.render();
    assert_eq!(
        text,
        r#"{"status":"ok","stored":true,"host":"wn042.example.org","findings":3,"report_back":["openssl-libs\t1:1.0.2k-19.el7\tx86_64\tCVE-2023-0286\tCritical"]}"#
    );
    assert_eq!(JsonReply::parse(text.as_bytes()).unwrap(), r);
    let newer = JsonReply::parse(br#"{"status":"deferred","queue_position":4}"#).unwrap();
    assert_eq!(newer.status, ReplyStatus::Unknown);
    assert_eq!(
        (newer.stored, newer.findings, newer.host.as_str()),
        (false, 0, "")
    );
}
