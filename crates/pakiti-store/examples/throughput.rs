//! Measures report throughput of a store: first, changed and unchanged reports per second.
//!
//! `cargo run --release -p pakiti-store --example throughput [URL] [HOSTS]`; the URL defaults
//! to a temporary SQLite file. One task writes sequentially, as one server worker would.

use std::time::Instant;

use pakiti_core::package::InstalledPackage;
use pakiti_store::{FinishReport, HostCounts, HostFacts, HostIdentity, NewReport, ReportMeta};
use time::OffsetDateTime;

fn packages(host: usize, round: usize) -> Vec<InstalledPackage> {
    (0..800)
        .map(|i| {
            // Hosts share most versions; a few differ per host and per round.
            let jitter = if (i * 31 + host * 7).is_multiple_of(17) {
                host % 3 + round
            } else {
                round / 2
            };
            InstalledPackage::new(
                format!("package-{i}"),
                format!("1.{i}.{jitter}-1.el9"),
                "x86_64",
            )
        })
        .collect()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = tempfile::tempdir()?;
    let url = args
        .next()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let hosts: usize = args.next().map_or(Ok(1000), |s| s.parse())?;
    let store = pakiti_store::open(&url).await?;
    let facts = HostFacts {
        os_name: "Rocky Linux 9".into(),
        stream: Some("rocky:9".parse()?),
        arch: "x86_64".into(),
        kernel: "5.14".into(),
        packager: "rpm".into(),
        ..HostFacts::default()
    };
    let ids: Vec<HostIdentity> = (0..hosts)
        .map(|h| HostIdentity {
            hostname: format!("host-{h}"),
            client_id: Some(format!("client-{h}")),
        })
        .collect();
    for (label, round) in [("first", 0), ("changed", 1)] {
        let started = Instant::now();
        for (h, identity) in ids.iter().enumerate() {
            let meta = ReportMeta {
                received_at: OffsetDateTime::now_utc(),
                hash: format!("{h}-{round}"),
                via_proxy: false,
                proxy_name: None,
                site: None,
                tag: None,
            };
            let pkgs = packages(h, round);
            let saved = store
                .save_report(NewReport {
                    identity,
                    facts: &facts,
                    meta: &meta,
                    packages: &pkgs,
                })
                .await?;
            // As the server finishes a report: findings of its new versions, counts, and the
            // report marked processed (a host whose evaluation is pending has no unchanged path).
            store
                .finish_reports(&[FinishReport {
                    report: saved.report_id,
                    host: saved.host_id,
                    processed_at: OffsetDateTime::now_utc(),
                    counts: HostCounts::default(),
                    stream: Some("rocky:9".into()),
                    evaluated: saved.unevaluated,
                    findings: Vec::new(),
                    updates: None,
                    generation: None,
                    exposures: None,
                }])
                .await?;
        }
        report(label, hosts, started);
    }
    let started = Instant::now();
    for (h, identity) in ids.iter().enumerate() {
        let state = store.host_state(identity).await?.ok_or("host vanished")?;
        let meta = ReportMeta {
            received_at: OffsetDateTime::now_utc(),
            hash: format!("{h}-1"),
            via_proxy: false,
            proxy_name: None,
            site: None,
            tag: None,
        };
        store.touch_unchanged_report(state.id, &meta).await?;
    }
    report("unchanged", hosts, started);
    // The same, group-committed 100 at a time as a loaded server would.
    let mut host_ids = Vec::with_capacity(hosts);
    for identity in &ids {
        host_ids.push(store.host_state(identity).await?.ok_or("host vanished")?.id);
    }
    let started = Instant::now();
    let mut stored = 0;
    for (c, chunk) in host_ids.chunks(100).enumerate() {
        let batch: Vec<_> = chunk
            .iter()
            .enumerate()
            .map(|(i, &id)| {
                let meta = ReportMeta {
                    received_at: OffsetDateTime::now_utc(),
                    hash: format!("{}-1", c * 100 + i),
                    via_proxy: false,
                    proxy_name: None,
                    site: None,
                    tag: None,
                };
                (id, meta)
            })
            .collect();
        stored += store
            .touch_unchanged_reports(&batch)
            .await?
            .iter()
            .filter(|r| r.is_some())
            .count();
    }
    if stored != hosts {
        return Err(
            format!("only {stored} of {hosts} batched unchanged reports were stored").into(),
        );
    }
    report("unchanged batched", hosts, started);
    store.close().await;
    Ok(())
}

#[allow(
    clippy::print_stdout,
    reason = "an example that prints its measurements"
)]
fn report(label: &str, n: usize, started: Instant) {
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{label:>9}: {n} reports in {secs:.2} s = {:.0}/s",
        n as f64 / secs
    );
}
