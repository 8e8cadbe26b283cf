//! Housekeeping (issue 15): report-history retention (count and age), pruning of ended
//! exposures, purging hosts not seen for N days, and SQLite maintenance (WAL checkpoint,
//! `ANALYZE`, `VACUUM`; `ANALYZE` on PostgreSQL too when its autovacuum is off), all per
//! `[housekeeping]`.
//!
//! [`tick`] runs on the server's 30 s tick and does each task only when it is due: the store
//! records when each last ran (`Store::claim_housekeeping_task`), so a restart does not repeat
//! them. [`run`] is one whole pass at once (`pakiti housekeeping run`, tests). Every run that
//! pruned, purged or maintained something is recorded in the store's run log, which
//! administrators read with `pakiti housekeeping show` and `GET /api/v1/housekeeping`.

use pakiti_store::{HousekeepingRun, ReportRetention};
use time::{Duration, OffsetDateTime};

use crate::settings::HousekeepingSettings;
use crate::state::AppState;

/// What a [`run`] does besides retention.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Count what would be deleted and delete nothing (no maintenance either).
    pub dry_run: bool,
    /// Also `VACUUM` (SQLite).
    pub vacuum: bool,
}

/// One whole housekeeping pass at `now`: retention, exposure pruning, the purge of silent
/// hosts, a WAL checkpoint and `ANALYZE` (SQLite), and `VACUUM` when asked. Recorded in the
/// run log as started by `started_by`. A failing step is recorded in the run's `error`; the
/// others still run.
///
/// # Errors
///
/// Recording the run fails.
pub async fn run(
    st: &AppState,
    now: OffsetDateTime,
    started_by: &str,
    opts: Options,
) -> anyhow::Result<HousekeepingRun> {
    let mut r = new_run(now, started_by, opts.dry_run);
    retention(st, now, opts.dry_run, &mut r).await;
    if !opts.dry_run {
        maintain(st, "checkpoint", &mut r).await;
        maintain(st, "analyze", &mut r).await;
        if opts.vacuum {
            maintain(st, "vacuum", &mut r).await;
        }
    }
    finish(st, r).await
}

/// The tick's housekeeping: each task of `[housekeeping]` that is due. Errors are logged and
/// recorded; the next tick tries again.
pub async fn tick(st: &AppState, now: OffsetDateTime) {
    let hk = &st.settings.housekeeping;
    if !hk.enabled {
        return;
    }
    let mut r = new_run(now, "tick", false);
    let mut record = false;
    if due(st, "retention", now, minutes(hk.interval_minutes)).await {
        retention(st, now, false, &mut r).await;
        record = true;
    }
    if st.store.is_sqlite() && due(st, "checkpoint", now, minutes(hk.checkpoint_minutes)).await {
        // Frequent and cheap: not worth a row in the run log by itself.
        maintain(st, "checkpoint", &mut r).await;
    }
    // PostgreSQL analyzes itself (autovacuum) unless that is off: then we do, as on SQLite.
    let analyze_ours = st.store.is_sqlite() || st.store.autovacuum_off().await.unwrap_or(false);
    if analyze_ours && due(st, "analyze", now, hours(hk.analyze_hours)).await {
        maintain(st, "analyze", &mut r).await;
        record = true;
    }
    if vacuum_window(hk, now) && due(st, "vacuum", now, days(hk.vacuum_days)).await {
        maintain(st, "vacuum", &mut r).await;
        record = true;
    }
    if record && let Err(e) = finish(st, r).await {
        tracing::error!(error = format!("{e:#}"), "recording housekeeping failed");
    }
}

/// Whether a scheduled `VACUUM` may start at `now`: enabled, SQLite-only (checked by the
/// store), and in the configured quiet hour.
fn vacuum_window(hk: &HousekeepingSettings, now: OffsetDateTime) -> bool {
    hk.vacuum_days > 0 && now.hour() == hk.vacuum_hour
}

fn minutes(n: u32) -> Option<Duration> {
    (n > 0).then(|| Duration::minutes(i64::from(n)))
}

fn hours(n: u32) -> Option<Duration> {
    (n > 0).then(|| Duration::hours(i64::from(n)))
}

fn days(n: u32) -> Option<Duration> {
    (n > 0).then(|| Duration::days(i64::from(n)))
}

/// Claims `task` when it is enabled (`every` set) and due.
async fn due(st: &AppState, task: &str, now: OffsetDateTime, every: Option<Duration>) -> bool {
    let Some(every) = every else {
        return false;
    };
    // A little early rather than a tick late: the tick is 30 s.
    let every = every - Duration::seconds(15);
    match st.store.claim_housekeeping_task(task, now, every).await {
        Ok(due) => due,
        Err(e) => {
            tracing::error!(error = %e, task, "claiming a housekeeping task failed");
            false
        }
    }
}

