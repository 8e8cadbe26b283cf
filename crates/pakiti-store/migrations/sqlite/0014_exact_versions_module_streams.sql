-- Issue 12 items 7 and 2. Keep equivalent to the other backend's 0014 file.
-- The last affected version of an entry (inclusive): OVAL `evr equals X` (kernel live
-- patches) is introduced = last_affected = X, exactly that version. NULL: no upper bound
-- besides the status. Entries imported before this migration get it at their next import
-- (their digest changes, so they are replaced and re-evaluated).
ALTER TABLE affected ADD COLUMN last_affected TEXT;
-- How a host's module streams (`hosts.modules`) are known: '' reported by the agent (or the
-- host has no module packages advisories speak about), 'inferred' from its installed module
-- packages because it reported none, 'unknown' when some of its module packages could not be
-- attributed to a stream (their module advisories are missed: the CVE count is a lower bound).
ALTER TABLE hosts ADD COLUMN module_streams TEXT NOT NULL DEFAULT '';
-- Issue 12 item 1: a package version keeps one answer per (advisory, module-stream condition)
-- until the host's streams are known, so an advisory may have several entries per package
-- version: the key includes the entry.
CREATE TABLE package_findings_0014 (
    stream             TEXT    NOT NULL,
    package_version_id INTEGER NOT NULL REFERENCES package_versions (id) ON DELETE CASCADE,
    advisory_id        INTEGER NOT NULL REFERENCES advisories (id) ON DELETE CASCADE,
    affected_idx       INTEGER NOT NULL,
    PRIMARY KEY (stream, package_version_id, advisory_id, affected_idx)
) WITHOUT ROWID;
INSERT INTO package_findings_0014 (stream, package_version_id, advisory_id, affected_idx)
    SELECT stream, package_version_id, advisory_id, affected_idx FROM package_findings;
DROP TABLE package_findings;
ALTER TABLE package_findings_0014 RENAME TO package_findings;
CREATE INDEX package_findings_by_advisory ON package_findings (advisory_id);
-- The matcher changed (module entries, rebuild release tags, epochs): every stored answer is
-- re-derived once, through the ordinary stale-key re-evaluation.
UPDATE feed_generation SET generation = generation + 1 WHERE id = 1;
INSERT INTO stale_keys (stream, package, seq)
    SELECT DISTINCT stream, package, (SELECT generation FROM feed_generation WHERE id = 1)
    FROM affected WHERE true
    ON CONFLICT (stream, package) DO UPDATE SET seq = excluded.seq;
-- Hosts that reported no module streams get them inferred at their next report: forget the
-- report hash, so that an unchanged report is processed in full instead of only touched.
UPDATE hosts SET last_report_hash = NULL WHERE modules = '';
