//! The page-latency phase of `pakiti bench load`: every page kind a site officer opens, on one
//! server, over fresh connections.

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::{Fleet, get_ok};
use crate::cmd::bench::percentile;

/// The first string in `v` (depth first) that starts with `CVE-`.
fn first_cve(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) if s.starts_with("CVE-") => Some(s.clone()),
        serde_json::Value::Array(a) => a.iter().find_map(first_cve),
        serde_json::Value::Object(o) => o.values().find_map(first_cve),
        _ => None,
    }
}

/// How long the page phase waits for one page.
const PAGE_LIMIT: Duration = Duration::from_secs(60);

/// The page-latency phase on one server: each page kind `n` times (fewer when one kind has
/// taken 30 s), fresh connections; prints p50/p99/max per kind.
pub(super) async fn pages(
    addr: SocketAddr,
    fleet: &Fleet,
    hosts: usize,
    n: usize,
    backend: &str,
    out: &mut impl Write,
) -> Result<()> {
    // The fleet index is rebuilt in the background after changes (stale-while-revalidate):
    // wait until it holds every host (an index built at start, before any host reported,
    // answers an empty CVE list).
    let t = Instant::now();
    loop {
        get_ok(addr, "/api/v1/cves").await?;
        let text = String::from_utf8_lossy(&get_ok(addr, "/metrics").await?).into_owned();
        #[allow(clippy::cast_precision_loss)]
        if super::scaleout::metric(&text, "pakiti_fleet_index_hosts") == Some(hosts as f64) {
            break;
        }
        if t.elapsed() > Duration::from_secs(300) {
            anyhow::bail!("the fleet index did not hold all {hosts} hosts within 300 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    writeln!(
        out,
        "{backend}: the fleet index held every host {:.1} s after the last report (rebuilt in \
         the background)",
        t.elapsed().as_secs_f64()
    )?;
    let cves: serde_json::Value = serde_json::from_slice(&get_ok(addr, "/api/v1/cves").await?)
        .context("reading /api/v1/cves")?;
    let cve = first_cve(&cves).unwrap_or_else(|| "CVE-2023-0001".to_owned());
    let package = ["openssl", "bash", "zlib", "libc6"]
        .into_iter()
        .find(|p| {
            fleet
                .bases
                .iter()
                .all(|b| b.packages.iter().any(|x| x.name == *p))
        })
        .map_or_else(
            || fleet.bases[0].packages[0].name.clone(),
            ToOwned::to_owned,
        );
    // Host pages of hosts spread over the fleet (reports are made on demand: name them once).
    let names: Vec<String> = (0..64)
        .map(|k| fleet.report((k * 7_919) % hosts.max(1), 0).hostname)
        .collect();
    let host = |k: usize| names[k % names.len()].clone();
    type PathOf<'a> = Box<dyn Fn(usize) -> String + 'a>;
    let kinds: Vec<(&str, PathOf<'_>)> = vec![
        ("front page /", Box::new(|_| "/".to_owned())),
        ("/hosts (risk)", Box::new(|_| "/hosts".to_owned())),
        (
            "/hosts?sort=hostname",
            Box::new(|_| "/hosts?sort=hostname".to_owned()),
        ),
        (
            "/hosts?sort=-last_report",
            Box::new(|_| "/hosts?sort=-last_report".to_owned()),
        ),
        (
            "/hosts?vulnerable&sort=os",
            Box::new(|_| "/hosts?vulnerable=true&sort=os".to_owned()),
        ),
        ("/hosts?cve=", {
            let c = cve.clone();
            Box::new(move |_| format!("/hosts?cve={c}"))
        }),
        (
            "/hosts?search=",
            Box::new(|k| format!("/hosts?search=bench-{:03}", k % 1000)),
        ),
        ("/hosts/{host}", Box::new(|k| format!("/hosts/{}", host(k)))),
        ("/cves", Box::new(|_| "/cves".to_owned())),
        ("/cves/{cve}", {
            let c = cve.clone();
            Box::new(move |_| format!("/cves/{c}"))
        }),
        ("/packages/{name}", {
            let p = package.clone();
            Box::new(move |_| format!("/packages/{p}"))
        }),
        (
            "/api/v1/hosts?limit=100",
            Box::new(|_| "/api/v1/hosts?limit=100".to_owned()),
        ),
        (
            "/api/v1/hosts/{host}",
            Box::new(|k| format!("/api/v1/hosts/{}", host(k))),
        ),
        ("/api/v1/cves", Box::new(|_| "/api/v1/cves".to_owned())),
        ("/api/v1/cves/{cve}", {
            let c = cve.clone();
            Box::new(move |_| format!("/api/v1/cves/{c}"))
        }),
        ("/api/v1/packages/{name}", {
            let p = package.clone();
            Box::new(move |_| format!("/api/v1/packages/{p}"))
        }),
        (
            "/api/v1/summary",
            Box::new(|_| "/api/v1/summary".to_owned()),
        ),
    ];
    writeln!(
        out,
        "{backend}: pages at {hosts} hosts ({n} requests per kind, fresh connections; CVE {cve}, \
         package {package}):"
    )?;
    let mut worst = Duration::ZERO;
    for (label, path_of) in &kinds {
        let mut times = Vec::new();
        let mut timed_out = false;
        let t = Instant::now();
        for k in 0..n.max(1) {
            let path = path_of(k);
            let r = Instant::now();
            // One page that takes minutes must not hold the run: it is given up after
            // `PAGE_LIMIT`, counted at that time, and the kind's other requests are skipped.
            match tokio::time::timeout(PAGE_LIMIT, get_ok(addr, &path)).await {
                Ok(answer) => {
                    answer?;
                    times.push(r.elapsed());
                }
                Err(_) => {
                    times.push(PAGE_LIMIT);
                    timed_out = true;
                    break;
                }
            }
            if k >= 2 && t.elapsed() > Duration::from_secs(30) {
                break;
            }
        }
        times.sort_unstable();
        let p99 = percentile(&times, 99);
        worst = worst.max(p99);
        writeln!(
            out,
            "{backend}:   {label:<26} n {:>4}  p50 {:>8.1} ms  p99 {:>8.1} ms  max {:>8.1} ms{}",
            times.len(),
            percentile(&times, 50).as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            times.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
            if timed_out {
                "  (a request took over the 60 s limit: given up)"
            } else if p99 > Duration::from_millis(50) {
                "  (over 50 ms)"
            } else {
                ""
            }
        )?;
    }
    writeln!(
        out,
        "{backend}: worst page p99 {:.1} ms",
        worst.as_secs_f64() * 1e3
    )?;
    Ok(())
}
