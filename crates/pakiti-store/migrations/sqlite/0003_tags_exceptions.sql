-- Operator CVE tags and exceptions. Keep equivalent to the other backend's 0003 file.

-- A tag on a CVE (Pakiti's "Critical", "High", or any name), with why and a link. Report-back
-- and the tagged counts use only enabled tags.
CREATE TABLE cve_tags (
    id         INTEGER PRIMARY KEY,
    cve        TEXT    NOT NULL,
    tag        TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    info_url   TEXT,
    enabled    BOOLEAN NOT NULL DEFAULT TRUE,
    author     TEXT    NOT NULL,
    created_at INTEGER  NOT NULL,
    UNIQUE (cve, tag)
);

-- A CVE declared not to apply to one package version on one OS stream (Pakiti's exceptions,
-- bound to a package version and an OS group), until expires_at when set.
CREATE TABLE exceptions (
    id         INTEGER PRIMARY KEY,
    cve        TEXT    NOT NULL,
    package    TEXT    NOT NULL,
    version    TEXT    NOT NULL,
    stream     TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    author     TEXT    NOT NULL,
    created_at INTEGER  NOT NULL,
    expires_at INTEGER,
    UNIQUE (cve, package, version, stream)
);
