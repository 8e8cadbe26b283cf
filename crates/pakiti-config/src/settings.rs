//! Server settings, loaded in layers: built-in defaults, then a TOML file, then `PAKITI_*`
//! environment variables (`__` separates nested keys: `PAKITI_PROXIES__TRUSTED`).
//!
//! One typed struct, passed explicitly; no global configuration. `pakiti default-config`
//! prints the commented example that documents every key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::limits::Limits;
use crate::net::Cidr;

/// The commented example configuration, with every key at its default.
pub const EXAMPLE: &str = include_str!("../pakiti.example.toml");

/// Everything the server needs to know, with the defaults a fresh install uses.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Where the SQLite file and other state live.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://…`; empty means `sqlite://<data_dir>/pakiti.db`.
    pub database_url: String,
    /// Largest accepted report body, in bytes (after decompression).
    pub max_report_bytes: usize,
    /// When reports are evaluated: `ingest` (before answering) or `async` (queued, by workers).
    pub evaluation: Evaluation,
    /// Report history kept per host, in days (0 keeps everything).
    pub report_retention_days: u32,
    /// Refused reports kept (the newest; `/reports/refused`), at least 1.
    pub refused_reports_kept: u32,
    /// Package lists kept per host for report diffs: those of its newest N changed reports
    /// (`/hosts/{hostname}/diff`), at least 1.
    pub report_packages_kept: u32,
    /// PEM private key that decrypts S/MIME-encrypted protocol-5 reports.
    pub report_key: Option<PathBuf>,
    /// Who may submit reports on behalf of other hosts (protocol-4 `proxy=1`).
    pub proxies: Proxies,
    /// Outgoing HTTP(S) proxy for feed and repository downloads (`http://proxy:3128`); the
    /// `HTTPS_PROXY`/`HTTP_PROXY` environment variables are honoured too.
    pub outgoing_proxy: Option<String>,
    /// Whether the server syncs enabled feeds on their schedule.
    pub sync_feeds: bool,
    /// Whether the server syncs enabled package repositories on their schedule.
    pub sync_repos: bool,
    /// Site rules mapping OS strings to streams, tried in order before the built-in ones.
    pub os_rules: Vec<OsRule>,
    /// Who may read the pages and the API (`[auth]`).
    pub auth: Auth,
    /// HTTPS served by pakiti itself (`[tls]`).
    pub tls: Tls,
    /// What one client may cost the server (`[limits]`, see [`Limits`]).
    pub limits: Limits,
    /// Host identity binding (`[identity]`, see the `identity` module).
    pub identity: IdentitySettings,
    /// E-mail and webhook notifications (`[notify]`, see the `notify` module).
    pub notify: NotifySettings,
    /// `[metrics]`: who may read `/metrics`, an optional listener of its own.
    pub metrics: MetricsSettings,
    /// `[housekeeping]`: report and exposure retention, purging silent hosts, SQLite
    /// maintenance (see `jobs/housekeeping.rs`).
    pub housekeeping: HousekeepingSettings,
    /// `[log]`: the log format and the audit log's bound (see the server's `audit` module).
    pub log: LogSettings,
}

/// `[housekeeping]`: what the server's tick prunes and maintains (`jobs::housekeeping`), and
/// what `pakiti housekeeping run` does at once.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HousekeepingSettings {
    /// Whether the server runs housekeeping on its tick (`pakiti housekeeping run` works
    /// either way).
    pub enabled: bool,
    /// Minutes between retention runs (reports, exposures, silent hosts).
    pub interval_minutes: u32,
    /// Reports kept per host, newest first (0: no count limit). A host's last report and a
    /// report whose evaluation is pending are always kept.
    pub reports_kept: u32,
    /// Reports older than this many days are deleted (0: no age limit); unset, the top-level
    /// `report_retention_days` applies.
    pub report_max_age_days: Option<u32>,
    /// Exposure history (`/changes`, time to patch) that ended more than this many days ago
    /// is deleted (0: kept forever). Open exposures are never deleted.
    pub exposures_max_age_days: u32,
    /// Hosts (in service or retired) that have not reported for this many days are deleted
    /// with their history (0: never). Each purge is logged and recorded in the run log.
    pub purge_hosts_not_seen_days: u32,
    /// SQLite: minutes between WAL checkpoints (`wal_checkpoint(TRUNCATE)`; 0: only SQLite's
    /// automatic ones).
    pub checkpoint_minutes: u32,
    /// Hours between planner statistics refreshes (SQLite `ANALYZE`, tables under 10,000 rows left without statistics;
    /// 0: never). PostgreSQL leaves it to autovacuum.
    pub analyze_hours: u32,
    /// SQLite: days between `VACUUM`s (0: never; 7: weekly). `VACUUM` holds the write lock
    /// while it rewrites the file, so it runs only in `vacuum_hour`.
    pub vacuum_days: u32,
    /// The hour (UTC, 0–23) a scheduled `VACUUM` may start in: a quiet one, not an ingest peak.
    pub vacuum_hour: u8,
}

