//! What happens to a report: map its OS, store it durably, evaluate only package versions
//! never seen before for its stream, refresh the host's counts, and say what to answer.
//!
//! Every wire format arrives here as a [`pakiti_api::report::Report`]; the same step serves
//! synchronous ingest and the asynchronous workers ([`process`] is the one deterministic step).

use std::net::IpAddr;
use std::sync::Arc;

use pakiti_api::reply::TaggedCveLine;
use pakiti_api::report::{Mode, Report};
use pakiti_core::advisory::Severity;
use pakiti_core::kernel;
use pakiti_core::matcher::HostInventory;
use pakiti_core::package::InstalledPackage;
use pakiti_core::stream::{Distro, OsStream};
use pakiti_store::{
    FinishReport, HostCounts, HostFacts, HostIdentity, ModuleStreams, ReportMeta, StoreError,
};
use rustc_hash::{FxHashMap, FxHashSet};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::Engine;
use crate::evaluate::{self, CountItem, Evaluator, Policy};
use crate::osrules::OsRules;
use crate::writer::OwnedReport;

/// Why a report was not processed. The HTTP layer maps each to a status: the first two are
/// the client's fault (4xx), the rest are worth retrying or are ours (5xx).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The report is malformed (no host name, no readable package), with the reason.
    #[error("{0}")]
    Invalid(String),
    /// The sender may not submit reports for other hosts (it is not a trusted proxy).
    #[error("{0}")]
    NotTrustedProxy(String),
    /// The vulnerability data kept changing while the report was evaluated.
    #[error("the vulnerability data kept changing while this report was evaluated; send it again")]
    FeedsKeptChanging,
    /// The store failed while doing what the message says.
    #[error("{doing}")]
    Store {
        /// What ingest was doing.
        doing: &'static str,
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// Catching up with a feed change (reload and re-evaluation) failed.
    #[error("catching up with a feed change")]
    CatchUp(#[source] anyhow::Error),
}

impl IngestError {
    /// Whether trying again later may succeed: the data kept changing, or the store failed
    /// transiently (deadlock, serialization failure, pool exhausted).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            IngestError::FeedsKeptChanging => true,
            IngestError::Store { source, .. } => source.is_transient(),
            IngestError::Invalid(_) | IngestError::NotTrustedProxy(_) | IngestError::CatchUp(_) => {
                false
            }
        }
    }
}

/// Wraps a store error with what ingest was doing.
fn store_err(doing: &'static str) -> impl FnOnce(StoreError) -> IngestError {
    move |source| IngestError::Store { doing, source }
}

/// Where a report came from, as the HTTP layer saw it.
#[derive(Clone, Debug)]
pub struct Origin {
    /// When it was received.
    pub received_at: OffsetDateTime,
    /// The peer address.
    pub peer: Option<IpAddr>,
    /// The peer's TLS client-certificate subject DN, as a trusted front proxy passed it.
    pub client_dn: Option<String>,
    /// Whether the peer may submit on behalf of other hosts.
    pub trusted_proxy: bool,
}

/// What to answer the agent.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Whether the report was stored (false for report-only).
    pub stored: bool,
    /// Whether it was queued for asynchronous evaluation.
    pub queued: bool,
    /// Whether it was identical to the host's previous report.
    pub unchanged: bool,
    /// The host's stream, when known.
    pub stream: Option<String>,
    /// Number of findings (after module filtering).
    pub findings: usize,
    /// Report-back lines for modes that ask for them: the host's CVEs rated critical or high,
    /// tagged `Critical` / `High` (Pakiti's default CVE tags).
    pub report_back: Vec<TaggedCveLine>,
    /// The host's available updates (Pakiti 2's report-back for protocol 4 `report=1`).
    pub upgrades: Vec<pakiti_api::reply::UpgradeLine>,
    /// Report-only: the host's CVE set (an advisory without CVEs counts by its own id), sorted,
    /// as matched in memory from scratch — what `pakiti bench load` checks the stored
    /// exposures against. Empty for a stored report.
    pub cves: Vec<String>,
}

