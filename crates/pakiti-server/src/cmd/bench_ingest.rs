//! `pakiti bench ingest`: report ingest through the real server, on SQLite and PostgreSQL.
//!
//! The figures of issue 4. A real server (the `serve` router over [`open_state`], evaluation at
//! ingest) listens on 127.0.0.1 with the full vendor files imported, and client tasks in the
//! same process POST protocol-5 reports built from the real host lists (with version jitter)
//! over keep-alive HTTP connections:
//!
//! 1. the first report of every host;
//! 2. a changed report of every host (5 packages moved to another version);
//! 3. the same report again (unchanged).
//!
//! Each phase prints reports/s, p50/p99 latency and the store size (the SQLite file after a WAL
//! checkpoint, or `pg_database_size`), also per 1,000 hosts net of the advisories.
//!
//! 4. A full re-evaluation: the fleet is topped up to `reeval_hosts` hosts by calling
//!    [`ingest::process`] directly (the same step the HTTP handler runs, minus HTTP and parsing:
//!    10,000 first reports over HTTP would only repeat phase 1), then
//!    [`Engine::reevaluate`](pakiti_engine::Engine::reevaluate) is timed three times: after
//!    every key went stale with nothing changing (disable and enable every feed, then
//!    re-evaluate: every stored package version is re-matched and compared, nothing is
//!    written); after every feed was disabled (every answer and count drops); and — the
//!    figure of the issue — after every feed came back: reload of the advisories, re-match of
//!    every stored package version they name, every answer rewritten, and a counts refresh of
//!    every host that has one.
//!
//! The client shares the 2 cores with the server, so the HTTP figures are a lower bound of what
//! the server alone sustains.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use axum::body::Bytes;
use pakiti_api::protocol5;
use pakiti_api::report::{Mode, Package, Packager, Report};
use pakiti_core::package::InstalledPackage;
use pakiti_core::stream::{Distro, OsStream};
use pakiti_core::version::Scheme;
use pakiti_store::Store;
use pakiti_store::{FeedUpdate, NewFeed};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::OffsetDateTime;
use tokio::net::TcpListener;

use crate::cmd::bench::{build_fleet, full_feed_files, mib, percentile};
use crate::cmd::serve::open_state;
use crate::jobs::feeds;
use crate::sample::{self, HostList};
use crate::settings::{Evaluation, Settings};
use crate::state::AppState;
use pakiti_engine::ingest::{self, Origin};

/// The environment variables that name a PostgreSQL admin connection for the benchmark.
pub const POSTGRES_ENVS: &[&str] = &["PAKITI_BENCH_POSTGRES_URL", "PAKITI_TEST_POSTGRES_URL"];

/// Packages moved to another version in a changed report.
pub const CHANGED_PACKAGES: usize = 5;

/// What to measure.
#[derive(Clone, Debug)]
pub struct IngestArgs {
    /// Hosts reporting over HTTP (phases 1–3).
    pub hosts: usize,
    /// Hosts in the store for the re-evaluation (phase 4); 0 skips it.
    pub reeval_hosts: usize,
    /// Concurrent client connections.
    pub concurrency: usize,
    /// Packages per host.
    pub packages: usize,
    /// The shared data directory (host lists).
    pub data: PathBuf,
    /// Feed files to import first: (kind, path).
    pub feeds: Vec<(String, PathBuf)>,
}

impl IngestArgs {
    /// The benchmark of issue 4: the full vendor files of
    /// [`FULL_FEEDS`](crate::cmd::bench::FULL_FEEDS), ~800 packages per host.
    #[must_use]
    pub fn full(data: PathBuf, hosts: usize, reeval_hosts: usize, concurrency: usize) -> Self {
        let feeds = full_feed_files(&data);
        IngestArgs {
            hosts,
            reeval_hosts,
            concurrency,
            packages: 800,
            data,
            feeds,
        }
    }
}