impl Default for HousekeepingSettings {
    fn default() -> Self {
        HousekeepingSettings {
            enabled: true,
            interval_minutes: 60,
            reports_kept: 0,
            report_max_age_days: None,
            exposures_max_age_days: 0,
            purge_hosts_not_seen_days: 0,
            checkpoint_minutes: 15,
            analyze_hours: 24,
            vacuum_days: 0,
            vacuum_hour: 3,
        }
    }
}

/// `[log]`: how the server logs and how much of the audit log it keeps.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `text` (human-readable lines) or `json` (one JSON object per line); the environment
    /// variable `PAKITI_LOG_FORMAT` sets it too.
    pub format: LogFormat,
    /// Audit log entries kept (the newest; `/audit`, `/api/v1/audit`); 0 keeps every one.
    pub audit_kept: u32,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: LogFormat::Text,
            audit_kept: 100_000,
        }
    }
}

impl Settings {
    /// Days of report history kept: `[housekeeping] report_max_age_days`, else the top-level
    /// `report_retention_days` (0: no age limit).
    #[must_use]
    pub fn report_max_age_days(&self) -> u32 {
        self.housekeeping
            .report_max_age_days
            .unwrap_or(self.report_retention_days)
    }
}

/// The log lines' format.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `fields`, `target`, `span`, `spans`).
    Json,
}

/// `[notify]`: how notification rules deliver (the rules themselves are in the store,
/// managed at `/notifications`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifySettings {
    /// The SMTP server e-mail goes through (`[notify.smtp]`); no host: e-mail fails (and is
    /// retried) with a clear error.
    pub smtp: SmtpSettings,
    /// The hour (UTC, 0–23) daily digests are made at.
    pub digest_hour: u8,
    /// A new rule's first evaluation records what is already true without sending it (true),
    /// or sends it all (false).
    pub baseline: bool,
    /// Delivery attempts before a message is given up (shown as failed).
    pub max_attempts: u32,
    /// The first retry's delay in seconds; each further retry doubles it (at most 6 h).
    pub retry_secs: u64,
    /// How often the sender looks for due messages, in seconds.
    pub send_interval_secs: u64,
    /// Timeout of one delivery (SMTP conversation or webhook POST), in seconds.
    pub timeout_secs: u64,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            smtp: SmtpSettings::default(),
            digest_hour: 7,
            baseline: true,
            max_attempts: 10,
            retry_secs: 60,
            send_interval_secs: 10,
            timeout_secs: 30,
        }
    }
}

/// `[metrics]`: the Prometheus endpoint `/metrics` (see `metrics.rs`).
///
/// On the main listener `/metrics` answers a request carrying `Authorization: Bearer <token>`
/// (when `token` is set) or an administrator (session, API token, or `auth.mode = "none"`);
/// anyone only with `public = true`. On `listen`, a listener serving only `/metrics`,
/// `/healthz` and `/readyz`, it answers anyone when no `token` is set (bind it to an address
/// only the monitoring network reaches), else only the token.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// A listener of its own for `/metrics`, `/healthz` and `/readyz` (e.g. 127.0.0.1:9180).
    pub listen: Option<SocketAddr>,
    /// The bearer token a scraper sends (`Authorization: Bearer …`).
    pub token: Option<String>,
    /// Serve `/metrics` on the main listener to anyone (not only the token or an
    /// administrator).
    pub public: bool,
    /// Hosts whose last report is older than this many days count as `stale`.
    pub stale_days: u32,
    /// Seconds the host counts (by state) are kept between scrapes: they are computed from
    /// the store and the fleet index at most this often.
    pub cache_secs: u64,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings {
            listen: None,
            token: None,
            public: false,
            stale_days: 7,
            cache_secs: 30,
        }
    }
}

