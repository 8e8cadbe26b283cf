//! The server's engine: everything the server keeps in memory about vulnerability data and
//! the fleet, and the steps that keep it and the store in agreement.
//!
//! [`Engine`] is the one owner of that state: the [`evaluate::Evaluator`] (advisories indexed
//! for matching, with the repositories' binary → source maps and cached per-package-version
//! answers), the [`evaluate::Policy`] (CVE tags and exceptions), the update index
//! ([`updates::UpdatesHandle`]), the fleet index ([`fleet::Fleet`]), the fingerprints of the
//! feeds and repositories they were built from, and ingest's memory of each host's last
//! report. Each index is swapped whole and lock-free (`arc-swap`); readers take a snapshot.
//! Reloads, catch-up, the "changed elsewhere" checks (another server sharing the database
//! imported or synced) and re-evaluation are its methods. [`ingest::process`] is the one
//! report-processing step, with its own error type ([`ingest::IngestError`]).
//!
//! The engine knows nothing of HTTP: it does not depend on axum, and the server's `AppState`
//! holds an `Engine`, never the reverse. Scheduling (the 30 s tick, the feed and repository
//! syncs) stays in the server; the engine offers the deterministic steps.
//!
//! # Invariants
//!
//! - **Stored findings equal a from-scratch evaluation.** Whatever sequence of imports,
//!   removals, exceptions, reports and restarts, the findings and counts in the store end
//!   equal to what a fresh store and engine compute from the final feeds and each host's last
//!   report (the server's `tests/it/invariant.rs`).
//! - **No answer computed from an index older than the feeds is stored**: an evaluator knows
//!   the feed generation it was loaded at, and the store refuses a report's answers when a
//!   feed change committed since; ingest then asks the engine to catch up
//!   ([`Engine::catch_up`]), which runs the re-evaluation on a task of its own, one at a time.
//! - **The fleet index is built from memory**: advisories from the evaluator, tags and
//!   exceptions from the policy in force; only hosts, findings and package versions are read.
//!
//! # Example
//!
//! ```no_run
//! # async fn example(store: pakiti_store::Store, report: pakiti_api::report::Report)
//! # -> anyhow::Result<()> {
//! use pakiti_engine::{Engine, ingest, osrules::OsRules};
//!
//! let engine = Engine::new(store, OsRules::default()).await?;
//! let origin = ingest::Origin {
//!     received_at: time::OffsetDateTime::now_utc(),
//!     peer: None,
//!     client_dn: None,
//!     trusted_proxy: false,
//! };
//! let outcome = ingest::process(&engine, &report, &origin).await?;
//! println!("{} findings", outcome.findings);
//! # Ok(())
//! # }
//! ```

pub mod crashpoint;
mod cvefacts;
mod engine;
pub mod evaluate;
pub mod fleet;
pub mod history;
pub mod ingest;
pub mod metrics;
pub mod osrules;
pub mod reevaluate;
pub mod updates;
pub mod writer;

pub use engine::{Engine, SeenBody};
