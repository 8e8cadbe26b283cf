//! The server's plain-text answers to protocol-4/5 clients, byte for byte as Pakiti writes them.
//!
//! * success: `OK` — Pakiti 3 writes `OK\n` followed by tagged-CVE lines
//!   `name<TAB>version-release<TAB>arch<TAB>CVE<TAB>tag` ([`render_v3`]);
//! * Pakiti 2 with `report=1` writes one line per outdated package,
//!   `name newversion SEC|ORD installedversion`, then `OK` without a newline ([`render_v2`]);
//! * failure: `ERROR` with HTTP 500 ([`ERROR`]).
//!
//! The bash clients compare the whole body with `OK`; the Perl client only checks the HTTP
//! status (its curl fallback wants the body to end with `OK`).

use crate::WireError;

/// The success body with no report-back lines (Pakiti 3).
pub const OK: &str = "OK\n";

/// The failure body (sent with HTTP 500).
pub const ERROR: &str = "ERROR";

/// A Pakiti 2 report-back line: an installed package with a newer version available.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpgradeLine {
    /// Package name.
    pub name: String,
    /// Newest available `version[-release]`.
    pub new_version: String,
    /// Whether the newest version comes from a security repository (`SEC`, else `ORD`).
    pub security: bool,
    /// Installed `version[-release]`.
    pub installed_version: String,
}

/// A Pakiti 3 report-back line: an installed package affected by a tagged CVE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaggedCveLine {
    /// Package name.
    pub name: String,
    /// Installed `version-release` (rpm with the epoch, `1:1.0.2k-19.el7`).
    pub version_release: String,
    /// Package architecture.
    pub arch: String,
    /// CVE id.
    pub cve: String,
    /// The CVE tag (`Critical`, `EGI-High`).
    pub tag: String,
}

/// Renders a Pakiti 2 answer: the upgrade lines, then `OK` (no trailing newline, like Pakiti 2).
#[must_use]
pub fn render_v2(lines: &[UpgradeLine]) -> String {
    let mut out = String::new();
    for l in lines {
        out.push_str(&format!(
            "{} {} {} {}\n",
            l.name,
            l.new_version,
            if l.security { "SEC" } else { "ORD" },
            l.installed_version
        ));
    }
    out.push_str("OK");
    out
}

/// Renders a Pakiti 3 answer: `OK\n`, then one newline-terminated line per tagged CVE.
#[must_use]
pub fn render_v3(lines: &[TaggedCveLine]) -> String {
    let mut out = String::from(OK);
    for l in lines {
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\n",
            l.name, l.version_release, l.arch, l.cve, l.tag
        ));
    }
    out
}

/// Parses a Pakiti 3 answer (for a client): it must start with an `OK` line; the other
/// non-blank lines must have five tab-separated fields.
pub fn parse_v3(body: &str) -> Result<Vec<TaggedCveLine>, WireError> {
    let mut lines = body
        .split('\n')
        .map(|l| l.trim_end_matches('\r'))
        .enumerate();
    match lines.next() {
        Some((_, first)) if first.trim() == "OK" => {}
        _ => return Err(WireError::report_line(1, "expected OK")),
    }
    let mut out = Vec::new();
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let [name, version_release, arch, cve, tag] = f[..] else {
            return Err(WireError::report_line(
                i + 1,
                format!("expected five tab-separated fields, found {}", f.len()),
            ));
        };
        out.push(TaggedCveLine {
            name: name.to_owned(),
            version_release: version_release.to_owned(),
            arch: arch.to_owned(),
            cve: cve.to_owned(),
            tag: tag.to_owned(),
        });
    }
    Ok(out)
}

/// Parses a Pakiti 2 answer: upgrade lines, then a last line `OK`.
pub fn parse_v2(body: &str) -> Result<Vec<UpgradeLine>, WireError> {
    let lines: Vec<&str> = body
        .split('\n')
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
        .collect();
    let Some((last, rest)) = lines.split_last() else {
        return Err(WireError::report_line(1, "expected OK, the body is empty"));
    };
    if last.trim() != "OK" {
        return Err(WireError::report_line(
            lines.len(),
            "expected OK as the last line",
        ));
    }
    rest.iter()
        .enumerate()
        .map(|(i, l)| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f[..] {
                [name, new, kind @ ("SEC" | "ORD"), installed] => Ok(UpgradeLine {
                    name: name.to_owned(),
                    new_version: new.to_owned(),
                    security: kind == "SEC",
                    installed_version: installed.to_owned(),
                }),
                _ => Err(WireError::report_line(
                    i + 1,
                    "expected name newversion SEC|ORD installedversion",
                )),
            }
        })
        .collect()
}
