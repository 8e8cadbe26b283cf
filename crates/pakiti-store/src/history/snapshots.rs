//! The daily fleet snapshot (`fleet_snapshots`): the state of the fleet at the end of each
//! day, computed from the exposure history and written once per ended day; today is live.

use sqlx::QueryBuilder;
use std::collections::BTreeMap;
use time::{Date, OffsetDateTime};

use crate::db::{Dialect, on};
use crate::error::StoreError;
use crate::model::HostScope;
use crate::shared::{from_ts, ts};
use crate::store::Store;

use super::push_scope_on;

/// The fleet at the end of one day (or now, for today).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FleetDay {
    /// The day (UTC).
    pub day: Option<Date>,
    /// Hosts known then.
    pub hosts: i64,
    /// Hosts with at least one open exposure.
    pub exposed_hosts: i64,
    /// Open (host, CVE) exposures.
    pub open_exposures: i64,
    /// Of which critical.
    pub critical: i64,
    /// High.
    pub high: i64,
    /// Medium.
    pub medium: i64,
    /// Low.
    pub low: i64,
    /// Unknown severity.
    pub unknown: i64,
    /// Of which a fixed version is known.
    pub fixable: i64,
    /// Hosts whose last report was more than two days old.
    pub not_reporting: i64,
    /// Whether this day was carried forward from the previous one (no snapshot of its own).
    pub carried: bool,
}

/// Pushes the per-host state of the fleet at instant `at`, from the history: host, name,
/// group, domain, last report before then, and its exposures open then by severity and
/// fixable (sums of the exposure sets' counts). Every value is a bind of the builder (SQLite numbers `?` binds by position, so no
/// literal `$n` may be mixed in).
fn push_fleet_at<'a, DB>(qb: &mut QueryBuilder<'a, DB>, at: i64)
where
    DB: Dialect,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    qb.push(
        "SELECT hh.host_id AS host_id, hh.hostname AS hostname, \
         hh.host_group AS host_group, hh.domain AS domain, \
         COALESCE((SELECT MAX(r.received_at) FROM reports r WHERE r.host_id = hh.host_id \
         AND r.received_at < ",
    );
    qb.push_bind(at);
    qb.push(
        "), hh.first_seen) AS last_report_at, \
         CAST(COALESCE(SUM(e.n), 0) AS BIGINT) AS open_exposures, \
         CAST(COALESCE(SUM(e.critical), 0) AS BIGINT) AS critical, \
         CAST(COALESCE(SUM(e.high), 0) AS BIGINT) AS high, \
         CAST(COALESCE(SUM(e.medium), 0) AS BIGINT) AS medium, \
         CAST(COALESCE(SUM(e.low), 0) AS BIGINT) AS low, \
         CAST(COALESCE(SUM(e.unknown), 0) AS BIGINT) AS unknown, \
         CAST(COALESCE(SUM(CASE WHEN e.fix_known_at < ",
    );
    qb.push_bind(at);
    qb.push(
        " THEN e.fixable ELSE 0 END), 0) AS BIGINT) AS fixable \
         FROM history_hosts hh LEFT JOIN exposures e ON e.host_id = hh.host_id AND e.began_at < ",
    );
    qb.push_bind(at);
    qb.push(" AND (e.ended_at IS NULL OR e.ended_at >= ");
    qb.push_bind(at);
    qb.push(") WHERE hh.first_seen < ");
    qb.push_bind(at);
    qb.push(" AND (hh.retired_at IS NULL OR hh.retired_at >= ");
    qb.push_bind(at);
    qb.push(") GROUP BY hh.host_id, hh.hostname, hh.host_group, hh.domain, hh.first_seen");
}

/// Aggregates rows shaped like `fleet_snapshots` (alias `s`), per day or for one instant.
const FLEET_SUMS: &str = "CAST(COUNT(*) AS BIGINT), \
    CAST(COALESCE(SUM(CASE WHEN s.open_exposures > 0 THEN 1 ELSE 0 END), 0) AS BIGINT), \
    CAST(COALESCE(SUM(s.open_exposures), 0) AS BIGINT), CAST(COALESCE(SUM(s.critical), 0) AS BIGINT), \
    CAST(COALESCE(SUM(s.high), 0) AS BIGINT), CAST(COALESCE(SUM(s.medium), 0) AS BIGINT), \
    CAST(COALESCE(SUM(s.low), 0) AS BIGINT), CAST(COALESCE(SUM(s.unknown), 0) AS BIGINT), \
    CAST(COALESCE(SUM(s.fixable), 0) AS BIGINT)";

/// Seconds without a report after which a host counts as not reporting (Pakiti 3's two days).
pub const NOT_REPORTING_SECS: i64 = 2 * 86_400;

type SumRow = (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64);

fn fleet_day(day: Option<Date>, r: &SumRow) -> FleetDay {
    FleetDay {
        day,
        hosts: r.1,
        exposed_hosts: r.2,
        open_exposures: r.3,
        critical: r.4,
        high: r.5,
        medium: r.6,
        low: r.7,
        unknown: r.8,
        fixable: r.9,
        not_reporting: r.10,
        carried: false,
    }
}

pub(super) fn day_start(day: Date) -> i64 {
    ts(day.midnight().assume_utc())
}

pub(super) fn day_of(n: i64) -> Result<Date, StoreError> {
    Ok(from_ts(n * 86_400)?.date())
}

