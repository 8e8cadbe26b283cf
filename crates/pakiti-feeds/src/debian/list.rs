//! The DSA and DLA lists of the Debian security tracker (`data/DSA/list`, `data/DLA/list`).
//!
//! The format is line based:
//!
//! ```text
//! [29 Mar 2023] DSA-5380-1 xorg-server - security update
//!     {CVE-2023-1393}
//!     [bullseye] - xorg-server 2:1.20.11-1+deb11u6
//!     [woody] - mantis <not-affected> (Vulnerable code not present)
//!     [woody] - sudo 1.6.6-1.3woody1 (bug #332424; medium)
//!     NOTE: free text
//! ```
//!
//! One [`Advisory`] per header line, with one [`PackageKind::Source`] entry per `[codename]`
//! line (stream `debian:<codename>`). A line this parser does not understand becomes a
//! [`Problem`] and the rest of the list is still used: Pakiti 3 stopped at its "Format error"
//! and lost the whole feed.
//!
//! Markers after the package name map as the tracker's `data/CVE/list` documents them:
//! `<not-affected>` → [`Status::NotAffected`]; `<unfixed>`, `<no-dsa>` (minor issue, no
//! advisory, may still be fixed in a point release), `<postponed>` and `<undetermined>` →
//! [`Status::Unfixed`]; `<ignored>` (the team decided not to fix) → [`Status::WillNotFix`];
//! `<end-of-life>` and `<removed>` (the package left the release, so no fix will come for a
//! host that still has it) → [`Status::EndOfLife`]. An unknown marker is a problem and is
//! taken as `Unfixed`, never as not affected.
//!
//! [`PackageKind::Source`]: pakiti_core::advisory::PackageKind::Source

use std::io::BufRead;

use pakiti_core::advisory::{Advisory, Affected, Severity, Status};
use pakiti_core::stream::{Distro, OsStream};

use crate::debian::{tracker_url, urgency_severity};
use crate::{FeedError, ParseOptions, Parsed, Problem};

const SOURCE: &str = "debian-list";

/// Parses a DSA or DLA list.
///
/// `opts.stream` is ignored: every entry names its own release.
///
/// # Errors
/// Reading failed, or the document has no advisory header at all (not a DSA/DLA list).
pub fn parse<R: BufRead>(
    mut reader: R,
    opts: &ParseOptions,
) -> Result<Parsed<Advisory>, FeedError> {
    let _ = opts;
    let mut out = Parsed::default();
    let mut buf = Vec::with_capacity(256);
    let mut line_no = 0usize;
    let mut current: Option<Advisory> = None;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line_no += 1;
        let text = String::from_utf8_lossy(&buf);
        let line = text.trim_end();
        if line.trim_start().is_empty() {
            continue;
        }
        if let Some(header) = parse_header(line) {
            if let Some(done) = current.take() {
                out.records.push(done);
            }
            let (adv, problem) = header;
            if let Some(p) = problem {
                out.problems.push(p);
            }
            current = Some(adv);
            continue;
        }
        let body = line.trim_start();
        let Some(adv) = current.as_mut() else {
            out.problems.push(Problem::new(
                None::<String>,
                format!("line {line_no}: text before the first advisory header: {body:?}"),
            ));
            continue;
        };
        if body.starts_with("NOTE:") {
            continue;
        }
        if let Some(inner) = body.strip_prefix('{') {
            parse_cves(inner, line_no, adv, &mut out.problems);
        } else if body.starts_with('[') {
            parse_entry(body, line_no, adv, &mut out.problems);
        } else {
            out.problems.push(Problem::new(
                Some(adv.id.clone()),
                format!("line {line_no}: unrecognised line: {body:?}"),
            ));
        }
    }
    if let Some(done) = current.take() {
        out.records.push(done);
    }
    if out.records.is_empty() {
        return Err(FeedError::Format {
            expected: "debian dsa/dla list",
            reason: format!("no advisory header line in {line_no} lines"),
        });
    }
    Ok(out)
}

/// `[29 Mar 2023] DSA-5380-1 xorg-server - security update`: the advisory and, when the date
/// does not parse, a problem. `None` when the line is not a header at all.
fn parse_header(line: &str) -> Option<(Advisory, Option<Problem>)> {
    let rest = line.strip_prefix('[')?;
    let (date, rest) = rest.split_once(']')?;
    // Entry lines (`[bullseye] - pkg ver`) have a codename, never a space, in the brackets.
    if !date.contains(' ') {
        return None;
    }
    let rest = rest.trim_start();
    let (id, title) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    if id.is_empty() {
        return None;
    }
    let issued = parse_date(date);
    let problem = issued
        .is_none()
        .then(|| Problem::new(Some(id), format!("unparsable date {date:?}")));
    let adv = Advisory {
        id: id.to_owned(),
        source: SOURCE.to_owned(),
        title: title.trim().to_owned(),
        severity: Severity::Unknown,
        cves: Vec::new(),
        references: vec![tracker_url(id)],
        issued,
        updated: None,
        affected: Vec::new(),
    };
    Some((adv, problem))
}

/// `29 Mar 2023` → `2023-03-29`.
fn parse_date(date: &str) -> Option<String> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut parts = date.split_whitespace();
    let day: u8 = parts.next()?.parse().ok()?;
    let month_name = parts.next()?;
    let month = MONTHS.iter().position(|m| *m == month_name)? + 1;
    let year = parts.next()?;
    if parts.next().is_some() || !(1..=31).contains(&day) || year.len() != 4 {
        return None;
    }
    let year: u16 = year.parse().ok()?;
    Some(format!("{year:04}-{month:02}-{day:02}"))
}

