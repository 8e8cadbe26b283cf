//! Our own JSON report (agent → server) and the JSON reply (server → agent).
//!
//! The report carries `report_version`; a reader rejects a version it does not know with
//! [`WireError::UnsupportedReportVersion`] instead of guessing. Within a version, new optional
//! fields may appear: readers ignore fields they do not know (no `deny_unknown_fields` anywhere),
//! so an older server accepts a newer agent's report and vice versa for replies. A field whose
//! meaning changes incompatibly needs a new `report_version`.

use serde::{Deserialize, Serialize};

use crate::{Mode, OsRelease, Package, Packager, Report, WireError};

/// The JSON report version this build writes and reads.
pub const REPORT_VERSION: u32 = 1;

/// The JSON report as it travels (`report_version` 1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonReport {
    /// Format version, [`REPORT_VERSION`].
    pub report_version: u32,
    /// Reporting host name.
    pub hostname: String,
    /// Client-generated stable host id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
    /// Free-form OS string.
    #[serde(default)]
    pub os: String,
    /// `/etc/os-release` `ID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_id: Option<String>,
    /// `/etc/os-release` `VERSION_ID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_version_id: Option<String>,
    /// `uname -m`.
    #[serde(default)]
    pub arch: String,
    /// CPU model name(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// `uname -r`.
    #[serde(default)]
    pub kernel: String,
    /// Site / host group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Admin tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// `rpm`, `dpkg`, `apk`, `pkg` or another name.
    #[serde(default)]
    pub packager: String,
    /// `store-only` (default), `store-and-report` or `report-only` (digits accepted too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Sent by a proxy on the host's behalf.
    #[serde(default, skip_serializing_if = "is_false")]
    pub proxy: bool,
    /// The host's IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Installed packages.
    #[serde(default)]
    pub packages: Vec<JsonPackage>,
    /// Enabled dnf module streams (`nodejs:18`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub module_streams: Vec<String>,
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_false(b: &bool) -> bool {
    !*b
}

/// One package in a [`JsonReport`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonPackage {
    /// Binary package name.
    pub name: String,
    /// Full version (rpm `E:V-R`; the epoch is added when missing).
    pub version: String,
    /// Architecture.
    #[serde(default)]
    pub arch: String,
    /// Source package name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl From<&Report> for JsonReport {
    fn from(r: &Report) -> Self {
        JsonReport {
            report_version: REPORT_VERSION,
            hostname: r.hostname.clone(),
            host_id: r.host_id.clone(),
            os: r.os.clone(),
            os_id: r.os_release.as_ref().map(|o| o.id.clone()),
            os_version_id: r.os_release.as_ref().map(|o| o.version_id.clone()),
            arch: r.arch.clone(),
            cpu: r.cpu.clone(),
            kernel: r.kernel.clone(),
            site: r.site.clone(),
            tag: r.tag.clone(),
            packager: r.packager.as_str().to_owned(),
            mode: Some(r.mode.as_name().to_owned()),
            proxy: r.proxy,
            ip: r.ip.clone(),
            packages: r
                .packages
                .iter()
                .map(|p| JsonPackage {
                    name: p.name.clone(),
                    version: p.version.clone(),
                    arch: p.arch.clone(),
                    source: p.source.clone(),
                })
                .collect(),
            module_streams: r.module_streams.clone(),
        }
    }
}

impl TryFrom<JsonReport> for Report {
    type Error = WireError;

