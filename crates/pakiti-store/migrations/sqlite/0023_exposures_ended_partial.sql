-- Issue 17: the index on `exposures.ended_at` (for "what ended in this window") covered the
-- open exposures too, as NULLs. SQLite, with no statistics, took `ended_at IS NULL` for a
-- selective equality and read a host's open exposures through it — every open exposure of the
-- fleet — in each report's finish: the finish grew with the fleet (15 ms a report at 200 hosts,
-- 75% of a changed report's time). Only ended rows in it now; the open ones are found through
-- `exposures_open` or `exposures_by_host`. Keep equivalent to the other backend's 0023 file.
DROP INDEX exposures_ended;
CREATE INDEX exposures_ended ON exposures (ended_at) WHERE ended_at IS NOT NULL;
