//! [`ReevaluationLock`]: one re-evaluation at a time across every process on the store (issue
//! 17, scale-out).
//!
//! Several `pakiti serve` processes may share one database. A feed import commits its stale
//! keys; every server notices the change on its tick and would re-match the same package
//! versions and rewrite the same hosts' counts, each in its own process. With this lock the
//! first one does the work and clears the stale keys; the others wait for it, then find
//! nothing left and only reload their in-memory index.
//!
//! PostgreSQL: a session advisory lock (`pg_advisory_lock`) held on a connection taken out of
//! the pool for the duration. SQLite: an exclusive `flock` on a file beside the database
//! (`<database>-reevaluate.lock`); an in-memory database has no other process. Both are
//! released by the operating system or the database server when the holder dies, so a crash
//! never leaves the lock taken.

use std::path::PathBuf;

use sqlx::pool::PoolConnection;

use crate::db::Db;
use crate::error::StoreError;
use crate::store::Store;

/// The advisory lock key (`pakiti` + 1 in ASCII: any constant works, no other user of the
/// database takes it).
const PG_KEY: i64 = 0x7061_6b69_7469_0001;

/// Held while this process re-evaluates; release it with [`ReevaluationLock::release`].
/// Dropped without release, a PostgreSQL connection holding it is closed (which releases it)
/// and a lock file is unlocked when its handle closes.
#[derive(Debug)]
pub struct ReevaluationLock {
    held: Held,
}

#[derive(Debug)]
enum Held {
    Nothing,
    File(std::fs::File),
    Postgres(Option<PoolConnection<sqlx::Postgres>>),
}

impl Store {
    /// Waits until no other process sharing this store re-evaluates, and takes the lock.
    ///
    /// # Errors
    /// The lock file cannot be opened or the database fails.
    pub async fn lock_reevaluation(&self) -> Result<ReevaluationLock, StoreError> {
        let held = match &self.write {
            Db::Sqlite(pool) => match lock_file_of(pool) {
                None => Held::Nothing,
                Some(path) => {
                    let file = tokio::task::spawn_blocking(move || {
                        let file = std::fs::OpenOptions::new()
                            .create(true)
                            .truncate(false)
                            .write(true)
                            .open(&path)?;
                        file.lock()?;
                        Ok::<_, std::io::Error>(file)
                    })
                    .await
                    .map_err(|e| sqlx::Error::Io(std::io::Error::other(e)))?
                    .map_err(sqlx::Error::Io)?;
                    Held::File(file)
                }
            },
            Db::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                sqlx::query("SELECT pg_advisory_lock($1)")
                    .bind(PG_KEY)
                    .execute(&mut *conn)
                    .await?;
                Held::Postgres(Some(conn))
            }
        };
        Ok(ReevaluationLock { held })
    }
}

impl ReevaluationLock {
    /// Releases the lock.
    ///
    /// # Errors
    /// The database fails (the connection is then closed, which releases it too).
    pub async fn release(mut self) -> Result<(), StoreError> {
        match &mut self.held {
            Held::Nothing => {}
            Held::File(file) => file.unlock().map_err(sqlx::Error::Io)?,
            Held::Postgres(conn) => {
                if let Some(mut c) = conn.take() {
                    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                        .bind(PG_KEY)
                        .execute(&mut *c)
                        .await;
                    match unlocked {
                        // Back to the pool, unlocked.
                        Ok(_) => drop(c),
                        Err(e) => {
                            drop(c.detach());
                            return Err(e.into());
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl Drop for ReevaluationLock {
    fn drop(&mut self) {
        // A connection still holding the advisory lock must not go back to the pool: closing
        // it releases the lock.
        if let Held::Postgres(conn) = &mut self.held
            && let Some(c) = conn.take()
        {
            drop(c.detach());
        }
    }
}

/// The lock file of an SQLite store on disk; `None` in memory.
fn lock_file_of(pool: &sqlx::SqlitePool) -> Option<PathBuf> {
    let db = pool.connect_options().get_filename().to_owned();
    if !db.is_file() {
        return None;
    }
    let mut name = db.file_name()?.to_owned();
    name.push("-reevaluate.lock");
    Some(db.with_file_name(name))
}
