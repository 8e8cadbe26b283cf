//! Background work: feed syncs and re-evaluation. Each job is one deterministic step (called
//! directly by tests and the CLI) plus a thin loop in the server.

pub mod feeds;
pub mod fetch;
pub mod housekeeping;
pub mod repos;

use crate::state::AppState;

/// The server's 30 s housekeeping step (run first when the server starts): finish what a crash
/// left undone ([`Engine::recover`](pakiti_engine::Engine::recover)), sync due feeds (when
/// enabled), then pick up what other servers sharing the database changed: feeds imported
/// elsewhere (reload and re-evaluate the stale keys), repositories synced elsewhere (reload
/// the update index and the binary → source maps), and CVE tags / exceptions (used by counts
/// at ingest). Errors are logged; the next tick tries again.
pub async fn tick(st: &AppState) {
    // Work a crash left behind first: a committed import's stale keys, unevaluated reports.
    if let Err(e) = st.engine.recover().await {
        tracing::error!(
            error = format!("{e:#}"),
            "finishing outstanding evaluations failed"
        );
    }
    if st.settings.sync_feeds
        && let Err(e) = feeds::sync_due(st).await
    {
        tracing::error!(error = format!("{e:#}"), "feed scheduler step failed");
    }
    let changed = match st.engine.feeds_changed().await {
        Ok(true) => Ok(true),
        Ok(false) => st.engine.evaluator_behind().await,
        Err(e) => Err(e),
    };
    match changed {
        Ok(true) => {
            if let Err(e) = st.engine.reevaluate().await {
                tracing::error!(error = format!("{e:#}"), "re-evaluation failed");
            }
        }
        Ok(false) => {}
        Err(e) => tracing::error!(error = format!("{e:#}"), "reading feeds failed"),
    }
    match st.engine.repositories_changed().await {
        Ok(true) => {
            if let Err(e) = st.engine.reload_repositories().await {
                tracing::error!(error = format!("{e:#}"), "reloading repositories failed");
            }
        }
        Ok(false) => {}
        Err(e) => tracing::error!(error = format!("{e:#}"), "reading repositories failed"),
    }
    match st.engine.cve_facts_changed().await {
        Ok(true) => {
            if let Err(e) = st.engine.reload_cve_facts().await {
                tracing::error!(error = format!("{e:#}"), "reloading CVE facts failed");
            }
        }
        Ok(false) => {}
        Err(e) => tracing::error!(error = format!("{e:#}"), "reading feeds failed"),
    }
    if let Err(e) = st.engine.reload_policy().await {
        tracing::error!(error = format!("{e:#}"), "reloading CVE tags failed");
    }
    // History: hosts added and retired, end-of-day fleet snapshots, report package lists kept.
    if let Err(e) = st
        .engine
        .history_tick(
            time::OffsetDateTime::now_utc(),
            i64::from(st.settings.report_packages_kept.max(1)),
        )
        .await
    {
        tracing::error!(error = format!("{e:#}"), "history step failed");
    }
    // Retention, purges and SQLite maintenance, each when due (`[housekeeping]`).
    housekeeping::tick(st, time::OffsetDateTime::now_utc()).await;
    // Notification rules: detect what is new, make due digests, deliver (`notify`).
    crate::notify::tick(st, time::OffsetDateTime::now_utc()).await;
}