/// `[notify.smtp]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSettings {
    /// The SMTP server's name (empty: no e-mail).
    pub host: String,
    /// Its port (587 for STARTTLS, 465 for TLS, 25 plain).
    pub port: u16,
    /// `starttls`, `tls` (implicit TLS) or `none` (plain text: only to a local relay).
    pub security: SmtpSecurity,
    /// User name for SMTP AUTH (empty: no authentication).
    pub username: String,
    /// Password for SMTP AUTH.
    pub password: String,
    /// The sender address.
    pub from: String,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        SmtpSettings {
            host: String::new(),
            port: 587,
            security: SmtpSecurity::Starttls,
            username: String::new(),
            password: String::new(),
            from: "pakiti@localhost".into(),
        }
    }
}

/// How the SMTP connection is protected.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (required).
    Starttls,
    /// TLS from the first byte (SMTPS).
    Tls,
    /// No encryption.
    None,
}

// The token stays out of logs.
impl std::fmt::Debug for MetricsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsSettings")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("public", &self.public)
            .field("stale_days", &self.stale_days)
            .field("cache_secs", &self.cache_secs)
            .finish()
    }
}

/// HTTPS served by `pakiti serve` itself (`[tls]`): certificate, key, optional client
/// certificates. With `cert` and `key` set, `listen` serves HTTPS; with `listen` here set
/// too, the top-level `listen` stays plain HTTP and this address serves HTTPS beside it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tls {
    /// A separate HTTPS address, beside plain HTTP on the top-level `listen`.
    pub listen: Option<SocketAddr>,
    /// PEM certificate chain (server certificate first), e.g. certbot's `fullchain.pem`.
    pub cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<PathBuf>,
    /// CA certificates that client certificates must chain to: a PEM file, or an OpenSSL
    /// hashed directory (`/etc/grid-security/certificates`: files named `<hash>.<n>`).
    pub client_ca: Option<PathBuf>,
    /// With `client_ca`: `optional` (a client may present a certificate) or `required`
    /// (the handshake fails without one).
    pub client_auth: ClientAuth,
    /// How often the certificate, key and CA files are checked for changes, in seconds
    /// (0: only on SIGHUP). A change is picked up without a restart.
    pub watch_secs: u64,
}

/// Whether client certificates are asked for or required (`[tls] client_auth`).
// `pakiti serve --tls-client-auth` takes it too (the `clap` feature, which the server turns on).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// A client may present a certificate; without one the connection is still accepted.
    #[default]
    Optional,
    /// The TLS handshake fails without a certificate signed by `client_ca`.
    Required,
}

impl Default for Tls {
    fn default() -> Self {
        Tls {
            listen: None,
            cert: None,
            key: None,
            client_ca: None,
            client_auth: ClientAuth::Optional,
            watch_secs: 60,
        }
    }
}

impl Tls {
    /// Whether HTTPS is configured at all.
    #[must_use]
    pub fn enabled(&self) -> bool {
        self.cert.is_some() || self.key.is_some()
    }
}

/// How users are authenticated (`[auth]`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    /// `none` (single-user: everyone is an admin), `accounts` (built-in users, log-in form),
    /// `proxy` (a trusted reverse proxy's user header) or `tls` (a TLS-terminating proxy's
    /// client-certificate DN header).
    pub mode: AuthMode,
    /// The header a trusted proxy names the user in (`proxy` mode).
    pub proxy_header: String,
    /// The only addresses or CIDR blocks whose `proxy_header` / `tls_dn_header` is believed.
    pub proxy_addresses: Vec<Cidr>,
    /// The header carrying the client certificate's subject DN (`tls` mode).
    pub tls_dn_header: String,
    /// The URL users reach the server at; session cookies are `Secure` when it is https.
    pub public_url: String,
    /// How long a log-in lasts, in hours.
    pub session_hours: u32,
    /// Failed log-ins allowed per client address and per user name within
    /// `login_window_secs` before `POST /login` answers 429 (`accounts` mode); 0 disables.
    pub login_max_failures: u32,
    /// The sliding window of `login_max_failures`, in seconds.
    pub login_window_secs: u64,
}

/// Authentication modes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Single-user mode: no log-in, everyone is an admin (meant for 127.0.0.1).
    #[default]
    None,
    /// Built-in accounts with argon2 password hashes.
    Accounts,
    /// A trusted reverse proxy's user header.
    Proxy,
    /// A TLS-terminating proxy's client-certificate DN header.
    Tls,
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            mode: AuthMode::None,
            proxy_header: "X-Remote-User".into(),
            proxy_addresses: Vec::new(),
            tls_dn_header: "X-SSL-Client-S-DN".into(),
            public_url: String::new(),
            session_hours: 12,
            login_max_failures: 5,
            login_window_secs: 900,
        }
    }
}

