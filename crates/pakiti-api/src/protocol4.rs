//! Pakiti protocol 4: the form POST of the Pakiti 2 bash clients (and the older v1–v3 package
//! list formats), and the clients' `stdout` text format that proxy mode reads back.
//!
//! The server decodes `multipart/form-data` itself and passes the (name, value) pairs to
//! [`parse_fields`]. For the bash client's "openssl method" (a hand-built
//! `application/x-www-form-urlencoded` body in which only `+` is escaped, as `%2b`, so spaces and
//! `&` in the OS string arrive raw and the package list follows `pkgs=` unescaped up to the end of
//! the body) use [`parse_urlencoded`] / [`decode_urlencoded`].
//!
//! Package lines (protocol 4): `'<name>' '<epoch>:<version>' '<release>' '<arch>'` for rpm, and
//! `'<Package>' '<Version>' '' '<Architecture>'` for dpkg. The [`Report`] keeps the rpm version
//! as `E:V-R` and the Debian version verbatim (the v3 server's split at the last `-` is a display
//! concern). Backslashes are stripped before parsing, as Pakiti does.
//!
//! Pakiti's line-anchored regex silently skipped a package line it could not match. Here such a
//! line is skipped too (the rest of the report is worth storing) but counted and kept with the
//! report ([`Report::unreadable`]: line, reason, excerpt), so the host shows that its list is
//! incomplete. `%XX` escapes are decoded in urlencoded bodies (PHP `urldecode`) and in
//! multipart values ([`decode_form_data_value`]), and a final line cut off by a short
//! `Content-Length` is read when only its closing quote is missing.

use crate::percent::{self, Plus};
use crate::report::{join_rpm_version, non_empty, one_line, split_rpm_version};
use crate::{Mode, Package, Packager, Report, Unreadable, WireError};

/// The protocol version the bash clients send in the `version` field.
pub const PROTOCOL_VERSION: &str = "4";

/// The placeholder Pakiti stores for a missing `os`, `arch` or `kernel` field.
pub const UNKNOWN: &str = "unknown";

/// Every field name a protocol-4 request may carry, including the one-letter v2 aliases.
const KNOWN_FIELDS: &[&str] = &[
    "type", "host", "os", "arch", "tag", "kernel", "version", "report", "proxy", "site", "pkgs",
    "rpms", "ip", "mode", "verbose", "debug", "h", "o", "m", "k", "a", "s", "t", "v", "r", "p",
];

/// Field names whose value is the package list.
const PKGS_FIELDS: &[&str] = &["pkgs", "p", "rpms"];

/// How the package list is written, selected by the `version` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PkgsFormat {
    /// Protocol 4: four quoted tokens `'n' 'e:v' 'r' 'arch'`.
    V4,
    /// Protocol 3: three quoted tokens `'n' 'v' 'r'` (no arch).
    V3,
    /// Protocol 1: `<N='n' V='v' R='r'/>` entries.
    V1,
    /// Protocol 2: `<N="n" V="v" R="r"/>` entries.
    V2,
    /// Protocol 2.x.y: `NEWPAKITIRPM=name ver-rel` entries.
    V2xy,
}

impl PkgsFormat {
    /// The format for a `version` field value; a missing field means protocol 4.
    pub fn from_version(version: Option<&str>) -> Result<Self, WireError> {
        let Some(v) = version.map(str::trim) else {
            return Ok(PkgsFormat::V4);
        };
        match v {
            "4" => Ok(PkgsFormat::V4),
            "3" => Ok(PkgsFormat::V3),
            "1" => Ok(PkgsFormat::V1),
            "2" => Ok(PkgsFormat::V2),
            _ if is_v2xy(v) => Ok(PkgsFormat::V2xy),
            _ => Err(WireError::UnsupportedProtocol(v.to_owned())),
        }
    }
}

/// `2.<digit>.<digit>`, as Pakiti 2 recognises the yumit-era clients.
fn is_v2xy(v: &str) -> bool {
    let mut parts = v.split('.');
    parts.next() == Some("2")
        && parts
            .next()
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && parts
            .next()
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Finds the first value among `names` (in that order of precedence; first occurrence wins).
fn get<'a, K: AsRef<str>, V: AsRef<str>>(fields: &'a [(K, V)], names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|n| {
        fields
            .iter()
            .find(|(k, _)| k.as_ref() == *n)
            .map(|(_, v)| v.as_ref())
    })
}

