//! The exposure history's engine side (issue 14 part 5): a host's current CVE set with what
//! the feeds say about each CVE ([`host_counts_and_exposures`]), computed with its counts, and
//! the periodic history step ([`Engine::history_tick`]).
//!
//! Where a host's exposures are brought up to date, and the cause recorded:
//!
//! - a changed report (ingest, and a pending report finished after a crash): `report` — a
//!   package installed, updated or removed; written by `finish_reports` in the transaction
//!   that writes the host's counts;
//! - a re-evaluation after a feed change (`Engine::reevaluate`, `catch_up`, binaries mapped to
//!   their sources): `feed` — an advisory published, changed or withdrawn;
//! - an exception added, removed or expired (`Engine::refresh_all_counts`): `policy`.
//!   Exceptions change what counts (an excepted finding is no exposure); CVE tags do not
//!   change the set, only how it is ranked, so they record nothing;
//! - a host deleted (or retired by `Store::retire_host_history`): `retired`, by the tick;
//! - a store that had hosts before the history existed: `baseline`, once, by the tick.
//!
//! The unchanged-report path records nothing: an identical report changes no exposure.

use pakiti_core::advisory::{Severity, Status};
use pakiti_store::{ExposureCause, ExposureNow, HostCounts};
use rustc_hash::FxHashMap;
use time::OffsetDateTime;

use crate::Engine;
use crate::evaluate::{CountItem, Evaluator, Policy};

/// A host's cached counts and its CVE set from one walk of its package
/// versions' answers, the way `counts` computes them from stored findings: module-stream
/// entries apply only where the host enables the stream, excepted (package version, CVE)
/// pairs do not count, a CVE counts once at the highest severity any advisory gives it, and
/// `tagged` counts CVEs with an enabled tag; `vulnerable_packages` the package versions with
/// at least one CVE that counts. The counts are counted from the set, so the two agree by
/// construction (one walk: they were two, of the same answers).
///
/// The set: each CVE with its most severe advisory, a fixed version when any advisory naming
/// it for the host has one, and that advisory's issued date; sorted by CVE.
#[must_use]
pub fn host_counts_and_exposures(
    evaluator: &Evaluator,
    policy: &Policy,
    stream: &str,
    modules: &[String],
    items: &[CountItem<'_>],
    now: OffsetDateTime,
) -> (HostCounts, Vec<ExposureNow>) {
    let advisories = evaluator.index().advisories();
    let mut by_cve: FxHashMap<&str, ExposureNow> = FxHashMap::default();
    let mut vulnerable = 0i64;
    for item in items {
        let mut any = false;
        for &(pos, idx) in item.answer {
            let Some(a) = advisories.get(pos as usize) else {
                continue;
            };
            let entry = a.affected.get(idx as usize);
            if let Some(m) = entry.and_then(|e| e.module.as_ref())
                && !modules.iter().any(|h| h == m)
            {
                continue;
            }
            let fixed: Option<&String> = match entry.map(|e| &e.status) {
                Some(Status::Fixed(v)) => Some(v),
                _ => None,
            };
            let ids: &[String] = if a.cves.is_empty() {
                std::slice::from_ref(&a.id)
            } else {
                &a.cves
            };
            for c in ids {
                if let Some((name, version)) = item.package
                    && policy.excepted(stream, name, version, c, now)
                {
                    continue;
                }
                any = true;
                let e = by_cve.entry(c.as_str()).or_insert_with(|| ExposureNow {
                    cve: c.clone(),
                    severity: a.severity,
                    advisory: a.id.clone(),
                    fixed_version: None,
                    fix_issued: None,
                });
                if a.severity > e.severity {
                    e.severity = a.severity;
                    e.advisory.clone_from(&a.id);
                }
                if e.fixed_version.is_none()
                    && let Some(v) = fixed
                {
                    e.fixed_version = Some(v.clone());
                    e.fix_issued.clone_from(&a.issued);
                }
            }
        }
        if any {
            vulnerable += 1;
        }
    }
    let mut exposures: Vec<ExposureNow> = by_cve.into_values().collect();
    // CVEs are distinct keys: an unstable sort gives the one order.
    exposures.sort_unstable_by(|a, b| a.cve.cmp(&b.cve));
    let mut c = HostCounts {
        cves: i64::try_from(exposures.len()).unwrap_or(i64::MAX),
        vulnerable_packages: vulnerable,
        ..HostCounts::default()
    };
    for e in &exposures {
        match e.severity {
            Severity::Critical => c.critical += 1,
            Severity::High => c.high += 1,
            Severity::Medium => c.medium += 1,
            Severity::Low => c.low += 1,
            Severity::Unknown => c.unknown += 1,
        }
        if !policy.tags_of(&e.cve).is_empty() {
            c.tagged += 1;
        }
    }
    (c, exposures)
}

/// What one history step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HistoryTick {
    /// Whether history started from the current state (`baseline`).
    pub baseline: bool,
    /// Hosts found deleted, their exposures ended.
    pub retired: u64,
    /// Daily snapshots written.
    pub days: usize,
    /// Report package lists pruned.
    pub pruned: u64,
}

/// How far back the first snapshot back-fill goes.
const BACKFILL_DAYS: i64 = 400;

impl Engine {
    /// The history's periodic step (the server's tick runs it): starts the history from the
    /// current state if it has none yet, records hosts added and retired (ending a deleted
    /// host's exposures), writes the end-of-day fleet snapshot of every day that ended, and
    /// keeps the package lists of the newest `keep_reports` changed reports per host.
    ///
    /// # Errors
    /// The store fails.
    pub async fn history_tick(
        &self,
        now: OffsetDateTime,
        keep_reports: i64,
    ) -> anyhow::Result<HistoryTick> {
        let mut out = HistoryTick::default();
        if self.store().history_needs_baseline().await? {
            tracing::info!("starting the exposure history from the current findings");
            self.refresh_counts_because(None, ExposureCause::Baseline)
                .await?;
            out.baseline = true;
        }
        let generation = self.evaluator().generation();
        out.retired = self.store().sync_history_hosts(now, generation).await?;
        out.days = self
            .store()
            .finalize_fleet_snapshots(now.date(), BACKFILL_DAYS)
            .await?;
        out.pruned = self.store().prune_report_packages(keep_reports).await?;
        Ok(out)
    }
}

impl Engine {
    /// The CVEs of a package list of a host of `stream` with `modules` enabled, as the
    /// vulnerability data and exceptions in force now rate it (what a report diff compares).
    ///
    /// # Errors
    /// The store fails.
    pub async fn exposures_of_list(
        &self,
        stream: &str,
        modules: &[String],
        packages: &[(i64, pakiti_core::package::InstalledPackage)],
    ) -> anyhow::Result<Vec<ExposureNow>> {
        let evaluator = self.evaluator();
        let policy = self.policy();
        let mut ids: Vec<i64> = packages.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        let answers = evaluator.answers(self.store(), stream, &ids).await?;
        let items: Vec<CountItem<'_>> = packages
            .iter()
            .filter_map(|(id, p)| {
                answers.get(id).map(|a| CountItem {
                    answer: a,
                    package: Some((p.name.as_str(), p.version.as_str())),
                })
            })
            .collect();
        Ok(host_counts_and_exposures(
            &evaluator,
            &policy,
            stream,
            modules,
            &items,
            OffsetDateTime::now_utc(),
        )
        .1)
    }
}
