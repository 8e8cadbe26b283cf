//! The `[limits]` settings: what one unauthenticated client may cost the server. The
//! server enforces them (`pakiti_server::limits`: report checks, shared budgets, connection
//! bounds); each has a default generous for real hosts and small enough that no single
//! request can stall the server or grow the store without end.

use std::time::Duration;

use serde::Deserialize;

/// The `[limits]` settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Most packages one report may list (413 beyond).
    pub max_packages: usize,
    /// Longest package name, in bytes.
    pub max_package_name_bytes: usize,
    /// Longest package version (and architecture, source name), in bytes.
    pub max_package_version_bytes: usize,
    /// Longest host name, in bytes; at most 253 (a DNS name's limit) whatever is set.
    pub max_hostname_bytes: usize,
    /// Longest header field of a report (OS, tag, site, architecture, kernel, CPU, IP, client
    /// id, module stream), in bytes.
    pub max_field_bytes: usize,
    /// Report bodies (as received and decompressed) held in memory at once, in bytes, over
    /// all requests; a report that does not fit is answered 503 with `Retry-After`.
    pub max_body_memory_bytes: usize,
    /// S/MIME decryptions running at once (each is an RSA private-key operation); more wait.
    pub max_concurrent_decryptions: usize,
    /// Seconds a client may take to send a request's headers before the connection is closed.
    pub header_read_timeout_secs: u64,
    /// Seconds a client may take to send a request body (408 beyond).
    pub body_read_timeout_secs: u64,
    /// Open connections one client address may hold; more are closed at once.
    pub max_connections_per_address: usize,
    /// Open connections in all; more are closed at once. Keep it below the open-file limit
    /// (`LimitNOFILE` in the systemd unit) so the store and feeds always have descriptors.
    pub max_connections: usize,
    /// Reports per minute one client address may send to `POST /feed/` after a burst of
    /// `feed_burst` (429 with `Retry-After` beyond); 0 (the default) disables the limit.
    pub feed_rate_per_minute: u32,
    /// Reports one client address may send at once before `feed_rate_per_minute` applies.
    pub feed_burst: u32,
    /// A trusted proxy's reports (`[proxies]`, `[auth] proxy_addresses`) are limited per the
    /// last `X-Forwarded-For` address it adds (true), or not at all (false, the default).
    pub feed_rate_forwarded_for: bool,
    /// Requests per minute one API token (`Authorization: Bearer`) may make after a burst of
    /// `api_token_burst` (429 with `Retry-After` beyond); 0 (the default) disables the limit.
    pub api_token_rate_per_minute: u32,
    /// Requests one API token may make at once before `api_token_rate_per_minute` applies.
    pub api_token_burst: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_packages: 50_000,
            max_package_name_bytes: 256,
            max_package_version_bytes: 256,
            max_hostname_bytes: 253,
            max_field_bytes: 1024,
            max_body_memory_bytes: 256 * 1024 * 1024,
            max_concurrent_decryptions: 2,
            header_read_timeout_secs: 30,
            body_read_timeout_secs: 60,
            max_connections_per_address: 256,
            max_connections: 4096,
            feed_rate_per_minute: 0,
            feed_burst: 10,
            feed_rate_forwarded_for: false,
            api_token_rate_per_minute: 0,
            api_token_burst: 30,
        }
    }
}

impl Limits {
    /// The header read timeout.
    #[must_use]
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs.max(1))
    }

    /// The body read timeout.
    #[must_use]
    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_secs(self.body_read_timeout_secs.max(1))
    }
}