/// Parses the fields of a protocol-4 POST into a [`Report`].
///
/// Field names and aliases: `host`/`h`, `os`/`o`, `arch`/`m`, `kernel`/`k`, `tag`/`a`,
/// `site`/`s`, `type`/`t`, `version`/`v`, `report`/`r` (and v3's `mode`, which wins), `proxy`,
/// `ip`, `pkgs`/`p`/`rpms`. The long name wins over the alias when both are present. Unknown
/// fields (`verbose`, `debug`) are ignored.
///
/// Defaults for missing fields follow Pakiti: `os`, `arch`, `kernel` → `unknown`; `type` → rpm;
/// `report` → store-only; `proxy` → 0; `version` → 4; empty `tag`/`site` → `None`. A missing or
/// empty `host` is an error ([`WireError::EmptyHost`]): Pakiti 2 filed such reports under a
/// shared host called `unknown`.
pub fn parse_fields<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)]) -> Result<Report, WireError> {
    let hostname = get(fields, &["host", "h"])
        .and_then(non_empty)
        .ok_or(WireError::EmptyHost)?;
    let text = |names: &[&str]| {
        get(fields, names)
            .and_then(non_empty)
            .unwrap_or_else(|| UNKNOWN.to_owned())
    };
    let packager = match get(fields, &["type", "t"]).map(str::trim) {
        None | Some("") => Packager::Rpm,
        Some(t) => Packager::from_name(t),
    };
    let mode = match (get(fields, &["mode"]), get(fields, &["report", "r"])) {
        (Some(m), _) => Mode::parse("mode", m)?,
        (None, Some(r)) if r.trim().is_empty() => Mode::StoreOnly,
        (None, Some(r)) => Mode::parse("report", r)?,
        (None, None) => Mode::StoreOnly,
    };
    let proxy = match get(fields, &["proxy"]).map(str::trim) {
        None | Some("" | "0") => false,
        Some("1") => true,
        Some(other) => {
            return Err(WireError::field(
                "proxy",
                format!("expected 0 or 1, found {other:?}"),
            ));
        }
    };
    let format = PkgsFormat::from_version(get(fields, &["version", "v"]))?;
    let mut unreadable = Unreadable::default();
    let packages = match get(fields, &["pkgs", "p", "rpms"]) {
        Some(p) => read_pkgs(p, &packager, format, 0, &mut unreadable),
        None => Vec::new(),
    };
    Ok(Report {
        hostname,
        host_id: None,
        os: text(&["os", "o"]),
        os_release: None,
        arch: text(&["arch", "m"]),
        cpu: None,
        kernel: text(&["kernel", "k"]),
        site: get(fields, &["site", "s"]).and_then(non_empty),
        tag: get(fields, &["tag", "a"]).and_then(non_empty),
        packager,
        mode,
        proxy,
        ip: get(fields, &["ip"]).and_then(non_empty),
        packages,
        module_streams: Vec::new(),
        unreadable,
    })
}

/// Parses the fields of a `multipart/form-data` protocol-4 POST (the bash clients' curl
/// method, `curl -F pkgs=<file`): every value is `%XX`-decoded first, see
/// [`decode_form_data_value`], then read as [`parse_fields`] does.
pub fn parse_form_data<K: AsRef<str>, V: AsRef<str>>(
    fields: &[(K, V)],
) -> Result<Report, WireError> {
    let decoded: Vec<(&str, String)> = fields
        .iter()
        .map(|(k, v)| (k.as_ref(), decode_form_data_value(v.as_ref())))
        .collect();
    parse_fields(&decoded)
}

/// Decodes the `%XX` escapes in a multipart field value, as the Pakiti 2 server read it.
///
/// The bash clients escape `+` as `%2b` in the package list and the kernel even though curl's
/// `-F` sends values verbatim, so `0.11.0-1%2bdeb12u3` and `libstdc%2b%2b` arrive as such; a
/// server that keeps them refuses every Debian version with a `+` and stores rpm names and
/// releases that match no advisory. A literal `+` is kept (unlike in a urlencoded body, where
/// it means a space): in multipart it can only come from a client that did not escape it, and
/// then it is a `+`. A `%` not followed by two hex digits stays, and a value whose escapes do
/// not decode to UTF-8 is kept as sent.
#[must_use]
pub fn decode_form_data_value(value: &str) -> String {
    if !value.contains('%') {
        return value.to_owned();
    }
    percent::decode(value, Plus::Literal).unwrap_or_else(|| value.to_owned())
}