/// The OS stream of a report: the site's OS rules and the built-in detection over the OS
/// string, else the structured os-release fields when the agent sends them.
#[must_use]
pub fn stream_of(report: &Report, rules: &OsRules) -> Option<OsStream> {
    if let Some(s) = rules.stream(&report.os) {
        return Some(s);
    }
    if let Some(rel) = &report.os_release
        && let Some(d) = Distro::from_id(&rel.id)
        && !rel.version_id.is_empty()
    {
        return Some(OsStream::new(d, &rel.version_id));
    }
    None
}

/// The DNS domain of a hostname (`wn042.example.org` → `example.org`); none for bare names,
/// addresses and `.local`/`.localdomain` names.
#[must_use]
pub fn domain_of(hostname: &str) -> Option<String> {
    if hostname.parse::<IpAddr>().is_ok() {
        return None;
    }
    let (_, domain) = hostname.split_once('.')?;
    if domain.is_empty() || domain == "local" || domain == "localdomain" {
        return None;
    }
    Some(domain.to_ascii_lowercase())
}

pub fn to_installed(report: &Report) -> Vec<InstalledPackage> {
    report
        .packages
        .iter()
        .map(|p| InstalledPackage {
            name: p.name.clone(),
            version: p.version.clone(),
            arch: p.arch.clone(),
            source: p.source.clone(),
        })
        .collect()
}

/// The module streams a report's host has enabled, and how they are known: those the agent
/// reported; for a host that reported none (`rpm -qa`, every Pakiti 2/3 client), those
/// inferred from its installed module packages (issue 12 item 2). Never "none" for lack of
/// information: a module package whose stream cannot be told makes the host `Unknown`.
#[must_use]
pub fn effective_modules(
    evaluator: &Evaluator,
    report: &Report,
    stream: Option<&OsStream>,
) -> (Vec<String>, ModuleStreams) {
    if !report.module_streams.is_empty() {
        return (report.module_streams.clone(), ModuleStreams::Reported);
    }
    let Some(stream) = stream else {
        return (Vec::new(), ModuleStreams::Reported);
    };
    // Only module packages matter: no copy of the whole list.
    let modular: Vec<InstalledPackage> = report
        .packages
        .iter()
        .filter(|p| pakiti_core::matcher::module_build_tag(&p.version).is_some())
        .map(|p| InstalledPackage {
            name: p.name.clone(),
            version: p.version.clone(),
            arch: p.arch.clone(),
            source: p.source.clone(),
        })
        .collect();
    if modular.is_empty() {
        return (Vec::new(), ModuleStreams::Reported);
    }
    if evaluator.index().targets(stream).is_empty() {
        // No data for the stream yet: nothing to infer from, and not "no module".
        return (Vec::new(), ModuleStreams::Unknown);
    }
    let inferred = evaluator.index().infer_modules(stream, &modular);
    let how = if !inferred.unknown.is_empty() {
        ModuleStreams::Unknown
    } else if inferred.streams.is_empty() {
        ModuleStreams::Reported
    } else {
        ModuleStreams::Inferred
    };
    (inferred.streams, how)
}

/// Who a report is from: the agent's client id when it sends one, and the host name.
#[must_use]
pub fn identity_of(report: &Report) -> HostIdentity {
    HostIdentity {
        hostname: report.hostname.trim().to_ascii_lowercase(),
        client_id: report.host_id.clone(),
    }
}

/// The hex SHA-256 of the report's canonical bytes (order-independent).
#[must_use]
pub fn report_hash(report: &Report) -> String {
    hex::encode(Sha256::digest(report.canonical_bytes()))
}

fn validate(report: &Report) -> Result<(), IngestError> {
    if report.hostname.trim().is_empty() {
        return Err(IngestError::Invalid("report has no host name".into()));
    }
    if let Err(e) = report.require_packages() {
        return Err(IngestError::Invalid(format!(
            "report for {}: {e}; an empty report would make the host look clean",
            report.hostname
        )));
    }
    Ok(())
}

/// The one version check of reports, `pakiti scan` and `pakiti vercmp`: every package version
/// must pass [`Scheme::validate`](pakiti_core::version::Scheme::validate). An rpm version was
/// brought to `E:V-R` by the wire parsers (a missing or empty epoch became `0:`), so its parts
/// are checked too: the epoch must be digits and what follows it must itself be a valid
/// version without a second epoch. Otherwise `-1:1.0-1` or `::--~^`, which `vercmp` refuses
/// as sent, would pass once normalised.
///
/// # Errors
/// The first invalid package version, named with its package.
pub fn check_versions(report: &Report, scheme: pakiti_core::version::Scheme) -> Result<(), String> {
    for p in &report.packages {
        check_version(scheme, &p.version).map_err(|e| format!("package {}: {e}", p.name))?;
    }
    Ok(())
}

