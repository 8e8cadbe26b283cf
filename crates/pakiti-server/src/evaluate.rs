//! The bridge between stored advisories and the pure matcher.
//!
//! [`Evaluator`] holds the in-memory [`AdvisoryIndex`] built from every enabled feed, plus the
//! database id of each advisory, so that matcher hits become [`PackageFinding`] rows keyed by
//! package-version id. It is rebuilt after a feed changes and swapped in atomically; requests in
//! flight keep the one they started with.

use std::collections::BTreeSet;

use pakiti_core::advisory::Severity;
use pakiti_core::matcher::{AdvisoryIndex, Target};
use pakiti_core::package::InstalledPackage;
use pakiti_core::stream::OsStream;
use pakiti_store::{
    AdvisoryDbId, HostCounts, HostFinding, PackageFinding, PackageVersionId, StoredAdvisory,
};

/// Advisories indexed for matching, with their database ids.
pub struct Evaluator {
    index: AdvisoryIndex,
    db_ids: Vec<AdvisoryDbId>,
}

impl Evaluator {
    /// Builds the index from what the store loaded.
    #[must_use]
    pub fn new(stored: Vec<StoredAdvisory>) -> Self {
        let mut db_ids = Vec::with_capacity(stored.len());
        let mut advisories = Vec::with_capacity(stored.len());
        for s in stored {
            db_ids.push(s.id);
            advisories.push(s.advisory);
        }
        Evaluator {
            index: AdvisoryIndex::new(advisories),
            db_ids,
        }
    }

    /// An evaluator with no data (every host is "not covered").
    #[must_use]
    pub fn empty() -> Self {
        Evaluator::new(Vec::new())
    }

    /// The matcher index.
    #[must_use]
    pub fn index(&self) -> &AdvisoryIndex {
        &self.index
    }

    /// Number of advisories loaded.
    #[must_use]
    pub fn advisory_count(&self) -> usize {
        self.db_ids.len()
    }

    /// Evaluates package versions for a host stream against every target that covers it;
    /// each is evaluated once, whatever the number of hosts that have it.
    #[must_use]
    pub fn evaluate(
        &self,
        stream: &OsStream,
        items: &[(PackageVersionId, &InstalledPackage)],
    ) -> Vec<PackageFinding> {
        let mut out = Vec::new();
        for target in self.index.targets(stream) {
            let pairs: Vec<(&Target, &InstalledPackage)> =
                items.iter().map(|(_, p)| (&target, *p)).collect();
            let answers = if items.len() > 512 {
                self.index.evaluate_many(&pairs)
            } else {
                pairs
                    .iter()
                    .map(|(t, p)| self.index.evaluate_target(t, p))
                    .collect()
            };
            for ((id, _), hits) in items.iter().zip(answers) {
                for hit in hits {
                    out.push(PackageFinding {
                        package_version_id: *id,
                        advisory_id: self.db_ids[hit.advisory as usize],
                        affected_idx: i64::from(hit.affected),
                    });
                }
            }
        }
        out
    }
}

/// Keeps the findings that apply to a host with `modules` enabled (module-stream entries apply
/// only where that stream is enabled; a host that reports none has none).
#[must_use]
pub fn applicable(findings: Vec<HostFinding>, modules: &[String]) -> Vec<HostFinding> {
    findings
        .into_iter()
        .filter(|f| {
            f.module
                .as_ref()
                .is_none_or(|m| modules.iter().any(|h| h == m))
        })
        .collect()
}

/// A host's cached counts from its findings: distinct CVEs overall and by the highest
/// severity any advisory gives them, and vulnerable packages.
#[must_use]
pub fn counts(findings: &[HostFinding]) -> HostCounts {
    let mut by_cve: std::collections::BTreeMap<&str, Severity> = std::collections::BTreeMap::new();
    let mut packages = BTreeSet::new();
    for f in findings {
        packages.insert(f.package_version_id);
        // An advisory without CVE ids still counts, under its own id.
        let ids: Vec<&str> = if f.cves.is_empty() {
            vec![f.vendor_id.as_str()]
        } else {
            f.cves.iter().map(String::as_str).collect()
        };
        for c in ids {
            let e = by_cve.entry(c).or_insert(f.severity);
            if f.severity > *e {
                *e = f.severity;
            }
        }
    }
    let mut c = HostCounts {
        cves: by_cve.len() as i64,
        vulnerable_packages: packages.len() as i64,
        ..HostCounts::default()
    };
    for s in by_cve.values() {
        match s {
            Severity::Critical => c.critical += 1,
            Severity::High => c.high += 1,
            Severity::Medium => c.medium += 1,
            Severity::Low => c.low += 1,
            Severity::Unknown => c.unknown += 1,
        }
    }
    c
}
