//! History on two time axes (issue 14 part 5): (host, CVE) exposures with when and why they
//! began and ended and what the feeds said then, hosts as the history knows them (added,
//! retired), per-report package lists for exact report diffs, and the daily fleet snapshot.
//!
//! # Decisions
//!
//! - **Stored as sets** (issue 17, `history/sets.rs`): a row of `exposures` is a set of one
//!   host's exposures that began together and, once ended, ended together, naming interned
//!   details (`exposure_details`) in an id blob, with its counts by severity. A host's first
//!   report writes one row, not one per CVE (the history was ~90% of the store). The
//!   [`Exposure`] and [`Change`] values read from it are per (host, CVE), as before.
//! - **Diffed where the findings are written.** A host's exposures are brought to its current
//!   CVE set in the same transaction that writes its counts ([`sync_exposures_in`], called by
//!   `finish_reports` and [`Store::update_hosts_counts_and_exposures`]): one read of the host's
//!   open sets (by the partial index on open rows) and statements only for what changed. The
//!   unchanged-report path does not touch them. Invariant: the open exposures
//!   (`ended_at IS NULL`) of every host are exactly the CVEs its counts count.
//! - **What the feeds said then** is kept with the exposure when it begins: the most severe
//!   advisory, its severity, the fixed version then known and the advisory's issued date, the
//!   feed generation. A fix that becomes known while the exposure is open moves it to a set
//!   whose `fix_known_at` is then, with the fixing advisory's detail.
//! - **Host name, group and domain are copied** onto exposures, `history_hosts` and
//!   snapshots: a deleted host's history stays readable and viewer scopes apply without the
//!   host row.
//! - **Daily snapshot computed from the history.** The state of the fleet at the end of a day
//!   (hosts, exposed hosts, open exposures by severity and fixable, hosts not reporting for two
//!   days) is a query over `history_hosts`, `exposures` and `reports` at that instant; days
//!   that ended are written once to `fleet_snapshots` (back-filled the same way), today is
//!   computed live. A host that did not report still counts with its last state.

use std::collections::{BTreeMap, HashMap, HashSet};

use pakiti_core::advisory::Severity;
use sqlx::QueryBuilder;
use time::{Date, OffsetDateTime};

use crate::cache::Caches;
use crate::db::{Dialect, Tx, on};
use crate::error::StoreError;
use crate::findings::write_counts_in;
use crate::model::{HostCounts, HostId, HostScope, ReportId};
use crate::shared::{from_ts, ts};
use crate::store::Store;

mod report_packages;
mod sets;
mod snapshots;

pub(crate) use report_packages::write_report_packages_in;
pub(crate) use sets::Detail;
use sets::{Expanded, SET_COLUMNS, SetRow};

use snapshots::day_start;
pub use snapshots::{FleetDay, NOT_REPORTING_SECS};

/// Why an exposure began or ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExposureCause {
    /// The host's report changed (a package was installed, updated or removed).
    Report,
    /// A feed changed (an advisory was published, changed or withdrawn).
    Feed,
    /// An exception was added, removed or expired.
    Policy,
    /// History started on a store that already had hosts (begins only).
    Baseline,
    /// The host was deleted or retired (ends only).
    Retired,
}

impl ExposureCause {
    /// The word stored and shown (`report`, `feed`, `policy`, `baseline`, `retired`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ExposureCause::Report => "report",
            ExposureCause::Feed => "feed",
            ExposureCause::Policy => "policy",
            ExposureCause::Baseline => "baseline",
            ExposureCause::Retired => "retired",
        }
    }
}

/// One CVE a host is exposed to now, with what the feeds say about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExposureNow {
    /// The CVE (or the advisory id for an advisory that names none).
    pub cve: String,
    /// The highest severity among the advisories naming it for the host.
    pub severity: Severity,
    /// That advisory's vendor id.
    pub advisory: String,
    /// A fixed version, when one is known.
    pub fixed_version: Option<String>,
    /// The issued date of the advisory that brings the fix (`YYYY-MM-DD`), when given.
    pub fix_issued: Option<String>,
}

/// What brought a host's exposures up to date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExposureContext {
    /// When.
    pub at: OffsetDateTime,
    /// Why.
    pub cause: ExposureCause,
    /// The report evaluated, for [`ExposureCause::Report`].
    pub report: Option<ReportId>,
    /// The feed generation of the evaluator.
    pub generation: i64,
}

