-- Issue 14: a host can be retired (it leaves every count and list; its reports are kept) or
-- deleted with its history. `retired_at` is the time it was retired (unix seconds), NULL for a
-- host in service; a new report from a retired host puts it back in service.
-- Keep equivalent to the other backend's 0020 file.
ALTER TABLE hosts ADD COLUMN retired_at INTEGER;
