//! The [`Store`] trait and [`AnyStore`], the enum the server holds.

use std::future::Future;

use pakiti_core::advisory::Advisory;
use pakiti_core::package::InstalledPackage;
use time::{Duration, OffsetDateTime};

use crate::error::StoreError;
use crate::identity::{IdentityConflict, IdentityConflictId, NewIdentityConflict};
use crate::model::{
    CveException, CveTag, CveTagId, ExceptionId, ExposureDay, Feed, FeedContent, FeedId, FeedRun,
    FeedUpdate, FinishReport, FleetHost, Host, HostCounts, HostFilter, HostFinding, HostId,
    HostIdentity, HostPage, HostScope, HostSort, HostState, InstalledSet, NewCveTag, NewException,
    NewFeed, NewReport, PackageFinding, PackageVersionId, Page, QueueId, QueuedReport,
    ReplaceOutcome, ReportId, ReportMeta, ReportSummary, SavedReport, StaleKeys, StoredAdvisory,
    StreamFinding, SyncRecord,
};
use crate::postgres::PgStore;
use crate::refused::{NewRefusedReport, RefusedReport, RefusedReportId};
use crate::repos::{
    HostUpdateCounts, NewRepository, RepoContent, RepoEntry, RepoRun, Repository, RepositoryId,
};
use crate::sqlite::SqliteStore;
use crate::users::{ApiToken, ApiTokenId, Grant, NewUser, Session, User, UserId, UserUpdate};

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
    /// Records what the feed's last successful import was (see [`FeedContent`]).
    fn set_feed_content(
        &self,
        id: FeedId,
        content: &FeedContent,
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
    /// exists, its last saved report no longer has `reports[i]`'s hash (another report, or
    /// another server, changed it since the caller looked), or that report's evaluation never
    /// finished ([`Host::evaluation_pending`]): the caller then saves the report in full.
    fn touch_unchanged_reports(
        &self,
        reports: &[(HostId, ReportMeta)],
    ) -> impl Future<Output = Result<Vec<Option<ReportId>>, StoreError>> + Send;
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
    /// The secret stored under `name`, storing `candidate` first if there is none: every
    /// server sharing the database gets the same value, and it survives restarts.
    fn shared_secret(
        &self,
        name: &str,
        candidate: &str,
    ) -> impl Future<Output = Result<String, StoreError>> + Send;
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

    // ---- batched ingest ----

    /// Saves several changed (or first) reports in one transaction — one commit, one fsync —
    /// as [`Store::save_report`] would one by one. All or nothing: on an error none is saved
    /// (the caller retries them one by one to find the culprit).
    fn save_reports(
        &self,
        reports: &[NewReport<'_>],
    ) -> impl Future<Output = Result<Vec<SavedReport>, StoreError>> + Send;
    /// Writes evaluated reports' results in one transaction: the findings of the package
    /// versions each evaluated (replacing earlier answers), the host's counts, and the report
    /// marked processed with its CVE count. All or nothing.
    ///
    /// An item whose [`FinishReport::generation`] is older than the store's feed generation
    /// (a feed changed after its evaluator was built) is not written; the answer says, per
    /// item, whether it was.
    fn finish_reports(
        &self,
        items: &[FinishReport],
    ) -> impl Future<Output = Result<Vec<bool>, StoreError>> + Send;
    /// The feed generation: bumped by every change to what the advisories say, and the
    /// sequence number of the stale keys that change marked.
    fn feed_generation(&self) -> impl Future<Output = Result<i64, StoreError>> + Send;
    /// Hosts whose last saved report was never evaluated ([`Host::evaluation_pending`]): the
    /// host and that report, by host id.
    fn pending_evaluations(
        &self,
    ) -> impl Future<Output = Result<Vec<(HostId, ReportId)>, StoreError>> + Send;
    /// The stored findings of these package versions for `stream`, by package version.
    fn package_findings(
        &self,
        stream: &str,
        ids: &[PackageVersionId],
    ) -> impl Future<Output = Result<Vec<PackageFinding>, StoreError>> + Send;
    /// The installed sets of `hosts` (every host when `None`), by host id; hosts that never
    /// saved a report are absent.
    fn installed_sets(
        &self,
        hosts: Option<&[HostId]>,
    ) -> impl Future<Output = Result<Vec<InstalledSet>, StoreError>> + Send;
    /// Package versions by id (unknown ids are absent), by id.
    fn package_versions(
        &self,
        ids: &[PackageVersionId],
    ) -> impl Future<Output = Result<Vec<(PackageVersionId, InstalledPackage)>, StoreError>> + Send;
    /// Writes many hosts' cached counts in one transaction; hosts deleted meanwhile are
    /// skipped.
    fn update_hosts_counts(
        &self,
        counts: &[(HostId, HostCounts)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    // ---- users ----

    /// Creates a user; [`StoreError::Duplicate`] when the name is taken.
    fn create_user(&self, user: &NewUser) -> impl Future<Output = Result<User, StoreError>> + Send;
    /// The user named `name`.
    fn get_user_by_name(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;
    /// Every user, by name.
    fn list_users(&self) -> impl Future<Output = Result<Vec<User>, StoreError>> + Send;
    /// Changes a user; `None` if it does not exist. A new password or disabling the user ends
    /// its sessions. With `keep_an_admin`, demoting or disabling the last enabled
    /// administrator fails with [`StoreError::LastAdmin`], checked in the same transaction
    /// (the enabled administrators' rows are locked), so concurrent requests cannot both pass.
    fn update_user(
        &self,
        id: UserId,
        update: &UserUpdate,
        keep_an_admin: bool,
    ) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;
    /// Deletes a user with its grants, sessions and tokens; `false` if it did not exist. With
    /// `keep_an_admin`, deleting the last enabled administrator fails with
    /// [`StoreError::LastAdmin`] (checked as in [`Store::update_user`]).
    fn delete_user(
        &self,
        id: UserId,
        keep_an_admin: bool,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// The user's grants, by kind then value.
    fn user_grants(
        &self,
        id: UserId,
    ) -> impl Future<Output = Result<Vec<Grant>, StoreError>> + Send;
    /// Grants the user a group, domain or host; `false` if it already had it (or no such user).
    fn add_grant(
        &self,
        id: UserId,
        grant: &Grant,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Takes a grant away; `false` if the user did not have it.
    fn remove_grant(
        &self,
        id: UserId,
        grant: &Grant,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Records a session (by the SHA-256 hex of its cookie token) with its CSRF token, and
    /// sweeps expired ones.
    fn create_session(
        &self,
        token_hash: &str,
        user: UserId,
        csrf: &str,
        expires_at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The unexpired session with that token hash, whose user is not disabled.
    fn get_session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<Session>, StoreError>> + Send;
    /// Ends a session; `false` if there was none.
    fn delete_session(
        &self,
        token_hash: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Records an API token (by the SHA-256 hex of the token).
    fn create_api_token(
        &self,
        user: UserId,
        token_hash: &str,
        name: &str,
    ) -> impl Future<Output = Result<ApiToken, StoreError>> + Send;
    /// A user's tokens, oldest first.
    fn list_api_tokens(
        &self,
        user: UserId,
    ) -> impl Future<Output = Result<Vec<ApiToken>, StoreError>> + Send;
    /// Revokes (deletes) a token; `false` if it did not exist.
    fn revoke_api_token(
        &self,
        id: ApiTokenId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// The (enabled) user a token hash belongs to, recording its use at `now`.
    fn user_by_api_token(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;

    // ---- fleet ----

    /// Every host with its scope keys and installed package versions (what the in-memory fleet
    /// index is built from), by id.
    fn fleet_hosts(&self) -> impl Future<Output = Result<Vec<FleetHost>, StoreError>> + Send;
    /// Every stored finding with its stream, from enabled feeds.
    fn fleet_findings(&self)
    -> impl Future<Output = Result<Vec<StreamFinding>, StoreError>> + Send;
    /// Every interned package version, by id.
    fn fleet_packages(
        &self,
    ) -> impl Future<Output = Result<Vec<(PackageVersionId, InstalledPackage)>, StoreError>> + Send;
    /// A host's reports, newest first.
    fn host_reports(
        &self,
        host: HostId,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<ReportSummary>, StoreError>> + Send;
    /// Fleet exposure per day since `since`, from evaluated reports of the hosts `scope` allows.
    fn exposure_by_day(
        &self,
        since: OffsetDateTime,
        scope: &HostScope,
    ) -> impl Future<Output = Result<Vec<ExposureDay>, StoreError>> + Send;

    // ---- repositories ----

    /// Creates a repository; [`StoreError::Duplicate`] when the name is taken.
    fn create_repository(
        &self,
        repo: &NewRepository,
    ) -> impl Future<Output = Result<Repository, StoreError>> + Send;
    /// One repository.
    fn get_repository(
        &self,
        id: RepositoryId,
    ) -> impl Future<Output = Result<Option<Repository>, StoreError>> + Send;
    /// All repositories, by name.
    fn list_repositories(&self)
    -> impl Future<Output = Result<Vec<Repository>, StoreError>> + Send;
    /// Deletes a repository with its packages and history; `false` if it did not exist.
    fn delete_repository(
        &self,
        id: RepositoryId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// The repository's sync history, newest first.
    fn repository_runs(
        &self,
        id: RepositoryId,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<RepoRun>, StoreError>> + Send;
    /// Replaces the repository's packages with `content` in one transaction and records the
    /// (successful) sync on it and in its history.
    fn replace_repository_packages(
        &self,
        id: RepositoryId,
        content: &RepoContent,
        sync: &SyncRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Records a sync that imported nothing (`Failed` or `Unchanged`); a `None`
    /// etag/last-modified/checksum keeps the stored one.
    fn record_repository_sync(
        &self,
        id: RepositoryId,
        sync: &SyncRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Every enabled repository with its entries, by id.
    fn load_repository_packages(
        &self,
    ) -> impl Future<Output = Result<Vec<(Repository, Vec<RepoEntry>)>, StoreError>> + Send;
    /// The hosts of a stream, by id.
    fn stream_hosts(
        &self,
        stream: &str,
    ) -> impl Future<Output = Result<Vec<Host>, StoreError>> + Send;
    /// Writes hosts' cached update counts, in one transaction.
    fn set_host_updates(
        &self,
        counts: &[(HostId, HostUpdateCounts)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    // ---- refused reports ----

    /// Records a refused report and drops all but the newest `keep` records.
    fn record_refused_report(
        &self,
        refused: &NewRefusedReport,
        keep: i64,
    ) -> impl Future<Output = Result<RefusedReportId, StoreError>> + Send;
    /// Refused reports, newest first (`offset`, `limit`), and how many are recorded.
    fn refused_reports(
        &self,
        offset: i64,
        limit: i64,
    ) -> impl Future<Output = Result<(Vec<RefusedReport>, i64), StoreError>> + Send;

    // ---- host identity (issue 16 D17) ----

    /// The identity `host` is bound to, if any.
    fn host_bound_identity(
        &self,
        host: HostId,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    /// Binds `host` to `identity` (`only_if_unbound`: only a host not bound yet); whether a
    /// row changed.
    fn bind_host_identity(
        &self,
        host: HostId,
        identity: &str,
        only_if_unbound: bool,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Records an identity conflict; a held one supersedes the host's older held report; all
    /// but the newest `keep` conflicts are dropped.
    fn record_identity_conflict(
        &self,
        conflict: &NewIdentityConflict,
        keep: i64,
    ) -> impl Future<Output = Result<IdentityConflictId, StoreError>> + Send;
    /// Identity conflicts, newest first (`offset`, `limit`), and how many are recorded.
    fn identity_conflicts(
        &self,
        offset: i64,
        limit: i64,
    ) -> impl Future<Output = Result<(Vec<IdentityConflict>, i64), StoreError>> + Send;
    /// One identity conflict.
    fn identity_conflict(
        &self,
        id: IdentityConflictId,
    ) -> impl Future<Output = Result<Option<IdentityConflict>, StoreError>> + Send;
    /// Marks a held conflict `status` (`accepted` / `rejected`) and drops its report; false
    /// when it was not held (already resolved or unknown).
    fn resolve_identity_conflict(
        &self,
        id: IdentityConflictId,
        status: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
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
    async fn set_feed_content(&self, id: FeedId, content: &FeedContent) -> Result<(), StoreError> {
        delegate!(self.set_feed_content(id, content))
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
    async fn shared_secret(&self, name: &str, candidate: &str) -> Result<String, StoreError> {
        delegate!(self.shared_secret(name, candidate))
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

    async fn save_reports(&self, r: &[NewReport<'_>]) -> Result<Vec<SavedReport>, StoreError> {
        delegate!(self.save_reports(r))
    }
    async fn finish_reports(&self, items: &[FinishReport]) -> Result<Vec<bool>, StoreError> {
        delegate!(self.finish_reports(items))
    }
    async fn feed_generation(&self) -> Result<i64, StoreError> {
        delegate!(self.feed_generation())
    }
    async fn pending_evaluations(&self) -> Result<Vec<(HostId, ReportId)>, StoreError> {
        delegate!(self.pending_evaluations())
    }
    async fn package_findings(
        &self,
        stream: &str,
        ids: &[PackageVersionId],
    ) -> Result<Vec<PackageFinding>, StoreError> {
        delegate!(self.package_findings(stream, ids))
    }
    async fn installed_sets(
        &self,
        hosts: Option<&[HostId]>,
    ) -> Result<Vec<InstalledSet>, StoreError> {
        delegate!(self.installed_sets(hosts))
    }
    async fn package_versions(
        &self,
        ids: &[PackageVersionId],
    ) -> Result<Vec<(PackageVersionId, InstalledPackage)>, StoreError> {
        delegate!(self.package_versions(ids))
    }
    async fn update_hosts_counts(&self, c: &[(HostId, HostCounts)]) -> Result<(), StoreError> {
        delegate!(self.update_hosts_counts(c))
    }
    async fn create_user(&self, user: &NewUser) -> Result<User, StoreError> {
        delegate!(self.create_user(user))
    }
    async fn get_user_by_name(&self, name: &str) -> Result<Option<User>, StoreError> {
        delegate!(self.get_user_by_name(name))
    }
    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        delegate!(self.list_users())
    }
    async fn update_user(
        &self,
        id: UserId,
        update: &UserUpdate,
        keep_an_admin: bool,
    ) -> Result<Option<User>, StoreError> {
        delegate!(self.update_user(id, update, keep_an_admin))
    }
    async fn delete_user(&self, id: UserId, keep_an_admin: bool) -> Result<bool, StoreError> {
        delegate!(self.delete_user(id, keep_an_admin))
    }
    async fn user_grants(&self, id: UserId) -> Result<Vec<Grant>, StoreError> {
        delegate!(self.user_grants(id))
    }
    async fn add_grant(&self, id: UserId, grant: &Grant) -> Result<bool, StoreError> {
        delegate!(self.add_grant(id, grant))
    }
    async fn remove_grant(&self, id: UserId, grant: &Grant) -> Result<bool, StoreError> {
        delegate!(self.remove_grant(id, grant))
    }
    async fn create_session(
        &self,
        token_hash: &str,
        user: UserId,
        csrf: &str,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        delegate!(self.create_session(token_hash, user, csrf, expires_at))
    }
    async fn get_session(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Session>, StoreError> {
        delegate!(self.get_session(token_hash, now))
    }
    async fn delete_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        delegate!(self.delete_session(token_hash))
    }
    async fn create_api_token(
        &self,
        user: UserId,
        token_hash: &str,
        name: &str,
    ) -> Result<ApiToken, StoreError> {
        delegate!(self.create_api_token(user, token_hash, name))
    }
    async fn list_api_tokens(&self, user: UserId) -> Result<Vec<ApiToken>, StoreError> {
        delegate!(self.list_api_tokens(user))
    }
    async fn revoke_api_token(&self, id: ApiTokenId) -> Result<bool, StoreError> {
        delegate!(self.revoke_api_token(id))
    }
    async fn user_by_api_token(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<User>, StoreError> {
        delegate!(self.user_by_api_token(token_hash, now))
    }
    async fn fleet_hosts(&self) -> Result<Vec<FleetHost>, StoreError> {
        delegate!(self.fleet_hosts())
    }
    async fn fleet_findings(&self) -> Result<Vec<StreamFinding>, StoreError> {
        delegate!(self.fleet_findings())
    }
    async fn fleet_packages(
        &self,
    ) -> Result<Vec<(PackageVersionId, InstalledPackage)>, StoreError> {
        delegate!(self.fleet_packages())
    }
    async fn host_reports(
        &self,
        host: HostId,
        limit: i64,
    ) -> Result<Vec<ReportSummary>, StoreError> {
        delegate!(self.host_reports(host, limit))
    }
    async fn exposure_by_day(
        &self,
        since: OffsetDateTime,
        scope: &HostScope,
    ) -> Result<Vec<ExposureDay>, StoreError> {
        delegate!(self.exposure_by_day(since, scope))
    }
    async fn create_repository(&self, r: &NewRepository) -> Result<Repository, StoreError> {
        delegate!(self.create_repository(r))
    }
    async fn get_repository(&self, id: RepositoryId) -> Result<Option<Repository>, StoreError> {
        delegate!(self.get_repository(id))
    }
    async fn list_repositories(&self) -> Result<Vec<Repository>, StoreError> {
        delegate!(self.list_repositories())
    }
    async fn delete_repository(&self, id: RepositoryId) -> Result<bool, StoreError> {
        delegate!(self.delete_repository(id))
    }
    async fn repository_runs(
        &self,
        id: RepositoryId,
        limit: i64,
    ) -> Result<Vec<RepoRun>, StoreError> {
        delegate!(self.repository_runs(id, limit))
    }
    async fn replace_repository_packages(
        &self,
        id: RepositoryId,
        content: &RepoContent,
        sync: &SyncRecord,
    ) -> Result<(), StoreError> {
        delegate!(self.replace_repository_packages(id, content, sync))
    }
    async fn record_repository_sync(
        &self,
        id: RepositoryId,
        sync: &SyncRecord,
    ) -> Result<(), StoreError> {
        delegate!(self.record_repository_sync(id, sync))
    }
    async fn load_repository_packages(
        &self,
    ) -> Result<Vec<(Repository, Vec<RepoEntry>)>, StoreError> {
        delegate!(self.load_repository_packages())
    }
    async fn stream_hosts(&self, stream: &str) -> Result<Vec<Host>, StoreError> {
        delegate!(self.stream_hosts(stream))
    }
    async fn set_host_updates(
        &self,
        counts: &[(HostId, HostUpdateCounts)],
    ) -> Result<(), StoreError> {
        delegate!(self.set_host_updates(counts))
    }
    async fn record_refused_report(
        &self,
        refused: &NewRefusedReport,
        keep: i64,
    ) -> Result<RefusedReportId, StoreError> {
        delegate!(self.record_refused_report(refused, keep))
    }
    async fn refused_reports(
        &self,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<RefusedReport>, i64), StoreError> {
        delegate!(self.refused_reports(offset, limit))
    }
    async fn host_bound_identity(&self, host: HostId) -> Result<Option<String>, StoreError> {
        delegate!(self.host_bound_identity(host))
    }
    async fn bind_host_identity(
        &self,
        host: HostId,
        identity: &str,
        only_if_unbound: bool,
    ) -> Result<bool, StoreError> {
        delegate!(self.bind_host_identity(host, identity, only_if_unbound))
    }
    async fn record_identity_conflict(
        &self,
        conflict: &NewIdentityConflict,
        keep: i64,
    ) -> Result<IdentityConflictId, StoreError> {
        delegate!(self.record_identity_conflict(conflict, keep))
    }
    async fn identity_conflicts(
        &self,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<IdentityConflict>, i64), StoreError> {
        delegate!(self.identity_conflicts(offset, limit))
    }
    async fn identity_conflict(
        &self,
        id: IdentityConflictId,
    ) -> Result<Option<IdentityConflict>, StoreError> {
        delegate!(self.identity_conflict(id))
    }
    async fn resolve_identity_conflict(
        &self,
        id: IdentityConflictId,
        status: &str,
    ) -> Result<bool, StoreError> {
        delegate!(self.resolve_identity_conflict(id, status))
    }
}
