//! `pakiti backup FILE`, `pakiti restore FILE`, `pakiti migrate [--check]` and
//! `pakiti housekeeping run|show`: what an operator runs around upgrades and for backups.
//!
//! SQLite is backed up online with `VACUUM INTO` (a consistent copy while the server runs) and
//! restored by copying the file next to the store and renaming it into place (atomic: the
//! store is the old or the new file, never half), then migrating. PostgreSQL goes through
//! `pg_dump -Fc` / `pg_restore --clean --if-exists` when they are on `PATH`; otherwise the
//! commands print the recipe and fail.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use pakiti_store::Store;

use crate::api_types::rfc3339;
use crate::cmd::serve::redact;
use crate::jobs::housekeeping;
use crate::state::AppState;

/// Exit code of `migrate --check` when migrations are pending.
pub const PENDING: u8 = 1;
/// Exit code of `migrate --check` when the store is newer than the binary or unreachable.
pub const UNUSABLE: u8 = 2;

/// `pakiti housekeeping …`.
#[derive(Subcommand)]
pub enum HousekeepingCommand {
    /// Run a whole housekeeping pass now: report retention, exposure pruning, the purge of
    /// hosts not seen for `purge_hosts_not_seen_days`, and (SQLite) a WAL checkpoint and
    /// ANALYZE (`[housekeeping]` settings).
    Run {
        /// Count what would be deleted and delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also VACUUM the SQLite file (holds the write lock while it runs).
        #[arg(long)]
        vacuum: bool,
    },
    /// Show the last housekeeping runs (what they deleted and purged), newest first.
    Show {
        /// How many runs.
        #[arg(long, default_value_t = 10)]
        limit: i64,
    },
}