/// Decodes an `application/x-www-form-urlencoded` protocol-4 body and parses it.
pub fn parse_urlencoded(body: &[u8]) -> Result<Report, WireError> {
    parse_fields(&decode_urlencoded(body)?)
}

/// How an `x-www-form-urlencoded` protocol-4 body was written, told by the body itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Body {
    /// By a form encoder: split at every `&`, `+` is a space.
    Encoded,
    /// By hand, as the bash clients' openssl method and the Pakiti 2 proxy path do: spaces and
    /// newlines are sent raw (no form encoder leaves them), only `+` is escaped (`%2b`), so a
    /// literal `+` is a `+`; the body is split only at an `&` that starts a known field, and
    /// the package list takes the rest of the body.
    HandBuilt,
}

impl Body {
    /// A raw space or newline (trailing whitespace aside) means built by hand; a raw quote
    /// alone does not (some form encoders leave `'` unescaped).
    fn of(body: &str) -> Body {
        if body.trim_end().contains([' ', '\n']) {
            Body::HandBuilt
        } else {
            Body::Encoded
        }
    }

    fn plus(self) -> Plus {
        match self {
            Body::Encoded => Plus::Space,
            Body::HandBuilt => Plus::Literal,
        }
    }
}

/// Decodes an `application/x-www-form-urlencoded` body tolerantly, for the bash client's
/// "openssl method".
///
/// A properly encoded body (no raw space or newline) is split at every `&`. A body built by
/// hand, as the bash client builds it, is split only at an `&` followed by a known protocol-4
/// field name and `=`, so an OS string like `Foo & Bar` survives; and the package-list field
/// (`pkgs`, `p`, `rpms`) takes the rest of the body. Values are then decoded as PHP does:
/// `%XX` → byte, a `%` not followed by two hex digits stays literal, and `+` → space in an
/// encoded body (in a hand-built one a `+` is a `+`).
pub fn decode_urlencoded(body: &[u8]) -> Result<Vec<(String, String)>, WireError> {
    // Invalid UTF-8 is replaced rather than refused here: a package line holding some is
    // skipped and counted by `read_pkgs`, a header field holding some is refused by `push_pair`.
    let body = String::from_utf8_lossy(body);
    let body: &str = &body;
    let mode = Body::of(body);
    let mut pairs = Vec::new();
    let mut pos = 0;
    while pos < body.len() {
        let rest = &body[pos..];
        let (name, value_start) = match rest.find(['=', '&']) {
            Some(i) if rest.as_bytes()[i] == b'=' => (&rest[..i], pos + i + 1),
            Some(i) => {
                // A segment without `=`: a bare name with an empty value.
                push_pair(&mut pairs, &rest[..i], "", mode)?;
                pos += i + 1;
                continue;
            }
            None => {
                push_pair(&mut pairs, rest, "", mode)?;
                break;
            }
        };
        let value_end = if mode == Body::HandBuilt && PKGS_FIELDS.contains(&name) {
            body.len()
        } else {
            next_boundary(body, value_start, mode)
        };
        push_pair(&mut pairs, name, &body[value_start..value_end], mode)?;
        pos = value_end + 1;
    }
    Ok(pairs)
}

/// The index of the `&` ending the value that starts at `from` (or the body length).
fn next_boundary(body: &str, from: usize, mode: Body) -> usize {
    let bytes = body.as_bytes();
    let mut i = from;
    while let Some(off) = body[i..].find('&') {
        let amp = i + off;
        if mode == Body::Encoded {
            return amp;
        }
        let after = &body[amp + 1..];
        let starts_field = after
            .find('=')
            .is_some_and(|eq| KNOWN_FIELDS.contains(&&after[..eq]));
        if starts_field {
            return amp;
        }
        i = amp + 1;
        if i >= bytes.len() {
            break;
        }
    }
    body.len()
}