/// [`check_versions`] for one version.
///
/// # Errors
/// The version is invalid in `scheme`, with the reason.
pub fn check_version(scheme: pakiti_core::version::Scheme, v: &str) -> Result<(), String> {
    use pakiti_core::version::Scheme;
    scheme.validate(v).map_err(|e| e.to_string())?;
    if scheme == Scheme::Rpm
        && let Some((epoch, rest)) = v.split_once(':')
    {
        if epoch.is_empty() || !epoch.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "invalid rpm version {v:?}: epoch {epoch:?} is not a number"
            ));
        }
        scheme
            .validate(rest)
            .map_err(|e| format!("invalid rpm version {v:?}: {e}"))?;
        if pakiti_core::version::rpm::Evr::parse(rest).epoch.is_some() {
            return Err(format!("invalid rpm version {v:?}: more than one epoch"));
        }
    }
    Ok(())
}

/// Every version must parse in the stream's scheme: a package whose version does not is
/// skipped and counted with the report's unreadable lines (its `line` is its position in the
/// package list). `None` when every version parses (or the stream is unknown).
fn without_invalid_versions(report: &Report, stream: Option<&OsStream>) -> Option<Report> {
    let scheme = stream?.scheme();
    if report
        .packages
        .iter()
        .all(|p| check_version(scheme, &p.version).is_ok())
    {
        return None;
    }
    let mut out = report.clone();
    out.packages.clear();
    for (i, p) in report.packages.iter().enumerate() {
        match check_version(scheme, &p.version) {
            Ok(()) => out.packages.push(p.clone()),
            Err(e) => out.unreadable.push(
                i + 1,
                format!("package {}: {e}", p.name),
                &format!("{} {} {}", p.name, p.version, p.arch),
            ),
        }
    }
    Some(out)
}

/// The store's form of a report's unreadable lines.
fn problems_of(report: &Report) -> pakiti_store::ReportProblems {
    pakiti_store::ReportProblems {
        count: i64::try_from(report.unreadable.count).unwrap_or(i64::MAX),
        lines: report
            .unreadable
            .lines
            .iter()
            .map(|p| pakiti_store::ReportProblem {
                line: i64::try_from(p.line).unwrap_or(i64::MAX),
                reason: p.reason.clone(),
                excerpt: p.excerpt.clone(),
            })
            .collect(),
    }
}

/// The tag of a report-back line for `cve`: its enabled operator tags, else the default tag
/// its severity implies (`Critical` / `High`, Pakiti's default CVE tags); none for others.
fn line_tags(policy: &Policy, cve: &str, severity: Severity) -> Vec<String> {
    let explicit = policy.tags_of(cve);
    if !explicit.is_empty() {
        return explicit.to_vec();
    }
    match severity {
        Severity::Critical => vec!["Critical".to_owned()],
        Severity::High => vec!["High".to_owned()],
        _ => Vec::new(),
    }
}

/// Report-back lines: each (package, CVE, tag) once, for CVEs with an enabled tag or a
/// critical/high severity, minus excepted ones. `findings` yields (package key, package,
/// severity, CVEs), from the store or from the in-memory matcher.
fn tagged_lines<'a, K: Ord + Copy>(
    policy: &Policy,
    stream: Option<&str>,
    findings: impl IntoIterator<Item = (K, &'a InstalledPackage, Severity, &'a [String])>,
) -> Vec<TaggedCveLine> {
    let now = OffsetDateTime::now_utc();
    let mut lines = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (key, p, severity, cves) in findings {
        for cve in cves {
            if stream.is_some_and(|s| policy.excepted(s, &p.name, &p.version, cve, now)) {
                continue;
            }
            for tag in line_tags(policy, cve, severity) {
                if seen.insert((key, cve.as_str(), tag.clone())) {
                    lines.push(TaggedCveLine {
                        name: p.name.clone(),
                        version_release: p.version.clone(),
                        arch: p.arch.clone(),
                        cve: cve.clone(),
                        tag,
                    });
                }
            }
        }
    }
    lines
}

