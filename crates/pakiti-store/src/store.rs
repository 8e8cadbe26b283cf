//! The [`Store`] trait and [`AnyStore`], the enum the server holds.

use std::future::Future;

use pakiti_core::advisory::Advisory;
use pakiti_core::package::InstalledPackage;
use time::{Duration, OffsetDateTime};

use crate::error::StoreError;
use crate::model::{
    CveException, CveTag, CveTagId, ExceptionId, Feed, FeedId, FeedRun, FeedUpdate, Host,
    HostCounts, HostFilter, HostFinding, HostId, HostIdentity, HostPage, HostSort, HostState,
    NewCveTag, NewException, NewFeed, NewReport, PackageFinding, PackageVersionId, Page, QueueId,
    QueuedReport, ReplaceOutcome, ReportId, ReportMeta, SavedReport, StaleKeys, StoredAdvisory,
    SyncRecord,
};
use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;

/// Everything the server persists. Implemented by [`SqliteStore`] and [`PgStore`]; the
/// conformance suite in `tests/it/` runs against both.
///
/// Every method is one transaction (or one statement): a returned `Ok` means the change is
/// durable.
pub trait Store: Send + Sync {
    // ---- feeds ----

    /// Creates a feed.
    fn create_feed(&self, feed: &NewFeed) -> impl Future<Output = Result<Feed, StoreError>> + Send;
    /// One feed.
    fn get_feed(&self, id: FeedId)
    -> impl Future<Output = Result<Option<Feed>, StoreError>> + Send;
    /// All feeds, by name.
    fn list_feeds(&self) -> impl Future<Output = Result<Vec<Feed>, StoreError>> + Send;
    /// Changes a feed's settings. Enabling or disabling it marks all its keys stale.
    fn update_feed(
        &self,
        id: FeedId,
        update: &FeedUpdate,
    ) -> impl Future<Output = Result<Feed, StoreError>> + Send;
    /// Deletes a feed and its advisories (marking their keys stale); `false` if it did not exist.
    fn delete_feed(&self, id: FeedId) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// The feed's sync history, newest first.
    fn feed_runs(
        &self,
        id: FeedId,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<FeedRun>, StoreError>> + Send;
    /// Replaces the feed's advisories with `advisories` in one transaction, records the sync on
    /// the feed and in its history, and marks the (stream, package) keys whose entries changed
    /// as stale. Unchanged advisories keep their ids (and their findings).
    fn replace_feed_advisories(
        &self,
        id: FeedId,
        advisories: &[Advisory],
        sync: &SyncRecord,
    ) -> impl Future<Output = Result<ReplaceOutcome, StoreError>> + Send;
    /// Records a sync that imported nothing (`Failed` or `Unchanged`); the stored advisories
    /// stay as they are. A `None` etag/last-modified/checksum keeps the stored one.
    fn record_feed_sync(
        &self,
        id: FeedId,
        sync: &SyncRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Every advisory of every enabled feed, by id, exactly as imported.
    fn load_advisories(
        &self,
    ) -> impl Future<Output = Result<Vec<StoredAdvisory>, StoreError>> + Send;
    /// The keys awaiting re-evaluation.
    fn stale_keys(&self) -> impl Future<Output = Result<StaleKeys, StoreError>> + Send;
    /// Forgets stale keys marked up to `seq` (from [`StaleKeys::seq`]).
    fn clear_stale_keys(&self, seq: i64) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Evaluated package versions of `stream` whose binary or source name is in `names` (what a
    /// stale key asks to re-evaluate).
    fn evaluated_package_versions(
        &self,
        stream: &str,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<(PackageVersionId, InstalledPackage)>, StoreError>> + Send;

    // ---- hosts and reports ----

    /// The host a report from `identity` belongs to, if it exists.
    fn host_state(
        &self,
        identity: &HostIdentity,
    ) -> impl Future<Output = Result<Option<HostState>, StoreError>> + Send;
    /// Saves a changed (or first) report: upserts the host, interns its packages, stores its
    /// installed set and a report row, and says which package versions still need matching.
    fn save_report(
        &self,
        report: NewReport<'_>,
    ) -> impl Future<Output = Result<SavedReport, StoreError>> + Send;
    /// The cheap path for a report whose hash equals the host's last: a report row and
    /// `last_report_at`, nothing else.
    fn touch_unchanged_report(
        &self,
        host: HostId,
        meta: &ReportMeta,
    ) -> impl Future<Output = Result<ReportId, StoreError>> + Send;
    /// The unchanged path for many reports in one transaction (one fsync): what a server
    /// under load uses to group-commit. `out[i]` is `None` when `reports[i]`'s host no longer
    /// exists.
    fn touch_unchanged_reports(
        &self,
        reports: &[(HostId, ReportMeta)],
    ) -> impl Future<Output = Result<Vec<Option<ReportId>>, StoreError>> + Send;
    /// Marks a report evaluated, with the host's CVE count at that time.
    fn mark_report_processed(
        &self,
        report: ReportId,
        processed_at: OffsetDateTime,
        cve_count: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Stores the matcher's answer for `evaluated` package versions of `stream`, replacing any
    /// earlier answer for them. Findings naming advisories deleted in the meantime are dropped
    /// (their keys are stale and get re-evaluated).
    fn store_package_findings(
        &self,
        stream: &str,
        evaluated: &[PackageVersionId],
        findings: &[PackageFinding],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The host's findings (from enabled feeds), by package then advisory.
    fn host_findings(
        &self,
        host: HostId,
    ) -> impl Future<Output = Result<Vec<HostFinding>, StoreError>> + Send;
    /// The host's installed packages, by id.
    fn host_packages(
        &self,
        host: HostId,
    ) -> impl Future<Output = Result<Vec<(PackageVersionId, InstalledPackage)>, StoreError>> + Send;
    /// Hosts of `stream` that have any of `ids` installed (to refresh counts after a
    /// re-evaluation).
    fn hosts_with_packages(
        &self,
        stream: &str,
        ids: &[PackageVersionId],
    ) -> impl Future<Output = Result<Vec<HostId>, StoreError>> + Send;
    /// Writes the host's cached counts.
    fn update_host_counts(
        &self,
        host: HostId,
        counts: &HostCounts,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// A filtered, sorted page of hosts and the total number matching.
    fn list_hosts(
        &self,
        filter: &HostFilter,
        sort: HostSort,
        page: Page,
    ) -> impl Future<Output = Result<HostPage, StoreError>> + Send;
    /// One host.
    fn get_host(&self, id: HostId)
    -> impl Future<Output = Result<Option<Host>, StoreError>> + Send;
    /// The most recently reporting host with this hostname.
    fn get_host_by_name(
        &self,
        hostname: &str,
    ) -> impl Future<Output = Result<Option<Host>, StoreError>> + Send;
    /// Deletes a host with its reports and installed set; `false` if it did not exist.
    fn delete_host(&self, id: HostId) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Deletes reports received before `older_than`, except each host's latest; returns how
    /// many were deleted.
    fn prune_reports(
        &self,
        older_than: OffsetDateTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    // ---- durable report queue ----

    /// Queues a received report for evaluation.
    fn enqueue_report(
        &self,
        payload: &[u8],
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<QueueId, StoreError>> + Send;
    /// Claims up to `n` reports (oldest first) that are unclaimed or whose lease ran out, for
    /// `lease`. Concurrent claimers, in one process or several, never get the same report
    /// while its lease runs.
    fn claim_reports(
        &self,
        worker: &str,
        n: i64,
        lease: Duration,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<QueuedReport>, StoreError>> + Send;
    /// Removes a processed report from the queue; `false` if it was already gone.
    fn complete_report(&self, id: QueueId)
    -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Reports in the queue, claimed or not.
    fn queue_len(&self) -> impl Future<Output = Result<i64, StoreError>> + Send;

    // ---- CVE tags and exceptions ----

    /// Tags a CVE; [`StoreError::Duplicate`] when it already carries a tag of that name.
    fn create_cve_tag(
        &self,
        tag: &NewCveTag,
    ) -> impl Future<Output = Result<CveTag, StoreError>> + Send;
    /// Every tag, by CVE then tag name.
    fn list_cve_tags(&self) -> impl Future<Output = Result<Vec<CveTag>, StoreError>> + Send;
    /// Enables or disables a tag; `None` if it does not exist.
    fn set_cve_tag_enabled(
        &self,
        id: CveTagId,
        enabled: bool,
    ) -> impl Future<Output = Result<Option<CveTag>, StoreError>> + Send;
    /// Deletes a tag, returning it; `None` if it did not exist.
    fn delete_cve_tag(
        &self,
        id: CveTagId,
    ) -> impl Future<Output = Result<Option<CveTag>, StoreError>> + Send;
    /// Creates an exception; [`StoreError::Duplicate`] when one exists for the same CVE,
    /// package, version and stream.
    fn create_exception(
        &self,
        exception: &NewException,
    ) -> impl Future<Output = Result<CveException, StoreError>> + Send;
    /// Every exception (expired ones too), by CVE, package, version, stream.
    fn list_exceptions(&self)
    -> impl Future<Output = Result<Vec<CveException>, StoreError>> + Send;
    /// Deletes an exception, returning it; `None` if it did not exist.
    fn delete_exception(
        &self,
        id: ExceptionId,
    ) -> impl Future<Output = Result<Option<CveException>, StoreError>> + Send;
}

/// The store the server holds: one of the backends, chosen at startup from the URL.
///
/// An enum rather than `Server<S: Store>`: the server (handlers, jobs, templates) is compiled
/// once instead of once per backend, at the cost of one `match` per call.
#[derive(Clone, Debug)]
pub enum AnyStore {
    /// SQLite.
    Sqlite(SqliteStore),
    /// PostgreSQL.
    Postgres(PgStore),
}

impl AnyStore {
    /// Which backend this is (`sqlite`, `postgres`).
    #[must_use]
    pub fn backend(&self) -> &'static str {
        match self {
            AnyStore::Sqlite(_) => "sqlite",
            AnyStore::Postgres(_) => "postgres",
        }
    }

    /// The store's size on disk in bytes: the SQLite file after a WAL checkpoint, or
    /// `pg_database_size` for PostgreSQL.
    ///
    /// # Errors
    ///
    /// The query fails.
    pub async fn size_bytes(&self) -> Result<u64, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.size_bytes().await,
            AnyStore::Postgres(s) => s.size_bytes().await,
        }
    }

    /// Closes the connection pools (SQLite checkpoints its WAL into the database file).
    pub async fn close(&self) {
        match self {
            AnyStore::Sqlite(s) => s.close().await,
            AnyStore::Postgres(s) => s.close().await,
        }
    }
}

macro_rules! delegate {
    ($self:ident . $m:ident ( $($a:expr),* )) => {
        match $self {
            AnyStore::Sqlite(s) => s.$m($($a),*).await,
            AnyStore::Postgres(s) => s.$m($($a),*).await,
        }
    };
}

impl Store for AnyStore {
    async fn create_feed(&self, feed: &NewFeed) -> Result<Feed, StoreError> {
        delegate!(self.create_feed(feed))
    }
    async fn get_feed(&self, id: FeedId) -> Result<Option<Feed>, StoreError> {
        delegate!(self.get_feed(id))
    }
    async fn list_feeds(&self) -> Result<Vec<Feed>, StoreError> {
        delegate!(self.list_feeds())
    }
    async fn update_feed(&self, id: FeedId, update: &FeedUpdate) -> Result<Feed, StoreError> {
        delegate!(self.update_feed(id, update))
    }
    async fn delete_feed(&self, id: FeedId) -> Result<bool, StoreError> {
        delegate!(self.delete_feed(id))
    }
    async fn feed_runs(&self, id: FeedId, limit: i64) -> Result<Vec<FeedRun>, StoreError> {
        delegate!(self.feed_runs(id, limit))
    }
    async fn replace_feed_advisories(
        &self,
        id: FeedId,
        advisories: &[Advisory],
        sync: &SyncRecord,
    ) -> Result<ReplaceOutcome, StoreError> {
        delegate!(self.replace_feed_advisories(id, advisories, sync))
    }
    async fn record_feed_sync(&self, id: FeedId, sync: &SyncRecord) -> Result<(), StoreError> {
        delegate!(self.record_feed_sync(id, sync))
    }
    async fn load_advisories(&self) -> Result<Vec<StoredAdvisory>, StoreError> {
        delegate!(self.load_advisories())
    }
    async fn stale_keys(&self) -> Result<StaleKeys, StoreError> {
        delegate!(self.stale_keys())
    }
    async fn clear_stale_keys(&self, seq: i64) -> Result<(), StoreError> {
        delegate!(self.clear_stale_keys(seq))
    }
    async fn evaluated_package_versions(
        &self,
        stream: &str,
        names: &[String],
    ) -> Result<Vec<(PackageVersionId, InstalledPackage)>, StoreError> {
        delegate!(self.evaluated_package_versions(stream, names))
    }
    async fn host_state(&self, identity: &HostIdentity) -> Result<Option<HostState>, StoreError> {
        delegate!(self.host_state(identity))
    }
    async fn save_report(&self, report: NewReport<'_>) -> Result<SavedReport, StoreError> {
        delegate!(self.save_report(report))
    }
    async fn touch_unchanged_report(
        &self,
        host: HostId,
        meta: &ReportMeta,
    ) -> Result<ReportId, StoreError> {
        delegate!(self.touch_unchanged_report(host, meta))
    }
    async fn touch_unchanged_reports(
        &self,
        reports: &[(HostId, ReportMeta)],
    ) -> Result<Vec<Option<ReportId>>, StoreError> {
        delegate!(self.touch_unchanged_reports(reports))
    }
    async fn mark_report_processed(
        &self,
        report: ReportId,
        processed_at: OffsetDateTime,
        cve_count: i64,
    ) -> Result<(), StoreError> {
        delegate!(self.mark_report_processed(report, processed_at, cve_count))
    }
    async fn store_package_findings(
        &self,
        stream: &str,
        evaluated: &[PackageVersionId],
        findings: &[PackageFinding],
    ) -> Result<(), StoreError> {
        delegate!(self.store_package_findings(stream, evaluated, findings))
    }
    async fn host_findings(&self, host: HostId) -> Result<Vec<HostFinding>, StoreError> {
        delegate!(self.host_findings(host))
    }
    async fn host_packages(
        &self,
        host: HostId,
    ) -> Result<Vec<(PackageVersionId, InstalledPackage)>, StoreError> {
        delegate!(self.host_packages(host))
    }
    async fn hosts_with_packages(
        &self,
        stream: &str,
        ids: &[PackageVersionId],
    ) -> Result<Vec<HostId>, StoreError> {
        delegate!(self.hosts_with_packages(stream, ids))
    }
    async fn update_host_counts(
        &self,
        host: HostId,
        counts: &HostCounts,
    ) -> Result<(), StoreError> {
        delegate!(self.update_host_counts(host, counts))
    }
    async fn list_hosts(
        &self,
        filter: &HostFilter,
        sort: HostSort,
        page: Page,
    ) -> Result<HostPage, StoreError> {
        delegate!(self.list_hosts(filter, sort, page))
    }
    async fn get_host(&self, id: HostId) -> Result<Option<Host>, StoreError> {
        delegate!(self.get_host(id))
    }
    async fn get_host_by_name(&self, hostname: &str) -> Result<Option<Host>, StoreError> {
        delegate!(self.get_host_by_name(hostname))
    }
    async fn delete_host(&self, id: HostId) -> Result<bool, StoreError> {
        delegate!(self.delete_host(id))
    }
    async fn prune_reports(&self, older_than: OffsetDateTime) -> Result<u64, StoreError> {
        delegate!(self.prune_reports(older_than))
    }
    async fn enqueue_report(
        &self,
        payload: &[u8],
        now: OffsetDateTime,
    ) -> Result<QueueId, StoreError> {
        delegate!(self.enqueue_report(payload, now))
    }
    async fn claim_reports(
        &self,
        worker: &str,
        n: i64,
        lease: Duration,
        now: OffsetDateTime,
    ) -> Result<Vec<QueuedReport>, StoreError> {
        delegate!(self.claim_reports(worker, n, lease, now))
    }
    async fn complete_report(&self, id: QueueId) -> Result<bool, StoreError> {
        delegate!(self.complete_report(id))
    }
    async fn queue_len(&self) -> Result<i64, StoreError> {
        delegate!(self.queue_len())
    }
    async fn create_cve_tag(&self, tag: &NewCveTag) -> Result<CveTag, StoreError> {
        delegate!(self.create_cve_tag(tag))
    }
    async fn list_cve_tags(&self) -> Result<Vec<CveTag>, StoreError> {
        delegate!(self.list_cve_tags())
    }
    async fn set_cve_tag_enabled(
        &self,
        id: CveTagId,
        enabled: bool,
    ) -> Result<Option<CveTag>, StoreError> {
        delegate!(self.set_cve_tag_enabled(id, enabled))
    }
    async fn delete_cve_tag(&self, id: CveTagId) -> Result<Option<CveTag>, StoreError> {
        delegate!(self.delete_cve_tag(id))
    }
    async fn create_exception(&self, e: &NewException) -> Result<CveException, StoreError> {
        delegate!(self.create_exception(e))
    }
    async fn list_exceptions(&self) -> Result<Vec<CveException>, StoreError> {
        delegate!(self.list_exceptions())
    }
    async fn delete_exception(&self, id: ExceptionId) -> Result<Option<CveException>, StoreError> {
        delegate!(self.delete_exception(id))
    }
}
