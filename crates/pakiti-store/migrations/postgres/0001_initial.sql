-- Pakiti schema, PostgreSQL flavour. Append-only: never edit an applied migration, add a new file.
-- Timestamps are Unix seconds. Keep equivalent to ../sqlite/0001_initial.sql.

CREATE TABLE feeds (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name             TEXT    NOT NULL UNIQUE,
    kind             TEXT    NOT NULL,
    url              TEXT    NOT NULL,
    stream           TEXT,
    enabled          BOOLEAN NOT NULL DEFAULT TRUE,
    interval_secs    BIGINT  NOT NULL,
    created_at       BIGINT  NOT NULL,
    last_sync_at     BIGINT,
    last_status      TEXT,
    last_error       TEXT,
    last_duration_ms BIGINT,
    advisory_count   BIGINT  NOT NULL DEFAULT 0,
    affected_count   BIGINT  NOT NULL DEFAULT 0,
    etag             TEXT,
    last_modified    TEXT,
    checksum         TEXT
);

CREATE TABLE feed_runs (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    feed_id        BIGINT  NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    started_at     BIGINT  NOT NULL,
    status         TEXT    NOT NULL,
    error          TEXT,
    duration_ms    BIGINT  NOT NULL,
    advisory_count BIGINT  NOT NULL,
    affected_count BIGINT  NOT NULL,
    changed_keys   BIGINT  NOT NULL,
    etag           TEXT,
    last_modified  TEXT,
    checksum       TEXT
);
CREATE INDEX feed_runs_by_feed ON feed_runs (feed_id, id);

-- One row per vendor advisory. (feed_id, vendor_id, dup) identifies it across syncs so that its
-- id, which findings reference, stays stable; dup numbers repeated vendor ids within one feed.
CREATE TABLE advisories (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    feed_id   BIGINT  NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    vendor_id TEXT    NOT NULL,
    dup       BIGINT  NOT NULL,
    source    TEXT    NOT NULL,
    title     TEXT    NOT NULL,
    severity  TEXT    NOT NULL,
    issued    TEXT,
    updated   TEXT,
    refs      TEXT,
    digest    BIGINT  NOT NULL,
    UNIQUE (feed_id, vendor_id, dup)
);

CREATE TABLE advisory_cves (
    advisory_id BIGINT  NOT NULL REFERENCES advisories (id) ON DELETE CASCADE,
    ord         BIGINT  NOT NULL,
    cve         TEXT    NOT NULL,
    PRIMARY KEY (advisory_id, ord)
);
CREATE INDEX advisory_cves_by_cve ON advisory_cves (cve);

CREATE TABLE affected (
    advisory_id   BIGINT  NOT NULL REFERENCES advisories (id) ON DELETE CASCADE,
    idx           BIGINT  NOT NULL,
    stream        TEXT    NOT NULL,
    package       TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    arches        TEXT,
    module        TEXT,
    introduced    TEXT,
    status        TEXT    NOT NULL,
    fixed_version TEXT,
    PRIMARY KEY (advisory_id, idx)
);
CREATE INDEX affected_by_key ON affected (stream, package);

-- (stream, package) keys whose advisory entries changed and whose evaluated package versions
-- must be re-evaluated; written in the same transaction as the change, cleared by the server.
CREATE TABLE stale_keys (
    stream  TEXT    NOT NULL,
    package TEXT    NOT NULL,
    seq     BIGINT  NOT NULL,
    PRIMARY KEY (stream, package)
);

-- Package versions are stored once and shared by every host that has them.
-- source is '' when unknown: NULLs would defeat the unique constraint.
CREATE TABLE package_versions (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name    TEXT NOT NULL,
    version TEXT NOT NULL,
    arch    TEXT NOT NULL,
    source  TEXT NOT NULL,
    UNIQUE (name, version, arch, source)
);
CREATE INDEX package_versions_by_source ON package_versions (source) WHERE source <> '';

