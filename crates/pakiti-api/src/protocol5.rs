//! Pakiti protocol 5: the Pakiti 3 Perl client's text report and its query-string parameters.
//!
//! Body layout: a line `#`, header lines `key: value`, a line `#`, package lines
//! `name<TAB>fullversion<TAB>arch`, a final `#`. Header keys: `arch`, `cpu`, `host`, `ip`,
//! `kernel`, `packager`, `site`, `system` (the OS string), `tag`, `version` (report-format
//! version, `1`); unknown keys (CERN's `ts`) are ignored.
//!
//! S/MIME decryption of encrypted bodies is the server's job; this module sees clear text.

use crate::report::{non_empty, one_line};
use crate::{Mode, Package, Packager, Report, WireError};

/// The protocol number in the `protocol` query parameter.
pub const PROTOCOL_VERSION: &str = "5";

/// The report-format version the Perl client writes in the `version:` header.
pub const FORMAT_VERSION: &str = "1";

/// The placeholder for a missing `system`, `arch` or `kernel` header, as for protocol 4.
pub const UNKNOWN: &str = "unknown";

/// The query-string parameters of a feed request.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct FeedQuery {
    /// `protocol` (or the legacy `version`), when given; Pakiti 3 defaults to `5`.
    pub protocol: Option<String>,
    /// `mode` (or the legacy `report`), when given.
    pub mode: Option<Mode>,
}

impl FeedQuery {
    /// The protocol to use: the given one, else `5`.
    #[must_use]
    pub fn protocol_or_default(&self) -> &str {
        self.protocol.as_deref().unwrap_or(PROTOCOL_VERSION)
    }

    /// The processing mode: the given one, else store-only.
    #[must_use]
    pub fn mode_or_default(&self) -> Mode {
        self.mode.unwrap_or_default()
    }
}

/// Reads the feed parameters from already-decoded query pairs.
///
/// `mode` wins over the legacy `report`; `protocol` over the legacy `version`. A mode other than
/// `0`, `1`, `2`, `store-only`, `store-and-report`, `report-only` is an error (Pakiti answers
/// `ERROR`). An empty value counts as absent. Other parameters are ignored.
pub fn parse_query<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Result<FeedQuery, WireError> {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.as_ref() == name)
            .map(|(_, v)| v.as_ref().trim())
            .filter(|v| !v.is_empty())
    };
    let mode = match (get("mode"), get("report")) {
        (Some(m), _) => Some(Mode::parse("mode", m)?),
        (None, Some(r)) => Some(Mode::parse("report", r)?),
        (None, None) => None,
    };
    let protocol = get("protocol")
        .or_else(|| get("version"))
        .map(str::to_owned);
    Ok(FeedQuery { protocol, mode })
}

/// Reads the feed parameters from a raw query string (`mode=store-and-report&protocol=5`),
/// decoding `+` and `%XX`.
pub fn parse_query_string(query: &str) -> Result<FeedQuery, WireError> {
    let query = query.strip_prefix('?').unwrap_or(query);
    let pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let (k, v) = s.split_once('=').unwrap_or((s, ""));
            (decode_component(k), decode_component(v))
        })
        .collect();
    parse_query(&pairs)
}

/// `+`/`%XX` decoding for query components; undecodable input is kept verbatim.
fn decode_component(s: &str) -> String {
    crate::percent::urldecode_or_keep(s)
}

