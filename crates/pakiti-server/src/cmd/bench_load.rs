//! `pakiti bench load`: the server as its own process, loaded as real clients load it
//! (issue 17).
//!
//! [`bench_ingest`](super::bench_ingest) runs the server in the benchmark's own process and
//! posts over keep-alive connections; its figures mix the client's CPU with the server's. Here
//! the benchmark:
//!
//! 1. imports the full vendor files into a fresh store (SQLite in a temporary directory, or a
//!    fresh PostgreSQL database), in process, and closes it;
//! 2. starts `pakiti serve` (this executable) on that store as a child process — `--servers N`
//!    starts N of them on the one database, as a site that outgrew one machine would — and
//!    waits for `/readyz`;
//! 3. sends protocol-5 reports exactly as the Pakiti 3 client does: one fresh TCP connection
//!    per report, a raw body, `Connection: close`, `--concurrency` senders spread over the
//!    servers; the hosts' reports are generated as they are sent (deterministic per host), so
//!    50,000 hosts need no more memory than 500;
//! 4. per phase, reads from `/proc` the CPU time of the server processes and of every
//!    `postgres` process, and prints reports/s, p50/p99, CPU per report, the servers' RSS,
//!    the store's size and the rate over the first and last tenth of the phase. Phases: `first` (every host's first report, with its rate over the
//!    first and last tenth of the hosts: a flat rate means no per-report cost that grows with
//!    the fleet), `changed` (5 packages moved), `unchanged` (the same again), then the servers
//!    are restarted and `unchanged` and `changed` are sent again (`…/restart`: the cost right
//!    after a start);
//! 5. stops the servers and checks every host against a from-scratch evaluation: a fresh
//!    evaluator built from the store's advisories matches the host's last report in memory
//!    (the report-only path, no stored answer involved), and the CVE set must equal the
//!    host's open exposures and its CVE count. A mismatch fails the command.
//!
//! CPU is read as `utime + stime` of `/proc/PID/stat` in clock ticks of 10 ms (Linux's
//! `USER_HZ` on every architecture the project builds for). PostgreSQL's figure is every
//! process named `postgres` on the machine: run it where nothing else uses the database
//! server.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use pakiti_api::protocol5;
use pakiti_api::report::{Mode, Report};
use pakiti_core::stream::OsStream;
use pakiti_engine::ingest::{self, Origin};
use pakiti_store::Store;
use rand::SeedableRng;
use rand::rngs::StdRng;
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cmd::bench::{full_feed_files, jitter_versions, mib, percentile};
use crate::cmd::bench_ingest::{
    change, data_stream, import_feeds, postgres_admin_from_env, register_feed, report_for,
};
use crate::cmd::serve::open_state;
use crate::sample::{self, HostList};
use crate::settings::{Evaluation, Settings};

mod callgrind;
mod pages;
mod procfs;
mod scaleout;

use pages::pages;
use procfs::{cpu_of, postgres_cpu, rss_of};
use scaleout::{compared_paths, converge};

/// What to measure.
#[derive(Clone, Debug)]
pub struct LoadArgs {
    /// Distinct hosts.
    pub hosts: usize,
    /// Concurrent senders (each one connection at a time).
    pub concurrency: usize,
    /// Server processes on the one store.
    pub servers: usize,
    /// The shared data directory (host lists, vendor files).
    pub data: PathBuf,
    /// Feed files to import first: (kind, path).
    pub feeds: Vec<(String, PathBuf)>,
    /// Only host lists whose file name starts with this (`rhel_8`, `debian_12`).
    pub lists: Option<String>,
    /// Skip the from-scratch check.
    pub no_check: bool,
    /// `full` (the vendor files of [`FULL_FEEDS`](crate::cmd::bench::FULL_FEEDS), the
    /// default) or `demo` (the built-in trimmed feeds: seconds to import, for a smoke test).
    pub feed_set: String,
    /// Hold one vulnerability feed back and import it through the first server during the
    /// `changed` phase (the other servers ingest meanwhile); then check that every server
    /// converges to the same answers and that the re-evaluation ran once.
    pub feed_update: bool,
    /// Requests per page kind in the page-latency phase (0: no page phase).
    pub page_requests: usize,
    /// Run the servers under valgrind's callgrind, writing its profiles here, and print the
    /// instructions per report of each phase (deterministic, whatever else the machine does).
    pub callgrind: Option<PathBuf>,
    /// The `pakiti` executable the servers run (default: this one), to compare two builds
    /// with one load generator.
    pub server_exe: Option<PathBuf>,
}