/// Decodes one `name=value` pair (`+` as `mode` says: the Pakiti 2 proxy path re-sends its
/// listing by hand with `+` unescaped). A name or header value whose escapes are not UTF-8 is
/// refused; in the package list such bytes are replaced, and the line is skipped and counted
/// later.
fn push_pair(
    pairs: &mut Vec<(String, String)>,
    name: &str,
    value: &str,
    mode: Body,
) -> Result<(), WireError> {
    if name.is_empty() && value.is_empty() {
        return Ok(());
    }
    // Names are always PHP-decoded (`+` → space), as the old servers did.
    let name = percent::decode(name, Plus::Space)
        .filter(|n| !n.contains(char::REPLACEMENT_CHARACTER))
        .ok_or_else(|| WireError::field(name, "field name is not valid utf-8"))?;
    let value = if PKGS_FIELDS.contains(&name.as_str()) {
        String::from_utf8_lossy(&percent::decode_bytes(value, mode.plus())).into_owned()
    } else {
        percent::decode(value, mode.plus())
            .filter(|v| !v.contains(char::REPLACEMENT_CHARACTER))
            .ok_or_else(|| WireError::field(&name, "value is not valid utf-8"))?
    };
    pairs.push((name, value));
    Ok(())
}

/// Parses a package list (the `pkgs` field) written in `format` by a `packager` host, strictly.
///
/// Blank lines are skipped; every other line must parse, else the error names its 1-based line.
/// Reports are read with [`read_pkgs`] instead, which skips and counts unreadable lines.
pub fn parse_pkgs(
    pkgs: &str,
    packager: &Packager,
    format: PkgsFormat,
) -> Result<Vec<Package>, WireError> {
    let mut unreadable = Unreadable::default();
    let out = read_pkgs(pkgs, packager, format, 0, &mut unreadable);
    match unreadable.lines.into_iter().next() {
        Some(p) => Err(WireError::pkgs(p.line, p.reason)),
        None => Ok(out),
    }
}

/// Reads a package list (the `pkgs` field) written in `format` by a `packager` host: every
/// line that can be read becomes a package; a line that cannot is skipped and counted in
/// `unreadable` with its line number (shifted by `offset`, for lists embedded in a larger
/// text), the reason and an excerpt. Blank lines are skipped. For the protocol-1/2 and 2.x.y
/// formats the "line" is the entry's position.
pub fn read_pkgs(
    pkgs: &str,
    packager: &Packager,
    format: PkgsFormat,
    offset: usize,
    unreadable: &mut Unreadable,
) -> Vec<Package> {
    let pkgs = pkgs.replace('\\', "");
    match format {
        PkgsFormat::V4 | PkgsFormat::V3 => {
            let want = if format == PkgsFormat::V4 { 4 } else { 3 };
            let mut out = Vec::new();
            let lines: Vec<&str> = pkgs.split('\n').collect();
            // A list that does not end with a newline may have been cut off (see `cut_line`).
            let last = lines.len() - 1;
            let mut cut = None;
            for (i, line) in lines.iter().enumerate() {
                let line = line.trim_end_matches('\r');
                if line.trim().is_empty() {
                    continue;
                }
                let n = offset + i + 1;
                if line.contains(char::REPLACEMENT_CHARACTER) {
                    unreadable.push(n, "not valid utf-8", line);
                    continue;
                }
                let tokens = match quoted_tokens(line) {
                    Ok(t) => t,
                    Err(r)
                        if i == last
                            && format == PkgsFormat::V4
                            && r.starts_with("unterminated quote") =>
                    {
                        cut = Some((n, line));
                        continue;
                    }
                    Err(r) => {
                        unreadable.push(n, r, line);
                        continue;
                    }
                };
                if tokens.len() != want {
                    let words = if want == 4 { "four" } else { "three" };
                    let why = format!("expected {words} quoted tokens, found {}", tokens.len());
                    unreadable.push(n, why, line);
                    continue;
                }
                let arch = tokens.get(3).copied().unwrap_or("");
                match package(packager, tokens[0], tokens[1], tokens[2], arch) {
                    Ok(p) => out.push(p),
                    Err(why) => unreadable.push(n, why, line),
                }
            }
            if let Some((n, line)) = cut {
                match cut_line(line, packager, &out) {
                    Ok(p) => out.push(p),
                    Err(why) => unreadable.push(n, format!("final line cut off: {why}"), line),
                }
            }
            out
        }
        PkgsFormat::V1 | PkgsFormat::V2 => {
            let q = if format == PkgsFormat::V1 { '\'' } else { '"' };
            read_tagged(&pkgs, packager, q, unreadable)
        }
        PkgsFormat::V2xy => read_newpakitirpm(&pkgs, packager, unreadable),
    }
}