/// One measured ingest phase.
#[derive(Clone, Debug)]
pub struct Phase {
    /// `first`, `changed` or `unchanged`.
    pub name: &'static str,
    /// Reports sent (all answered `OK`).
    pub reports: usize,
    /// Wall time of the phase.
    pub took: Duration,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Store size after the phase, in bytes.
    pub size_bytes: u64,
}

impl Phase {
    /// Reports per second.
    #[must_use]
    pub fn rate(&self) -> f64 {
        self.reports as f64 / self.took.as_secs_f64().max(1e-9)
    }
}

/// The re-evaluation phase.
#[derive(Clone, Debug)]
pub struct Reevaluated {
    /// Hosts in the store.
    pub hosts: usize,
    /// Time to add the hosts beyond those of phases 1–3 (direct `ingest::process` calls).
    pub topup: Duration,
    /// Time of an advisory reload alone (part of `outcome.took`).
    pub reload: Duration,
    /// What `Engine::reevaluate` did and how long it took.
    pub outcome: pakiti_engine::reevaluate::Reevaluation,
    /// Store size with all hosts, in bytes.
    pub size_bytes: u64,
}

/// Everything measured on one backend.
#[derive(Clone, Debug)]
pub struct Figures {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Advisories loaded into the evaluator.
    pub advisories: usize,
    /// Time to import the feeds.
    pub import: Duration,
    /// Store size with the feeds and no hosts, in bytes.
    pub baseline_bytes: u64,
    /// Average packages per host.
    pub packages_per_host: f64,
    /// The HTTP phases, in order.
    pub phases: Vec<Phase>,
    /// Phase 4, when asked for.
    pub reevaluation: Option<Reevaluated>,
}

/// The stream whose vendor data a host list is matched against (rebuilds use RHEL data), as
/// [`build_fleet`] chooses its bases.
pub(crate) fn data_stream(list: &HostList) -> Option<OsStream> {
    let own = list.stream()?;
    Some(match own.distro() {
        Distro::Centos | Distro::Alma | Distro::Rocky | Distro::Oracle => {
            OsStream::new(Distro::Rhel, own.release())
        }
        _ => own,
    })
}

fn packager_of(scheme: Scheme) -> Packager {
    match scheme {
        Scheme::Deb => Packager::Dpkg,
        Scheme::Apk => Packager::Apk,
        Scheme::Rpm => Packager::Rpm,
    }
}

/// A protocol-5 style report for host `i` built from its base list and fleet packages.
pub(crate) fn report_for(i: usize, list: &HostList, packages: Vec<InstalledPackage>) -> Report {
    let scheme = list.stream().map_or(Scheme::Rpm, |s| s.scheme());
    let packager = packager_of(scheme);
    let default_arch = if packager == Packager::Dpkg {
        "amd64"
    } else {
        "x86_64"
    };
    Report {
        hostname: format!("bench-{i:05}.example.org"),
        os: list.os_name(),
        arch: "x86_64".into(),
        kernel: list.kernel.clone(),
        site: Some("bench".into()),
        packager,
        mode: Mode::StoreOnly,
        packages: packages
            .into_iter()
            .map(|p| {
                let arch = if p.arch.is_empty() || p.arch == "unknown" {
                    default_arch.to_owned()
                } else {
                    p.arch
                };
                Package::new(p.name, p.version, arch)
            })
            .collect(),
        ..Report::default()
    }
}

/// Moves [`CHANGED_PACKAGES`] distinct packages of `report` to another version.
pub(crate) fn change(report: &Report, rng: &mut StdRng) -> Report {
    let mut r = report.clone();
    let n = r.packages.len();
    let mut moved = rustc_hash::FxHashSet::default();
    let mut tries = 0;
    while moved.len() < CHANGED_PACKAGES.min(n) && tries < 100 * CHANGED_PACKAGES {
        tries += 1;
        let k = rng.random_range(0..n);
        if !moved.insert(k) {
            continue;
        }
        let p = &mut r.packages[k];
        let v = sample::jitter_version(&p.version, 1);
        if v == p.version {
            moved.remove(&k);
            continue;
        }
        p.version = v;
    }
    r
}

