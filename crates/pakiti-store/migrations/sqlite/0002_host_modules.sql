-- Enabled dnf module streams of a host, space-separated (`nodejs:18 perl:5.26`).
ALTER TABLE hosts ADD COLUMN modules TEXT NOT NULL DEFAULT '';
