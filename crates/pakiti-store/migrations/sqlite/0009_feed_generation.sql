-- The feed generation: a counter bumped in every transaction that changes what the advisories
-- say (an import that changed keys, a feed enabled, disabled or removed), and the sequence
-- number of the stale keys that transaction marks. An evaluator remembers the generation it
-- was built at; a report's answers are written only if no change committed since
-- (`finish_reports`), so no answer from an older index is ever stored for a package version.
-- Keep equivalent to the other backend's 0009 file.
CREATE TABLE feed_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT  NOT NULL
);
INSERT INTO feed_generation (id, generation)
    SELECT 1, COALESCE(MAX(seq), 0) FROM stale_keys;
