//! The engine's integration tests: one binary, each test against every test database
//! (SQLite always, PostgreSQL when `PAKITI_TEST_POSTGRES_URL` is set).

mod boundary;
mod engine;
