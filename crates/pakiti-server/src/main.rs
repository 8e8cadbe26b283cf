//! The `pakiti` command: server, feed management, offline scan, version comparison, benchmarks.
// Doc comments here are the `--help` text clap prints: URLs in them stay plain for the terminal.
#![allow(rustdoc::bare_urls)]
use std::net::SocketAddr;

/// mimalloc instead of glibc's malloc (issue 17): the server's work is many short-lived
/// allocations on a few threads (report parsing, evaluation, page rows); glibc's arenas kept
/// freed memory from rebuilt fleet indexes and spent much of a report's CPU in malloc/free.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use pakiti_core::stream::OsStream;
use pakiti_core::version::Scheme;
use pakiti_feeds::FeedKind;
use pakiti_server::cmd;
use pakiti_server::cmd::scan::{Format, ScanArgs};
use pakiti_server::settings::Settings;

/// Patch-status and vulnerability monitor for fleets of Linux hosts.
///
/// Hosts report their installed packages (Pakiti 2/3 clients or pakiti-client) to
/// `POST /feed/`; the server matches them against vendor vulnerability feeds and shows which
/// hosts lack which patches and are exposed to which CVEs.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Where the settings and the store are.
#[derive(Args)]
struct Global {
    /// A TOML settings file (see `pakiti default-config`).
    #[arg(long, global = true, env = "PAKITI_CONFIG")]
    config: Option<PathBuf>,
    /// The store: sqlite://PATH or postgres://USER@HOST/DB (default: an SQLite file in the data
    /// directory).
    #[arg(long, global = true)]
    database: Option<String>,
    /// Where the SQLite file and other state live (default: ./pakiti-data).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// PEM certificate chain: serve HTTPS (on --listen, or on --tls-listen beside plain
        /// HTTP). Re-read on SIGHUP and when the file changes.
        #[arg(long, value_name = "PEM")]
        tls_cert: Option<PathBuf>,
        /// PEM private key of --tls-cert.
        #[arg(long, value_name = "PEM")]
        tls_key: Option<PathBuf>,
        /// Serve HTTPS on this address and plain HTTP on --listen, side by side.
        #[arg(long, value_name = "ADDR")]
        tls_listen: Option<SocketAddr>,
        /// CA certificates client certificates must chain to: a PEM file or an OpenSSL hashed
        /// directory (e.g. /etc/grid-security/certificates).
        #[arg(long, value_name = "PATH")]
        tls_client_ca: Option<PathBuf>,
        /// With --tls-client-ca: whether a client certificate is optional or required.
        #[arg(long, value_enum, value_name = "MODE")]
        tls_client_auth: Option<pakiti_server::settings::ClientAuth>,
        /// Fill an empty store with sample feeds and hosts built from real data shipped in
        /// the repository, and report this machine itself.
        #[arg(long)]
        demo: bool,
    },
    /// Manage vulnerability feeds.
    Feed {
        #[command(subcommand)]
        what: FeedCommand,
    },
    /// Manage package repositories (update detection: newer versions, security or not).
    Repo {
        #[command(subcommand)]
        what: RepoCommand,
    },
    /// Check one host's package list offline against vendor feed files.
    ///
    /// The input may be `rpm -qa` or `dpkg-query -W` output, an apk listing, or a Pakiti
    /// report (protocol 5 text, protocol 4 stdout format, JSON). Exit codes: 0 scanned
    /// (findings or not), 1 error, 3 the host's OS has no data in the feeds (not covered).
    Scan {
        /// The package list or report; `-` reads standard input.
        input: PathBuf,
        /// A vendor feed file (OVAL, CSAF, tracker JSON, DSA/DLA list, secdb, OSV; any
        /// compression). Repeat for several.
        #[arg(long = "feed", required = true)]
        feeds: Vec<PathBuf>,
        /// The feeds' kind when it cannot be recognised from the content.
        #[arg(long, value_parser = parse_kind)]
        feed_kind: Option<FeedKind>,
        /// The host's OS stream (`rhel:8`, `debian:bookworm`, `ubuntu:22.04`, `alpine:3.19`).
        #[arg(long)]
        stream: Option<OsStream>,
        /// An OS string to recognise the stream from (`Rocky Linux 9.3`).
        #[arg(long)]
        os: Option<String>,
        /// A Debian/Ubuntu `Packages` or `Sources` index mapping binary packages to source
        /// packages (any compression). Repeat for several.
        #[arg(long = "packages-index")]
        packages_indexes: Vec<PathBuf>,
        /// Output format: a table, JSON lines (one object per finding) or CSV.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Compare two versions as rpm, dpkg or apk-tools do: prints -1, 0 or 1.
    ///
    /// Without A and B, reads `A<TAB>B` lines on standard input and prints one result per
    /// line. An invalid version is an error naming it (exit 2), never a guess.
    Vercmp {
        /// Version scheme: rpm, dpkg (or deb), apk.
        #[arg(value_parser = parse_scheme)]
        scheme: Scheme,
        /// First version; omit both to read pairs from standard input.
        #[arg(requires = "b")]
        a: Option<String>,
        /// Second version.
        b: Option<String>,
    },
    /// Manage users, what they may see, and their API tokens (auth.mode accounts, proxy, tls).
    User {
        #[command(subcommand)]
        what: UserCommand,
    },
    /// Take a host out of service: retire it (history kept) or delete it with its history.
    Host {
        #[command(subcommand)]
        what: HostCommand,
    },
    /// Print the commented example settings file.
    DefaultConfig,
    /// Back up the store to FILE: SQLite online with VACUUM INTO, PostgreSQL with pg_dump -Fc.
    Backup {
        /// The backup file to write (must not exist).
        file: PathBuf,
    },
    /// Replace the store with the backup in FILE, then migrate it (stop the server first).
    Restore {
        /// A file `pakiti backup` wrote.
        file: PathBuf,
    },
    /// Apply pending store migrations; with --check only list them (exit 0 up to date,
    /// 1 pending, 2 store newer than this binary or unreachable).
    Migrate {
        /// Only compare and list; change nothing.
        #[arg(long)]
        check: bool,
    },
    /// Report retention, purges and database maintenance (`[housekeeping]`); the last runs.
    Housekeeping {
        #[command(subcommand)]
        what: cmd::maintenance::HousekeepingCommand,
    },
    /// Nagios/Icinga check: hosts exposed to tagged (or KEV, or severe) CVEs, hosts not
    /// reporting, feed and repository age, refused reports.
    ///
    /// Asks a server's API (--url, --token) or reads the store (--database, --config). Prints
    /// one status line with performance data; exit codes 0 OK, 1 WARNING, 2 CRITICAL,
    /// 3 UNKNOWN. A threshold N alerts when the value is above N.
    Check(cmd::check::CheckArgs),
    /// Measure performance on the real data in shared/data (figures for the issues).
    Bench {
        #[command(subcommand)]
        what: cmd::bench::BenchWhat,
    },
}