/// The inside of `{CVE-2023-1393 CVE-2023-1394}` (after the opening brace).
fn parse_cves(inner: &str, line_no: usize, adv: &mut Advisory, problems: &mut Vec<Problem>) {
    let Some(inner) = inner.strip_suffix('}') else {
        problems.push(Problem::new(
            Some(adv.id.clone()),
            format!("line {line_no}: cve list without closing brace"),
        ));
        return;
    };
    for token in inner.split_whitespace() {
        if crate::osv::is_cve(token) {
            if !adv.cves.iter().any(|c| c == token) {
                adv.cves.push(token.to_owned());
            }
        } else {
            problems.push(Problem::new(
                Some(adv.id.clone()),
                format!("line {line_no}: not a cve id in the cve list: {token:?}"),
            ));
        }
    }
}

/// `[bullseye] - xorg-server 2:1.20.11-1+deb11u6 (bug #1; medium)`.
fn parse_entry(body: &str, line_no: usize, adv: &mut Advisory, problems: &mut Vec<Problem>) {
    let parsed = (|| {
        let rest = body.strip_prefix('[')?;
        let (codename, rest) = rest.split_once(']')?;
        if codename.is_empty()
            || !codename
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return None;
        }
        let rest = rest.trim_start().strip_prefix('-')?;
        let rest = rest.trim_start();
        let (package, rest) = rest.split_once(char::is_whitespace)?;
        let rest = rest.trim_start();
        let (version, note) = match rest.split_once(char::is_whitespace) {
            Some((v, n)) => (v, n.trim()),
            None => (rest, ""),
        };
        if version.is_empty() {
            return None;
        }
        let note = if note.is_empty() {
            ""
        } else {
            note.strip_prefix('(')?.strip_suffix(')')?
        };
        Some((codename, package, version, note))
    })();
    let Some((codename, package, version, note)) = parsed else {
        problems.push(Problem::new(
            Some(adv.id.clone()),
            format!("line {line_no}: unrecognised package line: {body:?}"),
        ));
        return;
    };
    let status = if let Some(marker) = version.strip_prefix('<').and_then(|v| v.strip_suffix('>')) {
        match marker {
            "not-affected" => Status::NotAffected,
            "unfixed" | "no-dsa" | "postponed" | "undetermined" => Status::Unfixed,
            "ignored" => Status::WillNotFix,
            "end-of-life" | "removed" => Status::EndOfLife,
            other => {
                problems.push(Problem::new(
                    Some(adv.id.clone()),
                    format!("line {line_no}: unknown marker <{other}>, taken as unfixed"),
                ));
                Status::Unfixed
            }
        }
    } else if version.starts_with(|c: char| c.is_ascii_digit()) {
        Status::Fixed(version.to_owned())
    } else {
        problems.push(Problem::new(
            Some(adv.id.clone()),
            format!("line {line_no}: {version:?} is not a debian version, taken as unfixed"),
        ));
        Status::Unfixed
    };
    // Annotations: `bug #NNN`, an urgency word, or (after a marker) a free-text reason.
    if !note.is_empty() && matches!(status, Status::Fixed(_) | Status::Unfixed) {
        for part in note.split(';').map(str::trim) {
            if let Some(bug) = part.strip_prefix("bug #") {
                let url = format!("https://bugs.debian.org/{bug}");
                if !adv.references.contains(&url) {
                    adv.references.push(url);
                }
            } else if let Some(sev) = urgency_severity(part) {
                adv.severity = adv.severity.max(sev);
            }
        }
    }
    adv.affected.push(Affected::source(
        OsStream::new(Distro::Debian, codename),
        package,
        status,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Parsed<Advisory> {
        parse(s.as_bytes(), &ParseOptions::default()).unwrap()
    }

    #[test]
    fn header_and_entries() {
        let p = parse_str(
            "[01 Aug 2002] DSA-141 mpack - buffer overflow\n\t{CVE-2002-1425}\n\t[woody] - mpack 1.5-7woody2\n\
             [09 Sep 2005] DSA-800-1 sudo - x\n  [woody] - sudo 1.6.6-1.3woody1 (bug #332424; medium)\n\
             \t[sarge] - mantis <not-affected> (Vulnerable code not present)\n\tNOTE: whatever\n",
        );
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(p.records.len(), 2);
        let a = &p.records[0];
        assert_eq!(a.id, "DSA-141");
        assert_eq!(a.title, "mpack - buffer overflow");
        assert_eq!(a.issued.as_deref(), Some("2002-08-01"));
        assert_eq!(a.cves, ["CVE-2002-1425"]);
        assert_eq!(a.affected[0].stream.to_string(), "debian:woody");
        assert_eq!(a.affected[0].status, Status::Fixed("1.5-7woody2".into()));
        let b = &p.records[1];
        assert_eq!(b.severity, Severity::Medium);
        assert!(
            b.references
                .contains(&"https://bugs.debian.org/332424".to_owned())
        );
        assert_eq!(b.affected[1].status, Status::NotAffected);
    }

    #[test]
    fn odd_lines_are_problems_not_errors() {
        let p = parse_str(
            "[01 Aug 2002] DSA-1 a - b\n\t{CVE-1 CVE-2002-1425}\n\tgarbage\n\t[woody] - x <weird>\n",
        );
        assert_eq!(p.records.len(), 1);
        assert_eq!(p.problems.len(), 3, "{:?}", p.problems);
        assert_eq!(p.records[0].affected[0].status, Status::Unfixed);
        assert!(parse("nothing here\n".as_bytes(), &ParseOptions::default()).is_err());
    }
}
