//! How a statement reaches its backend: the pool and transaction enums, [`on!`], and the
//! [`Dialect`] of each engine (list binding, row locks, bind limits).
//!
//! This is the only place that knows there are two engines. A store method writes its
//! statement once inside `on!(pool_or_tx, p => ...)`; the macro expands it into a `match`
//! with one arm per engine, and in each arm sqlx infers the database type from the executor
//! `p`, so the same text is type-checked (and compiled) once for SQLite and once for
//! PostgreSQL. Each arm also names its engine `DB`, which is how a statement reaches the few
//! things that differ: `DB::in_list(2)` / `.bind(DB::ids(ids))` for passing a list, `DB::LOCK`
//! for row locks. The shape is sea-orm's `DatabaseConnection` (one enum; only
//! execute/fetch/begin match on the backend), without sqlx's `Any` driver, which cannot bind
//! arrays nor set SQLite's connection options.

use std::fmt::Write as _;

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres, Sqlite, SqliteConnection, SqlitePool, Transaction};

use crate::error::StoreError;

/// One value per engine: a pool, a transaction.
#[derive(Clone, Debug)]
pub(crate) enum Db<S, P> {
    Sqlite(S),
    Postgres(P),
}

/// A connection pool of either engine.
pub(crate) type Pool = Db<SqlitePool, PgPool>;

/// An open transaction of either engine; dropped without [`Tx::commit`], it rolls back.
pub(crate) type Tx = Db<Transaction<'static, Sqlite>, Transaction<'static, Postgres>>;

/// Runs `$body` with `$p` bound to the engine's value inside `$x` (a `&Pool` or `&mut Tx`) and
/// `DB` naming the engine (`sqlx::Sqlite` / `sqlx::Postgres`).
///
/// ```text
/// let n: i64 = on!(&self.read, p => sqlx::query_scalar("SELECT count(*) FROM hosts").fetch_one(p).await)?;
/// on!(&mut tx, t => sqlx::query(SQL).bind(id).execute(&mut **t).await)?;
/// ```
macro_rules! on {
    ($x:expr, $p:ident => $body:expr) => {
        match $x {
            $crate::db::Db::Sqlite($p) => {
                #[allow(unused_imports, clippy::upper_case_acronyms)]
                use $crate::db::Dialect as _;
                #[allow(dead_code, clippy::upper_case_acronyms)]
                type DB = sqlx::Sqlite;
                $body
            }
            $crate::db::Db::Postgres($p) => {
                #[allow(unused_imports, clippy::upper_case_acronyms)]
                use $crate::db::Dialect as _;
                #[allow(dead_code, clippy::upper_case_acronyms)]
                type DB = sqlx::Postgres;
                $body
            }
        }
    };
}
pub(crate) use on;

/// A connection of either engine, borrowed from a transaction (for helpers that run inside
/// one or on their own).
pub(crate) type Conn<'c> = Db<&'c mut SqliteConnection, &'c mut PgConnection>;

impl<S, P> Db<S, P> {
    /// Bind variables one statement may carry on this engine.
    pub(crate) fn max_binds(&self) -> usize {
        match self {
            Db::Sqlite(_) => <Sqlite as Dialect>::MAX_BINDS,
            Db::Postgres(_) => <Postgres as Dialect>::MAX_BINDS,
        }
    }
}

impl Tx {
    /// The transaction's connection.
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match self {
            Db::Sqlite(t) => Db::Sqlite(&mut **t),
            Db::Postgres(t) => Db::Postgres(&mut **t),
        }
    }

    /// Commits the transaction.
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        on!(self, t => t.commit().await)?;
        Ok(())
    }
}

/// A connection of either engine taken from a pool (returned to it when dropped).
pub(crate) type Pooled = Db<PoolConnection<Sqlite>, PoolConnection<Postgres>>;

impl Pooled {
    /// The connection.
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match self {
            Db::Sqlite(c) => Db::Sqlite(&mut **c),
            Db::Postgres(c) => Db::Postgres(&mut **c),
        }
    }
}

impl Pool {
    /// A connection from the pool.
    pub(crate) async fn acquire(&self) -> Result<Pooled, StoreError> {
        Ok(match self {
            Db::Sqlite(p) => Db::Sqlite(p.acquire().await?),
            Db::Postgres(p) => Db::Postgres(p.acquire().await?),
        })
    }

