//! The store: one trait, SQLite and PostgreSQL behind it.
