//! Alpine `APKINDEX.tar.gz`: a gzip tar (really two or three concatenated gzip streams: the
//! signature, then `DESCRIPTION` and `APKINDEX`) whose `APKINDEX` member holds blank-line
//! separated blocks of `K:value` lines. The ustar headers are read here directly; the
//! signature is not verified (the fetch job owns keys).

use std::io::Read;

use crate::{FeedError, Parsed, Problem};

/// A package block of an `APKINDEX`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApkPackage {
    /// `P:` name.
    pub name: String,
    /// `V:` version.
    pub version: String,
    /// `A:` arch (`x86_64`, `noarch`).
    pub arch: String,
    /// `o:` origin (the source package), when present.
    pub origin: Option<String>,
}

/// Parses the text of an `APKINDEX` member.
///
/// A block without `P:` or `V:` is a problem and is skipped.
///
/// # Errors
/// The text has blocks but none is a package (not an `APKINDEX`).
pub fn parse_apkindex_text(text: &str) -> Result<Parsed<ApkPackage>, FeedError> {
    let mut out = Parsed::default();
    let mut blocks = 0usize;
    for block in text.split("\n\n") {
        if block.trim().is_empty() {
            continue;
        }
        blocks += 1;
        let mut p = ApkPackage::default();
        for line in block.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            match k {
                "P" => p.name = v.to_owned(),
                "V" => p.version = v.to_owned(),
                "A" => p.arch = v.to_owned(),
                "o" => p.origin = Some(v.to_owned()),
                _ => {}
            }
        }
        if p.name.is_empty() || p.version.is_empty() {
            let head: String = block.chars().take(60).collect();
            out.problems.push(Problem::new(
                Some(p.name).filter(|n| !n.is_empty()),
                format!("block without P: or V:, skipped: {head:?}"),
            ));
        } else {
            out.records.push(p);
        }
    }
    if blocks > 0 && out.records.is_empty() {
        return Err(FeedError::Format {
            expected: "alpine APKINDEX",
            reason: format!("{blocks} blocks, none with P: and V:"),
        });
    }
    Ok(out)
}

fn octal(field: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(field).ok()?;
    let s = s.trim_matches(|c: char| c == '\0' || c == ' ');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

/// The members of an uncompressed tar stream as (name, data). Zero blocks between archives
/// (apk concatenates tar segments) are skipped.
fn tar_members(data: &[u8]) -> Result<Vec<(String, &[u8])>, FeedError> {
    let bad = |reason: String| FeedError::Format {
        expected: "alpine APKINDEX.tar.gz",
        reason,
    };
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 512 <= data.len() {
        let header = &data[at..at + 512];
        if header.iter().all(|&b| b == 0) {
            at += 512;
            continue;
        }
        let name_end = header[..100].iter().position(|&b| b == 0).unwrap_or(100);
        let name = String::from_utf8_lossy(&header[..name_end]).into_owned();
        let size = octal(&header[124..136])
            .ok_or_else(|| bad(format!("bad tar size field for {name:?}")))?;
        let size =
            usize::try_from(size).map_err(|_| bad(format!("tar member {name:?} too big")))?;
        let start = at + 512;
        let end = start
            .checked_add(size)
            .filter(|&e| e <= data.len())
            .ok_or_else(|| bad(format!("tar member {name:?} truncated")))?;
        out.push((name, &data[start..end]));
        at = start + size.div_ceil(512) * 512;
    }
    Ok(out)
}

/// Parses an `APKINDEX.tar.gz` (or an uncompressed `APKINDEX.tar`).
///
/// # Errors
/// The gzip or tar data is corrupt, there is no `APKINDEX` member, or it has no packages.
pub fn parse_apkindex_tar(data: &[u8]) -> Result<Parsed<ApkPackage>, FeedError> {
    let mut tar = Vec::new();
    crate::decompress::reader(data)?.read_to_end(&mut tar)?;
    let members = tar_members(&tar)?;
    let (_, index) = members
        .iter()
        .find(|(n, _)| n == "APKINDEX")
        .ok_or_else(|| FeedError::Format {
            expected: "alpine APKINDEX.tar.gz",
            reason: format!(
                "no APKINDEX member (members: {:?})",
                members.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>()
            ),
        })?;
    parse_apkindex_text(&String::from_utf8_lossy(index))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_blocks() {
        let p = parse_apkindex_text("C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\no:musl\n\nP:x\n\n")
            .unwrap();
        assert_eq!(p.records.len(), 1);
        assert_eq!(p.problems.len(), 1);
        assert_eq!(p.records[0].origin.as_deref(), Some("musl"));
        assert!(parse_apkindex_text("foo\n").is_err());
        assert!(parse_apkindex_text("").unwrap().records.is_empty());
    }
}