    /// Begins a transaction with `sql` (`BEGIN IMMEDIATE`, an isolation level).
    pub(crate) async fn begin_with(&self, sql: &'static str) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite(p) => Db::Sqlite(p.begin_with(sql).await?),
            Db::Postgres(p) => Db::Postgres(p.begin_with(sql).await?),
        })
    }
}

/// What differs between the engines' SQL, per engine.
pub(crate) trait Dialect: sqlx::Database {
    /// A list of ids as one bind value (see [`Dialect::in_list`]).
    type Ids;
    /// A list of strings as one bind value.
    type Strs;
    /// Appended to a `SELECT` inside a write transaction to hold its rows until the end:
    /// `FOR UPDATE` on PostgreSQL; empty on SQLite, whose write transactions begin
    /// `IMMEDIATE` and so already exclude every other writer.
    const LOCK: &'static str;
    /// Bind variables one statement may carry.
    const MAX_BINDS: usize;
    /// `ids` as one bind value.
    fn ids(ids: &[i64]) -> Self::Ids;
    /// `items` as one bind value.
    fn strs(items: &[String]) -> Self::Strs;
    /// `IN (...)` over the list bound at `$n`: `IN (SELECT value FROM json_each($n))` or
    /// `= ANY($n)`.
    fn in_list(n: u32) -> String;
    /// An aggregate of the scalar `value` as one JSON array text in `order` (`NULL` or `[]`
    /// over no rows).
    fn json_agg(value: &str, order: &str) -> String;
    /// An aggregate of the rows' `values` (comma-separated expressions) as one JSON array
    /// text of arrays in `order` (`NULL` over no rows). Built by joining each row's array as
    /// text, so it does not depend on SQLite keeping the JSON subtype through the
    /// aggregate's sort.
    fn json_rows_agg(values: &str, order: &str) -> String;
    /// The opening of [`Dialect::in_list`] for a `QueryBuilder`: push it, push the bind, push
    /// [`Dialect::IN_LIST_CLOSE`].
    const IN_LIST_OPEN: &'static str;
    /// What closes [`Dialect::IN_LIST_OPEN`].
    const IN_LIST_CLOSE: &'static str;
    /// The larger of two values (`MAX(a, b)` / `GREATEST(a, b)`).
    const GREATEST: &'static str;
    /// Opens an aggregate of `h.id` as one comma-separated text, in the order that follows
    /// it (push the `ORDER BY` list, then `)`): one row instead of one per host (sqlx hands
    /// SQLite rows over one by one, ~8 µs each).
    const ID_AGG_OPEN: &'static str;
    /// Opens an aggregate of the integer column `t` as one comma-separated text, in the order
    /// that follows it (as [`Self::ID_AGG_OPEN`]).
    const TOKEN_AGG_OPEN: &'static str;
    /// Reads the feed generation a report's answers are checked against.
    const GENERATION_CHECK: &'static str;
    /// Marks the package versions bound at `$2` evaluated for stream `$1`.
    const INSERT_EVALUATED: &'static str;
    /// Claims queued reports: `$1` worker, `$2` lease end, `$3` now, `$4` how many.
    const CLAIM: &'static str;
}

/// SQLite passes a list as one JSON text read with `json_each`, which keeps statements fixed
/// (cached) and clear of the bind-variable limit.
impl Dialect for Sqlite {
    type Ids = String;
    type Strs = String;
    const LOCK: &'static str = "";
    /// The bundled SQLite allows 32,766.
    const MAX_BINDS: usize = 32_000;
    const IN_LIST_OPEN: &'static str = "IN (SELECT value FROM json_each(";
    const IN_LIST_CLOSE: &'static str = "))";
    const GREATEST: &'static str = "MAX";
    const ID_AGG_OPEN: &'static str = "group_concat(h.id, ',' ORDER BY ";
    const TOKEN_AGG_OPEN: &'static str = "group_concat(t, ',' ORDER BY ";
    const INSERT_EVALUATED: &'static str = "INSERT INTO evaluated_packages (stream, package_version_id) \
         SELECT $1, value FROM json_each($2) WHERE true ON CONFLICT DO NOTHING";
    /// SQLite has one writer: the read inside the write transaction is the truth until it
    /// commits.
    const GENERATION_CHECK: &'static str = "SELECT generation FROM feed_generation WHERE id = 1";
    /// SQLite has one writer, so no two claims run at once.
    const CLAIM: &'static str = "UPDATE report_queue SET claimed_by = $1, claimed_until = $2, \
        attempts = attempts + 1 \
        WHERE id IN (SELECT id FROM report_queue WHERE claimed_until IS NULL OR claimed_until < $3 \
        ORDER BY id LIMIT $4) \
        RETURNING id, payload, attempts";

