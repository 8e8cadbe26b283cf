-- Issue 14: what prioritisation feeds (CISA KEV, FIRST EPSS) and the CVSS scores of
-- vulnerability feeds say about each CVE. One row per (feed, CVE); an import replaces its
-- feed's rows, the server merges the rows of enabled feeds per CVE. A column a feed does not
-- give is NULL. Keep equivalent to the other backend's 0017 file.
CREATE TABLE cve_facts (
    feed_id          INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    cve              TEXT    NOT NULL,
    kev_date_added   TEXT,
    kev_due_date     TEXT,
    kev_ransomware   BOOLEAN,
    epss             REAL,
    epss_percentile  REAL,
    cvss             REAL,
    PRIMARY KEY (feed_id, cve)
);
