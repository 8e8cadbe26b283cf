//! Issue #15 "Load": a real `pakiti serve` process on loopback and 2,000 agents at once, each
//! on a fresh connection of its own (from its own 127.x.y.z address, as a fleet's hosts
//! are), each sending one real-size report (the real Debian 12 host list of
//! `shared/data/hosts/lists` plus a host-specific run of real packages of the bookworm
//! `Packages` index: 1,537–1,836 packages). Every acknowledged report must be in the store with
//! all its packages; every refusal must be 429 or 503 with `Retry-After` (the agent retries
//! after it, a few times); no connection may fail; `/healthz` must answer within a second
//! throughout. The figures (acknowledged, refused, retries, `/healthz` latency, the server's
//! peak RSS, durations) are printed. On SQLite and, with `PAKITI_TEST_POSTGRES_URL`,
//! PostgreSQL, with the same number of clients.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pakiti_api::report::{Package, Report};
use pakiti_test_support::{databases, shared_data};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

use crate::crash::serve;
use crate::support::report;

/// Agents sending at once.
const CLIENTS: usize = 2_000;
/// Times an agent sends again after a refusal with `Retry-After`.
const RETRIES: usize = 3;
/// The longest `/healthz` may take to answer on a machine of its own.
const HEALTHZ_BOUND: Duration = Duration::from_secs(1);

/// [`HEALTHZ_BOUND`] on this machine: stretched by how many times over its CPUs other
/// processes already keep it busy (the 1-minute load average before the test starts), since no
/// server answers within a second when it gets a seventh of a CPU. On an idle machine (CI) it
/// is the bound itself.
fn healthz_bound() -> Duration {
    let load: f64 = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    #[expect(clippy::cast_precision_loss, reason = "a handful of CPUs")]
    let busy = load / cpus as f64;
    HEALTHZ_BOUND.mul_f64(busy.max(1.0))
}

/// One HTTP/1.1 exchange on a fresh connection from `source` (closed afterwards): status,
/// `Retry-After` (seconds) and body.
pub(crate) async fn exchange(
    server: SocketAddr,
    source: Option<IpAddr>,
    head: &str,
    body: &[u8],
) -> std::io::Result<(u16, Option<u64>, String)> {
    let socket = TcpSocket::new_v4()?;
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let mut tcp = socket
        .connect(server)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("connect: {e}")))?;
    let request = format!(
        "{head} HTTP/1.1\r\nHost: {server}\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await?;
    tcp.write_all(body)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("send: {e}")))?;
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("answer: {e}")))?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (headers, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = headers
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line: {text:?}")))?;
    let retry_after = headers.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("retry-after")
            .then(|| v.trim().parse().ok())?
    });
    Ok((status, retry_after, body.to_owned()))
}

/// `GET /healthz` on a fresh connection, blocking: the answer's text, or the error's.
fn healthz(server: SocketAddr) -> String {
    use std::io::{Read, Write};
    let run = || -> std::io::Result<String> {
        let mut tcp = std::net::TcpStream::connect_timeout(&server, Duration::from_secs(10))?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            tcp,
            "GET /healthz HTTP/1.1\r\nHost: {server}\r\nConnection: close\r\n\r\n"
        )?;
        let mut answer = String::new();
        tcp.read_to_string(&mut answer)?;
        Ok(answer)
    };
    run().unwrap_or_else(|e| e.to_string())
}

/// The real packages of Debian bookworm's main `Packages` index (amd64), as (name, version,
/// architecture), first of each name.
fn bookworm_packages() -> Vec<(String, String, String)> {
    let raw = std::fs::read(
        shared_data()
            .join("repos/apt/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.xz"),
    )
    .unwrap();
    let text = String::from_utf8(pakiti_feeds::decompress::to_vec(&raw).unwrap()).unwrap();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let field = |k: &str| {
            stanza
                .lines()
                .find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_owned()))
        };
        if let (Some(n), Some(v), Some(a)) =
            (field("Package:"), field("Version:"), field("Architecture:"))
            && seen.insert(n.clone())
        {
            out.push((n, v, a));
        }
    }
    out
}

