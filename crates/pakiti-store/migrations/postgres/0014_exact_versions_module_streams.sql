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
