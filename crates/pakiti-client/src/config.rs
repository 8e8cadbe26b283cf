//! The agent's configuration: one typed struct, loaded in layers.
//!
//! Sources, lowest precedence first (each later one overrides the keys it sets):
//!
//! 1. the Pakiti 2 client file `/etc/pakiti2/pakiti2-client.conf`, when it exists;
//! 2. our own TOML file `/etc/pakiti/client.toml`, when it exists;
//! 3. the file named by `--config` (TOML when it ends in `.toml`, else a Pakiti 2 or Pakiti 3
//!    `key = value` file; both dialects are read by one parser, the keys say which);
//! 4. the command line.
//!
//! The wire protocol is chosen by [`Config::protocol`]; see [`choose_protocol`] for the rule.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pakiti_api::Mode;
use serde::Deserialize;

/// Where the Pakiti 2 client keeps its configuration.
pub const PAKITI2_PATH: &str = "/etc/pakiti2/pakiti2-client.conf";
/// Where our TOML configuration lives.
pub const TOML_PATH: &str = "/etc/pakiti/client.toml";
/// The commented example of our TOML configuration.
pub const EXAMPLE_TOML: &str = include_str!("../../../packaging/client/client.toml");

/// Which wire format the agent speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Our JSON report (`pakiti_api::json`).
    Json,
    /// Pakiti 3 protocol 5 text.
    V5,
    /// Pakiti 2 protocol 4 form.
    V4,
}

impl Protocol {
    /// Parses `json`, `5` or `4` (also `v5`, `v4`, `protocol5`, `protocol4`).
    ///
    /// # Errors
    /// Any other value.
    pub fn parse(s: &str) -> Result<Self, ConfigError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Protocol::Json),
            "5" | "v5" | "protocol5" => Ok(Protocol::V5),
            "4" | "v4" | "protocol4" => Ok(Protocol::V4),
            other => Err(ConfigError::Value {
                key: "protocol".into(),
                reason: format!("{other:?} is not json, 5 or 4"),
            }),
        }
    }
}

