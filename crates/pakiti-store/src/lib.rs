//! The store: one [`Store`] trait, SQLite and PostgreSQL behind it. The only crate with SQL.
//!
//! # Decisions
//!
//! - **sqlx 0.8 with runtime queries** (`sqlx::query_as::<_, Row>(..).bind(..)`) and private
//!   `FromRow` row structs, converted to domain values at the store boundary. Both engines
//!   accept the same `$n` placeholders, so most SQL reads the same in [`sqlite`] and
//!   [`postgres`]; where they differ (passing lists: `json_each` vs `UNNEST`/`ANY`; claiming:
//!   `FOR UPDATE SKIP LOCKED`) each backend has its own. The conformance suite in `tests/it/`
//!   keeps them equivalent.
//! - **Migrations** with `sqlx::migrate!`, one directory per backend
//!   (`migrations/{sqlite,postgres}/`), applied by [`open`]. Append-only: never edit an applied
//!   migration.
//! - **Backend from the URL scheme**: `sqlite://path`, `sqlite::memory:`, `postgres://...`
//!   (or `postgresql://`).
//! - **SQLite durability**: WAL, `synchronous=FULL`, foreign keys, busy timeout. In WAL mode
//!   `NORMAL` already survives a killed process (a commit is in the WAL before it returns); only
//!   `FULL` also survives a power loss or kernel crash, and "no acknowledged report is lost"
//!   should hold for those too. The cost is one fsync per commit, which is why the server
//!   batches and the unchanged-report path is a single small transaction.
//! - **Duplication between backends**: `sqlite.rs` and `postgres.rs` have the same shape and
//!   mostly the same SQL; row conversions, encodings and the replace plan live once in
//!   `shared.rs`. A generic implementation over `sqlx::Database` would need long `Executor`
//!   bounds on every function; with sqlx ≥ 0.9 and compile-time checked queries the backends
//!   would move to their own crates anyway (STYLE.md 3.5).
//! - **[`AnyStore`]**, an enum over the backends that implements [`Store`] by delegation, is
//!   what the server holds: it avoids monomorphising the whole server twice (STYLE.md 3.8.1).
//!   The trait uses native `async fn` (declared as `impl Future + Send`), so no `dyn`.
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
//! use pakiti_store::{open, Store, NewFeed};
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

pub mod codec;
mod db;
mod error;
mod feeds;
mod findings;
mod fleet;
mod hosts;
mod identity;
mod journal;
mod model;
mod postgres;
mod queue;
mod refused;
mod reports;
mod repos;
mod shared;
mod sqlite;
mod store;
mod tags;
mod users;

pub use error::StoreError;
pub use identity::{IdentityConflict, IdentityConflictId, NewIdentityConflict};
pub use model::*;
pub use refused::{
    NewRefusedReport, RefusedReport, RefusedReportId, ReportProblem, ReportProblems,
};
pub use repos::{
    HostUpdateCounts, NewRepository, RepoContent, RepoEntry, RepoRun, Repository, RepositoryId,
};
pub use store::Store;
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
