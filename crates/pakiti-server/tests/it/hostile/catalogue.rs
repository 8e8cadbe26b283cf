//! The hostile-input catalogue of `issue_16_hostile_input_is_refused_with_a_reason_and_changes_nothing`
//! (issues 15 and 16): every request an attacker on the network could send to `POST /feed/`,
//! with the status and reason it must get, and the injection payloads planted in every field
//! of every wire format.

use std::io::Write;

use pakiti_api::report::{Package, Report};
use pakiti_api::{json, protocol4, protocol5};

use crate::support::report;

/// One hostile request: what is sent and what must come back.
pub(super) struct Case {
    pub(super) name: String,
    pub(super) query: &'static str,
    pub(super) content_type: &'static str,
    pub(super) encoding: Option<&'static str>,
    pub(super) body: Vec<u8>,
    pub(super) status: u16,
    /// A word the `ERROR:` reason must contain.
    pub(super) reason: &'static str,
}

fn json_case(name: &str, r: &Report, status: u16, reason: &'static str) -> Case {
    Case {
        name: name.to_owned(),
        query: "",
        content_type: "application/json",
        encoding: None,
        body: json::render(r).into_bytes(),
        status,
        reason,
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A good rpm report to spoil.
fn good() -> Report {
    report("rhel_80", "good.example.org")
}

pub(super) fn with_host(name: &str) -> Report {
    let mut r = good();
    r.hostname = name.to_owned();
    r
}

/// Every hostile request of the issue, and the refusal classes that already worked.
pub(super) fn cases() -> Vec<Case> {
    let text = protocol5::render(&good());
    let mut v = vec![
        Case {
            // Cut inside the header: refused. (Cut inside the package list, the readable lines
            // are stored and the cut one is counted: issue 11, `reading.rs`.)
            name: "truncated protocol 5".into(),
            query: "?protocol=5",
            content_type: "text/plain",
            encoding: None,
            body: text.as_bytes()[..text.find("kernel:").expect("a kernel header")].to_vec(),
            status: 400,
            reason: "#",
        },
        Case {
            name: "binary garbage".into(),
            query: "",
            content_type: "application/octet-stream",
            encoding: None,
            body: (0..4096u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect(),
            status: 400,
            reason: "",
        },
        Case {
            name: "invalid UTF-8".into(),
            query: "?protocol=5",
            content_type: "text/plain",
            encoding: None,
            body: text
                .replace("good.example.org", "good.\u{1}.org")
                .into_bytes()
                .into_iter()
                .map(|b| if b == 1 { 0xff } else { b })
                .collect(),
            status: 400,
            reason: "",
        },
        Case {
            name: "gzip bomb".into(),
            query: "",
            content_type: "application/json",
            encoding: Some("gzip"),
            body: gzip(&vec![b' '; 8 * 1024 * 1024]),
            status: 413,
            reason: "larger",
        },
        Case {
            name: "wrong JSON types".into(),
            query: "",
            content_type: "application/json",
            encoding: None,
            body: br#"{"report_version": 1, "hostname": 5, "packages": "many"}"#.to_vec(),
            status: 400,
            reason: "",
        },
        json_case(
            "NUL in host name",
            &with_host("a\0b.example.org"),
            400,
            "host",
        ),
        json_case(
            "newline in host name",
            &with_host("a\nINFO forged"),
            400,
            "host",
        ),
        json_case(
            "ESC in host name",
            &with_host("a\u{1b}]0;pwned\u{7}"),
            400,
            "host",
        ),
        json_case(
            "bidi override in host name",
            &with_host("evil\u{202e}gro.elpmaxe"),
            400,
            "host",
        ),
        json_case(
            "path in host name",
            &with_host("../../../etc/passwd"),
            400,
            "host",
        ),
        json_case("query in host name", &with_host("a?b#c"), 400, "host"),
        json_case(
            "1 MiB host name",
            &with_host(&"a".repeat(1 << 20)),
            400,
            "host",
        ),
        json_case(
            "254-byte host name",
            &with_host(&format!("{}.org", "a.".repeat(125))),
            400,
            "host",
        ),
    ];
    let mut r = good();
    r.packages[3].name = "bash\0evil".into();
    v.push(json_case("NUL in a package name", &r, 400, "NUL"));
    let mut r = good();
    r.packages[3].name = "x".repeat(10 * 1024);
    v.push(json_case("10 KiB package name", &r, 400, "package 4 name"));
    let mut r = good();
    r.packages[3].version = format!("0:1.{}-1", "9".repeat(9000));
    v.push(json_case(
        "9 KiB package version",
        &r,
        400,
        "package 4 version",
    ));
    let mut r = good();
    r.tag = Some("t".repeat(64 * 1024));
    v.push(json_case("64 KiB tag", &r, 400, "tag"));
    let mut r = good();
    r.os = format!("Red Hat Enterprise Linux release 8.0 {}", "x".repeat(4096));
    v.push(json_case("4 KiB OS string", &r, 400, "os"));
    let mut r = good();
    r.site = Some("s\0ite".into());
    v.push(json_case("NUL in the site", &r, 400, "NUL"));
    let mut r = good();
    let extra: Vec<Package> = (0..1200)
        .map(|i| Package::new(format!("pkg{i}"), "0:1.0-1.el8", "x86_64"))
        .collect();
    r.packages.extend(extra);
    v.push(json_case(
        "more packages than allowed",
        &r,
        413,
        "max_packages",
    ));
    // rpm versions vercmp refuses as sent must not pass once normalised (D13).
    // The only package: a report with one invalid version among good ones is stored without it
    // and the line counted (issue 11, `reading::issue_11_unreadable_version_is_skipped_and_counted`).
    let mut r = good();
    r.packages[3].version = "-1:1.0-1".into();
    r.packages = vec![r.packages[3].clone()];
    v.push(Case {
        name: "rpm epoch -1".into(),
        query: "?protocol=5",
        content_type: "text/plain",
        encoding: None,
        body: protocol5::render(&r).into_bytes(),
        status: 400,
        reason: "epoch",
    });
    // The only package: a report with one invalid version among good ones is stored without it
    // and the line counted (issue 11, `reading::issue_11_unreadable_version_is_skipped_and_counted`).
    let mut r = good();
    r.packages[3].version = "::--~^".into();
    r.packages = vec![r.packages[3].clone()];
    v.push(Case {
        name: "rpm version ::--~^".into(),
        query: "",
        content_type: "application/x-www-form-urlencoded",
        encoding: None,
        body: protocol4::to_urlencoded(&r).into_bytes(),
        status: 400,
        reason: "epoch",
    });
    v.extend(issue_15_cases());
    v
}

/// The injection payloads of issue 15's catalogue: SQL, HTML, and a spreadsheet formula for
/// each character a spreadsheet starts one with (`=`, `+`, `-`, `@`).
pub(super) const PAYLOADS: &[&str] = &[
    "'; DROP TABLE hosts;--",
    "<script>alert(1)</script>",
    "=HYPERLINK(\"http://evil.example/\",\"x\")",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
];

/// The wire formats a report comes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Wire {
    Protocol4,
    Protocol5,
    Json,
}

/// Every field a report carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Field {
    HostName,
    Os,
    Kernel,
    Arch,
    Tag,
    Site,
    PackageName,
    PackageVersion,
    PackageRelease,
    PackageArch,
    ClientId,
}

const FIELDS: &[Field] = &[
    Field::HostName,
    Field::Os,
    Field::Kernel,
    Field::Arch,
    Field::Tag,
    Field::Site,
    Field::PackageName,
    Field::PackageVersion,
    Field::PackageRelease,
    Field::PackageArch,
    Field::ClientId,
];

/// A payload planted in one field of a report in one wire format.
pub(super) struct Planted {
    pub(super) case: Case,
    /// The host the report is for (its name is the payload for [`Field::HostName`]).
    pub(super) host: String,
    pub(super) payload: &'static str,
    pub(super) field: Field,
}

/// A small good report (six packages) for `host`.
fn small(host: &str) -> Report {
    let mut r = with_host(host);
    r.packages.truncate(6);
    r
}

/// Every payload in every field in every wire format that carries the field (protocols 4 and
/// 5 have no client id). A host name must be a DNS name or an address, so each payload there is
/// refused (400, "host"); elsewhere they are text a report may carry: stored, and then shown
/// escaped and neutral (`hostile.rs` checks the pages and exports).
pub(super) fn planted() -> Vec<Planted> {
    let mut out = Vec::new();
    for (p, payload) in PAYLOADS.iter().enumerate() {
        for field in FIELDS {
            for wire in [Wire::Protocol4, Wire::Protocol5, Wire::Json] {
                if *field == Field::ClientId && wire != Wire::Json {
                    continue;
                }
                let host = format!("p{p}-{field:?}-{wire:?}.example.org").to_lowercase();
                let mut r = small(&host);
                let pkg = &mut r.packages[2];
                match field {
                    Field::HostName => r.hostname = (*payload).to_owned(),
                    Field::Os => r.os = format!("Red Hat Enterprise Linux release 8.0 {payload}"),
                    Field::Kernel => r.kernel = (*payload).to_owned(),
                    Field::Arch => r.arch = (*payload).to_owned(),
                    Field::Tag => r.tag = Some((*payload).to_owned()),
                    Field::Site => r.site = Some((*payload).to_owned()),
                    Field::PackageName => pkg.name = (*payload).to_owned(),
                    Field::PackageVersion => pkg.version = format!("0:{payload}-1.el8"),
                    Field::PackageRelease => pkg.version = format!("0:1.0-{payload}"),
                    Field::PackageArch => pkg.arch = (*payload).to_owned(),
                    Field::ClientId => r.host_id = Some((*payload).to_owned()),
                }
                let (query, content_type, body) = match wire {
                    Wire::Protocol4 => (
                        "",
                        "application/x-www-form-urlencoded",
                        protocol4::to_urlencoded(&r).into_bytes(),
                    ),
                    Wire::Protocol5 => (
                        "?protocol=5",
                        "text/plain",
                        protocol5::render(&r).into_bytes(),
                    ),
                    Wire::Json => ("", "application/json", json::render(&r).into_bytes()),
                };
                let refused = *field == Field::HostName;
                out.push(Planted {
                    case: Case {
                        name: format!("{payload:?} in {field:?} over {wire:?}"),
                        query,
                        content_type,
                        encoding: None,
                        body,
                        status: if refused { 400 } else { 200 },
                        reason: if refused { "host" } else { "" },
                    },
                    host,
                    payload,
                    field: *field,
                });
            }
        }
    }
    out
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn raw_json(name: &str, body: &str, reason: &'static str) -> Case {
    Case {
        name: name.to_owned(),
        query: "",
        content_type: "application/json",
        encoding: None,
        body: body.as_bytes().to_vec(),
        status: 400,
        reason,
    }
}

/// Issue 15's additions: path tricks, bombs, wrong types.
fn issue_15_cases() -> Vec<Case> {
    let mut v = Vec::new();
    for (name, host) in [
        ("../ in host name", "../hosts"),
        ("%2e%2e/ in host name", "%2e%2e/%2e%2e/etc"),
        ("%2e%2e%2f in host name", "%2e%2e%2fetc%2fpasswd"),
        ("absolute path as host name", "/etc/passwd"),
        ("Windows path as host name", "C:\\Windows\\win.ini"),
        ("URL as host name", "http://evil.example/x"),
        ("file URL as host name", "file:///etc/passwd"),
    ] {
        v.push(json_case(name, &with_host(host), 400, "host"));
        let r = with_host(host);
        v.push(Case {
            name: format!("{name} (protocol 5)"),
            query: "?protocol=5",
            content_type: "text/plain",
            encoding: None,
            body: protocol5::render(&r).into_bytes(),
            status: 400,
            reason: "host",
        });
        v.push(Case {
            name: format!("{name} (protocol 4)"),
            query: "",
            content_type: "application/x-www-form-urlencoded",
            encoding: None,
            body: protocol4::to_urlencoded(&r).into_bytes(),
            status: 400,
            reason: "host",
        });
    }
    v.push(Case {
        name: "deflate bomb".into(),
        query: "",
        content_type: "application/json",
        encoding: Some("deflate"),
        body: deflate(&vec![b' '; 8 * 1024 * 1024]),
        status: 413,
        reason: "larger",
    });
    v.push(Case {
        name: "gzip bomb of a valid report".into(),
        query: "",
        content_type: "application/json",
        encoding: Some("gzip"),
        body: gzip(
            json::render(&with_host("bomb.example.org"))
                .replace(
                    "\"kernel\":",
                    &format!("\"x\":\"{}\",\"kernel\":", "A".repeat(3 << 20)),
                )
                .as_bytes(),
        ),
        status: 413,
        reason: "larger",
    });
    v.push(Case {
        name: "gzip header of a body that is not gzip".into(),
        query: "",
        content_type: "application/json",
        encoding: Some("gzip"),
        body: json::render(&good()).into_bytes(),
        status: 400,
        reason: "gzip",
    });
    v.push(Case {
        name: "unknown content encoding".into(),
        query: "",
        content_type: "application/json",
        encoding: Some("br"),
        body: json::render(&good()).into_bytes(),
        status: 415,
        reason: "content-encoding",
    });
    v.push(raw_json(
        "deeply nested JSON arrays",
        &format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
        "",
    ));
    v.push(raw_json(
        "deeply nested JSON objects",
        &format!("{}1{}", "{\"a\":".repeat(50_000), "}".repeat(50_000)),
        "",
    ));
    // (Deep nesting in a field the report does not have is skipped without recursion by
    // serde_json and the report stored: no stack to exhaust, and the body limit bounds it.)
    v.push(raw_json(
        "deeply nested JSON in the package list",
        &json::render(&good()).replacen(
            "\"packages\":[",
            &format!(
                "\"packages\":[{}{},",
                "[".repeat(10_000),
                "]".repeat(10_000)
            ),
            1,
        ),
        "",
    ));
    let mut r = good();
    r.kernel = "k".repeat(600 * 1024);
    v.push(json_case("600 KiB kernel field", &r, 400, "kernel"));
    let mut r = good();
    r.host_id = Some("c".repeat(100 * 1024));
    v.push(json_case("100 KiB client id", &r, 400, "host id"));
    let mut r = good();
    r.packages[0].arch = "a".repeat(20 * 1024);
    v.push(json_case("20 KiB package arch", &r, 400, "package 1 arch"));
    let good_json: serde_json::Value = serde_json::from_str(&json::render(&good())).unwrap();
    for (name, path, value) in [
        ("host name null", "hostname", serde_json::Value::Null),
        (
            "host name a list",
            "hostname",
            serde_json::json!(["a.example.org"]),
        ),
        (
            "packages an object",
            "packages",
            serde_json::json!({"bash": "5.0"}),
        ),
        (
            "packages a string",
            "packages",
            serde_json::json!("bash 5.0"),
        ),
        (
            "packages strings",
            "packages",
            serde_json::json!(["bash-5.0-1.x86_64"]),
        ),
        (
            "report version a string",
            "report_version",
            serde_json::json!("1"),
        ),
        (
            "report version negative",
            "report_version",
            serde_json::json!(-1),
        ),
        (
            "report version 2^64",
            "report_version",
            serde_json::json!(18_446_744_073_709_551_616.0_f64),
        ),
        ("os a number", "os", serde_json::json!(8)),
        ("tag an object", "tag", serde_json::json!({"t": 1})),
        ("proxy a string", "proxy", serde_json::json!("yes")),
    ] {
        let mut doc = good_json.clone();
        doc[path] = value;
        v.push(raw_json(name, &doc.to_string(), ""));
    }
    let mut doc = good_json.clone();
    doc["packages"][0]["version"] = serde_json::json!(5.0);
    v.push(raw_json("package version a number", &doc.to_string(), ""));
    let mut doc = good_json;
    doc["packages"][0]["name"] = serde_json::Value::Null;
    v.push(raw_json("package name null", &doc.to_string(), ""));
    v.push(Case {
        name: "protocol 4 form with a field repeated as a list".into(),
        query: "",
        content_type: "application/x-www-form-urlencoded",
        encoding: None,
        body: b"type=rpm&host=a.example.org&host=b.example.org&os=x&pkgs=".to_vec(),
        status: 400,
        reason: "",
    });
    v.push(Case {
        name: "protocol 5 with the header only".into(),
        query: "?protocol=5",
        content_type: "text/plain",
        encoding: None,
        body: b"#\nhost: h.example.org\npackager: rpm\nsystem: Red Hat Enterprise Linux release 8.0\n#\n#\n".to_vec(),
        status: 400,
        reason: "",
    });
    v
}
