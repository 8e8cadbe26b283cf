//! Every real host list round-trips through protocol 4 (fields, urlencoded, bash openssl body,
//! stdout), protocol 5 and JSON with exact package counts.

use pakiti_api::{Mode, OsRelease, Packager, Report, json, protocol4, protocol5};

use crate::support::{bash_openssl_body, host_lists};

#[test]
fn all_host_lists_are_present() {
    let lists = host_lists();
    assert_eq!(lists.len(), 41);
    let rows: usize = lists.iter().map(|l| l.rows.len()).sum();
    assert_eq!(rows, 19_452);
    let by = |p: Packager| lists.iter().filter(|l| l.packager() == p).count();
    assert_eq!(
        (by(Packager::Rpm), by(Packager::Dpkg), by(Packager::Apk)),
        (29, 11, 1)
    );
}

#[test]
fn protocol4_fields_round_trip() {
    for list in host_lists() {
        let report = list.report();
        let fields = protocol4::to_fields(&report);
        let back =
            protocol4::parse_fields(&fields).unwrap_or_else(|e| panic!("{}: {e}", list.host));
        assert_eq!(back.packages.len(), list.rows.len(), "{}", list.host);
        assert_eq!(back, report, "{}", list.host);
    }
}

#[test]
fn protocol4_urlencoded_round_trip() {
    for list in host_lists() {
        let report = list.report();
        let body = protocol4::to_urlencoded(&report);
        assert!(
            !body.contains(['\n', ' ', '\'']),
            "{}: body must be fully encoded",
            list.host
        );
        let back = protocol4::parse_urlencoded(body.as_bytes())
            .unwrap_or_else(|e| panic!("{}: {e}", list.host));
        assert_eq!(back.packages.len(), list.rows.len(), "{}", list.host);
        assert_eq!(back, report, "{}", list.host);
    }
}

#[test]
fn protocol4_bash_openssl_body_round_trip() {
    for list in host_lists() {
        let mut report = list.report();
        // Raw spaces and `&` in the OS string, as the bash client sends them.
        report.os = format!("{} & friends {}", list.family, list.release);
        let body = bash_openssl_body(&report);
        let back = protocol4::parse_urlencoded(body.as_bytes())
            .unwrap_or_else(|e| panic!("{}: {e}", list.host));
        assert_eq!(back.packages.len(), list.rows.len(), "{}", list.host);
        assert_eq!(back, report, "{}", list.host);
    }
}

#[test]
fn protocol4_stdout_round_trip() {
    for list in host_lists() {
        let report = list.report();
        let text = protocol4::render_stdout(&report);
        assert!(text.starts_with("type=\""), "{}", list.host);
        let back = protocol4::parse_stdout(&text).unwrap_or_else(|e| panic!("{}: {e}", list.host));
        assert_eq!(back.packages.len(), list.rows.len(), "{}", list.host);
        assert_eq!(back, report, "{}", list.host);
    }
}

#[test]
fn protocol5_round_trip_drops_only_gpg_pubkey() {
    let mut dropped = 0;
    for list in host_lists() {
        let mut report = list.report();
        report.cpu = Some("Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz".to_owned());
        report.ip = Some("192.0.2.7".to_owned());
        let body = protocol5::render(&report);
        let back =
            protocol5::parse(body.as_bytes()).unwrap_or_else(|e| panic!("{}: {e}", list.host));

        let gpg = list.gpg_pubkeys();
        dropped += gpg;
        assert_eq!(back.packages.len(), list.rows.len() - gpg, "{}", list.host);

        // The mode travels in the query string; packages come back sorted.
        let mut expected = report.clone();
        expected.mode = Mode::StoreOnly;
        expected.packages.retain(|p| p.name != "gpg-pubkey");
        expected
            .packages
            .sort_by_key(|p| format!("{}\t{}\t{}", p.name, p.version, p.arch));
        assert_eq!(back, expected, "{}", list.host);

        // Rendering the parsed report again gives the same bytes (stable for server hashing).
        assert_eq!(protocol5::render(&back), body, "{}", list.host);
    }
    assert_eq!(dropped, 27);
}

#[test]
fn json_round_trip_with_every_field() {
    for list in host_lists() {
        let mut report = list.report();
        report.host_id = Some("0b6f3c1e-8c57-4f4e-9d36-6f0a4b1d2c3e".to_owned());
        report.os_release = Some(OsRelease {
            id: list.family.clone(),
            version_id: list.release.clone(),
        });
        report.cpu = Some("AMD EPYC 7702".to_owned());
        report.ip = Some("2001:db8::7".to_owned());
        report.proxy = true;
        report.mode = Mode::ReportOnly;
        report.module_streams = vec!["nodejs:18".to_owned(), "postgresql:15".to_owned()];
        if let Some(p) = report.packages.first_mut() {
            p.source = Some("src-of-first".to_owned());
        }
        let text = json::render(&report);
        let back = json::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{}: {e}", list.host));
        assert_eq!(back.packages.len(), list.rows.len(), "{}", list.host);
        assert_eq!(back, report, "{}", list.host);
    }
}

#[test]
fn rpm_versions_always_carry_the_epoch() {
    for list in host_lists()
        .into_iter()
        .filter(|l| l.packager() == Packager::Rpm)
    {
        let report: Report = list.report();
        for (p, row) in report.packages.iter().zip(&list.rows) {
            let epoch = if row.epoch.is_empty() {
                "0"
            } else {
                &row.epoch
            };
            assert_eq!(
                p.version,
                format!("{epoch}:{}-{}", row.version, row.release),
                "{}",
                list.host
            );
        }
    }
}