const PG_RECIPE: &str = "PostgreSQL backups use the PostgreSQL client tools (package \
postgresql-client), which are not on PATH:\n  \
backup:  pg_dump -Fc --file pakiti.dump --dbname 'postgres://USER@HOST/DB'\n  \
restore: pg_restore --clean --if-exists --no-owner --dbname 'postgres://USER@HOST/DB' pakiti.dump\n\
then run `pakiti migrate` against the restored database.";

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `program` when it is an executable file in one of `PATH`'s directories.
fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Runs a PostgreSQL client tool, failing with its standard error when it fails.
fn run_tool(program: &Path, args: &[&OsStr]) -> Result<()> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("running {}", program.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed ({}): {}",
            program.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// `pakiti backup FILE`: a consistent copy of the store in `file` (which must not exist).
///
/// # Errors
///
/// `file` exists, the store cannot be opened, or the copy fails; for PostgreSQL without
/// `pg_dump`, after printing the recipe.
pub async fn backup(url: &str, file: &Path, out: &mut impl Write) -> Result<()> {
    if file.exists() {
        bail!(
            "{} exists: a backup never overwrites a file",
            file.display()
        );
    }
    if is_postgres(url) {
        let Some(pg_dump) = on_path("pg_dump") else {
            bail!("{PG_RECIPE}");
        };
        run_tool(
            &pg_dump,
            &[
                OsStr::new("--format=custom"),
                OsStr::new("--file"),
                file.as_os_str(),
                OsStr::new("--dbname"),
                OsStr::new(url),
            ],
        )?;
        writeln!(
            out,
            "backed up {} to {} with pg_dump -Fc ({} bytes)",
            redact(url),
            file.display(),
            std::fs::metadata(file).map_or(0, |m| m.len())
        )?;
        return Ok(());
    }
    let store = pakiti_store::open(url)
        .await
        .with_context(|| format!("opening the store {}", redact(url)))?;
    let done = store.backup_into(file).await;
    store.close().await;
    done.with_context(|| format!("writing {}", file.display()))?;
    writeln!(
        out,
        "backed up {} to {} with VACUUM INTO ({} bytes)",
        redact(url),
        file.display(),
        std::fs::metadata(file).map_or(0, |m| m.len())
    )?;
    Ok(())
}

/// `pakiti restore FILE`: replaces the store with the backup in `file`, then applies the
/// migrations this binary has. Stop the server first: a running server keeps the old store.
///
/// # Errors
///
/// `file` is not a backup this binary can use, or a step fails; for PostgreSQL without
/// `pg_restore`, after printing the recipe.
pub async fn restore(url: &str, file: &Path, out: &mut impl Write) -> Result<()> {
    if !file.is_file() {
        bail!("{} is not a file", file.display());
    }
    if is_postgres(url) {
        let Some(pg_restore) = on_path("pg_restore") else {
            bail!("{PG_RECIPE}");
        };
        run_tool(
            &pg_restore,
            &[
                OsStr::new("--clean"),
                OsStr::new("--if-exists"),
                OsStr::new("--no-owner"),
                OsStr::new("--dbname"),
                OsStr::new(url),
                file.as_os_str(),
            ],
        )?;
        writeln!(
            out,
            "restored {} into {} with pg_restore --clean --if-exists",
            file.display(),
            redact(url)
        )?;
    } else {
        let target = pakiti_store::sqlite_file(url)?
            .with_context(|| format!("{} is not a store file to restore into", redact(url)))?;
        // The backup must be a pakiti store this binary can migrate.
        let status = Store::migration_status(&format!("sqlite://{}", file.display()))
            .await
            .with_context(|| format!("reading {}", file.display()))?;
        if status.applied.is_empty() {
            bail!("{} is not a pakiti SQLite backup", file.display());
        }
        if !status.unknown.is_empty() {
            bail!(
                "{} comes from a newer pakiti (unknown migrations {}); upgrade pakiti first",
                file.display(),
                versions(&status.unknown)
            );
        }
        // Never under a running server: it would go on writing to the replaced file (through
        // its open descriptors and WAL) and the restore would look done while it is not.
        let Ok(held) = crate::cmd::serve::lock_store_file(&target, true) else {
            bail!(
                "a pakiti server is running on {}: stop it (every server using this store) \
                 before restoring",
                target.display()
            );
        };
        replace_file(file, &target)?;
        drop(held);
        writeln!(
            out,
            "restored {} into {} (copied beside it, then renamed into place)",
            file.display(),
            target.display()
        )?;
    }
    let before = Store::migration_status(url).await?;
    let store = pakiti_store::open(url)
        .await
        .with_context(|| format!("migrating the restored store {}", redact(url)))?;
    store.close().await;
    if before.pending.is_empty() {
        writeln!(
            out,
            "the store is at this binary's schema; no migration needed"
        )?;
    } else {
        writeln!(out, "applied migrations {}", versions(&before.pending))?;
    }
    Ok(())
}

/// Copies `from` beside `target` and renames it over `target` (atomic on one file system),
/// dropping `target`'s WAL and shared-memory files, which belong to the old database.
fn replace_file(from: &Path, target: &Path) -> Result<()> {
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut name = target.file_name().unwrap_or_default().to_owned();
    name.push(".restoring");
    let tmp = dir.join(name);
    std::fs::copy(from, &tmp).with_context(|| format!("copying to {}", tmp.display()))?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("syncing {}", tmp.display()))?;
    for suffix in ["-wal", "-shm"] {
        let mut side = target.as_os_str().to_owned();
        side.push(suffix);
        match std::fs::remove_file(&side) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing {}", Path::new(&side).display()));
            }
            _ => {}
        }
    }
    std::fs::rename(&tmp, target)
        .with_context(|| format!("renaming {} to {}", tmp.display(), target.display()))?;
    // Make the rename itself durable.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn versions(list: &[(i64, String)]) -> String {
    list.iter()
        .map(|(v, d)| format!("{v:04} ({d})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `pakiti migrate [--check]`: compares the store's applied migrations with this binary's;
/// `check` only reports, otherwise the pending ones are applied. Returns the exit code: 0 up to
/// date (or migrated), [`PENDING`] when `check` finds migrations pending, [`UNUSABLE`] when the
/// store is newer than the binary or cannot be reached.
pub async fn migrate(url: &str, check: bool, out: &mut impl Write) -> Result<u8> {
    let status = match Store::migration_status(url).await {
        Ok(s) => s,
        Err(e) => {
            writeln!(out, "UNREACHABLE: {}: {e}", redact(url))?;
            return Ok(UNUSABLE);
        }
    };
    let known = status.applied.len() + status.pending.len() - status.unknown.len();
    writeln!(
        out,
        "store {}: {} migrations applied; this binary has {known}",
        redact(url),
        status.applied.len()
    )?;
    if let Some((v, d)) = status.applied.last() {
        writeln!(out, "latest applied: {v:04} ({d})")?;
    }
    if !status.unknown.is_empty() {
        writeln!(
            out,
            "NEWER: the store has migrations this binary does not know: {}; upgrade pakiti",
            versions(&status.unknown)
        )?;
        return Ok(UNUSABLE);
    }
    if status.pending.is_empty() {
        writeln!(out, "UP TO DATE")?;
        return Ok(0);
    }
    for (v, d) in &status.pending {
        writeln!(out, "pending: {v:04} ({d})")?;
    }
    if check {
        writeln!(out, "PENDING: {} migrations", status.pending.len())?;
        return Ok(PENDING);
    }
    if let Some(path) = pakiti_store::sqlite_file(url)?
        && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let store = pakiti_store::open(url)
        .await
        .with_context(|| format!("migrating {}", redact(url)))?;
    store.close().await;
    writeln!(out, "applied {} migrations", status.pending.len())?;
    Ok(0)
}

/// `pakiti housekeeping run|show`.
///
/// # Errors
///
/// The store fails.
pub async fn housekeeping(
    state: &AppState,
    what: HousekeepingCommand,
    out: &mut impl Write,
) -> Result<()> {
    match what {
        HousekeepingCommand::Run { dry_run, vacuum } => {
            let run = housekeeping::run(
                state,
                time::OffsetDateTime::now_utc(),
                "cli",
                housekeeping::Options { dry_run, vacuum },
            )
            .await?;
            write_run(&run, out)?;
            if let Some(e) = &run.error {
                bail!("housekeeping failed in part: {e}");
            }
        }
        HousekeepingCommand::Show { limit } => {
            let runs = state.store.housekeeping_runs(limit).await?;
            if runs.is_empty() {
                writeln!(out, "no housekeeping run recorded yet")?;
            }
            for r in &runs {
                write_run(r, out)?;
            }
        }
    }
    Ok(())
}

fn write_run(r: &pakiti_store::HousekeepingRun, out: &mut impl Write) -> Result<()> {
    let verb = if r.dry_run { "would delete" } else { "deleted" };
    writeln!(
        out,
        "{} ({}{}): {verb} {} reports, {} ended exposures, {} hosts; maintenance: {}",
        rfc3339(r.started_at),
        r.started_by,
        if r.dry_run { ", dry run" } else { "" },
        r.reports_deleted,
        r.exposures_deleted,
        r.purged.len(),
        if r.maintenance.is_empty() {
            "none".to_owned()
        } else {
            r.maintenance.join(", ")
        }
    )?;
    for (host, last) in &r.purged {
        writeln!(out, "  purged host {host} (last report {})", rfc3339(*last))?;
    }
    if let Some(e) = &r.error {
        writeln!(out, "  error: {e}")?;
    }
    Ok(())
}