impl Store {
    /// Writes the fleet snapshot of every day that ended before `today` and has none (from
    /// the history, at the end of that day), back to the first host's first day or at most
    /// `max_days` back. Returns the days written.
    pub async fn finalize_fleet_snapshots(
        &self,
        today: Date,
        max_days: i64,
    ) -> Result<usize, StoreError> {
        // Not before the history began: a day before the first recorded exposure would show
        // hosts without the exposures they had (a store upgraded to the history starts from
        // its baseline).
        let (last, first_host, first_exposure): (Option<i64>, Option<i64>, Option<i64>) = on!(&self.read, p => sqlx::query_as(
                "SELECT (SELECT MAX(day) FROM fleet_snapshots), \
                 (SELECT MIN(first_seen) FROM history_hosts), (SELECT MIN(began_at) FROM exposures)",
            )
            .fetch_one(p).await)?;
        let today_n = day_start(today) / 86_400;
        let Some(first_host) = first_host else {
            return Ok(0);
        };
        let first = first_host.max(first_exposure.unwrap_or(first_host));
        let from = match last {
            Some(l) => l + 1,
            None => first.div_euclid(86_400),
        }
        .max(today_n - max_days);
        let mut written = 0;
        for day in from..today_n {
            let end = (day + 1) * 86_400;
            let mut tx = self.begin().await?;
            on!(&mut tx, t => {
                let mut qb = QueryBuilder::<DB>::new(
                    "INSERT INTO fleet_snapshots (day, host_id, hostname, host_group, domain, \
                     last_report_at, open_exposures, critical, high, medium, low, unknown, fixable) \
                     SELECT ",
                );
                qb.push_bind(day);
                qb.push(
                    ", host_id, hostname, host_group, domain, last_report_at, open_exposures, \
                     critical, high, medium, low, unknown, fixable FROM (",
                );
                push_fleet_at(&mut qb, end);
                // `WHERE true`: SQLite would read `ON` as a join constraint.
                qb.push(") f WHERE true ON CONFLICT (day, host_id) DO NOTHING");
                qb.build().execute(&mut **t).await.map(|r| r.rows_affected())
            })?;
            tx.commit().await?;
            written += 1;
        }
        Ok(written)
    }

    /// The fleet per day from `from` to `now`'s day, in `scope`: the stored end-of-day
    /// snapshots, days without one carried forward from the day before, and today computed
    /// live at `now`.
    pub async fn fleet_days(
        &self,
        from: Date,
        now: OffsetDateTime,
        scope: &HostScope,
    ) -> Result<Vec<FleetDay>, StoreError> {
        let from_n = day_start(from) / 86_400;
        let today = now.date();
        let today_n = day_start(today) / 86_400;
        let stale = NOT_REPORTING_SECS;
        let stored: Vec<SumRow> = on!(&self.read, p => {
            let mut qb = QueryBuilder::<DB>::new(format!(
                "SELECT s.day, {FLEET_SUMS}, CAST(COALESCE(SUM(CASE WHEN s.last_report_at < (s.day + 1) * 86400 - {stale} THEN 1 ELSE 0 END), 0) AS BIGINT) \
                 FROM fleet_snapshots s WHERE s.day >= "
            ));
            qb.push_bind(from_n).push(" AND s.day < ").push_bind(today_n);
            push_scope_on(&mut qb, scope, "s.host_group", "s.domain", "s.hostname");
            qb.push(" GROUP BY s.day ORDER BY s.day");
            qb.build_query_as().fetch_all(p).await
        })?;
        // The day before the window, to carry into its first days.
        let before: Option<SumRow> = on!(&self.read, p => {
            let mut qb = QueryBuilder::<DB>::new(format!(
                "SELECT s.day, {FLEET_SUMS}, CAST(COALESCE(SUM(CASE WHEN s.last_report_at < (s.day + 1) * 86400 - {stale} THEN 1 ELSE 0 END), 0) AS BIGINT) \
                 FROM fleet_snapshots s WHERE s.day = (SELECT MAX(day) FROM fleet_snapshots WHERE day < "
            ));
            qb.push_bind(from_n).push(")");
            push_scope_on(&mut qb, scope, "s.host_group", "s.domain", "s.hostname");
            qb.push(" GROUP BY s.day");
            qb.build_query_as().fetch_optional(p).await
        })?;
        // Everything up to and including `now`'s second.
        let at = ts(now) + 1;
        let live: SumRow = on!(&self.read, p => {
            let mut qb = QueryBuilder::<DB>::new(format!(
                "SELECT CAST(0 AS BIGINT), {FLEET_SUMS}, CAST(COALESCE(SUM(CASE WHEN s.last_report_at < "
            ));
            qb.push_bind(at - stale);
            qb.push(" THEN 1 ELSE 0 END), 0) AS BIGINT) FROM (");
            push_fleet_at(&mut qb, at);
            qb.push(") s WHERE 1 = 1");
            push_scope_on(&mut qb, scope, "s.host_group", "s.domain", "s.hostname");
            qb.build_query_as().fetch_one(p).await
        })?;
        let mut by_day: BTreeMap<i64, FleetDay> = BTreeMap::new();
        for r in &stored {
            by_day.insert(r.0, fleet_day(Some(day_of(r.0)?), r));
        }
        let mut out = Vec::new();
        let mut prev: Option<FleetDay> = before.as_ref().map(|r| fleet_day(None, r));
        for n in from_n..today_n {
            let d = match by_day.remove(&n) {
                Some(d) => d,
                None => match prev {
                    Some(p) => FleetDay {
                        day: Some(day_of(n)?),
                        carried: true,
                        ..p
                    },
                    None => continue,
                },
            };
            prev = Some(d);
            out.push(d);
        }
        if from_n <= today_n {
            out.push(fleet_day(Some(today), &live));
        }
        Ok(out)
    }
}