    fn ids(ids: &[i64]) -> String {
        let mut s = String::with_capacity(ids.len() * 7 + 2);
        s.push('[');
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "{id}");
        }
        s.push(']');
        s
    }

    fn strs(items: &[String]) -> String {
        let mut s = String::with_capacity(items.len() * 16 + 2);
        s.push('[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            json_str(&mut s, item);
        }
        s.push(']');
        s
    }

    fn in_list(n: u32) -> String {
        format!("IN (SELECT value FROM json_each(${n}))")
    }

    fn json_agg(value: &str, order: &str) -> String {
        format!("json_group_array({value} ORDER BY {order})")
    }

    fn json_rows_agg(values: &str, order: &str) -> String {
        format!("'[' || group_concat(json_array({values}), ',' ORDER BY {order}) || ']'")
    }
}

/// PostgreSQL binds a list as an array (`= ANY($n)`, `UNNEST`).
impl Dialect for Postgres {
    type Ids = Vec<i64>;
    type Strs = Vec<String>;
    const LOCK: &'static str = " FOR UPDATE";
    /// PostgreSQL allows 65,535.
    const MAX_BINDS: usize = 65_000;
    const IN_LIST_OPEN: &'static str = "= ANY(";
    const IN_LIST_CLOSE: &'static str = ")";
    const GREATEST: &'static str = "GREATEST";
    const ID_AGG_OPEN: &'static str = "string_agg(CAST(h.id AS TEXT), ',' ORDER BY ";
    const TOKEN_AGG_OPEN: &'static str = "string_agg(CAST(t AS TEXT), ',' ORDER BY ";
    const INSERT_EVALUATED: &'static str = "INSERT INTO evaluated_packages (stream, package_version_id) \
         SELECT $1, UNNEST($2::bigint[]) ON CONFLICT DO NOTHING";
    /// Share-locked: a feed change takes the row `FOR UPDATE` first thing, so the two
    /// transactions are ordered (an import waits for the finishing batch, or the batch sees the
    /// import's new generation).
    const GENERATION_CHECK: &'static str =
        "SELECT generation FROM feed_generation WHERE id = 1 FOR SHARE";
    /// Concurrent claimers skip each other's rows (`FOR UPDATE SKIP LOCKED`) instead of waiting.
    const CLAIM: &'static str = "UPDATE report_queue SET claimed_by = $1, claimed_until = $2, \
        attempts = attempts + 1 \
        WHERE id IN (SELECT id FROM report_queue WHERE claimed_until IS NULL OR claimed_until < $3 \
        ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED) \
        RETURNING id, payload, attempts";

    fn ids(ids: &[i64]) -> Vec<i64> {
        ids.to_vec()
    }

    fn strs(items: &[String]) -> Vec<String> {
        items.to_vec()
    }

    fn in_list(n: u32) -> String {
        format!("= ANY(${n})")
    }

    fn json_agg(value: &str, order: &str) -> String {
        format!("json_agg({value} ORDER BY {order})::text")
    }

    fn json_rows_agg(values: &str, order: &str) -> String {
        format!("'[' || string_agg(json_build_array({values})::text, ',' ORDER BY {order}) || ']'")
    }
}

/// Escapes a string for a JSON string literal (used to pass arrays to SQLite's `json_each`).
pub(crate) fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                use std::fmt::Write;
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Whether `e` is a unique-constraint violation (a duplicate name, key).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::json_str;

    #[test]
    fn json_escaping() {
        let mut s = String::new();
        json_str(&mut s, "a\"b\\c\n\u{1}é");
        assert_eq!(s, "\"a\\\"b\\\\c\\n\\u0001é\"");
    }
}
