-- Issue 16 D17: a host is bound to the first identity that reported it (`dn:…`, `client-id:…`
-- or `network:…`); a report under another identity is an identity conflict, recorded here
-- (warn: stored anyway; hold: kept apart with the report as JSON until an admin accepts or
-- rejects it). Keep equivalent to the other backend's 0016 file.
ALTER TABLE hosts ADD COLUMN bound_identity TEXT;

CREATE TABLE identity_conflicts (
    id          INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    hostname    TEXT    NOT NULL,
    host_id     INTEGER,
    expected    TEXT    NOT NULL,
    seen        TEXT    NOT NULL,
    peer        TEXT,
    status      TEXT    NOT NULL,
    report      TEXT
);
