-- Issue 11: what a report could not say. Unreadable lines of a stored report are counted and
-- the first few kept (one `line<TAB>reason<TAB>excerpt` per line, refused.rs); the host keeps
-- those of its last report. Refused reports are recorded (newest N kept, a setting). Keep
-- equivalent to the other backend's 0011 file.
ALTER TABLE reports ADD COLUMN problem_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE reports ADD COLUMN problems TEXT;
ALTER TABLE hosts ADD COLUMN report_problem_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN report_problems TEXT;
CREATE INDEX hosts_with_report_problems ON hosts (id) WHERE report_problem_count > 0;

CREATE TABLE refused_reports (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at BIGINT  NOT NULL,
    hostname    TEXT,
    peer        TEXT,
    protocol    TEXT    NOT NULL,
    status      BIGINT  NOT NULL,
    reason      TEXT    NOT NULL
);