/// What happens to a report for a known host under another identity (the `identity` module).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum IdentityPolicy {
    /// No check (Pakiti 2/3 behaviour).
    Off,
    /// Store as usual and record the conflict for admins.
    #[default]
    Warn,
    /// Do not apply; keep the report for an admin to accept or reject.
    Hold,
}

/// `[identity]` settings (host identity binding, the `identity` module).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentitySettings {
    /// `off`, `warn` (default) or `hold`.
    pub policy: IdentityPolicy,
    /// Bind clients that send neither a certificate nor a client id to their source network.
    pub network: bool,
    /// Prefix length of an IPv4 source network.
    pub ipv4_prefix: u8,
    /// Prefix length of an IPv6 source network.
    pub ipv6_prefix: u8,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        IdentitySettings {
            policy: IdentityPolicy::Warn,
            network: false,
            ipv4_prefix: 24,
            ipv6_prefix: 64,
        }
    }
}

/// A site's OS-name rule (`os_rules`): a regular expression (case-insensitive, unanchored)
/// over the OS string agents send, and the stream it maps to, where `$1`… name capture groups.
/// The engine compiles and checks them (`pakiti_engine::osrules::OsRules`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OsRule {
    /// The pattern, e.g. `^Scientific Linux .*release (\d+)`.
    pub pattern: String,
    /// The stream, e.g. `rhel:$1`, or `none` to mark matching OSes as having no data.
    pub stream: String,
}

/// When reports are evaluated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Evaluation {
    /// Store and evaluate before answering the agent.
    #[default]
    Ingest,
    /// Store in a durable queue, answer, and let workers evaluate.
    Async,
}

/// Trusted report proxies.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Proxies {
    /// Addresses or CIDR blocks (`192.0.2.10`, `10.0.0.0/8`, `2001:db8::/32`).
    pub addresses: Vec<Cidr>,
    /// Host names: a peer is trusted when its address's reverse DNS name is one of them and
    /// that name resolves back to the address (forward-confirmed).
    pub hostnames: Vec<String>,
    /// TLS client-certificate subject DNs, as the fronting proxy passes them.
    pub certificate_dns: Vec<String>,
    /// Addresses or CIDR blocks of the TLS-terminating front proxies whose client-DN header
    /// (`X-SSL-Client-S-DN`) is believed; empty means loopback only. A DN header from
    /// anyone else is ignored, so a client cannot claim a proxy's certificate.
    pub dn_header_from: Vec<Cidr>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("pakiti-data"),
            database_url: String::new(),
            max_report_bytes: 32 * 1024 * 1024,
            evaluation: Evaluation::Ingest,
            report_retention_days: 90,
            refused_reports_kept: 10_000,
            report_packages_kept: 30,
            report_key: None,
            proxies: Proxies::default(),
            outgoing_proxy: None,
            sync_feeds: true,
            sync_repos: true,
            os_rules: Vec::new(),
            auth: Auth::default(),
            tls: Tls::default(),
            limits: Limits::default(),
            identity: IdentitySettings::default(),
            notify: NotifySettings::default(),
            metrics: MetricsSettings::default(),
            housekeeping: HousekeepingSettings::default(),
            log: LogSettings::default(),
        }
    }
}

/// Settings that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file or an environment variable is not valid.
    #[error("invalid settings{}: {message}", .origin.as_deref().map(|o| format!(" in {o}")).unwrap_or_default())]
    Invalid {
        /// The file or variable at fault, when known.
        origin: Option<String>,
        /// The parser's message.
        message: String,
    },
}

