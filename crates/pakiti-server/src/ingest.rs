//! What happens to a report: map its OS, store it durably, evaluate only package versions
//! never seen before for its stream, refresh the host's counts, and say what to answer.
//!
//! Every wire format arrives here as a [`pakiti_api::report::Report`]; the same step serves
//! synchronous ingest and the asynchronous workers ([`process`] is the one deterministic step).

use std::net::IpAddr;
use std::sync::Arc;

use anyhow::Context;
use pakiti_api::reply::TaggedCveLine;
use pakiti_api::report::{Mode, Report};
use pakiti_core::advisory::Severity;
use pakiti_core::kernel;
use pakiti_core::matcher::HostInventory;
use pakiti_core::package::InstalledPackage;
use pakiti_core::stream::{Distro, OsStream};
use pakiti_store::{AnyStore, Store};
use pakiti_store::{HostFacts, HostIdentity, NewReport, ReportMeta};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::error::AppError;
use crate::evaluate::{self, Evaluator};
use crate::osrules::OsRules;

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

fn to_installed(report: &Report) -> Vec<InstalledPackage> {
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

/// The hex SHA-256 of the report's canonical bytes (order-independent).
#[must_use]
pub fn report_hash(report: &Report) -> String {
    let digest = Sha256::digest(report.canonical_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn validate(report: &Report, stream: Option<&OsStream>) -> Result<(), AppError> {
    if report.hostname.trim().is_empty() {
        return Err(AppError::BadRequest("report has no host name".into()));
    }
    if report.packages.is_empty() {
        return Err(AppError::BadRequest(format!(
            "report for {} lists no packages; an empty report would make the host look clean",
            report.hostname
        )));
    }
    if let Some(stream) = stream {
        let scheme = stream.scheme();
        for p in &report.packages {
            if let Err(e) = scheme.validate(&p.version) {
                return Err(AppError::BadRequest(format!("package {}: {e}", p.name)));
            }
        }
    }
    Ok(())
}

/// Report-back lines: each (package, CVE) of a critical or high advisory once, tagged
/// `Critical` / `High` (Pakiti's default CVE tags). `findings` yields (package key, package,
/// severity, CVEs), from the store or from the in-memory matcher.
fn tagged_lines<'a, K: Ord + Copy>(
    findings: impl IntoIterator<Item = (K, &'a InstalledPackage, Severity, &'a [String])>,
) -> Vec<TaggedCveLine> {
    let mut lines = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (key, p, severity, cves) in findings {
        let tag = match severity {
            Severity::Critical => "Critical",
            Severity::High => "High",
            _ => continue,
        };
        for cve in cves {
            if seen.insert((key, cve.as_str())) {
                lines.push(TaggedCveLine {
                    name: p.name.clone(),
                    version_release: p.version.clone(),
                    arch: p.arch.clone(),
                    cve: cve.clone(),
                    tag: tag.to_owned(),
                });
            }
        }
    }
    lines
}

fn report_back(findings: &[pakiti_store::HostFinding]) -> Vec<TaggedCveLine> {
    tagged_lines(findings.iter().map(|f| {
        (
            f.package_version_id,
            &f.package,
            f.severity,
            f.cves.as_slice(),
        )
    }))
}

/// Processes one report: the synchronous path, and the step asynchronous workers run.
///
/// # Errors
/// A malformed report (4xx) or a store failure (5xx). A store failure before `save_report`
/// returns leaves the store as it was.
pub async fn process(
    store: &AnyStore,
    evaluator: &Arc<Evaluator>,
    rules: &OsRules,
    report: &Report,
    origin: &Origin,
) -> Result<Outcome, AppError> {
    let stream = stream_of(report, rules);
    validate(report, stream.as_ref())?;
    if report.proxy && !origin.trusted_proxy {
        return Err(AppError::Forbidden(format!(
            "{} may not submit reports for other hosts (not a trusted proxy)",
            origin
                .peer
                .map_or_else(|| "this client".to_owned(), |p| p.to_string())
        )));
    }
    let packages = to_installed(report);
    if report.mode == Mode::ReportOnly {
        return Ok(report_only(evaluator, report, stream.as_ref(), &packages));
    }
    let identity = HostIdentity {
        hostname: report.hostname.trim().to_ascii_lowercase(),
        client_id: report.host_id.clone(),
    };
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
        stream: stream.as_ref().map(ToString::to_string),
        ..Outcome::default()
    };
    if let Some(state) = store
        .host_state(&identity)
        .await
        .context("looking up the host")?
        && state.last_report_hash.as_deref() == Some(hash.as_str())
    {
        store
            .touch_unchanged_report(state.id, &meta)
            .await
            .context("recording an unchanged report")?;
        outcome.unchanged = true;
        if report.mode.reports_back() {
            let findings =
                evaluate::applicable(store.host_findings(state.id).await?, &report.module_streams);
            outcome.findings = findings.len();
            outcome.report_back = report_back(&findings);
        }
        return Ok(outcome);
    }
    let scheme = stream
        .as_ref()
        .map_or(pakiti_core::version::Scheme::Rpm, OsStream::scheme);
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
        modules: report.module_streams.clone(),
    };
    let saved = store
        .save_report(NewReport {
            identity: &identity,
            facts: &facts,
            meta: &meta,
            packages: &packages,
        })
        .await
        .context("saving the report")?;
    if let Some(stream) = &stream
        && !saved.unevaluated.is_empty()
    {
        let by_id: rustc_hash::FxHashMap<i64, &InstalledPackage> = saved
            .package_ids
            .iter()
            .copied()
            .zip(packages.iter())
            .collect();
        let items: Vec<(i64, &InstalledPackage)> = saved
            .unevaluated
            .iter()
            .filter_map(|id| by_id.get(id).map(|p| (*id, *p)))
            .collect();
        let findings = evaluator.evaluate(stream, &items);
        store
            .store_package_findings(&stream.to_string(), &saved.unevaluated, &findings)
            .await
            .context("storing findings")?;
    }
    let findings = evaluate::applicable(
        store
            .host_findings(saved.host_id)
            .await
            .context("reading findings")?,
        &report.module_streams,
    );
    let counts = evaluate::counts(&findings);
    store.update_host_counts(saved.host_id, &counts).await?;
    store
        .mark_report_processed(saved.report_id, OffsetDateTime::now_utc(), counts.cves)
        .await?;
    outcome.findings = findings.len();
    if report.mode.reports_back() {
        outcome.report_back = report_back(&findings);
    }
    Ok(outcome)
}

/// Report-only mode: evaluate in memory, store nothing.
fn report_only(
    evaluator: &Evaluator,
    report: &Report,
    stream: Option<&OsStream>,
    packages: &[InstalledPackage],
) -> Outcome {
    let result = evaluator.index().match_host(&HostInventory {
        stream,
        packages,
        modules: &report.module_streams,
    });
    let lines = tagged_lines(result.findings.iter().map(|f| {
        (
            f.package,
            &packages[f.package],
            f.advisory.severity,
            f.advisory.cves.as_slice(),
        )
    }));
    Outcome {
        stored: false,
        stream: stream.map(ToString::to_string),
        findings: result.findings.len(),
        report_back: lines,
        ..Outcome::default()
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
