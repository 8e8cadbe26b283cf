-- Issue 16 D17: a host is bound to the first identity that reported it (`dn:…`, `client-id:…`
-- or `network:…`); a report under another identity is an identity conflict, recorded here
-- (warn: stored anyway; hold: kept apart with the report as JSON until an admin accepts or
-- rejects it). Keep equivalent to the other backend's 0016 file.
ALTER TABLE hosts ADD COLUMN bound_identity TEXT;

CREATE TABLE identity_conflicts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at BIGINT  NOT NULL,
    hostname    TEXT    NOT NULL,
    host_id     BIGINT,
    expected    TEXT    NOT NULL,
    seen        TEXT    NOT NULL,
    peer        TEXT,
    status      TEXT    NOT NULL,
    report      TEXT
);