/// One exposure as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exposure {
    /// Row id.
    pub id: i64,
    /// The host (it may no longer exist).
    pub host_id: HostId,
    /// Its name when the exposure began.
    pub hostname: String,
    /// Its group then.
    pub host_group: Option<String>,
    /// The CVE.
    pub cve: String,
    /// Severity when it began.
    pub severity: String,
    /// Advisory when it began.
    pub advisory: String,
    /// Fixed version known (when it began, or since).
    pub fixed_version: Option<String>,
    /// Issued date of the fixing advisory.
    pub fix_issued: Option<String>,
    /// When the fixed version became known.
    pub fix_known_at: Option<OffsetDateTime>,
    /// When it began.
    pub began_at: OffsetDateTime,
    /// Why.
    pub began_cause: String,
    /// The report that made it begin.
    pub began_report: Option<ReportId>,
    /// When it ended; `None` while open.
    pub ended_at: Option<OffsetDateTime>,
    /// Why.
    pub ended_cause: Option<String>,
    /// The report that made it end.
    pub ended_report: Option<ReportId>,
}

/// What a `/changes` entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    /// A host became exposed to a CVE.
    Gained,
    /// A host stopped being exposed to a CVE.
    Lost,
    /// An advisory affected the fleet for the first time.
    Advisory,
    /// A host reported for the first time.
    HostAdded,
    /// A host was deleted or retired.
    HostRetired,
}

impl ChangeKind {
    /// The word shown and exported.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Gained => "gained",
            ChangeKind::Lost => "lost",
            ChangeKind::Advisory => "advisory",
            ChangeKind::HostAdded => "host_added",
            ChangeKind::HostRetired => "host_retired",
        }
    }
}

/// One entry of the changes list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// When.
    pub at: OffsetDateTime,
    /// What.
    pub kind: ChangeKind,
    /// The host (absent for advisories).
    pub hostname: Option<String>,
    /// Its group.
    pub host_group: Option<String>,
    /// The CVE (gained, lost).
    pub cve: Option<String>,
    /// The advisory (gained, lost, advisory).
    pub advisory: Option<String>,
    /// Severity when the exposure began.
    pub severity: Option<String>,
    /// Fixed version known.
    pub fixed_version: Option<String>,
    /// Why (gained, lost).
    pub cause: Option<String>,
    /// The report that caused it.
    pub report: Option<ReportId>,
    /// Hosts affected (advisory).
    pub hosts: Option<i64>,
}

/// A window of changes, limited to a scope.
#[derive(Clone, Debug)]
pub struct ChangesQuery<'a> {
    /// From (inclusive).
    pub since: OffsetDateTime,
    /// To (exclusive).
    pub until: OffsetDateTime,
    /// Which hosts.
    pub scope: &'a HostScope,
}

/// Median time to patch of one host group.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupTimeToPatch {
    /// The group (`None`: hosts in no group).
    pub group: Option<String>,
    /// Exposures fixed by a report in the window.
    pub fixed: i64,
    /// Median days from fix published to fixed on the host.
    pub median_days: f64,
}

/// An exposure fixed by a report: group, fix issued, fix known at, ended at.
type FixedRow = (Option<String>, Option<String>, Option<i64>, i64);

/// One exposure of a set.
fn exposure_of(row: &SetRow, d: &Detail) -> Result<Exposure, StoreError> {
    Ok(Exposure {
        id: row.id,
        host_id: row.host_id,
        hostname: row.hostname.clone(),
        host_group: row.host_group.clone(),
        cve: d.cve.clone(),
        severity: d.severity.clone(),
        advisory: d.advisory.clone(),
        fixed_version: d.fixed_version.clone(),
        fix_issued: d.fix_issued.clone(),
        fix_known_at: match d.fixed_version {
            Some(_) => row.fix_known_at.map(from_ts).transpose()?,
            None => None,
        },
        began_at: from_ts(row.began_at)?,
        began_cause: row.began_cause.clone(),
        began_report: row.began_report,
        ended_at: row.ended_at.map(from_ts).transpose()?,
        ended_cause: row.ended_cause.clone(),
        ended_report: row.ended_report,
    })
}

