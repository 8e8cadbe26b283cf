//! The server's one Prometheus registry (`GET /metrics`, OpenMetrics text) and the host
//! census that `/metrics` and `pakiti check` share.
//!
//! Counters move where events happen: `handlers/report.rs` counts every `/feed/` request by
//! protocol and outcome ([`Metrics::report_received`], [`Metrics::report_answered`]); the
//! engine counts processed reports, ingest time and group-commit batch sizes
//! (`pakiti_engine::metrics`). Gauges are set at scrape time ([`Metrics::render`]) from what
//! is already in memory (writer queues, evaluator, pools, RSS), from the small feed and
//! repository tables, and from the host census, which is recomputed at most every
//! `[metrics] cache_secs` seconds: a scrape never walks the hosts more often than that.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use pakiti_store::{Host, HostFilter, HostId, HostScope, Page, SyncStatus};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use time::OffsetDateTime;

use crate::error::AppError;

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProtocolLabel {
    protocol: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusedLabel {
    protocol: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabel {
    queue: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FeedLabel {
    feed: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RepositoryLabel {
    repository: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabel {
    pool: &'static str,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartLabel {
    part: &'static str,
}

/// Gauges of one kind of source (feeds or repositories), by name.
struct SourceGauges<L> {
    last_success: Family<L, Gauge>,
    age: Family<L, Gauge>,
    records: Family<L, Gauge>,
    failing: Family<L, Gauge>,
}

impl<L> SourceGauges<L>
where
    L: Clone + std::hash::Hash + Eq + EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static,
{
    fn new(registry: &mut Registry, what: &str, records: &str) -> Self {
        let g = SourceGauges {
            last_success: Family::default(),
            age: Family::default(),
            records: Family::default(),
            failing: Family::default(),
        };
        registry.register(
            format!("pakiti_{what}_last_success_timestamp_seconds"),
            format!("Unix time of the {what}'s last successful sync or import (absent: never)"),
            g.last_success.clone(),
        );
        registry.register(
            format!("pakiti_{what}_age_seconds"),
            format!("Seconds since the {what}'s last successful sync or import (absent: never)"),
            g.age.clone(),
        );
        registry.register(
            format!("pakiti_{what}_records"),
            format!("{records} currently stored for the {what}"),
            g.records.clone(),
        );
        registry.register(
            format!("pakiti_{what}_last_sync_failed"),
            format!("1 when the {what}'s last sync failed (its previous data stays in use)"),
            g.failing.clone(),
        );
        g
    }

    fn clear(&self) {
        self.last_success.clear();
        self.age.clear();
        self.records.clear();
        self.failing.clear();
    }

    fn set(&self, label: &L, source: &SourceState) {
        if let Some(t) = source.last_success {
            self.last_success
                .get_or_create(label)
                .set(t.unix_timestamp());
            self.age
                .get_or_create(label)
                .set(source.age_secs.unwrap_or(0));
        }
        self.records.get_or_create(label).set(source.records);
        self.failing
            .get_or_create(label)
            .set(i64::from(source.last_failed));
    }
}

/// The registry and the metrics the server itself sets.
pub struct Metrics {
    registry: Registry,
    received: Family<ProtocolLabel, Counter>,
    accepted: Family<ProtocolLabel, Counter>,
    refused: Family<RefusedLabel, Counter>,
    writer_queue: Family<QueueLabel, Gauge>,
    async_queue: Gauge,
    evaluator_generation: Gauge,
    evaluator_age: Gauge,
    advisories: Gauge,
    feeds: SourceGauges<FeedLabel>,
    repositories: SourceGauges<RepositoryLabel>,
    hosts: Family<StateLabel, Gauge>,
    pool: Family<PoolLabel, Gauge>,
    rss: Gauge,
    fleet_bytes: Family<PartLabel, Gauge>,
    fleet_hosts: Gauge,
    /// One scrape at a time (the families are cleared and refilled), and the census cache.
    scrape: tokio::sync::Mutex<Option<(Instant, Census)>>,
}

impl Metrics {
    /// The registry with every metric, the engine's included.
    #[must_use]
    pub fn new(engine: &pakiti_engine::Engine) -> Metrics {
        let mut registry = Registry::default();
        let received = Family::<ProtocolLabel, Counter>::default();
        registry.register(
            "pakiti_reports_received",
            "Requests to the report endpoint (/feed/), by wire protocol (4, 5, 5-smime, json, \
             unknown: the body could not be read)",
            received.clone(),
        );
        let accepted = Family::<ProtocolLabel, Counter>::default();
        registry.register(
            "pakiti_reports_accepted",
            "Reports answered OK (stored, queued, unchanged or report-only), by protocol",
            accepted.clone(),
        );
        let refused = Family::<RefusedLabel, Counter>::default();
        registry.register(
            "pakiti_reports_refused",
            "Reports not accepted, by protocol and reason (bad_request, too_large, \
             unsupported, forbidden, unauthorized, timeout, conflict, unavailable, internal)",
            refused.clone(),
        );
        let m = engine.metrics();
        registry.register(
            "pakiti_reports_processed",
            "Reports through ingest by result (saved, unchanged, report_only, queued, held)",
            m.processed.clone(),
        );
        registry.register(
            "pakiti_ingest_duration_seconds",
            "Time to process one report (store, evaluate, finish), parsing excluded",
            m.ingest_seconds.clone(),
        );
        registry.register(
            "pakiti_reevaluations",
            "Re-evaluations after a feed change that re-matched package versions in this \
             process (with several servers on one database, one of them does each)",
            m.reevaluations.clone(),
        );
        registry.register(
            "pakiti_reevaluated_package_versions",
            "Package versions re-matched by this process's re-evaluations",
            m.reevaluated_package_versions.clone(),
        );
        registry.register(
            "pakiti_reevaluated_hosts",
            "Hosts whose counts this process's re-evaluations refreshed",
            m.reevaluated_hosts.clone(),
        );
        registry.register(
            "pakiti_reevaluation_seconds",
            "Time this process's re-evaluations took",
            m.reevaluation_seconds.clone(),
        );
        registry.register(
            "pakiti_reevaluation_part_seconds",
            "Time this process's re-evaluations took, by part (reload, rematch, sets, counts)",
            m.reevaluation_part_seconds.clone(),
        );
        registry.register(
            "pakiti_writer_batch_size",
            "Writes per group-commit batch, by queue (save, finish, touch)",
            m.batch_size.clone(),
        );
        let writer_queue = Family::<QueueLabel, Gauge>::default();
        registry.register(
            "pakiti_writer_queue_length",
            "Writes waiting for the group-commit writer, by queue",
            writer_queue.clone(),
        );
        let async_queue = Gauge::default();
        registry.register(
            "pakiti_async_queue_length",
            "Reports in the store's asynchronous ingest queue (evaluation = \"async\")",
            async_queue.clone(),
        );
        let evaluator_generation = Gauge::default();
        registry.register(
            "pakiti_evaluator_generation",
            "The store's feed generation the loaded advisories were read at",
            evaluator_generation.clone(),
        );
        let evaluator_age = Gauge::default();
        registry.register(
            "pakiti_evaluator_age_seconds",
            "Seconds since the advisories were last loaded into the evaluator",
            evaluator_age.clone(),
        );
        let advisories = Gauge::default();
        registry.register(
            "pakiti_evaluator_advisories",
            "Advisories loaded in the evaluator",
            advisories.clone(),
        );
        let feeds = SourceGauges::new(&mut registry, "feed", "Advisories");
        let repositories = SourceGauges::new(&mut registry, "repository", "Packages");
        let hosts = Family::<StateLabel, Gauge>::default();
        registry.register(
            "pakiti_hosts",
            "Hosts by state: total, reporting, stale (no report for [metrics] stale_days), \
             not_covered (no data for their OS), pending (evaluation pending), vulnerable (any \
             CVE), tagged (a CVE with an enabled tag), kev (a CVE in CISA KEV)",
            hosts.clone(),
        );
        let pool = Family::<PoolLabel, Gauge>::default();
        registry.register(
            "pakiti_db_pool_connections",
            "Database connections by pool and state (open, idle, max)",
            pool.clone(),
        );
        let rss = Gauge::default();
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory of the server process",
            rss.clone(),
        );
        let fleet_bytes = Family::<PartLabel, Gauge>::default();
        registry.register(
            "pakiti_fleet_index_bytes",
            "Estimated heap bytes of the in-memory fleet index by part (host_packages, \
             findings, cve_hosts, package_versions, advisories, strings, other); absent until \
             the index is built",
            fleet_bytes.clone(),
        );
        let fleet_hosts = Gauge::default();
        registry.register(
            "pakiti_fleet_index_hosts",
            "Hosts in the fleet index the pages answer from (rebuilt in the background after \
             changes); 0 until it is built",
            fleet_hosts.clone(),
        );
        Metrics {
            registry,
            fleet_bytes,
            fleet_hosts,
            received,
            accepted,
            refused,
            writer_queue,
            async_queue,
            evaluator_generation,
            evaluator_age,
            advisories,
            feeds,
            repositories,
            hosts,
            pool,
            rss,
            scrape: tokio::sync::Mutex::new(None),
        }
    }

    /// Counts a `/feed/` request whose body was read (`wire` as `wire_label` names it).
    pub fn report_received(&self, wire: &str) {
        self.received
            .get_or_create(&ProtocolLabel {
                protocol: protocol(wire),
            })
            .inc();
    }

    /// Counts the answer to a `/feed/` request: accepted (2xx) or refused with the reason
    /// its status stands for.
    pub fn report_answered(&self, wire: &str, status: axum::http::StatusCode) {
        let protocol = protocol(wire);
        if status.is_success() {
            self.accepted
                .get_or_create(&ProtocolLabel { protocol })
                .inc();
        } else {
            self.refused
                .get_or_create(&RefusedLabel {
                    protocol,
                    reason: reason(status),
                })
                .inc();
        }
    }

    /// The exposition, with every gauge set now.
    ///
    /// # Errors
    /// The store fails.
    pub async fn render(
        &self,
        engine: &pakiti_engine::Engine,
        settings: &crate::settings::MetricsSettings,
    ) -> Result<String, AppError> {
        let mut cache = self.scrape.lock().await;
        for (queue, n) in engine.writer().queue_lengths() {
            self.writer_queue
                .get_or_create(&QueueLabel { queue })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        self.async_queue.set(engine.store().queue_len().await?);
        let evaluator = engine.evaluator();
        self.evaluator_generation.set(evaluator.generation());
        self.advisories
            .set(i64::try_from(evaluator.advisory_count()).unwrap_or(i64::MAX));
        let now = OffsetDateTime::now_utc();
        let loaded = engine.metrics().evaluator_loaded_at();
        self.evaluator_age.set(if loaded > 0 {
            now.unix_timestamp() - loaded
        } else {
            0
        });
        self.feeds.clear();
        self.repositories.clear();
        for s in sources(engine, now).await? {
            match s.kind {
                SourceKind::Feed => self.feeds.set(
                    &FeedLabel {
                        feed: s.name.clone(),
                    },
                    &s,
                ),
                SourceKind::Repository => self.repositories.set(
                    &RepositoryLabel {
                        repository: s.name.clone(),
                    },
                    &s,
                ),
            }
        }
        for p in engine.store().pool_usage() {
            for (st, v) in [("open", p.open), ("idle", p.idle), ("max", p.max)] {
                self.pool
                    .get_or_create(&PoolLabel {
                        pool: p.pool,
                        state: st,
                    })
                    .set(i64::from(v));
            }
        }
        if let Some(rss) = resident_bytes() {
            self.rss.set(i64::try_from(rss).unwrap_or(i64::MAX));
        }
        if let Some(fleet) = engine.fleet_built() {
            self.fleet_hosts
                .set(i64::try_from(fleet.host_count()).unwrap_or(i64::MAX));
            for (part, bytes) in fleet.heap_bytes() {
                self.fleet_bytes
                    .get_or_create(&PartLabel { part })
                    .set(i64::try_from(bytes).unwrap_or(i64::MAX));
            }
        }
        let fresh = Duration::from_secs(settings.cache_secs);
        let census = match &*cache {
            Some((at, c)) if at.elapsed() < fresh => c.clone(),
            _ => {
                let filter = HostFilter::default();
                let c = census(
                    engine,
                    &filter,
                    &Exposure::Tagged,
                    i64::from(settings.stale_days),
                    false,
                )
                .await?;
                *cache = Some((Instant::now(), c.clone()));
                c
            }
        };
        for (st, v) in [
            ("total", census.total),
            ("reporting", census.total - census.stale),
            ("stale", census.stale),
            ("not_covered", census.not_covered),
            ("pending", census.pending),
            ("vulnerable", census.vulnerable),
            ("tagged", census.tagged),
            ("kev", census.kev),
        ] {
            self.hosts.get_or_create(&StateLabel { state: st }).set(v);
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("encoding metrics: {e}")))?;
        Ok(out)
    }
}

/// The protocol label of a `wire_label` value.
fn protocol(wire: &str) -> &'static str {
    match wire {
        "4 (multipart)" | "4 (urlencoded)" => "4",
        "5" => "5",
        "5 (S/MIME)" => "5-smime",
        "json" | "json (compressed)" => "json",
        _ => "unknown",
    }
}

/// The reason label of a refusal's status.
fn reason(status: axum::http::StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        408 => "timeout",
        409 => "conflict",
        413 => "too_large",
        415 => "unsupported",
        429 => "rate_limited",
        503 => "unavailable",
        500..=599 => "internal",
        _ => "other",
    }
}

/// The resident set size of this process (Linux `/proc/self/status`), in bytes.
#[must_use]
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A feed or a repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// A vulnerability feed.
    Feed,
    /// A package repository.
    Repository,
}

/// An enabled feed's or repository's freshness.
#[derive(Clone, Debug)]
pub struct SourceState {
    /// Feed or repository.
    pub kind: SourceKind,
    /// Its name.
    pub name: String,
    /// Its last successful sync or import (`ok` or `unchanged`).
    pub last_success: Option<OffsetDateTime>,
    /// Seconds since then.
    pub age_secs: Option<i64>,
    /// Advisories (feeds) or packages (repositories) stored.
    pub records: i64,
    /// The last sync failed.
    pub last_failed: bool,
}

/// Every enabled feed and repository with its last success: the last sync when it
/// succeeded, else the newest successful run in its history.
///
/// # Errors
/// The store fails.
pub async fn sources(
    engine: &pakiti_engine::Engine,
    now: OffsetDateTime,
) -> Result<Vec<SourceState>, AppError> {
    let store = engine.store();
    let mut out = Vec::new();
    let ok = |s: SyncStatus| s != SyncStatus::Failed;
    for f in store.list_feeds().await?.into_iter().filter(|f| f.enabled) {
        let last_failed = f
            .last_sync
            .as_ref()
            .is_some_and(|s| s.status == SyncStatus::Failed);
        let last_success = match &f.last_sync {
            Some(s) if ok(s.status) => Some(s.at),
            Some(_) => store
                .feed_runs(f.id, 50)
                .await?
                .into_iter()
                .filter(|r| ok(r.record.status))
                .map(|r| r.record.at)
                .max(),
            None => None,
        };
        out.push(SourceState {
            kind: SourceKind::Feed,
            name: f.name,
            age_secs: last_success.map(|t| (now - t).whole_seconds().max(0)),
            last_success,
            records: f.advisory_count,
            last_failed,
        });
    }
    for r in store
        .list_repositories()
        .await?
        .into_iter()
        .filter(|r| r.enabled)
    {
        let last_failed = r
            .last_sync
            .as_ref()
            .is_some_and(|s| s.status == SyncStatus::Failed);
        let last_success = match &r.last_sync {
            Some(s) if ok(s.status) => Some(s.at),
            Some(_) => store
                .repository_runs(r.id, 50)
                .await?
                .into_iter()
                .filter(|x| ok(x.record.status))
                .map(|x| x.record.at)
                .max(),
            None => None,
        };
        out.push(SourceState {
            kind: SourceKind::Repository,
            name: r.name,
            age_secs: last_success.map(|t| (now - t).whole_seconds().max(0)),
            last_success,
            records: r.package_count,
            last_failed,
        });
    }
    Ok(out)
}

/// Which CVEs make a host "exposed".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exposure {
    /// A CVE carrying any enabled tag.
    Tagged,
    /// A CVE carrying this (enabled) tag.
    Tag(String),
    /// A CVE in CISA's Known Exploited Vulnerabilities catalogue.
    Kev,
    /// A CVE of this vendor severity or worse: `critical`, `high`, `medium` or `low`. A CVE
    /// no advisory gives a severity (Debian's DSA lists, many OSV records) counts too: a
    /// missing severity must never hide an exposed host.
    Severity(String),
}

