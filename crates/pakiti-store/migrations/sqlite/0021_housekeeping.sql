-- Issue 15: housekeeping. Keep equivalent to the other backend's 0021 file.
--
-- `housekeeping_runs`: one row per housekeeping run (the server's tick, `pakiti housekeeping`),
-- the newest 100 kept, so an administrator sees what the last runs deleted. `purged` holds one
-- `hostname<TAB>last report (unix seconds)` line per host purged (or, in a dry run, that would
-- be); `maintenance` the database tasks run (comma-separated: checkpoint, analyze, vacuum).
CREATE TABLE housekeeping_runs (
    id                INTEGER PRIMARY KEY,
    started_at        INTEGER NOT NULL,
    finished_at       INTEGER NOT NULL,
    started_by        TEXT    NOT NULL,
    dry_run           BOOLEAN NOT NULL,
    reports_deleted   INTEGER NOT NULL,
    exposures_deleted INTEGER NOT NULL,
    hosts_purged      INTEGER NOT NULL,
    purged            TEXT    NOT NULL DEFAULT '',
    maintenance       TEXT    NOT NULL DEFAULT '',
    error             TEXT
);

-- When each periodic task (retention, checkpoint, analyze, vacuum) last ran, so a restart or
-- a second server does not run it again before it is due.
CREATE TABLE housekeeping_tasks (
    task        TEXT    PRIMARY KEY,
    last_run_at INTEGER NOT NULL
);
