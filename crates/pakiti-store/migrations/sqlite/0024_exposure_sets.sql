-- Issue 17: exposures stored as sets. Keep equivalent to the other backend's 0024 file.
--
-- One row per (host, CVE) made the history ~90% of the store (110 MiB per 1,000 hosts of ~460
-- packages at 100,000 hosts) and most of a first report's writes (one row and four index
-- entries per CVE). A row of `exposures` is now a *set* of one host's exposures that began
-- together (same time, cause, report, generation) and, once ended, ended together; when some
-- of an open set's exposures end, or a fix becomes known for some, they are split off into a
-- row of their own. What each exposure is (CVE, severity, advisory, fixed version, fix issued
-- date, as the feeds said when it began) is interned once in `exposure_details`; the set
-- holds those ids (`details`, the store's id blob: sorted, delta + varint, see `codec.rs`) and
-- its counts by severity and with a fix (`n` … `fixable`) so that the daily snapshot sums rows.
-- `fix_known_at`: when the fixed versions of the set's exposures became known.
-- Existing exposures move over one row each (exact; they are not regrouped).
CREATE TABLE exposure_details (
    id            INTEGER PRIMARY KEY,
    cve           TEXT NOT NULL,
    severity      TEXT NOT NULL,
    advisory      TEXT NOT NULL,
    -- '' when none.
    fixed_version TEXT NOT NULL,
    fix_issued    TEXT NOT NULL
);
CREATE UNIQUE INDEX exposure_details_key
    ON exposure_details (cve, advisory, severity, fixed_version, fix_issued);

INSERT INTO exposure_details (cve, severity, advisory, fixed_version, fix_issued)
SELECT DISTINCT cve, severity, advisory, COALESCE(fixed_version, ''), COALESCE(fix_issued, '')
FROM exposures;

CREATE TABLE exposure_sets (
    id               INTEGER PRIMARY KEY,
    host_id          INTEGER NOT NULL,
    hostname         TEXT    NOT NULL,
    host_group       TEXT,
    domain           TEXT,
    details          BLOB    NOT NULL,
    n                INTEGER NOT NULL,
    critical         INTEGER NOT NULL,
    high             INTEGER NOT NULL,
    medium           INTEGER NOT NULL,
    low              INTEGER NOT NULL,
    unknown          INTEGER NOT NULL,
    fixable          INTEGER NOT NULL,
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

-- A one-id blob: count 1, then the id as a LEB128 varint (ids stay below 2^28).
INSERT INTO exposure_sets (host_id, hostname, host_group, domain, details, n, critical,
    high, medium, low, unknown, fixable, fix_known_at, began_at, began_cause, began_report,
    began_generation, ended_at, ended_cause, ended_report, ended_generation)
SELECT e.host_id, e.hostname, e.host_group, e.domain,
    unhex('01' || CASE
        WHEN d.id < 128 THEN printf('%02x', d.id)
        WHEN d.id < 16384 THEN printf('%02x%02x', (d.id & 127) | 128, d.id >> 7)
        WHEN d.id < 2097152 THEN printf('%02x%02x%02x', (d.id & 127) | 128,
            ((d.id >> 7) & 127) | 128, d.id >> 14)
        ELSE printf('%02x%02x%02x%02x', (d.id & 127) | 128, ((d.id >> 7) & 127) | 128,
            ((d.id >> 14) & 127) | 128, d.id >> 21)
    END),
    1, e.severity = 'critical', e.severity = 'high', e.severity = 'medium', e.severity = 'low',
    e.severity = 'unknown', e.fixed_version IS NOT NULL,
    e.fix_known_at, e.began_at, e.began_cause, e.began_report, e.began_generation, e.ended_at,
    e.ended_cause, e.ended_report, e.ended_generation
FROM exposures e JOIN exposure_details d ON d.cve = e.cve AND d.severity = e.severity
    AND d.advisory = e.advisory AND d.fixed_version = COALESCE(e.fixed_version, '')
    AND d.fix_issued = COALESCE(e.fix_issued, '')
ORDER BY e.id;

DROP TABLE exposures;
ALTER TABLE exposure_sets RENAME TO exposures;
CREATE INDEX exposures_open ON exposures (host_id) WHERE ended_at IS NULL;
CREATE INDEX exposures_by_host ON exposures (host_id, began_at);
CREATE INDEX exposures_began ON exposures (began_at);
CREATE INDEX exposures_ended ON exposures (ended_at) WHERE ended_at IS NOT NULL;