impl Settings {
    /// Loads defaults, then `file` (if given), then the `PAKITI_*` variables of `env`.
    ///
    /// # Errors
    /// The file is unreadable, or a value has the wrong type or an unknown key.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, SettingsError> {
        let mut table = toml::Table::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
                path: path.to_owned(),
                source,
            })?;
            table = text
                .parse::<toml::Table>()
                .map_err(|e| SettingsError::Invalid {
                    origin: Some(path.display().to_string()),
                    message: e.to_string(),
                })?;
        }
        for (key, value) in env {
            let Some(rest) = key.strip_prefix("PAKITI_") else {
                continue;
            };
            // Variables that are not settings (test and benchmark hooks, log filters, the
            // `pakiti check` token) are left alone: a shell that exports one must not make
            // `pakiti serve` refuse to start.
            if matches!(rest, "LOG" | "CONFIG" | "TOKEN" | "BLESS")
                || rest.starts_with("TEST_")
                || rest.starts_with("BENCH_")
            {
                continue;
            }
            // The documented short form of `PAKITI_LOG__FORMAT`.
            if rest == "LOG_FORMAT" {
                insert_env(&mut table, &["log".into(), "format".into()], &value);
                continue;
            }
            let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            insert_env(&mut table, &path, &value);
        }
        toml::Value::Table(table)
            .try_into::<Settings>()
            .map_err(|e| SettingsError::Invalid {
                origin: None,
                message: e.to_string(),
            })
    }

    /// The database URL, defaulting to an SQLite file in the data directory.
    #[must_use]
    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("pakiti.db").display())
        } else {
            self.database_url.clone()
        }
    }
}

