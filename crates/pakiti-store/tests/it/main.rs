//! The store conformance suite: every check runs against SQLite (a temp file per test) and,
//! when `PAKITI_TEST_POSTGRES_URL` is set (an admin URL such as
//! `postgres://postgres@127.0.0.1:5432/postgres`), against PostgreSQL in a fresh database per
//! test that is dropped when the test passes (kept for inspection when it fails).

mod support;

mod audit;
mod cvefacts;
mod feeds;
mod fleet;
mod history;
mod housekeeping;
mod lock;
mod notify;
mod ops;
mod queue;
mod reports;
mod repos;
mod size;
mod tags;
mod upgrade;
mod users;