fn report_back(
    policy: &Policy,
    stream: Option<&str>,
    findings: &[pakiti_store::HostFinding],
) -> Vec<TaggedCveLine> {
    tagged_lines(
        policy,
        stream,
        findings.iter().map(|f| {
            (
                f.package_version_id,
                &f.package,
                f.severity,
                f.cves.as_slice(),
            )
        }),
    )
}

/// Processes one report: the synchronous path, and the step asynchronous workers run.
///
/// A changed report is written twice, each time through the group-commit [`Writer`](crate::writer::Writer): saved
/// (host, installed set, report row) before evaluation, then its new package versions'
/// answers, the host's counts and the processed mark. Counts come from the evaluator's
/// per-package-version answers (memory, else the store), not from a per-host join.
///
/// # Errors
/// A malformed report (4xx) or a store failure (5xx). A store failure before the save
/// returns leaves the store as it was.
pub async fn process(
    engine: &Engine,
    report: &Report,
    origin: &Origin,
) -> Result<Outcome, IngestError> {
    let _timer = engine.metrics().ingest_timer();
    let evaluator = engine.evaluator();
    let policy = engine.policy();
    let store = engine.store();
    let stream = stream_of(report, engine.os_rules());
    let stream_key = stream.as_ref().map(ToString::to_string);
    validate(report)?;
    if report.proxy && !origin.trusted_proxy {
        return Err(IngestError::NotTrustedProxy(format!(
            "{} may not submit reports for other hosts (not a trusted proxy)",
            origin
                .peer
                .map_or_else(|| "this client".to_owned(), |p| p.to_string())
        )));
    }
    let (modules, module_streams) = effective_modules(&evaluator, report, stream.as_ref());
    if report.mode == Mode::ReportOnly {
        let filtered = without_invalid_versions(report, stream.as_ref());
        let report = filtered.as_ref().unwrap_or(report);
        validate(report)?;
        let packages = to_installed(report);
        return Ok(report_only(
            &evaluator,
            &policy,
            report,
            stream.as_ref(),
            &packages,
            &modules,
        ));
    }
    let identity = identity_of(report);
    let hash = report_hash(report);
    let meta = ReportMeta {
        received_at: origin.received_at,
        hash: hash.clone(),
        via_proxy: report.proxy,
        proxy_name: report
            .proxy
            .then(|| origin.peer.map(|p| p.to_string()))
            .flatten(),
        site: report.site.clone(),
        tag: report.tag.clone(),
    };
    let mut outcome = Outcome {
        stored: true,
        stream: stream_key.clone(),
        ..Outcome::default()
    };
    // The last hash seen for this host: from this server's memory, else the store. A stale
    // memory is harmless: the touch only applies if the stored hash still matches.
    let known = match engine.last_hash(&identity) {
        Some(k) => Some(k),
        None => store
            .host_state(&identity)
            .await
            .map_err(store_err("looking up the host"))?
            .and_then(|h| h.last_report_hash.map(|hash| (h.id, hash, h.stream))),
    };
    if let Some((host_id, last_hash, host_stream)) = known
        && last_hash == hash
        && engine
            .writer()
            .touch(host_id, meta.clone())
            .await
            .map_err(store_err("recording an unchanged report"))?
            .is_some()
    {
        engine.remember_hash(&identity, host_id, &hash, host_stream.as_deref());
        outcome.unchanged = true;
        if report.mode.reports_back() {
            outcome.upgrades = crate::updates::host_lines(
                &evaluator.updates().get(),
                stream.as_ref(),
                &report.arch,
                &to_installed(report),
                &modules,
            );
            let findings = evaluate::applicable(
                store
                    .host_findings(host_id)
                    .await
                    .map_err(store_err("reading findings"))?,
                &modules,
            );
            outcome.findings = findings.len();
            outcome.report_back = report_back(&policy, host_stream.as_deref(), &findings);
        }
        return Ok(outcome);
    }
    // Versions are checked only now: a report identical to the host's last saved one passed.
    // The hash above is of the report as received, which decides what is skipped here.
    let filtered = without_invalid_versions(report, stream.as_ref());
    let report = filtered.as_ref().unwrap_or(report);
    validate(report)?;
    let packages = to_installed(report);
    let scheme = stream
        .as_ref()
        .map_or(pakiti_core::version::Scheme::Rpm, OsStream::scheme);
    // Which installed packages are kernels older than the running one (none without a
    // stream): worked out once, kept in the facts and left out of the counts below.
    let old_kernels: Vec<bool> = if stream.is_some() {
        kernel::old_kernels(scheme, &report.kernel, &packages)
    } else {
        vec![false; packages.len()]
    };
    let facts = HostFacts {
        domain: domain_of(&identity.hostname),
        group: report
            .site
            .clone()
            .filter(|s| !s.is_empty() && s != "unknown" && s != "N/A"),
        os_name: report.os.clone(),
        stream: stream.clone(),
        arch: report.arch.clone(),
        kernel: report.kernel.clone(),
        tag: report
            .tag
            .clone()
            .filter(|t| !t.is_empty() && t != "unknown"),
        packager: report.packager.as_str().to_owned(),
        reboot_needed: kernel::reboot_needed(scheme, &report.kernel, &packages),
        modules: modules.clone(),
        module_streams,
        problems: problems_of(report),
        old_kernels: old_kernels
            .iter()
            .enumerate()
            .filter_map(|(i, old)| old.then_some(i))
            .collect(),
    };
    let packages = Arc::new(packages);
    let identity_key = identity.clone();
    let saved = engine
        .writer()
        .save(OwnedReport {
            identity,
            facts,
            meta,
            packages: packages.clone(),
        })
        .await
        .map_err(store_err("saving the report"))?;
    crate::crashpoint::reached("after-save").await;
    // Evaluate, then write; the store refuses answers from an index older than its feeds (a
    // feed changed meanwhile, here or on another server): catch up and evaluate again.
    let mut attempt = 0;
    loop {
        let evaluator = engine.evaluator();
        let mut finish = FinishReport {
            report: saved.report_id,
            host: saved.host_id,
            processed_at: OffsetDateTime::now_utc(),
            counts: HostCounts::default(),
            stream: stream_key.clone(),
            evaluated: Vec::new(),
            findings: Vec::new(),
            updates: None,
            generation: None,
            exposures: Some(Vec::new()),
        };
        if let (Some(stream), Some(key)) = (&stream, &stream_key) {
            let mut by_id: FxHashMap<i64, &InstalledPackage> = FxHashMap::default();
            for (id, p) in saved.package_ids.iter().zip(packages.iter()) {
                by_id.entry(*id).or_insert(p);
            }
            let items: Vec<(i64, &InstalledPackage)> = saved
                .unevaluated
                .iter()
                .filter_map(|id| by_id.get(id).map(|p| (*id, *p)))
                .collect();
            let fresh = evaluator.evaluate(stream, &items);
            let mut answers = evaluator.put_answers(key, &saved.unevaluated, &fresh);
            let known: Vec<(i64, &InstalledPackage)> = by_id
                .iter()
                .filter(|(id, _)| !answers.contains_key(id))
                .map(|(id, p)| (*id, *p))
                .collect();
            answers.extend(
                evaluator
                    .known_answers(store, stream, key, &known)
                    .await
                    .map_err(store_err("reading stored findings"))?,
            );
            let names = policy.has_exceptions();
            // Installed kernels older than the running one are not findings (the store keeps
            // them out of the host's findings the same way: `Host::old_kernels`).
            let old: FxHashSet<i64> = old_kernels
                .iter()
                .copied()
                .zip(saved.package_ids.iter())
                .filter(|(o, _)| *o)
                .map(|(_, id)| *id)
                .collect();
            let count_items: Vec<CountItem<'_>> = by_id
                .iter()
                .filter(|(id, _)| !old.contains(*id))
                .filter_map(|(id, p)| {
                    answers.get(id).map(|a| CountItem {
                        answer: a,
                        package: names.then_some((p.name.as_str(), p.version.as_str())),
                    })
                })
                .collect();
            let (counts, exposures) = crate::history::host_counts_and_exposures(
                &evaluator,
                &policy,
                key,
                &modules,
                &count_items,
                finish.processed_at,
            );
            finish.counts = counts;
            finish.exposures = Some(exposures);
            outcome.findings = evaluate::applicable_count(&evaluator, &modules, &count_items);
            finish.evaluated = saved.unevaluated.clone();
            finish.findings = fresh;
        }
        let upgrades = crate::updates::host_lines(
            &evaluator.updates().get(),
            stream.as_ref(),
            &report.arch,
            &packages,
            &modules,
        );
        let security = upgrades.iter().filter(|l| l.security).count();
        finish.updates = Some(pakiti_store::HostUpdateCounts {
            security: i64::try_from(security).unwrap_or(i64::MAX),
            other: i64::try_from(upgrades.len() - security).unwrap_or(i64::MAX),
        });
        outcome.upgrades = upgrades;
        finish.generation = Some(evaluator.generation());
        if engine
            .writer()
            .finish(finish)
            .await
            .map_err(store_err("storing the evaluation"))?
        {
            break;
        }
        attempt += 1;
        if attempt >= 3 {
            return Err(IngestError::FeedsKeptChanging);
        }
        engine.catch_up().await.map_err(IngestError::CatchUp)?;
    }
    engine.remember_hash(&identity_key, saved.host_id, &hash, stream_key.as_deref());
    if report.mode.reports_back() {
        let findings = evaluate::applicable(
            store
                .host_findings(saved.host_id)
                .await
                .map_err(store_err("reading findings"))?,
            &modules,
        );
        outcome.findings = findings.len();
        outcome.report_back = report_back(&policy, stream_key.as_deref(), &findings);
    }
    Ok(outcome)
}

