-- Package repositories (APT, rpm-md, APK) for update detection. Keep equivalent to the other
-- backend's 0005 file.

-- A repository serves one OS stream (and one arch, or every arch when NULL). security and
-- priority are the operator's choice; NULL takes what the metadata says (meta_security from
-- the suite name/label or updateinfo, meta_priority from NotAutomatic/ButAutomaticUpgrades).
CREATE TABLE repositories (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name             TEXT    NOT NULL UNIQUE,
    kind             TEXT    NOT NULL,
    url              TEXT    NOT NULL,
    stream           TEXT    NOT NULL,
    arch             TEXT,
    security         BOOLEAN,
    priority         BIGINT,
    enabled          BOOLEAN NOT NULL DEFAULT TRUE,
    interval_secs    BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    last_sync_at     BIGINT,
    last_status      TEXT,
    last_error       TEXT,
    last_duration_ms BIGINT,
    package_count    BIGINT NOT NULL DEFAULT 0,
    security_count   BIGINT NOT NULL DEFAULT 0,
    meta_security    BOOLEAN NOT NULL DEFAULT FALSE,
    meta_priority    BIGINT,
    etag             TEXT,
    last_modified    TEXT,
    checksum         TEXT
);

CREATE TABLE repo_runs (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repo_id       BIGINT NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    started_at    BIGINT NOT NULL,
    status        TEXT    NOT NULL,
    error         TEXT,
    duration_ms   BIGINT NOT NULL,
    package_count BIGINT NOT NULL,
    etag          TEXT,
    last_modified TEXT,
    checksum      TEXT
);
CREATE INDEX repo_runs_by_repo ON repo_runs (repo_id, id);

-- A repository's package entries, one compact blob per repository (repos.rs encodes it): the
-- server only ever loads them whole into its in-memory index.
CREATE TABLE repo_packages (
    repo_id BIGINT PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    entries BYTEA   NOT NULL
);

-- Cached per-host update counts (security / other), written after update computation.
ALTER TABLE hosts ADD COLUMN security_updates BIGINT NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN other_updates BIGINT NOT NULL DEFAULT 0;
