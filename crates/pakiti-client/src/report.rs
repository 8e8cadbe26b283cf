//! Building the report from what was collected, rendering it in the chosen protocol, and
//! reading a pre-generated report back (`--input`, proxy mode).

use pakiti_api::{OsRelease, Package, Packager, Report, json, protocol4, protocol5};

use crate::collect::{self, HostFacts};
use crate::config::{Config, Protocol};
use crate::send::Payload;

/// Assembles a report from the host facts and packages, with the configuration's site, tag,
/// host name override and mode.
#[must_use]
pub fn build(
    cfg: &Config,
    facts: &HostFacts,
    packager: collect::Packager,
    packages: Vec<collect::Package>,
    module_streams: Vec<String>,
    host_id: Option<String>,
) -> Report {
    Report {
        hostname: cfg.host.clone().unwrap_or_else(|| facts.hostname.clone()),
        host_id,
        os: facts.os.clone(),
        os_release: facts.os_id.as_ref().map(|id| OsRelease {
            id: id.clone(),
            version_id: facts.os_version_id.clone().unwrap_or_default(),
        }),
        arch: facts.arch.clone(),
        cpu: facts.cpu.clone(),
        kernel: facts.kernel.clone(),
        site: cfg.site.clone(),
        tag: cfg.tag.clone(),
        packager: Packager::from_name(packager.name()),
        mode: cfg.mode,
        proxy: false,
        ip: None,
        packages: packages
            .into_iter()
            .map(|p| Package {
                name: p.name,
                version: p.version,
                arch: p.arch,
                source: p.source,
            })
            .collect(),
        module_streams,
        unreadable: pakiti_api::Unreadable::default(),
    }
}

/// The report as text in `protocol`'s format: our JSON, the protocol-5 body, or (protocol 4)
/// the bash client's `stdout` format, which is what its proxy mode reads back.
#[must_use]
pub fn render(report: &Report, protocol: Protocol) -> String {
    match protocol {
        Protocol::Json => json::render(report),
        Protocol::V5 => protocol5::render(report),
        Protocol::V4 => protocol4::render_stdout(report),
    }
}

/// What `--output` writes: [`render`], encrypted when the configuration asks for it.
///
/// # Errors
/// Encryption fails.
pub fn output_bytes(report: &Report, cfg: &Config) -> Result<Vec<u8>, crate::smime::EncryptError> {
    let text = render(report, cfg.protocol);
    match &cfg.encrypt {
        Some(cert) => crate::smime::encrypt(text.as_bytes(), cert),
        None => Ok(text.into_bytes()),
    }
}

/// The request body for `report` in the configured protocol.
///
/// # Errors
/// Encryption fails.
pub fn payload(report: &Report, cfg: &Config) -> Result<Payload, crate::smime::EncryptError> {
    Ok(match cfg.protocol {
        Protocol::Json => {
            let body = json::render(report).into_bytes();
            match cfg.gzip.then(|| crate::send::gzip(&body)) {
                Some(Ok(gz)) => Payload {
                    body: gz,
                    content_type: "application/json",
                    gzip: true,
                    query: None,
                    protocol: Protocol::Json,
                },
                _ => Payload {
                    body,
                    content_type: "application/json",
                    gzip: false,
                    query: None,
                    protocol: Protocol::Json,
                },
            }
        }
        Protocol::V5 => Payload {
            body: output_bytes(report, cfg)?,
            content_type: "application/x-www-form-urlencoded",
            gzip: false,
            query: Some(v5_query(report, cfg)),
            protocol: Protocol::V5,
        },
        Protocol::V4 => Payload {
            body: protocol4::to_urlencoded(report).into_bytes(),
            content_type: "application/x-www-form-urlencoded",
            gzip: false,
            query: None,
            protocol: Protocol::V4,
        },
    })
}

fn v5_query(report: &Report, cfg: &Config) -> String {
    if cfg.no_protocol_version {
        format!("mode={}", report.mode.as_name())
    } else {
        protocol5::query_string(report.mode)
    }
}

/// A report read with `--input` (or from stdin in Pakiti 2 proxy mode).
#[derive(Clone, Debug)]
pub enum Input {
    /// A clear report in any of the three formats.
    Report(Box<Report>),
    /// An S/MIME-encrypted protocol-5 report, forwarded as is.
    Encrypted(Vec<u8>),
}

/// An `--input` report that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the input report ({format}): {source}")]
pub struct InputError {
    /// The format it looked like.
    pub format: &'static str,
    /// The parser's complaint.
    #[source]
    pub source: pakiti_api::WireError,
}

/// Reads a pre-generated report: JSON (`{`), protocol 5 (`#`), an encrypted DER body (`0x30`),
/// else the Pakiti 2 `stdout` format.
///
/// # Errors
/// The report does not parse in the format it looks like.
pub fn parse_input(bytes: &[u8]) -> Result<Input, InputError> {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map_or(&bytes[..0], |i| &bytes[i..]);
    let err = |format| move |source| InputError { format, source };
    match start.first() {
        Some(0x30) => Ok(Input::Encrypted(bytes.to_vec())),
        Some(b'{') => json::parse(bytes)
            .map(|r| Input::Report(Box::new(r)))
            .map_err(err("json")),
        Some(b'#') => protocol5::parse(bytes)
            .map(|r| Input::Report(Box::new(r)))
            .map_err(err("protocol 5")),
        _ => {
            let text = String::from_utf8_lossy(bytes);
            protocol4::parse_stdout(&text)
                .map(|r| Input::Report(Box::new(r)))
                .map_err(err("protocol 4 stdout"))
        }
    }
}
