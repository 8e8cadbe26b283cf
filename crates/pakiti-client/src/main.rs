//! `pakiti-client`: collect this host's packages and report them to Pakiti servers.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use pakiti_client::config::{self, Config, Layer, Origins};
use pakiti_client::run::{self, Exit, RunOptions};

const AFTER_HELP: &str = "\
Configuration (later wins): /etc/pakiti2/pakiti2-client.conf (Pakiti 2 keys), then
/etc/pakiti/client.toml (ours; `pakiti-client --default-config` prints a commented
example); --config FILE replaces both (TOML if it ends in .toml, else Pakiti 2/3
`key = value` with `#` comments and `key = <<EOT ... EOT` heredocs); then this command line.

Protocol: --protocol (or `protocol` in a file) decides. Otherwise servers from a Pakiti 2
file (servers_name) or Pakiti 2 proxy mode use protocol 4; servers given with --url (or a
Pakiti 3 file's `url`) without /etc/pakiti/client.toml use protocol 5, as the Pakiti 3
client; everything else uses our JSON.

--output writes the report (JSON, the protocol-5 text, or the Pakiti 2 `stdout` format for
protocol 4; S/MIME DER with --encrypt) instead of sending it to the configured servers; it is
still sent to servers given with --url on the same command line. With no server at all the
report goes to stdout. --input FILE|- forwards a report written that way (--site overrides
its site).

Exit status:
  0  success: the report was written and/or every server accepted it
  1  partial success: some servers accepted it, others did not
  2  failure: no server accepted it, or collection, configuration or usage failed
";

/// Report this host's installed packages to Pakiti servers.
#[derive(Debug, Parser)]
#[command(name = "pakiti-client", version, after_help = AFTER_HELP)]
#[expect(clippy::struct_excessive_bools, reason = "command-line flags")]
struct Cli {
    /// Configuration file (replaces the default files).
    #[arg(short = 'c', long, visible_alias = "conf", value_name = "PATH")]
    config: Option<PathBuf>,
    /// Server feed URL (repeat for several servers), e.g. https://pakiti.example.org/feed/.
    #[arg(long, value_name = "URL")]
    url: Vec<String>,
    /// Wire protocol: json, 5 (Pakiti 3) or 4 (Pakiti 2).
    #[arg(long, value_name = "json|5|4")]
    protocol: Option<String>,
    /// Site (host group) name.
    #[arg(long)]
    site: Option<String>,
    /// Free-form tag.
    #[arg(long)]
    tag: Option<String>,
    /// Host name to report instead of this machine's FQDN.
    #[arg(long)]
    host: Option<String>,
    /// store-only (default), store-and-report or report-only.
    #[arg(long)]
    mode: Option<String>,
    /// Write the report to FILE (or - for stdout) instead of sending it.
    #[arg(short = 'o', long, value_name = "FILE|-")]
    output: Option<String>,
    /// Send a pre-generated report from FILE (or - for stdin) (proxy mode).
    #[arg(short = 'i', long, value_name = "FILE|-")]
    input: Option<String>,
    /// Sleep a random time of up to N seconds first (for cron).
    #[arg(short = 'r', long, value_name = "N")]
    rndsleep: Option<u64>,
    /// S/MIME-encrypt the (protocol 5) report for this server certificate (path or PEM).
    #[arg(long, value_name = "PATH|PEM")]
    encrypt: Option<String>,
    /// Do not send protocol=5 in the query string.
    #[arg(long)]
    no_protocol_version: bool,
    /// Do not verify the server's TLS certificate (dangerous).
    #[arg(long)]
    disable_tls_checks: bool,
    /// CA certificates: a PEM file or a directory.
    #[arg(long, value_name = "FILE|DIR")]
    ca: Option<PathBuf>,
    /// Client certificate (PEM) for TLS host authentication; may contain the key.
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// Client private key (PEM).
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Outgoing HTTP proxy URL (default: $HTTPS_PROXY / $ALL_PROXY / $HTTP_PROXY).
    #[arg(long, value_name = "URL")]
    proxy: Option<String>,
    /// Connect timeout in seconds (default 30).
    #[arg(long, value_name = "S")]
    connect_timeout: Option<u64>,
    /// Whole-request timeout in seconds (default 300).
    #[arg(long, value_name = "S")]
    timeout: Option<u64>,
    /// Retries after connection errors and 5xx answers (default 3; never after 4xx).
    #[arg(long, value_name = "N")]
    retries: Option<u32>,
    /// First retry delay in milliseconds, doubled for each further retry (default 2000).
    #[arg(long, value_name = "MS")]
    retry_delay_ms: Option<u64>,
    /// Host id file (default /var/lib/pakiti-client/host-id).
    #[arg(long, value_name = "FILE")]
    host_id_file: Option<PathBuf>,
    /// Send JSON reports uncompressed.
    #[arg(long)]
    no_gzip: bool,
    /// Pakiti 2 proxy mode: read a `stdout`-format report from stdin, submit it with proxy=1.
    #[arg(short = 'x', long)]
    is_proxy: bool,
    /// Print how many servers accepted the report (Pakiti 2 server_rep_stats).
    #[arg(short = 'y', long)]
    server_rep_stats: bool,
    /// Progress messages on stderr.
    #[arg(short = 'v', long)]
    verbose: bool,
    /// Print a commented example of /etc/pakiti/client.toml and exit.
    #[arg(long)]
    default_config: bool,
    /// rpm database directory to read (rpm --dbpath).
    #[arg(long, value_name = "DIR", hide = true)]
    rpm_dbpath: Option<PathBuf>,
    /// dpkg database directory to read (dpkg-query --admindir).
    #[arg(long, value_name = "DIR", hide = true)]
    dpkg_admindir: Option<PathBuf>,
    /// Read release files and /proc under DIR instead of / (for tests).
    #[arg(long, value_name = "DIR", hide = true)]
    root: Option<PathBuf>,
    /// Pakiti 3 client command paths, accepted for compatibility and ignored.
    #[arg(long = "rpm", hide = true)]
    _rpm: Option<String>,
    #[arg(long = "dpkg-query", hide = true)]
    _dpkg_query: Option<String>,
    #[arg(long = "openssl", hide = true)]
    _openssl: Option<String>,
    #[arg(long = "uname", hide = true)]
    _uname: Option<String>,
    #[arg(long = "hostname", hide = true)]
    _hostname: Option<String>,
    #[arg(long = "lsb_release", hide = true)]
    _lsb_release: Option<String>,
}

fn load(cli: &Cli) -> Result<(Config, RunOptions), config::ConfigError> {
    let mut layer = Layer::default();
    let mut origins = Origins::default();
    match &cli.config {
        Some(path) => {
            layer = layer.overlay(Layer::from_file(path)?);
            origins.toml = path.extension().is_some_and(|e| e == "toml");
        }
        None => {
            let p2 = Path::new(config::PAKITI2_PATH);
            if p2.exists() {
                layer = layer.overlay(Layer::from_file(p2)?);
            }
            let ours = Path::new(config::TOML_PATH);
            if ours.exists() {
                layer = layer.overlay(Layer::from_file(ours)?);
                origins.toml = true;
            }
        }
    }
    let some_true = |b: bool| b.then_some(true);
    let mut cli_layer = Layer {
        protocol: cli.protocol.clone(),
        site: cli.site.clone(),
        tag: cli.tag.clone(),
        host: cli.host.clone(),
        mode: cli.mode.clone(),
        rndsleep: cli.rndsleep,
        encrypt: cli.encrypt.clone(),
        no_protocol_version: some_true(cli.no_protocol_version),
        disable_tls_checks: some_true(cli.disable_tls_checks),
        ca: cli.ca.clone(),
        client_cert: cli.cert.clone(),
        client_key: cli.key.clone(),
        proxy: cli.proxy.clone(),
        connect_timeout: cli.connect_timeout,
        timeout: cli.timeout,
        retries: cli.retries,
        retry_delay_ms: cli.retry_delay_ms,
        host_id_file: cli.host_id_file.clone(),
        gzip: cli.no_gzip.then_some(false),
        is_proxy: some_true(cli.is_proxy),
        server_rep_stats: some_true(cli.server_rep_stats),
        ..Layer::default()
    };
    if !cli.url.is_empty() {
        cli_layer.servers = Some(cli.url.clone());
        cli_layer.pakiti3_url = true;
    }
    layer = layer.overlay(cli_layer);
    // `--output` writes instead of sending to the configured servers; servers named on this
    // command line still get the report (the Pakiti 3 client does both).
    if cli.output.is_some() && cli.url.is_empty() {
        layer.servers = None;
    }
    let cfg = Config::resolve(layer, origins)?;
    let opts = RunOptions {
        output: cli.output.clone(),
        input: cli.input.clone(),
        sources: pakiti_client::collect::Sources {
            rpm_dbpath: cli.rpm_dbpath.clone(),
            dpkg_admindir: cli.dpkg_admindir.clone(),
            root: cli.root.clone(),
            ..Default::default()
        },
        verbose: cli.verbose,
    };
    Ok((cfg, opts))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.default_config {
        print!("{}", config::EXAMPLE_TOML);
        return ExitCode::SUCCESS;
    }
    let exit = match load(&cli) {
        Ok((cfg, opts)) => run::run(&cfg, &opts),
        Err(e) => {
            eprintln!("pakiti-client: error: {}", run::chain(&e));
            Exit::Failure
        }
    };
    ExitCode::from(exit as u8)
}