/// Per-request latencies and wall time of one batch of POSTs.
struct Timing {
    latencies: Vec<Duration>,
    took: Duration,
}

/// POSTs every body to `url` from `concurrency` tasks sharing one keep-alive client; fails on
/// the first answer that is not `200 OK`.
async fn post_all(url: &str, bodies: Arc<Vec<Bytes>>, concurrency: usize) -> Result<Timing> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .context("building the HTTP client")?;
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let client = client.clone();
        let url = url.to_owned();
        let bodies = bodies.clone();
        let next = next.clone();
        tasks.spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else {
                    return Ok::<_, anyhow::Error>(lat);
                };
                let t = Instant::now();
                let resp = client
                    .post(&url)
                    .header("content-type", "text/plain")
                    .body(body.clone())
                    .send()
                    .await
                    .context("posting a report")?;
                let status = resp.status();
                let text = resp.text().await.context("reading the answer")?;
                lat.push(t.elapsed());
                if !status.is_success() || !text.starts_with("OK") {
                    bail!("report {i} answered {status}: {}", text.trim());
                }
            }
        });
    }
    let mut latencies = Vec::with_capacity(bodies.len());
    while let Some(done) = tasks.join_next().await {
        latencies.extend(done.context("a client task panicked")??);
    }
    Ok(Timing {
        latencies,
        took: start.elapsed(),
    })
}

async fn phase(
    state: &AppState,
    url: &str,
    name: &'static str,
    reports: &[Report],
    concurrency: usize,
) -> Result<Phase> {
    let bodies: Vec<Bytes> = reports
        .iter()
        .map(|r| Bytes::from(protocol5::render(r)))
        .collect();
    let n = bodies.len();
    let mut t = post_all(url, Arc::new(bodies), concurrency).await?;
    t.latencies.sort_unstable();
    let size_bytes = state
        .store
        .size_bytes()
        .await
        .context("measuring the store")?;
    Ok(Phase {
        name,
        reports: n,
        took: t.took,
        p50: percentile(&t.latencies, 50),
        p99: percentile(&t.latencies, 99),
        size_bytes,
    })
}

/// Imports every feed file (creating its feed) and clears the resulting stale keys.
/// Registers the vendor file `path` as an enabled feed of `kind` named `name`, synced daily.
pub(crate) async fn register_feed(
    store: &pakiti_store::Store,
    name: String,
    kind: &str,
    path: &std::path::Path,
) -> Result<pakiti_store::Feed> {
    Ok(store
        .create_feed(&NewFeed {
            name,
            kind: kind.to_owned(),
            url: path.display().to_string(),
            stream: None,
            enabled: true,
            interval_secs: 86_400,
        })
        .await?)
}

pub(crate) async fn import_feeds(state: &AppState, files: &[(String, PathBuf)]) -> Result<()> {
    for (kind, path) in files {
        // The parent directory too: `DSA/list` and `DLA/list` are different feeds.
        let name = path
            .iter()
            .rev()
            .take(2)
            .map(|c| c.to_string_lossy())
            .collect::<Vec<_>>()
            .join("-");
        let feed = register_feed(&state.store, name, kind, path).await?;
        let body = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let fetched = feeds::Fetched {
            body: Some(body),
            ..feeds::Fetched::default()
        };
        let out = feeds::import(state, &feed, fetched, false, &feeds::NoProgress).await?;
        if let Some(e) = out.error {
            bail!("importing {}: {e}", path.display());
        }
    }
    state.engine.reevaluate().await?;
    Ok(())
}