/// ` AND (…)` limiting rows whose group, domain and host name are in the named columns to
/// what `scope` allows.
fn push_scope_on<'a, DB>(
    qb: &mut QueryBuilder<'a, DB>,
    scope: &HostScope,
    group: &str,
    domain: &str,
    host: &str,
) where
    DB: Dialect,
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let HostScope::Restricted {
        groups,
        domains,
        hosts,
    } = scope
    else {
        return;
    };
    qb.push(" AND (1 = 0");
    for (column, values) in [(group, groups), (domain, domains), (host, hosts)] {
        if values.is_empty() {
            continue;
        }
        qb.push(" OR ").push(column).push(" IN (");
        let mut sep = qb.separated(", ");
        for v in values {
            sep.push_bind(v.clone());
        }
        qb.push(")");
    }
    qb.push(")");
}

/// Brings `host`'s open exposures to `now` inside `tx` (see [`sets::apply_in`]); `ids` holds
/// the interned ids of `now`'s details ([`Store::intern_details`]).
pub(crate) async fn sync_exposures_in(
    tx: &mut Tx,
    caches: &Caches,
    host: HostId,
    now: &[ExposureNow],
    ids: &crate::cache::DetailIds,
    ctx: &ExposureContext,
) -> Result<(usize, usize), StoreError> {
    let open = sets::open_sets_in(tx, caches, &[host]).await?;
    let mut pending = sets::PendingSets::default();
    let out = sets::apply_in(tx, host, None, &open, now, ids, ctx, &mut pending).await?;
    pending.flush(tx).await?;
    Ok(out)
}

impl Store {
    /// Writes hosts' counts and brings their exposures to their current CVE sets, in one
    /// transaction: what a re-evaluation, a policy change or a count refresh writes. `counts`
    /// holds only the hosts whose counts changed; `exposures` every host recomputed (its CVE
    /// set may change while its counts do not). Hosts deleted meanwhile are skipped. Returns
    /// (gained, lost).
    pub async fn update_hosts_counts_and_exposures(
        &self,
        counts: &[(HostId, HostCounts)],
        exposures: &[(HostId, Vec<ExposureNow>)],
        ctx: &ExposureContext,
    ) -> Result<(usize, usize), StoreError> {
        if counts.is_empty() && exposures.is_empty() {
            return Ok((0, 0));
        }
        let started = std::time::Instant::now();
        let ids = self
            .intern_details(exposures.iter().flat_map(|(_, now)| now))
            .await?;
        let interned = started.elapsed();
        let mut tx = self.begin().await?;
        let mut hosts: Vec<HostId> = exposures.iter().map(|(h, _)| *h).collect();
        hosts.sort_unstable();
        // The host rows first, in one order (as a report's finish does when it writes the
        // counts): a concurrent finish of the same host then reads the exposures this writes.
        // Retired hosts keep their counts right (they may come back) but their exposures
        // stay ended by the retirement until a report puts them back in service.
        // With each host's name, group and domain, which a new exposure set records.
        let mut retired: std::collections::HashSet<HostId> = std::collections::HashSet::new();
        let mut who: HashMap<HostId, (String, Option<String>, Option<String>)> = HashMap::new();
        for chunk in hosts.chunks(5_000) {
            type Row = (i64, Option<i64>, String, Option<String>, Option<String>);
            let rows = on!(&mut tx, t => sqlx::query_as::<_, Row>(&format!(
                "SELECT id, retired_at, hostname, \
                 (SELECT g.name FROM host_groups g WHERE g.id = hosts.group_id), domain \
                 FROM hosts WHERE id {} ORDER BY id{}",
                DB::in_list(1),
                DB::LOCK
            ))
            .bind(DB::ids(chunk))
            .fetch_all(&mut **t).await)?;
            for (id, retired_at, hostname, group, domain) in rows {
                if retired_at.is_some() {
                    retired.insert(id);
                }
                who.insert(id, (hostname, group, domain));
            }
        }
        let locked = started.elapsed();
        for (host, c) in counts {
            write_counts_in(&mut tx, *host, c, None, None).await?;
        }
        let counted = started.elapsed();
        let mut open: HashMap<HostId, Vec<Expanded>> = HashMap::new();
        for chunk in hosts.chunks(5_000) {
            for (row, details) in sets::open_sets_in(&mut tx, &self.caches, chunk).await? {
                open.entry(row.host_id).or_default().push((row, details));
            }
        }
        let read = started.elapsed();
        let (mut gained, mut lost) = (0, 0);
        let mut pending = sets::PendingSets::default();
        for (host, now) in exposures {
            if retired.contains(host) {
                continue;
            }
            let rows = open.get(host).map(Vec::as_slice).unwrap_or_default();
            // A host deleted meanwhile has no row: `apply_in` looks for it and adds no set.
            let who = who
                .get(host)
                .map(|(h, g, d)| (h.as_str(), g.as_deref(), d.as_deref()));
            let (g, l) =
                sets::apply_in(&mut tx, *host, who, rows, now, &ids, ctx, &mut pending).await?;
            gained += g;
            lost += l;
        }
        pending.flush(&mut tx).await?;
        let applied = started.elapsed();
        tx.commit().await?;
        tracing::debug!(
            hosts = exposures.len(),
            counts = counts.len(),
            gained,
            lost,
            intern_ms = interned.as_millis(),
            lock_ms = (locked - interned).as_millis(),
            counts_ms = (counted - locked).as_millis(),
            read_ms = (read - counted).as_millis(),
            apply_ms = (applied - read).as_millis(),
            commit_ms = (started.elapsed() - applied).as_millis(),
            "host counts and exposures written"
        );
        Ok((gained, lost))
    }