fn new_run(now: OffsetDateTime, started_by: &str, dry_run: bool) -> HousekeepingRun {
    // The log keeps whole seconds; say the same in what a run returns.
    let now = now.replace_nanosecond(0).unwrap_or(now);
    HousekeepingRun {
        id: 0,
        started_at: now,
        finished_at: now,
        started_by: started_by.to_owned(),
        dry_run,
        reports_deleted: 0,
        exposures_deleted: 0,
        purged: Vec::new(),
        maintenance: Vec::new(),
        error: None,
    }
}

fn fail(r: &mut HousekeepingRun, step: &str, e: &dyn std::fmt::Display) {
    tracing::error!(error = %e, step, "housekeeping step failed");
    let msg = format!("{step}: {e}");
    r.error = Some(match r.error.take() {
        Some(prev) => format!("{prev}; {msg}"),
        None => msg,
    });
}

/// Reports, ended exposures and silent hosts, per the settings.
async fn retention(st: &AppState, now: OffsetDateTime, dry_run: bool, r: &mut HousekeepingRun) {
    let hk = &st.settings.housekeeping;
    let max_age = st.settings.report_max_age_days();
    let keep = ReportRetention {
        keep: i64::from(hk.reports_kept),
        older_than: (max_age > 0).then(|| now - Duration::days(i64::from(max_age))),
    };
    match st.store.prune_report_history(keep, dry_run).await {
        Ok(n) => r.reports_deleted = n,
        Err(e) => fail(r, "reports", &e),
    }
    if hk.exposures_max_age_days > 0 {
        let before = now - Duration::days(i64::from(hk.exposures_max_age_days));
        match st.store.prune_ended_exposures(before, dry_run).await {
            Ok(n) => r.exposures_deleted = n,
            Err(e) => fail(r, "exposures", &e),
        }
    }
    if hk.purge_hosts_not_seen_days > 0 {
        purge_silent_hosts(st, now, hk.purge_hosts_not_seen_days, dry_run, r).await;
    }
    if r.reports_deleted + r.exposures_deleted > 0 || !r.purged.is_empty() {
        tracing::info!(
            dry_run,
            reports = r.reports_deleted,
            exposures = r.exposures_deleted,
            hosts = r.purged.len(),
            "housekeeping retention"
        );
    }
}

/// Deletes, with their history, the hosts that have not reported for `days` days — the path
/// of `pakiti host delete --purge-history`.
async fn purge_silent_hosts(
    st: &AppState,
    now: OffsetDateTime,
    days: u32,
    dry_run: bool,
    r: &mut HousekeepingRun,
) {
    let before = now - Duration::days(i64::from(days));
    let hosts = match st.store.hosts_not_seen_since(before).await {
        Ok(h) => h,
        Err(e) => return fail(r, "purge", &e),
    };
    for h in hosts {
        if !dry_run {
            let done = match st.store.purge_host_history(h.id).await {
                Ok(()) => st.store.delete_host(h.id).await,
                Err(e) => Err(e),
            };
            match done {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    fail(r, "purge", &e);
                    continue;
                }
            }
        }
        tracing::info!(
            host = %h.hostname,
            last_report_at = %h.last_report_at,
            not_seen_days = days,
            dry_run,
            "purged host not seen for too long"
        );
        r.purged.push((h.hostname, h.last_report_at));
    }
    if !dry_run && !r.purged.is_empty() {
        st.engine.fleet_changed();
        if let Err(e) = st.engine.fleet_up_to_date().await {
            fail(r, "fleet index", &format!("{e:#}"));
        }
    }
}

/// One database maintenance task: `checkpoint`, `analyze` or `vacuum`.
async fn maintain(st: &AppState, task: &'static str, r: &mut HousekeepingRun) {
    let done = match task {
        "checkpoint" => st.store.checkpoint().await,
        "analyze" => st.store.analyze().await.map(|()| true),
        _ => st.store.vacuum().await,
    };
    match done {
        Ok(true) => {
            tracing::debug!(task, "database maintenance");
            r.maintenance.push(task.to_owned());
        }
        Ok(false) => {}
        Err(e) => fail(r, task, &e),
    }
}

async fn finish(st: &AppState, mut r: HousekeepingRun) -> anyhow::Result<HousekeepingRun> {
    let end = OffsetDateTime::now_utc();
    r.finished_at = end.replace_nanosecond(0).unwrap_or(end).max(r.started_at);
    r.id = st.store.record_housekeeping_run(&r).await?;
    Ok(r)
}
