//! What makes one CVE more urgent than another: the facts the prioritisation feeds give about a
//! CVE ([`CveFacts`]: CISA KEV, FIRST EPSS, CVSS) and the one risk order every list uses by
//! default ([`Risk`], explained to users by [`RISK_ORDER_EXPLAINED`]).
//!
//! ```
//! use pakiti_core::advisory::Severity;
//! use pakiti_core::risk::{CveFacts, Kev, Risk};
//!
//! let kev = CveFacts { kev: Some(Kev::default()), ..CveFacts::default() };
//! let tagged = Risk::of(true, None, Severity::Low, false);
//! let known_exploited = Risk::of(false, Some(&kev), Severity::Medium, true);
//! let critical = Risk::of(false, None, Severity::Critical, true);
//! assert!(tagged > known_exploited && known_exploited > critical);
//! ```

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::advisory::Severity;

/// A CVE's entry in the CISA Known Exploited Vulnerabilities catalogue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Kev {
    /// When CISA added it (`YYYY-MM-DD`).
    pub date_added: String,
    /// The remediation due date for US federal agencies (`YYYY-MM-DD`).
    pub due_date: Option<String>,
    /// `knownRansomwareCampaignUse` is "Known".
    pub ransomware: bool,
}

/// A CVE's FIRST EPSS score: the probability of exploitation activity in the next 30 days.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Epss {
    /// 0.0 – 1.0.
    pub score: f32,
    /// 0.0 – 1.0.
    pub percentile: f32,
}

/// What the prioritisation data says about one CVE.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CveFacts {
    /// In the KEV catalogue.
    pub kev: Option<Kev>,
    /// Its EPSS score.
    pub epss: Option<Epss>,
    /// The highest CVSS base score a feed gave (0.0 – 10.0).
    pub cvss: Option<f32>,
}

/// CVE name → its facts. Cheap to share (the engine swaps it whole).
#[derive(Clone, Debug, Default)]
pub struct CveFactsIndex {
    by_cve: HashMap<String, CveFacts>,
}

impl CveFactsIndex {
    /// The facts of `cve`, if any feed gave some.
    #[must_use]
    pub fn get(&self, cve: &str) -> Option<&CveFacts> {
        self.by_cve.get(cve)
    }

    /// Adds or replaces the facts of `cve`.
    pub fn insert(&mut self, cve: String, facts: CveFacts) {
        self.by_cve.insert(cve, facts);
    }

    /// How many CVEs have facts.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_cve.len()
    }

    /// No CVE has facts.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_cve.is_empty()
    }
}

/// The CVSS v3 qualitative rating of a base score: 9.0+ critical, 7.0+ high, 4.0+ medium,
/// above 0 low.
#[must_use]
pub fn cvss_severity(score: f32) -> Severity {
    if score >= 9.0 {
        Severity::Critical
    } else if score >= 7.0 {
        Severity::High
    } else if score >= 4.0 {
        Severity::Medium
    } else if score > 0.0 {
        Severity::Low
    } else {
        Severity::Unknown
    }
}

/// The severity shown and ranked for a CVE: the vendor's, or when no vendor gave one the
/// rating of the highest CVSS base score a feed gave ([`cvss_severity`]).
#[must_use]
pub fn effective_severity(vendor: Severity, facts: Option<&CveFacts>) -> Severity {
    if vendor != Severity::Unknown {
        return vendor;
    }
    facts
        .and_then(|f| f.cvss)
        .map_or(Severity::Unknown, cvss_severity)
}

/// How the risk order is told to users, on every page that sorts by it.
pub const RISK_ORDER_EXPLAINED: &str = "Risk order: CVEs tagged by this site first, then CVEs in \
CISA's Known Exploited Vulnerabilities catalogue (KEV), then vendor severity critical, then high; \
within each of these, CVEs with a fixed version available before those without; then by FIRST \
EPSS score (probability of exploitation in the next 30 days), then the remaining severities.";

