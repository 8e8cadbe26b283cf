-- Issue 15: the audit log, one row per administrative change (who, what, when). `at` is unix
-- seconds; `via` is web, api or cli; `action` the method and route (`POST /users/{name}/admin`)
-- or the command (`user add`); `target` the route's parameters or the command's object;
-- `detail` what else is safe to keep (never a password, token or CSRF value); `status` the HTTP
-- status or `ok`/`error`/`failed`. Bounded by `[log] audit_kept` (the newest rows are kept).
-- Keep equivalent to the other backend's 0022 file.
CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    via    TEXT    NOT NULL,
    action TEXT    NOT NULL,
    target TEXT    NOT NULL,
    detail TEXT    NOT NULL,
    status TEXT    NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_action ON audit_log (action, id);
