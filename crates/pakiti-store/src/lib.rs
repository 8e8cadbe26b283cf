//! The store: one concrete [`Store`] over SQLite or PostgreSQL. The only crate with SQL.
//!
//! # Decisions
//!
//! - **One concrete `Store`, written once** (the shape of sea-orm's `DatabaseConnection`). It
//!   holds either engine's pools (`db::Pool`, an enum) and the process-local caches; every
//!   method is an inherent `pub async fn`, written once, in a file by domain: `feeds`,
//!   `reports`, `findings`, `hosts`, `queue`, `tags`, `users`, `repos`, `fleet`, `refused`,
//!   `identity` (the last two share `journal`: bounded retention and paged lists), `history`
//!   (the exposure history, daily fleet snapshots, per-report package lists), `housekeeping`
//!   (retention, purges, the run log, SQLite maintenance, backups, migration status). Earlier
//!   the store was a trait implemented twice with shared text pulled in by an `include` and
//!   macros, so a new query touched four places and go-to-definition landed in a macro.
//!   No trait: there is one implementation, and the server holds it directly (an enum, not
//!   `Server<S: Store>`, so the server is compiled once).
//! - **Dispatch at the statement.** Only execute/fetch/begin see the engine: a method writes
//!   `on!(&self.read, p => sqlx::query_as(SQL).bind(x).fetch_all(p).await)` (or
//!   `on!(&mut tx, t => … (&mut **t))` inside a transaction, `tx` being `db::Tx`, an enum of
//!   the two transactions). `on!` is a `match` with one arm per engine; sqlx infers the
//!   database from the executor, so each statement is type-checked for both engines from one
//!   text. Each arm names its engine `DB`, which is how a statement reaches what differs
//!   (`Dialect`, in the private `db` module): passing a list (`DB::in_list(2)` with
//!   `.bind(DB::ids(ids))`: `json_each` on SQLite, `= ANY`/`UNNEST` arrays on PostgreSQL),
//!   row locks (`DB::LOCK`), `MAX`/`GREATEST`, the queue claim (`FOR UPDATE SKIP LOCKED`) and
//!   the generation check (`FOR SHARE`). `on!` is the crate's only macro.
//! - **Per engine only**: connection setup, pragmas and migrations, and the two bulk
//!   statements whose SQL truly differs (interning package versions, inserting findings) live
//!   in `sqlite.rs` and `postgres.rs`; nothing else does.
//! - **Not sqlx `Any`** (it binds no arrays and sets no SQLite options), not a crate per
//!   engine, not an ORM: runtime `sqlx::query_as::<_, Row>(..).bind(..)` with private
//!   `FromRow` rows converted to domain values at the boundary. The conformance suite in
//!   `tests/it/` keeps both engines equivalent.
//! - **A new query** is one `pub async fn` in its domain file, its statement inside `on!`,
//!   and a check in `tests/it/`; only a statement whose SQL differs by engine adds a
//!   `Dialect` item (or, for a bulk statement, a function in `sqlite.rs` and `postgres.rs`).
//! - **Domain work stays out**: the store keeps what the caller computed (for example which
//!   packages are old kernels, [`HostFacts::old_kernels`]); it does not call the matcher.
//! - **Migrations** with `sqlx::migrate!`, one directory per backend
//!   (`migrations/{sqlite,postgres}/`), applied by [`open`]. Append-only: never edit an applied
//!   migration.
//! - **Backend from the URL scheme**: `sqlite://path`, `sqlite::memory:`, `postgres://...`
//!   (or `postgresql://`).
//! - **SQLite durability**: WAL, `synchronous=FULL`, foreign keys, busy timeout. In WAL mode
//!   `NORMAL` already survives a killed process (a commit is in the WAL before it returns); only
//!   `FULL` also survives a power loss or kernel crash, and "no acknowledged report is lost"
//!   should hold for those too. The cost is one fsync per commit, which is why the server
//!   batches and the unchanged-report path is a single small transaction. Writes go through a
//!   one-connection pool and begin `IMMEDIATE`; reads use a second pool.
//!
//! # Schema, sized for the scale targets
//!
//! Targets: ≥ 200 first reports/s (800–1,800 packages each), ≥ 400 changed and ≥ 3,000
//! unchanged reports/s, and under 12 MiB per 1,000 hosts (Pakiti 3 needed 120 MiB).
//!
//! - `package_versions (name, version, arch, source)` is unique: a version is stored once and
//!   shared by every host that has it (interning is one batch lookup plus one batch insert of
//!   the new ones).
//! - A host's installed set is one row, `host_packages(host_id, ids)`: the sorted ids, delta
//!   and varint encoded ([`codec`]), about 1–2 bytes per package, not a row per package.
//! - Matching results are per (stream, package version), not per host:
//!   `evaluated_packages` says what has been matched and `package_findings` what matched, so a
//!   fleet of identical hosts is matched once. Per-host counts are cached on `hosts`.
//!   `package_findings` is keyed by the affected entry too: one advisory can match a package
//!   version through entries of several module streams, and which applies is the host's
//!   (`hosts.modules`, reported or inferred as `hosts.module_streams` says).
//! - Advisories keep their ids across syncs (identified by feed, vendor id and a duplicate
//!   number) so findings survive re-imports; a sync records the (stream, package) keys whose
//!   entries changed in `stale_keys`, in the same transaction, for the server to re-evaluate.
//! - Hosts are identified by the agent's client id when sent, else by hostname — never by the
//!   reporter IP (Pakiti issue #158).
//! - `report_queue` is a durable queue with leases that several server processes can claim
//!   from without double-claiming.
//! - A report's unreadable lines are counted and the first kept as text (`refused.rs` codec) on
//!   its `reports` row and, for the last report, on the host; `refused_reports` keeps the newest
//!   N refused reports (`record_refused_report` prunes by id in the same transaction).
//!
//! # Hot path
//!
//! - Each store keeps process-local caches of facts that never change once committed: package
//!   version ids and which (stream, package version) pairs were evaluated. A changed report
//!   then only touches the database for its new versions. Entries are added after commit, so a
//!   rolled-back transaction never poisons them; another process's additions are looked up.
//! - `touch_unchanged_reports` writes many unchanged reports in one transaction (one fsync):
//!   the server should group-commit under load and acknowledge after the commit.
//! - Measured (release, this 2-core VM, one sequential writer, 800-package hosts; see
//!   `examples/throughput.rs`): SQLite ≈ 900 first / 1,000 changed / 2,000 unchanged reports/s,
//!   ≈ 10,000/s unchanged when batched by 100; PostgreSQL ≈ 600 / 800 / 1,200 and 4,000
//!   batched. The SQLite file for 1,000 hosts of ~770 packages is ≈ 6.7 MiB (`tests/it/size.rs`).
//!
//! # Conformance suite
//!
//! `tests/it/` runs every check against SQLite (a temp file per test) and, when
//! `PAKITI_TEST_POSTGRES_URL` names an admin connection (e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`), against a fresh PostgreSQL database per
//! test, dropped when the test passes.
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), pakiti_store::StoreError> {
//! use pakiti_store::{open, NewFeed};
//!
//! let store = open("sqlite::memory:").await?;
//! let feed = store
//!     .create_feed(&NewFeed {
//!         name: "rhel8".into(),
//!         kind: "redhat-oval".into(),
//!         url: "https://security.access.redhat.com/data/oval/v2/RHEL8/rhel-8.oval.xml.bz2".into(),
//!         stream: None,
//!         enabled: true,
//!         interval_secs: 3600,
//!     })
//!     .await?;
//! assert_eq!(store.list_feeds().await?, vec![feed]);
//! # Ok(())
//! # }
//! ```

mod advisories;
mod audit;
mod cache;
pub mod codec;
mod cvefacts;
mod db;
mod error;
mod feeds;
mod findings;
mod fleet;
mod history;
mod hosts;
mod housekeeping;
mod identity;
mod journal;
mod lock;
mod model;
mod notify;
mod postgres;
mod problems;
mod queue;
mod refused;
mod reports;
mod repos;
mod shared;
mod sqlite;
mod store;
mod tags;
mod users;

pub use advisories::AdvisoryLoad;
pub use audit::{AuditEntry, AuditFilter, NewAuditEntry};
pub use cvefacts::merge_facts;
pub use error::StoreError;
pub use fleet::PackedFleetHost;
pub use history::{
    Change, ChangeKind, ChangesQuery, Exposure, ExposureCause, ExposureContext, ExposureNow,
    FleetDay, GroupTimeToPatch, NOT_REPORTING_SECS,
};
pub use housekeeping::{
    HousekeepingRun, MigrationStatus, ReportRetention, SMALL_TABLE_ROWS, StaleHost, sqlite_file,
};
pub use identity::{IdentityConflict, IdentityConflictId, NewIdentityConflict};
pub use lock::ReevaluationLock;
pub use model::*;
pub use notify::{NewNotifyRule, NewOutboxEntry, NotifyRule, NotifyRuleId, OutboxEntry, OutboxId};
pub use problems::{ReportProblem, ReportProblems};
pub use refused::{NewRefusedReport, RefusedReport, RefusedReportId};
pub use repos::{NewRepository, RepoContent, RepoEntry, RepoRun, Repository, RepositoryId};
pub use store::{PoolUsage, Store};
pub use users::{
    ApiToken, ApiTokenId, Grant, GrantKind, NewUser, Session, User, UserId, UserUpdate,
};

/// Opens the store named by `url` and applies its migrations (see [`Store::open`]).
///
/// # Errors
///
/// [`StoreError::UnsupportedUrl`] for another scheme; otherwise connection or migration errors.
pub async fn open(url: &str) -> Result<Store, StoreError> {
    Store::open(url).await
}