/// A finding's (or a CVE's) place in the risk order. `a > b` means `a` is more urgent; sort
/// with `Reverse` (or `b.cmp(a)`) for most urgent first.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Risk {
    /// The site tagged the CVE.
    pub tagged: bool,
    /// In CISA KEV.
    pub kev: bool,
    /// The vendor severity.
    pub severity: Severity,
    /// A fixed version exists.
    pub fixable: bool,
    /// EPSS score, if known.
    pub epss: Option<f32>,
}

impl Risk {
    /// The risk of a CVE given whether the site tagged it, its facts, the vendor severity and
    /// whether a fix exists.
    #[must_use]
    pub fn of(tagged: bool, facts: Option<&CveFacts>, severity: Severity, fixable: bool) -> Risk {
        Risk {
            tagged,
            kev: facts.is_some_and(|f| f.kev.is_some()),
            severity,
            fixable,
            epss: facts.and_then(|f| f.epss).map(|e| e.score),
        }
    }

    /// The most urgent of two (for a group of findings: the best risk of its CVEs).
    #[must_use]
    pub fn max(self, other: Risk) -> Risk {
        if other > self { other } else { self }
    }

    /// A short label of the class that decided the order: `tagged`, `kev`, `critical`,
    /// `high`, `epss` or `other`.
    #[must_use]
    pub fn class(&self) -> &'static str {
        if self.tagged {
            "tagged"
        } else if self.kev {
            "kev"
        } else if self.severity == Severity::Critical {
            "critical"
        } else if self.severity == Severity::High {
            "high"
        } else if self.epss.is_some() {
            "epss"
        } else {
            "other"
        }
    }

    fn key(&self) -> (bool, bool, u8, bool, f32, Severity) {
        let top = match self.severity {
            Severity::Critical => 2,
            Severity::High => 1,
            _ => 0,
        };
        (
            self.tagged,
            self.kev,
            top,
            self.fixable,
            self.epss.unwrap_or(-1.0),
            self.severity,
        )
    }
}

impl PartialOrd for Risk {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        let (a, b) = (self.key(), other.key());
        Some(
            a.0.cmp(&b.0)
                .then(a.1.cmp(&b.1))
                .then(a.2.cmp(&b.2))
                .then(a.3.cmp(&b.3))
                .then(a.4.total_cmp(&b.4))
                .then(a.5.cmp(&b.5)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(tagged: bool, kev: bool, severity: Severity, fixable: bool, epss: Option<f32>) -> Risk {
        Risk {
            tagged,
            kev,
            severity,
            fixable,
            epss,
        }
    }

    #[test]
    fn cvss_fills_an_unknown_vendor_severity_only() {
        let f = CveFacts {
            cvss: Some(9.8),
            ..CveFacts::default()
        };
        assert_eq!(
            effective_severity(Severity::Unknown, Some(&f)),
            Severity::Critical
        );
        assert_eq!(effective_severity(Severity::Low, Some(&f)), Severity::Low);
        assert_eq!(
            effective_severity(Severity::Unknown, None),
            Severity::Unknown
        );
        assert_eq!(cvss_severity(7.0), Severity::High);
        assert_eq!(cvss_severity(4.0), Severity::Medium);
        assert_eq!(cvss_severity(0.1), Severity::Low);
    }

    #[test]
    fn the_documented_order() {
        let order = [
            r(true, false, Severity::Low, false, None),
            r(false, true, Severity::Low, true, None),
            r(false, true, Severity::Low, false, Some(0.9)),
            r(false, false, Severity::Critical, true, None),
            r(false, false, Severity::Critical, false, Some(0.9)),
            r(false, false, Severity::High, true, Some(0.1)),
            r(false, false, Severity::High, true, None),
            r(false, false, Severity::Medium, true, Some(0.5)),
            r(false, false, Severity::Low, true, Some(0.4)),
            r(false, false, Severity::Medium, true, None),
            r(false, false, Severity::Medium, false, None),
            r(false, false, Severity::Unknown, false, None),
        ];
        for w in order.windows(2) {
            assert!(w[0] > w[1], "{:?} should come before {:?}", w[0], w[1]);
        }
        assert_eq!(order[0].class(), "tagged");
        assert_eq!(order[1].class(), "kev");
        assert_eq!(order[7].class(), "epss");
        assert_eq!(order[9].class(), "other");
    }
}
