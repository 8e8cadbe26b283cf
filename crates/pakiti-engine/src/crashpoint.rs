//! Test-only crash points: with `PAKITI_TEST_CRASH_POINT=<name>` in the environment, the
//! process stops at the named step (it prints a line to stderr and never continues), so that
//! a test can SIGKILL a real `pakiti` process exactly between two durable steps and check
//! what a restart makes of the store. Unset (always, outside tests), a crash point does
//! nothing.
//!
//! Points: `after-save` (ingest: the report is saved, its evaluation not written) and
//! `after-import` (`pakiti feed import`: the import committed, its re-evaluation not run).

use std::sync::LazyLock;

/// The environment variable that names the crash point.
pub const ENV: &str = "PAKITI_TEST_CRASH_POINT";

static POINT: LazyLock<Option<String>> = LazyLock::new(|| std::env::var(ENV).ok());

/// Stops here forever when `name` is the configured crash point.
pub async fn reached(name: &str) {
    if POINT.as_deref() == Some(name) {
        #[expect(clippy::print_stderr, reason = "the test waits for this line")]
        {
            eprintln!("pakiti: crash point {name} reached");
        }
        std::future::pending::<()>().await;
    }
}