impl Exposure {
    /// How the status line names it (`tagged CVEs`, `CVEs tagged "watch"`, `known exploited
    /// (KEV) CVEs`, `CVEs of severity high or worse or unknown`).
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Exposure::Tagged => "tagged CVEs".to_owned(),
            Exposure::Tag(t) => format!("CVEs tagged {t:?}"),
            Exposure::Kev => "known exploited (KEV) CVEs".to_owned(),
            Exposure::Severity(s) => {
                format!("CVEs of severity {s} or worse or unknown")
            }
        }
    }
}

/// Hosts of one filter, counted by state; `exposed` by the census's [`Exposure`].
#[derive(Clone, Debug, Default)]
pub struct Census {
    /// Hosts matching the filter.
    pub total: i64,
    /// Of those, exposed.
    pub exposed: i64,
    /// Up to ten exposed hosts' names.
    pub exposed_hosts: Vec<String>,
    /// No report for the census's number of days.
    pub stale: i64,
    /// No imported data covers their OS.
    pub not_covered: i64,
    /// Last report saved but not evaluated yet.
    pub pending: i64,
    /// Any CVE.
    pub vulnerable: i64,
    /// A CVE with an enabled tag.
    pub tagged: i64,
    /// A CVE in KEV.
    pub kev: i64,
}