/// The agents' reports: the real Debian 12 host list plus 1,100–1,399 further real bookworm
/// packages, a different run of the index for each host.
fn reports() -> Vec<Report> {
    let base = report("debian_12", "");
    let names: BTreeSet<&str> = base.packages.iter().map(|p| p.name.as_str()).collect();
    let extra: Vec<_> = bookworm_packages()
        .into_iter()
        .filter(|(n, _, _)| !names.contains(n.as_str()))
        .collect();
    assert!(extra.len() > 20_000, "{}", extra.len());
    (0..CLIENTS)
        .map(|i| {
            let mut r = base.clone();
            r.hostname = format!("load{i:04}.example.org");
            let n = 1_100 + i % 300;
            let start = (i * 37) % (extra.len() - n);
            r.packages.extend(
                extra[start..start + n]
                    .iter()
                    .map(|(n, v, a)| Package::new(n.clone(), v.clone(), a.clone())),
            );
            r
        })
        .collect()
}

/// What one agent went through.
#[derive(Debug, Default)]
struct Outcome {
    acknowledged: bool,
    /// Refusals: status and `Retry-After`.
    refused: Vec<(u16, Option<u64>)>,
    /// Connections that broke before an answer (the agent tried again a second later).
    broken: Vec<String>,
    /// Answers other than 2xx/429/503, refusals without `Retry-After`, giving up.
    failures: Vec<String>,
}