impl LoadArgs {
    /// The full vendor files of [`FULL_FEEDS`](crate::cmd::bench::FULL_FEEDS).
    #[must_use]
    pub fn full(data: PathBuf, hosts: usize, concurrency: usize, servers: usize) -> Self {
        let feeds = full_feed_files(&data);
        LoadArgs {
            hosts,
            concurrency,
            servers,
            data,
            feeds,
            lists: None,
            no_check: false,
            feed_set: "full".to_owned(),
            feed_update: true,
            page_requests: 50,
            callgrind: None,
            server_exe: None,
        }
    }
}

/// One measured phase.
#[derive(Clone, Debug)]
pub struct LoadPhase {
    /// `first`, `changed`, `unchanged`, `unchanged/restart`, `changed/restart`.
    pub name: String,
    /// Reports sent (all answered `OK`).
    pub reports: usize,
    /// Wall time.
    pub took: Duration,
    /// Median latency (connect to last byte of the answer).
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// CPU of the server processes over the phase.
    pub server_cpu: Duration,
    /// CPU of every `postgres` process over the phase (zero on SQLite).
    pub db_cpu: Duration,
    /// CPU of this process (the senders) over the phase.
    pub client_cpu: Duration,
    /// The servers' resident memory at the end of the phase, summed, in bytes.
    pub rss: u64,
    /// The store's size at the end of the phase, in bytes.
    pub size_bytes: u64,
    /// Bytes PostgreSQL wrote to its write-ahead log over the phase (`None` on SQLite).
    pub wal_bytes: Option<u64>,
    /// Rate over the first and last tenth of the reports, by completion (phases of 10 or more).
    pub tenths: Option<(f64, f64)>,
    /// Instructions the servers executed over the phase, counted by callgrind (`--callgrind`).
    pub instructions: Option<u64>,
}

impl LoadPhase {
    fn rate(&self) -> f64 {
        self.reports as f64 / self.took.as_secs_f64().max(1e-9)
    }
    fn per_report(&self, cpu: Duration) -> f64 {
        cpu.as_secs_f64() * 1e3 / self.reports.max(1) as f64
    }
}

/// The reports of the fleet, made on demand: host `i`'s report in variant `v` (0 = first,
/// each later variant moves [`CHANGED_PACKAGES`](crate::cmd::bench_ingest::CHANGED_PACKAGES) more packages), the same every time.
struct Fleet {
    bases: Vec<HostList>,
}

impl Fleet {
    fn report(&self, i: usize, variant: u64) -> Report {
        let base = &self.bases[i % self.bases.len()];
        let mut rng = StdRng::seed_from_u64(20_261_206 ^ (i as u64).wrapping_mul(0x9E37_79B9));
        let mut pkgs = base.packages.clone();
        jitter_versions(&mut pkgs, 0.1, &mut rng);
        let mut report = report_for(i, base, pkgs);
        for v in 1..=variant {
            report = change(&report, &mut StdRng::seed_from_u64((i as u64) << 8 | v));
        }
        report
    }
}

/// The running servers.
struct Servers {
    children: Vec<Child>,
    /// Where callgrind writes its profiles, when the servers run under it.
    callgrind: Option<PathBuf>,
    addrs: Vec<SocketAddr>,
    log: PathBuf,
}