/// Architectures a package line can end with, for a cut final line of a one-package list.
const KNOWN_ARCHES: &[&str] = &[
    "x86_64", "noarch", "i686", "i586", "i386", "aarch64", "ppc64le", "ppc64", "s390x", "armv7hl",
    "amd64", "arm64", "armhf", "armel", "all", "mips64el", "riscv64", "0", "(none)",
];

/// Reads the final line of a package list that arrived cut off: the bash client's openssl
/// method announces a `Content-Length` two bytes shorter than its body, so its last line loses
/// the closing `'` of the arch and the newline (`'bash' '0:4.2.46' '34.el7' 'x86_64`). Pakiti's
/// line-anchored regex then simply missed that package; here it is read when closing the last
/// quote gives four tokens and an arch that another line of the same list has (or, for a
/// one-line list, a known arch name), which a line cut further (`'x86_6`) does not.
fn cut_line(line: &str, packager: &Packager, before: &[Package]) -> Result<Package, String> {
    let closed = format!("{line}'");
    let tokens = quoted_tokens(&closed)?;
    if tokens.len() != 4 {
        return Err(format!(
            "expected four quoted tokens, found {}",
            tokens.len()
        ));
    }
    let arch = tokens[3];
    let plausible = if before.is_empty() {
        KNOWN_ARCHES.contains(&arch)
    } else {
        before.iter().any(|p| p.arch == arch)
    };
    if !plausible {
        return Err(format!(
            "the architecture {arch:?} is not one this list has"
        ));
    }
    package(packager, tokens[0], tokens[1], tokens[2], arch)
}

/// Builds a package from protocol-4 tokens, checking the mandatory parts.
fn package(
    packager: &Packager,
    name: &str,
    version: &str,
    release: &str,
    arch: &str,
) -> Result<Package, String> {
    if name.is_empty() {
        return Err("empty package name".to_owned());
    }
    if version.is_empty() {
        return Err(format!("empty version for package {name:?}"));
    }
    let full = match packager {
        Packager::Rpm => {
            // `(none)` (and the bash client's `0`) stand for "no epoch".
            let evr = split_rpm_version(version);
            let v = if evr.release.is_empty() {
                evr.version
            } else {
                // An rpm version token never contains `-`; keep it whole if a client sent one.
                format!("{}-{}", evr.version, evr.release)
            };
            join_rpm_version(&evr.epoch, &v, release)
        }
        _ if release.is_empty() => version.to_owned(),
        _ => format!("{version}-{release}"),
    };
    Ok(Package::new(name, full, arch))
}

/// Splits a line into single-quoted tokens separated by whitespace.
fn quoted_tokens(line: &str) -> Result<Vec<&str>, String> {
    let mut tokens = Vec::with_capacity(4);
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        let Some(after) = rest.strip_prefix('\'') else {
            return Err(format!(
                "expected a quoted token at {:?}",
                rest.chars().take(20).collect::<String>()
            ));
        };
        let Some(end) = after.find('\'') else {
            return Err(format!("unterminated quote after token {}", tokens.len()));
        };
        tokens.push(&after[..end]);
        let tail = &after[end + 1..];
        if !tail.is_empty() && !tail.starts_with(char::is_whitespace) {
            return Err(format!("expected whitespace after token {}", tokens.len()));
        }
        rest = tail.trim_start();
    }
    Ok(tokens)
}

/// Protocols 1 and 2: `<N='n' V='v' R='r'/>` entries anywhere in the text; a malformed entry
/// is skipped and counted, and reading goes on at the next `<N=`.
fn read_tagged(pkgs: &str, packager: &Packager, q: char, bad: &mut Unreadable) -> Vec<Package> {
    let mut out = Vec::new();
    let mut rest = pkgs;
    let mut entry = 0;
    while let Some(start) = rest.find("<N=") {
        entry += 1;
        let text = &rest[start..];
        let shown = &text[..text.find("/>").map_or(text.len(), |e| e + 2)];
        match tagged_entry(&text[2..], q) {
            Ok((parts, after)) => {
                match package(packager, parts[0], parts[1], parts[2], "") {
                    Ok(p) => out.push(p),
                    Err(why) => bad.push(entry, why, shown),
                }
                rest = after;
            }
            Err(why) => {
                bad.push(entry, why, shown);
                rest = &text[3..];
            }
        }
    }
    out
}

