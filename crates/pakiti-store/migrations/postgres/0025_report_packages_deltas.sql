-- Issue 17: the per-report package lists kept for report diffs (30 per host by default) were
-- each a host's full list: at ~500 bytes a list, 15 KiB per host once a host had 30 changed
-- reports, five times the whole store's target per host. No list is now written whole: the
-- newest is the host's current list (`host_packages`; `base` = -1, empty `ids`/`dropped`), and
-- when a newer one is written the one before it becomes a reverse delta against it: `base`
-- names the newer list's report, `ids` the ids to add back and `dropped` the ids to take out
-- (both the store's id blob). `base` NULL: `ids` is a full list (every row written before
-- this migration). Keep equivalent to the other backend's 0025 file.
ALTER TABLE report_packages ADD COLUMN base BIGINT;
ALTER TABLE report_packages ADD COLUMN dropped BYTEA;
