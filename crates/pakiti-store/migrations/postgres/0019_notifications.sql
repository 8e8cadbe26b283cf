-- Notifications (#14): rules, what each rule already told, the digest backlog and the durable
-- outbox. Keep equivalent to the other backend's 0019 file.

-- A rule: which hosts (scope: groups and domains, both empty = every host), what triggers it
-- (comma-separated: tagged, kev, critical, not-reporting, sync-failing, refused), immediate or
-- daily digest, and where to send (e-mail addresses, newline-separated; a webhook URL + secret).
-- baselined_at: when the first evaluation recorded what was already true without sending it.
CREATE TABLE notify_rules (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE,
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    scope_groups    TEXT    NOT NULL DEFAULT '',
    scope_domains   TEXT    NOT NULL DEFAULT '',
    triggers        TEXT    NOT NULL,
    silent_days     BIGINT  NOT NULL DEFAULT 2,
    mode            TEXT    NOT NULL,
    emails          TEXT    NOT NULL DEFAULT '',
    webhook_url     TEXT,
    webhook_secret  TEXT,
    author          TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    baselined_at    BIGINT,
    last_digest_at  BIGINT
);

-- What a rule has already told about (or baselined): one row per (rule, subject). Subjects are
-- "exposure:<host>:<cve>", "silent:<host>:<last report>", "feed:<id>", "repo:<id>",
-- "refused:<id>". A restart reads them back, so nothing is sent twice.
CREATE TABLE notify_seen (
    rule_id  BIGINT NOT NULL REFERENCES notify_rules (id) ON DELETE CASCADE,
    subject  TEXT   NOT NULL,
    seen_at  BIGINT NOT NULL,
    PRIMARY KEY (rule_id, subject)
);

-- Events of digest-mode rules waiting for the daily digest (JSON each).
CREATE TABLE notify_digest (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id  BIGINT NOT NULL REFERENCES notify_rules (id) ON DELETE CASCADE,
    event    TEXT   NOT NULL,
    at       BIGINT NOT NULL
);
CREATE INDEX notify_digest_rule ON notify_digest (rule_id, id);

-- The durable outbox: one row per message and destination ("email" to an address, "webhook"
-- to a URL). The sender claims due rows, retries failures with exponential backoff
-- (next_attempt_at) and gives up after the configured number of attempts.
CREATE TABLE notify_outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id         BIGINT REFERENCES notify_rules (id) ON DELETE SET NULL,
    rule_name       TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    destination     TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    last_error      TEXT,
    created_at      BIGINT  NOT NULL,
    sent_at         BIGINT,
    gave_up         BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX notify_outbox_due ON notify_outbox (sent_at, gave_up, next_attempt_at);
