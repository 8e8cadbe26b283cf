//! PostgreSQL, for large fleets and several server processes: connecting, scratch databases
//! for tests and benchmarks, and its bulk statements.
//!
//! Lists of ids and packages are bound as arrays (`= ANY($n)`, `UNNEST`), so statements stay
//! fixed and clear of the 65,535 bind limit. The report queue is claimed with
//! `FOR UPDATE SKIP LOCKED`, so concurrent claimers skip each other's rows instead of waiting.

use std::collections::HashMap;
use std::str::FromStr;

use sqlx::ConnectOptions as _;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

use crate::error::StoreError;
use crate::model::PackageFinding;
use crate::shared::PackageRow;

type Tx = Transaction<'static, Postgres>;

/// Connects to `url` (`postgres://user@host:port/db`) and applies the migrations.
///
/// # Errors
///
/// When the URL does not parse, the server cannot be reached, or a migration fails.
pub(crate) async fn open(url: &str) -> Result<PgPool, StoreError> {
    // Loading every advisory at start legitimately takes seconds on large feeds.
    // No JIT: the whole-fleet reads of the pages cost enough to cross `jit_above_cost`, and
    // compiling them took ~0.2 s of each (issue 17, 100,000 hosts) for no gain.
    let opts = PgConnectOptions::from_str(url)?
        .options([("jit", "off")])
        .log_slow_statements(log::LevelFilter::Warn, std::time::Duration::from_secs(10));
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .connect_with(opts)
        .await?;
    sqlx::migrate!("migrations/postgres").run(&pool).await?;
    Ok(pool)
}

/// Closes the pool, waiting for checked-out connections.
pub(crate) async fn close(pool: &PgPool) {
    pool.close().await;
}

/// The database's size on disk (`pg_database_size`), in bytes.
///
/// # Errors
///
/// The query fails.
pub(crate) async fn size_bytes(pool: &PgPool) -> Result<u64, StoreError> {
    let (n,): (i64,) = sqlx::query_as("SELECT pg_database_size(current_database())")
        .fetch_one(pool)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(crate) async fn wal_bytes(pool: &PgPool) -> Result<u64, StoreError> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT CAST(pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') AS BIGINT)")
            .fetch_one(pool)
            .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Creates an empty database `name` on the server that `admin_url` connects to, and
/// returns the URL of the new database. For benchmarks and tools that need a scratch
/// database; `name` must be a plain identifier (letters, digits, `_`).
///
/// # Errors
///
/// The name is not a plain identifier, the server cannot be reached, or the database
/// cannot be created.
pub(crate) async fn create_database(admin_url: &str, name: &str) -> Result<String, StoreError> {
    let name = plain_identifier(name)?;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(PgConnectOptions::from_str(admin_url)?)
        .await?;
    let created = sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&pool)
        .await;
    pool.close().await;
    created?;
    Ok(with_database(admin_url, name))
}

/// Drops database `name` (if it exists), disconnecting its sessions.
///
/// # Errors
///
/// The name is not a plain identifier, or the server refuses.
pub(crate) async fn drop_database(admin_url: &str, name: &str) -> Result<(), StoreError> {
    let name = plain_identifier(name)?;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(PgConnectOptions::from_str(admin_url)?)
        .await?;
    let dropped = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&pool)
        .await;
    pool.close().await;
    dropped?;
    Ok(())
}

/// `name` when it is a plain identifier (safe to quote into `CREATE`/`DROP DATABASE`).
fn plain_identifier(name: &str) -> Result<&str, StoreError> {
    let ok = !name.is_empty()
        && name.len() < 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(name)
    } else {
        Err(StoreError::Invalid(format!(
            "{name:?} is not a plain database name"
        )))
    }
}

/// `url` with its database name replaced by `name` (query parameters kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Interns `pkgs` (distinct keys, none of them in the process cache) and returns their ids, in
/// order.
///
/// Insert first: the caller's cache already filtered out the known versions, so most of
/// these are new, and `INSERT .. ON CONFLICT DO NOTHING RETURNING` interns them in one
/// statement. Only the ones that already existed (cold cache, another process) are looked up.
pub(crate) async fn intern_packages(
    tx: &mut Tx,
    pkgs: &[(&str, &str, &str, &str)],
) -> Result<Vec<i64>, StoreError> {
    let cols = |idx: &[usize]| {
        let mut cols: [Vec<&str>; 4] = Default::default();
        for &i in idx {
            let (n, v, a, s) = pkgs[i];
            cols[0].push(n);
            cols[1].push(v);
            cols[2].push(a);
            cols[3].push(s);
        }
        cols
    };
    let all: Vec<usize> = (0..pkgs.len()).collect();
    let c = cols(&all);
    let inserted: Vec<PackageRow> = sqlx::query_as(
        "INSERT INTO package_versions (name, version, arch, source) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[]) \
         ON CONFLICT DO NOTHING RETURNING id, name, version, arch, source",
    )
    .bind(&c[0])
    .bind(&c[1])
    .bind(&c[2])
    .bind(&c[3])
    .fetch_all(&mut **tx)
    .await?;
    let by_key: HashMap<(&str, &str, &str, &str), i64> = inserted
        .iter()
        .map(|r| {
            (
                (
                    r.name.as_str(),
                    r.version.as_str(),
                    r.arch.as_str(),
                    r.source.as_str(),
                ),
                r.id,
            )
        })
        .collect();
    let mut ids: Vec<i64> = pkgs
        .iter()
        .map(|k| by_key.get(k).copied().unwrap_or(0))
        .collect();
    let missing: Vec<usize> = (0..ids.len()).filter(|&i| ids[i] == 0).collect();
    if !missing.is_empty() {
        let c = cols(&missing);
        let found: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT (t.pos - 1)::bigint, pv.id \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY \
             AS t(name, version, arch, source, pos) \
             JOIN package_versions pv ON pv.name = t.name AND pv.version = t.version \
             AND pv.arch = t.arch AND pv.source = t.source",
        )
        .bind(&c[0])
        .bind(&c[1])
        .bind(&c[2])
        .bind(&c[3])
        .fetch_all(&mut **tx)
        .await?;
        for (pos, id) in found {
            if let Some(&i) = usize::try_from(pos).ok().and_then(|p| missing.get(p)) {
                ids[i] = id;
            }
        }
    }
    if ids.contains(&0) {
        return Err(StoreError::corrupt(
            "package_versions",
            "interning lost a row",
        ));
    }
    Ok(ids)
}

pub(crate) async fn insert_findings(
    tx: &mut Tx,
    stream: &str,
    findings: &[PackageFinding],
) -> Result<(), StoreError> {
    let pv: Vec<i64> = findings.iter().map(|f| f.package_version_id).collect();
    let adv: Vec<i64> = findings.iter().map(|f| f.advisory_id).collect();
    let idx: Vec<i64> = findings.iter().map(|f| f.affected_idx).collect();
    // The join drops findings whose advisory was deleted since the caller loaded it.
    sqlx::query(
        "INSERT INTO package_findings (stream, package_version_id, advisory_id, affected_idx) \
         SELECT $1, t.pv, a.id, t.idx \
         FROM UNNEST($2::bigint[], $3::bigint[], $4::bigint[]) AS t(pv, adv, idx) \
         JOIN advisories a ON a.id = t.adv ON CONFLICT DO NOTHING",
    )
    .bind(stream)
    .bind(pv)
    .bind(adv)
    .bind(idx)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