/// One agent: sends its report, and again after `Retry-After` when refused, or a second
/// after a broken connection, as agents do.
async fn agent(server: SocketAddr, source: IpAddr, body: Arc<Vec<u8>>) -> Outcome {
    let mut out = Outcome::default();
    for _ in 0..=RETRIES {
        match exchange(server, Some(source), "POST /feed/?protocol=5", &body).await {
            Ok((s, _, _)) if (200..300).contains(&s) => {
                out.acknowledged = true;
                return out;
            }
            Ok((s @ (429 | 503), retry, text)) => {
                out.refused.push((s, retry));
                let Some(secs) = retry else {
                    out.failures
                        .push(format!("{s} without Retry-After: {text}"));
                    return out;
                };
                tokio::time::sleep(Duration::from_secs(secs)).await;
            }
            Ok((s, _, text)) => {
                out.failures.push(format!("{s}: {text}"));
                return out;
            }
            Err(e) => {
                out.broken.push(e.to_string());
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
    out.failures
        .push(format!("not acknowledged after {} tries", RETRIES + 1));
    out
}

/// The source address of agent `i`: 127.1.0.1, 127.1.0.2, …, one per agent.
fn source(i: usize) -> IpAddr {
    let [_, _, a, b] = u32::try_from(i + 1).unwrap().to_be_bytes();
    IpAddr::V4(Ipv4Addr::new(127, 1, a, b))
}

/// A `/proc/<pid>/status` field in KiB.
fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// Issue #15 "Load" (see the module comment).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_2000_concurrent_agents_none_lost() {
    // 2,000 sockets in this process, as in the server (which raises its own).
    pakiti_server::listen::raise_open_files_limit();
    let reports = reports();
    let bodies: Vec<Arc<Vec<u8>>> = reports
        .iter()
        .map(|r| Arc::new(pakiti_api::protocol5::render(r).into_bytes()))
        .collect();
    let sizes: Vec<usize> = reports.iter().map(|r| r.packages.len()).collect();
    assert!(
        sizes.iter().all(|n| (1_500..=1_850).contains(n)),
        "{sizes:?}"
    );
    for db in databases().await {
        let dir = tempfile::tempdir().unwrap();
        let bound = healthz_bound();
        let (mut p, base) = serve(&db, dir.path(), &[]).await;
        let server: SocketAddr = base.trim_start_matches("http://").parse().unwrap();
        let pid = p.child.id();

        // `/healthz`, polled on fresh connections while the agents send, from a thread of its
        // own (blocking I/O), so that what is measured is the server, not this process's
        // runtime busy with 2,000 agents.
        let done = Arc::new(AtomicBool::new(false));
        let worst = Arc::new(AtomicU64::new(0));
        let poller = {
            let (done, worst) = (done.clone(), worst.clone());
            std::thread::spawn(move || {
                let mut polls = 0_u32;
                let mut rss_peak = 0;
                while !done.load(Ordering::SeqCst) {
                    let t = Instant::now();
                    let answer = healthz(server);
                    let took = t.elapsed();
                    assert!(
                        answer.starts_with("HTTP/1.1 200"),
                        "/healthz after {took:?}: {answer}"
                    );
                    worst.fetch_max(u64::try_from(took.as_micros()).unwrap(), Ordering::SeqCst);
                    rss_peak = rss_peak.max(proc_status_kib(pid, "VmRSS:"));
                    polls += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                (polls, rss_peak)
            })
        };

        let t = Instant::now();
        let agents: Vec<_> = bodies
            .iter()
            .enumerate()
            .map(|(i, body)| tokio::spawn(agent(server, source(i), body.clone())))
            .collect();
        let mut outcomes = Vec::with_capacity(CLIENTS);
        for a in agents {
            outcomes.push(a.await.unwrap());
        }
        let sending = t.elapsed();
        done.store(true, Ordering::SeqCst);
        let (polls, rss_sampled) = poller.join().unwrap();
        let worst = Duration::from_micros(worst.load(Ordering::SeqCst));
        let rss_peak = proc_status_kib(pid, "VmHWM:");

        let acknowledged: Vec<usize> = (0..CLIENTS).filter(|&i| outcomes[i].acknowledged).collect();
        let refusals: Vec<(u16, Option<u64>)> =
            outcomes.iter().flat_map(|o| o.refused.clone()).collect();
        let failures: Vec<&String> = outcomes.iter().flat_map(|o| &o.failures).collect();
        let broken: Vec<&String> = outcomes.iter().flat_map(|o| &o.broken).collect();
        eprintln!(
            "load ({}): {CLIENTS} agents, {} acknowledged, {} refusals ({} × 429, {} × 503), \
             {} broken connections, {} agents retried, {} failures; sent in {sending:?}; /healthz max {worst:?} over \
             {polls} polls (bound here {bound:?}); server RSS peak {} MiB (sampled max {} MiB)",
            db.backend,
            acknowledged.len(),
            refusals.len(),
            refusals.iter().filter(|r| r.0 == 429).count(),
            refusals.iter().filter(|r| r.0 == 503).count(),
            broken.len(),
            outcomes
                .iter()
                .filter(|o| !o.refused.is_empty() || !o.broken.is_empty())
                .count(),
            failures.len(),
            rss_peak / 1024,
            rss_sampled / 1024,
        );
        while let Ok(l) = p.lines.try_recv() {
            p.seen.push(l);
        }
        let mut logs = std::collections::BTreeMap::<String, usize>::new();
        for l in p
            .seen
            .iter()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        {
            let key: String = l
                .chars()
                .filter(|c| !c.is_ascii_digit())
                .take(200)
                .collect();
            *logs.entry(key).or_default() += 1;
        }
        for (l, n) in logs.iter().take(20) {
            eprintln!("{n} × {l}");
        }
        let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
        for f in failures.iter().chain(&broken) {
            *kinds.entry(f.as_str()).or_default() += 1;
        }
        if !kinds.is_empty() {
            eprintln!("load ({}): {kinds:#?}", db.backend);
        }
        assert!(failures.is_empty(), "{}", db.backend);
        for (status, retry) in &refusals {
            assert!(
                matches!(status, 429 | 503) && retry.is_some(),
                "{status} {retry:?}"
            );
        }
        // The agents retried until acknowledged: none lost.
        assert_eq!(acknowledged.len(), CLIENTS, "{}", db.backend);
        assert!(worst < bound, "/healthz took {worst:?}");

        // Every acknowledged report is in the store, with every package sent.
        let t = Instant::now();
        let store = pakiti_store::open(&db.url).await.unwrap();
        let mut raw = crate::crash::Raw::open(&db.url).await;
        let total = raw.count("SELECT COUNT(*) FROM hosts").await;
        raw.close().await;
        assert_eq!(total, CLIENTS as i64, "{}", db.backend);
        for &i in &acknowledged {
            let h = store
                .get_host_by_name(&reports[i].hostname)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{}: {} lost", db.backend, reports[i].hostname));
            assert_eq!(h.pkg_count, sizes[i] as i64, "{}", reports[i].hostname);
            // The installed set itself, decoded, for one host in ten (each is a query).
            if i % 10 == 0 {
                assert_eq!(
                    store.host_packages(h.id).await.unwrap().len(),
                    sizes[i],
                    "{}",
                    reports[i].hostname
                );
            }
        }
        assert!(store.pending_evaluations().await.unwrap().is_empty());
        store.close().await;
        eprintln!(
            "load ({}): {} hosts checked in {:?}",
            db.backend,
            acknowledged.len(),
            t.elapsed()
        );
        p.kill();
        db.finish().await;
    }
}