/// Counts the hosts of `filter` (its scope applies) by state, `exposed` by `exposure`;
/// `stale_days` says when a host counts as not reporting. Reads the filtered hosts once and
/// answers tag, KEV and coverage questions from the engine's fleet index: as of now with
/// `fresh` (rebuilt first if anything changed: a check must never miss an exposed host), else
/// the one in memory (a scrape; it is rebuilt in the background).
///
/// # Errors
/// An unknown severity (400), the store or the fleet index fails.
pub async fn census(
    engine: &pakiti_engine::Engine,
    filter: &HostFilter,
    exposure: &Exposure,
    stale_days: i64,
    fresh: bool,
) -> Result<Census, AppError> {
    let rank = |s: &str| match s {
        "critical" => Some(1),
        "high" => Some(2),
        "medium" => Some(3),
        "low" => Some(4),
        _ => None,
    };
    let severity_rank = match exposure {
        Exposure::Severity(s) => Some(rank(&s.to_ascii_lowercase()).ok_or_else(|| {
            AppError::BadRequest(format!(
                "unknown severity {s:?}: one of critical, high, medium, low"
            ))
        })?),
        _ => None,
    };
    let hosts: Vec<Host> = engine
        .store()
        .list_hosts(
            filter,
            pakiti_store::HostSort::default(),
            Page {
                offset: 0,
                limit: i64::MAX,
            },
        )
        .await?
        .hosts;
    let fleet = if fresh {
        engine.fleet_up_to_date().await?
    } else {
        engine.fleet().await?
    };
    let not_covered: HashSet<HostId> = fleet.hosts_not_covered().into_iter().collect();
    let facts = engine.cve_facts();
    let mut kev: HashSet<HostId> = HashSet::new();
    if !facts.is_empty() {
        for c in fleet.cves(&HostScope::All) {
            if facts.get(&c.cve).is_some_and(|f| f.kev.is_some()) {
                kev.extend(fleet.hosts_with_cve(&c.cve));
            }
        }
    }
    let tag: Option<HashSet<HostId>> = match exposure {
        Exposure::Tag(t) => Some(fleet.hosts_with_tag(t).into_iter().collect()),
        _ => None,
    };
    let cutoff = OffsetDateTime::now_utc() - time::Duration::days(stale_days.max(0));
    let mut c = Census {
        total: i64::try_from(hosts.len()).unwrap_or(i64::MAX),
        ..Census::default()
    };
    for h in &hosts {
        let n = &h.counts;
        let exposed = match exposure {
            Exposure::Tagged => n.tagged > 0,
            Exposure::Tag(_) => tag.as_ref().is_some_and(|t| t.contains(&h.id)),
            Exposure::Kev => kev.contains(&h.id),
            Exposure::Severity(_) => {
                let counts = [n.critical, n.high, n.medium, n.low];
                let upto = severity_rank.unwrap_or(4);
                n.unknown > 0 || counts.iter().take(upto).any(|&x| x > 0)
            }
        };
        if exposed {
            c.exposed += 1;
            if c.exposed_hosts.len() < 10 {
                c.exposed_hosts.push(h.hostname.clone());
            }
        }
        c.stale += i64::from(h.last_report_at < cutoff);
        c.not_covered += i64::from(not_covered.contains(&h.id));
        c.pending += i64::from(h.evaluation_pending);
        c.vulnerable += i64::from(n.cves > 0);
        c.tagged += i64::from(n.tagged > 0);
        c.kev += i64::from(kev.contains(&h.id));
    }
    Ok(c)
}

/// The census filter of a group, a domain and an exact host name within `scope`.
///
/// # Errors
/// The store fails.
pub async fn census_filter(
    engine: &pakiti_engine::Engine,
    scope: HostScope,
    group: Option<String>,
    domain: Option<String>,
    host: Option<&str>,
) -> Result<HostFilter, AppError> {
    let host_ids = match host {
        Some(name) => Some(
            engine
                .store()
                .get_host_by_name(name)
                .await?
                .map(|h| vec![h.id])
                .unwrap_or_default(),
        ),
        None => None,
    };
    Ok(HostFilter {
        group,
        domain,
        host_ids,
        scope,
        ..HostFilter::default()
    })
}
