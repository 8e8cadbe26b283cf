//! One agent run: collect (or read `--input`), write `--output`, send to every server, and
//! turn the per-server results into the exit code.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use pakiti_api::Report;

use crate::collect::{self, CollectError, Packager, Sources};
use crate::config::{Config, Protocol};
use crate::report::{self, Input};
use crate::send::Sender;

/// Process exit codes (the Pakiti 3.0.0 client's convention).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: the report was written and/or every server accepted it.
    Success = 0,
    /// 1: some servers accepted the report, others did not.
    Partial = 1,
    /// 2: nothing was sent or written: every server failed, or collection, configuration or
    /// usage failed.
    Failure = 2,
}

/// Per-run options that are not configuration.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// `--output FILE|-`.
    pub output: Option<String>,
    /// `--input FILE|-`.
    pub input: Option<String>,
    /// Where the package databases are (tests point at built ones).
    pub sources: Sources,
    /// Progress messages on stderr.
    pub verbose: bool,
}

/// A run that could not even start sending.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Collecting packages or facts failed.
    #[error(transparent)]
    Collect(#[from] CollectError),
    /// `--input` or stdin could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file (or `-`).
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The input report does not parse.
    #[error(transparent)]
    Input(#[from] report::InputError),
    /// Writing `--output` failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The file (or `-`).
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Encryption failed.
    #[error(transparent)]
    Encrypt(#[from] crate::smime::EncryptError),
    /// The HTTP client could not be set up.
    #[error(transparent)]
    Send(#[from] crate::send::SendError),
    /// Something the configuration asks for cannot be done.
    #[error("{0}")]
    Usage(String),
}

/// Collects this machine's report as the configuration describes it.
///
/// # Errors
/// Collection fails.
pub fn collect_report(cfg: &Config, src: &Sources) -> Result<Report, RunError> {
    let facts = collect::host_facts(src);
    let (packager, packages) = collect::collect_packages(src)?;
    let modules = if packager == Packager::Rpm {
        collect::dnf_modules(src)
    } else {
        Vec::new()
    };
    let host_id = if cfg.protocol == Protocol::Json {
        match crate::hostid::load_or_create(&cfg.host_id_file) {
            Ok(id) => Some(id),
            Err(e) => {
                warn(&format!(
                    "{} (the report goes without a host id)",
                    chain(&e)
                ));
                None
            }
        }
    } else {
        None
    };
    Ok(report::build(
        cfg, &facts, packager, packages, modules, host_id,
    ))
}

fn read_source(path: &str) -> Result<Vec<u8>, RunError> {
    let err = |source| RunError::Read {
        path: path.to_owned(),
        source,
    };
    if path == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map_err(err)?;
        Ok(buf)
    } else {
        std::fs::read(path).map_err(err)
    }
}

fn write_sink(path: &str, bytes: &[u8]) -> Result<(), RunError> {
    let err = |source| RunError::Write {
        path: path.to_owned(),
        source,
    };
    if path == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes).map_err(err)?;
        out.flush().map_err(err)
    } else {
        std::fs::write(PathBuf::from(path), bytes).map_err(err)
    }
}

/// Prints a warning on stderr.
pub fn warn(msg: &str) {
    eprintln!("pakiti-client: warning: {msg}");
}

/// An error and its sources, `: `-separated.
#[must_use]
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

fn random_below(max: Duration) -> Duration {
    let mut b = [0u8; 8];
    if max.is_zero() || getrandom::fill(&mut b).is_err() {
        return Duration::ZERO;
    }
    let ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(u64::from_le_bytes(b) % ms)
}

/// Runs the agent and returns the exit code; errors are printed on stderr.
#[must_use]
pub fn run(cfg: &Config, opts: &RunOptions) -> Exit {
    match try_run(cfg, opts) {
        Ok(exit) => exit,
        Err(e) => {
            eprintln!("pakiti-client: error: {}", chain(&e));
            Exit::Failure
        }
    }
}