impl Servers {
    fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }
    fn cpu(&self) -> Duration {
        self.pids().into_iter().filter_map(cpu_of).sum()
    }
    fn rss(&self) -> u64 {
        self.pids().into_iter().map(rss_of).sum()
    }

    /// Starts `n` servers on the store at `url` (each on its own free port), with [`settings`]
    /// given through the environment and `dir` as their data directory.
    /// With `sync_first`, the first server syncs due feeds on its tick (the feed update is
    /// imported through it); the others never do.
    /// With `args.callgrind`, each runs under `valgrind --tool=callgrind`; each phase zeroes
    /// the counts at its start and dumps them at its end.
    async fn start(
        url: &str,
        dir: &Path,
        log: &Path,
        args: &LoadArgs,
        sync_first: bool,
    ) -> Result<Servers> {
        let n = args.servers;
        let exe = match &args.server_exe {
            Some(exe) => exe.clone(),
            None => std::env::current_exe().context("finding this executable")?,
        };
        let mut children = Vec::new();
        let mut addrs = Vec::new();
        for k in 0..n {
            // A free port: bind, read it, release it for the server.
            let addr = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?;
            let out = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)?;
            let mut command = match &args.callgrind {
                Some(profiles) => {
                    std::fs::create_dir_all(profiles)?;
                    let mut c = Command::new("valgrind");
                    c.arg("--tool=callgrind")
                        .arg(format!(
                            "--callgrind-out-file={}/callgrind.out.%p",
                            profiles.display()
                        ))
                        .arg(&exe);
                    c
                }
                None => Command::new(&exe),
            };
            let child = command
                .arg("serve")
                // What `settings` says, and no settings file of the user's.
                .env_remove("PAKITI_CONFIG")
                .env("PAKITI_DATABASE_URL", url)
                .env("PAKITI_DATA_DIR", dir)
                .env(
                    "PAKITI_SYNC_FEEDS",
                    if sync_first && k == 0 {
                        "true"
                    } else {
                        "false"
                    },
                )
                .env("PAKITI_SYNC_REPOS", "false")
                .env("PAKITI_EVALUATION", "ingest")
                .env("PAKITI_LISTEN", addr.to_string())
                .env(
                    "PAKITI_LOG",
                    std::env::var("PAKITI_LOG").unwrap_or("warn".into()),
                )
                .stdin(Stdio::null())
                .stdout(out.try_clone()?)
                .stderr(out)
                .spawn()
                .with_context(|| format!("starting server {k}"))?;
            children.push(child);
            addrs.push(addr);
        }
        let mut servers = Servers {
            children,
            callgrind: args.callgrind.clone(),
            addrs,
            log: log.to_owned(),
        };
        servers.wait_ready().await?;
        Ok(servers)
    }

    async fn wait_ready(&mut self) -> Result<()> {
        // Under valgrind, loading the advisories takes minutes.
        let wait = if self.callgrind.is_some() { 1800 } else { 300 };
        let deadline = Instant::now() + Duration::from_secs(wait);
        for (addr, child) in self.addrs.iter().zip(&mut self.children) {
            loop {
                if let Some(status) = child.try_wait()? {
                    bail!(
                        "the server for {addr} exited with {status} (its log: {})",
                        self.log.display()
                    );
                }
                if let Ok((status, _)) = request(*addr, "GET", "/readyz", &[]).await
                    && status == 200
                {
                    break;
                }
                if Instant::now() > deadline {
                    bail!(
                        "the server on {addr} was not ready within {wait} s (its log: {})",
                        self.log.display()
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }

    /// Under callgrind: zeroes every server's counts.
    fn count_instructions(&self) -> Result<()> {
        match &self.callgrind {
            Some(_) => callgrind::zero(&self.pids()),
            None => Ok(()),
        }
    }

    /// Under callgrind: the instructions the servers ran since [`count_instructions`].
    ///
    /// [`count_instructions`]: Servers::count_instructions
    fn counted_instructions(&self) -> Result<Option<u64>> {
        self.callgrind
            .as_deref()
            .map(|dir| callgrind::dump_total(dir, &self.pids()))
            .transpose()
    }

    /// Stops every server with SIGTERM (a clean shutdown) and waits for it.
    fn stop(&mut self) -> Result<()> {
        for c in &self.children {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
        }
        for c in &mut self.children {
            let status = c.wait()?;
            if !status.success() {
                bail!(
                    "a server exited with {status} (its log: {})",
                    self.log.display()
                );
            }
        }
        self.children.clear();
        Ok(())
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One HTTP/1.1 request on a fresh connection, `Connection: close`: the status and the body.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<(u16, Vec<u8>)> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await?;
    s.write_all(body).await?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await?;
    let status = answer
        .get(9..12)
        .and_then(|c| std::str::from_utf8(c).ok()?.parse().ok())
        .with_context(|| format!("no HTTP status in {:?}", String::from_utf8_lossy(&answer)))?;
    let body = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or_else(Vec::new, |p| answer[p + 4..].to_vec());
    Ok((status, body))
}

/// Sends host `i`'s report in `variant` for every `i`, and measures.
async fn phase(
    name: &str,
    fleet: &Arc<Fleet>,
    variant: u64,
    args: &LoadArgs,
    servers: &Servers,
    store: &Store,
) -> Result<LoadPhase> {
    let path = format!("/feed/?{}", protocol5::query_string(Mode::StoreOnly));
    let next = Arc::new(AtomicUsize::new(0));
    let wal0 = store.wal_bytes().await?;
    // The database's CPU: PostgreSQL's processes; SQLite runs inside the server.
    let db_cpu = || {
        if store.is_sqlite() {
            Duration::ZERO
        } else {
            postgres_cpu()
        }
    };
    let (cpu0, db0, me0) = (
        servers.cpu(),
        db_cpu(),
        cpu_of(std::process::id()).unwrap_or_default(),
    );
    servers.count_instructions()?;
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency.max(1) {
        let (fleet, next, path, addrs) = (
            fleet.clone(),
            next.clone(),
            path.clone(),
            servers.addrs.clone(),
        );
        let hosts = args.hosts;
        tasks.spawn(async move {
            let mut done: Vec<(usize, Duration, Duration)> = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= hosts {
                    return Ok::<_, anyhow::Error>(done);
                }
                let body = protocol5::render(&fleet.report(i, variant));
                let addr = addrs[i % addrs.len()];
                let t = Instant::now();
                let (status, answer) = request(addr, "POST", &path, body.as_bytes())
                    .await
                    .with_context(|| format!("posting host {i}'s report to {addr}"))?;
                let latency = t.elapsed();
                if status != 200 || !String::from_utf8_lossy(&answer).contains("OK") {
                    bail!(
                        "host {i}'s report answered {status}: {}",
                        String::from_utf8_lossy(&answer).trim()
                    );
                }
                done.push((i, latency, start.elapsed()));
            }
        });
    }
    let mut all = Vec::with_capacity(args.hosts);
    while let Some(r) = tasks.join_next().await {
        all.extend(r.context("a sender panicked")??);
    }
    let took = start.elapsed();
    let instructions = servers.counted_instructions()?;
    let (cpu1, db1, me1) = (
        servers.cpu(),
        db_cpu(),
        cpu_of(std::process::id()).unwrap_or_default(),
    );
    let wal1 = store.wal_bytes().await?;
    let mut latencies: Vec<Duration> = all.iter().map(|r| r.1).collect();
    latencies.sort_unstable();
    // The rate of the first and the last tenth, by completion time.
    let mut ends: Vec<Duration> = all.iter().map(|r| r.2).collect();
    ends.sort_unstable();
    let tenth = ends.len() / 10;
    let tenths = (tenth > 0).then(|| {
        let first = tenth as f64 / ends[tenth - 1].as_secs_f64().max(1e-9);
        let last_span = ends[ends.len() - 1].saturating_sub(ends[ends.len() - 1 - tenth]);
        (first, tenth as f64 / last_span.as_secs_f64().max(1e-9))
    });
    Ok(LoadPhase {
        name: name.to_owned(),
        reports: all.len(),
        took,
        p50: percentile(&latencies, 50),
        p99: percentile(&latencies, 99),
        server_cpu: cpu1.saturating_sub(cpu0),
        db_cpu: db1.saturating_sub(db0),
        client_cpu: me1.saturating_sub(me0),
        rss: servers.rss(),
        size_bytes: store.size_bytes().await.context("measuring the store")?,
        wal_bytes: wal0.zip(wal1).map(|(a, b)| b.saturating_sub(a)),
        tenths,
        instructions,
    })
}

fn print_phase(out: &mut impl Write, backend: &str, baseline: u64, hosts: usize, p: &LoadPhase) {
    let _ = writeln!(
        out,
        "{backend:<8} {:<17} {:>6} in {:>7.1} s = {:>6.0}/s  p50 {:>6.1} ms  p99 {:>6.1} ms  \
         CPU/report: server {:>6.2} ms  db {:>6.2} ms  (senders {:.2} ms)  RSS {:>5.0} MiB  \
         store {:>6.1} MiB ({:.2} MiB/1k hosts){}",
        p.name,
        p.reports,
        p.took.as_secs_f64(),
        p.rate(),
        p.p50.as_secs_f64() * 1e3,
        p.p99.as_secs_f64() * 1e3,
        p.per_report(p.server_cpu),
        p.per_report(p.db_cpu),
        p.per_report(p.client_cpu),
        mib(p.rss),
        mib(p.size_bytes),
        mib(p.size_bytes.saturating_sub(baseline)) * 1000.0 / hosts.max(1) as f64,
        p.tenths.map_or(String::new(), |(a, b)| format!(
            "; first tenth {a:.0}/s, last tenth {b:.0}/s ({:+.0}%)",
            (b / a - 1.0) * 100.0
        )),
    );
    if let Some(ir) = p.instructions {
        let _ = writeln!(
            out,
            "{backend:<8} {:<17} callgrind: {:.2} M instructions/report (servers)",
            p.name,
            ir as f64 / 1e6 / p.reports.max(1) as f64
        );
    }
    if let Some(wal) = p.wal_bytes {
        // What the database must write per report: the WAL (the table and index pages it
        // describes are written again at checkpoints, at most once per checkpoint each).
        let per = wal as f64 / p.reports.max(1) as f64;
        let _ = writeln!(
            out,
            "{backend:<8} {:<17} WAL {:.1} KiB/report ({:.1} MiB/s at this rate; {:.0} 8-KiB \
             writes/s)",
            p.name,
            per / 1024.0,
            per * p.rate() / 1_048_576.0,
            per * p.rate() / 8192.0
        );
    }
    let _ = out.flush();
}

/// The settings the servers run with (`Servers::start` gives them the same through the
/// environment) and the from-scratch check opens the store with.
fn settings(url: &str, dir: &Path) -> Settings {
    Settings {
        database_url: url.to_owned(),
        data_dir: dir.to_owned(),
        sync_feeds: false,
        sync_repos: false,
        evaluation: Evaluation::Ingest,
        ..Settings::default()
    }
}

/// The from-scratch check: every host's last report (`variant`) matched in memory by a fresh
/// evaluator; returns the hosts checked and the mismatches (described).
async fn check(
    url: &str,
    dir: &Path,
    fleet: &Fleet,
    variant: u64,
    hosts: usize,
) -> Result<(usize, Vec<String>)> {
    let state = open_state(settings(url, dir)).await?;
    let mut open: std::collections::HashMap<i64, Vec<String>> = std::collections::HashMap::new();
    for (host, cve) in state.store.open_exposures().await? {
        open.entry(host).or_default().push(cve);
    }
    let origin = Origin {
        received_at: OffsetDateTime::now_utc(),
        peer: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        client_dn: None,
        trusted_proxy: false,
    };
    let mut bad = Vec::new();
    for i in 0..hosts {
        let mut report = fleet.report(i, variant);
        report.mode = Mode::ReportOnly;
        let outcome = ingest::process(&state.engine, &report, &origin)
            .await
            .map_err(|e| anyhow::anyhow!("evaluating {}: {e}", report.hostname))?;
        let want = outcome.cves;
        let Some(host) = state.store.get_host_by_name(&report.hostname).await? else {
            bad.push(format!("{}: not in the store", report.hostname));
            continue;
        };
        let mut have = open.remove(&host.id).unwrap_or_default();
        have.sort();
        if have != want || usize::try_from(host.counts.cves).ok() != Some(want.len()) {
            let extra: Vec<&String> = have.iter().filter(|c| !want.contains(c)).collect();
            let missing: Vec<&String> = want.iter().filter(|c| !have.contains(c)).collect();
            bad.push(format!(
                "{}: cve_count {}, {} open exposures, {} from scratch; stored but not from \
                 scratch {extra:?}, from scratch but not stored {missing:?}",
                report.hostname,
                host.counts.cves,
                have.len(),
                want.len()
            ));
        }
    }
    state.store.close().await;
    Ok((hosts, bad))
}

/// `GET path` on a fresh connection: the body of a 200 answer.
pub(super) async fn get_ok(addr: SocketAddr, path: &str) -> Result<Vec<u8>> {
    let (status, body) = request(addr, "GET", path, &[]).await?;
    if status != 200 {
        bail!(
            "GET {path} on {addr} answered {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        );
    }
    Ok(body)
}

/// The whole run on the store at `url` (empty); `dir` holds the servers' settings and logs.
async fn measure(url: &str, dir: &Path, args: &LoadArgs, out: &mut impl Write) -> Result<()> {
    let state = open_state(settings(url, dir)).await?;
    let backend = state.store.backend();
    let t = Instant::now();
    let mut feeds = match args.feed_set.as_str() {
        "full" => args.feeds.clone(),
        "demo" => crate::demo::write_feed_files(&dir.join("demo-feeds"))?,
        other => bail!("--feeds {other:?}: demo or full"),
    };
    // The feed update: one vulnerability feed held back, imported through the first server
    // while the fleet reports (full: the DLA list, LTS advisories for Debian hosts the DSA
    // list already covers; demo: the Alma OSV file, for hosts RHEL 8 OVAL already covers).
    let update = if args.feed_update {
        let pos = feeds
            .iter()
            .position(|(kind, path)| path.ends_with("DLA/list") || kind == "osv")
            .context("no feed of the set can be held back for the feed update")?;
        Some(feeds.remove(pos))
    } else {
        None
    };
    import_feeds(&state, &feeds).await?;
    let evaluator = state.engine.evaluator();
    let baseline = state.store.size_bytes().await?;
    writeln!(
        out,
        "{backend}: imported {} feed files ({} advisories) in {:.1} s; store {:.1} MiB{}",
        feeds.len(),
        evaluator.advisory_count(),
        t.elapsed().as_secs_f64(),
        mib(baseline),
        update.as_ref().map_or(String::new(), |(_, p)| format!(
            "; held back for the feed update: {}",
            p.display()
        ))
    )?;
    let covered = |s: &OsStream| evaluator.index().covers(s);
    let bases: Vec<HostList> = sample::load_lists(&args.data.join("hosts/lists"))?
        .into_iter()
        .filter(|l| data_stream(l).is_some_and(|s| covered(&s)))
        .filter(|l| args.lists.as_ref().is_none_or(|p| l.name.starts_with(p)))
        .collect();
    if bases.is_empty() {
        bail!("no host list has a stream the imported feeds cover (and matches --lists)");
    }
    let per_host =
        bases.iter().map(|b| b.packages.len()).sum::<usize>() as f64 / bases.len() as f64;
    drop(evaluator);
    state.store.close().await;
    drop(state);
    let fleet = Arc::new(Fleet { bases });
    let log = dir.join("servers.log");
    let store = pakiti_store::open(url).await?;
    writeln!(
        out,
        "{backend}: {} hosts from {} host lists (~{per_host:.0} packages each), {} senders, \
         one connection per report, {} server process(es); server log {}",
        args.hosts,
        fleet.bases.len(),
        args.concurrency,
        args.servers,
        log.display()
    )?;
    let sync_first = update.is_some();
    let mut servers = Servers::start(url, dir, &log, args, sync_first).await?;
    writeln!(
        out,
        "{backend}: servers ready, RSS {:.0} MiB",
        mib(servers.rss())
    )?;
    let p = phase("first", &fleet, 0, args, &servers, &store).await?;
    print_phase(out, backend, baseline, args.hosts, &p);
    // The update is registered now: the first server imports it on its next tick (within
    // 30 s), while the `changed` phase runs.
    let update_feed = match &update {
        Some((kind, path)) => {
            let name = "bench-feed-update".to_owned();
            register_feed(&store, name.clone(), kind, path).await?;
            Some(name)
        }
        None => None,
    };
    let p = phase("changed", &fleet, 1, args, &servers, &store).await?;
    print_phase(out, backend, baseline, args.hosts, &p);
    if let Some(feed) = &update_feed {
        let paths = compared_paths(&fleet, args.hosts);
        converge(&store, &servers, feed, &paths, backend, out).await?;
    }
    let p = phase("unchanged", &fleet, 1, args, &servers, &store).await?;
    print_phase(out, backend, baseline, args.hosts, &p);
    if args.page_requests > 0 {
        pages(
            servers.addrs[0],
            &fleet,
            args.hosts,
            args.page_requests,
            backend,
            out,
        )
        .await?;
        writeln!(
            out,
            "{backend}: RSS with every page warm {:.0} MiB ({} server(s))",
            mib(servers.rss()),
            args.servers
        )?;
        let text =
            String::from_utf8_lossy(&get_ok(servers.addrs[0], "/metrics").await?).into_owned();
        let parts = scaleout::fleet_index_parts(&text);
        let total: f64 = parts.iter().map(|p| p.1).sum();
        let list: Vec<String> = parts
            .iter()
            .map(|(p, b)| format!("{p} {:.1}", b / 1_048_576.0))
            .collect();
        writeln!(
            out,
            "{backend}: fleet index of server 0 ~{:.0} MiB (estimated; MiB by part: {})",
            total / 1_048_576.0,
            list.join(", ")
        )?;
    }
    servers.stop()?;
    let t = Instant::now();
    let mut servers = Servers::start(url, dir, &log, args, sync_first).await?;
    let ready = t.elapsed();
    // The first page after a start that needs the fleet index.
    let t = Instant::now();
    get_ok(servers.addrs[0], "/cves").await?;
    let first_page = t.elapsed();
    writeln!(
        out,
        "{backend}: servers restarted and ready in {:.1} s, RSS {:.0} MiB; first /cves after \
         the start {:.0} ms",
        ready.as_secs_f64(),
        mib(servers.rss()),
        first_page.as_secs_f64() * 1e3
    )?;
    for (name, variant) in [("unchanged/restart", 1), ("changed/restart", 2)] {
        let p = phase(name, &fleet, variant, args, &servers, &store).await?;
        print_phase(out, backend, baseline, args.hosts, &p);
    }
    servers.stop()?;
    store.close().await;
    if args.no_check {
        writeln!(out, "{backend}: from-scratch check skipped (--no-check)")?;
        return Ok(());
    }
    let t = Instant::now();
    let (checked, bad) = check(url, dir, &fleet, 2, args.hosts).await?;
    for b in bad.iter().take(10) {
        writeln!(out, "{backend}: MISMATCH {b}")?;
    }
    writeln!(
        out,
        "{backend}: from-scratch check: {checked} hosts, {} mismatches ({:.1} s)",
        bad.len(),
        t.elapsed().as_secs_f64()
    )?;
    if !bad.is_empty() {
        bail!(
            "{} of {checked} hosts differ from a from-scratch evaluation",
            bad.len()
        );
    }
    Ok(())
}

/// `pakiti bench load`: on `database` when given (an empty store), else SQLite in a
/// temporary directory and, when `postgres` is set, a fresh PostgreSQL database too (dropped
/// afterwards).
///
/// # Errors
/// A server does not start, a report is refused, or a host differs from a from-scratch
/// evaluation.
pub async fn run(
    database: Option<String>,
    postgres: bool,
    args: &LoadArgs,
    out: &mut impl Write,
) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("pakiti-bench-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = async {
        if let Some(url) = database {
            return measure(&url, &dir, args, out).await;
        }
        let url = format!("sqlite://{}", dir.join("pakiti.db").display());
        measure(&url, &dir, args, out).await?;
        if postgres {
            let Some(admin) = postgres_admin_from_env() else {
                bail!("--postgres needs PAKITI_BENCH_POSTGRES_URL (or PAKITI_TEST_POSTGRES_URL)");
            };
            let name = format!("pakiti_bench_load_{}", std::process::id());
            let url = Store::create_database(&admin, &name)
                .await
                .context("creating the benchmark database")?;
            let r = measure(&url, &dir, args, out).await;
            Store::drop_database(&admin, &name)
                .await
                .context("dropping the benchmark database")?;
            r?;
        }
        Ok(())
    }
    .await;
    if result.is_ok() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}
