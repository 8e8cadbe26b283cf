//! `pakiti bench web`: server time of the hosts page and the CVE pages with 10,000 hosts in
//! the store, on SQLite and PostgreSQL.
//!
//! The store is filled the way `bench ingest` fills it (hosts built from the real host lists,
//! evaluated by `ingest::process`), then each page is requested in turn over loopback HTTP
//! from one client, so the figures are server time plus a loopback round trip (an upper
//! bound of server time). The fleet index is built once before timing, as a running server
//! has it.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use pakiti_core::stream::OsStream;
use pakiti_store::NewCveTag;
use pakiti_store::Store;
use tokio::net::TcpListener;

use crate::cmd::bench::{build_fleet, full_feed_files};
use crate::cmd::bench_ingest::{
    data_stream, import_feeds, postgres_admin_from_env, process_direct, report_for,
};
use crate::cmd::serve::open_state;
use crate::sample::{self, HostList};
use crate::settings::{Evaluation, Settings};

/// What to measure.
#[derive(Clone, Debug)]
pub struct WebArgs {
    /// Hosts in the store.
    pub hosts: usize,
    /// Packages per host.
    pub packages: usize,
    /// Requests per page.
    pub requests: usize,
    /// The shared data directory (host lists, full feeds).
    pub data: PathBuf,
    /// `demo` (the trimmed fixtures) or `full` (the full vendor files).
    pub feeds: String,
}

/// One page's timings.
#[derive(Clone, Debug)]
pub struct PageFigures {
    /// Backend.
    pub backend: &'static str,
    /// Path requested.
    pub path: String,
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Response size.
    pub bytes: usize,
}

fn percentile(v: &[Duration], q: usize) -> Duration {
    let mut v = v.to_vec();
    v.sort_unstable();
    v[((v.len() * q) / 100).min(v.len() - 1)]
}

