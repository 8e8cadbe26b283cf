-- Secrets every server sharing this database must agree on (e.g. the key CSRF tokens of
-- proxy- and certificate-authenticated users are derived from): created once, by whichever
-- server asks first. Keep equivalent to the other backend's 0010 file.
CREATE TABLE server_secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