CREATE TABLE host_groups (
    id   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE hosts (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hostname             TEXT    NOT NULL,
    client_id            TEXT,
    group_id             BIGINT  REFERENCES host_groups (id) ON DELETE SET NULL,
    domain               TEXT,
    os_name              TEXT    NOT NULL,
    stream               TEXT,
    arch                 TEXT    NOT NULL,
    kernel               TEXT    NOT NULL,
    tag                  TEXT,
    packager             TEXT    NOT NULL,
    reboot_needed        BOOLEAN NOT NULL DEFAULT FALSE,
    first_seen           BIGINT  NOT NULL,
    last_report_at       BIGINT  NOT NULL,
    last_report_hash     TEXT,
    pkg_count            BIGINT  NOT NULL DEFAULT 0,
    cve_count            BIGINT  NOT NULL DEFAULT 0,
    critical_count       BIGINT  NOT NULL DEFAULT 0,
    high_count           BIGINT  NOT NULL DEFAULT 0,
    medium_count         BIGINT  NOT NULL DEFAULT 0,
    low_count            BIGINT  NOT NULL DEFAULT 0,
    unknown_count        BIGINT  NOT NULL DEFAULT 0,
    tagged_count         BIGINT  NOT NULL DEFAULT 0,
    vulnerable_pkg_count BIGINT  NOT NULL DEFAULT 0
);
-- Identity: client_id when the agent sends one, else the hostname (never the reporter IP).
CREATE UNIQUE INDEX hosts_by_client_id ON hosts (client_id) WHERE client_id IS NOT NULL;
CREATE UNIQUE INDEX hosts_by_anonymous_hostname ON hosts (hostname) WHERE client_id IS NULL;
CREATE INDEX hosts_by_hostname ON hosts (hostname);

-- A host's installed set: its sorted package-version ids, delta + varint encoded (codec.rs).
CREATE TABLE host_packages (
    host_id BIGINT PRIMARY KEY REFERENCES hosts (id) ON DELETE CASCADE,
    ids     BYTEA   NOT NULL
);

-- Which (stream, package version) pairs have been matched, and what matched. Results are per
-- package version, not per host: hosts share most package versions.
CREATE TABLE evaluated_packages (
    stream             TEXT    NOT NULL,
    package_version_id BIGINT  NOT NULL REFERENCES package_versions (id) ON DELETE CASCADE,
    PRIMARY KEY (stream, package_version_id)
);

CREATE TABLE package_findings (
    stream             TEXT    NOT NULL,
    package_version_id BIGINT  NOT NULL REFERENCES package_versions (id) ON DELETE CASCADE,
    advisory_id        BIGINT  NOT NULL REFERENCES advisories (id) ON DELETE CASCADE,
    affected_idx       BIGINT  NOT NULL,
    PRIMARY KEY (stream, package_version_id, advisory_id)
);
CREATE INDEX package_findings_by_advisory ON package_findings (advisory_id);

CREATE TABLE reports (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    host_id      BIGINT  NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    received_at  BIGINT  NOT NULL,
    processed_at BIGINT,
    hash         TEXT    NOT NULL,
    pkg_count    BIGINT  NOT NULL,
    changed      BOOLEAN NOT NULL,
    via_proxy    BOOLEAN NOT NULL,
    proxy_name   TEXT,
    site         TEXT,
    tag          TEXT,
    cve_count    BIGINT 
);
CREATE INDEX reports_by_host ON reports (host_id, received_at);
CREATE INDEX reports_by_time ON reports (received_at);

-- Durable queue of received reports awaiting evaluation.
CREATE TABLE report_queue (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payload       BYTEA   NOT NULL,
    enqueued_at   BIGINT  NOT NULL,
    claimed_by    TEXT,
    claimed_until BIGINT,
    attempts      BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX report_queue_by_lease ON report_queue (claimed_until, id);
