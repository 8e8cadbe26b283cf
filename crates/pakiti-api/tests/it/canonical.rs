//! `Report::canonical_bytes` does not depend on package order or per-request fields.

use pakiti_api::{Mode, Package};

use crate::support::host_lists;

#[test]
fn canonical_bytes_ignore_package_order_and_request_fields() {
    for list in host_lists() {
        let report = list.report();
        let mut shuffled = report.clone();
        shuffled.packages.reverse();
        // A deterministic interleave as well as the reversal.
        let n = shuffled.packages.len();
        if n > 2 {
            shuffled.packages.rotate_left(n / 3);
        }
        shuffled.mode = Mode::ReportOnly;
        shuffled.proxy = true;
        assert_ne!(shuffled.packages, report.packages, "{}", list.host);
        assert_eq!(
            shuffled.canonical_bytes(),
            report.canonical_bytes(),
            "{}",
            list.host
        );
    }
}

#[test]
fn canonical_bytes_see_content_changes() {
    let list = host_lists()
        .into_iter()
        .find(|l| l.host == "centos_7")
        .expect("centos_7 list");
    let report = list.report();
    let base = report.canonical_bytes();

    let mut bumped = report.clone();
    bumped.packages[0].version = "0:3.10-12.el7".to_owned();
    assert_ne!(bumped.canonical_bytes(), base);

    let mut kernel = report.clone();
    kernel.kernel.push('x');
    assert_ne!(kernel.canonical_bytes(), base);

    let mut extra = report.clone();
    extra.packages.push(Package::new("zzz", "0:1-1", "noarch"));
    assert_ne!(extra.canonical_bytes(), base);

    // Field boundaries are unambiguous: moving a character between fields changes the bytes.
    let mut a = report.clone();
    a.packages[0].name = "ab".to_owned();
    a.packages[0].version = "c".to_owned();
    let mut b = report.clone();
    b.packages[0].name = "a".to_owned();
    b.packages[0].version = "bc".to_owned();
    assert_ne!(a.canonical_bytes(), b.canonical_bytes());

    let mut no_site = report.clone();
    no_site.site = Some(String::new());
    let mut none_site = report;
    none_site.site = None;
    assert_ne!(no_site.canonical_bytes(), none_site.canonical_bytes());

    let mut streams = list.report();
    streams.module_streams = vec!["b:1".into(), "a:2".into()];
    let mut streams2 = list.report();
    streams2.module_streams = vec!["a:2".into(), "b:1".into()];
    assert_eq!(streams.canonical_bytes(), streams2.canonical_bytes());
}