    fn try_from(j: JsonReport) -> Result<Self, WireError> {
        check_version(u64::from(j.report_version))?;
        let hostname = j.hostname.trim().to_owned();
        if hostname.is_empty() {
            return Err(WireError::EmptyHost);
        }
        let mode = match j.mode.as_deref() {
            None => Mode::StoreOnly,
            Some(m) => Mode::parse("mode", m)?,
        };
        let packager = Packager::from_name(&j.packager);
        let os_release = match (j.os_id, j.os_version_id) {
            (None, None) => None,
            (id, version_id) => Some(OsRelease {
                id: id.unwrap_or_default(),
                version_id: version_id.unwrap_or_default(),
            }),
        };
        let mut packages = Vec::with_capacity(j.packages.len());
        let mut unreadable = crate::Unreadable::default();
        for (i, p) in j.packages.into_iter().enumerate() {
            if p.name.is_empty() || p.version.is_empty() {
                // Skipped and counted; `line` is the 1-based position in `packages`.
                unreadable.push(
                    i + 1,
                    format!("packages[{i}]: empty package name or version"),
                    &format!("{} {} {}", p.name, p.version, p.arch),
                );
                continue;
            }
            packages.push(Package {
                version: packager.normalize_version(&p.version),
                name: p.name,
                arch: p.arch,
                source: p.source,
            });
        }
        Ok(Report {
            hostname,
            host_id: j.host_id,
            os: j.os,
            os_release,
            arch: j.arch,
            cpu: j.cpu,
            kernel: j.kernel,
            site: j.site,
            tag: j.tag,
            packager,
            mode,
            proxy: j.proxy,
            ip: j.ip,
            packages,
            module_streams: j.module_streams,
            unreadable,
        })
    }
}

fn check_version(found: u64) -> Result<(), WireError> {
    if found == u64::from(REPORT_VERSION) {
        Ok(())
    } else {
        Err(WireError::UnsupportedReportVersion {
            found,
            supported: REPORT_VERSION,
        })
    }
}

/// Only the version, read first so an unknown version gets a clear error rather than a
/// complaint about some field the new version changed.
#[derive(Deserialize)]
struct VersionProbe {
    report_version: Option<serde_json::Value>,
}

/// Parses a JSON report (checking `report_version` first) into a [`Report`].
pub fn parse(body: &[u8]) -> Result<Report, WireError> {
    let probe: VersionProbe =
        serde_json::from_slice(body).map_err(|e| WireError::Json(e.to_string()))?;
    match probe.report_version {
        None => return Err(WireError::field("report_version", "missing")),
        Some(v) => match v.as_u64() {
            Some(n) => check_version(n)?,
            None => {
                return Err(WireError::field(
                    "report_version",
                    format!("expected an unsigned integer, found {v}"),
                ));
            }
        },
    }
    let json: JsonReport =
        serde_json::from_slice(body).map_err(|e| WireError::Json(e.to_string()))?;
    Report::try_from(json)
}

/// Renders a report as JSON ([`REPORT_VERSION`]).
#[must_use]
pub fn render(report: &Report) -> String {
    // Serialising plain strings, bools and vectors cannot fail.
    serde_json::to_string(&JsonReport::from(report)).unwrap_or_default()
}

/// Outcome of a report, as the server tells our agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyStatus {
    /// The report was accepted.
    Ok,
    /// The report was rejected; see [`JsonReply::message`].
    Error,
    /// A status this build does not know (from a newer server).
    #[serde(other)]
    Unknown,
}

/// The server's JSON answer to a JSON report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonReply {
    /// Accepted or not.
    pub status: ReplyStatus,
    /// Whether the report was stored (false for report-only, or when rejected).
    #[serde(default)]
    pub stored: bool,
    /// The host the report was filed under (host name, or the server's host id).
    #[serde(default)]
    pub host: String,
    /// Number of findings (vulnerable package × advisory) for the host.
    #[serde(default)]
    pub findings: u64,
    /// Findings as text lines, when the mode asked for them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub report_back: Vec<String>,
    /// Human-readable reason when `status` is `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl JsonReply {
    /// Parses a reply, ignoring fields this build does not know.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        serde_json::from_slice(body).map_err(|e| WireError::Json(e.to_string()))
    }

    /// Renders the reply as JSON.
    #[must_use]
    pub fn render(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