#[derive(Subcommand)]
enum FeedCommand {
    /// Add a feed: a URL (downloaded on sync) or a local file.
    Add {
        /// A unique name (`rhel-8-oval`).
        name: String,
        /// The feed kind (redhat-oval, ubuntu-oval, suse-oval, csaf, debian-tracker,
        /// debian-list, alpine-secdb, osv) or `auto` to recognise it from the content.
        #[arg(long, default_value = "auto")]
        kind: String,
        /// Where to get it: https://…, http://…, or a local path.
        #[arg(long)]
        url: String,
        /// The OS stream the data is for, when the data does not say (`rhel:8`).
        #[arg(long)]
        stream: Option<String>,
        /// How often to sync: 6h, 1d, 3600 …
        #[arg(long, default_value = "1d", value_parser = cmd::feed::parse_interval)]
        interval: i64,
        /// Add it disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// List feeds with their last sync, counts and errors.
    List {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove a feed and its advisories.
    Remove {
        /// The feed's name.
        name: String,
    },
    /// Download and import feeds (all enabled ones when none are named). Exit code 1 when any
    /// failed.
    Sync {
        /// Feed names.
        names: Vec<String>,
        /// Import even if unchanged, or if the advisory count dropped by more than half.
        #[arg(long)]
        force: bool,
    },
    /// Import a local file into a feed, creating the feed when it does not exist.
    Import {
        /// The file (any compression).
        file: PathBuf,
        /// The feed's name (default: made from the content, e.g. ubuntu-20.04-oval,
        /// rhel-7-oval, debian-dsa).
        #[arg(long)]
        name: Option<String>,
        /// The kind, when creating the feed (default: recognised from the content).
        #[arg(long)]
        kind: Option<String>,
        /// The OS stream, when creating the feed and the data does not say.
        #[arg(long)]
        stream: Option<String>,
        /// Import even if the advisory count dropped by more than half.
        #[arg(long)]
        force: bool,
        /// Import even if the file is of another release or kind than the feed's last
        /// import; it then replaces the feed's content.
        #[arg(long)]
        replace: bool,
    },
}

#[derive(Subcommand)]
enum HostCommand {
    /// Retire a host: it leaves every list and count, its reports are kept, and a new report
    /// from it puts it back in service.
    Retire {
        /// The host name.
        hostname: String,
    },
    /// Delete a host: without --purge-history it is retired (reports kept); with it, the host
    /// and its report history are deleted.
    Delete {
        /// The host name.
        hostname: String,
        /// Delete its reports too.
        #[arg(long)]
        purge_history: bool,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user (the name is the log-in, the proxy's user header or the certificate DN).
    Add {
        /// The name.
        name: String,
        /// An administrator: sees every host and manages users.
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users and what they may see.
    List,
    /// Remove a user with its grants, sessions and tokens.
    Remove {
        /// The name.
        name: String,
    },
    /// Let a user see a host group, a domain or a host (repeatable).
    Grant {
        /// The name.
        name: String,
        #[command(flatten)]
        what: GrantWhat,
    },
    /// Take a grant away.
    Revoke {
        /// The name.
        name: String,
        #[command(flatten)]
        what: GrantWhat,
    },
    /// Create an API token for the user and print it (it is shown only this once).
    Token {
        /// The name.
        name: String,
        /// A label for the token.
        #[arg(long = "name")]
        label: Option<String>,
    },
}

#[derive(Args)]
struct GrantWhat {
    /// A host group.
    #[arg(long = "group")]
    groups: Vec<String>,
    /// A DNS domain.
    #[arg(long = "domain")]
    domains: Vec<String>,
    /// A hostname.
    #[arg(long = "host")]
    hosts: Vec<String>,
}

impl GrantWhat {
    fn args(self) -> cmd::user::GrantArgs {
        cmd::user::GrantArgs {
            groups: self.groups,
            domains: self.domains,
            hosts: self.hosts,
        }
    }
}

#[derive(Subcommand)]
enum RepoCommand {
    /// Add a repository: apt (the component directory URL of a suite,
    /// http://deb.debian.org/debian/dists/bookworm/main; its Packages for --arch and its
    /// Sources for binary → source names), rpmmd (the directory holding repodata/) or apk (an
    /// APKINDEX.tar.gz), as a URL or a local path.
    Add {
        /// A unique name (`bookworm-security-main`).
        name: String,
        /// apt, rpmmd or apk.
        #[arg(long)]
        kind: String,
        /// Where to get it.
        #[arg(long)]
        url: String,
        /// The OS stream whose hosts use it (`debian:bookworm`, `rocky:9`).
        #[arg(long)]
        stream: String,
        /// The arch it serves (amd64, arm64 …); all when absent. An apt repository without
        /// one reads only the suite's Sources index (source names, no updates).
        #[arg(long)]
        arch: Option<String>,
        /// Every package in it is a security update (default: from the metadata).
        #[arg(long, conflicts_with = "ordinary")]
        security: bool,
        /// Never a security repository, whatever the metadata says.
        #[arg(long)]
        ordinary: bool,
        /// Priority, higher wins (default: apt's pin from the Release file; dnf's 99 → -99).
        #[arg(long, allow_hyphen_values = true)]
        priority: Option<i64>,
        /// How often to sync: 6h, 1d, 3600 …
        #[arg(long, default_value = "1d", value_parser = cmd::feed::parse_interval)]
        interval: i64,
        /// Add it disabled.
        #[arg(long)]
        disabled: bool,
    },
    /// List repositories with their last sync, counts and errors.
    List {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove a repository and its packages.
    Remove {
        /// The repository's name.
        name: String,
    },
    /// Download and import repositories (all enabled ones when none are named). Exit code 1
    /// when any failed.
    Sync {
        /// Repository names.
        names: Vec<String>,
        /// Import even if unchanged.
        #[arg(long)]
        force: bool,
    },
    /// Import a local repository (an apt list file such as
    /// /var/lib/apt/lists/…_main_binary-amd64_Packages or …_main_source_Sources, any apt
    /// Sources index, an rpm-md directory, an APKINDEX), creating the repository when it does
    /// not exist.
    Import {
        /// The path.
        path: PathBuf,
        /// The repository's name (default: the file name).
        #[arg(long)]
        name: Option<String>,
        /// apt, rpmmd or apk (default: from the path).
        #[arg(long)]
        kind: Option<String>,
        /// The OS stream, when creating.
        #[arg(long)]
        stream: Option<String>,
        /// The arch, when creating (default: from an apt list's name).
        #[arg(long)]
        arch: Option<String>,
        /// Mark it a security repository.
        #[arg(long, conflicts_with = "ordinary")]
        security: bool,
        /// Mark it an ordinary repository.
        #[arg(long)]
        ordinary: bool,
        /// Import even if unchanged.
        #[arg(long)]
        force: bool,
    },
}

fn parse_scheme(name: &str) -> Result<Scheme, String> {
    Scheme::from_name(name)
        .ok_or_else(|| format!("unknown version scheme {name:?} (rpm, dpkg, apk)"))
}

fn parse_kind(s: &str) -> Result<FeedKind, String> {
    FeedKind::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = FeedKind::ALL.iter().map(|k| k.name()).collect();
        format!("unknown feed kind {s:?}; one of: {}", names.join(", "))
    })
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // A monitoring plugin's usage error is UNKNOWN (3), not clap's 2 (CRITICAL).
        Err(e) if e.use_stderr() && std::env::args().any(|a| a == "check") => {
            let first = e.to_string();
            let first = first.lines().next().unwrap_or("bad arguments");
            println!("{}", cmd::check::unknown(first).line);
            return ExitCode::from(3);
        }
        Err(e) => e.exit(),
    };
    init_logging(&cli.global);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, filtered by `PAKITI_LOG`, as text or JSON lines (`[log] format`,
/// `PAKITI_LOG_FORMAT`). Settings that do not load leave the text format: the command then
/// reports them itself.
fn init_logging(g: &Global) {
    use pakiti_server::settings::LogFormat;
    let format = settings(g).map(|s| s.log.format).unwrap_or_default();
    let filter = tracing_subscriber::EnvFilter::try_from_env("PAKITI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        // Every line a JSON object; a request's lines carry its span (`request_id`, method,
        // path) in `span` and `spans`.
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
    }
}

fn settings(g: &Global) -> anyhow::Result<Settings> {
    let mut s = Settings::load(g.config.as_deref(), std::env::vars())?;
    if let Some(d) = &g.database {
        s.database_url.clone_from(d);
    }
    if let Some(d) = &g.data_dir {
        s.data_dir.clone_from(d);
    }
    Ok(s)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Serve {
            listen,
            tls_cert,
            tls_key,
            tls_listen,
            tls_client_ca,
            tls_client_auth,
            demo,
        } => {
            let mut s = settings(&cli.global)?;
            if let Some(l) = listen {
                s.listen = l;
            }
            s.tls.cert = tls_cert.or(s.tls.cert);
            s.tls.key = tls_key.or(s.tls.key);
            s.tls.listen = tls_listen.or(s.tls.listen);
            s.tls.client_ca = tls_client_ca.or(s.tls.client_ca);
            if let Some(a) = tls_client_auth {
                s.tls.client_auth = a;
            }
            runtime()?.block_on(cmd::serve::run(s, demo))?;
        }
        Command::Feed { what } => {
            let s = settings(&cli.global)?;
            let ok = runtime()?.block_on(async {
                let state = cmd::serve::open_state(s).await?;
                let ok = match what {
                    FeedCommand::Add {
                        name,
                        kind,
                        url,
                        stream,
                        interval,
                        disabled,
                    } => {
                        let new = pakiti_store::NewFeed {
                            name,
                            kind,
                            url,
                            stream,
                            enabled: !disabled,
                            interval_secs: interval,
                        };
                        cmd::feed::add(&state, new, &mut out).await.map(|()| true)
                    }
                    FeedCommand::List { json } => {
                        cmd::feed::list(&state, json, &mut out).await.map(|()| true)
                    }
                    FeedCommand::Remove { name } => cmd::feed::remove(&state, &name, &mut out)
                        .await
                        .map(|()| true),
                    FeedCommand::Sync { names, force } => {
                        cmd::feed::sync(&state, &names, force, &mut out).await
                    }
                    FeedCommand::Import {
                        file,
                        name,
                        kind,
                        stream,
                        force,
                        replace,
                    } => {
                        let args = cmd::feed::ImportArgs {
                            name,
                            kind,
                            stream,
                            force,
                            replace,
                        };
                        cmd::feed::import(&state, &file, args, &mut out).await
                    }
                };
                state.store.close().await;
                ok
            })?;
            if !ok {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Repo { what } => {
            let s = settings(&cli.global)?;
            let ok = runtime()?.block_on(async {
                let state = cmd::serve::open_state(s).await?;
                let flag = |sec: bool, ord: bool| {
                    if sec {
                        Some(true)
                    } else if ord {
                        Some(false)
                    } else {
                        None
                    }
                };
                let ok = match what {
                    RepoCommand::Add {
                        name,
                        kind,
                        url,
                        stream,
                        arch,
                        security,
                        ordinary,
                        priority,
                        interval,
                        disabled,
                    } => {
                        let new = pakiti_store::NewRepository {
                            name,
                            kind,
                            url,
                            stream,
                            arch,
                            security: flag(security, ordinary),
                            priority,
                            enabled: !disabled,
                            interval_secs: interval,
                        };
                        cmd::repo::add(&state, new, &mut out).await.map(|()| true)
                    }
                    RepoCommand::List { json } => {
                        cmd::repo::list(&state, json, &mut out).await.map(|()| true)
                    }
                    RepoCommand::Remove { name } => cmd::repo::remove(&state, &name, &mut out)
                        .await
                        .map(|()| true),
                    RepoCommand::Sync { names, force } => {
                        cmd::repo::sync(&state, &names, force, &mut out).await
                    }
                    RepoCommand::Import {
                        path,
                        name,
                        kind,
                        stream,
                        arch,
                        security,
                        ordinary,
                        force,
                    } => {
                        let args = cmd::repo::ImportArgs {
                            path,
                            name,
                            kind,
                            stream,
                            arch,
                            security: flag(security, ordinary),
                            force,
                        };
                        cmd::repo::import(&state, args, &mut out).await
                    }
                };
                state.store.close().await;
                ok
            })?;
            if !ok {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Scan {
            input,
            feeds,
            feed_kind,
            stream,
            os,
            packages_indexes,
            format,
        } => {
            let args = ScanArgs {
                input,
                feeds,
                feed_kind,
                stream,
                os,
                packages_indexes,
                format,
            };
            let code = cmd::scan::run(&args, &mut out, &mut std::io::stderr().lock())?;
            return Ok(ExitCode::from(code));
        }
        Command::Vercmp { scheme, a, b } => {
            let pair = a.as_deref().zip(b.as_deref());
            let input = std::io::BufReader::with_capacity(64 * 1024, std::io::stdin().lock());
            let code = cmd::vercmp::run(scheme, pair, input, out, std::io::stderr().lock());
            return Ok(ExitCode::from(code));
        }
        Command::User { what } => {
            let s = settings(&cli.global)?;
            runtime()?.block_on(async {
                let state = cmd::serve::open_state(s).await?;
                let r = match what {
                    UserCommand::Add {
                        name,
                        admin,
                        password_stdin,
                    } => {
                        let stdin = std::io::stdin().lock();
                        cmd::user::add(&state, &name, admin, password_stdin, stdin, &mut out).await
                    }
                    UserCommand::List => cmd::user::list(&state, &mut out).await,
                    UserCommand::Remove { name } => {
                        cmd::user::remove(&state, &name, &mut out).await
                    }
                    UserCommand::Grant { name, what } => {
                        cmd::user::grant(&state, &name, &what.args(), &mut out).await
                    }
                    UserCommand::Revoke { name, what } => {
                        cmd::user::revoke(&state, &name, &what.args(), &mut out).await
                    }
                    UserCommand::Token { name, label } => {
                        cmd::user::token(&state, &name, label.as_deref(), &mut out).await
                    }
                };
                state.store.close().await;
                r
            })?;
        }
        Command::Host { what } => {
            let s = settings(&cli.global)?;
            runtime()?.block_on(async {
                let state = cmd::serve::open_state(s).await?;
                let r = match what {
                    HostCommand::Retire { hostname } => {
                        cmd::host::retire(&state, &hostname, false, &mut out).await
                    }
                    HostCommand::Delete {
                        hostname,
                        purge_history,
                    } => cmd::host::retire(&state, &hostname, purge_history, &mut out).await,
                };
                state.store.close().await;
                r
            })?;
        }
        Command::Check(args) => {
            let global = &cli.global;
            let verdict = runtime()?.block_on(cmd::check::run(&args, || settings(global)));
            use std::io::Write;
            writeln!(out, "{}", verdict.line)?;
            return Ok(ExitCode::from(verdict.state.code()));
        }
        Command::Backup { file } => {
            let url = settings(&cli.global)?.database_url();
            runtime()?.block_on(cmd::maintenance::backup(&url, &file, &mut out))?;
        }
        Command::Restore { file } => {
            let url = settings(&cli.global)?.database_url();
            runtime()?.block_on(cmd::maintenance::restore(&url, &file, &mut out))?;
        }
        Command::Migrate { check } => {
            let url = settings(&cli.global)?.database_url();
            let code = runtime()?.block_on(cmd::maintenance::migrate(&url, check, &mut out))?;
            return Ok(ExitCode::from(code));
        }
        Command::Housekeeping { what } => {
            let s = settings(&cli.global)?;
            runtime()?.block_on(async {
                let state = cmd::serve::open_state(s).await?;
                let r = cmd::maintenance::housekeeping(&state, what, &mut out).await;
                state.store.close().await;
                r
            })?;
        }
        Command::DefaultConfig => {
            use std::io::Write;
            write!(out, "{}", pakiti_server::settings::EXAMPLE)?;
        }
        Command::Bench { what } => match what {
            cmd::bench::BenchWhat::Repos { data, hosts } => {
                runtime()?.block_on(cmd::bench_repos::run(
                    &cmd::bench::data_dir(data),
                    hosts,
                    &mut out,
                ))?;
            }
            cmd::bench::BenchWhat::Vercmp { data } => {
                cmd::bench::vercmp(&cmd::bench::data_dir(data), &mut out)?
            }
            cmd::bench::BenchWhat::Feeds { data } => {
                cmd::bench::feeds(&cmd::bench::data_dir(data), &mut out)?
            }
            cmd::bench::BenchWhat::FeedFile { kind, data, file } => {
                let kind = FeedKind::from_name(&kind)
                    .with_context(|| format!("unknown feed kind {kind}"))?;
                cmd::bench::feed_file(kind, &cmd::bench::data_dir(data), &file, &mut out)?;
            }
            cmd::bench::BenchWhat::Match {
                data,
                hosts,
                packages,
            } => {
                cmd::bench::matching(&cmd::bench::data_dir(data), hosts, packages, &mut out)?;
            }
            cmd::bench::BenchWhat::Web {
                data,
                hosts,
                packages,
                requests,
                feeds,
            } => {
                let args = cmd::bench_web::WebArgs {
                    hosts,
                    packages,
                    requests,
                    data: cmd::bench::data_dir(data),
                    feeds,
                };
                runtime()?.block_on(cmd::bench_web::run(
                    cli.global.database.clone(),
                    &args,
                    &mut out,
                ))?;
            }
            cmd::bench::BenchWhat::Ingest {
                data,
                hosts,
                reeval_hosts,
                concurrency,
                packages,
            } => {
                let mut args = cmd::bench_ingest::IngestArgs::full(
                    cmd::bench::data_dir(data),
                    hosts,
                    reeval_hosts,
                    concurrency,
                );
                args.packages = packages;
                runtime()?.block_on(cmd::bench_ingest::run(
                    cli.global.database.clone(),
                    &args,
                    &mut out,
                ))?;
            }
            cmd::bench::BenchWhat::Load {
                data,
                hosts,
                concurrency,
                servers,
                lists,
                postgres,
                no_check,
                feeds,
                no_feed_update,
                page_requests,
                callgrind,
                server_exe,
            } => {
                let mut args = cmd::bench_load::LoadArgs::full(
                    cmd::bench::data_dir(data),
                    hosts,
                    concurrency,
                    servers.max(1),
                );
                args.lists = lists;
                args.no_check = no_check;
                args.feed_set = feeds;
                args.feed_update = !no_feed_update;
                args.page_requests = page_requests;
                args.callgrind = callgrind;
                args.server_exe = server_exe;
                runtime()?.block_on(cmd::bench_load::run(
                    cli.global.database.clone(),
                    postgres,
                    &args,
                    &mut out,
                ))?;
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}
