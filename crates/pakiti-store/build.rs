//! `sqlx::migrate!` embeds the migration files at compile time; without this, cargo does not
//! know that a new or edited file under `migrations/` must rebuild the crate, and a binary
//! built incrementally silently lacks the newest migration.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