fn try_run(cfg: &Config, opts: &RunOptions) -> Result<Exit, RunError> {
    for w in &cfg.warnings {
        warn(w);
    }
    if cfg.disable_tls_checks {
        warn(
            "TLS certificate checks are DISABLED (--disable-tls-checks): anyone between this \
             host and the server can read and change the report",
        );
    }
    if cfg.is_proxy && cfg.stdout_method {
        return Err(RunError::Usage(
            "proxy mode (is_proxy) and connection_method = stdout cannot be used together".into(),
        ));
    }
    if !cfg.rndsleep.is_zero() {
        let d = random_below(cfg.rndsleep);
        if opts.verbose {
            eprintln!("pakiti-client: sleeping {} s", d.as_secs());
        }
        std::thread::sleep(d);
    }

    // The report, clear or (forwarded) encrypted.
    let input = if cfg.is_proxy && opts.input.is_none() {
        Some("-".to_owned())
    } else {
        opts.input.clone()
    };
    let (report, encrypted) = match &input {
        Some(path) => match report::parse_input(&read_source(path)?)? {
            Input::Report(mut r) => {
                if let Some(site) = &cfg.site {
                    r.site = Some(site.clone());
                }
                if cfg.is_proxy {
                    r.proxy = true;
                }
                (Some(*r), None)
            }
            Input::Encrypted(bytes) => {
                if cfg.site.is_some() {
                    return Err(RunError::Usage(
                        "--site cannot rewrite an encrypted input report".into(),
                    ));
                }
                if cfg.protocol != Protocol::V5 {
                    return Err(RunError::Usage(
                        "an encrypted input report can only be forwarded with protocol 5".into(),
                    ));
                }
                (None, Some(bytes))
            }
        },
        None => (Some(collect_report(cfg, &opts.sources)?), None),
    };
    if let Some(r) = &report
        && opts.verbose
    {
        eprintln!(
            "pakiti-client: report of {} ({} packages, {})",
            r.hostname,
            r.packages.len(),
            r.packager
        );
    }

    let out_bytes = || -> Result<Vec<u8>, RunError> {
        match (&report, &encrypted) {
            (Some(r), _) => Ok(report::output_bytes(r, cfg)?),
            (None, Some(b)) => Ok(b.clone()),
            (None, None) => Ok(Vec::new()),
        }
    };
    let output = match (&opts.output, cfg.servers.is_empty() || cfg.stdout_method) {
        (Some(o), _) => Some(o.clone()),
        (None, true) => Some("-".to_owned()),
        (None, false) => None,
    };
    if let Some(o) = &output {
        write_sink(o, &out_bytes()?)?;
    }
    if cfg.servers.is_empty() || cfg.stdout_method {
        return Ok(Exit::Success);
    }

    let payload = match (&report, encrypted) {
        (Some(r), _) => report::payload(r, cfg)?,
        (None, Some(body)) => crate::send::Payload {
            body,
            content_type: "application/x-www-form-urlencoded",
            gzip: false,
            query: Some(if cfg.no_protocol_version {
                format!("mode={}", cfg.mode.as_name())
            } else {
                pakiti_api::protocol5::query_string(cfg.mode)
            }),
            protocol: Protocol::V5,
        },
        (None, None) => return Ok(Exit::Failure),
    };
    let sender = Sender::new(cfg)?;
    let mut ok = 0usize;
    let mut stdout = std::io::stdout().lock();
    for url in &cfg.servers {
        match sender.send(url, &payload) {
            Ok(acc) => {
                ok += 1;
                if opts.verbose {
                    eprintln!("pakiti-client: {url}: accepted (attempt {})", acc.attempts);
                }
                for line in &acc.report_back {
                    let _ = writeln!(stdout, "{line}");
                }
            }
            Err(e) => eprintln!("pakiti-client: error: {url}: {}", chain(&e)),
        }
    }
    let total = cfg.servers.len();
    if cfg.server_rep_stats {
        if ok == total {
            let _ = writeln!(stdout, "OK: Pakiti reported correctly to {ok} server(s)");
        } else if ok > 0 {
            eprintln!("WARNING: Pakiti reported correctly only to {ok}/{total} server(s)");
        } else {
            eprintln!("ERROR: Pakiti failed to report to any server");
        }
    }
    Ok(if ok == total {
        Exit::Success
    } else if ok > 0 {
        Exit::Partial
    } else {
        Exit::Failure
    })
}