/// One `='n' V='v' R='r'/>` entry (after `<N`): the three values and the text after it.
fn tagged_entry(mut s: &str, q: char) -> Result<([&str; 3], &str), String> {
    let mut parts = [""; 3];
    for (i, key) in ["=", " V=", " R="].iter().enumerate() {
        let Some(after_key) = s.strip_prefix(key).and_then(|t| t.strip_prefix(q)) else {
            return Err(format!("expected {}{q}…{q}", key.trim()));
        };
        let Some(end) = after_key.find(q) else {
            return Err("unterminated quote".to_owned());
        };
        parts[i] = &after_key[..end];
        s = &after_key[end + 1..];
    }
    let Some(after) = s.strip_prefix("/>") else {
        return Err("expected /> after the release".to_owned());
    };
    Ok((parts, after))
}

/// Protocol 2.x.y: `NEWPAKITIRPM=name ver-rel` entries, each ended by a space or quote; a
/// malformed entry is skipped and counted.
fn read_newpakitirpm(pkgs: &str, packager: &Packager, bad: &mut Unreadable) -> Vec<Package> {
    const KEY: &str = "NEWPAKITIRPM=";
    let mut out = Vec::new();
    for (i, chunk) in pkgs.split(KEY).skip(1).enumerate() {
        let entry = i + 1;
        let shown = format!("{KEY}{}", chunk.lines().next().unwrap_or(""));
        let read = chunk
            .split_once(' ')
            .and_then(|(name, rest)| rest.split_once('-').map(|(v, r)| (name, v, r)))
            .ok_or_else(|| "expected NEWPAKITIRPM=name version-release".to_owned())
            .and_then(|(name, version, rest)| {
                let end = rest.find([' ', '\'', '\n']).unwrap_or(rest.len());
                package(packager, name, version, rest[..end].trim_end(), "")
            });
        match read {
            Ok(p) => out.push(p),
            Err(why) => bad.push(entry, why, &shown),
        }
    }
    out
}

/// Strips what cannot be expressed inside a quoted token (quotes, backslashes, control chars).
fn token(s: &str) -> String {
    s.chars()
        .filter(|&c| c != '\'' && c != '\\' && !c.is_control())
        .collect()
}

/// Renders the package list as protocol-4 lines (`'n' 'e:v' 'r' 'arch'`, newline-terminated).
///
/// rpm versions are split into `E:V` and `R`; other packagers send the full version in the
/// second token and an empty release, as the bash client does for dpkg. Characters the format
/// cannot carry (`'`, `\`, control characters) are dropped; real package names never hold them.
#[must_use]
pub fn render_pkgs(packages: &[Package], packager: &Packager) -> String {
    let mut out = String::with_capacity(packages.len() * 48);
    for p in packages {
        let (v, r) = match packager {
            Packager::Rpm => {
                let evr = split_rpm_version(&p.version);
                (format!("{}:{}", evr.epoch, evr.version), evr.release)
            }
            _ => (p.version.clone(), String::new()),
        };
        out.push_str(&format!(
            "'{}' '{}' '{}' '{}'\n",
            token(&p.name),
            token(&v),
            token(&r),
            token(&p.arch)
        ));
    }
    out
}

/// Renders a report as protocol-4 form fields, in the order the bash client's curl method sends
/// them (`type, host, os, tag, kernel, arch, version, report, proxy, site, [ip], pkgs`).
#[must_use]
pub fn to_fields(report: &Report) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("type", report.packager.as_str().to_owned()),
        ("host", one_line(&report.hostname)),
        ("os", one_line(&report.os)),
        ("tag", one_line(report.tag.as_deref().unwrap_or(""))),
        ("kernel", one_line(&report.kernel)),
        ("arch", one_line(&report.arch)),
        ("version", PROTOCOL_VERSION.to_owned()),
        ("report", report.mode.as_digit().to_owned()),
        ("proxy", if report.proxy { "1" } else { "0" }.to_owned()),
        ("site", one_line(report.site.as_deref().unwrap_or(""))),
    ];
    if let Some(ip) = &report.ip {
        fields.push(("ip", one_line(ip)));
    }
    fields.push(("pkgs", render_pkgs(&report.packages, &report.packager)));
    fields
}

