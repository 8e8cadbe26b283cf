-- What a feed's last import was, recognised from its content: the kind the detector found
-- (`content_kind`), the identity a new document must share to replace the advisories
-- (`content_key`: kind, release, series — `pakiti_feeds::FeedIdentity::key`), and the file or
-- URL imported last (`last_source`). NULL until the feed's next successful import.
-- Keep equivalent to the other backend's 0013 file.
ALTER TABLE feeds ADD COLUMN content_kind TEXT;
ALTER TABLE feeds ADD COLUMN content_key TEXT;
ALTER TABLE feeds ADD COLUMN last_source TEXT;
-- The package-version ids of a host's installed kernels older than the running one
-- (`pakiti_core::kernel::old_kernels`), space-separated: their findings do not count, the
-- host page lists them as "old kernel installed". Computed when the report is saved.
ALTER TABLE hosts ADD COLUMN old_kernels TEXT NOT NULL DEFAULT '';