    /// Ids of hosts with an exposure that began at or after `since` and is still open (the
    /// front page's "new exposures", exact: a feed change counts as well as a report).
    pub async fn hosts_with_open_exposures_since(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<HostId>, StoreError> {
        // Host by host through `exposures_by_host` (host_id, began_at): one index range per
        // host, stopping at its first match. Reading the exposures that began since then
        // instead (`exposures_began`) reads every one of them: after a fleet enrolled, tens of
        // millions (issue 17: 11–18 s at 30,000 hosts on PostgreSQL). Deleted hosts' history
        // is left out as the hosts list leaves them out.
        // A scalar subquery with `LIMIT 1`, not `EXISTS`: PostgreSQL turns an `EXISTS` into a
        // semi-join and, its estimates off after an enrolment, hashed every open exposure
        // (41.6 s at 100,000 hosts; 1.5 s this way, one index probe per host). One
        // aggregated row, not one per host (`Dialect::ID_AGG_OPEN`).
        let (ids,): (Option<String>,) = on!(&self.read, p => {
            let mut qb = QueryBuilder::<DB>::new("SELECT ");
            qb.push(<DB as crate::db::Dialect>::ID_AGG_OPEN)
                .push("h.id) FROM hosts h WHERE (SELECT 1 FROM exposures e \
                       WHERE e.host_id = h.id AND e.began_at >= ")
                .push_bind(ts(since))
                .push(" AND e.ended_at IS NULL AND e.began_cause <> 'baseline' LIMIT 1) IS NOT NULL");
            qb.build_query_as().fetch_one(p).await
        })?;
        crate::hosts::parse_id_list(ids.as_deref())
    }

    /// Whether history must start from the current state: no exposure was ever recorded but
    /// some host has CVEs (a store that predates the history, or an upgrade).
    pub async fn history_needs_baseline(&self) -> Result<bool, StoreError> {
        let (any_exposure,): (i64,) = on!(&self.read, p => sqlx::query_as(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT 1 FROM exposures LIMIT 1) x")
            .fetch_one(p).await)?;
        if any_exposure > 0 {
            return Ok(false);
        }
        let (exposed,): (i64,) = on!(&self.read, p => sqlx::query_as(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM (SELECT 1 FROM hosts WHERE cve_count > 0 LIMIT 1) x")
            .fetch_one(p).await)?;
        Ok(exposed > 0)
    }

    /// Brings `history_hosts` up to date at `now`: hosts not yet known are added (first seen
    /// as the host row says); known hosts whose row is gone are marked retired and their open
    /// exposures ended with [`ExposureCause::Retired`]. Returns the hosts retired.
    ///
    /// The server's tick runs this every 30 s, so no statement reads the exposures table
    /// whole (issue 17: at 50,000 hosts it holds ~28 million rows, and two such scans held
    /// SQLite's one writer for tens of seconds per tick): hosts and history hosts are read
    /// whole (one row per host), exposures only by host through their indexes.
    pub async fn sync_history_hosts(
        &self,
        now: OffsetDateTime,
        generation: i64,
    ) -> Result<u64, StoreError> {
        let at = ts(now);
        let mut tx = self.begin().await?;
        on!(&mut tx, t => sqlx::query(
            "INSERT INTO history_hosts (host_id, hostname, host_group, domain, first_seen) \
             SELECT h.id, h.hostname, g.name, h.domain, h.first_seen FROM hosts h \
             LEFT JOIN host_groups g ON g.id = h.group_id \
             WHERE NOT EXISTS (SELECT 1 FROM history_hosts hh WHERE hh.host_id = h.id) \
             ON CONFLICT (host_id) DO NOTHING",
        )
        .execute(&mut **t).await.map(|r| r.rows_affected()))?;
        // Names and groups move: keep the live hosts' current ones (only rows that differ are
        // written).
        on!(&mut tx, t => sqlx::query(
            "UPDATE history_hosts SET hostname = x.hostname, host_group = x.grp, domain = x.domain \
             FROM (SELECT h.id, h.hostname, g.name AS grp, h.domain FROM hosts h \
                   LEFT JOIN host_groups g ON g.id = h.group_id) x \
             WHERE x.id = history_hosts.host_id AND history_hosts.retired_at IS NULL \
             AND (history_hosts.hostname <> x.hostname \
                  OR history_hosts.host_group IS DISTINCT FROM x.grp \
                  OR history_hosts.domain IS DISTINCT FROM x.domain)",
        )
        .execute(&mut **t).await.map(|r| r.rows_affected()))?;
        // A host deleted before any tick saw it: known from its exposures only. Its id is
        // found by walking the distinct host ids of `exposures_by_host` (one index seek per
        // host, not one row read per exposure).
        let unknown: Vec<i64> = on!(&mut tx, t => sqlx::query_scalar(
            "WITH RECURSIVE ids (id) AS ( \
               SELECT MIN(host_id) FROM exposures \
               UNION ALL \
               SELECT (SELECT MIN(e.host_id) FROM exposures e WHERE e.host_id > ids.id) \
               FROM ids WHERE ids.id IS NOT NULL) \
             SELECT id FROM ids WHERE id IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM hosts h WHERE h.id = ids.id) \
             AND NOT EXISTS (SELECT 1 FROM history_hosts hh WHERE hh.host_id = ids.id)",
        )
        .fetch_all(&mut **t).await)?;
        let mut gone = 0;
        if !unknown.is_empty() {
            gone = on!(&mut tx, t => sqlx::query(&format!(
                "INSERT INTO history_hosts (host_id, hostname, host_group, domain, first_seen, retired_at) \
                 SELECT e.host_id, MAX(e.hostname), MAX(e.host_group), MAX(e.domain), MIN(e.began_at), $1 \
                 FROM exposures e WHERE e.host_id {} \
                 GROUP BY e.host_id ON CONFLICT (host_id) DO NOTHING",
                DB::in_list(2)
            ))
            .bind(at)
            .bind(DB::ids(&unknown))
            .execute(&mut **t).await.map(|r| r.rows_affected()))?;
        }
        // Known hosts whose row is gone: retired now.
        let newly: Vec<i64> = on!(&mut tx, t => sqlx::query_scalar(
            "SELECT host_id FROM history_hosts WHERE retired_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM hosts h WHERE h.id = history_hosts.host_id)",
        )
        .fetch_all(&mut **t).await)?;
        let mut retired = gone;
        if !newly.is_empty() {
            retired += on!(&mut tx, t => sqlx::query(&format!(
                "UPDATE history_hosts SET retired_at = $1 WHERE host_id {}",
                DB::in_list(2)
            ))
            .bind(at)
            .bind(DB::ids(&newly))
            .execute(&mut **t).await.map(|r| r.rows_affected()))?;
        }
        // The open exposures of every host whose row is gone end, by host (through
        // `exposures_open`). Hosts retired at an earlier tick have none left, unless a
        // concurrent report's finish began one after that tick: they are looked at again.
        let gone_hosts: Vec<i64> = on!(&mut tx, t => sqlx::query_scalar(
            "SELECT host_id FROM history_hosts WHERE retired_at IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM hosts h WHERE h.id = history_hosts.host_id)",
        )
        .fetch_all(&mut **t).await)?;
        for chunk in gone_hosts.chunks(10_000) {
            on!(&mut tx, t => sqlx::query(&format!(
                "UPDATE exposures SET ended_at = $1, ended_cause = 'retired', ended_generation = $2 \
                 WHERE ended_at IS NULL AND host_id {}",
                DB::in_list(3)
            ))
            .bind(at)
            .bind(generation)
            .bind(DB::ids(chunk))
            .execute(&mut **t).await.map(|r| r.rows_affected()))?;
        }
        tx.commit().await?;
        Ok(retired)
    }

    /// Ends `host`'s open exposures and marks it retired in the history at `now`, for a host
    /// retired (kept, out of every count) or about to be deleted. The host row is not touched.
    pub async fn retire_host_history(
        &self,
        host: HostId,
        now: OffsetDateTime,
        generation: i64,
    ) -> Result<(), StoreError> {
        let at = ts(now);
        let mut tx = self.begin().await?;
        on!(&mut tx, t => sqlx::query(
            "UPDATE exposures SET ended_at = $2, ended_cause = 'retired', ended_generation = $3 \
             WHERE ended_at IS NULL AND host_id = $1",
        )
        .bind(host)
        .bind(at)
        .bind(generation)
        .execute(&mut **t).await.map(|r| r.rows_affected()))?;
        on!(&mut tx, t => sqlx::query(
            "INSERT INTO history_hosts (host_id, hostname, host_group, domain, first_seen, retired_at) \
             SELECT h.id, h.hostname, g.name, h.domain, h.first_seen, $2 FROM hosts h \
             LEFT JOIN host_groups g ON g.id = h.group_id WHERE h.id = $1 \
             ON CONFLICT (host_id) DO UPDATE SET retired_at = excluded.retired_at",
        )
        .bind(host)
        .bind(at)
        .execute(&mut **t).await.map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes every history row of `host` (exposures, history host, snapshots, report
    /// package lists): "delete the host and purge its history".
    pub async fn purge_host_history(&self, host: HostId) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for table in [
            "exposures",
            "history_hosts",
            "fleet_snapshots",
            "report_packages",
        ] {
            on!(&mut tx, t => sqlx::query(&format!("DELETE FROM {table} WHERE host_id = $1"))
                .bind(host)
                .execute(&mut **t).await.map(|r| r.rows_affected()))?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A host's exposures (open and ended), newest first.
    pub async fn host_exposures(&self, host: HostId) -> Result<Vec<Exposure>, StoreError> {
        let rows: Vec<SetRow> = on!(&self.read, p => sqlx::query_as(&format!(
            "SELECT {SET_COLUMNS} FROM exposures WHERE host_id = $1"
        ))
        .bind(host)
        .fetch_all(p).await)?;
        let mut out = Vec::new();
        for (row, details) in self.expand_sets(rows).await? {
            for d in details {
                out.push(exposure_of(&row, &d)?);
            }
        }
        out.sort_by(|a, b| {
            b.began_at
                .cmp(&a.began_at)
                .then(b.id.cmp(&a.id))
                .then_with(|| a.cve.cmp(&b.cve))
        });
        Ok(out)
    }

    /// Every open exposure as (host, CVE), sorted: what the invariant checks compare with a
    /// from-scratch evaluation.
    pub async fn open_exposures(&self) -> Result<Vec<(HostId, String)>, StoreError> {
        let rows: Vec<SetRow> = on!(&self.read, p => sqlx::query_as(&format!(
            "SELECT {SET_COLUMNS} FROM exposures WHERE ended_at IS NULL"
        ))
        .fetch_all(p).await)?;
        let mut out: Vec<(HostId, String)> = Vec::new();
        for (row, details) in self.expand_sets(rows).await? {
            out.extend(details.iter().map(|d| (row.host_id, d.cve.clone())));
        }
        out.sort();
        Ok(out)
    }

    /// `rows` with their exposures' details.
    async fn expand_sets(&self, rows: Vec<SetRow>) -> Result<Vec<Expanded>, StoreError> {
        let mut c = self.read.acquire().await?;
        sets::expand(c.conn(), &self.caches, rows).await
    }

    /// Exposures gained and lost, advisories that first affected the fleet, hosts added and
    /// retired in `q`'s window and scope, newest first.
    pub async fn changes(&self, q: &ChangesQuery<'_>) -> Result<Vec<Change>, StoreError> {
        let (since, until) = (ts(q.since), ts(q.until));
        let mut out = Vec::new();
        for (col, kind) in [
            ("began_at", ChangeKind::Gained),
            ("ended_at", ChangeKind::Lost),
        ] {
            let rows: Vec<SetRow> = on!(&self.read, p => {
                let mut qb = QueryBuilder::<DB>::new(format!(
                    "SELECT {SET_COLUMNS} FROM exposures WHERE {col} >= "
                ));
                qb.push_bind(since).push(format!(" AND {col} < ")).push_bind(until);
                push_scope_on(&mut qb, q.scope, "host_group", "domain", "hostname");
                qb.build_query_as().fetch_all(p).await
            })?;
            for (row, details) in self.expand_sets(rows).await? {
                for d in details {
                    let e = exposure_of(&row, &d)?;
                    let (at, cause, report) = match kind {
                        ChangeKind::Gained => (e.began_at, Some(e.began_cause), e.began_report),
                        _ => (
                            e.ended_at.unwrap_or(e.began_at),
                            e.ended_cause,
                            e.ended_report,
                        ),
                    };
                    out.push(Change {
                        at,
                        kind,
                        hostname: Some(e.hostname),
                        host_group: e.host_group,
                        cve: Some(e.cve),
                        advisory: Some(e.advisory),
                        severity: Some(e.severity),
                        fixed_version: e.fixed_version,
                        cause,
                        report,
                        hosts: None,
                    });
                }
            }
        }
        // Advisories whose first exposure (in scope) falls in the window.
        for (advisory, first, hosts) in self.advisories_first_exposed(q.scope).await? {
            if first < since || first >= until {
                continue;
            }
            out.push(Change {
                at: from_ts(first)?,
                kind: ChangeKind::Advisory,
                hostname: None,
                host_group: None,
                cve: None,
                advisory: Some(advisory),
                severity: None,
                fixed_version: None,
                cause: None,
                report: None,
                hosts: Some(hosts),
            });
        }
        // Hosts added: live hosts first seen in the window, and retired ones the history kept.
        let added: Vec<(String, Option<String>, i64)> = on!(&self.read, p => {
            let mut qb = QueryBuilder::<DB>::new(
                "SELECT h.hostname, g.name, h.first_seen FROM hosts h \
                 LEFT JOIN host_groups g ON g.id = h.group_id WHERE h.first_seen >= ",
            );
            qb.push_bind(since).push(" AND h.first_seen < ").push_bind(until);
            push_scope_on(&mut qb, q.scope, "g.name", "h.domain", "h.hostname");
            qb.push(" UNION ALL SELECT hostname, host_group, first_seen FROM history_hosts \
                     WHERE retired_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM hosts x WHERE x.id = history_hosts.host_id) \
                     AND first_seen >= ");
            qb.push_bind(since).push(" AND first_seen < ").push_bind(until);
            push_scope_on(&mut qb, q.scope, "host_group", "domain", "hostname");
            qb.build_query_as().fetch_all(p).await
        })?;
        let retired: Vec<(String, Option<String>, i64)> = on!(&self.read, p => {
            let mut qb = QueryBuilder::<DB>::new(
                "SELECT hostname, host_group, retired_at FROM history_hosts WHERE retired_at >= ",
            );
            qb.push_bind(since).push(" AND retired_at < ").push_bind(until);
            push_scope_on(&mut qb, q.scope, "host_group", "domain", "hostname");
            qb.build_query_as().fetch_all(p).await
        })?;
        for (rows, kind) in [
            (added, ChangeKind::HostAdded),
            (retired, ChangeKind::HostRetired),
        ] {
            for (hostname, group, at) in rows {
                out.push(Change {
                    at: from_ts(at)?,
                    kind,
                    hostname: Some(hostname),
                    host_group: group,
                    cve: None,
                    advisory: None,
                    severity: None,
                    fixed_version: None,
                    cause: None,
                    report: None,
                    hosts: None,
                });
            }
        }
        out.sort_by(|a, b| {
            b.at.cmp(&a.at)
                .then(a.kind.cmp(&b.kind))
                .then_with(|| a.hostname.cmp(&b.hostname))
                .then_with(|| a.cve.cmp(&b.cve))
                .then_with(|| a.advisory.cmp(&b.advisory))
        });
        Ok(out)
    }

    /// Every advisory with an exposure in `scope` (open or ended, as far as the history
    /// goes): its first exposure's beginning and the hosts it was found on. One pass over the
    /// sets by host (a page of rows at a time), counting each host once per advisory.
    async fn advisories_first_exposed(
        &self,
        scope: &HostScope,
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        // (first began, hosts) by advisory.
        let mut advisories: HashMap<String, (i64, i64)> = HashMap::new();
        let mut host_seen: HashSet<String> = HashSet::new();
        let mut current: Option<i64> = None;
        let (mut after_host, mut after_id) = (i64::MIN, i64::MIN);
        loop {
            let rows: Vec<SetRow> = on!(&self.read, p => {
                let mut qb = QueryBuilder::<DB>::new(format!(
                    "SELECT {SET_COLUMNS} FROM exposures WHERE (host_id > "
                ));
                qb.push_bind(after_host)
                    .push(" OR (host_id = ")
                    .push_bind(after_host)
                    .push(" AND id > ")
                    .push_bind(after_id)
                    .push("))");
                push_scope_on(&mut qb, scope, "host_group", "domain", "hostname");
                qb.push(" ORDER BY host_id, id LIMIT 2000");
                qb.build_query_as().fetch_all(p).await
            })?;
            let Some(last) = rows.last() else {
                break;
            };
            (after_host, after_id) = (last.host_id, last.id);
            for (row, details) in self.expand_sets(rows).await? {
                if current != Some(row.host_id) {
                    current = Some(row.host_id);
                    host_seen.clear();
                }
                for d in details {
                    let first_on_host = host_seen.insert(d.advisory.clone());
                    let e = advisories
                        .entry(d.advisory.clone())
                        .or_insert((row.began_at, 0));
                    e.0 = e.0.min(row.began_at);
                    if first_on_host {
                        e.1 += 1;
                    }
                }
            }
        }
        Ok(advisories
            .into_iter()
            .map(|(a, (first, hosts))| (a, first, hosts))
            .collect())
    }

    /// Median days from fix published (the fixing advisory's issued date, else when the fixed
    /// version became known) to fixed on the host (the exposure ended by a report), per host
    /// group, for exposures ended in the window and scope. By group name (no group first).
    pub async fn time_to_patch(
        &self,
        q: &ChangesQuery<'_>,
    ) -> Result<Vec<GroupTimeToPatch>, StoreError> {
        let rows: Vec<SetRow> = on!(&self.read, p => {
            let mut qb = QueryBuilder::<DB>::new(format!(
                "SELECT {SET_COLUMNS} FROM exposures \
                 WHERE ended_cause = 'report' AND fixable > 0 AND ended_at >= "
            ));
            qb.push_bind(ts(q.since)).push(" AND ended_at < ").push_bind(ts(q.until));
            push_scope_on(&mut qb, q.scope, "host_group", "domain", "hostname");
            qb.build_query_as().fetch_all(p).await
        })?;
        let mut fixed: Vec<FixedRow> = Vec::new();
        for (row, details) in self.expand_sets(rows).await? {
            for d in details.iter().filter(|d| d.fixed_version.is_some()) {
                fixed.push((
                    row.host_group.clone(),
                    d.fix_issued.clone(),
                    row.fix_known_at,
                    row.ended_at.unwrap_or(row.began_at),
                ));
            }
        }
        let mut by_group: BTreeMap<Option<String>, Vec<f64>> = BTreeMap::new();
        for (group, issued, known, ended) in fixed {
            let published = issued
                .as_deref()
                .and_then(issued_ts)
                .or(known)
                .unwrap_or(ended);
            let days = (ended - published).max(0) as f64 / 86_400.0;
            by_group.entry(group).or_default().push(days);
        }
        Ok(by_group
            .into_iter()
            .map(|(group, mut days)| GroupTimeToPatch {
                group,
                fixed: i64::try_from(days.len()).unwrap_or(i64::MAX),
                median_days: median(&mut days),
            })
            .collect())
    }
}

/// A vendor's issued date (`2023-12-05`, possibly followed by a time) as a timestamp at its
/// midnight UTC.
fn issued_ts(s: &str) -> Option<i64> {
    let d = s.get(..10)?;
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(d, &fmt).ok().map(day_start)
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert!((median(&mut [3.0, 1.0, 2.0]) - 2.0).abs() < 1e-9);
        assert!((median(&mut [4.0, 1.0, 2.0, 3.0]) - 2.5).abs() < 1e-9);
        assert!(median(&mut []).abs() < 1e-9);
    }

    #[test]
    fn issued_dates() {
        assert_eq!(issued_ts("1970-01-02"), Some(86_400));
        assert_eq!(issued_ts("1970-01-02T10:00:00Z"), Some(86_400));
        assert_eq!(issued_ts("soon"), None);
    }
}