/// A configuration problem.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A `key = value` file has a line that is neither.
    #[error("{path}:{line}: {reason}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A TOML file does not parse or has unknown keys.
    #[error("{path}: {reason}")]
    Toml {
        /// The file.
        path: PathBuf,
        /// The TOML error.
        reason: String,
    },
    /// A value is not valid for its key.
    #[error("{key}: {reason}")]
    Value {
        /// The key or option.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// One source's settings; `None` means "this source does not say".
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Layer {
    /// Server feed URLs (`https://pakiti.example.org/feed/`).
    #[serde(alias = "url")]
    pub servers: Option<Vec<String>>,
    /// `json`, `5` or `4`.
    pub protocol: Option<String>,
    /// Site / host group.
    pub site: Option<String>,
    /// Admin tag.
    pub tag: Option<String>,
    /// Host name to report instead of this machine's.
    pub host: Option<String>,
    /// `store-only`, `store-and-report` or `report-only` (or `0`, `1`, `2`).
    pub mode: Option<String>,
    /// Maximum random delay before collecting, in seconds.
    pub rndsleep: Option<u64>,
    /// Server certificate (path or inline PEM) to S/MIME-encrypt protocol-5 reports with.
    pub encrypt: Option<String>,
    /// Leave `protocol=5` out of the query string.
    pub no_protocol_version: Option<bool>,
    /// Do not verify the server's TLS certificate.
    pub disable_tls_checks: Option<bool>,
    /// CA certificates: a PEM file or a directory of PEM files.
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM) for TLS host authentication; may hold the key too.
    pub client_cert: Option<PathBuf>,
    /// Client key (PEM), when not in the certificate file.
    pub client_key: Option<PathBuf>,
    /// Outgoing HTTP proxy (`http://proxy:3128`).
    pub proxy: Option<String>,
    /// Connect timeout, in seconds.
    pub connect_timeout: Option<u64>,
    /// Whole-request timeout, in seconds.
    pub timeout: Option<u64>,
    /// Retries after a connection error or a 5xx answer.
    pub retries: Option<u32>,
    /// First retry delay, in milliseconds (doubled for each further retry).
    pub retry_delay_ms: Option<u64>,
    /// Where the stable host id is kept.
    pub host_id_file: Option<PathBuf>,
    /// Compress JSON reports with gzip.
    pub gzip: Option<bool>,
    /// Pakiti 2 `is_proxy`: read a report in the `stdout` format from stdin and submit it
    /// on the reported host's behalf.
    pub is_proxy: Option<bool>,
    /// Pakiti 2 `server_rep_stats`: print how many servers accepted the report.
    pub server_rep_stats: Option<bool>,
    /// Pakiti 2 `interface` (not supported: the agent warns and uses the default route).
    pub interface: Option<String>,
    /// Set when this layer came from a Pakiti 2 file that names servers.
    #[serde(skip)]
    pub pakiti2_servers: bool,
    /// Set when the servers came from Pakiti 3 style `url` (a `--url` option or a Pakiti 3
    /// file's `url` key).
    #[serde(skip)]
    pub pakiti3_url: bool,
    /// Warnings about keys this layer ignored.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

impl Layer {
    /// Reads a TOML layer.
    ///
    /// # Errors
    /// The text is not TOML or has unknown keys.
    pub fn from_toml(path: &Path, text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Toml {
            path: path.to_owned(),
            reason: e.to_string(),
        })
    }

    /// Reads a Pakiti 2 or Pakiti 3 client file: `key = value` lines, `#` comments, heredoc
    /// values (`key = <<EOT`, lines, `EOT`).
    ///
    /// Pakiti 2 keys: `servers_name` (space-separated `host:port`), `server_url` (default
    /// `/feed/`), `ca_certificate`, `host_cert`, `connection_method`, `tag`, `report`,
    /// `is_proxy`, `interface`, `server_rep_stats` (`openssl_path`, `curl_path` are ignored).
    /// Pakiti 3 keys: `url`, `site`, `tag`, `host`, `mode`, `encrypt`, `rndsleep`, and the
    /// command paths (`rpm`, `dpkg-query`, `openssl`, … — ignored). Unknown keys warn.
    ///
    /// # Errors
    /// A line that is not `key = value`, an unterminated heredoc, or a bad number.
    pub fn from_key_value(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let pairs = parse_key_value(path, text)?;
        let mut l = Layer::default();
        let mut servers_name: Option<String> = None;
        let mut server_url: Option<String> = None;
        let number = |k: &str, v: &str| {
            v.trim().parse::<u64>().map_err(|_| ConfigError::Value {
                key: k.to_owned(),
                reason: format!("{v:?} is not a number"),
            })
        };
        for (k, v) in pairs {
            match k.as_str() {
                "servers_name" => servers_name = Some(v),
                "server_url" => server_url = Some(v),
                "url" => {
                    l.servers.get_or_insert_with(Vec::new).push(v);
                    l.pakiti3_url = true;
                }
                "ca_certificate" => l.ca = Some(PathBuf::from(v)),
                "host_cert" => l.client_cert = Some(PathBuf::from(v)),
                "connection_method" => match v.as_str() {
                    "stdout" => l.protocol = Some("4-stdout".into()),
                    "" | "curl" | "openssl" | "autodetect" => {}
                    other => {
                        return Err(ConfigError::Value {
                            key: k,
                            reason: format!("{other:?} is not curl, openssl, autodetect or stdout"),
                        });
                    }
                },
                "tag" => l.tag = Some(v),
                "site" => l.site = Some(v),
                "host" => l.host = Some(v),
                "report" => {
                    l.mode = Some(if number(&k, &v)? == 0 { "0" } else { "1" }.into());
                }
                "mode" => l.mode = Some(v),
                "is_proxy" => l.is_proxy = Some(number(&k, &v)? != 0),
                "server_rep_stats" => l.server_rep_stats = Some(number(&k, &v)? != 0),
                "interface" => l.interface = Some(v).filter(|v| !v.is_empty()),
                "encrypt" => l.encrypt = Some(v),
                "rndsleep" => l.rndsleep = Some(number(&k, &v)?),
                "protocol" => l.protocol = Some(v),
                "proxy" => l.proxy = Some(v),
                "disable_tls_checks" => l.disable_tls_checks = Some(number(&k, &v)? != 0),
                "no_protocol_version" => l.no_protocol_version = Some(number(&k, &v)? != 0),
                "openssl_path" | "curl_path" | "rpm" | "dpkg-query" | "dpkg_query" | "openssl"
                | "hostname" | "lsb_release" | "pkg" | "svmon" | "uname" => {}
                other => l
                    .warnings
                    .push(format!("{}: unknown key {other:?} ignored", path.display())),
            }
        }
        if let Some(names) = servers_name {
            let url = server_url.unwrap_or_else(|| "/feed/".into());
            let url = if url.starts_with('/') {
                url
            } else {
                format!("/{url}")
            };
            let servers: Vec<String> = names
                .split_whitespace()
                .map(|s| format!("https://{s}{url}"))
                .collect();
            if !servers.is_empty() {
                l.servers = Some(servers);
                l.pakiti2_servers = true;
            }
        }
        Ok(l)
    }

    /// Reads a file: TOML when its name ends in `.toml`, else `key = value`.
    ///
    /// # Errors
    /// The file cannot be read or does not parse.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        if path.extension().is_some_and(|e| e == "toml") {
            Self::from_toml(path, &text)
        } else {
            Self::from_key_value(path, &text)
        }
    }

    /// Overlays `over` on `self`: every key `over` sets wins.
    #[must_use]
    pub fn overlay(mut self, over: Layer) -> Layer {
        macro_rules! take {
            ($($f:ident),*) => { $( if over.$f.is_some() { self.$f = over.$f; } )* };
        }
        take!(
            protocol,
            site,
            tag,
            host,
            mode,
            rndsleep,
            encrypt,
            no_protocol_version,
            disable_tls_checks,
            ca,
            client_cert,
            client_key,
            proxy,
            connect_timeout,
            timeout,
            retries,
            retry_delay_ms,
            host_id_file,
            gzip,
            is_proxy,
            server_rep_stats,
            interface
        );
        if over.servers.is_some() {
            self.servers = over.servers;
            self.pakiti2_servers = over.pakiti2_servers;
            self.pakiti3_url = over.pakiti3_url;
        }
        self.warnings.extend(over.warnings);
        self
    }
}

