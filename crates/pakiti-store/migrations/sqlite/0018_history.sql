-- Issue 14 part 5: history on two time axes. Keep equivalent to the other backend's 0018 file.
--
-- `exposures`: one row per (host, CVE) exposure, from the evaluation that made it appear to
-- the one that made it disappear. Open exposures (`ended_at IS NULL`) are at all times the
-- host's current CVE set. The host's name, group and domain are copied so that the history
-- survives the host's deletion and can be limited to a viewer's scope without the host row.
-- Causes: `report` (the host's report changed), `feed` (re-evaluation after a feed change),
-- `policy` (an exception was added, removed or expired), `baseline` (history started on an
-- existing store), `retired` (the host was deleted or retired; ends only).
CREATE TABLE exposures (
    id               INTEGER PRIMARY KEY,
    host_id          INTEGER NOT NULL,
    hostname         TEXT    NOT NULL,
    host_group       TEXT,
    domain           TEXT,
    cve              TEXT    NOT NULL,
    severity         TEXT    NOT NULL,
    advisory         TEXT    NOT NULL,
    fixed_version    TEXT,
    fix_issued       TEXT,
    fix_known_at     INTEGER,
    began_at         INTEGER NOT NULL,
    began_cause      TEXT    NOT NULL,
    began_report     INTEGER,
    began_generation INTEGER NOT NULL,
    ended_at         INTEGER,
    ended_cause      TEXT,
    ended_report     INTEGER,
    ended_generation INTEGER
);
CREATE UNIQUE INDEX exposures_open ON exposures (host_id, cve) WHERE ended_at IS NULL;
CREATE INDEX exposures_by_host ON exposures (host_id, began_at);
CREATE INDEX exposures_began ON exposures (began_at);
CREATE INDEX exposures_ended ON exposures (ended_at);

-- Hosts as the history knows them: kept after the host row is deleted (retired_at set by the
-- server's tick), so "hosts added / retired" can be told later.
CREATE TABLE history_hosts (
    host_id    INTEGER PRIMARY KEY,
    hostname   TEXT    NOT NULL,
    host_group TEXT,
    domain     TEXT,
    first_seen INTEGER NOT NULL,
    retired_at INTEGER
);

-- Each changed report's installed set (the interned id blob of `host_packages`), the last N
-- per host, for exact report diffs. An unchanged report has the list of the last changed one.
CREATE TABLE report_packages (
    report_id INTEGER PRIMARY KEY REFERENCES reports (id) ON DELETE CASCADE,
    host_id   INTEGER NOT NULL,
    ids       BLOB    NOT NULL
);
CREATE INDEX report_packages_by_host ON report_packages (host_id, report_id);

-- The fleet at the end of each day, one row per host (written by the server's periodic tick;
-- the last write of a day stands). A host that did not report that day still has its row,
-- with its last state.
CREATE TABLE fleet_snapshots (
    day            INTEGER NOT NULL,
    host_id        INTEGER NOT NULL,
    hostname       TEXT    NOT NULL,
    host_group     TEXT,
    domain         TEXT,
    last_report_at INTEGER NOT NULL,
    open_exposures INTEGER NOT NULL,
    critical       INTEGER NOT NULL,
    high           INTEGER NOT NULL,
    medium         INTEGER NOT NULL,
    low            INTEGER NOT NULL,
    unknown        INTEGER NOT NULL,
    fixable        INTEGER NOT NULL,
    PRIMARY KEY (day, host_id)
);