/// Renders a report as a fully percent-encoded `x-www-form-urlencoded` body (fields as
/// [`to_fields`], `pkgs` last so even a tolerant Pakiti-style reader gets it right).
#[must_use]
pub fn to_urlencoded(report: &Report) -> String {
    to_fields(report)
        .iter()
        .map(|(k, v)| format!("{k}={}", percent::encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Header keys of the `stdout` format, in the bash client's order.
const STDOUT_KEYS: &[&str] = &[
    "type", "host", "os", "tag", "kernel", "arch", "site", "version", "report",
];

/// Renders the bash client's `stdout` format: one line of comma-separated `key="value"` pairs
/// (`type,host,os,tag,kernel,arch,site,version,report`), an empty line, then the package lines.
#[must_use]
pub fn render_stdout(report: &Report) -> String {
    let value = |k: &str| -> String {
        match k {
            "type" => report.packager.as_str().to_owned(),
            "host" => one_line(&report.hostname),
            "os" => one_line(&report.os),
            "tag" => one_line(report.tag.as_deref().unwrap_or("")),
            "kernel" => one_line(&report.kernel),
            "arch" => one_line(&report.arch),
            "site" => one_line(report.site.as_deref().unwrap_or("")),
            "version" => PROTOCOL_VERSION.to_owned(),
            _ => report.mode.as_digit().to_owned(),
        }
    };
    let header = STDOUT_KEYS
        .iter()
        .map(|k| format!("{k}=\"{}\"", value(k)))
        .collect::<Vec<_>>()
        .join(",");
    format!(
        "{header}\n\n{}",
        render_pkgs(&report.packages, &report.packager)
    )
}

/// Parses the bash client's `stdout` format (what its proxy mode reads from stdin).
///
/// The header's `version` must be `4` when present (the bash proxy refuses other versions).
/// A value may itself contain `,` or `"`: a value ends only at `"` followed by `,key=` or the end
/// of the line. The returned report has `proxy == false`; a proxy submitting it sets the flag.
/// Package-line errors carry line numbers of the whole text.
pub fn parse_stdout(text: &str) -> Result<Report, WireError> {
    let (header, rest) = text.split_once('\n').unwrap_or((text, ""));
    let header = header.trim_end_matches('\r');
    let pairs = parse_stdout_header(header)?;
    if let Some((_, v)) = pairs.iter().find(|(k, _)| k == "version")
        && v.trim() != PROTOCOL_VERSION
    {
        return Err(WireError::UnsupportedProtocol(v.clone()));
    }
    let mut fields: Vec<(String, String)> =
        pairs.into_iter().filter(|(k, _)| k != "version").collect();
    let packager = match fields
        .iter()
        .find(|(k, _)| k == "type")
        .map(|(_, v)| v.trim())
    {
        None | Some("") => Packager::Rpm,
        Some(t) => Packager::from_name(t),
    };
    let mut unreadable = Unreadable::default();
    let packages = read_pkgs(rest, &packager, PkgsFormat::V4, 1, &mut unreadable);
    fields.retain(|(k, _)| !PKGS_FIELDS.contains(&k.as_str()));
    let mut report = parse_fields(&fields)?;
    report.packages = packages;
    report.unreadable = unreadable;
    Ok(report)
}

/// Splits `k1="v1",k2="v2"` tolerantly.
fn parse_stdout_header(line: &str) -> Result<Vec<(String, String)>, WireError> {
    let mut pairs = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        let bad = |why: &str| WireError::report_line(1, format!("stdout header: {why}"));
        let (key, after) = rest
            .split_once('=')
            .ok_or_else(|| bad("expected key=\"value\""))?;
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(bad(&format!("bad key {key:?}")));
        }
        let after = after
            .strip_prefix('"')
            .ok_or_else(|| bad(&format!("value of {key} is not quoted")))?;
        // The value ends at the first `"` that is followed by `,key=` or ends the line.
        let mut end = None;
        let mut search = 0;
        while let Some(off) = after[search..].find('"') {
            let q = search + off;
            let tail = &after[q + 1..];
            if tail.trim().is_empty() || next_is_key(tail) {
                end = Some(q);
                break;
            }
            search = q + 1;
        }
        let q = end.ok_or_else(|| bad(&format!("unterminated quote in value of {key}")))?;
        pairs.push((key.to_owned(), after[..q].to_owned()));
        let tail = after[q + 1..].trim();
        rest = tail.strip_prefix(',').unwrap_or(tail);
    }
    Ok(pairs)
}

/// `,key="` follows.
fn next_is_key(tail: &str) -> bool {
    let Some(t) = tail.strip_prefix(',') else {
        return false;
    };
    t.split_once("=\"")
        .is_some_and(|(k, _)| !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphabetic()))
}