/// Splits a `key = value` file into pairs, resolving heredocs.
fn parse_key_value(path: &Path, text: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    let mut heredoc: Option<(String, String, String, usize)> = None;
    for (i, line) in text.lines().enumerate() {
        if let Some((key, tag, value, _)) = heredoc.as_mut() {
            if line.trim_end() == tag {
                out.push((std::mem::take(key), std::mem::take(value)));
                heredoc = None;
            } else {
                value.push_str(line);
                value.push('\n');
            }
            continue;
        }
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let Some((k, v)) = t.split_once('=') else {
            return Err(ConfigError::Syntax {
                path: path.to_owned(),
                line: i + 1,
                reason: format!("expected key = value, found {t:?}"),
            });
        };
        let k = k.trim();
        if k.is_empty()
            || !k
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(ConfigError::Syntax {
                path: path.to_owned(),
                line: i + 1,
                reason: format!("bad key {k:?}"),
            });
        }
        let v = v.trim();
        if let Some(tag) = v.strip_prefix("<<")
            && !tag.is_empty()
            && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            heredoc = Some((k.to_owned(), tag.to_owned(), String::new(), i + 1));
            continue;
        }
        out.push((k.to_owned(), v.to_owned()));
    }
    if let Some((key, tag, _, start)) = heredoc {
        return Err(ConfigError::Syntax {
            path: path.to_owned(),
            line: start,
            reason: format!("heredoc {tag} of {key} is not terminated"),
        });
    }
    Ok(out)
}

/// Which sources set the servers, for the protocol rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Origins {
    /// Our TOML file was loaded.
    pub toml: bool,
    /// The servers come from a Pakiti 2 file (`servers_name`).
    pub pakiti2_servers: bool,
    /// `--url` was given on the command line, or `url` in a Pakiti 3 file.
    pub pakiti3_url: bool,
}

/// The protocol rule (also printed by `--help`):
///
/// 1. `--protocol`, or `protocol` in a configuration file, decides;
/// 2. else servers from a Pakiti 2 file (`servers_name`), or Pakiti 2 `is_proxy`/`stdout`,
///    mean protocol 4;
/// 3. else servers named by `--url` (or a Pakiti 3 file's `url`) without our TOML file mean
///    protocol 5 (a Pakiti 3 command line keeps working unchanged);
/// 4. else JSON (our servers).
#[must_use]
pub fn choose_protocol(explicit: Option<Protocol>, origins: Origins, is_proxy: bool) -> Protocol {
    if let Some(p) = explicit {
        return p;
    }
    if origins.pakiti2_servers || is_proxy {
        return Protocol::V4;
    }
    if origins.pakiti3_url && !origins.toml {
        return Protocol::V5;
    }
    Protocol::Json
}