/// Fills a store at `url` and times the pages.
///
/// # Errors
/// The store cannot be filled or a page fails.
pub async fn measure(url: &str, args: &WebArgs, log: &mut impl Write) -> Result<Vec<PageFigures>> {
    let dir = std::env::temp_dir().join(format!("pakiti-bench-web-{}", std::process::id()));
    let settings = Settings {
        database_url: url.to_owned(),
        data_dir: dir.clone(),
        sync_feeds: false,
        evaluation: Evaluation::Ingest,
        ..Settings::default()
    };
    let state = open_state(settings).await?;
    let backend = state.store.backend();
    let files: Vec<(String, PathBuf)> = match args.feeds.as_str() {
        "demo" => crate::demo::write_feed_files(&dir.join("demo-feeds"))?,
        "full" => full_feed_files(&args.data),
        other => bail!("--feeds {other:?}: demo or full"),
    };
    let t = Instant::now();
    import_feeds(&state, &files).await?;
    writeln!(
        log,
        "{backend}: imported {} feed files ({} advisories) in {:.1} s",
        files.len(),
        state.engine.evaluator().advisory_count(),
        t.elapsed().as_secs_f64()
    )?;
    let evaluator = state.engine.evaluator();
    let lists = sample::load_lists(&args.data.join("hosts/lists"))?;
    let covered = |s: &OsStream| evaluator.index().covers(s);
    let bases: Vec<&HostList> = lists
        .iter()
        .filter(|l| data_stream(l).is_some_and(|s| covered(&s)))
        .collect();
    if bases.is_empty() {
        bail!("no host list has a stream the imported feeds cover");
    }
    let fleet = build_fleet(&lists, &covered, args.hosts, args.packages, 0.1, 20_261_124);
    let reports = fleet
        .into_iter()
        .enumerate()
        .map(|(i, (_, pkgs))| report_for(i, bases[i % bases.len()], pkgs))
        .collect();
    let t = Instant::now();
    process_direct(&state, reports, 4).await?;
    writeln!(
        log,
        "{backend}: stored and evaluated {} hosts in {:.1} s",
        args.hosts,
        t.elapsed().as_secs_f64()
    )?;
    let t = Instant::now();
    let index = state.engine.refresh_fleet_now().await?;
    writeln!(
        log,
        "{backend}: fleet index of {} hosts built in {:.2} s ({} findings); peak RSS so far {:.0} MiB",
        index.host_count(),
        t.elapsed().as_secs_f64(),
        index.finding_count(),
        crate::cmd::bench::peak_rss_mib().unwrap_or(0.0)
    )?;
    let cves = index.cves(&pakiti_store::HostScope::All);
    let Some(top) = cves.first().map(|c| c.cve.clone()) else {
        bail!("no CVE in the fleet");
    };
    let median = cves[cves.len() / 2].cve.clone();
    state
        .store
        .create_cve_tag(&NewCveTag {
            cve: top.clone(),
            tag: "Critical".into(),
            reason: "bench".into(),
            info_url: None,
            enabled: true,
            author: "bench".into(),
        })
        .await?;
    state.engine.refresh_fleet_now().await?;

    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::serve(listener, state.clone(), async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let paths = [
        "/hosts".to_owned(),
        "/hosts?sort=-cves&vulnerable=true".to_owned(),
        "/hosts?search=host1&os=linux&tld=org,com,cz&sort=-critical".to_owned(),
        format!("/hosts?cve={top}"),
        "/hosts?cve_tag=Critical&sort=-last_report".to_owned(),
        "/hosts?offset=9000".to_owned(),
        "/api/v1/hosts?limit=100".to_owned(),
        "/cves".to_owned(),
        format!("/cves/{top}"),
        format!("/cves/{median}"),
        "/api/v1/cves".to_owned(),
        "/tags/Critical".to_owned(),
    ];
    let mut out = Vec::new();
    for path in paths {
        let mut times = Vec::with_capacity(args.requests);
        let mut bytes = 0;
        for i in 0..args.requests + 5 {
            let t = Instant::now();
            let r = client
                .get(format!("{base}{path}"))
                .send()
                .await
                .with_context(|| format!("GET {path}"))?;
            let status = r.status();
            let body = r.bytes().await?;
            let took = t.elapsed();
            if !status.is_success() {
                bail!("GET {path}: {status}");
            }
            bytes = body.len();
            // The first few warm caches and connections.
            if i >= 5 {
                times.push(took);
            }
        }
        let f = PageFigures {
            backend,
            p50: percentile(&times, 50),
            p99: percentile(&times, 99),
            bytes,
            path,
        };
        writeln!(
            log,
            "{backend}: {:<60} p50 {:>6.1} ms  p99 {:>6.1} ms  {:>8} bytes",
            f.path,
            f.p50.as_secs_f64() * 1e3,
            f.p99.as_secs_f64() * 1e3,
            f.bytes
        )?;
        out.push(f);
    }
    let _ = stop.send(());
    server.await.context("the server task panicked")??;
    state.store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(out)
}

/// `pakiti bench web`: on `database` when given, else SQLite in a temp directory and, when
/// PAKITI_BENCH_POSTGRES_URL (or PAKITI_TEST_POSTGRES_URL) is set, a fresh PostgreSQL database.
///
/// # Errors
/// A run fails.
pub async fn run(database: Option<String>, args: &WebArgs, out: &mut impl Write) -> Result<()> {
    let mut all = Vec::new();
    if let Some(url) = database {
        all.extend(measure(&url, args, out).await?);
    } else {
        let dir = std::env::temp_dir().join(format!("pakiti-bench-webdb-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let url = format!("sqlite://{}", dir.join("pakiti.db").display());
        let sqlite = measure(&url, args, out).await;
        let _ = std::fs::remove_dir_all(&dir);
        all.extend(sqlite?);
        if let Some(admin) = postgres_admin_from_env() {
            let name = format!("pakiti_bench_web_{}", std::process::id());
            let url = Store::create_database(&admin, &name).await?;
            let pg = measure(&url, args, out).await;
            Store::drop_database(&admin, &name).await?;
            all.extend(pg?);
        } else {
            writeln!(
                out,
                "(set PAKITI_BENCH_POSTGRES_URL to an admin URL to measure PostgreSQL too)"
            )?;
        }
    }
    let worst = all.iter().map(|f| f.p99).max().unwrap_or_default();
    writeln!(
        out,
        "worst p99 over every page and backend: {:.1} ms (target: under 50 ms with {} hosts)",
        worst.as_secs_f64() * 1e3,
        args.hosts
    )?;
    Ok(())
}
