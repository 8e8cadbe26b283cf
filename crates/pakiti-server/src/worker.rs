//! Asynchronous evaluation: reports queued durably in the store, evaluated by workers.
//!
//! The queue lives in the store, so several server processes sharing one PostgreSQL database
//! can all run workers: a claim has a lease, and a report whose worker died is claimed again
//! when the lease runs out. [`run_once`] is the deterministic step; [`run`] is the loop.

use std::time::Duration;

use anyhow::Context;
use pakiti_api::json;
use pakiti_api::report::Report;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::AppError;
use crate::state::AppState;
use pakiti_engine::ingest::{self, Origin, Outcome};

/// What is queued: the report in our JSON form plus where it came from.
#[derive(Serialize, Deserialize)]
struct Envelope {
    report: serde_json::Value,
    mode: String,
    proxy: bool,
    received_at: i64,
    peer: Option<String>,
    client_dn: Option<String>,
    trusted_proxy: bool,
    /// The report's unreadable lines (our JSON form has no place for them): how many, and the
    /// kept ones as (line, reason, excerpt). Absent in entries queued by older servers.
    #[serde(default)]
    unreadable_count: usize,
    #[serde(default)]
    unreadable: Vec<(usize, String, String)>,
}

/// Queues a report; answered `OK` as soon as the queue row is durable. A report asking for
/// report-back also gets its repository upgrade lines (computed now, in memory); its CVE
/// lines need the evaluation and are not sent.
///
/// # Errors
/// The store fails.
pub async fn enqueue(
    state: &AppState,
    report: &Report,
    origin: &Origin,
) -> Result<Outcome, AppError> {
    if report.hostname.trim().is_empty() {
        return Err(AppError::BadRequest("report has no host name".into()));
    }
    if report.proxy && !origin.trusted_proxy {
        return Err(AppError::Forbidden("not a trusted proxy".into()));
    }
    let env = Envelope {
        report: serde_json::from_str(&json::render(report)).context("encoding the report")?,
        mode: report.mode.as_name().to_owned(),
        proxy: report.proxy,
        received_at: origin.received_at.unix_timestamp(),
        peer: origin.peer.map(|p| p.to_string()),
        client_dn: origin.client_dn.clone(),
        trusted_proxy: origin.trusted_proxy,
        unreadable_count: report.unreadable.count,
        unreadable: report
            .unreadable
            .lines
            .iter()
            .map(|p| (p.line, p.reason.clone(), p.excerpt.clone()))
            .collect(),
    };
    let payload = serde_json::to_vec(&env).context("encoding the queue entry")?;
    state
        .store
        .enqueue_report(&payload, origin.received_at)
        .await
        .context("queueing the report")?;
    // Update detection needs no advisory evaluation: a client asking for report-back gets its
    // `SEC`/`ORD` upgrade lines now, from the repository index in force, like in synchronous
    // mode. The CVE lines (protocol 5, JSON) wait for the worker and are not sent.
    let upgrades = if report.mode.reports_back() {
        let stream = pakiti_engine::ingest::stream_of(report, state.engine.os_rules());
        let (modules, _) = pakiti_engine::ingest::effective_modules(
            &state.engine.evaluator(),
            report,
            stream.as_ref(),
        );
        pakiti_engine::updates::host_lines(
            &state.engine.updates().get(),
            stream.as_ref(),
            &report.arch,
            &pakiti_engine::ingest::to_installed(report),
            &modules,
        )
    } else {
        Vec::new()
    };
    Ok(Outcome {
        stored: true,
        queued: true,
        upgrades,
        ..Outcome::default()
    })
}

/// Claims and processes up to `batch` queued reports; returns how many were processed.
///
/// A report that fails to process (malformed after all) is logged and removed, so that it
/// does not block the queue forever.
///
/// # Errors
/// The store fails.
pub async fn run_once(state: &AppState, worker: &str, batch: i64) -> anyhow::Result<usize> {
    let claimed = state
        .store
        .claim_reports(
            worker,
            batch,
            time::Duration::minutes(5),
            OffsetDateTime::now_utc(),
        )
        .await?;
    let n = claimed.len();
    for q in claimed {
        let result = async {
            let env: Envelope =
                serde_json::from_slice(&q.payload).context("decoding the queue entry")?;
            let body = serde_json::to_vec(&env.report)?;
            let mut report = json::parse(&body).map_err(|e| anyhow::anyhow!("{e}"))?;
            report.mode = pakiti_api::report::Mode::parse("mode", &env.mode)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            report.proxy = env.proxy;
            // Lines the JSON form's own parse skipped (none: it was rendered from a report)
            // plus those of the report as received.
            report.unreadable.count += env.unreadable_count;
            report
                .unreadable
                .lines
                .extend(env.unreadable.into_iter().map(|(line, reason, excerpt)| {
                    pakiti_api::LineProblem {
                        line,
                        reason,
                        excerpt,
                    }
                }));
            let origin = Origin {
                received_at: OffsetDateTime::from_unix_timestamp(env.received_at)
                    .unwrap_or_else(|_| OffsetDateTime::now_utc()),
                peer: env.peer.and_then(|p| p.parse().ok()),
                client_dn: env.client_dn,
                trusted_proxy: env.trusted_proxy,
            };
            ingest::process(&state.engine, &report, &origin)
                .await
                .inspect(|o| state.engine.metrics().outcome(o))
                .map_err(|e| anyhow::anyhow!("{e}"))
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(
                queue_id = q.id,
                attempts = q.attempts,
                error = format!("{e:#}"),
                "queued report failed"
            );
        }
        state.store.complete_report(q.id).await?;
    }
    if n > 0 {
        state.engine.fleet_changed();
    }
    Ok(n)
}

/// The worker loop: process batches, sleep briefly when the queue is empty.
pub async fn run(state: AppState, worker: String) {
    loop {
        match run_once(&state, &worker, 16).await {
            Ok(0) => tokio::time::sleep(Duration::from_millis(200)).await,
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "worker step failed");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}