/// Ingests `reports` by direct calls to [`ingest::process`], `concurrency` at a time.
pub(crate) async fn process_direct(
    state: &AppState,
    reports: Vec<Report>,
    concurrency: usize,
) -> Result<()> {
    let reports = Arc::new(reports);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let state = state.clone();
        let reports = reports.clone();
        let next = next.clone();
        tasks.spawn(async move {
            let origin = Origin {
                received_at: OffsetDateTime::now_utc(),
                peer: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                client_dn: None,
                trusted_proxy: false,
            };
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(r) = reports.get(i) else {
                    return Ok::<_, anyhow::Error>(());
                };
                ingest::process(&state.engine, r, &origin)
                    .await
                    .map_err(|e| anyhow::anyhow!("ingesting {}: {e}", r.hostname))?;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.context("an ingest task panicked")??;
    }
    Ok(())
}

/// Enables or disables every feed (the store marks all of a feed's keys stale either way).
async fn set_all_feeds(state: &AppState, enabled: bool) -> Result<()> {
    for feed in state.store.list_feeds().await? {
        state
            .store
            .update_feed(
                feed.id,
                &FeedUpdate {
                    enabled: Some(enabled),
                    ..FeedUpdate::default()
                },
            )
            .await?;
    }
    Ok(())
}

/// Runs the whole benchmark against the (empty) store at `url`; progress goes to `log`.
///
/// # Errors
/// The store cannot be opened, a feed file cannot be imported, or a report is refused.
pub async fn measure(url: &str, args: &IngestArgs, log: &mut impl Write) -> Result<Figures> {
    let dir = std::env::temp_dir().join(format!("pakiti-bench-{}", std::process::id()));
    let settings = Settings {
        database_url: url.to_owned(),
        data_dir: dir.clone(),
        sync_feeds: false,
        sync_repos: false,
        evaluation: Evaluation::Ingest,
        ..Settings::default()
    };
    let state = open_state(settings).await?;
    let backend = state.store.backend();
    let t = Instant::now();
    import_feeds(&state, &args.feeds).await?;
    let import = t.elapsed();
    let evaluator = state.engine.evaluator();
    let baseline_bytes = state.store.size_bytes().await?;
    writeln!(
        log,
        "{backend}: imported {} feed files ({} advisories) in {:.1} s; store {:.1} MiB",
        args.feeds.len(),
        evaluator.advisory_count(),
        import.as_secs_f64(),
        mib(baseline_bytes)
    )?;

    let lists = sample::load_lists(&args.data.join("hosts/lists"))?;
    let covered = |s: &OsStream| evaluator.index().covers(s);
    let bases: Vec<&HostList> = lists
        .iter()
        .filter(|l| data_stream(l).is_some_and(|s| covered(&s)))
        .collect();
    if bases.is_empty() {
        bail!("no host list has a stream the imported feeds cover");
    }
    let total = args.hosts.max(args.reeval_hosts);
    let fleet = build_fleet(&lists, &covered, total, args.packages, 0.1, 20_261_124);
    let mut packages_total = 0usize;
    let mut reports: Vec<Report> = Vec::with_capacity(total);
    for (i, (stream, pkgs)) in fleet.into_iter().enumerate() {
        let base = bases[i % bases.len()];
        debug_assert_eq!(data_stream(base).as_ref(), Some(&stream));
        packages_total += pkgs.len();
        reports.push(report_for(i, base, pkgs));
    }
    let packages_per_host = packages_total as f64 / total.max(1) as f64;
    let topup = reports.split_off(args.hosts.min(reports.len()));

    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let feed_url = format!(
        "http://{}/feed/?{}",
        listener.local_addr()?,
        protocol5::query_string(Mode::StoreOnly)
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::serve(listener, state.clone(), async move {
        let _ = stopped.await;
    }));

    let mut phases = Vec::new();
    let first = phase(&state, &feed_url, "first", &reports, args.concurrency).await?;
    print_phase(log, backend, reports.len(), baseline_bytes, &first)?;
    phases.push(first);
    let mut rng = StdRng::seed_from_u64(4);
    let changed: Vec<Report> = reports.iter().map(|r| change(r, &mut rng)).collect();
    for name in ["changed", "unchanged"] {
        let p = phase(&state, &feed_url, name, &changed, args.concurrency).await?;
        print_phase(log, backend, reports.len(), baseline_bytes, &p)?;
        phases.push(p);
    }
    drop(changed);
    let _ = stop.send(());
    server.await.context("the server task panicked")??;

    let reevaluation = if args.reeval_hosts > 0 {
        let t = Instant::now();
        process_direct(&state, topup, args.concurrency).await?;
        let topup = t.elapsed();
        let hosts = args.hosts.max(args.reeval_hosts);
        // Every key stale but no answer changes (a feed re-imported as it was).
        set_all_feeds(&state, false).await?;
        set_all_feeds(&state, true).await?;
        let noop = state.engine.reevaluate().await?;
        writeln!(
            log,
            "{backend}: re-evaluation after every key went stale with no answer changing: \
             {:.2} s ({} package versions re-matched, {} answers changed, {} hosts refreshed)",
            noop.took.as_secs_f64(),
            noop.package_versions,
            noop.changed_answers,
            noop.hosts
        )?;
        // The worst case: every feed removed (every answer and every count changes), then
        // every feed back — the figure of the issue is the second re-evaluation.
        set_all_feeds(&state, false).await?;
        let off = state.engine.reevaluate().await?;
        writeln!(
            log,
            "{backend}: re-evaluation after every feed was disabled: {:.2} s ({} answers changed, \
             {} hosts refreshed)",
            off.took.as_secs_f64(),
            off.changed_answers,
            off.hosts
        )?;
        set_all_feeds(&state, true).await?;
        let t = Instant::now();
        state.engine.reload_advisories().await?;
        let reload = t.elapsed();
        let outcome = state.engine.reevaluate().await?;
        let size_bytes = state.store.size_bytes().await?;
        writeln!(
            log,
            "{backend}: re-evaluation of {hosts} hosts after every feed changed (every answer \
             rewritten): {:.2} s \
             ({} stale keys, {} package versions re-matched, {} answers changed, \
             {} host counts refreshed; \
             advisory reload {:.2} s, re-match {:.2} s, finding their hosts {:.2} s, \
             counts {:.2} s); store {:.1} MiB, \
             {:.2} MiB per 1,000 hosts \
             net of advisories (top-up of {} hosts by direct ingest::process took {:.1} s)",
            outcome.took.as_secs_f64(),
            outcome.keys,
            outcome.package_versions,
            outcome.changed_answers,
            outcome.hosts,
            outcome.reload.as_secs_f64(),
            outcome.rematch.as_secs_f64(),
            outcome.sets.as_secs_f64(),
            outcome.counts.as_secs_f64(),
            mib(size_bytes),
            per_thousand(size_bytes, baseline_bytes, hosts),
            hosts.saturating_sub(args.hosts),
            topup.as_secs_f64()
        )?;
        Some(Reevaluated {
            hosts,
            topup,
            reload,
            outcome,
            size_bytes,
        })
    } else {
        None
    };
    state.store.close().await;
    // `open_state` creates the data directory for SQLite; leave nothing behind when it is empty.
    let _ = std::fs::remove_dir(&dir);
    Ok(Figures {
        backend,
        advisories: evaluator.advisory_count(),
        import,
        baseline_bytes,
        packages_per_host,
        phases,
        reevaluation,
    })
}

/// MiB per 1,000 hosts of what the hosts added to the store.
fn per_thousand(size: u64, baseline: u64, hosts: usize) -> f64 {
    mib(size.saturating_sub(baseline)) * 1000.0 / hosts.max(1) as f64
}

fn print_phase(
    log: &mut impl Write,
    backend: &str,
    hosts: usize,
    baseline: u64,
    p: &Phase,
) -> Result<()> {
    writeln!(
        log,
        "{backend}: {:<9} {:>6} reports in {:>6.2} s = {:>7.0}/s, p50 {:>7.1} ms, p99 {:>7.1} ms; \
         store {:.1} MiB, {:.2} MiB per 1,000 hosts net of advisories",
        p.name,
        p.reports,
        p.took.as_secs_f64(),
        p.rate(),
        p.p50.as_secs_f64() * 1e3,
        p.p99.as_secs_f64() * 1e3,
        mib(p.size_bytes),
        per_thousand(p.size_bytes, baseline, hosts)
    )?;
    log.flush()?;
    Ok(())
}

/// Prints the summary table of several runs.
///
/// # Errors
/// `out` fails.
pub fn print_summary(figures: &[Figures], hosts: usize, out: &mut impl Write) -> Result<()> {
    writeln!(
        out,
        "\n{hosts} hosts over HTTP (protocol 5, ~{:.0} packages each), evaluation at ingest",
        figures.first().map_or(0.0, |f| f.packages_per_host)
    )?;
    writeln!(
        out,
        "{:<9} {:<9} {:>9} {:>8} {:>8} {:>12}",
        "backend", "phase", "reports/s", "p50 ms", "p99 ms", "MiB/1k hosts"
    )?;
    for f in figures {
        for p in &f.phases {
            writeln!(
                out,
                "{:<9} {:<9} {:>9.0} {:>8.1} {:>8.1} {:>12.2}",
                f.backend,
                p.name,
                p.rate(),
                p.p50.as_secs_f64() * 1e3,
                p.p99.as_secs_f64() * 1e3,
                per_thousand(p.size_bytes, f.baseline_bytes, hosts)
            )?;
        }
    }
    for f in figures {
        if let Some(r) = &f.reevaluation {
            writeln!(
                out,
                "{:<9} full re-evaluation of {} hosts: {:.2} s ({} keys, {} package versions, {} hosts)",
                f.backend,
                r.hosts,
                r.outcome.took.as_secs_f64(),
                r.outcome.keys,
                r.outcome.package_versions,
                r.outcome.hosts
            )?;
        }
    }
    Ok(())
}

/// The PostgreSQL admin URL from the environment, if set.
#[must_use]
pub fn postgres_admin_from_env() -> Option<String> {
    POSTGRES_ENVS
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
}

/// `pakiti bench ingest`: on `database` when given, else on SQLite in a temp directory and on
/// a fresh PostgreSQL database (dropped afterwards) when [`POSTGRES_ENVS`] names a server.
///
/// # Errors
/// A run fails (see [`measure`]).
pub async fn run(database: Option<String>, args: &IngestArgs, out: &mut impl Write) -> Result<()> {
    let mut figures = Vec::new();
    if let Some(url) = database {
        figures.push(measure(&url, args, out).await?);
    } else {
        let dir = std::env::temp_dir().join(format!("pakiti-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let url = format!("sqlite://{}", dir.join("pakiti.db").display());
        let sqlite = measure(&url, args, out).await;
        let _ = std::fs::remove_dir_all(&dir);
        figures.push(sqlite?);
        if let Some(admin) = postgres_admin_from_env() {
            let name = format!("pakiti_bench_{}", std::process::id());
            let url = Store::create_database(&admin, &name)
                .await
                .context("creating the benchmark database")?;
            let pg = measure(&url, args, out).await;
            Store::drop_database(&admin, &name)
                .await
                .context("dropping the benchmark database")?;
            figures.push(pg?);
        } else {
            writeln!(
                out,
                "(set PAKITI_BENCH_POSTGRES_URL to an admin URL to measure PostgreSQL too)"
            )?;
        }
    }
    print_summary(&figures, args.hosts, out)?;
    Ok(())
}
