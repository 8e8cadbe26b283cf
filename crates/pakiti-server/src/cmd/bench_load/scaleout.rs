//! The scale-out checks of `pakiti bench load`: after a feed update imported through the first
//! server, every server must run on the new feeds, answer alike, and the re-evaluation must have
//! run in one process only.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use pakiti_store::Store;

use super::{Fleet, Servers, get_ok};

/// The value of the unlabelled sample `name` in a Prometheus text exposition.
pub(super) fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The parts of `pakiti_fleet_index_bytes` in a `/metrics` text, in the order listed.
pub(super) fn fleet_index_parts(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("pakiti_fleet_index_bytes{part=\"")?;
            let (part, rest) = rest.split_once('"')?;
            let value = rest.strip_prefix("} ")?.trim().parse().ok()?;
            Some((part.to_owned(), value))
        })
        .collect()
}

/// The documents every server must answer alike: a sample of host pages, the CVE list and
/// the first hosts of the list.
pub(super) fn compared_paths(fleet: &Fleet, hosts: usize) -> Vec<String> {
    let mut paths = vec![
        "/api/v1/cves".to_owned(),
        "/api/v1/hosts?sort=hostname&limit=100".to_owned(),
    ];
    let step = (hosts / 10).max(1);
    for i in (0..hosts).step_by(step).take(10) {
        paths.push(format!("/api/v1/hosts/{}", fleet.report(i, 0).hostname));
    }
    paths
}

/// After the feed update: waits until the first server has imported it, then until every
/// server runs on the new feed generation and answers [`compared_paths`] alike, and checks
/// that the re-evaluation the import caused ran in one process only.
pub(super) async fn converge(
    store: &Store,
    servers: &Servers,
    feed: &str,
    paths: &[String],
    backend: &str,
    out: &mut impl Write,
) -> Result<()> {
    let t = Instant::now();
    let synced = loop {
        let f = store
            .list_feeds()
            .await?
            .into_iter()
            .find(|f| f.name == feed)
            .context("the update feed vanished")?;
        if let Some(sync) = f.last_sync {
            if let Some(e) = sync.error {
                bail!("the first server's sync of the update feed failed: {e}");
            }
            break (f.advisory_count, Instant::now());
        }
        if t.elapsed() > Duration::from_secs(180) {
            bail!(
                "the first server did not sync the update feed within 180 s (its log: {})",
                servers.log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let generation = store.feed_generation().await?;
    let converged = loop {
        let mut gens = Vec::new();
        for addr in &servers.addrs {
            let text = String::from_utf8_lossy(&get_ok(*addr, "/metrics").await?).into_owned();
            gens.push(metric(&text, "pakiti_evaluator_generation").unwrap_or(-1.0));
        }
        #[allow(clippy::cast_precision_loss)]
        let on_new = gens.iter().all(|g| *g >= generation as f64);
        let mut differing = None;
        if on_new {
            for path in paths {
                let mut bodies = Vec::new();
                for addr in &servers.addrs {
                    bodies.push(get_ok(*addr, path).await?);
                }
                if bodies.windows(2).any(|w| w[0] != w[1]) {
                    differing = Some(path.clone());
                    break;
                }
            }
        }
        if on_new && differing.is_none() {
            break synced.1.elapsed();
        }
        if synced.1.elapsed() > Duration::from_secs(180) {
            bail!(
                "the servers had not converged 180 s after the import (evaluator generations \
                 {gens:?}, store {generation}; first differing document: {differing:?})"
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let mut runs = Vec::new();
    for (k, addr) in servers.addrs.iter().enumerate() {
        let text = String::from_utf8_lossy(&get_ok(*addr, "/metrics").await?).into_owned();
        let m = |n: &str| metric(&text, n).unwrap_or(0.0);
        let part = |p: &str| {
            m(&format!(
                "pakiti_reevaluation_part_seconds_total{{part=\"{p}\"}}"
            ))
        };
        runs.push((
            k,
            m("pakiti_reevaluations_total"),
            m("pakiti_reevaluated_package_versions_total"),
            m("pakiti_reevaluated_hosts_total"),
            m("pakiti_reevaluation_seconds_total"),
            [
                part("reload"),
                part("rematch"),
                part("sets"),
                part("counts"),
            ],
        ));
    }
    writeln!(
        out,
        "{backend}: feed update ({} advisories) imported through server 0; every server on the \
         new feeds and answering {} documents alike {:.1} s after the import committed \
         (tick 30 s)",
        synced.0,
        paths.len(),
        converged.as_secs_f64()
    )?;
    for (k, n, pv, hosts, secs, [reload, rematch, sets, counts]) in &runs {
        writeln!(
            out,
            "{backend}:   server {k}: {n} re-evaluation(s), {pv} package versions re-matched, \
             {hosts} host counts refreshed, {secs:.2} s (advisory reload {reload:.2}, re-match \
             {rematch:.2}, finding their hosts {sets:.2}, counts {counts:.2})"
        )?;
    }
    let total: f64 = runs.iter().map(|r| r.1).sum();
    #[allow(clippy::float_cmp)]
    if total != 1.0 {
        bail!("the import's re-evaluation ran {total} times over the servers (expected once)");
    }
    Ok(())
}