/// Parses a clear-text protocol-5 body into a [`Report`] (with the default mode; the mode comes
/// from the query string, see [`parse_query`]).
///
/// * the first non-blank line must be `#`, and the header must be closed by a second `#`;
/// * a header line without `:` is an error; unknown keys are ignored; `host` keeps only the first
///   whitespace-separated name (CERN's reporter listed all names of the host); a header key must
///   be one word, so a package line before the closing `#` is an error, not an unknown key;
/// * a missing or empty `host` is [`WireError::EmptyHost`]; missing `system`, `arch`, `kernel`
///   become `unknown`; a missing `packager` is `Packager::Unknown("")`;
/// * package lines are `name<TAB>version<TAB>arch` (a run of spaces is accepted instead of a
///   tab, as Pakiti's regex does); blank and `#` lines are skipped; `(none):` becomes `0:` and for
///   rpm the epoch is always made explicit; `gpg-pubkey` lines (rpm's imported signing keys, not
///   packages) are dropped, as the Perl client does; any other malformed line is skipped and
///   counted in [`Report::unreadable`] (line, reason, excerpt);
/// * the package list must end with a `#` line: a body without it was truncated, so its last
///   line is skipped and counted as well (it may be cut).
pub fn parse(body: &[u8]) -> Result<Report, WireError> {
    // Invalid UTF-8 is replaced rather than refused: a package line holding some is skipped and
    // counted, a header line holding some refuses the report.
    let text = String::from_utf8_lossy(body);
    let text: &str = &text;
    let mut lines = text
        .split('\n')
        .map(|l| l.trim_end_matches('\r'))
        .enumerate();

    // Opening `#`.
    loop {
        match lines.next() {
            Some((_, l)) if l.trim().is_empty() => {}
            Some((_, l)) if l.trim() == "#" => break,
            Some((i, _)) => {
                return Err(WireError::report_line(
                    i + 1,
                    "missing '#': a report starts with a line '#'",
                ));
            }
            None => {
                return Err(WireError::report_line(
                    1,
                    "missing '#': the report is empty",
                ));
            }
        }
    }

    let mut report = Report {
        os: UNKNOWN.to_owned(),
        arch: UNKNOWN.to_owned(),
        kernel: UNKNOWN.to_owned(),
        ..Report::default()
    };
    let mut closed = false;
    for (i, line) in lines.by_ref() {
        let t = line.trim();
        if t == "#" {
            closed = true;
            break;
        }
        if t.is_empty() {
            continue;
        }
        if t.contains(char::REPLACEMENT_CHARACTER) {
            return Err(WireError::NotUtf8 { line: i + 1 });
        }
        // A key is one word: a package line here (a missing `#` after the header) must not be
        // mistaken for an unknown key, or its packages would silently vanish.
        let Some((key, value)) = t.split_once(':').filter(|(k, _)| is_header_key(k.trim())) else {
            return Err(WireError::report_line(
                i + 1,
                "expected 'key: value' in the header",
            ));
        };
        let value = value.trim();
        match key.trim() {
            "arch" => report.arch = value.to_owned(),
            "cpu" => report.cpu = non_empty(value),
            "host" => report.hostname = value.split_whitespace().next().unwrap_or("").to_owned(),
            "ip" => report.ip = non_empty(value),
            "kernel" => report.kernel = value.to_owned(),
            "packager" => report.packager = Packager::from_name(value),
            "site" => report.site = non_empty(value),
            "system" => report.os = value.to_owned(),
            "tag" => report.tag = non_empty(value),
            _ => {}
        }
    }
    if !closed {
        return Err(WireError::report_line(
            text.lines().count().max(1),
            "missing '#' closing the header",
        ));
    }
    if report.hostname.is_empty() {
        return Err(WireError::EmptyHost);
    }
    for field in [&mut report.os, &mut report.arch, &mut report.kernel] {
        if field.is_empty() {
            UNKNOWN.clone_into(field);
        }
    }

    // The package list ends with a `#` line; without it the body was cut short in transit, and
    // its last line may be cut too (a shorter version reads as an older one): that line is
    // skipped and counted, with the truncation as its reason.
    let mut terminated = false;
    let mut last: Option<(usize, &str, bool)> = None;
    for (i, line) in lines {
        let t = line.trim();
        if t == "#" {
            terminated = true;
            continue;
        }
        if t.is_empty() {
            continue;
        }
        terminated = false;
        let before = report.packages.len();
        let read = if line.contains(char::REPLACEMENT_CHARACTER) {
            Err("not valid utf-8".to_owned())
        } else {
            package_line(&mut report, line)
        };
        if let Err(why) = read {
            report.unreadable.push(i + 1, why, line);
        }
        last = Some((i + 1, line, report.packages.len() > before));
    }
    if !terminated {
        let (n, line, pushed) = last.unwrap_or((1, "", false));
        let why = "missing the final '#': the report looks truncated, so its last line may be cut";
        if pushed {
            report.packages.pop();
            report.unreadable.push(n, why, line);
        } else if report.unreadable.lines.last().is_some_and(|p| p.line == n) {
            let p = report.unreadable.lines.last_mut().expect("checked");
            p.reason = format!("{why} ({})", p.reason);
        } else {
            report.unreadable.push(n, why, line);
        }
    }
    Ok(report)
}

