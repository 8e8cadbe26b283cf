-- A host whose last saved report has not been evaluated yet (the server died, or the
-- evaluation failed, between saving the report and writing its answers): `pending_report` is
-- that report's id, set in the transaction that saves it and cleared by the one that writes its
-- evaluation. Starting servers and every 30 s tick evaluate such hosts, and pages show them
-- as "evaluation pending", never as clean. Keep equivalent to the other backend's 0012 file.
ALTER TABLE hosts ADD COLUMN pending_report BIGINT;
CREATE INDEX hosts_pending ON hosts (pending_report) WHERE pending_report IS NOT NULL;
-- Reports saved before this migration and never evaluated.
UPDATE hosts SET pending_report = (
    SELECT MAX(r.id) FROM reports r
    WHERE r.host_id = hosts.id AND r.changed AND r.processed_at IS NULL
);