/// Report-only mode: evaluate in memory, store nothing.
fn report_only(
    evaluator: &Evaluator,
    policy: &Policy,
    report: &Report,
    stream: Option<&OsStream>,
    packages: &[InstalledPackage],
    modules: &[String],
) -> Outcome {
    let old = stream.map_or_else(Vec::new, |s| {
        kernel::old_kernels(s.scheme(), &report.kernel, packages)
    });
    let current: Vec<InstalledPackage> = packages
        .iter()
        .enumerate()
        .filter(|(i, _)| !old.get(*i).copied().unwrap_or(false))
        .map(|(_, p)| p.clone())
        .collect();
    let result = evaluator.index().match_host(&HostInventory {
        stream,
        packages: &current,
        modules,
    });
    let stream_key = stream.map(ToString::to_string);
    let lines = tagged_lines(
        policy,
        stream_key.as_deref(),
        result.findings.iter().map(|f| {
            (
                f.package,
                &current[f.package],
                f.advisory.severity,
                f.advisory.cves.as_slice(),
            )
        }),
    );
    let mut cves: Vec<String> = result
        .findings
        .iter()
        .flat_map(|f| {
            if f.advisory.cves.is_empty() {
                std::slice::from_ref(&f.advisory.id)
            } else {
                f.advisory.cves.as_slice()
            }
        })
        .cloned()
        .collect();
    cves.sort();
    cves.dedup();
    Outcome {
        stored: false,
        stream: stream.map(ToString::to_string),
        findings: result.findings.len(),
        cves,
        report_back: lines,
        upgrades: crate::updates::host_lines(
            &evaluator.updates().get(),
            stream,
            &report.arch,
            packages,
            modules,
        ),
        ..Outcome::default()
    }
}

