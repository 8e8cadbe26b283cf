//! The real CISA KEV catalogue and the real FIRST EPSS excerpt and header variants
//! (`shared/data/prioritisation/`).

use pakiti_feeds::FeedKind;
use pakiti_feeds::{epss, kev};

use crate::debian_data::{data, open};

#[test]
fn kev_catalogue() {
    let bytes = std::fs::read(data(
        "prioritisation/cisa-kev/known_exploited_vulnerabilities.json.xz",
    ))
    .unwrap();
    let doc = pakiti_feeds::decompress::to_vec(&bytes).unwrap();
    assert_eq!(FeedKind::detect(&doc), Some(FeedKind::CisaKev));
    let p = kev::parse(&doc[..]).unwrap();
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    // The catalogue says "count": 1404.
    assert_eq!(p.records.len(), 1404);
    assert_eq!(p.records.iter().filter(|e| e.ransomware).count(), 293);
    let get = |cve: &str| p.records.iter().find(|e| e.cve == cve).unwrap();
    let log4shell = get("CVE-2021-44228");
    assert_eq!(log4shell.date_added, "2021-12-10");
    assert_eq!(log4shell.due_date.as_deref(), Some("2021-12-24"));
    assert!(log4shell.ransomware);
    let git = get("CVE-2025-48384");
    assert_eq!(
        (
            git.date_added.as_str(),
            git.due_date.as_deref(),
            git.ransomware
        ),
        ("2025-08-25", Some("2025-09-15"), false)
    );
    // Through the dispatcher: facts with only `kev` set.
    let facts = FeedKind::CisaKev.parse_facts(&doc[..]).unwrap();
    assert_eq!(facts.records.len(), 1404);
    assert!(
        facts
            .records
            .iter()
            .all(|r| r.facts.kev.is_some() && r.facts.epss.is_none())
    );
}

#[test]
fn epss_excerpt() {
    let path = "prioritisation/epss/epss_scores-2026-09-29.head-tail-excerpt.csv";
    let doc = std::fs::read(data(path)).unwrap();
    assert_eq!(FeedKind::detect(&doc), Some(FeedKind::Epss));
    let (p, header) = epss::parse_with_header(open(path)).unwrap();
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert_eq!(p.records.len(), 1071);
    assert_eq!(header.model_version.as_deref(), Some("v2026.06.15"));
    assert_eq!(header.score_date.as_deref(), Some("2026-09-29T12:00:22Z"));
    let get = |cve: &str| p.records.iter().find(|e| e.cve == cve).unwrap();
    assert_eq!(get("CVE-1999-0001").score, 0.03351);
    assert_eq!(get("CVE-1999-0001").percentile, Some(0.88255));
    assert_eq!(get("CVE-1999-0199").score, 0.02402);
    assert_eq!(get("CVE-2026-9999").percentile, Some(0.32517));
    assert!(p.records.iter().all(|r| (0.0..=1.0).contains(&r.score)));
}

#[test]
fn epss_every_header_variant() {
    // (file, has percentile, score of CVE-2020-5902)
    let cases = [
        ("epss_scores-2021-04-14.csv.gz", false, 0.65117),
        ("epss_scores-2021-09-01.csv.gz", true, 0.65117),
        ("epss_scores-2022-02-04.csv.gz", true, 0.96817),
        ("epss_scores-2023-03-07.csv.gz", true, 0.97567),
    ];
    for (file, pct, score) in cases {
        let rel = format!("prioritisation/epss/format-variants/{file}");
        let raw = std::fs::read(data(&rel)).unwrap();
        let doc = pakiti_feeds::decompress::to_vec(&raw).unwrap();
        assert_eq!(FeedKind::detect(&doc), Some(FeedKind::Epss), "{file}");
        let p = FeedKind::Epss.parse_facts(&doc[..]).unwrap();
        assert!(p.problems.is_empty(), "{file}: {:?}", p.problems);
        assert_eq!(p.records.len(), 2, "{file}");
        let e = p.records[0].facts.epss.unwrap();
        assert_eq!(p.records[0].cve, "CVE-2020-5902");
        assert_eq!(e.score, score, "{file}");
        assert_eq!(!e.percentile.is_nan(), pct, "{file}");
        assert_eq!(p.records[1].cve, "CVE-2018-19571");
    }
}

#[test]
fn a_changed_format_is_an_error() {
    let doc = std::fs::read(data(
        "prioritisation/epss/epss_scores-2026-09-29.head-tail-excerpt.csv",
    ))
    .unwrap();
    let text = String::from_utf8(doc).unwrap();
    let renamed = text.replacen("cve,epss,percentile", "cve_id,epss,percentile", 1);
    assert!(matches!(
        epss::parse(renamed.as_bytes()),
        Err(pakiti_feeds::FeedError::Format { .. })
    ));
    let reordered = text.replacen("cve,epss,percentile", "cve,percentile,epss", 1);
    assert!(epss::parse(reordered.as_bytes()).is_err());
    // The KEV catalogue read as EPSS, and the other way round.
    assert!(
        FeedKind::Epss
            .parse_facts(&br#"{"catalogVersion":"1"}"#[..])
            .is_err()
    );
    assert!(FeedKind::CisaKev.parse_facts(text.as_bytes()).is_err());
    // A vulnerability kind never parses prioritisation data, nor the reverse.
    assert!(
        FeedKind::CisaKev
            .parse(text.as_bytes(), &pakiti_feeds::ParseOptions::default())
            .is_err()
    );
}