/// The first three items and how many there were.
fn first_three<'a>(items: impl Iterator<Item = &'a str>) -> ([&'a str; 3], usize) {
    let mut parts = [""; 3];
    let mut n = 0;
    for item in items {
        if let Some(slot) = parts.get_mut(n) {
            *slot = item;
        }
        n += 1;
    }
    (parts, n)
}

/// Reads one package line into `report`; `gpg-pubkey` lines are dropped.
fn package_line(report: &mut Report, line: &str) -> Result<(), String> {
    let t = line.trim();
    // Split the untrimmed line on tabs: an empty arch leaves a trailing tab. The fields are
    // counted without collecting them (this runs for every package of every report).
    let (parts, fields) = if t.contains('\t') {
        first_three(line.trim_matches(' ').split('\t').map(str::trim))
    } else {
        first_three(t.split_whitespace())
    };
    if fields != 3 {
        return Err(format!(
            "expected name<TAB>version<TAB>arch, found {fields} fields"
        ));
    }
    let [name, version, arch] = parts;
    if name.is_empty() || version.is_empty() {
        return Err("empty package name or version".to_owned());
    }
    if name == "gpg-pubkey" {
        return Ok(());
    }
    let version = match version.strip_prefix("(none):") {
        Some(rest) => std::borrow::Cow::Owned(format!("0:{rest}")),
        None => std::borrow::Cow::Borrowed(version),
    };
    report.packages.push(Package::new(
        name,
        report.packager.normalize_version(&version),
        arch,
    ));
    Ok(())
}

/// Header keys are single words (`arch`, `cpu`, CERN's `ts`).
fn is_header_key(k: &str) -> bool {
    !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Renders a report as a protocol-5 body, as the Perl client writes it: header keys sorted
/// alphabetically (`arch, cpu, host, ip, kernel, packager, site, system, tag, version`; absent
/// optional keys left out), package lines sorted, `gpg-pubkey` left out.
///
/// Protocol 5 has no fields for the host id, os-release, proxy flag, mode (it travels in the
/// query string, see [`query_string`]), source packages or module streams; they are not rendered.
#[must_use]
pub fn render(report: &Report) -> String {
    let mut out = String::with_capacity(128 + report.packages.len() * 40);
    out.push_str("#\n");
    let mut header = |k: &str, v: &str| {
        out.push_str(k);
        out.push_str(": ");
        out.push_str(&one_line(v));
        out.push('\n');
    };
    header("arch", &report.arch);
    if let Some(cpu) = &report.cpu {
        header("cpu", cpu);
    }
    header("host", &report.hostname);
    if let Some(ip) = &report.ip {
        header("ip", ip);
    }
    header("kernel", &report.kernel);
    header("packager", report.packager.as_str());
    if let Some(site) = &report.site {
        header("site", site);
    }
    header("system", &report.os);
    if let Some(tag) = &report.tag {
        header("tag", tag);
    }
    header("version", FORMAT_VERSION);
    out.push_str("#\n");
    let mut lines: Vec<String> = report
        .packages
        .iter()
        .filter(|p| p.name != "gpg-pubkey")
        .map(|p| {
            format!(
                "{}\t{}\t{}\n",
                field(&p.name),
                field(&p.version),
                field(&p.arch)
            )
        })
        .collect();
    lines.sort_unstable();
    for l in lines {
        out.push_str(&l);
    }
    out.push_str("#\n");
    out
}

/// A package field without tabs or line breaks.
fn field(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// The query string for a report in `mode`: `mode=<name>&protocol=5`.
#[must_use]
pub fn query_string(mode: Mode) -> String {
    format!("mode={}&protocol={PROTOCOL_VERSION}", mode.as_name())
}