impl crate::metrics::EngineMetrics {
    /// Counts a processed report by its outcome: `queued`, `report_only`, `unchanged` or
    /// `saved` (here, beside [`Outcome`], so that the metrics module does not import ingest).
    pub fn outcome(&self, o: &Outcome) {
        self.processed(if o.queued {
            "queued"
        } else if !o.stored {
            "report_only"
        } else if o.unchanged {
            "unchanged"
        } else {
            "saved"
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains() {
        assert_eq!(
            domain_of("wn042.example.org").as_deref(),
            Some("example.org")
        );
        assert_eq!(domain_of("host"), None);
        assert_eq!(domain_of("192.0.2.1"), None);
        assert_eq!(domain_of("box.localdomain"), None);
    }

    #[test]
    fn streams_from_reports() {
        let mut r = Report {
            os: "CentOS Linux release 7.9.2009 (Core)".into(),
            ..Report::default()
        };
        let rules = OsRules::default();
        assert_eq!(stream_of(&r, &rules).unwrap().to_string(), "centos:7");
        r.os_release = Some(pakiti_api::report::OsRelease {
            id: "rocky".into(),
            version_id: "9.3".into(),
        });
        r.os = "Something Unknown".into();
        assert_eq!(stream_of(&r, &rules).unwrap().to_string(), "rocky:9");
    }
}