/// Puts an environment value into the table: TOML syntax when it parses (numbers, booleans,
/// arrays), a plain string otherwise.
fn insert_env(table: &mut toml::Table, path: &[String], raw: &str) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut t = table;
    for p in parents {
        let entry = t
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(next) = entry else {
            return;
        };
        t = next;
    }
    let value = format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()));
    t.insert(last.clone(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults() {
        let s = Settings::load(None, env(&[])).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database_url(), "sqlite://pakiti-data/pakiti.db");
        assert_eq!(s.evaluation, Evaluation::Ingest);
    }

    #[test]
    fn the_example_is_valid_and_says_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pakiti.toml");
        std::fs::write(&path, EXAMPLE).unwrap();
        let s = Settings::load(Some(&path), env(&[])).unwrap();
        let d = Settings::default();
        assert_eq!(s.listen, d.listen);
        assert_eq!(s.max_report_bytes, d.max_report_bytes);
        assert_eq!(s.report_retention_days, d.report_retention_days);
        let (h, dh) = (&s.housekeeping, &d.housekeeping);
        assert_eq!(h.enabled, dh.enabled);
        assert_eq!(h.interval_minutes, dh.interval_minutes);
        assert_eq!(h.reports_kept, dh.reports_kept);
        assert_eq!(h.report_max_age_days, dh.report_max_age_days);
        assert_eq!(h.exposures_max_age_days, dh.exposures_max_age_days);
        assert_eq!(h.purge_hosts_not_seen_days, dh.purge_hosts_not_seen_days);
        assert_eq!(h.checkpoint_minutes, dh.checkpoint_minutes);
        assert_eq!(h.analyze_hours, dh.analyze_hours);
        assert_eq!(h.vacuum_days, dh.vacuum_days);
        assert_eq!(h.vacuum_hour, dh.vacuum_hour);
        assert_eq!(s.report_max_age_days(), 90);
        assert_eq!(s.log.format, d.log.format);
        assert_eq!(s.log.audit_kept, d.log.audit_kept);
    }

    #[test]
    fn log_format_from_the_environment() {
        let s = Settings::load(None, env(&[("PAKITI_LOG_FORMAT", "json")])).unwrap();
        assert_eq!(s.log.format, LogFormat::Json);
        let s = Settings::load(None, env(&[("PAKITI_LOG__FORMAT", "json")])).unwrap();
        assert_eq!(s.log.format, LogFormat::Json);
        assert!(Settings::load(None, env(&[("PAKITI_LOG_FORMAT", "xml")])).is_err());
    }

    #[test]
    fn layers_file_then_env() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pakiti.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:9000\"\nevaluation = \"async\"\n[proxies]\naddresses = [\"10.0.0.0/8\"]\n",
        )
        .unwrap();
        let s = Settings::load(
            Some(&path),
            env(&[
                ("PAKITI_LISTEN", "127.0.0.1:9001"),
                ("PAKITI_DATABASE_URL", "postgres://u@h/db"),
                ("PAKITI_PROXIES__CERTIFICATE_DNS", "[\"CN=proxy\"]"),
                ("PAKITI_TEST_POSTGRES_URL", "ignored"),
                ("PAKITI_BENCH_POSTGRES_URL", "ignored"),
                ("PAKITI_TOKEN", "ignored"),
                ("HOME", "/root"),
            ]),
        )
        .unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:9001");
        assert_eq!(s.database_url(), "postgres://u@h/db");
        assert_eq!(s.evaluation, Evaluation::Async);
        assert_eq!(s.proxies.addresses, ["10.0.0.0/8"]);
        assert_eq!(s.proxies.certificate_dns, ["CN=proxy"]);
    }

    #[test]
    fn auth_section_from_file_and_env() {
        let s = Settings::load(None, env(&[])).unwrap();
        assert_eq!(s.auth.mode, AuthMode::None);
        assert_eq!(s.auth.proxy_header, "X-Remote-User");
        assert_eq!(s.auth.tls_dn_header, "X-SSL-Client-S-DN");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pakiti.toml");
        std::fs::write(
            &path,
            "[auth]\nmode = \"proxy\"\nproxy_header = \"X-Forwarded-User\"\nproxy_addresses = [\"10.0.0.0/8\"]\n",
        )
        .unwrap();
        let s = Settings::load(
            Some(&path),
            env(&[("PAKITI_AUTH__PUBLIC_URL", "https://pakiti.example.org")]),
        )
        .unwrap();
        assert_eq!(s.auth.mode, AuthMode::Proxy);
        assert_eq!(s.auth.proxy_header, "X-Forwarded-User");
        assert_eq!(s.auth.proxy_addresses, ["10.0.0.0/8"]);
        assert_eq!(s.auth.public_url, "https://pakiti.example.org");
        let e = Settings::load(None, env(&[("PAKITI_AUTH__MODE", "ldap")])).unwrap_err();
        assert!(e.to_string().contains("ldap"), "{e}");
    }

    #[test]
    fn tls_section_from_file_and_env() {
        let s = Settings::load(None, env(&[])).unwrap();
        assert!(!s.tls.enabled());
        assert_eq!(s.tls.watch_secs, 60);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pakiti.toml");
        std::fs::write(
            &path,
            "[tls]\ncert = \"/etc/pakiti/tls/fullchain.pem\"\nkey = \"/etc/pakiti/tls/privkey.pem\"\nclient_ca = \"/etc/grid-security/certificates\"\n",
        )
        .unwrap();
        let s = Settings::load(
            Some(&path),
            env(&[
                ("PAKITI_TLS__CLIENT_AUTH", "required"),
                ("PAKITI_TLS__LISTEN", "0.0.0.0:8443"),
            ]),
        )
        .unwrap();
        assert!(s.tls.enabled());
        assert_eq!(s.tls.client_auth, ClientAuth::Required);
        assert_eq!(s.tls.listen.unwrap().to_string(), "0.0.0.0:8443");
        assert_eq!(
            s.tls.watch_secs, 60,
            "a [tls] section keeps the other defaults"
        );
        let e = Settings::load(None, env(&[("PAKITI_TLS__CLIENT_AUTH", "maybe")])).unwrap_err();
        assert!(e.to_string().contains("maybe"), "{e}");
    }

    /// A malformed address or CIDR block is an error when the settings load (it used to match
    /// nothing, silently, at every request).
    #[test]
    fn malformed_cidr_blocks_are_errors_at_load() {
        for (key, value) in [
            ("PAKITI_PROXIES__ADDRESSES", "[\"10.0.0.0/40\"]"),
            ("PAKITI_PROXIES__DN_HEADER_FROM", "[\"proxy.example.org\"]"),
            (
                "PAKITI_AUTH__PROXY_ADDRESSES",
                "[\"127.0.0.1\", \"10.0.0/8\"]",
            ),
        ] {
            let e = Settings::load(None, env(&[(key, value)]))
                .unwrap_err()
                .to_string();
            assert!(e.contains("invalid settings"), "{key}: {e}");
            assert!(e.contains("not an address or CIDR block"), "{key}: {e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pakiti.toml");
        std::fs::write(&path, "[proxies]\naddresses = [\"192.0.2.1/33\"]\n").unwrap();
        let e = Settings::load(Some(&path), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("192.0.2.1/33"), "{e}");
        let s = Settings::load(
            None,
            env(&[(
                "PAKITI_PROXIES__ADDRESSES",
                "[\"192.0.2.10\", \"2001:db8::/32\"]",
            )]),
        )
        .unwrap();
        assert_eq!(s.proxies.addresses, ["192.0.2.10", "2001:db8::/32"]);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pakiti.toml");
        std::fs::write(&path, "lisen = \"x\"\n").unwrap();
        let e = Settings::load(Some(&path), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("lisen"), "{e}");
        let e = Settings::load(None, env(&[("PAKITI_LISTEN", "nowhere")])).unwrap_err();
        assert!(e.to_string().contains("invalid settings"), "{e}");
    }
}