/// Everything the agent needs to run, resolved.
#[derive(Clone, Debug)]
pub struct Config {
    /// Feed URLs to send to, in order.
    pub servers: Vec<String>,
    /// The wire protocol.
    pub protocol: Protocol,
    /// Pakiti 2 `connection_method = stdout`: print the report in the `stdout` format.
    pub stdout_method: bool,
    /// Site / host group.
    pub site: Option<String>,
    /// Admin tag.
    pub tag: Option<String>,
    /// Host name override.
    pub host: Option<String>,
    /// Processing mode.
    pub mode: Mode,
    /// Maximum random start delay.
    pub rndsleep: Duration,
    /// Server certificate PEM text for S/MIME encryption.
    pub encrypt: Option<String>,
    /// Leave `protocol=5` out of the query string.
    pub no_protocol_version: bool,
    /// Do not verify the server's certificate.
    pub disable_tls_checks: bool,
    /// CA file or directory.
    pub ca: Option<PathBuf>,
    /// Client certificate PEM.
    pub client_cert: Option<PathBuf>,
    /// Client key PEM.
    pub client_key: Option<PathBuf>,
    /// Outgoing HTTP proxy.
    pub proxy: Option<String>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Retries after connection errors and 5xx answers.
    pub retries: u32,
    /// First retry delay (doubled each time).
    pub retry_delay: Duration,
    /// Host id file.
    pub host_id_file: PathBuf,
    /// Gzip JSON bodies.
    pub gzip: bool,
    /// Pakiti 2 proxy mode.
    pub is_proxy: bool,
    /// Print the per-server summary line.
    pub server_rep_stats: bool,
    /// Warnings to show the user (ignored keys, unsupported options).
    pub warnings: Vec<String>,
}

impl Config {
    /// Resolves a merged layer into a configuration.
    ///
    /// # Errors
    /// A bad mode or protocol, or an unreadable `--encrypt` certificate file.
    pub fn resolve(layer: Layer, origins: Origins) -> Result<Self, ConfigError> {
        let mut warnings = layer.warnings;
        let mut stdout_method = false;
        let explicit = match layer.protocol.as_deref() {
            None => None,
            Some("4-stdout") => {
                stdout_method = true;
                Some(Protocol::V4)
            }
            Some(p) => Some(Protocol::parse(p)?),
        };
        let is_proxy = layer.is_proxy.unwrap_or(false);
        let origins = Origins {
            pakiti2_servers: layer.pakiti2_servers,
            pakiti3_url: layer.pakiti3_url,
            ..origins
        };
        let protocol = choose_protocol(explicit, origins, is_proxy);
        let mode = match layer.mode.as_deref() {
            None => Mode::StoreOnly,
            Some(m) => Mode::parse("mode", m).map_err(|e| ConfigError::Value {
                key: "mode".into(),
                reason: e.to_string(),
            })?,
        };
        let encrypt = match layer.encrypt {
            None => None,
            Some(e) if e.contains("-----BEGIN") => Some(e),
            Some(path) => {
                Some(
                    std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                        path: PathBuf::from(&path),
                        source,
                    })?,
                )
            }
        };
        if encrypt.is_some() && protocol != Protocol::V5 {
            return Err(ConfigError::Value {
                key: "encrypt".into(),
                reason: "S/MIME encryption is defined for protocol 5 only (use --protocol 5)"
                    .into(),
            });
        }
        if let Some(i) = &layer.interface {
            warnings.push(format!(
                "interface = {i} is not supported; the default route is used"
            ));
        }
        Ok(Config {
            servers: layer.servers.unwrap_or_default(),
            protocol,
            stdout_method,
            site: layer.site.filter(|s| !s.is_empty()),
            tag: layer.tag.filter(|s| !s.is_empty()),
            host: layer.host.filter(|s| !s.is_empty()),
            mode,
            rndsleep: Duration::from_secs(layer.rndsleep.unwrap_or(0)),
            encrypt,
            no_protocol_version: layer.no_protocol_version.unwrap_or(false),
            disable_tls_checks: layer.disable_tls_checks.unwrap_or(false),
            ca: layer.ca,
            client_cert: layer.client_cert,
            client_key: layer.client_key,
            proxy: layer.proxy.filter(|s| !s.is_empty()),
            connect_timeout: Duration::from_secs(layer.connect_timeout.unwrap_or(30)),
            timeout: Duration::from_secs(layer.timeout.unwrap_or(300)),
            retries: layer.retries.unwrap_or(3),
            retry_delay: Duration::from_millis(layer.retry_delay_ms.unwrap_or(2000)),
            host_id_file: layer
                .host_id_file
                .unwrap_or_else(|| PathBuf::from(crate::hostid::DEFAULT_PATH)),
            gzip: layer.gzip.unwrap_or(true),
            is_proxy,
            server_rep_stats: layer.server_rep_stats.unwrap_or(false),
            warnings,
        })
    }
}
